"""Instructions per request of a whole gateway, access control off and on (callgrind): run.py's variants
served for real, counted by valgrind rather than timed, so other load on the machine does not move it.

    .venv/bin/python bench/access/instr.py [--requests 400] [--variants off,usage,keys,sqlite]
        [--src DIR] [--out DIR]

Each variant's gateway runs under `valgrind --tool=callgrind --instr-atstart=no`; after a warm-up
(connections, caches, the first key lookup, a usage batch written) counting is switched on for
`--requests` requests from 4 client connections, then off. Prints instructions per request and the
difference to `off`; the callgrind files stay in --out for `callgrind_annotate --inclusive=yes`.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BODY, HG, HUGE, UPSTREAM, config, port, wait_up

PY = str(Path(HG).parent / "python")
SERVE = "import sys; from hybridgate.cli import main; sys.exit(main())"
CLIENTS = 4


async def send(url: str, key: str | None, n: int) -> None:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if key else {})}
    left = n

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with s.post(url + "/v1/chat/completions", data=BODY, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"status {r.status}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as s:
        await asyncio.gather(*(worker(s) for _ in range(CLIENTS)))


def total_ir(path: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def run_variant(name: str, up: int, work: Path, out: Path, n: int, src: str | None) -> int:
    d = work / name
    d.mkdir()
    cfg = d / "hg.yaml"
    cfg.write_text(yaml.safe_dump(config(up, **({"access": {"enabled": False}} if name == "off" else {}))))
    env = {**os.environ, "HYBRIDGATE_DATA_DIR": str(d / "data")}
    if src:
        env["PYTHONPATH"] = src
    key = None
    if name in ("keys", "sqlite"):
        extra = HUGE if name == "sqlite" else []
        argv = [HG, "keys", "create", "--config", str(cfg), "--team", "bench", "--name", name, *extra]
        key = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    p = port()
    cg = out / f"callgrind.{name}"
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={cg}",
            PY, "-c", SERVE, "serve", "--config", str(cfg), "--port", str(p)]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{p}"
        for _ in range(3):
            try:
                wait_up(url, proc)
                break
            except RuntimeError:
                if proc.poll() is not None:
                    raise
        asyncio.run(send(url, key, 600))  # warm-up, and more than one usage batch
        time.sleep(1.5)  # the usage writer's timer flush
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        asyncio.run(send(url, key, n))
        time.sleep(1.5)  # the records' batch write counts too
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.terminate()
        proc.wait(60)
    files = sorted(glob.glob(f"{cg}*"))
    return sum(total_ir(f) for f in files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--variants", default="off,usage,keys,sqlite")
    ap.add_argument("--src", help="run this source tree (or its src/) instead of the installed one")
    ap.add_argument("--out", default=None, help="keep the callgrind files here")
    a = ap.parse_args()
    src = None
    if a.src:
        base = Path(a.src).resolve()
        src = str(base / "src" if (base / "src").is_dir() else base)
    out = Path(a.out or tempfile.mkdtemp(prefix="hg-instr-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        up = port()
        fake = subprocess.Popen([sys.executable, str(UPSTREAM), "--port", str(up)], stdout=subprocess.DEVNULL)
        try:
            wait_up(f"http://127.0.0.1:{up}", fake)
            got = {v: run_variant(v, up, work, out, a.requests, src) for v in a.variants.split(",")}
        finally:
            fake.terminate()
            fake.wait(10)
    off = got.get("off")
    print(f"\ninstructions per request ({a.requests} requests, {CLIENTS} connections; files in {out})\n")
    for name, ir in got.items():
        extra = f"{(ir - off) / a.requests:>+12,.0f}" if off is not None else ""
        print(f"{name:<8} {ir / a.requests:>12,.0f} {extra}")


if __name__ == "__main__":
    main()
