"""The parts of a chat request the router looks at, pulled out once per request."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hybridgate.detect.extract import message_fields

_WS = re.compile(r"\s+")
_TRAILING_ANSWER = re.compile(r"\s*answer:\s*$")


@dataclass(frozen=True, slots=True)
class RequestText:
    """All text, the system prompt and the last user turn, plus the shape of the conversation."""

    all_text: str
    system: str
    last_user: str
    n_messages: int
    tools: bool


def request_text(messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> RequestText:
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
