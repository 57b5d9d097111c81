"""Access control overhead: the same gateway with auth + limits + budgets + usage recording off and on,
in the same run, against one fast fake upstream. Variants:

    off          access.enabled: false (no auth, no limits, no usage writes)
    usage        access on, no key exists (open): cost + usage records batched to SQLite
    keys         + a virtual key on every request (auth with the cached lookup), no limits
    sqlite       + RPM/TPM/concurrency/daily budget on the key (in-process counters)
    pg+redis     the same with keys and usage in PostgreSQL and the counters in Redis (--services)

Rounds alternate between variants so that drift on a shared machine hits all of them alike.
Run: .venv/bin/python bench/access/run.py [--seconds 5] [--rounds 2] [--concurrency 32] [--services]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
HG = str(ROOT / ".venv/bin/hybridgate")
UPSTREAM = ROOT / "bench/overhead/fake_upstream.py"
BODY = b'{"model":"auto","messages":[{"role":"user","content":"Summarise: the quick brown fox."}],"max_tokens":64}'
PG = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
REDIS = os.environ.get("HYBRIDGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
HUGE = ["--rpm", "100000000", "--tpm", "1000000000", "--concurrent", "100000", "--daily-usd", "1000000"]


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited")
        try:
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def config(upstream: int, **extra: object) -> dict[str, object]:
    return {
        "endpoints": [{"name": "vllm", "kind": "openai", "base_url": f"http://127.0.0.1:{upstream}/v1",
                       "trust": "self_hosted", "models": ["llama-3-8b"], "max_in_flight": 100000}],
        "tiers": {"self_hosted": {"endpoints": ["vllm"], "model": "llama-3-8b"}},
        "policy": {"default_tier": "self_hosted"},
        "detection": {"detector": "basic", "complexity": "length"},
        **extra,
    }  # fmt: skip


@dataclass
class Variant:
    name: str
    url: str
    key: str | None


def start_variant(
    name: str, cfg: dict[str, object], work: Path, procs: list[subprocess.Popen[bytes]], key_args: list[str] | None
) -> Variant:
    d = work / name
    d.mkdir()
    path = d / "hg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "HYBRIDGATE_DATA_DIR": str(d / "data")}
    key = None
    if key_args is not None:
        argv = [HG, "keys", "create", "--config", str(path), "--team", "bench", "--name", name, *key_args]
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        key = out.stdout.strip().splitlines()[-1]
    p = port()
    proc = subprocess.Popen([HG, "serve", "--config", str(path), "--port", str(p)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    procs.append(proc)
    url = f"http://127.0.0.1:{p}"
    wait_up(url, proc)
    return Variant(name, url, key)


async def load(v: Variant, seconds: float, conc: int) -> tuple[float, list[float], int]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {v.key}"} if v.key else {})}
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            async with s.post(v.url + "/v1/chat/completions", data=BODY, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            lat.append((time.perf_counter() - t0) * 1000)

    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(50):  # warm-up: connections, caches, first key lookup
            async with s.post(v.url + "/v1/chat/completions", data=BODY, headers=headers) as r:
                await r.read()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(s) for _ in range(conc)))
        elapsed = time.perf_counter() - t0
    return len(lat) / elapsed, lat, errors


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q / 100 * len(s)))] if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--services", action="store_true", help="also PostgreSQL + Redis")
    a = ap.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    schema = f"hgbench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            up = port()
            procs.append(subprocess.Popen([sys.executable, str(UPSTREAM), "--port", str(up)]))
            wait_up(f"http://127.0.0.1:{up}", procs[-1])
            variants = [
                start_variant("off", config(up, access={"enabled": False}), work, procs, None),
                start_variant("usage", config(up), work, procs, None),
                start_variant("keys", config(up), work, procs, []),
                start_variant("sqlite", config(up), work, procs, HUGE),
            ]
            if a.services:
                store = {"url": f"{PG}?schema={schema}", "redis_url": REDIS}
                access = {"redis_prefix": f"hgbench:{schema}:"}
                variants.append(start_variant("pg+redis", config(up, store=store, access=access), work, procs, HUGE))
            results: dict[str, list[tuple[float, list[float], int]]] = {v.name: [] for v in variants}
            for _ in range(a.rounds):
                for v in variants:
                    results[v.name].append(asyncio.run(load(v, a.seconds, a.concurrency)))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
    report(results, a)


def report(results: dict[str, list[tuple[float, list[float], int]]], a: argparse.Namespace) -> None:
    base = statistics.mean(r[0] for r in results["off"])
    base_p50 = pct([x for r in results["off"] for x in r[1]], 50)
    print(f"\naccess overhead: {a.rounds} rounds x {a.seconds:g}s, concurrency {a.concurrency}, one worker each\n")
    print(f"{'variant':<10} {'req/s':>8} {'vs off':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'errors':>7}")
    for name, rs in results.items():
        rps = statistics.mean(r[0] for r in rs)
        lat = [x for r in rs for x in r[1]]
        p50 = pct(lat, 50)
        print(f"{name:<10} {rps:>8.0f} {rps / base:>8.1%} {p50:>8.2f} {pct(lat, 99):>8.2f} {p50 - base_p50:>8.2f} "
              f"{sum(r[2] for r in rs):>7}")  # fmt: skip


if __name__ == "__main__":
    main()
