"""CPU time of each observability step inside a loaded gateway: where micro.py's hot loops mislead.

The gateway runs as in run.py (metrics + audit + logs on, pinned, 32 connections); a sitecustomize
module wraps the observers' methods with thread CPU clocks (time.thread_time) and writes the totals
per request. In a loaded gateway each step runs once per request among everything else, with cold
caches, so these costs are several times what the same code costs in a hot loop (micro.py). Each
wrapper adds its own clock reads (about a microsecond per call), so read the numbers as upper bounds.

Run: .venv/bin/python bench/observe/insitu.py [--src DIR] [--seconds 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "overhead"))
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
from procs import Proc, free_port  # noqa: E402
from run import HG, PY, config  # noqa: E402

SITECUSTOMIZE = """
import collections, os, threading, time

from hybridgate import pipeline as _pl
from hybridgate.observe import logging as _lg, metrics_observer as _mo
from hybridgate.observe.audit import store as _st, writer as _wr

_cpu = collections.Counter()
_calls = collections.Counter()


def _wrap(cls, name, key):
    f = getattr(cls, name)

    def timed(self, *a, **k):
        t = time.thread_time()
        try:
            return f(self, *a, **k)
        finally:
            _cpu[key] += time.thread_time() - t
            _calls[key] += 1

    setattr(cls, name, timed)


for cls, name, key in [
    (_pl.Pipeline, "record", "pipeline.record (everything below, on the loop)"),
    (_lg.RequestLogger, "observe", "logs.observe"),
    (_lg.RequestLogger, "flush", "logs.flush"),
    (_mo.MetricsObserver, "observe", "metrics.observe"),
    (_mo.MetricsObserver, "_count_queued", "metrics.count_queued (end of iteration)"),
    (_wr.AuditLog, "observe", "audit.observe"),
    (_wr.AuditLog, "_hand_over", "audit.hand_over"),
    (_wr.AuditLog, "_release", "audit.release"),
    (_wr.AuditLog, "_write", "audit.write (writer thread)"),
    (_st.SqliteAuditStore, "append", "audit.append (in write)"),
    (_wr.AuditLog, "_commit_here", "audit.commit_here (on the loop)"),
    (_st.SqliteAuditStore, "append_nowait", "audit.append_nowait (in commit_here)"),
]:
    if hasattr(cls, name):  # an older tree (--src) may not have every step
        _wrap(cls, name, key)


def _dump():
    while True:
        time.sleep(1)
        n = _calls["pipeline.record (everything below, on the loop)"] or 1
        lines = [f"{k:50s} {_cpu[k] / n * 1e6:7.2f} us/request  {_calls[k]:7d} calls" for k in sorted(_cpu)]
        rows = _calls["audit.observe"]
        batches = _calls["audit.append (in write)"] + _calls["audit.append_nowait (in commit_here)"]
        if batches:
            lines.append(f"audit rows per batch: {rows / batches:.1f}")
        with open(os.environ["HG_INSITU_OUT"], "w") as f:
            f.write("\\n".join(lines) + "\\n")


threading.Thread(target=_dump, daemon=True).start()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", help="run the gateway from this source tree (a copy from before a change)")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--on", default="metrics,logs,audit")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hg-insitu-observe-"))
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    up_port, port = free_port(), free_port()
    upstream = Proc(
        "upstream", [PY, str(HERE.parent / "overhead/fake_upstream.py"), "--port", str(up_port)], up_port, "1"
    )
    cfg = work / "gw.yaml"
    cfg.write_text(yaml.safe_dump(config(f"http://127.0.0.1:{up_port}", set(a.on.split(",")))))
    path = str(work / "site") + (f":{Path(a.src).resolve()}" if a.src else "")
    env = {"HYBRIDGATE_DATA_DIR": str(work / "data"), "PYTHONPATH": path, "HG_INSITU_OUT": str(work / "costs.txt")}
    gw = Proc("gw", [HG, "serve", "--config", str(cfg), "--port", str(port)], port, "0", env, work / "gw.log")
    body = work / "body.json"
    body.write_text('{"model":"auto","messages":[{"role":"user","content":"Summarise: the quick brown fox."}]}')
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        upstream.start()
        gw.start()
        upstream.wait_ready()
        gw.wait_ready()
        cpu0 = gw.cpu()
        pt = loadgen.wrk(url, body, a.conns, a.seconds, "1", "x")
        cpu = (gw.cpu() - cpu0) / max(pt.requests, 1) * 1e6
        time.sleep(2)  # the next dump covers the whole run
        print(f"{pt.rps:.0f} req/s, gateway CPU {cpu:.0f} us/request (with the wrappers)")
        print((work / "costs.txt").read_text())
    finally:
        gw.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
