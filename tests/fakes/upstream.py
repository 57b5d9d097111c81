"""A fake OpenAI-compatible upstream: a real HTTP server on 127.0.0.1 with scripted behaviour.

Every received request is recorded, so tests can assert what each upstream saw (the egress boundary).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Script:
    """What the fake does next. Tests mutate it between requests."""

    status: int = 200
    reply: str | None = None
    delay: float = 0.0  # before the response starts
    retry_after: str | None = None
    stall_after: int | None = None  # stream: stop sending (but keep the connection) after N chunks
    cut_after: int | None = None  # stream: close the connection after N chunks
    no_done: bool = False  # stream: end cleanly but without [DONE]
    drip: float = 0.0  # stream: delay between chunks
    error_body: dict[str, Any] | None = None
    metrics: str = "vllm:num_requests_waiting 0\nvllm:num_requests_running 0\n"
    usage_in_stream: bool = True
    usage_in_body: bool = True  # non-stream: include the `usage` object (some providers send none)
    echo: bool = False  # reply with the last message's text (to test redaction round trips)
    chunk_chars: int | None = None  # stream: split the reply every N characters instead of by word


@dataclass
class FakeUpstream:
    name: str
    script: Script = field(default_factory=Script)
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def texts(self) -> str:
        return "\n".join(orjson.dumps(r).decode() for r in self.received)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/{op:.*}", self.handle)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.prom)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, status=200 if self.script.status < 500 else 503)

    async def models(self, request: web.Request) -> web.Response:
        if self.script.status >= 500:
            return web.json_response({"error": {"message": "down"}}, status=self.script.status)
        return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def prom(self, request: web.Request) -> web.Response:
        return web.Response(text=self.script.metrics)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {"_raw": raw.decode("latin1")}
        self.received.append(
            {"path": request.path, "body": body, "headers": {str(k): v for k, v in request.headers.items()}}
        )
        s = self.script
        if s.delay:
            await asyncio.sleep(s.delay)
        if s.status >= 400:
            headers = {"retry-after": s.retry_after} if s.retry_after else None
            err = s.error_body or {"error": {"message": f"{self.name} failed", "type": "server_error"}}
            return web.json_response(err, status=s.status, headers=headers)
        model = body.get("model", "unknown") if isinstance(body, dict) else "unknown"
        text = s.reply if s.reply is not None else f"hello from {self.name}"
        if s.echo and isinstance(body, dict):
            msgs = body.get("messages") or [{"content": body.get("prompt", "")}]
            text = str(msgs[-1].get("content", ""))
        op = request.match_info["op"]
        usage = {"prompt_tokens": 7, "completion_tokens": len(text.split()), "total_tokens": 7 + len(text.split())}
        reported = {"usage": usage} if s.usage_in_body else {}
        if op == "embeddings":
            return web.json_response(
                {
                    "object": "list",
                    "model": model,
                    **reported,
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                }
            )
        if isinstance(body, dict) and body.get("stream"):
            return await self._stream(request, body, model, text, usage)
        if op == "completions":
            return web.json_response(
                {
                    "id": "cmpl-fake",
                    "object": "text_completion",
                    "created": int(time.time()),
                    "model": model,
                    **reported,
                    "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                }
            )
        msg: dict[str, Any] = {"role": "assistant", "content": text}
        if isinstance(body, dict) and body.get("tools"):
            msg["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": body["tools"][0]["function"]["name"], "arguments": "{}"},
                }
            ]
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                **reported,
                "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
            }
        )

    async def _stream(
        self, request: web.Request, body: dict[str, Any], model: str, text: str, usage: dict[str, int]
    ) -> web.StreamResponse:
        s = self.script
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        frames = []
        if s.chunk_chars:
            pieces = [text[i : i + s.chunk_chars] for i in range(0, len(text), s.chunk_chars)]
        else:
            pieces = [w if i == 0 else " " + w for i, w in enumerate(text.split(" "))]
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            frames.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        frames.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if s.usage_in_stream and (body.get("stream_options") or {}).get("include_usage"):
            frames.append({**base, "choices": [], "usage": usage})
        for i, f in enumerate(frames):
            if s.cut_after is not None and i >= s.cut_after:
                assert request.transport is not None
                request.transport.close()
                return resp
            if s.stall_after is not None and i >= s.stall_after:
                await asyncio.sleep(3600)
            if s.drip:
                await asyncio.sleep(s.drip)
            await resp.write(b"data: " + orjson.dumps(f) + b"\n\n")
        if not s.no_done:
            await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
