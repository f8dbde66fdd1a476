-- wrk script for bench/serving_benchmark.py: POSTs the request bodies given as files
-- (after `--`, the first argument is the URL path), in turn, with the headers of
-- WRK_HEADERS ("name: value" lines), and prints one JSON line of figures when done.
local requests, next_request = {}, 0

function init(args)
  local path = args[1]
  local headers = {["Content-Type"] = "application/json"}
  for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  for i = 2, #args do
    local file = assert(io.open(args[i], "rb"))
    requests[#requests + 1] = wrk.format("POST", path, headers, file:read("*a"))
    file:close()
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
