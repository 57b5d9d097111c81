"""Workers against a real pipeline with in-process backends, an in-memory queue and a fake clock:
admission by capacity, deadline overflow inside the boundary, retries, dead letters, idempotency."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hybridgate.app import Overrides, build_pipeline
from hybridgate.backends.mock import MockBackend
from hybridgate.errors import UpstreamStatusError
from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.db import Db
from hybridgate.jobs.model import Job
from hybridgate.jobs.queue import Delivery, MemoryQueue
from hybridgate.jobs.store import JobStore
from hybridgate.jobs.worker import Worker
from hybridgate.labels import Trust
from hybridgate.observe.base import ListObserver
from hybridgate.pipeline import Pipeline
from hybridgate.settings import parse_settings

SSN = "My SSN is 536-22-8417, summarise my file"


class Clock:
    t = 10_000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    worker: Worker
    queue: MemoryQueue
    store: JobStore
    pipeline: Pipeline
    local: MockBackend
    ext: MockBackend
    usage: ListObserver
    clock: Clock

    async def submit(self, job: Job) -> None:
        await self.store.insert([job])
        await self.queue.put_many([(job.id, job.priority, job.deadline)])

    async def step(self) -> None:
        """Take what is ready and run it to the end."""
        for d in await self.queue.take(10):
            await self.worker.handle(d)

    def fill_local(self, n: int) -> None:
        for _ in range(n):
            self.pipeline.health.start("local-vllm")


def config() -> dict[str, Any]:
    eps = [
        {"name": "local-vllm", "kind": "mock", "trust": "self_hosted", "models": ["llama"], "max_in_flight": 4},
        {"name": "openai", "kind": "mock", "trust": "external", "models": ["gpt-4o"]},
    ]
    tiers = {
        "self_hosted": {"endpoints": ["local-vllm"], "model": "llama", "fallback": ["frontier"]},
        "frontier": {"endpoints": ["openai"], "model": "gpt-4o"},
    }
    return {"endpoints": eps, "tiers": tiers, "policy": {"default_tier": "self_hosted"},
            "detection": {"complexity": "off", "detector": "basic"}}  # fmt: skip


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = Clock()
    local, ext = MockBackend("local-vllm", Trust.SELF_HOSTED), MockBackend("openai", Trust.EXTERNAL)
    usage = ListObserver()
    settings = parse_settings(config())
    ov = Overrides(backends={"local-vllm": local, "openai": ext}, observers=[usage])
    pipeline = build_pipeline(settings, ov, [])
    pipeline.health.clock = clock  # ejections and pauses follow the test's clock
    cfg = JobsConfig(max_attempts=3, retry_backoff_s=1.0, overflow_margin_s=60.0, reserve_ratio=0.25)
    db = Db(tmp_path / "jobs.db")
    store, queue = JobStore(db, clock), MemoryQueue(30.0, clock)
    worker = Worker(pipeline, store, queue, cfg, concurrency=4, clock=clock)
    yield Rig(worker, queue, store, pipeline, local, ext, usage, clock)
    db.close()


def job(rig: Rig, i: str, text: str = "summarise this memo", deadline_in: float = 3600.0) -> Job:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    return Job(i, "chat", body, {}, rig.clock.t, rig.clock.t + deadline_in, kind="batch")


async def status(rig: Rig, i: str) -> str:
    j = await rig.store.get(i)
    assert j is not None
    return j.status


async def test_runs_on_idle_self_hosted_capacity(rig: Rig) -> None:
    await rig.submit(job(rig, "a"))
    await rig.step()
    assert await status(rig, "a") == "completed"
    assert len(rig.local.received) == 1 and rig.ext.received == []
    assert [r.request_id for r in rig.usage.records] == ["a"]


async def test_defers_while_interactive_traffic_uses_the_tier(rig: Rig) -> None:
    rig.fill_local(3)  # max_in_flight 4, 25% reserved for interactive: nothing spare
    await rig.submit(job(rig, "a"))
    await rig.step()
    assert await status(rig, "a") == "queued"
    assert rig.local.received == [] and rig.ext.received == []
    assert (await rig.queue.stats()).delayed == 1
    rig.pipeline.health.finish("local-vllm", ok=True)  # an interactive request finished: a gap opens
    rig.clock.t += 1
    await rig.step()
    assert await status(rig, "a") == "completed" and len(rig.local.received) == 1


async def test_defers_when_the_endpoint_reports_overload(rig: Rig) -> None:
    rig.pipeline.health.set_load("local-vllm", True, "vllm queue 40")
    await rig.submit(job(rig, "a"))
    await rig.step()
    assert await status(rig, "a") == "queued" and rig.local.received == []


async def test_deadline_at_risk_overflows_only_where_allowed(rig: Rig) -> None:
    rig.fill_local(4)
    await rig.submit(job(rig, "public", deadline_in=30))
    await rig.submit(job(rig, "sensitive", SSN, deadline_in=30))
    await rig.step()
    assert await status(rig, "public") == "completed"
    assert await status(rig, "sensitive") == "queued"
    assert len(rig.ext.received) == 1 and "536-22-8417" not in str(rig.ext.received[0].body)
    rig.clock.t += 31  # the sensitive job's deadline passes with self-hosted still busy
    await rig.step()
    assert await status(rig, "sensitive") == "expired"
    assert len(rig.ext.received) == 1 and rig.local.received == []


async def test_redelivery_of_a_finished_job_neither_runs_nor_bills(rig: Rig) -> None:
    await rig.submit(job(rig, "a"))
    await rig.step()
    await rig.queue.put_many([("a", 0, rig.clock.t + 10)])  # a duplicate delivery (e.g. the ack was lost)
    await rig.step()
    assert len(rig.local.received) == 1
    assert [r.request_id for r in rig.usage.records] == ["a"]


async def test_retries_with_backoff_then_dead_letters_with_last_error(rig: Rig) -> None:
    rig.local.error = UpstreamStatusError("local-vllm: 500", upstream_status=500)
    await rig.submit(job(rig, "a"))
    for _ in range(3):
        await rig.step()
        rig.clock.t += 1000  # past any back-off and any ejection
    j = await rig.store.get("a")
    assert j is not None and j.status == "failed" and j.attempts == 3
    assert j.result is not None and j.result["status_code"] == 503
    dead = await rig.queue.dead_letters()
    assert [d[0] for d in dead] == ["a"] and dead[0][1]
    assert rig.ext.received == []  # failures never push a job out of its tier
    assert len(rig.usage.records) == 1  # one record for the job's final outcome


async def test_policy_denial_is_a_final_result(rig: Rig) -> None:
    j = job(rig, "a")
    j.headers = {"x-hybridgate-data-class": "bogus"}
    await rig.submit(j)
    await rig.step()
    got = await rig.store.get("a")
    assert got is not None and got.status == "failed" and got.error is not None
    assert rig.local.received == []


class PollCounter(MemoryQueue):
    """A MemoryQueue that tells when the worker loop polls it, and whether that loop had been cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.polled = asyncio.Event()
        self.polled_after_cancel = asyncio.Event()

    async def take(self, n: int) -> list[Delivery]:
        self.polled.set()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            self.polled_after_cancel.set()
        return await super().take(n)


async def test_stop_just_after_a_wake_ends_the_loop(rig: Rig) -> None:
    """A job that finishes sets `wake`; when stop() cancels the loop before the loop ran again, the cancel
    must end the loop. (asyncio.wait_for on Python 3.11 returned the finished wait's result instead: the
    loop polled on and stop() never returned, so the gateway's shutdown hung.)"""
    q = PollCounter()
    w = rig.worker
    w.queue = q
    w.start()
    await q.polled.wait()  # the loop found nothing and now waits for `wake`
    w.wake.set()  # a job just finished...
    stopping = asyncio.create_task(w.stop())  # ...and shutdown begins before the loop ran again
    ran_on = asyncio.create_task(q.polled_after_cancel.wait())
    try:
        done, _ = await asyncio.wait({stopping, ran_on}, return_when=asyncio.FIRST_COMPLETED)
        assert stopping in done and not q.polled_after_cancel.is_set()
    finally:
        ran_on.cancel()
        if w._loop is not None:  # only with the bug: the loop lives on; cancel it again so the test ends
            w._loop.cancel()
        await stopping


class SwallowingQueue(PollCounter):
    """Its first poll waits until cancelled and swallows the cancel, as a client library's wait may (nats-py
    waits with asyncio.wait_for, which on Python 3.11 drops a cancel that arrives as a message does)."""

    def __init__(self) -> None:
        super().__init__()
        self.parked = asyncio.Event()

    async def take(self, n: int) -> list[Delivery]:
        got = await super().take(n)
        if not self.parked.is_set():
            self.parked.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
        return got


async def test_stop_ends_the_loop_even_if_the_queue_swallows_the_cancel(rig: Rig) -> None:
    q = SwallowingQueue()
    w = rig.worker
    w.queue = q
    w.start()
    await q.parked.wait()
    stopping = asyncio.create_task(w.stop())
    ran_on = asyncio.create_task(q.polled_after_cancel.wait())
    try:
        done, _ = await asyncio.wait({stopping, ran_on}, return_when=asyncio.FIRST_COMPLETED)
        assert stopping in done and not q.polled_after_cancel.is_set()
    finally:
        ran_on.cancel()
        if w._loop is not None:  # only with the bug: the loop lives on; cancel it again so the test ends
            w._loop.cancel()
        await stopping
