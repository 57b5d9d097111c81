"""Bursts of SSE events: parsed per upstream read, handed out one by one, forwarded in one write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from hybridgate.api.streaming import relay
from hybridgate.backends.event_stream import EventStream, _batches_match_stream, open_events
from hybridgate.backends.sse import DONE, event_batches, events
from hybridgate.errors import UpstreamError


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def _collect(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]


def ev(n: int) -> bytes:
    return b'data: {"choices":[{"delta":{"content":"t%d"}}]}\n\n' % n


async def test_batches_follow_upstream_reads() -> None:
    reads = (ev(1) + ev(2) + ev(3)[:10], ev(3)[10:] + b": keep-alive\n\n", ev(4) + DONE)
    batches = await _collect(event_batches(_chunks(*reads)))
    assert batches == [[ev(1), ev(2)], [ev(3)], [ev(4), DONE]]  # a read with no complete event yields nothing
    assert await _collect(events(_chunks(*reads))) == [ev(1), ev(2), ev(3), ev(4), DONE]


async def test_batches_normalise_crlf_and_multiline_events() -> None:
    got = await _collect(event_batches(_chunks(b"data: a\r\n\r\ndata: b\ndata: c\n\n", b"data: tail")))
    assert got == [[b"data: a\n\n", b"data: b\nc\n\n"], [b"data: tail\n\n"]]


async def _batches(*batches: list[bytes]) -> AsyncIterator[list[bytes]]:
    for b in batches:
        yield b


async def test_event_stream_hands_out_single_events_and_what_is_ready() -> None:
    seen: list[bytes] = []
    s = EventStream(_batches([ev(2), ev(3)], [ev(4)]), [ev(1)], seen.append)
    assert await s.__anext__() == ev(1)
    assert s.take_ready() == []  # nothing else has arrived yet
    assert await s.__anext__() == ev(2)
    assert s.take_ready() == [ev(3)]
    assert await _collect(s) == [ev(4)]
    assert seen == [ev(1), ev(2), ev(3), ev(4)]  # the tally sees every event once, in order


class _Batched:
    def __init__(self, *batches: list[bytes]) -> None:
        self.batches = batches

    def stream(self, req: Any) -> AsyncIterator[bytes]:
        raise AssertionError("the batched path should be used")

    async def stream_batches(self, req: Any) -> AsyncIterator[list[bytes]]:
        for b in self.batches:
            yield b


class _Translating(_Batched):
    async def stream(self, req: Any) -> AsyncIterator[bytes]:  # type: ignore[override]
        yield b"data: translated\n\n"


async def test_open_events_uses_batches_only_where_stream_is_not_overridden() -> None:
    first, rest = await open_events(_Batched([ev(1), ev(2)], [DONE]), None)  # type: ignore[arg-type]
    assert first == ev(1) and rest.take_ready() == [ev(2)]
    assert not _batches_match_stream(_Translating)
    first, rest = await open_events(_Translating(), None)  # type: ignore[arg-type]
    assert first == b"data: translated\n\n"
    with pytest.raises(UpstreamError):
        await open_events(_Batched(), None)  # type: ignore[arg-type]


class _Resp:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.writes.append(data)


async def _relay(first: bytes, stream: EventStream, wants_usage: bool = False) -> tuple[_Resp, Any]:
    resp = _Resp()
    plan = SimpleNamespace(started=0.0)
    served = SimpleNamespace(first=first, events=stream)
    result = await relay(resp, None, plan, served, wants_usage)  # type: ignore[arg-type]
    return resp, result


async def test_relay_forwards_a_burst_in_one_write_and_keeps_each_event() -> None:
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
    resp, result = await _relay(ev(1), EventStream(_batches([ev(3), usage, DONE, ev(9)]), [ev(2)]))
    assert resp.writes == [ev(1) + ev(2), ev(3) + DONE]  # usage-only chunk dropped; nothing after [DONE]
    assert result.ok and result.usage == {"prompt_tokens": 3, "completion_tokens": 2}


async def test_relay_writes_events_that_arrive_apart_separately() -> None:
    resp, result = await _relay(ev(1), EventStream(_batches([ev(2)], [ev(3)], [DONE])))
    assert resp.writes == [ev(1), ev(2), ev(3), DONE]
    assert result.ok


async def test_relay_reports_a_truncated_burst() -> None:
    resp, result = await _relay(ev(1), EventStream(_batches([ev(2), ev(3)])))
    assert resp.writes[:2] == [ev(1), ev(2) + ev(3)]
    assert not result.ok and result.outcome == "stream_truncated" and b"error" in resp.writes[-1]
