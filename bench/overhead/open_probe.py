"""Open loop against one hybridgate target, optionally after the closed-loop points run.py drives first.

    .venv/bin/python bench/overhead/open_probe.py --rates 1324,1324            # a fresh gateway
    .venv/bin/python bench/overhead/open_probe.py --rates 1324,1324 --warm     # after wrk c=1,16,64,256
    .venv/bin/python bench/overhead/open_probe.py --config /tmp/hg-full-noaudit.yaml --warm --rates 1324
    .venv/bin/python bench/overhead/open_probe.py --rates 600 --stall-ms 300 --src /tmp/old/src,src --rounds 2
    .venv/bin/python bench/overhead/open_probe.py --warm --fresh-first --trace --rates 1324   # per half second

Prints each wrk point and each open-loop point (offered rate, served rate, latency, errors, connections the
client opened and how many took >= 0.5 s to open, the host's TCP listen-queue overflows and SYN retransmits,
the worker's CPU per answer and its share of the time running, waiting for a CPU and idle): whether a rate
that a fresh gateway sustains is still sustained after a c=256 burst. `--stall-ms` pauses the worker 1 s into
each open loop (SIGSTOP); `--src` runs several trees in turn, each in a fresh gateway; `--nice -20` keeps
other work on a shared host from taking the CPUs; `--trace` adds a table per half second (served rate, worker
CPU per answer, CPU% of the worker, NER sidecar, fake and this client, the worker's run-queue wait, the two
CPUs' busy time).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import loadgen
import targets
from procs import CLK, Proc, cpu_seconds, free_port, role
from run import bodies
from targets import CHAT, LOAD_CPUS, build, fake


class Sampler(threading.Thread):
    """CPU seconds of the worker, the NER sidecar, the fake and this client every `every` seconds."""

    def __init__(self, target: Proc, fake_proc: Proc, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        pids = target.pids()
        self.groups = {
            "worker": [p for p in pids if role(p) == "worker"],
            "sidecar": [p for p in pids if role(p) == "ner-sidecar"],
            "fake": fake_proc.pids(),
            "client": [os.getpid()],
        }
        self.every = every
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.stop = threading.Event()

    def sample(self) -> None:
        row = {k: cpu_seconds(v) for k, v in self.groups.items()}
        row["w-wait"] = run_delay(self.groups["worker"])
        row.update(cpu_busy())
        self.rows.append((time.perf_counter(), row))

    def run(self) -> None:
        self.sample()
        while not self.stop.wait(self.every):
            self.sample()
        self.sample()


def run_delay(pids: list[int]) -> float:
    """Seconds the threads of these processes spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    for p in pids:
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError):
                continue
    return total / 1e9


def cpu_busy() -> dict[str, float]:
    """Busy seconds of CPU 0 and CPU 1, all processes (/proc/stat)."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *f = line.split()
        if name in ("cpu0", "cpu1"):
            v = [int(x) for x in f]
            out[name] = (sum(v) - v[3] - v[4]) / CLK
    return out


def tcp_counters() -> dict[str, int]:
    """Host-wide TCP counters: accept-queue overflows, SYNs dropped at a listener, SYN retransmits."""
    want = ("ListenOverflows", "ListenDrops", "TCPSynRetrans")
    lines = Path("/proc/net/netstat").read_text().splitlines()
    out = {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            out = {k: int(v) for k, v in zip(names.split()[1:], values.split()[1:], strict=True) if k in want}
    return out


def timeline_table(tl: loadgen.Timeline, s: Sampler, every: float) -> str:
    """Per `every` seconds: completions/s, connections opened, CPU% of each process."""
    keys = [*s.groups, "w-wait", "cpu0", "cpu1"]
    lines = ["   t  served/s  opened  w-ms/req  " + "  ".join(f"{k:>7}%" for k in keys)]
    for (t0, c0), (t1, c1) in zip(s.rows, s.rows[1:], strict=False):
        n = sum(1 for d in tl.done if t0 <= d < t1)
        opened = sum(1 for d in tl.opened if t0 <= d < t1)
        per = 1000 * (c1["worker"] - c0["worker"]) / n if n else float("nan")
        cpu = "  ".join(f"{100 * (c1[k] - c0[k]) / (t1 - t0):8.0f}" for k in keys)
        lines.append(f"{t0 - tl.start:5.1f}  {n / (t1 - t0):8.0f}  {opened:6d}  {per:8.2f}  {cpu}")
    return "\n".join(lines)


def open_point(
    label: str, t: targets.Target, f: Proc, body: bytes, rate: float, seconds: float, trace: bool, stall_ms: float
) -> None:
    tl = loadgen.Timeline()
    s = Sampler(t.proc, f)
    s.start()
    if stall_ms:  # the worker paused 1 s in (SIGSTOP), as a collector pass or a CPU taken away would
        worker = s.groups["worker"][0]
        threading.Timer(1.0, pause, (worker, stall_ms / 1000)).start()
    tcp0 = tcp_counters()
    p = loadgen.run_async(loadgen.open_loop(t.proc.port, CHAT, body, rate, seconds, t.auth, timeline=tl))
    assert isinstance(p, loadgen.Point)
    tcp = {k: v - tcp0[k] for k, v in tcp_counters().items()}
    s.stop.set()
    s.join()
    (t0, c0), (t1, c1) = s.rows[0], s.rows[-1]
    run, wait = ((c1[k] - c0[k]) / (t1 - t0) for k in ("worker", "w-wait"))
    per_answer = 1000 * (c1["worker"] - c0["worker"]) / max(1, len(tl.done))
    slow = sum(1 for c in tl.connect_s if c >= 0.5)
    in_window = sum(1 for d in tl.done if d < tl.start + seconds + 0.5)
    print(
        f"{label} open loop {rate:.0f}/s: served {p.rps:.0f}/s (answered within {seconds:g}+0.5 s: "
        f"{in_window / seconds:.0f}/s), p50 {p.p50_ms:.1f} ms, p90 {p.p90_ms:.1f}, p99 {p.p99_ms:.1f}, "
        f"errors {p.errors}; connections {len(tl.opened)}, {slow} took >= 0.5 s to open "
        f"(max {max(tl.connect_s, default=0):.1f} s); host {tcp}; worker {per_answer:.2f} ms CPU "
        f"per answer, running {100 * run:.0f}%, waiting for a CPU {100 * wait:.0f}%, "
        f"idle {100 * (1 - run - wait):.0f}% of {t1 - t0:.1f} s",
        flush=True,
    )
    if trace:
        print(timeline_table(tl, s, s.every), flush=True)


def pause(pid: int, seconds: float) -> None:
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def prioritize(pid: int, nice: int) -> None:
    """`nice` for the process and for its session's autogroup: with autogroups on, a nice value only orders
    the processes of one session, and each process this harness starts is a session of its own."""
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    with contextlib.suppress(FileNotFoundError):  # a kernel without autogroups
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def probe(a: argparse.Namespace, label: str, src: Path | None, rates: list[float]) -> None:
    """A fresh fake and gateway (code from `src`, default this checkout), then the points `a` asks for."""
    tmp = Path(tempfile.mkdtemp(prefix="open-probe-"))
    up = free_port()
    f = fake(up, LOAD_CPUS, tmp, 1.0)
    if src is not None:
        os.environ["PYTHONPATH"] = str(src.resolve())  # the target inherits it; this process has imported
    try:
        t = build(a.target, up, 0, tmp, tmp / "data")
    finally:
        os.environ.pop("PYTHONPATH", None)
    if src is not None:
        t.proc.env["PYTHONPATH"] = str(src.resolve())
    b = bodies(tmp)
    body = b["json"].read_bytes()
    try:
        f.start()
        t.proc.start()
        f.wait_ready()
        t.proc.wait_ready()
        if a.nice:
            for pid in [*f.pids(), *t.proc.pids()]:
                prioritize(pid, a.nice)
        if a.warm and a.fresh_first:
            print(f"{label} wrk c=4: {loadgen.wrk(t.url, b['json'], 4, 1, LOAD_CPUS, t.auth)}")
            open_point(f"{label} fresh", t, f, body, rates[0], a.seconds, a.trace, a.stall_ms)
        for c in [int(c) for c in a.conns.split(",")] if a.warm else [4]:
            tcp0 = tcp_counters()
            w = loadgen.wrk(t.url, b["json"], c, a.seconds if a.warm else 1, LOAD_CPUS, t.auth)
            tcp = {k: v - tcp0[k] for k, v in tcp_counters().items()}
            print(f"{label} wrk c={c}: {w.rps:.0f}/s p50 {w.p50_ms:.1f} ms p99 {w.p99_ms:.1f} errors {w.errors}; {tcp}")
        for rate in rates:
            open_point(
                f"{label} {'after wrk' if a.warm else 'fresh'}", t, f, body, rate, a.seconds, a.trace, a.stall_ms
            )
    finally:
        t.proc.stop()
        f.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="hg-full", choices=sorted(targets.CONFIGS))
    ap.add_argument("--config", type=Path, help="another config file for the target")
    ap.add_argument("--rates", default="1000", help="comma-separated open-loop rates, req/s")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--warm", action="store_true", help="run wrk at c=1,16,64,256 first")
    ap.add_argument("--fresh-first", action="store_true", help="with --warm: one open-loop point before wrk too")
    ap.add_argument("--conns", default="1,16,64,256", help="wrk connection counts for --warm")
    ap.add_argument("--trace", action="store_true", help="per half second: served rate, CPU%% per process")
    ap.add_argument("--stall-ms", type=float, default=0, help="pause the worker this long 1 s into each open loop")
    ap.add_argument("--src", default="", help="comma-separated src/ trees to run in turn (default: this checkout)")
    ap.add_argument("--rounds", type=int, default=1, help="with --src: how many times to alternate")
    ap.add_argument(
        "--nice", type=int, default=0, help="scheduling priority for this harness and all it starts (-20: a busy host)"
    )
    a = ap.parse_args()
    if a.nice:
        prioritize(os.getpid(), a.nice)  # inherited by wrk; the fake and the gateway get theirs in probe()
    if a.config:
        targets.CONFIGS[a.target] = str(a.config.resolve())
    os.sched_setaffinity(0, {int(LOAD_CPUS)})
    rates = [float(r) for r in a.rates.split(",")]
    srcs = [Path(x) for x in a.src.split(",")] if a.src else [None]
    for r in range(a.rounds):
        for src in srcs:
            probe(a, f"[{src or 'src'} #{r + 1}]", src, rates)


if __name__ == "__main__":
    main()
