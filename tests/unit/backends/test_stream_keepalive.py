"""A finished stream gives its upstream connection back for the next request; an abandoned one closes it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.backends.sse import DONE
from hybridgate.settings import EndpointConfig
from tests.fakes.relay import ABANDON_TAIL_S, abandon_then_relay, relay_to_done

from .conftest import Serve

EVENT = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'


def upstream(peers: list[Any], tail_delay_s: float, events: int = 3) -> web.Application:
    """Streams `events` events and [DONE], then ends the chunked body a moment later, in its own packet
    (as servers that flush per event do)."""

    async def chat(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(events):
            await resp.write(EVENT)
        await resp.write(DONE)
        await asyncio.sleep(tail_delay_s)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def backend(port: int) -> OpenAICompatBackend:
    url = f"http://127.0.0.1:{port}/v1"
    cfg = EndpointConfig(name="up", kind="openai", base_url=url, trust="self_hosted", models=["m"])  # type: ignore[arg-type]
    return OpenAICompatBackend(cfg)


async def test_finished_streams_reuse_the_upstream_connection(serve: Serve) -> None:
    peers: list[Any] = []
    b = backend(await serve(upstream(peers, tail_delay_s=0.02)))
    try:
        for _ in range(3):
            assert (await relay_to_done(b))[-1] == DONE
            await asyncio.gather(*b._drains)  # the end of the body is read in the background
        assert len(peers) == 3 and len(set(peers)) == 1
    finally:
        await b.aclose()


async def test_abandoned_stream_closes_its_connection(serve: Serve) -> None:
    peers: list[Any] = []
    await abandon_then_relay(backend(await serve(upstream(peers, ABANDON_TAIL_S, events=50))), peers)
