#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-layers.sh: lib/ is layered (lib/README.md) and stays so. In order,
# bottom to top: core, objects, manager, messaging. A file may use its own
# layer and the ones below, never one above:
#   - its quoted #includes name headers of its layer or lower ones;
#   - its object file (from $BUILD) calls no function defined in a higher
#     layer (a cycle of calls is a cycle even without an #include);
#   - the library's internal headers never include the public umbrella
#     mpkit.h, and no lib/*/*.c includes lib/mpk-private.h (the tests' one).
# Prints TAP.
set -u
BUILD=${BUILD:-build}
layers="core objects manager messaging"
n=0 failed=0

rank() { # rank LAYER: its position in $layers, or 99 if unknown
  i=0
  for l in $layers; do
    [ "$l" = "$1" ] && { echo $i; return; }
    i=$((i + 1))
  done
  echo 99
}

layer_of_header() { # the layer folder holding header $1, or "top" for lib/
  [ -f "lib/$1" ] && { echo top; return; }
  for f in lib/*/"$1"; do
    [ -f "$f" ] && { basename "$(dirname "$f")"; return; }
  done
  echo none
}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; printf '%s\n' "$2" | sed 's/^/# /'; failed=1; }

echo "1..4"

# 1. every folder under lib/ is a known layer
bad=""
for d in lib/*/; do
  l=$(basename "$d")
  [ "$(rank "$l")" = 99 ] && bad="$bad lib/$l/ is not one of: $layers
"
done
[ -z "$bad" ] && ok "every folder of lib/ is a layer ($layers)" || not_ok "unknown layer folders" "$bad"

# 2. includes point down (or sideways)
bad=""
for f in lib/*/*.c lib/*/*.h; do
  l=$(basename "$(dirname "$f")"); r=$(rank "$l")
  for h in $(sed -n 's/^#include "\(.*\)".*/\1/p' "$f"); do
    hl=$(layer_of_header "$h")
    case $hl in
      top)  bad="$bad$f includes lib/$h (the umbrella or the tests' header)
" ;;
      none) bad="$bad$f includes $h, which no layer has
" ;;
      *)    [ "$(rank "$hl")" -le "$r" ] || bad="$bad$f ($l) includes $h from the higher layer $hl
" ;;
    esac
  done
done
[ -z "$bad" ] && ok "no file of lib/ includes a header of a higher layer, mpkit.h or mpk-private.h" \
  || not_ok "includes that point up" "$bad"

# 3. calls point down too: what each layer's objects need is not defined higher up
bad="" missing=""
defined_in() { # the global functions the objects of layer $1 define
  for o in "$BUILD"/lib/"$1"/*.o; do
    [ -f "$o" ] && nm --defined-only -g "$o" | awk '$2 == "T" { print $3 }'
  done
}
for l in $layers; do
  [ -d "lib/$l" ] || continue
  ls "$BUILD"/lib/"$l"/*.o > /dev/null 2>&1 || { missing="$missing $l"; continue; }
  r=$(rank "$l")
  for higher in $layers; do
    [ "$(rank "$higher")" -gt "$r" ] && [ -d "lib/$higher" ] || continue
    defined_in "$higher" | sort -u > "${TMPDIR:-/tmp}/layers.$$.def"
    for o in "$BUILD"/lib/"$l"/*.o; do
      for s in $(nm -u "$o" | awk '{ print $2 }' | sort -u | comm -12 - "${TMPDIR:-/tmp}/layers.$$.def"); do
        bad="$bad$o ($l) calls $s, defined in the higher layer $higher
"
      done
    done
  done
done
rm -f "${TMPDIR:-/tmp}/layers.$$.def"
if [ -n "$missing" ]; then
  not_ok "calls point down" "no object files under $BUILD/lib for:$missing (build first)"
elif [ -z "$bad" ]; then
  ok "no layer calls a function of a higher one (nm of $BUILD/lib/*/*.o)"
else
  not_ok "calls that point up" "$bad"
fi

# 4. the internal headers stand on their own: each compiles alone
bad=""
cflags=$(pkg-config --cflags glib-2.0 gio-2.0 gio-unix-2.0)
incs=$(for d in lib/*/; do printf ' -I%s' "${d%/}"; done)
for h in lib/*/*-private.h; do
  printf '#include "%s"\n' "$(basename "$h")" > "${TMPDIR:-/tmp}/layers.$$.c"
  out=$(${CC:-cc} -std=gnu11 -D_GNU_SOURCE -DMPK_COMPILATION $incs $cflags -fsyntax-only \
        "${TMPDIR:-/tmp}/layers.$$.c" 2>&1) || bad="$bad$h does not compile on its own:
$out
"
done
rm -f "${TMPDIR:-/tmp}/layers.$$.c"
[ -z "$bad" ] && ok "each layer's internal header compiles on its own" || not_ok "internal headers" "$bad"
exit $failed
