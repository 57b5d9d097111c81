"""Async requests: 202 + job id, polling, the header switch, idempotency keys, signed webhooks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from hybridgate.jobs.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_batch_sdk import jobs_config

BODY = {"model": "auto", "messages": [{"role": "user", "content": "summarise this"}]}


def wait_job(gw: Gateway, job_id: str, limit_s: float = 20.0) -> dict[str, Any]:
    end = time.monotonic() + limit_s
    while True:
        j: dict[str, Any] = httpx.get(f"{gw.url}/v1/async/jobs/{job_id}").json()
        if j["status"] not in ("queued", "in_progress") or time.monotonic() > end:
            return j
        time.sleep(0.05)


def test_submit_poll_and_result(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    r = httpx.post(gw.url + "/v1/async/chat/completions", json=BODY, headers={"x-hybridgate-priority": "high"})
    assert r.status_code == 202 and r.headers["location"] == f"/v1/async/jobs/{r.json()['id']}"
    assert r.json()["status"] == "queued" and r.json()["priority"] == "high"
    j = wait_job(gw, r.json()["id"])
    assert j["status"] == "completed" and j["response"]["status_code"] == 200
    assert j["response"]["body"]["choices"][0]["message"]["content"] == "hello from self"


def test_header_switch_on_normal_routes(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    r = httpx.post(gw.url + "/v1/embeddings", json={"model": "auto", "input": "hi"},
                   headers={"x-hybridgate-mode": "async"})  # fmt: skip
    assert r.status_code == 202 and r.json()["endpoint"] == "/v1/embeddings"
    assert wait_job(gw, r.json()["id"])["status"] == "completed"
    assert httpx.post(gw.url + "/v1/chat/completions", json=BODY).status_code == 200  # no header: synchronous


def test_idempotency_key_runs_once(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    h = {"idempotency-key": "order-42"}
    ids = [httpx.post(gw.url + "/v1/async/chat/completions", json=BODY, headers=h).json()["id"] for _ in range(3)]
    assert len(set(ids)) == 1
    wait_job(gw, ids[0])
    assert len(gw.self_fake.received) == 1


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({**BODY, "stream": True}, {}),
        (BODY, {"x-hybridgate-priority": "urgent"}),
        (BODY, {"x-hybridgate-deadline": "tomorrow"}),
        (BODY, {"x-hybridgate-webhook-url": "https://evil.example.com/hook"}),
        ({"model": "auto"}, {}),
    ],
)
def test_bad_submissions_are_400(
    make_gateway: GatewayFactory, tmp_path: Path, body: dict[str, Any], headers: dict[str, str]
) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    r = httpx.post(gw.url + "/v1/async/chat/completions", json=body, headers=headers)
    assert r.status_code == 400 and "error" in r.json()


def test_signed_webhook_with_retry(
    make_gateway: GatewayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HG_TEST_HOOK_SECRET", "s3cret")
    got: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((await request.read(), dict(request.headers)))
        return web.Response(status=500 if len(got) == 1 else 204)  # the first delivery fails

    def receiver() -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", hook)
        return app

    gw = make_gateway(
        jobs_config(tmp_path, webhook_allow_hosts=["127.0.0.1"], webhook_secret_env="HG_TEST_HOOK_SECRET")
    )
    port = gw.servers.start_app(receiver)
    r = httpx.post(gw.url + "/v1/async/chat/completions", json=BODY,
                   headers={"x-hybridgate-webhook-url": f"http://127.0.0.1:{port}/hook"})  # fmt: skip
    assert r.status_code == 202
    assert wait_job(gw, r.json()["id"])["status"] == "completed"
    end = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < end:
        time.sleep(0.1)
    assert len(got) == 2  # retried after the 500
    body, headers = got[1]
    assert verify(b"s3cret", int(headers[TIMESTAMP_HEADER]), body, headers[SIGNATURE_HEADER])
    assert b'"async.job.completed"' in body and r.json()["id"].encode() in body
