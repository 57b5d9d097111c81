"""Load generators: wrk (closed loop), a rate-limited open-loop client, and a streaming probe.

The open-loop client measures latency from the *scheduled* send time, so a server that stalls is
charged for the requests queued behind the stall (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prompt import SERIAL

HERE = Path(__file__).resolve().parent


@dataclass
class Point:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk(url: str, body: Path, conns: int, seconds: float, cpus: str, auth: str) -> Point:
    argv = ["taskset", "-c", cpus, "wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(HERE / "post.lua"), url]
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_AUTH": auth}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    d = json.loads(line.removeprefix("BENCH_JSON "))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    return Point(
        rps=d["requests"] / (d["duration_us"] / 1e6),
        p50_ms=d["p50"] / 1000,
        p90_ms=d["p90"] / 1000,
        p99_ms=d["p99"] / 1000,
        requests=d["requests"],
        errors=errors,
    )


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


# -- a minimal HTTP/1.1 client over asyncio streams (cheaper than any client library) ----------------
def numbered(payload: bytes) -> Callable[[], bytes]:
    """Each call returns `payload` with the next request number written over SERIAL (same length)."""
    at = payload.find(SERIAL.encode())
    if at < 0:
        return lambda: payload
    head, tail, count = payload[:at], payload[at + len(SERIAL) :], itertools.count(1)
    return lambda: head + serial(next(count)) + tail


def serial(n: int) -> bytes:
    """`n` in base 26 as six lowercase letters (as post.lua writes it)."""
    out = bytearray(6)
    for i in range(5, -1, -1):
        n, out[i] = divmod(n, 26)
        out[i] += 97
    return bytes(out)


def request_bytes(path: str, body: bytes, auth: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {auth}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(r: asyncio.StreamReader, on_data: list[float] | None = None) -> int:
    """Reads one response; returns the status. `on_data` gets a timestamp per body read."""
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    low = head.lower()
    if b"transfer-encoding: chunked" in low:
        while True:
            size_line = await r.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            data = await r.readexactly(size + 2)
            if on_data is not None and size:
                on_data.append(time.perf_counter())
            if size == 0:
                return status
            del data
    i = low.find(b"content-length:")
    n = int(low[i + 15 : low.find(b"\r\n", i)]) if i >= 0 else 0
    await r.readexactly(n)
    if on_data is not None:
        on_data.append(time.perf_counter())
    return status


@dataclass
class Timeline:
    """What an open loop did over time: completion times, connections opened (perf_counter seconds)."""

    start: float = 0.0
    done: list[float] = field(default_factory=list)
    opened: list[float] = field(default_factory=list)
    connect_s: list[float] = field(default_factory=list)  # how long each connection took to open


async def open_loop(
    port: int,
    path: str,
    body: bytes,
    rate: float,
    seconds: float,
    auth: str,
    max_conns: int = 512,
    timeline: Timeline | None = None,
) -> Point:
    """Sends `rate` requests/s for `seconds` regardless of how fast answers come back. Past `max_conns`
    in flight, requests wait for a connection; their wait counts in their latency."""
    payload = numbered(request_bytes(path, body, auth))
    tl = timeline or Timeline()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    lat: list[float] = []
    errors = 0
    slots = asyncio.Semaphore(max_conns)

    async def one(scheduled: float) -> None:
        async with slots:
            await send(scheduled)

    async def send(scheduled: float) -> None:
        nonlocal errors
        try:
            if idle:
                conn = idle.pop()
            else:
                t0 = time.perf_counter()
                tl.opened.append(t0)
                conn = await asyncio.open_connection("127.0.0.1", port)
                tl.connect_s.append(time.perf_counter() - t0)
        except OSError:
            errors += 1
            return
        try:
            conn[1].write(payload())
            status = await asyncio.wait_for(read_response(conn[0]), 10)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            errors += 1
            conn[1].close()
            return
        now = time.perf_counter()
        lat.append((now - scheduled) * 1000)
        tl.done.append(now)
        if status != 200:
            errors += 1
        idle.append(conn)

    start = tl.start = time.perf_counter()
    n = int(rate * seconds)
    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, w in idle:
        w.close()
    return Point(len(lat) / elapsed, pct(lat, 50), pct(lat, 90), pct(lat, 99), n, errors)


@dataclass
class StreamStats:
    ttft_p50_ms: float
    ttft_p99_ms: float
    gap_p50_ms: float
    gap_p99_ms: float
    reads_per_stream: float
    errors: int


async def stream_probe(port: int, path: str, body: bytes, n: int, auth: str) -> StreamStats:
    """c=1 streams against the paced fake: time to first body byte, gaps between body reads."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    payload = numbered(request_bytes(path, body, auth))
    ttft: list[float] = []
    gaps: list[float] = []
    reads = 0
    errors = 0
    for _ in range(n):
        stamps: list[float] = []
        t0 = time.perf_counter()
        w.write(payload())
        try:
            status = await asyncio.wait_for(read_response(r, stamps), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as e:
            errors += 1
            print(f"stream probe on :{port}: {type(e).__name__} {e}", file=sys.stderr)
            w.close()
            r, w = await asyncio.open_connection("127.0.0.1", port)
            continue
        if status != 200 or not stamps:
            errors += 1
            print(f"stream probe on :{port}: status {status}, {len(stamps)} chunks", file=sys.stderr)
            continue
        ttft.append((stamps[0] - t0) * 1000)
        gaps += [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
        reads += len(stamps)
    w.close()
    done = max(1, n - errors)
    return StreamStats(pct(ttft, 50), pct(ttft, 99), pct(gaps, 50), pct(gaps, 99), reads / done, errors)


def run_async(coro: object) -> object:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
