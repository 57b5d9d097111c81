"""Relay an OpenAI-shaped upstream stream to an Anthropic client as Anthropic's event stream.

Unlike the chat relay this must re-serialise (the formats differ), but only at the edge, once per
chunk. A stream that breaks ends with Anthropic's in-band `error` event, never a silent truncation.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from hybridgate.api.streaming import StreamResult
from hybridgate.backends.anthropic_stream import Event, OpenAIToAnthropic
from hybridgate.backends.sse import DONE, payload
from hybridgate.errors import GatewayError, UpstreamError
from hybridgate.pipeline import Plan, Served


def sse(event: Event) -> bytes:
    name, data = event
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_event(err: GatewayError) -> bytes:
    return sse(("error", err.anthropic_body()))


def _chunk(event: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(payload(event))
    except orjson.JSONDecodeError as e:
        raise UpstreamError("upstream sent an unreadable stream event", code="bad_upstream_event") from e
    if not isinstance(obj, dict):
        raise UpstreamError("upstream sent an unreadable stream event", code="bad_upstream_event")
    if isinstance(obj.get("error"), dict):  # an in-band error from the upstream or the backend
        err = obj["error"]
        raise UpstreamError(str(err.get("message") or "upstream stream error"), code=err.get("code"))
    return obj


async def relay_as_anthropic(resp: web.StreamResponse, plan: Plan, served: Served, model: str) -> StreamResult:
    state = OpenAIToAnthropic(model)
    ttft_ms = (time.perf_counter() - plan.started) * 1000
    event = served.first
    events = served.events
    assert events is not None
    try:
        while event != DONE:
            for out in state.feed(_chunk(event)):
                await resp.write(sse(out))
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                raise UpstreamError("upstream ended the stream without [DONE]", code="stream_truncated") from None
        for out in state.end():
            await resp.write(sse(out))
    except GatewayError as err:
        await resp.write(error_event(err))
        return StreamResult(state.usage, ttft_ms, False, err.code or "stream_error")
    return StreamResult(state.usage, ttft_ms, True, "ok")
