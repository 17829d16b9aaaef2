-- wrk script for SCIM user creation (bench/scim.sh): each request POSTs a new user with a
-- unique userName, for the run's duration. env: SCIM_PATH (/scim/v2/<slug>/Users), TOKEN.
local path = os.getenv("SCIM_PATH")
local headers = {
  ["Content-Type"] = "application/scim+json",
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
}
local threads = {}
sent, received, failed = 0, 0, 0
run = os.time()

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function request()
  sent = sent + 1
  local n = string.format("w%d-%d-%d", run, id, sent)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. n ..
    '@bench.test","externalId":"ext-' .. n .. '","active":true,"name":{"givenName":"G' .. n ..
    '","familyName":"Wrk"},"emails":[{"value":"' .. n .. '@bench.test","type":"work","primary":true}]}'
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  received = received + 1
  if status ~= 201 then failed = failed + 1 end
end

function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + (t:get("failed") or 0) end
  -- non-2xx answers are counted by this script (201 is the only success); socket errors by wrk
  io.write(string.format("RESULT {\"requests\":%d,\"secs\":%.2f,\"per_sec\":%.0f,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"errors\":%d}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    f + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
