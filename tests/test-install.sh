#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-install.sh: `make install` gives headers, both libraries and mpkit.pc,
# and a program built only through `pkg-config --cflags --libs mpkit` runs
# against the installed copy (shared library, then static, then a DESTDIR
# staging tree: mpkit.pc's own flags with --define-variable=prefix=, where
# --maximum-traverse-depth=2 (the query, then mpkit) keeps that prefix away
# from glib's .pc files). Only public headers are installed: mpkit.h and what
# it includes; the internal ones (mpk-private.h, mpk-ring.h, anything lib/*/*.c
# includes but mpkit.h does not) stay in lib/. Prints TAP.
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

echo "1..9"
check "make install PREFIX=$prefix" make -s --no-print-directory BUILD="$BUILD" PREFIX="$prefix" install
check "installed files" sh -c "test -f '$prefix/include/mpkit/mpkit.h' && test -f '$prefix/lib/libmpkit.a' \
  && test -f '$prefix/lib/libmpkit.so.0' && test -L '$prefix/lib/libmpkit.so' \
  && grep -qx 'prefix=$prefix' '$prefix/lib/pkgconfig/mpkit.pc'"

# public_headers DIR: mpkit.h and every header it includes, transitively,
# by the quoted includes of the source tree's lib/ (its layer folders).
public_headers() {
  todo=mpkit.h seen=""
  while [ -n "$todo" ]; do
    set -- $todo; h=$1; shift; todo=$*
    case " $seen " in *" $h "*) continue ;; esac
    seen="$seen $h"
    todo="$todo $(sed -n 's/^#include "\(.*\)".*/\1/p' $(ls lib/$h lib/*/$h 2>/dev/null | head -n 1))"
  done
  printf '%s\n' $seen | sort
}
check "only public headers installed (mpkit.h and what it includes)" \
  sh -c "test ! -e '$prefix/include/mpkit/mpk-private.h' || { echo 'installed mpk-private.h'; exit 1; }
    test ! -e '$prefix/include/mpkit/mpk-ring.h' || { echo 'installed mpk-ring.h'; exit 1; }
    want='$(public_headers)'; got=\$(cd '$prefix/include/mpkit' && ls | sort)
    test \"\$want\" = \"\$got\" || { echo \"expected headers: \$want\"; echo \"installed: \$got\"; exit 1; }"
check "every installed header's includes are installed too" \
  sh -c "cd '$prefix/include/mpkit' && for h in *.h; do
      for i in \$(sed -n 's/^#include \"\\(.*\\)\".*/\\1/p' \$h); do
        test -f \$i || { echo \"\$h includes \$i, not installed\"; exit 1; }; done; done"

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
check "a program built with pkg-config against the DESTDIR tree compiles and runs" \
  sh -c "PKG_CONFIG_PATH='$tmp/stage/opt/mpkit/lib/pkgconfig' \
      pkg-config --maximum-traverse-depth=2 --define-variable=prefix='$tmp/stage/opt/mpkit' \
        --cflags --libs mpkit > '$tmp/stage.flags' \
    && pkg-config --cflags --libs glib-2.0 gio-2.0 gio-unix-2.0 >> '$tmp/stage.flags' \
    && cc -o '$tmp/hello-stage' '$tmp/hello.c' \$(cat '$tmp/stage.flags') \
    && test \"\$(LD_LIBRARY_PATH='$tmp/stage/opt/mpkit/lib' '$tmp/hello-stage')\" = 'installed 0' \
    && LD_LIBRARY_PATH='$tmp/stage/opt/mpkit/lib' ldd '$tmp/hello-stage' \
       | grep -q '$tmp/stage/opt/mpkit/lib/libmpkit.so.0'"
exit $failed
