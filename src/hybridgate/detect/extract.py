"""Where the text is in a request: every message role, content part, tool-call argument and tool result.

A finding in turn 1 still counts in turn 5, so everything the upstream would see is scanned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hybridgate.frozen import maker, quick_init


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class TextField:
    message: int | None  # message index; None for non-chat inputs (prompt, input)
    field: str
    text: str


def _content_fields(content: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(content, str):
        yield prefix, content
    elif isinstance(content, Sequence):
        for j, part in enumerate(content):
            if isinstance(part, str):
                yield f"{prefix}[{j}]", part
            elif isinstance(part, Mapping):
                for key in ("text", "content", "input", "thinking"):
                    if key in part:
                        yield from _content_fields(part[key], f"{prefix}[{j}].{key}")
                if isinstance(part.get("input"), Mapping):
                    yield f"{prefix}[{j}].input", _flatten(part["input"])


def _flatten(value: Any) -> str:
    """Tool arguments as one string; only the values matter to a detector."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "\n".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, Sequence):
        return "\n".join(_flatten(v) for v in value)
    return str(value)


def message_fields(messages: Sequence[Any]) -> Iterator[TextField]:
    # `type(x) is dict/str` first: parsed JSON is made of exactly those, and the ABC isinstance checks
    # behind them are several times slower; other types take the general path, with the same result.
    for i, msg in enumerate(messages):
        if type(msg) is not dict and not isinstance(msg, Mapping):
            continue
        content = msg.get("content")
        if type(content) is str:
            yield TextField(i, "content", content)
        else:
            for field, text in _content_fields(content, "content"):
                yield TextField(i, field, text)
        if isinstance(msg.get("name"), str):
            yield TextField(i, "name", msg["name"])
        for j, call in enumerate(msg.get("tool_calls") or ()):
            fn = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(fn, Mapping) and fn.get("arguments") is not None:
                yield TextField(i, f"tool_calls[{j}].arguments", _flatten(fn["arguments"]))
        fc = msg.get("function_call")
        if fc is not None and isinstance(fc, Mapping) and fc.get("arguments") is not None:
            yield TextField(i, "function_call.arguments", _flatten(fc["arguments"]))


_new_field = maker(TextField)  # `TextField(...)`, cheaper (built for every text of every request)
_PLAIN_KEYS = frozenset(("role", "content"))


def _plain_chat_fields(body: Mapping[str, Any]) -> list[TextField] | None:
    """`list(_request_fields(body))` of the common chat: a list of messages, each a dict of a role and a string
    content and nothing else, and no system prompt, prompt, input or suffix beside them. Each message is then
    exactly one text, its content (no name, tool calls or parts to look into). None for anything else."""
    messages = body.get("messages")
    if type(messages) is not list or body.get("system") is not None:
        return None
    if "prompt" in body or "input" in body or "suffix" in body:
        return None
    out: list[TextField] = []
    for i, msg in enumerate(messages):
        if type(msg) is not dict or not msg.keys() <= _PLAIN_KEYS:
            return None
        content = msg.get("content")
        if type(content) is not str:
            return None
        out.append(_new_field(i, "content", content))
    return out


def request_fields(body: Mapping[str, Any]) -> Iterator[TextField]:
    """Every text in a chat, completion, embedding or Anthropic messages body."""
    plain = _plain_chat_fields(body)
    return iter(plain) if plain is not None else _request_fields(body)


def _request_fields(body: Mapping[str, Any]) -> Iterator[TextField]:
    system = body.get("system")
    if system is not None:
        for field, text in _content_fields(system, "system"):
            yield TextField(None, field, text)
    messages = body.get("messages")
    if type(messages) is list or (isinstance(messages, Sequence) and not isinstance(messages, str)):
        yield from message_fields(messages)
    for key in ("prompt", "input", "suffix"):
        if key in body:
            for field, text in _content_fields(body[key], key):
                yield TextField(None, field, text)
