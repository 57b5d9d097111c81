"""Per-endpoint live state: in-flight counts, peak-EWMA latency, passive outlier ejection with
exponential back-off and half-open trials, active check results, rate-limit pauses, load predictions.

The clock is injected so every transition is testable without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hybridgate.frozen import maker
from hybridgate.routing.config import OutlierConfig
from hybridgate.routing.select import EndpointState, Snapshot

EWMA_TAU_S = 10.0  # how fast a latency peak decays
_new_state = maker(EndpointState)  # `EndpointState(...)` and `Snapshot(...)`, cheaper (built per request)
_new_snapshot = maker(Snapshot)


@dataclass(slots=True)
class _Live:
    outlier: OutlierConfig
    max_in_flight: int
    in_flight: int = 0
    ewma_ms: float = 0.0
    ewma_at: float = 0.0
    failures: int = 0
    ejections: int = 0
    ejected_until: float = 0.0
    paused_until: float = 0.0  # an upstream 429 with Retry-After
    active_ok: bool = True  # the active health checker's verdict
    overloaded: bool = False
    load_note: str = ""


class HealthTracker:
    def __init__(
        self,
        names: list[str],
        *,
        max_in_flight: Mapping[str, int] | None = None,
        outlier: Mapping[str, OutlierConfig] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        limits = max_in_flight or {}
        configs = outlier or {}
        self._live = {n: _Live(configs.get(n, OutlierConfig()), limits.get(n, 1_000_000)) for n in names}
        self.clock = clock
        self._tick = 0
        self.listeners: list[Callable[[str, str], None]] = []  # (endpoint, breaker state) on change

    def names(self) -> list[str]:
        return list(self._live)

    def start(self, name: str) -> None:
        self._live[name].in_flight += 1

    def _observe_latency(self, live: _Live, ms: float, now: float) -> None:
        if live.ewma_ms == 0 or ms > live.ewma_ms:
            live.ewma_ms = ms  # peak: react to slowness at once
        else:
            w = math.exp(-max(0.0, now - live.ewma_at) / EWMA_TAU_S)
            live.ewma_ms = live.ewma_ms * w + ms * (1 - w)
        live.ewma_at = now

    def finish(self, name: str, *, ok: bool, latency_ms: float | None = None) -> None:
        live = self._live[name]
        live.in_flight = max(0, live.in_flight - 1)
        now = self.clock()  # one reading for the whole update
        before = self._breaker(live, now)
        if ok:
            if latency_ms is not None:
                self._observe_latency(live, latency_ms, now)
            live.failures = 0
            if before == "half_open":
                live.ejections = 0  # the trial request succeeded: fully readmitted
        else:
            live.failures += 1
            if before == "half_open" or live.failures >= live.outlier.consecutive_failures:
                self._eject(live)
                now = self.clock()
        self._notify(name, before, live, now)

    def _eject(self, live: _Live) -> None:
        o = live.outlier
        live.ejected_until = self.clock() + min(o.max_ejection_s, o.base_ejection_s * 2**live.ejections)
        live.ejections += 1
        live.failures = 0

    def pause(self, name: str, seconds: float) -> None:
        """The upstream asked us to back off (429 Retry-After): skip it until then, without ejecting."""
        live = self._live[name]
        live.paused_until = max(live.paused_until, self.clock() + seconds)

    def set_active(self, name: str, ok: bool) -> None:
        live = self._live[name]
        before = self._breaker(live)
        live.active_ok = ok
        self._notify(name, before, live)

    def set_load(self, name: str, overloaded: bool, note: str = "") -> None:
        live = self._live[name]
        live.overloaded, live.load_note = overloaded, note

    def _breaker(self, live: _Live, now: float | None = None) -> str:
        if live.ejected_until > (self.clock() if now is None else now):
            return "open"
        return "half_open" if live.ejections else "closed"

    def _notify(self, name: str, before: str, live: _Live, now: float | None = None) -> None:
        after = self._breaker(live, now)
        if after != before:
            for fn in self.listeners:
                fn(name, after)

    def state(self, name: str) -> EndpointState:
        return self._state(self._live[name], self.clock())

    def _state(self, live: _Live, now: float) -> EndpointState:
        # positional, in field order (healthy, in_flight, ewma_ms, breaker, max_in_flight, overloaded,
        # load_note): built per request and endpoint, and keywords cost a third more
        return _new_state(
            live.active_ok and live.paused_until <= now,
            live.in_flight,
            live.ewma_ms,
            self._breaker(live, now),
            live.max_in_flight,
            live.overloaded,
            live.load_note,
        )

    def snapshot(self) -> Snapshot:
        self._tick += 1
        return _new_snapshot(_States(self, self.clock()), self._tick, self._tick * 7919)  # states, tick, seed


class _States(Mapping[str, EndpointState]):
    """A snapshot's states, each built on first read at the snapshot's instant: a request reads the few
    endpoints its decision allows, not every endpoint of the topology. Read it before the next await."""

    __slots__ = ("_built", "_now", "_tracker")

    def __init__(self, tracker: HealthTracker, now: float) -> None:
        self._tracker = tracker
        self._now = now
        self._built: dict[str, EndpointState] = {}

    def __getitem__(self, name: str) -> EndpointState:
        st = self._built.get(name)
        if st is None:
            st = self._built[name] = self._tracker._state(self._tracker._live[name], self._now)
        return st

    def get(self, name: str, default: Any = None) -> Any:  # Mapping.get, without its try/except KeyError
        st = self._built.get(name)
        if st is None:
            live = self._tracker._live.get(name)
            if live is None:
                return default
            st = self._built[name] = self._tracker._state(live, self._now)
        return st

    def __iter__(self) -> Iterator[str]:
        return iter(self._tracker._live)

    def __len__(self) -> int:
        return len(self._tracker._live)
