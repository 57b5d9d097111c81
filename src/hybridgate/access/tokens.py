"""Token counts the gateway makes itself: the estimate a rate limit or budget reserves before the call,
and the count of a response or stream whose upstream reported no usage (the record is then marked
`estimated`). Streamed and non-streamed answers are counted by the same rule, so they bill the same.

About four characters per token for English text with BPE tokenizers; an estimate, never billed as exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

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
    n_msgs = 0
    chars = 0
    if isinstance(msgs, list):
        n_msgs = len(msgs)
        for m in msgs:  # the common shape, plain string content, without the generic walk; same count
            if type(m) is dict:
                content = m.get("content")
                chars += len(content) if type(content) is str else _text_chars(content)
                if "text" in m:
                    chars += _text_chars(m["text"])
    for field in ("prompt", "input", "system"):
        value = body.get(field)
        if value is not None:
            chars += _text_chars(value)
    return -(-chars // CHARS_PER_TOKEN) + PER_MESSAGE_TOKENS * n_msgs  # tokens_of_chars, inlined


def max_output_tokens(body: Mapping[str, Any], op: str) -> int:
    if op == "embeddings":
        return 0
    for k in ("max_completion_tokens", "max_tokens"):
        v = body.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
    return DEFAULT_OUTPUT_TOKENS


def _choice_chars(choice: Any) -> int:
    """The generated text of one choice: message (non-stream) or delta (stream) content, tool calls, text."""
    if not isinstance(choice, dict):
        return 0
    total = _text_chars(choice.get("text"))
    for part in (choice.get("message"), choice.get("delta")):
        if not isinstance(part, dict):
            continue
        total += _text_chars(part.get("content"))
        for call in part.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                total += _text_chars(fn.get("name")) + _text_chars(fn.get("arguments"))
    return total


def completion_chars(obj: Any) -> int:
    """The generated characters in one OpenAI-shaped response or stream chunk."""
    choices = obj.get("choices") if isinstance(obj, dict) else None
    return sum(_choice_chars(c) for c in choices) if isinstance(choices, list) else 0


def estimated_usage(body: Mapping[str, Any], completion: int) -> dict[str, int]:
    p, c = prompt_tokens(body), tokens_of_chars(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


class Tally(Protocol):
    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        """Estimated usage of the request `body` and the answer this tally saw."""
        ...


class ResponseTally:
    """A non-streamed answer whose upstream reported no usage: counted only if the record needs it."""

    def __init__(self, response: bytes) -> None:
        self.response = response

    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        try:
            obj = orjson.loads(self.response)
        except orjson.JSONDecodeError:
            obj = None
        return estimated_usage(body, completion_chars(obj))


def choice_chunks(events: Iterable[bytes]) -> Iterator[Any]:
    """The parsed JSON of each stream event that carries `choices` (unparseable events are skipped)."""
    for event in events:
        if event == DONE or b'"choices"' not in event:
            continue
        try:
            yield orjson.loads(payload(event))
        except orjson.JSONDecodeError:
            continue


class StreamTally:
    """Counts the characters a stream delivers, for when its upstream sends no usage chunk."""

    def __init__(self) -> None:
        self._events: list[bytes] = []
        # Only kept: parsing every chunk would tax every stream for the rare upstream that sends no usage.
        # The list's own `append`, not a method around it: it runs for every event of every stream.
        self.feed: Callable[[bytes], None] = self._events.append

    @property
    def events(self) -> list[bytes]:
        """The events seen so far (audit payload capture assembles the streamed text from them)."""
        return self._events

    @property
    def chars(self) -> int:
        return sum(completion_chars(obj) for obj in choice_chunks(self._events))

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
        return estimated_usage(body, self.chars)
