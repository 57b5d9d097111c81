"""Two gateway instances sharing PostgreSQL (keys, usage) and Redis (counters): limits and budgets hold
across both. Needs the services on their local ports; each test uses its own schema and key prefix."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import redis

from hybridgate.app import build_app
from hybridgate.settings import parse_settings
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream
from tests.integration.access_helpers import BODY, access_config, bearer, create_key

pytestmark = pytest.mark.services
PG = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
REDIS = os.environ.get("HYBRIDGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def pair(servers: ServerThread) -> Iterator[tuple[str, str]]:
    schema, prefix = f"hgtest_{uuid.uuid4().hex[:10]}", f"hgtest:{uuid.uuid4().hex[:8]}:"
    fakes = [FakeUpstream("self"), FakeUpstream("external")]
    for f in fakes:
        f.port = servers.start_app(f.app)
    raw: dict[str, Any] = access_config(fakes[0].base_url, fakes[1].base_url, window_s=30, redis_prefix=prefix)
    raw["store"] = {"url": f"{PG}?schema={schema}", "redis_url": REDIS}
    settings = parse_settings(raw)
    urls = [f"http://127.0.0.1:{servers.start_app(lambda: build_app(settings))}" for _ in range(2)]
    try:
        yield urls[0], urls[1]
    finally:
        r = redis.Redis.from_url(REDIS)
        for k in r.scan_iter(match=prefix + "*", count=500):
            r.delete(k)
        asyncio.run(_drop(schema))


async def _drop(schema: str) -> None:
    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def _burst(urls: tuple[str, str], key: str, n: int) -> list[int]:
    async with httpx.AsyncClient(timeout=30) as c:
        rs = await asyncio.gather(
            *(c.post(urls[i % 2] + "/v1/chat/completions", json=BODY, headers=bearer(key)) for i in range(n))
        )
    return [r.status_code for r in rs]


async def test_60_rpm_across_two_gateways(pair: tuple[str, str]) -> None:
    key, _ = await asyncio.to_thread(create_key, pair[0], limits={"rpm": 60})
    codes = await _burst(pair, key, 100)  # well inside the 30 s window
    assert 59 <= codes.count(200) <= 61 and codes.count(200) + codes.count(429) == 100


async def test_budget_holds_across_two_gateways(pair: tuple[str, str]) -> None:
    key, _ = await asyncio.to_thread(create_key, pair[0], budget={"daily_usd": 100})  # 10 requests at $10
    codes = await _burst(pair, key, 50)
    assert 1 <= codes.count(200) <= 10
    await asyncio.sleep(0.3)
    more = await _burst(pair, key, 10)
    assert codes.count(200) + more.count(200) <= 10  # settled spend, not just reservations, is shared


async def test_keys_and_usage_shared_through_postgres(pair: tuple[str, str]) -> None:
    key, _key_id = await asyncio.to_thread(create_key, pair[0])
    async with httpx.AsyncClient(timeout=30) as c:
        assert (await c.post(pair[1] + "/v1/chat/completions", json=BODY)).status_code == 401
        assert (await c.post(pair[1] + "/v1/chat/completions", json=BODY, headers=bearer(key))).status_code == 200
