-- wrk script for the ceiling: the DynamoDB requests sessiond itself sends
-- for each operation (bodies as captured from sessiond), straight to
-- dynalite. dynalite checks only that the Authorization header is well
-- formed, so a fixed one serves.
--   wrk -t1 -cC -dDs -s bench/wrk/ceiling.lua URL -- OP NSESSIONS DATAFILE TABLE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local get, put, touch, patch_write = {}, {}, {}, {}
local headers, tbl, now, put_prefix, put_suffix, hcreate

local function hdrs(target)
	local h = {}
	for k, v in pairs(headers) do
		h[k] = v
	end
	h["X-Amz-Target"] = "DynamoDB_20120810." .. target
	return h
end

local function jstr(s) -- a JSON string literal of s
	return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

function init(args)
	bench_init(args)
	tbl = args[4]
	now = os.time()
	local date = os.date("!%Y%m%dT%H%M%SZ", now)
	headers = {
		["Content-Type"] = "application/x-amz-json-1.0",
		["X-Amz-Date"] = date,
		["Accept-Encoding"] = "identity",
		["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/" .. date:sub(1, 8) ..
			"/us-east-1/dynamodb/aws4_request, " ..
			"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " ..
			"Signature=" .. string.rep("0f", 32),
	}
	local sess = jstr(data)
	local patched = jstr((data:gsub('"cart":%b[]', '"cart":[101,102,104]'):gsub('}$', ',"seen":true}')))
	local exp = tostring(now + 86400)
	local hget, hupd, hput = hdrs("GetItem"), hdrs("UpdateItem"), hdrs("PutItem")
	for i = 1, nsessions do
		local key = '{"id":{"S":"sess:' .. bench_id(i) .. '"}}'
		get[i] = wrk.format("POST", "/", hget,
			'{"TableName":"' .. tbl .. '","Key":' .. key .. ',"ConsistentRead":true}')
		-- PUT of an existing session
		put[i] = wrk.format("POST", "/", hupd,
			'{"TableName":"' .. tbl .. '","Key":' .. key ..
			',"UpdateExpression":"SET #s = :s, #t = :t, #e = :e, #v = if_not_exists(#v, :zero) + :one"' ..
			',"ConditionExpression":"attribute_exists(#k) AND #e > :now"' ..
			',"ExpressionAttributeNames":{"#k":"id","#e":"expires","#s":"sess","#t":"type","#v":"version"}' ..
			',"ExpressionAttributeValues":{":now":{"N":"' .. now .. '"},":s":{"S":' .. sess ..
			'},":t":{"S":"connect-session"},":e":{"N":"' .. exp .. '"},":zero":{"N":"0"},":one":{"N":"1"}}' ..
			',"ReturnValues":"ALL_NEW"}')
		touch[i] = wrk.format("POST", "/", hupd,
			'{"TableName":"' .. tbl .. '","Key":' .. key ..
			',"UpdateExpression":"SET #e = :e"' ..
			',"ConditionExpression":"attribute_exists(#k) AND #e > :now"' ..
			',"ExpressionAttributeNames":{"#k":"id","#e":"expires"}' ..
			',"ExpressionAttributeValues":{":now":{"N":"' .. now .. '"},":e":{"N":"' .. exp .. '"}}' ..
			',"ReturnValues":"ALL_NEW"}')
		-- PATCH's write: sessiond conditions it on the version and (without
		-- ?ttl) the expiry it read; a ceiling that does not track them uses
		-- always-true tests of the same cost. It asks nothing back:
		-- sessiond knows the item it wrote.
		patch_write[i] = wrk.format("POST", "/", hupd,
			'{"TableName":"' .. tbl .. '","Key":' .. key ..
			',"UpdateExpression":"SET #s = :s, #t = :t, #v = #v + :one"' ..
			',"ConditionExpression":"attribute_exists(#k) AND #e > :now AND (#v >= :old AND #e >= :oe)"' ..
			',"ExpressionAttributeNames":{"#k":"id","#e":"expires","#s":"sess","#t":"type","#v":"version"}' ..
			',"ExpressionAttributeValues":{":now":{"N":"' .. now .. '"},":s":{"S":' .. patched ..
			'},":t":{"S":"connect-session"},":one":{"N":"1"},":old":{"N":"0"},":oe":{"N":"0"}}}')
	end
	put_prefix = '{"TableName":"' .. tbl .. '","Item":{"id":{"S":"sess:'
	put_suffix = '"},"expires":{"N":"' .. exp .. '"},"type":{"S":"connect-session"},"sess":{"S":' ..
		sess .. '},"version":{"N":"1"}},"ConditionExpression":"attribute_not_exists(#k)"' ..
		',"ExpressionAttributeNames":{"#k":"id"}}'
	hcreate = hput
	if op == "patch" then
		calls_per_op = "2"
	end
end

local flip, last = false, 1

-- PATCH's latency per operation (its GetItem, then its UpdateItem), so
-- that its p50 compares with sessiond's: wrk's own histogram holds one
-- entry per call. The two calls can be paired only while the thread's
-- requests never overlap (one connection per thread: each answer comes
-- before the next request); at the first overlap the pairing stops and
-- done() keeps wrk's per-call figures.
local ffi = require("ffi")
ffi.cdef("typedef struct { long sec; long nsec; } bench_ts; int clock_gettime(int, bench_ts *);")
local ts = ffi.new("bench_ts")
local function now_us()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.sec) * 1000000 + tonumber(ts.nsec) / 1000
end
op_latency, op_paired = {}, true -- per thread, read by done(): µs -> operations
local outstanding, op_start, calls = 0, nil, 0

function request()
	if op == "create" then
		return wrk.format("POST", "/", hcreate, put_prefix .. bench_new_id() .. put_suffix)
	end
	local i = math.random(nsessions)
	if op == "get" then
		return get[i]
	elseif op == "put" then
		return put[i]
	elseif op == "touch" then
		return touch[i]
	elseif op == "patch" then
		-- GetItem, then UpdateItem of the same session: two calls an op.
		-- wrk calls request() once on its first thread to check the
		-- script before any connection, and never sends that one.
		calls = calls + 1
		local verify = calls == 1 and tid == 1
		if not verify then
			outstanding = outstanding + 1
			op_paired = op_paired and outstanding == 1
		end
		flip = not flip
		if flip then
			last = i
			op_start = not verify and now_us() or nil
			return get[i]
		end
		return patch_write[last]
	end
	local r = math.random(100)
	if r <= 90 then
		return get[i]
	elseif r <= 95 then
		return touch[i]
	end
	return put[i]
end

local count_response = response

function response(status, headers, body)
	count_response(status, headers, body)
	if op ~= "patch" then
		return
	end
	outstanding = outstanding - 1
	if op_paired and not flip and op_start then -- the UpdateItem's answer ends the operation
		local us = math.floor(now_us() - op_start)
		op_latency[us] = (op_latency[us] or 0) + 1
		op_start = nil
	end
end
