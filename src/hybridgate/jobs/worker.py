"""Workers: take jobs from the queue, admit them by capacity, run them through the pipeline, and
store, bill and acknowledge each outcome exactly once however often the job is delivered.

Order per job: claim (a lease in the job store) -> plan -> call -> claim_billing -> record -> finish
-> ack. A worker killed anywhere in between leaves the message unacked; it reappears after the
visibility timeout, and the store's flags make the second delivery either finish the job or skip it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from hybridgate.errors import GatewayError
from hybridgate.jobs.admission import Admitter, Hold
from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.model import Job
from hybridgate.jobs.queue import Delivery, JobQueue
from hybridgate.jobs.store import JobStore
from hybridgate.pipeline import Pipeline, Plan, retryable

log = logging.getLogger("hybridgate.jobs")
Finished = Callable[[Job], Awaitable[None]]


def retry_delay_s(base: float, attempt: int, cap: float = 300.0) -> float:
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


class Worker:
    def __init__(
        self,
        pipeline: Pipeline,
        store: JobStore,
        queue: JobQueue,
        cfg: JobsConfig,
        *,
        concurrency: int | None = None,
        on_finished: Finished | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pipeline, self.store, self.queue, self.cfg = pipeline, store, queue, cfg
        self.concurrency = concurrency if concurrency is not None else cfg.workers
        self.on_finished = on_finished
        self.admitter = Admitter(pipeline, cfg, clock)
        self.clock = clock
        self.name = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.active: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._loop is None and self.concurrency > 0:
            self._stopping = False
            self._loop = asyncio.create_task(self.run_forever())

    async def stop(self) -> None:
        if self._loop is not None:
            self._stopping = True  # ends the loop even if an await in it swallows the cancel below
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for t in list(self.active):
            t.cancel()  # unacked: the queue redelivers these after the visibility timeout
        await asyncio.gather(*self.active, return_exceptions=True)

    async def run_forever(self) -> None:
        # A library's await can swallow a cancel (nats-py's fetch waits with asyncio.wait_for, which on
        # Python 3.11 drops a cancel that arrives as a message does): stop() also sets `_stopping`.
        while not self._stopping:
            try:
                took = await self.tick()
            except GatewayError as e:
                log.warning("job queue unavailable: %s", e.message)
                took = 0
            if took == 0 and not self._stopping:
                self.wake.clear()
                # Not asyncio.wait_for: on Python 3.11 it drops a cancel that arrives once the wait has
                # ended (a job finished and set `wake` just as stop() cancelled this loop), and the loop
                # then ran on, so stop() never returned. asyncio.timeout passes every outside cancel on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.cfg.poll_interval_s):
                        await self.wake.wait()

    async def tick(self) -> int:
        free = self.concurrency - len(self.active)
        if free <= 0:
            return 0
        got = await self.queue.take(free)
        for d in got:
            t = asyncio.create_task(self.handle(d))
            self.active.add(t)
            t.add_done_callback(self._done)
        return len(got)

    def _done(self, t: asyncio.Task[None]) -> None:
        self.active.discard(t)
        self.wake.set()
        if not t.cancelled() and t.exception() is not None:
            log.error("job handler crashed", exc_info=t.exception())

    async def handle(self, d: Delivery) -> None:
        job = await self.store.get(d.job_id)
        if job is None or job.terminal:
            await self.queue.ack(d)  # a redelivery of finished work: nothing to do, nothing to bill
            return
        try:
            verdict, held = await self.admitter.admit(job)
        except GatewayError as err:  # the key was revoked since submission, a hint is invalid, ...
            await self._final(d, job, None, err)
            return
        if verdict.action == "wait":
            await self.queue.nack(d, verdict.delay_s)
            return
        if verdict.action == "expire":
            await self._end(d, job, "expired", {"code": "deadline_exceeded", "message": verdict.reason})
            return
        try:
            await self._claimed(d, job, verdict.group == "overflow", held)
        finally:
            held.release()

    async def _claimed(self, d: Delivery, job: Job, overflow: bool, held: Hold) -> None:
        claim = await self.store.claim(job.id, self.name, self.cfg.visibility_timeout_s)
        if claim.outcome in ("done", "missing"):
            await self.queue.ack(d)
            return
        if claim.outcome == "busy":  # another worker holds a live lease: look again when it would expire
            await self.queue.nack(d, self.cfg.visibility_timeout_s)
            return
        assert claim.job is not None
        job = claim.job
        if job.attempts > self.cfg.max_attempts:  # it kept killing workers: stop delivering it
            err = {"code": "max_attempts", "message": f"gave up after {job.attempts - 1} attempts"}
            await self._end(d, job, "failed", err, dead=True)
            return
        beat = asyncio.create_task(self._heartbeat(d, job.id))
        try:
            await self._execute(d, job, overflow, held)
        finally:
            beat.cancel()

    async def _heartbeat(self, d: Delivery, job_id: str) -> None:
        every = self.cfg.visibility_timeout_s / 3
        while True:
            await asyncio.sleep(every)
            await self.queue.touch(d)
            await self.store.heartbeat(job_id, self.name, self.cfg.visibility_timeout_s)

    async def _execute(self, d: Delivery, job: Job, overflow: bool, held: Hold) -> None:
        plan: Plan | None = None
        try:
            plan = await self.pipeline.plan(job.op, dict(job.body), job.headers, job.id)
            held.release()
            if plan.decision.action != "deny":
                plan.attempts = [a for a in plan.attempts if a.overflow == overflow]
                if not plan.attempts:  # capacity vanished between admission and planning: not an attempt
                    await self.store.release(job.id, self.name)
                    await self.queue.nack(d, self.cfg.poll_interval_s)
                    return
            served = await self.pipeline.call(plan)
        except GatewayError as err:
            if retryable(err) and job.attempts < self.cfg.max_attempts:
                await self.store.release(job.id, self.name)
                await self.queue.nack(d, retry_delay_s(self.cfg.retry_backoff_s, job.attempts))
                return
            await self._final(d, job, plan, err)
            return
        assert served.response is not None
        a = served.attempt
        result = {
            "status_code": 200,
            "request_id": job.id,
            "route": f"{a.endpoint}/{a.model}",
            "body": _json(served.response.body),
        }
        if await self.store.claim_billing(job.id):
            self.pipeline.record(plan, 200, a, served.response.usage)
            await self._durable()
        await self._end(d, job, "completed", None, result=result)

    async def _final(self, d: Delivery, job: Job, plan: Plan | None, err: GatewayError) -> None:
        if plan is not None and await self.store.claim_billing(job.id):
            self.pipeline.record(plan, err.status, None, None)
            await self._durable()
        result = {"status_code": err.status, "request_id": job.id, "body": err.body()}
        error = {"code": err.code or err.type, "message": err.message}
        await self._end(d, job, "failed", error, result=result, dead=retryable(err))

    async def _durable(self) -> None:
        """Wait for the audit/usage write, as the interactive path does, before the job counts as done."""
        durable = getattr(self.pipeline, "durable", None)
        if durable is not None:
            await durable()

    async def _end(
        self,
        d: Delivery,
        job: Job,
        status: str,
        error: dict[str, Any] | None,
        *,
        result: dict[str, Any] | None = None,
        dead: bool = False,
    ) -> None:
        await self.store.finish(job.id, status, result=result, error=error)
        if dead:
            await self.queue.dead(d, (error or {}).get("message", status))
        else:
            await self.queue.ack(d)
        if self.on_finished is not None:
            job.status = status
            await self.on_finished(job)


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"raw": raw.decode("utf-8", "replace")}
