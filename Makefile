# SPDX-License-Identifier: LGPL-2.1-or-later
# mpkit: one non-recursive Makefile. Every output goes under $(BUILD).
#
#   make                 build the library, the labs, the tests and the tools
#   make check           run every unit test and lab test (each under a timeout)
#   make run LAB=08      build and run one lab
#   make check-asan      the tests again, built with AddressSanitizer + UBSan
#   make check-valgrind  the tests again, under valgrind memcheck
#   make bench           mpkit against Python's multiprocessing, same workloads
#   make install PREFIX=/usr/local DESTDIR=
#   V=1                  show the commands

VERSION    := 0.1.0
API        := 0
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BUILD      ?= build
PKG_CONFIG ?= pkg-config
TEST_TIMEOUT ?= 300

# Missing packages are installed (as root) or named, before anything else runs.
DEPS_RC := $(shell tools/ensure-deps.sh build 1>&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error mpkit: required packages are missing, see above)
endif

GLIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags glib-2.0)
GLIB_LIBS   := $(shell $(PKG_CONFIG) --libs glib-2.0)

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wno-unused-parameter -Wstrict-prototypes \
            -Werror=implicit-function-declaration -Werror=missing-prototypes
CPPFLAGS += -Ilib -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 \
            -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(GLIB_CFLAGS) -MMD -MP
LDLIBS   := $(GLIB_LIBS)

# Quiet by default: one line per step, the command itself with V=1, nothing with -s.
ifeq ($(V),1)
Q   :=
SAY := @true
else
Q   := @
SAY := @echo
endif
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
SAY := @true
endif

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
HEADERS  := $(filter-out lib/mpk-private.h,$(wildcard lib/*.h))
TESTS    := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/test-*.c))
TEST_SCRIPTS := $(wildcard tests/test-*.sh)
LAB_DIRS := $(patsubst %/main.c,%,$(wildcard labs/*/main.c))
LABS     := $(patsubst %,$(BUILD)/%/lab,$(LAB_DIRS))
TOOLS    := $(patsubst %.c,$(BUILD)/%,$(wildcard tools/*.c))
BENCHES  := $(patsubst %.c,$(BUILD)/%,$(wildcard bench/*.c))
LIBA     := $(BUILD)/libmpkit.a
LIBSO    := $(BUILD)/libmpkit.so.$(API)

.PHONY: all check check-asan check-valgrind run bench install uninstall clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(LIBA) $(LIBSO) $(TESTS) $(LABS) $(TOOLS) $(BENCHES)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(SAY) "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -D_GNU_SOURCE -DMPK_COMPILATION -DG_LOG_DOMAIN='"mpk"' \
	  $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(SAY) "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	$(SAY) "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJS)
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,$(@F) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Tests, labs, tools and benchmarks link the static library: no LD_LIBRARY_PATH needed.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBA)
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/labs/%/lab: $(BUILD)/labs/%/main.o $(LIBA)
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIBA)
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBA)
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# --- running ----------------------------------------------------------------

# LAB=8 and LAB=08 both name labs/08-*.
LAB_NUM  = $(shell printf '%02d' '$(patsubst 0%,%,$(LAB))' 2>/dev/null)
LAB_DIR  = $(firstword $(wildcard labs/$(LAB_NUM)-*))

run:
	@test -n "$(LAB)" || { echo "usage: make run LAB=08" >&2; exit 2; }
	@test -n "$(LAB_DIR)" || { echo "make run: no lab numbered '$(LAB)' in labs/" >&2; exit 2; }
	@$(MAKE) --no-print-directory -s $(BUILD)/$(LAB_DIR)/lab >&2
	@$(BUILD)/$(LAB_DIR)/lab

# Every unit test binary, every shell test and every lab test, each under a timeout.
CHECK_ITEMS = $(TESTS) $(TEST_SCRIPTS) $(addprefix lab:,$(LAB_DIRS))

check: all
	$(Q)BUILD=$(BUILD) TEST_TIMEOUT=$(TEST_TIMEOUT) tools/run-tests.sh $(CHECK_ITEMS)

check-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan \
	  CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' \
	  LDFLAGS='-fsanitize=address,undefined' check

check-valgrind: all
	$(Q)tools/ensure-deps.sh valgrind
	$(Q)BUILD=$(BUILD) TEST_TIMEOUT=$(TEST_TIMEOUT) MPK_VALGRIND=1 tools/run-tests.sh $(TESTS)

bench: all
	$(Q)tools/ensure-deps.sh bench
	$(Q)BUILD=$(BUILD) bench/run.sh

# --- installing -------------------------------------------------------------

install: $(LIBA) $(LIBSO)
	install -d $(DESTDIR)$(INCLUDEDIR)/mpkit $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/mpkit
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)
	ln -sf $(notdir $(LIBSO)) $(DESTDIR)$(LIBDIR)/libmpkit.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    mpkit.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/mpkit.pc

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/mpkit
	rm -f $(DESTDIR)$(LIBDIR)/libmpkit.* $(DESTDIR)$(LIBDIR)/pkgconfig/mpkit.pc

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(TESTS:=.d) $(LABS:/lab=/main.d) $(TOOLS:=.d) $(BENCHES:=.d)
