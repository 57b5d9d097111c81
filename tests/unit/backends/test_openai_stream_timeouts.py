"""A stream's deadlines: the first-byte one (kept by the stream's stall watch, one timer for both) and
the stall limit between chunks, with their error codes; a body that already arrived is read at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web

from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.backends.sse import DONE, frame
from hybridgate.errors import UpstreamError, UpstreamTimeout
from hybridgate.labels import Trust
from hybridgate.settings import EndpointConfig
from tests.unit.backends.conftest import Serve

EVENTS = [frame({"choices": [{"index": 0, "delta": {"content": f"t{i}"}}]}) for i in range(5)]


def backend(url: str, **timeouts: float) -> Any:
    cfg = EndpointConfig(name="up", kind="openai", base_url=url, trust="self_hosted", models=["m"], timeouts=timeouts)  # type: ignore[arg-type]
    return OpenAICompatBackend(cfg)


def chat() -> UpstreamRequest:
    return UpstreamRequest("chat", {"model": "m", "messages": [], "stream": True}, frozenset({Trust.SELF_HOSTED}), True)


def upstream(*, head_delay: float = 0, gap: float = 0, cut: bool = False) -> web.Application:
    """Headers after `head_delay`, then the events, `gap` seconds apart (0: all in one write)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(head_delay)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        if not gap:
            await resp.write(b"".join([*EVENTS, DONE]))
        else:
            for ev in EVENTS:
                await resp.write(ev)
                await asyncio.sleep(gap)
            if cut:
                assert request.transport is not None
                request.transport.close()
                return resp
            await resp.write(DONE)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    return app


async def _collect(b: Any) -> list[bytes]:
    return [ev async for ev in b.stream(chat())]


async def test_a_whole_stream_in_one_write(serve: Serve) -> None:
    port = await serve(upstream())
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=1, between_chunks=1)
    try:
        assert await _collect(b) == [*EVENTS, DONE]
    finally:
        await b.aclose()


async def test_paced_events_within_the_stall_limit_but_past_the_first_byte_one(serve: Serve) -> None:
    port = await serve(upstream(gap=0.06))  # the stream takes ~0.3 s: past first_byte, each gap within the stall
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=0.15, between_chunks=1)
    try:
        assert await _collect(b) == [*EVENTS, DONE]
    finally:
        await b.aclose()


async def test_no_headers_within_the_first_byte_deadline(serve: Serve) -> None:
    port = await serve(upstream(head_delay=1))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=0.1, between_chunks=5)
    t0 = time.monotonic()
    with pytest.raises(UpstreamTimeout) as e:
        await _collect(b)
    assert time.monotonic() - t0 < 0.9
    assert (e.value.code, str(e.value)) == ("first_byte_timeout", "up: no response within 0.1s")
    await b.aclose()


async def test_a_stall_shorter_than_the_first_byte_deadline_is_caught_in_time(serve: Serve) -> None:
    # The watch's timer is armed for the first-byte deadline (5 s); the first wait for a chunk is due
    # far sooner, so the timer must move earlier, not fire at 5 s.
    port = await serve(upstream(gap=2))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=5, between_chunks=0.2)
    t0 = time.monotonic()
    with pytest.raises(UpstreamTimeout) as e:
        await _collect(b)
    assert time.monotonic() - t0 < 1.5
    assert (e.value.code, str(e.value)) == ("stream_stall", "up: stream stalled for 0.2s")
    await b.aclose()


async def test_a_cut_stream_is_an_error(serve: Serve) -> None:
    port = await serve(upstream(gap=0.01, cut=True))
    b = backend(f"http://127.0.0.1:{port}/v1", first_byte=1, between_chunks=1)
    got: list[bytes] = []
    with pytest.raises(UpstreamError) as e:
        async for ev in b.stream(chat()):
            got.append(ev)
    assert got == EVENTS and e.value.code == "stream_cut"
    await b.aclose()
