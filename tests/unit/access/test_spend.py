"""Seeding budget counters from recorded usage: the pure mapping, each store's sums, each counter's NX."""

from __future__ import annotations

import datetime as dt

from hybridgate.access.counters import NANO, Check, Counters
from hybridgate.access.limits import period_starts, spent_key
from hybridgate.access.spend import seed_spend, spent_counters
from hybridgate.store.base import Spend, Store
from hybridgate.store.records import UsageRecord

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC).timestamp()
DAY0 = dt.datetime(2026, 3, 15, tzinfo=dt.UTC).timestamp()
MONTH0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()


def rec(ts: float, key: str | None, team: str | None, usd: float) -> UsageRecord:
    return UsageRecord(ts, f"r{ts}{key}", key, team, None, None, None, None, None, "r", "public", 200, cost_usd=usd)


def test_period_starts_are_the_utc_day_and_month() -> None:
    (day, dlabel, dstart, dend), (month, mlabel, mstart, mend) = period_starts(NOW)
    assert (day, dlabel, dstart, dend - dstart) == ("day", "2026-03-15", DAY0, 86400.0)
    assert (month, mlabel, mstart) == ("month", "2026-03", MONTH0)
    assert mend == dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp()


def test_spent_counters_sum_per_key_and_per_team() -> None:
    rows = [Spend("k1", "t", 1.5), Spend("k2", "t", 2.0), Spend("k3", None, 0.25), Spend(None, "t", 0.5)]
    got = spent_counters([("day", "2026-03-15", DAY0 + 86400, rows)], NOW)
    assert {k: v[0] for k, v in got.items()} == {
        spent_key("key", "k1", "day", "2026-03-15"): 1_500_000_000,
        spent_key("key", "k2", "day", "2026-03-15"): 2 * NANO,
        spent_key("key", "k3", "day", "2026-03-15"): NANO // 4,
        spent_key("team", "t", "day", "2026-03-15"): 4 * NANO,
    }
    assert all(ttl == 12 * 3600 + 86400 for _, ttl in got.values())  # to the period's end, plus a day
    assert spent_counters([("day", "x", DAY0, [Spend("free", None, 0.0)])], NOW) == {}


async def test_store_spend_sums_since(store: Store) -> None:
    await store.add_usage(
        [rec(DAY0 - 10, "k1", "t", 1.0), rec(DAY0 + 10, "k1", "t", 2.0), rec(DAY0 + 20, "k1", "t", 0.5),
         rec(DAY0 + 30, "k2", None, 4.0), rec(DAY0 + 40, None, None, 9.0), rec(DAY0 + 50, "k3", "t", 0.0)]
    )  # fmt: skip
    got = sorted(((s.key_id, s.team, s.cost_usd) for s in await store.spend(DAY0)), key=str)
    assert got == [("k1", "t", 2.5), ("k2", None, 4.0)]


async def test_seeded_spend_counts_against_the_budget(store: Store, counters: Counters) -> None:
    # earlier this month $7, today $2 of a $3 daily budget: a $1.5 request fits neither the day...
    await store.add_usage([rec(MONTH0 + 60, "k1", "t", 7.0), rec(DAY0 + 60, "k1", "t", 2.0)])
    assert await seed_spend(store, counters, NOW) == 4  # key and team, day and month
    day_base = spent_key("key", "k1", "day", "2026-03-15")
    day = Check("bud:key:k1:day", round(1.5 * NANO), 3 * NANO, 900.0, day_base, "key.day")
    hit = (await counters.acquire([day], "req", NOW))[0]
    assert not hit.allowed and hit.used == 2 * NANO
    # ...nor a $10 monthly budget ($9 spent); seeding again never overwrites a live counter
    month = Check("bud:team:t:month", round(1.5 * NANO), 10 * NANO, 900.0, spent_key("team", "t", "month", "2026-03"))
    await counters.seed({spent_key("team", "t", "month", "2026-03"): (0, 60.0)}, NOW)
    hit = (await counters.acquire([month], "req", NOW))[0]
    assert not hit.allowed and hit.used == 9 * NANO
