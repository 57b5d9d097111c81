"""UsageRecords for tests: the required fields have plain defaults, so a test names only what it checks."""

from __future__ import annotations

from typing import Any

from hybridgate.store.records import UsageRecord

_REQUIRED: dict[str, Any] = {
    "ts": 0.0,
    "request_id": "r",
    "key_id": None,
    "team": None,
    "route_tag": None,
    "tier": "self_hosted",
    "endpoint": "e",
    "trust": "self_hosted",
    "model": "m",
    "rule_id": "default",
    "data_class": "public",
    "status": 200,
}


def usage_record(**fields: Any) -> UsageRecord:
    return UsageRecord(**{**_REQUIRED, **fields})
