"""`hybridgate worker`: a process that only runs jobs (NATS mode, or extra SQLite workers on one host).

It builds the same pipeline as the gateway (detection, policy, boundary, accounting) and the same
health monitor, so its jobs are admitted and routed exactly as the gateway's would be.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from hybridgate.jobs.runtime import JobsRuntime
from hybridgate.pipeline import Pipeline
from hybridgate.settings import Settings


async def run_worker(
    settings: Settings,
    build: Callable[[], Pipeline],
    *,
    concurrency: int | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    from hybridgate.routing.monitor import Monitor

    pipeline = build()
    monitor = Monitor(settings, pipeline.health, pipeline.backends)
    rt = JobsRuntime(settings.jobs, pipeline, workers=concurrency if concurrency is not None else settings.jobs.workers)
    done = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    monitor.start()
    try:
        await rt.ensure()
        await done.wait()
    finally:
        await rt.aclose()  # running jobs are left unacked: another worker picks them up
        await monitor.stop()
        await pipeline.aclose()
