"""`POST /v1/feedback` and `GET /v1/router/stats`, and their wiring into the app and the pipeline.

`install` is called once by the composition root. It hooks the recent-features map into the
pipeline (a capture right after detection, an observer after each request) and counts the
realised frontier share.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hybridgate.api.responses import error_response, json_response
from hybridgate.api.server import new_request_id
from hybridgate.api.validate import parse_json
from hybridgate.auth.authenticator import presented
from hybridgate.errors import GatewayError, PayloadTooLarge
from hybridgate.pipeline import Pipeline
from hybridgate.policy.model import DEFAULT_FRONTIER_SHARE
from hybridgate.router.feedback_service import FeedbackService
from hybridgate.router.feedback_store import FeedbackStore, open_store
from hybridgate.router.recent import RecentRequests
from hybridgate.router.share import ShareCounter
from hybridgate.settings import Settings

MAX_FEEDBACK_BYTES = 64 * 1024


class FeedbackRoutes:
    def __init__(self, service: FeedbackService, share: ShareCounter, pipeline: Pipeline) -> None:
        self.service = service
        self.share = share
        self.pipeline = pipeline

    async def feedback(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await request.content.read(MAX_FEEDBACK_BYTES + 1)
            if len(raw) > MAX_FEEDBACK_BYTES:
                raise PayloadTooLarge(f"feedback bodies are limited to {MAX_FEEDBACK_BYTES} bytes")
            body = parse_json(raw)
            result = await self.service.submit(body, _credential(request))
        except GatewayError as err:
            return error_response(err, _rid())
        return json_response(result, headers=_rid())

    async def stats(self, request: web.Request) -> web.StreamResponse:
        try:
            await self.pipeline.auth.authenticate(_credential(request))
        except GatewayError as err:
            return error_response(err, _rid())
        return json_response(self.body(), headers=_rid())

    def body(self) -> dict[str, Any]:
        scorer = self.pipeline.detection.scorer
        recent = self.service.recent
        return {
            "object": "router.stats",
            "scorer": scorer.name if scorer is not None else None,
            "threshold": self.pipeline.policy.complexity_threshold,
            **self.share.snapshot(),
            "feedback": {"tracked_requests": len(recent), "capacity": recent.capacity},
        }


def _rid() -> dict[str, str]:
    return {"x-hybridgate-request-id": new_request_id()}


def _credential(request: web.Request) -> str | None:
    return presented(request.headers)


def target_share(settings: Settings, pipeline: Pipeline) -> float | None:
    """The share the threshold was calibrated to; None when the policy uses a raw threshold."""
    p = settings.policy
    calibrated = hasattr(pipeline.detection.scorer, "threshold_for_share")
    if p.complexity_threshold is not None or not calibrated:
        return None
    return DEFAULT_FRONTIER_SHARE if p.frontier_share is None else p.frontier_share


def frontier_trust(pipeline: Pipeline) -> frozenset[str]:
    tier = pipeline.topo.tiers.get(pipeline.policy.frontier_tier or "")
    if tier is None:
        return frozenset()
    return frozenset(pipeline.topo.endpoints[e].trust.value for e in tier.endpoints)


def install(
    app: web.Application, settings: Settings, pipeline: Pipeline, store: FeedbackStore | None = None
) -> FeedbackService:
    recent = RecentRequests(pipeline.detection.scorer)
    share = ShareCounter(pipeline.policy.frontier_tier, target_share(settings, pipeline), frontier_trust(pipeline))
    pipeline.on_detect.append(recent.capture)
    pipeline.observers.extend([recent, share])
    service = FeedbackService(
        recent, store or open_store(), pipeline.auth, pipeline.topo.tiers, pipeline.policy.frontier_tier
    )
    routes = FeedbackRoutes(service, share, pipeline)
    app.router.add_post("/v1/feedback", routes.feedback)
    app.router.add_get("/v1/router/stats", routes.stats)

    async def close(_: web.Application) -> None:
        await service.aclose()

    app.on_cleanup.append(close)
    return service
