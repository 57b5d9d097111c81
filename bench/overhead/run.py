"""Gateway overhead benchmark: direct vs bare proxy vs hybridgate (minimal, full) vs LiteLLM, interleaved.

    .venv/bin/python bench/overhead/run.py --quick            # ~4 minutes
    .venv/bin/python bench/overhead/run.py --seconds 10       # longer points
    .venv/bin/python bench/overhead/run.py --soak 600         # + a 10-minute soak of hg-full

Layout on 2 cores: CPU 1 runs the one worker under test (for `direct`, the fake itself); CPU 0 runs
wrk, this harness (open-loop and streaming clients) and the fake upstream the proxies call.
Writes bench/results/overhead-<time>.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import loadgen
import report
from procs import free_port
from prompt import NUMBERED_USER, SYSTEM
from targets import ALL, CHAT, CONFIGS, HERE, LOAD_CPUS, SUT_CPUS, Target, active_components, build, fake

RESULTS = HERE.parent / "results"
CONCURRENCY = (1, 16, 64, 256)
OPEN_LOOP_CAP = 4000.0  # what the Python open-loop client sustains on its shared core


def bodies(tmp: Path) -> dict[str, Path]:
    """The same ~1 KB, PII-free chat request for every target (numbered per request by the load generators);
    variants for stream, slow and paced."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": NUMBERED_USER}]
    base = {"model": "auto", "messages": messages}
    variants = {
        "json": base,
        "stream": {**base, "stream": True},
        "slow": {**base, "model": "slow-60"},
        "paced": {**base, "model": "paced", "stream": True},
    }
    out = {}
    for k, v in variants.items():
        out[k] = tmp / f"body-{k}.json"
        out[k].write_text(json.dumps(v))
    return out


def measure(t: Target, body: Path, conns: int, seconds: float) -> dict[str, Any]:
    cpu0 = t.proc.cpu() if t.proc.popen else 0.0
    p = loadgen.wrk(t.url, body, conns, seconds, LOAD_CPUS, t.auth)
    cpu = (t.proc.cpu() if t.proc.popen else 0.0) - cpu0
    row = asdict(p)
    row["cpu_s_per_1k"] = cpu / max(1, p.requests) * 1000 if t.proc.popen else None
    return row


def rotate(names: list[str], k: int) -> list[str]:
    k %= len(names)
    return names[k:] + names[:k]


def closed_loop(ts: dict[str, Target], bodies: dict[str, Path], secs: float, res: dict[str, Any]) -> None:
    names = list(ts)
    for i, c in enumerate(CONCURRENCY):
        for n in rotate(names, i):  # interleaved, a different target first at each level
            row = measure(ts[n], bodies["json"], c, secs)
            res["closed"].setdefault(n, {})[str(c)] = row
            print(f"  json c={c:<4} {n:<8} {row['rps']:9.0f} req/s  p50 {row['p50_ms']:7.2f} ms", flush=True)
    for name, key, c in (("slow60", "slow", 256), ("stream", "stream", 16)):
        for n in names:
            row = measure(ts[n], bodies[key], c, secs)
            res[name][n] = row
            print(f"  {name} c={c:<4} {n:<8} {row['rps']:9.0f} req/s  p50 {row['p50_ms']:7.2f} ms", flush=True)


def streaming(ts: dict[str, Target], bodies: dict[str, Path], n: int, res: dict[str, Any]) -> None:
    body = bodies["paced"].read_bytes()
    for name, t in ts.items():
        s = loadgen.run_async(loadgen.stream_probe(t.proc.port, CHAT, body, n, t.auth))
        res["ttft"][name] = asdict(s)  # type: ignore[call-overload]
        print(f"  paced stream {name:<8} ttft p50 {res['ttft'][name]['ttft_p50_ms']:.2f} ms", flush=True)


def open_loop(ts: dict[str, Target], bodies: dict[str, Path], secs: float, res: dict[str, Any]) -> None:
    body = bodies["json"].read_bytes()
    for name, t in ts.items():
        best = max(r["rps"] for r in res["closed"][name].values())
        rate = min(0.8 * best, OPEN_LOOP_CAP)
        p = loadgen.run_async(loadgen.open_loop(t.proc.port, CHAT, body, rate, secs, t.auth))
        res["open"][name] = {"rate": rate, **asdict(p)}  # type: ignore[call-overload]
        print(f"  open loop {name:<8} at {rate:7.0f}/s  p99 {res['open'][name]['p99_ms']:.2f} ms", flush=True)


def soak(t: Target, bodies: dict[str, Path], secs: float, rate: float, res: dict[str, Any]) -> None:
    body = bodies["json"].read_bytes()
    samples = [(0.0, sum(t.proc.rss()))]
    by_role = [(0.0, t.proc.rss_by_role())]  # a worker's growth and a sidecar's, told apart
    errors = requests = 0
    start = time.monotonic()
    while time.monotonic() - start < secs:
        p = loadgen.run_async(loadgen.open_loop(t.proc.port, CHAT, body, rate, 30, t.auth))
        errors += p.errors  # type: ignore[attr-defined]
        requests += p.requests  # type: ignore[attr-defined]
        samples.append((time.monotonic() - start, sum(t.proc.rss())))
        by_role.append((samples[-1][0], t.proc.rss_by_role()))
        print(f"  soak {t.name} t={samples[-1][0]:5.0f}s rss {samples[-1][1]:.1f} MB errors {errors}", flush=True)
    res["soak"] = {"target": t.name, "rate": rate, "requests": requests, "errors": errors, "rss": samples}
    res["soak"]["rss_roles"] = by_role


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 s per point, 30 paced streams")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each load point")
    ap.add_argument("--targets", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    ap.add_argument("--streams", type=int, default=100, help="paced streams per target for TTFT")
    ap.add_argument("--soak", type=float, default=0.0, help="seconds of soak after the runs (0: none; 600 = 10 min)")
    ap.add_argument("--soak-target", default="hg-full", help="which target to soak")
    ap.add_argument("--soak-rate", type=float, default=0.0, help="open-loop req/s (default: half its best rate)")
    ap.add_argument("--report", type=Path, help="only re-render the tables and chart of a results .json")
    a = ap.parse_args()
    if a.report:
        saved: dict[str, Any] = json.loads(a.report.read_text())
        report.chart(saved, a.report.with_suffix(".png"))
        a.report.with_suffix(".md").write_text(report.markdown(saved))
        print(report.markdown(saved))
        return
    secs, n_streams = (4.0, 30) if a.quick else (a.seconds, a.streams)
    os.sched_setaffinity(0, {int(LOAD_CPUS)})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tmp = RESULTS / "tmp" / stamp
    tmp.mkdir(parents=True, exist_ok=True)
    up_port, direct_port = free_port(), free_port()
    fakes = [fake(up_port, LOAD_CPUS, tmp, 1.0), fake(direct_port, SUT_CPUS, tmp, 1.0)]
    names = [n.strip() for n in a.targets.split(",") if n.strip()]
    ts = {n: build(n, up_port, direct_port, tmp, tmp / "data") for n in names}
    res: dict[str, Any] = {"closed": {}, "slow60": {}, "stream": {}, "ttft": {}, "open": {}, "rss_mb": {}}
    res["rss_roles"] = {}
    res["meta"] = {"stamp": stamp, "seconds": secs, "cpus": os.cpu_count(), "load": os.getloadavg()}
    res["meta"]["notes"] = {n: t.note for n, t in ts.items()}
    try:
        for p in fakes + [t.proc for t in ts.values() if t.proc.argv]:
            p.start()
        for p in fakes + [t.proc for t in ts.values() if t.proc.argv]:
            p.wait_ready()
        ts["direct"].proc.popen = fakes[1].popen if "direct" in ts else None
        res["meta"]["components"] = {
            n: active_components(HERE / "configs" / CONFIGS[n], up_port, tmp / "data" / n) for n in ts if n in CONFIGS
        }
        b = bodies(tmp)
        for t in ts.values():  # warm-up: connection pools, lazy imports, LiteLLM's first-call setup
            loadgen.wrk(t.url, b["json"], 4, 1, LOAD_CPUS, t.auth)
        closed_loop(ts, b, secs, res)
        streaming(ts, b, n_streams, res)
        open_loop(ts, b, secs, res)
        for n, t in ts.items():
            res["rss_mb"][n] = t.proc.rss()
            res["rss_roles"][n] = t.proc.rss_by_role()
        if a.soak and a.soak_target in ts:
            rate = a.soak_rate or 0.5 * max(r["rps"] for r in res["closed"][a.soak_target].values())
            soak(ts[a.soak_target], b, a.soak, min(rate, OPEN_LOOP_CAP), res)
    finally:
        for t in ts.values():
            if t.proc.argv:
                t.proc.stop()
        for p in fakes:
            p.stop()
    out = RESULTS / f"overhead-{stamp}"
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = report.markdown(res)
    out.with_suffix(".md").write_text(md)
    report.chart(res, out.with_suffix(".png"))
    print(md)
    print(f"results: {out}.json .md .png", file=sys.stderr)


if __name__ == "__main__":
    main()
