-- wrk script for bench/rush.py: families rushing to book at a release instant (放号).
--
--   wrk -tT -cC -dD -s bench/lua/rush.lua URL -- FAMILIES NTHREADS LISTS OUT
--
-- FAMILIES  one family per line: INDEX TOKEN PATIENT FIRST SLOT SECOND CANCEL
--           (tab-separated; SLOT 0 = the earliest free slot, SECOND 0 = none, CANCEL 1/0).
--           Thread k plays the families whose INDEX % NTHREADS == k.
-- LISTS     one schedule-list path per line (the department's day, page by page).
-- OUT       where done() writes what the service acknowledged, one line each:
--           B REGISTRATION FAMILY (201 booking), C REGISTRATION (200 cancel),
--           W ENTRY FAMILY (201 waitlist join).
--
-- A family refreshes the list, then books its first choice (naming a slot or not). Before
-- the release it is refused (not_yet_released) and refreshes again. A lost slot is retried
-- without one; a lost session sends some families to their second choice and the rest to
-- the first choice's waitlist. Some families cancel after booking (which books a waiter).
-- Every request carries X-Request-ID "f<family>-<n>-<kind>"; the service echoes it, which
-- is how a response finds its family (wrk's callbacks do not name the connection). When a
-- connection has nothing of a family's to send it refreshes the list as an onlooker; a
-- thread stops once all its families are done.
--
-- done() prints "RUSH_JSON {...}" with the count of each kind:status[:code].

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "threads.lua")

local MAX_TRIES = 200      -- bookings refused before the release, per family

local families = {}        -- index -> family
local order = {}           -- this thread's family indexes, in file order
local started = 0          -- families of `order` started so far
local active = 0           -- started and not done
local queue = {}           -- actions ready to send: {family, kind}
local head, tail = 1, 0
local lists = {}
local seq = 0
local stopping = false

local function split(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      fields[#fields + 1] = field
   end
   return fields
end

function init(args)
   counts = {}
   acked = {}
   local nthreads = tonumber(args[2])
   math.randomseed(1000 + (tid or 0) * 7919)
   for line in io.lines(args[1]) do
      local f = split(line)
      local index = tonumber(f[1])
      if index % nthreads == tid then
         families[index] = {
            index = index, token = f[2], patient = f[3], first = f[4], slot = f[5],
            second = f[6], cancel = f[7] == "1", target = f[4], tries = 0,
         }
         order[#order + 1] = index
      end
   end
   for line in io.lines(args[3]) do
      lists[#lists + 1] = line
   end
   out_path = args[4]
end

local function push(family, kind)
   tail = tail + 1
   queue[tail] = {family, kind}
end

local function finish(family)
   family.done = true
   active = active - 1
end

local function headers(family, kind)
   seq = seq + 1
   return {
      ["Authorization"] = "Bearer " .. family.token,
      ["Content-Type"] = "application/json",
      ["X-Request-ID"] = "f" .. family.index .. "-" .. seq .. "-" .. kind,
   }
end

local function build(family, kind)
   if kind == "L" or kind == "O" then
      return wrk.format("GET", lists[math.random(1, #lists)], headers(family, kind))
   elseif kind == "B" then
      local body = '{"patient_id": ' .. family.patient .. ', "schedule_id": ' .. family.target
      if family.slot ~= "0" then
         body = body .. ', "slot_id": ' .. family.slot
      end
      return wrk.format("POST", "/registrations/", headers(family, kind), body .. "}")
   elseif kind == "W" then
      return wrk.format("POST", "/schedules/" .. family.first .. "/waitlist",
                        headers(family, kind), '{"patient_id": ' .. family.patient .. "}")
   else -- "C"
      return wrk.format("PUT", "/registrations/" .. family.registration .. "/cancel",
                        headers(family, kind))
   end
end

local onlooker = nil
local ONLOOKER_DELAY_MS = 1000  -- a family with nothing left to do refreshes once a second
local STALL_SECONDS = 15        -- no family progressed this long: a request went unanswered
local progress_at = os.time()

function delay()
   if head <= tail or started < #order then
      return 0
   end
   return ONLOOKER_DELAY_MS
end

local first_call = true

function request()
   if first_call then
      -- wrk builds one request per thread that it never sends (it checks the script with
      -- it): make that one an onlooker's, not a family's first step.
      first_call = false
      return build(families[order[1]], "O")
   end
   if head <= tail then
      local action = queue[head]
      queue[head] = nil
      head = head + 1
      return build(action[1], action[2])
   end
   if started < #order then
      started = started + 1
      active = active + 1
      local family = families[order[started]]
      family.after = "B"
      return build(family, "L")
   end
   if (active == 0 or os.time() - progress_at > STALL_SECONDS) and not stopping then
      stalled = active
      stalled_list = ""
      for i = 1, started do
         local f = families[order[i]]
         if not f.done then
            stalled_list = stalled_list .. " " .. f.index .. ":" .. tostring(f.after) .. ":"
                           .. tostring(f.steps) .. ":" .. tostring(f.last)
         end
      end
      stopping = true  -- tell bench/rush.py, which interrupts wrk once every thread is done
      local marker = assert(io.open(out_path .. ".done" .. tid, "w"))
      marker:close()
      wrk.thread:stop()
   end
   onlooker = onlooker or families[order[1]]
   return build(onlooker, "O")
end

local function count(key)
   counts[key] = (counts[key] or 0) + 1
end

local function note(line)
   acked[#acked + 1] = line
end

function response(status, hdrs, body)
   -- werkzeug spells it X-Request-Id; any other proxy may spell it otherwise
   local rid = hdrs["X-Request-Id"]
   if rid == nil then
      for name, value in pairs(hdrs) do
         if name:lower() == "x-request-id" then rid = value end
      end
   end
   rid = rid or ""
   local index, kind = rid:match("^f(%d+)%-%d+%-(%a)$")
   local code = nil
   if status >= 400 and body ~= nil then
      code = body:match('"code"%s*:%s*"([%w_]+)"')
   end
   count((kind or "?") .. ":" .. status .. (code and (":" .. code) or ""))
   if kind == nil or kind == "O" then
      return
   end
   local family = families[tonumber(index)]
   if family == nil or family.done then
      return
   end
   progress_at = os.time()
   family.last = kind .. status .. (code or "")
   family.steps = (family.steps or 0) + 1
   if family.steps > MAX_TRIES * 2 then
      finish(family)  -- a family going round in circles: give up
      return
   end
   if kind == "L" then
      if status == 200 then
         push(family, family.after)
      else
         finish(family)
      end
   elseif kind == "B" then
      if status == 201 then
         family.registration = body:match('"id"%s*:%s*(%d+)')
         if family.registration == nil then
            io.stderr:write("no id in a 201 booking: " .. tostring(body) .. "\n")
            count("B:201:no_id")
            finish(family)
            return
         end
         note("B " .. family.registration .. " " .. family.index)
         if family.cancel then
            family.after = "C"
            push(family, "L")
         else
            finish(family)
         end
      elseif code == "not_yet_released" and family.tries < MAX_TRIES then
         family.tries = family.tries + 1
         push(family, "L")
      elseif code == "slot_full" then
         family.slot = "0"
         push(family, "B")
      elseif code == "schedule_full" and family.second ~= "0"
             and family.target ~= family.second then
         family.target = family.second
         family.slot = "0"
         push(family, "L")
      elseif code == "schedule_full" then
         push(family, "W")
      else
         finish(family)
      end
   elseif kind == "W" then
      if status == 201 then
         note("W " .. body:match('"id"%s*:%s*(%d+)') .. " " .. family.index)
         finish(family)
      elseif code == "schedule_not_full" then
         family.target = family.first  -- a place freed meanwhile: book it
         family.slot = "0"
         family.second = "0"
         push(family, "B")
      else
         finish(family)
      end
   elseif kind == "C" then
      if status == 200 then
         note("C " .. family.registration)
      end
      finish(family)
   end
end

function done(summary, latency, requests)
   local out = assert(io.open(threads[1]:get("out_path"), "w"))
   local unfinished = 0
   for _, thread in ipairs(threads) do
      unfinished = unfinished + (thread:get("stalled") or 0)
      local list = thread:get("stalled_list")
      if list ~= nil and list ~= "" then
         io.stderr:write("unfinished families (index:next:steps:last answer):", list, "\n")
      end
      for _, line in ipairs(thread:get("acked") or {}) do
         out:write(line, "\n")
      end
   end
   out:close()
   local e = summary.errors
   io.write(string.format(
      'RUSH_JSON {"requests": %d, "duration_us": %d, "unfinished": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"counts": {%s}}\n',
      summary.requests, summary.duration, unfinished, e.connect, e.read, e.write, e.timeout,
      json_counts(merged_counts("counts"))))
end
