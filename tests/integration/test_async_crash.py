"""kill -9 a worker mid-job: every accepted job completes exactly once for the client, none is lost,
none is billed twice. Embedded SQLite queue, and NATS JetStream (127.0.0.1:4222, `services`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.conftest import Gateway, GatewayFactory, minimal_config
from tests.integration.test_async_api import BODY

ROOT = Path(__file__).resolve().parents[2]
N_JOBS = 6


def make_config(tmp_path: Path, **jobs: Any) -> Any:
    def make(s: str, e: str) -> dict[str, Any]:
        j = {"db_path": str(tmp_path / "jobs.db"), "poll_interval_s": 0.05, "visibility_timeout_s": 2.0,
             "workers": 0, **jobs}  # fmt: skip
        return {**minimal_config(s, e), "jobs": j}

    return make


class Workers:
    def __init__(self, tmp_path: Path, raw: dict[str, Any]) -> None:
        self.cfg = tmp_path / "worker.yaml"
        raw = {**raw, "jobs": {**raw["jobs"], "workers": 2}}
        self.cfg.write_text(yaml.safe_dump(raw))
        self.ledger = tmp_path / "ledger.jsonl"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "HYBRIDGATE_DATA_DIR": str(tmp_path / "data")}

    def start(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "tests.unit.jobs.proc_worker", str(self.cfg), str(self.ledger), "2"]
        p = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def billed(self) -> Counter[str]:
        if not self.ledger.exists():
            return Counter()
        return Counter(orjson.loads(x)["request_id"] for x in self.ledger.read_bytes().splitlines())

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def until(cond: Any, limit_s: float, what: str) -> None:
    end = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def run_crash_scenario(gw: Gateway, workers: Workers) -> None:
    gw.self_fake.script.delay = 1.0  # each job takes a second upstream: long enough to die mid-job
    ids = []
    for i in range(N_JOBS):
        body = {**BODY, "messages": [{"role": "user", "content": f"summarise item {i}"}]}
        r = httpx.post(gw.url + "/v1/async/chat/completions", json=body, timeout=10)
        assert r.status_code == 202
        ids.append(r.json()["id"])
    first = workers.start()
    until(lambda: len(gw.self_fake.received) >= 1, 30, "the first worker to start a job")
    first.send_signal(signal.SIGKILL)  # mid-job: its in-flight jobs are neither acked nor finished
    first.wait(5)
    killed_in_flight = len(gw.self_fake.received) - len(workers.billed())
    assert killed_in_flight >= 1
    workers.start()

    def status(job_id: str) -> str:
        s: str = httpx.get(f"{gw.url}/v1/async/jobs/{job_id}", timeout=10).json()["status"]
        return s

    until(lambda: all(status(i) not in ("queued", "in_progress") for i in ids), 60, "every job to finish")
    jobs = [httpx.get(f"{gw.url}/v1/async/jobs/{i}").json() for i in ids]
    assert [j["status"] for j in jobs] == ["completed"] * N_JOBS  # none lost
    assert all(j["response"]["body"]["choices"][0]["message"]["content"] == "hello from self" for j in jobs)
    billed = workers.billed()
    assert set(billed) <= set(ids) and max(billed.values()) == 1  # never billed twice
    assert len(billed) >= N_JOBS - 1  # at most the one record in flight at the kill is lost
    assert len(gw.self_fake.received) > N_JOBS  # the killed worker's jobs really were run again


@pytest.fixture
def workers_sqlite(make_gateway: GatewayFactory, tmp_path: Path) -> Iterator[tuple[Gateway, Workers]]:
    gw = make_gateway(make_config(tmp_path))
    w = Workers(tmp_path, make_config(tmp_path)(gw.self_fake.base_url, gw.ext_fake.base_url))
    yield gw, w
    w.stop()


def test_kill_9_worker_sqlite_queue(workers_sqlite: tuple[Gateway, Workers]) -> None:
    run_crash_scenario(*workers_sqlite)


async def _drop_stream(name: str) -> None:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222", connect_timeout=2)
    with contextlib.suppress(Exception):  # already gone
        await nc.jetstream().delete_stream(name)
    await nc.drain()


@pytest.fixture
def workers_nats(make_gateway: GatewayFactory, tmp_path: Path) -> Iterator[tuple[Gateway, Workers]]:
    stream = "HGTEST_" + os.urandom(4).hex()
    cfg = make_config(tmp_path, queue="nats", nats_stream=stream)
    gw = make_gateway(cfg)
    w = Workers(tmp_path, cfg(gw.self_fake.base_url, gw.ext_fake.base_url))
    yield gw, w
    w.stop()
    asyncio.run(_drop_stream(stream))


@pytest.mark.services
def test_kill_9_worker_nats_queue(workers_nats: tuple[Gateway, Workers]) -> None:
    run_crash_scenario(*workers_nats)
