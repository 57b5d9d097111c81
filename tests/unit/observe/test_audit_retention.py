"""Automatic retention: the writer thread prunes on a schedule, driven by an injected clock (no sleeping)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from hybridgate.observe.audit.ops import verify
from hybridgate.observe.audit.store import SqliteAuditStore
from hybridgate.observe.audit.writer import AuditLog
from tests.unit.observe.test_metrics import rec

KEY = b"k" * 32
DAY = 86400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_writer_prunes_old_rows_on_schedule_and_chain_still_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    clock = Clock(100 * DAY)
    log = AuditLog(lambda: SqliteAuditStore(path, hmac_key=KEY), retention_s=30 * DAY, prune_every_s=DAY, clock=clock)
    log.start()
    for day in range(60, 100):  # one row per day, days 60..99
        log.observe(rec(request_id=f"hg-{day}", ts=day * DAY))
    await log.durable()
    assert log.pruned == 0  # the start-up prune ran before any row existed

    clock.now = 100.5 * DAY  # not yet a day since the last prune: nothing happens
    log.observe(rec(request_id="hg-a", ts=clock.now))
    await log.durable()
    assert log.pruned == 0

    clock.now = 101 * DAY  # due: rows older than day 71 go
    log.observe(rec(request_id="hg-b", ts=clock.now))
    await log.durable()  # the prune runs before the batch that carried this row
    assert log.pruned == 11
    await log.stop()

    store = SqliteAuditStore(path)
    v = verify(store, KEY)
    assert v.ok and v.rows == 31 and v.first_seq == 12
    cps = store.checkpoints()
    assert [(c.seq, c.kind) for c in cps] == [(11, "prune")]
    store.close()


async def test_without_retention_nothing_is_pruned(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    clock = Clock(1000 * DAY)
    log = AuditLog(lambda: SqliteAuditStore(path, hmac_key=KEY), clock=clock)
    log.start()
    for i in range(5):
        log.observe(rec(request_id=f"hg-{i}", ts=float(i)))
    await log.durable()
    await log.stop()
    assert log.pruned == 0 and verify(SqliteAuditStore(path), KEY).rows == 5


async def test_a_failed_prune_is_counted_and_writing_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(lambda: SqliteAuditStore(path), retention_s=1.0, clock=Clock(1000.0))  # no key: prune refuses
    log.start()
    log.observe(rec(request_id="hg-1", ts=0.0))
    await log.durable()
    await log.stop()
    assert log.failures >= 1 and verify(SqliteAuditStore(path), None).rows == 1


class SlowPruneStore(SqliteAuditStore):
    """A prune that waits for `gate`, so the test can act while it is in progress."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, hmac_key=KEY)
        self.entered, self.gate = threading.Event(), threading.Event()

    def prune(self, before_ts: float, now: float) -> int:
        self.entered.set()
        self.gate.wait(30)
        return super().prune(before_ts, now)


async def test_no_batch_commits_on_the_loop_while_a_due_prune_runs(tmp_path: Path) -> None:
    """Records observed during a prune go to the thread, behind it: none is committed on the loop ahead of a
    prune that was due before it (the start-up prune once raced with the first commits on the loop)."""
    store = SlowPruneStore(tmp_path / "audit.db")
    log = AuditLog(lambda: store, retention_s=30 * DAY, prune_every_s=DAY, clock=Clock(100 * DAY))
    log.start()
    assert await asyncio.to_thread(store.entered.wait, 30)  # the start-up prune is running
    log.observe(rec(request_id="hg-1", ts=99 * DAY))
    waiter = asyncio.create_task(log.durable())
    for _ in range(20):
        await asyncio.sleep(0)
    assert log.inline_batches == 0 and not waiter.done()
    store.gate.set()
    await asyncio.wait_for(waiter, 30)
    assert log.committed == 1
    log.observe(rec(request_id="hg-2", ts=99 * DAY))  # the prune is over and not due: on the loop again
    await log.durable()
    assert log.inline_batches == 1
    await log.stop()
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), KEY).rows == 2
