"""CPU per request of each piece of the access path, in-process, one piece at a time.

    .venv/bin/python bench/access/pieces.py [--n 20000] [--repeat 5] [--baseline-src DIR] [--services]

Pieces (microseconds of this process's CPU per request, every thread counted, so the SQLite writer
thread's work and its GIL hand-offs are in):

    auth      `authenticate(header)` with the lookup cached, as on a busy gateway
    admit     `admit(plan)`: estimate, limits taken (in-process counters), x-ratelimit-* headers
    cost      the cost of the answer's usage (what `Pipeline.record` adds when access is on)
    settle    `settle(plan, ticket, record)`
    usage     `UsageWriter.observe(record)` and the batched SQLite writes (WAL file in a temp dir)
    usage-pg  the same into PostgreSQL (binary COPY; client CPU only)       [--services]
    redis     admit + settle with the counters in Redis (leases; client CPU) [--services]

With --baseline-src each repeat runs the baseline tree and this tree in fresh processes, alternating.
With --callgrind each piece is counted in instructions by valgrind (`--dump-before=getppid`: the child
calls os.getppid() between pieces), which other load on the machine does not move; use a smaller --n.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cpu import bench_key

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("HYBRIDGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
BODY = {"model": "auto", "messages": [{"role": "user", "content": "Summarise: the quick brown fox."}],
        "max_tokens": 64}  # fmt: skip
USAGE = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}
IN_FLIGHT = 32


MARKS: list[str] = []


def mark(name: str) -> None:
    """Ends a region for --callgrind (valgrind dumps its counts at every getppid); `-`: not measured."""
    MARKS.append(name)
    os.getppid()


async def measure(n: int, services: bool) -> dict[str, float]:
    from hybridgate.access.admission import Admission
    from hybridgate.access.config import AccessConfig
    from hybridgate.access.counters import Counters, LocalCounters
    from hybridgate.access.usage import UsageWriter
    from hybridgate.store.records import AttemptRecord, UsageRecord
    from hybridgate.store.sqlite import SqliteStore

    auth, header, cost = await bench_key()
    attempt = SimpleNamespace(endpoint="vllm", model="llama-3-8b")
    principal = await auth.authenticate(header)

    def record(i: int) -> UsageRecord:
        return UsageRecord(ts=time.time(), request_id=f"r{i}", key_id=principal.key_id, team="bench",
                           route_tag="default", tier="self_hosted", endpoint="vllm", trust="self_hosted",
                           model="llama-3-8b", rule_id="default", data_class="public", status=200, prompt_tokens=12,
                           completion_tokens=20, latency_ms=1.5, cost_usd=cost("vllm", "llama-3-8b", USAGE),
                           attempts=(AttemptRecord("vllm", "self_hosted", "ok", 0.7),),
                           finding_counts={})  # fmt: skip

    out: dict[str, float] = {}
    gc.collect()  # as a serving worker does after start-up (api/heap.py)
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])

    def per(t0: float, count: int) -> float:
        return (time.process_time() - t0) / count * 1e6

    # auth
    for _ in range(1000):
        await auth.authenticate(header)
    mark("-")
    t0 = time.process_time()
    for _ in range(n):
        await auth.authenticate(header)
    out["auth"] = per(t0, n)
    mark("auth")

    # admit, cost, settle: in-process counters
    async def limits(counters: Counters, tag: str) -> None:
        adm = Admission(counters, auth, AccessConfig(), cost)
        plans = [SimpleNamespace(request_id=f"{tag}{i}", body=BODY, op="chat", principal=principal,
                                 attempts=[attempt]) for i in range(n)]  # fmt: skip
        recs = [record(i) for i in range(256)]
        admit_now = getattr(adm, "admit_now", None)  # older trees have only `admit`
        for p in plans[:500]:  # warm-up: binds, leases
            adm.settle(p, await adm.admit(p), recs[0])  # type: ignore[arg-type]
        admit_s = cost_s = settle_s = 0.0
        clock = time.process_time
        mark("-")
        for lo in range(0, n, IN_FLIGHT):  # IN_FLIGHT admitted, then settled: requests in flight
            chunk = plans[lo : lo + IN_FLIGHT]
            t0 = clock()
            tickets = []
            for p in chunk:  # as Pipeline._reserve: without awaiting where the tree under test can
                t = admit_now(p) if admit_now is not None else None
                tickets.append(t if t is not None else await adm.admit(p))  # type: ignore[arg-type]
            t1 = clock()
            for _ in chunk:
                cost(attempt.endpoint, attempt.model, USAGE)
            t2 = clock()
            for i, (p, t) in enumerate(zip(chunk, tickets, strict=True)):
                adm.settle(p, t, recs[i])  # type: ignore[arg-type]
            t3 = clock()
            admit_s, cost_s, settle_s = admit_s + t1 - t0, cost_s + t2 - t1, settle_s + t3 - t2
        mark("admit+cost+settle" if tag == "l" else "redis")
        admit_us, cost_us, settle_us = admit_s / n * 1e6, cost_s / n * 1e6, settle_s / n * 1e6
        await adm.drain()
        if tag == "l":
            out["admit"], out["cost"], out["settle"] = admit_us, cost_us, settle_us
        else:
            out["redis"] = admit_us + settle_us

    await limits(LocalCounters(), "l")

    # usage: observe + batched writes
    async def usage(st: Any, name: str) -> None:
        await st.migrate()
        w = UsageWriter(st)
        w.start()
        recs = [record(i) for i in range(n)]
        for r in recs[:1000]:
            w.observe(r)
        await w.flush()
        mark("-")
        t0 = time.process_time()
        for i, r in enumerate(recs):
            w.observe(r)
            if i % 32 == 31:
                await asyncio.sleep(0)  # an event-loop turn, as between requests
        await w.aclose()
        out[name] = per(t0, n)
        mark(name)
        await st.aclose()

    with tempfile.TemporaryDirectory() as tmp:
        await usage(SqliteStore(f"sqlite:///{tmp}/usage.db"), "usage")

    if services:
        from hybridgate.access.redis_counters import RedisCounters
        from hybridgate.store.postgres import PostgresStore

        schema = f"hgpieces_{uuid.uuid4().hex[:8]}"
        try:
            await usage(PostgresStore(f"{PG}?schema={schema}"), "usage-pg")
        finally:
            import asyncpg

            conn = await asyncpg.connect(PG)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()
        rc = RedisCounters(REDIS, prefix=f"hgpieces:{uuid.uuid4().hex[:8]}:")
        try:
            await limits(rc, "r")
        finally:
            await rc.delete_prefix()
            await rc.aclose()
    return out


def child(src: str | None, n: int, services: bool, callgrind: bool = False) -> dict[str, float]:
    """CPU us per request of each piece; with `callgrind`, instructions per request instead (valgrind)."""
    env = {**os.environ, **({"PYTHONPATH": src} if src else {})}
    argv = [sys.executable, __file__, "--child", "--n", str(n), *(["--services"] if services else [])]
    with tempfile.TemporaryDirectory() as tmp:
        if callgrind:
            argv = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={tmp}/cg", *argv]
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        marks = got.pop("marks")
        if not callgrind:
            return {k: float(v) for k, v in got.items()}
        counts = {}
        for i, name in enumerate(marks, start=1):  # dump i holds what ran up to the i-th mark
            if name != "-":
                text = Path(f"{tmp}/cg.{i}").read_text()
                total = next(int(ln.split()[1]) for ln in text.splitlines() if ln.startswith("totals:"))
                counts[name] = total / n
        return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--services", action="store_true", help="also PostgreSQL (usage) and Redis (counters)")
    ap.add_argument("--baseline-src", help="also measure this source tree (or its src/), alternating")
    ap.add_argument("--callgrind", action="store_true", help="instructions per request (valgrind), not CPU time")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        import uvloop  # as `hybridgate serve` runs

        got = uvloop.run(measure(a.n, a.services))
        print(json.dumps({**got, "marks": MARKS}))
        return
    trees = {"this": str(ROOT / "src")}
    if a.baseline_src:
        base = Path(a.baseline_src).resolve()
        trees = {"base": str(base / "src" if (base / "src").is_dir() else base), **trees}
    got: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for _ in range(a.repeat):
        for name, src in trees.items():
            got[name].append(child(src, a.n, a.services, a.callgrind))
    pieces = list(next(iter(got.values()))[0])
    unit = "instructions" if a.callgrind else "CPU us"
    print(f"\naccess {unit} per request by piece (median of {a.repeat} x {a.n}; range)\n")
    print(f"{'piece':<10}" + "".join(f" {name:>22}" for name in trees))
    for piece in pieces:
        cells = []
        for rows in got.values():
            xs = [r[piece] for r in rows]
            if a.callgrind:
                cells.append(f"{statistics.median(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})")
            else:
                cells.append(f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})")
        print(f"{piece:<10}" + "".join(f" {c:>22}" for c in cells))


if __name__ == "__main__":
    main()
