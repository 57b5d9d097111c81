"""What an audit row says: built from a UsageRecord or an admin action. Never raw prompt text (a captured
payload is there only as AES-GCM ciphertext).

Bodies are canonical JSON (sorted keys) so the bytes that were hashed can be re-derived by anyone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hybridgate.store.records import UsageRecord

VERSION = 1
DetailValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class AdminAction:
    """An administrative change: key created or revoked, budget changed, config reloaded..."""

    action: str
    actor: str | None
    target: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: "adm-" + os.urandom(8).hex())


def request_entry(rec: UsageRecord) -> dict[str, Any]:
    entry = _request_entry(rec)
    if rec.payload is not None:  # AES-GCM ciphertext (capture.py); the clear text never reaches a record
        entry["payload"] = rec.payload
    return entry


def _request_entry(rec: UsageRecord) -> dict[str, Any]:
    # Keys in sorted order at every level, so `body_of` can skip orjson's sort (one of the larger
    # costs per row); test_audit_chain checks the bytes equal the sorted dump.
    findings = rec.finding_counts
    return {
        "attempts": [
            {"endpoint": a.endpoint, "latency_ms": round(a.latency_ms, 3), "outcome": a.outcome, "trust": a.trust}
            for a in rec.attempts
        ],
        "cost_usd": rec.cost_usd,
        "data_class": rec.data_class,
        "decision": {
            "allowed_trust": rec.allowed_trust,  # a tuple: orjson writes it as an array
            "reason": rec.reason,
            "rule": rec.rule_id,
            "tier": rec.decision_tier,
        },
        "fail_closed": rec.fail_closed,
        "findings": dict(sorted(findings.items())) if len(findings) > 1 else findings,
        "kind": "request",
        "latency_ms": round(rec.latency_ms, 3),
        "principal": {"key_id": rec.key_id, "team": rec.team},
        "request_id": rec.request_id,
        "route": {
            "endpoint": rec.endpoint,
            "model": rec.model,
            "overflow": rec.overflow,
            "tier": rec.tier,
            "trust": rec.trust,
        },
        "status": rec.status,
        "stream": rec.stream,
        "tokens": {
            "cached": rec.cached_tokens,
            "completion": rec.completion_tokens,
            "estimated": rec.estimated,
            "prompt": rec.prompt_tokens,
        },
        "ts": rec.ts,
        "ttft_ms": None if rec.ttft_ms is None else round(rec.ttft_ms, 3),
        "v": VERSION,
    }


def admin_entry(a: AdminAction) -> dict[str, Any]:
    return {
        "v": VERSION,
        "kind": "admin",
        "ts": a.ts,
        "request_id": a.id,
        "action": a.action,
        "actor": a.actor,
        "target": a.target,
        "details": dict(sorted(a.details.items())),
    }


def to_body(entry: Mapping[str, Any]) -> bytes:
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def entry_of(item: UsageRecord | AdminAction) -> dict[str, Any]:
    return request_entry(item) if isinstance(item, UsageRecord) else admin_entry(item)


def pending_of(item: UsageRecord | AdminAction) -> tuple[float, str, bytes]:
    """(time, id, `to_body(entry_of(item))`): what the store appends for one record. A request entry
    without a payload is built in sorted key order already, so it is dumped without sorting."""
    if isinstance(item, UsageRecord):
        body = orjson.dumps(_request_entry(item)) if item.payload is None else to_body(request_entry(item))
        return item.ts, item.request_id, body
    return item.ts, item.id, to_body(admin_entry(item))
