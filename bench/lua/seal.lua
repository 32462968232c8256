-- wrk script: POST /v1/seals (or /v1/seals/batch) with a fresh random-looking SHA-256 per
-- seal and the bearer token.  Usage:
--   wrk -t1 -c32 -d10s --latency -s bench/lua/seal.lua http://127.0.0.1:PORT -- TOKEN [ITEMS]
-- ITEMS = 0 (default): one seal per request to /v1/seals; ITEMS = N: /v1/seals/batch with N.
-- done() prints one line "WRKJSON {...}" that bench/bench_service.py reads, with the
-- count of each non-2xx status and the start of the first such answer.

local token, items, path
local headers = {}
local threads = {}
statuses = {}    -- per thread (a global, for thread:get): status -> count outside 2xx
first_error = ""

local function hex64()
  local t = {}
  for i = 1, 16 do t[i] = string.format("%04x", math.random(0, 65535)) end
  return table.concat(t)
end

local function item()
  return '{"hash":"' .. hex64() .. '","size":' .. math.random(1, 1000000000)
    .. ',"media_type":"image/jpeg","title":"photo.jpg"}'
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  token = args[1] or ""
  items = tonumber(args[2] or "0")
  path = items > 0 and "/v1/seals/batch" or "/v1/seals"
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. token
  -- a different sequence per thread and per run
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local body
  if items > 0 then
    local t = {}
    for i = 1, items do t[i] = item() end
    body = '{"items":[' .. table.concat(t, ",") .. ']}'
  else
    body = item()
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
    if first_error == "" then first_error = string.sub(body or "", 1, 200) end
  end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)
    .. '"'
end

function done(summary, latency, requests)
  local counts, err = {}, ""
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      counts[status] = (counts[status] or 0) + n
    end
    if err == "" then err = thread:get("first_error") or "" end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,'
    .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,'
    .. '"non_2xx_by_status":{%s},"first_non_2xx":%s}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    table.concat(parts, ","), json_string(err)))
end
