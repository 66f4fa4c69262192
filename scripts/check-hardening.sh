#!/usr/bin/env bash
# Checks that a sessiond binary carries the hardening the Makefile asks for,
# with binutils only (what devscripts' hardening-check reports, without
# needing devscripts): PIE, RELRO, BIND_NOW, the stack protector and
# fortified libc calls. Prints one line per property; exits 1 if any is
# missing. A sanitizer build leaves out _FORTIFY_SOURCE, so run it on a
# release build.
#   scripts/check-hardening.sh BINARY
set -uo pipefail

bin=${1:?usage: check-hardening.sh BINARY}
export LC_ALL=C
if ! header=$(readelf -hW "$bin" 2>&1); then
	echo "FAIL: $bin: $header"
	exit 1
fi
dynamic=$(readelf -dW "$bin")
segments=$(readelf -lW "$bin")
undefined=$(nm -D --undefined-only "$bin")

missing=0
# report NAME WHY STATUS: one property, held when STATUS (a command's) is 0.
report() {
	if (($3 == 0)); then
		echo "ok: $1 ($2)"
	else
		echo "FAIL: $1 missing ($2)"
		missing=1
	fi
}
has() { grep -Eq "$1" <<<"$2"; } # has REGEX TEXT

has 'Type: *DYN' "$header" && has '\(FLAGS_1\).*\bPIE\b' "$dynamic"
report "PIE" "ELF type DYN with DF_1_PIE" $?
has '\bGNU_RELRO\b' "$segments"
report "RELRO" "a GNU_RELRO segment" $?
has '\(FLAGS\).*\bBIND_NOW\b|\(FLAGS_1\).*\bNOW\b' "$dynamic"
report "BIND_NOW" "FLAGS BIND_NOW or FLAGS_1 NOW" $?
has '\b__stack_chk_fail\b' "$undefined"
report "stack protector" "__stack_chk_fail referenced" $?
fortified=$(grep -oE '\b__[a-z0-9_]+_chk\b' <<<"$undefined" | grep -vx '__stack_chk_fail' |
	sort -u | paste -sd ' ')
[[ -n $fortified ]]
report "fortified functions" "${fortified:-no __*_chk function referenced}" $?
exit $missing
