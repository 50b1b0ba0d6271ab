#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# lab-diagram.sh LAB-BINARY MPK-TRACE NAME OUT.dot: runs one lab with
# MPK_TRACE=all in a fresh folder and draws its message-flow diagram. The
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
# One page whatever its length: a lab diagram is never cut short silently.
"$tool" dot --max-rows=0 --title="$name" "$dir/trace" > "$dir/out.dot"
if [ "$mode" = stable ]; then
  # Untouched when the drawing is the same: make then leaves its SVG alone.
  cmp -s "$dir/out.dot" "$out" 2>/dev/null || cp "$dir/out.dot" "$out"
  rm -f "$sig"
  exit 0
fi
"$tool" dot --title=reference "$(dirname "$0")/mpk-trace/reference" > "$dir/reference.dot"
drawing=$(cksum < "$dir/reference.dot")
{
  "$tool" signature "$dir/trace"
  echo "# drawing: $drawing (cksum of mpk-trace dot tools/mpk-trace/reference)"
} > "$dir/out.sig"
# Another run of the same behaviour draws another DOT: keep the committed one.
if [ -f "$out" ] && cmp -s "$dir/out.sig" "$sig" 2>/dev/null; then
  exit 0
fi
cp "$dir/out.dot" "$out"
cp "$dir/out.sig" "$sig"
