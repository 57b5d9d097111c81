"""OpenAI chat requests <-> Anthropic Messages requests. Pure functions over plain dicts.

`to_anthropic` serves the Anthropic backend; `from_anthropic` serves the `/v1/messages` front door.
They are inverses on the features both formats share (round-trip tables in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from hybridgate.backends.openai_chat import content_text, data_url

DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; OpenAI does not

_TOOL_CHOICE_TO = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
_TOOL_CHOICE_FROM = {"auto": "auto", "any": "required", "none": "none"}


# -- content parts ----------------------------------------------------------------------------


def _image_to_anthropic(part: Mapping[str, Any]) -> dict[str, Any]:
    url = str((part.get("image_url") or {}).get("url", ""))
    inline = data_url(url)
    if inline is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _image_from_anthropic(block: Mapping[str, Any]) -> dict[str, Any]:
    src = block.get("source") or {}
    if src.get("type") == "base64":
        url = f"data:{src.get('media_type', 'image/png')};base64,{src.get('data', '')}"
    else:
        url = str(src.get("url", ""))
    return {"type": "image_url", "image_url": {"url": url}}


def _blocks_to_anthropic(content: Any) -> list[dict[str, Any]] | str:
    if isinstance(content, str) or content is None:
        return content or ""
    out: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            out.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            out.append(_image_to_anthropic(part))
    return out


def _parts_from_anthropic(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content or ():
        if block.get("type") == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif block.get("type") == "image":
            parts.append(_image_from_anthropic(block))
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


# -- messages: OpenAI -> Anthropic -------------------------------------------------------------


def _args(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            return {"_raw": arguments}
    return arguments if arguments is not None else {}


def _assistant_to_anthropic(msg: Mapping[str, Any]) -> dict[str, Any]:
    calls = msg.get("tool_calls") or []
    if not calls:
        return {"role": "assistant", "content": _blocks_to_anthropic(msg.get("content"))}
    blocks: list[dict[str, Any]] = []
    text = content_text(msg.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for c in calls:
        fn = c.get("function") or {}
        blocks.append(
            {"type": "tool_use", "id": c.get("id", ""), "name": fn.get("name", ""), "input": _args(fn.get("arguments"))}
        )
    return {"role": "assistant", "content": blocks}


def _tool_result(msg: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": msg.get("tool_call_id", ""),
        "content": content_text(msg.get("content")),
    }


def messages_to_anthropic(messages: list[Mapping[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages). Consecutive tool results become one user turn, as Anthropic expects."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(content_text(msg.get("content")))
        elif role == "assistant":
            out.append(_assistant_to_anthropic(msg))
        elif role in ("tool", "function"):
            prev = out[-1] if out else None
            if prev and prev["role"] == "user" and isinstance(prev["content"], list) and prev.get("_tools"):
                prev["content"].append(_tool_result(msg))
            else:
                out.append({"role": "user", "content": [_tool_result(msg)], "_tools": True})
        else:
            out.append({"role": "user", "content": _blocks_to_anthropic(msg.get("content"))})
    for m in out:
        m.pop("_tools", None)
    return ("\n\n".join(system) if system else None), out


# -- messages: Anthropic -> OpenAI -------------------------------------------------------------


def _user_from_anthropic(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    rest = []
    for block in content or ():
        if block.get("type") == "tool_result":
            result = block.get("content")
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id", ""), "content": content_text(result)})
        else:
            rest.append(block)
    if rest or not out:
        out.append({"role": "user", "content": _parts_from_anthropic(rest)})
    return out


def _assistant_from_anthropic(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    blocks = content or []
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [
        {
            "id": b.get("id", ""),
            "type": "function",
            "function": {"name": b.get("name", ""), "arguments": orjson.dumps(b.get("input") or {}).decode()},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    msg: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        msg["tool_calls"] = calls
    return msg


def messages_from_anthropic(system: Any, messages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": content_text(system)})
    for msg in messages:
        if msg.get("role") == "assistant":
            out.append(_assistant_from_anthropic(msg.get("content")))
        else:
            out.extend(_user_from_anthropic(msg.get("content")))
    return out


# -- whole requests ----------------------------------------------------------------------------


def _tools_to_anthropic(tools: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        fn = t.get("function") or {}
        tool: dict[str, Any] = {"name": fn.get("name", ""), "input_schema": fn.get("parameters") or {"type": "object"}}
        if fn.get("description"):
            tool["description"] = fn["description"]
        out.append(tool)
    return out


def _tools_from_anthropic(tools: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        fn: dict[str, Any] = {"name": t.get("name", ""), "parameters": t.get("input_schema") or {"type": "object"}}
        if t.get("description"):
            fn["description"] = t["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice_to(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str):
        return _TOOL_CHOICE_TO.get(choice)
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    return None


def _tool_choice_from(choice: Mapping[str, Any]) -> Any:
    if choice.get("type") == "tool":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    return _TOOL_CHOICE_FROM.get(str(choice.get("type")), "auto")


def to_anthropic(body: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI chat body as an Anthropic Messages body. Unknown OpenAI fields are dropped."""
    system, messages = messages_to_anthropic(list(body.get("messages") or ()))
    out: dict[str, Any] = {
        "model": body.get("model"),
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    if system is not None:
        out["system"] = system
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        out["tools"] = _tools_to_anthropic(body["tools"])
        choice = _tool_choice_to(body.get("tool_choice"))
        if choice is not None:
            if body.get("parallel_tool_calls") is False and choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
            out["tool_choice"] = choice
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("stream"):
        out["stream"] = True
    return out


def from_anthropic(body: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages body as an OpenAI chat body; gateway hints in `metadata` survive."""
    out: dict[str, Any] = {
        "model": body.get("model", "auto"),
        "messages": messages_from_anthropic(body.get("system"), list(body.get("messages") or ())),
    }
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        out["tools"] = _tools_from_anthropic(body["tools"])
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        out["tool_choice"] = _tool_choice_from(choice)
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    meta = dict(body.get("metadata") or {})
    if meta.get("user_id"):
        out["user"] = meta.pop("user_id")
    if meta:
        out["metadata"] = meta
    return out
