#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-deps.sh: tools/ensure-deps.sh runs from the targets that need packages
# (make deps, and anything that compiles), not whenever make reads the
# Makefile. A machine without the packages is faked by a PATH in which
# pkg-config and dot are missing, and MPK_DEPS_DRY_RUN=1 makes ensure-deps
# only say what it would install (we run as root here: it must not call
# apt-get). Prints TAP.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL
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

# Every program on the usual PATH but pkg-config (and its aliases) and dot.
bin=$tmp/bin
mkdir -p "$bin"
for dir in /usr/local/bin /usr/bin /bin; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    name=${f##*/}
    case $name in
      pkg-config|*-pkg-config|pkgconf|*-pkgconf|dot) continue ;;
    esac
    [ -e "$bin/$name" ] || ln -s "$f" "$bin/$name"
  done
done
BUILD=$tmp/build
mkdir -p "$BUILD/lib"
export MPK_DEPS_DRY_RUN=1

# run_make LOG ARGS...: make under the faked PATH; its output (both streams) to LOG.
run_make() {
  log=$1; shift
  env PATH="$bin" make --no-print-directory BUILD="$BUILD" "$@" > "$log" 2>&1
}
# no_check LOG: LOG shows no package check and no pkg-config call.
no_check() {
  if grep -n 'missing packages\|apt-get\|pkg-config' "$1"; then
    echo "expected no package check, got the lines above"; return 1
  fi
}

faked_path() {
  PATH=$bin
  command -v make >/dev/null || { echo "make not on the faked PATH"; return 1; }
  ! command -v pkg-config || { echo "pkg-config still on the faked PATH"; return 1; }
  ! command -v dot || { echo "dot still on the faked PATH"; return 1; }
}
clean() { # clean [-n]: make clean succeeds and checks nothing
  run_make "$tmp/clean.log" "$@" clean || { cat "$tmp/clean.log"; return 1; }
  no_check "$tmp/clean.log"
}
clean_removes() {
  clean || return 1
  ! test -e "$BUILD" || { echo "make clean left $BUILD"; return 1; }
}
# The control: the same PATH does make ensure-deps complain, so the two
# tests above would see a check if one ran.
deps_named() {
  if run_make "$tmp/deps.log" deps; then
    cat "$tmp/deps.log"; echo "make deps succeeded without pkg-config"; return 1
  fi
  grep -q 'apt-get install.* pkg-config' "$tmp/deps.log" \
    || { cat "$tmp/deps.log"; echo "expected the apt-get line naming pkg-config"; return 1; }
  grep -q 'graphviz' "$tmp/deps.log" \
    || { cat "$tmp/deps.log"; echo "expected graphviz (dot) among the packages"; return 1; }
}
# A target that compiles runs the check first and stops there, naming the
# command, before any compiler runs.
build_stops() {
  if run_make "$tmp/build.log" "$BUILD/lib/core/mpk-error.o"; then
    cat "$tmp/build.log"; echo "the build went on without pkg-config"; return 1
  fi
  grep -q 'apt-get install.* pkg-config' "$tmp/build.log" \
    || { cat "$tmp/build.log"; echo "expected the apt-get line naming pkg-config"; return 1; }
  ! grep -q ' CC \| -c ' "$tmp/build.log" \
    || { cat "$tmp/build.log"; echo "a compiler ran before the package check"; return 1; }
}

echo "1..5"
check "the faked PATH has make, no pkg-config and no dot" faked_path
check "make -n clean runs no package check" clean -n
check "make clean runs no package check and removes BUILD" clean_removes
check "make deps names the missing packages (control)" deps_named
check "a compile target runs the check first and stops" build_stops
exit $failed
