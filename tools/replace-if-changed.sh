#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# replace-if-changed.sh NEW TARGET: moves NEW over TARGET only if the contents
# differ; otherwise drops NEW and touches TARGET, so make sees it up to date
# and git sees no change.
set -eu
if [ -f "$2" ] && cmp -s "$1" "$2"; then
  rm -f "$1"
  touch "$2"
else
  mv "$1" "$2"
fi
