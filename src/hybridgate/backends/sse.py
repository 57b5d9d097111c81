"""Server-sent events framing: split a byte stream into complete `data:` events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def frame(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def payload(event: bytes) -> bytes:
    """The data of one event (several `data:` lines joined by newlines), without the prefix."""
    lines = [ln[5:].lstrip(b" ") for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines)


async def events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yields each event as `data: ...\\n\\n`; comment lines and keep-alives are dropped."""
    buf = b""
    async for chunk in chunks:
        buf += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
        while True:
            i = buf.find(b"\n\n")
            if i < 0:
                break
            raw, buf = buf[:i], buf[i + 2 :]
            if raw.startswith(b"data: ") and b"\n" not in raw:  # the common case: one line, as sent
                yield raw + b"\n\n"
                continue
            data = payload(raw)
            if data:
                yield b"data: " + data + b"\n\n"
    data = payload(buf)
    if data:
        yield b"data: " + data + b"\n\n"
