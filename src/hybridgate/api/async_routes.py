"""Async requests: `POST /v1/async/{chat/completions,completions,embeddings}` (or the normal routes
with `x-hybridgate-mode: async`) -> 202 and a job id; `GET /v1/async/jobs/{id}` for status and result.

Headers: `x-hybridgate-priority: high|normal|low`, `x-hybridgate-deadline: 30m` (from now),
`x-hybridgate-webhook-url` (allow-listed hosts only), `idempotency-key` (a retried submission with
the same key returns the same job instead of running the request twice).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aiohttp import web

from hybridgate.access.durations import parse_duration
from hybridgate.api.job_routes import JobRoutes, guarded, job_error
from hybridgate.api.responses import json_response
from hybridgate.api.server import HANDLERS, async_mode
from hybridgate.api.validate import validate
from hybridgate.backends.base import Operation
from hybridgate.errors import BadRequest, GatewayError, NotFound
from hybridgate.jobs.model import OPS, PRIORITIES, Job, job_view, kept_headers, new_id
from hybridgate.jobs.webhooks import check_webhook

ASYNC_PREFIX = "/v1/async"


def job_id_for(owner_key: str | None, idempotency_key: str | None) -> str:
    if not idempotency_key:
        return new_id("job")
    digest = hashlib.sha256(f"{owner_key or '-'}\0{idempotency_key}".encode()).hexdigest()
    return "job_" + digest[:24]


def priority_of(headers: Any) -> int:
    raw = (headers.get("x-hybridgate-priority") or "normal").strip().lower()
    if raw not in PRIORITIES:
        raise BadRequest("x-hybridgate-priority must be high, normal or low", param="x-hybridgate-priority")
    return PRIORITIES[raw]


class AsyncRoutes(JobRoutes):
    async def submit(self, request: web.Request, op: Operation) -> web.StreamResponse:
        try:
            body = await self.h.read_body(request)
            validate(op, body)
            if body.get("stream"):
                raise BadRequest("stream is not supported for async requests", param="stream")
            owner = await self.owner(request)
            job = self._job(request, op, body, owner)
            rt = await self.rt.ensure()
            existing = await rt.store.get(job.id)
            if existing is None:
                await rt.submit([job])
        except GatewayError as err:
            return job_error(err)
        shown = existing if existing is not None and existing.owner_key == owner else job
        return json_response(job_view(shown), status=202, headers={"location": f"{ASYNC_PREFIX}/jobs/{shown.id}"})

    def _job(self, request: web.Request, op: Operation, body: dict[str, Any], owner: str | None) -> Job:
        cfg = self.rt.cfg
        now = time.time()
        raw_deadline = request.headers.get("x-hybridgate-deadline")
        window = parse_duration(raw_deadline, param="x-hybridgate-deadline") if raw_deadline else cfg.default_deadline_s
        return Job(
            id=job_id_for(owner, request.headers.get("idempotency-key")), op=op, body=body,
            headers=kept_headers(request.headers), created=now, deadline=now + window,
            priority=priority_of(request.headers), owner_key=owner,
            webhook=check_webhook(request.headers.get("x-hybridgate-webhook-url"), cfg),
        )  # fmt: skip

    async def get_job(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        job = None
        if self.rt.exists():
            job = await (await self.rt.ensure()).store.get(request.match_info["id"])
        if job is None or job.owner_key != owner:
            raise NotFound(f"No such job: {request.match_info['id']}", code="job_not_found")
        return json_response(job_view(job))

    def route(self, op: Operation) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self.submit(request, op)

        return handler

    @web.middleware
    async def mode_switch(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """`x-hybridgate-mode: async` on a normal route queues the request instead of waiting for it."""
        op = OPS.get(request.path)
        if op is not None and request.method == "POST" and async_mode(request.headers):
            return await self.submit(request, op)
        resp: web.StreamResponse = await handler(request)
        return resp


def add_async_routes(app: web.Application, routes: AsyncRoutes) -> None:
    for path, op in OPS.items():
        app.router.add_post(ASYNC_PREFIX + path.removeprefix("/v1"), routes.route(op))
    app.router.add_get(ASYNC_PREFIX + "/jobs/{id}", guarded(routes.get_job))
    if HANDLERS in app:  # the OpenAI routes' own handlers divert `x-hybridgate-mode: async` here
        app[HANDLERS].divert = routes.submit
    else:
        app.middlewares.append(routes.mode_switch)
