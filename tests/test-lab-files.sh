#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-lab-files.sh: a lab may be several .c files: the Makefile links every
# labs/NN-slug/*.c of a lab, not only main.c. In a copy of the tree (so that
# labs/ is left alone), lab 08 gets a second file whose constructor prints a
# line; the lab built by make must print it. Prints TAP.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS LDFLAGS
n=0 failed=0
check() { # check DESCRIPTION COMMAND...
  n=$((n + 1))
  desc=$1; shift
  if out=$("$@" 2>&1); then
    echo "ok $n - $desc"
  else
    echo "not ok $n - $desc"
    printf '%s\n' "$out" | sed 's/^/# /'
    failed=1
  fi
}
lab=labs/08-pipe-messages
tree=$tmp/tree
mkdir -p "$tree/labs" "$tree/tools"
cp -R Makefile lib "$tree/" && cp labs/lab.h "$tree/labs/" && cp -R "$lab" "$tree/labs/" \
  && cp tools/ensure-deps.sh "$tree/tools/"
cat > "$tree/$lab/second.c" <<'EOC'
#include <stdio.h>

static void __attribute__ ((constructor))
second_file_linked (void)
{
  fprintf (stderr, "second.c linked\n");
}
EOC

built() {
  make -s --no-print-directory -C "$tree" BUILD=build "build/$lab/lab" || return 1
  "$tree/build/$lab/lab" > /dev/null 2> "$tmp/err" || { cat "$tmp/err"; return 1; }
  grep -qx 'second.c linked' "$tmp/err" \
    || { cat "$tmp/err"; echo "expected the line from second.c: the lab did not link it"; return 1; }
}
echo "1..1"
check "a lab links every .c file of its folder" built
exit $failed
