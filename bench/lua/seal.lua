-- wrk script: POST /v1/seals (or /v1/seals/batch) with a fresh random-looking SHA-256 per
-- seal and the bearer token.  Usage:
--   wrk -t1 -c32 -d10s --latency -s bench/lua/seal.lua http://127.0.0.1:PORT -- TOKEN [ITEMS]
-- ITEMS = 0 (default): one seal per request to /v1/seals; ITEMS = N: /v1/seals/batch with N.
-- done() prints one line "WRKJSON {...}" that bench/bench_service.py reads, with the
-- count of each non-2xx status and the start of the first such answer.

local token, items, path
local headers = {}
threads = {}        -- global: report.lua reads it in done()
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

-- response() and done() (the WRKJSON line) come from report.lua, next to this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
