"""The Anthropic-compatible front door: `POST /v1/messages`.

The Anthropic body is translated to the OpenAI chat shape once, then runs through the same pipeline as
`/v1/chat/completions` (auth, detection over system, every content block and tool input, policy, the
egress boundary, routing), so any backend can serve it. Responses, stream events and errors are
translated back to Anthropic's shapes here, at the edge.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from hybridgate.api.messages_relay import relay_as_anthropic
from hybridgate.api.responses import error_response, json_response
from hybridgate.api.server import STREAM_HEADERS, Handlers, gateway_headers, new_request_id
from hybridgate.api.streaming import EventStreamResponse
from hybridgate.api.validate import validate
from hybridgate.backends.anthropic_format import from_anthropic
from hybridgate.backends.anthropic_response import response_to_anthropic
from hybridgate.errors import BadRequest, GatewayError, UpstreamError
from hybridgate.observe import tracing
from hybridgate.pipeline import Plan

_ROLES = ("user", "assistant")


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest(f"{param}: {message}", param=param)


def validate_messages(body: dict[str, Any]) -> None:
    """What Anthropic itself requires; everything else is checked after translation."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _bad("model", "Field required (a non-empty string)")
    mt = body.get("max_tokens")
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        raise _bad("max_tokens", "Field required (a positive integer)")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise _bad("messages", "Field required (a non-empty array)")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise _bad(f"messages.{i}.role", "must be 'user' or 'assistant'")
        if not isinstance(m.get("content"), str | list):
            raise _bad(f"messages.{i}.content", "must be a string or an array of content blocks")
        if isinstance(m["content"], list) and not all(isinstance(b, dict) for b in m["content"]):
            raise _bad(f"messages.{i}.content", "content blocks must be objects")
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise _bad("system", "must be a string or an array of text blocks")
    for key in ("tools", "stop_sequences"):
        if body.get(key) is not None and not isinstance(body[key], list):
            raise _bad(key, "must be an array")
    for key in ("metadata", "tool_choice"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise _bad(key, "must be an object")


class Messages:
    def __init__(self, handlers: Handlers) -> None:
        self.h = handlers
        self.pipeline = handlers.pipeline

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = new_request_id()
        plan: Plan | None = None
        try:
            raw = await self.h.read_body(request)
            validate_messages(raw)
            body = from_anthropic(raw)
            validate("chat", body)
            plan = await self.pipeline.plan("chat", body, request.headers, rid)
            if plan.stream:
                return await self._stream(request, plan)
            served = await self.pipeline.call(plan)
            assert served.response is not None
            try:
                answer = orjson.loads(served.response.body)
            except orjson.JSONDecodeError as e:
                raise UpstreamError("upstream sent invalid JSON", code="bad_upstream_body") from e
        except GatewayError as err:
            if plan is not None:
                self.pipeline.record(plan, err.status, None, None)
                await self.pipeline.durable()
            return error_response(err, gateway_headers(rid, plan), anthropic=True)
        a = served.attempt
        self.pipeline.record(plan, 200, a, served.response.usage)
        await self.pipeline.durable()  # the audit row is committed before the response leaves
        return json_response(response_to_anthropic(answer, a.model), headers=gateway_headers(rid, plan, a))

    async def _stream(self, request: web.Request, plan: Plan) -> web.StreamResponse:
        served = await self.pipeline.open_stream(plan)  # errors here are still plain HTTP errors
        a = served.attempt
        resp = EventStreamResponse(headers={**STREAM_HEADERS, **gateway_headers(plan.request_id, plan, a)})
        ok, outcome = False, "client_disconnected"
        try:
            await resp.prepare(request)
            with tracing.stage("stream"):
                result = await relay_as_anthropic(resp, plan, served, a.model)
            ok, outcome = result.ok, result.outcome
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        finally:
            self.pipeline.stream_done(plan, served, ok=ok, outcome=outcome)
            if served.events is not None and hasattr(served.events, "aclose"):
                await served.events.aclose()
        self.pipeline.record(plan, 200 if ok else 502, a, result.usage, ttft_ms=result.ttft_ms)
        return resp


def add_messages_routes(app: web.Application, handlers: Handlers) -> None:
    app.router.add_post("/v1/messages", Messages(handlers).handle)
