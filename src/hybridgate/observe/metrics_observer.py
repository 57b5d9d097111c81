"""Turns each finished request into metric updates, and samples live gauges once a second.

The observer runs on the event loop after every request, so it does not call prometheus-client per
request: it adds to plain numbers held per labelled child (bound once per kind of request) and writes
them to the metrics in `flush`. With one process the scrape handler calls `flush` first, so a scrape
sees every request recorded before it at no cost per request. With several worker processes a scrape
of any worker reads every worker's files, so each worker flushes once per loop iteration (call_soon):
with audit on a handler waits for its audit row, so its flush has run before the response leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections.abc import Callable, Hashable
from typing import Any

from hybridgate.observe.labels import NONE, BoundedLabel, ClosedLabel, error_kind, status_class
from hybridgate.observe.metrics import BREAKER_VALUES, Metrics
from hybridgate.routing.capacity import CapacityGate
from hybridgate.routing.health import HealthTracker
from hybridgate.store.records import UsageRecord

_KINDS_CAP = 4096  # distinct raw label tuples kept bound; past it the cache starts over


class Count:
    """Increments of one counter child since the last flush. The child is created at the first flush,
    so a series appears only once something was counted in it."""

    __slots__ = ("child", "labels", "metric", "n")

    def __init__(self, metric: Any, labels: tuple[str, ...]) -> None:
        self.metric, self.labels, self.n = metric, labels, 0.0
        self.child: Any = None

    def add(self, n: float, dirty: list[Count | Hist]) -> None:
        if not self.n:
            dirty.append(self)
        self.n += n

    def flush(self) -> None:
        if self.child is None:
            self.child = self.metric.labels(*self.labels) if self.labels else self.metric
        self.child.inc(self.n)
        self.n = 0.0


class Hist:
    """Observations of one histogram child since the last flush: a count per bucket and their sum.

    prometheus-client records one observation per call (a lock and a bucket scan each); it has no call
    for several at once, so the flush adds the counts to the child's bucket and sum values
    (`_upper_bounds`, `_buckets`, `_sum`; tests/unit/observe/test_metrics.py checks that the result
    equals observe() one by one)."""

    __slots__ = ("bounds", "child", "counts", "labels", "metric", "sum", "total")

    def __init__(self, metric: Any, labels: tuple[str, ...]) -> None:
        self.metric, self.labels = metric, labels
        self.child: Any = None
        self.bounds: list[float] = list(metric._upper_bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float, dirty: list[Count | Hist]) -> None:
        if not self.total:
            dirty.append(self)
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket with value <= bound
        self.total += 1
        self.sum += value

    def flush(self) -> None:
        if self.child is None:
            self.child = self.metric.labels(*self.labels)
        buckets = self.child._buckets
        for i, n in enumerate(self.counts):
            if n:
                buckets[i].inc(n)
                self.counts[i] = 0
        self.child._sum.inc(self.sum)
        self.total, self.sum = 0, 0.0


class _Kind:
    """What one kind of request (same tier, endpoint, model, rule, status, data class, streaming) updates."""

    __slots__ = (
        "auto_routed",
        "cached",
        "completion",
        "cost",
        "data_class",
        "latency",
        "overhead",
        "prompt",
        "requests",
        "tps",
        "ttft",
        "upstream_ok",
    )

    def __init__(self, m: Metrics, tier: str, ep: str, model: str, rule: str, status: str, dc: str, stream: bool):
        self.requests = Count(m.requests, (tier, ep, model, rule, status))
        # the usual attempt (the serving endpoint, ok) and auto routing, bound here rather than looked up
        self.upstream_ok = Hist(m.upstream, (ep, "ok"))
        self.auto_routed = Count(m.auto_routed, (tier,))
        self.data_class = Count(m.data_class, (dc,))
        self.latency = Hist(m.latency, (tier, "true" if stream else "false"))
        self.overhead = Hist(m.overhead, (tier,))
        self.ttft = Hist(m.ttft, (tier, ep))
        self.prompt = Count(m.tokens, (tier, ep, model, "prompt"))
        self.completion = Count(m.tokens, (tier, ep, model, "completion"))
        self.cached = Count(m.tokens, (tier, ep, model, "cached"))
        self.tps = Hist(m.tps, (tier, ep))
        self.cost: dict[str | None, Count] = {}  # raw team -> its cost accumulator (see `_cost`)


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
        flush_every_iteration: bool = True,
    ) -> None:
        self.m = m
        self.flush_every_iteration = flush_every_iteration
        self.endpoint = ClosedLabel(endpoints)
        self.tier = ClosedLabel(tiers)
        self.model = ClosedLabel(models)
        self.rule = BoundedLabel(rules, cap=32)  # built-in rule ids are not all in config
        self.team = BoundedLabel(cap=100)
        self.finding = BoundedLabel(cap=64)
        self.kind = BoundedLabel(cap=32)
        self._kinds: dict[Hashable, _Kind] = {}
        self._other: dict[Hashable, Count | Hist] = {}
        self._dirty: list[Count | Hist] = []
        self._scheduled = False
        if frontier_tier is not None and frontier_share is not None:
            m.frontier_target.set(frontier_share)

    def observe(self, rec: UsageRecord) -> None:
        # Runs per request on the event loop: the accumulators of the usual series are updated inline
        # (what Count.add and Hist.observe do), not through a method call each.
        d = self._dirty
        key = (rec.tier, rec.endpoint, rec.model, rec.rule_id, rec.status, rec.data_class, rec.stream)
        k = self._kinds.get(key)
        if k is None:
            k = self._new_kind(key, rec)
        c = k.requests
        if not c.n:
            d.append(c)
        c.n += 1
        c = k.data_class
        if not c.n:
            d.append(c)
        c.n += 1
        latency_ms = rec.latency_ms
        h = k.latency
        v = latency_ms / 1000.0
        if not h.total:
            d.append(h)
        h.counts[bisect_left(h.bounds, v)] += 1
        h.total += 1
        h.sum += v
        upstream_ms = 0.0
        for a in rec.attempts:
            upstream_ms += a.latency_ms
        h = k.overhead
        v = max(0.0, latency_ms - upstream_ms) / 1000.0  # overhead_s(rec)
        if not h.total:
            d.append(h)
        h.counts[bisect_left(h.bounds, v)] += 1
        h.total += 1
        h.sum += v
        if rec.ttft_ms is not None:
            k.ttft.observe(rec.ttft_ms / 1000.0, d)
        n = rec.prompt_tokens
        if n:
            c = k.prompt
            if not c.n:
                d.append(c)
            c.n += n
        n = rec.completion_tokens
        if n:
            c = k.completion
            if not c.n:
                d.append(c)
            c.n += n
            if n > 0 and rec.ttft_ms is None and rec.attempts:  # tokens_per_second(rec), inlined
                gen_ms = rec.attempts[-1].latency_ms
                tps = n / (gen_ms / 1000.0) if gen_ms > 0 else None
            else:
                tps = tokens_per_second(rec)
            if tps is not None:
                h = k.tps
                if not h.total:
                    d.append(h)
                h.counts[bisect_left(h.bounds, tps)] += 1
                h.total += 1
                h.sum += tps
        if rec.cached_tokens:
            k.cached.add(rec.cached_tokens, d)
        self._rest(rec, k)
        if self.flush_every_iteration and not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True
            except RuntimeError:  # no loop (a test, a command): write now
                self.flush()

    def flush(self) -> None:
        """Writes what was counted since the last flush to the metrics."""
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for acc in dirty:
            acc.flush()

    def _new_kind(self, key: Hashable, rec: UsageRecord) -> _Kind:
        if len(self._kinds) >= _KINDS_CAP:  # raw values a client chose (a model name) must not grow it
            self._kinds.clear()
        labels = (self.tier(rec.tier), self.endpoint(rec.endpoint), self.model(rec.model), self.rule(rec.rule_id))
        k = self._kinds[key] = _Kind(self.m, *labels, status_class(rec.status), rec.data_class, rec.stream)
        return k

    def _count(self, metric: Any, *labels: str) -> Count:
        key = (id(metric), labels)
        acc = self._other.get(key)
        if acc is None:
            acc = self._other[key] = Count(metric, labels)
        assert isinstance(acc, Count)
        return acc

    def _hist(self, metric: Any, *labels: str) -> Hist:
        key = (id(metric), labels)
        acc = self._other.get(key)
        if acc is None:
            acc = self._other[key] = Hist(metric, labels)
        assert isinstance(acc, Hist)
        return acc

    def _rest(self, rec: UsageRecord, k: _Kind) -> None:
        """Attempts, findings and the rarer labels: one cached accumulator per label tuple."""
        m, d = self.m, self._dirty
        for a in rec.attempts:
            ok = a.outcome == "ok"
            if ok and a.endpoint == rec.endpoint:  # k.upstream_ok.observe(...), inlined
                h, v = k.upstream_ok, a.latency_ms / 1000.0
                if not h.total:
                    d.append(h)
                h.counts[bisect_left(h.bounds, v)] += 1
                h.total += 1
                h.sum += v
                continue
            ep = self.endpoint(a.endpoint)
            self._hist(m.upstream, ep, "ok" if ok else "error").observe(a.latency_ms / 1000.0, d)
            if not ok:
                self._count(m.upstream_errors, ep, self.kind(error_kind(a.outcome))).add(1, d)
        for typ, n in rec.finding_counts.items():
            if n:
                self._count(m.pii, self.finding(typ)).add(n, d)
        if rec.fail_closed:
            self._count(m.fail_closed).add(1, d)
        if rec.overflow is not None:
            reason = "fallback" if rec.overflow == "fallback" else "load"
            self._count(m.overflow, self.tier(rec.decision_tier), self.tier(rec.tier), reason).add(1, d)
        if rec.auto_routed and rec.endpoint is not None:  # k.auto_routed.add(1, d), inlined
            c = k.auto_routed
            if not c.n:
                d.append(c)
            c.n += 1
        if rec.cost_usd > 0:
            c = k.cost.get(rec.team) or self._cost(k, rec)
            if not c.n:
                d.append(c)
            c.n += rec.cost_usd

    def _cost(self, k: _Kind, rec: UsageRecord) -> Count:
        """The cost accumulator of this kind of request and team (labels resolved once per team)."""
        team = self.team(rec.team) if rec.team else NONE
        c = k.cost[rec.team] = self._count(self.m.cost, self.tier(rec.tier), self.endpoint(rec.endpoint), team)
        return c


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
