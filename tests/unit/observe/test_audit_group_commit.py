"""Group commit in the audit writer: one batch at the writer at a time, waits bounded, cancellation safe."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

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
