"""The audit store on PostgreSQL, for gateways that run as several replicas or outgrow one file.

Same chain, same checkpoints as the SQLite store. Appends from several replicas interleave safely: each
batch locks the log table against other writers (readers are not blocked), reads the head and links its
rows to it inside one transaction. The URL may carry `?schema=NAME`; the tables then live there.

The audit writer is a plain thread and the CLI is synchronous, while the project's driver (asyncpg) is
async: the store runs its own event loop on a private thread and waits on it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

import asyncpg

from hybridgate.errors import ConfigError
from hybridgate.observe.audit.chain import GENESIS, Checkpoint, Row, chain, prune_cut, sign
from hybridgate.observe.audit.store import Pending
from hybridgate.store.postgres import split_schema

T = TypeVar("T")
_PAGE = 1000

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS audit_log (
      seq BIGINT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, request_id TEXT, body BYTEA NOT NULL,
      prev TEXT NOT NULL, hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts)",
    "CREATE INDEX IF NOT EXISTS audit_log_rid ON audit_log(request_id)",
    """CREATE TABLE IF NOT EXISTS audit_checkpoints (
      seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, mac TEXT)""",
]
# Conflicts with itself (one writer at a time across replicas), not with plain SELECTs.
_LOCK = "LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"
_SCHEMA_LOCK = 0x68675F61  # pg_advisory_xact_lock id: replicas creating the tables together take turns
_UPSERT_CP = """INSERT INTO audit_checkpoints (seq, hash, ts, kind, mac) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (seq) DO UPDATE SET hash = EXCLUDED.hash, ts = EXCLUDED.ts, kind = EXCLUDED.kind, mac = EXCLUDED.mac"""


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


class _Loop:
    """A private event loop on its own thread; `run` may be called from any other thread, one call at a
    time (the store has one connection, and a connection runs one statement at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hybridgate-audit-pg", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self.lock:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class PostgresAuditStore:
    def __init__(self, url: str, *, hmac_key: bytes | None = None, checkpoint_every: int = 1000) -> None:
        try:
            self.dsn, self.schema = split_schema(url)
        except ValueError as e:
            raise ConfigError(f"audit store: {e}") from None
        self.key, self.every = hmac_key, checkpoint_every
        self._loop = _Loop()
        try:
            self.conn: asyncpg.Connection = self._loop.run(self._connect())
        except (OSError, asyncpg.PostgresError) as e:  # at startup: say so plainly instead of a traceback
            self._loop.close()
            raise ConfigError(f"audit store: cannot open PostgreSQL ({type(e).__name__}: {e})") from None
        except BaseException:
            self._loop.close()
            raise

    async def _connect(self) -> asyncpg.Connection:
        settings = {"search_path": self.schema} if self.schema else None
        conn = await asyncpg.connect(self.dsn, server_settings=settings)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            if self.schema:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            for stmt in _SCHEMA:
                await conn.execute(stmt)
        return conn

    def _run(self, op: Callable[[], Awaitable[T]]) -> T:
        return self._loop.run(self._ready(op))

    async def _ready(self, op: Callable[[], Awaitable[T]]) -> T:
        # A database restart or failover drops the connection: the writer retries its batch, and the
        # retry gets a fresh connection here instead of failing forever on the dead one.
        if self.conn.is_closed():
            self.conn = await self._connect()
        return await op()

    async def _head(self) -> tuple[int, str]:
        row = await self.conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        if row is None:
            row = await self.conn.fetchrow("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
        return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)

    async def _checkpoint(self, seq: int, digest: str, now: float, kind: str) -> None:
        mac = sign(self.key, seq, digest) if self.key is not None else None
        await self.conn.execute(_UPSERT_CP, seq, digest, now, kind, mac)

    # -- writes ------------------------------------------------------------------------------------
    def append(self, items: Sequence[Pending], now: float) -> list[Row]:
        return self._run(lambda: self._append(items, now))

    async def _append(self, items: Sequence[Pending], now: float) -> list[Row]:
        async with self.conn.transaction():
            await self.conn.execute(_LOCK)
            last, prev = await self._head()
            rows = chain(prev, last + 1, (body for _, _, body in items))
            await self.conn.executemany(
                "INSERT INTO audit_log (seq, ts, request_id, body, prev, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                [(r.seq, ts, rid, r.body, r.prev, r.hash) for r, (ts, rid, _) in zip(rows, items, strict=True)],
            )
            if self.key is not None:
                for r in rows:
                    if r.seq % self.every == 0:
                        await self._checkpoint(r.seq, r.hash, now, "periodic")
        return rows

    def checkpoint_head(self, now: float) -> Checkpoint | None:
        """Signs the current head, so cutting rows off the end is detected from here on."""
        if self.key is None:
            return None
        return self._run(partial(self._checkpoint_head, self.key, now))

    async def _checkpoint_head(self, key: bytes, now: float) -> Checkpoint | None:
        async with self.conn.transaction():
            await self.conn.execute(_LOCK)
            seq, digest = await self._head()
            if seq == 0:
                return None
            await self._checkpoint(seq, digest, now, "periodic")
        return Checkpoint(seq, digest, now, "periodic", sign(key, seq, digest))

    def prune(self, before_ts: float, now: float) -> int:
        """Deletes rows older than `before_ts` (a whole prefix) and leaves a signed checkpoint in their place."""
        if self.key is None:
            raise ConfigError("pruning needs the checkpoint key: without it the pruned chain cannot be anchored")
        return self._run(lambda: self._prune(before_ts, now))

    async def _prune(self, before_ts: float, now: float) -> int:
        async with self.conn.transaction():
            await self.conn.execute(_LOCK)
            keep = await self.conn.fetchval("SELECT MIN(seq) FROM audit_log WHERE ts >= $1", before_ts)
            top = await self.conn.fetchval("SELECT MAX(seq) FROM audit_log")
            cut = prune_cut(keep, top)
            digest = await self.conn.fetchval("SELECT hash FROM audit_log WHERE seq = $1", cut)
            if digest is None:
                return 0
            await self._checkpoint(cut, str(digest), now, "prune")
            status = await self.conn.execute("DELETE FROM audit_log WHERE seq <= $1", cut)
            await self.conn.execute("DELETE FROM audit_checkpoints WHERE seq < $1", cut)
        return int(status.split()[-1])

    # -- reads -------------------------------------------------------------------------------------
    def rows(self, after_seq: int = 0, since_ts: float | None = None) -> Iterator[Row]:
        """In seq order, a page at a time (keyset pagination: no server-side cursor held open)."""
        while True:
            page = self._run(partial(self._page, after_seq, since_ts))
            yield from page
            if len(page) < _PAGE:
                return
            after_seq = page[-1].seq

    async def _page(self, after_seq: int, since_ts: float | None) -> list[Row]:
        q = "SELECT seq, body, prev, hash FROM audit_log WHERE seq > $1"
        args: list[Any] = [after_seq]
        if since_ts is not None:
            q += " AND ts >= $2"
            args.append(since_ts)
        recs = await self.conn.fetch(f"{q} ORDER BY seq LIMIT {_PAGE}", *args)
        return [Row(int(s), bytes(b), str(p), str(h)) for s, b, p, h in recs]

    def find(self, request_id: str) -> list[Row]:
        recs = self._run(
            lambda: self.conn.fetch(
                "SELECT seq, body, prev, hash FROM audit_log WHERE request_id = $1 ORDER BY seq", request_id
            )
        )
        return [Row(int(s), bytes(b), str(p), str(h)) for s, b, p, h in recs]

    def checkpoints(self) -> list[Checkpoint]:
        recs = self._run(lambda: self.conn.fetch("SELECT seq, hash, ts, kind, mac FROM audit_checkpoints ORDER BY seq"))
        return [Checkpoint(int(s), str(h), float(t), str(k), m) for s, h, t, k, m in recs]

    def close(self) -> None:
        try:
            self._loop.run(self.conn.close())
        finally:
            self._loop.close()
