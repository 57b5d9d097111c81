"""Restore redacted values in OpenAI-shaped responses: whole JSON bodies and SSE chunk streams.

Each choice's content (and each tool call's argument stream) gets its own Restorer, because a
placeholder may be cut across chunks of the same text but never across different texts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from hybridgate.backends.sse import DONE, frame, payload
from hybridgate.detect.redact import Restorer


def restore_body(body: bytes, restorer: Restorer) -> bytes:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return orjson.dumps(restorer.restore_value(obj))


class StreamRestorer:
    def __init__(self, template: Restorer) -> None:
        self.template = template
        self.parts: dict[tuple[int, int | None], Restorer] = {}
        self.base: dict[str, Any] = {}  # id/model/... of the last chunk, for a synthesised tail chunk

    def _part(self, key: tuple[int, int | None]) -> Restorer:
        if key not in self.parts:
            self.parts[key] = self.template.fork()
        return self.parts[key]

    def _choice(self, choice: dict[str, Any]) -> None:
        idx = int(choice.get("index") or 0)
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if isinstance(delta.get("content"), str):
                delta["content"] = self._part((idx, None)).feed(delta["content"])
            for call in delta.get("tool_calls") or ():
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    fn["arguments"] = self._part((idx, int(call.get("index") or 0))).feed(fn["arguments"])
        if choice.get("finish_reason"):
            if not isinstance(delta, dict):
                delta = choice["delta"] = {}
            self._flush_into(idx, delta)

    def _flush_into(self, idx: int, delta: dict[str, Any]) -> None:
        """Held-back tails of choice `idx` (content and every tool call's arguments) go into `delta`."""
        for (i, call), part in self.parts.items():
            tail = part.flush() if i == idx else ""
            if not tail:
                continue
            if call is None:
                delta["content"] = (delta.get("content") or "") + tail
            else:
                delta.setdefault("tool_calls", []).append({"index": call, "function": {"arguments": tail}})

    def tail(self) -> list[bytes]:
        """End of stream ([DONE]) without a finish_reason: whatever is still held back, as chunks of its own.
        Without this, a reply ending in "[" (or a placeholder prefix) lost its end."""
        out = []
        for idx in sorted({i for i, _ in self.parts}):
            delta: dict[str, Any] = {}
            self._flush_into(idx, delta)
            if delta:
                out.append(frame({**self.base, "choices": [{"index": idx, "delta": delta, "finish_reason": None}]}))
        return out

    def event(self, ev: bytes) -> bytes:
        if ev == DONE:
            return ev
        try:
            obj = orjson.loads(payload(ev))
        except orjson.JSONDecodeError:
            return ev
        if isinstance(obj, dict):
            self.base = {k: obj[k] for k in ("id", "object", "created", "model") if k in obj}
            for choice in obj.get("choices") or ():
                if isinstance(choice, dict):
                    self._choice(choice)
        return frame(obj)


async def restore_events(events: AsyncIterator[bytes], sr: StreamRestorer) -> AsyncIterator[bytes]:
    try:
        async for ev in events:
            if ev == DONE:
                for chunk in sr.tail():
                    yield chunk
            yield sr.event(ev)
    finally:
        # closed with this wrapper, so the upstream connection is released now, not by the loop's finaliser
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
