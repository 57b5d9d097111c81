"""Every store behaves the same: memory (the fake), SQLite, and (services) PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hybridgate.access.config import Budget, Limits
from hybridgate.auth.keys import Scopes, Team, new_key
from hybridgate.auth.manage import KeySpec, create_key, revoke_key, rotate_key
from hybridgate.errors import NotFound
from hybridgate.labels import DataClass
from hybridgate.store.base import Store, summarise
from hybridgate.store.records import AttemptRecord, UsageRecord

NASTY = "Robert'); DROP TABLE hg_keys; -- \u00e9\u4e2d"


async def test_keys_round_trip(store: Store) -> None:
    scopes = Scopes(models=["gpt-4o"], class_floor=DataClass.CONFIDENTIAL)
    secret, rec = new_key(NASTY, NASTY, 10.0, scopes=scopes, limits=Limits(rpm=5), budget=Budget(daily_usd=1.5))
    await store.add_key(rec)
    assert await store.key(rec.id) == rec
    assert await store.key_by_hash(rec.key_hash) == rec
    assert await store.keys(NASTY) == [rec]  # stored verbatim, and the tables are still there
    assert await store.keys("other") == []
    assert await store.count_keys() == 1
    await store.put_key(replace(rec, revoked_at=20.0))
    got = await store.key(rec.id)
    assert got is not None and got.state(30.0) == "revoked"
    assert secret not in str(await store.keys())


async def test_teams_upsert(store: Store) -> None:
    await store.put_team(Team(NASTY, ("a", "b"), Scopes(tiers=["self_hosted"]), Limits(tpm=9), Budget(), 1.0))
    await store.put_team(Team(NASTY, ("c",), Scopes(), Limits(), Budget(monthly_usd=3.0), 1.0))
    t = await store.team(NASTY)
    assert t is not None and t.members == ("c",) and t.budget.monthly_usd == 3.0
    assert [x.name for x in await store.teams()] == [NASTY]
    assert await store.team("nobody") is None


async def test_manage_operations(store: Store) -> None:
    secret, rec = await create_key(store, KeySpec(name="svc", team="new-team", expires_in="1d"), now=100.0)
    assert rec.expires_at == 100.0 + 86400 and await store.team("new-team") is not None
    s2, _rec2 = await rotate_key(store, rec.id)
    assert s2 != secret and await store.key_by_hash(rec.key_hash) is None
    await revoke_key(store, rec.id, now=200.0)
    assert (await store.key(rec.id)).revoked_at == 200.0  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await revoke_key(store, "key_missing")


def _rec(i: int, **kw: object) -> UsageRecord:
    base = dict(
        ts=1000.0 + i,
        request_id=f"r{i}",
        key_id=f"k{i % 2}",
        team="t" if i % 3 else None,
        route_tag=None,
        tier="self_hosted",
        endpoint="e",
        trust="self_hosted",
        model="m",
        rule_id="default",
        data_class="public",
        status=200 if i % 4 else 502,
        prompt_tokens=10 * i,
        completion_tokens=i,
        cached_tokens=1,
        latency_ms=5.0 * i,
        cost_usd=0.001 * i,
        estimated=i == 3,
        stream=bool(i % 2),
        attempts=(AttemptRecord("e", "self_hosted", "ok", 1.5),),
        finding_counts={"EMAIL": 1},
    )
    base.update(kw)
    return UsageRecord(**base)  # type: ignore[arg-type]


async def test_usage_summary_matches_the_reference(store: Store) -> None:
    recs = [_rec(i) for i in range(1, 13)]
    await store.add_usage(recs)
    for by in ("team", "key", "model", "tier"):
        got = await store.usage(1005.0, by)  # type: ignore[arg-type]
        want = summarise([r for r in recs if r.ts >= 1005.0], by)  # type: ignore[arg-type]
        assert [(r.group, r.requests, r.errors, r.prompt_tokens, r.estimated) for r in got] == [
            (r.group, r.requests, r.errors, r.prompt_tokens, r.estimated) for r in want
        ]
        assert sum(r.cost_usd for r in got) == pytest.approx(sum(r.cost_usd for r in want))
    back = await store.usage_records(0.0)
    assert [(r.request_id, r.attempts, r.finding_counts, r.estimated) for r in back] == [
        (r.request_id, r.attempts, r.finding_counts, r.estimated) for r in recs
    ]


async def test_migrate_twice_is_harmless(store: Store) -> None:
    await store.migrate()
    await store.migrate()
    assert await store.count_keys() == 0


@pytest.mark.parametrize("n", [1, 7, 8, 9, 31, 32, 33, 141, 500])
async def test_usage_batches_of_any_size_round_trip_exactly(store: Store, n: int) -> None:
    # SQLite writes several rows per INSERT (32, 8, 1): every row comes back whole and in order, NULLs too
    recs = [_rec(i, ts=1000.0 + i / 7, route_tag=None if i % 2 else "tag", ttft_ms=None if i % 3 else 0.25 * i,
                 key_id=None if i % 5 == 0 else f"k{i}") for i in range(n)]  # fmt: skip
    await store.add_usage(recs)
    assert await store.usage_records(0.0) == recs


def test_usage_chunks_cover_every_row_once_in_order() -> None:
    from hybridgate.store import schema as s

    for n in range(200):
        rows = [tuple(range(i * 22, i * 22 + 22)) for i in range(n)]
        chunks = s.usage_chunks(rows)
        assert [v for _, groups in chunks for g in groups for v in g] == [v for r in rows for v in r]
        for sql, groups in chunks:
            assert all(len(g) == sql.count("?") for g in groups)
        assert len(chunks) <= len(s.USAGE_CHUNKS)


def test_usage_record_chunks_match_usage_params_chunks() -> None:
    from hybridgate.store import schema as s
    from hybridgate.store.records import AttemptRecord, UsageRecord

    def rec(i: int) -> UsageRecord:
        attempts = tuple(
            AttemptRecord(f"e{j}", "self_hosted", "ok" if j == i % 3 else "timeout", 0.5 + j) for j in range(i % 3)
        )
        return UsageRecord(ts=float(i), request_id=f"r{i}", key_id=None if i % 2 else "k", team="t", route_tag=None,
                           tier="self_hosted", endpoint="e0", trust="self_hosted", model="m", rule_id="default",
                           data_class="public", status=200, prompt_tokens=i, completion_tokens=2 * i,
                           ttft_ms=None if i % 5 else 1.5, estimated=bool(i % 7 == 0), stream=bool(i % 4 == 0),
                           attempts=attempts, finding_counts={"email": i} if i % 6 == 0 else {})  # fmt: skip

    for n in (0, 1, 7, 8, 9, 31, 32, 33, 45, 100):
        recs = [rec(i) for i in range(n)]
        got = [(sql, [tuple(g) for g in groups]) for sql, groups in s.usage_record_chunks(recs)]
        assert got == s.usage_chunks([s.usage_params(r) for r in recs])
