"""`hybridgate serve` as a real subprocess: metrics across 2 workers; the audit trail survives kill -9."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from hybridgate.cli import free_port
from hybridgate.observe.audit.ops import verify
from hybridgate.observe.audit.store import SqliteAuditStore
from tests.conftest import minimal_config
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream

BODY = {"model": "auto", "messages": [{"role": "user", "content": "Say hi"}]}


@pytest.fixture
def config_file(servers: ServerThread, tmp_path: Path) -> Path:
    fakes = [FakeUpstream("self"), FakeUpstream("external")]
    for f in fakes:
        f.port = servers.start_app(f.app)
    path = tmp_path / "hg.yaml"
    raw = minimal_config(fakes[0].base_url, fakes[1].base_url)
    raw["detection"] = {"detector": "basic", "complexity": "length"}  # start fast: no models to load
    path.write_text(yaml.safe_dump(raw))
    return path


class Gateway:
    def __init__(self, config: Path, data: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HYBRIDGATE_DATA_DIR": str(data)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        cmd = [sys.executable, "-m", "hybridgate", "serve", "--config", str(config), "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the workers die with it
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.kill()
        raise AssertionError("gateway did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(10)


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    d.mkdir()
    yield d


def requests_total(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10, headers={"connection": "close"}).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("hybridgate_requests_total{")
    )


def test_two_workers_aggregate_metrics(config_file: Path, data: Path) -> None:
    gw = Gateway(config_file, data, workers=2)
    try:
        for _ in range(3):  # both workers must be up before counting: each answers /healthz
            httpx.get(gw.url + "/healthz", headers={"connection": "close"})
        n = 40
        for _ in range(n):  # a new connection each time, so SO_REUSEPORT spreads them over the workers
            r = httpx.post(gw.url + "/v1/chat/completions", json=BODY, headers={"connection": "close"}, timeout=30)
            assert r.status_code == 200
        # whichever worker answers the scrape, it reports every worker's requests
        assert [requests_total(gw.url) for _ in range(6)] == [n] * 6
    finally:
        gw.kill()


def test_kill_9_mid_traffic_then_restart_chain_verifies(config_file: Path, data: Path) -> None:
    gw = Gateway(config_file, data)
    ok: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as c:
            while not stop.is_set():
                try:
                    r = c.post(gw.url + "/v1/chat/completions", json=BODY)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    ok.append(r.headers["x-hybridgate-request-id"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(ok) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    gw.kill(signal.SIGKILL)  # mid-traffic: requests are in flight
    stop.set()
    for t in threads:
        t.join(15)
    assert len(ok) >= 200

    gw = Gateway(config_file, data)  # restart: the chain continues from the last committed row
    try:
        r = httpx.post(gw.url + "/v1/chat/completions", json=BODY, timeout=30)
        assert r.status_code == 200
        ok.append(r.headers["x-hybridgate-request-id"])
    finally:
        gw.kill(signal.SIGTERM)
    store = SqliteAuditStore(data / "audit.db")
    v = verify(store, None)
    written = {orjson.loads(row.body)["request_id"] for row in store.rows()}
    store.close()
    assert v.ok, v.broken
    missing = set(ok) - written
    assert not missing, f"{len(missing)} requests answered 200 have no audit row"
