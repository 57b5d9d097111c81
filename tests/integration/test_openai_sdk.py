"""The official openai SDK, pointed at the gateway by base URL, works unchanged."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import Gateway

SSN = "My SSN is 536-22-8417, what now?"


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-anything", max_retries=0)


def test_chat_non_streaming_with_headers(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Say hi"}]
    )
    assert raw.headers["x-hybridgate-request-id"].startswith("hg-")
    assert raw.headers["x-hybridgate-route"] == "local-vllm/llama-3-8b"
    assert raw.headers["x-hybridgate-decision"].startswith("default;")
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from self"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_chat_streaming_relays_every_chunk(gateway: Gateway) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="auto", stream=True, messages=[{"role": "user", "content": "Say hi"}]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello from self"
    # The gateway asks the upstream for usage (for billing) but the client did not: no usage chunk.
    assert all(c.usage is None for c in chunks)
    assert gateway.self_fake.received[-1]["body"]["stream_options"] == {"include_usage": True}


def test_stream_include_usage_reaches_client(gateway: Gateway) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="auto",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Say hi"}],
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


async def test_async_client_streaming_and_not(gateway: Gateway) -> None:
    c = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="k", max_retries=0)
    r = await c.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "hello from self"
    stream = await c.chat.completions.create(model="auto", stream=True, messages=[{"role": "user", "content": "hi"}])
    parts = [ch.choices[0].delta.content or "" async for ch in stream if ch.choices]
    assert "".join(parts) == "hello from self"
    await c.close()


def test_explicit_benign_model_goes_where_asked(gateway: Gateway) -> None:
    r = client(gateway).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Prove that sqrt(2) is irrational."}]
    )
    assert r.choices[0].message.content == "hello from external"


def test_ssn_stays_self_hosted_and_never_reaches_external(gateway: Gateway) -> None:
    c = client(gateway)
    a = c.chat.completions.create(model="auto", messages=[{"role": "user", "content": SSN}])
    assert a.choices[0].message.content == "hello from self"
    with pytest.raises(openai.PermissionDeniedError) as exc:
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SSN}])
    assert "egress-boundary" in str(exc.value)
    assert gateway.ext_fake.received == []
    assert "536-22-8417" in gateway.self_fake.texts()


def test_sensitive_data_in_any_role_or_tool_arguments_stays(gateway: Gateway) -> None:
    c = client(gateway)
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "look this up"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"ssn": "536-22-8417"})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "found"},
        {"role": "user", "content": "now summarise"},
    ]
    r = c.chat.completions.create(model="auto", messages=messages)  # type: ignore[arg-type]
    assert r.choices[0].message.content == "hello from self"
    with pytest.raises(openai.PermissionDeniedError):
        c.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert gateway.ext_fake.received == []


def test_tools_and_unknown_fields_pass_through(gateway: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    r = client(gateway).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,  # type: ignore[arg-type]
        extra_body={"top_k": 5, "guided_json": {"type": "object"}},
    )
    assert r.choices[0].message.tool_calls and r.choices[0].message.tool_calls[0].function.name == "get_weather"
    sent = gateway.self_fake.received[-1]["body"]
    assert sent["top_k"] == 5 and sent["guided_json"] == {"type": "object"} and sent["tools"] == tools
    assert sent["model"] == "llama-3-8b"


def test_completions_embeddings_models(gateway: Gateway) -> None:
    c = client(gateway)
    assert c.completions.create(model="auto", prompt="Say hi").choices[0].text == "hello from self"
    e = c.embeddings.create(model="auto", input="hello")
    assert e.data[0].embedding == [0.1, 0.2]
    ids = {m.id for m in c.models.list()}
    assert {"auto", "llama-3-8b", "gpt-4o"} <= ids


def test_stream_cut_mid_way_is_an_error_not_a_clean_end(gateway: Gateway) -> None:
    gateway.self_fake.script.cut_after = 2
    with pytest.raises(openai.APIError):
        list(
            client(gateway).chat.completions.create(
                model="auto", stream=True, messages=[{"role": "user", "content": "Say hi"}]
            )
        )


def test_stream_without_done_is_reported(gateway: Gateway) -> None:
    gateway.self_fake.script.no_done = True
    with pytest.raises(openai.APIError, match="without \\[DONE\\]"):
        list(
            client(gateway).chat.completions.create(
                model="auto", stream=True, messages=[{"role": "user", "content": "Say hi"}]
            )
        )


def test_sensitive_with_self_hosted_down_is_503_and_no_egress(gateway: Gateway) -> None:
    gateway.self_fake.script.status = 503
    c = client(gateway)
    with pytest.raises(openai.APIStatusError) as exc:
        c.chat.completions.create(model="auto", messages=[{"role": "user", "content": SSN}])
    assert exc.value.status_code in (502, 503)
    assert gateway.ext_fake.received == []
