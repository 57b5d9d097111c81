"""CPU time per request of each observer, in-process: steady on a shared machine, unlike req/s.

Runs whatever `hybridgate` is importable, so old and new code compare in one shell:

    .venv/bin/python bench/observe/micro.py                                # this tree
    PYTHONPATH=/tmp/obs-old/src .venv/bin/python bench/observe/micro.py    # a copy from before a change

Parts: the metrics observer (observe, one flush per `--per-iter` records), the request log line (to
/dev/null, one write per `--per-iter`), the audit entry (record -> canonical bytes), the SQLite append
(per row, in batches of `--batch`), and the whole audit path as the gateway runs it: `--conns` tasks
on one event loop each observing a record and awaiting `durable()`, with the writer thread (its CPU
counts too: process time covers every thread). Each number is the median of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import hybridgate
from hybridgate.store.records import AttemptRecord, UsageRecord


def record(i: int) -> UsageRecord:
    """A record shaped like the ones bench/observe/run.py produces (one attempt, usage reported)."""
    now = time.time()
    return UsageRecord(
        ts=now,
        request_id=f"hg-{int(now * 1000):012x}{i:012x}",
        key_id=None,
        team=None,
        route_tag="default",
        tier="self_hosted",
        endpoint="fake",
        trust="self_hosted",
        model="fake-model",
        rule_id="default",
        data_class="public",
        status=200,
        prompt_tokens=12,
        completion_tokens=9,
        latency_ms=1.234567 + (i % 7) * 0.1,
        cost_usd=0.0,
        attempts=(AttemptRecord("fake", "self_hosted", "ok", 0.53421 + (i % 5) * 0.01),),
        reason="default tier",
        allowed_trust=("frontier", "self_hosted"),
        decision_tier="self_hosted",
        auto_routed=True,
    )


def per_call_us(fn: Callable[[], int], repeat: int) -> float:
    """Median over `repeat` runs of process CPU time / items `fn` reports it handled, in microseconds."""
    out = []
    for _ in range(repeat):
        t0 = time.process_time()
        n = fn()
        out.append((time.process_time() - t0) / n * 1e6)
    return statistics.median(out)


def bench_metrics(recs: list[UsageRecord], per_iter: int) -> Callable[[], int]:
    from prometheus_client import CollectorRegistry

    from hybridgate.observe.metrics import Metrics
    from hybridgate.observe.metrics_observer import MetricsObserver

    obs = MetricsObserver(
        Metrics(CollectorRegistry()),
        endpoints=["fake"],
        tiers=["self_hosted"],
        models=["fake-model"],
        rules=[],
        flush_every_iteration=False,
    )

    def run() -> int:
        for j, r in enumerate(recs):
            obs.observe(r)
            if j % per_iter == per_iter - 1:
                obs.flush()
        obs.flush()
        return len(recs)

    return run


def bench_logs(recs: list[UsageRecord], per_iter: int) -> Callable[[], int]:
    from hybridgate.observe.config import LogConfig
    from hybridgate.observe.logging import RequestLogger

    sink = open("/dev/null", "wb")  # noqa: SIM115 - lives as long as the benchmark
    lg = RequestLogger(LogConfig(), sink=sink)

    async def go() -> int:
        for j, r in enumerate(recs):
            lg.observe(r)  # schedules a flush for the end of this loop iteration
            if j % per_iter == per_iter - 1:
                await asyncio.sleep(0)
        lg.flush()
        return len(recs)

    return lambda: asyncio.run(go())


def bench_entry(recs: list[UsageRecord]) -> Callable[[], int]:
    from hybridgate.observe.audit.entry import pending_of

    def run() -> int:
        for r in recs:
            pending_of(r)
        return len(recs)

    return run


def bench_append(recs: list[UsageRecord], batch: int, work: Path) -> Callable[[], int]:
    from hybridgate.observe.audit.entry import pending_of
    from hybridgate.observe.audit.store import SqliteAuditStore

    store = SqliteAuditStore(work / f"append-{batch}.db")
    items = [pending_of(r) for r in recs]

    def run() -> int:
        for i in range(0, len(items), batch):
            store.append(items[i : i + batch], time.time())
        return len(items)

    return run


def bench_audit_path(recs: list[UsageRecord], conns: int, work: Path) -> Callable[[], int]:
    """Observe + durable() from `conns` concurrent tasks, the writer thread committing group batches."""
    from hybridgate.observe.audit.store import SqliteAuditStore
    from hybridgate.observe.audit.writer import AuditLog

    path = work / f"path-{conns}.db"

    async def go() -> int:
        audit = AuditLog(lambda: SqliteAuditStore(path))
        audit.start()
        per_task = len(recs) // conns

        async def client(c: int) -> None:
            for k in range(per_task):
                audit.observe(recs[c * per_task + k])
                await audit.durable()
                await asyncio.sleep(0)  # the rest of a request: other tasks run meanwhile

        await asyncio.gather(*(client(c) for c in range(conns)))
        await audit.stop()
        return per_task * conns

    return lambda: asyncio.run(go())


def bench_idle_loop(recs: list[UsageRecord], conns: int) -> Callable[[], int]:
    """The same tasks with no audit: subtracted from the audit path to leave the audit's own cost."""

    async def go() -> int:
        per_task = len(recs) // conns

        async def client() -> None:
            for _ in range(per_task):
                await asyncio.sleep(0)

        await asyncio.gather(*(client() for _ in range(conns)))
        return per_task * conns

    return lambda: asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20_000, help="records per run")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--per-iter", type=int, default=8, help="records per event-loop iteration (flush unit)")
    ap.add_argument("--batch", type=int, default=16, help="rows per SQLite transaction")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--only", default="", help="comma-separated part names")
    a = ap.parse_args()
    recs = [record(i) for i in range(a.n)]
    work = Path(tempfile.mkdtemp(prefix="hg-micro-observe-"))
    parts: dict[str, Callable[[], int]] = {
        "metrics": bench_metrics(recs, a.per_iter),
        "logs": bench_logs(recs, a.per_iter),
        "audit_entry": bench_entry(recs),
        "audit_append": bench_append(recs, a.batch, work),
        "audit_path": bench_audit_path(recs, a.conns, work),
        "idle_loop": bench_idle_loop(recs, a.conns),
    }
    only = set(a.only.split(",")) if a.only else set(parts)
    print(f"hybridgate from {Path(hybridgate.__file__).parent}")
    res = {}
    for name, fn in parts.items():
        if name in only:
            res[name] = per_call_us(fn, a.repeat)
            print(f"{name:>13}: {res[name]:7.2f} us/request")
    if "audit_path" in res and "idle_loop" in res:
        print(f"{'audit (net)':>13}: {res['audit_path'] - res['idle_loop']:7.2f} us/request  (audit_path - idle_loop)")
    if {"metrics", "logs", "audit_path", "idle_loop"} <= res.keys():
        total = res["metrics"] + res["logs"] + res["audit_path"] - res["idle_loop"]
        print(f"{'total':>13}: {total:7.2f} us/request  (metrics + logs + audit net)")


if __name__ == "__main__":
    main()
