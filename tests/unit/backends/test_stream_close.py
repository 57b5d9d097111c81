"""A closed stream closes the generators under it itself, rather than leaving them suspended for the
event loop's finaliser (a thread-safe wake-up and a task of its own each, at the end of every stream)."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from hybridgate.backends.base import Backend
from hybridgate.backends.event_stream import open_events
from hybridgate.backends.sse import DONE, event_batches, events
from tests.fakes.relay import relay_to_done, stream_request

from . import test_stream_keepalive as openai
from . import test_translated_keepalive as translated
from .conftest import Serve


async def _source(closed: list[bool]) -> AsyncIterator[bytes]:
    try:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"
    finally:
        closed.append(True)


async def test_closing_events_closes_the_source_at_once() -> None:
    closed: list[bool] = []
    it = events(_source(closed))
    assert await it.__anext__() == b"data: 1\n\n"
    await it.aclose()
    assert closed == [True]


async def test_closing_event_batches_closes_the_source_at_once() -> None:
    closed: list[bool] = []
    it = event_batches(_source(closed))
    assert await it.__anext__() == [b"data: 1\n\n"]
    await it.aclose()
    assert closed == [True]


async def _backend(serve: Serve, kind: str) -> Backend:
    if kind == "openai":
        return openai.backend(await serve(openai.upstream([], tail_delay_s=0.01, events=20)))
    flavour = next(f for f in translated.FLAVOURS if f[1] == kind)
    app: web.Application = translated.upstream(flavour, [], tail_delay_s=0.01, events=20)
    return translated.backend(flavour, await serve(app))


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
async def test_a_closed_stream_leaves_no_generator_to_the_loop(serve: Serve, kind: str) -> None:
    b = await _backend(serve, kind)
    finalised: list[str] = []
    firstiter, finalizer = sys.get_asyncgen_hooks()
    assert finalizer is not None

    def counting(agen: AsyncGenerator[Any, Any]) -> None:
        if "hybridgate" in getattr(agen, "ag_code").co_filename:  # noqa: B009 - not on the ABC
            finalised.append(getattr(agen, "__qualname__", "?"))
        finalizer(agen)

    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=counting)
    try:
        assert (await relay_to_done(b))[-1] == DONE  # stopped at [DONE], as the relay does
        _first, stream = await open_events(b, stream_request())  # the client leaves early
        await stream.__anext__()
        await stream.aclose()
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
        await b.aclose()
    assert finalised == []
