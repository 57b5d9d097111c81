"""Validate only what the gateway needs; everything else passes through to the upstream untouched."""

from __future__ import annotations

from typing import Any

import orjson

from hybridgate.backends.base import Operation
from hybridgate.errors import BadRequest

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if not raw.strip():  # checked only once parsing failed: no copy of a good body
            raise BadRequest("The request body is empty; expected a JSON object", code="empty_body") from None
        raise BadRequest(
            f"The request body is not valid JSON: {e.msg} at position {e.pos}", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest(f"The request body must be a JSON object, not {type(body).__name__}", code="invalid_type")
    return body


def _type_error(param: str, expected: str, value: Any) -> BadRequest:
    return BadRequest(f"'{param}' must be {expected}, got {type(value).__name__}", param=param, code="invalid_type")


def _common(body: dict[str, Any]) -> None:
    model = body.setdefault("model", "auto")
    if not isinstance(model, str) or not model:
        raise _type_error("model", "a non-empty string", model)
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise _type_error("stream", "a boolean", stream)
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise _type_error("stream_options", "an object", opts)
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise _type_error("metadata", "an object", meta)
    for key in ("max_tokens", "max_completion_tokens", "n"):
        v = body.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise _type_error(key, "a non-negative integer", v)


def validate_chat(body: dict[str, Any]) -> None:
    _common(body)
    if "messages" not in body:
        raise BadRequest("'messages' is required", param="messages", code="missing_required_parameter")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise _type_error("messages", "an array", msgs)
    if not msgs:
        raise BadRequest("'messages' must contain at least one message", param="messages")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise _type_error(f"messages[{i}]", "an object", m)
        role = m.get("role")
        if role not in _ROLES:
            raise BadRequest(
                f"messages[{i}].role must be one of {', '.join(sorted(_ROLES))}", param=f"messages[{i}].role"
            )
        content = m.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _type_error(f"messages[{i}].content", "a string or an array", content)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _type_error("tools", "an array", tools)


def validate_completions(body: dict[str, Any]) -> None:
    _common(body)
    if "prompt" not in body:
        raise BadRequest("'prompt' is required", param="prompt", code="missing_required_parameter")
    p = body["prompt"]
    if not isinstance(p, str | list):
        raise _type_error("prompt", "a string or an array", p)


def validate_embeddings(body: dict[str, Any]) -> None:
    _common(body)
    if "input" not in body:
        raise BadRequest("'input' is required", param="input", code="missing_required_parameter")
    v = body["input"]
    if not isinstance(v, str | list) or (isinstance(v, list) and not v):
        raise _type_error("input", "a string or a non-empty array", v)
    if body.get("stream"):
        raise BadRequest("embeddings cannot be streamed", param="stream")


VALIDATORS = {"chat": validate_chat, "completions": validate_completions, "embeddings": validate_embeddings}


def validate(op: Operation, body: dict[str, Any]) -> None:
    VALIDATORS[op](body)
