"""The tables, their migrations and the row <-> record codecs shared by the SQLite and PostgreSQL stores.

Statements use `?` placeholders; the PostgreSQL store rewrites them to `$n`. Times are unix seconds
(double precision) and structured fields are JSON text, so both engines read the same rows the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import orjson

from hybridgate.access.config import Budget, Limits
from hybridgate.auth.keys import KeyRecord, Scopes, Team
from hybridgate.store.base import GroupBy, UsageRow
from hybridgate.store.records import AttemptRecord, UsageRecord

# Append only: each entry is one schema version. Never edit a released entry.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS hg_teams (
            name TEXT PRIMARY KEY, members TEXT NOT NULL, scopes TEXT NOT NULL, limits TEXT NOT NULL,
            budget TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS hg_keys (
            id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, team TEXT,
            hint TEXT NOT NULL, scopes TEXT NOT NULL, limits TEXT NOT NULL, budget TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION, revoked_at DOUBLE PRECISION)""",
        "CREATE INDEX IF NOT EXISTS hg_keys_team ON hg_keys (team)",
        """CREATE TABLE IF NOT EXISTS hg_usage (
            ts DOUBLE PRECISION NOT NULL, request_id TEXT NOT NULL, key_id TEXT, team TEXT, route_tag TEXT,
            tier TEXT, endpoint TEXT, trust TEXT, model TEXT, rule_id TEXT NOT NULL, data_class TEXT NOT NULL,
            status INTEGER NOT NULL, prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,
            cached_tokens BIGINT NOT NULL, latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION,
            cost_usd DOUBLE PRECISION NOT NULL, estimated INTEGER NOT NULL, stream INTEGER NOT NULL,
            attempts TEXT NOT NULL, finding_counts TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS hg_usage_ts ON hg_usage (ts)",
    ),
)
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS hg_schema (version INTEGER NOT NULL)"

KEY_COLUMNS = "id, key_hash, name, team, hint, scopes, limits, budget, created_at, expires_at, revoked_at"
TEAM_COLUMNS = "name, members, scopes, limits, budget, created_at"
USAGE_COLUMNS = (
    "ts, request_id, key_id, team, route_tag, tier, endpoint, trust, model, rule_id, data_class, status, "
    "prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttft_ms, cost_usd, estimated, stream, "
    "attempts, finding_counts"
)
USAGE_COLUMN_LIST = tuple(c.strip() for c in USAGE_COLUMNS.split(","))
INSERT_KEY = f"INSERT INTO hg_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPDATE_KEY = (
    "UPDATE hg_keys SET key_hash = ?, name = ?, team = ?, hint = ?, scopes = ?, limits = ?, budget = ?, "
    "created_at = ?, expires_at = ?, revoked_at = ? WHERE id = ?"
)
UPSERT_TEAM = (
    f"INSERT INTO hg_teams ({TEAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "members = excluded.members, scopes = excluded.scopes, limits = excluded.limits, budget = excluded.budget"
)
INSERT_USAGE = f"INSERT INTO hg_usage ({USAGE_COLUMNS}) VALUES ({', '.join('?' * 22)})"
_ROW = f"({', '.join('?' * len(USAGE_COLUMN_LIST))})"
# rows per INSERT statement, largest first (see usage_chunks); 32 x 22 = 704 parameters, under the 999 that
# SQLite before 3.32 allows in one statement
USAGE_CHUNKS = (32, 8, 1)
INSERT_USAGE_ROWS = {n: f"INSERT INTO hg_usage ({USAGE_COLUMNS}) VALUES {', '.join([_ROW] * n)}" for n in USAGE_CHUNKS}
SELECT_KEY = f"SELECT {KEY_COLUMNS} FROM hg_keys"
SELECT_TEAM = f"SELECT {TEAM_COLUMNS} FROM hg_teams"
SELECT_USAGE = f"SELECT {USAGE_COLUMNS} FROM hg_usage WHERE ts >= ? ORDER BY ts"
SELECT_SPEND = (
    "SELECT key_id, team, SUM(cost_usd) FROM hg_usage WHERE ts >= ? AND cost_usd > 0 "
    "AND (key_id IS NOT NULL OR team IS NOT NULL) GROUP BY key_id, team"
)

_GROUP_COLUMN: Mapping[GroupBy, str] = {
    "team": "team",
    "key": "key_id",
    "tier": "tier",
    "model": "model",
    "endpoint": "endpoint",
}


def usage_summary_sql(by: GroupBy) -> str:
    col = _GROUP_COLUMN[by]  # from a fixed table, never from the caller's text
    return (
        f"SELECT COALESCE({col}, '-') AS g, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), "
        "SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(cost_usd), SUM(estimated), "
        f"AVG(latency_ms) FROM hg_usage WHERE ts >= ? GROUP BY COALESCE({col}, '-') "
        "ORDER BY 7 DESC, 2 DESC, 1"
    )


def _dump(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def key_params(k: KeyRecord) -> tuple[Any, ...]:
    return (
        k.id,
        k.key_hash,
        k.name,
        k.team,
        k.hint,
        k.scopes.model_dump_json(),
        k.limits.model_dump_json(),
        k.budget.model_dump_json(),
        k.created_at,
        k.expires_at,
        k.revoked_at,
    )


def key_update_params(k: KeyRecord) -> tuple[Any, ...]:
    p = key_params(k)
    return (*p[1:], p[0])


def key_from_row(r: Sequence[Any]) -> KeyRecord:
    return KeyRecord(
        id=r[0],
        key_hash=r[1],
        name=r[2],
        team=r[3],
        hint=r[4],
        scopes=Scopes.model_validate_json(r[5]),
        limits=Limits.model_validate_json(r[6]),
        budget=Budget.model_validate_json(r[7]),
        created_at=float(r[8]),
        expires_at=None if r[9] is None else float(r[9]),
        revoked_at=None if r[10] is None else float(r[10]),
    )


def team_params(t: Team) -> tuple[Any, ...]:
    return (
        t.name,
        _dump(list(t.members)),
        t.scopes.model_dump_json(),
        t.limits.model_dump_json(),
        t.budget.model_dump_json(),
        t.created_at,
    )


def team_from_row(r: Sequence[Any]) -> Team:
    return Team(
        name=r[0],
        members=tuple(orjson.loads(r[1])),
        scopes=Scopes.model_validate_json(r[2]),
        limits=Limits.model_validate_json(r[3]),
        budget=Budget.model_validate_json(r[4]),
        created_at=float(r[5]),
    )


def _attempts_json(attempts: tuple[AttemptRecord, ...]) -> str:
    if len(attempts) == 1:  # the usual record: no comprehension (a frame of its own) for one attempt
        a = attempts[0]
        return orjson.dumps([[a.endpoint, a.trust, a.outcome, a.latency_ms]]).decode()
    return orjson.dumps([[a.endpoint, a.trust, a.outcome, a.latency_ms] for a in attempts]).decode()


def usage_params(u: UsageRecord) -> tuple[Any, ...]:
    findings = orjson.dumps(u.finding_counts).decode() if u.finding_counts else "{}"  # what _dump gives for {}
    return (
        u.ts, u.request_id, u.key_id, u.team, u.route_tag, u.tier, u.endpoint, u.trust, u.model, u.rule_id,
        u.data_class, u.status, u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.latency_ms, u.ttft_ms,
        u.cost_usd, int(u.estimated), int(u.stream), _attempts_json(u.attempts), findings,
    )  # fmt: skip


def usage_chunks(params: Sequence[tuple[Any, ...]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Rows -> (statement, parameter lists) for `executemany`, several rows per INSERT: the SQLite driver
    gives up the GIL around every statement it steps, so 500 one-row INSERTs on the writer thread were 500
    hand-offs with the busy event loop; 32-row statements make that 21 (and a little less work per row).
    The same rows in the same order; the statements are few and fixed, so the driver's statement cache
    parses each once."""
    out = []
    i, n = 0, len(params)
    for size in USAGE_CHUNKS:
        k = (n - i) // size
        if k:
            groups = [tuple(chain.from_iterable(params[j : j + size])) for j in range(i, i + k * size, size)]
            out.append((INSERT_USAGE_ROWS[size], groups))
            i += k * size
    return out


def usage_record_chunks(records: Sequence[UsageRecord]) -> list[tuple[str, list[list[Any]]]]:
    """`usage_chunks([usage_params(r) for r in records])` in one pass: each statement's parameters are built
    flat from the records, without a tuple per row and another per statement (the same values, in order)."""
    out: list[tuple[str, list[list[Any]]]] = []
    dumps = orjson.dumps
    i, n = 0, len(records)
    for size in USAGE_CHUNKS:
        k = (n - i) // size
        if not k:
            continue
        groups = []
        for j in range(i, i + k * size, size):
            flat: list[Any] = []
            add = flat.extend
            for u in records[j : j + size]:  # usage_params, inlined
                add((
                    u.ts, u.request_id, u.key_id, u.team, u.route_tag, u.tier, u.endpoint, u.trust, u.model,
                    u.rule_id, u.data_class, u.status, u.prompt_tokens, u.completion_tokens, u.cached_tokens,
                    u.latency_ms, u.ttft_ms, u.cost_usd, int(u.estimated), int(u.stream), _attempts_json(u.attempts),
                    dumps(u.finding_counts).decode() if u.finding_counts else "{}",
                ))  # fmt: skip
            groups.append(flat)
        out.append((INSERT_USAGE_ROWS[size], groups))
        i += k * size
    return out


def usage_from_row(r: Sequence[Any]) -> UsageRecord:
    attempts = tuple(AttemptRecord(a[0], a[1], a[2], float(a[3])) for a in orjson.loads(r[20]))
    return UsageRecord(
        ts=float(r[0]), request_id=r[1], key_id=r[2], team=r[3], route_tag=r[4], tier=r[5], endpoint=r[6],
        trust=r[7], model=r[8], rule_id=r[9], data_class=r[10], status=int(r[11]), prompt_tokens=int(r[12]),
        completion_tokens=int(r[13]), cached_tokens=int(r[14]), latency_ms=float(r[15]),
        ttft_ms=None if r[16] is None else float(r[16]), cost_usd=float(r[17]), estimated=bool(r[18]),
        stream=bool(r[19]), attempts=attempts, finding_counts=dict(orjson.loads(r[21])),
    )  # fmt: skip


def usage_row(r: Sequence[Any]) -> UsageRow:
    return UsageRow(
        group=str(r[0]),
        requests=int(r[1]),
        errors=int(r[2] or 0),
        prompt_tokens=int(r[3] or 0),
        completion_tokens=int(r[4] or 0),
        cached_tokens=int(r[5] or 0),
        cost_usd=float(r[6] or 0.0),
        estimated=int(r[7] or 0),
        avg_latency_ms=float(r[8] or 0.0),
    )
