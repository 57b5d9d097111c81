"""The production store: PostgreSQL through asyncpg, with a connection pool and versioned migrations.

The URL may carry `?schema=NAME`: every table then lives in that schema (tests use a fresh one each).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from hybridgate.store import schema as s
from hybridgate.store.records import UsageRecord
from hybridgate.store.sql import SqlStore

_MIGRATION_LOCK = 0x68675F6D  # pg_advisory_xact_lock id: replicas starting together migrate one at a time
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def split_schema(url: str) -> tuple[str, str | None]:
    """(url without our `schema` parameter, schema)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def dollar(sql: str) -> str:
    """`?` placeholders -> `$1, $2, ...` (our statements never contain a literal `?`)."""
    n = 0

    def sub(_: re.Match[str]) -> str:
        nonlocal n
        n += 1
        return f"${n}"

    return re.sub(r"\?", sub, sql)


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.dsn, self.schema = split_schema(url)
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None

    async def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            settings = {"search_path": self.schema} if self.schema else None
            if self.schema:
                conn = await asyncpg.connect(self.dsn)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                finally:
                    await conn.close()
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self._sizes[0], max_size=self._sizes[1], server_settings=settings
            )
        return self._pool

    async def migrate(self) -> None:
        pool = await self._p()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(s.VERSION_TABLE)
            current = await conn.fetchval("SELECT MAX(version) FROM hg_schema") or 0
            for version, statements in enumerate(s.MIGRATIONS[current:], start=current + 1):
                for stmt in statements:
                    await conn.execute(stmt)
                await conn.execute("INSERT INTO hg_schema (version) VALUES ($1)", version)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        await (await self._p()).execute(dollar(sql), *params)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await (await self._p()).fetch(dollar(sql), *params))

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        # Binary COPY: about half the time per row of a batched INSERT (client and server), and PostgreSQL
        # often shares the machine with the gateway. All or nothing, like the INSERT batch it replaces.
        pool = await self._p()
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "hg_usage",
                records=[s.usage_params(r) for r in records],
                columns=s.USAGE_COLUMN_LIST,
                schema_name=self.schema,
            )
