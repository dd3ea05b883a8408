-- GET /almaws/v1/users?q=last_name~<surname>&limit=10 with a random surname from the file
-- named by BENCH_SURNAMES (one per line).
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common")
local names = {}
for line in io.lines(os.getenv("BENCH_SURNAMES")) do
  if #line > 0 then names[#names + 1] = line end
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
end

function request()
  local name = names[math.random(1, #names)]
  return wrk.format("GET", "/almaws/v1/users?limit=10&q=last_name~" .. name, c.headers)
end

done = c.done
