"""Per-endpoint live state: in-flight counts, latency EWMA, passive outlier ejection.

The clock is injected so the ejection and back-off logic is testable without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hybridgate.routing.select import EndpointState, Snapshot


@dataclass(slots=True)
class _Live:
    in_flight: int = 0
    ewma_ms: float = 0.0
    failures: int = 0
    ejections: int = 0
    ejected_until: float = 0.0
    max_in_flight: int = 1_000_000


class HealthTracker:
    def __init__(
        self,
        names: list[str],
        *,
        max_in_flight: dict[str, int] | None = None,
        eject_after: int = 3,
        base_ejection_s: float = 5.0,
        max_ejection_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._live = {n: _Live(max_in_flight=(max_in_flight or {}).get(n, 1_000_000)) for n in names}
        self.eject_after = eject_after
        self.base_ejection_s = base_ejection_s
        self.max_ejection_s = max_ejection_s
        self.clock = clock
        self._tick = 0

    def start(self, name: str) -> None:
        self._live[name].in_flight += 1

    def finish(self, name: str, *, ok: bool, latency_ms: float | None = None) -> None:
        live = self._live[name]
        live.in_flight = max(0, live.in_flight - 1)
        if latency_ms is not None and ok:
            live.ewma_ms = latency_ms if live.ewma_ms == 0 else 0.8 * live.ewma_ms + 0.2 * latency_ms
        if ok:
            live.failures = 0
            live.ejections = 0 if live.ejected_until <= self.clock() else live.ejections
            return
        live.failures += 1
        if live.failures >= self.eject_after:
            backoff = min(self.max_ejection_s, self.base_ejection_s * 2**live.ejections)
            live.ejected_until = self.clock() + backoff
            live.ejections += 1
            live.failures = self.eject_after - 1  # one more failure after re-admission ejects again

    def state(self, name: str) -> EndpointState:
        live = self._live[name]
        now = self.clock()
        ejected = live.ejected_until > now
        return EndpointState(
            healthy=not ejected,
            in_flight=live.in_flight,
            ewma_ms=live.ewma_ms,
            breaker="open" if ejected else ("half_open" if live.ejections else "closed"),
            max_in_flight=live.max_in_flight,
        )

    def snapshot(self) -> Snapshot:
        self._tick += 1
        return Snapshot({n: self.state(n) for n in self._live}, tick=self._tick)
