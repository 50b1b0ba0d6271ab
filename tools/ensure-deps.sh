#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# ensure-deps.sh GROUP...: make sure the Debian packages a make target needs are here.
# Prints nothing when everything is present. Installs what is missing with apt-get
# when run as root; otherwise prints the exact command to run and exits 1.
#   groups: build (compile everything, draw the diagrams), valgrind (make check-valgrind),
#           bench (make bench), fuzz (make fuzz: clang and its libFuzzer runtime),
#           clang (the CI's clang build of everything), docs (make docs: gtk-doc and
#           the DocBook stylesheets it pulls in; python3 for docs/mpkit-docs.py)
# MPK_DEPS_DRY_RUN=1: never call apt-get, even as root; print the command and exit 1
# as for a user (tests/test-deps.sh fakes a machine without the packages with it).
set -u

need=""
want() { # want PACKAGE TEST-COMMAND...
  pkg=$1; shift
  "$@" >/dev/null 2>&1 || need="$need $pkg"
}

for group in "$@"; do
  case $group in
    build)
      want gcc        command -v gcc
      want make       command -v make
      want pkg-config command -v pkg-config
      want libglib2.0-dev sh -c 'pkg-config --atleast-version=2.74 glib-2.0'
      want libjson-glib-dev sh -c 'pkg-config --exists json-glib-1.0'
      want graphviz   command -v dot
      want coreutils  command -v timeout
      ;;
    clang)    want clang command -v clang ;;
    docs)
      want gtk-doc-tools command -v gtkdoc-mkhtml
      want python3       command -v python3
      ;;
    valgrind) want valgrind command -v valgrind ;;
    bench)    want python3 command -v python3 ;;
    fuzz)
      want clang      command -v clang
      # libFuzzer and the sanitizer runtimes: clang links a test program with them.
      want libclang-rt-14-dev sh -c 'echo "int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { return 0; }" |
        clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null -'
      ;;
    *) echo "ensure-deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

[ -z "$need" ] && exit 0
if [ "${MPK_DEPS_DRY_RUN:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "mpkit: installing missing packages:$need" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -q && apt-get install -y -q --no-install-recommends $need; } >&2 || {
    echo "mpkit: apt-get failed; run: apt-get install$need" >&2; exit 1; }
  exit 0
fi
echo "mpkit: missing packages. Run this, then make again:" >&2
echo "  sudo apt-get install$need" >&2
exit 1
