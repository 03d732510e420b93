-- wrk script for bench/serve.sh: POSTs the lines of $SENTENCES in turn as
-- {"text": LINE<$SERVE_EXTRA>} to $SERVE_PATH, counts the answers by
-- status and prints one JSON line: requests/s, latency percentiles, errors.
local path = os.getenv("SERVE_PATH") or "/v1/translate"
local extra = os.getenv("SERVE_EXTRA") or ""
local sentences = {}
local counter = 0
statuses = {}
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("SENTENCES")) do
    sentences[#sentences + 1] = line
  end
  -- Threads start at different sentences.
  counter = (id or 0) * 37
end

local function json_string(s)
  local escaped = s:gsub("\\", "\\\\"):gsub("\"", "\\\"")
  return "\"" .. escaped .. "\""
end

function request()
  counter = counter + 1
  local s = sentences[(counter % #sentences) + 1]
  local body = "{\"text\": " .. json_string(s) .. extra .. "}"
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    local st = t:get("statuses")
    for k, v in pairs(st) do
      counts[tostring(k)] = (counts[tostring(k)] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(counts) do
    parts[#parts + 1] = string.format("\"%s\": %d", k, v)
  end
  local e = summary.errors
  io.write(string.format(
    "{\"requests\": %d, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
      .. "\"socket_errors\": %d, \"non_2xx\": %d, \"statuses\": {%s}}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status, table.concat(parts, ", ")))
end
