"""The audit observer: hands records to a writer thread that appends them in batches.

Group commit: the thread takes everything queued, appends it in one transaction and starts over, so
batches grow with load and an idle gateway commits a single row at once. `durable()` lets a handler
wait until its record is committed before the response leaves (see docs/observability.md for the bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

from hybridgate.observe.audit.entry import AdminAction, entry_of, to_body
from hybridgate.observe.audit.store import AuditStore, Pending
from hybridgate.observe.metrics import Metrics
from hybridgate.store.records import UsageRecord

log = logging.getLogger("hybridgate.audit")
Item = UsageRecord | AdminAction
_STOP = object()


class AuditLog:
    def __init__(
        self,
        open_store: Callable[[], AuditStore],
        *,
        batch_size: int = 256,
        wait_timeout_s: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._open_store = open_store
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.batch_size = batch_size
        self.wait_timeout_s = wait_timeout_s
        self.metrics = metrics
        self.submitted = 0  # items handed over (event-loop side)
        self.committed = 0  # items known to be committed (event-loop side)
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pending: list[Item] = []
        self.failures = 0

    # -- event-loop side ---------------------------------------------------------------------------
    def observe(self, record: UsageRecord) -> None:
        self._put(record)

    def admin(self, action: AdminAction) -> None:
        """The admin-action hook: key created/revoked, budget changed... Call from the serving loop."""
        self._put(action)

    def _put(self, item: Item) -> None:
        self.submitted += 1
        if self._loop is None:
            self._q.put([item])
            return
        # Coalesce everything observed in one loop iteration into one hand-over: one thread wake-up
        # and one commit per iteration instead of per request.
        self._pending.append(item)
        if len(self._pending) == 1:
            self._loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        batch, self._pending = self._pending, []
        self._q.put(batch)

    async def durable(self) -> None:
        target = self.submitted
        if self.committed >= target or self._thread is None:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.wait_timeout_s)
        except TimeoutError:
            log.error("audit row not committed within %.1fs; responding anyway", self.wait_timeout_s)

    def _release(self, n: int) -> None:
        self.committed += n
        while self._waiters and self._waiters[0][0] <= self.committed:
            _, fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    def start(self) -> None:
        """Opens the store here, so a bad path or a locked file stops startup instead of a thread."""
        self._loop = asyncio.get_running_loop()
        store = self._open_store()
        self._thread = threading.Thread(target=self._run, args=(store,), name="hybridgate-audit", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Flushes everything queued, then stops the thread."""
        if self._thread is None:
            return
        if self._pending:
            self._hand_over()
        self._q.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    # -- writer thread -----------------------------------------------------------------------------
    def _run(self, store: AuditStore) -> None:
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._take()
                if batch:
                    self._write(store, batch)
        finally:
            store.close()

    def _take(self) -> tuple[list[Item], bool]:
        """Everything queued right now (whole hand-overs, so `committed` counts stay in order)."""
        first = self._q.get()
        if first is _STOP:
            return [], True
        batch: list[Item] = list(first)  # type: ignore[call-overload]
        while len(batch) < self.batch_size:
            try:
                nxt = self._q.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, True
            batch.extend(nxt)  # type: ignore[arg-type]
        return batch, False

    def _write(self, store: AuditStore, batch: list[Item]) -> None:
        pending: list[Pending] = []
        for item in batch:
            entry = entry_of(item)
            pending.append((float(entry["ts"]), str(entry["request_id"]), to_body(entry)))
        delay = 0.05
        while True:
            try:
                store.append(pending, time.time())
                break
            except Exception as e:  # a locked or full disk: keep the rows, retry with back-off
                self.failures += 1
                if self.metrics is not None:
                    self.metrics.audit_errors.inc()
                log.error("audit append failed (%s); retrying in %.2fs", e, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        if self.metrics is not None:
            self.metrics.audit_rows.inc(len(batch))
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                self._loop.call_soon_threadsafe(self._release, len(batch))
