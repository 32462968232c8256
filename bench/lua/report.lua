-- Shared by the wrk scripts in this folder (loaded with dofile): counts the answers
-- outside 2xx by status (and keeps the start of the first), and done() prints one line
-- "WRKJSON {...}" that the benchmark scripts read.  Each script defines the global
-- `threads` (filled in setup) and leaves `statuses` / `first_error` to this file.

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
