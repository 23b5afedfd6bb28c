-- SPDX-License-Identifier: GPL-2.0
-- wrk script for bench/http.sh's rotated keep-alive workload:
--
--   wrk -tT -cC ... -s bench/wrk-rotate.lua URL -- per_thread=C/T PATH=FILE [PATH=FILE ...]
--
-- Every connection asks for the PATHs in turn, one request after the other:
-- with each PATH held by another backend, every request of a keep-alive
-- connection is for another backend than the request before it. FILE holds
-- PATH's bytes; a 2xx response whose body is none of the FILEs is a wrong body.
--
-- wrk 4.1 does not tell request() which connection it is for, but a thread's
-- connections take their turns in a fixed order (each writes its next request
-- once its response is read), so the thread's request i is for the same
-- connection as its request i - per_thread. Request i asks for PATH number
-- (i mod per_thread + i div per_thread) mod #PATHs: one further down the list
-- than that connection's previous request, whatever per_thread is. (With a
-- plain counter every connection would ask for the same PATH all the time
-- whenever per_thread is a multiple of #PATHs.) Where responses come back out
-- of turn the PATHs mix instead; bench/http.sh measures how many requests
-- really changed backend, from web1's access log in the direct mode.
--
-- Each thread counts statuses in its own Lua state; done() (in another one)
-- sums them over the threads and prints wrk-report.lua's line and then
--
--   status_2xx=N non2xx=N wrong_body=N statuses=CODE:N,CODE:N,...   (or statuses=-)
--
-- Looking at statuses makes wrk hand every response's headers and body to
-- Lua, which costs the client CPU per request: compare figures taken with this
-- script with each other, not with figures taken with wrk-report.lua alone.

-- done() of wrk-report.lua, which sits next to this file: counts and latencies.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk-report.lua")
local report_done = done

-- --- each thread's own state (the running phase) ---

local requests = {}  -- the request strings, made once
local per_thread = 1 -- the thread's connections
local made = 0       -- requests made so far
local expected = {}  -- body -> true, for every FILE
local check_bodies = false

ok_2xx = 0
non_2xx = 0
wrong_body = 0
statuses = {} -- status -> how many, for every status outside 2xx

local function read_file(name)
	local f = assert(io.open(name, "rb"))
	local s = f:read("*a")
	f:close()
	return s
end

init = function(args)
	for _, a in ipairs(args) do
		local value = a:match("^per_thread=(%d+)$")
		if value then
			per_thread = math.max(1, tonumber(value))
		else
			local path, file = a:match("^([^=]+)=(.+)$")
			requests[#requests + 1] = wrk.format(nil, path or a)
			if file then
				expected[read_file(file)] = true
				check_bodies = true
			end
		end
	end
	assert(#requests > 0, "wrk-rotate.lua: no path (wrk ... URL -- per_thread=N PATH=FILE ...)")
end

request = function()
	local i = made
	made = made + 1
	return requests[(i % per_thread + math.floor(i / per_thread)) % #requests + 1]
end

response = function(status, headers, body)
	if status >= 200 and status < 300 then
		ok_2xx = ok_2xx + 1
		if check_bodies and not expected[body] then wrong_body = wrong_body + 1 end
	else
		non_2xx = non_2xx + 1
		statuses[status] = (statuses[status] or 0) + 1
	end
end

-- --- setup and done: the threads, to read their counts at the end ---

local threads = {}

setup = function(thread)
	threads[#threads + 1] = thread
end

done = function(summary, latency, rates)
	local ok, non, wrong, by, list = 0, 0, 0, {}, {}
	report_done(summary, latency, rates)
	for _, t in ipairs(threads) do
		ok = ok + t:get("ok_2xx")
		non = non + t:get("non_2xx")
		wrong = wrong + t:get("wrong_body")
		for code, k in pairs(t:get("statuses")) do by[code] = (by[code] or 0) + k end
	end
	for code, k in pairs(by) do list[#list + 1] = string.format("%d:%d", code, k) end
	table.sort(list)
	io.write(string.format("status_2xx=%d non2xx=%d wrong_body=%d statuses=%s\n",
		ok, non, wrong, #list > 0 and table.concat(list, ",") or "-"))
end
