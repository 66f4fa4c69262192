#!/usr/bin/env bash
# Guards against issue 13's first bug coming back: `make run` as the first
# command on a fresh machine. There make reads the Makefile before `deps`
# has installed the -dev packages, so flags that pkg-config computed while
# parsing are empty and the link fails. Simulated here: a pkg-config that
# knows no package until the fake deps step (slow, like apt) leaves a
# marker, and notes every call made before that. Two fresh builds, one for
# each half of the fix:
#   make -j2 run     the real target: the build waits for deps (a sub-make)
#   make deps all    one make, serial: pkg-config runs at recipe time, not
#                    while the Makefile is read
# In each, no pkg-config call may come before deps has finished, and the
# sessiond built must answer --version.
#   tests/build-after-deps.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# A fresh make: nothing inherited from a make that runs this script.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CFLAGS CPPFLAGS LDFLAGS LDLIBS

real=$(command -v pkg-config) || {
	echo "FAIL: pkg-config is not installed" >&2
	exit 1
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
want="sessiond $(cat VERSION)"
failed=0

# fresh_build NAME MAKE_ARGS...: a build in $scratch/NAME on a machine
# whose packages deps has not installed yet.
fresh_build() {
	local dir=$scratch/$1 got
	shift
	mkdir -p "$dir"
	# pkg-config without the -dev packages prints nothing on stdout and
	# fails; once they are "installed", the real one answers.
	{
		echo '#!/bin/sh'
		printf 'if [ ! -e %q ]; then\n' "$dir/installed"
		printf '\techo "pkg-config $*" >>%q\n' "$dir/early"
		echo '	exit 1'
		echo 'fi'
		printf 'exec %q "$@"\n' "$real"
	} >"$dir/pkg-config"
	# The install takes a while, so a build that does not wait for deps
	# (even one started beside it under -j) asks pkg-config too early.
	{
		echo '#!/bin/sh'
		echo 'sleep 2'
		printf 'touch %q\n' "$dir/installed"
	} >"$dir/deps"
	chmod +x "$dir/pkg-config" "$dir/deps"
	if ! make --no-print-directory BUILD="$dir/build" OPT=-O0 PKG_CONFIG="$dir/pkg-config" \
		DEPS_SCRIPT="$dir/deps" RUN_SCRIPT=true "$@" >"$dir/make.log" 2>&1; then
		tail -n 30 "$dir/make.log"
		echo "FAIL: make $* did not build sessiond after deps installed the packages"
		failed=1
		return
	fi
	if [[ -s $dir/early ]]; then
		sort -u "$dir/early"
		echo "FAIL: make $* asked pkg-config (above) before deps had installed the packages"
		failed=1
		return
	fi
	if ! got=$("$dir/build/sessiond" --version 2>&1) || [[ $got != "$want" ]]; then
		echo "FAIL: make $*: its sessiond --version says \"$got\", not \"$want\""
		failed=1
		return
	fi
	echo "ok: make $* builds after deps; its sessiond --version says \"$got\""
}

fresh_build run -j2 run
fresh_build serial deps all
exit $failed
