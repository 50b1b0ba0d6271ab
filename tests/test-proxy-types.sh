#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-proxy-types.sh: the Manager's typed proxies are checked by the
# compiler (issue 12 section 3). Small programs are compiled against lib/
# with -Werror=incompatible-pointer-types: a dict proxy passed to a list
# call must not compile, and the compiler's message must name the types;
# the same program with a list proxy must compile, so the failure is the
# kind and nothing else. MPK_PROXY() takes proxies only. The run-time check
# (mpk_proxy_as_list() of a dict proxy) is a GTest: /manager/proxy-types/
# in tests/test-manager-containers.c. Compiles only (no link, no run), with
# $CC, or cc. Prints TAP.
set -u
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

# The include path of the Makefile: lib/ and every layer folder under it.
includes="-Ilib"
for d in lib/*/; do
  includes="$includes -I${d%/}"
done
glib_cflags=$(pkg-config --cflags glib-2.0) || { echo "1..0 # SKIP no pkg-config glib-2.0"; exit 0; }

# compile NAME: compiles $tmp/NAME.c; its diagnostics go to $tmp/NAME.err.
compile() {
  # shellcheck disable=SC2086  # the flags are lists of words
  $CC -std=gnu11 -fsyntax-only -Werror=incompatible-pointer-types $includes $glib_cflags \
    "$tmp/$1.c" > "$tmp/$1.err" 2>&1
}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  shift
  printf '%s\n' "$@" | sed 's/^/# /'
}

# expect_fail NAME DESCRIPTION PATTERN...: NAME must not compile, and the
# compiler's message must contain every PATTERN (fixed strings).
expect_fail() {
  name=$1 desc=$2; shift 2
  if compile "$name"; then
    not_ok "$desc" "expected a compile error; $CC compiled $name.c"
    return
  fi
  for pattern in "$@"; do
    if ! grep -qF -- "$pattern" "$tmp/$name.err"; then
      not_ok "$desc" "the compile failed, but its message does not name '$pattern':" \
        "$(cat "$tmp/$name.err")"
      return
    fi
  done
  ok "$desc"
}

# expect_ok NAME DESCRIPTION: NAME must compile without a diagnostic.
expect_ok() {
  if compile "$1" && [ ! -s "$tmp/$1.err" ]; then
    ok "$2"
  else
    not_ok "$2" "expected a clean compile; $CC said:" "$(cat "$tmp/$1.err")"
  fi
}

# program NAME PROXY_TYPE MAKE_CALL CALL: a program making a proxy of type
# PROXY_TYPE with MAKE_CALL and handing it to CALL.
program() {
  cat > "$tmp/$1.c" <<EOF
#include <mpkit.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = mpk_manager_new_started (&error);
  g_autoptr($2) proxy = $3 (manager, NULL, &error);

  return $4 (proxy, &error) < 0;
}
EOF
}

echo "1..8"
echo "# compiler: $CC ($($CC --version 2>&1 | head -n 1))"

program dict_to_list MpkDictProxy mpk_manager_dict mpk_list_proxy_len
expect_fail dict_to_list "a dict proxy passed to mpk_list_proxy_len does not compile" \
  mpk_list_proxy_len MpkDictProxy MpkListProxy

program list_to_list MpkListProxy mpk_manager_list mpk_list_proxy_len
expect_ok list_to_list "the same program with a list proxy compiles"

program list_to_dict MpkListProxy mpk_manager_list mpk_dict_proxy_len
expect_fail list_to_dict "a list proxy passed to mpk_dict_proxy_len does not compile" \
  mpk_dict_proxy_len MpkListProxy MpkDictProxy

# A typed proxy held in a variable of another kind: the constructor's
# result is typed too.
cat > "$tmp/wrong_variable.c" <<'EOF'
#include <mpkit.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = mpk_manager_new_started (&error);
  g_autoptr(MpkListProxy) list = mpk_manager_dict (manager, NULL, &error);

  return list == NULL;
}
EOF
expect_fail wrong_variable "mpk_manager_dict's result in an MpkListProxy variable does not compile" \
  MpkDictProxy MpkListProxy

# MPK_PROXY(): any typed proxy to the generic calls; a pointer that is not
# a proxy is an error.
cat > "$tmp/generic_ok.c" <<'EOF'
#include <mpkit.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = mpk_manager_new_started (&error);
  g_autoptr(MpkQueueProxy) queue = mpk_manager_queue (manager, 0, &error);
  g_autoptr(MpkLockProxy) lock = mpk_manager_lock (manager, &error);
  g_autoptr(MpkProxy) found = NULL;

  mpk_manager_publish (manager, "queue", MPK_PROXY (queue), &error);
  found = mpk_manager_lookup (manager, "queue", &error);
  return mpk_proxy_to_string (MPK_PROXY (found), &error) == NULL
         || mpk_proxy_get_type_name (MPK_PROXY (lock)) == NULL;
}
EOF
expect_ok generic_ok "MPK_PROXY() of typed and generic proxies compiles"

cat > "$tmp/generic_manager.c" <<'EOF'
#include <mpkit.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = mpk_manager_new_started (&error);

  return mpk_proxy_get_type_name (MPK_PROXY (manager)) == NULL;
}
EOF
expect_fail generic_manager "MPK_PROXY() of an MpkManager does not compile" \
  _Generic MpkManager

cat > "$tmp/generic_gpointer.c" <<'EOF'
#include <mpkit.h>

int
main (int argc, char **argv)
{
  gpointer anything = argv;

  return mpk_proxy_get_type_name (MPK_PROXY (anything)) == NULL;
}
EOF
expect_fail generic_gpointer "MPK_PROXY() of a gpointer does not compile" _Generic

# The run-time conversion is typed too: mpk_proxy_as_list() gives a list proxy.
cat > "$tmp/as_list_typed.c" <<'EOF'
#include <mpkit.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = mpk_manager_new_started (&error);
  g_autoptr(MpkProxy) found = mpk_manager_lookup (manager, "list", &error);
  g_autoptr(MpkDictProxy) dict = mpk_proxy_as_list (found, &error);

  return dict == NULL;
}
EOF
expect_fail as_list_typed "mpk_proxy_as_list's result in an MpkDictProxy variable does not compile" \
  MpkListProxy MpkDictProxy

exit $failed
