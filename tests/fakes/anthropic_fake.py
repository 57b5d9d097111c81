"""A fake Anthropic Messages API: a real HTTP server on 127.0.0.1 speaking Anthropic's wire format.

JSON and event-stream answers, tool use (when the request offers tools), cache-token usage, Anthropic
error bodies, and scripted faults. Every request is recorded with its headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class AnthropicScript:
    status: int = 200
    error_type: str = "api_error"
    retry_after: str | None = None
    reply: str = "hello from anthropic"
    tool_input: dict[str, Any] = field(default_factory=lambda: {"city": "Paris", "unit": "c"})
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 11,
            "output_tokens": 3,
            "cache_creation_input_tokens": 2,
            "cache_read_input_tokens": 5,
        }
    )
    stream_error_after: int | None = None  # stream: send an `error` event after N events
    cut_after: int | None = None  # stream: close the connection after N events


@dataclass
class FakeAnthropic:
    script: AnthropicScript = field(default_factory=AnthropicScript)
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_get("/v1/models", self.models)
        return app

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "claude-sonnet-4-6", "type": "model"}], "has_more": False})

    def _error(self, status: int, kind: str, message: str) -> web.Response:
        headers = {"retry-after": self.script.retry_after} if self.script.retry_after else None
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return web.json_response(body, status=status, headers=headers)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.received.append({"path": request.path, "body": body, "headers": dict(request.headers)})
        if not request.headers.get("x-api-key"):
            return self._error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self._error(400, "invalid_request_error", "anthropic-version header is required")
        if self.script.status >= 400:
            return self._error(self.script.status, self.script.error_type, "scripted failure")
        if "max_tokens" not in body:
            return self._error(400, "invalid_request_error", "max_tokens: Field required")
        if body.get("stream"):
            return await self._stream(request, body)
        return web.json_response(self.message(body))

    def _blocks(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": self.script.reply}]
        tools = body.get("tools") or []
        if tools and (body.get("tool_choice") or {}).get("type") != "none":
            blocks.append(
                {"type": "tool_use", "id": "toolu_01", "name": tools[0]["name"], "input": self.script.tool_input}
            )
            return blocks, "tool_use"
        return blocks, "end_turn"

    def message(self, body: dict[str, Any]) -> dict[str, Any]:
        blocks, stop = self._blocks(body)
        return {
            "id": "msg_fake01",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self.script.usage,
        }

    def events(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        blocks, stop = self._blocks(body)
        usage = self.script.usage
        start = {**self.message(body), "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        evs: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                evs.append({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
                for j, word in enumerate(b["text"].split(" ")):
                    piece = word if j == 0 else " " + word
                    evs.append(
                        {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": piece}}
                    )
            else:
                evs.append({"type": "content_block_start", "index": i, "content_block": {**b, "input": {}}})
                raw = orjson.dumps(b["input"]).decode()
                for part in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                    delta = {"type": "input_json_delta", "partial_json": part}
                    evs.append({"type": "content_block_delta", "index": i, "delta": delta})
            evs.append({"type": "content_block_stop", "index": i})
        delta = {"stop_reason": stop, "stop_sequence": None}
        evs.append({"type": "message_delta", "delta": delta, "usage": {"output_tokens": usage["output_tokens"]}})
        evs.append({"type": "message_stop"})
        return evs

    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        s = self.script
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for n, ev in enumerate(self.events(body)):
            if s.cut_after is not None and n >= s.cut_after:
                assert request.transport is not None
                request.transport.close()
                return resp
            if s.stream_error_after is not None and n >= s.stream_error_after:
                ev = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                await resp.write(b"event: error\ndata: " + orjson.dumps(ev) + b"\n\n")
                break
            await resp.write(b"event: " + ev["type"].encode() + b"\ndata: " + orjson.dumps(ev) + b"\n\n")
        await resp.write_eof()
        return resp
