"""The store interfaces for keys, teams and usage, and the in-memory fake that tests use.

Implementations: store/sqlite.py (embedded default, WAL) and store/postgres.py (asyncpg, migrations).
Nothing on the request path awaits a write: keys are read through the authenticator's cache and usage
arrives in batches from access/usage.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from hybridgate.auth.keys import KeyRecord, Team
from hybridgate.store.records import UsageRecord

GroupBy = Literal["team", "key", "tier", "model", "endpoint"]
GROUPS: tuple[GroupBy, ...] = ("team", "key", "tier", "model", "endpoint")


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    estimated: int  # requests whose tokens the gateway counted itself
    avg_latency_ms: float


@dataclass(frozen=True, slots=True)
class Spend:
    """Cost recorded for one (key, team) pair: what budget counters are seeded from at start-up."""

    key_id: str | None
    team: str | None
    cost_usd: float


class Store(Protocol):
    async def migrate(self) -> None: ...
    async def aclose(self) -> None: ...

    async def add_key(self, rec: KeyRecord) -> None: ...
    async def put_key(self, rec: KeyRecord) -> None:
        """Replace an existing key's row (revoke, rotate)."""
        ...

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None: ...
    async def key(self, key_id: str) -> KeyRecord | None: ...
    async def keys(self, team: str | None = None) -> list[KeyRecord]: ...
    async def count_keys(self) -> int:
        """Every key ever created, revoked ones included: once a gateway had keys it never reopens."""
        ...

    async def put_team(self, team: Team) -> None: ...
    async def team(self, name: str) -> Team | None: ...
    async def teams(self) -> list[Team]: ...

    async def add_usage(self, records: Sequence[UsageRecord]) -> None: ...
    async def usage(self, since: float, by: GroupBy) -> list[UsageRow]: ...
    async def usage_records(self, since: float) -> list[UsageRecord]: ...
    async def spend(self, since: float) -> list[Spend]:
        """Recorded cost since `since`, summed per (key_id, team)."""
        ...


def group_value(rec: UsageRecord, by: GroupBy) -> str:
    value = {"team": rec.team, "key": rec.key_id, "tier": rec.tier, "model": rec.model, "endpoint": rec.endpoint}[by]
    return value if value is not None else "-"


def summarise(records: Sequence[UsageRecord], by: GroupBy) -> list[UsageRow]:
    """What the SQL stores compute with GROUP BY, in Python: the fake's implementation and the reference."""
    groups: dict[str, list[UsageRecord]] = defaultdict(list)
    for r in records:
        groups[group_value(r, by)].append(r)
    rows = [
        UsageRow(
            group=g,
            requests=len(rs),
            errors=sum(1 for r in rs if r.status >= 400),
            prompt_tokens=sum(r.prompt_tokens for r in rs),
            completion_tokens=sum(r.completion_tokens for r in rs),
            cached_tokens=sum(r.cached_tokens for r in rs),
            cost_usd=sum(r.cost_usd for r in rs),
            estimated=sum(1 for r in rs if r.estimated),
            avg_latency_ms=sum(r.latency_ms for r in rs) / len(rs),
        )
        for g, rs in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r.cost_usd, -r.requests, r.group))


class MemoryStore:
    """The fake: everything in dicts. Same semantics as the SQL stores."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._teams: dict[str, Team] = {}
        self.records: list[UsageRecord] = []

    async def migrate(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def add_key(self, rec: KeyRecord) -> None:
        if rec.id in self._keys or any(k.key_hash == rec.key_hash for k in self._keys.values()):
            raise ValueError(f"duplicate key {rec.id}")
        self._keys[rec.id] = rec

    async def put_key(self, rec: KeyRecord) -> None:
        self._keys[rec.id] = replace(rec)

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        return next((k for k in self._keys.values() if k.key_hash == key_hash), None)

    async def key(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def keys(self, team: str | None = None) -> list[KeyRecord]:
        out = [k for k in self._keys.values() if team is None or k.team == team]
        return sorted(out, key=lambda k: (k.created_at, k.id))

    async def count_keys(self) -> int:
        return len(self._keys)

    async def put_team(self, team: Team) -> None:
        self._teams[team.name] = team

    async def team(self, name: str) -> Team | None:
        return self._teams.get(name)

    async def teams(self) -> list[Team]:
        return sorted(self._teams.values(), key=lambda t: t.name)

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        self.records.extend(records)

    async def usage(self, since: float, by: GroupBy) -> list[UsageRow]:
        return summarise([r for r in self.records if r.ts >= since], by)

    async def usage_records(self, since: float) -> list[UsageRecord]:
        return [r for r in self.records if r.ts >= since]

    async def spend(self, since: float) -> list[Spend]:
        sums: dict[tuple[str | None, str | None], float] = defaultdict(float)
        for r in self.records:
            if r.ts >= since and r.cost_usd > 0 and (r.key_id is not None or r.team is not None):
                sums[(r.key_id, r.team)] += r.cost_usd
        return [Spend(k, t, c) for (k, t), c in sums.items()]
