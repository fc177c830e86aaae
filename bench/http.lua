-- wrk script for tools/bench_http.sh (make bench).
--
-- BENCH_MODE=post: every request is a POST of a distinct customer (the
-- name carries the wrk thread and a counter, so no two requests of a run
-- are alike), with X-Rapport-Allow-Duplicate so the likely-duplicate check
-- never refuses one; with BENCH_IDEM=1 each also carries its own
-- Idempotency-Key. BENCH_MODE=events: every request is a POST
-- /api/v1/events of BENCH_BATCH (default 100) valid order.placed events,
-- each with a new id (BENCH_RUN, a random prefix, + wrk thread + counter),
-- so the journal appends every one (a seen (source, id) would answer
-- duplicate), each naming customer {id: BENCH_CUSTOMER} when set (else
-- {code: "K3-001"}, which matches nobody); done() adds "EVENTS <batch> <events answered duplicate>".
-- Any other mode sends wrk's request unchanged (GET).
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

local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
if mode == "events" then
  local run = os.getenv("BENCH_RUN") or tostring(os.time())
  local products = {"电力电缆 YJV22 3x95", "控制电缆 KVV 4x1.5", "架空绝缘导线 JKLYJ 1x120"}
  local customer = os.getenv("BENCH_CUSTOMER")
  customer = customer and string.format('{"id":"%s"}', customer) or '{"code":"K3-001"}'

  duplicates = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    counter = counter + 1
    local events = {}
    for i = 1, batch do
      local id = string.format("%s-%d-%d-%d", run, tid, counter, i)
      local n = counter * batch + i
      events[i] = string.format(
        '{"type":"order.placed","id":"%s","source":"bench-http","data":' ..
        '{"order_no":"SO-%s","customer":%s,"amount":%d.%02d,' ..
        '"currency":"CNY","quantity":%d,"product":"%s",' ..
        '"spec":"8.7/15kV, 500 m a drum, the sample order\'s credit terms",' ..
        '"placed_at":"2026-11-23T16:05:00+08:00"}}',
        id, id, customer, n % 100000, n % 100, 1 + n % 7, products[1 + n % #products])
    end
    return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(events, ",") .. ']}')
  end
  response = function(status, headers, body)
    if status == 202 and body then
      for _ in body:gmatch('"status":%s*"duplicate"') do
        duplicates = duplicates + 1
      end
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %d %d %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
  if mode == "events" then
    local dups = 0
    for _, thread in ipairs(threads) do
      dups = dups + (thread:get("duplicates") or 0)
    end
    io.write(string.format("EVENTS %d %d\n", batch, dups))
  end
end
