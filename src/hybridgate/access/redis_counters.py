"""The counters of access/counters.py in Redis, shared by every gateway replica.

Each check is three keys: a sorted set (member -> expiry), a hash (member -> amount) and the running
total; budgets add a fourth, the period's settled spend. One Lua script checks and applies all of a
request's checks, so two replicas can never both take the last slot. Expiry times come from the calling
replica's clock: keep replicas NTP-synced (skew shifts a window edge by the skew, nothing more).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from hybridgate.access.counters import Check, Hit, Settle

SETTLE_BATCH = 256

_EXPIRE = """
local function expire(z, h, s, now)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, m in ipairs(gone) do
    local a = tonumber(redis.call('HGET', h, m) or '0')
    redis.call('HDEL', h, m)
    redis.call('DECRBY', s, a)
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
end
"""

# KEYS: per check z, h, s, base. ARGV: now_ms, member, then per check amount, limit, ttl_ms, has_base.
ACQUIRE = (
    _EXPIRE
    + """
local now = tonumber(ARGV[1]); local member = ARGV[2]; local n = #KEYS / 4
local used = {}; local ok = true
for i = 1, n do
  local z, h, s, b = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  local amount, limit = tonumber(ARGV[4*i-1]), tonumber(ARGV[4*i])
  expire(z, h, s, now)
  local u = tonumber(redis.call('GET', s) or '0')
  if ARGV[4*i+2] == '1' then u = u + tonumber(redis.call('GET', b) or '0') end
  used[i] = u
  if u + amount > limit then ok = false end
end
local out = {ok and 1 or 0}
for i = 1, n do
  local z, h, s = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1]
  local amount, ttl = tonumber(ARGV[4*i-1]), tonumber(ARGV[4*i+1])
  if ok then
    local prev = tonumber(redis.call('HGET', h, member) or '0')
    redis.call('ZADD', z, now + ttl, member)
    redis.call('HSET', h, member, amount)
    redis.call('INCRBY', s, amount - prev)
    used[i] = used[i] + amount - prev
    for _, k in ipairs({z, h, s}) do redis.call('PEXPIRE', k, ttl + 60000) end
  end
  local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  local reset = ttl
  if #first == 2 then reset = math.max(0, tonumber(first[2]) - now) end
  table.insert(out, used[i]); table.insert(out, reset)
end
return out
"""
)

# KEYS: per settle z, h, s, base. ARGV: now_ms, member, then per settle action, amount, base_add, base_ttl_ms.
SETTLE = (
    _EXPIRE
    + """
local now = tonumber(ARGV[1]); local member = ARGV[2]; local n = #KEYS / 4
for i = 1, n do
  local z, h, s, b = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  local action, amount = ARGV[4*i-1], tonumber(ARGV[4*i])
  local base_add, base_ttl = tonumber(ARGV[4*i+1]), tonumber(ARGV[4*i+2])
  local old = redis.call('HGET', h, member)
  if old then
    if action == 'remove' then
      redis.call('HDEL', h, member); redis.call('ZREM', z, member); redis.call('DECRBY', s, tonumber(old))
    else
      redis.call('HSET', h, member, amount); redis.call('INCRBY', s, amount - tonumber(old))
    end
  end
  if base_add ~= 0 then
    redis.call('INCRBY', b, base_add); redis.call('PEXPIRE', b, base_ttl)
  end
end
return 1
"""
)


def _keys(key: str, base: str | None) -> list[str]:
    return [key + ":z", key + ":h", key + ":s", base or key + ":nobase"]


class RedisCounters:
    def __init__(self, url: str, prefix: str = "hg:") -> None:
        self.redis: Any = aioredis.from_url(url)
        self.prefix = prefix
        self._acquire = self.redis.register_script(ACQUIRE)
        self._settle = self.redis.register_script(SETTLE)
        self._pending: list[tuple[Sequence[Settle], str, float, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        keys: list[str] = []
        argv: list[Any] = [int(now * 1000), member]
        for c in checks:
            keys += _keys(self.prefix + c.key, self.prefix + c.base_key if c.base_key else None)
            argv += [c.amount, c.limit, int(c.ttl_s * 1000), "1" if c.base_key else "0"]
        out = await self._acquire(keys=keys, args=argv)
        ok = bool(out[0])
        hits = []
        for i, c in enumerate(checks):
            used, reset_ms = int(out[1 + 2 * i]), float(out[2 + 2 * i])
            hits.append(Hit(ok or used + c.amount <= c.limit, used, c.limit, reset_ms / 1000))
        return hits

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None:
        """Settles of concurrent requests share one pipelined round trip (they are off the request path,
        so a few waiting for the batch costs nobody latency)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((settles, member, now, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the settles scheduled in this loop iteration join the batch
        while self._pending:
            batch, self._pending = self._pending[:SETTLE_BATCH], self._pending[SETTLE_BATCH:]
            pipe = self.redis.pipeline(transaction=False)
            for settles, member, now, _ in batch:
                keys: list[str] = []
                argv: list[Any] = [int(now * 1000), member]
                for st in settles:
                    keys += _keys(self.prefix + st.key, self.prefix + st.base_key if st.base_key else None)
                    argv += [st.action, st.amount, st.base_add, max(1, int(st.base_ttl_s * 1000))]
                await self._settle(keys=keys, args=argv, client=pipe)
            try:
                await pipe.execute()
            except Exception as e:
                for *_, fut in batch:
                    fut.set_exception(e)
            else:
                for *_, fut in batch:
                    fut.set_result(None)

    async def delete_prefix(self) -> None:
        """Tests: remove every key under this prefix."""
        async for k in self.redis.scan_iter(match=self.prefix + "*", count=500):
            await self.redis.delete(k)

    async def aclose(self) -> None:
        await self.redis.aclose()
