"""The audit chain on PostgreSQL: same guarantees as the embedded store. Each test has its own schema."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import yaml
from typer.testing import CliRunner

from hybridgate.observe.audit.ops import open_store, verify
from hybridgate.observe.audit.pg_store import PostgresAuditStore
from hybridgate.observe.config import AuditConfig
from tests.conftest import minimal_config

pytestmark = pytest.mark.services
PG = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
KEY = b"k" * 32


async def _sql(schema: str, *stmts: str) -> list[Any]:
    conn = await asyncpg.connect(PG, server_settings={"search_path": schema})
    try:
        out: list[Any] = []
        for stmt in stmts:
            out = list(await conn.fetch(stmt))
        return out
    finally:
        await conn.close()


def sql(schema: str, *stmts: str) -> list[Any]:
    return asyncio.run(_sql(schema, *stmts))


@pytest.fixture
def url() -> Iterator[str]:
    schema = f"hgaudit_{uuid.uuid4().hex[:10]}"
    yield f"{PG}?schema={schema}"
    asyncio.run(_sql("public", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def fill(url: str, n: int, *, key: bytes | None = None, every: int = 1000, first: int = 0) -> PostgresAuditStore:
    store = PostgresAuditStore(url, hmac_key=key, checkpoint_every=every)
    for start in range(first, first + n, 100):
        items = [(float(i), f"r{i}", b'{"i":%d}' % i) for i in range(start, min(first + n, start + 100))]
        store.append(items, 0.0)
    return store


def reopen_verify(url: str, key: bytes | None = None) -> Any:
    store = PostgresAuditStore(url)
    try:
        return verify(store, key)
    finally:
        store.close()


def write_config(tmp_path: Path, audit: dict[str, Any]) -> Path:
    raw = minimal_config("http://127.0.0.1:9", "http://127.0.0.1:9")
    raw["observability"] = {"audit": audit}
    path = tmp_path / "hg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_1000_rows_verify_and_read_back_in_order(url: str) -> None:
    store = fill(url, 1000, key=KEY, every=250)
    v = verify(store, KEY)
    assert v.ok and v.rows == 1000 and (v.first_seq, v.last_seq) == (1, 1000) and v.checkpoints == 4
    assert [orjson.loads(r.body)["i"] for r in store.rows(after_seq=998)] == [998, 999]
    assert [r.seq for r in store.find("r500")] == [501]
    store.close()


def test_flipped_byte_is_located(url: str) -> None:
    fill(url, 50).close()
    sql(schema_of(url), "UPDATE audit_log SET body = set_byte(body, 3, get_byte(body, 3) # 1) WHERE seq = 17")
    v = reopen_verify(url)
    assert v.broken is not None and v.broken.seq == 17 and "content" in v.broken.reason and v.rows == 16


def test_deleted_row_is_located(url: str) -> None:
    fill(url, 300).close()
    sql(schema_of(url), "DELETE FROM audit_log WHERE seq = 123")
    v = reopen_verify(url)
    assert v.broken is not None and v.broken.seq == 123 and "deleted" in v.broken.reason


def test_reordered_rows_are_located(url: str) -> None:
    fill(url, 50).close()
    sql(
        schema_of(url),
        "UPDATE audit_log SET seq = -1 WHERE seq = 20",
        "UPDATE audit_log SET seq = 20 WHERE seq = 21",
        "UPDATE audit_log SET seq = 21 WHERE seq = -1",
    )
    v = reopen_verify(url)
    assert v.broken is not None and v.broken.seq == 20


def test_rows_cut_off_the_end_fail_against_a_signed_checkpoint(url: str) -> None:
    fill(url, 250, key=KEY, every=100).close()
    sql(schema_of(url), "DELETE FROM audit_log WHERE seq > 150")
    v = reopen_verify(url, KEY)
    assert v.broken is not None and v.broken.seq == 151 and "cut" in v.broken.reason


def test_prune_then_verify_then_tamper(url: str) -> None:
    store = fill(url, 300, key=KEY)
    assert store.prune(before_ts=120.0, now=1.0) == 120
    assert store.prune(before_ts=120.0, now=2.0) == 0  # a second prune (another replica) finds nothing
    store.append([(999.0, "late", b'{"late":1}')], 3.0)
    v = verify(store, KEY)
    assert v.ok and (v.first_seq, v.last_seq) == (121, 301) and v.rows == 181
    store.close()
    sql(schema_of(url), "DELETE FROM audit_log WHERE seq = 121")
    assert reopen_verify(url, KEY).broken is not None


def test_restart_continues_the_chain(url: str) -> None:
    fill(url, 10).close()
    fill(url, 10, first=10).close()  # a new store object: the head is read back from the database
    v = reopen_verify(url)
    assert v.ok and v.rows == 20 and v.last_seq == 20


def test_two_stores_appending_at_once_keep_one_chain(url: str) -> None:
    """Two replicas: the table lock serialises their batches, the chain stays linear."""
    a, b = PostgresAuditStore(url), PostgresAuditStore(url)

    async def run() -> None:
        await asyncio.gather(
            *(
                asyncio.to_thread(s.append, [(0.0, f"{n}-{i}", b"{}")], 0.0)
                for i in range(40)
                for n, s in (("a", a), ("b", b))
            )
        )

    asyncio.run(run())
    a.close()
    b.close()
    v = reopen_verify(url)
    assert v.ok and v.rows == 80


def test_cli_verify_export_prune_with_a_postgres_url(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hybridgate.cli import app

    monkeypatch.setenv("HYBRIDGATE_AUDIT_HMAC_KEY", KEY.hex())
    cfg = write_config(tmp_path, {"url": url})
    store = open_store(AuditConfig(url=url))
    store.append([(float(i), f"r{i}", b'{"i":%d}' % i) for i in range(100)], 0.0)
    store.close()
    runner = CliRunner()
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert r.exit_code == 0 and "100 rows" in r.output, r.output
    assert "root@" not in r.output  # the location printed carries no credentials
    r = runner.invoke(app, ["audit", "export", "-c", str(cfg), "--out", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "x.jsonl").read_bytes().splitlines()) == 100
    r = runner.invoke(app, ["audit", "prune", "-c", str(cfg), "--older-than", "1970-01-01T00:00:50"])
    assert r.exit_code == 0 and "pruned 50" in r.output, r.output
    r = runner.invoke(app, ["audit", "checkpoint", "-c", str(cfg)])
    assert r.exit_code == 0 and "signed checkpoint at seq 100" in r.output, r.output
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert r.exit_code == 0 and "50 rows (seq 51..100), 1 signed checkpoints" in r.output, r.output
    sql(schema_of(url), "UPDATE audit_log SET body = set_byte(body, 3, get_byte(body, 3) # 1) WHERE seq = 70")
    r = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert r.exit_code == 1 and "seq 70" in r.output, r.output


def test_a_dropped_connection_is_replaced_on_the_next_call(url: str) -> None:
    """A database restart or failover: the writer's retry must not fail forever on the dead connection."""
    store = fill(url, 10)
    pid = store._loop.run(store.conn.fetchval("SELECT pg_backend_pid()"))
    sql("public", f"SELECT pg_terminate_backend({pid})")
    with contextlib.suppress(Exception):  # the call that finds the connection cut may fail; the writer retries
        store.append([(10.0, "r10", b'{"i":10}')], 0.0)
    store.append([(11.0, "r11", b'{"i":11}')], 0.0)
    store.close()
    v = reopen_verify(url)
    assert v.ok and v.rows in (11, 12)


def test_an_unreachable_database_is_a_config_error() -> None:
    from hybridgate.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot open PostgreSQL"):
        PostgresAuditStore("postgresql://root@127.0.0.1:1/test")
