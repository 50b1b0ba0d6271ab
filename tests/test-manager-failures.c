/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-failures.c: a Manager or one of its clients dies, or a handle outlives
 * what it named: distinct DISCONNECTED / REFUSED / STALE_HANDLE errors, a dead client
 * that does not hurt the server, a blocked call that ends instead of hanging (M17 and
 * the promise of ../shared/research/anchor-multiprocessing.md section 3, PP12).
 *
 * What each test covers:
 *   /manager/manager-killed M17: DISCONNECTED for the parent, a child, a blocked get
 *                           (not TIMED_OUT: the round-trip allowance is cut to 5 s);
 *                           REFUSED for a fresh connection; exit code -9
 *   /manager/client-killed  a client killed inside a blocking get does not hurt the
 *                           server; the clients count goes back down
 *   /manager/stale-handle   STALE_HANDLE: another run's reference, a freed object, a
 *                           proxy across a restart (STALE or DISCONNECTED)
 *   /manager/regress/disconnected review bug 9d: every call after a SIGKILL or a
 *                           shutdown -> DISCONNECTED
 *   /manager/regress/call-outlives-last-ref bug 1: the last reference dropped while a get
 *                           waits on it -> the get ends EMPTY, no use-after-free,
 *                           server exits 0
 *   /manager/regress/publish-wrong-generation bug 8: publish of another run's or
 *                           manager's object -> STALE_HANDLE
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

/* --- gaps: the manager dies ---------------------------------------------------------------------------------- */

/* Blocks in get(WAIT_FOREVER): the manager's death must end it with DISCONNECTED. */
static int
get_until_disconnected_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GVariant) got = NULL;
  GError *error = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (mpk_queue_proxy_qsize (args->queue, &error) == 0);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  got = mpk_queue_proxy_get (args->queue, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_CHECK (got == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  return 0;
}

/* Connected before the kill, calls after it: DISCONNECTED; a fresh connect: REFUSED. */
static int
call_after_death_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  MpkManager *fresh;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (mpk_list_proxy_len (args->list, &error) == 1);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (child_say (&args->channel, "ready"));
  MPK_CHILD_CHECK (child_wait (&args->channel));
  mpk_list_proxy_len (args->list, &error);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  fresh = mpk_manager_connect (args->address, args->authkey, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_CHECK (fresh == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_REFUSED);
  return 0;
}

static void
test_manager_manager_killed (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs getter_args = { 0 }, caller_args = { 0 };
  MpkProcess *getter, *caller;
  MpkManager *manager;
  GPid pid;

  g_test_summary ("M17: the manager SIGKILLed: the parent's next call and a child's next call "
                  "fail DISCONNECTED (not TIMED_OUT), a child blocked in get (WAIT_FOREVER) gets "
                  "DISCONNECTED, a fresh connect() is REFUSED; shutdown() afterwards reports exit "
                  "code -9");
  manager = new_started ();
  /* A client that missed the EOF would wait for this allowance and fail
   * TIMED_OUT; the children inherit it. */
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US / 2);
  g_assert_cmpint (mpk_manager_get_timeout (manager), ==, CHILD_TIMEOUT_US / 2);
  getter_args.manager = caller_args.manager = manager;
  getter_args.queue = new_queue (manager, 0, FALSE);
  caller_args.list = new_list (manager, g_variant_new_parsed ("[1]"));
  caller_args.address = mpk_manager_get_address (manager);
  caller_args.authkey = mpk_manager_get_authkey (manager);
  mpk_test_channel_init (&getter_args.channel);
  mpk_test_channel_init (&caller_args.channel);

  getter = mpk_test_start (get_until_disconnected_child, &getter_args);
  mpk_connection_close (getter_args.channel.child);
  caller = mpk_test_start (call_after_death_child, &caller_args);
  mpk_connection_close (caller_args.channel.child);
  parent_expect (&getter_args.channel, "waiting");
  parent_expect (&caller_args.channel, "ready");
  /* The parent is connected too. */
  ASSERT_NUMBER (mpk_list_proxy_len (caller_args.list, &error), error, 1);

  pid = mpk_manager_get_pid (manager);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);

  ASSERT_NUMBER_FAILS (mpk_list_proxy_len (caller_args.list, &error), error,
                       MPK_ERROR_DISCONNECTED);
  /* The broken connection is gone now: the next call may find nobody listening. */
  mpk_list_proxy_len (caller_args.list, &error);
  g_assert_nonnull (error);
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_REFUSED))
    g_assert_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED);
  g_clear_error (&error);
  parent_say (&caller_args.channel, "dead");
  join_child (getter, 0);
  join_child (caller, 0);

  /* Shutting a dead server down only reaps it; whether that counts as success
   * is not in the contract, the exit code is. */
  mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error);
  g_clear_error (&error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, -SIGKILL);

  mpk_test_channel_clear (&getter_args.channel);
  mpk_test_channel_clear (&caller_args.channel);
  mpk_queue_proxy_unref (getter_args.queue);
  mpk_list_proxy_unref (caller_args.list);
  mpk_manager_free (manager);
}

/* --- gaps: a client dies mid-request ------------------------------------------------------------------------- */

/* Blocks in get() for ever: the parent kills it there. */
static int
victim_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GVariant) got = NULL;
  GError *error = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (mpk_queue_proxy_qsize (args->queue, &error) == 0);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  got = mpk_queue_proxy_get (args->queue, MPK_WAIT_FOREVER, &error);
  return 1;   /* not reached: the parent kills it first */
}

static void
test_manager_client_killed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) left = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProcess *victim;
  guint clients_before;

  g_test_summary ("A client SIGKILLed while blocked in a queue get does not hurt the server: "
                  "the parent and a new child keep working, the open-connection count goes back "
                  "down");
  manager = new_started ();
  args.queue = new_queue (manager, 0, FALSE);
  args.list = new_list (manager, NULL);
  clients_before = stats_of (manager).clients;   /* the parent's own connection */

  mpk_test_channel_init (&args.channel);
  victim = mpk_test_start (victim_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "waiting");
  g_assert_cmpuint (stats_of (manager).clients, >=, clients_before + 1);

  g_assert_true (mpk_process_kill (victim, NULL));
  g_assert_true (mpk_process_join (victim, CHILD_TIMEOUT_US));
  g_assert_cmpint (mpk_process_get_exitcode (victim), ==, -SIGKILL);
  mpk_process_unref (victim);

  ASSERT_OK (mpk_list_proxy_append (args.list, I32 (1), &error), error);
  args.index = 2;
  join_child (mpk_test_start (appender_child, &args), 0);
  ASSERT_NUMBER (mpk_list_proxy_len (args.list, &error), error, 1 + APPENDS);

  /* If the server's thread still waits in the dead client's get, this item
   * ends it; either way the count must come back down. */
  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (42), CHILD_TIMEOUT_US, &error), error);
  WAIT_FOR_STAT (manager, clients, ==, clients_before);
  left = mpk_queue_proxy_get (args.queue, MPK_NO_WAIT, &error);
  if (left != NULL)
    g_test_message ("observed: the item put after the waiter died stayed in the queue");
  else
    {
      g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
      g_test_message ("observed: the item put after the waiter died was handed to the "
                      "dead client's get and is lost");
      g_clear_error (&error);
    }

  mpk_test_channel_clear (&args.channel);
  mpk_list_proxy_unref (args.list);
  mpk_queue_proxy_unref (args.queue);
  shutdown_clean (manager);
}

/* --- gaps: stale handles ------------------------------------------------------------------------------------- */

/* @error must be STALE_HANDLE or DISCONNECTED; returns which. */
static gint
stale_or_disconnected (GError *error)
{
  g_assert_nonnull (error);
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE))
    g_assert_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED);
  return error->code;
}

static void
test_manager_stale_handle (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) old_ref = NULL;
  g_autofree char *address = NULL;
  MpkManager *first, *second, *client;
  MpkListProxy *list;
  gint first_code, second_code;

  g_test_summary ("STALE_HANDLE: a proxy held across a restart of the manager on the same "
                  "address fails STALE_HANDLE or DISCONNECTED (which one is logged); a reference "
                  "from the old run given to the new one, and a reference to a freed object, fail "
                  "STALE_HANDLE");
  first = start_manager ("tcp:127.0.0.1:0", key);
  address = g_strdup (mpk_manager_get_address (first));
  client = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  list = new_list (client, g_variant_new_parsed ("[1]"));
  ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);
  old_ref = ref_of (list);
  shutdown_clean (first);

  second = start_manager_retry_once (address, key);
  mpk_list_proxy_len (list, &error);
  first_code = stale_or_disconnected (error);
  g_clear_error (&error);
  mpk_list_proxy_len (list, &error);
  second_code = stale_or_disconnected (error);
  g_clear_error (&error);
  g_test_message ("observed: a proxy across a restart fails %s, then %s",
                  first_code == MPK_ERROR_STALE_HANDLE ? "STALE_HANDLE" : "DISCONNECTED",
                  second_code == MPK_ERROR_STALE_HANDLE ? "STALE_HANDLE" : "DISCONNECTED");
  mpk_list_proxy_unref (list);
  mpk_manager_free (client);

  /* The old run's reference, given to the new run: from_value or the first call refuses it. */
  {
    g_autoptr(MpkProxy) made = mpk_proxy_from_value (second, old_ref, &error);

    if (made != NULL)
      {
        g_autoptr(MpkListProxy) p = NULL;

        g_assert_no_error (error);
        p = as_list (g_steal_pointer (&made));
        ASSERT_NUMBER_FAILS (mpk_list_proxy_len (p, &error), error, MPK_ERROR_STALE_HANDLE);
      }
    else
      {
        g_assert_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE);
        g_clear_error (&error);
      }
  }
  /* ... and storing it in a container is refused too. */
  {
    g_autoptr(MpkListProxy) holder = new_list (second, NULL);

    ASSERT_FAILS (mpk_list_proxy_append (holder, old_ref, &error), error, MPK_ERROR_STALE_HANDLE);
  }

  /* A freed object: nothing holds the list once its only proxy is dropped. */
  {
    g_autoptr(MpkListProxy) gone = new_list (second, NULL);
    g_autoptr(GVariant) gone_ref = ref_of (gone);
    g_autoptr(MpkProxy) made = NULL;

    g_clear_pointer (&gone, mpk_list_proxy_unref);
    made = mpk_proxy_from_value (second, gone_ref, &error);
    if (made != NULL)
      {
        g_autoptr(MpkListProxy) p = NULL;

        g_assert_no_error (error);
        p = as_list (g_steal_pointer (&made));
        ASSERT_NUMBER_FAILS (mpk_list_proxy_len (p, &error), error, MPK_ERROR_STALE_HANDLE);
      }
    else
      {
        g_assert_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE);
        g_clear_error (&error);
      }
  }
  shutdown_clean (second);
}

/* --- regressions: the review's bugs (fixed in 927e9a0) -------------------------------------------- */

/* Review bug 1: the last reference of an object went while a method on it
 * waited (a queue get): the server freed the object inside the call and
 * then read it, and crashed. */
static int
get_on_dropped_queue_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GVariant) got = NULL;
  GError *error = NULL;

  child_guard ();
  got = mpk_queue_proxy_get (args->queue, G_USEC_PER_SEC, &error);
  MPK_CHILD_CHECK (got == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_EMPTY);
  return 0;
}

static void
test_regress_call_outlives_last_ref (void)
{
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProcess *child;
  guint objects_before;
  guint64 calls_before;
  gint64 end;
  guint polls;

  g_test_summary ("Review bug 1 (use-after-free): a child blocks in get (1 s) on its borrowed "
                  "queue proxy while the parent drops the last reference: the get ends EMPTY, the "
                  "queue is freed afterwards, the server keeps serving and exits 0");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  args.queue = new_queue (manager, 0, FALSE);
  calls_before = stats_of (manager).calls;   /* counts this stats call too */
  child = mpk_test_start (get_on_dropped_queue_child, &args);

  /* The child's get is the only call besides our own polls: once counted,
   * it is waiting in the server (the count and the method share the lock). */
  end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  for (polls = 1;; polls++)
    {
      if (stats_of (manager).calls > calls_before + polls)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (1000);
    }
  mpk_queue_proxy_unref (args.queue);
  args.queue = NULL;

  join_child (child, 0);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

/* Review bug 8: publish sent the object id alone, so a proxy of another run
 * (or another manager) published whatever object had that id here. */
static void
test_regress_publish_wrong_generation (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkConnection) conn = NULL;
  MpkManager *manager, *other;
  MpkListProxy *list;
  MpkListProxy *foreign;
  guint64 generation, id, foreign_generation, foreign_id;

  g_test_summary ("Review bug 8: publish checks the generation: a raw publish (stt) with a "
                  "wrong generation is STALE_HANDLE and publishes nothing, the right one works; "
                  "publishing another manager's proxy is STALE_HANDLE");
  manager = new_started ();
  list = new_list (manager, g_variant_new_parsed ("['mine']"));
  proxy_ids (list, &generation, &id);

  conn = raw_connection (manager);
  {
    g_autoptr(GVariant) got = raw_request (conn, 0, 0, "publish",
                                           g_variant_new ("(stt)", "wrong-run", generation + 1, id),
                                           &error);

    g_assert_null (got);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE);
    g_clear_error (&error);
  }
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "wrong-run", &error), error, MPK_ERROR_KEY);
  {
    g_autoptr(GVariant) got = raw_request (conn, 0, 0, "publish",
                                           g_variant_new ("(stt)", "right-run", generation, id),
                                           &error);
    g_autoptr(MpkListProxy) found = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (got);
    found = as_list (mpk_manager_lookup (manager, "right-run", &error));
    g_assert_no_error (error);
    g_assert_nonnull (found);
    ASSERT_ITEMS (mpk_list_proxy_copy (found, &error), error, "['mine']");
  }

  /* Another manager's proxy: its id may well name an object here too. */
  other = new_started ();
  foreign = new_list (other, g_variant_new_parsed ("['theirs']"));
  proxy_ids (foreign, &foreign_generation, &foreign_id);
  if (foreign_id != id)
    g_test_message ("observed: the other manager's list has id %" G_GUINT64_FORMAT
                    ", ours %" G_GUINT64_FORMAT, foreign_id, id);
  ASSERT_FAILS (mpk_manager_publish (manager, "foreign", MPK_PROXY (foreign), &error), error,
                MPK_ERROR_STALE_HANDLE);
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "foreign", &error), error, MPK_ERROR_KEY);
  mpk_list_proxy_unref (foreign);
  shutdown_clean (other);

  mpk_list_proxy_unref (list);
  shutdown_clean (manager);
}

/* Review bug 9d: after the manager died, the first call saw EOF
 * (DISCONNECTED) but later ones, and a child's, found nobody listening
 * (REFUSED); after shutdown a call was REFUSED too. */
static int
call_dead_manager_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  mpk_list_proxy_len (args->list, &error);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  MPK_CHILD_CHECK (mpk_manager_list (args->manager, NULL, &error) == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  return 0;
}

static void
test_regress_disconnected (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkListProxy *list;
  GPid pid;
  int i;

  g_test_summary ("Review bug 9d: once the manager is SIGKILLed, three calls in a row, a "
                  "create, stats, and a call from a child forked afterwards all fail DISCONNECTED "
                  "(not REFUSED); after mpk_manager_shutdown() a call on a proxy and a create fail "
                  "DISCONNECTED");
  manager = new_started ();
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US / 2);
  list = new_list (manager, g_variant_new_parsed ("[1]"));
  ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);

  pid = mpk_manager_get_pid (manager);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  wait_until_dead (pid);
  for (i = 0; i < 3; i++)
    ASSERT_NUMBER_FAILS (mpk_list_proxy_len (list, &error), error, MPK_ERROR_DISCONNECTED);
  ASSERT_NO_PROXY (mpk_manager_list (manager, NULL, &error), error, MPK_ERROR_DISCONNECTED);
  {
    MpkManagerStats stats;

    ASSERT_FAILS (mpk_manager_get_stats (manager, &stats, &error), error, MPK_ERROR_DISCONNECTED);
  }
  args.manager = manager;
  args.list = list;
  join_child (mpk_test_start (call_dead_manager_child, &args), 0);
  ASSERT_NUMBER_FAILS (mpk_list_proxy_len (list, &error), error, MPK_ERROR_DISCONNECTED);

  mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error);
  g_clear_error (&error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, -SIGKILL);
  mpk_list_proxy_unref (list);
  mpk_manager_free (manager);

  /* A manager shut down in order. */
  manager = new_started ();
  list = new_list (manager, NULL);
  ASSERT_OK (mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error), error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);
  ASSERT_NUMBER_FAILS (mpk_list_proxy_len (list, &error), error, MPK_ERROR_DISCONNECTED);
  ASSERT_NUMBER_FAILS (mpk_list_proxy_len (list, &error), error, MPK_ERROR_DISCONNECTED);
  ASSERT_NO_PROXY (mpk_manager_list (manager, NULL, &error), error, MPK_ERROR_DISCONNECTED);
  mpk_list_proxy_unref (list);
  mpk_manager_free (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/manager/manager-killed", test_manager_manager_killed);
  mpk_test_add_func ("/manager/client-killed", test_manager_client_killed);
  mpk_test_add_func ("/manager/stale-handle", test_manager_stale_handle);
  mpk_test_add_func ("/manager/regress/call-outlives-last-ref", test_regress_call_outlives_last_ref);
  mpk_test_add_func ("/manager/regress/publish-wrong-generation", test_regress_publish_wrong_generation);
  mpk_test_add_func ("/manager/regress/disconnected", test_regress_disconnected);

  return g_test_run ();
}
