#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# docs/build.sh OUTDIR HEADER...: the HTML API reference (make docs), with
# gtk-doc, into OUTDIR/html/index.html. HEADERs are the public headers (the
# Makefile's HEADERS less mpkit.h); their symbols are documented by the doc
# blocks in them and in the .c files beside them. Internal headers are never
# scanned, so their symbols stay out. Exits non-zero, listing the symbols, when
#  - a public function, type, macro or enum (or one of its values or
#    parameters, or a header's SECTION block) is undocumented;
#  - a pointer argument or return value says nothing about ownership
#    ((transfer ...), or (out) for a number or boolean out parameter);
#  - docs/python-names.txt names an mpkit symbol no public header declares.
# MPK_VERSION is the version the pages show.
set -eu
[ $# -ge 2 ] || { echo "usage: docs/build.sh OUTDIR HEADER..." >&2; exit 2; }
out=$1; shift
top=$(pwd)
docs=$top/docs
[ -f "$docs/mpkit-docs.xml" ] || { echo "docs/build.sh: run it from the top of the tree" >&2; exit 2; }
# OUTDIR is emptied first, so it may never be the sources: make docs BUILD=.
# gives ./docs, and BUILD= gives /docs, meant as the same.
case $out in /docs | docs | ./docs) out=$docs ;; /*) ;; *) out=$top/$out ;; esac
mkdir -p "$out"
real=$(cd "$out" && pwd -P)
if [ "$real" = "$(cd "$docs" && pwd -P)" ] || [ "$real" = "$(cd "$top" && pwd -P)" ]; then
  echo "docs/build.sh: refusing to build into $out (emptying it would delete sources)" >&2
  exit 2
fi

# Start afresh: gtk-doc keeps state between runs (sections, old xml) that
# would hide a symbol removed from a header.
rm -rf "$out"
mkdir -p "$out/src" "$out/xml" "$out/html"
# gtkdoc-mkdb reads every file of its source folder: give it the public
# headers and the .c files of the layers that have one (an internal header,
# or a layer not yet public, would document symbols the reference must not
# show, and mkdb would count them as its own).
for f in "$@"; do
  ln -s "$top/$f" "$out/src/"
done
for dir in $(for f in "$@"; do dirname "$f"; done | sort -u); do
  for f in "$dir"/*.c; do
    [ -e "$f" ] && ln -s "$top/$f" "$out/src/"
  done
done

cd "$out"
printf '<!ENTITY package_version "%s">\n' "${MPK_VERSION:-unknown}" > xml/gtkdocentities.ent

# 1. The declarations, one section per header (mpkit-decl-list.txt): used as
#    the sections file as it is, so a symbol added to a header gets a place
#    on its page without anyone editing a list. gtkdoc-scan only sees a
#    struct typedef whose brace is on the typedef's line, and GNU style puts
#    it on the next: the scanner reads copies with the two lines joined.
mkdir scan-src
for h in src/*.h; do
  sed -e '/^[[:space:]]*typedef[[:space:]]\{1,\}\(struct\|union\)[[:space:]]*[A-Za-z0-9_]*[[:space:]]*$/{
N
s/[[:space:]]*\n[[:space:]]*{/ {/
}' "$h" > "scan-src/${h#src/}"
done
gtkdoc-scan --module=mpkit --output-dir=. --ignore-decorators='MPK_API' scan-src/*.h
cp mpkit-decl-list.txt mpkit-sections.txt

status=0

# 2. The extra pages: the Python to mpkit page, made from a table, and the
#    error codes page; every mpkit name in them must exist, and every error
#    code have its row. The master document gets a page for every section.
python3 "$docs/mpkit-docs.py" python-page "$docs/python-names.txt" \
  mpkit-decl-list.txt mpkit-decl.txt python-to-mpkit.xml || status=1
[ -f python-to-mpkit.xml ] || echo '<refentry id="python-to-mpkit"/>' > python-to-mpkit.xml
cp "$docs/errors.xml" .
python3 "$docs/mpkit-docs.py" page-check errors.xml mpkit-decl-list.txt mpkit-decl.txt || status=1
python3 "$docs/mpkit-docs.py" master "$docs/mpkit-docs.xml" mpkit-decl-list.txt mpkit-docs.xml ||
  exit 1

# 3. DocBook from the doc blocks. mkdb prints a warning for each problem
#    (a parameter documented twice or not at all, a link to nothing).
gtkdoc-mkdb --module=mpkit --output-format=xml --source-dir=src --name-space=mpk \
  --main-sgml-file=mpkit-docs.xml --expand-content-files='python-to-mpkit.xml errors.xml' \
  >mkdb.log 2>&1 || { cat mkdb.log >&2; exit 1; }
grep -i 'warning' mkdb.log | sed "s|$out/src/||" >&2 || true

# 4. HTML. Links to GLib stay plain text unless GLib's own reference is
#    installed (libglib2.0-doc); that is not an error.
(cd html && gtkdoc-mkhtml mpkit ../mpkit-docs.xml) >mkhtml.log 2>&1 || { cat mkhtml.log >&2; exit 1; }
gtkdoc-fixxref --module=mpkit --module-dir=html --html-dir=html >fixxref.log 2>&1 ||
  { cat fixxref.log >&2; exit 1; }

# 5. The checks.
python3 "$docs/mpkit-docs.py" undocumented mpkit-undocumented.txt || status=1
if [ -s mpkit-undeclared.txt ]; then
  echo "docs: documented in a sections file but declared nowhere:" >&2
  sed 's/^/  /' mpkit-undeclared.txt >&2
  status=1
fi
python3 "$docs/mpkit-docs.py" annotations mpkit-decl.txt src/* || status=1

[ -f html/index.html ] || { echo "docs: no html/index.html" >&2; exit 1; }
if [ $status != 0 ]; then
  echo "docs: FAILED (the HTML is in ${out#$top/}/html, incomplete)" >&2
  exit 1
fi
echo "docs: open ${out#$top/}/html/index.html"
