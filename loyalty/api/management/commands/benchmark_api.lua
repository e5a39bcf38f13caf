-- wrk script of `manage.py benchmark_api`: every connection is a POS terminal.
--
-- Each request picks a random customer number in [BENCH_FIRST, BENCH_LAST] and names the
-- customer by phone or card (alternately); commits carry a unique Idempotency-Key and receipt
-- number (run tag, wrk thread, counter). The basket has 10 lines of the coffee programme.
-- Environment: BENCH_MODE (commit | calculate | lookup), BENCH_API_KEY, BENCH_FIRST,
-- BENCH_LAST, BENCH_RUN (a tag unique per run), BENCH_REDEEM (points to redeem, "0": none).
-- done() prints one line "BENCH {json}" that the command parses.

local mode = os.getenv("BENCH_MODE") or "commit"
local api_key = os.getenv("BENCH_API_KEY") or ""
local first = tonumber(os.getenv("BENCH_FIRST") or "1")
local last = tonumber(os.getenv("BENCH_LAST") or "1")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local redeem = os.getenv("BENCH_REDEEM") or "0"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local LINES = table.concat({
  '{"sku":"LATTE","category":"coffee","name":"Latte","quantity":"2","price":"250.00"}',
  '{"sku":"CAPPUCCINO","category":"coffee","name":"Cappuccino","quantity":"1","price":"230.00"}',
  '{"sku":"ESPRESSO","category":"coffee","name":"Espresso","quantity":"2","price":"150.00"}',
  '{"sku":"CROISSANT","category":"bakery","name":"Croissant","quantity":"2","price":"180.00"}',
  '{"sku":"CHEESECAKE","category":"desserts","name":"Cheesecake","quantity":"1","price":"320.00"}',
  '{"sku":"SANDWICH","category":"food","name":"Sandwich","quantity":"1","price":"390.00"}',
  '{"sku":"WATER","category":"drinks","name":"Water","quantity":"2","price":"90.00"}',
  '{"sku":"BEANS-250","category":"coffee-beans","name":"Beans 250 g","quantity":"1",'
    .. '"price":"690.00","is_promo":true}',
  '{"sku":"MUG","category":"merch","name":"Mug","quantity":"1","price":"450.00"}',
  '{"sku":"CIGARILLO","category":"tobacco","name":"Cigarillo","quantity":"1","price":"260.00"}',
}, ",")

function init(args)
  math.randomseed(os.time() * 97 + tid * 7919)
  counter = 0
  non2xx = 0
  first_bad = ""
end

local function identify(i)
  if i % 2 == 0 then
    return string.format('{"phone":"+79%09d"}', i), string.format("phone=%%2B79%09d", i)
  end
  return string.format('{"card":"2%09d"}', i), string.format("card=2%09d", i)
end

function request()
  counter = counter + 1
  local i = math.random(first, last)
  local customer, query = identify(i)
  local headers = {
    ["Authorization"] = "Api-Key " .. api_key,
    ["Content-Type"] = "application/json",
  }
  if mode == "lookup" then
    return wrk.format("GET", "/api/v1/customers/lookup?" .. query, headers)
  end
  local body = '{"customer":' .. customer .. ',"lines":[' .. LINES .. ']'
  if redeem ~= "0" then
    body = body .. ',"redeem_points":"' .. redeem .. '"'
  end
  if mode == "calculate" then
    return wrk.format("POST", "/api/v1/checks/calculate", headers, body .. "}")
  end
  local key = run .. "-" .. tid .. "-" .. counter
  headers["Idempotency-Key"] = key
  return wrk.format("POST", "/api/v1/checks", headers,
    body .. ',"receipt_number":"' .. key .. '"}')
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    local s = thread:get("first_bad")
    if s and s ~= "" then sample = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,'
      .. '"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout))
  if sample ~= "" then
    io.write("BENCH_SAMPLE " .. sample:gsub("\n", " ") .. "\n")
  end
end
