"""The base of the backends that speak another provider's API on the wire and OpenAI towards the gateway.

Connection pooling, timeouts and status mapping come from the OpenAI-compatible backend. A subclass
names its provider and supplies a request's URL and body and the translation of a whole response;
its `stream` reads the upstream's JSON events through `_events`, and `_ends_answer` names its end-of-answer
event, if it has one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import orjson

from hybridgate.backends.base import Capabilities, UpstreamRequest, UpstreamResponse
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.backends.sse import events, payload
from hybridgate.errors import BadRequest
from hybridgate.policy.boundary import check_egress


class TranslatedBackend(OpenAICompatBackend, ABC):
    capabilities = Capabilities(completions=False, embeddings=False)
    provider = ""  # named in errors

    @abstractmethod
    def _target(self, req: UpstreamRequest) -> tuple[str, dict[str, Any]]:
        """(URL, provider body) for an OpenAI chat request."""

    @abstractmethod
    def _to_openai(self, msg: Any, req: UpstreamRequest) -> dict[str, Any]:
        """The provider's whole response as an OpenAI chat completion."""

    def _prepare(self, req: UpstreamRequest) -> tuple[str, bytes, dict[str, str]]:
        check_egress(self.name, self.trust, req.allowed_trust)
        if req.op != "chat":
            msg = f"{self.name}: {self.provider} serves chat only, not {req.op}"
            raise BadRequest(msg, code="unsupported_operation")
        headers = {**self._headers, **req.extra_headers} if req.extra_headers else self._headers
        url, body = self._target(req)
        return url, orjson.dumps(body), headers

    async def call(self, req: UpstreamRequest) -> UpstreamResponse:
        raw = await super().call(req)  # has already refused a body that is not JSON
        body = self._to_openai(orjson.loads(raw.body), req)
        return UpstreamResponse(raw.status, orjson.dumps(body), body["usage"], raw.headers)

    def _ends_answer(self, event: Any) -> bool:
        """True for the provider's end-of-answer event, after which only the end of the body can follow.
        A provider without one (Gemini) is read to the body's end before its stream finishes."""
        return False

    async def _events(self, req: UpstreamRequest) -> AsyncGenerator[Any, None]:
        """The upstream stream's events, parsed; an event that is not JSON is skipped.

        A stream closed after the end-of-answer event gives its connection back once the rest of the body
        has arrived; one closed earlier (client gone) closes it (see OpenAICompatBackend._settle)."""
        resp = await self._open(req)
        finished = False
        try:
            async with aclosing(events(self._chunks(resp))) as upstream:  # not left to the loop's finaliser
                async for ev in upstream:
                    try:
                        obj = orjson.loads(payload(ev))
                    except orjson.JSONDecodeError:
                        continue
                    finished = self._ends_answer(obj)
                    yield obj
            finished = True
        finally:
            self._settle(resp, finished)
