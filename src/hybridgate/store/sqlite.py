"""The embedded store: one SQLite file in WAL mode (readers never block the writer; several worker
processes and the CLI can share it)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from hybridgate.store import schema as s
from hybridgate.store.records import UsageRecord
from hybridgate.store.sql import SqlStore

PREFIX = "sqlite:///"

# The driver adapts every parameter that is not exactly int, float, str or bytearray, and for None that
# meant two failed attribute lookups, each formatting an AttributeError: ~0.5 us per NULL, several per
# usage row. With an adapter registered None is found in the adapter table and still binds as NULL.
# `_NULL.get` (the dict stays empty) is a C callable that returns None for its one argument.
_NULL: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NULL.get)


def sqlite_path(url: str) -> Path:
    return Path(url[len(PREFIX) :])


class SqliteStore(SqlStore):
    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self._db: aiosqlite.Connection | None = None
        # One connection is shared by every coroutine: transactions on it must not interleave, or one
        # task's ROLLBACK ends another's BEGIN.
        self._tx = asyncio.Lock()
        self._opening = asyncio.Lock()

    async def _conn(self) -> aiosqlite.Connection:
        async with self._opening:
            return await self._open()

    async def _open(self) -> aiosqlite.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(self.path, isolation_level=None)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA busy_timeout=10000")
            await db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        return self._db

    @asynccontextmanager
    async def _transaction(self, begin: str = "BEGIN") -> AsyncIterator[aiosqlite.Connection]:
        db = await self._conn()
        async with self._tx:
            await db.execute(begin)
            try:
                yield db
                await db.execute("COMMIT")
            except BaseException:
                # If BEGIN itself never ran (cancelled, locked), ROLLBACK has nothing to end: keep the
                # original error rather than replacing it with "no transaction is active".
                with contextlib.suppress(sqlite3.OperationalError):
                    await db.execute("ROLLBACK")
                raise

    async def migrate(self) -> None:
        # BEGIN IMMEDIATE: one process migrates; the others wait, then see it done
        async with self._transaction("BEGIN IMMEDIATE") as db:
            await db.execute(s.VERSION_TABLE)
            row = await (await db.execute("SELECT MAX(version) FROM hg_schema")).fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            for version, statements in enumerate(s.MIGRATIONS[current:], start=current + 1):
                for stmt in statements:
                    await db.execute(stmt)
                await db.execute("INSERT INTO hg_schema (version) VALUES (?)", (version,))

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        db = await self._conn()
        await db.execute(sql, params)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        db = await self._conn()
        return list(await (await db.execute(sql, params)).fetchall())

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        chunks = s.usage_record_chunks(records)
        async with self._transaction() as db:
            for sql, groups in chunks:
                await db.executemany(sql, groups)
