/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-condition.c: multiprocessing.Condition over an MpkLock.
 *
 * Python's Condition counts sleepers and wakers in three semaphores, and
 * notify() waits for each woken sleeper to say so: a sleeper killed before
 * it answers leaves the counts skewed for good. Here each waiter claims a
 * slot (its pid, thread and a ticket) in shared memory before it lets go of
 * the lock; notify(n) marks the n oldest live waiters' slots and bumps a
 * futex word; a waiter sleeps on that word until its own slot is marked.
 * Slots change only by compare-and-swap, so no slot is ever half written,
 * a dead waiter's slot is freed by the next notify that finds it (instead
 * of swallowing the wake-up), and a dead notifier leaves at worst the lock
 * held, which the lock's own robustness recovers. The lock is used only
 * through its public calls: a wait releases it as many times as this
 * thread holds it (an RLock may be held several times) and acquires it as
 * many times again. */
#include "mpk-objects-private.h"
#include "mpk-condition.h"

#include <errno.h>
#include <signal.h>

#define MAX_WAITERS 256

enum
{
  SLOT_FREE,
  SLOT_WAITING,
  SLOT_NOTIFIED,
  SLOT_CLAIMING,   /* being filled in: nobody else touches it */
};

typedef struct
{
  guint32 state;    /* SLOT_*: changed by compare-and-swap only */
  guint32 pid;
  guint64 ticket;   /* order of arrival: notify wakes the oldest first */
} WaiterSlot;

typedef struct
{
  MpkShmSignal signal;         /* bumped by every notify that marked a slot */
  guint64      next_ticket;
  guint64      notify_clock;   /* for the tracer: the last notify's clock ... */
  guint64      notify_event;   /* ... and event id */
  WaiterSlot   slots[MAX_WAITERS];
} ConditionShared;

struct _MpkCondition
{
  MpkObjectHeader  object;
  ConditionShared *shm;
  MpkLock         *lock;
  gboolean         own_lock;
};

/**
 * mpk_condition_new:
 * @lock: (transfer none) (nullable): the lock to use, which must outlive
 *   the condition; %NULL for a new RLock (Python's default), freed with
 *   the condition
 * @error: return location for a #GError, or %NULL
 *
 * Creates a condition variable shared by this process and every process
 * started after it, Python's `multiprocessing.Condition(lock)`.
 *
 * Returns: (transfer full): the condition; %NULL with %MPK_ERROR_FAILED if
 *   shared memory cannot be had
 */
MpkCondition *
mpk_condition_new (MpkLock  *lock,
                   GError  **error)
{
  MpkCondition *cond;
  ConditionShared *shm;
  gboolean own_lock = FALSE;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (lock == NULL)
    {
      lock = mpk_rlock_new (error);
      if (lock == NULL)
        return NULL;
      own_lock = TRUE;
    }
  shm = mpk__shm_alloc (sizeof *shm, error);
  if (shm == NULL)
    {
      if (own_lock)
        mpk_lock_free (lock);
      return NULL;
    }
  cond = g_new0 (MpkCondition, 1);
  /* The tracer has no condition kind yet: it is drawn as an event. */
  mpk__trace_object_init (&cond->object, MPK__OBJECT_EVENT);
  cond->shm = shm;
  cond->lock = lock;
  cond->own_lock = own_lock;
  return cond;
}

/**
 * mpk_condition_free:
 * @cond: (transfer full) (nullable): a condition
 *
 * Releases this process's handle (and the lock, if the condition made it).
 */
void
mpk_condition_free (MpkCondition *cond)
{
  if (cond == NULL)
    return;
  if (cond->own_lock)
    mpk_lock_free (cond->lock);
  mpk__shm_free (cond->shm, sizeof *cond->shm);
  g_free (cond);
}

/**
 * mpk_condition_get_lock:
 * @cond: (transfer none): a condition
 *
 * The lock the condition waits with (Python's `cond._lock`).
 *
 * Returns: (transfer none): the condition's lock
 */
MpkLock *
mpk_condition_get_lock (MpkCondition *cond)
{
  g_return_val_if_fail (cond != NULL, NULL);
  return cond->lock;
}

/**
 * mpk_condition_acquire:
 * @cond: (transfer none): a condition
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Acquires the condition's lock, Python's `cond.acquire()`; see
 * mpk_lock_acquire().
 *
 * Returns: %TRUE when this thread holds the lock; %FALSE with @error set
 */
gboolean
mpk_condition_acquire (MpkCondition  *cond,
                       gint64         timeout_us,
                       GError       **error)
{
  g_return_val_if_fail (cond != NULL, FALSE);
  return mpk_lock_acquire (cond->lock, timeout_us, error);
}

/**
 * mpk_condition_release:
 * @cond: (transfer none): a condition whose lock this thread holds
 * @error: return location for a #GError, or %NULL
 *
 * Releases the condition's lock once, Python's `cond.release()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when this thread does not
 *   hold it
 */
gboolean
mpk_condition_release (MpkCondition  *cond,
                       GError       **error)
{
  g_return_val_if_fail (cond != NULL, FALSE);
  return mpk_lock_release (cond->lock, error);
}

static gboolean
pid_dead (guint32 pid)
{
  return pid != 0 && kill ((pid_t) pid, 0) < 0 && errno == ESRCH;
}

static WaiterSlot *
claim_slot (ConditionShared *shm)
{
  for (guint i = 0; i < MAX_WAITERS; i++)
    {
      WaiterSlot *slot = &shm->slots[i];
      guint32 expected = SLOT_FREE;
      guint32 state = __atomic_load_n (&slot->state, __ATOMIC_ACQUIRE);

      /* A waiter killed after its notify, before it could free its slot. */
      if (state == SLOT_NOTIFIED && pid_dead (slot->pid))
        __atomic_compare_exchange_n (&slot->state, &state, SLOT_FREE, FALSE,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
      else if (state != SLOT_FREE)
        continue;
      /* Claimed first, so no notify picks it half written... */
      if (!__atomic_compare_exchange_n (&slot->state, &expected, SLOT_CLAIMING, FALSE,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        continue;
      slot->pid = mpk__wire_pid ();
      slot->ticket = __atomic_fetch_add (&shm->next_ticket, 1, __ATOMIC_RELAXED);
      /* ... and then made a waiter. */
      __atomic_store_n (&slot->state, SLOT_WAITING, __ATOMIC_RELEASE);
      return slot;
    }
  return NULL;
}

static int
slot_notified (gpointer data)
{
  WaiterSlot *slot = data;

  return __atomic_load_n (&slot->state, __ATOMIC_ACQUIRE) == SLOT_NOTIFIED;
}

static void
trace_condition (MpkCondition *cond, const char *ev, gboolean woken)
{
  ConditionShared *shm = cond->shm;
  MpkTraceLine line;
  guint64 lc;

  lc = woken ? mpk__wire_clock_receive (__atomic_load_n (&shm->notify_clock, __ATOMIC_SEQ_CST))
             : mpk__wire_clock_tick ();
  mpk__trace_begin (&line, ev, 0, lc);
  mpk__trace_add_object (&line, &cond->object);
  if (woken)
    {
      mpk__trace_add_after (&line, __atomic_load_n (&shm->notify_event, __ATOMIC_SEQ_CST));
      mpk__trace_end (&line);
      return;
    }
  __atomic_store_n (&shm->notify_clock, lc, __ATOMIC_SEQ_CST);
  __atomic_store_n (&shm->notify_event, mpk__trace_event_id (mpk__trace_end (&line)),
                    __ATOMIC_SEQ_CST);
}

/**
 * mpk_condition_wait:
 * @cond: (transfer none): a condition whose lock this thread holds
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Releases the lock (all levels of an RLock), waits for a notify, and
 * acquires the lock again as often as it was held, Python's
 * `cond.wait(timeout)`. On return the lock is held again, whatever the
 * outcome (except %MPK_ERROR_INVALID, when it was not held).
 *
 * Returns: %TRUE when notified; %FALSE with %MPK_ERROR_TIMED_OUT (Python
 *   returns False), %MPK_ERROR_OWNER_DIED (notified or not: the lock's
 *   last holder died holding it, so what it guards may be half-updated),
 *   %MPK_ERROR_INVALID when this thread does not hold the lock (Python:
 *   RuntimeError), or %MPK_ERROR_FULL when 256 waiters wait already
 */
gboolean
mpk_condition_wait (MpkCondition  *cond,
                    gint64         timeout_us,
                    GError       **error)
{
  ConditionShared *shm;
  MpkDeadline deadline;
  WaiterSlot *slot;
  GError *release_error = NULL;
  gboolean notified, owner_died = FALSE, died;
  guint depth = 0;
  guint32 expected;

  g_return_val_if_fail (cond != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shm = cond->shm;
  deadline = mpk__deadline_from_timeout (timeout_us);
  if (!mpk_lock_is_locked (cond->lock))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "condition: wait() on an un-acquired lock");
      return FALSE;
    }
  slot = claim_slot (shm);
  if (slot == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_FULL,
                   "condition: %d processes wait already", MAX_WAITERS);
      return FALSE;
    }
  /* Let go of every level this thread holds; the failing release ends it. */
  while (mpk_lock_release (cond->lock, depth == 0 ? &release_error : NULL))
    depth++;
  if (depth == 0)
    {
      __atomic_store_n (&slot->state, SLOT_FREE, __ATOMIC_RELEASE);
      g_clear_error (&release_error);
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "condition: wait() on a lock this thread does not hold");
      return FALSE;
    }
  g_clear_error (&release_error);

  mpk__signal_wait_until (&shm->signal, slot_notified, slot, deadline, 0);

  for (guint i = 0; i < depth; i++)
    {
      if (!mpk_lock_acquire_full (cond->lock, MPK_WAIT_FOREVER, &died, NULL))
        g_warn_if_reached ();   /* cannot fail: it is not held by this thread */
      owner_died = owner_died || died;
    }
  expected = SLOT_NOTIFIED;
  notified = __atomic_compare_exchange_n (&slot->state, &expected, SLOT_FREE, FALSE,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  if (!notified)
    {
      /* Timed out; unless a notify marked it in between, which counts. */
      expected = SLOT_WAITING;
      if (!__atomic_compare_exchange_n (&slot->state, &expected, SLOT_FREE, FALSE,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        {
          __atomic_store_n (&slot->state, SLOT_FREE, __ATOMIC_RELEASE);
          notified = TRUE;
        }
    }
  if (notified && MPK__TRACING (MPK__TRACE_LOCK))
    trace_condition (cond, "condition.wait", TRUE);
  if (owner_died)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_OWNER_DIED,
                           "condition: the lock's holder died holding it; it is held again "
                           "but what it guards may be half-updated");
      return FALSE;
    }
  if (!notified)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                           "condition: not notified before the timeout");
      return FALSE;
    }
  return TRUE;
}

/**
 * mpk_condition_wait_for:
 * @cond: (transfer none): a condition whose lock this thread holds
 * @predicate: (scope call): tested with the lock held
 * @user_data: (transfer none) (nullable): given to @predicate
 * @timeout_us: microseconds to wait in all, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Waits until @predicate holds, Python's `cond.wait_for(predicate,
 * timeout)`: tests it first, then after every wake-up, within one overall
 * timeout. The lock is held on return.
 *
 * Returns: %TRUE when @predicate holds; %FALSE with %MPK_ERROR_TIMED_OUT
 *   (Python returns the predicate's last, false, value) or an error of
 *   mpk_condition_wait()
 */
gboolean
mpk_condition_wait_for (MpkCondition           *cond,
                        MpkConditionPredicate   predicate,
                        gpointer                user_data,
                        gint64                  timeout_us,
                        GError                **error)
{
  MpkDeadline deadline;

  g_return_val_if_fail (cond != NULL, FALSE);
  g_return_val_if_fail (predicate != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  deadline = mpk__deadline_from_timeout (timeout_us);
  while (!predicate (user_data))
    {
      GError *wait_error = NULL;
      gint64 left;

      if (deadline == MPK__DEADLINE_NEVER)
        left = MPK_WAIT_FOREVER;
      else
        {
          left = deadline - g_get_monotonic_time ();
          if (left <= 0)
            {
              g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                                   "condition: the predicate was still false at the timeout");
              return FALSE;
            }
        }
      if (!mpk_condition_wait (cond, left, &wait_error)
          && !g_error_matches (wait_error, MPK_ERROR, MPK_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, wait_error);
          return FALSE;
        }
      g_clear_error (&wait_error);
    }
  return TRUE;
}

/* Marks up to @n (G_MAXUINT: all) of the oldest live waiters. */
static guint
mark_waiters (ConditionShared *shm, guint n)
{
  guint marked = 0;

  while (marked < n)
    {
      WaiterSlot *oldest = NULL;
      guint64 oldest_ticket = G_MAXUINT64;
      guint32 expected = SLOT_WAITING;

      for (guint i = 0; i < MAX_WAITERS; i++)
        {
          WaiterSlot *slot = &shm->slots[i];

          if (__atomic_load_n (&slot->state, __ATOMIC_ACQUIRE) != SLOT_WAITING)
            continue;
          if (pid_dead (slot->pid))
            {
              /* A waiter killed while waiting: its slot must not take the wake-up. */
              guint32 waiting = SLOT_WAITING;

              __atomic_compare_exchange_n (&slot->state, &waiting, SLOT_FREE, FALSE,
                                           __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
              continue;
            }
          if (slot->ticket < oldest_ticket)
            {
              oldest = slot;
              oldest_ticket = slot->ticket;
            }
        }
      if (oldest == NULL)
        break;
      if (__atomic_compare_exchange_n (&oldest->state, &expected, SLOT_NOTIFIED, FALSE,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        marked++;
    }
  return marked;
}

static gboolean
notify (MpkCondition *cond, guint n, GError **error)
{
  if (!mpk_lock_is_locked (cond->lock))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "condition: notify() on an un-acquired lock");
      return FALSE;
    }
  if (n > 0 && mark_waiters (cond->shm, n) > 0)
    {
      if (MPK__TRACING (MPK__TRACE_LOCK))
        trace_condition (cond, "condition.notify", FALSE);
      mpk__signal_notify (&cond->shm->signal);
    }
  return TRUE;
}

/**
 * mpk_condition_notify:
 * @cond: (transfer none): a condition whose lock this thread holds
 * @n: how many waiters to wake at most (Python's default is 1)
 * @error: return location for a #GError, or %NULL
 *
 * Wakes the @n longest-waiting processes, Python's `cond.notify(n)`.
 * Waiters that died while waiting are skipped (and forgotten). The lock is
 * checked to be held by somebody, not necessarily this thread.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when the lock is not held
 *   (Python: RuntimeError)
 */
gboolean
mpk_condition_notify (MpkCondition  *cond,
                      guint          n,
                      GError       **error)
{
  g_return_val_if_fail (cond != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return notify (cond, n, error);
}

/**
 * mpk_condition_notify_all:
 * @cond: (transfer none): a condition whose lock this thread holds
 * @error: return location for a #GError, or %NULL
 *
 * Wakes every waiting process, Python's `cond.notify_all()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when the lock is not held
 */
gboolean
mpk_condition_notify_all (MpkCondition  *cond,
                          GError       **error)
{
  g_return_val_if_fail (cond != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return notify (cond, G_MAXUINT, error);
}
