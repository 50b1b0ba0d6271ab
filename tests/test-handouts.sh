#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-handouts.sh: every lab's handout shows every page of its committed
# diagram (tools/handout-diagrams.sh --check), and every image it shows
# exists. Prints TAP.
set -u
echo "1..2"
if out=$(tools/handout-diagrams.sh --check 2>&1); then
  echo "ok 1 - each handout shows every page of its diagram"
else
  echo "not ok 1 - each handout shows every page of its diagram"
  printf '%s\n' "$out" | sed 's/^/# /'
  failed=1
fi
missing=""
for readme in labs/[0-9][0-9]-*/README.md; do
  dir=$(dirname "$readme")
  for img in $(sed -n 's/.*!\[[^]]*\](\([^)]*\)).*/\1/p' "$readme"); do
    [ -f "$dir/$img" ] || missing="$missing$readme shows $img, which does not exist
"
  done
done
if [ -z "$missing" ]; then
  echo "ok 2 - every image a handout shows exists"
else
  echo "not ok 2 - every image a handout shows exists"
  printf '%s' "$missing" | sed 's/^/# /'
  failed=1
fi
exit ${failed:-0}
