# Shell helpers shared by the bench scripts (run.sh, fleet.sh, profile.sh,
# floor.sh, anatomy.sh):
# sourced, never run. Each script sets bench_tag and started before say().
# shellcheck shell=bash disable=SC2154

# A progress line on stderr: "[TAG  12s] text".
say() { printf '[%s %3ds] %s\n' "$bench_tag" $(($(date +%s) - started)) "$*" >&2; }

# wrk from Debian when it is missing (the rest comes from install-deps.sh).
bench_need_wrk() {
	command -v wrk >/dev/null 2>&1 && return 0
	local sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	say "installing wrk"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk
}

# A TCP port free on loopback now (the kernel's pick).
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
		console.log(s.address().port); s.close() })'
}

# Stops every PID given: SIGTERM, up to 5 s for a graceful exit, then SIGKILL.
stop_pids() {
	local p
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# CPU nanoseconds of every thread of every PID given (sum_exec_runtime from
# /proc/PID/task/*/schedstat: what utime+stime derive from, without ticks).
cpu_ns() {
	local sum=0 a _ p f
	for p in "$@"; do
		for f in /proc/"$p"/task/*/schedstat; do
			read -r a _ <"$f" 2>/dev/null || continue
			sum=$((sum + a))
		done
	done
	echo "$sum"
}

# Waits until URL answers 2xx (at most 30 s) while PID lives; 1 if not.
wait_http() {
	local url=$1 pid=$2
	for _ in $(seq 300); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The settings of a bench daemon on stdout: PORT on loopback, dynalite at
# ENDPOINT, table TABLE (created), THREADS workers (0: one per core), log
# level LEVEL, no reaper, fixed credentials (dynalite checks only their
# form). Callers derive variants with sed on "port = N;", "table = \"T\";"
# and "level = \"L\"".
bench_sessiond_conf() {
	cat <<CONF
listen = { address = "127.0.0.1"; port = $1; threads = $4; };
limits = { max_connections = 16000; connection_timeout = 30; };
dynamodb = { endpoint = "$2"; table = "$3"; create_table = true; };
credentials = { access_key_id = "AKIDBENCH"; secret_access_key = "bench-secret"; };
reaper = { enabled = false; };
log = { level = "$5"; };
CONF
}

# Before bench_start_pair: builds the release sessiond and the floor,
# empties STATE, and stops the pair and dynalite when the script exits.
bench_pair_setup() {
	bench_pair_state=$1
	make --no-print-directory BUILD=build/bench all build/bench/floor >/dev/null
	rm -rf "$1"
	mkdir -p "$1" bench/results
	pids=''
	trap bench_pair_stop EXIT
}

bench_pair_stop() {
	# shellcheck disable=SC2086 # a list of PIDs
	stop_pids $pids
	scripts/dynalite.sh stop "$bench_pair_state/dynalite" || true
}

# sessiond (the release build, 2 workers, log.level = warn) and the floor
# (bench/floor.c) on one fresh dynalite in STATE, table TABLE, with NSESS
# sessions of DATA prepared through sessiond: what floor.sh and anatomy.sh
# compare. The caller's arrays on_server and on_client (empty for none)
# prefix the two servers and dynalite (taskset, say). Sets dynalite_url,
# dynalite_pid, port, spid, surl, fpid and furl, and adds both servers to
# pids, which bench_pair_setup's trap stops with dynalite.
# shellcheck disable=SC2034 # its results are globals, for the caller
bench_start_pair() {
	local state=$1 table=$2 nsess=$3 data=$4 fport
	dynalite_url=$("${on_client[@]}" scripts/dynalite.sh start "$state/dynalite")
	dynalite_pid=$(cat "$state/dynalite/pid")
	port=$(free_port)
	bench_sessiond_conf "$port" "$dynalite_url" "$table" 0 warn >"$state/sessiond.conf"
	"${on_server[@]}" build/bench/sessiond -c "$state/sessiond.conf" 2>"$state/sessiond.log" &
	spid=$!
	pids="$pids $spid"
	surl=http://127.0.0.1:$port
	wait_http "$surl/readyz" "$spid" || { cat "$state/sessiond.log" >&2; return 1; }
	say "preparing $nsess sessions"
	node bench/prep.js --sessiond "$surl" --n "$nsess" --data "$data" >/dev/null
	fport=$(free_port)
	"${on_server[@]}" build/bench/floor "$fport" "$dynalite_url" "$table" 0 "$data" \
		2>"$state/floor.log" &
	fpid=$!
	pids="$pids $fpid"
	furl=http://127.0.0.1:$fport
	wait_http "$furl/healthz" "$fpid" || { cat "$state/floor.log" >&2; return 1; }
}
