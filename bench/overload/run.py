"""Overload benchmark: a fake vLLM with fixed capacity and real queueing behind the gateway, open-loop load
ramping past its capacity with a mix of sensitive and public requests. Overflow on vs off, same run.

    .venv/bin/python bench/overload/run.py [--seconds 20] [--capacity 8] [--service-ms 200] [--peak 2.0]

Prints a table and writes docs/benchmarks/overload.md. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from hybridgate.app import build_app
from hybridgate.settings import parse_settings

SSN = "my SSN is 536-22-8417"


class FakeVllm:
    """`capacity` sequences at a time; the rest wait in a FIFO queue, as vLLM's scheduler does."""

    def __init__(self, capacity: int, service_ms: float) -> None:
        self.slots = asyncio.Semaphore(capacity)
        self.service_s = service_ms / 1000
        self.waiting = 0
        self.running = 0
        self.sensitive_seen = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/v1/models", lambda r: web.json_response({"data": []}))
        return app

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=f"vllm:num_requests_waiting {self.waiting}\nvllm:num_requests_running {self.running}\n"
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.waiting += 1
        async with self.slots:
            self.waiting -= 1
            self.running += 1
            try:
                await asyncio.sleep(self.service_s * 0.3)  # prefill: the first token
                return await _stream(request, "self", body, self.service_s * 0.7)
            finally:
                self.running -= 1


class FakeFrontier:
    def __init__(self, ttft_ms: float) -> None:
        self.ttft_s = ttft_ms / 1000
        self.sensitive_seen = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if b"536-22-8417" in body:
            self.sensitive_seen += 1
        await asyncio.sleep(self.ttft_s)
        return await _stream(request, "frontier", body, 0.05)


async def _stream(request: web.Request, name: str, body: bytes, decode_s: float) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(request)
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": name}}]}
    await resp.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
    await asyncio.sleep(decode_s)
    await resp.write(b"data: [DONE]\n\n")
    return resp


@dataclass
class Result:
    ttft_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    routes: dict[str, int] = field(default_factory=dict)
    sensitive_external: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    sent: int = 0


async def one(session: aiohttp.ClientSession, url: str, sensitive: bool, res: Result) -> None:
    body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": SSN if sensitive else "hi"}]}
    t0 = time.perf_counter()
    res.sent += 1
    async with session.post(url + "/v1/chat/completions", json=body) as r:
        if r.status != 200:
            res.errors[r.status] = res.errors.get(r.status, 0) + 1
            await r.read()
            return
        route = r.headers.get("x-hybridgate-route", "?").split("/")[0]
        first = True
        async for _ in r.content.iter_any():
            if first:
                res.ttft_ms.append((time.perf_counter() - t0) * 1000)
                first = False
        res.total_ms.append((time.perf_counter() - t0) * 1000)
        key = f"{'sensitive' if sensitive else 'public'}->{route}"
        res.routes[key] = res.routes.get(key, 0) + 1
        if sensitive and route == "frontier":
            res.sensitive_external += 1


async def run_once(args: argparse.Namespace, overflow: bool) -> tuple[Result, FakeVllm, FakeFrontier]:
    vllm, frontier = FakeVllm(args.capacity, args.service_ms), FakeFrontier(args.frontier_ttft_ms)
    runners = []

    async def start(app: web.Application) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    vport, fport = await start(vllm.app()), await start(frontier.app())
    cfg: dict[str, Any] = {
        "endpoints": [
            {
                "name": "self",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{vport}/v1",
                "trust": "self_hosted",
                "models": ["llama"],
                "load": {"source": "vllm", "interval_s": 0.2, "ttft_ms": args.service_ms * 0.3},
            },
            {
                "name": "frontier",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{fport}/v1",
                "trust": "external",
                "models": ["gpt-4o"],
            },
        ],
        "tiers": {
            "self_hosted": {
                "endpoints": ["self"],
                "model": "llama",
                "fallback": ["frontier"],
                "overflow": overflow,
                "slo": {"ttft_p95_ms": args.slo_ms, "queue_timeout_s": 10, "max_queue": 10_000},
            },
            "frontier": {"endpoints": ["frontier"], "model": "gpt-4o"},
        },
        "policy": {"default_tier": "self_hosted"},
        "detection": {"complexity": "off", "ner": False},
    }
    gport = await start(build_app(parse_settings(cfg)))
    url = f"http://127.0.0.1:{gport}"
    capacity_rps = args.capacity / (args.service_ms / 1000)
    res = Result()
    rng = random.Random(7)
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        t_start = time.perf_counter()
        next_at = 0.0
        while (elapsed := time.perf_counter() - t_start) < args.seconds:
            # open loop: the rate ramps linearly from 0.5x to `peak` x capacity, whatever the latency is
            rate = capacity_rps * (0.5 + (args.peak - 0.5) * elapsed / args.seconds)
            next_at += rng.expovariate(rate)
            await asyncio.sleep(max(0.0, next_at - elapsed))
            tasks.append(asyncio.ensure_future(one(session, url, rng.random() < args.sensitive_share, res)))
        await asyncio.gather(*tasks, return_exceptions=True)
    for r in runners:
        await r.cleanup()
    return res, vllm, frontier


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) > 2 else float("nan")


def row(name: str, res: Result, slo: float, frontier: FakeFrontier) -> list[str]:
    ok = len(res.ttft_ms)
    attained = sum(1 for t in res.ttft_ms if t <= slo) / max(1, ok)
    public_total = sum(v for k, v in res.routes.items() if k.startswith("public"))
    overflowed = res.routes.get("public->frontier", 0)
    return [
        name,
        str(res.sent),
        str(ok),
        f"{attained:.1%}",
        f"{pct(res.ttft_ms, 50):.0f}",
        f"{pct(res.ttft_ms, 95):.0f}",
        f"{pct(res.ttft_ms, 99):.0f}",
        f"{overflowed / max(1, public_total):.1%}",
        str(res.sensitive_external + frontier.sensitive_seen),
        str(dict(sorted(res.errors.items()))),
    ]


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--capacity", type=int, default=8)
    p.add_argument("--service-ms", type=float, default=200)
    p.add_argument("--frontier-ttft-ms", type=float, default=300)
    p.add_argument("--slo-ms", type=float, default=600)
    p.add_argument("--peak", type=float, default=2.0, help="final load as a multiple of the fake's capacity")
    p.add_argument("--sensitive-share", type=float, default=0.3)
    p.add_argument("--out", default="docs/benchmarks/overload.md")
    args = p.parse_args()
    head = [
        "run",
        "sent",
        "ok",
        f"TTFT<= {args.slo_ms:g}ms",
        "p50",
        "p95",
        "p99",
        "public overflowed",
        "sensitive at external",
        "errors",
    ]
    rows = []
    for overflow in (False, True):
        res, _, frontier = await run_once(args, overflow)
        rows.append(row("overflow " + ("on" if overflow else "off"), res, args.slo_ms, frontier))
        print(" | ".join(rows[-1]), flush=True)
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    cap = args.capacity / (args.service_ms / 1000)
    text = (
        "# Overload: overflow on vs off\n\n"
        f"Command: `.venv/bin/python bench/overload/run.py --seconds {args.seconds:g}`"
        f"\n\nFake vLLM: {args.capacity} slots x {args.service_ms:g} ms per request = {cap:.0f} req/s capacity, "
        f"FIFO queue, Prometheus `/metrics`. Frontier fake: {args.frontier_ttft_ms:g} ms TTFT, unbounded. Open-loop "
        f"Poisson arrivals ramping from 0.5x to {args.peak:g}x capacity over {args.seconds:g} s, "
        f"{args.sensitive_share:.0%} of requests carry an SSN. TTFT SLO {args.slo_ms:g} ms (p95). Latencies in ms.\n\n"
        + "\n".join(md)
        + "\n"
    )
    out = Path(args.out)
    await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(out.write_text, text)
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
