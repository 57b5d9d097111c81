"""Group commit in the audit writer: on the loop when the write lock is free, else one batch at the writer
thread at a time; waits bounded, cancellation safe."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from hybridgate.observe.audit import writer
from hybridgate.observe.audit.chain import Row
from hybridgate.observe.audit.ops import verify
from hybridgate.observe.audit.store import Pending, SqliteAuditStore
from hybridgate.observe.audit.writer import AuditLog
from hybridgate.observe.metrics import Metrics
from tests.unit.observe.test_metrics import rec


class GatedStore(SqliteAuditStore):
    """Appends only once `gate` is set, and remembers how many rows each append carried."""

    def __init__(self, path: Path, gate: threading.Event) -> None:
        super().__init__(path)
        self.gate = gate
        self.sizes: list[int] = []
        self.entered = threading.Event()

    def append_nowait(self, items: Sequence[Pending], now: float) -> list[Row] | None:
        return None  # every batch goes to the writer thread, where `append` holds it

    def append(self, items: Sequence[Pending], now: float) -> list[Row]:
        self.entered.set()
        self.gate.wait(30)
        self.sizes.append(len(items))
        return super().append(items, now)


async def wait_until(cond: threading.Event) -> None:
    assert await asyncio.to_thread(cond.wait, 30)


async def test_records_observed_while_a_batch_commits_go_over_as_one_batch(tmp_path: Path) -> None:
    gate = threading.Event()
    store = GatedStore(tmp_path / "audit.db", gate)
    reg = CollectorRegistry()
    log = AuditLog(lambda: store, metrics=Metrics(reg))
    log.start()
    log.observe(rec(request_id="hg-first"))
    first = asyncio.create_task(log.durable())
    await wait_until(store.entered)  # the writer holds the first batch
    later = []
    for i in range(40):
        log.observe(rec(request_id=f"hg-{i}"))
        later.append(asyncio.create_task(log.durable()))
        await asyncio.sleep(0)  # separate loop iterations: previously one hand-over each
    assert not first.done() and not any(t.done() for t in later)
    assert log._q.qsize() == 0  # nothing more reaches the busy thread: no wake-up per request
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 30)
    assert log.committed == log.submitted == 41
    assert reg.get_sample_value("hybridgate_audit_pending") == 0
    await log.stop()
    assert store.sizes == [1, 40]
    assert reg.get_sample_value("hybridgate_audit_rows_total") == 41
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), None).rows == 41


async def test_a_large_backlog_commits_batch_size_rows_at_a_time(tmp_path: Path) -> None:
    gate = threading.Event()
    store = GatedStore(tmp_path / "audit.db", gate)
    log = AuditLog(lambda: store, batch_size=16)
    log.start()
    log.observe(rec(request_id="hg-first"))
    await asyncio.sleep(0)
    await wait_until(store.entered)
    for i in range(40):
        log.observe(rec(request_id=f"hg-{i}"))
    waiter = asyncio.create_task(log.durable())
    gate.set()
    await asyncio.wait_for(waiter, 30)
    await log.stop()
    assert max(store.sizes) <= 16 and sum(store.sizes) == 41


async def test_durable_gives_up_after_the_timeout_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    store = GatedStore(tmp_path / "audit.db", gate)
    log = AuditLog(lambda: store, wait_timeout_s=0.05)
    log.start()
    log.observe(rec())
    await asyncio.wait_for(log.durable(), 30)  # returns although the writer is stuck
    assert log.committed == 0
    assert "not committed within" in caplog.text
    log.observe(rec(request_id="hg-2"))
    await asyncio.wait_for(log.durable(), 30)  # a later waiter gets its own bound, not an expired one
    gate.set()
    await log.stop()
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), None).rows == 2


async def test_a_cancelled_waiter_does_not_disturb_the_others(tmp_path: Path) -> None:
    gate = threading.Event()
    store = GatedStore(tmp_path / "audit.db", gate)
    log = AuditLog(lambda: store)
    log.start()
    log.observe(rec(request_id="hg-1"))
    gone, stays = asyncio.create_task(log.durable()), asyncio.create_task(log.durable())
    await asyncio.sleep(0)
    gone.cancel()
    gate.set()
    await asyncio.wait_for(stays, 30)
    assert gone.cancelled() and log.committed == 1
    await log.stop()


# -- commits on the event loop ---------------------------------------------------------------------------


async def test_a_batch_commits_on_the_loop_when_the_write_lock_is_free(tmp_path: Path) -> None:
    """No hand-over to the thread: the records of one loop iteration commit together on the loop."""
    reg = CollectorRegistry()
    log = AuditLog(lambda: SqliteAuditStore(tmp_path / "audit.db"), metrics=Metrics(reg))
    log.start()
    for i in range(5):
        log.observe(rec(request_id=f"hg-{i}"))
    await asyncio.wait_for(log.durable(), 30)
    assert log.committed == log.submitted == 5
    assert log.inline_batches == 1 and log._q.qsize() == 0 and not log._in_flight
    assert reg.get_sample_value("hybridgate_audit_rows_total") == 5
    assert reg.get_sample_value("hybridgate_audit_pending") == 0
    await log.stop()
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), None).rows == 5


async def test_a_batch_goes_to_the_thread_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    """Another worker process mid-commit: the loop does not wait for the lock, the thread does, and the
    response still waits for the commit."""
    path = tmp_path / "audit.db"
    log = AuditLog(lambda: SqliteAuditStore(path))
    log.start()
    log.observe(rec(request_id="hg-0"))
    await log.durable()  # creates the file and tables
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    log.observe(rec(request_id="hg-1"))
    waiter = asyncio.create_task(log.durable())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiter.done() and log.committed == 1  # cannot be committed while the lock is held
    assert log.inline_batches == 1 and len(log._in_flight) == 1
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(waiter, 30)
    assert log.committed == 2
    log.observe(rec(request_id="hg-2"))  # the lock is free again: back on the loop
    await asyncio.wait_for(log.durable(), 30)
    assert log.inline_batches == 2
    await log.stop()
    store = SqliteAuditStore(path)
    assert [orjson.loads(r.body)["request_id"] for r in store.rows()] == ["hg-0", "hg-1", "hg-2"]
    assert verify(store, None).ok


async def test_with_fsync_every_batch_commits_on_the_thread(tmp_path: Path) -> None:
    """A synced commit would block the loop: fsync on keeps the writes on the thread."""
    log = AuditLog(lambda: SqliteAuditStore(tmp_path / "audit.db", fsync=True))
    log.start()
    for i in range(3):
        log.observe(rec(request_id=f"hg-{i}"))
        await asyncio.wait_for(log.durable(), 30)
    assert log.committed == 3 and log.inline_batches == 0
    await log.stop()
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), None).rows == 3


class CheckpointCountingStore(SqliteAuditStore):
    def __init__(self, path: Path, *, complete: bool = True) -> None:
        super().__init__(path)
        self.checkpointed = threading.Event()
        self.complete = complete
        self.calls = 0

    def checkpoint_wal(self) -> bool:
        whole = super().checkpoint_wal()
        self.calls += 1
        self.checkpointed.set()
        return whole and self.complete


async def test_the_thread_checkpoints_the_wal_of_commits_made_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's connection never checkpoints (a checkpoint syncs files): every few commits one batch goes
    to the thread, which checkpoints first, while the loop commits nothing, so the WAL starts over instead
    of growing for ever."""
    monkeypatch.setattr(writer, "WAL_CHECKPOINT_EVERY", 3)
    store = CheckpointCountingStore(tmp_path / "audit.db")
    log = AuditLog(lambda: store)
    log.start()
    for i in range(3):
        log.observe(rec(request_id=f"hg-{i}"))
        await log.durable()
    assert not store.checkpointed.is_set() and log.inline_batches == 3
    log.observe(rec(request_id="hg-3"))
    await log.durable()
    assert store.checkpointed.is_set() and log.inline_batches == 3 and log.committed == 4
    for i in range(4, 400):  # ~100 batches on the loop: without the checkpoints the WAL grows to megabytes
        log.observe(rec(request_id=f"hg-{i}", team="x" * 200))
        log.observe(rec(request_id=f"hg-{i}b", team="y" * 200))
        await log.durable()
    wal = await asyncio.to_thread(lambda: (tmp_path / "audit.db-wal").stat().st_size)
    assert wal < 256 * 1024, wal
    await log.stop()
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), None).rows == 4 + 2 * 396


def test_append_nowait_stores_what_append_would_and_never_waits(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    a, b = SqliteAuditStore(path), SqliteAuditStore(tmp_path / "b.db")
    items = [(float(i), f"r{i}", b'{"i":%d}' % i) for i in range(7)]
    assert a.append_nowait(items[:3], 0.0) == 3
    assert a.append_nowait(items[3:], 0.0) == 4
    b.append(items[:3], 0.0)
    b.append(items[3:], 0.0)
    q = "SELECT seq, ts, request_id, body, prev, hash FROM audit_log ORDER BY seq"
    assert a.db.execute(q).fetchall() == b.db.execute(q).fetchall()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    assert a.append_nowait(items[:1], 0.0) is None  # locked: answered at once, nothing written
    other.execute("ROLLBACK")
    other.close()
    assert SqliteAuditStore(tmp_path / "c.db", fsync=True).append_nowait(items[:1], 0.0) is None
    assert verify(a, None).rows == 7


async def test_a_checkpoint_that_left_part_of_the_wal_is_tried_again_sooner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker writing during the checkpoint keeps the WAL from starting over: retry after fewer commits."""
    monkeypatch.setattr(writer, "WAL_CHECKPOINT_EVERY", 6)
    monkeypatch.setattr(writer, "WAL_CHECKPOINT_RETRY", 2)
    store = CheckpointCountingStore(tmp_path / "audit.db", complete=False)
    log = AuditLog(lambda: store)
    log.start()
    for i in range(7):  # 6 on the loop, then one through the thread's checkpoint
        log.observe(rec(request_id=f"hg-{i}"))
        await log.durable()
    assert store.calls == 1 and log.inline_batches == 6
    for i in range(7, 10):  # 2 on the loop, then the next checkpoint
        log.observe(rec(request_id=f"hg-{i}"))
        await log.durable()
    assert store.calls == 2 and log.inline_batches == 8
    store.complete = True
    for i in range(10, 19):  # 2 on the loop, a checkpoint that copies everything, then 6 on the loop
        log.observe(rec(request_id=f"hg-{i}"))
        await log.durable()
    assert store.calls == 3 and log.inline_batches == 16
    log.observe(rec(request_id="hg-19"))  # back to every 6
    await log.durable()
    assert store.calls == 4 and log.inline_batches == 16
    await log.stop()
    assert verify(SqliteAuditStore(tmp_path / "audit.db"), None).rows == 20
