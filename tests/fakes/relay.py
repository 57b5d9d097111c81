"""A stream read the way api/streaming.relay reads it, for tests of what a backend does with its connection."""

from __future__ import annotations

from typing import Any

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


# The abandoning tests' upstreams end the body this long after their events: with no delay the whole answer
# could already sit in the client's buffer when it leaves, and a finished body's connection is rightly reused.
ABANDON_TAIL_S = 0.3


async def abandon_then_relay(b: Any, peers: list[Any]) -> None:
    """The client leaves a stream after its first events (the upstream must stop generating: the connection
    is closed, nothing drains in the background), then a whole stream runs on a new connection."""
    try:
        _first, stream = await open_events(b, stream_request())
        await stream.__anext__()
        await stream.aclose()
        assert not b._drains
        assert (await relay_to_done(b))[-1] == DONE
        assert len(peers) == 2 and peers[0] != peers[1]
    finally:
        await b.aclose()
