#!/usr/bin/env bash
# Runs every test binary of one build: the unit tests, then the integration
# tests against a dynalite started here on free loopback ports (one plain,
# one TLS with its expired self-signed certificate) and always stopped.
#   scripts/run-tests.sh BUILD_DIR [--sanitize|--tsan]
# Ends with "N passed, N failed" summed over every Check suite, the Node
# test files (which drive BUILD_DIR/sessiond over HTTP) and the build
# checks (one each: the release binary's hardening, install and the
# user's flags, a build right after deps).
# --tsan (a ThreadSanitizer build): only the integration binaries and the
# Node suite, where the threads are; every report lands in a file, so none
# hides in a daemon's captured stderr, and any report fails the run.
set -uo pipefail

build=${1:?usage: run-tests.sh BUILD_DIR [--sanitize|--tsan]}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

mode=${2:-}
state=$(mktemp -d)
if [[ $mode == --tsan ]]; then
	export CK_FORK=no
	export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$top/tests/tsan.supp:log_path=$state/tsan"
fi
if [[ $mode == --sanitize ]]; then
	# No fork: leaks are reported when the test process itself exits.
	export CK_FORK=no
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
fi
export SESSIOND_TEST_DATA=$top/tests/data
# No test may reach for EC2's metadata address when its credentials chain
# finds nothing else.
export AWS_EC2_METADATA_DISABLED=true

cleanup() {
	scripts/dynalite.sh stop "$state/ddb" || true
	scripts/dynalite.sh stop "$state/ddb-tls" || true
	rm -rf "$state"
}
trap cleanup EXIT

passed=0 failed=0 broken=()
run() { # run COMMAND...
	local out rc line
	echo "== $*"
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' <<<"$out" | tail -n 1)
	if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
		local n=${BASH_REMATCH[1]} f=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
		passed=$((passed + n - f))
		failed=$((failed + f))
	elif [[ $out =~ \#\ pass\ ([0-9]+) ]]; then
		line="node"
		passed=$((passed + BASH_REMATCH[1]))
		[[ $out =~ \#\ fail\ ([0-9]+) ]] && failed=$((failed + BASH_REMATCH[1]))
	elif ((rc == 0)); then
		passed=$((passed + 1)) # a script without a summary is one test
	fi
	# A crash, sanitizer report or leak fails the binary even if Check
	# had already printed its summary.
	if ((rc != 0)); then
		broken+=("$* (exit $rc)")
		[[ -n $line && ! $line =~ Failures:\ 0,\ Errors:\ 0 ]] || failed=$((failed + 1))
	fi
}

if [[ $mode != --tsan ]]; then
	for t in "$build"/tests/test_*; do
		[[ -x $t ]] && run "$t"
	done
fi

# The Makefile's promises, on the plain build only: a sanitizer build
# leaves out _FORTIFY_SOURCE, and these do not change under ThreadSanitizer.
if [[ -z $mode ]]; then
	run scripts/check-hardening.sh "$build/sessiond"
	run tests/make-targets.sh "$build"
	run tests/build-after-deps.sh
fi

# The systemd unit's sandbox, rated by systemd itself where it is installed.
if [[ $mode != --tsan ]] && command -v systemd-analyze >/dev/null 2>&1; then
	score=$(systemd-analyze security --offline=true systemd/sessiond.service 2>&1 |
		sed -n 's/.*Overall exposure level for sessiond.service: \([0-9.]*\).*/\1/p')
	echo "== systemd-analyze security: exposure ${score:-unknown} (must be <= 2.0)"
	if [[ -n $score ]] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		broken+=("systemd unit exposure ${score:-unknown}")
	fi
fi

if compgen -G "$build/tests/integration/test_*" >/dev/null; then
	if ! SESSIOND_TEST_DDB_ENDPOINT=$(scripts/dynalite.sh start "$state/ddb") ||
		! SESSIOND_TEST_DDB_TLS_ENDPOINT=$(scripts/dynalite.sh start "$state/ddb-tls" --ssl); then
		echo "could not start dynalite" >&2
		exit 1
	fi
	export SESSIOND_TEST_DDB_ENDPOINT SESSIOND_TEST_DDB_TLS_ENDPOINT
	for t in "$build"/tests/integration/test_*; do
		[[ -x $t ]] && run "$t"
	done
	if compgen -G "tests/integration/*.test.js" >/dev/null; then
		export SESSIOND_BIN=$build/sessiond
		run node --test --test-reporter=tap --test-concurrency=2 tests/integration/ \
			clients/node/test/
	fi
fi

# ThreadSanitizer wrote one file per process that had a report.
if [[ $mode == --tsan ]]; then
	for f in "$state"/tsan.*; do
		[[ -f $f ]] || continue
		cat "$f"
		failed=$((failed + 1))
		broken+=("ThreadSanitizer report (process ${f##*.})")
	done
fi

echo
for b in "${broken[@]}"; do echo "FAILED: $b"; done
echo "$passed passed, $failed failed"
((failed == 0 && ${#broken[@]} == 0))
