-- wrk script: POST the body in $BENCH_BODY with $BENCH_AUTH, print a JSON summary (latencies in microseconds).
-- Where the body holds aaaaaa (prompt.py SERIAL), each request gets its own number there.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_AUTH") or "sk-bench")

local function serial(n) -- six lowercase letters, base 26 (loadgen.serial)
  local s = {}
  for i = 6, 1, -1 do
    s[i] = string.char(97 + n % 26)
    n = math.floor(n / 26)
  end
  return table.concat(s)
end

local at = wrk.body:find("aaaaaa", 1, true)
if at then
  local head, tail, n = wrk.body:sub(1, at - 1), wrk.body:sub(at + 6), 0
  function request()
    n = n + 1
    return wrk.format(nil, nil, nil, head .. serial(n) .. tail)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
