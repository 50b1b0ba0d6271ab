/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-lock.c: multiprocessing.Lock and RLock (a robust process-shared mutex),
 * Event (a flag and a wake-up word) and Semaphore/BoundedSemaphore (a counter
 * changed with compare-and-swap). All live in shared memory made before fork.
 * Only the mutex can be left held by a dead process, and it is robust; the
 * Event and the Semaphore hold no lock at all, so a death leaves them sound. */
#include "mpk-objects-private.h"

#include <errno.h>

/* ---------------------------------------------------------------- Lock -- */

typedef struct
{
  pthread_mutex_t mutex;
  guint32 holder_pid;         /* written by the holder after locking; 0 when free */
  guint32 holder_tid;
  guint32 depth;              /* RLock: how many times the holder acquired it */
  guint32 owner_died_pending; /* a dead holder was recovered by someone who could not report it */
  guint64 clock;              /* Lamport clock of the last release, for the tracer */
  guint64 order;              /* for the tracer: acquires and releases so far, counted
                               * under the mutex, so "ord" gives mpk-trace the order
                               * the lock imposed between processes */
} LockShared;

struct _MpkLock
{
  MpkObjectHeader object;
  LockShared     *shm;
  gboolean        recursive;
};

static MpkLock *
lock_new (gboolean recursive, GError **error)
{
  LockShared *shm = mpk__shm_alloc (sizeof *shm, error);
  MpkLock *lock;

  if (shm == NULL)
    return NULL;
  if (!mpk__mutex_init (&shm->mutex, recursive ? PTHREAD_MUTEX_RECURSIVE
                                               : PTHREAD_MUTEX_ERRORCHECK, error))
    {
      mpk__shm_free (shm, sizeof *shm);
      return NULL;
    }
  lock = g_new0 (MpkLock, 1);
  mpk__trace_object_init (&lock->object, MPK__OBJECT_LOCK);
  lock->shm = shm;
  lock->recursive = recursive;
  return lock;
}

/**
 * mpk_lock_new:
 * @error: return location for a #GError, or %NULL
 *
 * Creates a lock shared by this process and every process started after it,
 * like Python's `multiprocessing.Lock()`. Unlike Python's, it has an owner:
 * only the thread that acquired it may release it, and if the holder dies the
 * next acquirer gets the lock (see mpk_lock_acquire_full()) instead of
 * waiting forever.
 *
 * Returns: (transfer full): the lock, free with mpk_lock_free(); %NULL with
 *   @error set if shared memory cannot be had
 */
MpkLock *
mpk_lock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return lock_new (FALSE, error);
}

/**
 * mpk_rlock_new:
 * @error: return location for a #GError, or %NULL
 *
 * Creates a recursive lock, Python's `multiprocessing.RLock()`: the thread
 * holding it may acquire it again, and must release it as many times.
 *
 * Returns: (transfer full): the lock, free with mpk_lock_free(); %NULL
 *   with @error set if shared memory cannot be had
 */
MpkLock *
mpk_rlock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return lock_new (TRUE, error);
}

/**
 * mpk_lock_free:
 * @lock: (transfer full) (nullable): a lock
 *
 * Releases this process's handle. The lock lives on in the other processes.
 * Freeing a lock this thread holds leaves it held (as a process exit would,
 * except that nobody can recover it until this process dies).
 */
void
mpk_lock_free (MpkLock *lock)
{
  if (lock == NULL)
    return;
  mpk__shm_free (lock->shm, sizeof *lock->shm);
  g_free (lock);
}

/* Called with the mutex held: the event's place among the lock's events
 * ("ord") is taken under it. */
static void
trace_lock_event (MpkLock *lock, const char *ev, guint64 lc, guint32 dead_pid)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, ev, 0, lc);
  mpk__trace_add_object (&line, &lock->object);
  if (dead_pid != 0)
    mpk__trace_add_int (&line, "dead", dead_pid);
  mpk__trace_add_order (&line, ++lock->shm->order);
  mpk__trace_end (&line);
}

static gboolean
held_by_me (LockShared *shm)
{
  return shm->holder_pid == mpk__wire_pid () && shm->holder_tid == mpk__thread_id ();
}

/* This thread owns the mutex (newly or again): note it, and report a
 * recovery that an earlier caller could not report. */
static void
lock_taken (MpkLock *lock, int err, gboolean *owner_died)
{
  LockShared *shm = lock->shm;
  guint32 dead_pid = 0;

  if (err == EOWNERDEAD)
    {
      dead_pid = shm->holder_pid;
      pthread_mutex_consistent (&shm->mutex);
    }
  else if (shm->owner_died_pending)
    err = EOWNERDEAD;
  shm->owner_died_pending = 0;
  shm->depth = (err == EOWNERDEAD || !held_by_me (shm)) ? 1 : shm->depth + 1;
  shm->holder_pid = mpk__wire_pid ();
  shm->holder_tid = mpk__thread_id ();
  MPK__CRASH_POINT ("lock.acquired");
  if (owner_died != NULL)
    *owner_died = (err == EOWNERDEAD);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    {
      guint64 lc = mpk__wire_clock_receive (shm->clock);

      trace_lock_event (lock, err == EOWNERDEAD ? "lock.recovered" : "lock.acquire", lc, dead_pid);
    }
}

/**
 * mpk_lock_acquire_full:
 * @lock: (transfer none): a lock
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @owner_died: (out) (optional): set to %TRUE when the previous holder died
 *   holding the lock, so whatever it guarded may be half-updated
 * @error: return location for a #GError, or %NULL
 *
 * Acquires @lock, Python's `lock.acquire(block, timeout)`. When the holder
 * died (killed, crashed) the lock passes to this caller, who learns it
 * through @owner_died: that is pthread's EOWNERDEAD, which Python's locks
 * cannot offer (theirs stay held forever). Exactly one acquirer sees it.
 *
 * A #MpkLock already held by the calling thread is never granted again:
 * with a finite timeout the call waits it out and fails (Python returns
 * False), with %MPK_WAIT_FOREVER it fails at once instead of deadlocking.
 *
 * Returns: %TRUE when this thread holds the lock; %FALSE with
 *   %MPK_ERROR_TIMED_OUT, or %MPK_ERROR_INVALID for a certain deadlock
 */
gboolean
mpk_lock_acquire_full (MpkLock   *lock,
                       gint64     timeout_us,
                       gboolean  *owner_died,
                       GError   **error)
{
  MpkTraceWaiting waiting;
  MpkDeadline deadline;
  int err;

  g_return_val_if_fail (lock != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (owner_died != NULL)
    *owner_died = FALSE;
  deadline = mpk__deadline_from_timeout (timeout_us);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    mpk__trace_wait_enter (&waiting, &lock->object, "acquire");
  err = mpk__mutex_lock (&lock->shm->mutex, deadline);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    mpk__trace_wait_leave (&waiting);
  switch (err)
    {
    case 0:
    case EOWNERDEAD:
      lock_taken (lock, err, owner_died);
      return TRUE;
    case EDEADLK:
      if (deadline == MPK__DEADLINE_NEVER)
        {
          g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                               "lock: this thread already holds it; waiting forever would deadlock");
          return FALSE;
        }
      mpk__sleep_until (deadline);
      G_GNUC_FALLTHROUGH;
    case ETIMEDOUT:
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                   "lock: still held by process %u after the timeout", lock->shm->holder_pid);
      return FALSE;
    default:
      return mpk__set_error_from_errno (error, err, "lock: pthread_mutex_lock");
    }
}

/**
 * mpk_lock_acquire:
 * @lock: (transfer none): a lock
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * mpk_lock_acquire_full() without the @owner_died report: a lock whose
 * holder died is simply acquired (and the tracer records "lock.recovered").
 *
 * Returns: %TRUE when this thread holds the lock; %FALSE with @error set
 */
gboolean
mpk_lock_acquire (MpkLock  *lock,
                  gint64    timeout_us,
                  GError  **error)
{
  return mpk_lock_acquire_full (lock, timeout_us, NULL, error);
}

/**
 * mpk_lock_release:
 * @lock: (transfer none): a lock this thread holds
 * @error: return location for a #GError, or %NULL
 *
 * Releases @lock (for an #MpkLock from mpk_rlock_new(), one level of it),
 * Python's `lock.release()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when the calling thread
 *   does not hold the lock (Python: "semaphore or lock released too many
 *   times" / "attempt to release recursive lock not owned by thread")
 */
gboolean
mpk_lock_release (MpkLock  *lock,
                  GError  **error)
{
  LockShared *shm;
  gboolean last;
  int err;

  g_return_val_if_fail (lock != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shm = lock->shm;
  if (!held_by_me (shm))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "lock: released by a thread that does not hold it");
      return FALSE;
    }
  last = --shm->depth == 0;
  if (MPK__TRACING (MPK__TRACE_LOCK))
    {
      shm->clock = mpk__wire_clock_tick ();
      trace_lock_event (lock, "lock.release", shm->clock, 0);
    }
  if (last)
    shm->holder_pid = shm->holder_tid = 0;
  err = pthread_mutex_unlock (&shm->mutex);
  if (err != 0)
    return mpk__set_error_from_errno (error, err, "lock: pthread_mutex_unlock");
  return TRUE;
}

/**
 * mpk_lock_is_locked:
 * @lock: (transfer none): a lock
 *
 * Whether some thread, in any process, holds @lock (Python 3.14's
 * `lock.locked()`). A lock whose holder died still counts as held until
 * someone acquires it (and learns that the holder died). When no holder is
 * recorded the answer comes from trying the lock for an instant, so a
 * no-wait acquire elsewhere at that very instant can fail.
 *
 * Returns: %TRUE if the lock is held
 */
gboolean
mpk_lock_is_locked (MpkLock *lock)
{
  LockShared *shm;
  int err;

  g_return_val_if_fail (lock != NULL, FALSE);

  shm = lock->shm;
  /* The holder notes itself right after locking and forgets itself right
   * before unlocking, so a dead holder is (almost always) still named. */
  if (__atomic_load_n (&shm->holder_pid, __ATOMIC_SEQ_CST) != 0)
    return TRUE;
  err = pthread_mutex_trylock (&shm->mutex);
  if (err == EOWNERDEAD)
    {
      /* It died in the instant between locking and naming itself: the
       * acquirer after us must still hear of it. */
      pthread_mutex_consistent (&shm->mutex);
      shm->owner_died_pending = 1;
    }
  if (err == 0 || err == EOWNERDEAD)
    {
      pthread_mutex_unlock (&shm->mutex);
      return err == EOWNERDEAD;
    }
  return TRUE;
}

/**
 * mpk_lock_is_recursive:
 * @lock: (transfer none): a lock
 *
 * Tells an RLock from a Lock (Python tells them by their class).
 *
 * Returns: %TRUE for a lock made by mpk_rlock_new()
 */
gboolean
mpk_lock_is_recursive (MpkLock *lock)
{
  g_return_val_if_fail (lock != NULL, FALSE);
  return lock->recursive;
}

/* --------------------------------------------------------------- Event -- */

typedef struct
{
  guint32      flag;      /* 1 when set; written by set/clear in any process */
  MpkShmSignal signal;    /* notified by set */
  guint64      set_clock; /* for the tracer: the last set's Lamport clock ... */
  guint64      set_event; /* ... and event id */
} EventShared;

struct _MpkEvent
{
  MpkObjectHeader object;
  EventShared    *shm;
};

/**
 * mpk_event_new:
 * @error: return location for a #GError, or %NULL
 *
 * Creates an event, Python's `multiprocessing.Event()`: a flag, initially
 * clear, that processes can set, clear and wait for.
 *
 * Returns: (transfer full): the event, free with mpk_event_free(); %NULL
 *   with @error set if shared memory cannot be had
 */
MpkEvent *
mpk_event_new (GError **error)
{
  EventShared *shm;
  MpkEvent *event;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  shm = mpk__shm_alloc (sizeof *shm, error);
  if (shm == NULL)
    return NULL;
  event = g_new0 (MpkEvent, 1);
  mpk__trace_object_init (&event->object, MPK__OBJECT_EVENT);
  event->shm = shm;
  return event;
}

/**
 * mpk_event_free:
 * @event: (transfer full) (nullable): an event
 *
 * Releases this process's handle.
 */
void
mpk_event_free (MpkEvent *event)
{
  if (event == NULL)
    return;
  mpk__shm_free (event->shm, sizeof *event->shm);
  g_free (event);
}

/* event.set, or event.wait after the set that woke it. */
static void
trace_event (MpkEvent *event, const char *ev, gboolean woken)
{
  EventShared *shm = event->shm;
  MpkTraceLine line;
  guint64 lc;

  lc = woken ? mpk__wire_clock_receive (__atomic_load_n (&shm->set_clock, __ATOMIC_SEQ_CST))
             : mpk__wire_clock_tick ();
  mpk__trace_begin (&line, ev, 0, lc);
  mpk__trace_add_object (&line, &event->object);
  if (woken)
    mpk__trace_add_after (&line, __atomic_load_n (&shm->set_event, __ATOMIC_SEQ_CST));
  if (woken)
    mpk__trace_end (&line);
  else
    {
      __atomic_store_n (&shm->set_clock, lc, __ATOMIC_SEQ_CST);
      __atomic_store_n (&shm->set_event, mpk__trace_event_id (mpk__trace_end (&line)),
                        __ATOMIC_SEQ_CST);
    }
}

/**
 * mpk_event_set:
 * @event: (transfer none): an event
 *
 * Sets the flag and wakes every process waiting for it, `event.set()`.
 */
void
mpk_event_set (MpkEvent *event)
{
  g_return_if_fail (event != NULL);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    trace_event (event, "event.set", FALSE);
  __atomic_store_n (&event->shm->flag, 1, __ATOMIC_SEQ_CST);
  mpk__signal_notify (&event->shm->signal);
}

/**
 * mpk_event_clear:
 * @event: (transfer none): an event
 *
 * Clears the flag, `event.clear()`.
 */
void
mpk_event_clear (MpkEvent *event)
{
  g_return_if_fail (event != NULL);
  __atomic_store_n (&event->shm->flag, 0, __ATOMIC_SEQ_CST);
}

/**
 * mpk_event_is_set:
 * @event: (transfer none): an event
 *
 * Reads the flag without waiting, `event.is_set()`.
 *
 * Returns: %TRUE if the flag is set
 */
gboolean
mpk_event_is_set (MpkEvent *event)
{
  g_return_val_if_fail (event != NULL, FALSE);
  return __atomic_load_n (&event->shm->flag, __ATOMIC_SEQ_CST) != 0;
}

static int
event_is_set (gpointer data)
{
  return mpk_event_is_set (data);
}

/**
 * mpk_event_wait:
 * @event: (transfer none): an event
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 *
 * Waits until the flag is set, `event.wait(timeout)`.
 *
 * Returns: %TRUE if the flag is set, %FALSE if the timeout expired first
 */
gboolean
mpk_event_wait (MpkEvent *event,
                gint64    timeout_us)
{
  MpkTraceWaiting waiting;
  gboolean set;

  g_return_val_if_fail (event != NULL, FALSE);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    mpk__trace_wait_enter (&waiting, &event->object, "wait");
  set = mpk__signal_wait_until (&event->shm->signal, event_is_set, event,
                                mpk__deadline_from_timeout (timeout_us), 0);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    mpk__trace_wait_leave (&waiting);
  if (set && MPK__TRACING (MPK__TRACE_LOCK))
    trace_event (event, "event.wait", TRUE);
  return set;
}

/* ----------------------------------------------------------- Semaphore -- */

typedef struct
{
  guint32      value;    /* changed only by compare-and-swap */
  guint32      bound;    /* BoundedSemaphore: the initial value; 0 = unbounded */
  MpkShmSignal signal;   /* notified by release */
} SemaphoreShared;

struct _MpkSemaphore
{
  MpkObjectHeader object;
  SemaphoreShared *shm;
  guint32          bound;   /* this process's copy: never trust shared memory for it */
};

static MpkSemaphore *
semaphore_new (guint value, guint bound, GError **error)
{
  SemaphoreShared *shm = mpk__shm_alloc (sizeof *shm, error);
  MpkSemaphore *sem;

  if (shm == NULL)
    return NULL;
  shm->value = value;
  shm->bound = bound;
  sem = g_new0 (MpkSemaphore, 1);
  mpk__trace_object_init (&sem->object, MPK__OBJECT_SEMAPHORE);
  sem->shm = shm;
  sem->bound = bound;
  return sem;
}

/* Python's SemLock takes any value up to SEM_VALUE_MAX (INT_MAX on Linux);
 * the count here is a 32-bit word with the same limit. */
static gboolean
check_semaphore_value (guint value, gboolean bounded, GError **error)
{
  if (value > G_MAXINT32)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "semaphore: initial value %u is above the maximum %d", value, G_MAXINT32);
      return FALSE;
    }
  if (bounded && value == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "semaphore: a bounded semaphore of 0 could never be acquired "
                           "nor released");
      return FALSE;
    }
  return TRUE;
}

/**
 * mpk_semaphore_new:
 * @value: the initial count, at most %G_MAXINT32
 * @error: return location for a #GError, or %NULL
 *
 * Creates a semaphore, Python's `multiprocessing.Semaphore(value)`.
 *
 * Returns: (transfer full): the semaphore, or %NULL with @error set:
 *   %MPK_ERROR_INVALID for a @value above %G_MAXINT32 (Python: ValueError),
 *   %MPK_ERROR_FAILED if the shared memory cannot be made
 */
MpkSemaphore *
mpk_semaphore_new (guint    value,
                   GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_semaphore_value (value, FALSE, error))
    return NULL;
  return semaphore_new (value, 0, error);
}

/**
 * mpk_bounded_semaphore_new:
 * @value: the initial count, which releases may not exceed: 1 to %G_MAXINT32
 * @error: return location for a #GError, or %NULL
 *
 * Creates a bounded semaphore, Python's `multiprocessing.BoundedSemaphore`.
 * Python accepts `BoundedSemaphore(0)`, which can be neither acquired nor
 * released; here it is refused.
 *
 * Returns: (transfer full): the semaphore, or %NULL with @error set:
 *   %MPK_ERROR_INVALID for a @value of 0 or above %G_MAXINT32,
 *   %MPK_ERROR_FAILED if the shared memory cannot be made
 */
MpkSemaphore *
mpk_bounded_semaphore_new (guint    value,
                           GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_semaphore_value (value, TRUE, error))
    return NULL;
  return semaphore_new (value, value, error);
}

/**
 * mpk_semaphore_free:
 * @sem: (transfer full) (nullable): a semaphore
 *
 * Releases this process's handle.
 */
void
mpk_semaphore_free (MpkSemaphore *sem)
{
  if (sem == NULL)
    return;
  mpk__shm_free (sem->shm, sizeof *sem->shm);
  g_free (sem);
}

static int
semaphore_try_take (gpointer data)
{
  SemaphoreShared *shm = ((MpkSemaphore *) data)->shm;
  guint32 value = __atomic_load_n (&shm->value, __ATOMIC_RELAXED);

  while (value > 0)
    if (__atomic_compare_exchange_n (&shm->value, &value, value - 1, TRUE,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      return 1;
  return 0;
}

/**
 * mpk_semaphore_acquire:
 * @sem: (transfer none): a semaphore
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Takes one from the count, waiting while it is zero, `sem.acquire()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TIMED_OUT
 */
gboolean
mpk_semaphore_acquire (MpkSemaphore  *sem,
                       gint64         timeout_us,
                       GError       **error)
{
  MpkTraceWaiting waiting;
  gboolean taken;

  g_return_val_if_fail (sem != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (MPK__TRACING (MPK__TRACE_LOCK))
    mpk__trace_wait_enter (&waiting, &sem->object, "acquire");
  taken = mpk__signal_wait_until (&sem->shm->signal, semaphore_try_take, sem,
                                  mpk__deadline_from_timeout (timeout_us), 0);
  if (MPK__TRACING (MPK__TRACE_LOCK))
    mpk__trace_wait_leave (&waiting);
  if (!taken)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                           "semaphore: the count stayed at zero until the timeout");
      return FALSE;
    }
  return TRUE;
}

/**
 * mpk_semaphore_release:
 * @sem: (transfer none): a semaphore
 * @error: return location for a #GError, or %NULL
 *
 * Adds one to the count and wakes a waiter, `sem.release()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when a bounded semaphore
 *   would go above its initial value
 */
gboolean
mpk_semaphore_release (MpkSemaphore  *sem,
                       GError       **error)
{
  SemaphoreShared *shm;
  guint32 value;

  g_return_val_if_fail (sem != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shm = sem->shm;
  value = __atomic_load_n (&shm->value, __ATOMIC_RELAXED);
  do
    {
      if ((sem->bound != 0 && value >= sem->bound) || value >= G_MAXINT32)
        {
          g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                               "semaphore: released too many times");
          return FALSE;
        }
    }
  while (!__atomic_compare_exchange_n (&shm->value, &value, value + 1, TRUE,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  mpk__signal_notify (&shm->signal);
  return TRUE;
}

/**
 * mpk_semaphore_get_value:
 * @sem: (transfer none): a semaphore
 *
 * Reads the count, `sem.get_value()`; other processes may change it the
 * moment after.
 *
 * Returns: the current count
 */
guint
mpk_semaphore_get_value (MpkSemaphore *sem)
{
  g_return_val_if_fail (sem != NULL, 0);
  return __atomic_load_n (&sem->shm->value, __ATOMIC_RELAXED);
}
