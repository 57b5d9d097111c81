"""The queries the SQLite and PostgreSQL stores share, written once over two primitives.

An engine supplies `_exec` (a statement) and `_all` (a query's rows), plus the parts where the engines
really differ: connecting, migrating under a lock, batched usage inserts in a transaction, closing.
Statements come from store/schema.py with `?` placeholders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from hybridgate.auth.keys import KeyRecord, Team
from hybridgate.store import schema as s
from hybridgate.store.base import GroupBy, Spend, UsageRow
from hybridgate.store.records import UsageRecord


class SqlStore(ABC):
    @abstractmethod
    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

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

    async def usage(self, since: float, by: GroupBy) -> list[UsageRow]:
        return [s.usage_row(r) for r in await self._all(s.usage_summary_sql(by), (since,))]

    async def usage_records(self, since: float) -> list[UsageRecord]:
        return [s.usage_from_row(r) for r in await self._all(s.SELECT_USAGE, (since,))]

    async def spend(self, since: float) -> list[Spend]:
        return [Spend(r[0], r[1], float(r[2] or 0.0)) for r in await self._all(s.SELECT_SPEND, (since,))]
