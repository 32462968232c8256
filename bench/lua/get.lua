-- wrk script: GET the URL as given (e.g. http://127.0.0.1:PORT/healthz), with the
-- WRKJSON line of report.lua.  bench_lookup uses it for the host's floor: the latency of
-- a route that does nothing, measured between the runs of a heavier one.
--   wrk -t1 -c1 -d5s --latency -s bench/lua/get.lua http://127.0.0.1:PORT/healthz

threads = {}        -- global: report.lua reads it in done()
statuses = {}
first_error = ""

function setup(thread)
  table.insert(threads, thread)
end

-- response() and done() (the WRKJSON line) come from report.lua, next to this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
