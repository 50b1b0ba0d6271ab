#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-tests.sh ITEM...: run test programs that print TAP, each under a timeout, and
# end with the line "N passed, N failed" (N counts TAP test points).
#   ITEM: a test binary, a tests/*.sh script, or lab:labs/NN-slug (a lab test)
# Environment: BUILD (build folder), TEST_TIMEOUT (seconds per item, default 300),
#   MPK_VALGRIND=1 (run binaries under valgrind memcheck).
set -u
BUILD=${BUILD:-build}
T=${TEST_TIMEOUT:-300}
pass=0 fail=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

for item in "$@"; do
  case $item in
    lab:*)  set -- "$BUILD/tools/mpk-labtest" "${item#lab:}" ;;
    *.sh)   set -- sh "$item" ;;
    *)      if [ "${MPK_VALGRIND:-0}" = 1 ]; then
              # Memory errors fail in every process (exit 99). Leaks are only
              # meaningful in the test process itself: a forked child holds
              # the parent's whole heap when it _exit()s. Children are silent,
              # so a "definitely lost" record in the log is the parent's.
              set -- valgrind -q --error-exitcode=99 --leak-check=full \
                --show-leak-kinds=definite --errors-for-leak-kinds=none \
                --child-silent-after-fork=yes \
                --suppressions="$PWD/tests/valgrind.supp" "$item"
            else
              set -- "$item"
            fi ;;
  esac
  # -k: a test that ignores SIGTERM is killed 5 s later; nothing can hang the run.
  BUILD=$BUILD G_SLICE=always-malloc \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
  ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout -k 5 "$T" "$@" >"$log" 2>&1
  rc=$?
  if [ "${MPK_VALGRIND:-0}" = 1 ] && [ $rc -eq 0 ] && grep -q 'definitely lost' "$log"; then
    rc=99
  fi
  ok=$(grep -c '^ok ' "$log")
  bad=$(grep -c '^not ok ' "$log")
  pass=$((pass + ok))
  fail=$((fail + bad))
  status="ok"
  if [ $rc -ne 0 ] || [ "$bad" -ne 0 ] || [ "$ok" -eq 0 ]; then
    status="FAIL (exit $rc)"
    [ $rc -eq 124 ] && status="TIMEOUT after ${T}s"
    # A crash or timeout that hid test points still counts as one failure.
    [ "$bad" -eq 0 ] && fail=$((fail + 1))
    echo "--- $item: $status"
    grep -v '^ok ' "$log" | tail -n 40
  fi
  printf '%-44s %s (%d ok, %d not ok)\n' "$item" "$status" "$ok" "$bad"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
