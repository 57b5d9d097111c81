"""hg-full with --workers 1 and 2 (SO_REUSEPORT) behind the same fake: req/s, CPU per worker, RSS.

    .venv/bin/python bench/overhead/workers.py [--config ...] [--conns 64] [--seconds 6]

Unpinned: on a 2-core machine the workers share the cores with wrk and the fake, so this checks that
several workers start, split the connections and serve without errors more than it measures scaling.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import loadgen
from procs import Proc, cpu_seconds, free_port
from run import bodies
from targets import HERE, HG, create_key, fake

ALL_CPUS = "0,1"


def idle_share(before: list[str], after: list[str]) -> float:
    d = [int(b) - int(a) for a, b in zip(before, after, strict=True)]
    return d[3] / max(1, sum(d))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(HERE / "configs" / "hg-full.yaml"))
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=6.0)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hg-workers-"))
    up = free_port()
    f = fake(up, ALL_CPUS, tmp, 1.0)
    f.start()
    f.wait_ready()
    body = bodies(tmp)["json"]
    try:
        for n in (1, 2):
            port = free_port()
            env = {"BENCH_UPSTREAM": f"http://127.0.0.1:{up}", "HYBRIDGATE_DATA_DIR": str(tmp / f"data{n}")}
            key = create_key(Path(a.config), env)
            argv = [HG, "serve", "--config", a.config, "--port", str(port), "--workers", str(n)]
            gw = Proc(f"gw{n}", argv, port, ALL_CPUS, env, tmp / f"gw{n}.log")
            gw.start()
            try:
                gw.wait_ready()
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                loadgen.wrk(url, body, 4, 1, ALL_CPUS, key)  # warm-up
                pids = gw.pids()
                cpu0 = {p: cpu_seconds([p]) for p in pids}
                st0 = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
                p = loadgen.wrk(url, body, a.conns, a.seconds, ALL_CPUS, key)
                st1 = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
                cpu = [round(cpu_seconds([q]) - cpu0[q], 2) for q in pids]
                rss = gw.rss_by_role()
                print(
                    f"workers={n}: {p.rps:.0f} req/s, p50 {p.p50_ms:.1f} ms, p99 {p.p99_ms:.1f} ms, "
                    f"errors {p.errors}; CPU-s per process {cpu}; RSS MB {[(r, round(x)) for r, x in rss]}; "
                    f"machine idle {idle_share(st0, st1):.1%}",
                    flush=True,
                )
            finally:
                gw.stop()
    finally:
        f.stop()


if __name__ == "__main__":
    main()
