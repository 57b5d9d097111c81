"""Usage records to the store in batches, off the request path.

`observe()` appends to an in-memory queue and returns; a background task writes a batch every
`flush_s` seconds or as soon as `batch` records wait. What a crash can lose is bounded and documented:
the records still queued, i.e. at most the last `flush_s` seconds of traffic (1 s by default) or
`batch` records, whichever comes first, plus a batch being written at that moment. A queue over
`max_queue` (the database is down for a long time) drops its oldest records and counts them in
`dropped`, so memory stays bounded; the rate limits and budgets do not depend on these rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from hybridgate.store.base import Store
from hybridgate.store.records import UsageRecord

log = logging.getLogger("hybridgate.usage")


class UsageWriter:
    def __init__(self, store: Store, *, batch: int = 500, flush_s: float = 1.0, max_queue: int = 100_000) -> None:
        self.store = store
        self.batch = batch
        self.flush_s = flush_s
        self.queue: deque[UsageRecord] = deque()
        self.max_queue = max_queue
        self.dropped = 0
        self.written = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def observe(self, record: UsageRecord) -> None:
        if len(self.queue) >= self.max_queue:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(record)
        if len(self.queue) >= self.batch:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping:
            # asyncio.timeout, not 3.11's wait_for: no inner task, and a cancel is never swallowed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        while self.queue:
            n = min(self.batch, len(self.queue))
            batch = [self.queue.popleft() for _ in range(n)]
            try:
                await self.store.add_usage(batch)
                self.written += n
            except Exception as e:  # the database is away: put them back and retry on the next tick
                log.error("could not write %d usage records: %s", n, e)
                self.queue.extendleft(reversed(batch))
                return

    async def aclose(self) -> None:
        # Stop between batches, never by cancelling a write half-way through its transaction (a cancelled
        # BEGIN or COMMIT left the shared SQLite connection in an unknown state).
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=30)
            except TimeoutError:
                self._task.cancel()
            self._task = None
        await self.flush()
