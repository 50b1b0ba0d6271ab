#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/handout-diagrams.sh [--check] [LAB_DIR...]: a lab's diagram may be
# several pages (diagrams/NN-slug.svg, NN-slug-p2.svg, ...: each fits a
# slide). Its handout shows page 1 with a line
#   ![Message-flow diagram of lab NN](../../diagrams/NN-slug.svg)
# and this script puts the other pages right after it, one image line each,
# replacing any it put there before. With --check it changes nothing and
# fails, naming them, if a handout does not show exactly the pages that
# diagrams/ holds. Default: every labs/NN-slug/.
set -u
check=0
[ "${1:-}" = --check ] && { check=1; shift; }
[ $# -gt 0 ] || set -- $(ls -d labs/[0-9][0-9]-*/ | sed 's|/$||')
status=0
for lab in "$@"; do
  slug=$(basename "$lab"); num=${slug%%-*}; readme=$lab/README.md
  [ -f "$readme" ] && [ -f "diagrams/$slug.svg" ] || continue
  want=$(mktemp)
  k=2
  while [ -f "diagrams/$slug-p$k.svg" ]; do
    echo "![Message-flow diagram of lab $num, page $k](../../diagrams/$slug-p$k.svg)"
    k=$((k + 1))
  done > "$want"
  # The handout as it should be: page 1's line, then the other pages.
  awk -v first="](../../diagrams/$slug.svg)" -v pages="$want" -v slug="$slug" '
    index($0, "](../../diagrams/" slug "-p") { next }
    { print }
    index($0, first) { while ((getline line < pages) > 0) print line }
  ' "$readme" > "$readme.new"
  if ! grep -qF "](../../diagrams/$slug.svg)" "$readme"; then
    echo "$readme: no image line for diagrams/$slug.svg" >&2; status=1
    rm -f "$readme.new"
  elif cmp -s "$readme" "$readme.new"; then
    rm -f "$readme.new"
  elif [ $check = 1 ]; then
    echo "$readme: does not show the $((k - 1)) page(s) of diagrams/$slug (tools/handout-diagrams.sh $lab)" >&2
    status=1; rm -f "$readme.new"
  else
    mv "$readme.new" "$readme"; echo "  $readme: $((k - 1)) page(s)"
  fi
  rm -f "$want"
done
exit $status
