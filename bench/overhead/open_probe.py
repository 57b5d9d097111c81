"""Open loop against one hybridgate target, optionally after the closed-loop points run.py drives first.

    .venv/bin/python bench/overhead/open_probe.py --rates 1324,1324            # a fresh gateway
    .venv/bin/python bench/overhead/open_probe.py --rates 1324,1324 --warm     # after wrk c=1,16,64,256
    .venv/bin/python bench/overhead/open_probe.py --config /tmp/hg-full-noaudit.yaml --warm --rates 1324

Prints each wrk point and each open-loop point (offered rate, served rate, latency, errors): whether a rate
that a fresh gateway sustains is still sustained after a c=256 burst.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import loadgen
import targets
from procs import free_port
from run import bodies
from targets import CHAT, LOAD_CPUS, build, fake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="hg-full", choices=sorted(targets.CONFIGS))
    ap.add_argument("--config", type=Path, help="another config file for the target")
    ap.add_argument("--rates", default="1000", help="comma-separated open-loop rates, req/s")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--warm", action="store_true", help="run wrk at c=1,16,64,256 first")
    a = ap.parse_args()
    if a.config:
        targets.CONFIGS[a.target] = str(a.config.resolve())
    os.sched_setaffinity(0, {int(LOAD_CPUS)})
    tmp = Path(tempfile.mkdtemp(prefix="open-probe-"))
    up = free_port()
    f = fake(up, LOAD_CPUS, tmp, 1.0)
    t = build(a.target, up, 0, tmp, tmp / "data")
    f.start()
    t.proc.start()
    f.wait_ready()
    t.proc.wait_ready()
    b = bodies(tmp)
    try:
        for c in (1, 16, 64, 256) if a.warm else (4,):
            print(f"wrk c={c}: {loadgen.wrk(t.url, b['json'], c, a.seconds if a.warm else 1, LOAD_CPUS, t.auth)}")
        for rate in (float(r) for r in a.rates.split(",")):
            p = loadgen.run_async(loadgen.open_loop(t.proc.port, CHAT, b["json"].read_bytes(), rate, a.seconds, t.auth))
            print(f"open loop at {rate:.0f}/s: {p}", flush=True)
    finally:
        t.proc.stop()
        f.stop()


if __name__ == "__main__":
    main()
