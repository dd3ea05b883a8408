-- Shared by the scenario scripts: headers, a per-thread id, and a JSON summary line.
local M = {}

M.key = os.getenv("BENCH_KEY") or ""
M.users = tonumber(os.getenv("BENCH_USERS") or "1000000")
M.headers = {
  ["Accept"] = "application/json",
  ["Authorization"] = "apikey " .. M.key,
}

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end

return M
