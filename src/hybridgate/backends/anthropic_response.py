"""OpenAI chat completions <-> Anthropic messages (responses), stop reasons and usage. Pure.

Usage: OpenAI's prompt_tokens include cached tokens; Anthropic's input_tokens exclude both cache reads
and cache writes. `cache_creation_input_tokens` has no OpenAI field, so it rides along under its own name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import orjson

FINISH_FROM_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
STOP_FROM_FINISH = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason(stop_reason: str | None) -> str | None:
    return None if stop_reason is None else FINISH_FROM_STOP.get(stop_reason, "stop")


def stop_reason(finish: str | None) -> str | None:
    return None if finish is None else STOP_FROM_FINISH.get(finish, "end_turn")


def usage_to_openai(u: Mapping[str, Any]) -> dict[str, Any]:
    read = int(u.get("cache_read_input_tokens") or 0)
    write = int(u.get("cache_creation_input_tokens") or 0)
    prompt = int(u.get("input_tokens") or 0) + read + write
    completion = int(u.get("output_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read},
    }
    if write:
        out["cache_creation_input_tokens"] = write
    return out


def usage_to_anthropic(u: Mapping[str, Any]) -> dict[str, int]:
    details = u.get("prompt_tokens_details")
    read = int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0
    write = int(u.get("cache_creation_input_tokens") or 0)
    return {
        "input_tokens": max(0, int(u.get("prompt_tokens") or 0) - read - write),
        "output_tokens": int(u.get("completion_tokens") or 0),
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
    }


def _tool_call(block: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": block.get("id", ""),
        "type": "function",
        "function": {"name": block.get("name", ""), "arguments": orjson.dumps(block.get("input") or {}).decode()},
    }


def response_to_openai(msg: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
    """An Anthropic message as an OpenAI chat.completion. Thinking blocks are not part of the answer."""
    blocks = msg.get("content") or []
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-" + str(msg.get("id", "")).removeprefix("msg_"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": msg.get("model") or model or "",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(msg.get("stop_reason"))}],
        "usage": usage_to_openai(msg.get("usage") or {}),
    }


def _tool_use(call: Mapping[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    raw = fn.get("arguments") or "{}"
    try:
        parsed = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        parsed = {"_raw": raw}
    return {"type": "tool_use", "id": call.get("id") or new_id("toolu_"), "name": fn.get("name", ""), "input": parsed}


def response_to_anthropic(body: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
    """An OpenAI chat.completion as an Anthropic message (first choice)."""
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    content.extend(_tool_use(c) for c in message.get("tool_calls") or ())
    raw_id = str(body.get("id") or "")
    return {
        "id": "msg_" + (raw_id.removeprefix("chatcmpl-") or os.urandom(12).hex()),
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or model or "",
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": usage_to_anthropic(body.get("usage") or {}),
    }


def new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()
