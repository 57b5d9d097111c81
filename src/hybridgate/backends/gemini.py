"""Gemini (Generative Language API) backend: generateContent and streamGenerateContent?alt=sse.

Speaks OpenAI towards the gateway. Each streamed Gemini event is a whole response fragment, with
cumulative usage; the stream has no end marker, so the last finish reason seen decides success.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.gemini_format import candidate_parts, response_to_openai, to_gemini, tool_call, usage
from hybridgate.backends.openai_chat import ChunkWriter
from hybridgate.backends.sse import DONE, frame
from hybridgate.backends.translated import TranslatedBackend
from hybridgate.errors import UpstreamError
from hybridgate.settings import EndpointConfig

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


@dataclass
class GeminiToOpenAI(ChunkWriter):
    """Gemini stream fragments -> OpenAI chunks."""

    model: str
    id: str = field(default_factory=lambda: "chatcmpl-gemini-" + str(time.time_ns()))
    created: int = field(default_factory=lambda: int(time.time()))
    usage: dict[str, Any] = field(default_factory=dict)
    tools: int = 0
    finish: str | None = None
    started: bool = False

    def feed(self, resp: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = []
        if not self.started:
            self.started = True
            out.append(self._chunk({"role": "assistant", "content": ""}))
        if isinstance(resp.get("usageMetadata"), Mapping):
            self.usage = usage(resp["usageMetadata"])
        text, calls, finish = candidate_parts(resp)
        if text:
            out.append(self._chunk({"content": text}))
        if calls:
            deltas = [tool_call(p, self.tools + i) for i, p in enumerate(calls)]
            self.tools += len(calls)
            out.append(self._chunk({"tool_calls": deltas}))
        if finish:
            self.finish = "tool_calls" if finish == "stop" and self.tools else finish
            out.append(self._chunk({}, self.finish))
        return out

    def end(self) -> list[dict[str, Any]]:
        return [self._usage_chunk(self.usage or usage({}))]


class GeminiBackend(TranslatedBackend):
    provider = "Gemini"

    def __init__(self, cfg: EndpointConfig) -> None:
        super().__init__(cfg)
        self.base_url = (cfg.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._headers = {"content-type": "application/json", **cfg.headers}
        if cfg.api_key:
            self._headers["x-goog-api-key"] = cfg.api_key

    def _target(self, req: UpstreamRequest) -> tuple[str, dict[str, Any]]:
        model = str(req.body.get("model", "")).removeprefix("models/")
        action = "streamGenerateContent?alt=sse" if req.stream else "generateContent"
        return f"{self.base_url}/models/{model}:{action}", to_gemini(req.body)

    def _to_openai(self, msg: Any, req: UpstreamRequest) -> dict[str, Any]:
        return response_to_openai(msg, str(req.body.get("model", "")))

    async def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        state = GeminiToOpenAI(str(req.body.get("model", "")))
        async with aclosing(self._events(req)) as upstream:
            async for obj in upstream:
                if isinstance(obj, dict) and "error" in obj:
                    msg = str((obj["error"] or {}).get("message", ""))[:300]
                    raise UpstreamError(f"{self.name}: stream error: {msg}", code="upstream_stream_error")
                for chunk in state.feed(obj):
                    yield frame(chunk)
        if state.finish is None:
            raise UpstreamError(f"{self.name}: stream ended without a finish reason", code="stream_truncated")
        for chunk in state.end():
            yield frame(chunk)
        yield DONE
