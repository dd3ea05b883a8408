-- POST /almaws/v1/users: new users with IDs unique per run (BENCH_RUN), thread and request.
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common")
local run = os.getenv("BENCH_RUN") or "0"
local surnames = {"Smith", "Garcia", "Nguyen", "Okafor", "Schmidt", "Rossi", "Kowalski", "Tanaka"}
local firsts = {"Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gosia", "Hiro"}
local headers = {}
for k, v in pairs(c.headers) do headers[k] = v end
headers["Content-Type"] = "application/json"

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local n = 0
function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
end

local template = [[{"record_type":{"value":"PUBLIC"},"primary_id":"%s",
"first_name":"%s","last_name":"%s","account_type":{"value":"INTERNAL"},
"status":{"value":"ACTIVE"},"user_group":{"value":"UNDERGRAD"},"expiry_date":"2030-08-30Z",
"contact_info":{"email":[{"email_address":"%s@example.edu","preferred":true,
"email_type":[{"value":"school"}]}],"phone":[{"phone_number":"+1 555 010 %04d",
"preferred":true,"phone_type":[{"value":"mobile"}]}]},
"user_identifier":[{"id_type":{"value":"BARCODE"},"value":"%s-bc"},
{"id_type":{"value":"UNIV_ID"},"value":"%s-un"}]}]]

function request()
  n = n + 1
  local id = string.format("bw%s-%d-%d", run, tid or 0, n)
  local body = string.format(template, id, firsts[math.random(1, #firsts)],
    surnames[math.random(1, #surnames)], id, n % 10000, id, id)
  return wrk.format("POST", "/almaws/v1/users", headers, body)
end

done = c.done
