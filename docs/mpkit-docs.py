#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpkit-docs.py: the checks and the generated page of `make docs` that
# gtk-doc itself does not do (docs/build.sh runs them after gtkdoc-scan).
#
#   annotations DECL SOURCE...  every pointer argument and return value of a
#       public function or callback (from gtkdoc-scan's DECL file) says who
#       owns it: (transfer full|none|floating|container), or (out) for an
#       out parameter of a plain type; GError ** is exempt. Prints the ones
#       that do not, and the counts; exits 1 if there are any.
#   undocumented FILE  gtkdoc-mkdb's MODULE-undocumented.txt: prints the
#       undocumented and incomplete symbols; exits 1 if there are any.
#   python-page NAMES DECL_LIST DECL OUT  writes the "Python to mpkit"
#       DocBook page from docs/python-names.txt; exits 1, naming them, if a
#       row names an mpkit symbol that the public headers do not declare.
#   page-check PAGE DECL_LIST DECL  a hand-written page (docs/errors.xml)
#       names only declared symbols, and, if it is the errors page, every
#       code of MpkError; exits 1 naming what is wrong.
#   master DOC DECL_LIST OUT  copies the master document, adding a chapter
#       for each public header's section it does not include (a new
#       layer's), so that every public symbol has a page; names them.
import re
import sys
from html import escape

# --- doc comments --------------------------------------------------------------

BLOCK = re.compile(r'/\*\*[ \t]*\n(.*?)\*/', re.S)
ANNOTATIONS = re.compile(r'^\s*((?:\([^()]*\)\s*)+):')


def doc_blocks(paths):
    """symbol -> {'params': {name: text}, 'returns': text or None}"""
    docs = {}
    for path in paths:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        for m in BLOCK.finditer(text):
            lines = [re.sub(r'^\s*\* ?', '', l) for l in m.group(1).split('\n')]
            lines = [l.rstrip() for l in lines]
            while lines and not lines[0]:
                lines.pop(0)
            if not lines:
                continue
            head = re.match(r'^([A-Za-z_][A-Za-z0-9_]*):', lines[0])
            if not head or lines[0].startswith('SECTION:'):
                continue
            entry = {'params': {}, 'returns': None}
            current = None  # ('param', name) or ('returns',)
            for line in lines[1:]:
                pm = re.match(r'^@([A-Za-z_][A-Za-z0-9_]*|\.\.\.):\s*(.*)$', line)
                rm = re.match(r'^(?:Returns|Return value):\s*(.*)$', line)
                if pm:
                    current = ('param', pm.group(1))
                    entry['params'][pm.group(1)] = pm.group(2)
                elif rm:
                    current = ('returns',)
                    entry['returns'] = rm.group(1)
                elif not line.strip():
                    current = None
                elif current and line[:1].isspace():
                    if current[0] == 'param':
                        entry['params'][current[1]] += ' ' + line.strip()
                    else:
                        entry['returns'] += ' ' + line.strip()
                elif current and current[0] == 'returns':
                    entry['returns'] += ' ' + line.strip()
                else:
                    current = None
            docs[head.group(1)] = entry
    return docs


def annotations_of(text):
    if text is None:
        return None
    m = ANNOTATIONS.match(text)
    if not m:
        return []
    return [a.strip() for a in re.findall(r'\(([^()]*)\)', m.group(1))]


# --- declarations ---------------------------------------------------------------

def declarations(decl_path):
    """[(kind, name, return type, [(type, name)])] of functions and callbacks"""
    with open(decl_path, encoding='utf-8') as f:
        text = f.read()
    out = []
    for kind in ('FUNCTION', 'USER_FUNCTION'):
        for m in re.finditer(r'<%s>\s*<NAME>(.*?)</NAME>\s*<RETURNS>(.*?)</RETURNS>(.*?)</%s>'
                             % (kind, kind), text, re.S):
            name, ret, args = m.group(1), m.group(2).strip(), ' '.join(m.group(3).split())
            params = []
            for arg in args.split(','):
                arg = arg.strip()
                if arg in ('', 'void', '...'):
                    continue
                am = re.match(r'^(.*?)([A-Za-z_][A-Za-z0-9_]*)$', arg)
                params.append((' '.join(am.group(1).split()), am.group(2)))
            out.append((kind, name, ret, params))
    return out


PLAIN_POINTERS = ('gpointer', 'gconstpointer')


def is_pointer(ctype):
    base = ctype.replace('const ', '').strip()
    return '*' in ctype or base in PLAIN_POINTERS


def is_plain_out(ctype):
    """T * where T is a number or a boolean: (out) says all there is to say"""
    base = ctype.replace('const ', '').strip()
    return base.count('*') == 1 and not base.startswith(PLAIN_POINTERS) \
        and base.rstrip('* ') not in ('char', 'gchar', 'void')


def has_transfer(annots):
    return any(a.split()[0] == 'transfer' for a in annots if a)


def cmd_annotations(decl_path, sources):
    docs = doc_blocks(sources)
    missing = []      # (function, what)
    n_functions = 0   # functions and callbacks that pass or return a pointer
    n_slots = 0
    bad_functions = set()
    for kind, name, ret, params in declarations(decl_path):
        slots = []
        for ctype, pname in params:
            if not is_pointer(ctype) or ctype.replace(' ', '') == 'GError**':
                continue
            slots.append(('@' + pname, ctype))
        if is_pointer(ret):
            slots.append(('Returns', ret))
        if not slots:
            continue
        n_functions += 1
        entry = docs.get(name, {'params': {}, 'returns': None})
        for what, ctype in slots:
            n_slots += 1
            text = entry['returns'] if what == 'Returns' else entry['params'].get(what[1:])
            annots = annotations_of(text) or []
            ok = has_transfer(annots) or \
                ('out' in [a.split()[0] for a in annots] and is_plain_out(ctype))
            if not ok:
                missing.append((name, what))
                bad_functions.add(name)
    last = None
    for name, what in missing:
        if name != last:
            if last is not None:
                print()
            print('  %s:' % name, end='')
            last = name
        print(' %s' % what, end='')
    if missing:
        print()
    print('ownership: %d of %d functions and callbacks that pass or return pointers say nothing '
          'about it for some pointer; %d of %d pointer arguments and return values have no '
          '(transfer ...) or (out)' % (len(bad_functions), n_functions, len(missing), n_slots))
    return 1 if missing else 0


# --- gtkdoc-mkdb's report -------------------------------------------------------

def cmd_undocumented(path):
    with open(path, encoding='utf-8') as f:
        lines = [l.rstrip('\n') for l in f]
    counts = {}
    for l in lines[:5]:
        m = re.match(r'^(\d+) (symbols documented|symbols incomplete|not documented)', l)
        if m:
            counts[m.group(2)] = int(m.group(1))
    names = [l for l in lines[5:] if l.strip()]
    print('docs: %d symbols documented, %d incomplete, %d not documented'
          % (counts.get('symbols documented', 0), counts.get('symbols incomplete', 0),
             counts.get('not documented', 0)))
    for n in names:
        print('  undocumented: ' + n)
    bad = counts.get('symbols incomplete', 0) + counts.get('not documented', 0)
    return 1 if bad or names else 0


# --- the Python to mpkit page ---------------------------------------------------

SYMBOL = re.compile(r'\b(mpk_[a-z0-9_]+|Mpk[A-Za-z0-9]+|MPK_[A-Z0-9_]+)\b')


def gtkdoc_ref(sym, functions):
    """a gtk-doc abbreviation mkdb turns into a link"""
    if sym in functions:
        return sym + '()'
    if sym.startswith('MPK_'):
        return '%' + sym
    return '#' + sym


def cmd_python_page(names_path, decl_list, decl_path, out_path):
    declared = declared_names(decl_list, decl_path)
    functions = set(n for k, n, r, p in declarations(decl_path) if k == 'FUNCTION')
    groups = []   # (title, [(python, [mpkit], note)])
    unknown = []
    with open(names_path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip() or line.startswith('#'):
                continue
            if line.startswith('== '):
                groups.append((line[3:].strip(), []))
                continue
            fields = [x.strip() for x in line.split('|')]
            if len(fields) != 3 or not groups:
                print('%s:%d: want "python | mpkit | note" under a "== group" line'
                      % (names_path, lineno))
                return 1
            python, mpkit, note = fields
            if any(c in python + note for c in '#%@'):
                # gtk-doc would read them as links to a type, a constant,
                # a parameter.
                print('%s:%d: no #, %% or @ in the Python and notes columns'
                      % (names_path, lineno))
                return 1
            syms = [] if mpkit == '-' else mpkit.split()
            for s in syms + SYMBOL.findall(note):
                base = s.rstrip('()')
                if SYMBOL.fullmatch(base) and base not in declared:
                    unknown.append('%s:%d: %s' % (names_path, lineno, base))
            groups[-1][1].append((python, syms, note))
    if unknown:
        print('docs: the Python to mpkit page names symbols no public header declares:')
        for u in unknown:
            print('  ' + u)
        return 1

    def note_xml(note):
        # Symbols in a note become links too.
        return SYMBOL.sub(lambda m: gtkdoc_ref(m.group(1), functions)
                          if m.group(1) in declared else m.group(1), escape(note, quote=False))

    out = ['<?xml version="1.0"?>',
           '<!DOCTYPE refentry PUBLIC "-//OASIS//DTD DocBook XML V4.3//EN"',
           '               "http://www.oasis-open.org/docbook/xml/4.3/docbookx.dtd">',
           '<!-- Generated by docs/mpkit-docs.py from docs/python-names.txt: edit that. -->',
           '<refentry id="python-to-mpkit">',
           '<refmeta><refentrytitle>Python to mpkit</refentrytitle>'
           '<manvolnum>3</manvolnum><refmiscinfo>MPKIT Library</refmiscinfo></refmeta>',
           '<refnamediv><refname>Python to mpkit</refname>',
           '<refpurpose>which mpkit call does what a multiprocessing name does</refpurpose>'
           '</refnamediv>',
           '<refsect1><title>Reading the table</title>',
           '<para>Each row is a name from Python\'s <literal>multiprocessing</literal> '
           '(and <literal>multiprocessing.managers</literal>, <literal>.connection</literal>) '
           'and the mpkit calls that do the same. mpkit keeps Python\'s verbs; what Python '
           'raises is a #GError in the %MPK_ERROR domain (see #MpkError); a timeout is '
           '<literal>gint64</literal> microseconds, %MPK_WAIT_FOREVER for Python\'s '
           '<literal>None</literal>. Every name in the mpkit column is checked against the '
           'public headers when the reference is built.</para></refsect1>']
    for title, rows in groups:
        out.append('<refsect1><title>%s</title>' % escape(title, quote=False))
        out.append('<informaltable pgwide="1" frame="none"><tgroup cols="3">')
        out.append('<colspec colname="python" colwidth="1*"/><colspec colname="mpkit" '
                   'colwidth="1*"/><colspec colname="note" colwidth="2*"/>')
        out.append('<thead><row><entry>Python</entry><entry>mpkit</entry>'
                   '<entry>notes</entry></row></thead><tbody>')
        for python, syms, note in rows:
            refs = '<simplelist type="vert">%s</simplelist>' % ''.join(
                '<member>%s</member>' % gtkdoc_ref(s, functions) for s in syms) \
                if syms else '(none)'
            out.append('<row><entry><literal>%s</literal></entry><entry>%s</entry>'
                       '<entry>%s</entry></row>' % (escape(python, quote=False), refs, note_xml(note)))
        out.append('</tbody></tgroup></informaltable></refsect1>')
    out.append('</refentry>')
    with open(out_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out) + '\n')
    return 0


def declared_names(decl_list, decl_path):
    """every public symbol: functions, types, macros, and enum members"""
    with open(decl_list, encoding='utf-8') as f:
        names = set(l.strip() for l in f if l.strip() and not l.startswith('<'))
    with open(decl_path, encoding='utf-8') as f:
        for enum in re.findall(r'<ENUM>\s*<NAME>(.*?)</NAME>', f.read()):
            names.update(enum_members(decl_path, enum))
    return names


def enum_members(decl_path, enum):
    with open(decl_path, encoding='utf-8') as f:
        text = f.read()
    m = re.search(r'<ENUM>\s*<NAME>%s</NAME>(.*?)</ENUM>' % re.escape(enum), text, re.S)
    return re.findall(r'^\s*([A-Z][A-Z0-9_]*)\s*[,=}]', m.group(1), re.M) if m else []


def cmd_page_check(page, decl_list, decl_path):
    declared = declared_names(decl_list, decl_path)
    with open(page, encoding='utf-8') as f:
        text = re.sub(r'<!--.*?-->', '', f.read(), flags=re.S)
    bad = ['%s: %s is declared by no public header' % (page, s)
           for s in sorted(set(SYMBOL.findall(text))) if s not in declared]
    if page.endswith('errors.xml'):
        listed = set(re.findall(r'<entry>%(MPK_ERROR_[A-Z_]+)</entry>', text))
        bad += ['%s: no row for %s' % (page, c)
                for c in enum_members(decl_path, 'MpkError') if c not in listed]
    for b in bad:
        print('docs: ' + b)
    return 1 if bad else 0


def cmd_master(doc, decl_list, out_path):
    with open(doc, encoding='utf-8') as f:
        text = f.read()
    sections = []
    with open(decl_list, encoding='utf-8') as f:
        for l in f:
            m = re.match(r'<FILE>(.*)</FILE>', l.strip())
            if m:
                sections.append(m.group(1))
    missing = [s for s in sections if 'href="xml/%s.xml"' % s not in text]
    more = ''
    if missing:
        print('docs: the master document includes no page for %s: they are put in '
              '"More headers" (list them in docs/mpkit-docs.xml)' % ', '.join(missing))
        more = ('\n  <chapter id="more-headers">\n    <title>More headers</title>\n%s'
                '  </chapter>' % ''.join('    <xi:include href="xml/%s.xml"/>\n' % s
                                         for s in missing))
    if '@UNLISTED_SECTIONS@ -->' not in text:
        print('docs: %s has no @UNLISTED_SECTIONS@ marker' % doc)
        return 1
    with open(out_path, 'w', encoding='utf-8') as f:
        f.write(text.replace('@UNLISTED_SECTIONS@ -->', '-->' + more))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == 'annotations':
        return cmd_annotations(argv[2], argv[3:])
    if len(argv) == 3 and argv[1] == 'undocumented':
        return cmd_undocumented(argv[2])
    if len(argv) == 6 and argv[1] == 'python-page':
        return cmd_python_page(*argv[2:])
    if len(argv) == 5 and argv[1] == 'page-check':
        return cmd_page_check(*argv[2:])
    if len(argv) == 5 and argv[1] == 'master':
        return cmd_master(*argv[2:])
    print('usage: mpkit-docs.py annotations DECL SOURCE... | undocumented FILE |'
          ' python-page NAMES DECL_LIST DECL OUT | page-check PAGE DECL_LIST DECL |'
          ' master DOC DECL_LIST OUT', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
