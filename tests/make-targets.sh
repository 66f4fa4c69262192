#!/usr/bin/env bash
# The Makefile as a packager drives it, against a finished build:
#   make install DESTDIR=... PREFIX=/usr   puts the binary, the unit (its
#       ExecStart rewritten to PREFIX/bin), the man page and the example
#       settings where a package wants them;
#   make CFLAGS=... CPPFLAGS=...           keeps the project's own flags
#       (-Iinclude above all) and puts the user's after them, so they win.
#   tests/make-targets.sh BUILD_DIR
set -uo pipefail

build=${1:?usage: make-targets.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
# A plain make: nothing inherited from a make that runs this script.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CFLAGS CPPFLAGS LDFLAGS LDLIBS

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
fail() {
	echo "FAIL: $*"
	failed=1
}

# ---- make install -----------------------------------------------------------
root=$scratch/root
if ! make --no-print-directory BUILD="$build" DESTDIR="$root" PREFIX=/usr install \
	>"$scratch/install.log" 2>&1; then
	cat "$scratch/install.log"
	fail "make install DESTDIR=... PREFIX=/usr"
else
	for f in usr/bin/sessiond usr/lib/systemd/system/sessiond.service \
		usr/share/man/man8/sessiond.8 usr/share/doc/sessiond/sessiond.conf.example \
		usr/lib/sysusers.d/sessiond.conf; do
		[[ -f $root/$f ]] || fail "make install did not install /$f"
	done
	want="sessiond $(cat VERSION)"
	got=$("$root/usr/bin/sessiond" --version 2>&1)
	[[ $got == "$want" ]] || fail "the installed /usr/bin/sessiond --version says \"$got\""
	unit=$root/usr/lib/systemd/system/sessiond.service
	grep -q '^ExecStart=/usr/bin/sessiond ' "$unit" ||
		fail "the installed unit's ExecStart does not run /usr/bin/sessiond"
	! grep -n '/usr/local' "$unit" || fail "the installed unit still names /usr/local"
	# The unit runs as the user sysusers.d creates (secret files are owned
	# by it); systemd-sysusers, where present, parses the file.
	user=$(sed -n 's/^User=//p' "$unit")
	grep -q "^u $user " "$root/usr/lib/sysusers.d/sessiond.conf" ||
		fail "the unit's User=$user is not the user sysusers.d/sessiond.conf creates"
	if command -v systemd-sysusers >/dev/null 2>&1; then
		mkdir -p "$scratch/sysroot" && systemd-sysusers --dry-run --root="$scratch/sysroot" \
			"$root/usr/lib/sysusers.d/sessiond.conf" >"$scratch/sysusers.log" 2>&1 ||
			{ cat "$scratch/sysusers.log"; fail "systemd-sysusers refuses sysusers.d/sessiond.conf"; }
	fi
	cmp -s conf/sessiond.conf "$root/usr/share/doc/sessiond/sessiond.conf.example" ||
		fail "the example settings are not conf/sessiond.conf"
	((failed)) || echo "ok: make install DESTDIR=... PREFIX=/usr installs binary, unit, man page, example settings"
fi

# ---- the user's CFLAGS and CPPFLAGS -----------------------------------------
# One object is enough: it includes the project's headers, so a lost
# -Iinclude fails it.
obj=$scratch/o/src/buf.o
if ! make --no-print-directory BUILD="$scratch/o" CFLAGS=-O1 CPPFLAGS=-DSESSIOND_USER_FLAG \
	"$obj" >"$scratch/cflags.log" 2>&1; then
	cat "$scratch/cflags.log"
	fail "make CFLAGS=-O1 CPPFLAGS=... no longer compiles"
else
	line=$(grep -- ' -c -o ' "$scratch/cflags.log")
	[[ $line == *' -Iinclude '* ]] || fail "make CFLAGS=-O1 lost -Iinclude: $line"
	[[ $line =~ \ -O2\ .*\ -O1\  ]] || fail "the user's -O1 does not come after -O2: $line"
	[[ $line == *' -DSESSIOND_USER_FLAG '* ]] || fail "the user's CPPFLAGS are lost: $line"
	[[ -f $obj ]] || fail "no $obj"
	((failed)) || echo "ok: make CFLAGS=-O1 CPPFLAGS=... compiles with -Iinclude, the user's flags last"
fi
exit $failed
