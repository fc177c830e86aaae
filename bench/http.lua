-- wrk script for tools/bench_http.sh (make bench).
--
-- BENCH_MODE=post: every request is a POST of a distinct customer (the
-- name carries the wrk thread and a counter, so no two requests of a run
-- are alike), with X-Rapport-Allow-Duplicate so the likely-duplicate check
-- never refuses one; with BENCH_IDEM=1 each also carries its own
-- Idempotency-Key. Any other mode sends wrk's request unchanged (GET).
-- done() prints one machine-readable line for the shell script:
--   RESULT <requests> <seconds> <p50 us> <p99 us> <non-2xx> <socket errors>

local mode = os.getenv("BENCH_MODE") or "get"
local keyed = os.getenv("BENCH_IDEM") == "1"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

if mode == "post" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Rapport-Allow-Duplicate"] = "true"
  request = function()
    counter = counter + 1
    local body = string.format(
      '{"name":"压测客户 %d-%d","address":"上海市浦东新区世纪大道100号",' ..
      '"grade":"B","tier":"key","industry":"retail","region":"华东"}',
      tid, counter)
    if keyed then
      wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d", tid, counter)
    end
    return wrk.format(nil, nil, nil, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %d %d %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
