#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# lab-diagram.sh LAB-BINARY MPK-TRACE NAME OUT.dot: runs one lab with
# MPK_TRACE=all in a fresh folder and draws its message-flow diagram, in
# pages that fit a slide (OUT.dot, OUT-p2.dot, ...; see below). The
# drawing uses causal order and no pids or times, so a lab whose processes
# cannot take each other's work gives the same DOT on every run
# (tests/test-diagrams.sh checks it).
#
# NAME is the lab's directory under labs/ (NN-slug). When its lab.test says
# diagram=varies (who takes which item depends on scheduling), the DOT is
# kept while the run's signature equals the one saved beside it, OUT.sig; a
# new signature, or a missing file, rewrites both. The signature is
# `mpk-trace signature` and a last line "# drawing: …", a checksum of what
# this mpk-trace draws for the fixed trace in tools/mpk-trace/reference/: so
# a change in how diagrams are drawn redraws these labs too. For
# diagram=stable (the default), OUT.dot is rewritten when it differs and a
# leftover OUT.sig is removed.
set -eu
lab=$1 tool=$2 name=$3 out=$4
sig=${out%.dot}.sig
test_file=$(dirname "$0")/../labs/$name/lab.test
mode=stable
if [ -f "$test_file" ]; then
  # The key's last value wins, as in GKeyFile; spaces around '=' are allowed.
  value=$(sed -n 's/^[[:space:]]*diagram[[:space:]]*=[[:space:]]*//p' "$test_file" | tail -n 1)
  mode=${value:-stable}
fi
case $mode in
  stable|varies) ;;
  *) echo "lab-diagram.sh: $test_file: diagram must be stable or varies, not '$mode'" >&2
     exit 1 ;;
esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! MPK_TRACE=all MPK_TRACE_DIR="$dir/trace" timeout -k 5 60 "$lab" > "$dir/stdout" 2> "$dir/stderr"; then
  echo "lab-diagram.sh: $lab failed:" >&2
  cat "$dir/stderr" >&2
  exit 1
fi
# Pages that fit a 16:9 slide (issue 16 §3): drawn at 96 dpi, a page stays
# within 1280x720 px with its 9-pt text (12 px) at full size. That is 15
# rows for a story of one page, 14 for a page that repeats the headers of
# the lanes still running and ends in "↓ p2"; a longer story is cut into
# pages of even length. Page 1 is OUT.dot, page K OUT-pK.dot. The whole
# story, never cut short.
one_page=${MPK_DIAGRAM_ONE_PAGE:-15}
per_page=${MPK_DIAGRAM_ROWS:-14}
"$tool" dot --max-rows=0 --title="$name" "$dir/trace" > "$dir/all.dot"
total=$(sed -n 's/.*fontcolor=gray50, label="\([0-9]*\)"\];$/\1/p' "$dir/all.dot" | sort -n | tail -n 1)
total=${total:-0}
if [ "$total" -le "$one_page" ]; then
  rows=0
else
  n_pages=$(( (total + per_page - 1) / per_page ))
  rows=$(( (total + n_pages - 1) / n_pages ))
fi
stem=${out%.dot}
"$tool" dot --max-rows="$rows" --title="$name" -o "$dir/out.dot" "$dir/trace" 2> "$dir/dot.err" \
  || { cat "$dir/dot.err" >&2; exit 1; }
if [ -f "$dir/out-p1.dot" ]; then
  mv "$dir/out-p1.dot" "$dir/out.dot"
fi
# install: the new pages replace the drawing; pages it no longer has go,
# with their SVG and PNG. An unchanged page is left alone (make then
# leaves its SVG and PNG alone too).
install() {
  k=2
  cmp -s "$dir/out.dot" "$out" 2>/dev/null || cp "$dir/out.dot" "$out"
  while [ -f "$dir/out-p$k.dot" ]; do
    cmp -s "$dir/out-p$k.dot" "$stem-p$k.dot" 2>/dev/null || cp "$dir/out-p$k.dot" "$stem-p$k.dot"
    k=$((k + 1))
  done
  while [ -f "$stem-p$k.dot" ]; do
    rm -f "$stem-p$k.dot" "$stem-p$k.svg" "$stem-p$k.png"
    k=$((k + 1))
  done
}
if [ "$mode" = stable ]; then
  install
  rm -f "$sig"
  exit 0
fi
"$tool" dot --title=reference "$(dirname "$0")/mpk-trace/reference" > "$dir/reference.dot"
drawing=$(cksum < "$dir/reference.dot")
{
  "$tool" signature "$dir/trace"
  echo "# drawing: $drawing (cksum of mpk-trace dot tools/mpk-trace/reference), pages of $one_page/$per_page rows"
} > "$dir/out.sig"
# Another run of the same behaviour draws another DOT: keep the committed one.
if [ -f "$out" ] && cmp -s "$dir/out.sig" "$sig" 2>/dev/null; then
  exit 0
fi
install
cp "$dir/out.sig" "$sig"
