"""Worker CPU per 1,000 requests, this checkout's code against a baseline copy, alternated in one run.

    git -C . archive HEAD src | tar -x -C /tmp/hot-old        # the baseline: HEAD's src/
    flock /tmp/hg-bench.lock .venv/bin/python bench/overhead/cpu_ab.py --baseline-src /tmp/hot-old/src

Both gateways run side by side (one worker each, pinned to the same CPU, `hybridgate serve` with
PYTHONPATH pointing at each src/); wrk drives each in turn for `--seconds`, `--rounds` times, alternating
which goes first. CPU seconds of the serving worker (not the NER sidecar) over completed requests is far
less sensitive to a noisy box than throughput, so this is the number to compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import loadgen
from procs import Proc, cpu_seconds, free_port, role
from run import bodies
from targets import CHAT, HERE, LOAD_CPUS, PY, REPO, SUT_CPUS, create_key, fake

_SERVE = "import sys; from hybridgate.cli import main; sys.exit(main())"


def gateway(name: str, src: Path, cfg: Path, upstream: str, tmp: Path) -> tuple[Proc, str]:
    env = {"BENCH_UPSTREAM": upstream, "HYBRIDGATE_DATA_DIR": str(tmp / name), "PYTHONPATH": str(src)}
    key = create_key(cfg, env) if "minimal" not in cfg.name else "sk-none"
    port = free_port()
    argv = [PY, "-c", _SERVE, "serve", "--config", str(cfg), "--port", str(port), "--workers", "1"]
    return Proc(name, argv, port, SUT_CPUS, env, tmp / f"{name}.log"), key


def worker_cpu(p: Proc) -> float:
    return cpu_seconds([pid for pid in p.pids() if role(pid) == "worker"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-src", required=True, type=Path)
    ap.add_argument("--candidate-src", default=REPO / "src", type=Path, help="default: this checkout's src/")
    ap.add_argument("--config", default="hg-full-noner.yaml", help="file under bench/overhead/configs")
    ap.add_argument("--body", default="json", choices=("json", "stream", "paced"), help="paced: one event per read")
    ap.add_argument("--gap-ms", type=float, default=1.0, help="the paced fake's gap between events")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hg-cpu-ab-"))
    cfg = HERE / "configs" / a.config
    up_port = free_port()
    up = fake(up_port, LOAD_CPUS, tmp, a.gap_ms)
    procs = {"old": gateway("old", a.baseline_src.resolve(), cfg, f"http://127.0.0.1:{up_port}", tmp)}
    procs["new"] = gateway("new", a.candidate_src.resolve(), cfg, f"http://127.0.0.1:{up_port}", tmp)
    body = bodies(tmp)[a.body]
    res: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    try:
        up.start()
        for p, _ in procs.values():
            p.start()
        up.wait_ready()
        for p, key in procs.values():
            p.wait_ready()
            loadgen.wrk(f"http://127.0.0.1:{p.port}{CHAT}", body, a.conns, 1.0, LOAD_CPUS, key)  # warm-up
        for r in range(a.rounds):
            for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                p, key = procs[name]
                c0 = worker_cpu(p)
                pt = loadgen.wrk(f"http://127.0.0.1:{p.port}{CHAT}", body, a.conns, a.seconds, LOAD_CPUS, key)
                cpu = worker_cpu(p) - c0
                if pt.errors:
                    raise RuntimeError(f"{name}: {pt.errors} errors; see {tmp}")
                res[name].append((cpu / pt.requests * 1e6, pt.rps))
    finally:
        for p, _ in procs.values():
            p.stop()
        up.stop()
    print(f"{a.config} body={a.body} c={a.conns} {a.rounds}x{a.seconds:g}s")
    for name, rows in res.items():
        ms = [c for c, _ in rows]
        rps = [r for _, r in rows]
        print(
            f"{name}: worker CPU ms/1k req median {statistics.median(ms):7.1f} (range {min(ms):.1f}-{max(ms):.1f})"
            f"   req/s median {statistics.median(rps):7.0f} (range {min(rps):.0f}-{max(rps):.0f})"
        )


if __name__ == "__main__":
    main()
