"""Turns each finished request into metric updates, and samples live gauges once a second.

The observer runs on the event loop after every request, so it caches labelled children: a dict
lookup per metric instead of prometheus-client's label validation on every call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable
from typing import Any

from hybridgate.observe.labels import NONE, BoundedLabel, ClosedLabel, error_kind, status_class
from hybridgate.observe.metrics import BREAKER_VALUES, Metrics
from hybridgate.routing.capacity import CapacityGate
from hybridgate.routing.health import HealthTracker
from hybridgate.store.records import UsageRecord


class _Children:
    """labels(...) once per distinct label tuple."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, Hashable], Any] = {}

    def __call__(self, metric: Any, *values: str) -> Any:
        key = (id(metric), values)
        child = self._cache.get(key)
        if child is None:
            child = self._cache[key] = metric.labels(*values)
        return child


def tokens_per_second(rec: UsageRecord) -> float | None:
    """Generation speed: after the first token for streams, over the upstream call otherwise."""
    if rec.completion_tokens <= 0:
        return None
    if rec.ttft_ms is not None:
        gen_ms = rec.latency_ms - rec.ttft_ms
    else:
        gen_ms = rec.attempts[-1].latency_ms if rec.attempts else 0.0
    return rec.completion_tokens / (gen_ms / 1000.0) if gen_ms > 0 else None


def overhead_s(rec: UsageRecord) -> float:
    """Gateway time: the whole request minus the time upstreams spent on its attempts."""
    upstream_ms = sum(a.latency_ms for a in rec.attempts)
    return max(0.0, rec.latency_ms - upstream_ms) / 1000.0


class MetricsObserver:
    def __init__(
        self,
        m: Metrics,
        *,
        endpoints: list[str],
        tiers: list[str],
        models: list[str],
        rules: list[str],
        frontier_tier: str | None = None,
        frontier_share: float | None = None,
    ) -> None:
        self.m = m
        self.child = _Children()
        self.endpoint = ClosedLabel(endpoints)
        self.tier = ClosedLabel(tiers)
        self.model = ClosedLabel(models)
        self.rule = BoundedLabel(rules, cap=32)  # built-in rule ids are not all in config
        self.team = BoundedLabel(cap=100)
        self.finding = BoundedLabel(cap=64)
        self.kind = BoundedLabel(cap=32)
        if frontier_tier is not None and frontier_share is not None:
            m.frontier_target.set(frontier_share)

    def observe(self, rec: UsageRecord) -> None:
        m, c = self.m, self.child
        tier, ep = self.tier(rec.tier), self.endpoint(rec.endpoint)
        model = self.model(rec.model)
        c(m.requests, tier, ep, model, self.rule(rec.rule_id), status_class(rec.status)).inc()
        c(m.data_class, rec.data_class).inc()
        c(m.latency, tier, "true" if rec.stream else "false").observe(rec.latency_ms / 1000.0)
        c(m.overhead, tier).observe(overhead_s(rec))
        if rec.ttft_ms is not None:
            c(m.ttft, tier, ep).observe(rec.ttft_ms / 1000.0)
        self._attempts(rec)
        self._usage(rec, tier, ep, model)
        for typ, n in rec.finding_counts.items():
            c(m.pii, self.finding(typ)).inc(n)
        if rec.fail_closed:
            m.fail_closed.inc()
        if rec.overflow is not None:
            reason = "fallback" if rec.overflow == "fallback" else "load"
            c(m.overflow, self.tier(rec.decision_tier), tier, reason).inc()
        if rec.auto_routed and rec.endpoint is not None:
            c(m.auto_routed, tier).inc()

    def _attempts(self, rec: UsageRecord) -> None:
        m, c = self.m, self.child
        for a in rec.attempts:
            ep = self.endpoint(a.endpoint)
            ok = a.outcome == "ok"
            c(m.upstream, ep, "ok" if ok else "error").observe(a.latency_ms / 1000.0)
            if not ok:
                c(m.upstream_errors, ep, self.kind(error_kind(a.outcome))).inc()

    def _usage(self, rec: UsageRecord, tier: str, ep: str, model: str) -> None:
        m, c = self.m, self.child
        if rec.prompt_tokens:
            c(m.tokens, tier, ep, model, "prompt").inc(rec.prompt_tokens)
        if rec.completion_tokens:
            c(m.tokens, tier, ep, model, "completion").inc(rec.completion_tokens)
        if rec.cached_tokens:
            c(m.tokens, tier, ep, model, "cached").inc(rec.cached_tokens)
        tps = tokens_per_second(rec)
        if tps is not None:
            c(m.tps, tier, ep).observe(tps)
        if rec.cost_usd:
            c(m.cost, tier, ep, self.team(rec.team) if rec.team else NONE).inc(rec.cost_usd)


class GaugeSampler:
    """In-flight counts, queue depth and breaker states change inside routing; sampling them once a
    second costs nothing per request and is exact enough for dashboards."""

    def __init__(self, m: Metrics, health: HealthTracker, capacity: CapacityGate, *, interval_s: float = 1.0) -> None:
        self.m, self.health, self.capacity, self.interval_s = m, health, capacity, interval_s
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name in self.health.names():
            st = self.health.state(name)
            self.m.in_flight.labels(name).set(st.in_flight)
            self.m.breaker.labels(name).set(BREAKER_VALUES.get(st.breaker, 2.0))
        self.m.queue_depth.set(self.capacity.waiting)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def breaker_listener(m: Metrics) -> Callable[[str, str], None]:
    def on_change(endpoint: str, state: str) -> None:
        m.breaker.labels(endpoint).set(BREAKER_VALUES.get(state, 2.0))
        m.breaker_transitions.labels(endpoint, state).inc()

    return on_change
