-- wrk script for bench/run.py.
--
--   wrk ... -s bench/lua/bench.lua URL -- MODE ARGS...
--
-- MODE get    PATH TOKEN           one fixed GET
-- MODE ids    PREFIX LO HI TOKEN   GET PREFIX..id with a random id in [LO, HI]
-- MODE post   PATH TOKEN BODYFILE  one fixed JSON POST
-- MODE lines  FILE NTHREADS        pre-built requests, one per line:
--                                  METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY; thread k takes the
--                                  lines i with i % NTHREADS == k, in order, wrapping around
-- TOKEN "-" sends no Authorization header.
--
-- done() prints one line "BENCH_JSON {...}": totals, errors, latency percentiles (us) and
-- the count of every status code (409s split by their error code).

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "threads.lua")

local function headers_for(token, with_body)
   local h = {}
   if token ~= nil and token ~= "-" then
      h["Authorization"] = "Bearer " .. token
   end
   if with_body then
      h["Content-Type"] = "application/json"
   end
   return h
end

local function read_file(name)
   local f = assert(io.open(name, "rb"))
   local data = f:read("*a")
   f:close()
   return data
end

local prepared = {}
local position = 0
local random_ids = false

function init(args)
   statuses = {}
   local mode = args[1]
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   if mode == "get" then
      prepared[1] = wrk.format("GET", args[2], headers_for(args[3], false))
   elseif mode == "ids" then
      local prefix, lo, hi, token = args[2], tonumber(args[3]), tonumber(args[4]), args[5]
      for id = lo, hi do
         prepared[#prepared + 1] = wrk.format("GET", prefix .. id, headers_for(token, false))
      end
      random_ids = true
   elseif mode == "post" then
      local body = read_file(args[4])
      prepared[1] = wrk.format("POST", args[2], headers_for(args[3], true), body)
   elseif mode == "lines" then
      local nthreads = tonumber(args[3])
      local i = 0
      for line in io.lines(args[2]) do
         if i % nthreads == tid then
            local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
            if body == "" then body = nil end
            prepared[#prepared + 1] = wrk.format(method, path, headers_for(token, body ~= nil),
                                                 body)
         end
         i = i + 1
      end
   else
      error("unknown mode " .. tostring(mode))
   end
   if #prepared == 0 then
      error("no requests for thread " .. tostring(tid))
   end
end

function request()
   if random_ids then
      return prepared[math.random(1, #prepared)]
   end
   position = position % #prepared + 1
   return prepared[position]
end

function response(status, headers, body)
   local key = tostring(status)
   if status == 409 and body ~= nil then
      local code = body:match('"code"%s*:%s*"([%w_]+)"')
      if code ~= nil then
         key = key .. ":" .. code
      end
   end
   statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
      '"statuses": {%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, json_counts(merged_counts("statuses"))))
end
