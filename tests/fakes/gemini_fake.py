"""A fake Gemini API (generateContent / streamGenerateContent?alt=sse) on 127.0.0.1.

Function calls (when the request declares tools), safety blocks of both kinds (a blocked prompt and a
candidate stopped for SAFETY), Google-style error bodies, and scripted faults. Records every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

USAGE = {
    "promptTokenCount": 9,
    "candidatesTokenCount": 3,
    "totalTokenCount": 16,
    "cachedContentTokenCount": 4,
    "thoughtsTokenCount": 4,
}
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


@dataclass
class GeminiScript:
    status: int = 200
    reply: str = "hello from gemini"
    block_prompt: bool = False  # promptFeedback.blockReason, no candidates
    safety_stop: bool = False  # a candidate with finishReason SAFETY
    cut_after: int | None = None  # stream: close the connection after N events
    no_finish: bool = False  # stream: end cleanly without a finish reason


@dataclass
class FakeGemini:
    script: GeminiScript = field(default_factory=GeminiScript)
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1beta"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1beta/models/{call}", self.generate)
        app.router.add_get("/v1beta/models", self.models)
        return app

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": "models/gemini-2.5-flash"}]})

    async def generate(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["call"].partition(":")
        body = orjson.loads(await request.read())
        self.received.append(
            {"path": request.path_qs, "model": model, "action": action, "body": body, "headers": dict(request.headers)}
        )
        if not request.headers.get("x-goog-api-key"):
            return self._error(403, "API key not valid")
        if self.script.status >= 400:
            return self._error(self.script.status, "scripted failure")
        if action == "streamGenerateContent" and request.query.get("alt") == "sse":
            return await self._stream(request, body, model)
        if action != "generateContent":
            return self._error(404, f"unknown method {action}")
        return web.json_response(self.response(body, model))

    def _error(self, status: int, message: str) -> web.Response:
        err = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
        return web.json_response(err, status=status)

    def _parts(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"text": self.script.reply}]
        tools = body.get("tools") or []
        if tools:
            name = tools[0]["functionDeclarations"][0]["name"]
            parts.append({"functionCall": {"name": name, "args": {"city": "Paris"}}})
        return parts

    def response(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        if self.script.block_prompt:
            return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9}}
        cand: dict[str, Any] = {"index": 0, "finishReason": "STOP"}
        if self.script.safety_stop:
            cand = {"index": 0, "finishReason": "SAFETY", "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT"}]}
        else:
            cand["content"] = {"role": "model", "parts": self._parts(body)}
        return {"candidates": [cand], "usageMetadata": USAGE, "modelVersion": model, "responseId": "resp-fake"}

    def fragments(self, body: dict[str, Any], model: str) -> list[dict[str, Any]]:
        if self.script.block_prompt or self.script.safety_stop:
            return [self.response(body, model)]
        frags = []
        for i, word in enumerate(self.script.reply.split(" ")):
            part = {"text": word if i == 0 else " " + word}
            cand = {"index": 0, "content": {"role": "model", "parts": [part]}}
            frags.append({"candidates": [cand], "usageMetadata": {"promptTokenCount": 9}, "modelVersion": model})
        calls = self._parts(body)[1:]
        last: dict[str, Any] = {"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": calls}}
        if self.script.no_finish:
            del last["finishReason"]
        frags.append({"candidates": [last], "usageMetadata": USAGE, "modelVersion": model})
        return frags

    async def _stream(self, request: web.Request, body: dict[str, Any], model: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for n, frag in enumerate(self.fragments(body, model)):
            if self.script.cut_after is not None and n >= self.script.cut_after:
                assert request.transport is not None
                request.transport.close()
                return resp
            await resp.write(b"data: " + orjson.dumps(frag) + b"\r\n\r\n")
        await resp.write_eof()
        return resp
