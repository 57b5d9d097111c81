"""Redis leases (redis_counters.py): a replica admits from capacity it reserved in Redis, without a round trip
per request, and never admits more than the limits allow across replicas sharing Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridgate.access.admission import AccessTicket, Admission, StaticGrants
from hybridgate.access.config import AccessConfig, Budget, Limits
from hybridgate.access.counters import NANO
from hybridgate.access.limits import Grant
from hybridgate.access.redis_counters import RedisCounters
from hybridgate.auth.principal import Principal
from hybridgate.errors import GatewayError
from hybridgate.store.records import UsageRecord
from tests.unit.access.conftest import REDIS_URL
from tests.unit.access.test_counters import count_script_calls

pytestmark = pytest.mark.services
P = Principal(key_id="k", name="n", team="t")
USD = 1e-6  # what every request costs (estimated and real)
WINDOW = 10.0
# large enough for leases (a lease is at most 1/16 of a limit and worth at least 8 requests)
ROOMY = Grant("k", "t", Limits(rpm=1_000_000, tpm=100_000_000, concurrent=10_000), key_budget=Budget(daily_usd=100.0))


def plan(rid: str, chars: int = 40, max_tokens: int = 10) -> Any:  # 40 chars, 10 max: 24 tokens estimated
    body = {"messages": [{"role": "user", "content": "x" * chars}], "max_tokens": max_tokens}
    attempt = SimpleNamespace(endpoint="e", model="m")
    return SimpleNamespace(request_id=rid, body=body, op="chat", principal=P, attempts=[attempt])


def record(rid: str, tokens: int, cost: float = USD) -> UsageRecord:
    return UsageRecord(ts=0, request_id=rid, key_id="k", team="t", route_tag=None, tier=None, endpoint="e",
                       trust="external", model="m", rule_id="x", data_class="public", status=200,
                       prompt_tokens=tokens, completion_tokens=0, cost_usd=cost)  # fmt: skip


def cost(_e: str, _m: str, _usage: Any) -> float:
    return USD


class Replica:
    def __init__(self, prefix: str, grant: Grant, clock: list[float], leases: bool = True) -> None:
        self.counters = RedisCounters(REDIS_URL, prefix=prefix, leases=leases)
        self.calls = count_script_calls(self.counters)
        cfg = AccessConfig(window_s=WINDOW, lease_ttl_s=300)
        self.adm = Admission(self.counters, StaticGrants({"k": grant}), cfg, cost, clock=lambda: clock[0])

    async def admit(self, p: Any) -> AccessTicket | None:
        try:
            return await self.adm.admit(p)
        except GatewayError:
            return None


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    p = f"hgtest:{uuid.uuid4().hex[:8]}:"
    yield p
    rc = RedisCounters(REDIS_URL, prefix=p)
    await rc.delete_prefix()
    await rc.aclose()


async def close(*replicas: Replica) -> None:
    for r in replicas:
        await r.adm.drain()
        await r.counters.aclose()


async def test_far_from_the_limits_requests_are_admitted_without_a_round_trip_each(prefix: str) -> None:
    now = [1e9]
    a = Replica(prefix, ROOMY, now)
    try:
        for i in range(20):
            plans = [plan(f"{i}.{j}") for j in range(32)]
            tickets = await asyncio.gather(*(a.admit(p) for p in plans))
            for p, t in zip(plans, tickets, strict=True):
                assert t is not None
                a.adm.settle(p, t, record(p.request_id, 20))
            now[0] += 0.01
        assert a.calls[0] <= 20  # 640 requests; without leases one call per batch at least (and the settles)
    finally:
        await close(a)


async def test_small_limits_are_never_leased(prefix: str) -> None:
    now = [1e9]
    a = Replica(prefix, Grant("k", "t", Limits(rpm=60, tpm=100_000_000)), now)
    try:
        for i in range(30):
            assert await a.admit(plan(str(i))) is not None
        assert a.calls[0] == 30 and not any(s.lease for s in a.counters._slots.values())
    finally:
        await close(a)


async def test_unused_lease_capacity_and_settled_spend_go_back_on_flush(prefix: str) -> None:
    now = [1e9]
    a, b = Replica(prefix, ROOMY, now), Replica(prefix, ROOMY, now, leases=False)
    try:
        p = plan("a1")
        t = await a.admit(p)  # asks for leases on the way
        assert t is not None and any(s.lease for s in a.counters._slots.values())
        t2 = await a.admit(plan("a2"))  # from the lease
        assert t2 is not None and a.calls[0] == 1
        tb = await b.admit(plan("b1"))
        assert tb is not None
        held = int(tb.headers["x-ratelimit-limit-requests"]) - int(tb.headers["x-ratelimit-remaining-requests"])
        assert held > 3  # a1, b1 and a's lease of several requests
        a.adm.settle(p, t, record("a1", 20))
        await a.adm.drain()  # closes a's leases
        tb = await b.admit(plan("b2"))
        assert tb is not None and tb.headers["x-ratelimit-remaining-requests"] == str(1_000_000 - 4)
        spent = [k async for k in b.counters.redis.scan_iter(match=prefix + "spent:*")]
        assert len(spent) == 1 and int(await b.counters.redis.get(spent[0])) == round(USD * NANO)
    finally:
        await close(a, b)


async def test_a_burst_on_two_replicas_fills_a_leased_limit_exactly(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hybridgate.access import redis_counters

    # Leases close on a real-time timer: on a loaded machine a round can outlast LEASE_S, and every round
    # would then ask Redis again (the call count below); exactness does not depend on it.
    monkeypatch.setattr(redis_counters, "LEASE_S", 60.0)
    now = [1e9]
    grant = Grant("k", "t", Limits(rpm=400, concurrent=10_000))
    a, b = Replica(prefix, grant, now), Replica(prefix, grant, now)
    try:
        admitted = 0
        for i in range(30):
            got = await asyncio.gather(
                *(r.admit(plan(f"{i}.{j}.{x}")) for j in range(24) for x, r in enumerate((a, b)))
            )
            admitted += sum(t is not None for t in got)
        assert admitted == 400
        assert a.calls[0] + b.calls[0] < 60  # some rounds came from leases (one call per round and replica otherwise)
    finally:
        await close(a, b)


async def test_no_lease_once_a_limit_is_half_used(prefix: str) -> None:
    """Past half of a limit every request is taken from Redis one by one, so the last slots stay exact."""
    now = [1e9]
    grant = Grant("k", "t", Limits(rpm=400))
    a, b = Replica(prefix, grant, now), Replica(prefix, grant, now, leases=False)
    try:
        for i in range(195):
            assert await b.admit(plan(f"b{i}")) is not None
        assert await a.admit(plan("a0")) is not None  # 196 used: a lease of 25 would pass half
        assert not any(s.lease for s in a.counters._slots.values())
        for i in range(10):
            assert await a.admit(plan(f"a{i + 1}")) is not None
        assert a.calls[0] == 11
    finally:
        await close(a, b)


async def test_a_lease_update_that_fails_is_sent_again_and_counted_once(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hybridgate.access import redis_counters

    monkeypatch.setattr(redis_counters, "LEASE_RETRY_S", 0.05)
    now = [1e9]
    a = Replica(prefix, ROOMY, now)
    r = a.counters.redis
    try:
        p1, p2 = plan("a1"), plan("a2")
        t1 = await a.admit(p1)  # from Redis, asking for leases
        t2 = await a.admit(p2)  # from the leases
        assert t1 is not None and t2 is not None and a.calls[0] == 1
        a.adm.settle(p1, t1, record("a1", 20))
        await asyncio.sleep(0.05)  # a1's settle has gone (a request's own settle is not retried)
        a.adm.settle(p2, t2, record("a2", 20))
        script = a.counters._script
        failed = [0]

        async def fail_once(**kw: Any) -> Any:
            if not failed[0]:
                failed[0] = 1
                raise ConnectionError("redis went away")
            return await script(**kw)

        rc: Any = a.counters
        rc._script = fail_once
        await a.adm.drain()  # closes the leases: that update fails
        assert failed[0] == 1
        await asyncio.sleep(0.2)  # sent again
        await a.adm.drain()
        spent = [k async for k in r.scan_iter(match=prefix + "spent:*")]
        assert int(await r.get(spent[0])) == 2 * round(USD * NANO)  # both requests' cost, once each
        assert int(await r.get(prefix + "rl:key:k:req:l:s")) == 1  # a2's request, still in the window
        assert int(await r.get(prefix + "cc:key:k:l:s") or 0) == 0  # nothing in flight
        assert int(await r.get(prefix + "bud:key:k:day:s") or 0) == 0  # nothing reserved
        assert int(await r.get(prefix + "rl:key:k:tok:s")) == 40  # both requests' real tokens
    finally:
        await close(a)


# One step of the interleaving: (replica, what, size). what: admit `size` requests together, settle up to
# `size` open ones, or move the clock.
STEP = st.tuples(st.integers(0, 1), st.sampled_from(["admit", "admit", "settle", "tick"]), st.integers(1, 40))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=5, max_size=80), seed=st.integers(0, 2**16))
def test_leases_never_over_admit_across_two_replicas(steps: list[tuple[int, str, int]], seed: int) -> None:
    """Against an exact reference: at every admission, the requests and tokens admitted within the window,
    the requests in flight and the money reserved or spent stay within the limits (over both replicas)."""
    asyncio.run(_interleave(steps, seed))


async def _interleave(steps: list[tuple[int, str, int]], seed: int) -> None:
    rng = random.Random(seed)
    rpm, tpm, conc, usd = 300, 12_000, 160, 300 * USD
    grant = Grant("k", "t", Limits(rpm=rpm, tpm=tpm, concurrent=conc), key_budget=Budget(daily_usd=usd))
    now = [1e9]
    prefix = f"hgtest:{uuid.uuid4().hex[:8]}:"
    reps = [Replica(prefix, grant, now), Replica(prefix, grant, now)]
    admitted: list[list[Any]] = []  # [time, tokens (estimate, then real), open]
    open_: list[tuple[Replica, Any, AccessTicket, list[Any]]] = []
    spent = 0.0
    n = 0
    try:
        for who, what, size in steps:
            rep = reps[who]
            if what == "tick":
                now[0] += rng.choice([0.0, 0.05, 0.3, 1.0, 4.0, 11.0])
            elif what == "settle":
                for _ in range(min(size, len(open_))):
                    r, p, t, entry = open_.pop(rng.randrange(len(open_)))
                    real = rng.randint(1, 40)
                    r.adm.settle(p, t, record(p.request_id, real))
                    entry[1], entry[2] = real, False
                    spent += USD
            else:
                plans = []
                for _ in range(size):
                    n += 1
                    plans.append(plan(f"r{n}", chars=rng.choice([0, 40, 200]), max_tokens=rng.randint(1, 30)))
                for p, got in zip(plans, await asyncio.gather(*(rep.admit(p) for p in plans)), strict=True):
                    if got is None:
                        continue
                    est = rep.adm.estimate(p).tokens
                    entry = [now[0], est, True]
                    admitted.append(entry)
                    open_.append((rep, p, got, entry))
                    recent = [e for e in admitted if e[0] > now[0] - WINDOW]
                    assert len(recent) <= rpm
                    assert sum(e[1] for e in recent) <= tpm
                    assert sum(e[2] for e in admitted) <= conc
                    assert spent + sum(USD for e in admitted if e[2]) <= usd + 1e-12
    finally:
        for rep in reps:
            await rep.adm.drain()
        await reps[0].counters.delete_prefix()
        await close(*reps)
