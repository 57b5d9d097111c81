"""The counter semantics, against the in-process implementation and (services) Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from hybridgate.access.counters import Check, Counters, Settle
from tests.unit.access.conftest import REDIS_URL


async def test_sliding_window_is_exact_across_a_boundary(counters: Counters) -> None:
    c = Check("w", 1, 3, 10.0, name="key.requests")
    got = [(await counters.acquire([c], f"r{i}", 100.0 + i))[0].allowed for i in range(5)]
    assert got == [True, True, True, False, False]
    # 10 s after the first entry it expires: exactly one slot frees, not a whole new window
    assert (await counters.acquire([c], "a", 110.0))[0].allowed
    assert not (await counters.acquire([c], "b", 110.5))[0].allowed
    hit = (await counters.acquire([c], "c", 110.5))[0]
    assert hit.used == 3 and 0 < hit.reset_s <= 1.0  # the entry from t=101 expires at 111


async def test_all_or_nothing(counters: Counters) -> None:
    roomy = Check("a", 1, 100, 60.0, name="key.requests")
    full = Check("b", 5, 4, 60.0, name="team.tokens")
    hits = await counters.acquire([roomy, full], "r1", 0.0)
    assert [h.allowed for h in hits] == [True, False]
    hits = await counters.acquire([roomy], "r2", 0.0)
    assert hits[0].used == 1  # r1 did not take a slot in `a`


async def test_tokens_reconcile(counters: Counters) -> None:
    c = Check("t", 80, 100, 60.0, name="key.tokens")
    assert (await counters.acquire([c], "r1", 0.0))[0].allowed
    assert not (await counters.acquire([Check("t", 30, 100, 60.0)], "r2", 1.0))[0].allowed
    await counters.settle([Settle("t", "adjust", 20)], "r1", 2.0)  # the call used 20, not 80
    assert (await counters.acquire([Check("t", 30, 100, 60.0)], "r3", 3.0))[0].used == 50


async def test_leases(counters: Counters) -> None:
    c = Check("c", 1, 2, 900.0, name="key.concurrent")
    assert (await counters.acquire([c], "a", 0.0))[0].allowed
    assert (await counters.acquire([c], "b", 0.0))[0].allowed
    assert not (await counters.acquire([c], "c", 0.0))[0].allowed
    await counters.settle([Settle("c", "remove")], "a", 1.0)
    assert (await counters.acquire([c], "c", 1.0))[0].allowed
    assert (await counters.acquire([c], "d", 2000.0))[0].allowed  # crashed holders expire


async def test_budget_reserve_and_settle(counters: Counters) -> None:
    def bud(amount: int) -> Check:
        return Check("b", amount, 100, 900.0, base_key="spent:d1", name="key.day")

    assert (await counters.acquire([bud(60)], "r1", 0.0))[0].allowed
    assert not (await counters.acquire([bud(60)], "r2", 0.0))[0].allowed  # 60 reserved + 60 > 100
    await counters.settle([Settle("b", "remove", base_key="spent:d1", base_add=30, base_ttl_s=3600)], "r1", 1.0)
    hit = (await counters.acquire([bud(60)], "r3", 2.0))[0]
    assert hit.allowed and hit.used == 90  # 30 spent + 60 reserved
    assert not (await counters.acquire([bud(11)], "r4", 2.0))[0].allowed


async def test_concurrent_acquires_never_overshoot(counters: Counters) -> None:
    c = Check("race", 1, 10, 60.0, name="key.requests")
    hits = await asyncio.gather(*(counters.acquire([c], f"r{i}", 5.0) for i in range(50)))
    assert sum(h[0].allowed for h in hits) == 10


async def test_settle_soon_is_applied_before_a_later_acquire(counters: Counters) -> None:
    lease = Check("cc", 1, 1, 900.0, name="key.concurrent")
    tokens = Check("tk", 90, 100, 60.0, name="key.tokens")
    assert all(h.allowed for h in await counters.acquire([lease, tokens], "r1", 0.0))
    counters.settle_soon([Settle("cc", "remove"), Settle("tk", "adjust", 10)], "r1", 1.0)  # not awaited
    hits = await counters.acquire([lease, Check("tk", 90, 100, 60.0, name="key.tokens")], "r2", 1.0)
    assert [h.allowed for h in hits] == [True, True] and hits[1].used == 100
    await counters.flush()


async def test_a_request_window_counts_each_member_once(counters: Counters) -> None:
    c = Check("once", 1, 5, 60.0, name="key.requests")
    await counters.acquire([c], "same", 0.0)
    hit = (await counters.acquire([c], "same", 1.0))[0]  # a re-acquire moves the entry, it adds nothing
    assert hit.allowed and hit.used == 1


def count_script_calls(rc: Any) -> list[int]:
    """Wraps the Redis counters' script so that a test can see how many round trips it made."""
    calls = [0]
    script = rc._script

    async def counted(**kw: object) -> object:
        calls[0] += 1
        return await script(**kw)

    rc._script = counted
    return calls


@pytest.mark.services
async def test_redis_spend_counters_expire_and_batches_share_a_call() -> None:
    from hybridgate.access.redis_counters import RedisCounters

    rc = RedisCounters(REDIS_URL, prefix=f"hgtest:{uuid.uuid4().hex[:8]}:")
    try:
        bud = Check("b", 5, 100, 900.0, base_key="spent:x", name="key.day")
        calls = count_script_calls(rc)
        hits = await asyncio.gather(*(rc.acquire([bud], f"r{i}", 0.0) for i in range(10)))
        assert all(h[0].allowed for h in hits) and calls[0] == 1  # ten acquires of one loop turn, one script call
        await rc.settle([Settle("b", "remove", base_key="spent:x", base_add=7, base_ttl_s=3600)], "r1", 1.0)
        ttl = await rc.redis.pttl(rc.prefix + "spent:x")
        assert 0 < ttl <= 3_600_000 and int(await rc.redis.get(rc.prefix + "spent:x")) == 7
    finally:
        await rc.delete_prefix()
        await rc.aclose()


@pytest.mark.services
async def test_redis_settles_ride_along_with_the_next_acquire() -> None:
    from hybridgate.access.redis_counters import RedisCounters

    rc = RedisCounters(REDIS_URL, prefix=f"hgtest:{uuid.uuid4().hex[:8]}:")
    try:
        lease = Check("cc", 1, 1, 900.0, name="key.concurrent")
        calls = count_script_calls(rc)
        assert (await rc.acquire([lease], "r1", 0.0))[0].allowed
        rc.settle_soon([Settle("cc", "remove")], "r1", 1.0)
        assert (await rc.acquire([lease], "r2", 1.0))[0].allowed  # the settle went first, in the same call
        assert calls[0] == 2
        rc.settle_soon([Settle("cc", "remove")], "r2", 2.0)
        await rc.flush()  # nothing else comes: flush sends it without waiting for the delay
        assert calls[0] == 3 and await rc.redis.zcard(rc.prefix + "cc") == 0
    finally:
        await rc.delete_prefix()
        await rc.aclose()
