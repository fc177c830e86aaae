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

if mode == "opp_post" then
  local customer = os.getenv("BENCH_CUSTOMER")
  local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
  local answers = 0
  local sources = {"官网", "展会", "转介绍", "电话营销"}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    counter = counter + 1
    local body = string.format(
      '{"customer_id":"%s","title":"压测商机 %d-%d","amount":%d.%02d,' ..
      '"expected_close":"2027-%02d-%02d","source":"%s"}',
      customer, tid, counter, 1000 + counter % 90000, counter % 100,
      1 + counter % 12, 1 + counter % 28, sources[1 + counter % 4])
    return wrk.format(nil, nil, nil, body)
  end
  if limit > 0 then
    response = function(status, headers, body)
      answers = answers + 1
      if answers == limit then
        -- tools/bench_http.sh waits for every thread's file, then stops wrk
        local done_file = os.getenv("BENCH_DONE")
        if done_file then
          local f = io.open(done_file .. "." .. tid, "w")
          f:write(answers, "\n")
          f:close()
        end
        wrk.thread:stop()
      end
    end
  end
end

if mode == "opp_stage" then
  local stages = {"contacted", "needs_analysis", "proposal", "negotiation", "lead"}
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  local ids = nil
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    if ids == nil then
      ids = {}
      local i = 0
      for line in io.lines(os.getenv("BENCH_IDS")) do
        if i % nthreads == tid and line ~= "" then
          table.insert(ids, line)
        end
        i = i + 1
      end
    end
    local n = #ids
    local id = ids[1 + counter % n]
    local stage = stages[1 + math.floor(counter / n) % #stages]
    counter = counter + 1
    return wrk.format(nil, "/api/v1/opportunities/" .. id .. "/stage", nil,
      string.format('{"stage":"%s"}', stage))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %d %d %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
