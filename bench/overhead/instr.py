"""Instructions per request of the real gateway on an overhead config, counted by callgrind (so other load on
the machine does not move it), for this checkout's code or another source tree.

    .venv/bin/python bench/overhead/instr.py [--config hg-minimal.yaml] [--src /tmp/old/src] [--requests 400]
    git -C . archive HEAD src | tar -x -C /tmp/old        # a baseline to compare with

Starts the fake upstream, then `hybridgate serve --workers 1` under `valgrind --tool=callgrind
--instr-atstart=no`; after 600 warm-up requests (connections, caches, a key lookup, the first audit and
usage batches) counting is switched on for `--requests` requests from 4 client connections, each with its
own numbered user message (as the load generators send), then off. Instruction counts still move by about
1% with how many requests share a loop iteration (batched commits and flushes), so compare trees measured
side by side. The callgrind file stays in --out for `callgrind_annotate --inclusive=yes`.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
from procs import free_port
from prompt import NUMBERED_USER, SERIAL, SYSTEM
from targets import HERE, PY, REPO

SERVE = "import sys; from hybridgate.cli import main; sys.exit(main())"
CLIENTS = 4
BODY = json.dumps(
    {"model": "auto", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": NUMBERED_USER}]}
)


def serial(n: int) -> str:
    """Six lowercase letters, base 26, as post.lua numbers the requests."""
    out = []
    for _ in range(6):
        out.append(chr(97 + n % 26))
        n //= 26
    return "".join(reversed(out))


async def send(url: str, key: str, n: int, first: int) -> None:
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    numbers = iter(range(first, first + n))

    async def worker(s: aiohttp.ClientSession) -> None:
        for i in numbers:
            data = BODY.replace(SERIAL, serial(i), 1).encode()
            async with s.post(url + "/v1/chat/completions", data=data, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"status {r.status}: {await r.text()}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as s:
        await asyncio.gather(*(worker(s) for _ in range(CLIENTS)))


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url}: not up")


def total_ir(path: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="hg-minimal.yaml", help="file under bench/overhead/configs, or a path")
    ap.add_argument("--src", default=str(REPO / "src"), help="the source tree to run (default: this checkout's)")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--out", default=None, help="keep the callgrind file here")
    a = ap.parse_args()
    cfg = Path(a.config) if os.sep in a.config else HERE / "configs" / a.config
    out = Path(a.out or tempfile.mkdtemp(prefix="hg-instr-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hg-instr-work-"))
    up = free_port()
    fake = subprocess.Popen([PY, str(HERE / "fake_upstream.py"), "--port", str(up)], stdout=subprocess.DEVNULL)
    env = {
        **os.environ,
        "BENCH_UPSTREAM": f"http://127.0.0.1:{up}",
        "HYBRIDGATE_DATA_DIR": str(work / "data"),
        "PYTHONPATH": str(Path(a.src).resolve()),
    }
    proc: subprocess.Popen[bytes] | None = None
    try:
        key = "sk-none"
        if "minimal" not in cfg.name:  # a real key, so that auth runs on every request
            argv = [PY, "-c", SERVE, "keys", "create", "--team", "bench", "--name", "bench", "--config", str(cfg)]
            key = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
        port = free_port()
        cg = out / f"callgrind.{cfg.stem}"
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={cg}",
                PY, "-c", SERVE, "serve", "--config", str(cfg), "--port", str(port), "--workers", "1"]  # fmt: skip
        log = (work / "gateway.log").open("wb")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        wait_up(f"http://127.0.0.1:{up}/health", fake)
        wait_up(url + "/healthz", proc)
        asyncio.run(send(url, key, 600, 1))
        time.sleep(1.5)  # timer-driven flushes of the warm-up
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        asyncio.run(send(url, key, a.requests, 1000))
        time.sleep(1.5)  # what the measured requests leave to timers counts too
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
        fake.terminate()
        fake.wait(10)
    ir = sum(total_ir(f) for f in glob.glob(f"{cg}*"))
    print(f"{cfg.name} {a.src}: {ir / a.requests:,.0f} instructions per request ({a.requests}; file in {out})")


if __name__ == "__main__":
    main()
