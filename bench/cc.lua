-- wrk script for the client_credentials grant (RFC 6749 §4.4) (bench/run.sh).
-- env: BASIC (base64 of client_id:client_secret), TOKEN_PATH, BODY (the form body).
local path = os.getenv("TOKEN_PATH")
local body = os.getenv("BODY")
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Accept"] = "application/json",
  ["Authorization"] = "Basic " .. os.getenv("BASIC"),
}

function request()
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local non2xx = e.status
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.2f,"rps":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"ok":%d,"other":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, secs, (summary.requests - non2xx) / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests - non2xx, non2xx + e.connect + e.read + e.write + e.timeout,
    e.connect, e.read, e.write, e.timeout))
end
