"""Monthly cost of a workload on an API, on a self-hosted fleet, or split; and the break-even volume.

Self-hosted cost is a staircase: replicas come whole, so cost = max(min_replicas, ceil(R / cap)) x
replica cost + ops. The API is a line through zero. Their first crossing is solved in closed form:
in the band served by n replicas self-hosting wins once a*R >= n*c + ops, which first happens for
n* = ceil(ops / (a*cap - c)). Because each new replica is a step up, self-hosting can lose again just
after a step when a*cap is close to c; `sustained` is the volume above which it never loses again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.pricing import HOURS_PER_MONTH, PER_MILLION, SECONDS_PER_MONTH


@dataclass(frozen=True, slots=True)
class Workload:
    requests_per_month: float
    tokens_in: float
    tokens_out: float
    cached_in: float = 0.0  # of tokens_in, served from the API's prompt cache


@dataclass(frozen=True, slots=True)
class ApiPrice:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None

    def per_request(self, w: Workload) -> float:
        cached = min(w.cached_in, w.tokens_in)
        cached_price = self.input if self.cached_input is None else self.cached_input
        return ((w.tokens_in - cached) * self.input + cached * cached_price + w.tokens_out * self.output) / PER_MILLION

    def scaled(self, k: float) -> ApiPrice:
        cached = None if self.cached_input is None else self.cached_input * k
        return ApiPrice(self.input * k, self.output * k, cached)


@dataclass(frozen=True, slots=True)
class Fleet:
    gpu_hourly_usd: float
    gpus_per_replica: int
    throughput_tps: float  # total tokens/s one replica sustains when saturated
    utilisation: float  # average share of that capacity we plan to use (peaks need headroom)
    ops_hours: float  # engineer-hours per month to run the fleet
    ops_rate: float  # USD per engineer-hour
    min_replicas: int = 1

    @property
    def replica_monthly(self) -> float:
        return self.gpu_hourly_usd * self.gpus_per_replica * HOURS_PER_MONTH

    @property
    def ops_monthly(self) -> float:
        return self.ops_hours * self.ops_rate

    def capacity(self, w: Workload) -> float:
        """Requests per month one replica serves at the planned utilisation."""
        return self.throughput_tps * self.utilisation * SECONDS_PER_MONTH / (w.tokens_in + w.tokens_out)


@dataclass(frozen=True, slots=True)
class Scenario:
    workload: Workload
    api: ApiPrice
    fleet: Fleet
    self_hosted_share: float = 0.0  # share the hybrid plan must self-host (e.g. sensitive traffic)

    def at_volume(self, requests_per_month: float) -> Scenario:
        return replace(self, workload=replace(self.workload, requests_per_month=requests_per_month))


@dataclass(frozen=True, slots=True)
class FleetCost:
    replicas: int
    gpu: float
    ops: float
    api: float = 0.0  # the part sent to the API (hybrid only)
    self_hosted_requests: float = 0.0

    @property
    def total(self) -> float:
        return self.gpu + self.ops + self.api


@dataclass(frozen=True, slots=True)
class BreakEven:
    first: float | None  # smallest monthly volume at which self-hosting costs no more than the API
    sustained: float | None  # above this volume self-hosting never costs more
    fluid: float | None  # ignoring whole replicas: ops / (API per request - GPU per request)


@dataclass(frozen=True, slots=True)
class TcoResult:
    scenario: Scenario
    api: float
    self_hosted: FleetCost
    hybrid: FleetCost
    break_even: BreakEven

    @property
    def cheapest(self) -> str:
        costs = {"api": self.api, "self_hosted": self.self_hosted.total, "hybrid": self.hybrid.total}
        return min(costs, key=lambda k: costs[k])


def _check(checks: tuple[tuple[bool, str, str], ...]) -> None:
    for ok, param, msg in checks:
        if not ok:
            raise EconomicsError(f"{param.replace('_', ' ')} {msg}", param=param)


def validate_workload(w: Workload) -> None:
    _check(
        (
            (w.requests_per_month > 0, "requests_per_month", "must be greater than zero"),
            (w.tokens_in >= 0, "tokens_in", "cannot be negative"),
            (w.tokens_out >= 0, "tokens_out", "cannot be negative"),
            (w.tokens_in + w.tokens_out > 0, "tokens_in", "tokens per request (in + out) must be positive"),
            (0 <= w.cached_in <= w.tokens_in, "cached_in", "must be between 0 and --tokens-in"),
        )
    )


def validate(s: Scenario) -> None:
    validate_workload(s.workload)
    f = s.fleet
    checks = (
        (f.gpu_hourly_usd >= 0, "gpu_hourly", "cannot be negative"),
        (f.gpus_per_replica >= 1, "gpus_per_replica", "must be at least 1"),
        (f.throughput_tps > 0, "throughput", "must be positive"),
        (0 < f.utilisation <= 1, "utilisation", "must be in (0, 1]"),
        (f.ops_hours >= 0, "ops_hours", "cannot be negative"),
        (f.ops_rate >= 0, "ops_rate", "cannot be negative"),
        (f.min_replicas >= 1, "min_replicas", "must be at least 1"),
        (0 <= s.self_hosted_share <= 1, "self_hosted_share", "must be in [0, 1]"),
    )
    _check(checks)


def api_monthly(s: Scenario) -> float:
    return s.workload.requests_per_month * s.api.per_request(s.workload)


def replicas_needed(s: Scenario) -> int:
    demand = s.workload.requests_per_month / s.fleet.capacity(s.workload)
    return max(s.fleet.min_replicas, math.ceil(demand - 1e-9))


def self_hosted_monthly(s: Scenario) -> FleetCost:
    n = replicas_needed(s)
    return FleetCost(n, n * s.fleet.replica_monthly, s.fleet.ops_monthly, 0.0, s.workload.requests_per_month)


def _split(s: Scenario, k: int) -> FleetCost:
    if k == 0:
        return FleetCost(0, 0.0, 0.0, api_monthly(s), 0.0)
    served = min(s.workload.requests_per_month, k * s.fleet.capacity(s.workload))
    rest = s.workload.requests_per_month - served
    return FleetCost(k, k * s.fleet.replica_monthly, s.fleet.ops_monthly, rest * s.api.per_request(s.workload), served)


def hybrid_monthly(s: Scenario) -> FleetCost:
    """The cheapest split: k whole replicas carry what they can, the API takes the rest. Cost is convex in
    k, so the optimum is at the smallest allowed k, floor(R/cap) or ceil(R/cap)."""
    demand = s.workload.requests_per_month / s.fleet.capacity(s.workload)
    must = math.ceil(s.self_hosted_share * demand - 1e-9)
    lowest = max(must, s.fleet.min_replicas) if must > 0 else 0
    candidates = {lowest, math.floor(demand), math.ceil(demand - 1e-9)}
    allowed = [k for k in candidates if k >= lowest and (k == 0 or k >= s.fleet.min_replicas)]
    return min((_split(s, k) for k in allowed), key=lambda c: (c.total, c.replicas))


def break_even(s: Scenario) -> BreakEven:
    a = s.api.per_request(s.workload)
    c = s.fleet.replica_monthly
    cap = s.fleet.capacity(s.workload)
    ops = s.fleet.ops_monthly
    n0 = s.fleet.min_replicas
    margin = a * cap - c  # what one full replica saves against the API
    if a <= 0 or margin <= 0:
        return BreakEven(None, None, None)

    def crossing(n: int) -> float:
        lower = 0.0 if n == n0 else (n - 1) * cap
        return max((n * c + ops) / a, lower)

    first_n = max(n0, math.ceil(ops / margin - 1e-9))
    sustained_n = max(n0 + 1, math.ceil((ops + a * cap) / margin - 1e-9)) - 1
    return BreakEven(crossing(first_n), crossing(max(sustained_n, first_n)), ops / (a - c / cap))


def evaluate(s: Scenario) -> TcoResult:
    validate(s)
    return TcoResult(s, api_monthly(s), self_hosted_monthly(s), hybrid_monthly(s), break_even(s))
