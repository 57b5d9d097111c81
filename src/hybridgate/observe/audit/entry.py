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
    return {
        "v": VERSION,
        "kind": "request",
        "ts": rec.ts,
        "request_id": rec.request_id,
        "principal": {"key_id": rec.key_id, "team": rec.team},
        "data_class": rec.data_class,
        "findings": dict(sorted(rec.finding_counts.items())),
        "fail_closed": rec.fail_closed,
        "decision": {
            "rule": rec.rule_id,
            "reason": rec.reason,
            "tier": rec.decision_tier,
            "allowed_trust": list(rec.allowed_trust),
        },
        "route": {
            "tier": rec.tier,
            "endpoint": rec.endpoint,
            "trust": rec.trust,
            "model": rec.model,
            "overflow": rec.overflow,
        },
        "attempts": [
            {"endpoint": a.endpoint, "trust": a.trust, "outcome": a.outcome, "latency_ms": round(a.latency_ms, 3)}
            for a in rec.attempts
        ],
        "tokens": {
            "prompt": rec.prompt_tokens,
            "completion": rec.completion_tokens,
            "cached": rec.cached_tokens,
            "estimated": rec.estimated,
        },
        "cost_usd": rec.cost_usd,
        "status": rec.status,
        "stream": rec.stream,
        "latency_ms": round(rec.latency_ms, 3),
        "ttft_ms": None if rec.ttft_ms is None else round(rec.ttft_ms, 3),
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
