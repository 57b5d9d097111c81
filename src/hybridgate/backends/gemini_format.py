"""OpenAI chat <-> Gemini generateContent translation. Pure functions over plain dicts.

Gemini has no tool-call ids: a tool result names its function, so the name is looked up from the
assistant turn that made the call. Safety blocks (a blocked prompt, or a candidate stopped for
SAFETY / RECITATION / BLOCKLIST / PROHIBITED_CONTENT / SPII) become finish_reason "content_filter".
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import orjson

from hybridgate.backends.openai_chat import content_text, data_url

FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "stop",
}
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_GEN_KEYS = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str) or content is None:
        return [{"text": content or ""}]
    out: list[dict[str, Any]] = []
    for p in content:
        if p.get("type") == "text":
            out.append({"text": p.get("text", "")})
        elif p.get("type") == "image_url":
            url = str((p.get("image_url") or {}).get("url", ""))
            inline = data_url(url)
            if inline is not None:
                out.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
            else:
                out.append({"fileData": {"fileUri": url}})
    return out


def _args(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw or {}
    try:
        return orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        return {"_raw": raw}


def _response(content: Any) -> dict[str, Any]:
    text = content_text(content)
    parsed = _args(text)
    return parsed if isinstance(parsed, dict) and "_raw" not in parsed else {"result": text}


def contents(messages: list[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, contents). Consecutive tool results share one user turn."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(content_text(m.get("content")))
        elif role == "assistant":
            text = content_text(m.get("content"))
            parts: list[dict[str, Any]] = [{"text": text}] if text else []
            for c in m.get("tool_calls") or ():
                fn = c.get("function") or {}
                names[c.get("id", "")] = fn.get("name", "")
                parts.append({"functionCall": {"name": fn.get("name", ""), "args": _args(fn.get("arguments"))}})
            out.append({"role": "model", "parts": parts or [{"text": ""}]})
        elif role in ("tool", "function"):
            name = names.get(m.get("tool_call_id", ""), m.get("name", ""))
            part = {"functionResponse": {"name": name, "response": _response(m.get("content"))}}
            if out and out[-1]["role"] == "user" and "functionResponse" in out[-1]["parts"][0]:
                out[-1]["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part]})
        else:
            out.append({"role": "user", "parts": _parts(m.get("content"))})
    return system, out


def _generation_config(body: Mapping[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {gk: body[ok] for ok, gk in _GEN_KEYS.items() if body.get(ok) is not None}
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit:
        cfg["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        cfg["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        cfg["responseMimeType"] = "application/json"
    return cfg


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in _MODES:
        return {"functionCallingConfig": {"mode": _MODES[choice]}}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name", "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def to_gemini(body: Mapping[str, Any]) -> dict[str, Any]:
    system, turns = contents(list(body.get("messages") or ()))
    out: dict[str, Any] = {"contents": turns}
    if system:
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    gen = _generation_config(body)
    if gen:
        out["generationConfig"] = gen
    if body.get("tools"):
        decls = []
        for t in body["tools"]:
            fn = t.get("function") or {}
            decl = {"name": fn.get("name", ""), "description": fn.get("description", "")}
            if fn.get("parameters"):
                decl["parameters"] = fn["parameters"]
            decls.append(decl)
        out["tools"] = [{"functionDeclarations": decls}]
        tc = _tool_config(body.get("tool_choice"))
        if tc:
            out["toolConfig"] = tc
    return out


# -- responses ---------------------------------------------------------------------------------


def usage(meta: Mapping[str, Any]) -> dict[str, Any]:
    prompt = int(meta.get("promptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount") or 0)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def tool_call(part: Mapping[str, Any], index: int | None = None) -> dict[str, Any]:
    fc = part["functionCall"]
    call: dict[str, Any] = {
        "id": fc.get("id") or "call_" + os.urandom(8).hex(),
        "type": "function",
        "function": {"name": fc.get("name", ""), "arguments": orjson.dumps(fc.get("args") or {}).decode()},
    }
    return call if index is None else {"index": index, **call}


def candidate_parts(resp: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]], str | None]:
    """(text, functionCall parts, OpenAI finish reason or None) of the first candidate."""
    cands = resp.get("candidates") or []
    if not cands:
        blocked = (resp.get("promptFeedback") or {}).get("blockReason")
        return "", [], "content_filter" if blocked else None
    cand = cands[0]
    parts = (cand.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if "text" in p and not p.get("thought"))
    calls = [p for p in parts if "functionCall" in p]
    raw = cand.get("finishReason")
    finish = FINISH.get(raw, "stop") if raw and raw != "FINISH_REASON_UNSPECIFIED" else None
    return text, calls, finish


def response_to_openai(resp: Mapping[str, Any], model: str) -> dict[str, Any]:
    text, calls, finish = candidate_parts(resp)
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = [tool_call(p) for p in calls]
        if finish == "stop":
            finish = "tool_calls"
    return {
        "id": "chatcmpl-" + str(resp.get("responseId") or os.urandom(12).hex()),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": resp.get("modelVersion") or model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish or "stop"}],
        "usage": usage(resp.get("usageMetadata") or {}),
    }
