"""CPU per request of the access bookkeeping alone (key check, admit, cost, settle), in-process, old vs new.

Unlike run.py this does not depend on load from other processes as much: it counts this process's CPU
time (time.process_time) over many requests. With --redis the counters live in Redis: client CPU, and
the Redis server's CPU over the same requests from `INFO cpu` (which counts every client's work). The
key is run.py's: RPM, TPM, concurrency and a daily budget, a self-hosted endpoint priced from the GPU
cost model; its lookup is cached, as on a busy gateway.

    .venv/bin/python bench/access/cpu.py [--baseline-src DIR] [--redis] [--n 20000] [--repeat 7]

With --baseline-src, each repeat runs the baseline tree and this tree in fresh processes, alternating,
and the table gives the median and range of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("HYBRIDGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
BODY = {"model": "auto", "messages": [{"role": "user", "content": "Summarise: the quick brown fox."}],
        "max_tokens": 64}  # fmt: skip
USAGE = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}
CONCURRENCY = 32


async def bench_key() -> tuple[Any, str, Any]:
    """A key with limits no benchmark reaches, in a memory store: its authenticator, its `Authorization`
    header, and the cost model the benchmarks price answers with (imports here: the tree under test is on
    sys.path only in the child process)."""
    from hybridgate.access.config import Budget, Limits
    from hybridgate.access.cost import CostModel
    from hybridgate.auth.authenticator import KeyAuthenticator
    from hybridgate.auth.keys import new_key
    from hybridgate.economics.catalogue import load_catalogue
    from hybridgate.labels import Trust
    from hybridgate.store.base import MemoryStore

    store = MemoryStore()
    secret, key = new_key("bench", "bench", time.time(), budget=Budget(daily_usd=1_000_000),
                          limits=Limits(rpm=100_000_000, tpm=1_000_000_000, concurrent=100_000))  # fmt: skip
    await store.add_key(key)
    auth = KeyAuthenticator(store)
    header = f"Bearer {secret}"
    cost = CostModel({"vllm": Trust.SELF_HOSTED}, {}, load_catalogue())
    return auth, header, cost


async def measure(n: int, use_redis: bool) -> tuple[float, float]:
    """Microseconds of CPU per request: this process, and the Redis server (0 without --redis)."""
    from hybridgate.access.admission import Admission
    from hybridgate.access.config import AccessConfig
    from hybridgate.access.counters import Counters, LocalCounters
    from hybridgate.store.records import UsageRecord

    counters: Counters
    if use_redis:
        from hybridgate.access.redis_counters import RedisCounters

        counters = RedisCounters(REDIS, prefix=f"hgcpu:{uuid.uuid4().hex[:8]}:")
    else:
        counters = LocalCounters()
    auth, header, cost = await bench_key()
    adm = Admission(counters, auth, AccessConfig(), cost)
    attempt = SimpleNamespace(endpoint="vllm", model="llama-3-8b")
    rec = UsageRecord(ts=0, request_id="x", key_id="k1", team="bench", route_tag=None, tier="self_hosted",
                      endpoint="vllm", trust="self_hosted", model="llama-3-8b", rule_id="x", data_class="public",
                      status=200, prompt_tokens=12, completion_tokens=20,
                      cost_usd=cost("vllm", "llama-3-8b", USAGE))  # fmt: skip

    admit_now = getattr(adm, "admit_now", None)  # older trees have only `admit`

    async def one(i: int) -> None:
        principal = await auth.authenticate(header)
        plan: Any = SimpleNamespace(request_id=f"r{i}", body=BODY, op="chat", principal=principal, attempts=[attempt])
        ticket = admit_now(plan) if admit_now is not None else None  # as Pipeline._reserve
        if ticket is None:
            ticket = await adm.admit(plan)
        cost(attempt.endpoint, attempt.model, USAGE)  # what pipeline.record() adds when access is on
        adm.settle(plan, ticket, rec)

    async def worker(start: int, count: int) -> None:
        for i in range(start, start + count):
            await one(i)

    async def server_cpu() -> float:  # Redis's own CPU seconds so far (every client's, not only ours)
        if not use_redis:
            return 0.0
        rc: Any = counters
        info = await rc.redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    per = n // CONCURRENCY
    await asyncio.gather(*(worker(w * per, min(per, 500)) for w in range(CONCURRENCY)))  # warm-up
    s0 = await server_cpu()
    t0 = time.process_time()
    await asyncio.gather(*(worker(10**9 + w * per, per) for w in range(CONCURRENCY)))
    cpu = time.process_time() - t0
    await adm.drain()
    server = await server_cpu() - s0
    if use_redis:
        rc: Any = counters
        await rc.delete_prefix()
    await counters.aclose()
    return cpu / (per * CONCURRENCY) * 1e6, server / (per * CONCURRENCY) * 1e6


def child(src: str | None, n: int, use_redis: bool) -> tuple[float, float]:
    env = {**os.environ, **({"PYTHONPATH": src} if src else {})}
    argv = [sys.executable, __file__, "--child", "--n", str(n), *(["--redis"] if use_redis else [])]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return float(got["us"]), float(got["server_us"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--redis", action="store_true", help="counters in Redis (client CPU)")
    ap.add_argument("--baseline-src", help="also measure this source tree (its src/), alternating")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        us, server_us = asyncio.run(measure(a.n, a.redis))
        print(json.dumps({"us": us, "server_us": server_us}))
        return
    trees = {"this": str(ROOT / "src")}
    if a.baseline_src:
        trees = {"base": str(Path(a.baseline_src).resolve() / "src"), **trees}
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    for _ in range(a.repeat):
        for name, src in trees.items():
            got[name].append(child(src, a.n, a.redis))
    kind = "redis" if a.redis else "local"
    print(f"\naccess CPU per request ({kind} counters), {a.repeat} x {a.n} requests, concurrency {CONCURRENCY}\n")
    print(f"{'tree':<6} {'median us':>10} {'range':>16}" + (f" {'redis-server us':>16}" if a.redis else ""))
    for name, pairs in got.items():
        xs = [x for x, _ in pairs]
        line = f"{name:<6} {statistics.median(xs):>10.1f} {f'{min(xs):.1f}-{max(xs):.1f}':>16}"
        if a.redis:  # the server's CPU over the same requests (any other client's work included)
            line += f" {statistics.median(s for _, s in pairs):>16.1f}"
        print(line)


if __name__ == "__main__":
    main()
