"""The background writer: group commit, durable() waits for the commit, admin actions, restarts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson

from hybridgate.observe.audit.entry import AdminAction
from hybridgate.observe.audit.ops import verify
from hybridgate.observe.audit.store import SqliteAuditStore
from hybridgate.observe.audit.writer import AuditLog
from tests.unit.observe.test_metrics import rec


async def test_1000_records_then_durable_then_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(lambda: SqliteAuditStore(path), batch_size=64)
    log.start()
    for i in range(1000):
        log.observe(rec(request_id=f"hg-{i}"))
        if i % 100 == 0:
            await log.durable()
            assert log.committed == log.submitted
    log.admin(AdminAction("key.create", actor="admin", target="key-9", details={"team": "red"}))
    await log.durable()
    await log.stop()
    store = SqliteAuditStore(path)
    v = verify(store, None)
    assert v.ok and v.rows == 1001
    bodies = [orjson.loads(r.body) for r in store.rows()]
    assert [b["request_id"] for b in bodies[:3]] == ["hg-0", "hg-1", "hg-2"]
    assert bodies[-1]["kind"] == "admin" and bodies[-1]["details"] == {"team": "red"}


async def test_two_writers_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    """Several worker processes append to the same file; the chain must stay linear."""
    path = tmp_path / "audit.db"
    a, b = AuditLog(lambda: SqliteAuditStore(path)), AuditLog(lambda: SqliteAuditStore(path))
    a.start()
    b.start()
    for i in range(300):
        (a if i % 2 else b).observe(rec(request_id=f"hg-{i}"))
    await asyncio.gather(a.durable(), b.durable())
    await asyncio.gather(a.stop(), b.stop())
    v = verify(SqliteAuditStore(path), None)
    assert v.ok and v.rows == 300


async def test_stop_flushes_what_was_queued(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(lambda: SqliteAuditStore(path))
    log.start()
    for i in range(50):
        log.observe(rec(request_id=f"hg-{i}"))
    await log.stop()
    assert verify(SqliteAuditStore(path), None).rows == 50


async def test_durable_without_a_started_writer_returns() -> None:
    log = AuditLog(lambda: SqliteAuditStore(Path("/nonexistent/never")))
    log.observe(rec())
    # No writer thread, no store: durable() must return (not hang or raise) and nothing was written.
    await asyncio.wait_for(log.durable(), timeout=30)
    assert not await asyncio.to_thread(os.path.exists, "/nonexistent/never")
