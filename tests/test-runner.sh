#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-runner.sh: the self-test of tools/run-tests.sh's leftover check. Prints TAP.
# Fake test items (small shell scripts that print "ok 1") each leave one kind
# of litter; the runner must fail exactly those items, name what was left,
# and clean it up: an entry in its TMPDIR, a /dev/shm entry, a process still
# running, a zombie, and a process that moved to a process group of its own.
# A clean item must pass.
set -u
tmp=$(mktemp -d)
# A stand-in for /dev/shm: the real one is shared with every other run on the
# machine, whose leftover checks would blame our fake entry on their items.
mkdir "$tmp/shm"
shm=$tmp/shm/mpk-runner-selftest
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # not_ok DESCRIPTION DETAILS-FILE
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2" | head -40
}

item() { # item NAME BODY: a fake test item that runs BODY and passes
  printf '#!/bin/sh\n%s\necho "ok 1 - %s"\n' "$2" "$1" > "$tmp/$1.sh"
}

item clean      ':'
item tmpfile    'mkdir "${TMPDIR:-/tmp}/mpk-manager-selftest"'
item shm        ": > $shm"
item stray      'sleep 300 >/dev/null 2>&1 &'
# The child of the exec'd sleep is never reaped: a zombie while its parent runs.
item zombie     'sh -c "true & exec sleep 300" >/dev/null 2>&1 &'
item escaped    'setsid sleep 300 >/dev/null 2>&1 &'

MPK_LEFTOVER_GRACE=1 MPK_SHM_DIR=$tmp/shm sh tools/run-tests.sh "$tmp/clean.sh" "$tmp/tmpfile.sh" "$tmp/shm.sh" \
  "$tmp/stray.sh" "$tmp/zombie.sh" "$tmp/escaped.sh" > "$tmp/out" 2>&1
rc=$?

# expect DESCRIPTION PATTERN: a line of the runner's output matches PATTERN.
expect() {
  if grep -q -- "$2" "$tmp/out"; then ok "$1"; else not_ok "$1" "$tmp/out"; fi
}

if [ $rc -ne 0 ]; then ok "the runner fails a run that left things"; else not_ok "the runner fails a run that left things (it exited 0)" "$tmp/out"; fi
expect "a clean item passes" "clean.sh  *ok (1 ok"
expect "an item's TMPDIR entry fails it" "tmpfile.sh .*LEFT THINGS BEHIND"
expect "the TMPDIR entry is named" "^  mpk-manager-selftest$"
expect "an item's /dev/shm entry fails it" "shm.sh .*LEFT THINGS BEHIND"
expect "the /dev/shm entry is named" "^  $shm$"
expect "a process left running fails its item" "stray.sh .*LEFT THINGS BEHIND"
expect "the process is named" "process [0-9]* (sleep, parent"
expect "a zombie fails its item" "zombie.sh .*LEFT THINGS BEHIND"
expect "the zombie is named" "zombie [0-9]* (true\|zombie [0-9]* (sh"
expect "a process that left the item's group is found" "escaped.sh .*LEFT THINGS BEHIND"
expect "the count says 5 items left things" "^leftovers: 5 item(s)"
expect "5 failures in all" "^6 passed, 5 failed$"
# Everything the fake items started is gone (the runner killed it; a
# zombie goes when its killed parent does).
pids=$(sed -n 's/^  [a-z]* \([0-9][0-9]*\) (.*/\1/p' "$tmp/out")
alive=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  alive=""
  for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
  [ -z "$alive" ] && break
  sleep 0.1
done
if [ -n "$pids" ] && [ -z "$alive" ]; then
  ok "the leftover processes were killed"
else
  echo "named: ${pids:-none}; still alive:$alive" > "$tmp/alive"
  not_ok "the leftover processes were killed" "$tmp/alive"
fi
echo "1..$n"
exit $failed
