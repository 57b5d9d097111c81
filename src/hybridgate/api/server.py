"""HTTP routes. Handlers parse once, hand the body to the pipeline and map errors to OpenAI shapes."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from hybridgate.api.responses import JSON, ascii_header, error_response, json_response
from hybridgate.api.streaming import EventStreamResponse, StreamResult, relay
from hybridgate.api.validate import parse_json, validate
from hybridgate.backends.base import Operation
from hybridgate.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from hybridgate.observe import tracing
from hybridgate.pipeline import Pipeline, Plan
from hybridgate.policy.decide import Decision
from hybridgate.routing.select import Attempt

CLIENT_GONE = "client_disconnected"
STREAM_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no"}


class _RandomHex:
    """12 hex digits of os.urandom per call, read 3 KB at a time: one getrandom() per 512 ids instead of
    one per request. Emptied in a forked child, which must not hand out its parent's next ids."""

    _BLOCK = 512

    def __init__(self) -> None:
        self._hex = ""
        self._at = 0
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._hex, self._at = "", 0

    def take(self) -> str:
        at = self._at
        if at >= len(self._hex):
            self._hex, at = os.urandom(6 * self._BLOCK).hex(), 0
        self._at = at + 12
        return self._hex[at : at + 12]


_random_hex = _RandomHex()


def new_request_id() -> str:
    """hg- + 48-bit milliseconds + 48 random bits, in hex: ids sort by time (like UUIDv7), so
    the audit and usage indexes on request_id append at their right edge instead of touching a
    random page per row."""
    return f"hg-{time.time_ns() // 1_000_000:012x}{_random_hex.take()}"


_HEADER_CACHE: dict[tuple[str, str, str], str] = {}  # (kind, a, b) -> header value; bounded below
_HEADER_CACHE_MAX = 4096


def _remember(key: tuple[str, str, str], value: str) -> str:
    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:  # request-specific texts only fill it: start over
        _HEADER_CACHE.clear()
    _HEADER_CACHE[key] = value
    return value


def decision_header(d: Decision) -> str:
    """`ascii_header(d.summary())`, built once per rule id and reason: they repeat across requests."""
    key = ("decision", d.rule_id, d.reason)
    return _HEADER_CACHE.get(key) or _remember(key, ascii_header(d.summary()))


def route_header(a: Attempt) -> str:
    key = ("route", a.endpoint, a.model)
    return _HEADER_CACHE.get(key) or _remember(key, ascii_header(f"{a.endpoint}/{a.model}"))


def gateway_headers(rid: str, plan: Plan | None, attempt: Attempt | None = None) -> dict[str, str]:
    h = {"x-hybridgate-request-id": rid}
    if plan is not None:
        h["x-hybridgate-decision"] = decision_header(plan.decision)
        h["x-hybridgate-data-class"] = plan.signals.data_class._value_  # `.value` is a (slow) Python property
        if plan.ticket is not None:
            h.update(plan.ticket.headers)  # x-ratelimit-*
    if attempt is not None:
        h["x-hybridgate-route"] = route_header(attempt)
        if attempt.overflow:
            h["x-hybridgate-overflow"] = ascii_header(f"{attempt.tier}: {attempt.overflow_reason or 'fallback'}")
    return h


def stream_response(plan: Plan, attempt: Attempt) -> EventStreamResponse:
    """A stream's response, not yet prepared: its headers can only go out once the upstream answered."""
    return EventStreamResponse(headers={**STREAM_HEADERS, **gateway_headers(plan.request_id, plan, attempt)})


Divert = Callable[[web.Request, Operation], Awaitable[web.StreamResponse]]


def async_mode(headers: Mapping[str, str]) -> bool:
    """`x-hybridgate-mode: async`: queue the request as a job instead of waiting for it."""
    mode = headers.get("x-hybridgate-mode")
    return mode is not None and mode.strip().lower() == "async"


class Handlers:
    def __init__(self, pipeline: Pipeline, max_body: int) -> None:
        self.pipeline = pipeline
        self.max_body = max_body
        # Set by the async routes (api/async_routes.py): a chat, completions or embeddings request with
        # `x-hybridgate-mode: async` goes there. A check in these three handlers, not a middleware that
        # every request of every route would pass through.
        self.divert: Divert | None = None

    async def read_body(self, request: web.Request) -> dict[str, Any]:
        length = request.content_length  # parses the header on each access
        if length is not None and length > self.max_body:
            raise PayloadTooLarge(f"request body exceeds {self.max_body} bytes")
        content = request.content
        if content.is_eof():  # the whole body is here (the usual case): taken as it is, without a wait
            raw = content.read_nowait()
            if len(raw) > self.max_body:  # a chunked one, which said no length up front
                raise PayloadTooLarge(f"request body exceeds {self.max_body} bytes")
            return parse_json(raw)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise PayloadTooLarge(f"request body exceeds {self.max_body} bytes") from None
        return parse_json(raw)

    async def serve(self, request: web.Request, op: Operation) -> web.StreamResponse:
        rid = new_request_id()
        started = time.perf_counter()
        plan: Plan | None = None
        try:
            body = await self.read_body(request)
            validate(op, body)
            plan = await self.pipeline.plan(op, body, request.headers, rid)
            if plan.stream:
                return await self._stream(request, plan)
            served = await self.pipeline.call(plan)
        except GatewayError as err:
            if plan is not None:
                self.pipeline.record(plan, err.status, None, None)
            else:  # refused before planning (bad key, bad body): still counted and audited
                self.pipeline.record_rejected(rid, err.status, started)
            await self.pipeline.durable()
            return error_response(err, gateway_headers(rid, plan))
        assert served.response is not None
        self.pipeline.record(plan, 200, served.attempt, served.response.usage)
        await self.pipeline.durable()  # the audit row is committed before the response leaves
        headers = gateway_headers(rid, plan, served.attempt)
        headers["content-type"] = JSON  # a header, not `content_type=`, which aiohttp would check and set
        return web.Response(body=served.response.body, headers=headers)

    async def _stream(self, request: web.Request, plan: Plan) -> web.StreamResponse:
        early: list[tuple[Attempt, Decision, EventStreamResponse]] = []

        def build(a: Attempt) -> None:  # while the upstream works on the request (see `open_stream`)
            early.append((a, plan.decision, stream_response(plan, a)))

        served = await self.pipeline.open_stream(plan, build)  # errors here are still plain HTTP errors
        a = served.attempt
        resp = next((r for x, d, r in early if x is a and d is plan.decision), None) or stream_response(plan, a)
        wants_usage = bool((plan.body.get("stream_options") or {}).get("include_usage"))
        result: StreamResult | None = None
        try:
            await resp.prepare(request)
            with tracing.stage("stream"):
                result = await relay(resp, self.pipeline, plan, served, wants_usage)
        finally:
            # Also when the client went away: the upstream stream is closed, its slot, reservation and
            # usage are settled now rather than when a lease times out.
            ok = result is not None and result.ok
            self.pipeline.stream_done(plan, served, ok=ok, outcome=result.outcome if result else CLIENT_GONE)
            if served.events is not None and hasattr(served.events, "aclose"):
                await served.events.aclose()
            status = 200 if ok else (502 if result is not None else 499)
            self.pipeline.record(
                plan, status, a, result.usage if result else None, ttft_ms=result.ttft_ms if result else None
            )
        await self.pipeline.durable()  # the audit row is committed before the stream is closed
        with contextlib.suppress(ConnectionResetError):  # the client left; everything is settled already
            await resp.write_eof()
        return resp

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if self.divert is not None and async_mode(request.headers):
            return await self.divert(request, "chat")
        return await self.serve(request, "chat")

    async def completions(self, request: web.Request) -> web.StreamResponse:
        if self.divert is not None and async_mode(request.headers):
            return await self.divert(request, "completions")
        return await self.serve(request, "completions")

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        if self.divert is not None and async_mode(request.headers):
            return await self.divert(request, "embeddings")
        return await self.serve(request, "embeddings")

    async def explain(self, request: web.Request) -> web.StreamResponse:
        rid = new_request_id()
        try:
            body = await self.read_body(request)
            validate("chat", body)
            plan = await self.pipeline.plan("chat", body, request.headers, rid)
            await self.pipeline.deepen(plan)
        except GatewayError as err:
            return error_response(err, {"x-hybridgate-request-id": rid})
        return json_response(explain_body(plan), headers=gateway_headers(rid, plan))

    async def models(self, request: web.Request) -> web.StreamResponse:
        topo = self.pipeline.topo
        ids = ["auto", *topo.tiers, *topo.models()]
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "hybridgate"} for m in dict.fromkeys(ids)]
        return json_response({"object": "list", "data": data})

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        return json_response({"status": "ok"})


def explain_body(plan: Plan) -> dict[str, Any]:
    s, d = plan.signals, plan.decision
    return {
        "request_id": plan.request_id,
        "signals": {
            "data_class": s.data_class.value,
            "detected_class": s.detected_class.value,
            "findings": s.finding_counts(),  # types and counts only, never values
            "complexity": s.complexity,
            "hints": {
                "data_class": s.hints.data_class.value if s.hints.data_class else None,
                "latency_budget": s.hints.latency_budget,
                "volume": s.hints.volume,
                "purpose": s.hints.purpose,
            },
            "requested_model": s.requested_model,
            "detector_error": s.detector_error,
        },
        "decision": {
            "action": d.action,
            "rule": d.rule_id,
            "reason": d.reason,
            "tier": d.tier,
            "model": d.model,
            "allowed_trust": sorted(t.value for t in d.allowed_trust),
        },
        "candidates": [
            {
                "endpoint": a.endpoint,
                "model": a.model,
                "trust": a.trust.value,
                "tier": a.tier,
                "overflow": a.overflow,
                "overflow_reason": a.overflow_reason,
            }
            for a in plan.attempts
        ],
    }


def http_error(request: web.Request, status: int, reason: str | None) -> web.Response:
    """aiohttp's own 404/405/413 (and any other HTTP error it raises) as an OpenAI-shaped error
    (Anthropic-shaped under /v1/messages)."""
    err: GatewayError
    if status == 404:
        err = NotFound(f"Unknown route: {request.method} {request.path}", code="unknown_route")
    elif status == 405:
        err = MethodNotAllowed(f"Method {request.method} is not allowed on {request.path}")
    elif status == 413:
        err = PayloadTooLarge("request body too large")
    else:
        err = GatewayError(reason or "error")
        err.status = status
    anthropic = request.path.startswith("/v1/messages")
    return error_response(err, {"x-hybridgate-request-id": new_request_id()}, anthropic=anthropic)


@web.middleware
async def http_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's own 404/405/413 become OpenAI-shaped errors (Anthropic-shaped under /v1/messages).
    The gateway's app answers unknown routes with `add_unrouted` instead; this is for apps without it."""
    try:
        resp: web.StreamResponse = await handler(request)
        return resp
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return http_error(request, e.status, e.reason)


def add_unrouted(app: web.Application) -> None:
    """Answers what the router matches no route for, in the shape `http_errors` gives it: a catch-all
    route added after every other one (404, or 405 where another route has the path). Unlike a
    middleware, it costs the requests that do match a route nothing. Handlers that read a body answer a
    too large one themselves (413)."""
    resource = app.router.add_resource("/{unrouted:.*}")

    async def unrouted(request: web.Request) -> web.StreamResponse:
        for other in request.app.router.resources():
            if other is not resource:
                _, allowed = await other.resolve(request)
                if allowed:  # the path exists, with other methods
                    return http_error(request, 405, None)
        return http_error(request, 404, None)

    resource.add_route("*", unrouted)


HANDLERS = web.AppKey("handlers", Handlers)  # the handlers serving the OpenAI routes of an app


def add_routes(app: web.Application, h: Handlers) -> None:
    app[HANDLERS] = h
    app.router.add_post("/v1/chat/completions", h.chat)
    app.router.add_post("/v1/completions", h.completions)
    app.router.add_post("/v1/embeddings", h.embeddings)
    app.router.add_post("/v1/route/explain", h.explain)
    app.router.add_get("/v1/models", h.models)
    app.router.add_get("/healthz", h.healthz)
