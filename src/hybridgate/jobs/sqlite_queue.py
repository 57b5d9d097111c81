"""The embedded durable queue: a table in the jobs SQLite file. Several processes may share it."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence

from hybridgate.jobs.db import Db, tx
from hybridgate.jobs.queue import Delivery, Item, QueueStats

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
  job_id TEXT PRIMARY KEY,
  priority INTEGER NOT NULL,
  deadline REAL NOT NULL,
  seq INTEGER NOT NULL,
  available_at REAL NOT NULL DEFAULT 0,
  lease_until REAL NOT NULL DEFAULT 0,
  token TEXT,
  deliveries INTEGER NOT NULL DEFAULT 0,
  dead INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS queue_order ON queue (dead, priority DESC, deadline, seq);
"""


class SqliteQueue:
    def __init__(self, db: Db, visibility_timeout_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.vt = visibility_timeout_s
        self.clock = clock
        db.sync(lambda c: c.executescript(SCHEMA))

    async def put_many(self, items: Sequence[Item]) -> None:
        def put(c: sqlite3.Connection) -> None:
            with tx(c):
                seq = c.execute("SELECT COALESCE(MAX(seq), 0) FROM queue").fetchone()[0]
                c.executemany(
                    "INSERT OR IGNORE INTO queue (job_id, priority, deadline, seq) VALUES (?, ?, ?, ?)",
                    [(j, p, d, seq + i + 1) for i, (j, p, d) in enumerate(items)],
                )

        if items:
            await self.db.run(put)

    async def take(self, n: int) -> list[Delivery]:
        now = self.clock()

        def take(c: sqlite3.Connection) -> list[Delivery]:
            with tx(c):
                rows = c.execute(
                    "SELECT job_id, deliveries FROM queue WHERE dead = 0 AND available_at <= ? AND lease_until <= ?"
                    " ORDER BY priority DESC, deadline, seq LIMIT ?",
                    (now, now, n),
                ).fetchall()
                out = []
                for r in rows:
                    d = Delivery(r["job_id"], r["deliveries"] + 1, os.urandom(8).hex())
                    c.execute(
                        "UPDATE queue SET token = ?, lease_until = ?, deliveries = ? WHERE job_id = ?",
                        (d.token, now + self.vt, d.deliveries, d.job_id),
                    )
                    out.append(d)
                return out

        return await self.db.run(take)

    async def _held(self, d: Delivery, sql: str, *args: object) -> None:
        # every change names the lease token: a worker whose lease expired cannot touch the new holder's
        await self.db.run(lambda c: c.execute(sql + " WHERE job_id = ? AND token = ?", (*args, d.job_id, d.token)))

    async def ack(self, d: Delivery) -> None:
        await self._held(d, "DELETE FROM queue")

    async def nack(self, d: Delivery, delay_s: float) -> None:
        await self._held(d, "UPDATE queue SET lease_until = 0, token = NULL, available_at = ?", self.clock() + delay_s)

    async def touch(self, d: Delivery) -> None:
        await self._held(d, "UPDATE queue SET lease_until = ?", self.clock() + self.vt)

    async def dead(self, d: Delivery, error: str) -> None:
        await self._held(d, "UPDATE queue SET dead = 1, lease_until = 0, last_error = ?", error[:2000])

    async def stats(self) -> QueueStats:
        now = self.clock()

        def stats(c: sqlite3.Connection) -> QueueStats:
            r = c.execute(
                "SELECT"
                " SUM(dead = 0 AND lease_until <= ? AND available_at <= ?),"
                " SUM(dead = 0 AND lease_until > ?),"
                " SUM(dead = 0 AND lease_until <= ? AND available_at > ?),"
                " SUM(dead = 1) FROM queue",
                (now, now, now, now, now),
            ).fetchone()
            return QueueStats("sqlite", *(int(v or 0) for v in r))

        return await self.db.run(stats)

    async def dead_letters(self, limit: int = 100) -> list[tuple[str, str]]:
        rows = await self.db.run(
            lambda c: c.execute("SELECT job_id, last_error FROM queue WHERE dead = 1 LIMIT ?", (limit,)).fetchall()
        )
        return [(r[0], r[1] or "") for r in rows]

    async def aclose(self) -> None:
        return None
