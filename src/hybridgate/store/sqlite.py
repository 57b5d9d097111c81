"""The embedded store: one SQLite file in WAL mode (readers never block the writer; several worker
processes and the CLI can share it)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from hybridgate.auth.keys import KeyRecord, Team
from hybridgate.store import schema as s
from hybridgate.store.base import GroupBy, UsageRow
from hybridgate.store.records import UsageRecord

PREFIX = "sqlite:///"


def sqlite_path(url: str) -> Path:
    return Path(url[len(PREFIX) :])


class SqliteStore:
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

    async def migrate(self) -> None:
        db = await self._conn()
        async with self._tx:
            await db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
            try:
                await db.execute(s.VERSION_TABLE)
                row = await (await db.execute("SELECT MAX(version) FROM hg_schema")).fetchone()
                current = int(row[0]) if row and row[0] is not None else 0
                for version, statements in enumerate(s.MIGRATIONS[current:], start=current + 1):
                    for stmt in statements:
                        await db.execute(stmt)
                    await db.execute("INSERT INTO hg_schema (version) VALUES (?)", (version,))
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

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

    async def add_key(self, rec: KeyRecord) -> None:
        await self._exec(s.INSERT_KEY, s.key_params(rec))

    async def put_key(self, rec: KeyRecord) -> None:
        await self._exec(s.UPDATE_KEY, s.key_update_params(rec))

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        rows = await self._all(s.SELECT_KEY + " WHERE key_hash = ?", (key_hash,))
        return s.key_from_row(rows[0]) if rows else None

    async def key(self, key_id: str) -> KeyRecord | None:
        rows = await self._all(s.SELECT_KEY + " WHERE id = ?", (key_id,))
        return s.key_from_row(rows[0]) if rows else None

    async def keys(self, team: str | None = None) -> list[KeyRecord]:
        where, params = (" WHERE team = ?", (team,)) if team is not None else ("", ())
        rows = await self._all(s.SELECT_KEY + where + " ORDER BY created_at, id", params)
        return [s.key_from_row(r) for r in rows]

    async def count_keys(self) -> int:
        rows = await self._all("SELECT COUNT(*) FROM hg_keys")
        return int(rows[0][0])

    async def put_team(self, team: Team) -> None:
        await self._exec(s.UPSERT_TEAM, s.team_params(team))

    async def team(self, name: str) -> Team | None:
        rows = await self._all(s.SELECT_TEAM + " WHERE name = ?", (name,))
        return s.team_from_row(rows[0]) if rows else None

    async def teams(self) -> list[Team]:
        return [s.team_from_row(r) for r in await self._all(s.SELECT_TEAM + " ORDER BY name")]

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        db = await self._conn()
        async with self._tx:
            await db.execute("BEGIN")
            try:
                await db.executemany(s.INSERT_USAGE, [s.usage_params(r) for r in records])
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def usage(self, since: float, by: GroupBy) -> list[UsageRow]:
        return [s.usage_row(r) for r in await self._all(s.usage_summary_sql(by), (since,))]

    async def usage_records(self, since: float) -> list[UsageRecord]:
        return [s.usage_from_row(r) for r in await self._all(s.SELECT_USAGE, (since,))]
