"""What the OpenAI-compatible backend puts on the wire for a JSON call: the session's headers (with a
caller's extra headers on top; the probe's too), the JSON body with its exact length, and the answer
read whole, also when it arrives in pieces after the headers."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.labels import Trust
from hybridgate.settings import EndpointConfig
from tests.unit.backends.conftest import Serve

ANSWER = {"choices": [{"message": {"role": "assistant", "content": "hi"}}], "usage": {"total_tokens": 3}}
SELF = frozenset({Trust.SELF_HOSTED})


def backend(port: int, **extra: object) -> OpenAICompatBackend:
    cfg = EndpointConfig(
        name="up",
        kind="openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        trust="self_hosted",
        models=["m"],
        api_key="sk-test",
        headers={"x-team": "blue"},
        **extra,
    )  # type: ignore[arg-type]
    return OpenAICompatBackend(cfg)


async def test_headers_and_body_on_the_wire(serve: Serve) -> None:
    seen: list[tuple[dict[str, list[str]], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        headers: dict[str, list[str]] = {}
        for k, v in request.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        seen.append((headers, await request.read()))
        return web.Response(body=orjson.dumps(ANSWER), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    app.router.add_get("/v1/models", handler)
    b = backend(await serve(app))
    body = {"model": "m", "messages": [{"role": "user", "content": "h\u00e9llo"}]}
    try:
        plain = await b.call(UpstreamRequest("chat", body, SELF))
        extra = await b.call(
            UpstreamRequest("chat", body, SELF, extra_headers={"X-Team": "red", "Authorization": "Bearer sk-other"})
        )
        assert await b.probe()
    finally:
        await b.aclose()
    assert plain.status == extra.status == 200 and orjson.loads(plain.body) == ANSWER
    assert plain.usage == {"total_tokens": 3}
    (h1, b1), (h2, b2), (h3, b3) = seen
    assert h3["authorization"] == ["Bearer sk-test"] and h3["x-team"] == ["blue"] and b3 == b""
    assert b1 == b2 == orjson.dumps(body)
    for h, team, auth in ((h1, "blue", "Bearer sk-test"), (h2, "red", "Bearer sk-other")):
        assert h["content-type"] == ["application/json"]
        assert h["content-length"] == [str(len(b1))]
        assert h["x-team"] == [team] and h["authorization"] == [auth]  # one of each: replaced, not added
        assert "transfer-encoding" not in h


async def test_an_answer_in_pieces_is_read_whole(serve: Serve) -> None:
    data = orjson.dumps(ANSWER)

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "application/json"})
        resp.content_length = len(data)
        await resp.prepare(request)
        for i in range(0, len(data), 7):
            await resp.write(data[i : i + 7])
            await asyncio.sleep(0.01)
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    b = backend(await serve(app))
    try:
        r = await b.call(UpstreamRequest("chat", {"model": "m", "messages": []}, SELF))
    finally:
        await b.aclose()
    assert r.body == data and r.usage == {"total_tokens": 3}
