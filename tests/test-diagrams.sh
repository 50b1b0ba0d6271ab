#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-diagrams.sh: every lab, traced five times in a row, draws the same DOT
# (causal order does not depend on scheduling), that DOT is the committed
# diagrams/NN-slug.dot, and Graphviz reads it without a warning. Prints TAP.
set -u
BUILD=${BUILD:-build}
tool=$BUILD/tools/mpk-trace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
labs=$(ls -d labs/[0-9][0-9]-*/ | sed 's|/$||')

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # not_ok DESCRIPTION DETAILS-FILE
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2" | head -40
}

all_same() { # all_same NAME: runs 2..5 equal run 1; the first difference goes to $tmp/err
  for i in 2 3 4 5; do
    diff -u "$tmp/$1.1.dot" "$tmp/$1.$i.dot" > "$tmp/err" || return 1
  done
}

echo "1..$(( $(echo "$labs" | wc -l) * 3 ))"
for lab in $labs; do
  name=${lab#labs/}
  runs_ok=1
  for i in 1 2 3 4 5; do
    if ! tools/lab-diagram.sh "$BUILD/$lab/lab" "$tool" "$name" "$tmp/$name.$i.dot" 2> "$tmp/err"; then
      runs_ok=0
      break
    fi
  done
  if [ $runs_ok = 1 ] && all_same "$name"; then
    ok "$name: five traced runs draw the same DOT"
  else
    not_ok "$name: five traced runs draw the same DOT" "$tmp/err"
  fi
  if [ -f "$tmp/$name.1.dot" ] && diff -u "diagrams/$name.dot" "$tmp/$name.1.dot" > "$tmp/diff" 2>&1; then
    ok "$name: the DOT is the committed diagrams/$name.dot"
  else
    echo "expected diagrams/$name.dot (committed), got the new drawing; run 'make diagrams' if the change is intended" >> "$tmp/diff"
    not_ok "$name: the DOT is the committed diagrams/$name.dot" "$tmp/diff"
  fi
  if dot -Tsvg "diagrams/$name.dot" -o /dev/null > "$tmp/dot.err" 2>&1 && [ ! -s "$tmp/dot.err" ]; then
    ok "$name: dot -Tsvg reads it without warnings"
  else
    not_ok "$name: dot -Tsvg reads it without warnings" "$tmp/dot.err"
  fi
done
exit $failed
