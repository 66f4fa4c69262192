#!/usr/bin/env bash
# `make bench-floor`: sessiond against bench/floor.c (the same libraries
# forwarding the same DynamoDB calls with no logic of their own) and the
# ceiling (those calls straight to dynalite), one dynalite, the same wrk
# load, interleaved; CPU per operation and throughput of each, and what
# sessiond's own work adds. Writes bench/results/DATE-floor.{md,tsv}.
#
#   OPS="get put" CONNS="1 16 64" ROUNDS=3 DURATION=3 bench/floor.sh
#   BASE=/path/to/other/sessiond adds that build as a fourth target, "base",
#   in the same rotation: a before/after of a change within one run.
#
# Not part of `check`: the measured answer to "how low can CPU per operation
# go on this machine with libmicrohttpd and libcurl", for issue 12's targets.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
OPS=${OPS:-get put patch touch create}
CONNS=${CONNS:-1 16 64}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
NSESS=${NSESS:-2000}
state=build/bench-floor # not build/floor: the floor binary of the default build
data=bench/session.json
started=$(date +%s)
bench_tag=floor
# shellcheck source=bench/lib.sh
. bench/lib.sh

bench_need_wrk
bench_pair_setup "$state"

on_server=() on_client=()
bench_start_pair "$state" floor "$NSESS" "$data"

targets="sessiond floor ceiling"
if [[ -n ${BASE:-} ]]; then
	bport=$(free_port)
	sed "s/port = $port;/port = $bport;/" "$state/sessiond.conf" >"$state/base.conf"
	"$BASE" -c "$state/base.conf" 2>"$state/base.log" &
	bpid=$!
	pids="$pids $bpid"
	burl=http://127.0.0.1:$bport
	wait_http "$burl/readyz" "$bpid" || { cat "$state/base.log" >&2; exit 1; }
	targets="sessiond base floor ceiling"
fi

# The busy and total jiffies of the whole machine, from /proc/stat's cpu
# line: "busy total" (idle and iowait count as not busy).
machine_jiffies() {
	local _ user nice sys idle iowait irq softirq steal
	read -r _ user nice sys idle iowait irq softirq steal _ </proc/stat
	echo "$((user + nice + sys + irq + softirq + steal)) $((user + nice + sys + idle + iowait + irq + softirq + steal))"
}

# One wrk run of TARGET: "ops/s cpu_us/op p50_ms non2xx latency dynalite%
# machine%" (the ceiling's CPU is dynalite's; its PATCH is two calls,
# counted as one operation; latency is "call" where its p50 could only be
# per call; dynalite% is its CPU as a share of one core, machine% the busy
# share of all cores: whether the run left any CPU unused).
measure() {
	local target=$1 op=$2 conns=$3 url pid script=bench/wrk/service.lua out c0 c1 extra=()
	local d0 d1 m0 m1 t0 t1
	case $target in
	sessiond) url=$surl pid=$spid ;;
	base) url=$burl pid=$bpid ;;
	floor) url=$furl pid=$fpid ;;
	ceiling) url=$dynalite_url pid=$dynalite_pid script=bench/wrk/ceiling.lua extra=(floor) ;;
	esac
	[[ $target == ceiling && $op == healthz ]] && return 0
	wrk -t1 -c"$conns" -d1s -s "$script" "$url" -- "$op" "$NSESS" "$data" "${extra[@]}" >/dev/null
	c0=$(cpu_ns "$pid") d0=$(cpu_ns "$dynalite_pid") m0=$(machine_jiffies) t0=$(date +%s%N)
	out=$(wrk -t1 -c"$conns" -d"${DURATION}s" -s "$script" "$url" -- \
		"$op" "$NSESS" "$data" "${extra[@]}")
	c1=$(cpu_ns "$pid") d1=$(cpu_ns "$dynalite_pid") m1=$(machine_jiffies) t1=$(date +%s%N)
	sed -n 's/^BENCH requests=\([0-9]*\) duration_us=\([0-9]*\) p50_us=\([0-9]*\).*non2xx=\([0-9]*\).*/\1 \2 \3 \4/p' \
		<<<"$out" | awk -v c=$((c1 - c0)) -v k="$(sed -n 's/.*calls_per_op=\([0-9]*\).*/\1/p' <<<"$out")" \
			-v per="$(sed -n 's/.*latency=\([a-z]*\).*/\1/p' <<<"$out")" \
			-v d=$((d1 - d0)) -v t=$((t1 - t0)) -v m0="$m0" -v m1="$m1" '{
			n = $1 / (k ? k : 1)
			split(m0, a, " "); split(m1, b, " ")
			printf "%.0f\t%.1f\t%.3f\t%d\t%s\t%.0f\t%.0f\n", n * 1e6 / $2, c / n / 1000, $3 / 1000, $4,
				per ? per : "op", 100 * d / t, 100 * (b[1] - a[1]) / (b[2] - a[2]) }'
}

tsv=$state/runs.tsv
printf 'round\top\tconns\ttarget\tops\tcpu_us\tp50_ms\tnon2xx\tlatency\tdynalite_pct\tmachine_pct\n' >"$tsv"
for round in $(seq "$ROUNDS"); do
	for op in healthz $OPS; do
		# /healthz at 16 connections always: the unit of the CPU goals.
		conns_list=$CONNS
		[[ $op == healthz ]] && conns_list=16
		for conns in $conns_list; do
			for target in $targets; do
				r=$(measure "$target" "$op" "$conns")
				[[ -n $r ]] || continue
				printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$op" "$conns" "$target" "$r" >>"$tsv"
				say "round $round $op $conns $target: $r"
			done
		done
	done
done

day=$(date -u +%F)
out=bench/results/$day-floor
cp "$tsv" "$out.tsv"
node bench/floor-report.js "$tsv" "$ROUNDS" "$DURATION" \
	"$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
	"${BASE:+$(git -C "$(dirname "$BASE")" rev-parse --short HEAD 2>/dev/null || echo "$BASE")}" \
	>"$out.md"
say "wrote $out.md"
cat "$out.md"
