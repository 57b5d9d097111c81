"""Wires metrics, tracing, request logs and the audit trail into an app, from `observability:`.

Called once by the composition root (app.build_app); everything it starts is stopped on cleanup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from aiohttp import web

from hybridgate.errors import ConfigError
from hybridgate.observe import metrics as prom
from hybridgate.observe import tracing
from hybridgate.observe.audit.ops import checkpoint_key, open_store
from hybridgate.observe.audit.writer import AuditLog
from hybridgate.observe.base import Observer
from hybridgate.observe.logging import RequestLogger
from hybridgate.observe.metrics_observer import GaugeSampler, MetricsObserver, breaker_listener
from hybridgate.observe.payload import tap_for
from hybridgate.pipeline import Pipeline
from hybridgate.settings import Settings

AUDIT = web.AppKey("audit", AuditLog)


@dataclass
class Observability:
    observers: list[Observer] = field(default_factory=list)
    audit: AuditLog | None = None
    sampler: GaugeSampler | None = None


def metrics_observer(settings: Settings, pipeline: Pipeline, m: prom.Metrics) -> MetricsObserver:
    topo = pipeline.topo
    return MetricsObserver(
        m,
        # one process: the scrape is the only reader, so it flushes; several: any worker's scrape reads
        # this worker's files, so they are written every loop iteration
        flush_every_iteration=bool(os.environ.get(prom.MULTIPROC_ENV)),
        endpoints=list(topo.endpoints),
        tiers=list(topo.tiers),
        models=list(topo.models()),
        rules=[r.id for r in settings.policy.rules],
        frontier_tier=pipeline.policy.frontier_tier,
        frontier_share=settings.policy.frontier_share,
    )


def install(app: web.Application, settings: Settings, pipeline: Pipeline) -> Observability:
    cfg = settings.observability
    out = Observability()
    if cfg.metrics.enabled:
        m = prom.get()
        counted = metrics_observer(settings, pipeline, m)
        out.observers.append(counted)
        out.sampler = GaugeSampler(m, pipeline.health, pipeline.capacity)
        pipeline.health.listeners.append(breaker_listener(m))
        app.router.add_get(cfg.metrics.path, prom.metrics_handler(counted.flush))
    tracing.configure(cfg.tracing, {e.name: e.kind for e in settings.endpoints})
    if tracing.enabled():
        app.middlewares.append(tracing.request_span)
        out.observers.append(tracing.TracingObserver())
    if cfg.logs.requests:
        out.observers.append(RequestLogger(cfg.logs, tracing=tracing.enabled()))
    pipeline.tap = tap_for(cfg)
    if cfg.audit.enabled:
        a = cfg.audit
        if a.retention_days is not None and checkpoint_key(a) is None:
            raise ConfigError(
                f"observability.audit.retention_days needs ${a.checkpoint_key_env}: "
                "pruned rows are replaced by a signed checkpoint"
            )
        out.audit = AuditLog(
            lambda: open_store(a),
            batch_size=a.batch_size,
            wait_timeout_s=a.wait_timeout_s,
            metrics=prom.get() if cfg.metrics.enabled else None,
            retention_s=a.retention_days * 86400 if a.retention_days is not None else None,
            prune_every_s=a.prune_interval_s,
        )
        out.observers.append(out.audit)
        app[AUDIT] = out.audit
    pipeline.observers.extend(out.observers)
    app.on_startup.append(lambda _: _start(out))
    app.on_cleanup.append(lambda _: _stop(out))
    return out


async def _start(o: Observability) -> None:
    if o.sampler is not None:
        o.sampler.start()
    if o.audit is not None:
        o.audit.start()


async def _stop(o: Observability) -> None:
    if o.sampler is not None:
        await o.sampler.stop()
    if o.audit is not None:
        await o.audit.stop()
    for obs in o.observers:
        if isinstance(obs, RequestLogger):
            obs.flush()  # lines of the last loop iteration
