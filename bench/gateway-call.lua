-- wrk script for bench/gateway.mjs (when oha is not installed): POST the trivial tool call,
-- with the bearer token from $AUTHORIZATION when set.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local auth = os.getenv("AUTHORIZATION")
if auth and #auth > 0 then wrk.headers["Authorization"] = auth end
local session = os.getenv("SESSION")
if session and #session > 0 then
  wrk.headers["Mcp-Session-Id"] = session
  wrk.headers["Mcp-Protocol-Version"] = "2025-11-25"
end
