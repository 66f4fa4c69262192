-- Shared by service.lua and ceiling.lua (loaded with dofile): thread
-- bookkeeping, the session ids and data, non-2xx counting and the one
-- result line that bench/run.sh parses.
--
-- Arguments after "--" on the wrk command line: OP NSESSIONS DATAFILE [TABLE]
--   OP         get | put | patch | touch | create | mix (| healthz: service.lua)
--   NSESSIONS  ids bench-000001 .. bench-NNNNNN exist (bench/prep.js made them)
--   DATAFILE   the session data (JSON object), bench/session.json

local threads = {}
local counter = 1

function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

-- Per thread state, filled by bench_init.
op, nsessions, data, non2xx = nil, 0, nil, 0

function bench_init(args)
	op = args[1]
	nsessions = tonumber(args[2])
	local f = assert(io.open(args[3], "r"))
	data = f:read("*a"):gsub("%s+$", "")
	f:close()
	math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

function bench_id(i)
	return string.format("bench-%06d", i)
end

-- A fresh random id for creates: 32 characters like a generated one.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
function bench_new_id()
	local t = {}
	for i = 1, 32 do
		local k = math.random(64)
		t[i] = alphabet:sub(k, k)
	end
	return table.concat(t)
end

function response(status, headers, body)
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

-- The p50, p99 and mean of every thread's op_latency (µs -> operations,
-- see ceiling.lua), or nil when a thread could not pair its calls.
local function op_percentiles()
	local merged, n, sum = {}, 0, 0
	for _, t in ipairs(threads) do
		if not t:get("op_paired") then
			return nil
		end
		for us, k in pairs(t:get("op_latency") or {}) do
			merged[#merged + 1] = { us, k }
			n, sum = n + k, sum + us * k
		end
	end
	if n == 0 then
		return nil
	end
	table.sort(merged, function(a, b) return a[1] < b[1] end)
	local function at(q)
		local seen = 0
		for _, e in ipairs(merged) do
			seen = seen + e[2]
			if seen >= q * n then
				return e[1]
			end
		end
		return merged[#merged][1]
	end
	return at(0.5), at(0.99), math.floor(sum / n)
end

-- calls_per_op (a thread global): a ceiling op that takes two DynamoDB
-- calls (PATCH) counts each request as half an operation, and its
-- latencies are per operation where the calls could be paired
-- (latency=op), else per call (latency=call).
function done(summary, latency, requests)
	local bad = 0
	for _, t in ipairs(threads) do
		bad = bad + (t:get("non2xx") or 0)
	end
	local cpo = threads[1] and threads[1]:get("calls_per_op") or "1"
	local p50, p99, mean = latency:percentile(50), latency:percentile(99), latency.mean
	local per = "op"
	if cpo ~= "1" then
		local o50, o99, omean = op_percentiles()
		if o50 then
			p50, p99, mean = o50, o99, omean
		else
			per = "call"
		end
	end
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%d " ..
		"connect=%d read=%d write=%d timeout=%d status=%d non2xx=%d calls_per_op=%s latency=%s\n",
		summary.requests, summary.duration, p50, p99, mean,
		e.connect, e.read, e.write, e.timeout, e.status, bad, cpo, per))
end
