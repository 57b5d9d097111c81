"""The queue contract, run against the in-memory fake and the SQLite queue with one injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hybridgate.jobs.db import Db
from hybridgate.jobs.queue import JobQueue, MemoryQueue
from hybridgate.jobs.sqlite_queue import SqliteQueue


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["memory", "sqlite"])
def q(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[JobQueue, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield MemoryQueue(10.0, clock), clock
        return
    db = Db(tmp_path / "q.db")
    yield SqliteQueue(db, 10.0, clock), clock
    db.close()


async def test_priority_then_deadline_order(q: tuple[JobQueue, Clock]) -> None:
    queue, _ = q
    await queue.put_many([("low", -1, 10.0), ("late", 0, 500.0), ("soon", 0, 100.0), ("high", 1, 900.0)])
    got = [d.job_id for d in await queue.take(10)]
    assert got == ["high", "soon", "late", "low"]


async def test_put_is_idempotent(q: tuple[JobQueue, Clock]) -> None:
    queue, _ = q
    await queue.put_many([("a", 0, 1.0)])
    await queue.put_many([("a", 0, 1.0)])
    assert [d.job_id for d in await queue.take(10)] == ["a"]


async def test_unacked_job_reappears_after_visibility_timeout(q: tuple[JobQueue, Clock]) -> None:
    queue, clock = q
    await queue.put_many([("a", 0, 1.0)])
    first = await queue.take(1)
    assert await queue.take(1) == []  # leased
    clock.t += 9
    await queue.touch(first[0])  # still working: lease extended
    clock.t += 9
    assert await queue.take(1) == []
    clock.t += 11
    again = await queue.take(1)
    assert [d.job_id for d in again] == ["a"] and again[0].deliveries == 2
    await queue.ack(first[0])  # the first holder's lease is gone: its ack must not remove the message
    assert (await queue.stats()).leased == 1
    await queue.ack(again[0])
    clock.t += 100
    assert await queue.take(1) == []


async def test_nack_delays_and_dead_letters_keep_the_error(q: tuple[JobQueue, Clock]) -> None:
    queue, clock = q
    await queue.put_many([("a", 0, 1.0), ("b", 0, 2.0)])
    a, b = await queue.take(2)
    await queue.nack(a, 5.0)
    await queue.dead(b, "upstream 500 five times")
    s = await queue.stats()
    assert (s.ready, s.leased, s.delayed, s.dead) == (0, 0, 1, 1)
    assert await queue.take(5) == []
    clock.t += 6
    assert [d.job_id for d in await queue.take(5)] == ["a"]
    assert await queue.dead_letters() == [("b", "upstream 500 five times")]


async def test_two_takers_never_share_a_message(tmp_path: Path) -> None:
    # two connections, as two processes would have
    db1, db2 = Db(tmp_path / "q.db"), Db(tmp_path / "q.db")
    q1, q2 = SqliteQueue(db1, 30.0), SqliteQueue(db2, 30.0)
    await q1.put_many([(f"j{i}", 0, float(i)) for i in range(40)])
    got = [d.job_id for _ in range(10) for q in (q1, q2) for d in await q.take(3)]
    assert len(got) == len(set(got)) == 40
    db1.close()
    db2.close()
