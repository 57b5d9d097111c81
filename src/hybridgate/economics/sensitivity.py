"""The tornado table: move one input at a time by +/- a band and see how far the answer swings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.tco import Scenario, TcoResult, evaluate

Tweak = Callable[[Scenario, float], Scenario]


def _workload(**change: Callable[[Scenario, float], float]) -> Tweak:
    def tweak(s: Scenario, k: float) -> Scenario:
        values = {name: fn(s, k) for name, fn in change.items()}
        return replace(s, workload=replace(s.workload, **values))

    return tweak


def _fleet(**change: Callable[[Scenario, float], float]) -> Tweak:
    def tweak(s: Scenario, k: float) -> Scenario:
        values: dict[str, Any] = {name: fn(s, k) for name, fn in change.items()}
        return replace(s, fleet=replace(s.fleet, **values))

    return tweak


def _api(s: Scenario, k: float) -> Scenario:
    return replace(s, api=s.api.scaled(k))


# name -> how a factor k (e.g. 0.75 or 1.25) changes the scenario
INPUTS: dict[str, Tweak] = {
    "requests per month": _workload(requests_per_month=lambda s, k: s.workload.requests_per_month * k),
    "tokens in": _workload(
        tokens_in=lambda s, k: s.workload.tokens_in * k, cached_in=lambda s, k: s.workload.cached_in * k
    ),
    "tokens out": _workload(tokens_out=lambda s, k: s.workload.tokens_out * k),
    "API price": _api,
    "GPU price per hour": _fleet(gpu_hourly_usd=lambda s, k: s.fleet.gpu_hourly_usd * k),
    "throughput": _fleet(throughput_tps=lambda s, k: s.fleet.throughput_tps * k),
    "utilisation": _fleet(utilisation=lambda s, k: min(1.0, s.fleet.utilisation * k)),
    "ops hours x rate": _fleet(ops_hours=lambda s, k: s.fleet.ops_hours * k),
}


@dataclass(frozen=True, slots=True)
class TornadoRow:
    input: str
    low: TcoResult  # input x (1 - band)
    high: TcoResult  # input x (1 + band)

    @staticmethod
    def savings(r: TcoResult) -> float:
        """What the best self-hosted or hybrid plan saves against all-API per month (negative: it loses)."""
        return r.api - min(r.self_hosted.total, r.hybrid.total)

    @property
    def savings_swing(self) -> float:
        return abs(self.savings(self.high) - self.savings(self.low))

    @property
    def break_even_swing(self) -> float | None:
        lo, hi = self.low.break_even.first, self.high.break_even.first
        return None if lo is None or hi is None else abs(hi - lo)


def tornado(s: Scenario, band: float = 0.25) -> list[TornadoRow]:
    """One row per input, widest swing in monthly savings first."""
    if not 0 < band < 1:
        raise EconomicsError("the sensitivity band must be in (0, 1)", param="band")
    rows = [TornadoRow(name, evaluate(fn(s, 1 - band)), evaluate(fn(s, 1 + band))) for name, fn in INPUTS.items()]
    return sorted(rows, key=lambda r: (r.savings_swing, r.break_even_swing or 0.0), reverse=True)
