-- SPDX-License-Identifier: GPL-2.0
-- wrk script for test_advise.sh's skewed workload:
--
--   wrk -t1 -cC -dD -s tests/lab/wrk-zipf.lua URL -- objects=N s=S max=M seed=X
--
-- Each request asks for /zipf/o<k>.txt, k drawn from a Zipf law over 0..N-1
-- (P(k) proportional to 1/(k+1)^S): o0 the most requested, then o1, ... A
-- thread stops after M responses (and wrk after D seconds, whichever is
-- first). done() prints "requests=N non2xx=N".

local objects, s, max, seed = 200, 1.1, 2000, 1
local cum = {}
local answered = 0
non_2xx = 0

init = function(args)
	for _, a in ipairs(args) do
		local k, v = a:match("^(%w+)=([%d.]+)$")
		if k == "objects" then objects = tonumber(v)
		elseif k == "s" then s = tonumber(v)
		elseif k == "max" then max = tonumber(v)
		elseif k == "seed" then seed = tonumber(v) end
	end
	math.randomseed(seed)
	local sum = 0
	for k = 1, objects do
		sum = sum + 1 / k ^ s
		cum[k] = sum
	end
	for k = 1, objects do cum[k] = cum[k] / sum end
end

-- The first k whose cumulative weight reaches u (binary search).
local function draw()
	local u, lo, hi = math.random(), 1, objects
	while lo < hi do
		local mid = math.floor((lo + hi) / 2)
		if cum[mid] < u then lo = mid + 1 else hi = mid end
	end
	return lo - 1
end

request = function()
	return wrk.format(nil, "/zipf/o" .. draw() .. ".txt")
end

response = function(status, headers, body)
	answered = answered + 1
	if status < 200 or status >= 300 then non_2xx = non_2xx + 1 end
	if answered >= max then wrk.thread:stop() end
end

local threads = {}

setup = function(thread)
	threads[#threads + 1] = thread
end

done = function(summary, latency, requests)
	local non = 0
	for _, t in ipairs(threads) do non = non + t:get("non_2xx") end
	io.write(string.format("requests=%d non2xx=%d\n", summary.requests, non))
end
