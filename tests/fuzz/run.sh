#!/usr/bin/env bash
# Runs every libFuzzer harness of a fuzz build for SECONDS each, on a copy of
# its seed corpus (tests/fuzz/corpus/NAME is never written), and fails if any
# crashed, leaked, hung or tripped a sanitizer. Crashing inputs are kept in
# BUILD/artifacts/NAME/. NAME.dict and NAME.options beside this script add a
# dictionary and flags. Prints each harness's executions.
#   tests/fuzz/run.sh BUILD_DIR SECONDS
set -uo pipefail

build=${1:?usage: run.sh BUILD_DIR SECONDS}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0

failed=() passed=0
for bin in "$build"/fuzz_*; do
	[[ -x $bin ]] || continue
	name=${bin##*/fuzz_}
	work=$build/corpus/$name
	art=$build/artifacts/$name
	rm -rf "$work" && mkdir -p "$work" "$art"
	cp tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	extra=()
	[[ -f tests/fuzz/$name.dict ]] && extra+=(-dict=tests/fuzz/"$name".dict)
	[[ -f tests/fuzz/$name.options ]] &&
		mapfile -t -O ${#extra[@]} extra < <(grep -v -e '^#' -e '^$' tests/fuzz/"$name".options)
	echo "== fuzz_$name for ${seconds}s"
	"$bin" "$work" "${extra[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$art"/ \
		>"$build/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$name.log")
	echo "fuzz_$name: ${execs:-?} executions, exit $rc"
	if ((rc != 0)); then
		grep -E -A30 '^==[0-9]+==ERROR|runtime error|^SUMMARY|Test unit written' \
			"$build/$name.log" | head -n 60
		failed+=("fuzz_$name")
	else
		passed=$((passed + 1))
	fi
done
for f in "${failed[@]}"; do echo "FAILED: $f (log: $build/${f#fuzz_}.log)"; done
echo "fuzz: ${passed} passed, ${#failed[@]} failed"
((${#failed[@]} == 0 && passed > 0))
