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
-- see ceiling.lua), or nil when a thread could not pair its calls. As wrk
-- does for its own histogram (stats_correct, stats_percentile), so that
-- the figures compare with sessiond's: each operation that took at least
-- twice the expected interval (the run's duration over the operations of
-- one connection) also counts the ones it held back, at that interval
-- apart; the rank of percentile q is round(q * n + 0.5).
local function op_percentiles(duration_us)
	local hist, n = {}, 0
	for _, t in ipairs(threads) do
		if not t:get("op_paired") then
			return nil
		end
		for us, k in pairs(t:get("op_latency") or {}) do
			hist[us] = (hist[us] or 0) + k
			n = n + k
		end
	end
	if n == 0 then
		return nil
	end
	local expected = math.floor(duration_us / math.max(1, math.floor(n / #threads)))
	if expected > 0 then
		local held = {}
		for us, k in pairs(hist) do
			local m = us - expected
			while us >= 2 * expected and m > expected do
				held[m] = (held[m] or 0) + k
				m = m - expected
			end
		end
		for us, k in pairs(held) do
			hist[us] = (hist[us] or 0) + k
		end
	end
	local sorted, sum = {}, 0
	n = 0
	for us, k in pairs(hist) do
		sorted[#sorted + 1] = us
		n, sum = n + k, sum + us * k
	end
	table.sort(sorted)
	local function at(q)
		local rank, seen = math.floor(q * n + 1), 0 -- round(q * n + 0.5)
		for _, us in ipairs(sorted) do
			seen = seen + hist[us]
			if seen >= rank then
				return us
			end
		end
		return sorted[#sorted]
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
		local o50, o99, omean = op_percentiles(summary.duration)
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
