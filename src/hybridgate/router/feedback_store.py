"""Where feedback rows live: an SQLite file in the data dir (embedded default) and an in-memory fake.

Feedback is low volume, so each row is written when it arrives, through aiosqlite (its own thread:
the event loop never waits on the disk). One row per request: feedback sent again replaces it.
Feature vectors are stored as little-endian float32 blobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import aiosqlite
import numpy as np

from hybridgate.router.feedback import FeedbackRow
from hybridgate.store.paths import data_dir

FILENAME = "feedback.db"
_COLUMNS = (
    "request_id, received_at, request_ts, key_id, tier, model, auto, score, preferred_tier, feature_space, features"
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS router_feedback (
    request_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    request_ts REAL NOT NULL,
    key_id TEXT,
    tier TEXT,
    model TEXT,
    auto INTEGER NOT NULL,
    score REAL,
    preferred_tier TEXT,
    feature_space TEXT,
    features BLOB
);
"""


class FeedbackStore(Protocol):
    async def put(self, row: FeedbackRow) -> None: ...
    async def rows(self) -> list[FeedbackRow]:
        """Every row, in request-id order (a stable order keeps retraining deterministic)."""
        ...

    async def aclose(self) -> None: ...


class MemoryFeedbackStore:
    """The fake: same semantics, nothing on disk."""

    def __init__(self, rows: list[FeedbackRow] | None = None) -> None:
        self._rows = {r.request_id: r for r in rows or []}

    async def put(self, row: FeedbackRow) -> None:
        self._rows[row.request_id] = row

    async def rows(self) -> list[FeedbackRow]:
        return [self._rows[k] for k in sorted(self._rows)]

    async def aclose(self) -> None:
        return None


def _encode(row: FeedbackRow) -> tuple[Any, ...]:
    blob = None if row.features is None else np.asarray(row.features, dtype="<f4").tobytes()
    return (
        row.request_id,
        row.received_at,
        row.request_ts,
        row.key_id,
        row.tier,
        row.model,
        int(row.auto),
        row.score,
        row.preferred_tier,
        row.feature_space,
        blob,
    )


def _decode(r: aiosqlite.Row | tuple[Any, ...]) -> FeedbackRow:
    blob = r[10]
    features = None if blob is None else np.frombuffer(blob, dtype="<f4").astype(np.float32)
    return FeedbackRow(
        request_id=r[0],
        received_at=r[1],
        request_ts=r[2],
        key_id=r[3],
        tier=r[4],
        model=r[5],
        auto=bool(r[6]),
        score=r[7],
        preferred_tier=r[8],
        feature_space=r[9],
        features=features,
    )


class SQLiteFeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            db = await aiosqlite.connect(self.path, isolation_level=None)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def put(self, row: FeedbackRow) -> None:
        db = await self._conn()
        await db.execute(
            f"INSERT OR REPLACE INTO router_feedback ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _encode(row),
        )

    async def rows(self) -> list[FeedbackRow]:
        db = await self._conn()
        async with db.execute(f"SELECT {_COLUMNS} FROM router_feedback ORDER BY request_id") as cur:
            return [_decode(r) async for r in cur]

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


def default_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / FILENAME


def open_store(path: Path | None = None) -> SQLiteFeedbackStore:
    return SQLiteFeedbackStore(path or default_path())
