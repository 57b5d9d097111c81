"""Token counts the gateway makes itself: the estimate a rate limit or budget reserves before the call,
and the count of a stream whose upstream reported no usage (the record is then marked `estimated`).

About four characters per token for English text with BPE tokenizers; an estimate, never billed as exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from hybridgate.backends.sse import DONE, payload

CHARS_PER_TOKEN = 4
PER_MESSAGE_TOKENS = 4  # role and framing tokens that every chat message costs
DEFAULT_OUTPUT_TOKENS = 1024  # reserved when a request sets no max_tokens


def _text_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(v) for v in value)
    if isinstance(value, dict):
        return _text_chars(value.get("text")) + _text_chars(value.get("content"))
    return 0


def tokens_of_chars(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def prompt_tokens(body: Mapping[str, Any]) -> int:
    msgs = body.get("messages")
    n_msgs = len(msgs) if isinstance(msgs, list) else 0
    chars = _text_chars(msgs) + _text_chars(body.get("prompt")) + _text_chars(body.get("input"))
    chars += _text_chars(body.get("system"))
    return tokens_of_chars(chars) + PER_MESSAGE_TOKENS * n_msgs


def max_output_tokens(body: Mapping[str, Any], op: str) -> int:
    if op == "embeddings":
        return 0
    for k in ("max_completion_tokens", "max_tokens"):
        v = body.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
    return DEFAULT_OUTPUT_TOKENS


class StreamTally:
    """Counts the characters a stream delivers, for when its upstream sends no usage chunk."""

    def __init__(self) -> None:
        self._events: list[bytes] = []

    def feed(self, event: bytes) -> None:
        # Only kept: parsing every chunk would tax every stream for the rare upstream that sends no usage.
        self._events.append(event)

    @property
    def chars(self) -> int:
        total = 0
        for event in self._events:
            if event == DONE or b'"choices"' not in event:
                continue
            try:
                obj = orjson.loads(payload(event))
            except orjson.JSONDecodeError:
                continue
            for choice in obj.get("choices") or () if isinstance(obj, dict) else ():
                if isinstance(choice, dict):
                    delta = choice.get("delta")
                    total += _text_chars(delta.get("content") if isinstance(delta, dict) else None)
                    total += _text_chars(choice.get("text"))
        return total

    async def wrap(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for event in events:
                self.feed(event)
                yield event
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        p, c = prompt_tokens(body), tokens_of_chars(self.chars)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
