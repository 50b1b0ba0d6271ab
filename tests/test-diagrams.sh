#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-diagrams.sh: every lab's diagram, three checks per lab. Prints TAP.
# A stable lab (diagram=stable, the default in lab.test), traced five times
# in a row, draws the same DOT (causal order does not depend on scheduling),
# that DOT is the committed diagrams/NN-slug.dot, and Graphviz reads it
# without a warning. A lab whose drawing depends on scheduling
# (diagram=varies: which consumer takes which item) is traced five times
# too, but each run must have the committed signature diagrams/NN-slug.sig
# (mpk-trace signature), tools/lab-diagram.sh must leave the committed DOT
# as it is, and Graphviz must read that DOT without a warning. A diagram
# is one or more pages (NN-slug.dot, NN-slug-p2.dot, ...): every check
# holds for all of them, and a fourth says each committed page fits a
# 16:9 slide: its PNG at most 1280x720 px (so it is shown at full size)
# and no text in it under 9 pt (12 px at 96 dpi).
set -u
BUILD=${BUILD:-build}
tool=$BUILD/tools/mpk-trace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
# MPK_DIAGRAM_LABS="labs/04-queue-squares ...": only those labs.
labs=${MPK_DIAGRAM_LABS:-$(ls -d labs/[0-9][0-9]-*/ | sed 's|/$||')}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # not_ok DESCRIPTION DETAILS-FILE
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2" | head -40
}

# pages STEM: the page files of a drawing (STEM.dot, STEM-p2.dot, ...).
pages() {
  echo "$1.dot"
  k=2
  while [ -f "$1-p$k.dot" ]; do
    echo "$1-p$k.dot"
    k=$((k + 1))
  done
}

# joined STEM: every page of a drawing, one after the other, each after a
# line "=== pK": what two drawings are compared by.
joined() {
  k=1
  for page in $(pages "$1"); do
    echo "=== p$k"
    cat "$page" 2> /dev/null
    k=$((k + 1))
  done
}

all_same() { # all_same NAME: runs 2..5 equal run 1; the first difference goes to $tmp/err
  joined "$tmp/$1.1" > "$tmp/$1.1.all"
  for i in 2 3 4 5; do
    joined "$tmp/$1.$i" > "$tmp/$1.$i.all"
    diff -u "$tmp/$1.1.all" "$tmp/$1.$i.all" > "$tmp/err" || return 1
  done
}

# mode LAB: the lab's diagram= key (as tools/lab-diagram.sh reads it).
mode() {
  value=$(sed -n 's/^[[:space:]]*diagram[[:space:]]*=[[:space:]]*//p' "$1/lab.test" 2>/dev/null | tail -n 1)
  echo "${value:-stable}"
}

stable_checks() { # stable_checks LAB NAME
  runs_ok=1
  for i in 1 2 3 4 5; do
    if ! tools/lab-diagram.sh "$BUILD/$1/lab" "$tool" "$2" "$tmp/$2.$i.dot" 2> "$tmp/err"; then
      runs_ok=0
      break
    fi
  done
  if [ $runs_ok = 1 ] && all_same "$2"; then
    ok "$2: five traced runs draw the same DOT"
  else
    not_ok "$2: five traced runs draw the same DOT" "$tmp/err"
  fi
  joined "diagrams/$2" > "$tmp/$2.committed.all"
  if [ -f "$tmp/$2.1.dot" ] && diff -u "$tmp/$2.committed.all" "$tmp/$2.1.all" > "$tmp/diff" 2>&1; then
    ok "$2: the DOT is the committed diagrams/$2.dot"
  else
    echo "expected diagrams/$2.dot (committed), got the new drawing; run 'make diagrams' if the change is intended" >> "$tmp/diff"
    not_ok "$2: the DOT is the committed diagrams/$2.dot" "$tmp/diff"
  fi
}

# Each run starts from copies of the committed DOT and signature, as `make`
# on a fresh clone does: lab-diagram.sh keeps both when the run's signature
# is the same, and rewrites both otherwise.
varies_checks() { # varies_checks LAB NAME
  : > "$tmp/sigdiff"
  : > "$tmp/dotdiff"
  sig_ok=1 dot_ok=1
  if [ ! -f "diagrams/$2.dot" ] || [ ! -f "diagrams/$2.sig" ]; then
    echo "diagrams/$2.dot or diagrams/$2.sig is missing; run 'make diagrams'" > "$tmp/sigdiff"
    cp "$tmp/sigdiff" "$tmp/dotdiff"
    sig_ok=0 dot_ok=0
  fi
  for i in 1 2 3 4 5; do
    [ -f "diagrams/$2.dot" ] && [ -f "diagrams/$2.sig" ] || break
    for page in $(pages "diagrams/$2"); do
      cp "$page" "$tmp/$2.$i${page#diagrams/$2}"
    done
    cp "diagrams/$2.sig" "$tmp/$2.$i.sig"
    if ! tools/lab-diagram.sh "$BUILD/$1/lab" "$tool" "$2" "$tmp/$2.$i.dot" 2> "$tmp/err"; then
      sig_ok=0 dot_ok=0
      cp "$tmp/err" "$tmp/sigdiff"
      cp "$tmp/err" "$tmp/dotdiff"
      break
    fi
    if [ $sig_ok = 1 ] && ! diff -u "diagrams/$2.sig" "$tmp/$2.$i.sig" > "$tmp/sigdiff" 2>&1; then
      echo "run $i: expected the committed diagrams/$2.sig, got the new signature; run 'make diagrams' if the change is intended" >> "$tmp/sigdiff"
      sig_ok=0
    fi
    joined "$tmp/$2.$i" > "$tmp/cur.all"
    if [ $dot_ok = 1 ] && ! joined "diagrams/$2" | cmp -s - "$tmp/cur.all"; then
      echo "run $i: tools/lab-diagram.sh rewrote the DOT (see the signature's check)" > "$tmp/dotdiff"
      dot_ok=0
    fi
  done
  if [ $sig_ok = 1 ]; then
    ok "$2: five traced runs have the committed signature diagrams/$2.sig (diagram=varies)"
  else
    not_ok "$2: five traced runs have the committed signature diagrams/$2.sig (diagram=varies)" "$tmp/sigdiff"
  fi
  if [ $dot_ok = 1 ]; then
    ok "$2: lab-diagram.sh keeps the committed diagrams/$2.dot"
  else
    not_ok "$2: lab-diagram.sh keeps the committed diagrams/$2.dot" "$tmp/dotdiff"
  fi
}

# png_size FILE: "W H" from the PNG header (big-endian words at 16 and 20).
png_size() {
  od -An -tu1 -j16 -N8 "$1" 2> /dev/null \
    | awk '{ printf "%d %d\n", (($1*256+$2)*256+$3)*256+$4, (($5*256+$6)*256+$7)*256+$8 }'
}

# size_check NAME: every committed page fits a 16:9 slide at full size.
size_check() {
  : > "$tmp/size"
  for page in $(pages "diagrams/$1"); do
    png=${page%.dot}.png
    if [ ! -f "$png" ]; then
      echo "$png is missing (run 'make diagrams')" >> "$tmp/size"
      continue
    fi
    wh=$(png_size "$png")
    w=${wh% *} h=${wh#* }
    if [ "${w:-0}" -eq 0 ] || [ "$w" -gt 1280 ] || [ "$h" -gt 720 ]; then
      echo "$png is ${w}x$h px; expected at most 1280x720 (a 16:9 slide at full size)" >> "$tmp/size"
    fi
    small=$(grep -o 'fontsize=[0-9.]*\|point-size=\\*"[0-9.]*' "$page" | grep -o '[0-9.]*$' \
              | sort -n | head -n 1)
    if [ -n "$small" ] && awk -v s="$small" 'BEGIN { exit !(s < 9) }'; then
      echo "$page has $small-pt text; expected at least 9 pt (12 px at 96 dpi)" >> "$tmp/size"
    fi
  done
  if [ ! -s "$tmp/size" ]; then
    ok "$1: every page fits a 1280x720 slide with text of 12 px or more"
  else
    not_ok "$1: every page fits a 1280x720 slide with text of 12 px or more" "$tmp/size"
  fi
}

echo "1..$(( $(echo "$labs" | wc -w) * 4 ))"
for lab in $labs; do
  name=${lab#labs/}
  case $(mode "$lab") in
    stable) stable_checks "$lab" "$name" ;;
    varies) varies_checks "$lab" "$name" ;;
    *) echo "$lab/lab.test: diagram must be stable or varies" > "$tmp/err"
       not_ok "$name: five traced runs draw the same DOT" "$tmp/err"
       not_ok "$name: the DOT is the committed diagrams/$name.dot" "$tmp/err" ;;
  esac
  : > "$tmp/dot.err"
  for page in $(pages "diagrams/$name"); do
    dot -Tsvg "$page" -o /dev/null >> "$tmp/dot.err" 2>&1 || echo "dot failed on $page" >> "$tmp/dot.err"
  done
  if [ ! -s "$tmp/dot.err" ]; then
    ok "$name: dot -Tsvg reads it without warnings"
  else
    not_ok "$name: dot -Tsvg reads it without warnings" "$tmp/dot.err"
  fi
  size_check "$name"
done
exit $failed
