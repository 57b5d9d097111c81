"""Clients that hang up mid-stream must not make the gateway eject a healthy upstream."""

from __future__ import annotations

import socket

import httpx
import orjson

from tests.conftest import GatewayFactory

BODY = orjson.dumps({"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hello there"}]})


def hang_up_after_first_event(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(BODY)}\r\n\r\n"
        s.sendall(head.encode() + BODY)
        got = b""
        while b"data:" not in got:
            chunk = s.recv(4096)
            assert chunk, "gateway closed before the first event"
            got += chunk


def test_mid_stream_disconnects_do_not_eject_the_upstream(make_gateway: GatewayFactory) -> None:
    gw = make_gateway()
    gw.self_fake.script.reply = "one two three four five six seven eight nine ten"
    gw.self_fake.script.drip = 0.05  # the stream is still running when the client leaves
    for _ in range(5):  # more than outlier.consecutive_failures (3)
        hang_up_after_first_event(gw.url)
    gw.self_fake.script.drip = 0.0
    r = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "hello again"}]},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-hybridgate-route"].startswith("local-vllm/")
