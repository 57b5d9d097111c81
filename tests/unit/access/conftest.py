"""Counters and stores under test: the in-process/embedded ones always, Redis and PostgreSQL when marked."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from hybridgate.access.counters import Counters, LocalCounters
from hybridgate.store.base import MemoryStore, Store

REDIS_URL = os.environ.get("HYBRIDGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.services)])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "local":
        yield LocalCounters()
        return
    from hybridgate.access.redis_counters import RedisCounters

    rc = RedisCounters(REDIS_URL, prefix=f"hgtest:{uuid.uuid4().hex[:8]}:")
    try:
        yield rc
    finally:
        await rc.delete_prefix()
        await rc.aclose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Store]:
    s: Store
    schema = None
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite":
        from hybridgate.store.sqlite import SqliteStore

        s = SqliteStore(f"sqlite:///{tmp_path}/hg.db")
    else:
        from hybridgate.store.postgres import PostgresStore

        schema = f"hgtest_{uuid.uuid4().hex[:10]}"
        s = PostgresStore(f"{PG_URL}?schema={schema}")
    await s.migrate()
    try:
        yield s
    finally:
        await s.aclose()
        if schema is not None:
            await drop_schema(schema)


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
