"""Streamed restoration: placeholders cut anywhere across chunks, tails held at the end of a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from hybridgate.backends.sse import DONE, frame, payload
from hybridgate.detect.redact import Restorer
from hybridgate.detect.restore_stream import StreamRestorer, restore_body, restore_events

MAPPING = {"[EMAIL_1]": "jane@corp.io", "[SSN_1]": "536-22-8417"}
TEXT = "Mail [EMAIL_1], SSN [SSN_1]. Ends with ["
RESTORED = "Mail jane@corp.io, SSN 536-22-8417. Ends with ["


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return frame({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


async def run(events: list[bytes]) -> list[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for ev in events:
            yield ev

    return [ev async for ev in restore_events(gen(), StreamRestorer(Restorer(MAPPING)))]


def text_of(events: list[bytes], field: str = "content") -> str:
    out = []
    for ev in events:
        if ev == DONE:
            continue
        for ch in orjson.loads(payload(ev))["choices"]:
            if field == "content":
                out.append(ch["delta"].get("content") or "")
            else:
                out += [c["function"]["arguments"] for c in ch["delta"].get("tool_calls") or ()]
    return "".join(out)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("finish", [True, False], ids=["finish_reason", "done-only"])
async def test_content_restored_at_any_cut(size: int, finish: bool) -> None:
    events = [chunk({"content": TEXT[i : i + size]}) for i in range(0, len(TEXT), size)]
    if finish:
        events.append(chunk({}, "stop"))
    out = await run([*events, DONE])
    assert text_of(out) == RESTORED
    assert out[-1] == DONE


@pytest.mark.parametrize("finish", [True, False], ids=["finish_reason", "done-only"])
async def test_tool_call_arguments_restored_and_tail_flushed(finish: bool) -> None:
    args = '{"to": "[EMAIL_1]", "note": "["'
    events = [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i : i + 4]}}]}) for i in range(0, 31, 4)
    ]
    if finish:
        events.append(chunk({}, "tool_calls"))
    out = await run([*events, DONE])
    assert text_of(out, "tool_calls") == '{"to": "jane@corp.io", "note": "["'


def test_whole_body_restored() -> None:
    body = orjson.dumps({"choices": [{"message": {"content": TEXT}}]})
    assert orjson.loads(restore_body(body, Restorer(MAPPING)))["choices"][0]["message"]["content"] == RESTORED


async def test_closing_the_restorer_closes_the_upstream_stream_at_once() -> None:
    closed: list[bool] = []

    async def upstream() -> AsyncIterator[bytes]:
        try:
            yield chunk({"content": "a"})
            yield chunk({"content": "b"})
        finally:
            closed.append(True)

    it = restore_events(upstream(), StreamRestorer(Restorer(MAPPING)))
    await it.__anext__()
    await it.aclose()  # the client went away mid-stream
    assert closed == [True]
