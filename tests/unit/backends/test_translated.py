"""What the Anthropic and Gemini backends share: chat-only requests and OpenAI content and chunk shapes."""

from __future__ import annotations

from typing import Any

import pytest

from hybridgate.backends.anthropic import AnthropicBackend
from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.gemini import GeminiBackend
from hybridgate.backends.openai_chat import ChunkWriter, content_text, data_url
from hybridgate.errors import BadRequest
from hybridgate.labels import Trust
from hybridgate.settings import EndpointConfig

EXTERNAL = frozenset({Trust.EXTERNAL})


def _cfg(kind: str, url: str, **kw: Any) -> EndpointConfig:
    return EndpointConfig(name=kind, kind=kind, base_url=url, api_key="k-1", trust="external", models=["m"], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("backend", "kind", "provider"), [(AnthropicBackend, "anthropic", "Anthropic"), (GeminiBackend, "gemini", "Gemini")]
)
@pytest.mark.parametrize("op", ["completions", "embeddings"])
async def test_only_chat_is_served(backend: Any, kind: str, provider: str, op: str) -> None:
    b = backend(_cfg(kind, "http://127.0.0.1:9"))  # never contacted: refused before any connection
    with pytest.raises(BadRequest) as exc:
        await b.call(UpstreamRequest(op, {"model": "m", "input": "x"}, EXTERNAL))  # type: ignore[arg-type]
    assert exc.value.code == "unsupported_operation"
    assert exc.value.message == f"{kind}: {provider} serves chat only, not {op}"
    await b.aclose()


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain", "plain"),
        ([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "b"}], "ab"),
        ([{"type": "text"}, "not a part"], ""),
        (None, ""),
        (42, ""),
    ],
)  # fmt: skip
def test_content_text(content: Any, text: str) -> None:
    assert content_text(content) == text


@pytest.mark.parametrize(
    ("url", "inline"),
    [
        ("data:image/png;base64,AAAA", ("image/png", "AAAA")),
        ("data:image/png;base64,a;base64,b", ("image/png", "a;base64,b")),
        ("data:text/plain,hello", None),
        ("https://example.com/cat.png", None),
    ],
)
def test_data_url(url: str, inline: tuple[str, str] | None) -> None:
    assert data_url(url) == inline


def test_chunks_carry_the_completion_identity() -> None:
    w = ChunkWriter()
    w.id, w.created, w.model = "chatcmpl-1", 7, "m"
    assert w._chunk({"content": "x"}, "stop") == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}],
    }
    last = w._usage_chunk({"total_tokens": 3})
    assert last["choices"] == [] and last["usage"] == {"total_tokens": 3} and last["id"] == "chatcmpl-1"
