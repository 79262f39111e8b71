-- wrk script of `make bench` (e2e/bench.py runs it with `wrk -s e2e/bench_wrk.lua URL -- MODE TAG ...`).
--
-- Every request carries a `uuid` header shaped like a UUID whose first 8 hex digits are TAG (one per figure) and
-- whose last 12 are this thread's number and request counter: unique, and findable in the issuer's request log.
-- References (transactionReferenceNumber, reversalReferenceNumber) are TAG-thread-counter, so unique too.
--
-- Modes and their arguments after TAG:
--   get PATH [PATH ...]                          GET the paths in turn (shop pages, the floor)
--   token BASIC                                  POST the token form with `Authorization: Basic BASIC`
--   balance TOKEN CLIENT_ID LINK                 GET /v1/apac/rewards/LINK/pointBalance
--   redeem TOKEN CLIENT_ID LINK POINTS AMOUNT    POST /v1/apac/rewards/LINK/redemption, a new reference each
--   reverse TOKEN CLIENT_ID POINTS ORDER[,ORDER...]   POST /v1/apac/rewards/redemption/reversals, partial
--                                                reversals of POINTS spread over the orderIds
--
-- done() prints one line `WRK_JSON {...}`: requests, duration and latency percentiles in microseconds, and the
-- error counts (status counts answers >= 400; the bench checks for 3xx separately).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local mode, tag, counter = nil, nil, 0
local fixed_headers, paths, orders = {}, {}, {}
local link, points, amount, basic = nil, nil, nil, nil

local function split(text, separator)
  local parts = {}
  for part in string.gmatch(text, "([^" .. separator .. "]+)") do
    parts[#parts + 1] = part
  end
  return parts
end

function init(args)
  mode, tag = args[1], args[2]
  local number = thread_number or 1
  math.randomseed(os.time() * 1000 + number)
  if mode == "get" then
    for index = 3, #args do
      paths[#paths + 1] = args[index]
    end
    fixed_headers = { ["Accept"] = "text/html,application/json" }
  elseif mode == "token" then
    basic = args[3]
    fixed_headers = {
      ["Authorization"] = "Basic " .. basic,
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Accept"] = "application/json",
    }
  else
    fixed_headers = {
      ["Authorization"] = "Bearer " .. args[3],
      ["client_id"] = args[4],
      ["Accept"] = "application/json",
    }
    if mode == "balance" then
      link = args[5]
    elseif mode == "redeem" then
      link, points, amount = args[5], args[6], args[7]
      fixed_headers["Content-Type"] = "application/json"
    elseif mode == "reverse" then
      points, orders = args[5], split(args[6], ",")
      fixed_headers["Content-Type"] = "application/json"
    else
      error("bench_wrk.lua: unknown mode " .. tostring(mode))
    end
  end
end

local function headers(id)
  local result = {}
  for name, value in pairs(fixed_headers) do
    result[name] = value
  end
  result["uuid"] = id
  return result
end

function request()
  counter = counter + 1
  local number = thread_number or 1
  local id = string.format(
    "%s-%04x-4%03x-%04x-%02x%010x",
    tag,
    math.random(0, 0xffff),
    math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff),
    number % 256,
    counter
  )
  local reference = string.format("%s-%d-%d", tag, number, counter)
  if mode == "get" then
    return wrk.format("GET", paths[(counter - 1) % #paths + 1], headers(id))
  elseif mode == "token" then
    return wrk.format(
      "POST",
      "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
      headers(id),
      "grant_type=client_credentials&scope=%2Fapi"
    )
  elseif mode == "balance" then
    return wrk.format("GET", "/v1/apac/rewards/" .. link .. "/pointBalance", headers(id))
  elseif mode == "redeem" then
    local body = string.format(
      '{"transactionReferenceNumber":"BR-%s","redemptionOrder":{"transactionAmount":"%s",'
        .. '"currencyCode":"HKD","pointsToRedeem":%s,"transactionDescription":"Bench redemption BR-%s"}}',
      reference,
      amount,
      points,
      reference
    )
    return wrk.format("POST", "/v1/apac/rewards/" .. link .. "/redemption", headers(id), body)
  else
    local order = orders[(counter + number) % #orders + 1]
    local body = string.format(
      '{"orderId":"%s","reversalReferenceNumber":"BV-%s","pointsToReverse":%s}',
      order,
      reference,
      points
    )
    return wrk.format("POST", "/v1/apac/rewards/redemption/reversals", headers(id), body)
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(
    string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
        .. '"max_us":%d,"mean_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests,
      summary.duration,
      summary.bytes,
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(99),
      latency.max,
      latency.mean,
      errors.connect,
      errors.read,
      errors.write,
      errors.status,
      errors.timeout
    )
  )
end
