"""The async lane's live objects for one process: store, queue, batch driver, workers, webhooks.

Opened lazily: a gateway that never sees an async request or a batch creates no jobs database and
runs no worker, unless one already exists from an earlier run (its jobs must not be stranded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from hybridgate.jobs.batches import BatchDriver
from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.db import Db
from hybridgate.jobs.files import BatchStore, FileStore
from hybridgate.jobs.model import Job
from hybridgate.jobs.queue import JobQueue
from hybridgate.jobs.sqlite_queue import SqliteQueue
from hybridgate.jobs.store import JobStore
from hybridgate.jobs.webhooks import WebhookSender
from hybridgate.jobs.worker import Worker
from hybridgate.pipeline import Pipeline

log = logging.getLogger("hybridgate.jobs")
TICK_S = 1.0  # batch expiry, stale recovery and webhook retries


def db_path(cfg: JobsConfig) -> Path:
    if cfg.db_path:
        return Path(cfg.db_path)
    from hybridgate.store.paths import data_dir

    return data_dir() / "jobs.db"


async def open_queue(cfg: JobsConfig, db: Db, clock: Callable[[], float] = time.time) -> JobQueue:
    if cfg.queue == "nats":
        from hybridgate.jobs.nats_queue import NatsQueue

        return await NatsQueue.connect(cfg.nats_url, cfg.nats_stream, cfg.visibility_timeout_s)
    return SqliteQueue(db, cfg.visibility_timeout_s, clock)


class JobsRuntime:
    def __init__(self, cfg: JobsConfig, pipeline: Pipeline, *, workers: int | None = None) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.workers = cfg.workers if workers is None else workers
        self._lock = asyncio.Lock()
        self._ready = False
        self._tasks: list[asyncio.Task[None]] = []
        self.worker: Worker | None = None

    def exists(self) -> bool:
        return self.cfg.queue == "nats" or db_path(self.cfg).exists()

    async def ensure(self) -> JobsRuntime:
        """Open the store and queue and start this process's workers, once."""
        async with self._lock:
            if not self._ready:
                await self._open()
                self._ready = True
        return self

    async def _open(self) -> None:
        self.db = Db(db_path(self.cfg))
        self.store = JobStore(self.db)
        self.files = FileStore(self.db)
        self.batches = BatchStore(self.db)
        self.queue = await open_queue(self.cfg, self.db)
        self.driver = BatchDriver(self.cfg, self.store, self.files, self.batches, lambda: self.queue)
        self.webhooks = WebhookSender(self.store, self.cfg)
        self.worker = Worker(self.pipeline, self.store, self.queue, self.cfg, concurrency=self.workers,
                             on_finished=self._finished)  # fmt: skip
        self.worker.start()
        self._tasks.append(asyncio.create_task(self._housekeeping()))

    async def _finished(self, job: Job) -> None:
        if job.batch_id is not None:
            await self.driver.settle(job.batch_id)
        if job.webhook is not None:
            await self.webhooks.deliver_due()

    async def _housekeeping(self) -> None:
        while True:
            try:
                await self.driver.tick()
                await self.webhooks.deliver_due()
            except Exception:  # one bad batch must not stop expiry and finalization of the others
                log.exception("jobs housekeeping failed")
            await asyncio.sleep(TICK_S)

    async def submit(self, jobs: list[Job]) -> None:
        await self.store.insert(jobs)
        await self.queue.put_many([(j.id, j.priority, j.deadline) for j in jobs])
        if self.worker is not None:
            self.worker.wake.set()

    async def aclose(self) -> None:
        if not self._ready:
            return
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self.worker is not None:
            await self.worker.stop()
        await self.webhooks.aclose()
        await self.queue.aclose()
        self.db.close()
        self._ready = False
