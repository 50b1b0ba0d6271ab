#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz.sh FUZZER...: run libFuzzer targets built by `make fuzz`, FUZZ_JOBS at a
# time, FUZZ_TIME seconds each, and fail if any of them found a problem.
#   FUZZER: $(FUZZ_BUILD)/fuzz-<name>; its seed corpus is tests/fuzz/corpus/<name>/
# Environment: FUZZ_BUILD (where the targets, new inputs, logs and crash
#   artifacts go; default build/fuzz), FUZZ_TIME (seconds per target, default
#   60), FUZZ_JOBS (targets at once, default 2),
#   FUZZ_ARGS (more libFuzzer options for every target).
# A target may add options of its own in tests/fuzz/fuzz-<name>.options (one
# line, e.g. "-max_len=65536").
#
# The committed corpus is only read: libFuzzer writes the inputs it finds to
# $FUZZ_BUILD/corpus/<name>/ (its first folder) and a crashing, hanging or
# leaking input to $FUZZ_BUILD/artifacts/<name>/, named on failure with the
# command that replays it. Options common to all targets: inputs up to 16 KiB,
# a hang is an input that takes 10 s (-timeout), and no single allocation may
# reach 64 MiB (-malloc_limit_mb): the library must allocate for the bytes
# that arrived, not for the length a peer claimed.
set -u
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
COMMON="-max_len=16384 -timeout=10 -malloc_limit_mb=64 -rss_limit_mb=2048 -print_final_stats=1"
status_dir=$(mktemp -d)
trap 'rm -rf "$status_dir"' EXIT

# run_one FUZZER: runs it and leaves its exit status in $status_dir/<name>.
run_one() {
  name=${1##*/fuzz-}
  corpus=$FUZZ_BUILD/corpus/$name
  artifacts=$FUZZ_BUILD/artifacts/$name
  logf=$FUZZ_BUILD/logs/$name.log
  extra=""
  [ -f "tests/fuzz/fuzz-$name.options" ] && extra=$(cat "tests/fuzz/fuzz-$name.options")
  seeds=""
  [ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
  mkdir -p "$corpus" "$artifacts" "$FUZZ_BUILD/logs"
  # shellcheck disable=SC2086
  # handle_sigtrap: g_error() and fatal criticals end in a breakpoint trap,
  # which libFuzzer alone would not report (no crash artifact).
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:handle_sigtrap=1 \
  G_DEBUG=fatal-criticals \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  G_SLICE=always-malloc TMPDIR=$status_dir \
  "$1" $COMMON $extra ${FUZZ_ARGS:-} -max_total_time="$FUZZ_TIME" \
    -artifact_prefix="$artifacts/" "$corpus" $seeds \
    >"$logf" 2>&1 </dev/null
  echo $? > "$status_dir/$name"
}

running=0
for f in "$@"; do
  if [ ! -x "$f" ]; then
    echo "fuzz.sh: $f is not built" >&2
    exit 2
  fi
  run_one "$f" &
  running=$((running + 1))
  if [ "$running" -ge "$FUZZ_JOBS" ]; then
    wait
    running=0
  fi
done
wait

failed=0
for f in "$@"; do
  name=${f##*/fuzz-}
  rc=$(cat "$status_dir/$name" 2>/dev/null || echo "?")
  logf=$FUZZ_BUILD/logs/$name.log
  stats=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$logf" | tail -n 1)
  corpus_n=$(ls "tests/fuzz/corpus/$name" 2>/dev/null | wc -l)
  if [ "$rc" = 0 ]; then
    printf '%-16s ok (%s runs in %ss, %s, %s seed inputs)\n' "$name" "${stats:-?}" "$FUZZ_TIME" \
      "${cov:-cov: ?}" "$corpus_n"
  else
    failed=$((failed + 1))
    echo "--- $name: FAILED (exit $rc); the end of $logf:"
    grep -v '^#[0-9]' "$logf" | tail -n 60
    for a in "$FUZZ_BUILD/artifacts/$name"/*; do
      # fast_unwind_on_malloc=0: whole stacks through GLib (built without frame pointers).
      [ -f "$a" ] && echo "replay: ASAN_OPTIONS=handle_sigtrap=1:fast_unwind_on_malloc=0 $f $a"
    done
    printf '%-16s FAILED (exit %s)\n' "$name" "$rc"
  fi
done
echo "$(($# - failed)) fuzz targets passed, $failed failed"
[ "$failed" -eq 0 ]
