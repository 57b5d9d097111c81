"""Per-workload economics from the gateway's own usage records (any iterable of UsageRecord).

A workload is a route tag, a team or a key. For each: volume, tokens, p95 latency against its SLA, what it
actually cost, what it would cost entirely on the API or entirely on a dedicated self-hosted fleet, whether
it has crossed the break-even, and a recommendation. Volumes are projected to a 30.4-day month.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from hybridgate.economics.catalogue import Catalogue
from hybridgate.economics.pricing import api_cost
from hybridgate.economics.tco import (
    ApiPrice,
    BreakEven,
    Fleet,
    Scenario,
    Workload,
    break_even,
    hybrid_monthly,
    self_hosted_monthly,
)
from hybridgate.labels import DataClass
from hybridgate.store.records import UsageRecord

GroupBy = Literal["route_tag", "team", "key"]
Action = Literal["api", "hybrid", "self_host", "keep_self_hosted"]
SECONDS_PER_REPORT_MONTH = 30.4375 * 86400
UNTAGGED = "(untagged)"
_SENSITIVE = {c.value for c in DataClass if c.rank >= DataClass.CONFIDENTIAL.rank}


@dataclass
class WorkloadStats:
    name: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    actual_cost: float = 0.0
    api_cost: float = 0.0  # the same requests priced on an API
    sensitive: int = 0  # requests whose data class is confidential or higher
    self_hosted: int = 0  # requests that were served by a self-hosted endpoint
    latencies: list[float] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies, 0.95)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q of the sample at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def workload_of(r: UsageRecord, by: GroupBy) -> str:
    value = {"route_tag": r.route_tag, "team": r.team, "key": r.key_id}[by]
    return value or UNTAGGED


def _price_on_api(r: UsageRecord, cat: Catalogue, api_model: str) -> float:
    model = r.model if r.model and r.trust == "external" and cat.has_model(r.model) else api_model
    return api_cost(model, r.prompt_tokens, r.completion_tokens, r.cached_tokens, catalogue=cat)


def aggregate(
    records: Iterable[UsageRecord], by: GroupBy, cat: Catalogue, api_model: str, since_ts: float
) -> dict[str, WorkloadStats]:
    out: dict[str, WorkloadStats] = {}
    for r in records:
        if r.ts < since_ts:
            continue
        name = workload_of(r, by)
        st = out.setdefault(name, WorkloadStats(name))
        st.requests += 1
        st.prompt_tokens += r.prompt_tokens
        st.completion_tokens += r.completion_tokens
        st.cached_tokens += r.cached_tokens
        st.actual_cost += r.cost_usd
        st.api_cost += _price_on_api(r, cat, api_model)
        st.sensitive += r.data_class in _SENSITIVE
        st.self_hosted += r.trust == "self_hosted"
        st.models[r.model or "?"] += 1
        if r.status >= 400:
            st.errors += 1
        else:
            st.latencies.append(r.latency_ms)
    return out


@dataclass(frozen=True, slots=True)
class Recommendation:
    action: Action
    reasons: tuple[str, ...]


def recommend(
    monthly_requests: float, be: BreakEven, sensitive_share: float, p95_ms: float | None, sla_ms: float | None
) -> Recommendation:
    """Table-testable: volume against break-even decides, data class overrides, SLA adds a warning."""
    reasons: list[str] = []
    if sensitive_share >= 1.0:
        action: Action = "keep_self_hosted"
        reasons.append("all requests carry confidential or restricted data: only self-hosted may serve them")
    elif be.first is None:
        action = "api"
        reasons.append("self-hosting never breaks even at these prices and this throughput")
    elif be.sustained is not None and monthly_requests >= be.sustained:
        action = "self_host"
        reasons.append(f"volume is {monthly_requests / be.first:.1f}x the break-even ({be.first:,.0f} req/month)")
    elif monthly_requests >= be.first:
        action = "hybrid"
        reasons.append(f"past the break-even ({be.first:,.0f} req/month): self-host the base load, overflow to the API")
    else:
        action = "hybrid" if sensitive_share > 0 else "api"
        reasons.append(
            f"volume is {monthly_requests / be.first:.2%} of the break-even "
            f"({be.first:,.0f} req/month): re-evaluate as it grows"
        )
    if 0 < sensitive_share < 1:
        reasons.append(f"{sensitive_share:.0%} of requests are confidential or higher: those stay self-hosted")
    if p95_ms is not None and sla_ms is not None and p95_ms > sla_ms:
        reasons.append(
            f"p95 {p95_ms:,.0f} ms exceeds the {sla_ms:,.0f} ms SLA: add capacity or route the "
            "latency-critical part elsewhere"
        )
    return Recommendation(action, tuple(reasons))


@dataclass(frozen=True, slots=True)
class WorkloadReport:
    stats: WorkloadStats
    monthly_requests: float
    actual_monthly: float
    api_monthly: float
    self_hosted_monthly: float
    hybrid_monthly: float
    replicas: int
    break_even: BreakEven
    sla_ms: float | None
    recommendation: Recommendation

    @property
    def crossed(self) -> bool:
        return self.break_even.first is not None and self.monthly_requests >= self.break_even.first


def analyse(st: WorkloadStats, fleet: Fleet, window_s: float, sla_ms: float | None) -> WorkloadReport:
    factor = SECONDS_PER_REPORT_MONTH / window_s
    tokens = st.prompt_tokens + st.completion_tokens
    monthly = st.requests * factor
    per_request_in = st.prompt_tokens / max(st.requests, 1)
    per_request_out = st.completion_tokens / max(st.requests, 1)
    # A blended price per token reproduces the workload's own API cost exactly at its own token mix.
    blended = st.api_cost / tokens * 1e6 if tokens else 0.0
    s = Scenario(Workload(monthly, per_request_in, per_request_out), ApiPrice(blended, blended), fleet)
    if tokens == 0:
        be, sh, hy, reps = BreakEven(None, None, None), fleet.ops_monthly, 0.0, 0
    else:
        be, fc = break_even(s), self_hosted_monthly(s)
        sh, hy, reps = fc.total, hybrid_monthly(s).total, fc.replicas
    rec = recommend(monthly, be, st.sensitive / st.requests, st.p95_ms, sla_ms)
    return WorkloadReport(st, monthly, st.actual_cost * factor, st.api_cost * factor, sh, hy, reps, be, sla_ms, rec)


def build_report(
    records: Iterable[UsageRecord],
    *,
    by: GroupBy,
    cat: Catalogue,
    api_model: str,
    fleet: Fleet,
    now: float,
    window_s: float,
    slas: Mapping[str, float] | None = None,
    default_sla_ms: float | None = None,
) -> list[WorkloadReport]:
    """Highest projected monthly all-API cost first: where the money is."""
    stats = aggregate(records, by, cat, api_model, now - window_s)
    slas = slas or {}
    reports = [analyse(st, fleet, window_s, slas.get(name, default_sla_ms)) for name, st in stats.items()]
    return sorted(reports, key=lambda r: r.api_monthly, reverse=True)


def group_counts(reports: Iterable[WorkloadReport]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in reports:
        counts[r.recommendation.action] += 1
    return dict(counts)
