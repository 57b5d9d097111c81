"""A stream's events one at a time, plus whatever else already arrived, for relays that coalesce writes.

An upstream that sends a burst (a fast local model, a proxy that buffers) delivers many events in one
read; writing each to the client separately costs a send and a chunk header per event. `EventStream`
hands out single events, as every consumer expects, and `take_ready()` lets the relay collect the rest
of the burst that is already here without waiting, and forward it in one write. Nothing is held back:
an event that has arrived is always available at once.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import AsyncIterator, Callable

from hybridgate.backends.base import Backend, UpstreamRequest
from hybridgate.errors import UpstreamError


class EventStream:
    def __init__(
        self,
        batches: AsyncIterator[list[bytes]],
        ready: list[bytes] | None = None,
        on_event: Callable[[bytes], None] | None = None,
    ) -> None:
        self._batches = batches
        self._ready: deque[bytes] = deque(ready or ())
        self.on_event = on_event  # e.g. the stream's token tally; sees every event handed out

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._ready:
            self._ready.extend(await self._batches.__anext__())  # StopAsyncIteration ends the stream
        event = self._ready.popleft()
        if self.on_event is not None:
            self.on_event(event)
        return event

    def take_ready(self) -> list[bytes]:
        """The events that have already arrived, in order, without waiting for more."""
        out = list(self._ready)
        self._ready.clear()
        if self.on_event is not None:
            for event in out:
                self.on_event(event)
        return out

    async def aclose(self) -> None:
        self._ready.clear()
        close = getattr(self._batches, "aclose", None)
        if close is not None:
            await close()


async def _singles(events: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    try:
        async for event in events:
            yield [event]
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


def batches_of(backend: Backend, req: UpstreamRequest) -> AsyncIterator[list[bytes]]:
    """The backend's bursts when it can report them (`stream_batches`), else its events one by one."""
    if _batches_match_stream(type(backend)):
        it: AsyncIterator[list[bytes]] = backend.stream_batches(req)  # type: ignore[attr-defined]
        return it
    return _singles(backend.stream(req))


@functools.cache  # per backend class: the MRO walk is the same for every request
def _batches_match_stream(cls: type) -> bool:
    """True when `stream_batches` and the `stream` in effect come from the same class: a subclass that
    overrides `stream` (a translating backend) must not be bypassed through its parent's batches."""
    owner = next((c for c in cls.__mro__ if "stream_batches" in c.__dict__), None)
    return owner is not None and owner.__dict__.get("stream") is getattr(cls, "stream", None)


async def open_events(
    backend: Backend, req: UpstreamRequest, on_event: Callable[[bytes], None] | None = None
) -> tuple[bytes, EventStream]:
    """Waits for the first event (errors before it still allow failover) and returns it with the rest."""
    it = batches_of(backend, req).__aiter__()
    try:
        first, *rest = await it.__anext__()
    except StopAsyncIteration:
        raise UpstreamError("upstream sent an empty stream", code="empty_stream") from None
    if on_event is not None:
        on_event(first)
    return first, EventStream(it, rest, on_event)
