-- wrk script for make bench: replays the prepared requests (method, path, cookie, body; tab-separated),
-- one line after another, and prints the figures as one JSON line when done. With "once" after the file, each
-- line is sent at most once (each member submits once): the connections that ask for more get the framework
-- floor (a constant page) instead of a line again, and the thread stops when as many answers as lines are back.
local requests = {}
local index = 0
local answered = 0
local once = false
local spare = nil
local threads = {}
client_errors, server_errors = 0, 0  -- per thread (globals, so done() can read them)

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  once = args[2] == "once"
  spare = wrk.format("GET", "/_floor/framework", {["User-Agent"] = "balint-bench"}, nil)
  for line in io.lines(args[1]) do
    local method, path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {["User-Agent"] = "balint-bench"}
    if cookie ~= "" then headers["Cookie"] = cookie end
    if method == "POST" then
      headers["Content-Type"] = "application/x-www-form-urlencoded"
    else
      body = nil
    end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
end

function response(status, _, _)
  answered = answered + 1
  if once and answered >= #requests then
    wrk.thread:stop()
  end
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status >= 400 then
    client_errors = client_errors + 1
  end
end

function request()
  index = index + 1
  if once and index > #requests then
    return spare
  end
  return requests[((index - 1) % #requests) + 1]
end

function done(summary, latency, _)
  local c4, c5 = 0, 0
  for _, thread in ipairs(threads) do
    c4 = c4 + thread:get("client_errors")
    c5 = c5 + thread:get("server_errors")
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "errors_status": %d, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_timeout": %d, "status_4xx": %d, "status_5xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout, c4, c5))
end
