"""The counters of access/counters.py in Redis, shared by every gateway replica.

Each check is three keys: a sorted set (member -> expiry), a hash (member -> amount) and the running
total; budgets add a fourth, the period's settled spend. Checks that only count requests (request windows
and in-flight limits, where every entry is 1) keep just the sorted set: its size is the sum, so such a
check costs Redis 4-5 calls instead of 11 (Redis often shares the machine's CPUs with the gateway).

One Lua script applies a whole batch of operations: every acquire and settle this replica queued while
the previous batch was on the wire, in order. Batching keeps the client cost (the bulk of a Redis round
trip in Python) per event-loop turn rather than per request, and adds no wait when the gateway is idle:
a batch leaves on the next turn. A settle, which nobody waits for, joins the next acquire's batch or
leaves after SETTLE_DELAY_S (5 ms), so other replicas may see a lease or reservation that much longer.
Each acquire in a batch is still all-or-nothing over its checks, and the whole script is atomic, so two
replicas can never both take the last slot. Expiry times come from the calling replica's clock: keep
replicas NTP-synced (skew shifts a window edge by the skew, nothing more).

Key names travel inside the script's argument rather than in KEYS: this needs a single Redis node (or
a proxy that routes scripts whole), not Redis Cluster.

Leases. Far from its limits a principal's requests need no round trip each: an acquire that goes to Redis
also asks for a lease on each of its counters, an entry of `n` (requests, tokens, requests in flight or
nano-dollars) added in the same atomic script, all or none, and only while that counter would stay at most
half used (`2 * (used + n) <= limit`). The replica then admits requests from its leases (`take_local`, no
await) for LEASE_S (0.5 s) or until one runs out, and the next request asks again. A lease is at most 1/16
of its limit and worth at least 8 requests, else none is asked: small limits (a 60 RPM key, a budget of a
few requests) are always taken request by request, exactly as before. Leases never over-admit: what a
replica admits from one was already counted in Redis. When a lease closes (expired, run out, `flush`,
shutdown) its entry is set to what its requests still hold (a window's requests and reconciled tokens,
requests still in flight, reservations), settled cost moves to the period's spend counter, and the rest
goes back; later settles of its requests follow in the next batch. A window's lease entry then expires
when its last request's would, so a leased request is counted at most LEASE_S longer than its window (on
the safe side). If a replica dies, its leases' entries expire like requests' entries (windows after the
window, in-flight and budget leases after `lease_ttl_s`): capacity is held, never handed out twice.
Settled cost waits in the lease (still counted against the budget) until the lease closes, so the spend
counter itself lags by up to LEASE_S.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from hybridgate.access.counters import ADJUST, SPEND, SPENT_GRACE_S, Check, Hit, Settle, Spec
from hybridgate.access.redis_script import BATCH_SCRIPT

log = logging.getLogger("hybridgate.access")
BATCH = 256  # operations per script call: bounds how long one call holds Redis
SETTLE_DELAY_S = 0.005  # longest a settle waits for an acquire to share its round trip

Op = tuple[list[Any], "asyncio.Future[Any] | None"]

# Leases (see "Leases" in the module docstring)
LEASE_S = 0.5  # how long a replica admits from one lease before asking again
LEASE_SHARE = 16  # a lease is at most 1/16 of its limit ...
LEASE_MIN = 8  # ... and worth at least this many requests, or none is asked (small limits stay exact)
LEASE_MAX = 4096  # requests' worth at most
LEASE_RETRY_S = 1.0  # a lease update that failed (Redis away) is sent again after this
LEASE_START = 32  # requests' worth of a key's first lease; doubled when one runs out early, halved when idle


class LeaseSlot:
    """One counter's leases on this replica: the open one (if any) and how large to ask for the next."""

    __slots__ = ("asking", "base", "end", "k", "lease", "limit", "sum", "ttl_ms", "windowed")

    def __init__(self, key: str, unit: int, limit: int, ttl_ms: int, base: str, end: float, windowed: bool) -> None:
        self.sum = key + ":l" if unit else key  # counts keep their leases beside them (amounts, not members)
        self.limit = limit
        self.ttl_ms = ttl_ms
        self.base = base  # budgets: the period's spend counter, where a lease's settled cost goes
        self.end = end
        self.windowed = windowed
        self.lease: Lease | None = None  # open: requests may be admitted from it
        self.asking = False  # a script call asking for one is on the wire
        self.k = LEASE_START


class Lease:
    """Capacity reserved in Redis as one entry (`cap`) that this replica admits requests from.

    `used` is what the entry must count: admitted amounts not yet settled away (requests, tokens reconciled,
    leases in flight, reservations) plus settled spend not yet moved to the spend counter (`spend`). While
    open, Redis holds `cap` >= `used`; once closed, Redis is brought to `used` (and later changes follow),
    so no capacity is ever admitted twice and unused capacity goes back."""

    __slots__ = ("base_used", "cap", "dirty", "last", "member", "open", "outstanding", "reset_at", "slot", "spend",
                 "start", "timer", "until", "used")  # fmt: skip

    def __init__(self, slot: LeaseSlot, member: str, cap: int, now: float, base_used: int, reset_ms: float) -> None:
        self.slot = slot
        self.member = member
        self.cap = cap
        self.used = 0
        self.spend = 0
        self.outstanding = 0  # admitted from this lease, not settled yet
        self.start = now
        self.until = now + LEASE_S
        self.last = now
        self.open = True
        self.dirty = False  # closed with changes Redis has not seen yet
        self.base_used = base_used  # what the counter held besides this lease when it was granted (headers)
        self.reset_at = now + reset_ms / 1000  # windows: when their oldest entry expired, as of the grant
        self.timer: asyncio.TimerHandle | None = None


class LeaseUse(NamedTuple):
    """What a request admitted from leases took: one lease per check, and its amounts."""

    leases: tuple[Lease, ...]
    amounts: tuple[int, int, int]


class RedisBound(NamedTuple):
    """A principal's checks as script arguments, prefixed and converted once (see counters.Bound).

    acquire: (key, limit, ttl_ms, base key or "", want_reset, unit, amount index) per check
    settles: (key, action, base key or "", period end, check index) for each check that settling touches
    slots:   this replica's leases on each check's counter
    """

    acquire: tuple[tuple[str, int, int, str, int, int, int], ...]
    settles: tuple[tuple[str, int, str, float, int], ...]
    slots: tuple[LeaseSlot, ...]
    # per check, for `take_local`: (its lease slot, amount index, want_reset, ttl_ms)
    local: tuple[tuple[LeaseSlot, int, int, int], ...] = ()


class RedisCounters:
    def __init__(self, url: str, prefix: str = "hg:", leases: bool = True) -> None:
        self.redis: Any = aioredis.from_url(url)
        self.prefix = prefix
        self._script = self.redis.register_script(BATCH_SCRIPT)
        self._queue: list[Op] = []
        self._flusher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # a settle waiting for an acquire to ride along with
        self.leases = leases
        self._slots: dict[tuple[str, str], LeaseSlot] = {}
        self._dirty: dict[Lease, None] = {}  # closed leases whose changes are still to be sent, in order
        self._lease_id = f"~lease:{uuid.uuid4().hex[:12]}:"  # request ids never start with '~'
        self._lease_seq = 0
        self._closed = False

    def _submit(self, op: list[Any] | None, fut: asyncio.Future[Any] | None) -> None:
        if op is not None:
            self._queue.append((op, fut))
        if self._flusher is not None and not self._flusher.done():
            return  # the running batch loop picks it up
        if fut is None:
            # Nobody waits on a settle: it rides along with the next acquire's batch (one round trip for
            # both), or leaves after SETTLE_DELAY_S if none comes. Still applied before any later acquire.
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(SETTLE_DELAY_S, self._start)
            return
        self._start()

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if (self._queue or self._dirty) and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _next_batch(self) -> tuple[list[Op], list[tuple[Lease, int]]]:
        batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
        sent = []
        if self._dirty:  # leases' changes go first: they only follow what requests already did
            ups = []
            for lease in self._dirty:
                sent.append((lease, lease.spend))
                ups.append(self._update(lease))
            self._dirty = {}
            batch.insert(0, (["l", 0, "", ups], None))
        return batch, sent

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the operations queued in this loop turn join the batch
        while self._queue or self._dirty:
            batch, sent = self._next_batch()
            try:
                out = await self._script(keys=[], args=[orjson.dumps([op for op, _ in batch])])
                results = iter(out)
                answers = [next(results) if op[0] == "a" else None for op, _ in batch]
            except Exception as e:  # every waiter gets the error; settles nobody waits for are logged
                for op, fut in batch:
                    if fut is not None and not fut.done():
                        fut.set_exception(e)
                    elif fut is None and op[0] != "l":
                        log.error("could not settle rate limits for %s: %s", op[2], e)
                if sent:  # leases' changes are tried again later: else their whole capacity stays held
                    log.error("could not update %d rate-limit leases (will retry): %s", len(sent), e)
                    for lease, spend in sent:
                        lease.spend += spend
                        lease.used += spend
                    asyncio.get_running_loop().call_later(LEASE_RETRY_S, self._retry, [lease for lease, _ in sent])
                continue
            for (_, fut), answer in zip(batch, answers, strict=True):
                if fut is not None and not fut.done():
                    fut.set_result(answer)

    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        p = self.prefix
        wire = [
            [p + c.key, c.amount, c.limit, int(c.ttl_s * 1000), p + c.base_key if c.base_key else "", int(c.windowed),
             int(c.counts)]
            for c in checks
        ]  # fmt: skip
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(["a", int(now * 1000), member, wire], fut)
        return self.hits(checks, await fut)

    def bind(self, specs: Sequence[Spec]) -> RedisBound:
        p = self.prefix
        acquire, settles, slots = [], [], []
        for i, (key, limit, ttl, amount, base, action, end, windowed) in enumerate(specs):
            counts = int(amount == 0)  # requests and leases: every entry is 1 (Check.counts)
            k, b, ttl_ms = p + key, p + base if base else "", int(ttl * 1000)
            acquire.append((k, limit, ttl_ms, b, int(windowed), counts, amount))
            if action:
                settles.append((k, action, b, end, i))
            slot = self._slots.get((k, b))
            if slot is None:
                if len(self._slots) >= 100_000:  # principals come and go: forget the idle ones
                    self._slots = {sk: s for sk, s in self._slots.items() if s.lease is not None or s.asking}
                slot = self._slots[(k, b)] = LeaseSlot(k, counts, limit, ttl_ms, b, end, windowed)
            else:  # the limit may have changed since
                slot.limit, slot.ttl_ms, slot.end = limit, ttl_ms, end
            slots.append(slot)
        local = tuple((slot, a[6], a[4], a[2]) for slot, a in zip(slots, acquire, strict=True))
        return RedisBound(tuple(acquire), tuple(settles), tuple(slots), local)

    def take_local(self, b: RedisBound, amounts: tuple[int, int, int], now: float) -> tuple[LeaseUse, list[Any]] | None:
        """Admits from this replica's open leases without a round trip, if every check has one with room.
        Returns what was taken and an answer shaped like the script's (for the headers), else None."""
        leases = []
        for slot, i, _, _ in b.local:
            lease = slot.lease
            if lease is None:
                return None
            if now >= lease.until or now < lease.start or lease.used + amounts[i] > lease.cap:
                self._close(lease, now)  # run out (or the clock moved back): the next request asks again
                return None
            leases.append(lease)
        out: list[Any] = [1]
        add = out.append
        for lease, (_, i, reset, ttl_ms) in zip(leases, b.local, strict=True):
            used = lease.used = lease.used + amounts[i]
            lease.outstanding += 1
            lease.last = now
            add(lease.base_used + used)
            if reset:
                left = lease.reset_at - now
                add(left * 1000 if left > 0 else 0.0)
            else:
                add(ttl_ms)
        return LeaseUse(tuple(leases), amounts), out

    async def take(self, b: RedisBound, amounts: tuple[int, int, int], member: str, now: float) -> list[Any]:
        """`acquire` over bound checks; the script's answer: {ok, used_1, reset_ms_1, used_2, ...}. Asks for
        leases on the way where the limits are far from reached (see `take_local`)."""
        wire = [[k, amounts[i], limit, ttl, base, reset, unit] for k, limit, ttl, base, reset, unit, i in b.acquire]
        op: list[Any] = ["a", int(now * 1000), member, wire]
        asked = self._ask(b, amounts, wire, op) if self.leases else None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(op, fut)
        if asked is None:
            out: list[Any] = await fut
            return out
        try:
            out = await fut
        finally:
            for slot, _, _ in asked:
                slot.asking = False
        if out[-1] == 1:
            self._granted(asked, op[4], out, now)
        return out

    def _ask(self, b: RedisBound, amounts: tuple[int, int, int], wire: list[list[Any]], op: list[Any]
             ) -> list[tuple[LeaseSlot, int, int]] | None:  # fmt: skip
        """Adds a lease request to an acquire for every check without an open lease, if each such lease
        would be small next to its limit; (slot, amount, check index) of those asked, or None."""
        asked = []
        sizes = []
        for i, slot in enumerate(b.slots):
            if slot.lease is not None or slot.asking:
                sizes.append(0)
                continue
            n = slot.k * max(1, amounts[b.acquire[i][6]])
            if n * LEASE_SHARE > slot.limit:
                n = slot.limit // LEASE_SHARE
                if n < LEASE_MIN * max(1, amounts[b.acquire[i][6]]):
                    return None  # this limit is too small to lease from: every request stays exact
            sizes.append(n)
            asked.append((slot, n, i))
        if not asked:
            return None
        for item, n in zip(wire, sizes, strict=True):
            item.append(n)
        self._lease_seq += 1
        op += [f"{self._lease_id}{self._lease_seq}", int(LEASE_S * 1000)]
        for slot, _, _ in asked:
            slot.asking = True
        return asked

    def _granted(self, asked: list[tuple[LeaseSlot, int, int]], member: str, out: list[Any], now: float) -> None:
        loop = asyncio.get_running_loop()
        for slot, n, i in asked:
            used, reset_ms = int(out[1 + 2 * i]), float(out[2 + 2 * i])
            lease = slot.lease = Lease(slot, member, n, now, used - n, reset_ms)
            lease.timer = loop.call_later(LEASE_S, self._expire, lease)

    def _expire(self, lease: Lease) -> None:
        lease.timer = None
        if lease.open:
            self._close(lease, lease.until)

    def _close(self, lease: Lease, now: float) -> None:
        """No more requests from this lease; Redis is brought down to what it has used."""
        if not lease.open:
            return
        lease.open = False
        slot = lease.slot
        if slot.lease is lease:
            slot.lease = None
        if lease.timer is not None:
            lease.timer.cancel()
            lease.timer = None
        if now < lease.until and now - lease.start < LEASE_S / 2:  # ran out early: ask for more next time
            slot.k = min(slot.k * 2, LEASE_MAX)
        elif lease.used * 4 < lease.cap:  # mostly unused
            slot.k = max(slot.k // 2, LEASE_MIN)
        self._changed(lease)

    def _changed(self, lease: Lease) -> None:
        if not lease.dirty:
            lease.dirty = True
            self._dirty[lease] = None
            self._submit(None, None)

    def _retry(self, leases: list[Lease]) -> None:
        if self._closed:
            return
        for lease in leases:
            self._changed(lease)

    def _update(self, lease: Lease) -> list[Any]:
        """The script's `update` for a closed lease: its entry set to what it still counts, settled spend moved
        to the spend counter, a window's entry kept only as long as its last request's would be."""
        lease.dirty = False
        slot = lease.slot
        spend = lease.spend
        held = lease.used - spend
        lease.cap, lease.used, lease.spend = held, held, 0
        exp = int(lease.last * 1000) + slot.ttl_ms if slot.windowed else 0
        drop = int(lease.outstanding == 0 and (held == 0 or not slot.windowed))
        spend_ttl = max(1, int((slot.end - lease.last + SPENT_GRACE_S) * 1000)) if spend else 0
        return [slot.sum, lease.member, held, exp, slot.base, spend, spend_ttl, drop]

    def release(
        self, b: RedisBound, tokens: int, cost_nano: int, member: str, now: float, use: LeaseUse | None = None
    ) -> None:
        """`settle_soon` for a `take`: tokens reconciled, leases and reservations dropped, spend added."""
        if use is not None:
            self._release_leased(b, use, tokens, cost_nano)
            return
        wire = []
        for k, action, base, end, _ in b.settles:
            if action == ADJUST:
                wire.append([k, "adjust", tokens, "", 0, 1, 0])
            elif action == SPEND and base:
                ttl_ms = max(1, int((end - now + SPENT_GRACE_S) * 1000))
                wire.append([k, "remove", 0, base, cost_nano, ttl_ms, 0])
            else:  # a lease: a count
                wire.append([k, "remove", 0, "", 0, 1, 1])
        if wire:
            self._submit(["s", int(now * 1000), member, wire], None)

    def _release_leased(self, b: RedisBound, use: LeaseUse, tokens: int, cost_nano: int) -> None:
        leases, amounts = use.leases, use.amounts
        for _, action, base, _, i in b.settles:
            lease = leases[i]
            if action == ADJUST:
                lease.used += tokens - amounts[1]
            elif action == SPEND and base:  # the reservation becomes the real cost, until moved to the spend
                lease.used += cost_nano - amounts[2]
                lease.spend += cost_nano
            else:  # in flight: no more
                lease.used -= 1
        for lease in leases:
            lease.outstanding -= 1
            if not lease.open:
                self._changed(lease)
            elif lease.used > lease.cap:  # more tokens or cost than reserved: Redis must see it now
                self._close(lease, lease.last)

    @staticmethod
    def hits(checks: Sequence[Check], out: Sequence[Any]) -> list[Hit]:
        ok = bool(out[0])
        hits = []
        for i, c in enumerate(checks):
            used, reset_ms = int(out[1 + 2 * i]), float(out[2 + 2 * i])
            hits.append(Hit(ok or used + c.amount <= c.limit, used, c.limit, reset_ms / 1000))
        return hits

    def _settle_op(self, settles: Sequence[Settle], member: str, now: float) -> list[Any]:
        p = self.prefix
        wire = [
            [p + st.key, st.action, st.amount, p + st.base_key if st.base_key else "", st.base_add,
             max(1, int(st.base_ttl_s * 1000))]
            for st in settles
        ]  # fmt: skip
        return ["s", int(now * 1000), member, wire]

    def settle_soon(self, settles: Sequence[Settle], member: str, now: float) -> None:
        if settles:
            self._submit(self._settle_op(settles, member, now), None)

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(self._settle_op(settles, member, now), fut)
        await fut

    async def flush(self) -> None:
        """Also closes the open leases: their unused capacity goes back and settled spend is counted as spent."""
        for slot in self._slots.values():
            if slot.lease is not None:
                self._close(slot.lease, slot.lease.last)
        if self._timer is not None:
            self._start()
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def seed(self, spent: Mapping[str, tuple[int, float]], now: float) -> None:
        """NX: a counter Redis already holds is the shared truth (other replicas kept adding to it); only a
        missing one (first start, or Redis lost its data) is set from the usage table."""
        if not spent:
            return
        pipe = self.redis.pipeline(transaction=False)
        for key, (amount, ttl_s) in spent.items():
            pipe.set(self.prefix + key, amount, px=max(1, int(ttl_s * 1000)), nx=True)
        await pipe.execute()

    async def delete_prefix(self) -> None:
        """Tests: remove every key under this prefix."""
        async for k in self.redis.scan_iter(match=self.prefix + "*", count=500):
            await self.redis.delete(k)

    async def aclose(self) -> None:
        await self.flush()
        self._closed = True
        await self.redis.aclose()
