#!/usr/bin/env bash
# `make bench`: sessiond against the seed's stack (express + express-session
# + connect-dynamodb over the AWS SDK, bench/peer/) and against dynalite
# itself (the ceiling), side by side on one dynalite, all on loopback.
#
#   make bench              full run: 3 rounds, 1 s warm-up + 2 s measured
#                           per cell (about 10 minutes)
#   QUICK=1 make bench      one round, 1 s measured per cell, one warm-up
#                           pass up front instead of one per cell (under
#                           2 minutes; indicative only)
#
# Knobs (environment): ROUNDS, DURATION (s), WARMUP (s, per cell), CONNS
# ("1 16 64"), WORKLOADS ("get put patch touch create mix"), NSESS
# (sessions made up front), IDLE (idle connections for the memory test,
# 0 skips it), PIN (1: dynalite alone on CPU 0, everything else, wrk
# included, on the other CPUs; what a deployment has, where DynamoDB runs on
# machines of its own, so the engine's throughput does not move with how
# much CPU the target beside it takes).
#
# Every measurement is one wrk run of DURATION seconds after a WARMUP run
# whose numbers are thrown away. Within a round the targets take turns on
# each (workload, connections) cell: sessiond, peer, ceiling. CPU time is
# the service process's (all its threads, from /proc/PID/task/*/schedstat,
# which is what /proc/PID/stat's utime+stime are derived from, without
# their 10 ms ticks), and dynalite's alongside. The report (bench/report.js)
# takes medians over rounds and writes bench/results/DATE.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

QUICK=${QUICK:-0}
[[ $QUICK == 0 ]] && QUICK=
if [[ -n $QUICK ]]; then
	ROUNDS=${ROUNDS:-1}
	DURATION=${DURATION:-1}
	WARMUP=${WARMUP:-0}
	PREWARM=${PREWARM:-1} # one pass over every workload and target first
	IDLE=${IDLE:-2000}
else
	ROUNDS=${ROUNDS:-3}
	DURATION=${DURATION:-2}
	WARMUP=${WARMUP:-1}
	PREWARM=${PREWARM:-0}
	IDLE=${IDLE:-10000}
fi
CONNS=${CONNS:-"1 16 64"}
WORKLOADS=${WORKLOADS:-"get put patch touch create mix"}
NSESS=${NSESS:-2000}
PIN=${PIN:-0}
cpus=$(nproc) # before PIN=1 narrows what nproc sees
LOG_LEVEL=warn # the "info" line's cost is measured on its own (sessiond-info)

build=build/bench
state=$build/run
raw=$state/raw.tsv
data=bench/session.json
started=$(date +%s)
bench_tag=bench
# shellcheck source=bench/lib.sh
. bench/lib.sh

# ---- what the bench needs -----------------------------------------------------

bench_need_wrk
scripts/install-deps.sh # compiler, libraries, node, dynalite (idempotent)
stamp=bench/peer/node_modules/.package-lock.json
if [[ ! -f $stamp || bench/peer/package-lock.json -nt $stamp ]]; then
	say "npm ci in bench/peer"
	(cd bench/peer && npm ci --no-audit --no-fund --loglevel=error)
fi

say "building the release binary ($build/sessiond)"
make --no-print-directory BUILD=$build all >/dev/null

# 10,000 idle connections need more than 10,000 descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if ((IDLE > 0 && $(ulimit -n) < IDLE + 1000)); then
	say "ulimit -n is $(ulimit -n): too low for IDLE=$IDLE; skipping the idle-connection test"
	IDLE=0
fi

# ---- start everything -----------------------------------------------------------

rm -rf "$state"
mkdir -p "$state"
sessiond_pid='' info_pid='' enc_pid='' peer_pid='' idle_pid=''
stop_all() {
	# shellcheck disable=SC2086 # empty ones drop out
	stop_pids $idle_pid $peer_pid $enc_pid $info_pid $sessiond_pid
	scripts/dynalite.sh stop "$state/dynalite" || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Waits until URL answers 2xx while PID lives; shows WHAT's log if not.
wait_up() {
	local url=$1 pid=$2 what=$3
	wait_http "$url" "$pid" && return 0
	say "$what did not start; its log:"
	cat "$state/$what.log" >&2
	exit 1
}

if ((PIN)); then
	((cpus >= 2)) || { say "PIN=1 needs 2 CPUs or more"; exit 1; }
	# This shell and so every process it starts from here on.
	taskset -p -c "1-$((cpus - 1))" $$ >/dev/null
fi
dynalite_url=$(scripts/dynalite.sh start "$state/dynalite")
dynalite_pid=$(cat "$state/dynalite/pid")
where=''
if ((PIN)); then
	taskset -a -p -c 0 "$dynalite_pid" >/dev/null
	where=', alone on CPU 0'
fi
say "dynalite on $dynalite_url (pid $dynalite_pid)$where"

sessiond_port=$(free_port)
bench_sessiond_conf "$sessiond_port" "$dynalite_url" bench_sessiond 0 "$LOG_LEVEL" >"$state/sessiond.conf"
$build/sessiond -c "$state/sessiond.conf" 2>"$state/sessiond.log" &
sessiond_pid=$!
sessiond_url=http://127.0.0.1:$sessiond_port
wait_up "$sessiond_url/readyz" "$sessiond_pid" sessiond
say "sessiond on $sessiond_url (pid $sessiond_pid)"

# A second daemon on the same table at log.level = info, the default (one
# line per request): what that line costs, measured on GET alone.
info_port=$(free_port)
sed -e "s/port = $sessiond_port;/port = $info_port;/" -e "s/level = \"$LOG_LEVEL\"/level = \"info\"/" \
	"$state/sessiond.conf" >"$state/sessiond-info.conf"
$build/sessiond -c "$state/sessiond-info.conf" 2>"$state/sessiond-info.log" &
info_pid=$!
info_url=http://127.0.0.1:$info_port
wait_up "$info_url/readyz" "$info_pid" sessiond-info
say "sessiond at log.level info on $info_url (pid $info_pid)"

# A third daemon with encryption at rest on, on a table of its own (so
# every session it reads was sealed): what AES-256-GCM costs per GET and
# PUT, measured at 16 connections beside the plain daemon.
enc_port=$(free_port)
(umask 077 && node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))' >"$state/bench.key")
sed -e "s/port = $sessiond_port;/port = $enc_port;/" -e 's/table = "bench_sessiond";/table = "bench_sessiond_enc";/' \
	"$state/sessiond.conf" >"$state/sessiond-enc.conf"
printf 'encryption = { keys = ["bench:%s"]; };\n' "$top/$state/bench.key" >>"$state/sessiond-enc.conf"
$build/sessiond -c "$state/sessiond-enc.conf" 2>"$state/sessiond-enc.log" &
enc_pid=$!
enc_url=http://127.0.0.1:$enc_port
wait_up "$enc_url/readyz" "$enc_pid" sessiond-enc
say "sessiond with encryption at rest on $enc_url (pid $enc_pid)"

node bench/peer/server.js --endpoint "$dynalite_url" --port 0 --table bench_peer \
	>"$state/peer.log" 2>&1 &
peer_pid=$!
for _ in $(seq 300); do
	grep -q '^listening on ' "$state/peer.log" 2>/dev/null && break
	kill -0 "$peer_pid" 2>/dev/null || break
	sleep 0.1
done
peer_url=$(sed -n 's/^listening on //p' "$state/peer.log")
[[ -n $peer_url ]] || { say "the peer did not start:"; cat "$state/peer.log" >&2; exit 1; }
wait_up "$peer_url/healthz" "$peer_pid" peer
say "peer on $peer_url (pid $peer_pid)"

say "creating $NSESS sessions in each of the three tables"
node bench/prep.js --sessiond "$sessiond_url" --peer "$peer_url" --dynalite "$dynalite_url" \
	--table bench_ceiling --n "$NSESS" --data "$data" --sessiond-enc "$enc_url"

# ---- measuring ---------------------------------------------------------------------

# utime+stime of PID in clock ticks, from /proc/PID/stat (a cross-check).
cpu_ticks() {
	local s
	s=$(<"/proc/$1/stat")
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}

# "TID NS" for every thread of PID.
thread_ns() {
	local f a _
	for f in /proc/"$1"/task/*/schedstat; do
		read -r a _ <"$f" 2>/dev/null || continue
		f=${f%/schedstat}
		echo "${f##*/} $a"
	done
}

# The largest CPU time one thread took between two thread_ns snapshots.
busiest_ns() {
	awk 'NR == FNR { before[$1] = $2; next }
	     { d = $2 - before[$1]; if (d > max) max = d }
	     END { print max + 0 }' "$1" "$2"
}

status_kb() { # PID FIELD: a /proc/PID/status value in kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

printf 'round\ttarget\tworkload\tconns\trequests\tduration_us\tp50_us\tp99_us\tmean_us\t' >"$raw"
printf 'sock_errors\tnon2xx\tcalls_per_op\tsvc_cpu_ns\tsvc_ticks\tdyn_cpu_ns\tsvc_hwm_kb\twrk_cpu_s\tbusiest_ns\tlatency\n' >>"$raw"

target_url() {
	case $1 in
	sessiond) echo "$sessiond_url" ;;
	sessiond-info) echo "$info_url" ;;
	sessiond-enc) echo "$enc_url" ;;
	peer) echo "$peer_url" ;;
	ceiling) echo "$dynalite_url" ;;
	esac
}

# A wrk run whose numbers are thrown away: TARGET WORKLOAD CONNS SECONDS.
warm() {
	local script=bench/wrk/service.lua extra=()
	if [[ $1 == ceiling ]]; then script=bench/wrk/ceiling.lua extra=(bench_ceiling); fi
	wrk -t1 -c"$3" -d"$4s" --timeout 5s -s "$script" "$(target_url "$1")" \
		-- "$2" "$NSESS" "$data" "${extra[@]}" >/dev/null 2>&1 || true
}

# One measurement: warm-up, then the measured run with CPU and peak RSS
# read around it. Appends a row to $raw.
measure() {
	local round=$1 target=$2 workload=$3 conns=$4
	local url script pid extra=() out line c0 c1 t0 t1 d0 d1 hwm wrk_cpu
	url=$(target_url "$target")
	case $target in
	sessiond) script=bench/wrk/service.lua pid=$sessiond_pid ;;
	sessiond-info) script=bench/wrk/service.lua pid=$info_pid ;;
	sessiond-enc) script=bench/wrk/service.lua pid=$enc_pid ;;
	peer) script=bench/wrk/service.lua pid=$peer_pid ;;
	ceiling) script=bench/wrk/ceiling.lua pid=$dynalite_pid extra=(bench_ceiling) ;;
	esac
	local args=("$workload" "$NSESS" "$data" "${extra[@]}")
	if ((WARMUP > 0)); then warm "$target" "$workload" "$conns" "$WARMUP"; fi
	echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true # resets VmHWM
	thread_ns "$pid" >"$state/threads.0"
	c0=$(cpu_ns "$pid") t0=$(cpu_ticks "$pid") d0=$(cpu_ns "$dynalite_pid")
	out=$(
		TIMEFORMAT='%3U %3S'
		{ time wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s -s "$script" "$url" \
			-- "${args[@]}" 2>&1; } 2>&1
	) || true
	c1=$(cpu_ns "$pid") t1=$(cpu_ticks "$pid") d1=$(cpu_ns "$dynalite_pid")
	thread_ns "$pid" >"$state/threads.1"
	hwm=$(status_kb "$pid" VmHWM)
	line=$(grep '^BENCH ' <<<"$out" || true)
	wrk_cpu=$(tail -n 1 <<<"$out" | awk '{ print $1 + $2 }')
	if [[ -z $line ]]; then
		say "wrk failed for $target $workload c=$conns: $out"
		line="BENCH requests=0 duration_us=1 p50_us=0 p99_us=0 mean_us=0 connect=1 read=0 write=0 timeout=0 status=0 non2xx=0 calls_per_op=1"
	fi
	# BENCH k=v ... -> the values in order
	local -A v
	local kv
	for kv in ${line#BENCH }; do v[${kv%%=*}]=${kv#*=}; done
	local sock=$((v[connect] + v[read] + v[write] + v[timeout]))
	local non2xx=$((v[non2xx] > v[status] ? v[non2xx] : v[status]))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$round" "$target" "$workload" "$conns" "${v[requests]}" "${v[duration_us]}" \
		"${v[p50_us]}" "${v[p99_us]}" "${v[mean_us]}" "$sock" "$non2xx" "${v[calls_per_op]}" \
		$((c1 - c0)) $((t1 - t0)) $((d1 - d0)) "$hwm" "$wrk_cpu" \
		"$(busiest_ns "$state/threads.0" "$state/threads.1")" "${v[latency]:-op}" >>"$raw"
	local ops=$((v[requests] / v[calls_per_op]))
	printf '  r%s %-8s %-6s c=%-3s %7d ops/s  p50 %6.2f ms  p99 %6.2f ms  cpu %7.1f us/op  errors %d\n' \
		"$round" "$target" "$workload" "$conns" $((ops * 1000000 / v[duration_us])) \
		"$(awk -v x="${v[p50_us]}" 'BEGIN { print x / 1000 }')" \
		"$(awk -v x="${v[p99_us]}" 'BEGIN { print x / 1000 }')" \
		"$(awk -v c=$((c1 - c0)) -v n="$ops" 'BEGIN { print n ? c / n / 1000 : 0 }')" \
		$((sock + non2xx)) >&2
}

if ((PREWARM > 0)); then
	say "warming up: every workload on every target, ${PREWARM}s each at 16 connections"
	for workload in $WORKLOADS; do
		for target in sessiond peer ceiling; do
			warm "$target" "$workload" 16 "$PREWARM"
		done
	done
fi
cells=0
for _ in $WORKLOADS; do for _ in $CONNS; do cells=$((cells + 1)); done; done
say "measuring: $ROUNDS round(s) x $cells cells x 3 targets, ${WARMUP}s warm-up + ${DURATION}s each"
for round in $(seq "$ROUNDS"); do
	say "round $round of $ROUNDS"
	for workload in $WORKLOADS; do
		for conns in $CONNS; do
			for target in sessiond peer ceiling; do
				measure "$round" "$target" "$workload" "$conns"
			done
		done
	done
	# The HTTP front end alone (GET /healthz, no DynamoDB): the floor of
	# each service's cost per request on this machine.
	for target in sessiond peer; do
		measure "$round" "$target" healthz 16
	done
	if [[ " $WORKLOADS " == *" get "* ]]; then
		measure "$round" sessiond-info get 16
	fi
	# Encryption at rest: the same GET and PUT against the sealing daemon.
	for workload in get put; do
		if [[ " $WORKLOADS " == *" $workload "* ]]; then
			((PREWARM > 0 && round == 1)) && warm sessiond-enc "$workload" 16 "$PREWARM"
			measure "$round" sessiond-enc "$workload" 16
		fi
	done
done

# ---- memory with idle keep-alive connections ---------------------------------------

idle_file=$state/idle.tsv
printf 'target\tconnections\trss_before_kb\trss_after_kb\n' >"$idle_file"
idle_test() { # TARGET PID URL
	local target=$1 pid=$2 url=$3 before after held
	before=$(status_kb "$pid" VmRSS)
	node bench/idle-conns.js "$url" "$IDLE" >"$state/idle-$target.log" 2>&1 &
	idle_pid=$!
	for _ in $(seq 600); do
		grep -q '^idle ' "$state/idle-$target.log" && break
		kill -0 "$idle_pid" 2>/dev/null || break
		sleep 0.1
	done
	held=$(sed -n 's/^idle \([0-9]*\) .*/\1/p' "$state/idle-$target.log")
	sleep 1
	after=$(status_kb "$pid" VmRSS)
	kill -TERM "$idle_pid" 2>/dev/null || true
	wait "$idle_pid" 2>/dev/null || true
	idle_pid=
	say "$target holding ${held:-0} idle connections: VmRSS $before kB -> $after kB"
	printf '%s\t%s\t%s\t%s\n' "$target" "${held:-0}" "$before" "$after" >>"$idle_file"
	sleep 1 # let the server notice the closes
}
if ((IDLE > 0)); then
	idle_test sessiond "$sessiond_pid" "$sessiond_url"
	idle_test peer "$peer_pid" "$peer_url"
fi

# ---- facts and the report --------------------------------------------------------------

pkgver() { node -p "require('./bench/peer/node_modules/$1/package.json').version"; }
facts=$state/facts.tsv
{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	printf 'cores\t%s\n' "$cpus"
	printf 'memory\t%s MiB\n' "$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'os\t%s\n' "$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)"
	printf 'sessiond\t%s (%s%s), %s\n' "$($build/sessiond -V)" \
		"$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"$(git diff --quiet HEAD -- src include 2>/dev/null || echo ', uncommitted changes in src/')" \
		"$(cc --version | head -n 1)"
	printf 'libraries\tlibmicrohttpd %s, libcurl %s, OpenSSL %s, jansson %s\n' \
		"$(pkg-config --modversion libmicrohttpd)" "$(pkg-config --modversion libcurl)" \
		"$(pkg-config --modversion openssl)" "$(pkg-config --modversion jansson)"
	printf 'node\t%s\n' "$(node --version)"
	printf 'peer\texpress %s, express-session %s, connect-dynamodb %s, @aws-sdk/client-dynamodb %s\n' \
		"$(pkgver express)" "$(pkgver express-session)" "$(pkgver connect-dynamodb)" \
		"$(pkgver @aws-sdk/client-dynamodb)"
	printf 'dynalite\t%s\n' "$(node -p "require('./node_modules/dynalite/package.json').version")"
	printf 'wrk\t%s\n' "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
	printf 'settings\t%s round(s), %s s measured after %s s warm-up%s, %s sessions, connections %s; sessiond log.level = %s, listen.threads = 0 (%s), dynamodb.max_connections = 64; wrk -t1\n' \
		"$ROUNDS" "$DURATION" "$WARMUP" "$( ((PREWARM > 0)) && echo " (plus one ${PREWARM} s pass per workload and target up front)")" "$NSESS" "${CONNS// /\/}" "$LOG_LEVEL" "$cpus"
	if ((PIN)); then
		printf 'pinning\tdynalite alone on CPU 0; sessiond, the peer and wrk on CPU(s) 1-%s\n' $((cpus - 1))
	fi
	printf 'mode\t%s\n' "${QUICK:+quick}"
	printf 'wall\t%s\n' $(($(date +%s) - started))
} >"$facts"

out=$(date -u +%Y-%m-%d)
if ((PIN)); then out=$out-pinned; fi
if [[ -n $QUICK ]]; then
	out=$build/results/$out-quick.md
else
	out=bench/results/$out.md
fi
mkdir -p "$(dirname "$out")"
node bench/report.js "$raw" "$idle_file" "$facts" >"$out"
cat "$out"
if [[ -z $QUICK ]]; then
	cp "$raw" "${out%.md}.tsv" # the per-run numbers behind the medians
	raw=${out%.md}.tsv
fi
say "written to $out (raw data: $raw)"
