"""The Lua script that RedisCounters (access/redis_counters.py) runs for each batch of operations."""

# ARGV[1]: JSON list of operations, each
#   ["a", now_ms, member, [[key, amount, limit, ttl_ms, base_key or "", want_reset 0|1, unit 0|1, lease n], ...],
#    lease member, lease_ms]  acquire (lease n, lease member and lease_ms only when asking for leases)
#   ["s", now_ms, member, [[key, action, amount, base_key or "", base_add, base_ttl_ms, unit 0|1], ...]]  settle
#   (a settle's unit flag may be left out: the key is then looked up as if it could hold amounts)
#   ["l", 0, "", [[sum, member, amount, expiry_ms, base_key or "", spend, spend_ttl_ms, drop], ...]]  leases
# Returns one entry per acquire, in order: {ok, used_1, reset_ms_1, used_2, reset_ms_2, ...[, granted 0|1]}.
# A count (unit 1) keeps its leases in a sum of its own beside the sorted set (`key:l`), as amounts.
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
local function put(t, member, amount, exp, ttl)  -- an amount entry in sum `t` (a re-put replaces it)
  local z, h, s = t .. ':z', t .. ':h', t .. ':s'
  local prev = 0
  if redis.call('HSETNX', h, member, int(amount)) == 0 then  -- a re-acquire replaces its entry
    prev = tonumber(redis.call('HGET', h, member))
    redis.call('HSET', h, member, int(amount))
  end
  local added = redis.call('ZADD', z, exp, member)
  tot[s] = redis.call('INCRBY', s, int(amount - prev))
  keep(ttl, z, h, s)
  local lo = low[z]
  if lo == nil then first[z] = nil  -- unknown: learnt again when needed
  elseif lo == false or exp < lo then first[z] = exp; low[z] = exp  -- the new entry is now the earliest
  elseif added == 0 then first[z] = nil end  -- an entry moved: perhaps the earliest
  return amount - prev
end
local function leased(k, now)
  -- what leases hold in a count (sum `k:l`, amounts per lease); 0 with one cached read when none is held
  local t = k .. ':l'
  local s = t .. ':s'
  if value(s) <= 0 then return 0 end
  local z = t .. ':z'
  local lo = low[z]
  if lo == nil or (lo and lo <= now) then expire(z, t .. ':h', s, now); learn(z) end
  return value(s)
end
local function acquire(now, member, checks, lease, lease_ms)
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
      u = u + leased(k, now)
    else
      u = value(k .. ':s')
    end
    if c[5] ~= '' then u = u + value(c[5]) end
    used[i] = u
    if u + c[2] > c[3] then ok = false end
  end
  for i, c in ipairs(checks) do
    if not ok then break end
    local k, amount, ttl = c[1], c[2], c[4]
    local z = k .. ':z'
    local exp = now + ttl
    if c[7] == 1 then
      local added = redis.call('ZADD', z, exp, member)  -- 0 if the member was already in
      card[z] = card[z] + added
      used[i] = used[i] + added
      keep(ttl, z)
      local lo = low[z]
      if lo == false or exp < lo then first[z] = exp; low[z] = exp
      elseif added == 0 then first[z] = nil end
    else
      used[i] = used[i] + put(k, member, amount, exp, ttl)
    end
  end
  local granted = 0
  if ok and lease then
    -- a lease: each asked check's amount `n` reserved for the replica to admit from locally, all or none,
    -- and only while the limit stays at most half used
    granted = 1
    for i, c in ipairs(checks) do
      local n = c[8] or 0
      if n > 0 and 2 * (used[i] + n) > c[3] then granted = 0 end
    end
    if granted == 1 then
      for i, c in ipairs(checks) do
        local n = c[8] or 0
        if n > 0 then
          local t = c[1]
          if c[7] == 1 then t = t .. ':l' end
          put(t, lease, n, now + c[4] + lease_ms, c[4] + lease_ms)
          used[i] = used[i] + n
        end
      end
    end
  end
  local out = {ok and 1 or 0}
  for i, c in ipairs(checks) do
    local reset = c[4]
    if c[6] == 1 then
      local z = c[1] .. ':z'
      local f = first[z]
      if f == nil then f = learn(z) end
      if f then reset = math.max(0, f - now) end
    end
    table.insert(out, used[i]); table.insert(out, reset)
  end
  if lease then table.insert(out, granted) end
  return out
end
local function update(ups)
  -- leases: [sum, member, amount, expiry_ms or 0, spend key or "", spend, spend_ttl_ms, drop 0|1] each; the
  -- entry is set to `amount` (so that sending it again changes nothing), `spend` is added to the spend key
  for _, u in ipairs(ups) do
    local t, m, amount, exp, base, spend = u[1], u[2], u[3], u[4], u[5], u[6]
    local z, h, s = t .. ':z', t .. ':h', t .. ':s'
    local old = redis.call('HGET', h, m)  -- nil once expired: nothing left to change
    if old then
      if u[8] == 1 then
        redis.call('HDEL', h, m); redis.call('ZREM', z, m)
        tot[s] = redis.call('DECRBY', s, old)
        first[z] = nil
      else
        local delta = amount - tonumber(old)
        if delta ~= 0 then
          redis.call('HSET', h, m, int(amount))
          tot[s] = redis.call('INCRBY', s, int(delta))
        end
        if exp > 0 then redis.call('ZADD', z, 'XX', exp, m); first[z] = nil; low[z] = nil end
      end
    end
    if spend ~= 0 then
      local v = redis.call('INCRBY', base, int(spend))
      tot[base] = v
      if v == spend then redis.call('PEXPIRE', base, u[7]) end  -- just created: give it the period's TTL
    end
  end
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
    table.insert(results, acquire(op[2], op[3], op[4], op[5], op[6]))
  elseif op[1] == 'l' then
    update(op[4])
  else
    settle(op[3], op[4])
  end
end
return results
"""
