/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-types.c: types registered with a Manager: a user type's methods, its
 * errors, the objects its methods make (mpk_manager_call_new_object) and the server's
 * guards around them. Ported from CPython's _TestMyManager.
 *
 * What each test covers:
 *   /manager/mymanager      39, M7 M8: registered type, user GError domain and code
 *                           arrive unchanged, unexposed method -> REMOTE,
 *                           call_new_object ("iterator") yields squares, exit 0
 *   /manager/regress/user-create-fails review bug 3: a registered type's failed create
 *                           with a reference in its arguments leaves the list alive
 *   /manager/regress/iterator-foreign-source bug 5: a client-made iterator whose source
 *                           is a list or a user object: the server survives next()
 *   /manager/regress/new-object-used-unclaimed bug 6: call_new_object's object survives
 *                           calls before a claim
 *   /manager/regress/duplicate-type bug 9f: a second type of the same name -> INVALID
 *   /manager/regress/deep-chain a chain of 120 000 nested lists made in one call is
 *                           freed without recursion (it crashed the server)
 *   /manager/proxy-types/user-type issue 12 s3: a registered type's proxy (made, or
 *                           looked up) converts to none of the seven typed proxies
 *
 * Contract points: M1-M17 are the Manager rows of
 * ../shared/research/anchor-multiprocessing.md section 1.4; the numbers 34-44 are
 * the CPython test cases of its section 2.
 * The /manager/regress/ tests pin the review's bugs fixed in 927e9a0 (each fails
 * on the code before it; the comment above each names its bug).
 * Shared helpers and assertions: test-manager-util.h. The managers the tests
 * start are shut down with exit code 0 unless killed on purpose.
 */

#include "test-manager-util.h"

/* --- 39: a registered type ------------------------------------------------------------------ */

static void
test_manager_mymanager (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *foo;
  guint objects_before;

  g_test_summary ("CPython test_mymanager: a registered type exposes its method table only (f "
                  "works, '_h' → REMOTE); g's GError arrives with the same domain quark, code and "
                  "message; baz returns an iterator proxy yielding the squares; the server's exit "
                  "code is 0");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &foo_type, &error), error);
  ASSERT_OK (mpk_manager_start (manager, &error), error);
  objects_before = stats_of (manager).objects;

  foo = mpk_manager_create (manager, "Foo", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (foo);
  g_assert_cmpstr (mpk_proxy_get_type_name (foo), ==, "Foo");

  ASSERT_GOT (mpk_proxy_call (foo, "f", NULL, &error), error, "'f()'");
  ASSERT_GOT (mpk_proxy_call (foo, "f", g_variant_new ("()"), &error), error, "'f()'");

  {
    g_autoptr(GVariant) got = mpk_proxy_call (foo, "g", NULL, &error);

    g_assert_null (got);
    g_assert_error (error, FOO_ERROR, FOO_ERROR_VALUE);
    g_assert_cmpstr (error->message, ==, "g() fails on purpose");
    g_clear_error (&error);
  }
  ASSERT_NO_VARIANT (mpk_proxy_call (foo, "_h", NULL, &error), error, MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (foo, "append", NULL, &error), error, MPK_ERROR_REMOTE);

  {
    g_autoptr(GVariant) ref = mpk_proxy_call (foo, "baz", NULL, &error);
    g_autoptr(MpkIteratorProxy) it = NULL;
    g_autofree char *squares = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (ref);
    g_assert_true (mpk_proxy_is_reference (ref));
    it = as_iterator (mpk_proxy_from_value (manager, ref, &error));
    g_assert_no_error (error);
    g_assert_nonnull (it);
    g_assert_cmpstr (mpk_proxy_get_type_name (MPK_PROXY (it)), ==, "iterator");
    squares = drain_iterator (it, FALSE);
    g_assert_cmpstr (squares, ==, "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]");
  }

  ASSERT_NO_PROXY (mpk_manager_create (manager, "Bar", NULL, &error), error, MPK_ERROR_REMOTE);

  mpk_proxy_unref (foo);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* --- regressions: the review's bugs (fixed in 927e9a0) -------------------------------------------- */

/* A registered type for the regressions: create wants "(i)" and fails on
 * anything else; len() trusts @args to be a tuple, as the header promises. */
static gpointer
picky_create (GVariant  *args,
              GError   **error)
{
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(i)")))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "Picky wants (i), not %s",
                   g_variant_get_type_string (args));
      return NULL;
    }
  return g_new0 (int, 1);
}

static GVariant *
picky_len (gpointer         self,
           GVariant        *args,
           MpkManagerCall  *call,
           GError         **error)
{
  return g_variant_new_int64 ((gint64) g_variant_n_children (args));
}

static const MpkManagerMethod picky_methods[] = {
  { "len", picky_len },
  { NULL, NULL },
};

static const MpkManagerType picky_type = { "Picky", picky_create, g_free, picky_methods };
/* Another type under the same name. */
static const MpkManagerType picky_twin_type = { "Picky", foo_create, g_free, foo_methods };

static MpkManager *
start_with_picky (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager = mpk_manager_new (NULL, NULL, &error);

  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &picky_type, &error), error);
  ASSERT_OK (mpk_manager_start (manager, &error), error);
  return manager;
}

/* Review bug 3: a registered type's create failing with arguments that hold
 * a reference dropped a count the server never took (user types' arguments
 * are not counted), freeing the list under its owner. */
static void
test_regress_user_create_fails (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = NULL;
  MpkManager *manager;
  MpkListProxy *list;
  guint objects_before;

  g_test_summary ("Review bug 3: a registered type whose create fails, given arguments holding "
                  "a reference ((o) and (av)), reports its error and leaves the referenced list "
                  "alive");
  manager = start_with_picky ();
  objects_before = stats_of (manager).objects;
  list = new_list (manager, g_variant_new_parsed ("['kept']"));
  ref = ref_of (list);

  {
    g_autoptr(MpkProxy) bad = mpk_manager_create (manager, "Picky",
                                                  g_variant_new ("(@o)", ref), &error);

    g_assert_null (bad);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_clear_error (&error);
  }
  ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "['kept']");
  {
    g_autoptr(MpkProxy) bad = mpk_manager_create (manager, "Picky",
                                                  g_variant_new ("(@av)", av_of (ref, NULL)),
                                                  &error);

    g_assert_null (bad);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_clear_error (&error);
  }
  ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "['kept']");
  ASSERT_OK (mpk_list_proxy_append (list, S ("more"), &error), error);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 1);
  mpk_list_proxy_unref (list);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 5: an iterator made by a client with a "source" (avtx) naming
 * a list or a user object: next() called the source's len() with NULL
 * arguments, and the server crashed. */
static void
test_regress_iterator_foreign_source (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *list;
  MpkProxy *picky;
  guint64 ids[2], generation;
  gsize i;

  g_test_summary ("Review bug 5: an iterator a client makes with create (\"(avtx)\") whose "
                  "source id is a list or a user object: next() may give an item or an error, but "
                  "the server keeps serving and exits 0");
  manager = start_with_picky ();
  list = new_list (manager, NULL);
  picky = mpk_manager_create (manager, "Picky", g_variant_new ("(i)", 1), &error);
  g_assert_no_error (error);
  g_assert_nonnull (picky);
  proxy_ids (list, &generation, &ids[0]);
  proxy_ids (picky, &generation, &ids[1]);

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(MpkProxy) made = NULL;
      g_autoptr(MpkIteratorProxy) it = NULL;
      g_autoptr(GVariant) item = NULL;
      gboolean more;

      made = mpk_manager_create (manager, "iterator",
                                 g_variant_new ("(@avtx)", av_of (I32 (1), NULL), ids[i],
                                                (gint64) 0),
                                 &error);
      if (made == NULL)
        {
          g_assert_nonnull (error);
          g_test_message ("observed: iterator over object %" G_GUINT64_FORMAT
                          " refused at create: %s", ids[i], error->message);
          g_clear_error (&error);
          continue;
        }
      it = as_iterator (g_steal_pointer (&made));
      more = mpk_iterator_proxy_next (it, &item, &error);
      g_test_message ("observed: next() of an iterator over object %" G_GUINT64_FORMAT
                      ": %s%s%s", ids[i], more ? "an item" : "no item",
                      error != NULL ? ", " : "", error != NULL ? error->message : "");
      if (error != NULL)
        g_assert_false (g_error_matches (error, MPK_ERROR, MPK_ERROR_DISCONNECTED));
      g_clear_error (&error);
      assert_still_serving (manager);
    }
  ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 0);
  ASSERT_GOT (mpk_proxy_call (picky, "len", NULL, &error), error, "int64 0");
  mpk_list_proxy_unref (list);
  mpk_proxy_unref (picky);
  shutdown_clean (manager);
}

/* Review bug 6: an object a user method made with
 * mpk_manager_call_new_object() had no count, so the first method called on
 * it before anyone claimed it (took a proxy) freed it. */
static void
test_regress_new_object_used_unclaimed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkConnection) conn = NULL;
  g_autoptr(GVariant) ref = NULL;
  MpkManager *manager;
  MpkProxy *foo;
  guint64 generation, foo_id, it_generation, it_id;
  guint objects_before;
  int i;

  g_test_summary ("Review bug 6: the iterator Foo.baz() makes (call_new_object) survives next() "
                  "called on its bare reference before any proxy claims it: two raw next() calls "
                  "give 0 and 1, then a proxy from the reference gives the rest; freed once that "
                  "proxy goes");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &foo_type, &error), error);
  ASSERT_OK (mpk_manager_start (manager, &error), error);
  objects_before = stats_of (manager).objects;
  foo = mpk_manager_create (manager, "Foo", NULL, &error);
  g_assert_no_error (error);
  proxy_ids (foo, &generation, &foo_id);

  conn = raw_connection (manager);
  ref = raw_request (conn, generation, foo_id, "baz", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_assert_true (mpk__manager_ref_parse (ref, &it_generation, &it_id));
  g_assert_cmpuint (it_generation, ==, generation);
  for (i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) step = raw_request (conn, generation, it_id, "next", NULL, &error);
      g_autofree char *text = NULL;
      g_autofree char *expected = g_strdup_printf ("(true, <%d>)", i * i);

      g_assert_no_error (error);
      g_assert_nonnull (step);
      text = g_variant_print (step, TRUE);
      g_assert_cmpstr (text, ==, expected);
    }
  {
    g_autoptr(MpkIteratorProxy) it = as_iterator (mpk_proxy_from_value (manager, ref, &error));
    g_autofree char *rest = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (it);
    rest = drain_iterator (it, FALSE);
    g_assert_cmpstr (rest, ==, "[4, 9, 16, 25, 36, 49, 64, 81]");
  }
  mpk_proxy_unref (foo);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 9f: a second type under a name already registered was taken
 * (and one of the two silently won). */
static void
test_regress_duplicate_type (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *picky;

  g_test_summary ("Review bug 9f: registering a second type named like one already registered "
                  "(the same struct or another) is INVALID; the first stays in force");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &picky_type, &error), error);
  ASSERT_FAILS (mpk_manager_register (manager, &picky_twin_type, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_manager_register (manager, &picky_type, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_manager_start (manager, &error), error);

  picky = mpk_manager_create (manager, "Picky", g_variant_new ("(i)", 1), &error);
  g_assert_no_error (error);
  g_assert_nonnull (picky);
  ASSERT_GOT (mpk_proxy_call (picky, "len", NULL, &error), error, "int64 0");
  ASSERT_NO_VARIANT (mpk_proxy_call (picky, "f", NULL, &error), error, MPK_ERROR_REMOTE);
  ASSERT_NO_PROXY (mpk_manager_create (manager, "Picky", NULL, &error), error, MPK_ERROR_INVALID);
  mpk_proxy_unref (picky);
  shutdown_clean (manager);
}

static void
test_proxy_types_user_type (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkProxy) picky = NULL;
  g_autoptr(MpkProxy) found = NULL;
  MpkManager *manager;

  g_test_summary ("Issue 12 section 3: a registered type keeps a generic proxy: none of the "
                  "seven mpk_proxy_as_<kind>() takes it (INVALID naming 'Picky' and the kind), "
                  "whether made by create or found by name; mpk_proxy_call still works");
  manager = start_with_picky ();
  picky = mpk_manager_create (manager, "Picky", g_variant_new ("(i)", 1), &error);
  g_assert_no_error (error);
  g_assert_nonnull (picky);
  assert_conversions (picky, NULL);
  ASSERT_OK (mpk_manager_publish (manager, "picky", picky, &error), error);
  found = mpk_manager_lookup (manager, "picky", &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  assert_conversions (found, NULL);
  ASSERT_GOT (mpk_proxy_call (found, "len", NULL, &error), error, "int64 0");
  g_clear_pointer (&picky, mpk_proxy_unref);
  g_clear_pointer (&found, mpk_proxy_unref);
  shutdown_clean (manager);
}

/* A type whose one method builds, in the server, a chain of @n nested lists,
 * each holding only the reference to the one before, and returns the last:
 * a deep chain in one call. */
static gpointer
chain_create (GVariant  *args,
              GError   **error)
{
  return g_new0 (int, 1);
}

static GVariant *
chain_build (gpointer         self,
             GVariant        *args,
             MpkManagerCall  *call,
             GError         **error)
{
  g_autoptr(GVariant) last = NULL;
  guint32 n;

  g_variant_get (args, "(u)", &n);
  last = g_variant_ref_sink (mpk_manager_call_new_object (call, "list", NULL, error));
  for (guint32 i = 1; i < n && last != NULL; i++)
    {
      GVariant *boxed = g_variant_new_variant (last);
      GVariant *items = g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1);
      GVariant *next;

      next = mpk_manager_call_new_object (call, "list", g_variant_new_tuple (&items, 1), error);
      g_clear_pointer (&last, g_variant_unref);
      last = next != NULL ? g_variant_ref_sink (next) : NULL;
    }
  return last != NULL ? g_variant_ref (last) : NULL;
}

static const MpkManagerMethod chain_methods[] = {
  { "build", chain_build },
  { NULL, NULL },
};

static const MpkManagerType chain_type = { "Chain", chain_create, g_free, chain_methods };

/* Freeing a container drops what it holds, which may free more: a chain
 * of nested lists used to be freed by recursion, a few stack frames per
 * level, so a client could crash the server with a deep enough chain
 * (120 000 levels did). */
static void
test_regress_deep_chain (void)
{
  g_autoptr(GError) error = NULL;
#ifdef __SANITIZE_ADDRESS__
  guint32 depth = 20000;   /* tools/run-tests.sh makes ASan unwind the stack at every malloc */
#else
  guint32 depth = under_valgrind () ? 5000 : 300000;
#endif
  g_autoptr(GVariant) ref = NULL;
  MpkManager *manager;
  MpkProxy *chain, *head;
  guint start_objects;

  g_test_summary ("A chain of 300000 nested lists, each holding the previous one's reference, "
                  "is freed when its head is dropped: the server stays up and holds none of it "
                  "afterwards");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &chain_type, &error), error);
  ASSERT_OK (mpk_manager_start (manager, &error), error);
  chain = mpk_manager_create (manager, "Chain", NULL, &error);
  g_assert_no_error (error);
  start_objects = stats_of (manager).objects;
  ref = mpk_proxy_call (chain, "build", g_variant_new ("(u)", depth), &error);
  g_assert_no_error (error);
  head = mpk_proxy_from_value (manager, ref, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stats_of (manager).objects, ==, start_objects + depth);
  mpk_proxy_unref (head);        /* the whole chain goes */
  g_assert_cmpuint (stats_of (manager).objects, ==, start_objects);
  mpk_proxy_unref (chain);
  shutdown_clean (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/manager/mymanager", test_manager_mymanager);
  mpk_test_add_func ("/manager/regress/user-create-fails", test_regress_user_create_fails);
  mpk_test_add_func ("/manager/regress/iterator-foreign-source", test_regress_iterator_foreign_source);
  mpk_test_add_func ("/manager/regress/new-object-used-unclaimed", test_regress_new_object_used_unclaimed);
  mpk_test_add_func ("/manager/regress/duplicate-type", test_regress_duplicate_type);
  mpk_test_add_func ("/manager/regress/deep-chain", test_regress_deep_chain);
  mpk_test_add_func ("/manager/proxy-types/user-type", test_proxy_types_user_type);

  return g_test_run ();
}
