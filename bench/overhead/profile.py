"""Profile one gateway worker under wrk load with py-spy and print where the time goes.

    .venv/bin/pip install py-spy        # profiling only, not a dependency
    .venv/bin/python bench/overhead/profile.py --config bench/overhead/configs/hg-full.yaml

Starts a fake upstream and `hybridgate serve` pinned like run.py, drives c=`--conns` closed-loop load,
samples the worker for `--seconds`, and prints inclusive and self time per function (collapsed stacks
are kept in bench/results/ for a flame graph).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import loadgen
from procs import Proc, free_port, role
from run import RESULTS, bodies
from stacks import summarise
from targets import HG, LOAD_CPUS, SUT_CPUS, create_key, fake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--stream", action="store_true", help="profile 50-chunk streams instead of JSON")
    ap.add_argument("--paced", action="store_true", help="profile paced streams (one event per upstream read)")
    a = ap.parse_args()
    spy = shutil.which("py-spy") or str(Path(HG).with_name("py-spy"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tmp = RESULTS / "tmp" / f"profile-{stamp}"
    tmp.mkdir(parents=True, exist_ok=True)
    up = free_port()
    port = free_port()
    f = fake(up, LOAD_CPUS, tmp, 1.0)
    env = {"BENCH_UPSTREAM": f"http://127.0.0.1:{up}", "HYBRIDGATE_DATA_DIR": str(tmp / "data")}
    key = create_key(Path(a.config), env)  # auth runs on every request, as in run.py's hg-full
    gw = Proc("gw", [HG, "serve", "--config", a.config, "--port", str(port)], port, SUT_CPUS, env, tmp / "gw.log")
    out = RESULTS / f"profile-{stamp}.collapsed"
    try:
        f.start()
        gw.start()
        f.wait_ready()
        gw.wait_ready()
        b = bodies(tmp)["paced" if a.paced else "stream" if a.stream else "json"]
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        loadgen.wrk(url, b, 4, 1, LOAD_CPUS, key)  # warm-up
        load = threading.Thread(target=loadgen.wrk, args=(url, b, a.conns, a.seconds + 3, LOAD_CPUS, key))
        load.start()
        time.sleep(1)
        pid = next(p for p in gw.pids() if role(p) == "worker")  # with --workers 1, serve itself (not its sidecar)
        argv = [spy, "record", "-p", str(pid), "-d", str(int(a.seconds)), "-r", "250", "-f", "raw", "-o", str(out)]
        subprocess.run(argv, check=True, capture_output=True)
        load.join()
    finally:
        gw.stop()
        f.stop()
    print(summarise(out.read_text(), a.top))
    print(f"collapsed stacks: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
