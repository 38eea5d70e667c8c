-- wrk script: POST valid rent-arrears signals, each with a source_ref of its own.
--
--   wrk -t1 -c8 -d10s -s bench/wrk_post.lua URL/api/v1/messages -- RUN KEY RESIDENTS
--
-- RUN makes the references unique per run, KEY is the partner's API key (sent
-- as a bearer token), RESIDENTS how many registered residents the signals are
-- spread over. The body has the shape of bench.hubs.arrears_body. At the end
-- one JSON line (prefixed "WRK_JSON ") gives the counts and the latency
-- percentiles in microseconds.

local run, key, residents = "r", "", 500
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

function init(args)
   run = args[1] or run
   key = args[2] or key
   residents = tonumber(args[3] or residents)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
   counter = counter + 1
   local n = thread_id * 100000000 + counter
   local s = n % residents + 1
   local house = tostring(s % 900 + 1)
   local body = string.format(
      '{"type": "signal.arrears.rent", "source_ref": "%s-%d", ' ..
      '"subject": {"name": "Bewoner %d", "postcode": "3317AB", "huisnummer": "%s"}, ' ..
      '"occurred_at": "2026-11-20T08:00:00+00:00", ' ..
      '"data": {"amount_eur": "1250.00", "months": 3, "since": "2026-08-01", ' ..
      '"tenancy_ref": "T%s-%d", "address": {"postcode": "3317AB", "huisnummer": "%s"}}}',
      run, n, s, house, run, n, house)
   return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
      '"p99_us": %d, "max_us": %d, "errors_connect": %d, "errors_read": %d, ' ..
      '"errors_write": %d, "errors_status": %d, "errors_timeout": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
