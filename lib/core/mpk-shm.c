/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-shm.c: the shared-memory core under Lock, Queue and friends: mappings
 * inherited across fork, robust process-shared mutexes, futex wake-up words,
 * and the crash points the robustness tests use. (Python builds its locks on
 * POSIX semaphores, which have no owner, so a dead holder blocks forever.) */
#include "mpk-core-private.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int   mpk__crash_countdown = 0;
char *mpk__crash_note = NULL;

void
mpk__crash_now (const char *where)
{
  if (mpk__crash_note != NULL)
    {
      strncpy (mpk__crash_note, where, MPK__CRASH_NOTE_SIZE - 1);
      mpk__crash_note[MPK__CRASH_NOTE_SIZE - 1] = '\0';
    }
  for (;;)
    kill (getpid (), SIGKILL);
}

static gsize
page_round (gsize size)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);

  return (size + page - 1) / page * page;
}

gpointer
mpk__shm_alloc (gsize size, GError **error)
{
  void *mem = mmap (NULL, page_round (size), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  if (mem == MAP_FAILED)
    {
      mpk__set_error_from_errno (error, errno, "mmap of shared memory");
      return NULL;
    }
  return mem;
}

gpointer
mpk__shm_reserve (gsize size, GError **error)
{
  /* MAP_NORESERVE: a shared anonymous mapping is otherwise charged in full
   * against the commit limit when it is made. */
  void *mem = mmap (NULL, page_round (size), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

  if (mem == MAP_FAILED)
    {
      mpk__set_error_from_errno (error, errno, "mmap of shared memory");
      return NULL;
    }
  return mem;
}

void
mpk__shm_release (gpointer mem, gsize size)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  guintptr start = ((guintptr) mem + page - 1) / page * page;
  guintptr end = ((guintptr) mem + size) / page * page;

  /* MADV_REMOVE frees the shared pages themselves (MADV_DONTNEED would
   * only unmap them from this process). A failure costs memory, not data. */
  if (end > start)
    madvise ((void *) start, end - start, MADV_REMOVE);
}

void
mpk__shm_populate (gpointer mem, gsize size, gboolean write)
{
#if defined (MADV_POPULATE_READ) && defined (MADV_POPULATE_WRITE)
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  guintptr start = (guintptr) mem / page * page;

  /* Linux 5.14 and later; elsewhere the pages fault in one by one. */
  madvise ((void *) start, (guintptr) mem + size - start,
           write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#endif
}

void
mpk__shm_free (gpointer mem, gsize size)
{
  if (mem != NULL)
    munmap (mem, page_round (size));
}

gboolean
mpk__mutex_init (pthread_mutex_t *mutex,
                 int              type,
                 GError         **error)
{
  pthread_mutexattr_t attr;
  int err;

  pthread_mutexattr_init (&attr);
  err = pthread_mutexattr_settype (&attr, type);
  if (err == 0)
    err = pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  if (err == 0)
    err = pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  if (err == 0)
    err = pthread_mutex_init (mutex, &attr);
  pthread_mutexattr_destroy (&attr);
  if (err != 0)
    return mpk__set_error_from_errno (error, err, "robust process-shared mutex");
  return TRUE;
}

static struct timespec
deadline_to_timespec (MpkDeadline deadline)
{
  struct timespec ts;

  ts.tv_sec = deadline / G_USEC_PER_SEC;
  ts.tv_nsec = (deadline % G_USEC_PER_SEC) * 1000;
  return ts;
}

int
mpk__mutex_lock (pthread_mutex_t *mutex,
                 MpkDeadline      deadline)
{
  struct timespec ts;
  int err;

  /* Uncontended is the common case: no clock read at all. */
  err = pthread_mutex_trylock (mutex);
  if (err != EBUSY)
    return err;
  if (MPK__TRACING (~0u) && deadline > g_get_monotonic_time ())
    mpk__trace_sleeping ();   /* a traced call that waits says so (who is stuck) */
  /* Then in slices, even to wait forever: a waiter the unlock woke that
   * dies before taking the lock takes the wake-up with it, and the other
   * waiters would sleep on although the lock is free (the kernel's robust
   * futex handling covers dead holders, not dead wakees). */
  for (;;)
    {
      gint64 now = g_get_monotonic_time ();

      if (deadline <= now)
        return ETIMEDOUT;
      ts = deadline_to_timespec (MIN (deadline, now + MPK__RECHECK_US));
      err = pthread_mutex_clocklock (mutex, CLOCK_MONOTONIC, &ts);
      if (err != ETIMEDOUT)
        return err;
    }
}

/* The wake-up handshake needs a full barrier between a notifier's change
 * and its look at the sleepers flag, and between a waiter's raising of the
 * flag and its look at the state. A fence on every notify stalls the
 * producer until its stores have reached the consumer (most of a put's
 * time). Linux can move that cost to the rare side: a waiter about to sleep
 * asks membarrier(2) to run a barrier on every CPU that runs a registered
 * process, so registered notifiers need only keep the compiler in order.
 * A process where membarrier is missing (old kernel, valgrind) keeps the
 * fence; a mix can at worst cost one 20 ms re-check, never a hang. */
static int asym_state;      /* 0 unknown, 1 registered, -1 unavailable */
static pid_t asym_pid;      /* the process asym_state is about (fork resets it) */

static gboolean
asym_registered (void)
{
  if (G_UNLIKELY (asym_pid != (pid_t) mpk__wire_pid ()))
    {
      long cmds = syscall (SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

      asym_state = -1;
      if (cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED)
          && syscall (SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0)
        asym_state = 1;
      asym_pid = mpk__wire_pid ();
      return FALSE;   /* this first time, fence anyway: barriers sent before
                       * the registration did not reach this process */
    }
  return asym_state > 0;
}

void
mpk__signal_notify (MpkShmSignal *signal)
{
  /* Orders the caller's change before the flag check (see above). Nobody
   * asleep (the common case) costs no write to the shared line at all. */
  if (asym_registered ())
    __atomic_signal_fence (__ATOMIC_SEQ_CST);
  else
    __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (__atomic_load_n (&signal->sleepers, __ATOMIC_SEQ_CST) != 0
      && __atomic_exchange_n (&signal->sleepers, 0, __ATOMIC_SEQ_CST) != 0)
    {
      __atomic_add_fetch (&signal->seq, 1, __ATOMIC_SEQ_CST);
      syscall (SYS_futex, &signal->seq, FUTEX_WAKE, G_MAXINT, NULL, NULL, 0);
    }
}

/* The waiter's half: after raising the flag, a barrier on every CPU that
 * runs a registered notifier. */
static void
barrier_everywhere (void)
{
  if (!asym_registered ()
      || syscall (SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0)
    __atomic_thread_fence (__ATOMIC_SEQ_CST);
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __asm__ __volatile__ ("pause");
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* Before sleeping, look again a few times with growing pauses (about 10 µs
 * in all here). A peer that is only a moment behind is caught without the
 * sleep/wake pair (~10 µs each on a VM), and the growing gaps let a producer
 * commit several items between two looks, instead of fighting the looker
 * for the cache line on every item. */
#ifndef SPIN_LOOKS
#define SPIN_LOOKS 12
#endif
#ifndef SPIN_PAUSE
#define SPIN_PAUSE(look) (1 << MIN (look, 8))
#endif

/* Spinning only helps when the peer can run at the same time: a process
 * allowed on one CPU (taskset, a 1-CPU machine) would only burn the time
 * slice its peer needs. Asked once per process. */
static int
spin_looks (void)
{
  static int looks = -1;
  static pid_t looks_pid;

  if (G_UNLIKELY (looks < 0 || looks_pid != (pid_t) mpk__wire_pid ()))
    {
      cpu_set_t set;

      looks = SPIN_LOOKS;
      if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) <= 1)
        looks = 0;
      looks_pid = mpk__wire_pid ();
    }
  return looks;
}

int
mpk__signal_wait_until (MpkShmSignal    *signal,
                        MpkShmPredicate  pred,
                        gpointer         data,
                        MpkDeadline      deadline,
                        gint64           slice_us)
{
  int result, looks = spin_looks ();

  for (int look = 0; look < looks; look++)
    {
      if ((result = pred (data)) != 0)
        return result;
      for (int i = 0; i < SPIN_PAUSE (look); i++)
        cpu_relax ();
    }
  for (;;)
    {
      MpkDeadline wake_at = deadline;
      struct timespec ts;
      guint32 seen;
      long rc;

      /* The flag before seq, seq before the check: a notifier that the
       * check misses finds the flag up and changes seq, so the futex call
       * below returns at once or is woken. */
      __atomic_store_n (&signal->sleepers, 1, __ATOMIC_SEQ_CST);
      barrier_everywhere ();
      seen = __atomic_load_n (&signal->seq, __ATOMIC_SEQ_CST);
      if ((result = pred (data)) != 0)
        return result;
      if (MPK__TRACING (~0u) && deadline > g_get_monotonic_time ())
        mpk__trace_sleeping ();   /* once per traced call that waits (who is stuck) */
      /* Never one long sleep: a notifier killed between its change and its
       * notify leaves no wake-up behind, only the change to find. */
      wake_at = MIN (deadline, g_get_monotonic_time ()
                               + (slice_us > 0 ? MIN (slice_us, MPK__RECHECK_US) : MPK__RECHECK_US));
      if (wake_at != MPK__DEADLINE_NEVER)
        ts = deadline_to_timespec (wake_at);
      /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so an
       * EINTR retry never stretches the wait. */
      rc = syscall (SYS_futex, &signal->seq, FUTEX_WAIT_BITSET, seen,
                    wake_at == MPK__DEADLINE_NEVER ? NULL : &ts, NULL,
                    FUTEX_BITSET_MATCH_ANY);
      if ((result = pred (data)) != 0)
        return result;
      if (rc < 0 && errno == ETIMEDOUT && wake_at == deadline)
        return 0;
      if (deadline != MPK__DEADLINE_NEVER && g_get_monotonic_time () >= deadline)
        return 0;
    }
}

void
mpk__sleep_until (MpkDeadline deadline)
{
  struct timespec ts = deadline_to_timespec (deadline);

  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

guint32
mpk__thread_id (void)
{
  static __thread guint32 tid, tid_pid;

  /* A forked child's only thread has a new id: the pid tells. */
  if (G_UNLIKELY (tid_pid != mpk__wire_pid ()))
    {
      tid = (guint32) syscall (SYS_gettid);
      tid_pid = mpk__wire_pid ();
    }
  return tid;
}
