"""The job store: status, results and the idempotency flags that make redelivery harmless.

`claim` lets one worker at a time run a job (a lease, like the queue's), `finish` stores the outcome
once, and `claim_billing` flips a flag once so a redelivered job is never billed twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from hybridgate.jobs.db import Db, tx
from hybridgate.jobs.model import TERMINAL, Claim, Job

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  op TEXT NOT NULL,
  body BLOB NOT NULL,
  headers BLOB NOT NULL,
  created REAL NOT NULL,
  deadline REAL NOT NULL,
  priority INTEGER NOT NULL,
  owner_key TEXT,
  batch_id TEXT,
  custom_id TEXT,
  line INTEGER,
  webhook TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  result BLOB,
  error BLOB,
  finished REAL,
  billed INTEGER NOT NULL DEFAULT 0,
  worker TEXT,
  lease_until REAL NOT NULL DEFAULT 0,
  hook_state TEXT,
  hook_attempts INTEGER NOT NULL DEFAULT 0,
  hook_next REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch_id, line);
CREATE INDEX IF NOT EXISTS jobs_hooks ON jobs (hook_state, hook_next);
"""

_COLS = (
    "id, kind, op, body, headers, created, deadline, priority, owner_key, batch_id, custom_id, line, webhook,"
    " status, attempts, result, error, finished, billed"
)


def _dump(v: Any) -> bytes | None:
    return None if v is None else orjson.dumps(v)


def _load(v: bytes | None) -> Any:
    return None if v is None else orjson.loads(v)


def row_to_job(r: sqlite3.Row) -> Job:
    return Job(
        id=r["id"], op=r["op"], body=_load(r["body"]), headers=_load(r["headers"]), created=r["created"],
        deadline=r["deadline"], priority=r["priority"], kind=r["kind"], owner_key=r["owner_key"],
        batch_id=r["batch_id"], custom_id=r["custom_id"], line=r["line"], webhook=r["webhook"], status=r["status"],
        attempts=r["attempts"], result=_load(r["result"]), error=_load(r["error"]), finished=r["finished"],
        billed=bool(r["billed"]),
    )  # fmt: skip


class JobStore:
    def __init__(self, db: Db, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        db.sync(lambda c: c.executescript(SCHEMA))

    async def insert(self, jobs: Sequence[Job]) -> None:
        """INSERT OR IGNORE: re-submitting the same ids (a retried validation) changes nothing."""
        rows = [
            (j.id, j.kind, j.op, _dump(j.body), _dump(j.headers), j.created, j.deadline, j.priority, j.owner_key,
             j.batch_id, j.custom_id, j.line, j.webhook, j.status, j.attempts, _dump(j.result), _dump(j.error),
             j.finished, int(j.billed))
            for j in jobs
        ]  # fmt: skip
        sql = f"INSERT OR IGNORE INTO jobs ({_COLS}) VALUES ({', '.join('?' * 19)})"

        def insert(c: sqlite3.Connection) -> None:
            with tx(c):
                c.executemany(sql, rows)

        await self.db.run(insert)

    async def get(self, job_id: str) -> Job | None:
        r = await self.db.run(lambda c: c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
        return row_to_job(r) if r is not None else None

    async def claim(self, job_id: str, worker: str, lease_s: float) -> Claim:
        now = self.clock()

        def claim(c: sqlite3.Connection) -> Claim:
            with tx(c):
                r = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if r is None:
                    return Claim("missing")
                if r["status"] in TERMINAL:
                    return Claim("done", row_to_job(r))
                if r["status"] == "in_progress" and r["lease_until"] > now and r["worker"] != worker:
                    return Claim("busy", row_to_job(r))
                c.execute(
                    "UPDATE jobs SET status = 'in_progress', worker = ?, lease_until = ?, attempts = attempts + 1"
                    " WHERE id = ?",
                    (worker, now + lease_s, job_id),
                )
                job = row_to_job(r)
                job.status, job.attempts = "in_progress", job.attempts + 1
                return Claim("run", job)

        return await self.db.run(claim)

    async def heartbeat(self, job_id: str, worker: str, lease_s: float) -> None:
        until = self.clock() + lease_s
        await self.db.run(
            lambda c: c.execute("UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ?", (until, job_id, worker))
        )

    async def release(self, job_id: str, worker: str) -> None:
        """Give a claimed job back (it will be retried): it is queued again."""
        await self.db.run(
            lambda c: c.execute(
                "UPDATE jobs SET status = 'queued', lease_until = 0"
                " WHERE id = ? AND worker = ? AND status = 'in_progress'",
                (job_id, worker),
            )
        )

    async def finish(
        self, job_id: str, status: str, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> bool:
        """Store the outcome once; False when the job already had one. The caller's headers (its key) are
        dropped: a finished job keeps no credentials."""
        now = self.clock()

        def finish(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "UPDATE jobs SET status = ?, result = ?, error = ?, finished = ?, headers = ?, lease_until = 0,"
                " hook_state = CASE WHEN webhook IS NULL THEN NULL ELSE 'pending' END"
                f" WHERE id = ? AND status NOT IN ({', '.join('?' * len(TERMINAL))})",
                (status, _dump(result), _dump(error), now, b"{}", job_id, *TERMINAL),
            )
            return cur.rowcount == 1

        return await self.db.run(finish)

    async def claim_billing(self, job_id: str) -> bool:
        """True exactly once per job: whoever gets True records the usage."""
        cur = await self.db.run(
            lambda c: c.execute("UPDATE jobs SET billed = 1 WHERE id = ? AND billed = 0", (job_id,))
        )
        return bool(cur.rowcount == 1)

    async def batch_jobs(self, batch_id: str) -> list[Job]:
        rows = await self.db.run(
            lambda c: c.execute("SELECT * FROM jobs WHERE batch_id = ? ORDER BY line", (batch_id,)).fetchall()
        )
        return [row_to_job(r) for r in rows]

    async def batch_counts(self, batch_id: str) -> dict[str, int]:
        rows = await self.db.run(
            lambda c: c.execute(
                "SELECT status, COUNT(*) FROM jobs WHERE batch_id = ? GROUP BY status", (batch_id,)
            ).fetchall()
        )
        return {r[0]: int(r[1]) for r in rows}

    async def end_queued(self, batch_id: str, status: str, error: dict[str, Any]) -> int:
        """Cancel or expire every job of a batch that has not started."""
        now = self.clock()
        cur = await self.db.run(
            lambda c: c.execute(
                "UPDATE jobs SET status = ?, error = ?, finished = ?, headers = ?"
                " WHERE batch_id = ? AND status = 'queued'",
                (status, _dump(error), now, b"{}", batch_id),
            )
        )
        return int(cur.rowcount)

    async def due_webhooks(self, limit: int = 20) -> list[Job]:
        now = self.clock()
        rows = await self.db.run(
            lambda c: c.execute(
                "SELECT * FROM jobs WHERE hook_state = 'pending' AND hook_next <= ? LIMIT ?", (now, limit)
            ).fetchall()
        )
        return [row_to_job(r) for r in rows]

    async def webhook_done(self, job_id: str, state: str, next_at: float = 0.0) -> None:
        await self.db.run(
            lambda c: c.execute(
                "UPDATE jobs SET hook_state = ?, hook_attempts = hook_attempts + 1, hook_next = ? WHERE id = ?",
                (state, next_at, job_id),
            )
        )

    async def webhook_attempts(self, job_id: str) -> int:
        r = await self.db.run(lambda c: c.execute("SELECT hook_attempts FROM jobs WHERE id = ?", (job_id,)).fetchone())
        return int(r[0]) if r else 0
