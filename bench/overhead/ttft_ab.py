"""Time to first byte of a paced stream: this checkout's gateway against a baseline copy, alternated.

    flock /tmp/hg-bench.lock .venv/bin/python bench/overhead/ttft_ab.py --baseline-src /tmp/ttft-old/src

One fake upstream (paced: first event at once, then one per `--gap-ms`), the fake itself (`direct`), the
30-line aiohttp proxy (`bare`) and two gateways (`old`: --baseline-src, `new`: this checkout's src/),
each one worker on the same CPU. Streams (c=1) go to one target after another, in an order that
rotates, so a noisy neighbour hits all of them alike. TTFT is what run.py reports: from the
request's write to the first non-empty body chunk the client reads.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import loadgen
from cpu_ab import gateway
from procs import Proc, free_port
from run import bodies
from targets import CHAT, HERE, LOAD_CPUS, MASTER_KEY, PY, REPO, SUT_CPUS, fake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-src", required=True, type=Path)
    ap.add_argument("--candidate-src", default=REPO / "src", type=Path, help="default: this checkout's src/")
    ap.add_argument("--config", default="hg-minimal.yaml", help="file under bench/overhead/configs")
    ap.add_argument("--gap-ms", type=float, default=1.0)
    ap.add_argument("--streams", type=int, default=200, help="streams per target")
    ap.add_argument("--block", type=int, default=1, help="streams in a row to one target before the next")
    ap.add_argument("--hold", type=float, default=0, help="seconds to keep everything up after (for strace)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hg-ttft-ab-"))
    cfg = HERE / "configs" / a.config
    up_port = free_port()
    up = fake(up_port, LOAD_CPUS, tmp, a.gap_ms)
    upstream = f"http://127.0.0.1:{up_port}"
    bare_port = free_port()
    bare = Proc(
        "bare",
        [PY, str(HERE / "bare_proxy.py"), "--port", str(bare_port), "--upstream", upstream],
        bare_port,
        SUT_CPUS,
        log=tmp / "bare.log",
    )
    targets: dict[str, tuple[Proc, str]] = {"direct": (up, MASTER_KEY), "bare": (bare, MASTER_KEY)}
    targets["old"] = gateway("old", a.baseline_src.resolve(), cfg, upstream, tmp)
    targets["new"] = gateway("new", a.candidate_src.resolve(), cfg, upstream, tmp)
    body = bodies(tmp)["paced"].read_bytes()
    ttft: dict[str, list[float]] = {n: [] for n in targets}
    try:
        for p, _ in targets.values():
            p.start()
        for p, _ in targets.values():
            p.wait_ready()
        for p, key in targets.values():  # warm-up: connections, lazy imports
            loadgen.run_async(loadgen.stream_probe(p.port, CHAT, body, 5, key))
        got = loadgen.run_async(
            _interleaved({n: (p.port, key) for n, (p, key) in targets.items()}, body, a.streams, a.block)
        )
        for name, xs in got.items():  # type: ignore[attr-defined]
            ttft[name] += xs
        if a.hold:
            print({n: p.port for n, (p, _) in targets.items()}, flush=True)
            time.sleep(a.hold)
    finally:
        for p, _ in targets.values():
            p.stop()
    print(f"{a.config} gap {a.gap_ms:g} ms, {a.streams} streams per target, {a.block} in a row, TTFT ms")
    d50 = loadgen.pct(ttft["direct"], 50)
    for name, xs in ttft.items():
        p50, p90, p99 = (loadgen.pct(xs, q) for q in (50, 90, 99))
        print(
            f"{name:>6}: p50 {p50:6.3f}  p90 {p90:6.3f}  p99 {p99:6.3f}  mean {statistics.fmean(xs):6.3f}"
            f"  overhead p50 {p50 - d50:6.3f}  (n={len(xs)})"
        )


async def _interleaved(
    targets: dict[str, tuple[int, str]], body: bytes, n: int, block: int = 1
) -> dict[str, list[float]]:
    """`n` streams per target, `block` in a row to one target then the next, in a rotating order, so
    that whatever else the box is doing at a moment weighs on every target alike. With `block` 1 each
    process idles while the others run (colder caches, deeper CPU sleep) and TTFTs are longer than
    back to back, as in run.py's probe; a larger block comes closer to that. TTFT (ms) as loadgen.stream_probe
    measures it: from the request's write to the first non-empty body chunk read."""
    import asyncio

    conns = {name: await asyncio.open_connection("127.0.0.1", port) for name, (port, _) in targets.items()}
    payloads = {name: loadgen.numbered(loadgen.request_bytes(CHAT, body, key)) for name, (_, key) in targets.items()}
    names = list(targets)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(0, n, block):
        k = i // block
        for name in names[k % len(names) :] + names[: k % len(names)]:
            for _ in range(min(block, n - i)):
                r, w = conns[name]
                stamps: list[float] = []
                t0 = time.perf_counter()
                w.write(payloads[name]())
                status = await asyncio.wait_for(loadgen.read_response(r, stamps), 30)
                if status != 200 or not stamps:
                    raise RuntimeError(f"{name}: status {status}")
                out[name].append((stamps[0] - t0) * 1000)
    for _, w in conns.values():
        w.close()
    return out


async def _ttfts(port: int, body: bytes, n: int, auth: str) -> list[float]:
    return (await _interleaved({"x": (port, auth)}, body, n))["x"]


if __name__ == "__main__":
    main()
