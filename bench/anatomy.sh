#!/usr/bin/env bash
# `make bench-anatomy`: where a lone request's time goes, hop by hop, in
# sessiond and in the floor (bench/floor.c), from system-wide tracepoints.
#
#   OP=patch REPS=5 PIN=0 bench/anatomy.sh
#
# One connection (wrk -c1), so a request's hops never overlap: wrk's write,
# the server's receive, its calls to dynalite and dynalite's answers, the
# server's answer and wrk's read. `perf record -a` takes the socket system
# calls of wrk, the server and dynalite (tracepoints, no ptrace) for 1 s in
# the middle of a 3 s run; sessiond and the floor take turns, REPS times
# each. bench/anatomy-report.js matches every request's events in order and
# prints the median of each hop: the server's own work between two system
# calls, dynalite's, and each hand-over (a wakeup) between them. PIN=1 puts
# the server on CPU 1 and wrk and dynalite on CPU 0.
#
# Writes bench/results/DATE-anatomy-OP.md (PIN=1: DATE-anatomy-OP-pinned.md).
# Tracing slows every process a little, both servers alike: compare hops,
# not totals with `make bench`.
# Not part of `check`; needs perf (linux-perf) and root or
# kernel.perf_event_paranoid <= -1.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
OP=${OP:-patch}
REPS=${REPS:-5}
PIN=${PIN:-0}
NSESS=${NSESS:-2000}
state=build/anatomy
data=bench/session.json
started=$(date +%s)
bench_tag=anatomy
# shellcheck source=bench/lib.sh
. bench/lib.sh

case $OP in
get | put | patch | touch | create) ;;
*) echo "anatomy: OP is one of get put patch touch create" >&2; exit 2 ;;
esac
command -v perf >/dev/null || { echo "anatomy: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
bench_need_wrk
bench_pair_setup "$state"

# With PIN=1, the server on CPU 1, wrk and dynalite on CPU 0.
on_server=() on_client=()
if [[ $PIN == 1 ]]; then
	on_server=(taskset -c 1) on_client=(taskset -c 0)
fi
bench_start_pair "$state" anatomy "$NSESS" "$data"

events=syscalls:sys_enter_write,syscalls:sys_exit_read,syscalls:sys_exit_recvfrom
events=$events,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev
runs=()
for rep in $(seq "$REPS"); do
	for target in sessiond floor; do
		url=$surl
		[[ $target == floor ]] && url=$furl
		"${on_client[@]}" wrk -t1 -c1 -d1s -s bench/wrk/service.lua "$url" -- \
			"$OP" "$NSESS" "$data" >/dev/null
		trace=$state/$target-$rep
		(sleep 1 && perf record -q -a -e "$events" -o "$trace.data" -- sleep 1 \
			>"$trace.perf.log" 2>&1) &
		tracer=$!
		out=$("${on_client[@]}" wrk -t1 -c1 -d3s -s bench/wrk/service.lua "$url" -- \
			"$OP" "$NSESS" "$data")
		wait "$tracer" || { echo "anatomy: perf record failed:" >&2; cat "$trace.perf.log" >&2; exit 1; }
		perf script -i "$trace.data" -F comm,pid,tid,cpu,time,event,trace >"$trace.txt" 2>/dev/null
		rm -f "$trace.data"
		say "rep $rep $target: $(sed -n 's/^BENCH requests=\([0-9]*\).*p50_us=\([0-9]*\).*/\1 requests, p50 \2 us/p' <<<"$out")"
		runs+=("$target" "$trace.txt")
	done
done

day=$(date -u +%F)
out=bench/results/$day-anatomy-$OP.md
[[ $PIN == 1 ]] && out=bench/results/$day-anatomy-$OP-pinned.md
ANATOMY_SERVER_PIDS="$spid $fpid" ANATOMY_DYNALITE_PID=$dynalite_pid \
	node bench/anatomy-report.js "$OP" "$PIN" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
	"${runs[@]}" >"$state/report.md"
mv "$state/report.md" "$out"
say "wrote $out"
cat "$out"
