# sessiond: build, test and install. `make help` lists the targets.
# Objects go under $(BUILD) with -MMD -MP dependency files; a sanitizer build
# is the same rules with BUILD and SANITIZE changed (see `check`).

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
PKG_CONFIG  ?= pkg-config
DEPS_SCRIPT ?= scripts/install-deps.sh
RUN_SCRIPT  ?= scripts/run.sh

PKGS     := libmicrohttpd libcurl openssl jansson libconfig zlib
STD      := -std=c17
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Werror
OPT      ?= -O2 -g
DEBUG    ?=
SANITIZE ?=
VERSION  := $(shell cat VERSION)

# Built the way Debian builds a network daemon. _FORTIFY_SOURCE needs an
# optimised build and is left out of sanitizer builds, whose interceptors
# do not see the __*_chk variants it substitutes. `make check` verifies the
# binary (scripts/check-hardening.sh).
HARDEN_CPPFLAGS := $(if $(SANITIZE),,-D_FORTIFY_SOURCE=2)
HARDEN_CFLAGS   := -fstack-protector-strong -fstack-clash-protection \
                   -fcf-protection -fPIE
HARDEN_LDFLAGS  := -pie -Wl,-z,relro,-z,now

# Recursive (=), so pkg-config runs when a recipe needs the flags, not when
# make reads this file: on a fresh machine `make run` parses before `deps`
# has installed the -dev packages (tests/build-after-deps.sh proves it).
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# The project's flags live in their own variables; the user's or a
# packager's CPPFLAGS, CFLAGS and LDFLAGS come last, so they win.
SESSIOND_CPPFLAGS = -D_GNU_SOURCE -Iinclude -DSESSIOND_VERSION='"$(VERSION)"' \
                    $(HARDEN_CPPFLAGS) $(PKG_CFLAGS) $(CPPFLAGS)
SESSIOND_CFLAGS   = $(STD) $(WARN) $(OPT) $(DEBUG) $(SANITIZE) $(HARDEN_CFLAGS) \
                    -pthread $(CFLAGS)
SESSIOND_LDFLAGS  = $(SANITIZE) $(HARDEN_LDFLAGS) -pthread $(LDFLAGS)
SESSIOND_LDLIBS   = $(PKG_LIBS) $(LDLIBS)

# Every module but main.c is linked into the tests as well as the daemon.
LIB_SRCS   := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS  := $(wildcard tests/test_*.c)
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
TEST_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%) $(INTEG_SRCS:%.c=$(BUILD)/%)
TEST_HELPER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/helpers/*.c))

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer

# Keep the test objects that pattern rules make along the way.
.SECONDARY:

.PHONY: all tests check check-fast deps run install clean format help bench-auth bench bench-node bench-fleet bench-floor bench-anatomy lint soak profile

all: $(BUILD)/sessiond

# The floor (bench/floor.c) is built with the tests, so `check` keeps it compiling.
tests: $(TEST_BINS) $(BUILD)/floor

$(BUILD)/sessiond: $(BUILD)/src/main.o $(LIB_OBJS)
	$(CC) $(SESSIOND_LDFLAGS) -o $@ $^ $(SESSIOND_LDLIBS)

# bench/floor.c: the libraries alone, for `make bench-floor`; not installed.
$(BUILD)/floor: $(BUILD)/bench/floor.o
	$(CC) $(SESSIOND_LDFLAGS) -o $@ $^ $(SESSIOND_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_OBJS) $(TEST_HELPER_OBJS)
	$(CC) $(SESSIOND_LDFLAGS) -o $@ $^ $(SESSIOND_LDLIBS) $(CHECK_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(SESSIOND_CPPFLAGS) $(SESSIOND_CFLAGS) -Itests -MMD -MP -c -o $@ $<

# Installs missing packages (apt, npm ci); the static analysers; 30 s of
# each fuzzer; the integration suites under ThreadSanitizer; then builds,
# runs every test, rebuilds everything with ASan+UBSan under build/asan and
# runs it all again.
check: deps
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory fuzz-check
	$(MAKE) --no-print-directory tsan-check
	$(MAKE) --no-print-directory all tests
	scripts/run-tests.sh $(BUILD)
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT="-O1 -g" \
		SANITIZE="$(ASAN_FLAGS)" all tests
	scripts/run-tests.sh $(BUILD)/asan --sanitize

# Static analysis gates, zero findings: cppcheck, clang-tidy (.clang-tidy
# holds the reviewed exclusions) and the clang static analyzer.
lint:
	cppcheck --enable=warning,portability,performance --std=c11 -Iinclude -D_GNU_SOURCE \
		--quiet --inline-suppr --error-exitcode=1 src/
	@# One file per run: clang-tidy 14 given several files in one run
	@# carries analyzer state across them (false va_list reports).
	for f in $(wildcard src/*.c); do \
		clang-tidy --quiet $$f -- $(STD) -D_GNU_SOURCE -Iinclude -DSESSIOND_VERSION='"$(VERSION)"' \
			|| exit 1; \
	done
	scan-build --status-bugs --use-cc=clang -o $(BUILD)/scan-build \
		$(MAKE) --no-print-directory BUILD=$(BUILD)/scan all

# The same suite without installing or the sanitizer pass, for quick loops.
check-fast: all tests
	scripts/run-tests.sh $(BUILD)

deps:
	$(DEPS_SCRIPT)

# Installs what is missing, builds, then runs dynalite and sessiond with
# conf/sessiond.dev.conf until Ctrl-C. The build is a sub-make so that it
# starts only after deps, even under -j.
run: deps
	$(MAKE) --no-print-directory all
	$(RUN_SCRIPT)

# sessiond against the seed's stack and dynalite itself, side by side
# (bench/run.sh; QUICK=1 for one short round). Not part of `check`.
bench:
	QUICK="$(QUICK)" PIN="$(PIN)" bench/run.sh

# 1, 2 and 3 daemons on one dynalite table with the load spread across them:
# CPU per operation and DynamoDB calls per operation by fleet size
# (bench/fleet.sh; bench/results/DATE-fleet.md). Not part of `check`.
bench-fleet:
	bench/fleet.sh

# connect-sessiond against connect-dynamodb in one express app, side by side:
# requests/s and the app's CPU per request (clients/node/bench/overhead.js;
# ROUNDS, DURATION, WARMUP, CONNS, NSESS). Not part of `check`.
bench-node: all
	SESSIOND_BIN=$(BUILD)/sessiond node clients/node/bench/overhead.js

# A long mixed run against one release daemon, for leaks: 1,000,000
# requests at 64 connections (SOAK_REQUESTS, SOAK_CONNS); checks RSS growth,
# descriptors and answers (bench/soak.js). Not part of `check`.
SOAK_REQUESTS ?= 1000000
SOAK_CONNS    ?= 64
soak: deps
	$(MAKE) --no-print-directory BUILD=build/bench all
	node bench/soak.js --bin build/bench/sessiond --requests $(SOAK_REQUESTS) --conns $(SOAK_CONNS)

# sessiond against bench/floor.c, the same libraries with no logic: how low
# CPU per operation can go on this machine (bench/floor.sh;
# bench/results/DATE-floor.md). Not part of `check`.
bench-floor:
	bench/floor.sh

# Where a lone request's time goes, hop by hop, in sessiond and the floor:
# system-wide tracepoints under one connection (bench/anatomy.sh; OP, REPS,
# PIN; bench/results/DATE-anatomy-OP.md). Not part of `check`.
bench-anatomy:
	bench/anatomy.sh

# Where the time goes: one workload under perf (bench/profile.sh; OP, CONNS,
# SECONDS, PERF=1 or STRACE=1). Not part of `check`.
profile:
	$(MAKE) --no-print-directory BUILD=build/bench all
	bench/profile.sh build/bench/sessiond

# Latency of the bearer-token check for each way a token can be wrong.
bench-auth: all
	node scripts/auth-timing.js

# The unit's ExecStart is rewritten to point at $(PREFIX)/bin
# (tests/make-targets.sh installs into a DESTDIR in `make check`).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/sessiond
	install -m 0755 $(BUILD)/sessiond $(DESTDIR)$(PREFIX)/bin/sessiond
	sed 's|/usr/local/bin|$(PREFIX)/bin|g' systemd/sessiond.service > $(BUILD)/sessiond.service
	install -m 0644 $(BUILD)/sessiond.service $(DESTDIR)$(PREFIX)/lib/systemd/system/sessiond.service
	install -m 0644 conf/sessiond.conf $(DESTDIR)$(PREFIX)/share/doc/sessiond/sessiond.conf.example
	install -d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	install -m 0644 systemd/sessiond.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/sessiond.conf
	if [ -f docs/sessiond.8 ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man8 && \
		install -m 0644 docs/sessiond.8 $(DESTDIR)$(PREFIX)/share/man/man8/sessiond.8; fi

clean:
	rm -rf $(BUILD)

format:
	clang-format -i src/*.c include/sessiond/*.h tests/*.c tests/*/*.c

help:
	@echo "make            build $(BUILD)/sessiond"
	@echo "make run        install what is missing, build, run dynalite + sessiond (Ctrl-C stops)"
	@echo "make check      install what is missing, build, run all tests (also under ASan+UBSan)"
	@echo "make check-fast build and run all tests once, no installs, no sanitizers"
	@echo "make install    install into PREFIX (default /usr/local)"
	@echo "make clean      remove $(BUILD)"

# ---- fuzzing and ThreadSanitizer ------------------------------------------
# `make fuzz [FUZZ_SECONDS=N]` builds every tests/fuzz/fuzz_*.c harness with
# clang's libFuzzer, ASan and UBSan under build/fuzz and runs each for N
# seconds on a copy of its seed corpus; `fuzz-check` is a 30 s round. The
# library objects go into an archive, so a harness links only the modules
# it reaches through their public interfaces.
FUZZ_SECONDS  ?= 60
FUZZ_CC       ?= clang
FUZZ_SANITIZE := -fsanitize=fuzzer-no-link,address,undefined \
                 -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
TSAN_CC       ?= $(CC)

.PHONY: fuzz fuzz-check fuzz-bins tsan tsan-check

fuzz:
	$(MAKE) --no-print-directory BUILD=build/fuzz CC=$(FUZZ_CC) OPT="-O1 -g" \
		SANITIZE="$(FUZZ_SANITIZE)" fuzz-bins
	tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

fuzz-check:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30

# (Internal: the harnesses of one BUILD, made by `fuzz` with clang.)
fuzz-bins: $(FUZZ_BINS)

$(BUILD)/libsessiond.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libsessiond.a
	$(CC) $(SESSIOND_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(SESSIOND_LDLIBS)

# The daemon and every test under ThreadSanitizer in build/tsan; tsan-check
# runs the integration binaries and the Node suite against it.
tsan:
	$(MAKE) --no-print-directory BUILD=build/tsan CC=$(TSAN_CC) OPT="-O1 -g" \
		SANITIZE="-fsanitize=thread -fno-omit-frame-pointer" all tests

tsan-check: tsan
	scripts/run-tests.sh build/tsan --tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
