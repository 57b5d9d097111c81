"""An upstream's Set-Cookie must not ride along on later requests: the shared client session serves every
tenant, so a stored cookie would carry one caller's upstream state into another caller's request."""

from __future__ import annotations

import orjson
from aiohttp import web

from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.labels import Trust
from hybridgate.settings import EndpointConfig
from tests.unit.backends.conftest import Serve

ANSWER = {"choices": [{"message": {"role": "assistant", "content": "hi"}}], "usage": {"total_tokens": 3}}


async def test_upstream_cookies_are_not_replayed(serve: Serve) -> None:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        resp = web.Response(body=orjson.dumps(ANSWER), content_type="application/json")
        resp.set_cookie("session", "tenant-a-secret")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    port = await serve(app)
    cfg = EndpointConfig(
        name="up", kind="openai", base_url=f"http://localhost:{port}/v1", trust="self_hosted", models=["m"]
    )  # type: ignore[arg-type]
    b = OpenAICompatBackend(cfg)
    try:
        for _ in range(2):
            await b.call(UpstreamRequest("chat", {"model": "m", "messages": []}, frozenset({Trust.SELF_HOSTED})))
    finally:
        await b.aclose()
    assert seen == [None, None]
