"""OpenAI <-> Gemini translation tables, safety blocks and stream fragments."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hybridgate.backends.gemini import GeminiToOpenAI
from hybridgate.backends.gemini_format import FINISH, response_to_openai, to_gemini, usage

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("openai", "expected"),
    [
        (
            {"model": "g", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]},
            {"systemInstruction": {"parts": [{"text": "S"}]}, "contents": [{"role": "user", "parts": [{"text": "u"}]}]},
        ),
        (
            {
                "model": "g",
                "max_tokens": 5,
                "temperature": 0.1,
                "top_p": 0.5,
                "stop": "X",
                "seed": 3,
                "response_format": {"type": "json_object"},
                "messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
            },
            {
                "contents": [{"role": "user", "parts": [{"text": "u"}]}, {"role": "model", "parts": [{"text": "a"}]}],
                "generationConfig": {
                    "maxOutputTokens": 5,
                    "temperature": 0.1,
                    "topP": 0.5,
                    "seed": 3,
                    "stopSequences": ["X"],
                    "responseMimeType": "application/json",
                },
            },
        ),
        (  # images: inline data and file URIs
            {
                "model": "g",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "t"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                            {"type": "image_url", "image_url": {"url": "gs://b/x.png"}},
                        ],
                    }
                ],
            },
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [
                            {"text": "t"},
                            {"inlineData": {"mimeType": "image/png", "data": "AAA"}},
                            {"fileData": {"fileUri": "gs://b/x.png"}},
                        ],
                    }
                ]
            },
        ),
        (  # tool calls and results: results are matched to the call's function name
            {
                "model": "g",
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "messages": [
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": '{"city":"P"}'},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 18}'},
                    {"role": "tool", "tool_call_id": "c1", "content": "plain text"},
                ],
            },
            {
                "contents": [
                    {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "P"}}}]},
                    {
                        "role": "user",
                        "parts": [
                            {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
                            {"functionResponse": {"name": "get_weather", "response": {"result": "plain text"}}},
                        ],
                    },
                ],
                "tools": [
                    {
                        "functionDeclarations": [
                            {"name": "get_weather", "description": "", "parameters": {"type": "object"}}
                        ]
                    }
                ],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
            },
        ),
    ],
)
def test_to_gemini_table(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert to_gemini(openai) == expected


@pytest.mark.parametrize(
    ("resp", "finish", "content"),
    [
        ({"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}, "stop", "hi"),
        ({"candidates": [{"content": {"parts": [{"text": "h"}]}, "finishReason": "MAX_TOKENS"}]}, "length", "h"),
        ({"candidates": [{"finishReason": "SAFETY"}]}, "content_filter", ""),
        ({"candidates": [{"finishReason": "RECITATION"}]}, "content_filter", ""),
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "content_filter", ""),
        ({"promptFeedback": {"blockReason": "OTHER"}}, "content_filter", ""),
        (  # thought parts are not part of the answer
            {
                "candidates": [
                    {"content": {"parts": [{"text": "x", "thought": True}, {"text": "y"}]}, "finishReason": "STOP"}
                ]
            },
            "stop",
            "y",
        ),
    ],
)
def test_response_finish_and_safety(resp: dict[str, Any], finish: str, content: str) -> None:
    choice = response_to_openai(resp, "g")["choices"][0]
    assert choice["finish_reason"] == finish
    assert choice["message"]["content"] == content


def test_function_call_response() -> None:
    resp = {
        "candidates": [
            {"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP"}
        ]
    }
    out = response_to_openai(resp, "g")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "f" and orjson.loads(call["function"]["arguments"]) == {"a": 1}
    assert call["id"].startswith("call_")


def test_usage_mapping() -> None:
    u = usage({"promptTokenCount": 9, "candidatesTokenCount": 3, "cachedContentTokenCount": 4, "thoughtsTokenCount": 2})
    assert u["prompt_tokens"] == 9 and u["completion_tokens"] == 5 and u["total_tokens"] == 14
    assert u["prompt_tokens_details"] == {"cached_tokens": 4}
    assert u["completion_tokens_details"] == {"reasoning_tokens": 2}


def test_every_safety_reason_is_a_content_filter() -> None:
    for reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
        assert FINISH[reason] == "content_filter"


def test_stream_fragments_to_chunks() -> None:
    state = GeminiToOpenAI("g")
    frags = [
        {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}], "usageMetadata": {"promptTokenCount": 2}},
        {"candidates": [{"content": {"parts": [{"text": "lo"}, {"functionCall": {"name": "f", "args": {}}}]}}]},
        {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 4}},
    ]
    chunks = [c for f in frags for c in state.feed(f)] + state.end()
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    assert deltas[-2]["tool_calls"][0]["index"] == 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 6
