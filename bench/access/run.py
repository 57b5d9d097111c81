"""Access control overhead: the same gateway with auth + limits + budgets + usage recording off and on,
in the same run, against one fast fake upstream. Variants:

    off          access.enabled: false (no auth, no limits, no usage writes)
    usage        access on, no key exists (open): cost + usage records batched to SQLite
    keys         + a virtual key on every request (auth with the cached lookup), no limits
    sqlite       + RPM/TPM/concurrency/daily budget on the key (in-process counters)
    pg+redis     the same with keys and usage in PostgreSQL and the counters in Redis (--services)

Rounds alternate between variants, each round in a rotated order, so that drift on a shared machine hits
all of them alike; "vs off" is the median over rounds of the variant's rate over that round's `off` rate,
"adj" the same against the `off` runs just before and after it in time (closer in time, so less of other
sessions' load in the ratio), with its interquartile range; the verdict line uses "adj" (`off`'s own "adj"
row compares each `off` run with its neighbours: the noise floor of the run). CPU per request
of the gateway process is printed beside req/s (bench/access/worker_cpu.py measures only that, pinned).
--baseline-src DIR adds the keyed variants once more, run from another source tree (e.g. an export of the
previous commit: `git archive HEAD src | tar -x -C DIR`), so before and after share the same run.
Run: .venv/bin/python bench/access/run.py [--seconds 5] [--rounds 2] [--concurrency 32] [--services]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
HG = str(ROOT / ".venv/bin/hybridgate")
UPSTREAM = ROOT / "bench/overhead/fake_upstream.py"
BODY = b'{"model":"auto","messages":[{"role":"user","content":"Summarise: the quick brown fox."}],"max_tokens":64}'
PG = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
REDIS = os.environ.get("HYBRIDGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
HUGE = ["--rpm", "100000000", "--tpm", "1000000000", "--concurrent", "100000", "--daily-usd", "1000000"]


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited")
        try:
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def config(upstream: int, **extra: object) -> dict[str, object]:
    return {
        "endpoints": [{"name": "vllm", "kind": "openai", "base_url": f"http://127.0.0.1:{upstream}/v1",
                       "trust": "self_hosted", "models": ["llama-3-8b"], "max_in_flight": 100000}],
        "tiers": {"self_hosted": {"endpoints": ["vllm"], "model": "llama-3-8b"}},
        "policy": {"default_tier": "self_hosted"},
        "detection": {"detector": "basic", "complexity": "length"},
        **extra,
    }  # fmt: skip


@dataclass
class Variant:
    name: str
    url: str
    key: str | None
    pid: int = 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere). Less sensitive than
    throughput to other load on a shared machine: what the gateway itself spent per request."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_variant(
    name: str,
    cfg: dict[str, object],
    work: Path,
    procs: list[subprocess.Popen[bytes]],
    key_args: list[str] | None,
    src: str | None = None,
) -> Variant:
    d = work / name
    d.mkdir()
    path = d / "hg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "HYBRIDGATE_DATA_DIR": str(d / "data")}
    if src is not None:  # ahead of the installed package
        env["PYTHONPATH"] = src
    key = None
    if key_args is not None:
        argv = [HG, "keys", "create", "--config", str(path), "--team", "bench", "--name", name, *key_args]
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        key = out.stdout.strip().splitlines()[-1]
    p = port()
    proc = subprocess.Popen([HG, "serve", "--config", str(path), "--port", str(p)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    procs.append(proc)
    url = f"http://127.0.0.1:{p}"
    wait_up(url, proc)
    return Variant(name, url, key, proc.pid)


Round = tuple[float, list[float], int, float]  # req/s, latencies, errors, gateway CPU ms per request


async def load(v: Variant, seconds: float, conc: int) -> Round:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {v.key}"} if v.key else {})}
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            async with s.post(v.url + "/v1/chat/completions", data=BODY, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            lat.append((time.perf_counter() - t0) * 1000)

    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(50):  # warm-up: connections, caches, first key lookup
            async with s.post(v.url + "/v1/chat/completions", data=BODY, headers=headers) as r:
                await r.read()
        t0, c0 = time.perf_counter(), cpu_s(v.pid)
        await asyncio.gather(*(worker(s) for _ in range(conc)))
        elapsed, cpu = time.perf_counter() - t0, cpu_s(v.pid) - c0
    return len(lat) / elapsed, lat, errors, cpu * 1000 / max(1, len(lat))


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q / 100 * len(s)))] if s else float("nan")


def start_variants(
    up: int, work: Path, procs: list[subprocess.Popen[bytes]], schema: str, services: bool, baseline_src: str | None
) -> list[Variant]:
    """Every variant started: off, usage, keys, sqlite (+ pg+redis; + the keyed ones from a baseline tree)."""
    variants = [
        start_variant("off", config(up, access={"enabled": False}), work, procs, None),
        start_variant("usage", config(up), work, procs, None),
        start_variant("keys", config(up), work, procs, []),
        start_variant("sqlite", config(up), work, procs, HUGE),
    ]
    if services:
        store = {"url": f"{PG}?schema={schema}", "redis_url": REDIS}
        access = {"redis_prefix": f"hgbench:{schema}:"}
        variants.append(start_variant("pg+redis", config(up, store=store, access=access), work, procs, HUGE))
    if baseline_src:
        base = Path(baseline_src).resolve()
        src = str(base / "src" if (base / "src").is_dir() else base)  # a tree or its src/
        variants.append(start_variant("sqlite@base", config(up), work, procs, HUGE, src))
        if services:
            store = {"url": f"{PG}?schema={schema}b", "redis_url": REDIS}
            access = {"redis_prefix": f"hgbench:{schema}b:"}
            cfg = config(up, store=store, access=access)
            variants.append(start_variant("pg+redis@base", cfg, work, procs, HUGE, src))
    return variants


def arguments(seconds: float, rounds: int) -> argparse.ArgumentParser:
    """The options every access benchmark takes (run.py, worker_cpu.py), with its own defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=seconds)
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--services", action="store_true", help="also PostgreSQL + Redis")
    ap.add_argument("--baseline-src", help="also run the keyed variants from this source tree (or its src/)")
    return ap


def main() -> None:
    a = arguments(seconds=5, rounds=2).parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    schema = f"hgbench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            up = port()
            procs.append(subprocess.Popen([sys.executable, str(UPSTREAM), "--port", str(up)]))
            wait_up(f"http://127.0.0.1:{up}", procs[-1])
            variants = start_variants(up, work, procs, schema, a.services, a.baseline_src)
            results: dict[str, list[Round]] = {v.name: [] for v in variants}
            timeline: list[tuple[str, int]] = []  # (variant, round) in the order they ran
            for r in range(a.rounds):
                for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
                    results[v.name].append(asyncio.run(load(v, a.seconds, a.concurrency)))
                    timeline.append((v.name, r))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
            if a.services:
                asyncio.run(clean_services([schema, schema + "b"]))
    report(results, a, timeline)


async def clean_services(schemas: list[str]) -> None:
    """Drops what the PostgreSQL + Redis variants created: their schemas and counter keys."""
    import asyncpg
    import redis.asyncio as aioredis

    conn = await asyncpg.connect(PG)
    try:
        for name in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()
    r = aioredis.from_url(REDIS)
    try:
        for name in schemas:
            async for k in r.scan_iter(match=f"hgbench:{name}:*", count=1000):
                await r.delete(k)
    finally:
        await r.aclose()


def near_off(results: dict[str, list[Round]], timeline: list[tuple[str, int]]) -> dict[tuple[str, int], float]:
    """For every run, `off`'s rate next to it in time: the mean of the `off` runs just before and just after
    it (one side at the ends). Other sessions' load comes and goes within a round, so this follows it more
    closely than the round's one `off` run, several runs away."""
    offs = [(i, results["off"][r][0]) for i, (name, r) in enumerate(timeline) if name == "off"]
    out: dict[tuple[str, int], float] = {}
    for i, key in enumerate(timeline):
        before = [rps for j, rps in offs if j < i][-1:]
        after = [rps for j, rps in offs if j > i][:1]
        near = before + after
        out[key] = statistics.fmean(near) if near else float("nan")
    return out


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


GOAL = 0.90  # the issue's target: at most 10% of the throughput of `off`


def report(results: dict[str, list[Round]], a: argparse.Namespace, timeline: list[tuple[str, int]]) -> None:
    """Per variant: req/s; "vs off", the median over rounds of its rate over that round's `off` rate; "adj",
    the same against the `off` runs adjacent in time, with its interquartile range; CPU per request of the
    gateway (/proc: what load on the machine moves least) and the median of its per-round ratio to `off`."""
    offs = [r[0] for r in results["off"]]
    off_cpus = [r[3] for r in results["off"]]
    near = near_off(results, timeline)
    base_p50 = pct([x for r in results["off"] for x in r[1]], 50)
    print(f"\naccess overhead: {a.rounds} rounds x {a.seconds:g}s, concurrency {a.concurrency}, one worker each\n")
    print(f"{'variant':<14} {'req/s':>8} {'vs off':>8} {'range':>11} {'adj':>7} {'adj IQR':>13} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'+p50 ms':>8} {'cpu ms/req':>10} {'cpu vs off':>10} {'errors':>7}")  # fmt: skip
    verdicts = []
    for name, rs in results.items():
        rps = statistics.mean(r[0] for r in rs)
        ratios = [r[0] / off for r, off in zip(rs, offs, strict=True)]
        span = f"{min(ratios):.0%}-{max(ratios):.0%}"
        adj = [r[0] / near[(name, i)] for i, r in enumerate(rs)]
        lo, mid, hi = quartiles(adj)
        lat = [x for r in rs for x in r[1]]
        p50 = pct(lat, 50)
        cpu = statistics.median(r[3] for r in rs)
        cpu_ratio = statistics.median(r[3] / c for r, c in zip(rs, off_cpus, strict=True))
        print(f"{name:<14} {rps:>8.0f} {statistics.median(ratios):>8.1%} {span:>11} {mid:>7.1%} "
              f"{f'{lo:.0%}-{hi:.0%}':>13} {p50:>8.2f} {pct(lat, 99):>8.2f} {p50 - base_p50:>8.2f} {cpu:>10.3f} "
              f"{cpu_ratio - 1:>+10.1%} {sum(r[2] for r in rs):>7}")  # fmt: skip
        if name in ("sqlite", "pg+redis"):
            state = "met" if lo >= GOAL else "not met" if hi < GOAL else "within the noise"
            verdicts.append(f"{name}: {mid:.1%} of off (IQR {lo:.1%}-{hi:.1%}) -> {state}")
    if verdicts:
        print(f"\ngoal >= {GOAL:.0%} of off (median of adjacent-off ratios; met = the whole IQR at or above it):")
        for line in verdicts:
            print("  " + line)


if __name__ == "__main__":
    main()
