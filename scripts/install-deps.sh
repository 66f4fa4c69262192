#!/usr/bin/env bash
# Installs what building and testing sessiond needs, and only what is missing:
# Debian packages through apt-get, then the pinned npm packages (dynalite and
# the test tools). Idempotent: a second run on a ready machine installs
# nothing and is quick. SESSIOND_DEPS=build installs only what building
# needs (the container image's build stage).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# Debian package -> a file or command whose presence proves it is installed.
# Checking with dpkg-query alone would miss a Node.js from another source
# (e.g. nodesource's nodejs, which bundles npm and conflicts with Debian's npm).
need_pkgs=()
want() { # want PACKAGE
	local st
	st=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || need_pkgs+=("$1")
}
want_cmd() { # want_cmd COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2")
}

want_cmd cc gcc
want_cmd make make
want_cmd pkg-config pkg-config
want libmicrohttpd-dev
want libcurl4-openssl-dev
want libssl-dev
want libjansson-dev
want libconfig-dev
want zlib1g-dev
want check
build_only=false
[[ ${SESSIOND_DEPS:-} == build ]] && build_only=true
if ! $build_only; then
	want_cmd node nodejs
	want_cmd npm npm
	want_cmd curl curl
	want_cmd groff groff-base # the man page lint in make check
	# make check's analysers, fuzzers (clang's libFuzzer runtime is only a
	# recommended package) and ThreadSanitizer (gcc's libtsan2).
	want_cmd clang clang
	want libclang-rt-14-dev
	want_cmd cppcheck cppcheck
	want_cmd clang-tidy clang-tidy
	want_cmd scan-build clang-tools
	want libtsan2
fi

if ((${#need_pkgs[@]})); then
	echo "install-deps: installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	sudo=""
	[[ $(id -u) == 0 ]] || sudo="sudo"
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

$build_only && exit 0

# npm ci is the slow part; skip it when node_modules already matches the lock.
stamp="$top/node_modules/.package-lock.json"
if [[ ! -f $stamp || $top/package-lock.json -nt $stamp ]]; then
	echo "install-deps: npm ci"
	(cd "$top" && npm ci --no-audit --no-fund --loglevel=error)
fi
