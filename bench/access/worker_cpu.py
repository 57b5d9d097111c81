"""Gateway CPU per request with access control off and on, the variants of run.py, driven by wrk.

run.py's verdict is throughput with its own Python client sharing the two cores; this is the
companion number that load on a shared machine moves least: the serving worker's CPU time (/proc)
over the requests wrk completed, each gateway pinned to one CPU and wrk plus the fake upstream to the
other. "access us" is the variant's CPU per request minus `off`'s in the same round (median of rounds).

    flock /tmp/hg-bench.lock .venv/bin/python bench/access/worker_cpu.py [--seconds 2] [--rounds 6] \
        [--services] [--baseline-src DIR]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BODY, ROOT, UPSTREAM, arguments, clean_services, cpu_s, port, start_variants, wait_up

POST_LUA = ROOT / "bench/overhead/post.lua"
SUT_CPU, LOAD_CPU = "1", "0"


def wrk(url: str, body: Path, key: str | None, conns: int, seconds: float) -> tuple[int, int]:
    """(requests, errors) of one closed-loop wrk run on LOAD_CPU."""
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(POST_LUA), url + "/v1/chat/completions"]
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_AUTH": key or "none"}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    d = json.loads(line.removeprefix("BENCH_JSON "))
    return d["requests"], d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]


def switches(pid: int) -> int:
    """Voluntary context switches of every thread of a process so far: each is a thread going to sleep,
    e.g. on the GIL while another thread of the gateway holds it, or an idle wait for the next event."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except OSError:  # a thread that just ended
            continue
    return total


def pin(pid: int, cpus: str) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, capture_output=True)


def main() -> None:
    a = arguments(seconds=2, rounds=6).parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    schema = f"hgbench_{uuid.uuid4().hex[:8]}"
    res: dict[str, list[tuple[float, float, float]]] = {}  # variant -> per round (us/request, req/s, switches/request)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body = work / "body.json"
        body.write_bytes(BODY)
        try:
            up = port()
            procs.append(subprocess.Popen([sys.executable, str(UPSTREAM), "--port", str(up)]))
            wait_up(f"http://127.0.0.1:{up}", procs[-1])
            pin(procs[-1].pid, LOAD_CPU)
            variants = start_variants(up, work, procs, schema, a.services, a.baseline_src)
            for v in variants:
                pin(v.pid, SUT_CPU)
                wrk(v.url, body, v.key, a.concurrency, 1.0)  # warm-up
            res = {v.name: [] for v in variants}
            for r in range(a.rounds):
                for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
                    c0, s0 = cpu_s(v.pid), switches(v.pid)
                    n, errors = wrk(v.url, body, v.key, a.concurrency, a.seconds)
                    if errors:
                        raise RuntimeError(f"{v.name}: {errors} errors")
                    res[v.name].append(((cpu_s(v.pid) - c0) / n * 1e6, n / a.seconds, (switches(v.pid) - s0) / n))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
            if a.services:
                import asyncio

                asyncio.run(clean_services([schema, schema + "b"]))
    off = [us for us, _, _ in res["off"]]
    print(f"\ngateway CPU per request (one pinned worker, wrk c={a.concurrency}), {a.rounds} rounds x {a.seconds:g}s\n")
    print(f"{'variant':<14} {'us/req':>8} {'range':>13} {'access us':>10} {'range':>13} {'req/s':>7} {'vs off':>7} "
          f"{'switches/req':>12}")  # fmt: skip
    offs = [rps for _, rps, _ in res["off"]]
    for name, rows in res.items():
        us = [x for x, _, _ in rows]
        extra = [x - o for x, o in zip(us, off, strict=True)]
        ratio = statistics.median(rps / o for (_, rps, _), o in zip(rows, offs, strict=True))
        print(f"{name:<14} {statistics.median(us):>8.1f} {f'{min(us):.0f}-{max(us):.0f}':>13} "
              f"{statistics.median(extra):>10.1f} {f'{min(extra):.0f}-{max(extra):.0f}':>13} "
              f"{statistics.median(r for _, r, _ in rows):>7.0f} {ratio:>7.1%} "
              f"{statistics.median(sw for _, _, sw in rows):>12.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
