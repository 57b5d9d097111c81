"""The official anthropic SDK against /v1/messages, served by an OpenAI-compatible fake and by the Anthropic fake."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import Gateway, GatewayFactory, minimal_config
from tests.fakes.anthropic_fake import FakeAnthropic
from tests.fakes.servers import ServerThread

SSN = "My SSN is 536-22-8417, what now?"
CLAUDE = "claude-sonnet-4-6"
TOOL = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}


@pytest.fixture
def claude(servers: ServerThread) -> FakeAnthropic:
    fake = FakeAnthropic()
    fake.port = servers.start_app(fake.app)
    return fake


@pytest.fixture
def gw(make_gateway: GatewayFactory, claude: FakeAnthropic) -> Gateway:
    def config(self_url: str, ext_url: str) -> dict[str, Any]:
        raw = minimal_config(self_url, ext_url)
        raw["endpoints"].append(
            {
                "name": "claude",
                "kind": "anthropic",
                "base_url": claude.base_url,
                "api_key": "sk-ant-upstream",
                "trust": "external",
                "models": [CLAUDE],
            }
        )
        raw["tiers"]["frontier"]["endpoints"].append("claude")
        return raw

    return make_gateway(config)


def client(gw: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="sk-client", max_retries=0)


def ask(text: str = "Say hi") -> list[Any]:
    return [{"role": "user", "content": text}]


def test_non_streaming_served_by_openai_compatible_upstream(gw: Gateway) -> None:
    raw = client(gw).messages.with_raw_response.create(model="auto", max_tokens=32, messages=ask())
    assert raw.headers["x-hybridgate-route"] == "local-vllm/llama-3-8b"
    msg = raw.parse()
    assert msg.type == "message" and msg.role == "assistant" and msg.stop_reason == "end_turn"
    assert [b.type for b in msg.content] == ["text"] and msg.content[0].text == "hello from self"  # type: ignore[union-attr]
    assert msg.usage.input_tokens == 7 and msg.usage.output_tokens == 3
    sent = gw.self_fake.received[-1]["body"]
    assert sent["messages"] == ask() and sent["max_tokens"] == 32


def test_streaming_served_by_openai_compatible_upstream(gw: Gateway) -> None:
    with client(gw).messages.stream(model="auto", max_tokens=32, system="Be brief.", messages=ask()) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "hello from self"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3 and final.usage.input_tokens == 7
    assert gw.self_fake.received[-1]["body"]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_served_by_anthropic_upstream_with_cache_usage(gw: Gateway, claude: FakeAnthropic) -> None:
    c = client(gw)
    msg = c.messages.create(model=CLAUDE, max_tokens=16, messages=ask("Prove sqrt(2) is irrational."))
    assert msg.content[0].text == "hello from anthropic"  # type: ignore[union-attr]
    assert msg.usage.cache_read_input_tokens == 5 and msg.usage.cache_creation_input_tokens == 2
    assert msg.usage.input_tokens == 11 and msg.usage.output_tokens == 3
    seen = claude.received[-1]
    assert seen["headers"]["x-api-key"] == "sk-ant-upstream"  # the endpoint's key, never the client's
    with c.messages.stream(model=CLAUDE, max_tokens=16, messages=ask("Prove sqrt(2) is irrational.")) as s:
        assert "".join(s.text_stream) == "hello from anthropic"
        final = s.get_final_message()
    assert final.usage.output_tokens == 3 and final.usage.cache_read_input_tokens == 5


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip_through_anthropic_upstream(gw: Gateway, claude: FakeAnthropic, stream: bool) -> None:
    c = client(gw)
    kw: dict[str, Any] = {"model": CLAUDE, "max_tokens": 64, "tools": [TOOL], "messages": ask("Weather in Paris?")}
    if stream:
        with c.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = c.messages.create(**kw)
    assert msg.stop_reason == "tool_use"
    use = next(b for b in msg.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Paris", "unit": "c"}
    # The result goes back in the next turn, as Anthropic clients send it.
    followup = [
        *ask("Weather in Paris?"),
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]},
    ]
    c.messages.create(model=CLAUDE, max_tokens=64, tools=[TOOL], messages=followup)  # type: ignore[arg-type]
    sent = claude.received[-1]["body"]["messages"]
    assert sent[1]["content"][-1] == {"type": "tool_use", "id": use.id, "name": "get_weather", "input": use.input}
    assert sent[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]}


SENSITIVE: list[Any] = [
    ask(SSN),
    [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": SSN}]}],
    [  # inside a tool_use input block of an earlier assistant turn
        {"role": "user", "content": "look this up"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {"ssn": "536-22-8417"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ],
    [  # inside a tool result
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": SSN}]},
    ],
]


@pytest.mark.parametrize("messages", SENSITIVE)
@pytest.mark.parametrize("stream", [False, True])
def test_sensitive_request_never_reaches_external(
    gw: Gateway, claude: FakeAnthropic, messages: Any, stream: bool
) -> None:
    c = client(gw)
    with pytest.raises(anthropic.PermissionDeniedError) as exc:
        c.messages.create(model=CLAUDE, max_tokens=8, messages=messages, stream=stream)
    assert exc.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    assert "egress-boundary" in str(exc.value)
    served = c.messages.create(model="auto", max_tokens=8, messages=messages)
    assert served.content[0].text == "hello from self"  # type: ignore[union-attr]
    assert claude.received == [] and gw.ext_fake.received == []


def test_messages_and_chat_completions_decide_alike(gw: Gateway) -> None:
    """The same sensitive request on both front doors: same status, same decision, nothing sent out."""
    msgs = httpx.post(
        gw.url + "/v1/messages",
        json={"model": "gpt-4o", "max_tokens": 8, "system": "You help.", "messages": ask(SSN)},
        timeout=10,
    )
    chat = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "system", "content": "You help."}, *ask(SSN)]},
        timeout=10,
    )
    assert msgs.status_code == chat.status_code == 403
    assert msgs.headers["x-hybridgate-decision"] == chat.headers["x-hybridgate-decision"]
    assert msgs.headers["x-hybridgate-data-class"] == chat.headers["x-hybridgate-data-class"]
    assert msgs.json()["type"] == "error" and msgs.json()["error"]["type"] == "permission_error"
    assert gw.ext_fake.received == []


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"{oops", 400, "invalid_request_error"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_request_error"),
        (b'{"model": "auto", "max_tokens": 5, "messages": []}', 400, "invalid_request_error"),
        (
            b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}',
            400,
            "invalid_request_error",
        ),
        (
            b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]}',
            400,
            "invalid_request_error",
        ),
    ],
)
def test_bad_requests_get_anthropic_errors(gw: Gateway, body: bytes, status: int, kind: str) -> None:
    r = httpx.post(gw.url + "/v1/messages", content=body, headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == status
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == kind and err["error"]["message"]


def test_upstream_errors_keep_anthropic_shape(gw: Gateway, claude: FakeAnthropic) -> None:
    gw.self_fake.script.status, gw.self_fake.script.retry_after = 429, "3"
    with pytest.raises(anthropic.RateLimitError) as exc:
        client(gw).messages.create(model="auto", max_tokens=8, messages=ask())
    assert exc.value.response.headers["retry-after"] == "3"
    claude.script.status, claude.script.error_type = 400, "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError):
        client(gw).messages.create(model=CLAUDE, max_tokens=8, messages=ask("Prove sqrt(2) is irrational."))


def test_stream_cut_after_first_event_ends_with_error_event(gw: Gateway) -> None:
    gw.self_fake.script.cut_after = 2
    body = {"model": "auto", "max_tokens": 8, "stream": True, "messages": ask("one two three four")}
    with httpx.stream("POST", gw.url + "/v1/messages", json=body, timeout=10) as r:
        assert r.status_code == 200
        events = r.read().decode().strip().split("\n\n")
    assert events[0].startswith("event: message_start")
    assert events[-1].startswith("event: error\ndata: ")
    assert '"type":"api_error"' in events[-1] and "message_stop" not in "".join(events)
    with (
        pytest.raises(anthropic.APIStatusError),
        client(gw).messages.stream(model="auto", max_tokens=8, messages=ask("one two three four")) as s,
    ):
        "".join(s.text_stream)


def test_wrong_method_on_messages_gets_anthropic_error(gw: Gateway) -> None:
    r = httpx.get(gw.url + "/v1/messages", timeout=10)
    assert r.status_code == 405
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
