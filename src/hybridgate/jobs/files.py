"""Uploaded and produced files (OpenAI file objects) and batch records, in the jobs SQLite file.

File bytes live beside the database (`files/<id>`); the table keeps the metadata and who owns it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from hybridgate.jobs.db import Db, tx
from hybridgate.jobs.model import new_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY, owner_key TEXT, filename TEXT NOT NULL, purpose TEXT NOT NULL,
  bytes INTEGER NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
  id TEXT PRIMARY KEY, owner_key TEXT, status TEXT NOT NULL, created REAL NOT NULL, doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
"""


def file_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": int(row["created"]),
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


class FileStore:
    def __init__(self, db: Db, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self.dir = Path(db.path).parent / "files"
        self.dir.mkdir(parents=True, exist_ok=True)
        db.sync(lambda c: c.executescript(SCHEMA))

    def path(self, file_id: str) -> Path:
        return self.dir / file_id

    async def add(self, data: bytes, filename: str, purpose: str, owner_key: str | None) -> dict[str, Any]:
        fid = new_id("file")
        tmp = self.dir / (fid + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(self.path(fid))  # the row never names a half-written file
        row = (fid, owner_key, filename[:255], purpose, len(data), self.clock())
        await self.db.run(lambda c: c.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)", row))
        got = await self.get(fid, owner_key)
        assert got is not None
        return got

    async def get(self, file_id: str, owner_key: str | None) -> dict[str, Any] | None:
        r = await self.db.run(
            lambda c: c.execute("SELECT * FROM files WHERE id = ? AND owner_key IS ?", (file_id, owner_key)).fetchone()
        )
        return file_object(r) if r is not None else None

    async def content(self, file_id: str, owner_key: str | None) -> bytes | None:
        if await self.get(file_id, owner_key) is None:
            return None
        return self.path(file_id).read_bytes()


class BatchStore:
    """Batch objects as JSON documents; status changes are compare-and-set, so several processes may
    drive batches without two of them finalizing the same one."""

    def __init__(self, db: Db, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        db.sync(lambda c: c.executescript(SCHEMA))

    async def add(self, doc: dict[str, Any], owner_key: str | None) -> None:
        row = (doc["id"], owner_key, doc["status"], self.clock(), orjson.dumps(doc))
        await self.db.run(lambda c: c.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?)", row))

    async def get(self, batch_id: str, owner_key: str | None) -> dict[str, Any] | None:
        """The caller's batch; another principal's batch is as unknown as a missing one."""
        q = "SELECT doc FROM batches WHERE id = ? AND owner_key IS ?"
        r = await self.db.run(lambda c: c.execute(q, (batch_id, owner_key)).fetchone())
        return orjson.loads(r[0]) if r is not None else None

    async def get_any(self, batch_id: str) -> dict[str, Any] | None:
        """For workers, which act for every principal."""
        r = await self.db.run(lambda c: c.execute("SELECT doc FROM batches WHERE id = ?", (batch_id,)).fetchone())
        return orjson.loads(r[0]) if r is not None else None

    async def page(self, owner_key: str | None, limit: int, after: str | None) -> list[dict[str, Any]]:
        def fetch(c: sqlite3.Connection) -> list[Any]:
            if after:
                return c.execute(
                    "SELECT doc FROM batches WHERE owner_key IS ? AND created < "
                    "(SELECT created FROM batches WHERE id = ?) ORDER BY created DESC LIMIT ?",
                    (owner_key, after, limit),
                ).fetchall()
            return c.execute(
                "SELECT doc FROM batches WHERE owner_key IS ? ORDER BY created DESC LIMIT ?", (owner_key, limit)
            ).fetchall()

        return [orjson.loads(r[0]) for r in await self.db.run(fetch)]

    async def with_status(self, *statuses: str) -> list[dict[str, Any]]:
        rows = await self.db.run(
            lambda c: c.execute(
                f"SELECT doc FROM batches WHERE status IN ({', '.join('?' * len(statuses))})", statuses
            ).fetchall()
        )
        return [orjson.loads(r[0]) for r in rows]

    async def transition(self, batch_id: str, allowed_from: tuple[str, ...], status: str, **fields: Any) -> bool:
        """Move to `status` only from one of `allowed_from`; stamps `<status>_at` and merges `fields`."""
        now = int(self.clock())

        def move(c: sqlite3.Connection) -> bool:
            with tx(c):
                r = c.execute("SELECT status, doc FROM batches WHERE id = ?", (batch_id,)).fetchone()
                if r is None or r[0] not in allowed_from:
                    return False
                doc = orjson.loads(r[1])
                doc.update(fields, status=status)
                doc[f"{status}_at"] = now
                c.execute("UPDATE batches SET status = ?, doc = ? WHERE id = ?", (status, orjson.dumps(doc), batch_id))
                return True

        return await self.db.run(move)
