"""Anthropic Messages API backend. Speaks OpenAI towards the gateway, Anthropic on the wire.

Connection pooling, timeouts and status mapping come from the OpenAI-compatible backend; this class
only changes the URL, the headers and the body/stream translation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson

from hybridgate.backends.anthropic_format import to_anthropic
from hybridgate.backends.anthropic_response import response_to_openai
from hybridgate.backends.anthropic_stream import AnthropicToOpenAI
from hybridgate.backends.base import Capabilities, UpstreamRequest, UpstreamResponse
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.backends.sse import DONE, events, frame, payload
from hybridgate.errors import BadRequest, GatewayError, UpstreamError, UpstreamStatusError
from hybridgate.policy.boundary import check_egress
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


class AnthropicBackend(OpenAICompatBackend):
    capabilities = Capabilities(completions=False, embeddings=False)

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

    def _prepare(self, req: UpstreamRequest) -> tuple[str, bytes, dict[str, str]]:
        check_egress(self.name, self.trust, req.allowed_trust)
        if req.op != "chat":
            raise BadRequest(f"{self.name}: Anthropic serves chat only, not {req.op}", code="unsupported_operation")
        headers = {**self._headers, **req.extra_headers} if req.extra_headers else self._headers
        body = to_anthropic({**req.body, "stream": req.stream})
        return self.base_url + "/v1/messages", orjson.dumps(body), headers

    async def _open(self, req: UpstreamRequest) -> aiohttp.ClientResponse:
        try:
            return await super()._open(req)
        except UpstreamStatusError as e:
            kind = error_type(e.upstream_body)
            if kind:
                e.code = f"upstream_{kind}"
            raise

    async def call(self, req: UpstreamRequest) -> UpstreamResponse:
        raw = await super().call(req)
        try:
            msg = orjson.loads(raw.body)
        except orjson.JSONDecodeError as e:  # already checked by super(); kept for mypy's sake
            raise UpstreamError(f"{self.name}: upstream sent invalid JSON", code="bad_upstream_body") from e
        body = response_to_openai(msg, req.body.get("model"))
        return UpstreamResponse(raw.status, orjson.dumps(body), body["usage"], raw.headers)

    async def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        resp = await self._open(req)
        state = AnthropicToOpenAI(str(req.body.get("model", "")))
        try:
            async for ev in events(self._chunks(resp)):
                try:
                    obj = orjson.loads(payload(ev))
                except orjson.JSONDecodeError:
                    continue
                for chunk in state.feed(obj):
                    yield frame(chunk)
                if obj.get("type") == "message_stop":
                    yield DONE
                    return
        finally:
            resp.release()
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
