#!/usr/bin/env bash
# `make bench-fleet`: 1, 2 and 3 daemons on one dynalite table, the load
# spread evenly across them (one wrk per daemon, as a load balancer spreads
# connections). What it shows is what does not depend on dynalite: the
# daemons' CPU per operation (flat when nothing on the request path crosses
# daemons) and DynamoDB calls per operation (the same for 1 and 3 daemons).
# The total throughput is dynalite's on this machine, and the report says so.
#
#   make bench-fleet        3 rounds x 4 workloads x 3 fleet sizes, 3 s each
#
# Knobs (environment): ROUNDS, DURATION (s), WARMUP (s), CONNS (total over
# the fleet), WORKLOADS ("get patch touch mix"), NSESS, THREADS (each
# daemon's listen.threads; 1 keeps three daemons within two cores).
# Results: bench/results/DATE-fleet.md (+ .tsv). Not part of `make check`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-24}
WORKLOADS=${WORKLOADS:-"get patch touch mix"}
NSESS=${NSESS:-2000}
THREADS=${THREADS:-1}
FLEET=3
build=build/bench
state=$build/fleet
raw=$state/raw.tsv
data=bench/session.json
started=$(date +%s)

bench_tag=bench-fleet
# shellcheck source=bench/lib.sh
. bench/lib.sh

bench_need_wrk
scripts/install-deps.sh
say "building the release binary ($build/sessiond)"
make --no-print-directory BUILD=$build all >/dev/null

rm -rf "$state"
mkdir -p "$state"
pids=()
stop_all() {
	stop_pids "${pids[@]}"
	scripts/dynalite.sh stop "$state/dynalite" || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

dynalite_url=$(scripts/dynalite.sh start "$state/dynalite")
dynalite_pid=$(cat "$state/dynalite/pid")
say "dynalite on $dynalite_url (pid $dynalite_pid)"

urls=()
for i in $(seq "$FLEET"); do
	port=$(free_port)
	cat >"$state/sessiond-$i.conf" <<EOF
# Written by bench/fleet.sh: daemon $i of $FLEET on one table.
listen = { address = "127.0.0.1"; port = $port; threads = $THREADS; };
limits = { max_connections = 16000; };
dynamodb = {
  endpoint = "$dynalite_url";
  table = "bench_fleet";
  create_table = true;
};
credentials = { access_key_id = "AKIDBENCH"; secret_access_key = "bench-secret"; };
reaper = { enabled = false; };
log = { level = "warn"; };
EOF
	$build/sessiond -c "$state/sessiond-$i.conf" 2>"$state/sessiond-$i.log" &
	pids+=($!)
	urls+=("http://127.0.0.1:$port")
	wait_http "${urls[-1]}/readyz" "${pids[-1]}" || { cat "$state/sessiond-$i.log" >&2; exit 1; }
	say "daemon $i on ${urls[-1]} (pid ${pids[-1]})"
done

say "creating $NSESS sessions"
node bench/prep.js --sessiond "${urls[0]}" --n "$NSESS" --data "$data"

ddb_calls() { # URL...: DynamoDB requests completed, summed over the daemons
	local u sum=0 n
	for u in "$@"; do
		n=$(curl -fsS "$u/metrics" | awk '/^sessiond_dynamodb_requests_total\{/ { s += $2 } END { print s + 0 }')
		sum=$((sum + n))
	done
	echo "$sum"
}

printf 'round\tworkload\tdaemons\tconns\trequests\tduration_us\tp50_us\tp99_us\terrors\tsvc_cpu_ns\tddb_calls\tdyn_cpu_ns\n' >"$raw"

# One cell: N daemons, TOTAL connections split evenly, one wrk per daemon.
measure() {
	local round=$1 workload=$2 n=$3 total=${4:-$CONNS}
	local each=$((total / n))
	local sel_urls=("${urls[@]:0:n}") sel_pids=("${pids[@]:0:n}") i
	local wrks=()
	if ((WARMUP > 0)); then
		for i in $(seq 0 $((n - 1))); do
			wrk -t1 -c"$each" -d"${WARMUP}s" --timeout 5s -s bench/wrk/service.lua "${sel_urls[i]}" \
				-- "$workload" "$NSESS" "$data" >/dev/null 2>&1 &
			wrks+=($!)
		done
		wait "${wrks[@]}" || true # (a bare wait would wait for the daemons too)
		wrks=()
	fi
	local k0 c0 d0 k1 c1 d1
	k0=$(ddb_calls "${sel_urls[@]}")
	c0=$(cpu_ns "${sel_pids[@]}") d0=$(cpu_ns "$dynalite_pid")
	for i in $(seq 0 $((n - 1))); do
		wrk -t1 -c"$each" -d"${DURATION}s" --timeout 5s -s bench/wrk/service.lua "${sel_urls[i]}" \
			-- "$workload" "$NSESS" "$data" >"$state/wrk.$i" 2>&1 &
		wrks+=($!)
	done
	wait "${wrks[@]}" || true
	c1=$(cpu_ns "${sel_pids[@]}") d1=$(cpu_ns "$dynalite_pid")
	k1=$(ddb_calls "${sel_urls[@]}")
	# Requests add up; the duration is the longest run's; the latency
	# figures are the worst daemon's.
	local line
	line=$(cat "$state"/wrk.[0-$((n - 1))] | awk '
		/^BENCH / {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			req += v["requests"]
			if (v["duration_us"] > dur) dur = v["duration_us"]
			if (v["p50_us"] > p50) p50 = v["p50_us"]
			if (v["p99_us"] > p99) p99 = v["p99_us"]
			err += v["connect"] + v["read"] + v["write"] + v["timeout"] + v["non2xx"]
			seen++
		}
		END { if (!seen) dur = 1; printf "%d\t%d\t%d\t%d\t%d", req, dur, p50, p99, err }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$workload" "$n" "$total" "$line" \
		$((c1 - c0)) $((k1 - k0)) $((d1 - d0)) >>"$raw"
	local req dur
	req=$(cut -f1 <<<"$line") dur=$(cut -f2 <<<"$line")
	printf '  r%s %-6s daemons=%s c=%-3s %7d ops/s  cpu %6.1f us/op  ddb %.2f calls/op  dynalite %3d%% of a core\n' \
		"$round" "$workload" "$n" "$total" $((req * 1000000 / dur)) \
		"$(awk -v c=$((c1 - c0)) -v r="$req" 'BEGIN { print r ? c / r / 1000 : 0 }')" \
		"$(awk -v k=$((k1 - k0)) -v r="$req" 'BEGIN { print r ? k / r : 0 }')" \
		$(((d1 - d0) / 10 / dur)) >&2
}

say "measuring: $ROUNDS round(s) x workloads ($WORKLOADS) x 1..$FLEET daemons, $CONNS connections in all"
for round in $(seq "$ROUNDS"); do
	for workload in $WORKLOADS; do
		for n in $(seq "$FLEET"); do
			measure "$round" "$workload" "$n"
		done
		# The control: one daemon carrying what each of three carries.
		measure "$round" "$workload" 1 $((CONNS / FLEET))
	done
done

facts=$state/facts.tsv
{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	printf 'cores\t%s\n' "$(nproc)"
	printf 'sessiond\t%s (%s%s)\n' "$($build/sessiond -V)" \
		"$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"$(git diff --quiet HEAD -- src include 2>/dev/null || echo ', uncommitted changes in src/')"
	printf 'dynalite\t%s\n' "$(node -p "require('./node_modules/dynalite/package.json').version")"
	printf 'settings\t%s round(s), %s s measured after %s s warm-up, %s sessions, %s connections in all split evenly over the daemons, listen.threads = %s per daemon, log.level = warn; one wrk -t1 per daemon\n' \
		"$ROUNDS" "$DURATION" "$WARMUP" "$NSESS" "$CONNS" "$THREADS"
	printf 'wall\t%s\n' $(($(date +%s) - started))
} >"$facts"

out=bench/results/$(date -u +%Y-%m-%d)-fleet.md
mkdir -p "$(dirname "$out")"
node bench/fleet-report.js "$raw" "$facts" >"$out"
cp "$raw" "${out%.md}.tsv"
cat "$out"
say "written to $out (raw data: ${out%.md}.tsv)"
