#!/usr/bin/env bash
# Starts and stops a local dynalite (the DynamoDB engine for tests and
# `make run`) on a free loopback port.
#   scripts/dynalite.sh start DIR [--ssl] [--path DATA]
#                                          start; DIR gets pid, port, log;
#                                          prints the endpoint URL; --path
#                                          keeps the data on disk in DATA
#   scripts/dynalite.sh stop DIR           stop the one started in DIR
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop DIR [--ssl] [--path DATA]" >&2; exit 2; }

case $cmd in
start)
	mkdir -p "$dir"
	rm -f "$dir/port"
	scheme=http
	extra=()
	shift 2
	while (($#)); do
		case $1 in
		--ssl) scheme=https; extra+=(--ssl) ;;
		--path) extra+=(--path "$2"); shift ;;
		*) echo "dynalite.sh: unknown option $1" >&2; exit 2 ;;
		esac
		shift
	done
	[[ -f $top/node_modules/dynalite/index.js ]] ||
		{ echo "dynalite is not installed: run scripts/install-deps.sh" >&2; exit 1; }
	node "$top/scripts/dynalite-server.js" --port-file "$dir/port" --createTableMs 50 \
		"${extra[@]}" >"$dir/log" 2>&1 &
	echo $! >"$dir/pid"
	# Wait until it writes its port (it listens by then), at most 30 s.
	for _ in $(seq 300); do
		if [[ -s $dir/port ]]; then
			echo "$scheme://127.0.0.1:$(cat "$dir/port")"
			exit 0
		fi
		kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "dynalite did not start; its log:" >&2
	cat "$dir/log" >&2
	kill "$(cat "$dir/pid")" 2>/dev/null || true
	exit 1
	;;
stop)
	[[ -f $dir/pid ]] || exit 0
	pid=$(cat "$dir/pid")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid" "$dir/port"
	;;
*)
	echo "usage: $0 start|stop DIR [--ssl] [--path DATA]" >&2
	exit 2
	;;
esac
