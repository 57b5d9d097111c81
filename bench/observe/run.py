"""Cost of observability: throughput and latency with metrics + audit + request logs on vs all off.

Both gateways run side by side in the same run against the same fake upstream, and rounds alternate
(off, on, on, off, ...) so drift on a shared machine hits both. Not a test: it prints a table.

Run: .venv/bin/python bench/observe/run.py [--seconds 8] [--rounds 3] [--conns 32] [--baseline-src DIR]

`--baseline-src` adds a third gateway, 'on' from another source tree (say a copy of src/ from before a
change), so a before/after comparison shares one run. Each round also reports the gateway's CPU time
per request (from /proc): steadier than req/s on a shared machine, and the same cost when CPU-bound.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "overhead"))
import loadgen  # noqa: E402
from procs import Proc, free_port  # noqa: E402

ROOT = HERE.parents[1]
HG = str(ROOT / ".venv/bin/hybridgate")
PY = str(ROOT / ".venv/bin/python")


def ctx_switches(pids: list[int]) -> int:
    """Context switches of every thread of these processes: the audit writer thread and the event loop
    share one core, so each hand-over of the GIL between them can cost a pair."""
    total = 0
    for pid in pids:
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            total += sum(int(ln.split()[1]) for ln in text.splitlines() if "ctxt_switches:" in ln)
    return total


def config(upstream: str, on: set[str]) -> dict[str, object]:
    return {
        "endpoints": [
            {
                "name": "fake",
                "kind": "openai",
                "base_url": f"{upstream}/v1",
                "trust": "self_hosted",
                "models": ["fake-model"],
                "max_in_flight": 2048,
            }
        ],
        "tiers": {"self_hosted": {"endpoints": ["fake"], "model": "fake-model"}},
        "policy": {"default_tier": "self_hosted"},
        "detection": {"detector": "basic", "complexity": "off"},
        "observability": {
            "metrics": {"enabled": "metrics" in on},
            "logs": {"requests": "logs" in on},
            "audit": {"enabled": "audit" in on},
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--gateway-cpus", default="0")
    ap.add_argument("--load-cpus", default="1")
    ap.add_argument("--on", default="metrics,logs,audit", help="what the 'on' gateway enables")
    ap.add_argument(
        "--baseline-src",
        help="also run an 'on' gateway from this source tree (a copy of src/ before a change), same rounds",
    )
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hg-bench-observe-"))
    up_port = free_port()
    upstream = Proc(
        "upstream", [PY, str(HERE.parent / "overhead/fake_upstream.py"), "--port", str(up_port)], up_port, a.load_cpus
    )
    on = set(a.on.split(","))
    variants: list[tuple[str, set[str], dict[str, str]]] = [("off", set(), {}), ("on", on, {})]
    if a.baseline_src:
        variants.append(("base", on, {"PYTHONPATH": str(Path(a.baseline_src).resolve())}))
    gws: dict[str, Proc] = {}
    for name, enabled, extra in variants:
        cfg = work / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump(config(f"http://127.0.0.1:{up_port}", enabled)))
        port = free_port()
        argv = [HG, "serve", "--config", str(cfg), "--port", str(port)]
        env = {"HYBRIDGATE_DATA_DIR": str(work / f"data-{name}"), **extra}
        gws[name] = Proc(name, argv, port, a.gateway_cpus, env=env, log=work / f"{name}.log")
    body = work / "body.json"
    body.write_text('{"model":"auto","messages":[{"role":"user","content":"Summarise: the quick brown fox."}]}')
    procs = [upstream, *gws.values()]
    names = list(gws)
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.wait_ready()
        results: dict[str, list[loadgen.Point]] = {n: [] for n in names}
        cpu_us: dict[str, list[float]] = {n: [] for n in names}  # gateway CPU time per request, from /proc
        ctx: dict[str, list[float]] = {n: [] for n in names}  # context switches per request, all threads
        busy: dict[str, list[float]] = {n: [] for n in names}  # gateway CPU seconds per second of load
        for gw in gws.values():  # warm-up
            loadgen.wrk(f"http://127.0.0.1:{gw.port}/v1/chat/completions", body, a.conns, 2, a.load_cpus, "x")
        for r in range(a.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]  # rotate, so drift hits every variant
            for name in order if r % 2 == 0 else order[::-1]:
                url = f"http://127.0.0.1:{gws[name].port}/v1/chat/completions"
                cpu0, ctx0 = gws[name].cpu(), ctx_switches(gws[name].pids())
                pt = loadgen.wrk(url, body, a.conns, a.seconds, a.load_cpus, "x")
                results[name].append(pt)
                cpu_us[name].append((gws[name].cpu() - cpu0) / max(pt.requests, 1) * 1e6)
                busy[name].append((gws[name].cpu() - cpu0) / a.seconds)
                ctx[name].append((ctx_switches(gws[name].pids()) - ctx0) / max(pt.requests, 1))
                line = f"{pt.rps:8.0f} req/s  p50 {pt.p50_ms:6.2f} ms  p99 {pt.p99_ms:6.2f} ms  errors {pt.errors}"
                line += (
                    f"  cpu {cpu_us[name][-1]:6.0f} us/req  ctx {ctx[name][-1]:5.2f}/req  busy {busy[name][-1]:4.2f}"
                )
                print(f"round {r + 1} {name:>4}: {line}")
        rows = audit_rows(work / "data-on" / "audit.db")
    finally:
        for p in procs:
            p.stop()
    summarise(results, cpu_us, ctx, busy, rows, a)


def audit_rows(path: Path) -> int:
    import sqlite3

    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])


def summarise(
    results: dict[str, list[loadgen.Point]],
    cpu_us: dict[str, list[float]],
    ctx: dict[str, list[float]],
    busy: dict[str, list[float]],
    rows: int,
    a: argparse.Namespace,
) -> None:
    med = {k: statistics.median(p.rps for p in v) for k, v in results.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_us.items()}
    p50 = {k: statistics.median(p.p50_ms for p in v) for k, v in results.items()}
    p99 = {k: statistics.median(p.p99_ms for p in v) for k, v in results.items()}
    print()
    cs = {k: statistics.median(v) for k, v in ctx.items()}
    util = {k: statistics.median(v) for k, v in busy.items()}
    print(
        f"| observability | req/s (median of {a.rounds}) | p50 ms | p99 ms | gateway CPU us/req "
        "(min-max) | ctx switches/req | busy | cost vs off |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in results:
        cost = f"{100 * (1 - med[k] / med['off']):.1f}%" if k != "off" else "-"
        span = f"{cpu[k]:.0f} ({min(cpu_us[k]):.0f}-{max(cpu_us[k]):.0f})"
        print(f"| {k} | {med[k]:.0f} | {p50[k]:.2f} | {p99[k]:.2f} | {span} | {cs[k]:.2f} | {util[k]:.2f} | {cost} |")
    print()
    print(f"throughput cost: {100 * (1 - med['on'] / med['off']):.1f}%  (target <= 10%)")
    print("busy: gateway CPU seconds per second; below 1.0 the core sat idle (or was taken by others)")
    # The gateway is CPU-bound on its one core, so CPU per request is the steadier view of the same cost.
    for k in results:
        if k != "off":
            print(f"CPU per request, {k} vs off: {100 * (cpu[k] / cpu['off'] - 1):+.1f}%")
    print(f"added p50 latency: {p50['on'] - p50['off']:+.2f} ms; audit rows written by 'on': {rows}")
    print(f"on = {a.on}" + (f"; base = the same, from {a.baseline_src}" if a.baseline_src else ""))
    print(f"cpus: gateway {a.gateway_cpus}, load+upstream {a.load_cpus}; {a.conns} connections")
    print(f"{os.cpu_count()} cpus total")


if __name__ == "__main__":
    main()
