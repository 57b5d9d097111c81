"""The parts of a chat request the router looks at, pulled out once per request."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hybridgate.detect.extract import message_fields
from hybridgate.frozen import maker, quick_init

_WS = re.compile(r"\s+")
_TRAILING_ANSWER = re.compile(r"\s*answer:\s*$")


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class RequestText:
    """All text, the system prompt and the last user turn, plus the shape of the conversation."""

    all_text: str
    system: str
    last_user: str
    n_messages: int
    tools: bool


_PLAIN_KEYS = frozenset(("role", "content"))
_new_request_text = maker(RequestText)  # `RequestText(...)`, cheaper (built on every request)


def request_text(messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> RequestText:
    return _plain_request_text(messages, tools) or _request_text(messages, tools)


def _plain_request_text(messages: Sequence[Mapping[str, Any]], tools: bool) -> RequestText | None:
    """_request_text of the common chat: every message a dict of a role and a string content, nothing else.

    Each message is then exactly one text field, its content (no name, tool calls or parts), and a tool
    message is the only agentic sign. None for anything else.
    """
    contents: list[str] = []
    system: list[str] = []
    last_user: str | None = None
    has_tools = tools
    for msg in messages:
        if type(msg) is not dict or not msg.keys() <= _PLAIN_KEYS:
            return None
        content = msg.get("content")
        if type(content) is not str:
            return None
        contents.append(content)
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(content)
        elif role == "user":
            last_user = content
        elif role == "tool":
            has_tools = True
    all_text = "\n".join(contents)
    return _new_request_text(
        all_text=all_text,
        system="\n".join(system),
        last_user=all_text if last_user is None else last_user,
        n_messages=len(messages),
        tools=bool(has_tools),
    )


def _request_text(messages: Sequence[Mapping[str, Any]], tools: bool) -> RequestText:
    parts: list[str] = []
    system: list[str] = []
    last_user_idx = -1
    for i, msg in enumerate(messages):
        if isinstance(msg, Mapping) and msg.get("role") == "user":
            last_user_idx = i
    last_user: list[str] = []
    for f in message_fields(messages):
        parts.append(f.text)
        owner = messages[f.message] if f.message is not None else None
        role = owner.get("role") if isinstance(owner, Mapping) else None
        if role in ("system", "developer"):
            system.append(f.text)
        if f.message == last_user_idx:
            last_user.append(f.text)
    # Tool definitions or tool calls both mean an agentic request.
    has_tools = tools or any(
        isinstance(m, Mapping) and (m.get("tool_calls") or m.get("role") == "tool") for m in messages
    )
    return RequestText(
        all_text="\n".join(parts),
        system="\n".join(system),
        last_user="\n".join(last_user) if last_user else "\n".join(parts),
        n_messages=len(messages),
        tools=bool(has_tools),
    )


def prompt_messages(prompt: str) -> list[dict[str, str]]:
    """A bare prompt as the one-user-turn chat the gateway would see."""
    return [{"role": "user", "content": prompt}]


def dedup_key(prompt: str) -> str:
    """ROUTING_EVAL's normalisation: lower-case, collapse whitespace, strip a trailing "Answer:"."""
    text = _WS.sub(" ", prompt.lower()).strip()
    return _TRAILING_ANSWER.sub("", text).strip()
