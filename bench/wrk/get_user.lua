-- GET /almaws/v1/users/{id}: a random seeded user, by primary ID or by barcode
-- (BENCH_MODE=primary|barcode). IDs follow bench/common.py: p%07d and 39%010d.
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common")
local mode = os.getenv("BENCH_MODE") or "primary"
local fmt = mode == "barcode" and "/almaws/v1/users/39%010d" or "/almaws/v1/users/p%07d"

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
end

function request()
  return wrk.format("GET", string.format(fmt, math.random(0, c.users - 1)), c.headers)
end

done = c.done
