-- Shared by the wrk scripts (loaded with dofile): the registry of wrk's threads, each told
-- its number as `tid`, and the sum over threads of a per-thread table of counts.

threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

-- The sum over the threads of each one's table `name` (key -> count).
function merged_counts(name)
   local merged = {}
   for _, thread in ipairs(threads) do
      for key, n in pairs(thread:get(name) or {}) do
         merged[key] = (merged[key] or 0) + n
      end
   end
   return merged
end

-- A table of counts as the members of a JSON object: "key": n, ...
function json_counts(counts)
   local parts = {}
   for key, n in pairs(counts) do
      parts[#parts + 1] = string.format('"%s": %d', key, n)
   end
   return table.concat(parts, ", ")
end
