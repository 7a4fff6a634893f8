-- wrk script for tests/soak/soak.sh: HKP lookups through nginx, some of them long (the check takes
-- SLEEP_MS) and, when CRASH_EVERY is set, one in CRASH_EVERY asks for /boom, where the crasher plugin
-- dies.  Counts answers by status class per thread and prints the totals as "soak-load KEY VALUE" lines.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  sleep_every = tonumber(os.getenv("SLEEP_EVERY") or "50")
  sleep_ms = tonumber(os.getenv("SLEEP_MS") or "200")
  crash_every = tonumber(os.getenv("CRASH_EVERY") or "0")
  n = 0
  s2xx, s3xx, s4xx, s5xx, other = 0, 0, 0, 0, 0
end

function request()
  n = n + 1
  local path
  if crash_every > 0 and n % crash_every == 0 then
    path = "/boom"
  elseif sleep_every > 0 and n % sleep_every == 0 then
    path = "/pks/lookup?sleep_ms=" .. sleep_ms
  else
    path = "/pks/lookup?op=get&search=0x" .. string.format("%08X", n)
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then s2xx = s2xx + 1
  elseif status < 400 then s3xx = s3xx + 1
  elseif status < 500 then s4xx = s4xx + 1
  elseif status < 600 then s5xx = s5xx + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local t = { s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(t) do t[key] = t[key] + thread:get(key) end
  end
  io.write(string.format("soak-load requests %d\n", summary.requests))
  io.write(string.format("soak-load 2xx %d\nsoak-load 3xx %d\nsoak-load 4xx %d\nsoak-load 5xx %d\n",
                         t.s2xx, t.s3xx, t.s4xx, t.s5xx))
  local e = summary.errors
  io.write(string.format("soak-load connect_errors %d\nsoak-load read_errors %d\nsoak-load write_errors %d\n",
                         e.connect, e.read, e.write))
  io.write(string.format("soak-load timeouts %d\nsoak-load bad_status %d\n", e.timeout, e.status))
  io.write(string.format("soak-load p99_ms %.1f\n", latency:percentile(99) / 1000))
end
