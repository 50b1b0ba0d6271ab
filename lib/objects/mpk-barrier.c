/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-barrier.c: multiprocessing.Barrier in shared memory.
 *
 * Python's Barrier is a Condition with a draining phase: the parties that
 * were let go count themselves out before the next round may begin, so a
 * party killed between its wake-up and its count-out stalls the barrier
 * for good. Here a round is a generation number: the last to arrive bumps
 * it and every waiter of the old one sees that it passed, whenever it
 * runs again; nobody has to count out. A bit per generation (of the last
 * 64) says whether the round ended by reset() instead.
 *
 * The state sits under a robust mutex: a party killed holding it hands the
 * next locker EOWNERDEAD, and the barrier breaks (the round may be half
 * counted). Waiting is on a futex word, never under the mutex. The
 * arrivals of this round and the parties of the last one are listed by
 * pid, so a waiter can see that a party of the last round died before it
 * came to this one: that round can never fill, so the barrier breaks. A
 * party that arrived and died since still counts for its round, which
 * keeps the outcome independent of when the death is noticed. */
#include "mpk-objects-private.h"
#include "mpk-barrier.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How often a waiter looks for dead parties. */
#define DEATH_CHECK_US (50 * 1000)

typedef enum
{
  WHY_NONE,
  WHY_ABORT,
  WHY_TIMEOUT,
  WHY_ACTION,
  WHY_DIED,
  WHY_OWNER_DIED,
} BrokenWhy;

typedef struct
{
  pthread_mutex_t mutex;
  MpkShmSignal    signal;     /* notified when a round ends or the barrier breaks */
  guint32         parties;
  guint32         count;      /* arrivals in this round */
  guint32         gen;        /* the round */
  guint32         broken;
  guint32         why;        /* BrokenWhy */
  guint32         dead_pid;   /* WHY_DIED, WHY_OWNER_DIED: who */
  guint64         reset_bits; /* bit gen % 64: round gen ended by reset() */
  guint64         release_clock;  /* for the tracer: the last round's end ... */
  guint64         release_event;  /* ... and its event id */
  guint32         n_prev;     /* parties of the last round that passed */
  guint32         pids[];     /* [0, parties): this round; [parties, 2 parties): last round */
} BarrierShared;

struct _MpkBarrier
{
  MpkObjectHeader   object;
  BarrierShared    *shm;
  gsize             size;
  guint32           parties;  /* this process's copy: never trust shared memory for it */
  MpkBarrierAction  action;
  gpointer          user_data;
  gint64            timeout_us;
};

/**
 * mpk_barrier_new:
 * @parties: how many processes must meet, at least 1
 * @action: (nullable): run by the last to arrive in each
 *   round, Python's `action`
 * @user_data: (transfer none) (nullable): given to @action
 * @timeout_us: the default timeout of mpk_barrier_wait_default(), or
 *   %MPK_WAIT_FOREVER (Python's `timeout=None`)
 * @error: return location for a #GError, or %NULL
 *
 * Creates a barrier shared by this process and every process started
 * after it, Python's `multiprocessing.Barrier(parties, action, timeout)`.
 *
 * Returns: (transfer full): the barrier; %NULL with %MPK_ERROR_INVALID for
 *   0 parties, or %MPK_ERROR_FAILED when shared memory cannot be had
 */
MpkBarrier *
mpk_barrier_new (guint              parties,
                 MpkBarrierAction   action,
                 gpointer           user_data,
                 gint64             timeout_us,
                 GError           **error)
{
  MpkBarrier *barrier;
  BarrierShared *shm;
  gsize size;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (parties == 0 || parties > 65536)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "barrier: %u parties (1 to 65536)", parties);
      return NULL;
    }
  size = sizeof (BarrierShared) + 2 * parties * sizeof (guint32);
  shm = mpk__shm_alloc (size, error);
  if (shm == NULL)
    return NULL;
  if (!mpk__mutex_init (&shm->mutex, PTHREAD_MUTEX_ERRORCHECK, error))
    {
      mpk__shm_free (shm, size);
      return NULL;
    }
  shm->parties = parties;
  barrier = g_new0 (MpkBarrier, 1);
  /* The tracer has no barrier kind yet: it is drawn as an event. */
  mpk__trace_object_init (&barrier->object, MPK__OBJECT_EVENT);
  barrier->shm = shm;
  barrier->size = size;
  barrier->parties = parties;
  barrier->action = action;
  barrier->user_data = user_data;
  barrier->timeout_us = timeout_us;
  return barrier;
}

/**
 * mpk_barrier_free:
 * @barrier: (transfer full) (nullable): a barrier
 *
 * Releases this process's handle; the barrier lives on in the others.
 */
void
mpk_barrier_free (MpkBarrier *barrier)
{
  if (barrier == NULL)
    return;
  mpk__shm_free (barrier->shm, barrier->size);
  g_free (barrier);
}

/* Gone for good: no such process, or a zombie nobody reaped yet (its
 * parent may be a party blocked at this very barrier). */
static gboolean
pid_gone (guint32 pid)
{
  char path[64], buf[512];
  FILE *f;
  gsize n;
  char *paren;

  if (pid == 0)
    return FALSE;
  if (kill ((pid_t) pid, 0) < 0 && errno == ESRCH)
    return TRUE;
  g_snprintf (path, sizeof path, "/proc/%u/stat", pid);
  f = fopen (path, "re");
  if (f == NULL)
    return errno == ENOENT;
  n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  paren = strrchr (buf, ')');
  return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* With the mutex held. */
static void
barrier_break (BarrierShared *shm, BrokenWhy why, guint32 pid)
{
  if (!shm->broken)
    {
      shm->broken = 1;
      shm->why = why;
      shm->dead_pid = pid;
    }
  mpk__signal_notify (&shm->signal);
}

/* Locks the mutex; a holder's death breaks the barrier (the round may be
 * half counted). FALSE only when @deadline passed. */
static gboolean
barrier_lock (BarrierShared *shm, MpkDeadline deadline)
{
  int err = mpk__mutex_lock (&shm->mutex, deadline);

  if (err == EOWNERDEAD)
    {
      pthread_mutex_consistent (&shm->mutex);
      barrier_break (shm, WHY_OWNER_DIED, 0);
      return TRUE;
    }
  return err == 0;
}

static void
barrier_unlock (BarrierShared *shm)
{
  pthread_mutex_unlock (&shm->mutex);
}

static void
set_broken_error (BarrierShared *shm, GError **error)
{
  switch (shm->why)
    {
    case WHY_ABORT:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN, "barrier: broken by abort()");
      break;
    case WHY_TIMEOUT:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN,
                           "barrier: broken: a wait timed out");
      break;
    case WHY_ACTION:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN,
                           "barrier: broken: the action failed");
      break;
    case WHY_DIED:
      g_set_error (error, MPK_ERROR, MPK_ERROR_BROKEN,
                   "barrier: broken: party %u died and can never arrive", shm->dead_pid);
      break;
    case WHY_OWNER_DIED:
    default:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN,
                           "barrier: broken: a party died inside the barrier's lock");
      break;
    }
}

typedef struct
{
  MpkBarrier *barrier;
  guint32     gen;
  gint64      last_check;
} WaitData;

/* A party of the last round that is not here yet is gone: returns its
 * pid. (One that arrived in this round and died since still counts: it
 * did arrive, and the round may fill; the next round will miss it.) Reads without the lock: a pid found dead is checked
 * again under it. */
static guint32
find_dead_party (BarrierShared *shm, guint32 parties)
{
  guint32 me = mpk__wire_pid ();
  guint32 count = MIN (__atomic_load_n (&shm->count, __ATOMIC_ACQUIRE), parties);
  guint32 n_prev = MIN (__atomic_load_n (&shm->n_prev, __ATOMIC_ACQUIRE), parties);

  for (guint32 i = 0; i < n_prev; i++)
    {
      guint32 pid = shm->pids[parties + i];
      gboolean here = pid == me;

      for (guint32 j = 0; j < count && !here; j++)
        here = shm->pids[j] == pid;
      if (!here && pid_gone (pid))
        return pid;
    }
  return 0;
}

static int
round_over (gpointer data)
{
  WaitData *wait = data;
  BarrierShared *shm = wait->barrier->shm;
  gint64 now;
  guint32 dead;

  if (__atomic_load_n (&shm->gen, __ATOMIC_ACQUIRE) != wait->gen
      || __atomic_load_n (&shm->broken, __ATOMIC_ACQUIRE))
    return 1;
  now = g_get_monotonic_time ();
  if (now - wait->last_check < DEATH_CHECK_US)
    return 0;
  wait->last_check = now;
  dead = find_dead_party (shm, wait->barrier->parties);
  if (dead != 0 && barrier_lock (shm, MPK__DEADLINE_NEVER))
    {
      if (shm->gen == wait->gen && !shm->broken)
        barrier_break (shm, WHY_DIED, dead);
      barrier_unlock (shm);
      return 1;
    }
  return 0;
}

static void
trace_barrier (MpkBarrier *barrier, const char *ev, gboolean released, gint index)
{
  BarrierShared *shm = barrier->shm;
  MpkTraceLine line;
  guint64 lc;

  lc = released ? mpk__wire_clock_tick ()
                : mpk__wire_clock_receive (__atomic_load_n (&shm->release_clock, __ATOMIC_SEQ_CST));
  mpk__trace_begin (&line, ev, 0, lc);
  mpk__trace_add_object (&line, &barrier->object);
  mpk__trace_add_int (&line, "index", index);
  if (!released)
    {
      mpk__trace_add_after (&line, __atomic_load_n (&shm->release_event, __ATOMIC_SEQ_CST));
      mpk__trace_end (&line);
      return;
    }
  __atomic_store_n (&shm->release_clock, lc, __ATOMIC_SEQ_CST);
  __atomic_store_n (&shm->release_event, mpk__trace_event_id (mpk__trace_end (&line)),
                    __ATOMIC_SEQ_CST);
}

/**
 * mpk_barrier_wait:
 * @barrier: (transfer none): a barrier
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Waits until all parties have called it, Python's `barrier.wait(timeout)`.
 * The last to arrive runs the action first. As in Python, a timeout
 * breaks the barrier for everybody.
 *
 * Returns: this party's index in the round, 0 to parties - 1 (0 arrived
 *   first); -1 with %MPK_ERROR_BROKEN when the barrier is or becomes
 *   broken (the message says why: abort, a timeout, a party that died), or
 *   with the action's own error in the process whose action failed
 */
gint
mpk_barrier_wait (MpkBarrier  *barrier,
                  gint64       timeout_us,
                  GError     **error)
{
  BarrierShared *shm;
  MpkDeadline deadline;
  WaitData wait;
  gint index;

  g_return_val_if_fail (barrier != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  shm = barrier->shm;
  deadline = mpk__deadline_from_timeout (timeout_us);
  if (!barrier_lock (shm, deadline))
    {
      /* Could not even count in: a timeout, which breaks it (Python). */
      if (barrier_lock (shm, MPK__DEADLINE_NEVER))
        {
          barrier_break (shm, WHY_TIMEOUT, 0);
          barrier_unlock (shm);
        }
      set_broken_error (shm, error);
      return -1;
    }
  if (shm->broken)
    {
      set_broken_error (shm, error);
      barrier_unlock (shm);
      return -1;
    }
  index = shm->count++;
  shm->pids[index] = mpk__wire_pid ();
  if (shm->count == barrier->parties)
    {
      if (barrier->action != NULL)
        {
          GError *action_error = NULL;

          if (!barrier->action (barrier->user_data, &action_error))
            {
              barrier_break (shm, WHY_ACTION, 0);
              barrier_unlock (shm);
              if (action_error == NULL)
                g_set_error_literal (&action_error, MPK_ERROR, MPK_ERROR_BROKEN,
                                     "barrier: the action failed without saying why");
              g_propagate_error (error, action_error);
              return -1;
            }
        }
      memcpy (&shm->pids[barrier->parties], shm->pids, barrier->parties * sizeof (guint32));
      shm->n_prev = barrier->parties;
      shm->reset_bits &= ~(G_GUINT64_CONSTANT (1) << (shm->gen % 64));
      shm->count = 0;
      if (MPK__TRACING (MPK__TRACE_LOCK))
        trace_barrier (barrier, "barrier.release", TRUE, index);
      __atomic_store_n (&shm->gen, shm->gen + 1, __ATOMIC_RELEASE);
      mpk__signal_notify (&shm->signal);
      barrier_unlock (shm);
      return index;
    }
  wait.barrier = barrier;
  wait.gen = shm->gen;
  wait.last_check = g_get_monotonic_time ();
  barrier_unlock (shm);

  if (!mpk__signal_wait_until (&shm->signal, round_over, &wait, deadline, DEATH_CHECK_US))
    {
      if (barrier_lock (shm, MPK__DEADLINE_NEVER))
        {
          if (shm->gen == wait.gen && !shm->broken)
            barrier_break (shm, WHY_TIMEOUT, 0);
          barrier_unlock (shm);
        }
    }
  if (__atomic_load_n (&shm->gen, __ATOMIC_ACQUIRE) != wait.gen)
    {
      guint64 bits = __atomic_load_n (&shm->reset_bits, __ATOMIC_ACQUIRE);

      if ((bits & (G_GUINT64_CONSTANT (1) << (wait.gen % 64))) == 0)
        {
          if (MPK__TRACING (MPK__TRACE_LOCK))
            trace_barrier (barrier, "barrier.pass", FALSE, index);
          return index;
        }
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN,
                           "barrier: broken: reset() while this party waited");
      return -1;
    }
  set_broken_error (shm, error);
  return -1;
}

/**
 * mpk_barrier_wait_default:
 * @barrier: (transfer none): a barrier
 * @error: return location for a #GError, or %NULL
 *
 * mpk_barrier_wait() with the timeout given to mpk_barrier_new(), Python's
 * `barrier.wait()` without a timeout.
 *
 * Returns: as mpk_barrier_wait()
 */
gint
mpk_barrier_wait_default (MpkBarrier  *barrier,
                          GError     **error)
{
  g_return_val_if_fail (barrier != NULL, -1);
  return mpk_barrier_wait (barrier, barrier->timeout_us, error);
}

/**
 * mpk_barrier_abort:
 * @barrier: (transfer none): a barrier
 *
 * Breaks the barrier, Python's `barrier.abort()`: every party waiting now
 * or later gets %MPK_ERROR_BROKEN until mpk_barrier_reset().
 */
void
mpk_barrier_abort (MpkBarrier *barrier)
{
  g_return_if_fail (barrier != NULL);
  if (barrier_lock (barrier->shm, MPK__DEADLINE_NEVER))
    {
      barrier_break (barrier->shm, WHY_ABORT, 0);
      barrier_unlock (barrier->shm);
    }
}

/**
 * mpk_barrier_reset:
 * @barrier: (transfer none): a barrier
 *
 * Makes the barrier whole and empty again, Python's `barrier.reset()`:
 * parties waiting in the round it cuts short get %MPK_ERROR_BROKEN. The
 * parties of the last round are forgotten, so a party that died before
 * the reset does not break the barrier again.
 */
void
mpk_barrier_reset (MpkBarrier *barrier)
{
  BarrierShared *shm;

  g_return_if_fail (barrier != NULL);
  shm = barrier->shm;
  if (!barrier_lock (shm, MPK__DEADLINE_NEVER))
    return;
  shm->reset_bits |= G_GUINT64_CONSTANT (1) << (shm->gen % 64);
  shm->count = 0;
  shm->n_prev = 0;
  shm->broken = 0;
  shm->why = WHY_NONE;
  shm->dead_pid = 0;
  __atomic_store_n (&shm->gen, shm->gen + 1, __ATOMIC_RELEASE);
  mpk__signal_notify (&shm->signal);
  barrier_unlock (shm);
}

/**
 * mpk_barrier_get_parties:
 * @barrier: (transfer none): a barrier
 *
 * Python's `barrier.parties`.
 *
 * Returns: how many parties must meet
 */
guint
mpk_barrier_get_parties (MpkBarrier *barrier)
{
  g_return_val_if_fail (barrier != NULL, 0);
  return barrier->parties;
}

/**
 * mpk_barrier_get_n_waiting:
 * @barrier: (transfer none): a barrier
 *
 * Python's `barrier.n_waiting`; other processes may change it at once.
 *
 * Returns: how many parties wait in this round (0 when broken)
 */
guint
mpk_barrier_get_n_waiting (MpkBarrier *barrier)
{
  g_return_val_if_fail (barrier != NULL, 0);
  if (__atomic_load_n (&barrier->shm->broken, __ATOMIC_ACQUIRE))
    return 0;
  return MIN (__atomic_load_n (&barrier->shm->count, __ATOMIC_ACQUIRE), barrier->parties);
}

/**
 * mpk_barrier_is_broken:
 * @barrier: (transfer none): a barrier
 *
 * Python's `barrier.broken`: whether waits fail at once.
 *
 * Returns: %TRUE when the barrier is broken
 */
gboolean
mpk_barrier_is_broken (MpkBarrier *barrier)
{
  g_return_val_if_fail (barrier != NULL, FALSE);
  return __atomic_load_n (&barrier->shm->broken, __ATOMIC_ACQUIRE) != 0;
}
