"""The openai SDK's Files + Batch API against the gateway, end to end with fake upstreams."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest

from tests.conftest import Gateway, GatewayFactory, minimal_config

EP: Literal["/v1/chat/completions"] = "/v1/chat/completions"


def jobs_config(tmp_path: Path, **jobs: Any) -> Callable[[str, str], dict[str, Any]]:
    def make(s: str, e: str) -> dict[str, Any]:
        return {**minimal_config(s, e), "jobs": {"db_path": str(tmp_path / "jobs.db"), "poll_interval_s": 0.05, **jobs}}

    return make


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-anything", max_retries=0)


def req(cid: str, text: str, url: str = EP) -> str:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    return json.dumps({"custom_id": cid, "method": "POST", "url": url, "body": body})


def wait_batch(c: openai.OpenAI, batch_id: str, limit_s: float = 30.0) -> Any:
    end = time.monotonic() + limit_s
    while True:
        b = c.batches.retrieve(batch_id)
        if b.status in ("completed", "failed", "expired", "cancelled") or time.monotonic() > end:
            return b
        time.sleep(0.1)


def lines_of(c: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(x) for x in c.files.content(file_id).text.splitlines()]


def test_sdk_batch_round_trip_with_bad_lines(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    c = client(gw)
    data = "\n".join([req("a", "one"), "{broken", req("b", "two"), req("c", "x", url="/v1/embeddings"), req("d", "3")])
    f = c.files.create(file=("in.jsonl", io.BytesIO(data.encode())), purpose="batch")
    assert (f.object, f.purpose, f.bytes) == ("file", "batch", len(data))
    assert c.files.retrieve(f.id).id == f.id
    b = c.batches.create(input_file_id=f.id, endpoint=EP, completion_window="24h", metadata={"run": "t1"})
    assert b.status in ("in_progress", "finalizing", "completed") and b.metadata == {"run": "t1"}
    b = wait_batch(c, b.id)
    assert b.status == "completed" and b.completed_at is not None
    assert b.request_counts is not None
    assert (b.request_counts.total, b.request_counts.completed, b.request_counts.failed) == (5, 3, 2)
    out = {r["custom_id"]: r for r in lines_of(c, b.output_file_id)}
    assert set(out) == {"a", "b", "d"}
    for r in out.values():
        assert r["error"] is None and r["response"]["status_code"] == 200
        assert r["response"]["body"]["choices"][0]["message"]["content"] == "hello from self"
    errs = lines_of(c, b.error_file_id)
    assert [(e["custom_id"], e["error"]["code"]) for e in errs] == [
        (None, "invalid_json_line"),
        ("c", "mismatched_url"),
    ]
    assert len(gw.self_fake.received) == 3  # malformed lines never reach an upstream
    assert [x.id for x in c.batches.list().data] == [b.id]


def test_batch_of_only_bad_lines_fails_validation(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    c = client(make_gateway(jobs_config(tmp_path)))
    f = c.files.create(file=("in.jsonl", io.BytesIO(b"nope\n[]\n")), purpose="batch")
    b = wait_batch(c, c.batches.create(input_file_id=f.id, endpoint=EP, completion_window="24h").id)
    assert b.status == "failed" and b.errors is not None and b.errors.data is not None
    assert [e.line for e in b.errors.data] == [1, 2]


def test_oversized_file_is_413(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    c = client(make_gateway(jobs_config(tmp_path, max_file_bytes=2048)))
    big = "\n".join(req(str(i), "x" * 100) for i in range(40)).encode()
    with pytest.raises(openai.APIStatusError) as e:
        c.files.create(file=("big.jsonl", io.BytesIO(big)), purpose="batch")
    assert e.value.status_code == 413


def test_unknown_ids_are_404(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    c = client(gw)
    for call in (
        lambda: c.files.retrieve("file_nope"),
        lambda: c.files.content("file_nope"),
        lambda: c.batches.retrieve("batch_nope"),
        lambda: c.batches.cancel("batch_nope"),
        lambda: c.batches.create(input_file_id="file_nope", endpoint=EP, completion_window="24h"),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    r = httpx.get(gw.url + "/v1/async/jobs/job_nope")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_bad_batch_requests_are_400(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path))
    c = client(gw)
    f = c.files.create(file=("in.jsonl", io.BytesIO(req("a", "x").encode())), purpose="batch")
    for body in ({"input_file_id": f.id, "endpoint": "/v1/nope", "completion_window": "24h"},
                 {"input_file_id": f.id, "endpoint": EP, "completion_window": "soon"}):  # fmt: skip
        assert httpx.post(gw.url + "/v1/batches", json=body).status_code == 400
    r = httpx.post(gw.url + "/v1/files", files={"file": ("a.jsonl", b"{}")}, data={"purpose": "fine-tune"})
    assert r.status_code == 400


def test_cancel_stops_queued_lines(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(jobs_config(tmp_path, workers=1))
    gw.self_fake.script.delay = 0.3
    c = client(gw)
    data = "\n".join(req(str(i), f"item {i}") for i in range(20))
    f = c.files.create(file=("in.jsonl", io.BytesIO(data.encode())), purpose="batch")
    b = c.batches.create(input_file_id=f.id, endpoint=EP, completion_window="24h")
    cancelled = c.batches.cancel(b.id)
    assert cancelled.status in ("cancelling", "cancelled")
    b = wait_batch(c, b.id)
    assert b.status == "cancelled" and b.cancelled_at is not None
    assert b.request_counts is not None and b.request_counts.total == 20
    assert len(gw.self_fake.received) < 20  # queued lines were not run
