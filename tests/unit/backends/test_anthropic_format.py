"""OpenAI <-> Anthropic translation tables: requests, responses, usage, stop reasons, streams."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hybridgate.backends.anthropic_format import from_anthropic, to_anthropic
from hybridgate.backends.anthropic_response import (
    finish_reason,
    response_to_anthropic,
    response_to_openai,
    stop_reason,
    usage_to_anthropic,
    usage_to_openai,
)
from hybridgate.backends.anthropic_stream import AnthropicToOpenAI, OpenAIToAnthropic
from hybridgate.errors import UpstreamError

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}

# OpenAI requests in the normal form both formats share: each survives OpenAI -> Anthropic -> OpenAI.
OPENAI_REQUESTS: list[dict[str, Any]] = [
    {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": "m",
        "max_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "stream": True,
        "user": "u-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
        ],
    },
    {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, IMAGE]}],
    },
    {
        "model": "m",
        "max_tokens": 64,
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "t2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "18C"},
            {"role": "tool", "tool_call_id": "t2", "content": "24C"},
            {"role": "assistant", "content": "Paris 18C, Rome 24C."},
        ],
    },
    {
        "model": "m",
        "max_tokens": 5,
        "tools": [WEATHER],
        "tool_choice": "required",
        "messages": [{"role": "user", "content": "x"}],
    },
    {
        "model": "m",
        "max_tokens": 5,
        "tools": [WEATHER],
        "tool_choice": "none",
        "messages": [{"role": "user", "content": "x"}],
    },
]


@pytest.mark.parametrize("req", OPENAI_REQUESTS)
def test_openai_request_round_trips(req: dict[str, Any]) -> None:
    assert from_anthropic(to_anthropic(req)) == req


@pytest.mark.parametrize(
    ("openai", "expected"),
    [
        (  # system messages move to the top-level `system`; max_tokens is always sent
            {"model": "m", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]},
            {"model": "m", "max_tokens": 4096, "system": "S", "messages": [{"role": "user", "content": "u"}]},
        ),
        (  # consecutive tool results become one user turn of tool_result blocks
            {
                "model": "m",
                "max_completion_tokens": 7,
                "messages": [
                    {"role": "tool", "tool_call_id": "a", "content": "1"},
                    {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "2"}]},
                ],
            },
            {
                "model": "m",
                "max_tokens": 7,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "a", "content": "1"},
                            {"type": "tool_result", "tool_use_id": "b", "content": "2"},
                        ],
                    }
                ],
            },
        ),
        (  # an image by URL, a stop string, tools with auto choice
            {
                "model": "m",
                "max_tokens": 1,
                "stop": "X",
                "tools": [WEATHER],
                "tool_choice": "auto",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}
                ],
            },
            {
                "model": "m",
                "max_tokens": 1,
                "stop_sequences": ["X"],
                "tools": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "input_schema": WEATHER["function"]["parameters"],
                    }
                ],
                "tool_choice": {"type": "auto"},
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}],
                    }
                ],
            },
        ),
    ],
)
def test_to_anthropic_table(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert to_anthropic(openai) == expected


def test_from_anthropic_keeps_gateway_hints_and_system_blocks() -> None:
    body = {
        "model": "claude",
        "max_tokens": 9,
        "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
        "metadata": {"user_id": "u", "data_class": "restricted"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r"}]},
                    {"type": "text", "text": "go on"},
                ],
            }
        ],
    }
    assert from_anthropic(body) == {
        "model": "claude",
        "max_tokens": 9,
        "user": "u",
        "metadata": {"data_class": "restricted"},
        "messages": [
            {"role": "system", "content": "AB"},
            {"role": "tool", "tool_call_id": "t", "content": "r"},
            {"role": "user", "content": "go on"},
        ],
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
        (None, None),
    ],
)
def test_stop_reasons(stop: str | None, finish: str | None) -> None:
    assert finish_reason(stop) == finish


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_finish_reasons(finish: str, stop: str) -> None:
    assert stop_reason(finish) == stop


def test_usage_with_cache_tokens_round_trips() -> None:
    anthropic = {"input_tokens": 11, "output_tokens": 3, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 5}
    openai = usage_to_openai(anthropic)
    assert openai["prompt_tokens"] == 18 and openai["completion_tokens"] == 3 and openai["total_tokens"] == 21
    assert openai["prompt_tokens_details"] == {"cached_tokens": 5}
    assert openai["cache_creation_input_tokens"] == 2
    assert usage_to_anthropic(openai) == anthropic


ANTHROPIC_MESSAGE = {
    "id": "msg_abc",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 4, "output_tokens": 2, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
}


def test_response_to_openai_and_back() -> None:
    openai = response_to_openai(ANTHROPIC_MESSAGE)
    choice = openai["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking."
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "toolu_1" and orjson.loads(call["function"]["arguments"]) == {"city": "Paris"}
    back = response_to_anthropic(openai)
    assert back == {**ANTHROPIC_MESSAGE, "content": ANTHROPIC_MESSAGE["content"][1:]}


def test_response_to_anthropic_tolerates_bad_arguments_and_empty_content() -> None:
    body = {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [
            {
                "message": {
                    "content": "",
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{not json"}}],
                },
                "finish_reason": "length",
            }
        ],
    }
    out = response_to_anthropic(body)
    assert out["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {"_raw": "{not json"}}]
    assert out["stop_reason"] == "max_tokens" and out["usage"]["input_tokens"] == 0


# -- streams ----------------------------------------------------------------------------------

ANTHROPIC_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 10, "cache_read_input_tokens": 3}},
    },
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}},
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}},
    {"type": "message_stop"},
]


def _openai_chunks() -> list[dict[str, Any]]:
    state = AnthropicToOpenAI("requested")
    return [c for ev in ANTHROPIC_EVENTS for c in state.feed(ev)]


def test_anthropic_stream_to_openai_chunks() -> None:
    chunks = _openai_chunks()
    assert {c["id"] for c in chunks} == {"chatcmpl-1"} and chunks[0]["model"] == "claude-x"
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    calls = [tc for d in deltas for tc in d.get("tool_calls", ())]
    assert calls[0]["id"] == "toolu_9" and calls[0]["function"]["name"] == "f"
    assert "".join(tc["function"]["arguments"] for tc in calls) == '{"a":1}'
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["prompt_tokens"] == 13 and last["usage"]["completion_tokens"] == 7


def test_stream_round_trip_back_to_anthropic_events() -> None:
    back = OpenAIToAnthropic("claude-x")
    events = [e for c in _openai_chunks() for e in back.feed(c)] + back.end()
    names = [n for n, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    # the events match the original, data for data, apart from the message envelope
    originals = [e for e in ANTHROPIC_EVENTS if e["type"] not in ("ping", "message_start", "message_delta")]
    assert [d for n, d in events if n not in ("message_start", "message_delta")] == originals
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3,
    }


def test_anthropic_stream_error_event_raises() -> None:
    state = AnthropicToOpenAI("m")
    with pytest.raises(UpstreamError) as exc:
        state.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert exc.value.code == "upstream_overloaded_error"


def test_empty_openai_stream_still_makes_a_whole_anthropic_message() -> None:
    names = [n for n, _ in OpenAIToAnthropic("m").end()]
    assert names == ["message_start", "message_delta", "message_stop"]
