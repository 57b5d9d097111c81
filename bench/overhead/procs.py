"""Start, watch and stop the processes under test: pinned with taskset, measured through /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # utime + stime
    return total / CLK


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for p in pids:
        try:
            pages = int(Path(f"/proc/{p}/statm").read_text().split()[1])
        except OSError:
            continue
        out.append(pages * PAGE / 2**20)
    return out


def role(pid: int) -> str:
    """What a process of a target's tree is: the NER sidecar (named by prctl), multiprocessing's resource
    tracker, or a worker (with --workers 1 the serving process itself)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    if comm == "hybridgate-ner":
        return "ner-sidecar"
    if b"resource_tracker" in cmd:
        return "resource-tracker"
    return "worker"


@dataclass
class Proc:
    name: str
    argv: list[str]
    port: int
    cpus: str
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
        self.popen = subprocess.Popen(
            ["taskset", "-c", self.cpus, *self.argv],
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not listen on {self.port} within {timeout:g}s; see {self.log}")

    def pids(self) -> list[int]:
        assert self.popen is not None
        return tree(self.popen.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pids())

    def rss(self) -> list[float]:
        return rss_mb(self.pids())

    def rss_by_role(self) -> list[tuple[str, float]]:
        """RSS per process, labelled. With --workers N > 1 the root only supervises: `serve-parent`."""
        pids = self.pids()
        roles = [role(p) for p in pids]
        if roles.count("worker") > 1:
            roles[0] = "serve-parent"
        return [(r, mb) for p, r in zip(pids, roles, strict=True) for mb in rss_mb([p])]

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)  # our own session: the process and its workers only
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
