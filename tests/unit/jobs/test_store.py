"""The job store's idempotency: one runner at a time, one outcome, one bill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hybridgate.jobs.db import Db
from hybridgate.jobs.model import Job
from hybridgate.jobs.store import JobStore


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[JobStore, Clock]]:
    db = Db(tmp_path / "j.db")
    clock = Clock()
    yield JobStore(db, clock), clock
    db.close()


def job(i: str = "j1") -> Job:
    return Job(i, "chat", {"model": "auto"}, {"authorization": "Bearer k"}, 1000.0, 2000.0)


async def test_claim_lease_and_takeover(store: tuple[JobStore, Clock]) -> None:
    s, clock = store
    await s.insert([job()])
    assert (await s.claim("j1", "w1", 10)).outcome == "run"
    assert (await s.claim("j1", "w2", 10)).outcome == "busy"
    clock.t += 11  # w1 died: its lease ran out
    c = await s.claim("j1", "w2", 10)
    assert c.outcome == "run" and c.job is not None and c.job.attempts == 2
    assert (await s.claim("nope", "w2", 10)).outcome == "missing"


async def test_finish_once_and_drops_credentials(store: tuple[JobStore, Clock]) -> None:
    s, _ = store
    await s.insert([job()])
    await s.claim("j1", "w1", 10)
    assert await s.finish("j1", "completed", result={"status_code": 200})
    assert not await s.finish("j1", "failed", error={"code": "x"})
    got = await s.get("j1")
    assert got is not None and got.status == "completed" and got.result == {"status_code": 200}
    assert got.headers == {}
    assert (await s.claim("j1", "w2", 10)).outcome == "done"


async def test_billing_claimed_exactly_once(store: tuple[JobStore, Clock]) -> None:
    s, _ = store
    await s.insert([job()])
    assert [await s.claim_billing("j1") for _ in range(3)] == [True, False, False]


async def test_insert_is_idempotent(store: tuple[JobStore, Clock]) -> None:
    s, _ = store
    await s.insert([job()])
    await s.claim("j1", "w1", 10)
    await s.insert([job()])  # a retried validation must not reset a running job
    got = await s.get("j1")
    assert got is not None and got.status == "in_progress"
