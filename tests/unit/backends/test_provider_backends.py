"""Anthropic, Gemini and Azure backends against fake upstreams speaking the real wire formats."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import web

from hybridgate.backends.anthropic import AnthropicBackend
from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.gemini import GeminiBackend
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.backends.sse import DONE, payload
from hybridgate.errors import GatewayError, UpstreamError, UpstreamStatusError
from hybridgate.labels import Trust
from hybridgate.policy.boundary import EgressViolation
from hybridgate.settings import EndpointConfig
from tests.fakes.anthropic_fake import FakeAnthropic
from tests.fakes.gemini_fake import FakeGemini
from tests.unit.backends.conftest import Serve

EXTERNAL = frozenset({Trust.EXTERNAL, Trust.SELF_HOSTED})
SELF_ONLY = frozenset({Trust.SELF_HOSTED})
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def cfg(kind: str, url: str, **kw: Any) -> EndpointConfig:
    return EndpointConfig(name=kind, kind=kind, base_url=url, api_key="k-1", trust="external", models=["m"], **kw)  # type: ignore[arg-type]


def chat(stream: bool = False, **extra: Any) -> UpstreamRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    return UpstreamRequest("chat", body, EXTERNAL, stream=stream)


async def collect(backend: Any, req: UpstreamRequest) -> list[dict[str, Any]]:
    frames = [f async for f in backend.stream(req)]
    assert frames[-1] == DONE
    return [orjson.loads(payload(f)) for f in frames[:-1]]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# -- Anthropic -------------------------------------------------------------------------------


@pytest.fixture
async def anthropic(serve: Serve) -> tuple[FakeAnthropic, AnthropicBackend]:
    fake = FakeAnthropic()
    fake.port = await serve(fake.app())
    return fake, AnthropicBackend(cfg("anthropic", fake.base_url))


async def test_anthropic_call_translates_both_ways(anthropic: tuple[FakeAnthropic, AnthropicBackend]) -> None:
    fake, backend = anthropic
    resp = await backend.call(chat(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]))
    seen = fake.received[-1]
    assert seen["headers"]["x-api-key"] == "k-1" and seen["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in {k.lower() for k in seen["headers"]}
    assert seen["body"]["system"] == "S" and seen["body"]["max_tokens"] == 4096
    body = orjson.loads(resp.body)
    assert body["choices"][0]["message"]["content"] == "hello from anthropic"
    assert resp.usage is not None and resp.usage["prompt_tokens"] == 18
    assert resp.usage["prompt_tokens_details"]["cached_tokens"] == 5
    await backend.aclose()


async def test_anthropic_tool_use_call_and_stream(anthropic: tuple[FakeAnthropic, AnthropicBackend]) -> None:
    _, backend = anthropic
    body = orjson.loads((await backend.call(chat(tools=[TOOL]))).body)
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "c"}
    chunks = await collect(backend, chat(stream=True, tools=[TOOL]))
    args = "".join(
        tc["function"].get("arguments", "")
        for c in chunks
        if c["choices"]
        for tc in c["choices"][0]["delta"].get("tool_calls", ())
    )
    assert orjson.loads(args) == {"city": "Paris", "unit": "c"}
    assert text_of(chunks) == "hello from anthropic"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    await backend.aclose()


@pytest.mark.parametrize(
    ("status", "kind", "client_status", "code"),
    [
        (400, "invalid_request_error", 400, "upstream_invalid_request_error"),
        (429, "rate_limit_error", 429, "upstream_rate_limit_error"),
        (529, "overloaded_error", 502, "upstream_overloaded_error"),
        (500, "api_error", 502, "upstream_api_error"),
    ],
)
async def test_anthropic_errors_map(
    anthropic: tuple[FakeAnthropic, AnthropicBackend], status: int, kind: str, client_status: int, code: str
) -> None:
    fake, backend = anthropic
    fake.script.status, fake.script.error_type, fake.script.retry_after = status, kind, "7"
    with pytest.raises(UpstreamStatusError) as exc:
        await backend.call(chat())
    assert exc.value.upstream_status == status and exc.value.status == client_status
    assert exc.value.code == code and exc.value.retry_after == 7
    assert "scripted failure" in exc.value.message
    await backend.aclose()


async def test_anthropic_stream_error_and_cut(anthropic: tuple[FakeAnthropic, AnthropicBackend]) -> None:
    fake, backend = anthropic
    fake.script.stream_error_after = 4
    with pytest.raises(UpstreamError) as exc:
        await collect(backend, chat(stream=True))
    assert exc.value.code == "upstream_overloaded_error"
    fake.script.stream_error_after, fake.script.cut_after = None, 4
    with pytest.raises(UpstreamError):
        await collect(backend, chat(stream=True))
    await backend.aclose()


async def test_anthropic_refuses_outside_boundary(anthropic: tuple[FakeAnthropic, AnthropicBackend]) -> None:
    fake, backend = anthropic
    with pytest.raises(EgressViolation):
        await backend.call(UpstreamRequest("chat", chat().body, SELF_ONLY))
    with pytest.raises(EgressViolation):
        await anext(backend.stream(UpstreamRequest("chat", chat().body, SELF_ONLY, stream=True)))
    assert fake.received == []
    assert await backend.probe()
    await backend.aclose()


# -- Gemini ----------------------------------------------------------------------------------


@pytest.fixture
async def gemini(serve: Serve) -> tuple[FakeGemini, GeminiBackend]:
    fake = FakeGemini()
    fake.port = await serve(fake.app())
    return fake, GeminiBackend(cfg("gemini", fake.base_url))


async def test_gemini_call_and_stream(gemini: tuple[FakeGemini, GeminiBackend]) -> None:
    fake, backend = gemini
    resp = await backend.call(chat(max_tokens=5))
    seen = fake.received[-1]
    assert seen["path"] == "/v1beta/models/m:generateContent" and seen["headers"]["x-goog-api-key"] == "k-1"
    assert seen["body"]["generationConfig"] == {"maxOutputTokens": 5}
    assert orjson.loads(resp.body)["choices"][0]["message"]["content"] == "hello from gemini"
    assert resp.usage is not None and resp.usage["completion_tokens"] == 7
    chunks = await collect(backend, chat(stream=True))
    assert fake.received[-1]["path"] == "/v1beta/models/m:streamGenerateContent?alt=sse"
    assert text_of(chunks) == "hello from gemini"
    assert chunks[-1]["usage"]["prompt_tokens"] == 9
    await backend.aclose()


async def test_gemini_function_call(gemini: tuple[FakeGemini, GeminiBackend]) -> None:
    _, backend = gemini
    body = orjson.loads((await backend.call(chat(tools=[TOOL]))).body)
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    chunks = await collect(backend, chat(stream=True, tools=[TOOL]))
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls"
    await backend.aclose()


@pytest.mark.parametrize("kind", ["block_prompt", "safety_stop"])
@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_safety_blocks_are_content_filter(
    gemini: tuple[FakeGemini, GeminiBackend], kind: str, stream: bool
) -> None:
    fake, backend = gemini
    setattr(fake.script, kind, True)
    if stream:
        chunks = await collect(backend, chat(stream=True))
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1]
    else:
        finish = orjson.loads((await backend.call(chat())).body)["choices"][0]["finish_reason"]
    assert finish == "content_filter"
    await backend.aclose()


async def test_gemini_errors_and_truncation(gemini: tuple[FakeGemini, GeminiBackend]) -> None:
    fake, backend = gemini
    fake.script.status = 429
    with pytest.raises(UpstreamStatusError) as exc:
        await backend.call(chat())
    assert exc.value.upstream_status == 429 and "scripted failure" in exc.value.message
    fake.script.status, fake.script.no_finish = 200, True
    with pytest.raises(UpstreamError) as cut:
        await collect(backend, chat(stream=True))
    assert cut.value.code == "stream_truncated"
    with pytest.raises(GatewayError):
        await backend.call(UpstreamRequest("embeddings", {"model": "m", "input": "x"}, EXTERNAL))
    await backend.aclose()


# -- Azure OpenAI (a variant of the OpenAI-compatible backend) --------------------------------


@pytest.fixture
async def azure(serve: Serve) -> tuple[list[dict[str, Any]], int]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append({"path_qs": request.path_qs, "headers": dict(request.headers), "body": await request.json()})
        if request.headers.get("api-key") != "k-1":
            return web.json_response({"error": {"code": "401", "message": "Access denied"}}, status=401)
        choice = {"index": 0, "message": {"role": "assistant", "content": "hi from azure"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
        return web.json_response({"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage})

    app = web.Application()
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", handle)
    return seen, await serve(app)


@pytest.mark.parametrize(("version", "expected"), [(None, "2024-10-21"), ("2025-01-01-preview", "2025-01-01-preview")])
async def test_azure_deployment_url_version_and_key(
    azure: tuple[list[dict[str, Any]], int], version: str | None, expected: str
) -> None:
    seen, port = azure
    backend = OpenAICompatBackend(cfg("azure", f"http://127.0.0.1:{port}/", api_version=version))
    resp = await backend.call(UpstreamRequest("chat", {"model": "gpt4o-prod", "messages": []}, EXTERNAL))
    assert orjson.loads(resp.body)["choices"][0]["message"]["content"] == "hi from azure"
    assert seen[-1]["path_qs"] == f"/openai/deployments/gpt4o-prod/chat/completions?api-version={expected}"
    assert seen[-1]["headers"]["api-key"] == "k-1"
    assert "authorization" not in {k.lower() for k in seen[-1]["headers"]}
    await backend.aclose()


async def test_azure_wrong_key_is_upstream_401(azure: tuple[list[dict[str, Any]], int]) -> None:
    _, port = azure
    c = EndpointConfig(
        name="az", kind="azure", base_url=f"http://127.0.0.1:{port}", api_key="bad", trust="dedicated", models=["m"]
    )
    backend = OpenAICompatBackend(c)
    with pytest.raises(UpstreamStatusError) as exc:
        await backend.call(UpstreamRequest("chat", {"model": "d", "messages": []}, frozenset({Trust.DEDICATED})))
    assert exc.value.upstream_status == 401 and "Access denied" in exc.value.message
    await backend.aclose()
