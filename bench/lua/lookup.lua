-- wrk script: POST /v1/lookup with request bodies read from a file, one per line, in
-- turn (each thread starts at a different line).  Usage:
--   wrk -t1 -c4 -d5s --latency -s bench/lua/lookup.lua http://127.0.0.1:PORT -- BODIES
-- done() prints one line "WRKJSON {...}" in the format of bench/lua/seal.lua.

local bodies = {}
local next_body = 1
local headers = {["Content-Type"] = "application/json"}
threads = {}        -- global: report.lua reads it in done()
statuses = {}
first_error = ""

function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 7919)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(bodies, line) end
  end
  next_body = (offset or 0) % #bodies + 1
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/v1/lookup", headers, body)
end

-- response() and done() (the WRKJSON line) come from report.lua, next to this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
