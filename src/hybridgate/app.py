"""Composition root: build_app(settings) wires everything. Nothing else constructs concrete objects."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from hybridgate.access.runtime import ACCESS, AccessRuntime, keys_exist
from hybridgate.api.admin import add_admin_routes
from hybridgate.api.feedback import install as install_feedback
from hybridgate.api.messages import add_messages_routes
from hybridgate.api.readiness import Readiness
from hybridgate.api.server import Handlers, add_routes, add_unrouted
from hybridgate.auth.principal import Authenticator, OpenAuthenticator
from hybridgate.backends.base import Backend
from hybridgate.backends.factory import build_backend
from hybridgate.detect.basic import BasicDetector
from hybridgate.detect.complexity_base import ComplexityScorer, LengthScorer
from hybridgate.detect.findings import Detector
from hybridgate.detection import DetectionStage
from hybridgate.jobs.wiring import install_jobs
from hybridgate.observe.base import Observer
from hybridgate.observe.setup import install as install_observability
from hybridgate.pipeline import Pipeline
from hybridgate.policy.model import DEFAULT_FRONTIER_SHARE, Policy
from hybridgate.routing.health import HealthTracker
from hybridgate.routing.monitor import Monitor
from hybridgate.routing.topology import Topology
from hybridgate.settings import DetectionConfig, Settings

log = logging.getLogger("hybridgate")

PIPELINE = web.AppKey("pipeline", Pipeline)
READINESS = web.AppKey("readiness", Readiness)


@dataclass
class Overrides:
    """What tests (and embedding applications) may swap in."""

    backends: Mapping[str, Backend] | None = None
    detector: Detector | None = None
    scorer: ComplexityScorer | None = None
    ner: Detector | None = None  # used only together with `detector`
    authenticator: Authenticator | None = None
    observers: Sequence[Observer] = field(default_factory=tuple)


def build_detector(cfg: DetectionConfig, notes: list[str]) -> Detector:
    if cfg.detector == "full":
        try:
            pii = importlib.import_module("hybridgate.detect.pii")
            build_full = pii.build_detector
        except (ImportError, AttributeError):
            notes.append("full PII detector unavailable; using the basic regex detector")
        else:
            full: Detector = build_full(cfg)
            return full
    return BasicDetector()


def build_ner(cfg: DetectionConfig, notes: list[str]) -> Detector | None:
    if not cfg.ner or cfg.names_policy == "off" or cfg.detector != "full":
        return None
    if cfg.ner_socket is not None:  # the model lives in a sidecar (started by serve): not in this process
        from hybridgate.sidecar.ner_client import RemoteNer

        return RemoteNer(cfg.ner_socket, cfg.ner_time_budget_ms / 1000)
    try:
        pii = importlib.import_module("hybridgate.detect.pii")
        ner: Detector | None = pii.build_ner_detector(cfg)
    except (ImportError, AttributeError):
        ner = None
    if ner is None:
        notes.append("NER tier unavailable (install the `ner` extra): names and addresses are found by heuristics only")
    return ner


def build_scorer(cfg: DetectionConfig, notes: list[str]) -> ComplexityScorer | None:
    if cfg.complexity == "off":
        return None
    if cfg.complexity == "learned":
        try:
            module = importlib.import_module("hybridgate.detect.complexity")
            scorer: ComplexityScorer = module.load_active_scorer(notes)  # registered retrain, else packaged
            return scorer
        except Exception as e:  # a missing or corrupt artifact must not stop the gateway
            notes.append(f"complexity artifact unavailable ({e}); using prompt length")
            log.warning("complexity artifact unavailable (%s); using prompt length", e)
    return LengthScorer()


def calibrated_threshold(settings: Settings, scorer: ComplexityScorer | None) -> float | None:
    """The score above which `frontier_share` of traffic goes to frontier, if the scorer can say."""
    calibrate = getattr(scorer, "threshold_for_share", None)
    if calibrate is None:
        return None
    share = settings.policy.frontier_share
    threshold: float = calibrate(DEFAULT_FRONTIER_SHARE if share is None else share)
    return threshold


def build_pipeline(
    settings: Settings, ov: Overrides, notes: list[str], access: AccessRuntime | None = None
) -> Pipeline:
    topo = Topology.from_settings(settings)
    backends = dict(ov.backends) if ov.backends is not None else {e.name: build_backend(e) for e in settings.endpoints}
    health = HealthTracker(
        list(topo.endpoints),
        max_in_flight={e.name: e.max_in_flight for e in settings.endpoints},
        outlier={e.name: e.outlier for e in settings.endpoints},
    )
    detection = DetectionStage(
        settings.detection,
        ov.detector or build_detector(settings.detection, notes),
        ov.scorer if ov.scorer is not None else build_scorer(settings.detection, notes),
        ner=ov.ner if ov.detector is not None else build_ner(settings.detection, notes),
    )
    return Pipeline(
        topo,
        Policy.from_settings(settings, calibrated_threshold(settings, detection.scorer)),
        detection,
        backends,
        health,
        ov.authenticator or (access.authenticator if access else OpenAuthenticator()),
        [*ov.observers, *([access.usage] if access else [])],
        retry={n: t.retry for n, t in settings.tiers.items()},
        queue={n: t.slo for n, t in settings.tiers.items()},
        cost=access.cost if access else None,
        admission=access.admission if access else None,
    )


@asynccontextmanager
async def standalone_pipeline(settings: Settings) -> AsyncIterator[Pipeline]:
    """A pipeline wired like build_app's (keys, limits, budgets, usage, cost) for processes that serve no
    HTTP, such as `hybridgate worker`."""
    access = AccessRuntime(settings) if settings.access.enabled else None
    pipeline = build_pipeline(settings, Overrides(), [], access)
    if access is not None:
        await access.start()
    try:
        yield pipeline
    finally:
        if access is not None:
            await access.close()


def build_app(settings: Settings, overrides: Overrides | None = None) -> web.Application:
    ov = overrides or Overrides()
    notes: list[str] = []
    access = AccessRuntime(settings) if settings.access.enabled else None
    pipeline = build_pipeline(settings, ov, notes, access)
    readiness = Readiness(pipeline.topo, pipeline.backends, pipeline.health)
    readiness.notes.extend(notes)
    app = web.Application(client_max_size=settings.server.max_body_bytes)  # no middleware unless tracing
    app[PIPELINE] = pipeline
    app[READINESS] = readiness
    handlers = Handlers(pipeline, settings.server.max_body_bytes)
    add_routes(app, handlers)
    add_messages_routes(app, handlers)
    app.router.add_get("/readyz", readiness.handle)
    if access is not None:
        app[ACCESS] = access
        add_admin_routes(app, access.admin)
        app.on_startup.append(access.start)
        app.on_cleanup.append(access.close)
    install_observability(app, settings, pipeline)
    install_jobs(app, settings, pipeline)
    install_feedback(app, settings, pipeline)
    add_unrouted(app)  # last: catches only what no route above matched
    monitor = Monitor(settings, pipeline.health, pipeline.backends)

    async def start(_: web.Application) -> None:
        await asyncio.to_thread(pipeline.detection.warm_up)
        monitor.start()

    async def close(_: web.Application) -> None:
        await monitor.stop()
        await pipeline.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(close)
    return app


def keys_configured(settings: Settings) -> bool:
    """True once any API key exists in the store; the gateway then requires one on every request."""
    return settings.access.enabled and keys_exist(settings)
