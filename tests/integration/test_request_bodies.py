"""A request body is read whole however it arrives: with a length, chunked, or in pieces over time; a
chunked one over the size limit is refused like one that says its length up front."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import orjson

from tests.conftest import Gateway, GatewayFactory, minimal_config

CHAT = "/v1/chat/completions"
BODY = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "hello there"}]})


def pieces(data: bytes, size: int, pause: float = 0.0) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        if pause:
            time.sleep(pause)
        yield data[i : i + size]


def post(gw: Gateway, content: bytes | Iterator[bytes]) -> httpx.Response:
    return httpx.post(gw.url + CHAT, content=content, headers={"content-type": "application/json"}, timeout=10)


def test_bodies_with_a_length_chunked_and_slow(gateway: Gateway) -> None:
    for content in (BODY, pieces(BODY, 16), pieces(BODY, 16, pause=0.02)):
        r = post(gateway, content)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json()["choices"]
    assert [x["body"]["messages"] for x in gateway.self_fake.received] == [orjson.loads(BODY)["messages"]] * 3


def test_a_chunked_body_over_the_limit_is_413(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(lambda s, e: {**minimal_config(s, e), "server": {"max_body_bytes": 2048}})
    big = b'{"model": "auto", "messages": [{"role": "user", "content": "' + b"a" * 5000 + b'"}]}'
    for content in (pieces(big, 1024), pieces(big, 1024, pause=0.02)):
        r = post(gw, content)
        assert r.status_code == 413, r.text
        assert r.json()["error"]["type"] and r.headers["x-hybridgate-request-id"]
    assert gw.self_fake.received == [] and gw.ext_fake.received == []


def test_a_body_cut_short_reaches_no_upstream(gateway: Gateway) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        s.sendall(f"{head}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY[:10])
    time.sleep(0.3)
    assert gateway.self_fake.received == [] and gateway.ext_fake.received == []
    assert post(gateway, BODY).status_code == 200  # and the gateway serves on
