#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-install.sh: `make install` gives headers, both libraries and mpkit.pc,
# and a program built only through `pkg-config --cflags --libs mpkit` runs
# against the installed copy (shared library, then static). Prints TAP.
set -u
tmp=$(mktemp -d)
# A plain build of its own: under `make check-asan` the sanitizer flags must
# not leak into what a user would install.
BUILD=$tmp/build
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS LDFLAGS
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
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

echo "1..6"
check "make install PREFIX=$prefix" make -s --no-print-directory BUILD="$BUILD" PREFIX="$prefix" install
check "installed files" sh -c "test -f '$prefix/include/mpkit/mpkit.h' && test -f '$prefix/lib/libmpkit.a' \
  && test -f '$prefix/lib/libmpkit.so.0' && test -L '$prefix/lib/libmpkit.so' \
  && ! test -e '$prefix/include/mpkit/mpk-private.h' \
  && grep -qx 'prefix=$prefix' '$prefix/lib/pkgconfig/mpkit.pc'"

cat > "$tmp/hello.c" <<'EOC'
#include <mpkit.h>
#include <stdio.h>

static int
child (gpointer data)
{
  MpkConnection *end = data;
  return mpk_connection_send (end, g_variant_new_string ("installed"), MPK_WAIT_FOREVER, NULL) ? 0 : 1;
}

int
main (void)
{
  MpkConnection *a, *b;
  MpkProcess *p;
  GVariant *v;

  if (!mpk_pipe_new (TRUE, &a, &b, NULL))
    return 1;
  p = mpk_process_new (NULL, child, b, NULL);
  if (!mpk_process_start (p, NULL))
    return 1;
  v = mpk_connection_recv (a, MPK_WAIT_FOREVER, NULL);
  mpk_process_join (p, MPK_WAIT_FOREVER);
  printf ("%s %d\n", v ? g_variant_get_string (v, NULL) : "(null)", mpk_process_get_exitcode (p));
  return 0;
}
EOC
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "compile against the installed shared library" \
  sh -c "cc -o '$tmp/hello' '$tmp/hello.c' \$(pkg-config --cflags --libs mpkit)"
check "run against the installed shared library" \
  sh -c "test \"\$(LD_LIBRARY_PATH='$prefix/lib' '$tmp/hello')\" = 'installed 0' \
    && LD_LIBRARY_PATH='$prefix/lib' ldd '$tmp/hello' | grep -q '$prefix/lib/libmpkit.so.0'"
check "compile and run statically" \
  sh -c "cc -o '$tmp/hello-static' '$tmp/hello.c' \$(pkg-config --cflags mpkit) '$prefix/lib/libmpkit.a' \
    \$(pkg-config --libs glib-2.0) && test \"\$('$tmp/hello-static')\" = 'installed 0'"
check "DESTDIR stages under the destination" \
  sh -c "make -s --no-print-directory BUILD='$BUILD' PREFIX=/opt/mpkit DESTDIR='$tmp/stage' install \
    && test -f '$tmp/stage/opt/mpkit/lib/libmpkit.so.0' \
    && grep -qx 'prefix=/opt/mpkit' '$tmp/stage/opt/mpkit/lib/pkgconfig/mpkit.pc'"
exit $failed
