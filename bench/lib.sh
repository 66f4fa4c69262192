# Shell helpers shared by the bench scripts (run.sh, fleet.sh, profile.sh):
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
