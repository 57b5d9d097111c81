"""The audit observer: appends records in batches, on the event loop when it can, else on a writer thread.

Group commit: records observed in one event-loop iteration are committed together at the end of it.
When the store can commit without waiting (`append_nowait`: SQLite in WAL mode with fsync off, and no
other connection holding the write lock) that commit runs right there on the loop: a WAL append with no
file sync, cheaper than handing the batch to a thread that has to win the GIL back from the busy loop
(and wakes the loop again when done). Otherwise (fsync on, PostgreSQL, another worker process mid-commit,
an error) the batch goes to the writer thread, one batch at a time; records observed meanwhile collect
on the loop and go over as the next batch the moment the previous one commits, so batches grow with
load. Either way `durable()` lets a handler wait until its record is committed before the response
leaves (see docs/observability.md for the bound): a plain future per waiter, released by the commit,
and, for a batch handed to the thread, one timer per batch for the bound. Commits on the loop leave the
WAL checkpoint (which syncs files) to the thread: every `WAL_CHECKPOINT_EVERY` commits one batch goes to
the thread, which checkpoints before committing it.

Retention: with `retention_s` set, the same thread prunes rows older than that (leaving a signed
checkpoint) when it starts and then every `prune_every_s`, between batches, so serving never waits on a
prune. Time comes from `clock`, so tests drive it without sleeping.
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
from dataclasses import dataclass, field

from hybridgate.observe.audit.entry import AdminAction, pending_of
from hybridgate.observe.audit.store import AuditStore, Pending
from hybridgate.observe.metrics import Metrics
from hybridgate.store.records import UsageRecord

log = logging.getLogger("hybridgate.audit")
Item = UsageRecord | AdminAction
_STOP = object()
_CHECKPOINT = object()
WAL_CHECKPOINT_EVERY = 100  # commits on the loop between WAL checkpoints on the thread
WAL_CHECKPOINT_RETRY = 10  # the same, after a checkpoint that could not copy the whole WAL


@dataclass(slots=True)
class _Batch:
    """Records handed to the writer together, and the handlers waiting for them to be committed."""

    target: int = 0  # `submitted` after this batch's last record: committed >= target means it is on disk
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None  # wait_timeout_s for the first waiter still waiting
    since: float = 0.0  # loop time the first waiter started waiting (the timer is armed at hand-over)

    def wake(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for fut in self.waiters:
            if not fut.done():  # a waiter whose handler was cancelled (client gone) is done already
                fut.set_result(None)
        self.waiters = []


class AuditLog:
    def __init__(
        self,
        open_store: Callable[[], AuditStore],
        *,
        batch_size: int = 256,
        wait_timeout_s: float = 5.0,
        metrics: Metrics | None = None,
        retention_s: float | None = None,
        prune_every_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open_store = open_store
        self.retention_s, self.prune_every_s, self.clock = retention_s, prune_every_s, clock
        self._next_prune = float("-inf")
        self.pruned = 0
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.batch_size = batch_size
        self.wait_timeout_s = wait_timeout_s
        self.metrics = metrics
        self.submitted = 0  # items handed over (event-loop side)
        self.committed = 0  # items known to be committed (event-loop side)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pending: list[Item] = []  # observed, not yet handed over: the next batch
        self._open = _Batch()  # the batch `_pending` becomes
        self._in_flight: deque[_Batch] = deque()  # handed over, not yet committed (one, except at stop)
        self.failures = 0
        self._nowait: Callable[[list[Pending], float], int | None] | None = None
        self._loop_commits = 0  # since the last WAL checkpoint request
        # Set by the thread when its last checkpoint left part of the WAL (another worker process wrote
        # meanwhile, a reader held an old snapshot): the WAL cannot start over, so try again sooner.
        self._wal_behind = False
        self.inline_batches = 0  # batches committed on the loop (the rest went to the thread)
        self._pending_shown = 0  # the audit_pending gauge's value (it starts at 0)

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
        self._pending.append(item)
        self._open.target = self.submitted
        # An idle writer gets the batch at the end of this loop iteration (everything observed in it
        # goes together); a busy one gets it from `_release` when its current batch commits.
        if len(self._pending) == 1 and not self._in_flight:
            self._loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        if self._pending and not self._in_flight and not self._commit_here():
            self._send()

    def _commit_here(self) -> bool:
        """Commits the pending records on the loop if the store can without waiting; False if not."""
        nowait = self._nowait
        if nowait is None or len(self._pending) > self.batch_size:
            return False
        if self._loop_commits >= (WAL_CHECKPOINT_RETRY if self._wal_behind else WAL_CHECKPOINT_EVERY):
            # This batch goes to the thread, behind a WAL checkpoint: with the batch in flight the loop
            # commits nothing meanwhile, so the checkpoint copies the whole WAL and the next commit starts
            # the file over (one that raced with commits on the loop would leave the WAL growing).
            self._loop_commits = 0
            self._q.put(_CHECKPOINT)
            return False
        now = self.clock()
        if self.retention_s is not None and now >= self._next_prune:
            return False  # a prune is due: the thread runs it, then commits this batch
        try:
            done = nowait([pending_of(item) for item in self._pending], now)
        except Exception:  # the thread retries it, logging and counting the failure
            done = None
        if done is None:
            return False
        n = len(self._pending)
        self._pending = []
        batch, self._open = self._open, _Batch()
        self.committed += n
        self.inline_batches += 1
        batch.wake()
        self._loop_commits += 1
        if self.metrics is not None:
            self.metrics.audit_rows.inc(n)
            if self.submitted - self.committed != self._pending_shown:  # usually 0, as it was: no set()
                self._show_pending()
        return True

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        sent, self._open = self._open, _Batch()
        self._in_flight.append(sent)
        if sent.waiters and sent.timer is None and self._loop is not None:
            sent.timer = self._loop.call_at(sent.since + self.wait_timeout_s, self._expire, sent)
        for i in range(0, len(batch), self.batch_size):  # a long backlog still commits batch_size rows at a time
            self._q.put(batch[i : i + self.batch_size])

    async def durable(self) -> None:
        if self.committed >= self.submitted or self._thread is None:
            return
        if self._pending:
            batch = self._open
        elif self._in_flight:
            batch = self._in_flight[-1]
        else:  # only records observed before start() are outstanding: they are queued ahead of anything else
            batch = _Batch(self.submitted)
            self._in_flight.append(batch)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not batch.waiters:
            batch.since = loop.time()
        batch.waiters.append(fut)
        # The bound matters only for a batch the thread has or will get: an open batch that the loop will
        # commit itself (nothing in flight ahead of it) gets its timer only if it is handed over (`_send`).
        if batch.timer is None and (batch is not self._open or self._in_flight or self._nowait is None):
            batch.timer = loop.call_at(batch.since + self.wait_timeout_s, self._expire, batch)
        await fut

    def _expire(self, batch: _Batch) -> None:
        log.error("audit row not committed within %.1fs; responding anyway", self.wait_timeout_s)
        batch.timer = None  # cleared first: wake() would cancel the handle that is running now
        batch.wake()

    def _release(self, n: int) -> None:
        self.committed += n
        while self._in_flight and self._in_flight[0].target <= self.committed:
            self._in_flight.popleft().wake()
        self._hand_over()
        if self.metrics is not None and self.submitted - self.committed != self._pending_shown:
            self._show_pending()

    def _show_pending(self) -> None:
        """Sets the pending gauge; only called when the value changed (a set costs a lock and a float)."""
        pending = self._pending_shown = self.submitted - self.committed
        if self.metrics is not None:
            self.metrics.audit_pending.set(pending)

    def start(self) -> None:
        """Opens the store here, so a bad path or a locked file stops startup instead of a thread."""
        self._loop = asyncio.get_running_loop()
        store = self._open_store()
        self._nowait = getattr(store, "append_nowait", None)
        self._thread = threading.Thread(target=self._run, args=(store,), name="hybridgate-audit", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Flushes everything queued, then stops the thread."""
        if self._thread is None:
            return
        self._nowait = None  # the store is the thread's from here on: it closes it
        if self._pending:
            self._send()
        self._q.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    # -- writer thread -----------------------------------------------------------------------------
    def _run(self, store: AuditStore) -> None:
        try:
            self._maybe_prune(store)
            stopping = False
            while not stopping:
                batch, stopping = self._take(store)
                self._maybe_prune(store)
                if batch:
                    self._write(store, batch)
        finally:
            store.close()

    def _take(self, store: AuditStore) -> tuple[list[Item], bool]:
        """Everything queued right now (whole hand-overs, so `committed` counts stay in order)."""
        try:
            # with retention on, wake up now and then so an idle gateway still prunes
            first = self._q.get(timeout=self.prune_every_s if self.retention_s is not None else None)
        except queue.Empty:
            return [], False
        if first is _STOP:
            return [], True
        if first is _CHECKPOINT:
            self._checkpoint_wal(store)
            return [], False
        batch: list[Item] = list(first)  # type: ignore[call-overload]
        while len(batch) < self.batch_size:
            try:
                nxt = self._q.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, True
            if nxt is _CHECKPOINT:
                self._checkpoint_wal(store)
                continue
            batch.extend(nxt)  # type: ignore[arg-type]
        return batch, False

    def _checkpoint_wal(self, store: AuditStore) -> None:
        run = getattr(store, "checkpoint_wal", None)
        if run is None:
            return
        try:
            self._wal_behind = not run()
        except Exception as e:  # tried again after a few commits; nothing is lost
            self._wal_behind = True
            log.warning("audit WAL checkpoint failed (%s)", e)

    def _maybe_prune(self, store: AuditStore) -> None:
        now = self.clock()
        if self.retention_s is None or now < self._next_prune:
            return
        try:
            n = store.prune(now - self.retention_s, now)
        except Exception as e:  # retried at the next interval; the rows are still there, nothing is lost
            self.failures += 1
            if self.metrics is not None:
                self.metrics.audit_errors.inc()
            log.error("audit retention prune failed (%s); retrying in %.0fs", e, self.prune_every_s)
            return
        finally:
            # Moved on only once the prune is over: until then the loop sends its batches here (see
            # `_commit_here`), so none is committed on the loop ahead of a prune that was already due.
            self._next_prune = now + self.prune_every_s
        self.pruned += n
        if n:
            log.info("audit retention: pruned %d rows older than %.1f days", n, self.retention_s / 86400)

    def _write(self, store: AuditStore, batch: list[Item]) -> None:
        pending: list[Pending] = [pending_of(item) for item in batch]
        delay = 0.05
        while True:
            try:
                store.append(pending, self.clock())
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
