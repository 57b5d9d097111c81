"""The translating backends (Anthropic, Gemini) give a finished stream's upstream connection back for the
next request, and close the connection of a stream the client abandons mid-answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from hybridgate.backends.anthropic import AnthropicBackend
from hybridgate.backends.gemini import GeminiBackend
from hybridgate.backends.sse import DONE
from hybridgate.backends.translated import TranslatedBackend
from hybridgate.settings import EndpointConfig
from tests.fakes.relay import ABANDON_TAIL_S, abandon_then_relay, relay_to_done

from .conftest import Serve


def anthropic_events(n: int) -> list[bytes]:
    def ev(kind: str, **data: Any) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"

    start = {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 0}}
    text = {"type": "text_delta", "text": "hi"}
    return [
        ev("message_start", message=start),
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        *[ev("content_block_delta", index=0, delta=text) for _ in range(n)],
        ev("content_block_stop", index=0),
        ev("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": n}),
        ev("message_stop"),
    ]


def gemini_events(n: int) -> list[bytes]:
    def ev(obj: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    part = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]}
    last = {"candidates": [{"content": {"parts": []}, "finishReason": "STOP"}], "usageMetadata": {}}
    return [*[ev(part) for _ in range(n)], ev(last)]


Flavour = tuple[type[TranslatedBackend], str, str, Callable[[int], list[bytes]]]
FLAVOURS: list[Flavour] = [
    (AnthropicBackend, "anthropic", "/v1/messages", anthropic_events),
    (GeminiBackend, "gemini", "/v1beta/models/m:streamGenerateContent", gemini_events),
]


def upstream(flavour: Flavour, peers: list[Any], tail_delay_s: float, events: int) -> web.Application:
    """Streams the provider's events, then ends the chunked body a moment later, in its own packet."""

    async def stream(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for ev in flavour[3](events):
            await resp.write(ev)
        await asyncio.sleep(tail_delay_s)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post(flavour[2], stream)
    return app


def backend(flavour: Flavour, port: int) -> TranslatedBackend:
    base = f"http://127.0.0.1:{port}" + ("/v1beta" if flavour[1] == "gemini" else "")
    cfg = EndpointConfig(name="up", kind=flavour[1], base_url=base, trust="self_hosted", models=["m"])  # type: ignore[arg-type]
    return flavour[0](cfg)


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f[1])
async def test_finished_streams_reuse_the_upstream_connection(serve: Serve, flavour: Flavour) -> None:
    peers: list[Any] = []
    b = backend(flavour, await serve(upstream(flavour, peers, tail_delay_s=0.02, events=3)))
    try:
        for _ in range(3):
            got = await relay_to_done(b)
            assert got[-1] == DONE and any(b'"content":"hi"' in ev for ev in got)
            await asyncio.gather(*b._drains)  # the end of the body is read in the background
        assert len(peers) == 3 and len(set(peers)) == 1
    finally:
        await b.aclose()


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f[1])
async def test_abandoned_stream_closes_its_connection(serve: Serve, flavour: Flavour) -> None:
    peers: list[Any] = []
    await abandon_then_relay(backend(flavour, await serve(upstream(flavour, peers, ABANDON_TAIL_S, events=50))), peers)
