"""The relay forwards a burst in one write, parses only the events that mention usage, and matches the
event-by-event rule it replaced: every event up to [DONE], usage-only chunks dropped unless asked for,
the last usage found wins."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from hybridgate.api.streaming import _usage_of, relay
from hybridgate.backends.event_stream import EventStream
from hybridgate.backends.sse import DONE, frame

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def _text(s: str) -> bytes:
    return frame({"choices": [{"index": 0, "delta": {"content": s}}]})


KINDS: list[bytes] = [
    _text("tok "),
    _text("usage"),  # the word, as a whole content string: mentions "usage", carries none
    _text('say "usage" twice'),  # escaped quotes: no mention
    frame({"choices": [], "usage": USAGE}),  # usage-only chunk
    frame({"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": {**USAGE, "total_tokens": 11}}),
    frame({"choices": [], "usage": None}),
    b"data: {not json usage\n\n",
    b'data: {"usage": 3}\n\n',
    DONE,
]


def _reference(batches: list[list[bytes]], wants_usage: bool) -> tuple[list[bytes], dict[str, Any] | None, bool]:
    """The per-event loop the relay had before."""
    writes: list[bytes] = []
    usage = None
    seen_done = False
    for batch in batches:
        out: list[bytes] = []
        for ev in batch:
            if ev == DONE:
                seen_done = True
            elif b'"usage"' in ev:
                found, usage_only = _usage_of(ev)
                usage = found or usage
                if usage_only and not wants_usage:
                    continue
            out.append(ev)
            if seen_done:
                break
        if out:
            writes.append(b"".join(out))
        if seen_done:
            break
    return writes, usage, seen_done


class _Resp:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.writes.append(data)


async def _relay(batches: list[list[bytes]], wants_usage: bool) -> tuple[list[bytes], Any, bool]:
    async def gen() -> Any:
        for b in batches[1:]:
            yield list(b)

    first, *rest = batches[0]
    stream = EventStream(gen().__aiter__(), rest)
    served = SimpleNamespace(first=first, events=stream)
    plan = SimpleNamespace(started=time.perf_counter())
    resp = _Resp()
    result = await relay(resp, None, plan, served, wants_usage)  # type: ignore[arg-type]
    return resp.writes, result.usage, result.ok


@pytest.mark.parametrize("seed", range(60))
async def test_relay_matches_the_event_by_event_rule(seed: int) -> None:
    rng = random.Random(seed)
    batches = [[rng.choice(KINDS) for _ in range(rng.randint(1, 8))] for _ in range(rng.randint(1, 5))]
    if seed % 3 == 0:
        batches[-1].append(DONE)
    for wants_usage in (False, True):
        writes, usage, seen_done = _reference(batches, wants_usage)
        got_writes, got_usage, ok = await _relay(batches, wants_usage)
        if seen_done:
            assert (got_writes, got_usage, ok) == (writes, usage, True)
        else:  # truncated: the same events, then the in-band error
            assert got_writes[:-1] == writes and not ok and got_usage == usage
            assert b"stream_truncated" in got_writes[-1]


async def test_a_whole_stream_in_one_burst_is_one_write_without_the_usage_chunk() -> None:
    events = [_text(f"t{i} ") for i in range(50)]
    usage_chunk = frame({"choices": [], "usage": USAGE})
    writes, usage, ok = await _relay([[*events, usage_chunk, DONE, _text("after")]], False)
    assert ok and usage == USAGE
    assert writes == [b"".join(events) + DONE]
    writes, _, _ = await _relay([[*events, usage_chunk, DONE]], True)
    assert writes == [b"".join(events) + usage_chunk + DONE]


def test_usage_chunk_shape_is_what_the_fake_and_openai_send() -> None:
    ev = frame({"id": "x", "choices": [], "usage": USAGE})
    assert _usage_of(ev) == (USAGE, True)
    assert orjson.loads(ev[6:])["usage"] == USAGE
