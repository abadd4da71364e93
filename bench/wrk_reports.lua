-- wrk script: POST a distinct user report per request (a fresh content id each time), so
-- every request is a real insert and event, never a duplicate. The body comes from
-- WARDEN_BENCH_BODY with "__ID__" where the id goes; extra headers from WARDEN_BENCH_HEADERS
-- (a flat JSON object). At the end, one line "WRK_JSON {...}" for bench/lib.py to read.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  template = os.getenv("WARDEN_BENCH_BODY")
  run = os.getenv("WARDEN_BENCH_RUN")
  counter = 0
  wrk.method = "POST"
  wrk.path = "/v1/reports"
  wrk.headers["Content-Type"] = "application/json"
  for k, v in string.gmatch(os.getenv("WARDEN_BENCH_HEADERS") or "", '"([^"]+)"%s*:%s*"([^"]*)"') do
    wrk.headers[k] = v
  end
end

function request()
  counter = counter + 1
  local id = run .. "-" .. tid .. "-" .. counter
  local body = string.gsub(template, "__ID__", id, 1)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests": %d, "errors": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, errors, summary.duration, latency:percentile(50), latency:percentile(99)))
end
