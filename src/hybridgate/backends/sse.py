"""Server-sent events framing: split a byte stream into complete `data:` events."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def frame(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def payload(event: bytes) -> bytes:
    """The data of one event (several `data:` lines joined by newlines), without the prefix."""
    lines = [ln[5:].lstrip(b" ") for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines)


def _split(buf: bytes) -> tuple[list[bytes], bytes]:
    """The complete events at the start of `buf` (normalised to `data: ...\\n\\n`), and the rest."""
    *raws, rest = buf.split(b"\n\n")  # one C-level pass; the last piece is the incomplete rest
    out: list[bytes] = []
    for raw in raws:
        if raw.startswith(b"data: ") and b"\n" not in raw:  # the common case: one line, as sent
            out.append(raw + b"\n\n")
            continue
        data = payload(raw)
        if data:
            out.append(b"data: " + data + b"\n\n")
    return out, rest


def feed(buf: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    """The complete events once `chunk` (one upstream read) follows `buf` (the incomplete rest of the
    reads before), and the new rest. For readers that split a body themselves (`event_batches`)."""
    return _split(buf + (chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk))


def last_event(buf: bytes) -> list[bytes]:
    """What is left at the end of the body: one event without its blank line, or nothing."""
    data = payload(buf)
    return [b"data: " + data + b"\n\n"] if data else []


async def event_batches(chunks: AsyncIterator[bytes]) -> AsyncGenerator[list[bytes], None]:
    """The events of each upstream read together (never an empty list), so that a relay can forward a
    burst in one write; each event is still complete and on its own, as `events` yields them.

    Closing it closes `chunks`: an async generator left suspended is finalised by the event loop
    through a thread-safe wake-up and a task of its own, at the end of every stream."""
    buf = b""
    try:
        async for chunk in chunks:
            batch, buf = feed(buf, chunk)
            if batch:
                yield batch
        if last := last_event(buf):
            yield last
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def events(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """Yields each event as `data: ...\\n\\n`; comment lines and keep-alives are dropped. Closing it
    closes `chunks` (see `event_batches`)."""
    async with aclosing(event_batches(chunks)) as batches:
        async for batch in batches:
            for event in batch:
                yield event
