"""Relay an upstream SSE stream to the client, chunk by chunk, without re-serialising.

Only events that mention "usage" are parsed. A stream that breaks after the first byte ends with an
explicit in-band error event, never a silent truncation presented as success.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from hybridgate.backends.sse import DONE, frame, payload
from hybridgate.errors import GatewayError, UpstreamError
from hybridgate.pipeline import Pipeline, Plan, Served

_USAGE = b'"usage"'


@dataclass(slots=True)
class StreamResult:
    usage: dict[str, Any] | None
    ttft_ms: float
    ok: bool
    outcome: str


class EventStreamResponse(web.StreamResponse):
    """Sends its headers together with the first event, in one write, rather than on `prepare()`.

    The first event is already in hand when the response is prepared (`Pipeline.open_stream` waits for
    it, so that errors before it can still fail over), so headers sent alone only cost one more send and
    one more wake-up of the client before its first token. aiohttp's `web.Response` buffers its headers
    the same way; if nothing is ever written, `write_eof()` still sends them.
    """

    _send_headers_immediately = False


def _usage_of(event: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(usage, is_usage_only_chunk) for one event."""
    try:
        obj = orjson.loads(payload(event))
    except orjson.JSONDecodeError:
        return None, False
    if not isinstance(obj, dict):
        return None, False
    usage = obj.get("usage")
    return (usage if isinstance(usage, dict) else None), obj.get("choices") == []


def _take_usage(
    batch: list[bytes], data: bytes, pos: int, usage: dict[str, Any] | None, keep_usage_only: bool
) -> tuple[bytes, dict[str, Any] | None]:
    """The usage of the events in `batch` (joined: `data`; `pos`: the last mention of it there) that
    mention it, the last one found winning, and `data` without the usage-only chunks unless the client
    asked for them. Only those events are parsed; the rest of the batch is searched backwards in one
    pass (the usage chunk comes last; a mention cannot span two events: each starts with `data: ` and
    ends with a blank line)."""
    hits: list[tuple[int, int]] = []  # (index, offset in data) of each event that mentions it, last first
    i = len(batch) - 1
    start = len(data) - len(batch[i])
    while pos >= 0:
        while start > pos:
            i -= 1
            start -= len(batch[i])
        hits.append((i, start))
        pos = data.rfind(_USAGE, 0, start)
    dropped: list[tuple[int, int]] = []
    for i, start in reversed(hits):
        found, usage_only = _usage_of(batch[i])
        usage = found or usage
        if usage_only and not keep_usage_only:
            dropped.append((start, start + len(batch[i])))
    if dropped:
        parts: list[bytes] = []
        end = 0
        for start, stop in dropped:
            parts.append(data[end:start])
            end = stop
        parts.append(data[end:])
        data = b"".join(parts)
    return data, usage


def error_event(err: GatewayError) -> bytes:
    return frame(err.body())


async def relay(
    resp: web.StreamResponse, pipeline: Pipeline, plan: Plan, served: Served, client_wants_usage: bool
) -> StreamResult:
    usage: dict[str, Any] | None = None
    ttft_ms = (time.perf_counter() - plan.started) * 1000
    seen_done = False
    event = served.first
    events = served.events
    assert events is not None
    # Events that arrived in the same upstream read go out in one write (see backends/event_stream.py).
    take_ready = getattr(events, "take_ready", None)
    try:
        while True:
            batch = [event, *take_ready()] if take_ready is not None else [event]
            if DONE in batch:  # what follows [DONE] is dropped
                seen_done = True
                del batch[batch.index(DONE) + 1 :]
            data = batch[0] if len(batch) == 1 else b"".join(batch)
            pos = data.rfind(_USAGE)  # backwards: the usage chunk comes last (and rfind is the faster)
            if pos >= 0:  # only the events that mention it are parsed
                data, usage = _take_usage(batch, data, pos, usage, client_wants_usage)
            if data:
                await resp.write(data)
            if seen_done:
                break
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                break
        if not seen_done:
            raise UpstreamError("upstream ended the stream without [DONE]", code="stream_truncated")
    except GatewayError as err:
        await resp.write(error_event(err))
        return StreamResult(usage, ttft_ms, False, err.code or "stream_error")
    return StreamResult(usage, ttft_ms, True, "ok")
