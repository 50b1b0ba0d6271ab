# SPDX-License-Identifier: LGPL-2.1-or-later
# mpkit: one non-recursive Makefile. Every output goes under $(BUILD).
#
#   make                 build the library, the labs, the tests and the tools
#   make deps            install the Debian packages the build needs (or name them)
#   make check           run every unit test and lab test (each under a timeout)
#   make run LAB=08      build and run one lab
#   make check-asan      the tests again, built with AddressSanitizer + UBSan
#   make check-valgrind  the tests again, under valgrind memcheck
#   make fuzz            build the libFuzzer targets (tests/fuzz/) and run each a while
#   make soak            the SIGKILL-anywhere loops, many times longer than in make check
#   make bench           mpkit against Python's multiprocessing, same workloads
#   make clang           everything again with clang, warnings as errors (build/clang/)
#   make docs            the HTML API reference (gtk-doc): build/docs/html/index.html
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

# Missing packages are installed (as root) or named by `make deps`, which
# every rule that compiles, links or draws has as an order-only prerequisite:
# so it runs once per make, before the first compiler, and never for `make
# clean`, `make -n clean` or `make uninstall`. The pkg-config answers are read
# lazily, the first time a recipe uses them (after deps has run, on a fresh
# machine after it installed pkg-config and the -dev packages), then kept.
lazy = $(eval $(1) := $$(shell $(2)))$($(1))
GLIB_CFLAGS = $(call lazy,GLIB_CFLAGS,$(PKG_CONFIG) --cflags glib-2.0 gio-2.0 gio-unix-2.0)
GLIB_LIBS   = $(call lazy,GLIB_LIBS,$(PKG_CONFIG) --libs glib-2.0 gio-2.0 gio-unix-2.0)
JSON_CFLAGS = $(call lazy,JSON_CFLAGS,$(PKG_CONFIG) --cflags json-glib-1.0)
JSON_LIBS   = $(call lazy,JSON_LIBS,$(PKG_CONFIG) --libs json-glib-1.0)

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wno-unused-parameter -Wstrict-prototypes \
            -Werror=implicit-function-declaration -Werror=missing-prototypes \
            -Werror=incompatible-pointer-types
# lib/ is layered (lib/README.md): core, objects, manager, ... Each layer's
# folder is on the include path, so headers are named without a folder, as
# they are once installed (flat, in include/mpkit/).
LIB_LAYERS := $(patsubst %/,%,$(sort $(dir $(wildcard lib/*/*.c lib/*/*.h))))
CPPFLAGS += -Ilib $(addprefix -I,$(LIB_LAYERS)) -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 \
            -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(GLIB_CFLAGS) -MMD -MP
LDLIBS    = $(GLIB_LIBS)

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

LIB_SRCS := $(wildcard lib/*/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
# Only the public headers are installed: mpkit.h and what it includes, and so
# on until nothing new turns up. Internal ones (mpk-*-private.h, mpk-ring.h,
# mpk-manager-proto.h...: included by lib/*/*.c and the tests, never by
# mpkit.h) stay out.
header_path = $(firstword $(wildcard $(addsuffix /$(1),lib $(LIB_LAYERS))))
header_includes = $(shell sed -n 's/^.include "\(.*\)".*/\1/p' $(foreach h,$(1),$(call header_path,$(h))))
public_headers = $(if $(filter-out $(2),$(1)),$(call public_headers,$(sort $(1) \
                   $(call header_includes,$(1))),$(1)),$(1))
HEADERS   = $(foreach h,$(call public_headers,mpkit.h),$(call header_path,$(h)))
TESTS    := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/test-*.c))
TEST_SCRIPTS := $(wildcard tests/test-*.sh)
LAB_DIRS := $(patsubst %/main.c,%,$(wildcard labs/*/main.c))
LABS     := $(patsubst %,$(BUILD)/%/lab,$(LAB_DIRS))
# A lab is every .c file of its folder (main.c and any others), linked together.
LAB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(addsuffix /*.c,$(LAB_DIRS))))
TOOLS    := $(patsubst %.c,$(BUILD)/%,$(wildcard tools/*.c)) $(BUILD)/tools/mpk-trace
TRACE_TOOL_OBJS := $(patsubst tools/mpk-trace/%.c,$(BUILD)/tools/mpk-trace.objs/%.o,$(wildcard tools/mpk-trace/*.c))
BENCHES  := $(patsubst %.c,$(BUILD)/%,$(wildcard bench/*.c))
DIAGRAMS := $(foreach ext,dot svg png,$(patsubst labs/%,diagrams/%.$(ext),$(LAB_DIRS)))
# The benchmark's twin built without the tracer's branches, to show what they cost.
NOTRACE_OBJS := $(patsubst %.c,$(BUILD)/notrace/%.o,$(LIB_SRCS))
NOTRACE_BENCH := $(BUILD)/bench/bench-mpkit-notrace
LIBA     := $(BUILD)/libmpkit.a
LIBSO    := $(BUILD)/libmpkit.so.$(API)

.PHONY: all deps check check-asan check-valgrind clang fuzz fuzz-build soak run bench diagrams \
        docs install uninstall clean
.DELETE_ON_ERROR:
.SECONDARY:

# `make` also redraws the lab diagrams (committed, so a change in a lab's
# behaviour shows in review); builds elsewhere (check-asan) leave them alone.
DIAGRAMS_IN_ALL ?= $(if $(filter build,$(BUILD)),yes,no)
all: $(LIBA) $(LIBSO) $(TESTS) $(LABS) $(TOOLS) $(BENCHES) $(NOTRACE_BENCH) \
     $(if $(filter yes,$(DIAGRAMS_IN_ALL)),$(DIAGRAMS))

deps:
	$(Q)tools/ensure-deps.sh build

$(BUILD)/lib/%.o: lib/%.c | deps
	@mkdir -p $(@D)
	$(SAY) "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -D_GNU_SOURCE -DMPK_COMPILATION -DG_LOG_DOMAIN='"mpk"' \
	  $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(@D)
	$(SAY) "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/notrace/lib/%.o: lib/%.c | deps
	@mkdir -p $(@D)
	$(SAY) "  CC      $< (no tracer)"
	$(Q)$(CC) $(CPPFLAGS) -D_GNU_SOURCE -DMPK_COMPILATION -DMPK_NO_TRACE -DG_LOG_DOMAIN='"mpk"' \
	  $(ALL_CFLAGS) -fvisibility=hidden -c -o $@ $<

$(NOTRACE_BENCH): $(BUILD)/bench/bench-mpkit.o $(NOTRACE_OBJS) | deps
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(LIBA): $(LIB_OBJS) | deps
	$(SAY) "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJS) | deps
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,$(@F) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Tests, labs, tools and benchmarks link the static library: no LD_LIBRARY_PATH needed.
# Tests may read trace files, so they get json-glib too.
$(BUILD)/tests/%.o: tests/%.c | deps
	@mkdir -p $(@D)
	$(SAY) "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(JSON_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBA) | deps
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(JSON_LIBS) $(LDLIBS)

define LAB_RULE
$(BUILD)/$(1)/lab: $(filter $(BUILD)/$(1)/%,$(LAB_OBJS)) $(LIBA) | deps
	$$(SAY) "  LD      $$@"
	$$(Q)$$(CC) $$(CFLAGS) -o $$@ $$^ $$(LDFLAGS) $$(LDLIBS)
endef
$(foreach lab,$(LAB_DIRS),$(eval $(call LAB_RULE,$(lab))))

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIBA) | deps
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# mpk-trace reads JSON with json-glib; the library itself never needs it.
$(BUILD)/tools/mpk-trace.objs/%.o: tools/mpk-trace/%.c | deps
	@mkdir -p $(@D)
	$(SAY) "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(JSON_CFLAGS) -c -o $@ $<

$(BUILD)/tools/mpk-trace: $(TRACE_TOOL_OBJS) | deps
	$(SAY) "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(JSON_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBA) | deps
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

# The whole tree (library, tests, labs, tools, benchmarks) with clang, warnings
# as errors in this build only: the CI runs it, so that clang stays as silent as gcc.
clang:
	$(Q)tools/ensure-deps.sh clang
	$(Q)$(MAKE) --no-print-directory BUILD=build/clang CC=clang DIAGRAMS_IN_ALL=no \
	  CFLAGS='-O2 -g -Werror' all

check-valgrind: all
	$(Q)tools/ensure-deps.sh valgrind
	$(Q)BUILD=$(BUILD) TEST_TIMEOUT=$(TEST_TIMEOUT) MPK_VALGRIND=1 tools/run-tests.sh $(TESTS)

# --- fuzzing -------------------------------------------------------------------

# Every tests/fuzz/fuzz-<name>.c defines LLVMFuzzerTestOneInput and is linked
# with all of lib/*/*.c, built again by clang under $(FUZZ_BUILD) with the
# fuzzer's coverage hooks and the sanitizers, so a target may call mpk__
# internals. Its seed corpus is tests/fuzz/corpus/<name>/, read only: what
# the fuzzer finds, and any crash, goes under $(FUZZ_BUILD). tools/fuzz.sh
# runs the targets FUZZ_JOBS at a time for FUZZ_TIME seconds each and fails
# if one of them crashed, hung, leaked or allocated too much.
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_JOBS    ?= 2
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   = -std=gnu11 -g -O1 -fno-omit-frame-pointer $(WARN) -Wno-missing-prototypes \
                -D_GNU_SOURCE -DMPK_COMPILATION $(CPPFLAGS) $(GLIB_CFLAGS)
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz-*.c)
FUZZERS      := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(LIB_SRCS))

$(FUZZ_BUILD)/lib/%.o: lib/%.c | deps
	@mkdir -p $(@D)
	$(SAY) "  CC      $< (fuzz)"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -DG_LOG_DOMAIN='"mpk"' -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
	  -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_LIB_OBJS) | deps
	@mkdir -p $(@D)
	$(SAY) "  FUZZER  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -MMD -MP -o $@ $< \
	  $(FUZZ_LIB_OBJS) $(GLIB_LIBS)

fuzz-build:
	$(Q)tools/ensure-deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory $(FUZZERS)

fuzz: fuzz-build
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TIME=$(FUZZ_TIME) FUZZ_JOBS=$(FUZZ_JOBS) \
	  tools/fuzz.sh $(FUZZERS)

# --- soak ------------------------------------------------------------------------

# The SIGKILL-anywhere loops of tests/test-robust.c (queues, locks, pipes,
# Manager clients and owners), MPK_SOAK times as many rounds as make check
# runs, with a timeout to match. For instructors and release checks.
MPK_SOAK ?= 20
soak: $(BUILD)/tests/test-robust
	$(Q)BUILD=$(BUILD) MPK_SOAK=$(MPK_SOAK) tools/soak.sh $(BUILD)/tests/test-robust

bench: all
	$(Q)tools/ensure-deps.sh bench
	$(Q)BUILD=$(BUILD) bench/run.sh

# --- diagrams ----------------------------------------------------------------

# Each lab, run with MPK_TRACE=all, drawn by mpk-trace in pages that fit a
# slide: diagrams/NN-slug.dot is page 1, NN-slug-p2.dot page 2, ... The
# .dot files are rewritten (and so their SVG and PNG re-rendered) only when
# the drawing changed; a stamp in $(BUILD) records that the lab was traced.
# So a fresh clone, or another Graphviz version, leaves the committed files
# alone. Page 1's SVG and PNG are targets of their own; the later pages'
# (how many there are is known only once the lab has run) are rendered
# with the stamp.
diagrams: $(DIAGRAMS)

$(BUILD)/diagrams/%.stamp: $(BUILD)/labs/%/lab $(BUILD)/tools/mpk-trace tools/lab-diagram.sh | deps
	@mkdir -p $(@D)
	$(SAY) "  TRACE   diagrams/$*.dot"
	$(Q)tools/lab-diagram.sh $(BUILD)/labs/$*/lab $(BUILD)/tools/mpk-trace $* diagrams/$*.dot
	$(Q)for page in diagrams/$*-p[0-9]*.dot; do \
	  [ -f "$$page" ] || continue; \
	  for ext in svg png; do \
	    dot -T$$ext "$$page" -o "$${page%.dot}.$$ext.tmp" \
	      && tools/replace-if-changed.sh "$${page%.dot}.$$ext.tmp" "$${page%.dot}.$$ext" || exit 1; \
	  done; \
	done
	@touch $@

diagrams/%.dot: $(BUILD)/diagrams/%.stamp ;

# SVG for the handouts; PNG for slides and viewers without SVG.
diagrams/%.svg: diagrams/%.dot | deps
	$(SAY) "  DOT     $@"
	$(Q)dot -Tsvg $< -o $@.tmp && tools/replace-if-changed.sh $@.tmp $@

diagrams/%.png: diagrams/%.dot | deps
	$(SAY) "  DOT     $@"
	$(Q)dot -Tpng $< -o $@.tmp && tools/replace-if-changed.sh $@.tmp $@

# --- documentation ----------------------------------------------------------

# The API reference, built by gtk-doc from the doc blocks of the public
# headers (HEADERS less mpkit.h itself) and of the .c files beside them, with
# the pages of docs/ (docs/build.sh says how). It fails, naming them, if a
# public symbol or parameter is undocumented, if a pointer argument or return
# value says nothing about ownership, or if the Python to mpkit page names a
# call that does not exist.
docs:
	$(Q)tools/ensure-deps.sh docs
	$(SAY) "  DOCS    $(BUILD)/docs/html/index.html"
	$(Q)MPK_VERSION=$(VERSION) docs/build.sh $(BUILD)/docs $(filter-out lib/mpkit.h,$(HEADERS))

# --- installing -------------------------------------------------------------

# mpkit.pc names libdir and includedir from ${prefix} when they are under it,
# so that a staged or moved tree works with pkg-config --define-variable=prefix=DIR.
pc_relative = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: $(LIBA) $(LIBSO)
	install -d $(DESTDIR)$(INCLUDEDIR)/mpkit $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/mpkit
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)
	ln -sf $(notdir $(LIBSO)) $(DESTDIR)$(LIBDIR)/libmpkit.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_relative,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_relative,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    mpkit.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/mpkit.pc

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/mpkit
	rm -f $(DESTDIR)$(LIBDIR)/libmpkit.* $(DESTDIR)$(LIBDIR)/pkgconfig/mpkit.pc

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(NOTRACE_OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d) $(FUZZERS:=.d) $(TESTS:=.d) $(LAB_OBJS:.o=.d) $(TOOLS:=.d) $(BENCHES:=.d) $(TRACE_TOOL_OBJS:.o=.d)
