"""A stream read the way api/streaming.relay reads it, for tests of what a backend does with its connection."""

from __future__ import annotations

from hybridgate.backends.base import Backend, UpstreamRequest
from hybridgate.backends.event_stream import open_events
from hybridgate.backends.sse import DONE
from hybridgate.labels import Trust


def stream_request() -> UpstreamRequest:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    return UpstreamRequest("chat", body, frozenset({Trust.SELF_HOSTED}), True, "rid")


async def relay_to_done(b: Backend) -> list[bytes]:
    """What api/streaming.relay does: stop reading at [DONE], then close the stream."""
    first, stream = await open_events(b, stream_request())
    got = [first]
    while got[-1] != DONE:
        got.append(await stream.__anext__())
    await stream.aclose()
    return got
