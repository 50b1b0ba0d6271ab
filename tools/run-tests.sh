#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-tests.sh ITEM...: run test programs that print TAP, each under a timeout, and
# end with the line "N passed, N failed" (N counts TAP test points).
#   ITEM: a test binary, a tests/*.sh script, or lab:labs/NN-slug (a lab test)
# Environment: BUILD (build folder), TEST_TIMEOUT (seconds per item, default 300),
#   MPK_VALGRIND=1 (run binaries under valgrind memcheck),
#   MPK_LEFTOVER_GRACE (seconds a process may take to go after its item ends, default 10),
#   MPK_SHM_DIR (the folder checked as /dev/shm; tests/test-runner.sh points it
#   elsewhere so that its fake litter cannot be blamed on another run's items),
#   TEST_SHOW (an extended regex: lines of each item's output to print even when it
#   passes, e.g. '^# [a-z-]+: ' for the robustness loops' summaries).
#
# Nothing may be left behind. The items run with TMPDIR set to a private folder
# made for this run, each in its own process group (timeout(1) makes one) and
# with MPK_CHECK_ITEM=<run>.<n> in its environment. After each item, whatever
# it left fails it, named: an entry in that TMPDIR (a Manager's
# mpk-manager-* folder, a test's mpk-test-*), a new entry in /dev/shm, or a
# process still alive or a zombie (found by its process group, or by the
# environment marker if it moved to a group of its own). Processes get
# MPK_LEFTOVER_GRACE seconds to finish dying first (a daemonic child ends on
# its parent's death, not at the same instant). The leftovers are then
# removed and killed, so the next item starts clean.
set -u
BUILD=${BUILD:-build}
T=${TEST_TIMEOUT:-300}
GRACE=${MPK_LEFTOVER_GRACE:-10}
SHM=${MPK_SHM_DIR:-/dev/shm}
pass=0 fail=0 leftover_items=0
log=$(mktemp)
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpkit-check.XXXXXX")
run_id=$$.$(date +%s)
shm_before=$(mktemp)
trap 'rm -f "$log" "$shm_before"; rm -rf "$run_tmp"' EXIT
pgid=
# Interrupted: the item runs in a group of its own, which the terminal's ^C
# does not reach, so end it here.
trap '[ -n "$pgid" ] && kill -TERM -- "-$pgid" 2>/dev/null; exit 130' INT TERM

# procs_of PGID MARK: "pid state name" of every process in group PGID, or whose
# environment holds MARK (a process that left the group with setsid/setpgid).
procs_of() {
  marked=$(grep -lszx -- "MPK_CHECK_ITEM=$2" /proc/[0-9]*/environ 2>/dev/null |
           sed 's|^/proc/||; s|/environ$||' | tr '\n' ' ')
  for d in /proc/[0-9]*; do
    { read -r st < "$d/stat"; } 2>/dev/null || continue   # gone meanwhile
    pid=${d#/proc/}
    name=${st#*\(}; name=${name%\)*}
    rest=${st##*) }
    # rest: state ppid pgrp ...
    state=${rest%% *}; rest=${rest#* }; rest=${rest#* }; pgrp=${rest%% *}
    case " $marked " in
      *" $pid "*) echo "$pid $state $name" ;;
      *) [ "$pgrp" = "$1" ] && echo "$pid $state $name" ;;
    esac
  done
}

# describe_procs: one line per "pid state name" on stdin, with its command line.
describe_procs() {
  while read -r pid state name; do
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
    ppid=$(sed 's/.*) [A-Za-z] \([0-9]*\) .*/\1/' "/proc/$pid/stat" 2>/dev/null)
    case $state in
      Z) what="zombie" ;;
      *) what="process" ;;
    esac
    echo "  $what $pid ($name, parent ${ppid:-?}): ${cmd:-?}"
  done
}

# check_leftovers ITEM PGID MARK: prints what ITEM left behind (nothing if
# clean), then removes and kills it.
check_leftovers() {
  procs=$(procs_of "$2" "$3")
  waited=0
  while [ -n "$procs" ] && [ "$waited" -lt $((GRACE * 10)) ]; do
    sleep 0.1
    waited=$((waited + 1))
    procs=$(procs_of "$2" "$3")
  done
  if [ -n "$procs" ]; then
    echo "left running after ${GRACE}s:"
    echo "$procs" | describe_procs
    echo "$procs" | while read -r pid state name; do kill -KILL "$pid" 2>/dev/null; done
    kill -KILL -- "-$2" 2>/dev/null
  fi
  files=$(ls -A "$run_tmp")
  if [ -n "$files" ]; then
    echo "left in TMPDIR ($run_tmp):"
    echo "$files" | sed 's/^/  /'
    find "$run_tmp" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  fi
  if [ -d "$SHM" ]; then
    new=$(ls -A "$SHM" | LC_ALL=C sort | LC_ALL=C comm -13 "$shm_before" -)
    if [ -n "$new" ]; then
      echo "left in $SHM:"
      echo "$new" | sed "s|^|  $SHM/|"
      # Left as they are: another program may own them. Remembered, so that
      # only the item that made an entry is blamed for it.
      ls -A "$SHM" | LC_ALL=C sort > "$shm_before"
    fi
  fi
}

[ -d "$SHM" ] && ls -A "$SHM" | LC_ALL=C sort > "$shm_before"
n=0
for item in "$@"; do
  n=$((n + 1))
  case $item in
    lab:*)  set -- "$BUILD/tools/mpk-labtest" "${item#lab:}" ;;
    *.sh)   set -- sh "$item" ;;
    *)      if [ "${MPK_VALGRIND:-0}" = 1 ]; then
              # Memory errors fail in every process (exit 99). Leaks are only
              # meaningful in the test process itself: a forked child holds
              # the parent's whole heap when it _exit()s. Children are silent,
              # so a "definitely lost" record in the log is the parent's.
              # --vgdb=no: a SIGKILLed process would leave its vgdb FIFOs in TMPDIR.
              set -- valgrind -q --error-exitcode=99 --leak-check=full \
                --show-leak-kinds=definite --errors-for-leak-kinds=none \
                --child-silent-after-fork=yes --vgdb=no \
                --suppressions="$PWD/tests/valgrind.supp" "$item"
            else
              set -- "$item"
            fi ;;
  esac
  mark=$run_id.$n
  # -k: a test that ignores SIGTERM is killed 5 s later; nothing can hang the run.
  # timeout runs in the background so that its pid (the item's process group,
  # which timeout makes) is known here.
  BUILD=$BUILD G_SLICE=always-malloc TMPDIR=$run_tmp MPK_CHECK_ITEM=$mark \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
  ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout -k 5 "$T" "$@" >"$log" 2>&1 </dev/null &
  pgid=$!
  wait "$pgid"
  rc=$?
  left=$(check_leftovers "$item" "$pgid" "$mark")
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
  if [ -n "$left" ]; then
    # Counted as one failure of the item, whatever its test points said.
    [ "$status" = ok ] && fail=$((fail + 1))
    status="$status, LEFT THINGS BEHIND"
    leftover_items=$((leftover_items + 1))
    echo "--- $item: left things behind"
    echo "$left"
  fi
  [ -n "${TEST_SHOW:-}" ] && grep -E -- "$TEST_SHOW" "$log"
  printf '%-44s %s (%d ok, %d not ok)\n' "$item" "$status" "$ok" "$bad"
done
if [ "$leftover_items" -eq 0 ]; then
  echo "leftovers: none (TMPDIR, /dev/shm, processes)"
else
  echo "leftovers: $leftover_items item(s) left things behind, see above"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
