/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-barrier.c: MpkBarrier and MpkCondition between processes.
 * CPython's _TestBarrier (test_barrier, test_wait_return, test_action,
 * test_abort, test_reset, test_abort_and_reset, test_timeout,
 * test_default_timeout, test_single_thread, test_thousand) and
 * _TestCondition (test_notify, test_notify_all, test_notify_n,
 * test_timeout, test_waitfor, test_waitfor_timeout, wait/notify on an
 * un-acquired lock) ported to forked children; then deaths Python cannot
 * survive: a party killed while waiting or between rounds breaks the
 * barrier instead of hanging it, a killed waiter does not swallow a
 * notify, a notifier killed holding the lock hands it on. */
#include <signal.h>
#include <unistd.h>

#include <mpkit.h>
#include "test-util.h"

#define TIMEOUT MPK_TEST_CHILD_TIMEOUT_US
#define N 4

/* Shared between the test and its children. */
typedef struct
{
  MpkBarrier   *barrier;
  MpkCondition *cond;
  guint         rounds;
  gint          arrived[1100];   /* per round: parties that reached it */
  gint          index_seen[1100][N + 1];
  gint          broken;          /* children that got MPK_ERROR_BROKEN */
  gint          passed;          /* children whose wait returned an index */
  gint          actions;
  gint          sleeping;        /* condition: waiters inside wait() */
  gint          woken;
  gint          timed_out;
  gint          state;
  gint          other_errors;
} Shared;

static Shared *
shared_setup (void)
{
  return shared_new (sizeof (Shared));
}

static void
shared_teardown (Shared *s)
{
  g_clear_pointer (&s->barrier, mpk_barrier_free);
  g_clear_pointer (&s->cond, mpk_condition_free);
  munmap (s, sizeof (Shared));
}

static void
inc (gint *counter)
{
  __atomic_add_fetch (counter, 1, __ATOMIC_SEQ_CST);
}

static gint
get (gint *counter)
{
  return __atomic_load_n (counter, __ATOMIC_SEQ_CST);
}

/* Waits (bounded) until *@counter reaches @value. */
static void
wait_for_count (gint *counter, gint value)
{
  gint64 end = g_get_monotonic_time () + TIMEOUT;

  while (get (counter) < value)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (1000);
    }
}

static void
wait_for_n_waiting (MpkBarrier *barrier, guint n)
{
  gint64 end = g_get_monotonic_time () + TIMEOUT;

  while (mpk_barrier_get_n_waiting (barrier) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (1000);
    }
}

static MpkProcess *
start (MpkProcessFunc func, Shared *s)
{
  return mpk_test_start (func, s);
}

/* ------------------------------------------------------------- barrier -- */

/* Each round: count in, wait, check that everybody had counted in. */
static int
rounds_child (gpointer data)
{
  Shared *s = data;

  child_guard ();
  for (guint r = 0; r < s->rounds; r++)
    {
      g_autoptr(GError) error = NULL;
      gint index;

      inc (&s->arrived[r]);
      index = mpk_barrier_wait (s->barrier, TIMEOUT, &error);
      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (index >= 0 && index < N);
      /* Nobody leaves a round before all have arrived. */
      MPK_CHILD_CHECK (get (&s->arrived[r]) == N);
      inc (&s->index_seen[r][index]);
    }
  return 0;
}

static void
run_rounds (guint rounds, MpkBarrierAction action)
{
  Shared *s = shared_setup ();
  MpkProcess *children[N];
  g_autoptr(GError) error = NULL;

  s->rounds = rounds;
  s->barrier = mpk_barrier_new (N, action, s, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mpk_barrier_get_parties (s->barrier), ==, N);
  for (guint i = 0; i < N; i++)
    children[i] = start (rounds_child, s);
  for (guint i = 0; i < N; i++)
    join_busy_child (children[i], 0);
  /* test_wait_return: each index once per round. */
  for (guint r = 0; r < rounds; r++)
    for (guint i = 0; i < N; i++)
      g_assert_cmpint (s->index_seen[r][i], ==, 1);
  if (action != NULL)
    g_assert_cmpint (s->actions, ==, rounds);
  g_assert_false (mpk_barrier_is_broken (s->barrier));
  g_assert_cmpuint (mpk_barrier_get_n_waiting (s->barrier), ==, 0);
  shared_teardown (s);
}

static void
test_barrier (void)
{
  run_rounds (3, NULL);
}

static void
test_thousand (void)
{
  run_rounds (under_valgrind () ? 100 : 1000, NULL);
}

static gboolean
count_action (gpointer user_data, GError **error)
{
  Shared *s = user_data;

  inc (&s->actions);
  return TRUE;
}

static void
test_action (void)
{
  run_rounds (5, count_action);
}

/* A child that waits once and reports how it ended. */
static int
wait_once_child (gpointer data)
{
  Shared *s = data;
  g_autoptr(GError) error = NULL;

  child_guard ();
  if (mpk_barrier_wait (s->barrier, TIMEOUT, &error) >= 0)
    inc (&s->passed);
  else if (g_error_matches (error, MPK_ERROR, MPK_ERROR_BROKEN))
    inc (&s->broken);
  else
    inc (&s->other_errors);
  return 0;
}

/* test_abort / test_abort_and_reset: waiters get BROKEN, later waits too,
 * until a reset, after which a full round passes. */
static void
test_abort (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *children[N];

  s->barrier = mpk_barrier_new (N, NULL, NULL, MPK_WAIT_FOREVER, &error);
  for (guint i = 0; i < N - 1; i++)
    children[i] = start (wait_once_child, s);
  wait_for_n_waiting (s->barrier, N - 1);
  mpk_barrier_abort (s->barrier);
  for (guint i = 0; i < N - 1; i++)
    join_child (children[i], 0);
  g_assert_cmpint (s->broken, ==, N - 1);
  g_assert_true (mpk_barrier_is_broken (s->barrier));
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_assert_nonnull (strstr (error->message, "abort"));
  g_clear_error (&error);

  mpk_barrier_reset (s->barrier);
  g_assert_false (mpk_barrier_is_broken (s->barrier));
  for (guint i = 0; i < N - 1; i++)
    children[i] = start (wait_once_child, s);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), >=, 0);
  g_assert_no_error (error);
  for (guint i = 0; i < N - 1; i++)
    join_child (children[i], 0);
  g_assert_cmpint (s->passed, ==, N - 1);
  shared_teardown (s);
}

/* test_reset: waiters of the round a reset cuts short get BROKEN; the
 * barrier itself is not broken. */
static void
test_reset (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *children[N];

  s->barrier = mpk_barrier_new (N, NULL, NULL, MPK_WAIT_FOREVER, &error);
  for (guint i = 0; i < N - 1; i++)
    children[i] = start (wait_once_child, s);
  wait_for_n_waiting (s->barrier, N - 1);
  mpk_barrier_reset (s->barrier);
  for (guint i = 0; i < N - 1; i++)
    join_child (children[i], 0);
  g_assert_cmpint (s->broken, ==, N - 1);
  g_assert_cmpint (s->other_errors, ==, 0);
  g_assert_false (mpk_barrier_is_broken (s->barrier));
  g_assert_cmpuint (mpk_barrier_get_n_waiting (s->barrier), ==, 0);
  shared_teardown (s);
}

/* test_timeout: a wait that times out breaks the barrier for all. */
static void
test_timeout (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *child;

  s->barrier = mpk_barrier_new (3, NULL, NULL, MPK_WAIT_FOREVER, &error);
  child = start (wait_once_child, s);
  wait_for_n_waiting (s->barrier, 1);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, 50 * 1000, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_assert_nonnull (strstr (error->message, "timed out"));
  join_child (child, 0);
  g_assert_cmpint (s->broken, ==, 1);
  g_assert_true (mpk_barrier_is_broken (s->barrier));
  shared_teardown (s);
}

/* test_default_timeout: the barrier's own timeout. */
static void
test_default_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkBarrier) barrier = mpk_barrier_new (2, NULL, NULL, 50 * 1000, &error);

  g_assert_no_error (error);
  g_assert_cmpint (mpk_barrier_wait_default (barrier, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_assert_true (mpk_barrier_is_broken (barrier));
}

/* test_single_thread: one party passes at once, every time. */
static void
test_single (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkBarrier) barrier = mpk_barrier_new (1, NULL, NULL, MPK_WAIT_FOREVER, &error);

  for (guint i = 0; i < 10; i++)
    {
      g_assert_cmpint (mpk_barrier_wait (barrier, MPK_NO_WAIT, &error), ==, 0);
      g_assert_no_error (error);
    }
  g_assert_null (mpk_barrier_new (0, NULL, NULL, MPK_WAIT_FOREVER, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
}

/* The action fails: its process gets the action's error, the others BROKEN. */
static gboolean
failing_action (gpointer user_data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the action failed on purpose");
  return FALSE;
}

static void
test_action_fails (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *child;

  s->barrier = mpk_barrier_new (2, failing_action, NULL, MPK_WAIT_FOREVER, &error);
  child = start (wait_once_child, s);
  wait_for_n_waiting (s->barrier, 1);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  join_child (child, 0);
  g_assert_cmpint (s->broken, ==, 1);
  shared_teardown (s);
}

static int
wait_forever_child (gpointer data)
{
  Shared *s = data;

  child_guard ();
  mpk_barrier_wait (s->barrier, MPK_WAIT_FOREVER, NULL);
  return 0;
}

static int
wait_twice_child (gpointer data)
{
  Shared *s = data;
  g_autoptr(GError) error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_barrier_wait (s->barrier, TIMEOUT, &error) >= 0);
  inc (&s->passed);
  if (mpk_barrier_wait (s->barrier, TIMEOUT, &error) < 0
      && g_error_matches (error, MPK_ERROR, MPK_ERROR_BROKEN))
    inc (&s->broken);
  return 0;
}

/* A party killed while it waits still counts for its round (it arrived);
 * the next round breaks instead of waiting for it forever. */
static void
test_party_died_waiting (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *victim, *other;

  s->barrier = mpk_barrier_new (3, NULL, NULL, MPK_WAIT_FOREVER, &error);
  victim = start (wait_forever_child, s);
  wait_for_n_waiting (s->barrier, 1);
  g_assert_true (mpk_process_kill (victim, NULL));
  other = start (wait_twice_child, s);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), >=, 0);
  g_assert_no_error (error);
  /* The test process is a party too: it must not hang either, though it
   * has not reaped the victim (a zombie is as dead). */
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "died"));
  join_child (other, 0);
  g_assert_cmpint (s->passed, ==, 1);
  g_assert_cmpint (s->broken, ==, 1);
  join_child (victim, -SIGKILL);
  shared_teardown (s);
}

/* A party of the last round dies before the next: nobody waits for it. */
static int
one_round_then_wait_child (gpointer data)
{
  Shared *s = data;

  child_guard ();
  if (mpk_barrier_wait (s->barrier, TIMEOUT, NULL) < 0)
    return 1;
  inc (&s->passed);
  /* Stays alive until killed. */
  for (;;)
    pause ();
}

static void
test_party_died_between (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *victim;

  s->barrier = mpk_barrier_new (2, NULL, NULL, MPK_WAIT_FOREVER, &error);
  victim = start (one_round_then_wait_child, s);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), >=, 0);
  g_assert_no_error (error);
  wait_for_count (&s->passed, 1);
  g_assert_true (mpk_process_kill (victim, NULL));
  join_child (victim, -SIGKILL);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BROKEN);
  g_assert_nonnull (strstr (error->message, "died"));
  g_clear_error (&error);
  /* A reset forgets it: a new partner can come. */
  mpk_barrier_reset (s->barrier);
  victim = start (wait_once_child, s);
  g_assert_cmpint (mpk_barrier_wait (s->barrier, TIMEOUT, &error), >=, 0);
  g_assert_no_error (error);
  join_child (victim, 0);
  shared_teardown (s);
}

/* ----------------------------------------------------------- condition -- */

/* Acquire, count in as sleeping, wait, count as woken, release. */
static int
cond_waiter_child (gpointer data)
{
  Shared *s = data;
  g_autoptr(GError) error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  inc (&s->sleeping);
  if (mpk_condition_wait (s->cond, TIMEOUT, &error))
    inc (&s->woken);
  else
    inc (&s->timed_out);
  MPK_CHILD_CHECK (mpk_condition_release (s->cond, &error));
  return 0;
}

/* Starts @n waiters and returns once all are inside wait(): they counted
 * in holding the lock, and the lock is free only inside wait(). */
static void
start_waiters (Shared *s, MpkProcess **children, guint n)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    children[i] = start (cond_waiter_child, s);
  wait_for_count (&s->sleeping, n);
  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  g_assert_no_error (error);
}

static Shared *
cond_setup (void)
{
  Shared *s = shared_setup ();
  g_autoptr(GError) error = NULL;

  s->cond = mpk_condition_new (NULL, &error);
  g_assert_no_error (error);
  return s;
}

static void
notify_release (Shared *s, guint n)
{
  g_autoptr(GError) error = NULL;

  if (n == G_MAXUINT)
    g_assert_true (mpk_condition_notify_all (s->cond, &error));
  else
    g_assert_true (mpk_condition_notify (s->cond, n, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_condition_release (s->cond, &error));
  g_assert_no_error (error);
}

/* test_notify and test_notify_n: notify(n) wakes n, no more. */
static void
test_cond_notify (void)
{
  Shared *s = cond_setup ();
  MpkProcess *children[3];
  g_autoptr(GError) error = NULL;

  start_waiters (s, children, 3);
  notify_release (s, 1);
  wait_for_count (&s->woken, 1);
  /* Under the lock, the count of woken waiters cannot change. */
  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  g_assert_cmpint (get (&s->woken), ==, 1);
  notify_release (s, 2);
  for (guint i = 0; i < 3; i++)
    join_child (children[i], 0);
  g_assert_cmpint (s->woken, ==, 3);
  g_assert_cmpint (s->timed_out, ==, 0);
  shared_teardown (s);
}

static void
test_cond_notify_all (void)
{
  Shared *s = cond_setup ();
  MpkProcess *children[3];

  start_waiters (s, children, 3);
  notify_release (s, G_MAXUINT);
  for (guint i = 0; i < 3; i++)
    join_child (children[i], 0);
  g_assert_cmpint (s->woken, ==, 3);
  shared_teardown (s);
}

/* test_timeout: wait() returns FALSE (TIMED_OUT) with the lock held
 * again, all levels of the RLock. Un-acquired: INVALID (RuntimeError). */
static void
test_cond_timeout (void)
{
  Shared *s = cond_setup ();
  g_autoptr(GError) error = NULL;

  g_assert_false (mpk_condition_wait (s->cond, 10 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mpk_condition_notify (s->cond, 1, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  g_assert_false (mpk_condition_wait (s->cond, 50 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (mpk_condition_release (s->cond, &error));
  g_assert_true (mpk_condition_release (s->cond, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_condition_release (s->cond, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  shared_teardown (s);
}

static gboolean
state_is_4 (gpointer data)
{
  Shared *s = data;

  return s->state == 4;
}

static int
waitfor_child (gpointer data)
{
  Shared *s = data;
  g_autoptr(GError) error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  inc (&s->sleeping);
  MPK_CHILD_CHECK (mpk_condition_wait_for (s->cond, state_is_4, s, TIMEOUT, &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (s->state == 4);
  MPK_CHILD_CHECK (mpk_condition_release (s->cond, &error));
  return 0;
}

/* test_waitfor: the state goes 1..4 with a notify each time. */
static void
test_cond_waitfor (void)
{
  Shared *s = cond_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *child = start (waitfor_child, s);

  wait_for_count (&s->sleeping, 1);
  for (gint i = 1; i <= 4; i++)
    {
      g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
      s->state = i;
      notify_release (s, 1);
    }
  join_child (child, 0);

  /* test_waitfor_timeout */
  s->state = 0;
  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  g_assert_false (mpk_condition_wait_for (s->cond, state_is_4, s, 50 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_true (mpk_condition_release (s->cond, NULL));
  shared_teardown (s);
}

/* A waiter killed while waiting does not swallow the next notify. */
static void
test_cond_dead_waiter (void)
{
  Shared *s = cond_setup ();
  MpkProcess *children[2];
  g_autoptr(GError) error = NULL;

  start_waiters (s, children, 1);   /* the oldest waiter ... */
  g_assert_true (mpk_condition_release (s->cond, &error));
  g_assert_true (mpk_process_kill (children[0], NULL));   /* ... dies */
  join_child (children[0], -SIGKILL);
  children[1] = start (cond_waiter_child, s);
  wait_for_count (&s->sleeping, 2);
  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  notify_release (s, 1);   /* must go to the live one */
  join_child (children[1], 0);
  g_assert_cmpint (s->woken, ==, 1);
  g_assert_cmpint (s->timed_out, ==, 0);
  shared_teardown (s);
}

/* A notifier that dies holding the lock: the waiter wakes, holds the lock
 * and hears OWNER_DIED. */
static int
dying_notifier_child (gpointer data)
{
  Shared *s = data;

  child_guard ();
  if (!mpk_condition_acquire (s->cond, TIMEOUT, NULL))
    return 1;
  s->state = 1;
  mpk_condition_notify (s->cond, 1, NULL);
  raise (SIGKILL);
  return 2;
}

static void
test_cond_dead_notifier (void)
{
  Shared *s = cond_setup ();
  g_autoptr(GError) error = NULL;
  MpkProcess *child;

  g_assert_true (mpk_condition_acquire (s->cond, TIMEOUT, &error));
  child = start (dying_notifier_child, s);
  g_assert_false (mpk_condition_wait (s->cond, TIMEOUT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_OWNER_DIED);
  g_assert_cmpint (s->state, ==, 1);
  g_assert_true (mpk_condition_release (s->cond, NULL));
  join_child (child, -SIGKILL);
  shared_teardown (s);
}

/* A condition over a given plain Lock. */
static void
test_cond_given_lock (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkLock) lock = mpk_lock_new (&error);
  g_autoptr(MpkCondition) cond = mpk_condition_new (lock, &error);

  g_assert_no_error (error);
  g_assert_true (mpk_condition_get_lock (cond) == lock);
  g_assert_true (mpk_lock_acquire (lock, TIMEOUT, &error));
  g_assert_false (mpk_condition_wait (cond, 10 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_true (mpk_lock_is_locked (lock));
  g_assert_true (mpk_lock_release (lock, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  mpk_test_add_func ("/barrier/barrier", test_barrier);
  mpk_test_add_func ("/barrier/action", test_action);
  mpk_test_add_func ("/barrier/thousand", test_thousand);
  mpk_test_add_func ("/barrier/abort-and-reset", test_abort);
  mpk_test_add_func ("/barrier/reset", test_reset);
  mpk_test_add_func ("/barrier/timeout", test_timeout);
  mpk_test_add_func ("/barrier/default-timeout", test_default_timeout);
  mpk_test_add_func ("/barrier/single", test_single);
  mpk_test_add_func ("/barrier/action-fails", test_action_fails);
  mpk_test_add_func ("/barrier/party-died-waiting", test_party_died_waiting);
  mpk_test_add_func ("/barrier/party-died-between", test_party_died_between);
  mpk_test_add_func ("/condition/notify", test_cond_notify);
  mpk_test_add_func ("/condition/notify-all", test_cond_notify_all);
  mpk_test_add_func ("/condition/timeout", test_cond_timeout);
  mpk_test_add_func ("/condition/wait-for", test_cond_waitfor);
  mpk_test_add_func ("/condition/dead-waiter", test_cond_dead_waiter);
  mpk_test_add_func ("/condition/dead-notifier", test_cond_dead_notifier);
  mpk_test_add_func ("/condition/given-lock", test_cond_given_lock);
  return g_test_run ();
}
