/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-containers.c: the Manager's containers seen from the process that made
 * them: list, dict and namespace proxies, their methods and errors, references stored
 * inside containers (nesting) and what keeps the objects alive, publish / lookup. Ported
 * from CPython's _TestContainers.
 *
 * What each test covers:
 *   /manager/list           34, M10: slices (clamped), extend, repeat, copy + local
 *                           concatenation, list of references, f = [ref a]
 *   /manager/list/methods   M10: insert set pop remove index count reverse clear
 *                           set_slice negative indexes; stored types kept
 *   /manager/list/proxy-in-list 34 (test_list_proxy_in_list), M12
 *   /manager/dict           35, M11: keys values items ("copy") len contains
 *                           get_default setdefault pop update
 *   /manager/dict/iter      35, M11: one pass, then exhausted; clear during
 *                           iteration -> INVALID
 *   /manager/dict/nested    36, M12 M17: stored references keep objects alive,
 *                           clear keeps from_value proxies usable, a plain inner list
 *                           is a plain value, objects freed at the end
 *   /manager/namespace      37, M13: '_name' -> INVALID, set/delete, str, missing
 *                           -> KEY
 *   /manager/nested-queue   38: a queue referenced from a list and a dict works
 *   /manager/refs-elsewhere M12 M17: references in a namespace or a value keep
 *                           objects alive; freed when the last reference goes
 *   /manager/refs-taken-out M12 M17: a reference taken out of its only holder (queue
 *                           get, list pop, dict pop) still works for the receiver
 *                           (the review's "taken out of its only container" fix)
 *   /manager/publish        publish/lookup keep an object alive; unknown -> KEY
 *   /manager/errors         INDEX KEY REMOTE INVALID, messages non-empty
 *   /manager/regress/dict-ref-key review bug 2: a reference as a dict key (set,
 *                           setdefault, update) -> INVALID, the list stays alive
 *   /manager/regress/dict-create-ref-key bug 2 at create: a failed dict create
 *                           ({'/plain': ref B, ref A: 1}) leaves A and B alive
 *   /manager/regress/list-repeat-huge bug 4: repeat x G_MAXINT64 / 2^62 / 2^31 returns
 *                           at once
 *   /manager/regress/boxed-values bug 9a: g_variant_new_variant (x) is stored as x
 *   /manager/list/set-slice-large issue 11: set_slice of 800 000 items finishes (was
 *                           quadratic) while other clients are served
 *   /manager/proxy-types/as-kind issue 12 s3: mpk_proxy_as_<kind>() of a proxy made
 *                           from a reference to each kind: its own works (a reference
 *                           of its own), the six others give INVALID; a wrong cast
 *                           is refused by the typed call itself
 *   /manager/proxy-types/untrusted-reference issue 12 s3: a dict reference a child
 *                           stored, or a published name, is checked at run time
 *   (tests/test-proxy-types.sh checks that the wrong kind does not compile)
 *
 * Contract points: M1-M17 are the Manager rows of
 * ../shared/research/anchor-multiprocessing.md section 1.4; the numbers 34-44 are
 * the CPython test cases of its section 2.
 * The /manager/regress/ tests pin the review's bugs fixed in 927e9a0 (each fails
 * on the code before it; the comment above each names its bug).
 * The issue 11 tests fail on the code before their fix.
 * Shared helpers and assertions: test-manager-util.h. The managers the tests
 * start are shut down with exit code 0 unless killed on purpose.
 */

#include "test-manager-util.h"

/* --- 34: lists ------------------------------------------------------------------------ */

static void
test_manager_list (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *a;
  MpkListProxy *b;
  MpkListProxy *e;
  MpkListProxy *f;

  g_test_summary ("CPython test_list: slices, extend, b *= 2, b + [5, 6] (copy, then a local "
                  "concatenation); a list of two list references round-trips their values; f = "
                  "list([a]); a.append('hello') shows through f[0]");
  manager = new_started ();

  a = new_list (manager, g_variant_new_parsed ("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"));
  ASSERT_ITEMS (mpk_list_proxy_slice (a, 0, G_MAXINT64, &error), error,
                "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");

  b = new_list (manager, NULL);
  ASSERT_ITEMS (mpk_list_proxy_slice (b, 0, G_MAXINT64, &error), error, "[]");
  ASSERT_OK (mpk_list_proxy_extend (b, g_variant_new_parsed ("[0, 1, 2, 3, 4]"), &error), error);
  ASSERT_ITEMS (mpk_list_proxy_slice (b, 0, G_MAXINT64, &error), error, "[0, 1, 2, 3, 4]");
  ASSERT_GOT (mpk_list_proxy_get (b, 2, &error), error, "2");
  ASSERT_ITEMS (mpk_list_proxy_slice (b, 2, 10, &error), error, "[2, 3, 4]");
  ASSERT_ITEMS (mpk_list_proxy_slice (b, -2, G_MAXINT64, &error), error, "[3, 4]");
  ASSERT_ITEMS (mpk_list_proxy_slice (b, -100, 2, &error), error, "[0, 1]");
  ASSERT_ITEMS (mpk_list_proxy_slice (b, 4, 2, &error), error, "[]");

  ASSERT_OK (mpk_list_proxy_repeat (b, 2, &error), error);
  ASSERT_ITEMS (mpk_list_proxy_slice (b, 0, G_MAXINT64, &error), error,
                "[0, 1, 2, 3, 4, 0, 1, 2, 3, 4]");

  /* b + [5, 6]: a plain list made here from b's copy; b does not change. */
  {
    g_autoptr(GVariant) copy = mpk_list_proxy_copy (b, &error);
    g_autoptr(GVariant) sum = NULL;
    g_autofree char *text = NULL;
    GVariantBuilder builder;
    GVariantIter iter;
    GVariant *child;

    g_assert_no_error (error);
    g_assert_nonnull (copy);
    g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
    g_variant_iter_init (&iter, copy);
    while ((child = g_variant_iter_next_value (&iter)) != NULL)
      {
        if (g_variant_is_of_type (child, G_VARIANT_TYPE_VARIANT))
          g_variant_builder_add_value (&builder, child);
        else
          g_variant_builder_add (&builder, "v", child);
        g_variant_unref (child);
      }
    g_variant_builder_add (&builder, "v", I32 (5));
    g_variant_builder_add (&builder, "v", I32 (6));
    sum = g_variant_ref_sink (g_variant_builder_end (&builder));
    text = items_text (sum, FALSE);
    g_assert_cmpstr (text, ==, "[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6]");
    ASSERT_NUMBER (mpk_list_proxy_len (b, &error), error, 10);
  }
  ASSERT_ITEMS (mpk_list_proxy_slice (a, 0, G_MAXINT64, &error), error,
                "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");

  /* e = list([a, b]): each element is a reference that round-trips its list. */
  {
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(GVariant) rb = ref_of (b);
    g_autoptr(MpkListProxy) e0 = NULL;
    g_autoptr(MpkListProxy) e1 = NULL;

    e = new_list (manager, av_of (ra, rb, NULL));
    ASSERT_NUMBER (mpk_list_proxy_len (e, &error), error, 2);
    e0 = as_list (list_at (e, 0));
    e1 = as_list (list_at (e, 1));
    g_assert_cmpstr (mpk_proxy_get_type_name (MPK_PROXY (e0)), ==, "list");
    ASSERT_ITEMS (mpk_list_proxy_slice (e0, 0, G_MAXINT64, &error), error,
                  "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
    ASSERT_ITEMS (mpk_list_proxy_slice (e1, 0, G_MAXINT64, &error), error,
                  "[0, 1, 2, 3, 4, 0, 1, 2, 3, 4]");
  }

  /* f = list([a]); a.append('hello'); f[0][:] shows it. */
  {
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(MpkListProxy) f0 = NULL;

    f = new_list (manager, av_of (ra, NULL));
    ASSERT_OK (mpk_list_proxy_append (a, S ("hello"), &error), error);
    f0 = as_list (list_at (f, 0));
    ASSERT_ITEMS (mpk_list_proxy_slice (f0, 0, G_MAXINT64, &error), error,
                  "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'hello']");
  }

  mpk_list_proxy_unref (f);
  mpk_list_proxy_unref (e);
  mpk_list_proxy_unref (b);
  mpk_list_proxy_unref (a);
  shutdown_clean (manager);
}

static void
test_manager_list_methods (void)
{
  MpkManager *manager;
  g_autoptr(MpkListProxy) l = NULL;
  g_autoptr(GError) error = NULL;
  char *text;

  g_test_summary ("M10: insert, set, pop (default -1 and by index), remove, index, count, "
                  "reverse, set_slice, clear, negative indexes; items keep their GVariant type "
                  "(int32 stays int32, int64 stays int64); to_string works");
  manager = new_started ();
  l = new_list (manager, NULL);

  ASSERT_OK (mpk_list_proxy_append (l, I32 (5), &error), error);
  ASSERT_OK (mpk_list_proxy_append (l, I64 (5), &error), error);
  ASSERT_OK (mpk_list_proxy_append (l, S ("x"), &error), error);
  ASSERT_GOT (mpk_list_proxy_get (l, 0, &error), error, "5");
  ASSERT_GOT (mpk_list_proxy_get (l, 1, &error), error, "int64 5");
  ASSERT_GOT (mpk_list_proxy_get (l, -1, &error), error, "'x'");

  ASSERT_OK (mpk_list_proxy_insert (l, 0, S ("first"), &error), error);
  ASSERT_OK (mpk_list_proxy_insert (l, 100, S ("last"), &error), error);  /* clamps, like Python */
  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "['first', 5, int64 5, 'x', 'last']");
  ASSERT_OK (mpk_list_proxy_set (l, -2, S ("y"), &error), error);
  ASSERT_GOT (mpk_list_proxy_get (l, 3, &error), error, "'y'");

  ASSERT_GOT (mpk_list_proxy_pop (l, -1, &error), error, "'last'");
  ASSERT_GOT (mpk_list_proxy_pop (l, 0, &error), error, "'first'");
  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "[5, int64 5, 'y']");

  /* int32 5 and int64 5 are different values: count/index/remove see the type. */
  ASSERT_NUMBER (mpk_list_proxy_count (l, I32 (5), &error), error, 1);
  ASSERT_NUMBER (mpk_list_proxy_index (l, I64 (5), &error), error, 1);
  ASSERT_NUMBER (mpk_list_proxy_index (l, S ("y"), &error), error, 2);
  ASSERT_OK (mpk_list_proxy_remove (l, I64 (5), &error), error);
  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "[5, 'y']");

  ASSERT_OK (mpk_list_proxy_extend (l, g_variant_new_parsed ("[1, 2, 3]"), &error), error);
  ASSERT_OK (mpk_list_proxy_reverse (l, &error), error);
  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "[3, 2, 1, 'y', 5]");
  ASSERT_OK (mpk_list_proxy_set_slice (l, 1, 3, g_variant_new_parsed ("['a', 'b', 'c']"), &error),
             error);
  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "[3, 'a', 'b', 'c', 'y', 5]");
  ASSERT_OK (mpk_list_proxy_set_slice (l, 0, 4, g_variant_new_parsed ("@ai []"), &error), error);
  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "['y', 5]");

  text = mpk_proxy_to_string (MPK_PROXY (l), &error);
  g_assert_no_error (error);
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "'y'"));
  g_free (text);

  /* The generic _callmethod reaches the same methods. */
  ASSERT_GOT (mpk_proxy_call (MPK_PROXY (l), "len", NULL, &error), error, "int64 2");

  ASSERT_OK (mpk_list_proxy_clear (l, &error), error);
  ASSERT_NUMBER (mpk_list_proxy_len (l, &error), error, 0);
  g_clear_pointer (&l, mpk_list_proxy_unref);
  shutdown_clean (manager);
}

static void
test_manager_list_proxy_in_list (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  g_autoptr(MpkListProxy) a = NULL;
  MpkListProxy *inner[3];
  guint i;

  g_test_summary ("CPython test_list_proxy_in_list: a list of three list references; a[0][-1] = "
                  "55 changes only a[0]; a[1].pop() == 2, len(a[1]) == 2; the inner lists live on "
                  "after the local proxies are dropped");
  manager = new_started ();
  for (i = 0; i < 3; i++)
    inner[i] = new_list (manager, g_variant_new_parsed ("[0, 1, 2]"));
  {
    g_autoptr(GVariant) r0 = ref_of (inner[0]);
    g_autoptr(GVariant) r1 = ref_of (inner[1]);
    g_autoptr(GVariant) r2 = ref_of (inner[2]);

    a = new_list (manager, av_of (r0, r1, r2, NULL));
  }
  for (i = 0; i < 3; i++)
    mpk_list_proxy_unref (inner[i]);

  for (i = 0; i < 3; i++)
    {
      g_autoptr(MpkListProxy) x = as_list (list_at (a, i));

      ASSERT_ITEMS (mpk_list_proxy_copy (x, &error), error, "[0, 1, 2]");
    }
  {
    g_autoptr(MpkListProxy) x = as_list (list_at (a, 0));

    ASSERT_OK (mpk_list_proxy_set (x, -1, I32 (55), &error), error);
  }
  {
    g_autoptr(MpkListProxy) x0 = as_list (list_at (a, 0));
    g_autoptr(MpkListProxy) x1 = as_list (list_at (a, 1));
    g_autoptr(MpkListProxy) x2 = as_list (list_at (a, 2));

    ASSERT_ITEMS (mpk_list_proxy_copy (x0, &error), error, "[0, 1, 55]");
    ASSERT_ITEMS (mpk_list_proxy_copy (x1, &error), error, "[0, 1, 2]");
    ASSERT_ITEMS (mpk_list_proxy_copy (x2, &error), error, "[0, 1, 2]");
    ASSERT_GOT (mpk_list_proxy_pop (x1, -1, &error), error, "2");
    ASSERT_NUMBER (mpk_list_proxy_len (x1, &error), error, 2);
    ASSERT_NUMBER (mpk_list_proxy_len (x0, &error), error, 3);
    ASSERT_NUMBER (mpk_list_proxy_len (x2, &error), error, 3);
  }
  g_clear_pointer (&a, mpk_list_proxy_unref);
  shutdown_clean (manager);
}

/* --- 35: dicts ------------------------------------------------------------------------- */

/* d[i] = chr(i) for i in 65..69. */
static MpkDictProxy *
letters_dict (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  MpkDictProxy *d = new_dict (manager, NULL);
  int i;

  for (i = 65; i < 70; i++)
    {
      char s[2] = { (char) i, 0 };

      ASSERT_OK (mpk_dict_proxy_set (d, I32 (i), S (s), &error), error);
    }
  return d;
}

static void
test_manager_dict (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  g_autoptr(MpkDictProxy) d = NULL;

  g_test_summary ("CPython test_dict: d[i] = chr(i) for 65..69; items (the contract has no "
                  "copy(): items is the copy), keys and values hold exactly those; len, contains, "
                  "get_default, setdefault, pop, update");
  manager = new_started ();
  d = letters_dict (manager);

  ASSERT_SORTED_ITEMS (mpk_dict_proxy_keys (d, &error), error, "[65, 66, 67, 68, 69]");
  ASSERT_SORTED_ITEMS (mpk_dict_proxy_values (d, &error), error, "['A', 'B', 'C', 'D', 'E']");
  ASSERT_NUMBER (mpk_dict_proxy_len (d, &error), error, 5);
  ASSERT_GOT (mpk_dict_proxy_get (d, I32 (66), &error), error, "'B'");

  ASSERT_OK (mpk_dict_proxy_contains (d, I32 (65), &error), error);
  ASSERT_NUMBER (mpk_dict_proxy_contains (d, I32 (70), &error), error, FALSE);
  /* int64 65 is another key than int32 65. */
  ASSERT_NUMBER (mpk_dict_proxy_contains (d, I64 (65), &error), error, FALSE);
  ASSERT_GOT (mpk_dict_proxy_get_default (d, I32 (70), S ("z"), &error), error, "'z'");
  ASSERT_GOT (mpk_dict_proxy_get_default (d, I32 (65), S ("z"), &error), error, "'A'");
  ASSERT_GOT (mpk_dict_proxy_setdefault (d, I32 (70), S ("F"), &error), error, "'F'");
  ASSERT_GOT (mpk_dict_proxy_setdefault (d, I32 (70), S ("G"), &error), error, "'F'");
  ASSERT_NUMBER (mpk_dict_proxy_len (d, &error), error, 6);
  ASSERT_GOT (mpk_dict_proxy_pop (d, I32 (70), &error), error, "'F'");
  ASSERT_NUMBER (mpk_dict_proxy_len (d, &error), error, 5);

  ASSERT_OK (mpk_dict_proxy_update (d, g_variant_new_parsed ("{71: <'G'>, 65: <'a'>}"), &error),
             error);
  ASSERT_GOT (mpk_dict_proxy_get (d, I32 (71), &error), error, "'G'");
  ASSERT_GOT (mpk_dict_proxy_get (d, I32 (65), &error), error, "'a'");
  ASSERT_NUMBER (mpk_dict_proxy_len (d, &error), error, 6);

  /* A dict made from a{sv} holds string keys and the boxed values. */
  {
    g_autoptr(MpkDictProxy) e = new_dict (manager,
                                          g_variant_new_parsed ("{'x': <1>, 'y': <'two'>}"));

    ASSERT_GOT (mpk_dict_proxy_get (e, S ("x"), &error), error, "1");
    ASSERT_GOT (mpk_dict_proxy_get (e, S ("y"), &error), error, "'two'");
  }

  /* items() is the copy: "a(vv)" (a dict entry's key must be a basic type,
   * so "a{vv}" does not exist), one pair per key. */
  ASSERT_GOT (mpk_dict_proxy_pop (d, I32 (71), &error), error, "'G'");
  ASSERT_OK (mpk_dict_proxy_set (d, I32 (65), S ("A"), &error), error);
  {
    g_autoptr(GVariant) items = mpk_dict_proxy_items (d, &error);

    g_assert_no_error (error);
    g_assert_nonnull (items);
    g_assert_cmpstr (g_variant_get_type_string (items), ==, "a(vv)");
  }
  ASSERT_SORTED_ITEMS (mpk_dict_proxy_items (d, &error), error,
                       "[(65, 'A'), (66, 'B'), (67, 'C'), (68, 'D'), (69, 'E')]");

  ASSERT_OK (mpk_dict_proxy_clear (d, &error), error);
  ASSERT_NUMBER (mpk_dict_proxy_len (d, &error), error, 0);
  g_clear_pointer (&d, mpk_dict_proxy_unref);
  shutdown_clean (manager);
}

static void
test_manager_dict_iter (void)
{
  MpkManager *manager;
  g_autoptr(MpkDictProxy) d = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("CPython test_dict_iter: iter(d) yields the keys once; the iterator is then "
                  "exhausted; an iterator made before d.clear() fails INVALID (\"dictionary "
                  "changed size during iteration\")");
  manager = new_started ();
  d = letters_dict (manager);

  {
    g_autoptr(MpkIteratorProxy) it = mpk_dict_proxy_iter (d, &error);
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (it);
    g_assert_cmpstr (mpk_proxy_get_type_name (MPK_PROXY (it)), ==, "iterator");
    first = drain_iterator (it, TRUE);
    g_assert_cmpstr (first, ==, "[65, 66, 67, 68, 69]");
    second = drain_iterator (it, FALSE);
    g_assert_cmpstr (second, ==, "[]");
  }
  {
    g_autoptr(MpkIteratorProxy) it = mpk_dict_proxy_iter (d, &error);
    g_autoptr(GVariant) item = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (it);
    ASSERT_OK (mpk_dict_proxy_clear (d, &error), error);
    g_assert_false (mpk_iterator_proxy_next (it, &item, &error));
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_assert_null (item);
    g_clear_error (&error);
  }
  g_clear_pointer (&d, mpk_dict_proxy_unref);
  shutdown_clean (manager);
}

/* --- 36: nested proxies ---------------------------------------------------------------- */

static void
test_manager_dict_nested (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkDictProxy *pets;
  MpkDictProxy *supplies;
  MpkDictProxy *d;
  MpkListProxy *l;
  MpkListProxy *outer;
  guint objects_before;

  g_test_summary ("CPython test_dict_proxy_nested: dicts stored (as references) in a dict stay "
                  "live after the local proxies are dropped; d.clear() keeps the inner proxies "
                  "usable; a list of them works; a plain inner list comes back as a plain value; "
                  "every object is freed when nothing refers to it any more");
  manager = new_started ();
  objects_before = stats_of (manager).objects;

  pets = new_dict (manager, g_variant_new_parsed ("{'ferrets': <2>, 'hamsters': <4>}"));
  supplies = new_dict (manager, g_variant_new_parsed ("{'water': <10>, 'feed': <3>}"));
  {
    g_autoptr(GVariant) rp = ref_of (pets);
    g_autoptr(GVariant) rs = ref_of (supplies);

    d = new_dict (manager, asv_of ("pets", rp, "supplies", rs, NULL));
  }
  ASSERT_GOT (mpk_dict_proxy_get (supplies, S ("water"), &error), error, "10");
  {
    g_autoptr(MpkDictProxy) ds = as_dict (dict_at (d, S ("supplies")));

    ASSERT_GOT (mpk_dict_proxy_get (ds, S ("water"), &error), error, "10");
    ASSERT_OK (mpk_dict_proxy_set (ds, S ("blankets"), I32 (5), &error), error);
    ASSERT_GOT (mpk_dict_proxy_get (supplies, S ("blankets"), &error), error, "5");
    ASSERT_GOT (mpk_dict_proxy_get (ds, S ("blankets"), &error), error, "5");
    ASSERT_OK (mpk_dict_proxy_set (ds, S ("water"), I32 (7), &error), error);
    ASSERT_GOT (mpk_dict_proxy_get (supplies, S ("water"), &error), error, "7");
    ASSERT_GOT (mpk_dict_proxy_get (ds, S ("water"), &error), error, "7");
  }

  /* del pets; del MPK_PROXY (supplies): d's references keep them alive. */
  mpk_dict_proxy_unref (pets);
  mpk_dict_proxy_unref (supplies);
  {
    g_autoptr(MpkDictProxy) dp = as_dict (dict_at (d, S ("pets")));
    g_autoptr(MpkDictProxy) ds = as_dict (dict_at (d, S ("supplies")));

    ASSERT_GOT (mpk_dict_proxy_get (dp, S ("ferrets"), &error), error, "2");
    ASSERT_OK (mpk_dict_proxy_set (ds, S ("blankets"), I32 (11), &error), error);
  }
  {
    g_autoptr(MpkDictProxy) ds = as_dict (dict_at (d, S ("supplies")));

    ASSERT_GOT (mpk_dict_proxy_get (ds, S ("blankets"), &error), error, "11");
  }

  /* pets = d['pets']; supplies = d['supplies']; d.clear(): they stay usable. */
  pets = as_dict (dict_at (d, S ("pets")));
  supplies = as_dict (dict_at (d, S ("supplies")));
  ASSERT_OK (mpk_dict_proxy_clear (d, &error), error);
  ASSERT_NUMBER (mpk_dict_proxy_len (d, &error), error, 0);
  ASSERT_GOT (mpk_dict_proxy_get (supplies, S ("water"), &error), error, "7");
  ASSERT_GOT (mpk_dict_proxy_get (pets, S ("hamsters"), &error), error, "4");

  /* l = list([pets, supplies]); l[0]['marmots'] = 1. */
  {
    g_autoptr(GVariant) rp = ref_of (pets);
    g_autoptr(GVariant) rs = ref_of (supplies);

    l = new_list (manager, av_of (rp, rs, NULL));
  }
  {
    g_autoptr(MpkDictProxy) l0 = as_dict (list_at (l, 0));

    ASSERT_OK (mpk_dict_proxy_set (l0, S ("marmots"), I32 (1), &error), error);
    ASSERT_GOT (mpk_dict_proxy_get (pets, S ("marmots"), &error), error, "1");
    ASSERT_GOT (mpk_dict_proxy_get (l0, S ("marmots"), &error), error, "1");
  }
  mpk_dict_proxy_unref (pets);
  mpk_dict_proxy_unref (supplies);
  {
    g_autoptr(MpkDictProxy) l0 = as_dict (list_at (l, 0));

    ASSERT_GOT (mpk_dict_proxy_get (l0, S ("marmots"), &error), error, "1");
  }

  /* outer = list([[88, 99], l]): outer[0] is a plain value, outer[-1][-1]['feed'] == 3. */
  {
    g_autoptr(GVariant) rl = ref_of (l);

    outer = new_list (manager, av_of (g_variant_new_parsed ("[88, 99]"), rl, NULL));
  }
  {
    g_autoptr(GVariant) plain = mpk_list_proxy_get (outer, 0, &error);
    g_autoptr(MpkListProxy) last = NULL;
    g_autoptr(MpkDictProxy) last_last = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (plain);
    g_assert_false (mpk_proxy_is_reference (plain));
    g_assert_cmpstr (g_variant_get_type_string (plain), ==, "ai");
    last = as_list (list_at (outer, -1));
    last_last = as_dict (list_at (last, -1));
    ASSERT_GOT (mpk_dict_proxy_get (last_last, S ("feed"), &error), error, "3");
  }

  /* d, l, outer are the last holders: dropping them frees all five objects. */
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 5);
  mpk_list_proxy_unref (outer);
  mpk_list_proxy_unref (l);
  mpk_dict_proxy_unref (d);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* --- 37: namespace ----------------------------------------------------------------------- */

static void
test_manager_namespace (void)
{
  MpkManager *manager;
  g_autoptr(MpkNamespaceProxy) n = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_test_summary ("CPython test_namespace: name and job set and read back; '_hidden' is refused "
                  "(INVALID); after deleting job, str(n) == \"Namespace(name='Bob')\" and job is "
                  "missing (KEY)");
  manager = new_started ();
  n = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  g_assert_nonnull (n);

  ASSERT_OK (mpk_namespace_proxy_set (n, "name", S ("Bob"), &error), error);
  ASSERT_OK (mpk_namespace_proxy_set (n, "job", S ("Builder"), &error), error);
  ASSERT_FAILS (mpk_namespace_proxy_set (n, "_hidden", S ("hidden"), &error), error,
                MPK_ERROR_INVALID);
  ASSERT_NO_VARIANT (mpk_namespace_proxy_get (n, "_hidden", &error), error, MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_namespace_proxy_get (n, "name", &error), error, "'Bob'");
  ASSERT_GOT (mpk_namespace_proxy_get (n, "job", &error), error, "'Builder'");

  ASSERT_OK (mpk_namespace_proxy_delete (n, "job", &error), error);
  text = mpk_proxy_to_string (MPK_PROXY (n), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "Namespace(name='Bob')");
  ASSERT_GOT (mpk_namespace_proxy_get (n, "name", &error), error, "'Bob'");
  ASSERT_NO_VARIANT (mpk_namespace_proxy_get (n, "job", &error), error, MPK_ERROR_KEY);
  ASSERT_FAILS (mpk_namespace_proxy_delete (n, "job", &error), error, MPK_ERROR_KEY);

  g_clear_pointer (&n, mpk_namespace_proxy_unref);
  shutdown_clean (manager);
}

/* --- 38: a queue inside containers -------------------------------------------------------- */

static void
test_manager_nested_queue (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  g_autoptr(MpkListProxy) a = NULL;
  g_autoptr(MpkDictProxy) b = NULL;

  g_test_summary ("CPython test_nested_queue: a queue whose only holder is a list (then a dict) "
                  "still works through a[0] / b[0]: put 123, get 123");
  manager = new_started ();

  a = new_list (manager, NULL);
  {
    g_autoptr(MpkQueueProxy) q = new_queue (manager, 0, FALSE);
    g_autoptr(GVariant) rq = ref_of (q);

    ASSERT_OK (mpk_list_proxy_append (a, rq, &error), error);
  }
  {
    g_autoptr(MpkQueueProxy) q = as_queue (list_at (a, 0));

    ASSERT_OK (mpk_queue_proxy_put (q, I32 (123), CHILD_TIMEOUT_US, &error), error);
  }
  {
    g_autoptr(MpkQueueProxy) q = as_queue (list_at (a, 0));

    ASSERT_GOT (mpk_queue_proxy_get (q, CHILD_TIMEOUT_US, &error), error, "123");
  }

  b = new_dict (manager, NULL);
  {
    g_autoptr(MpkQueueProxy) q = new_queue (manager, 0, FALSE);
    g_autoptr(GVariant) rq = ref_of (q);

    ASSERT_OK (mpk_dict_proxy_set (b, I32 (0), rq, &error), error);
  }
  {
    g_autoptr(MpkQueueProxy) q = as_queue (dict_at (b, I32 (0)));

    ASSERT_OK (mpk_queue_proxy_put (q, I32 (123), CHILD_TIMEOUT_US, &error), error);
  }
  {
    g_autoptr(MpkQueueProxy) q = as_queue (dict_at (b, I32 (0)));

    ASSERT_GOT (mpk_queue_proxy_get (q, CHILD_TIMEOUT_US, &error), error, "123");
  }
  g_clear_pointer (&a, mpk_list_proxy_unref);
  g_clear_pointer (&b, mpk_dict_proxy_unref);
  shutdown_clean (manager);
}

static void
test_manager_refs_elsewhere (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkNamespaceProxy *ns;
  MpkValueProxy *value;
  guint objects_before;

  g_test_summary ("A reference stored in a namespace or a value keeps its object alive after "
                  "the local proxy is dropped, and comes back usable; the objects are freed once "
                  "nothing refers to them");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  ns = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  value = new_value (manager, I32 (0));
  {
    g_autoptr(MpkListProxy) a = new_list (manager, g_variant_new_parsed ("['in ns']"));
    g_autoptr(MpkListProxy) c = new_list (manager, g_variant_new_parsed ("['in value']"));
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(GVariant) rc = ref_of (c);

    ASSERT_OK (mpk_namespace_proxy_set (ns, "list", ra, &error), error);
    ASSERT_OK (mpk_value_proxy_set (value, rc, &error), error);
  }
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 4);
  {
    g_autoptr(GVariant) ra = mpk_namespace_proxy_get (ns, "list", &error);
    g_autoptr(GVariant) rc = NULL;
    g_autoptr(MpkListProxy) a = NULL;
    g_autoptr(MpkListProxy) c = NULL;

    g_assert_no_error (error);
    a = as_list (mpk_proxy_from_value (manager, ra, &error));
    g_assert_no_error (error);
    ASSERT_ITEMS (mpk_list_proxy_copy (a, &error), error, "['in ns']");
    rc = mpk_value_proxy_get (value, &error);
    g_assert_no_error (error);
    c = as_list (mpk_proxy_from_value (manager, rc, &error));
    g_assert_no_error (error);
    ASSERT_ITEMS (mpk_list_proxy_copy (c, &error), error, "['in value']");
  }
  /* The namespace and the value let go when the name is deleted or the
   * value replaced. */
  ASSERT_OK (mpk_namespace_proxy_delete (ns, "list", &error), error);
  ASSERT_OK (mpk_value_proxy_set (value, I32 (1), &error), error);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 2);
  mpk_namespace_proxy_unref (ns);
  mpk_value_proxy_unref (value);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Takes the reference to a one-item list ['@name'] out of a container with
 * @take (whose only holder it was; it reports through &@error) and checks that
 * it still works. */
#define ASSERT_TAKEN_REF_WORKS(manager, take, error, name) \
  G_STMT_START \
    { \
      g_autoptr(GVariant) ref_ = (take); \
      g_autoptr(MpkProxy) p_ = NULL; \
      g_assert_no_error (error); \
      g_assert_nonnull (ref_); \
      g_assert_true (mpk_proxy_is_reference (ref_)); \
      p_ = mpk_proxy_from_value ((manager), ref_, &(error)); \
      g_assert_no_error (error); \
      g_assert_nonnull (p_); \
      ASSERT_ITEMS (mpk_proxy_call (p_, "copy", NULL, &(error)), error, "['" name "']"); \
    } \
  G_STMT_END

static void
test_manager_refs_taken_out (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkQueueProxy *queue;
  MpkListProxy *list;
  MpkDictProxy *dict;
  guint objects_before;

  g_test_summary ("A reference taken out of a container that was its only holder (queue get, "
                  "list pop, dict pop) still names a live object when it reaches the client: "
                  "Python's test_nested_queue pattern with the item handed on; the objects are "
                  "freed once the new proxies are dropped");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  queue = new_queue (manager, 0, FALSE);
  list = new_list (manager, NULL);
  dict = new_dict (manager, NULL);
  {
    g_autoptr(MpkListProxy) a = new_list (manager, g_variant_new_parsed ("['queued']"));
    g_autoptr(MpkListProxy) b = new_list (manager, g_variant_new_parsed ("['listed']"));
    g_autoptr(MpkListProxy) c = new_list (manager, g_variant_new_parsed ("['keyed']"));
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(GVariant) rb = ref_of (b);
    g_autoptr(GVariant) rc = ref_of (c);

    ASSERT_OK (mpk_queue_proxy_put (queue, ra, MPK_NO_WAIT, &error), error);
    ASSERT_OK (mpk_list_proxy_append (list, rb, &error), error);
    ASSERT_OK (mpk_dict_proxy_set (dict, S ("k"), rc, &error), error);
  }
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 6);

  ASSERT_TAKEN_REF_WORKS (manager, mpk_queue_proxy_get (queue, MPK_NO_WAIT, &error),
                          error, "queued");
  ASSERT_TAKEN_REF_WORKS (manager, mpk_list_proxy_pop (list, -1, &error), error, "listed");
  ASSERT_TAKEN_REF_WORKS (manager, mpk_dict_proxy_pop (dict, S ("k"), &error), error, "keyed");
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 3);

  mpk_queue_proxy_unref (queue);
  mpk_list_proxy_unref (list);
  mpk_dict_proxy_unref (dict);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* --- handles in children, names ------------------------------------------------------------------- */

static void
test_manager_publish (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *list;
  MpkListProxy *found;
  guint objects_before;

  g_test_summary ("publish/lookup: a published object outlives its creator's proxy (the server "
                  "holds it while named); lookup gives a working proxy; an unknown name is KEY");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  list = new_list (manager, g_variant_new_parsed ("['kept']"));
  ASSERT_OK (mpk_manager_publish (manager, "shared-list", MPK_PROXY (list), &error), error);
  mpk_list_proxy_unref (list);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 1);

  found = as_list (mpk_manager_lookup (manager, "shared-list", &error));
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpstr (mpk_proxy_get_type_name (MPK_PROXY (found)), ==, "list");
  ASSERT_ITEMS (mpk_list_proxy_copy (found, &error), error, "['kept']");
  ASSERT_OK (mpk_list_proxy_append (found, S ("more"), &error), error);
  mpk_list_proxy_unref (found);

  found = as_list (mpk_manager_lookup (manager, "shared-list", &error));
  g_assert_no_error (error);
  ASSERT_ITEMS (mpk_list_proxy_copy (found, &error), error, "['kept', 'more']");
  mpk_list_proxy_unref (found);
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "never-published", &error), error, MPK_ERROR_KEY);
  shutdown_clean (manager);
}

/* --- gaps: errors ------------------------------------------------------------------------------------------- */

static void
test_manager_errors (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *l;
  MpkNamespaceProxy *n;
  MpkListProxy *empty;
  MpkDictProxy *d;

  g_test_summary ("Python's IndexError / KeyError / RemoteError: an index out of range → INDEX, "
                  "a missing key or name → KEY, an unknown method or type or wrong argument types "
                  "→ REMOTE, a non-basic dict key → INVALID; every message is non-empty; the "
                  "proxies work afterwards");
  manager = new_started ();
  l = new_list (manager, g_variant_new_parsed ("[1, 2, 3]"));
  empty = new_list (manager, NULL);
  d = new_dict (manager, g_variant_new_parsed ("{'a': <1>}"));
  n = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);

  ASSERT_NO_VARIANT (mpk_list_proxy_get (l, 3, &error), error, MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_proxy_get (l, -4, &error), error, MPK_ERROR_INDEX);
  ASSERT_FAILS (mpk_list_proxy_set (l, 10, I32 (0), &error), error, MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_proxy_pop (l, 5, &error), error, MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_proxy_pop (empty, -1, &error), error, MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_proxy_get (empty, 0, &error), error, MPK_ERROR_INDEX);

  ASSERT_NO_VARIANT (mpk_dict_proxy_get (d, S ("b"), &error), error, MPK_ERROR_KEY);
  ASSERT_NO_VARIANT (mpk_dict_proxy_pop (d, S ("b"), &error), error, MPK_ERROR_KEY);
  ASSERT_NO_VARIANT (mpk_dict_proxy_get (d, I32 (1), &error), error, MPK_ERROR_KEY);
  ASSERT_NO_VARIANT (mpk_namespace_proxy_get (n, "nobody", &error), error, MPK_ERROR_KEY);
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "nothing-published", &error), error, MPK_ERROR_KEY);

  ASSERT_FAILS (mpk_dict_proxy_set (d, g_variant_new_parsed ("[1, 2]"), I32 (0), &error), error,
                MPK_ERROR_INVALID);

  ASSERT_NO_VARIANT (mpk_proxy_call (MPK_PROXY (l), "no_such_method", NULL, &error), error,
                     MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (MPK_PROXY (l), "get", g_variant_new ("(s)", "zero"), &error),
                     error, MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (MPK_PROXY (l), "append", g_variant_new ("(ii)", 1, 2), &error),
                     error, MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (MPK_PROXY (d), "get", NULL, &error), error, MPK_ERROR_REMOTE);
  ASSERT_NO_PROXY (mpk_manager_create (manager, "no_such_type", NULL, &error), error,
                   MPK_ERROR_REMOTE);

  ASSERT_ITEMS (mpk_list_proxy_copy (l, &error), error, "[1, 2, 3]");
  ASSERT_GOT (mpk_dict_proxy_get (d, S ("a"), &error), error, "1");

  mpk_namespace_proxy_unref (n);
  mpk_dict_proxy_unref (d);
  mpk_list_proxy_unref (empty);
  mpk_list_proxy_unref (l);
  shutdown_clean (manager);
}

/* --- regressions: the review's bugs (fixed in 927e9a0) -------------------------------------------- */

/* Review bug 2: a reference as a dict key was dropped when the entry was
 * replaced or removed but never counted, so the list it named was freed
 * under its owner. Keys may not be references now. */
static void
test_regress_dict_ref_key (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *list;
  MpkDictProxy *dict;
  g_autoptr(GVariant) ref = NULL;
  guint objects_before;

  g_test_summary ("Review bug 2: a proxy reference as a dict key (set twice, setdefault, "
                  "update) is refused with INVALID; the list it names stays alive and the dict "
                  "stays empty; a reference as a value still works");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  list = new_list (manager, g_variant_new_parsed ("['kept']"));
  dict = new_dict (manager, NULL);
  ref = ref_of (list);

  ASSERT_FAILS (mpk_dict_proxy_set (dict, ref, I32 (1), &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_dict_proxy_set (dict, ref, I32 (2), &error), error, MPK_ERROR_INVALID);
  ASSERT_NO_VARIANT (mpk_dict_proxy_setdefault (dict, ref, I32 (3), &error), error,
                     MPK_ERROR_INVALID);
  {
    GVariantBuilder builder;

    g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ov}"));
    g_variant_builder_add (&builder, "{@ov}", ref, I32 (4));
    ASSERT_FAILS (mpk_dict_proxy_update (dict, g_variant_builder_end (&builder), &error), error,
                  MPK_ERROR_INVALID);
  }
  ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "['kept']");
  ASSERT_NUMBER (mpk_dict_proxy_len (dict, &error), error, 0);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 2);

  ASSERT_OK (mpk_dict_proxy_set (dict, S ("k"), ref, &error), error);
  ASSERT_OK (mpk_dict_proxy_set (dict, S ("k"), I32 (0), &error), error);
  ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);

  mpk_dict_proxy_unref (dict);
  mpk_list_proxy_unref (list);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 2, at create (the reviewer's t1.c part 2): a dict made from
 * items whose values hold a reference and whose later key is refused. The
 * failed create must leave every count as it was. */
static void
test_regress_dict_create_ref_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) key_ref = NULL;
  g_autoptr(GVariant) value_ref = NULL;
  GVariantBuilder builder;
  MpkManager *manager;
  MpkListProxy *keyed;
  MpkListProxy *valued;
  guint objects_before;

  g_test_summary ("Review bug 2 at create: dict items {'/plain': <ref B>, ref A: <1>} are "
                  "refused with INVALID (a reference key), and both lists A and B stay alive: the "
                  "failed create drops nothing it did not hold");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  keyed = new_list (manager, g_variant_new_parsed ("['key']"));
  valued = new_list (manager, g_variant_new_parsed ("['value']"));
  key_ref = ref_of (keyed);
  value_ref = ref_of (valued);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ov}"));
  g_variant_builder_add (&builder, "{o@v}", "/plain", g_variant_new_variant (value_ref));
  g_variant_builder_add (&builder, "{@ov}", key_ref, I32 (1));
  ASSERT_NO_PROXY (mpk_manager_dict (manager, g_variant_builder_end (&builder), &error), error,
                   MPK_ERROR_INVALID);

  ASSERT_ITEMS (mpk_list_proxy_copy (keyed, &error), error, "['key']");
  ASSERT_ITEMS (mpk_list_proxy_copy (valued, &error), error, "['value']");
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 2);
  mpk_list_proxy_unref (keyed);
  mpk_list_proxy_unref (valued);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 4: list repeat looped (times - 1) × len under the server's lock
 * (an empty list × G_MAXINT64 for ever) and its size check overflowed
 * (4 items × 2^62), so the server hung. */
static void
test_regress_list_repeat_huge (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *empty;
  MpkListProxy *four;
  MpkListProxy *one;

  g_test_summary ("Review bug 4: repeat(G_MAXINT64) of an empty list succeeds and leaves it "
                  "empty; 4 items × 2^62 and 1 item × 2^31 are INVALID and leave the lists as they "
                  "were; each returns at once and the server keeps serving");
  manager = new_started ();
  /* A server stuck in the loop fails the call TIMED_OUT instead of hanging the test. */
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US / 2);
  empty = new_list (manager, NULL);
  four = new_list (manager, g_variant_new_parsed ("[0, 1, 2, 3]"));
  one = new_list (manager, g_variant_new_parsed ("['x']"));

  ASSERT_OK (mpk_list_proxy_repeat (empty, G_MAXINT64, &error), error);
  ASSERT_NUMBER (mpk_list_proxy_len (empty, &error), error, 0);
  ASSERT_FAILS (mpk_list_proxy_repeat (four, (gint64) 1 << 62, &error), error, MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_list_proxy_copy (four, &error), error, "[0, 1, 2, 3]");
  ASSERT_FAILS (mpk_list_proxy_repeat (one, (gint64) 1 << 31, &error), error, MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_list_proxy_copy (one, &error), error, "['x']");
  /* Ordinary repeats still work. */
  ASSERT_OK (mpk_list_proxy_repeat (four, 2, &error), error);
  ASSERT_ITEMS (mpk_list_proxy_copy (four, &error), error, "[0, 1, 2, 3, 0, 1, 2, 3]");
  ASSERT_OK (mpk_list_proxy_repeat (one, 0, &error), error);
  ASSERT_NUMBER (mpk_list_proxy_len (one, &error), error, 0);

  assert_still_serving (manager);
  mpk_list_proxy_unref (empty);
  mpk_list_proxy_unref (four);
  mpk_list_proxy_unref (one);
  shutdown_clean (manager);
}

/* Review bug 9a: a value that is a "v" already was boxed again, so
 * g_variant_new_variant (x) was stored as <x>, not x. */
static void
test_regress_boxed_values (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *list;
  MpkDictProxy *dict;
  MpkValueProxy *value;
  MpkNamespaceProxy *ns;
  MpkQueueProxy *queue;

  g_test_summary ("Review bug 9a: g_variant_new_variant (int32 7) given to list append / insert "
                  "/ set, dict set (value and key), namespace set, value set and queue put is "
                  "stored as int32 7 (read back with type \"i\")");
  manager = new_started ();
  list = new_list (manager, NULL);
  dict = new_dict (manager, NULL);
  ns = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  value = new_value (manager, I32 (0));
  queue = new_queue (manager, 0, FALSE);

  ASSERT_OK (mpk_list_proxy_append (list, g_variant_new_variant (I32 (7)), &error), error);
  ASSERT_GOT (mpk_list_proxy_get (list, 0, &error), error, "7");
  ASSERT_OK (mpk_list_proxy_insert (list, 0, g_variant_new_variant (I32 (6)), &error), error);
  ASSERT_OK (mpk_list_proxy_set (list, 1, g_variant_new_variant (I32 (8)), &error), error);
  ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "[6, 8]");
  ASSERT_NUMBER (mpk_list_proxy_count (list, g_variant_new_variant (I32 (8)), &error), error, 1);
  ASSERT_NUMBER (mpk_list_proxy_count (list, I32 (8), &error), error, 1);

  ASSERT_OK (mpk_dict_proxy_set (dict, S ("k"), g_variant_new_variant (I32 (7)), &error), error);
  ASSERT_GOT (mpk_dict_proxy_get (dict, S ("k"), &error), error, "7");
  ASSERT_OK (mpk_dict_proxy_set (dict, g_variant_new_variant (S ("boxed")), I32 (1), &error),
             error);
  ASSERT_GOT (mpk_dict_proxy_get (dict, S ("boxed"), &error), error, "1");

  ASSERT_OK (mpk_namespace_proxy_set (ns, "x", g_variant_new_variant (I32 (7)), &error), error);
  ASSERT_GOT (mpk_namespace_proxy_get (ns, "x", &error), error, "7");

  ASSERT_OK (mpk_value_proxy_set (value, g_variant_new_variant (I32 (7)), &error), error);
  ASSERT_GOT (mpk_value_proxy_get (value, &error), error, "7");

  ASSERT_OK (mpk_queue_proxy_put (queue, g_variant_new_variant (I32 (7)), MPK_NO_WAIT, &error),
             error);
  ASSERT_GOT (mpk_queue_proxy_get (queue, MPK_NO_WAIT, &error), error, "7");

  mpk_list_proxy_unref (list);
  mpk_dict_proxy_unref (dict);
  mpk_namespace_proxy_unref (ns);
  mpk_value_proxy_unref (value);
  mpk_queue_proxy_unref (queue);
  shutdown_clean (manager);
}

/* --- work under the server's lock --- */

/* Quadratic work at this size took minutes; linear work takes a few seconds.
 * Under a sanitizer or valgrind (everything many times slower) the size only
 * checks the contents: the plain build is the regression test. */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_SLICE_SANITIZED TRUE
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_SLICE_SANITIZED TRUE
#endif
#endif
#ifndef BIG_SLICE_SANITIZED
#define BIG_SLICE_SANITIZED FALSE
#endif
#define BIG_SLICE (under_valgrind () || BIG_SLICE_SANITIZED ? 100000 : 800000)

typedef struct
{
  MpkManager *manager;
  gint        stop;
  gint64      worst_us;
  guint       calls;
} Pinger;

static gpointer
pinger_thread (gpointer data)
{
  Pinger *p = data;
  g_autoptr(MpkListProxy) other = new_list (p->manager, NULL);

  while (!g_atomic_int_get (&p->stop))
    {
      gint64 start = g_get_monotonic_time ();
      GError *error = NULL;
      gint64 len = mpk_list_proxy_len (other, &error);

      if (error != NULL)
        {
          g_clear_error (&error);
          break;
        }
      g_assert_cmpint (len, ==, 0);
      p->worst_us = MAX (p->worst_us, g_get_monotonic_time () - start);
      p->calls++;
    }
  return NULL;
}

/* The int64 at @index of @list. */
static gint64
get_int (MpkListProxy *list,
         gint64    index)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) item = mpk_list_proxy_get (list, index, &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (item, G_VARIANT_TYPE_INT64));
  return g_variant_get_int64 (item);
}

/* set_slice inserted its items one at a time (a memmove of the tail each):
 * 100 000 items held the one server lock for 851 ms, 400 000 into the middle
 * of 400 000 for 9 s, and 800 000 into 800 000 for longer than the bound. */
static void
test_list_set_slice_large (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GThread) thread = NULL;
  g_autoptr(MpkListProxy) list = NULL;
  GVariantBuilder b;
  MpkManager *manager;
  Pinger pinger = { 0 };
  gint64 start;

  g_test_summary ("set_slice of 800 000 items into the middle of an 800 000-item list ends "
                  "within a generous hang bound with the right contents; another client's calls "
                  "meanwhile are timed and reported");
  manager = new_started ();
  mpk_manager_set_timeout (manager, 3 * CHILD_TIMEOUT_US);
  list = new_list (manager, NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < BIG_SLICE; i++)
    g_variant_builder_add (&b, "v", g_variant_new_int64 (i));
  ASSERT_OK (mpk_list_proxy_extend (list, g_variant_builder_end (&b), &error), error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < BIG_SLICE; i++)
    g_variant_builder_add (&b, "v", g_variant_new_int64 (-i));
  pinger.manager = manager;
  thread = g_thread_new ("pinger", pinger_thread, &pinger);
  start = g_get_monotonic_time ();
  ASSERT_OK (mpk_list_proxy_set_slice (list, BIG_SLICE / 2, BIG_SLICE / 2 + 1,
                                       g_variant_builder_end (&b), &error), error);
  g_test_message ("set_slice of %d items took %.1f ms", (int) BIG_SLICE,
                  (g_get_monotonic_time () - start) / 1000.0);
  g_atomic_int_set (&pinger.stop, TRUE);
  g_thread_join (g_steal_pointer (&thread));
  g_test_message ("another client: %u calls, the slowest %.1f ms", pinger.calls,
                  pinger.worst_us / 1000.0);
  ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 2 * BIG_SLICE - 1);
  g_assert_cmpint (get_int (list, BIG_SLICE / 2 - 1), ==, BIG_SLICE / 2 - 1);
  g_assert_cmpint (get_int (list, BIG_SLICE / 2), ==, 0);
  g_assert_cmpint (get_int (list, BIG_SLICE / 2 + 1), ==, -1);
  g_assert_cmpint (get_int (list, BIG_SLICE / 2 + BIG_SLICE - 1), ==, -(BIG_SLICE - 1));
  g_assert_cmpint (get_int (list, BIG_SLICE / 2 + BIG_SLICE), ==, BIG_SLICE / 2 + 1);
  g_clear_pointer (&list, mpk_list_proxy_unref);
  shutdown_clean (manager);
}

/* --- typed proxies: the run-time checked conversions (issue 12, section 3) ---------------- */

/* A generic proxy for @typed's object, made from a reference as another
 * process would make it (the reference is untrusted: its kind is the
 * server's word). */
#define untrusted_proxy(manager, typed) untrusted_proxy_ ((manager), MPK_PROXY (typed))
static MpkProxy *
untrusted_proxy_ (MpkManager *manager,
                  MpkProxy   *typed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = ref_of (typed);
  MpkProxy *proxy = mpk_proxy_from_value (manager, ref, &error);

  g_assert_no_error (error);
  g_assert_nonnull (proxy);
  return proxy;
}

static void
test_proxy_types_as_kind (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  guint objects_before;

  g_test_summary ("Issue 12 section 3: a generic proxy made from a reference to each built-in "
                  "kind converts with its own mpk_proxy_as_<kind>() (a queue's and a joinable "
                  "queue's with mpk_proxy_as_queue) and with no other: NULL and INVALID naming "
                  "both kinds; the conversion holds a reference of its own; a typed call on a "
                  "proxy cast by hand to the wrong type is refused (a critical) and does not reach "
                  "the server; nothing leaks");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  {
    g_autoptr(MpkListProxy) list = new_list (manager, g_variant_new_parsed ("[1, 2]"));
    g_autoptr(MpkDictProxy) dict = new_dict (manager, g_variant_new_parsed ("{'k': <1>}"));
    g_autoptr(MpkValueProxy) value = new_value (manager, I32 (5));
    g_autoptr(MpkQueueProxy) queue = new_queue (manager, 0, FALSE);
    g_autoptr(MpkQueueProxy) joinable = new_queue (manager, 0, TRUE);
    g_autoptr(MpkLockProxy) lock = mpk_manager_lock (manager, &error);
    g_autoptr(MpkNamespaceProxy) ns = mpk_manager_namespace (manager, &error);
    g_autoptr(MpkIteratorProxy) iterator = mpk_dict_proxy_iter (dict, &error);
    struct
    {
      MpkProxy   *proxy;
      const char *kind;
    } made[] = {
      { untrusted_proxy (manager, list), "list" },
      { untrusted_proxy (manager, dict), "dict" },
      { untrusted_proxy (manager, value), "value" },
      { untrusted_proxy (manager, queue), "queue" },
      { untrusted_proxy (manager, joinable), "queue" },
      { untrusted_proxy (manager, lock), "lock" },
      { untrusted_proxy (manager, ns), "namespace" },
      { untrusted_proxy (manager, iterator), "iterator" },
    };

    g_assert_no_error (error);
    for (gsize i = 0; i < G_N_ELEMENTS (made); i++)
      {
        assert_conversions (made[i].proxy, made[i].kind);
        mpk_proxy_unref (made[i].proxy);
      }

    /* The typed proxy a conversion gives is the same object with a
     * reference of its own: it outlives the generic one. */
    {
      MpkProxy *generic = untrusted_proxy (manager, list);
      g_autoptr(MpkListProxy) typed = mpk_proxy_as_list (generic, &error);

      g_assert_no_error (error);
      mpk_proxy_unref (generic);
      ASSERT_OK (mpk_list_proxy_append (typed, I32 (3), &error), error);
      ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "[1, 2, 3]");
    }

    /* A pointer cast by hand to the wrong type: the call's own check. */
    {
      guint64 calls = stats_of (manager).calls;

      g_test_expect_message ("mpk", G_LOG_LEVEL_CRITICAL, "*is_a*\"list\"*");
      g_assert_cmpint (mpk_list_proxy_len ((MpkListProxy *) dict, &error), ==, -1);
      g_test_assert_expected_messages ();
      g_assert_no_error (error);
      /* The stats call itself is the only one the server saw since. */
      g_assert_cmpuint (stats_of (manager).calls, ==, calls + 1);
    }
  }
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* The child of /manager/proxy-types/untrusted-reference: makes a dict and
 * stores the reference to it in the list it inherited. */
static int
store_dict_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkDictProxy) dict = mpk_manager_dict (args->manager,
                                                   g_variant_new_parsed ("{'from': <'child'>}"),
                                                   &error);

  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_list_proxy_append (args->list, mpk_proxy_to_value (MPK_PROXY (dict)),
                                          &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_proxy_types_untrusted_reference (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  ChildArgs args = { 0 };
  guint objects_before;

  g_test_summary ("Issue 12 section 3: a reference another process stored (a child puts a dict's "
                  "reference in a list) gives a generic proxy; taking it for a list fails at run "
                  "time with INVALID naming 'dict' and 'list', taking it for a dict works and "
                  "reads what the child set; a published name is checked the same way");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  args.manager = manager;
  args.list = new_list (manager, NULL);
  join_child (mpk_test_start (store_dict_child, &args), 0);
  {
    g_autoptr(MpkProxy) generic = list_at (args.list, 0);
    g_autoptr(MpkListProxy) as_list = mpk_proxy_as_list (generic, &error);
    g_autoptr(MpkDictProxy) as_dict = NULL;

    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_assert_null (as_list);
    g_assert_nonnull (strstr (error->message, "dict"));
    g_assert_nonnull (strstr (error->message, "list"));
    g_clear_error (&error);
    as_dict = mpk_proxy_as_dict (generic, &error);
    g_assert_no_error (error);
    g_assert_nonnull (as_dict);
    ASSERT_GOT (mpk_dict_proxy_get (as_dict, S ("from"), &error), error, "'child'");
    assert_conversions (generic, "dict");
  }
  {
    g_autoptr(MpkNamespaceProxy) ns = mpk_manager_namespace (manager, &error);
    g_autoptr(MpkProxy) found = NULL;
    g_autoptr(MpkQueueProxy) queue = NULL;
    g_autoptr(MpkNamespaceProxy) again = NULL;

    g_assert_no_error (error);
    ASSERT_OK (mpk_namespace_proxy_set (ns, "x", I32 (1), &error), error);
    ASSERT_OK (mpk_manager_publish (manager, "jobs", MPK_PROXY (ns), &error), error);
    found = mpk_manager_lookup (manager, "jobs", &error);
    g_assert_no_error (error);
    queue = mpk_proxy_as_queue (found, &error);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_assert_null (queue);
    g_clear_error (&error);
    again = mpk_proxy_as_namespace (found, &error);
    g_assert_no_error (error);
    ASSERT_GOT (mpk_namespace_proxy_get (again, "x", &error), error, "1");
  }
  g_clear_pointer (&args.list, mpk_list_proxy_unref);
  /* The published namespace stays while named. */
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 1);
  shutdown_clean (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/manager/list", test_manager_list);
  mpk_test_add_func ("/manager/list/methods", test_manager_list_methods);
  mpk_test_add_func ("/manager/list/proxy-in-list", test_manager_list_proxy_in_list);
  mpk_test_add_func ("/manager/dict", test_manager_dict);
  mpk_test_add_func ("/manager/dict/iter", test_manager_dict_iter);
  mpk_test_add_func ("/manager/dict/nested", test_manager_dict_nested);
  mpk_test_add_func ("/manager/namespace", test_manager_namespace);
  mpk_test_add_func ("/manager/nested-queue", test_manager_nested_queue);
  mpk_test_add_func ("/manager/refs-elsewhere", test_manager_refs_elsewhere);
  mpk_test_add_func ("/manager/refs-taken-out", test_manager_refs_taken_out);
  mpk_test_add_func ("/manager/publish", test_manager_publish);
  mpk_test_add_func ("/manager/errors", test_manager_errors);
  mpk_test_add_func ("/manager/regress/dict-ref-key", test_regress_dict_ref_key);
  mpk_test_add_func ("/manager/regress/dict-create-ref-key", test_regress_dict_create_ref_key);
  mpk_test_add_func ("/manager/regress/list-repeat-huge", test_regress_list_repeat_huge);
  mpk_test_add_func ("/manager/regress/boxed-values", test_regress_boxed_values);
  mpk_test_add_func ("/manager/list/set-slice-large", test_list_set_slice_large);
  mpk_test_add_func ("/manager/proxy-types/as-kind", test_proxy_types_as_kind);
  mpk_test_add_func ("/manager/proxy-types/untrusted-reference",
                     test_proxy_types_untrusted_reference);

  return g_test_run ();
}
