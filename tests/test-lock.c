/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-lock.c: Lock, RLock, Event, Semaphore and BoundedSemaphore
 * (multiprocessing.synchronize), ported from CPython's _TestLock and
 * _TestSemaphore, plus what Python cannot promise: a lock whose holder was
 * killed is handed to the next acquirer (owner_died), and an RLock or Lock is
 * released only by its owner. */

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include "test-util.h"

/* Every blocking call in a child, and every join in the parent, is bounded by
 * this: a broken library fails a test instead of hanging it. */
#define CHILD_TIMEOUT_US MPK_TEST_CHILD_TIMEOUT_US

/* Timing bounds: a call with timeout T must fail after at least T and at most
 * T + LATE_US; a call that must not block returns within QUICK_US. */
#define LATE_US  (150 * 1000)
#define QUICK_US (50 * 1000)
#define T1_US    (100 * 1000)
#define T2_US    (200 * 1000)

#define N_INCREMENTS 10000
#define N_COUNTERS   4

/* --- process helpers --------------------------------------------------------- */

static void
kill_child (MpkProcess *process)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mpk_process_kill (process, &error));
  g_assert_no_error (error);
}

static MpkLock *
new_lock (gboolean recursive)
{
  g_autoptr(GError) error = NULL;
  MpkLock *lock = recursive ? mpk_rlock_new (&error) : mpk_lock_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (lock);
  g_assert_cmpint (mpk_lock_is_recursive (lock), ==, recursive);
  return lock;
}

static void
acquire_ok (MpkLock *lock,
            gint64   timeout_us)
{
  g_autoptr(GError) error = NULL;
  gboolean acquired = mpk_lock_acquire (lock, timeout_us, &error);

  g_assert_no_error (error);
  g_assert_true (acquired);
}

static void
release_ok (MpkLock *lock)
{
  g_autoptr(GError) error = NULL;
  gboolean released = mpk_lock_release (lock, &error);

  g_assert_no_error (error);
  g_assert_true (released);
}

/* --- child bodies ------------------------------------------------------------- */

typedef struct
{
  MpkTestChannel channel;
  MpkLock       *lock;
  MpkEvent      *event;
  MpkEvent      *ack;
  MpkSemaphore  *sem;
  int            depth;        /* how many times hold_child acquires */
  gboolean       release;      /* hold_child releases after the parent's word */
} SyncArgs;

/* Acquires args->lock args->depth times, says "held", waits for the parent's
 * word (or EOF), then releases it (or returns holding it). */
static int
hold_child (gpointer data)
{
  SyncArgs *args = data;
  int i;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  for (i = 0; i < args->depth; i++)
    MPK_CHILD_CHECK (mpk_lock_acquire (args->lock, CHILD_TIMEOUT_US, NULL));
  MPK_CHILD_CHECK (mpk_lock_is_locked (args->lock));
  MPK_CHILD_CHECK (child_say (&args->channel, "held"));
  child_wait (&args->channel);
  if (args->release)
    for (i = 0; i < args->depth; i++)
      MPK_CHILD_CHECK (mpk_lock_release (args->lock, NULL));
  return 0;
}

/* Releases a lock the parent holds: must fail with INVALID, and the lock stays held. */
static int
foreign_release_child (gpointer data)
{
  SyncArgs *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_lock_is_locked (args->lock));
  MPK_CHILD_CHECK (!mpk_lock_release (args->lock, &error));
  MPK_CHILD_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_INVALID));
  g_clear_error (&error);
  MPK_CHILD_CHECK (mpk_lock_is_locked (args->lock));
  MPK_CHILD_CHECK (!mpk_lock_acquire (args->lock, MPK_NO_WAIT, &error));
  MPK_CHILD_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT));
  g_clear_error (&error);
  return 0;
}

/* Says "waiting", then blocks in acquire_full until the killed holder's lock
 * is handed over: it must come with owner_died. */
static int
recover_child (gpointer data)
{
  SyncArgs *args = data;
  GError *error = NULL;
  gboolean owner_died = FALSE;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  MPK_CHILD_CHECK (mpk_lock_acquire_full (args->lock, CHILD_TIMEOUT_US, &owner_died, &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (owner_died);
  MPK_CHILD_CHECK (mpk_lock_release (args->lock, NULL));
  return 0;
}

/* Waits for args->event, then sets args->ack. */
static int
event_child (gpointer data)
{
  SyncArgs *args = data;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  MPK_CHILD_CHECK (mpk_event_wait (args->event, CHILD_TIMEOUT_US));
  MPK_CHILD_CHECK (mpk_event_is_set (args->event));
  mpk_event_set (args->ack);
  return 0;
}

/* Sees args->event cleared: is_set is FALSE and a short wait times out. */
static int
event_clear_child (gpointer data)
{
  SyncArgs *args = data;
  gint64 start;

  child_guard ();
  MPK_CHILD_CHECK (!mpk_event_is_set (args->event));
  start = g_get_monotonic_time ();
  MPK_CHILD_CHECK (!mpk_event_wait (args->event, T1_US));
  MPK_CHILD_CHECK (g_get_monotonic_time () - start >= T1_US);
  return 0;
}

static int
sem_release_child (gpointer data)
{
  SyncArgs *args = data;
  int i;

  child_guard ();
  for (i = 0; i < args->depth; i++)
    MPK_CHILD_CHECK (mpk_semaphore_release (args->sem, NULL));
  return 0;
}

/* Says "waiting", then blocks in acquire until the parent releases. */
static int
sem_acquire_child (gpointer data)
{
  SyncArgs *args = data;
  GError *error = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  MPK_CHILD_CHECK (mpk_semaphore_acquire (args->sem, CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

typedef struct
{
  MpkLock          *lock;        /* one of lock or sem guards the counter */
  MpkSemaphore     *sem;
  volatile gint    *counter;
  guint             n;
} CounterArgs;

/* n increments of a shared int, each a separate read and write under the lock. */
static int
counter_child (gpointer data)
{
  CounterArgs *args = data;
  guint i;

  child_guard ();
  for (i = 0; i < args->n; i++)
    {
      gint value;

      if (args->lock != NULL)
        MPK_CHILD_CHECK (mpk_lock_acquire (args->lock, CHILD_TIMEOUT_US, NULL));
      else
        MPK_CHILD_CHECK (mpk_semaphore_acquire (args->sem, CHILD_TIMEOUT_US, NULL));
      value = *args->counter;
      if (i % 1000 == 0)
        g_thread_yield ();      /* invite another process into the window */
      *args->counter = value + 1;
      if (args->lock != NULL)
        MPK_CHILD_CHECK (mpk_lock_release (args->lock, NULL));
      else
        MPK_CHILD_CHECK (mpk_semaphore_release (args->sem, NULL));
    }
  return 0;
}

/* --- Lock ---------------------------------------------------------------------- */

static void
test_lock_basic (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkLock) lock = new_lock (FALSE);

  g_test_summary ("CPython test_lock: acquire() is TRUE and the lock is locked; a "
                  "no-wait acquire fails TIMED_OUT; release() works once, a second "
                  "release is MPK_ERROR_INVALID");
  g_assert_false (mpk_lock_is_locked (lock));
  acquire_ok (lock, MPK_WAIT_FOREVER);
  g_assert_true (mpk_lock_is_locked (lock));
  ASSERT_FAILS_IN (mpk_lock_acquire (lock, MPK_NO_WAIT, &error), error, MPK_ERROR_TIMED_OUT,
                   0, QUICK_US);
  g_assert_true (mpk_lock_is_locked (lock));
  release_ok (lock);
  g_assert_false (mpk_lock_is_locked (lock));
  ASSERT_FAILS (mpk_lock_release (lock, &error), error, MPK_ERROR_INVALID);
  g_assert_false (mpk_lock_is_locked (lock));

  /* and it still works */
  acquire_ok (lock, MPK_NO_WAIT);
  g_assert_true (mpk_lock_is_locked (lock));
  release_ok (lock);
}

static void
test_lock_release_unlocked (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkLock) lock = new_lock (GPOINTER_TO_INT (data));

  g_test_summary ("Releasing a lock nobody holds is MPK_ERROR_INVALID (\"not held\")");
  ASSERT_FAILS (mpk_lock_release (lock, &error), error, MPK_ERROR_INVALID);
  g_assert_false (mpk_lock_is_locked (lock));
}

static void
test_lock_holder_reacquire (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkLock) lock = new_lock (FALSE);

  g_test_summary ("A Lock acquired again by its holder: no-wait and other negative "
                  "timeouts fail TIMED_OUT at once, a finite timeout fails TIMED_OUT "
                  "after ~timeout, MPK_WAIT_FOREVER fails MPK_ERROR_INVALID at once "
                  "(would deadlock); the lock stays held throughout");
  acquire_ok (lock, MPK_WAIT_FOREVER);
  ASSERT_FAILS_IN (mpk_lock_acquire (lock, MPK_NO_WAIT, &error), error, MPK_ERROR_TIMED_OUT,
                   0, QUICK_US);
  ASSERT_FAILS_IN (mpk_lock_acquire (lock, -5, &error), error, MPK_ERROR_TIMED_OUT, 0, QUICK_US);
  ASSERT_FAILS_IN (mpk_lock_acquire (lock, T1_US, &error), error, MPK_ERROR_TIMED_OUT,
                   T1_US, T1_US + LATE_US);
  ASSERT_FAILS_IN (mpk_lock_acquire (lock, MPK_WAIT_FOREVER, &error), error, MPK_ERROR_INVALID,
                   0, QUICK_US);
  g_assert_true (mpk_lock_is_locked (lock));
  release_ok (lock);
  g_assert_false (mpk_lock_is_locked (lock));
}

static void
test_lock_other_process_timeouts (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean recursive = GPOINTER_TO_INT (data);
  SyncArgs args = { 0 };
  MpkProcess *child;

  g_test_summary ("While another process holds the lock: no-wait forms fail TIMED_OUT "
                  "in ~0 s, timeouts of 0.1 s and 0.2 s after ~that; our release is "
                  "MPK_ERROR_INVALID (we are not the owner)");
  args.lock = new_lock (recursive);
  args.depth = 1;
  args.release = TRUE;
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (hold_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "held");

  g_assert_true (mpk_lock_is_locked (args.lock));
  ASSERT_FAILS_IN (mpk_lock_acquire (args.lock, MPK_NO_WAIT, &error), error, MPK_ERROR_TIMED_OUT,
                   0, QUICK_US);
  ASSERT_FAILS_IN (mpk_lock_acquire (args.lock, -5, &error), error, MPK_ERROR_TIMED_OUT,
                   0, QUICK_US);
  ASSERT_FAILS_IN (mpk_lock_acquire (args.lock, T1_US, &error), error, MPK_ERROR_TIMED_OUT,
                   T1_US, T1_US + LATE_US);
  ASSERT_FAILS_IN (mpk_lock_acquire (args.lock, T2_US, &error), error, MPK_ERROR_TIMED_OUT,
                   T2_US, T2_US + LATE_US);
  ASSERT_FAILS (mpk_lock_release (args.lock, &error), error, MPK_ERROR_INVALID);
  g_assert_true (mpk_lock_is_locked (args.lock));

  parent_say (&args.channel, "go");
  join_child (child, 0);
  g_assert_false (mpk_lock_is_locked (args.lock));
  acquire_ok (args.lock, MPK_NO_WAIT);
  release_ok (args.lock);
  mpk_test_channel_clear (&args.channel);
  mpk_lock_free (args.lock);
}

static void
test_lock_locked_two_processes (void)
{
  SyncArgs args = { 0 };
  MpkProcess *child;

  g_test_summary ("CPython test_lock_locked_2processes: a Lock acquired in a child is "
                  "locked in the parent; unlocked once the child released it");
  args.lock = new_lock (FALSE);
  args.depth = 1;
  args.release = TRUE;
  mpk_test_channel_init (&args.channel);
  g_assert_false (mpk_lock_is_locked (args.lock));
  child = mpk_test_start (hold_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "held");
  g_assert_true (mpk_lock_is_locked (args.lock));
  parent_say (&args.channel, "release");
  join_child (child, 0);
  g_assert_false (mpk_lock_is_locked (args.lock));
  mpk_test_channel_clear (&args.channel);
  mpk_lock_free (args.lock);
}

static void
test_lock_handover (gconstpointer data)
{
  SyncArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean owner_died = TRUE;
  MpkProcess *child;
  gboolean acquired;

  g_test_summary ("A parent blocked in acquire gets the lock when the child holding "
                  "it releases it (not as a dead-owner recovery)");
  args.lock = new_lock (GPOINTER_TO_INT (data));
  args.depth = GPOINTER_TO_INT (data) ? 2 : 1;   /* an RLock held twice is freed by two releases */
  args.release = TRUE;
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (hold_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "held");
  parent_say (&args.channel, "release");
  acquired = mpk_lock_acquire_full (args.lock, CHILD_TIMEOUT_US, &owner_died, &error);
  g_assert_no_error (error);
  g_assert_true (acquired);
  g_assert_false (owner_died);
  join_child (child, 0);
  release_ok (args.lock);
  g_assert_false (mpk_lock_is_locked (args.lock));
  mpk_test_channel_clear (&args.channel);
  mpk_lock_free (args.lock);
}

static void
test_lock_foreign_release (gconstpointer data)
{
  SyncArgs args = { 0 };

  g_test_summary ("A process that does not hold the lock cannot release it: "
                  "MPK_ERROR_INVALID, and the lock stays held by its owner");
  args.lock = new_lock (GPOINTER_TO_INT (data));
  acquire_ok (args.lock, MPK_WAIT_FOREVER);
  join_child (mpk_test_start (foreign_release_child, &args), 0);
  g_assert_true (mpk_lock_is_locked (args.lock));
  release_ok (args.lock);
  g_assert_false (mpk_lock_is_locked (args.lock));
  mpk_lock_free (args.lock);
}

/* After a recovery the lock must behave normally again. */
static void
assert_lock_works_after_recovery (MpkLock *lock)
{
  g_autoptr(GError) error = NULL;
  gboolean owner_died = TRUE;
  gboolean acquired;

  release_ok (lock);
  g_assert_false (mpk_lock_is_locked (lock));
  ASSERT_FAILS (mpk_lock_release (lock, &error), error, MPK_ERROR_INVALID);
  acquired = mpk_lock_acquire_full (lock, MPK_NO_WAIT, &owner_died, &error);
  g_assert_no_error (error);
  g_assert_true (acquired);
  g_assert_false (owner_died);
  g_assert_true (mpk_lock_is_locked (lock));
  release_ok (lock);
  g_assert_false (mpk_lock_is_locked (lock));
}

static void
test_lock_owner_killed (gconstpointer data)
{
  gboolean recursive = GPOINTER_TO_INT (data);
  SyncArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean owner_died = FALSE;
  MpkProcess *child;
  gboolean acquired;
  gint64 start;

  g_test_summary ("A lock held by a child killed with SIGKILL stays locked until the "
                  "parent recovers it: acquire_full is TRUE with owner_died TRUE at once; "
                  "one release frees it (an RLock held twice by the dead owner too), "
                  "and later acquires report owner_died FALSE");
  args.lock = new_lock (recursive);
  args.depth = recursive ? 2 : 1;
  args.release = TRUE;
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (hold_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "held");
  kill_child (child);
  join_child (child, -SIGKILL);

  g_assert_true (mpk_lock_is_locked (args.lock));     /* a dead holder still holds */
  start = g_get_monotonic_time ();
  acquired = mpk_lock_acquire_full (args.lock, G_USEC_PER_SEC, &owner_died, &error);
  ASSERT_DURATION (g_get_monotonic_time () - start, 0, QUICK_US);
  g_assert_no_error (error);
  g_assert_true (acquired);
  g_assert_true (owner_died);
  g_assert_true (mpk_lock_is_locked (args.lock));
  assert_lock_works_after_recovery (args.lock);
  mpk_test_channel_clear (&args.channel);
  mpk_lock_free (args.lock);
}

static void
test_lock_owner_exited (gconstpointer data)
{
  SyncArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean owner_died = FALSE;
  MpkProcess *child;
  gboolean acquired;

  g_test_summary ("A child that exits normally while holding the lock is a dead holder "
                  "too: the parent gets the lock with owner_died TRUE");
  args.lock = new_lock (GPOINTER_TO_INT (data));
  args.depth = 1;
  args.release = FALSE;
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (hold_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "held");
  parent_say (&args.channel, "exit");
  join_child (child, 0);
  g_assert_true (mpk_lock_is_locked (args.lock));
  acquired = mpk_lock_acquire_full (args.lock, G_USEC_PER_SEC, &owner_died, &error);
  g_assert_no_error (error);
  g_assert_true (acquired);
  g_assert_true (owner_died);
  assert_lock_works_after_recovery (args.lock);
  mpk_test_channel_clear (&args.channel);
  mpk_lock_free (args.lock);
}

static void
test_lock_owner_killed_plain_acquire (void)
{
  SyncArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *child;
  gboolean acquired;

  g_test_summary ("mpk_lock_acquire (without _full) on a lock whose holder was killed "
                  "returns TRUE with no error");
  args.lock = new_lock (FALSE);
  args.depth = 1;
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (hold_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "held");
  kill_child (child);
  join_child (child, -SIGKILL);
  acquired = mpk_lock_acquire (args.lock, G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_true (acquired);
  assert_lock_works_after_recovery (args.lock);
  mpk_test_channel_clear (&args.channel);
  mpk_lock_free (args.lock);
}

static void
test_lock_owner_killed_waiter (gconstpointer data)
{
  SyncArgs holder = { 0 };
  SyncArgs waiter = { 0 };
  MpkProcess *holder_child;
  MpkProcess *waiter_child;
  MpkLock *lock;

  g_test_summary ("A process blocked in acquire_full while the holder is killed gets "
                  "the lock, with owner_died TRUE, without waiting for its timeout");
  lock = new_lock (GPOINTER_TO_INT (data));
  holder.lock = waiter.lock = lock;
  holder.depth = 1;
  mpk_test_channel_init (&holder.channel);
  mpk_test_channel_init (&waiter.channel);
  holder_child = mpk_test_start (hold_child, &holder);
  mpk_connection_close (holder.channel.child);
  parent_expect (&holder.channel, "held");
  waiter_child = mpk_test_start (recover_child, &waiter);
  mpk_connection_close (waiter.channel.child);
  parent_expect (&waiter.channel, "waiting");
  kill_child (holder_child);
  join_child (holder_child, -SIGKILL);
  join_child (waiter_child, 0);
  g_assert_false (mpk_lock_is_locked (lock));
  acquire_ok (lock, MPK_NO_WAIT);
  release_ok (lock);
  mpk_test_channel_clear (&holder.channel);
  mpk_test_channel_clear (&waiter.channel);
  mpk_lock_free (lock);
}

/* --- RLock --------------------------------------------------------------------- */

static void
test_rlock_recursion (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkLock) lock = new_lock (TRUE);
  gint64 start;

  g_test_summary ("An RLock is re-acquired by its owner at once with every timeout "
                  "form; it stays locked until the matching number of releases; one "
                  "more release is MPK_ERROR_INVALID");
  start = g_get_monotonic_time ();
  acquire_ok (lock, MPK_WAIT_FOREVER);
  acquire_ok (lock, MPK_WAIT_FOREVER);
  acquire_ok (lock, MPK_NO_WAIT);
  acquire_ok (lock, T1_US);
  ASSERT_DURATION (g_get_monotonic_time () - start, 0, QUICK_US);
  g_assert_true (mpk_lock_is_locked (lock));
  release_ok (lock);
  release_ok (lock);
  release_ok (lock);
  g_assert_true (mpk_lock_is_locked (lock));
  release_ok (lock);
  g_assert_false (mpk_lock_is_locked (lock));
  ASSERT_FAILS (mpk_lock_release (lock, &error), error, MPK_ERROR_INVALID);
  acquire_ok (lock, MPK_NO_WAIT);
  release_ok (lock);
}

/* --- Event --------------------------------------------------------------------- */

static void
test_event_basic (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkEvent) event = mpk_event_new (&error);
  gint64 start;

  g_test_summary ("An Event starts clear; wait() on it is FALSE in ~0 s for no-wait "
                  "forms and after ~T for timeouts; once set, wait is TRUE at once with "
                  "any timeout; clear() resets it");
  g_assert_no_error (error);
  g_assert_nonnull (event);
  g_assert_false (mpk_event_is_set (event));

  start = g_get_monotonic_time ();
  g_assert_false (mpk_event_wait (event, MPK_NO_WAIT));
  ASSERT_DURATION (g_get_monotonic_time () - start, 0, QUICK_US);
  start = g_get_monotonic_time ();
  g_assert_false (mpk_event_wait (event, -5));
  ASSERT_DURATION (g_get_monotonic_time () - start, 0, QUICK_US);
  start = g_get_monotonic_time ();
  g_assert_false (mpk_event_wait (event, T1_US));
  ASSERT_DURATION (g_get_monotonic_time () - start, T1_US, T1_US + LATE_US);
  start = g_get_monotonic_time ();
  g_assert_false (mpk_event_wait (event, T2_US));
  ASSERT_DURATION (g_get_monotonic_time () - start, T2_US, T2_US + LATE_US);

  mpk_event_set (event);
  g_assert_true (mpk_event_is_set (event));
  mpk_event_set (event);          /* setting twice is fine */
  g_assert_true (mpk_event_is_set (event));
  start = g_get_monotonic_time ();
  g_assert_true (mpk_event_wait (event, MPK_WAIT_FOREVER));
  g_assert_true (mpk_event_wait (event, MPK_NO_WAIT));
  g_assert_true (mpk_event_wait (event, T2_US));
  ASSERT_DURATION (g_get_monotonic_time () - start, 0, QUICK_US);

  mpk_event_clear (event);
  g_assert_false (mpk_event_is_set (event));
  g_assert_false (mpk_event_wait (event, MPK_NO_WAIT));
}

static void
test_event_two_processes (void)
{
  SyncArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *child;

  g_test_summary ("A child blocked in wait() wakes when the parent sets the event and "
                  "sets another one back; a clear() in the parent is seen by a child");
  args.event = mpk_event_new (&error);
  g_assert_no_error (error);
  args.ack = mpk_event_new (&error);
  g_assert_no_error (error);
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (event_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "waiting");
  mpk_event_set (args.event);
  g_assert_true (mpk_event_wait (args.ack, CHILD_TIMEOUT_US));
  join_child (child, 0);

  mpk_event_clear (args.event);
  join_child (mpk_test_start (event_clear_child, &args), 0);
  g_assert_false (mpk_event_is_set (args.event));
  g_assert_true (mpk_event_is_set (args.ack));

  mpk_test_channel_clear (&args.channel);
  mpk_event_free (args.event);
  mpk_event_free (args.ack);
}

/* --- Semaphore ----------------------------------------------------------------- */

static MpkSemaphore *
new_semaphore (gboolean bounded,
               guint    value)
{
  g_autoptr(GError) error = NULL;
  MpkSemaphore *sem = bounded ? mpk_bounded_semaphore_new (value, &error)
                              : mpk_semaphore_new (value, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sem);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, value);
  return sem;
}

static void
sem_acquire_ok (MpkSemaphore *sem,
                gint64        timeout_us)
{
  g_autoptr(GError) error = NULL;
  gboolean acquired = mpk_semaphore_acquire (sem, timeout_us, &error);

  g_assert_no_error (error);
  g_assert_true (acquired);
}

static void
sem_release_ok (MpkSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  gboolean released = mpk_semaphore_release (sem, &error);

  g_assert_no_error (error);
  g_assert_true (released);
}

static void
test_semaphore_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkSemaphore) sem = new_semaphore (FALSE, 0);

  g_test_summary ("CPython _TestSemaphore.test_timeout: on Semaphore(0) no-wait acquires "
                  "fail TIMED_OUT in ~0 s; acquires with 0.1 s and 0.2 s fail after ~that");
  ASSERT_FAILS_IN (mpk_semaphore_acquire (sem, MPK_NO_WAIT, &error), error,
                   MPK_ERROR_TIMED_OUT, 0, QUICK_US);
  ASSERT_FAILS_IN (mpk_semaphore_acquire (sem, -5, &error), error,
                   MPK_ERROR_TIMED_OUT, 0, QUICK_US);
  ASSERT_FAILS_IN (mpk_semaphore_acquire (sem, G_MININT64, &error), error,
                   MPK_ERROR_TIMED_OUT, 0, QUICK_US);
  ASSERT_FAILS_IN (mpk_semaphore_acquire (sem, T1_US, &error), error,
                   MPK_ERROR_TIMED_OUT, T1_US, T1_US + LATE_US);
  ASSERT_FAILS_IN (mpk_semaphore_acquire (sem, T2_US, &error), error,
                   MPK_ERROR_TIMED_OUT, T2_US, T2_US + LATE_US);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 0);
}

static void
test_semaphore_basic (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkSemaphore) sem = new_semaphore (FALSE, 2);

  g_test_summary ("Semaphore(2): two acquires, then TIMED_OUT; releases count up, past "
                  "the initial value for an unbounded semaphore");
  sem_acquire_ok (sem, MPK_NO_WAIT);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 1);
  sem_acquire_ok (sem, MPK_WAIT_FOREVER);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 0);
  ASSERT_FAILS_IN (mpk_semaphore_acquire (sem, MPK_NO_WAIT, &error), error,
                   MPK_ERROR_TIMED_OUT, 0, QUICK_US);
  sem_release_ok (sem);
  sem_release_ok (sem);
  sem_release_ok (sem);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 3);
  sem_acquire_ok (sem, T1_US);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 2);
}

static void
test_semaphore_bounded (void)
{
  g_autoptr(MpkSemaphore) sem = new_semaphore (TRUE, 2);
  g_autoptr(GError) error = NULL;

  g_test_summary ("BoundedSemaphore(2): a release above the initial value is FALSE + "
                  "MPK_ERROR_INVALID and leaves the value at 2");
  g_assert_false (mpk_semaphore_release (sem, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 2);
  sem_acquire_ok (sem, MPK_NO_WAIT);
  sem_acquire_ok (sem, MPK_NO_WAIT);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 0);
  sem_release_ok (sem);
  sem_release_ok (sem);
  g_assert_false (mpk_semaphore_release (sem, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, 2);
}

static void
test_semaphore_two_processes (void)
{
  g_autoptr(GError) error = NULL;
  SyncArgs args = { 0 };
  MpkProcess *child;

  g_test_summary ("Releases made in a child are seen by the parent; a child blocked in "
                  "acquire wakes on the parent's release");
  args.sem = new_semaphore (FALSE, 0);
  args.depth = 3;
  join_child (mpk_test_start (sem_release_child, &args), 0);
  g_assert_cmpuint (mpk_semaphore_get_value (args.sem), ==, 3);
  sem_acquire_ok (args.sem, MPK_NO_WAIT);
  sem_acquire_ok (args.sem, MPK_NO_WAIT);
  sem_acquire_ok (args.sem, MPK_NO_WAIT);
  ASSERT_FAILS_IN (mpk_semaphore_acquire (args.sem, MPK_NO_WAIT, &error), error,
                   MPK_ERROR_TIMED_OUT, 0, QUICK_US);

  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (sem_acquire_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "waiting");
  sem_release_ok (args.sem);
  join_child (child, 0);
  g_assert_cmpuint (mpk_semaphore_get_value (args.sem), ==, 0);
  mpk_test_channel_clear (&args.channel);
  mpk_semaphore_free (args.sem);
}

/* --- shared counter -------------------------------------------------------------- */

typedef enum { GUARD_LOCK, GUARD_RLOCK, GUARD_SEMAPHORE } Guard;

static void
test_shared_counter (gconstpointer data)
{
  Guard guard = GPOINTER_TO_INT (data);
  CounterArgs args = { 0 };
  MpkProcess *children[N_COUNTERS];
  gint *counter;
  gint total, expected;
  guint i;

  g_test_summary ("4 processes each add 1 to an int in shared memory 10 000 times, "
                  "every read and write under one lock: the total is exact");
  counter = shared_new (sizeof (gint));
  args.counter = counter;
  args.n = under_valgrind () ? 2000 : N_INCREMENTS;
  if (guard == GUARD_SEMAPHORE)
    args.sem = new_semaphore (TRUE, 1);
  else
    args.lock = new_lock (guard == GUARD_RLOCK);
  for (i = 0; i < N_COUNTERS; i++)
    children[i] = mpk_test_start (counter_child, &args);
  for (i = 0; i < N_COUNTERS; i++)
    join_child (children[i], 0);
  total = *counter;
  expected = (gint) (N_COUNTERS * args.n);
  g_assert_cmpint (total, ==, expected);
  if (args.lock != NULL)
    g_assert_false (mpk_lock_is_locked (args.lock));
  else
    g_assert_cmpuint (mpk_semaphore_get_value (args.sem), ==, 1);
  g_clear_pointer (&args.lock, mpk_lock_free);
  g_clear_pointer (&args.sem, mpk_semaphore_free);
  munmap (counter, sizeof (gint));
}

static void
test_semaphore_value_too_large (void)
{
  g_autoptr(GError) error = NULL;
  MpkSemaphore *sem;

  if (!mpk_test_in_subprocess ("Issue 11 section 4: a semaphore value above G_MAXINT32 (the "
                               "type says guint) is MPK_ERROR_INVALID, not a critical; so "
                               "is a BoundedSemaphore(0), which could never be acquired"))
    return;
  sem = mpk_semaphore_new ((guint) G_MAXINT32 + 1, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = mpk_semaphore_new (G_MAXUINT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = mpk_bounded_semaphore_new ((guint) G_MAXINT32 + 1, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (sem);
  g_clear_error (&error);
  sem = mpk_bounded_semaphore_new (0, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (sem);
  g_clear_error (&error);

  /* The largest allowed value works, and one release past it is refused. */
  sem = mpk_semaphore_new (G_MAXINT32, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sem);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, G_MAXINT32);
  g_assert_false (mpk_semaphore_release (sem, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_cmpuint (mpk_semaphore_get_value (sem), ==, G_MAXINT32);
  mpk_semaphore_free (sem);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/lock/basic", test_lock_basic);
  mpk_test_add_data_func ("/lock/release/unlocked", GINT_TO_POINTER (FALSE),
                          test_lock_release_unlocked);
  mpk_test_add_func ("/lock/reacquire/holder", test_lock_holder_reacquire);
  mpk_test_add_data_func ("/lock/timeout/other-process", GINT_TO_POINTER (FALSE),
                          test_lock_other_process_timeouts);
  mpk_test_add_func ("/lock/two-processes/locked", test_lock_locked_two_processes);
  mpk_test_add_data_func ("/lock/two-processes/handover", GINT_TO_POINTER (FALSE),
                          test_lock_handover);
  mpk_test_add_data_func ("/lock/release/non-owner", GINT_TO_POINTER (FALSE),
                          test_lock_foreign_release);
  mpk_test_add_data_func ("/lock/owner-died/killed", GINT_TO_POINTER (FALSE),
                          test_lock_owner_killed);
  mpk_test_add_data_func ("/lock/owner-died/exited", GINT_TO_POINTER (FALSE),
                          test_lock_owner_exited);
  mpk_test_add_func ("/lock/owner-died/plain-acquire", test_lock_owner_killed_plain_acquire);
  mpk_test_add_data_func ("/lock/owner-died/waiter", GINT_TO_POINTER (FALSE),
                          test_lock_owner_killed_waiter);
  mpk_test_add_data_func ("/lock/counter/shared", GINT_TO_POINTER (GUARD_LOCK),
                          test_shared_counter);

  mpk_test_add_func ("/rlock/recursion", test_rlock_recursion);
  mpk_test_add_data_func ("/rlock/release/unlocked", GINT_TO_POINTER (TRUE),
                          test_lock_release_unlocked);
  mpk_test_add_data_func ("/rlock/timeout/other-process", GINT_TO_POINTER (TRUE),
                          test_lock_other_process_timeouts);
  mpk_test_add_data_func ("/rlock/two-processes/handover", GINT_TO_POINTER (TRUE),
                          test_lock_handover);
  mpk_test_add_data_func ("/rlock/release/non-owner", GINT_TO_POINTER (TRUE),
                          test_lock_foreign_release);
  mpk_test_add_data_func ("/rlock/owner-died/killed", GINT_TO_POINTER (TRUE),
                          test_lock_owner_killed);
  mpk_test_add_data_func ("/rlock/owner-died/exited", GINT_TO_POINTER (TRUE),
                          test_lock_owner_exited);
  mpk_test_add_data_func ("/rlock/owner-died/waiter", GINT_TO_POINTER (TRUE),
                          test_lock_owner_killed_waiter);
  mpk_test_add_data_func ("/rlock/counter/shared", GINT_TO_POINTER (GUARD_RLOCK),
                          test_shared_counter);

  mpk_test_add_func ("/event/basic", test_event_basic);
  mpk_test_add_func ("/event/two-processes", test_event_two_processes);

  mpk_test_add_func ("/semaphore/timeout", test_semaphore_timeout);
  mpk_test_add_func ("/semaphore/basic", test_semaphore_basic);
  mpk_test_add_func ("/semaphore/bounded/over-release", test_semaphore_bounded);
  mpk_test_add_func ("/semaphore/two-processes", test_semaphore_two_processes);
  mpk_test_add_func ("/semaphore/new/value-too-large", test_semaphore_value_too_large);
  mpk_test_add_data_func ("/semaphore/counter/shared", GINT_TO_POINTER (GUARD_SEMAPHORE),
                          test_shared_counter);

  return g_test_run ();
}
