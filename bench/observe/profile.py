"""Where the observability time goes: py-spy on one gateway worker with metrics + audit + logs on.

    python3 -m venv bench/.venv-prof && bench/.venv-prof/bin/pip install py-spy   # profiling only
    .venv/bin/python bench/observe/profile.py [--on metrics,logs,audit] [--seconds 8]

Same config and pinning as run.py. Prints inclusive and self time per function, and the share of
samples under the observability code (observe/ and the pipeline's record step).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "overhead"))
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
from procs import Proc, free_port  # noqa: E402
from run import HG, PY, ROOT, config  # noqa: E402
from stacks import summarise  # noqa: E402

MARKERS = ("hybridgate/observe/", "record (hybridgate/pipeline.py)", "durable (hybridgate/")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--on", default="metrics,logs,audit")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--gateway-cpus", default="0")
    ap.add_argument("--load-cpus", default="1")
    ap.add_argument("--spy-args", default="--gil", help="extra py-spy flags; --gil: only the thread holding the GIL")
    ap.add_argument("--src", help="run the gateway from this source tree (PYTHONPATH): a copy from before a change")
    ap.add_argument("--only", default="", help="keep only stacks through this function (say AuditLog._run)")
    a = ap.parse_args()
    spy = shutil.which("py-spy") or str(ROOT / "bench/.venv-prof/bin/py-spy")
    work = Path(tempfile.mkdtemp(prefix="hg-profile-observe-"))
    up_port, port = free_port(), free_port()
    upstream = Proc(
        "upstream", [PY, str(HERE.parent / "overhead/fake_upstream.py"), "--port", str(up_port)], up_port, a.load_cpus
    )
    cfg = work / "gw.yaml"
    on = set(a.on.split(",")) if a.on else set()
    cfg.write_text(yaml.safe_dump(config(f"http://127.0.0.1:{up_port}", on)))
    env = {"HYBRIDGATE_DATA_DIR": str(work / "data"), **({"PYTHONPATH": str(Path(a.src).resolve())} if a.src else {})}
    argv = [HG, "serve", "--config", str(cfg), "--port", str(port)]
    gw = Proc("gw", argv, port, a.gateway_cpus, env, work / "gw.log")
    body = work / "body.json"
    body.write_text('{"model":"auto","messages":[{"role":"user","content":"Summarise: the quick brown fox."}]}')
    out = work / "profile.collapsed"
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        upstream.start()
        gw.start()
        upstream.wait_ready()
        gw.wait_ready()
        loadgen.wrk(url, body, 4, 1, a.load_cpus, "x")  # warm-up
        load = threading.Thread(target=loadgen.wrk, args=(url, body, a.conns, a.seconds + 3, a.load_cpus, "x"))
        load.start()
        time.sleep(1)
        spy_argv = [spy, "record", "-p", str(gw.pids()[-1]), "-d", str(int(a.seconds)), "-r", "250", "-f", "raw"]
        subprocess.run([*spy_argv, *a.spy_args.split(), "-o", str(out)], check=True, capture_output=True)
        load.join()
    finally:
        gw.stop()
        upstream.stop()
    raw = out.read_text()
    if a.only:
        raw = "\n".join(line for line in raw.splitlines() if a.only in line)
    print(summarise(raw, a.top, MARKERS, "observability code"))
    print(f"collapsed stacks: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
