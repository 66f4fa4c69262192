# sessiond: build, test and install. `make help` lists the targets.
# Objects go under $(BUILD) with -MMD -MP dependency files; a sanitizer build
# is the same rules with BUILD and SANITIZE changed (see `check`).

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc

PKGS     := libmicrohttpd libcurl openssl jansson libconfig zlib
STD      := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Werror
OPT      ?= -O2 -g
DEBUG    ?=
SANITIZE ?=
VERSION  := $(shell cat VERSION)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS   := $(STD) $(WARN) $(OPT) $(DEBUG) $(SANITIZE) -pthread \
            -Iinclude -DSESSIOND_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
LDFLAGS  := $(SANITIZE) -pthread
LDLIBS   := $(PKG_LIBS)

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

.PHONY: all tests check check-fast deps run install clean format help bench

all: $(BUILD)/sessiond

tests: $(TEST_BINS)

$(BUILD)/sessiond: $(BUILD)/src/main.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_OBJS) $(TEST_HELPER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -MMD -MP -c -o $@ $<

# Installs missing packages (apt, npm ci), builds, runs every test, then
# rebuilds everything with ASan+UBSan under build/asan and runs it all again.
check: deps
	$(MAKE) --no-print-directory all tests
	scripts/run-tests.sh $(BUILD)
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT="-O1 -g" \
		SANITIZE="$(ASAN_FLAGS)" all tests
	scripts/run-tests.sh $(BUILD)/asan --sanitize

# The same suite without installing or the sanitizer pass, for quick loops.
check-fast: all tests
	scripts/run-tests.sh $(BUILD)

deps:
	scripts/install-deps.sh

# Installs what is missing, builds, then runs dynalite and sessiond with
# conf/sessiond.dev.conf until Ctrl-C.
run: deps all
	scripts/run.sh

# sessiond against the seed's stack and dynalite itself, side by side
# (bench/run.sh; QUICK=1 for one short round). Not part of `check`.
bench:
	QUICK="$(QUICK)" bench/run.sh

# The unit's ExecStart is rewritten to point at $(PREFIX)/bin.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/sessiond
	install -m 0755 $(BUILD)/sessiond $(DESTDIR)$(PREFIX)/bin/sessiond
	sed 's|/usr/local/bin|$(PREFIX)/bin|g' systemd/sessiond.service > $(BUILD)/sessiond.service
	install -m 0644 $(BUILD)/sessiond.service $(DESTDIR)$(PREFIX)/lib/systemd/system/sessiond.service
	install -m 0644 conf/sessiond.conf $(DESTDIR)$(PREFIX)/share/doc/sessiond/sessiond.conf.example
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

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
