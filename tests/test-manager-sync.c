/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-sync.c: the Manager's queue, value and lock proxies shared with child
 * processes and threads: what a child sees and changes, server-side atomic adds, one
 * client blocked while others work, proxies used from several threads. Ported from
 * CPython's TestSyncManagerTypes and TestManagerExceptions.
 *
 * What each test covers:
 *   /manager/queue          42, M15: Queue(2) seen from a child
 *   /manager/joinable-queue 42, M15: task_done / join, join timeout
 *   /manager/value          43, M14: child sees 1, sets 2
 *   /manager/lock           43, M16: a lock acquired by a child that exits is
 *                           released by the parent; second release -> INVALID
 *   /manager/queue-empty    44, M15: get(NO_WAIT) -> EMPTY with the server's message;
 *                           a call's own timeout gives EMPTY / FULL / TIMED_OUT
 *                           (lock), not the round trip's
 *   /manager/value-add      M14: 8 processes x 2000 server-side adds, exact;
 *                           compare_and_set; the stored type is kept
 *   /manager/regress/value-add-overflow review bug 7: add() overflow is INVALID, the
 *                           value unchanged
 *   /manager/many-clients   one client blocked in get while others work
 *   /manager/threads        M17: proxies used from 4 threads at once
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

#define N_ADDERS        8
#define ADDS_PER_CHILD  2000
#define N_THREADS       4
#define THREAD_CALLS    250

/* --- 42: queues seen from a child ---------------------------------------------------------------- */

static int
queue_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  gboolean b;

  child_guard ();
  MPK_CHILD_CHECK (mpk_queue_proxy_qsize (args->queue, &error) == 2);
  MPK_CHILD_NO_ERROR (error);
  b = mpk_queue_proxy_full (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (b);
  b = mpk_queue_proxy_empty (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (!b);
  CHILD_EXPECT_VALUE (mpk_queue_proxy_get (args->queue, CHILD_TIMEOUT_US, &error), error, "5");
  b = mpk_queue_proxy_empty (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (!b);
  CHILD_EXPECT_VALUE (mpk_queue_proxy_get (args->queue, CHILD_TIMEOUT_US, &error), error, "6");
  b = mpk_queue_proxy_empty (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (b);
  if (args->index == 1)   /* joinable */
    {
      MPK_CHILD_CHECK (mpk_queue_proxy_task_done (args->queue, &error));
      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (mpk_queue_proxy_task_done (args->queue, &error));
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

static void
test_manager_queue (gconstpointer data)
{
  gboolean joinable = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;

  g_test_summary ("CPython TestSyncManagerTypes.test_queue / test_joinable_queue: Queue(2) with "
                  "5 and 6 put; a put on the full queue fails FULL; the child sees qsize 2, full, "
                  "get 5, get 6, empty, exits 0; the parent then sees empty, not full; a joinable "
                  "queue's join() times out while tasks are open, returns after the child's two "
                  "task_done()s, and a third task_done fails");
  manager = new_started ();
  args.manager = manager;
  args.queue = new_queue (manager, 2, joinable);
  args.index = joinable ? 1 : 0;
  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (5), CHILD_TIMEOUT_US, &error), error);
  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (6), CHILD_TIMEOUT_US, &error), error);
  ASSERT_FAILS (mpk_queue_proxy_put (args.queue, I32 (7), MPK_NO_WAIT, &error), error,
                MPK_ERROR_FULL);
  if (joinable)
    ASSERT_FAILS (mpk_queue_proxy_join (args.queue, MPK_NO_WAIT, &error), error,
                  MPK_ERROR_TIMED_OUT);

  join_child (mpk_test_start (queue_child, &args), 0);

  ASSERT_OK (mpk_queue_proxy_empty (args.queue, &error), error);
  ASSERT_NUMBER (mpk_queue_proxy_full (args.queue, &error), error, FALSE);
  ASSERT_NUMBER (mpk_queue_proxy_qsize (args.queue, &error), error, 0);
  if (joinable)
    {
      ASSERT_OK (mpk_queue_proxy_join (args.queue, CHILD_TIMEOUT_US, &error), error);
      /* Python: ValueError "task_done() called too many times"; the contract
       * names no code, so either of the two that fit is accepted. */
      g_assert_false (mpk_queue_proxy_task_done (args.queue, &error));
      g_assert_nonnull (error);
      if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_TOO_MANY_TASK_DONE))
        g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);
    }
  mpk_queue_proxy_unref (args.queue);
  shutdown_clean (manager);
}

/* --- 43: value and lock ---------------------------------------------------------------------------- */

static int
value_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  CHILD_EXPECT_VALUE (mpk_value_proxy_get (args->value, &error), error, "1");
  MPK_CHILD_CHECK (mpk_value_proxy_set (args->value, I32 (2), &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_manager_value (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;

  g_test_summary ("CPython TestSyncManagerTypes.test_value: Value(1); the child sees 1 and sets "
                  "2; the parent sees 2");
  manager = new_started ();
  args.value = new_value (manager, I32 (1));
  join_child (mpk_test_start (value_child, &args), 0);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &error), error, "2");
  mpk_value_proxy_unref (args.value);
  shutdown_clean (manager);
}

static int
lock_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_lock_proxy_acquire (args->lock, CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_manager_lock (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;

  g_test_summary ("CPython TestSyncManagerTypes.test_lock: the child acquires the lock and "
                  "exits; it stays held (acquire NO_WAIT → TIMED_OUT); the parent's release "
                  "succeeds; a second release fails INVALID");
  manager = new_started ();
  args.lock = mpk_manager_lock (manager, &error);
  g_assert_no_error (error);
  g_assert_nonnull (args.lock);
  join_child (mpk_test_start (lock_child, &args), 0);
  ASSERT_FAILS (mpk_lock_proxy_acquire (args.lock, MPK_NO_WAIT, &error), error,
                MPK_ERROR_TIMED_OUT);
  ASSERT_OK (mpk_lock_proxy_release (args.lock, &error), error);
  ASSERT_FAILS (mpk_lock_proxy_release (args.lock, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_lock_proxy_acquire (args.lock, MPK_NO_WAIT, &error), error);
  ASSERT_OK (mpk_lock_proxy_release (args.lock, &error), error);
  mpk_lock_proxy_unref (args.lock);
  shutdown_clean (manager);
}

/* --- 44: queue.Empty ----------------------------------------------------------------------------------- */

static void
test_manager_queue_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) got = NULL;
  MpkManager *manager;
  MpkQueueProxy *queue;

  g_test_summary ("CPython TestManagerExceptions.test_queue_get: get(NO_WAIT) on an empty queue "
                  "fails EMPTY with the server's message; then the queue still works; "
                  "get/put/acquire with a 0.1 s timeout fail EMPTY/FULL/TIMED_OUT");
  manager = new_started ();
  queue = new_queue (manager, 0, FALSE);
  got = mpk_queue_proxy_get (queue, MPK_NO_WAIT, &error);
  g_assert_null (got);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  g_test_message ("server's message: %s", error->message);
  g_clear_error (&error);
  ASSERT_OK (mpk_queue_proxy_put (queue, I32 (1), MPK_NO_WAIT, &error), error);
  ASSERT_GOT (mpk_queue_proxy_get (queue, MPK_NO_WAIT, &error), error, "1");

  /* A blocking call's own timeout runs out on the server: its own code
   * (EMPTY, FULL, TIMED_OUT for a lock), not the round trip's. */
  ASSERT_NO_VARIANT (mpk_queue_proxy_get (queue, 100 * 1000, &error), error, MPK_ERROR_EMPTY);
  mpk_queue_proxy_unref (queue);
  queue = new_queue (manager, 1, FALSE);
  ASSERT_OK (mpk_queue_proxy_put (queue, I32 (1), MPK_NO_WAIT, &error), error);
  ASSERT_FAILS (mpk_queue_proxy_put (queue, I32 (2), MPK_NO_WAIT, &error), error, MPK_ERROR_FULL);
  ASSERT_FAILS (mpk_queue_proxy_put (queue, I32 (2), 100 * 1000, &error), error, MPK_ERROR_FULL);
  mpk_queue_proxy_unref (queue);
  {
    g_autoptr(MpkLockProxy) lock = mpk_manager_lock (manager, &error);

    g_assert_no_error (error);
    ASSERT_OK (mpk_lock_proxy_acquire (lock, MPK_NO_WAIT, &error), error);
    ASSERT_FAILS (mpk_lock_proxy_acquire (lock, MPK_NO_WAIT, &error), error, MPK_ERROR_TIMED_OUT);
    ASSERT_FAILS (mpk_lock_proxy_acquire (lock, 100 * 1000, &error), error, MPK_ERROR_TIMED_OUT);
    ASSERT_OK (mpk_lock_proxy_release (lock, &error), error);
  }
  shutdown_clean (manager);
}

/* --- gaps: authentication and addresses ------------------------------------------------------------- */

/* --- gaps: server-side add ---------------------------------------------------------------------------- */

static int
adder_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  gint64 last = G_MININT64;
  int i;

  child_guard ();
  for (i = 0; i < ADDS_PER_CHILD; i++)
    {
      gint64 result = 0;

      MPK_CHILD_CHECK (mpk_value_proxy_add (args->value, 1, &result, &error));
      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (result > last);   /* the adds this child saw happen in order */
      last = result;
    }
  return 0;
}

static void
test_manager_value_add (void)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *children[N_ADDERS];
  ChildArgs args = { 0 };
  MpkManager *manager;
  gboolean swapped;
  gint64 result;
  int i;

  g_test_summary ("M14: 8 processes × 2000 server-side adds of 1 make exactly 16000 (no update "
                  "lost); compare_and_set swaps only on a match; add keeps the stored type (int32 "
                  "stays int32) and fails on a non-integer");
  manager = new_started ();
  args.value = new_value (manager, I64 (0));
  for (i = 0; i < N_ADDERS; i++)
    children[i] = mpk_test_start (adder_child, &args);
  for (i = 0; i < N_ADDERS; i++)
    join_busy_child (children[i], 0);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &error), error, "int64 16000");

  ASSERT_OK (mpk_value_proxy_compare_and_set (args.value, I64 (16000), I64 (-1), &swapped, &error),
             error);
  g_assert_true (swapped);
  ASSERT_OK (mpk_value_proxy_compare_and_set (args.value, I64 (16000), I64 (5), &swapped, &error),
             error);
  g_assert_false (swapped);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &error), error, "int64 -1");
  ASSERT_OK (mpk_value_proxy_add (args.value, 10, &result, &error), error);
  g_assert_cmpint (result, ==, 9);
  mpk_value_proxy_unref (args.value);

  args.value = new_value (manager, I32 (7));
  ASSERT_OK (mpk_value_proxy_add (args.value, 3, &result, &error), error);
  g_assert_cmpint (result, ==, 10);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &error), error, "10");
  mpk_value_proxy_unref (args.value);

  /* The contract names no code for "not an integer": any error will do. */
  args.value = new_value (manager, S ("text"));
  g_assert_false (mpk_value_proxy_add (args.value, 1, &result, &error));
  g_assert_nonnull (error);
  g_test_message ("add on a string value: %s (code %d)", error->message, error->code);
  g_clear_error (&error);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &error), error, "'text'");
  mpk_value_proxy_unref (args.value);
  shutdown_clean (manager);
}

/* --- gaps: many clients, one of them blocked ------------------------------------------------------------- */

/* Says "waiting", then blocks in get() until the parent puts 99. */
static int
blocked_getter_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  gint64 n;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  n = mpk_queue_proxy_qsize (args->queue, &error);   /* opens this process's connection */
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (n == 0);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  CHILD_EXPECT_VALUE (mpk_queue_proxy_get (args->queue, MPK_WAIT_FOREVER, &error), error, "99");
  return 0;
}

static void
test_manager_many_clients (void)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *appenders[N_APPENDERS];
  ChildArgs *copies[N_APPENDERS];
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProcess *getter;
  int i;

  g_test_summary ("Many clients at once: one child blocks in a queue get (WAIT_FOREVER) while "
                  "four children and the parent append to a list (none is held up); then the "
                  "parent puts 99 and the blocked child gets it");
  manager = new_started ();
  args.queue = new_queue (manager, 0, FALSE);
  args.list = new_list (manager, NULL);
  mpk_test_channel_init (&args.channel);
  getter = mpk_test_start (blocked_getter_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "waiting");

  /* The getter said "waiting" just before its get: it is (almost surely)
   * blocked in the server by now; if not, the test still passes. */
  for (i = 0; i < N_APPENDERS; i++)
    appenders[i] = start_child_indexed (appender_child, &args, i + 1, &copies[i]);
  for (i = 0; i < APPENDS; i++)
    ASSERT_OK (mpk_list_proxy_append (args.list, I32 (0), &error), error);
  for (i = 0; i < N_APPENDERS; i++)
    {
      join_busy_child (appenders[i], 0);
      g_free (copies[i]);
    }
  ASSERT_NUMBER (mpk_list_proxy_len (args.list, &error), error, (N_APPENDERS + 1) * APPENDS);
  for (i = 0; i <= N_APPENDERS; i++)
    ASSERT_NUMBER (mpk_list_proxy_count (args.list, I32 (i), &error), error, APPENDS);
  g_assert_cmpuint (stats_of (manager).clients, >=, 2);   /* the parent and the getter */

  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (99), CHILD_TIMEOUT_US, &error), error);
  join_child (getter, 0);
  ASSERT_NUMBER (mpk_queue_proxy_qsize (args.queue, &error), error, 0);

  mpk_test_channel_clear (&args.channel);
  mpk_list_proxy_unref (args.list);
  mpk_queue_proxy_unref (args.queue);
  shutdown_clean (manager);
}

/* --- gaps: threads ------------------------------------------------------------------------------------------- */

typedef struct
{
  MpkListProxy *list;
  MpkValueProxy *value;
  MpkManager *manager;
  int index;
} ThreadArgs;

/* Returns the number of failed calls (each is printed). */
static gpointer
proxy_thread (gpointer data)
{
  ThreadArgs *args = data;
  guint failures = 0;
  int i;

  for (i = 0; i < THREAD_CALLS; i++)
    {
      GError *error = NULL;
      gint64 result = 0;
      MpkListProxy *mine;

      if (!mpk_list_proxy_append (args->list, I32 (args->index), &error)
          || !mpk_value_proxy_add (args->value, 1, &result, &error)
          || mpk_list_proxy_len (args->list, &error) < 1
          || (mine = mpk_manager_list (args->manager, NULL, &error)) == NULL)
        {
          g_autofree char *text = error_text (error);

          g_printerr ("thread %d, call %d: %s\n", args->index, i, text);
          g_clear_error (&error);
          failures++;
          continue;
        }
      mpk_list_proxy_unref (mine);
    }
  return GUINT_TO_POINTER (failures);
}

static void
test_manager_threads (void)
{
  g_autoptr(GError) error = NULL;
  GThread *threads[N_THREADS];
  ThreadArgs args[N_THREADS];
  MpkManager *manager;
  MpkListProxy *list;
  MpkValueProxy *value;
  guint objects_before;
  int i;

  g_test_summary ("M17: 4 threads of one process use the same proxies at once (append, add, "
                  "len, create and drop a list): no call fails, every append and add counts, no "
                  "object leaks");
  manager = new_started ();
  list = new_list (manager, NULL);
  value = new_value (manager, I64 (0));
  objects_before = stats_of (manager).objects;
  for (i = 0; i < N_THREADS; i++)
    {
      args[i] = (ThreadArgs) { list, value, manager, i };
      threads[i] = g_thread_new ("proxy-user", proxy_thread, &args[i]);
    }
  for (i = 0; i < N_THREADS; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_thread_join (threads[i])), ==, 0);

  ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, N_THREADS * THREAD_CALLS);
  for (i = 0; i < N_THREADS; i++)
    ASSERT_NUMBER (mpk_list_proxy_count (list, I32 (i), &error), error, THREAD_CALLS);
  ASSERT_GOT (mpk_value_proxy_get (value, &error), error, "int64 1000");
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  mpk_list_proxy_unref (list);
  mpk_value_proxy_unref (value);
  shutdown_clean (manager);
}

/* --- regressions: the review's bugs (fixed in 927e9a0) -------------------------------------------- */

/* Review bug 7: value add's overflow check itself overflowed (lo - delta
 * with delta = G_MININT64), so 5 + G_MININT64 "fitted" in a byte. */
static void
test_regress_value_add_overflow (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkValueProxy *byte;
  MpkValueProxy *big;
  MpkValueProxy *small;
  gint64 result = 0;

  g_test_summary ("Review bug 7: add() that does not fit is INVALID and changes nothing: byte 5 "
                  "+ G_MININT64, byte 5 - 6, int64 G_MAXINT64 + 1, int64 G_MININT64 - 1 and + "
                  "G_MININT64; adds that fit still work");
  manager = new_started ();
  byte = new_value (manager, g_variant_new_byte (5));
  big = new_value (manager, I64 (G_MAXINT64));
  small = new_value (manager, I64 (G_MININT64));

  ASSERT_FAILS (mpk_value_proxy_add (byte, G_MININT64, &result, &error), error, MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (byte, &error), error, "byte 0x05");
  ASSERT_FAILS (mpk_value_proxy_add (byte, -6, &result, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_proxy_add (byte, G_MAXINT64, &result, &error), error, MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (byte, &error), error, "byte 0x05");
  ASSERT_OK (mpk_value_proxy_add (byte, 250, &result, &error), error);
  g_assert_cmpint (result, ==, 255);

  ASSERT_FAILS (mpk_value_proxy_add (big, 1, &result, &error), error, MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (big, &error), error, "int64 9223372036854775807");
  ASSERT_FAILS (mpk_value_proxy_add (small, -1, &result, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_proxy_add (small, G_MININT64, &result, &error), error, MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (small, &error), error, "int64 -9223372036854775808");
  ASSERT_OK (mpk_value_proxy_add (small, G_MAXINT64, &result, &error), error);
  g_assert_cmpint (result, ==, -1);

  mpk_value_proxy_unref (byte);
  mpk_value_proxy_unref (big);
  mpk_value_proxy_unref (small);
  shutdown_clean (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_data_func ("/manager/queue", GINT_TO_POINTER (FALSE), test_manager_queue);
  mpk_test_add_data_func ("/manager/joinable-queue", GINT_TO_POINTER (TRUE), test_manager_queue);
  mpk_test_add_func ("/manager/value", test_manager_value);
  mpk_test_add_func ("/manager/lock", test_manager_lock);
  mpk_test_add_func ("/manager/queue-empty", test_manager_queue_empty);
  mpk_test_add_func ("/manager/value-add", test_manager_value_add);
  mpk_test_add_func ("/manager/many-clients", test_manager_many_clients);
  mpk_test_add_func ("/manager/threads", test_manager_threads);
  mpk_test_add_func ("/manager/regress/value-add-overflow", test_regress_value_add_overflow);

  return g_test_run ();
}
