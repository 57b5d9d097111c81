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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from hybridgate.access.counters import ADJUST, SPEND, SPENT_GRACE_S, Check, Hit, Settle, Spec

log = logging.getLogger("hybridgate.access")
BATCH = 256  # operations per script call: bounds how long one call holds Redis
SETTLE_DELAY_S = 0.005  # longest a settle waits for an acquire to share its round trip

# ARGV[1]: JSON list of operations, each
#   ["a", now_ms, member, [[key, amount, limit, ttl_ms, base_key or "", want_reset 0|1, unit 0|1], ...]]
#   ["s", now_ms, member, [[key, action, amount, base_key or "", base_add, base_ttl_ms, unit 0|1], ...]]  settle
#   (a settle's unit flag may be left out: the key is then looked up as if it could hold amounts)
# Returns one entry per acquire, in order: {ok, used_1, reset_ms_1, used_2, reset_ms_2, ...}.
#
# Within one call the script remembers what it has read or changed, so that the many requests of a batch,
# which mostly share their keys, do not each re-read them: per sorted set its size (`card`), its earliest
# score exactly (`first`, for the reset time) and a lower bound of it (`low`: nothing can expire before it,
# so no expiry pass is needed until then); per total and spend counter its value (`tot`). Every write
# updates these from what Redis returns; a removal makes the earliest score unknown again. Time stands
# still inside a script, so a key's TTL is checked once per call (`kept`).
BATCH_SCRIPT = """
local function int(x) return string.format('%d', x) end
local card, first, low, tot, kept = {}, {}, {}, {}, {}
local function learn(z)  -- the earliest score, or false for an empty set
  local got = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  local f = false
  if #got == 2 then f = tonumber(got[2]) end
  first[z] = f; low[z] = f
  return f
end
local function expire(z, h, s, now)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone == 0 then return end
  local total = 0
  for i = 1, #gone, 1000 do
    local part = {unpack(gone, i, math.min(i + 999, #gone))}
    for _, a in ipairs(redis.call('HMGET', h, unpack(part))) do total = total + tonumber(a or '0') end
    redis.call('HDEL', h, unpack(part))
  end
  tot[s] = redis.call('DECRBY', s, int(total))
  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
end
local function keep(ttl, a, b, c)
  -- refresh the keys' TTL only when it runs short: one PTTL per key and call instead of a PEXPIRE each
  local last = c or b or a
  if kept[last] then return end
  kept[last] = true
  if redis.call('PTTL', last) < ttl + 30000 then
    for _, k in ipairs({a, b, c}) do redis.call('PEXPIRE', k, ttl + 60000) end
  end
end
local function value(k)
  local v = tot[k]
  if v == nil then v = tonumber(redis.call('GET', k) or '0'); tot[k] = v end
  return v
end
local function acquire(now, member, checks)
  local used = {}; local ok = true
  for i, c in ipairs(checks) do
    local k, unit = c[1], c[7] == 1
    local z = k .. ':z'
    local lo = low[z]
    if lo == nil or (lo and lo <= now) then
      if unit then  -- a count: the sorted set alone
        local n = redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
        if card[z] then card[z] = card[z] - n end
      else
        expire(z, k .. ':h', k .. ':s', now)
      end
      learn(z)
    end
    local u
    if unit then
      u = card[z]
      if u == nil then u = redis.call('ZCARD', z); card[z] = u end
    else
      u = value(k .. ':s')
    end
    if c[5] ~= '' then u = u + value(c[5]) end
    used[i] = u
    if u + c[2] > c[3] then ok = false end
  end
  local out = {ok and 1 or 0}
  for i, c in ipairs(checks) do
    local k, amount, ttl = c[1], c[2], c[4]
    local z = k .. ':z'
    if ok then
      local exp, added = now + ttl, 0
      if c[7] == 1 then
        added = redis.call('ZADD', z, exp, member)  -- 0 if the member was already in
        card[z] = card[z] + added
        used[i] = used[i] + added
        keep(ttl, z)
      else
        local h, s = k .. ':h', k .. ':s'
        local prev = 0
        if redis.call('HSETNX', h, member, int(amount)) == 0 then  -- a re-acquire replaces its entry
          prev = tonumber(redis.call('HGET', h, member))
          redis.call('HSET', h, member, int(amount))
        end
        added = redis.call('ZADD', z, exp, member)
        tot[s] = redis.call('INCRBY', s, int(amount - prev))
        used[i] = used[i] + amount - prev
        keep(ttl, z, h, s)
      end
      local lo = low[z]
      if lo == false or exp < lo then  -- the new entry is now the earliest
        first[z] = exp; low[z] = exp
      elseif added == 0 then  -- an entry moved: perhaps the earliest
        first[z] = nil
      end
    end
    local reset = ttl
    if c[6] == 1 then
      local f = first[z]
      if f == nil then f = learn(z) end
      if f then reset = math.max(0, f - now) end
    end
    table.insert(out, used[i]); table.insert(out, reset)
  end
  return out
end
local function settle(member, settles)
  for _, st in ipairs(settles) do
    local k, action, amount, base, base_add = st[1], st[2], st[3], st[4], st[5]
    if st[7] ~= 1 then  -- a count keeps no amounts
      local h, s = k .. ':h', k .. ':s'
      local old = redis.call('HGET', h, member)  -- nil for an entry already gone
      if old then
        if action == 'remove' then
          redis.call('HDEL', h, member); tot[s] = redis.call('DECRBY', s, old)
        else
          redis.call('HSET', h, member, int(amount))
          tot[s] = redis.call('INCRBY', s, int(amount - tonumber(old)))
        end
      end
    end
    if action == 'remove' then
      local z = k .. ':z'
      local n = redis.call('ZREM', z, member)
      if n > 0 then
        first[z] = nil
        if card[z] then card[z] = card[z] - n end
      end
    end
    if base_add ~= 0 then
      local v = redis.call('INCRBY', base, int(base_add))
      tot[base] = v
      if v == base_add then redis.call('PEXPIRE', base, st[6]) end  -- just created: give it the period's TTL
    end
  end
end
local results = {}
for _, op in ipairs(cjson.decode(ARGV[1])) do
  if op[1] == 'a' then
    table.insert(results, acquire(op[2], op[3], op[4]))
  else
    settle(op[3], op[4])
  end
end
return results
"""

Op = tuple[list[Any], "asyncio.Future[Any] | None"]


class RedisBound(NamedTuple):
    """A principal's checks as script arguments, prefixed and converted once (see counters.Bound).

    acquire: (key, limit, ttl_ms, base key or "", want_reset, unit, amount index) per check
    settles: (key, action, base key or "", period end) for each check that settling touches
    """

    acquire: tuple[tuple[str, int, int, str, int, int, int], ...]
    settles: tuple[tuple[str, int, str, float], ...]


class RedisCounters:
    def __init__(self, url: str, prefix: str = "hg:") -> None:
        self.redis: Any = aioredis.from_url(url)
        self.prefix = prefix
        self._script = self.redis.register_script(BATCH_SCRIPT)
        self._queue: list[Op] = []
        self._flusher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # a settle waiting for an acquire to ride along with

    def _submit(self, op: list[Any], fut: asyncio.Future[Any] | None) -> None:
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
        if self._queue and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the operations queued in this loop turn join the batch
        while self._queue:
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            try:
                out = await self._script(keys=[], args=[orjson.dumps([op for op, _ in batch])])
                results = iter(out)
                answers = [next(results) if op[0] == "a" else None for op, _ in batch]
            except Exception as e:  # every waiter gets the error; settles nobody waits for are logged
                for op, fut in batch:
                    if fut is not None and not fut.done():
                        fut.set_exception(e)
                    elif fut is None:
                        log.error("could not settle rate limits for %s: %s", op[2], e)
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
        acquire, settles = [], []
        for key, limit, ttl, amount, base, action, end, windowed in specs:
            counts = int(amount == 0)  # requests and leases: every entry is 1 (Check.counts)
            acquire.append((p + key, limit, int(ttl * 1000), p + base if base else "", int(windowed), counts, amount))
            if action:
                settles.append((p + key, action, p + base if base else "", end))
        return RedisBound(tuple(acquire), tuple(settles))

    async def take(self, b: RedisBound, amounts: tuple[int, int, int], member: str, now: float) -> list[Any]:
        """`acquire` over bound checks; the script's answer: {ok, used_1, reset_ms_1, used_2, ...}."""
        wire = [[k, amounts[i], limit, ttl, base, reset, unit] for k, limit, ttl, base, reset, unit, i in b.acquire]
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(["a", int(now * 1000), member, wire], fut)
        out: list[Any] = await fut
        return out

    def release(self, b: RedisBound, tokens: int, cost_nano: int, member: str, now: float) -> None:
        """`settle_soon` for a `take`: tokens reconciled, leases and reservations dropped, spend added."""
        wire = []
        for k, action, base, end in b.settles:
            if action == ADJUST:
                wire.append([k, "adjust", tokens, "", 0, 1, 0])
            elif action == SPEND and base:
                ttl_ms = max(1, int((end - now + SPENT_GRACE_S) * 1000))
                wire.append([k, "remove", 0, base, cost_nano, ttl_ms, 0])
            else:  # a lease: a count
                wire.append([k, "remove", 0, "", 0, 1, 1])
        if wire:
            self._submit(["s", int(now * 1000), member, wire], None)

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
        await self.redis.aclose()
