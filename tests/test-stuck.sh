#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-stuck.sh: who is stuck (issue 16 §4). Two labs broken the way
# students break them, built here from the real labs by one edit each (the
# real labs stay as they are): lab 05 without its task_done() (the producer
# waits in join() forever, the consumer in get()), lab 09 with the
# consumer's unused write end left open (it never sees EOF, the parent
# waits to join it). tools/mpk-labtest kills each after its timeout and
# must name the blocked calls, from the trace of the run it killed. Then
# ps must show a child under its mpkit name. Prints TAP.
set -u
BUILD=${BUILD:-build}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # not_ok DESCRIPTION DETAILS-FILE
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2" | head -60
}

# The library as built (with the sanitizers it was built with).
san=
if nm "$BUILD/libmpkit.a" 2>/dev/null | grep -q '__asan_init'; then
  san='-fsanitize=address,undefined'
fi
pkgs='glib-2.0 gio-2.0 gio-unix-2.0'

# broken SLUG NEW-SLUG SED-SCRIPT: builds labs/SLUG with SED-SCRIPT applied
# as $tmp/build/labs/NEW-SLUG/lab, and its lab folder $tmp/labs/NEW-SLUG
# (the same lab.test, a 5 s timeout). Fails when the edit did not apply.
broken() {
  src=labs/$1 dst=$tmp/labs/$2 bin=$tmp/build/labs/$2
  mkdir -p "$dst" "$bin"
  sed "$3" "$src/main.c" > "$dst/main.c"
  if cmp -s "$src/main.c" "$dst/main.c"; then
    echo "the edit '$3' does not apply to $src/main.c any more" > "$tmp/err"
    return 1
  fi
  sed 's/^timeout=.*/timeout=5/' "$src/lab.test" > "$dst/lab.test"
  cp "$src/expected.txt" "$dst/"
  # shellcheck disable=SC2046,SC2086
  $CC -std=gnu11 -g $san -I"$src" -Ilabs -Ilib -Ilib/core -Ilib/objects -Ilib/manager \
    -Ilib/messaging $(pkg-config --cflags $pkgs) -o "$bin/lab" "$dst/main.c" \
    "$BUILD/libmpkit.a" $(pkg-config --libs $pkgs) -lm -lpthread 2> "$tmp/err"
}

mkdir -p "$tmp/build/tools"
ln -s "$(cd "$BUILD/tools" && pwd)/mpk-trace" "$tmp/build/tools/mpk-trace"

# check NAME EXPECTED-LINE...: mpk-labtest on the broken lab times out and
# its report holds each expected line.
check() {
  name=$1
  shift
  BUILD=$tmp/build "$BUILD/tools/mpk-labtest" "$tmp/labs/$name" > "$tmp/report" 2>&1
  status=$?
  missing=
  grep -q '^# TIMEOUT' "$tmp/report" || missing="$missing '# TIMEOUT'"
  for line in "$@"; do
    grep -qF -- "$line" "$tmp/report" || missing="$missing '$line'"
  done
  if [ "$status" -ne 0 ] && [ -z "$missing" ]; then
    ok "$name: the checker's report names the blocked calls"
  else
    { echo "expected mpk-labtest to fail (status $status) with:$missing"
      echo "its report:"; cat "$tmp/report"; } > "$tmp/err"
    not_ok "$name: the checker's report names the blocked calls" "$tmp/err"
  fi
}

# Lab 05 without task_done(): join() never returns.
if broken 05-joinable-queue 05-no-task-done \
     's|LAB_CHECK (mpk_queue_task_done (input_q, &error));|/* task_done() forgotten */|'; then
  check 05-no-task-done '#   MainProcess: in join(queue#1) since step' \
                        '#   consumer: in get(queue#1) since step'
else
  not_ok "05-no-task-done: builds" "$tmp/err"
fi

# Lab 09 with the consumer's copy of the write end left open: no EOF.
if broken 09-pipe-eof 09-end-left-open \
     's|^    mpk_connection_close (ends->input_p);|    ; /* the unused end left open */|'; then
  check 09-end-left-open '#   MainProcess: in join(consumer) since step' \
                         '#   consumer: in recv(pipe#1 end 1) since step'
else
  not_ok "09-end-left-open: builds" "$tmp/err"
fi

# ps shows a child under its name (the kernel's comm), not the program's.
if [ -x "$tmp/build/labs/05-no-task-done/lab" ]; then
  # It hangs (no task_done): killed below; its daemon child follows it.
  "$tmp/build/labs/05-no-task-done/lab" > /dev/null 2>&1 &
  lab=$!
  seen=
  # Right after fork the child still has its parent's name: look again
  # (at most 10 s, only against a hang).
  for _ in $(seq 1 100); do
    seen=$(ps -o comm= --ppid "$lab" 2> /dev/null | head -n 1)
    [ "$seen" = consumer ] && break
    sleep 0.1
  done
  kill -KILL "$lab" 2> /dev/null
  wait "$lab" 2> /dev/null
  if [ "$seen" = consumer ]; then
    ok "ps shows the child as 'consumer'"
  else
    echo "expected ps -o comm to show 'consumer' for lab 05's child, got '$seen'" > "$tmp/err"
    not_ok "ps shows the child as 'consumer'" "$tmp/err"
  fi
else
  not_ok "ps shows the child as 'consumer' (lab not built)"
fi

echo "1..$n"
exit $failed
