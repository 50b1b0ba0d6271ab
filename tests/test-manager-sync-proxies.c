/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-sync-proxies.c: the Manager's event, semaphore, barrier,
 * condition and array proxies (issue 18 §4; Python's SyncManager.Event, Semaphore,
 * BoundedSemaphore, Barrier, Condition and Array), shared with child processes: a child
 * waits for an event the parent sets; a semaphore's count, timeouts and
 * bound; a barrier's rounds, indexes, abort and reset; a barrier party
 * killed while it waits breaks the barrier instead of hanging the others;
 * a condition's wait, notify and timeout, the lock held again after; an
 * array a child reads and writes, its bounds and typecode checks. */

#include "test-manager-util.h"

typedef struct
{
  MpkEventProxy     *event;
  MpkSemaphoreProxy *sem;
  MpkBarrierProxy   *barrier;
  MpkConditionProxy *cond;
  MpkArrayProxy     *array;
  gint              *indexes;   /* shared: one slot per party */
  int                slot;
} Args;

static int
event_child (gpointer data)
{
  Args *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_event_proxy_wait (args->event, CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_event_proxy_is_set (args->event, &error));
  return 0;
}

static void
test_event (void)
{
  MpkManager *manager = new_started ();
  g_autoptr(GError) error = NULL;
  Args args = { 0 };
  MpkProcess *child;

  args.event = mpk_manager_event (manager, &error);
  g_assert_no_error (error);
  g_assert_false (mpk_event_proxy_is_set (args.event, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_event_proxy_wait (args.event, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  child = mpk_test_start (event_child, &args);
  g_assert_true (mpk_event_proxy_set (args.event, &error));
  join_child (child, 0);
  g_assert_true (mpk_event_proxy_clear (args.event, &error));
  g_assert_false (mpk_event_proxy_is_set (args.event, &error));
  g_assert_no_error (error);
  mpk_event_proxy_unref (args.event);
  shutdown_clean (manager);
}

static int
release_child (gpointer data)
{
  Args *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_semaphore_proxy_release (args->sem, &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_semaphore (void)
{
  MpkManager *manager = new_started ();
  g_autoptr(GError) error = NULL;
  Args args = { 0 };
  g_autoptr(MpkSemaphoreProxy) bounded = NULL;

  args.sem = mpk_manager_semaphore (manager, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mpk_semaphore_proxy_get_value (args.sem, &error), ==, 2);
  g_assert_true (mpk_semaphore_proxy_acquire (args.sem, MPK_NO_WAIT, &error));
  g_assert_true (mpk_semaphore_proxy_acquire (args.sem, MPK_NO_WAIT, &error));
  g_assert_false (mpk_semaphore_proxy_acquire (args.sem, 20 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  join_child (mpk_test_start (release_child, &args), 0);
  g_assert_true (mpk_semaphore_proxy_acquire (args.sem, CHILD_TIMEOUT_US, &error));
  g_assert_no_error (error);
  /* An unbounded semaphore may go above its start. */
  for (guint i = 0; i < 3; i++)
    g_assert_true (mpk_semaphore_proxy_release (args.sem, &error));
  g_assert_cmpint (mpk_semaphore_proxy_get_value (args.sem, &error), ==, 3);

  bounded = mpk_manager_bounded_semaphore (manager, 1, &error);
  g_assert_no_error (error);
  g_assert_false (mpk_semaphore_proxy_release (bounded, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_manager_bounded_semaphore (manager, 0, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  mpk_semaphore_proxy_unref (args.sem);
  g_clear_pointer (&bounded, mpk_semaphore_proxy_unref);
  shutdown_clean (manager);
}

static int
barrier_child (gpointer data)
{
  Args *args = data;
  GError *error = NULL;

  child_guard ();
  for (int round = 0; round < 3; round++)
    {
      gint64 index = mpk_barrier_proxy_wait (args->barrier, CHILD_TIMEOUT_US, &error);

      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (index >= 0 && index < 3);
      __atomic_add_fetch (&args->indexes[round * 3 + index], 1, __ATOMIC_SEQ_CST);
    }
  return 0;
}

static int
barrier_forever_child (gpointer data)
{
  Args *args = data;

  child_guard ();
  mpk_barrier_proxy_wait (args->barrier, MPK_WAIT_FOREVER, NULL);
  return 0;
}

static void
wait_for_waiting (MpkBarrierProxy *barrier, gint64 n)
{
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  g_autoptr(GError) error = NULL;

  while (mpk_barrier_proxy_get_n_waiting (barrier, &error) < n)
    {
      g_assert_no_error (error);
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (2000);
    }
}

static void
test_barrier (void)
{
  MpkManager *manager = new_started ();
  g_autoptr(GError) error = NULL;
  Args args = { 0 };
  MpkProcess *children[2];

  args.indexes = shared_new (9 * sizeof (gint));
  args.barrier = mpk_manager_barrier (manager, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mpk_barrier_proxy_get_parties (args.barrier, &error), ==, 3);
  for (int i = 0; i < 2; i++)
    children[i] = mpk_test_start (barrier_child, &args);
  for (int round = 0; round < 3; round++)
    {
      gint64 index = mpk_barrier_proxy_wait (args.barrier, CHILD_TIMEOUT_US, &error);

      g_assert_no_error (error);
      g_assert_cmpint (index, >=, 0);
      g_assert_cmpint (index, <, 3);
      __atomic_add_fetch (&args.indexes[round * 3 + index], 1, __ATOMIC_SEQ_CST);
    }
  for (int i = 0; i < 2; i++)
    join_child (children[i], 0);
  for (int i = 0; i < 9; i++)
    g_assert_cmpint (args.indexes[i], ==, 1);   /* each index once per round */

  /* abort breaks it; reset mends it. */
  g_assert_true (mpk_barrier_proxy_abort (args.barrier, &error));
  g_assert_true (mpk_barrier_proxy_is_broken (args.barrier, &error));
  g_assert_cmpint (mpk_barrier_proxy_wait (args.barrier, MPK_NO_WAIT, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_true (mpk_barrier_proxy_reset (args.barrier, &error));
  g_assert_false (mpk_barrier_proxy_is_broken (args.barrier, &error));
  g_assert_no_error (error);

  /* A timeout breaks it for everybody (Python). */
  g_assert_cmpint (mpk_barrier_proxy_wait (args.barrier, 20 * 1000, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_true (mpk_barrier_proxy_is_broken (args.barrier, &error));
  g_assert_true (mpk_barrier_proxy_reset (args.barrier, &error));

  /* A party killed while it waits: its client hangs up, the barrier
   * breaks, and the parent's wait returns instead of hanging. */
  children[0] = mpk_test_start (barrier_forever_child, &args);
  wait_for_waiting (args.barrier, 1);
  g_assert_true (mpk_process_kill (children[0], NULL));
  join_child (children[0], -SIGKILL);
  g_assert_cmpint (mpk_barrier_proxy_wait (args.barrier, CHILD_TIMEOUT_US, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_clear_error (&error);

  mpk_barrier_proxy_unref (args.barrier);
  munmap (args.indexes, 9 * sizeof (gint));
  shutdown_clean (manager);
}

static int
notify_child (gpointer data)
{
  Args *args = data;
  GError *error = NULL;

  child_guard ();
  /* The parent holds the lock until its wait() lets go of it. */
  MPK_CHILD_CHECK (mpk_condition_proxy_acquire (args->cond, CHILD_TIMEOUT_US, &error));
  args->indexes[0] = 1;
  MPK_CHILD_CHECK (mpk_condition_proxy_notify (args->cond, 1, &error));
  MPK_CHILD_CHECK (mpk_condition_proxy_release (args->cond, &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

/* _TestCondition's notify and timeout cases through the manager. */
static void
test_condition (void)
{
  MpkManager *manager = new_started ();
  g_autoptr(GError) error = NULL;
  Args args = { 0 };
  MpkProcess *child;

  args.indexes = shared_new (sizeof (gint));
  args.cond = mpk_manager_condition (manager, &error);
  g_assert_no_error (error);
  g_assert_false (mpk_condition_proxy_wait (args.cond, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mpk_condition_proxy_notify (args.cond, 1, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (mpk_condition_proxy_acquire (args.cond, CHILD_TIMEOUT_US, &error));
  child = mpk_test_start (notify_child, &args);
  while (args.indexes[0] == 0)
    {
      gboolean notified = mpk_condition_proxy_wait (args.cond, CHILD_TIMEOUT_US, &error);

      g_assert_no_error (error);
      g_assert_true (notified);
    }
  /* The lock is held again: releasing works once. */
  g_assert_true (mpk_condition_proxy_release (args.cond, &error));
  g_assert_false (mpk_condition_proxy_release (args.cond, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  join_child (child, 0);

  /* A timeout: FALSE with TIMED_OUT, the lock held again. */
  g_assert_true (mpk_condition_proxy_acquire (args.cond, CHILD_TIMEOUT_US, &error));
  g_assert_false (mpk_condition_proxy_wait (args.cond, 20 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (mpk_condition_proxy_notify_all (args.cond, &error));
  g_assert_true (mpk_condition_proxy_release (args.cond, &error));
  g_assert_no_error (error);

  mpk_condition_proxy_unref (args.cond);
  munmap (args.indexes, sizeof (gint));
  shutdown_clean (manager);
}

static int
array_child (gpointer data)
{
  Args *args = data;
  MpkArrayProxy *array = args->array;
  GError *error = NULL;
  GVariant *v;

  child_guard ();
  v = mpk_array_proxy_get (array, -1, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (g_variant_get_int64 (v) == 3);
  g_variant_unref (v);
  MPK_CHILD_CHECK (mpk_array_proxy_set (array, 0, g_variant_new_int64 (-7), &error));
  return 0;
}

/* Python's manager.Array('i', [1, 2, 3]): a child reads and writes it. */
static void
test_array (void)
{
  MpkManager *manager = new_started ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkArrayProxy) array = NULL;
  g_autoptr(MpkArrayProxy) doubles = NULL;
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) d = NULL;
  g_autofree char *text = NULL;
  gint32 items[] = { 1, 2, 3 };
  Args args = { 0 };

  array = mpk_manager_array (manager, 'i', g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, items,
                                                                      3, sizeof (gint32)),
                             &error);
  g_assert_no_error (error);
  g_assert_cmpint (mpk_array_proxy_len (array, &error), ==, 3);
  args.array = array;
  join_child (mpk_test_start (array_child, &args), 0);
  all = mpk_array_proxy_tolist (array, &error);
  g_assert_no_error (error);
  text = g_variant_print (all, FALSE);
  g_assert_cmpstr (text, ==, "[<int64 -7>, <int64 2>, <int64 3>]");
  g_assert_null (mpk_array_proxy_get (array, 3, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INDEX);
  g_clear_error (&error);
  g_assert_false (mpk_array_proxy_set (array, 0, g_variant_new_int64 (G_MAXINT64), &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);   /* does not fit 'i' */
  g_clear_error (&error);
  g_assert_false (mpk_array_proxy_set (array, 0, g_variant_new_string ("x"), &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_manager_array (manager, 'z', NULL, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  doubles = mpk_manager_array (manager, 'd', g_variant_new_parsed ("[1.5, 2.5]"), &error);
  g_assert_no_error (error);
  d = mpk_array_proxy_get (doubles, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (g_variant_get_double (d), ==, 2.5);
  g_clear_pointer (&array, mpk_array_proxy_unref);
  g_clear_pointer (&doubles, mpk_array_proxy_unref);
  shutdown_clean (manager);
}

static void
test_as_kind (void)
{
  MpkManager *manager = new_started ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkEventProxy) event = mpk_manager_event (manager, &error);
  g_autoptr(MpkEventProxy) again = NULL;
  g_autoptr(MpkBarrierProxy) wrong = NULL;

  g_assert_no_error (error);
  again = mpk_proxy_as_event (MPK_PROXY (event), &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  wrong = mpk_proxy_as_barrier (MPK_PROXY (event), &error);
  g_assert_null (wrong);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_pointer (&event, mpk_event_proxy_unref);
  g_clear_pointer (&again, mpk_event_proxy_unref);
  shutdown_clean (manager);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  mpk_test_add_func ("/manager/sync/event", test_event);
  mpk_test_add_func ("/manager/sync/semaphore", test_semaphore);
  mpk_test_add_func ("/manager/sync/barrier", test_barrier);
  mpk_test_add_func ("/manager/sync/condition", test_condition);
  mpk_test_add_func ("/manager/sync/array", test_array);
  mpk_test_add_func ("/manager/sync/as-kind", test_as_kind);
  return g_test_run ();
}
