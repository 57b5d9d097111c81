"""Plain records written after each request. No raw prompt text ever appears here."""

from __future__ import annotations

from dataclasses import dataclass, field

from hybridgate.frozen import quick_init


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class AttemptRecord:
    endpoint: str
    trust: str
    outcome: str  # ok | error kind (connect, timeout, status_503, ...)
    latency_ms: float


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class UsageRecord:
    ts: float  # unix seconds, request start
    request_id: str
    key_id: str | None
    team: str | None
    route_tag: str | None  # workload label (x-hybridgate-purpose or the rule id)
    tier: str | None
    endpoint: str | None
    trust: str | None
    model: str | None
    rule_id: str
    data_class: str
    status: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    cost_usd: float = 0.0
    estimated: bool = False  # tokens counted by the gateway, not reported by the upstream
    stream: bool = False
    attempts: tuple[AttemptRecord, ...] = field(default_factory=tuple)
    overflow: str | None = None  # why a fallback tier served it ("fallback" after failures, or the load note)
    finding_counts: dict[str, int] = field(default_factory=dict)
    # decision context for the audit trail and metrics (labels from config, never from user text)
    reason: str = ""
    allowed_trust: tuple[str, ...] = ()
    decision_tier: str | None = None  # the tier the policy chose; differs from `tier` on overflow
    auto_routed: bool = False  # the client asked for model "auto": counts toward the frontier share
    fail_closed: bool = False  # the detector failed and the request was treated as restricted
    # only when an operator opted in (observe/payload.py): the prompt with every finding redacted, for the
    # log line; the request and answer sealed with AES-GCM, for the audit row. Never clear payload text.
    prompt: str | None = None
    payload: dict[str, str] | None = None
