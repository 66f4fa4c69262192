#!/usr/bin/env bash
# `make run`: starts a local dynalite (data under build/run/data) and
# sessiond with conf/sessiond.dev.conf pointed at it, prints a curl example,
# and stops both on Ctrl-C. PORT=8081 make run to listen elsewhere.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
state=build/run
port=${PORT:-8080}
mkdir -p "$state/data"

endpoint=$(scripts/dynalite.sh start "$state" --path "$state/data")
daemon_pid=
stop() {
	[[ -n $daemon_pid ]] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
	scripts/dynalite.sh stop "$state"
}
trap stop EXIT INT TERM

sed -e "s|http://127.0.0.1:4567|$endpoint|" -e "s|port = 8080;|port = $port;|" \
	conf/sessiond.dev.conf >"$state/sessiond.conf"
build/sessiond -c "$state/sessiond.conf" &
daemon_pid=$!

for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	kill -0 "$daemon_pid" 2>/dev/null || { echo "sessiond did not start" >&2; exit 1; }
	sleep 0.1
done
cat <<MSG

sessiond is listening on http://127.0.0.1:$port (DynamoDB: dynalite at $endpoint).
Try:

  curl -s -X POST -H 'Content-Type: application/json' \\
       -d '{"data": {"user": 42}, "ttl": 3600}' http://127.0.0.1:$port/v1/sessions

Ctrl-C stops sessiond and dynalite.
MSG
wait "$daemon_pid"
