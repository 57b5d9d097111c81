"""Prometheus metrics: the definitions, the helpers other layers call, and the `/metrics` exposition.

With several worker processes (`hybridgate serve --workers N`) every process writes its samples to
files under PROMETHEUS_MULTIPROC_DIR and a scrape of any worker aggregates all of them. The directory
must be set before the workers start (`prepare_multiprocess`), because prometheus-client picks its
value store when the first metric is created.

Labels only ever hold names from config or small fixed sets (see `labels.py`): no request ids, no
user text, no finding values.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_mp

from hybridgate.observe.labels import BoundedLabel

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
TPS_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class Metrics:
    """Every metric the gateway exports. One instance per registry (the default one in production)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        r = registry
        req = ("tier", "endpoint", "model", "rule", "status")
        self.requests = Counter("hybridgate_requests", "Finished requests", req, registry=r)
        self.data_class = Counter("hybridgate_data_class", "Requests by data class", ("data_class",), registry=r)
        self.latency = Histogram(
            "hybridgate_request_duration_seconds",
            "Total request time as the gateway saw it",
            ("tier", "stream"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "hybridgate_ttft_seconds", "Time to first token", ("tier", "endpoint"), buckets=LATENCY_BUCKETS, registry=r
        )
        self.overhead = Histogram(
            "hybridgate_gateway_overhead_seconds",
            "Time spent in the gateway itself (total minus upstream attempts)",
            ("tier",),
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "hybridgate_upstream_duration_seconds",
            "One upstream attempt",
            ("endpoint", "outcome"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "hybridgate_upstream_errors", "Failed upstream attempts", ("endpoint", "kind"), registry=r
        )
        self.tokens = Counter("hybridgate_tokens", "Tokens", ("tier", "endpoint", "model", "kind"), registry=r)
        self.tps = Histogram(
            "hybridgate_tokens_per_second",
            "Completion tokens per second of generation",
            ("tier", "endpoint"),
            buckets=TPS_BUCKETS,
            registry=r,
        )
        self.cost = Counter("hybridgate_cost_usd", "Spend in USD", ("tier", "endpoint", "team"), registry=r)
        self.breaker = Gauge(
            "hybridgate_breaker_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open (worst across workers)",
            ("endpoint",),
            multiprocess_mode="livemax",
            registry=r,
        )
        self.breaker_transitions = Counter(
            "hybridgate_breaker_transitions", "Breaker state changes", ("endpoint", "state"), registry=r
        )
        self.in_flight = Gauge(
            "hybridgate_endpoint_in_flight",
            "Requests in flight per endpoint",
            ("endpoint",),
            multiprocess_mode="livesum",
            registry=r,
        )
        self.queue_depth = Gauge(
            "hybridgate_queue_depth", "Requests waiting for capacity", multiprocess_mode="livesum", registry=r
        )
        self.overflow = Counter(
            "hybridgate_overflow", "Requests served by a fallback tier", ("tier_from", "tier_to", "reason"), registry=r
        )
        self.overflow_decisions = Counter(
            "hybridgate_overflow_decisions",
            "Overflow decisions taken by the router",
            ("tier_from", "tier_to"),
            registry=r,
        )
        self.pii = Counter("hybridgate_pii_findings", "PII findings by type (counts only)", ("type",), registry=r)
        self.fail_closed = Counter(
            "hybridgate_detector_fail_closed", "Requests treated as restricted because detection failed", registry=r
        )
        self.auto_routed = Counter(
            "hybridgate_router_auto_requests",
            "Requests for model 'auto' by the tier that served them",
            ("tier",),
            registry=r,
        )
        self.frontier_target = Gauge(
            "hybridgate_router_frontier_share_target",
            "Configured target share of auto traffic for the frontier tier",
            multiprocess_mode="liveall",
            registry=r,
        )
        self.audit_rows = Counter("hybridgate_audit_rows", "Audit rows committed", registry=r)
        self.audit_errors = Counter("hybridgate_audit_write_errors", "Failed audit batches", registry=r)
        self.audit_pending = Gauge(
            "hybridgate_audit_pending", "Audit rows waiting to be written", multiprocess_mode="livesum", registry=r
        )


_metrics: Metrics | None = None
_endpoint = BoundedLabel(cap=64)
_tier = BoundedLabel(cap=32)


def get() -> Metrics:
    """The process-wide metrics on the default registry (created once)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


# -- helpers for other layers (routing/resilience); cheap, never raise ---------------------------------
def breaker_state(endpoint: str, state: str) -> None:
    m, ep = get(), _endpoint(endpoint)
    m.breaker.labels(ep).set(BREAKER_VALUES.get(state, 2.0))
    m.breaker_transitions.labels(ep, state if state in BREAKER_VALUES else "other").inc()


def overflow(tier_from: str | None, tier_to: str | None) -> None:
    get().overflow_decisions.labels(_tier(tier_from), _tier(tier_to)).inc()


def in_flight(endpoint: str, n: int) -> None:
    get().in_flight.labels(_endpoint(endpoint)).set(n)


def queue_depth(n: int) -> None:
    get().queue_depth.set(n)


# -- exposition ------------------------------------------------------------------------------------
def render() -> bytes:
    """The text exposition; aggregated over every worker's files in multi-process mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prom_mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def handle_metrics(request: web.Request) -> web.Response:
    body = render()
    return web.Response(body=body, headers={"content-type": CONTENT_TYPE_LATEST})


def metrics_handler(flush: Callable[[], None]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`handle_metrics` that first writes what an observer counted but has not written yet."""

    async def handle(request: web.Request) -> web.Response:
        flush()
        return await handle_metrics(request)

    return handle


def prepare_multiprocess(workers: int) -> Path | None:
    """Call in the parent before spawning workers: one fresh directory all workers write to."""
    if workers <= 1:
        return None
    existing = os.environ.get(MULTIPROC_ENV)
    if existing:
        d = Path(existing)
        d.mkdir(parents=True, exist_ok=True)
        for f in d.glob("*.db"):  # stale samples from a previous run would inflate counters
            f.unlink()
        return d
    d = Path(tempfile.mkdtemp(prefix="hybridgate-metrics-"))
    os.environ[MULTIPROC_ENV] = str(d)
    return d


def cleanup_multiprocess(d: Path | None) -> None:
    if d is not None and d.name.startswith("hybridgate-metrics-"):
        shutil.rmtree(d, ignore_errors=True)


def mark_worker_dead(pid: int) -> None:
    """Drops a finished worker's live gauges from the aggregate."""
    if os.environ.get(MULTIPROC_ENV):
        prom_mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]
