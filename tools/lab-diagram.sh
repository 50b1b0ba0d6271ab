#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# lab-diagram.sh LAB-BINARY MPK-TRACE NAME OUT.dot: runs one lab with
# MPK_TRACE=all in a fresh folder and draws its message-flow diagram. The
# drawing uses causal order and no pids or times, so the same lab gives the
# same DOT on every run (tests/test-diagrams.sh checks it).
set -eu
lab=$1 tool=$2 name=$3 out=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! MPK_TRACE=all MPK_TRACE_DIR="$dir/trace" timeout -k 5 60 "$lab" > "$dir/stdout" 2> "$dir/stderr"; then
  echo "lab-diagram.sh: $lab failed:" >&2
  cat "$dir/stderr" >&2
  exit 1
fi
"$tool" dot --title="$name" "$dir/trace" > "$dir/out.dot"
# Untouched when the drawing is the same: make then leaves its SVG alone.
cmp -s "$dir/out.dot" "$out" 2>/dev/null || cp "$dir/out.dot" "$out"
