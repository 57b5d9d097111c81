"""The non-streaming call's deadlines: first byte, total, a stalled error body, and their error codes.

`OpenAICompatBackend.call` arms one timer for the first-byte and total deadlines together; each case here
must end exactly as the nested per-phase timeouts did (same error class, code and message).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiohttp import web

from hybridgate.backends.anthropic import AnthropicBackend
from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.errors import UpstreamStatusError, UpstreamTimeout
from hybridgate.labels import Trust
from hybridgate.settings import EndpointConfig
from tests.unit.backends.conftest import Serve

ANSWER = {"choices": [{"message": {"role": "assistant", "content": "hi"}}], "usage": {"total_tokens": 3}}


def backend(url: str, kind: str = "openai", **timeouts: float) -> Any:
    cfg = EndpointConfig(name="up", kind=kind, base_url=url, trust="self_hosted", models=["m"], timeouts=timeouts)  # type: ignore[arg-type]
    return AnthropicBackend(cfg) if kind == "anthropic" else OpenAICompatBackend(cfg)


def chat() -> UpstreamRequest:
    return UpstreamRequest("chat", {"model": "m", "messages": []}, frozenset({Trust.SELF_HOSTED}))


def upstream(*, head_delay: float = 0, body_delay: float = 0, status: int = 200) -> web.Application:
    """Headers after `head_delay`; then half the body, and the rest after `body_delay`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(head_delay)
        body = orjson.dumps(ANSWER if status == 200 else {"error": {"message": "nope"}})
        resp = web.StreamResponse(status=status, headers={"content-type": "application/json"})
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[:10])
        await asyncio.sleep(body_delay)
        await resp.write(body[10:])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    app.router.add_post("/v1/messages", handler)
    return app


async def test_a_whole_answer_arrives(serve: Serve) -> None:
    port = await serve(upstream())
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=1, total=2)
    try:
        resp = await b.call(chat())
        assert orjson.loads(resp.body) == ANSWER and resp.usage == {"total_tokens": 3}
        # a slow body within the total deadline, past the first-byte one: fine (the timer moved on)
        port2 = await serve(upstream(body_delay=0.3))
        b2 = backend(f"http://127.0.0.1:{port2}/v1", first_byte=0.2, total=2)
        assert (await b2.call(chat())).usage == {"total_tokens": 3}
        await b2.aclose()
    finally:
        await b.aclose()


@pytest.mark.parametrize("kind", ["openai", "anthropic"])  # anthropic: a subclass with its own _open
async def test_no_headers_within_the_first_byte_deadline(serve: Serve, kind: str) -> None:
    port = await serve(upstream(head_delay=1))
    b = backend(f"http://127.0.0.1:{port}/v1", kind, first_byte=0.1, total=5)
    t0 = time.monotonic()
    with pytest.raises(UpstreamTimeout) as e:
        await b.call(chat())
    assert time.monotonic() - t0 < 0.9
    assert e.value.code == "first_byte_timeout"
    assert str(e.value) == "up: no response within 0.1s"
    await b.aclose()


async def test_total_deadline_ends_a_slow_body(serve: Serve) -> None:
    port = await serve(upstream(body_delay=1))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=0.1, total=0.3)
    t0 = time.monotonic()
    with pytest.raises(UpstreamTimeout) as e:
        await b.call(chat())
    assert 0.25 < time.monotonic() - t0 < 0.9
    assert e.value.code == "upstream_timeout"
    assert str(e.value) == "up: no complete answer within 0.3s"
    await b.aclose()


async def test_total_shorter_than_first_byte_is_a_total_timeout(serve: Serve) -> None:
    port = await serve(upstream(head_delay=1))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=5, total=0.1)
    with pytest.raises(UpstreamTimeout) as e:
        await b.call(chat())
    assert e.value.code == "upstream_timeout"
    assert str(e.value) == "up: no complete answer within 0.1s"
    await b.aclose()


async def test_error_status_and_a_stalled_error_body(serve: Serve) -> None:
    port = await serve(upstream(status=429))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=1, total=2)
    with pytest.raises(UpstreamStatusError) as e:
        await b.call(chat())
    assert (e.value.upstream_status, e.value.code, str(e.value)) == (429, "upstream_429", "upstream returned 429: nope")
    await b.aclose()
    port = await serve(upstream(status=500, body_delay=1))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=0.2, total=5)
    with pytest.raises(UpstreamTimeout) as t:
        await b.call(chat())
    assert (t.value.code, str(t.value)) == ("body_timeout", "up: response body stalled")
    await b.aclose()
