-- wrk script for sessiond and the peer (the same routes on both).
--   wrk -t1 -cC -dDs -s bench/wrk/service.lua URL -- OP NSESSIONS DATAFILE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local get, put, patch, touch, create, healthz = {}, {}, {}, {}, nil, nil

function init(args)
	bench_init(args)
	local put_body = '{"data":' .. data .. ',"ttl":86400}'
	local patch_body = '{"cart":[101,102,104],"seen":true}'
	local json = { ["Content-Type"] = "application/json" }
	local mp = { ["Content-Type"] = "application/merge-patch+json" }
	-- Every request is built once here; request() only picks one.
	for i = 1, nsessions do
		local path = "/v1/sessions/" .. bench_id(i)
		get[i] = wrk.format("GET", path)
		put[i] = wrk.format("PUT", path, json, put_body)
		patch[i] = wrk.format("PATCH", path, mp, patch_body)
		touch[i] = wrk.format("POST", path .. "/touch")
	end
	create = wrk.format("POST", "/v1/sessions", json, put_body)
	healthz = wrk.format("GET", "/healthz")
end

function request()
	if op == "create" then
		return create
	elseif op == "healthz" then -- the HTTP front end alone
		return healthz
	end
	local i = math.random(nsessions)
	if op == "get" then
		return get[i]
	elseif op == "put" then
		return put[i]
	elseif op == "patch" then
		return patch[i]
	elseif op == "touch" then
		return touch[i]
	end
	-- mix: 90 % read, 5 % touch, 5 % write
	local r = math.random(100)
	if r <= 90 then
		return get[i]
	elseif r <= 95 then
		return touch[i]
	end
	return put[i]
end
