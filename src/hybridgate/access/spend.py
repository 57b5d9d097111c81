"""Budgets survive a restart: at start-up the spend counters are seeded from the usage table.

The counters that budgets check (counters.py: a period's settled spend, the `base` of a budget check)
live in memory or in Redis. In memory they would start at $0 after every restart, so a key that spent
its daily budget could spend it again. `seed_spend` sums the recorded cost of the current UTC day and
month per key and per team and sets those counters before the gateway serves its first request.

What it can miss is what the usage writer can lose (access/usage.py): on a crash, the records of the
last flush interval; a clean shutdown writes them all. In Redis the counters are shared and outlive a
replica, so an existing counter wins; only a missing one (a new Redis, or one that lost its data) is
seeded. Replicas that keep running while Redis restarts recreate the counters from $0 until a replica
restarts and finds none missing; restart one after a Redis data loss.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from hybridgate.access.counters import NANO, Counters
from hybridgate.access.limits import period_starts, spent_key, spent_ttl
from hybridgate.store.base import Spend, Store


def spent_counters(spend_by_period: Sequence[tuple[str, str, float, Sequence[Spend]]], now: float
                   ) -> dict[str, tuple[int, float]]:  # fmt: skip
    """(kind, label, end, rows) per period -> counter key -> (nano-dollars, ttl). Pure."""
    out: dict[str, tuple[int, float]] = {}
    for kind, label, end, rows in spend_by_period:
        sums: dict[tuple[str, str], float] = defaultdict(float)
        for r in rows:
            if r.key_id is not None:
                sums[("key", r.key_id)] += r.cost_usd
            if r.team is not None:
                sums[("team", r.team)] += r.cost_usd
        for (scope, who), usd in sums.items():
            if usd > 0:
                out[spent_key(scope, who, kind, label)] = (math.ceil(usd * NANO), spent_ttl(end - now))
    return out


async def seed_spend(store: Store, counters: Counters, now: float) -> int:
    """Seeds the day's and month's spend counters; returns how many it offered."""
    periods = [(kind, label, end, await store.spend(start)) for kind, label, start, end in period_starts(now)]
    spent = spent_counters(periods, now)
    await counters.seed(spent, now)
    return len(spent)
