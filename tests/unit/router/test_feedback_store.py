"""The feedback store: the SQLite implementation and the fake behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from hybridgate.router.feedback import FeedbackRow
from hybridgate.router.feedback_store import FeedbackStore, MemoryFeedbackStore, SQLiteFeedbackStore


def _row(rid: str, score: float | None = 0.3, features: list[float] | None = None) -> FeedbackRow:
    vec = None if features is None else np.array(features, dtype=np.float32)
    return FeedbackRow(rid, 10.0, 9.0, "k1", "self_hosted", "llama", True, score, None, "fs", vec)


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FeedbackStore]:
    s: FeedbackStore = SQLiteFeedbackStore(tmp_path / "fb.db") if request.param == "sqlite" else MemoryFeedbackStore()
    yield s
    await s.aclose()


async def test_round_trip_keeps_every_field(store: FeedbackStore) -> None:
    row = _row("hg-b", features=[0.5, -1.25, 3.0])
    await store.put(row)
    await store.put(_row("hg-a"))
    got = await store.rows()
    assert [r.request_id for r in got] == ["hg-a", "hg-b"]  # request-id order
    assert got[0].features is None
    b = got[1]
    assert b.features is not None and b.features.dtype == np.float32
    assert b.features.tolist() == [0.5, -1.25, 3.0]
    assert (b.received_at, b.request_ts, b.key_id, b.tier, b.model, b.auto, b.score, b.feature_space) == (
        10.0,
        9.0,
        "k1",
        "self_hosted",
        "llama",
        True,
        0.3,
        "fs",
    )


async def test_feedback_sent_again_replaces_the_row(store: FeedbackStore) -> None:
    await store.put(_row("hg-a", score=0.1))
    await store.put(_row("hg-a", score=0.9))
    got = await store.rows()
    assert len(got) == 1 and got[0].score == 0.9


async def test_sqlite_rows_survive_reopening(tmp_path: Path) -> None:
    first = SQLiteFeedbackStore(tmp_path / "fb.db")
    await first.put(_row("hg-a", features=[1.0]))
    await first.aclose()
    second = SQLiteFeedbackStore(tmp_path / "fb.db")
    try:
        got = await second.rows()
    finally:
        await second.aclose()
    assert [r.request_id for r in got] == ["hg-a"]
