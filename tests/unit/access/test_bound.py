"""The bound path (checks bound to the counters once per principal and hour, `take` / `release`) decides
exactly as the generic `acquire` / `settle_soon` path: same admissions, refusals, messages and headers
over a long random sequence that fills every limit and budget, lets windows slide and settles out of order."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from hybridgate.access.admission import AccessTicket, Admission, StaticGrants
from hybridgate.access.config import AccessConfig, Budget, Limits
from hybridgate.access.counters import Counters, LocalCounters
from hybridgate.access.limits import Grant
from hybridgate.access.sums import Sum
from hybridgate.auth.principal import Principal
from hybridgate.errors import GatewayError
from hybridgate.store.records import UsageRecord
from tests.unit.access.conftest import REDIS_URL

GRANT = Grant("k", "t", Limits(rpm=12, tpm=900, concurrent=6), Limits(rpm=9, tpm=1500), Budget(daily_usd=0.008),
              Budget(monthly_usd=0.03))  # fmt: skip
CFG = AccessConfig(window_s=30, gateway=Limits(rpm=11, concurrent=4), lease_ttl_s=120)
# one scope per limit: the headers come straight from its check, no comparison between scopes
SIMPLE = (Grant("k", "t", Limits(rpm=7, tpm=700, concurrent=3), key_budget=Budget(daily_usd=0.006)),
          AccessConfig(window_s=30, lease_ttl_s=120))  # fmt: skip
START = 1_764_460_500.0  # 2025-11-29 23:55 UTC: the run crosses midnight, a new day for the budget


class GenericLocal(LocalCounters):
    """Defines no `take` of its own: admission uses `acquire` / `settle_soon`."""


def cost(_e: str, _m: str, usage: Any) -> float:
    return (usage["prompt_tokens"] + usage["completion_tokens"]) * 2e-6


def new_plan(rng: random.Random, rid: str, principal: Principal) -> Any:
    body = {"messages": [{"role": "user", "content": "x" * rng.randint(0, 400)}], "max_tokens": rng.randint(1, 200)}
    attempt = SimpleNamespace(endpoint="e", model="m")
    return SimpleNamespace(request_id=rid, body=body, op="chat", principal=principal, attempts=[attempt])


async def admit(adm: Admission, plan: Any) -> tuple[Any, ...]:
    try:
        ticket = await adm.admit(plan)
    except GatewayError as e:
        return type(e).__name__, e.message, e.response_headers(), None
    return "ok", ticket.headers, ticket


async def run(counters: Counters, seed: int, setup: tuple[Grant, AccessConfig] = (GRANT, CFG)) -> list[Any]:
    rng = random.Random(seed)
    now = [START]
    adm = Admission(counters, StaticGrants({"k": setup[0]}), setup[1], cost, clock=lambda: now[0])
    principal = Principal(key_id="k", name="n", team="t")
    open_: list[tuple[Any, AccessTicket]] = []
    out: list[Any] = []
    for i in range(400):
        now[0] += rng.choice([0.0, 0.1, 0.5, 1.0, 2.5, 7.0])
        if open_ and rng.random() < 0.45:
            plan, ticket = open_.pop(rng.randrange(len(open_)))
            p, c = rng.randint(1, 60), rng.randint(0, 120)
            rec = UsageRecord(ts=0, request_id=plan.request_id, key_id="k", team="t", route_tag=None, tier=None,
                              endpoint="e", trust="external", model="m", rule_id="x", data_class="public",
                              status=200, prompt_tokens=p, completion_tokens=c, cost_usd=(p + c) * 2e-6)  # fmt: skip
            adm.settle(plan, ticket, rec)
            adm.settle(plan, ticket, rec)  # idempotent
            continue
        plans = [new_plan(rng, f"r{i}.{j}", principal) for j in range(rng.choice([1, 1, 2, 5]))]
        # admitted together: with Redis they share one script call, as concurrent requests do
        for plan, got in zip(plans, await asyncio.gather(*(admit(adm, p) for p in plans)), strict=True):
            out.append((plan.request_id, *got[:-1]))
            if got[-1] is not None:
                open_.append((plan, got[-1]))
    await adm.drain()
    return out


@pytest.mark.parametrize(("seed", "setup"), [(1, (GRANT, CFG)), (2, (GRANT, CFG)), (3, (GRANT, CFG)), (4, SIMPLE)])
async def test_bound_local_matches_generic(seed: int, setup: tuple[Grant, AccessConfig]) -> None:
    bound, generic = await run(LocalCounters(), seed, setup), await run(GenericLocal(), seed, setup)
    assert bound == generic
    kinds = {o[1] for o in bound}
    assert {"ok", "RateLimited", "BudgetExceeded"} <= kinds  # the sequence reaches every outcome


@pytest.mark.services
@pytest.mark.parametrize(("seed", "setup"), [(1, (GRANT, CFG)), (2, (GRANT, CFG)), (4, SIMPLE)])
async def test_bound_redis_matches_generic(seed: int, setup: tuple[Grant, AccessConfig]) -> None:
    from hybridgate.access.redis_counters import RedisCounters

    class GenericRedis(RedisCounters):
        pass

    async def with_redis(make: Callable[[str], RedisCounters]) -> list[Any]:
        rc = make(f"hgtest:{uuid.uuid4().hex[:8]}:")
        try:
            return await run(rc, seed, setup)
        finally:
            await rc.delete_prefix()
            await rc.aclose()

    bound = await with_redis(lambda p: RedisCounters(REDIS_URL, prefix=p))
    generic = await with_redis(lambda p: GenericRedis(REDIS_URL, prefix=p))
    assert bound == generic
    assert {"ok", "RateLimited", "BudgetExceeded"} <= {o[1] for o in bound}


def test_sum_keeps_expiry_order_when_the_clock_steps_back() -> None:
    s = Sum()
    s.add("a", 1, 100.0)
    s.add("b", 2, 90.0)  # an earlier expiry after a later one
    s.add("c", 4, 95.0)
    assert [e[0] for e in s.entries] == [90.0, 95.0, 100.0] and s.reset_s(80.0, 60.0) == 10.0
    s.expire(95.0)
    assert s.total == 1 and s.reset_s(95.0, 60.0) == 5.0


def test_sum_drops_removed_entries_in_bulk_and_keeps_its_total() -> None:
    s = Sum()
    entries = [s.add(f"m{i}", 1, 1000.0 + i) for i in range(300)]
    for e in entries[:250]:
        s.remove(e)
        s.remove(e)  # twice: counted once
    assert s.total == 50 and len(s.entries) < 300  # compacted along the way
    s.adjust(entries[0], 7)  # removed already: no effect
    assert s.total == 50 and s.reset_s(0.0, 60.0) == 1250.0
