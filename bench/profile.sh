#!/usr/bin/env bash
# `make profile`: one workload against a release sessiond on a local dynalite,
# with its CPU per operation (all threads, per thread too) and, with PERF=1,
# a perf profile (DWARF call graphs) of the daemon under that load.
#
#   OP=get CONNS=16 SECONDS=10 PERF=1 bench/profile.sh [SESSIOND_BINARY]
#   STRACE=1 instead of PERF=1 counts system calls by kind (strace -c).
#
# Writes build/profile/{report.txt,perf.data,threads.txt}. Not part of `check`:
# a tool for finding where the time goes before changing hot code.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bin=${1:-build/bench/sessiond}
OP=${OP:-get}
CONNS=${CONNS:-16}
SECONDS_=${SECONDS:-10}
PERF=${PERF:-0}
NSESS=${NSESS:-200}
LOG_LEVEL=${LOG_LEVEL:-warn}
THREADS=${THREADS:-0}
state=build/profile
data=bench/session.json
started=$(date +%s)
bench_tag=profile
# shellcheck source=bench/lib.sh
. bench/lib.sh

bench_need_wrk
if [[ ! -x $bin ]]; then
	make --no-print-directory BUILD=build/bench all >/dev/null
fi
rm -rf "$state/run"
mkdir -p "$state/run"
pid=''
stop_all() {
	# shellcheck disable=SC2086 # none before the daemon starts
	stop_pids $pid
	scripts/dynalite.sh stop "$state/run/dynalite" || true
}
trap stop_all EXIT

dynalite_url=$(scripts/dynalite.sh start "$state/run/dynalite")
port=$(free_port)
bench_sessiond_conf "$port" "$dynalite_url" profile "$THREADS" "$LOG_LEVEL" >"$state/run/sessiond.conf"
"$bin" -c "$state/run/sessiond.conf" 2>"$state/run/sessiond.log" &
pid=$!
url=http://127.0.0.1:$port
wait_http "$url/readyz" "$pid" || { cat "$state/run/sessiond.log" >&2; exit 1; }
body="{\"data\":$(tr -d '\n' <"$data"),\"ttl\":86400}"
for i in $(seq "$NSESS"); do
	printf -v sid 'bench-%06d' "$i"
	curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/json' -d "$body" \
		"$url/v1/sessions/$sid"
done
wrk -t1 -c"$CONNS" -d2s -s bench/wrk/service.lua "$url" -- "$OP" "$NSESS" "$data" >/dev/null

threads() {
	for f in /proc/"$1"/task/*; do
		read -r a _ <"$f/schedstat"
		echo "$(cat "$f/comm") ${f##*/} $a"
	done
}
threads "$pid" >"$state/threads.0"
c0=$(cpu_ns "$pid")
perf_pid=''
if [[ ${STRACE:-0} == 1 ]]; then # system calls by kind, counted (slows the daemon)
	strace -c -f -p "$pid" -o "$state/strace.txt" &
	perf_pid=$!
	(sleep "$SECONDS_"; kill -INT "$perf_pid") &
elif [[ $PERF == 1 ]]; then
	perf record -q -F 999 --call-graph dwarf,16384 -p "$pid" -o "$state/perf.data" \
		-- sleep "$SECONDS_" 2>/dev/null &
	perf_pid=$!
fi
out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_}s" -s bench/wrk/service.lua "$url" -- "$OP" "$NSESS" "$data")
c1=$(cpu_ns "$pid")
threads "$pid" >"$state/threads.1"
[[ -n $perf_pid ]] && wait "$perf_pid" || true
requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' <<<"$out")
dur=$(sed -n 's/.*duration_us=\([0-9]*\).*/\1/p' <<<"$out")
p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$out")
{
	echo "op=$OP conns=$CONNS seconds=$SECONDS_ requests=$requests"
	awk -v r="$requests" -v d="$dur" -v c=$((c1 - c0)) -v p="$p50" 'BEGIN {
		printf "ops/s %.0f  cpu %.1f us/op  p50 %.3f ms\n", r * 1e6 / d, c / r / 1000, p / 1000 }'
	echo "per thread (% of a core):"
	awk -v d="$dur" 'NR == FNR { b[$2] = $3; next }
		{ printf "  %-16s %5.1f %%\n", $1, ($3 - b[$2]) / (d * 10) }' \
		"$state/threads.0" "$state/threads.1"
} | tee "$state/report.txt"
if [[ $PERF == 1 ]]; then
	perf report -i "$state/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
		grep -v '^$' | head -n 120 >"$state/perf-flat.txt" || true
	perf report -i "$state/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		grep '%' | head -n 20 >"$state/perf-dso.txt" || true
	echo "perf: $state/perf-flat.txt, $state/perf-dso.txt"
fi
