"""An in-process backend for tests and demos: scripted replies and faults, records every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from hybridgate.backends.base import Capabilities, UpstreamRequest, UpstreamResponse
from hybridgate.backends.sse import DONE, frame
from hybridgate.errors import GatewayError
from hybridgate.labels import Trust
from hybridgate.policy.boundary import check_egress


class MockBackend:
    capabilities = Capabilities()

    def __init__(
        self,
        name: str,
        trust: Trust,
        *,
        reply: str | None = None,
        error: GatewayError | None = None,
        delay: float = 0.0,
    ) -> None:
        self.name = name
        self.trust = trust
        self.reply = reply if reply is not None else f"hello from {name}"
        self.error = error
        self.delay = delay
        self.received: list[UpstreamRequest] = []

    def _usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": 7,
            "completion_tokens": len(self.reply.split()),
            "total_tokens": 7 + len(self.reply.split()),
        }

    async def _begin(self, req: UpstreamRequest) -> None:
        check_egress(self.name, self.trust, req.allowed_trust)
        self.received.append(req)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error

    async def call(self, req: UpstreamRequest) -> UpstreamResponse:
        await self._begin(req)
        model = req.body.get("model", "mock")
        body: dict[str, Any]
        if req.op == "embeddings":
            body = {
                "object": "list",
                "model": model,
                "data": [{"object": "embedding", "index": 0, "embedding": [0.0, 0.1, 0.2]}],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        elif req.op == "completions":
            body = {
                "id": "cmpl-mock",
                "object": "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "text": self.reply, "finish_reason": "stop"}],
                "usage": self._usage(),
            }
        else:
            body = {
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": self.reply},
                    }
                ],
                "usage": self._usage(),
            }
        return UpstreamResponse(200, orjson.dumps(body), body.get("usage"))

    async def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        await self._begin(req)
        base = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": req.body.get("model", "mock"),
        }
        for i, word in enumerate(self.reply.split(" ")):
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
            yield frame({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        yield frame({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        yield frame({**base, "choices": [], "usage": self._usage()})
        yield DONE

    async def aclose(self) -> None:
        return None
