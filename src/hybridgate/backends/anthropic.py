"""Anthropic Messages API backend. Speaks OpenAI towards the gateway, Anthropic on the wire.

The request plumbing comes from backends/translated.py; this class only changes the URL, the headers,
the error codes and the body/stream translation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import orjson

from hybridgate.backends.anthropic_format import to_anthropic
from hybridgate.backends.anthropic_response import response_to_openai
from hybridgate.backends.anthropic_stream import AnthropicToOpenAI
from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.sse import DONE, frame
from hybridgate.backends.translated import TranslatedBackend
from hybridgate.errors import GatewayError, UpstreamError, UpstreamStatusError
from hybridgate.settings import EndpointConfig

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"


def error_type(body: bytes) -> str | None:
    """Anthropic's error type (`overloaded_error`, `rate_limit_error`...) from an error body."""
    try:
        err = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    kind = err.get("type") if isinstance(err, dict) else None
    return kind if isinstance(kind, str) else None


class AnthropicBackend(TranslatedBackend):
    provider = "Anthropic"

    def __init__(self, cfg: EndpointConfig) -> None:
        super().__init__(cfg)
        self.base_url = (cfg.base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
        self._headers = {
            "content-type": "application/json",
            "anthropic-version": cfg.api_version or DEFAULT_VERSION,
            **cfg.headers,
        }
        if cfg.api_key:
            self._headers["x-api-key"] = cfg.api_key

    def _target(self, req: UpstreamRequest) -> tuple[str, dict[str, Any]]:
        return self.base_url + "/v1/messages", to_anthropic({**req.body, "stream": req.stream})

    def _to_openai(self, msg: Any, req: UpstreamRequest) -> dict[str, Any]:
        return response_to_openai(msg, req.body.get("model"))

    async def _open(self, req: UpstreamRequest) -> aiohttp.ClientResponse:
        try:
            return await super()._open(req)
        except UpstreamStatusError as e:
            kind = error_type(e.upstream_body)
            if kind:
                e.code = f"upstream_{kind}"
            raise

    def _ends_answer(self, event: Any) -> bool:
        return isinstance(event, dict) and event.get("type") == "message_stop"

    async def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        state = AnthropicToOpenAI(str(req.body.get("model", "")))
        async with aclosing(self._events(req)) as upstream:
            async for obj in upstream:
                for chunk in state.feed(obj):
                    yield frame(chunk)
                if obj.get("type") == "message_stop":
                    yield DONE
                    return
        raise UpstreamError(f"{self.name}: stream ended without message_stop", code="stream_truncated")

    async def probe(self) -> bool:
        """GET /v1/models: cheap, authenticated, and counts against no token budget."""
        try:
            async with asyncio.timeout(min(2.0, self.cfg.timeouts.connect)):
                resp = await self.session().get(self.base_url + "/v1/models", headers=self._headers)
                resp.release()
                return resp.status < 500
        except (TimeoutError, aiohttp.ClientError, GatewayError):
            return False
