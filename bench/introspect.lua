-- wrk script for RFC 7662 introspection (bench/run.sh).
-- env: TOKENS_FILE (one access token per line), BASIC (base64 of id:secret), INTROSPECT_PATH.
-- Each request introspects the next token of the list (round robin per thread).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local path = os.getenv("INTROSPECT_PATH")
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Accept"] = "application/json",
  ["Authorization"] = "Basic " .. os.getenv("BASIC"),
}
local i = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  i = (id or 0) * 7
end

function request()
  i = i + 1
  return wrk.format("POST", path, headers, "token=" .. tokens[(i % #tokens) + 1])
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local non2xx = e.status
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.2f,"rps":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"non_2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, secs, (summary.requests - non2xx) / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    non2xx, e.connect, e.read, e.write, e.timeout))
end
