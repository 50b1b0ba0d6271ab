/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-ring.c: the shared-memory byte ring under MpkQueue (see mpk-ring.h for
 * the shape). The rules that make it survive a SIGKILL anywhere:
 *  - tail is written only by the wlock holder, head only by the rlock
 *    holder, each with one 64-bit store that commits bytes and count;
 *  - whatever a holder does before that store is invisible (bytes past tail,
 *    a journal entry), and its lock's EOWNERDEAD tells the next holder to
 *    undo or finish it;
 *  - an item cut short is never delivered: its id goes in `abandoned`, and
 *    readers drop chunks that do not start an item they are reading.
 * Everything read from shared memory is checked before use: another
 * process (or a stray pointer in one) may have written anything there. */
#include "mpk-ring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* 36 bits of position (64 GiB, past twice MPK__RING_RESERVE) leave 28 of
 * count: a ring of up to 4 GiB holds at most 2^26 records of 64 bytes, and the
 * count's difference must stay under half its range. */
#define POS_BITS   36
#define POS_MASK   ((G_GUINT64_CONSTANT (1) << POS_BITS) - 1)
#define COUNT_MASK ((G_GUINT64_CONSTANT (1) << (64 - POS_BITS)) - 1)

/* A crash point outside the countdown that tests/test-robust.c walks:
 * set in a test's child, the next get dies between crediting itself the
 * task and removing the item (tests/test-queue.c). */
int mpk__ring_crash_after_credit = 0;

/* JoinableQueue: processes whose taken tasks are tracked, at once (a slot
 * is reused once its process holds no task). 65536 consumers holding tasks
 * at the same moment is far past what a machine runs usefully, and the
 * table is 4 MiB of address space, of which only the lines of slots ever
 * claimed are touched (the mapping is committed page by page). Slots for
 * every possible pid (2^22) cost 256 MiB of address space per queue, which
 * a limit on address space (RLIMIT_AS) counts in full. A consumer past the
 * table's end still takes items; its tasks are counted but not credited to
 * it (mpk_queue_get_unfinished_for() and abandon_tasks() cannot find them). */
#define N_HOLDERS  (1u << 16)

/* Growing ring: the reserve is mapped ahead of the producers and given back
 * behind the consumers by blocks; its first RESERVE_KEEP bytes stay. */
#define RESERVE_BLOCK ((gsize) 2 << 20)
#define RESERVE_KEEP  ((gsize) 2 << 20)

/* Under valgrind, memcheck's leak check reads every page of every mapping
 * at each process's exit, which would commit the whole reservation and the
 * whole holder table (seconds per exiting child). So there the reserve is
 * marked unaddressable until this process reads or writes it, and the
 * holder table is smaller (N_HOLDERS_VALGRIND consumers holding tasks at
 * once). Without memcheck.h, both stay as they are: correct, only slow
 * under valgrind. */
#define N_HOLDERS_VALGRIND (1u << 12)
#if defined (__has_include)
#if __has_include (<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MPK_HAVE_MEMCHECK 1
#endif
#endif
#ifndef MPK_HAVE_MEMCHECK
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MAKE_MEM_NOACCESS(addr, len) ((void) (addr), (void) (len))
#define VALGRIND_MAKE_MEM_DEFINED(addr, len)  ((void) (addr), (void) (len))
#endif
#define NO_SLOT    G_MAXUINT32

struct _MpkRingShared
{
  guint64 capacity;                  /* set at creation; informative only */

  /* The producers' side: written only by the holder of wlock. tail, which
   * consumers read all the time, has a line of its own, so that taking
   * wlock (a write to its line) does not pull it away from them. */
  guint64 tail __attribute__ ((aligned (64)));   /* committed end: position | items put << 40 */
  guint64 put_tasks;     /* JoinableQueue: one per put (journalled by task_journal); beside
                          * tail because whoever reads one soon reads the other */
  pthread_mutex_t wlock __attribute__ ((aligned (64)));
  guint64 next_item;     /* the last item id handed out (ids start at 1) */
  guint64 writing_item;  /* the item being written, 0 between items */
  guint64 item_end;      /* the tail whose store commits writing_item whole, once known */
  guint64 abandoned;     /* the newest item id cut short: never delivered */
  guint64 task_journal;  /* JoinableQueue: the tail whose store completes a counted put ... */
  guint64 task_journal_count; /* ... and put_tasks before it was counted */
  guint32 writer_pid;

  /* The consumers' side: written only by the holder of rlock; head alone
   * on its line, as tail. */
  guint64 head __attribute__ ((aligned (64)));   /* consumed end: position | items taken << 40 */
  pthread_mutex_t rlock __attribute__ ((aligned (64)));
  guint64 take_journal;  /* JoinableQueue: the head whose store completes a credited get ... */
  guint64 take_journal_count; /* ... and the slot's taken before the credit */
  guint32 take_slot;     /* ... and the holder slot credited */
  guint32 reader_pid;

  /* Wake-ups, each on its own line so that waiting does not slow the other side. */
  MpkShmSignal data  __attribute__ ((aligned (64)));   /* tail moved, or an item was abandoned */
  MpkShmSignal space __attribute__ ((aligned (64)));   /* head moved */
  MpkShmSignal done  __attribute__ ((aligned (64)));   /* JoinableQueue: no task left */

  /* Any process, with atomic operations; read by every call, rarely written. */
  guint32 broken __attribute__ ((aligned (64)));  /* corrupt data was found: every call fails */
  guint32 recoveries;

  /* JoinableQueue. Unfinished = put_tasks (beside tail) - (dropped + loose_done + the
   * holders' done): every change is one add to one word, so a death between
   * two steps cannot leave the sum wrong. Read the subtracted words first:
   * a sum read while others move is then too high (join waits a moment
   * longer), never too low (join would return early). */
  pthread_mutex_t tlock __attribute__ ((aligned (64))); /* task_done() and
                                                         * abandon_tasks() one at a time */
  guint64 dropped_tasks; /* items dropped undelivered (any process) */
  guint64 loose_done;    /* task_done()s that no holder slot could take (tlock) */
  guint64 last_task_event; /* trace id of the latest task_done (tlock) */
  guint64 done_clock;    /* Lamport clock of the task_done that emptied the count */
  guint64 done_event;    /* ... and its trace event id (mpk__trace_event_id) */
  guint32 n_slots;       /* holders used so far: the sums stop there (rlock) */
};

/* The JoinableQueue's holder table (n_holders of these) follows the ring's
 * bytes in the same mapping. */
struct __attribute__ ((aligned (64))) _MpkRingHolder  /* a line each: consumers write their own */
{
  guint32 pid;         /* claimed by a consumer, under rlock */
  guint32 unused;
  guint64 taken;       /* items it took (rlock holder, journalled by take_journal) */
  guint64 done;        /* task_done()s credited to it (compare-and-swap: its own
                        * process may add without tlock) */
};

/* Each chunk in the ring starts with this; a record is padded to RECORD_ALIGN. */
typedef struct
{
  guint16 magic;
  guint16 flags;
  guint32 len;           /* payload bytes after this header */
  guint64 item;          /* the item's id */
} ChunkHeader;

#define CHUNK_MAGIC 0x5143   /* "CQ" */
#define CHUNK_FIRST 0x1
#define CHUNK_LAST  0x2
#define CHUNK_PAD   0x4   /* growing ring: skip to the end of the lap (no item) */

G_STATIC_ASSERT (sizeof (ChunkHeader) == 16);

/* Adds to a word only one lock's holder changes: a load and a store, no
 * locked instruction (which would stall until every earlier store, a
 * whole item's worth, had reached the other CPU). Stores by one process
 * become visible in order, so a journal written just before still
 * describes it if the writer dies in between. */
static inline void
owned_add (guint64 *word, guint64 delta)
{
  __atomic_store_n (word, __atomic_load_n (word, __ATOMIC_RELAXED) + delta, __ATOMIC_RELEASE);
}

static inline guint64 word_pos   (guint64 w) { return w & POS_MASK; }
static inline guint64 word_count (guint64 w) { return w >> POS_BITS; }
static inline guint64
word_make (guint64 pos, guint64 count)
{
  return (pos & POS_MASK) | ((count & COUNT_MASK) << POS_BITS);
}

/* Records start on cache lines, so a producer writing one record never
 * touches the line a consumer is reading the previous one from. */
#define RECORD_ALIGN 64

static inline guint64
record_size (guint64 len)
{
  return (sizeof (ChunkHeader) + len + RECORD_ALIGN - 1) & ~G_GUINT64_CONSTANT (RECORD_ALIGN - 1);
}

static gsize
data_offset (void)
{
  return (sizeof (MpkRingShared) + 4095) & ~(gsize) 4095;
}

/* This process's address space in use (VmSize), or 0 if unknown. */
static gsize
address_space_used (void)
{
  unsigned long pages = 0;
  FILE *f = fopen ("/proc/self/statm", "re");

  if (f == NULL)
    return 0;
  if (fscanf (f, "%lu", &pages) != 1)
    pages = 0;
  fclose (f);
  return (gsize) pages * (gsize) sysconf (_SC_PAGESIZE);
}

/* The most address space a growing ring's bytes may take: MPK__RING_RESERVE,
 * and under a limit on address space (RLIMIT_AS, ulimit -v) an eighth of
 * what the limit leaves, so that a few queues leave the program most of it
 * (a reservation counts in full against that limit, committed or not). */
static gsize
reserve_limit (void)
{
  struct rlimit lim;
  gsize limit = MPK__RING_RESERVE;

  if (getrlimit (RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    {
      gsize used = address_space_used ();

      limit = MIN (limit, lim.rlim_cur > used ? (gsize) (lim.rlim_cur - used) / 8 : 0);
    }
  return limit;
}

/* The smallest growing ring worth having: the producers stay `margin` (two
 * blocks) short of a lap, the home bytes and the reserve's first
 * RESERVE_KEEP are never given back, and past those there must be at least
 * a block to grow into. A smaller ring would be full before it was used
 * (16 MiB for the default home of 1 MiB). */
static gsize
min_growing_capacity (gsize home)
{
  gsize need = home + RESERVE_KEEP + 3 * RESERVE_BLOCK, capacity = home;

  while (capacity < need)
    capacity *= 2;
  return capacity;
}

gboolean
mpk__ring_init (MpkRing                *ring,
                gsize                   capacity,
                gboolean                grows,
                gboolean                joinable,
                const MpkObjectHeader  *object,
                GError                **error)
{
  guint n_holders = RUNNING_ON_VALGRIND ? N_HOLDERS_VALGRIND : N_HOLDERS;
  gsize home = capacity, holders = joinable ? (gsize) n_holders * sizeof (MpkRingHolder) : 0;
  MpkRingShared *shm = NULL;

  g_assert (capacity >= 4096 && (capacity & (capacity - 1)) == 0);
  /* A growing ring: as much address space as the system lets us have,
   * within reserve_limit() (a commit limit that ignores MAP_NORESERVE may
   * refuse even that much), down to the smallest ring that works; or else
   * a fixed ring of @home bytes like any other. */
  if (grows)
    {
      gsize limit = reserve_limit (), least = min_growing_capacity (home);

      for (capacity = MAX (MPK__RING_RESERVE, least); capacity > least && capacity > limit; )
        capacity /= 2;
      for (; capacity >= least && capacity <= limit; capacity /= 2)
        if ((shm = mpk__shm_reserve (data_offset () + capacity + holders, NULL)) != NULL)
          break;
      if (shm == NULL)
        capacity = home;
    }
  ring->grows = capacity > home;
  ring->map_size = data_offset () + capacity + holders;
  if (shm == NULL)
    shm = mpk__shm_reserve (ring->map_size, error);
  if (shm == NULL)
    return FALSE;
  if (!mpk__mutex_init (&shm->wlock, PTHREAD_MUTEX_ERRORCHECK, error) ||
      !mpk__mutex_init (&shm->rlock, PTHREAD_MUTEX_ERRORCHECK, error) ||
      !mpk__mutex_init (&shm->tlock, PTHREAD_MUTEX_ERRORCHECK, error))
    {
      mpk__shm_free (shm, ring->map_size);
      return FALSE;
    }
  shm->capacity = capacity;
  ring->shm = shm;
  ring->data = (guint8 *) shm + data_offset ();
  ring->holders = joinable ? (MpkRingHolder *) (ring->data + capacity) : NULL;
  ring->n_holders = n_holders;
  ring->hide_reserve = ring->grows && RUNNING_ON_VALGRIND;
  if (ring->hide_reserve)
    VALGRIND_MAKE_MEM_NOACCESS (ring->data + home, capacity - home);
  ring->capacity = capacity;
  ring->home = home;
  ring->margin = ring->grows ? 2 * RESERVE_BLOCK : 0;
  ring->max_chunk = home / 4 - sizeof (ChunkHeader);
  ring->joinable = joinable;
  ring->object = object;
  return TRUE;
}

void
mpk__ring_clear (MpkRing *ring)
{
  mpk__shm_free (ring->shm, ring->map_size);
  ring->shm = NULL;
  ring->data = NULL;
}

/* ------------------------------------------------------------ helpers -- */

/* Under valgrind: makes the reserve's bytes [@at, @at + @len) addressable
 * in this process before it touches them (see N_HOLDERS_VALGRIND). */
static void
show_reserve (MpkRing *ring, gsize at, gsize len)
{
  if (at + len > ring->home)
    {
      gsize from = MAX (at, ring->home);

      VALGRIND_MAKE_MEM_DEFINED (ring->data + from, at + len - from);
    }
}

/* Growing ring: a process that touches a block of the reserve for the first
 * time maps it in one call rather than one page fault per
 * 4 KiB page, which is most of the cost of writing fresh memory (more so in
 * a virtual machine). Done when the bytes [@at, @at + @len) reach into a
 * new block; pages already there cost a page-table walk. Not for a chunk
 * header alone (a pad's is all there is of it; a chunk's payload follows). */

static void
map_reserve_ahead (MpkRing *ring, gsize at, gsize len, gboolean write)
{
  gsize last = (at + len - 1) / RESERVE_BLOCK, from, to;

  if (at > ring->home && (at - 1) / RESERVE_BLOCK == last)
    return;   /* still in the block the previous bytes were in */
  from = MAX (last * RESERVE_BLOCK, ring->home);
  to = MIN ((last + 1) * RESERVE_BLOCK, ring->capacity);
  if (to > from)
    mpk__shm_populate (ring->data + from, to - from, write);
}

static void
ring_write (MpkRing *ring, guint64 pos, const void *src, gsize len)
{
  gsize at = pos & (ring->capacity - 1);
  gsize first = MIN (len, ring->capacity - at);

  if (G_UNLIKELY (ring->grows) && at + first > ring->home && len > sizeof (ChunkHeader))
    map_reserve_ahead (ring, at, first, TRUE);
  if (G_UNLIKELY (ring->hide_reserve))
    show_reserve (ring, at, first);
  memcpy (ring->data + at, src, first);
  memcpy (ring->data, (const guint8 *) src + first, len - first);
}

static void
ring_read (MpkRing *ring, guint64 pos, void *dst, gsize len)
{
  gsize at = pos & (ring->capacity - 1);
  gsize first = MIN (len, ring->capacity - at);

  if (G_UNLIKELY (ring->grows) && at + first > ring->home && len > sizeof (ChunkHeader))
    map_reserve_ahead (ring, at, first, FALSE);
  if (G_UNLIKELY (ring->hide_reserve))
    show_reserve (ring, at, first);
  memcpy (dst, ring->data + at, first);
  memcpy ((guint8 *) dst + first, ring->data, len - first);
}

static inline guint64
load_tail (MpkRing *ring)
{
  return __atomic_load_n (&ring->shm->tail, __ATOMIC_ACQUIRE);
}

static inline guint64
load_head (MpkRing *ring)
{
  return __atomic_load_n (&ring->shm->head, __ATOMIC_ACQUIRE);
}

/* Cached positions. A producer reads head only when its cached copy
 * (seen_head) shows too little room, a consumer reads tail only when its
 * seen_tail shows nothing to read: the other side's line then moves once per
 * batch, not once per item. A cached word is older than the real one, so it
 * only ever understates room or data. Each side refreshes its copy on
 * taking its lock unless it was the last to commit on that side (tail or
 * head is still its own), which keeps the copy less than one ring behind, so
 * the 40-bit position arithmetic cannot wrap. */

/* Consumer: bytes committed and not consumed; G_MAXUINT64 if nonsense. */
static guint64
consumer_used (MpkRing *ring)
{
  guint64 head = word_pos (load_head (ring));
  guint64 used = (word_pos (ring->seen_tail) - head) & POS_MASK;

  if (used == 0 || used > ring->capacity)
    {
      ring->seen_tail = load_tail (ring);
      used = (word_pos (ring->seen_tail) - head) & POS_MASK;
    }
  return used <= ring->capacity ? used : G_MAXUINT64;
}

/* A pad chunk of @len at head: only in a growing ring, exactly to the end
 * of the lap, and committed (@used bytes are). */
static gboolean
pad_fits (MpkRing *ring, guint64 len, guint64 used)
{
  guint64 at = word_pos (load_head (ring)) & (ring->capacity - 1);

  return ring->grows && record_size (len) == ring->capacity - at && record_size (len) <= used;
}

static gboolean
ring_broken (MpkRing *ring, GError **error)
{
  if (G_LIKELY (!__atomic_load_n (&ring->shm->broken, __ATOMIC_RELAXED)))
    return FALSE;
  g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                       "queue: its shared memory was found corrupt; it can no longer be used");
  return TRUE;
}

static gboolean
set_corrupt (MpkRing *ring, const char *what, GError **error)
{
  __atomic_store_n (&ring->shm->broken, 1, __ATOMIC_SEQ_CST);
  mpk__signal_notify (&ring->shm->data);
  mpk__signal_notify (&ring->shm->space);
  g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
               "queue: corrupt shared memory (%s); the queue can no longer be used", what);
  return FALSE;
}

static void
trace_recovery (MpkRing *ring, const char *side, guint32 dead_pid)
{
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    {
      MpkTraceLine line;

      mpk__trace_begin (&line, "queue.recovered", 0, 0);
      mpk__trace_add_object (&line, ring->object);
      mpk__trace_add_str (&line, "side", side);
      mpk__trace_add_int (&line, "dead", dead_pid);
      mpk__trace_end (&line);
    }
}

static void reclaim_abandoned (MpkRing *ring, guint64 item);

/* Under wlock, just taken from a dead holder: finish or undo its put. */
static void
writer_recover (MpkRing *ring)
{
  MpkRingShared *shm = ring->shm;
  guint64 dead_item = 0;

  if (shm->task_journal != 0)
    {
      /* It counted (or was about to count) a task for an item: keep it
       * only if the item went in. Only wlock's holder adds to put_tasks,
       * so the value tells whether the add happened. */
      if (load_tail (ring) != shm->task_journal
          && __atomic_load_n (&shm->put_tasks, __ATOMIC_SEQ_CST) == shm->task_journal_count + 1)
        owned_add (&shm->put_tasks, -1);
      shm->task_journal = 0;
    }
  /* Dead after the store that committed its item whole, the item is
   * delivered: nothing to give up. */
  if (shm->writing_item != 0 && shm->item_end != 0 && load_tail (ring) == shm->item_end)
    shm->writing_item = 0;
  if (shm->writing_item != 0)
    {
      dead_item = shm->writing_item;
      __atomic_store_n (&shm->abandoned, dead_item, __ATOMIC_SEQ_CST);
      shm->writing_item = 0;
    }
  pthread_mutex_consistent (&shm->wlock);
  __atomic_add_fetch (&shm->recoveries, 1, __ATOMIC_SEQ_CST);
  trace_recovery (ring, "put", shm->writer_pid);
  /* Its chunks would fill the ring until some get() skipped them: take
   * them out now, so that the other producers do not depend on a consumer
   * running (a consumer that holds rlock skips them itself). */
  if (dead_item != 0)
    reclaim_abandoned (ring, dead_item);
  /* A reader waiting for the rest of the item must look again. */
  mpk__signal_notify (&shm->data);
}

static gboolean tasks_lock (MpkRingShared *shm);

/* Under rlock, just taken from a dead holder: undo a half-made credit. The
 * chunks left of an item it was reading are skipped by the next reader. */
static void
reader_recover (MpkRing *ring)
{
  MpkRingShared *shm = ring->shm;

  /* (take_journal is only ever set in a JoinableQueue: anything else is
   * a scribble, and there is no table.) */
  if (shm->take_journal != 0 && ring->holders == NULL)
    shm->take_journal = 0;
  if (shm->take_journal != 0)
    {
      guint32 slot = shm->take_slot;
      gboolean counted = tasks_lock (shm);   /* abandon_tasks() reads the journal under it */

      if (load_head (ring) != shm->take_journal && slot < ring->n_holders
          && __atomic_load_n (&ring->holders[slot].taken, __ATOMIC_SEQ_CST)
             == shm->take_journal_count + 1)
        owned_add (&ring->holders[slot].taken, -1);
      __atomic_store_n (&shm->take_journal, 0, __ATOMIC_SEQ_CST);
      if (counted)
        pthread_mutex_unlock (&shm->tlock);
    }
  pthread_mutex_consistent (&shm->rlock);
  __atomic_add_fetch (&shm->recoveries, 1, __ATOMIC_SEQ_CST);
  trace_recovery (ring, "get", shm->reader_pid);
  /* It may have freed room and died before saying so. */
  mpk__signal_notify (&shm->space);
}

/* Takes wlock or rlock by @deadline, repairing after a dead holder.
 * Returns 0, or the errno (ETIMEDOUT, ...) with nothing held. */
static int
side_lock (MpkRing *ring, pthread_mutex_t *mutex, MpkDeadline deadline)
{
  int err = mpk__mutex_lock (mutex, deadline);

  if (err == EOWNERDEAD)
    {
      if (mutex == &ring->shm->wlock)
        writer_recover (ring);
      else
        reader_recover (ring);
      err = 0;
    }
  return err == EBUSY ? ETIMEDOUT : err;
}

/* ---------------------------------------------------------------- put -- */

/* Growing ring: how long the consumers may take no item before a waiting
 * put() stops waiting for room in the home bytes and grows the ring. */
#define STALL_US (20 * 1000)

typedef struct
{
  MpkRing    *ring;
  guint64     need;       /* free bytes wanted */
  gint64      maxsize;    /* or a free slot wanted */
  MpkDeadline deadline;   /* growing ring: the put's own */
  guint64     last_head;  /* ... head when last seen to move */
  gint64      last_move;  /* ... and when */
} SpaceWait;

/* Growing ring with room only past its home bytes: TRUE once the put
 * should take it. While the consumers keep taking items, a put waits for
 * them instead (as in a fixed ring): then the items in flight stay within
 * the home bytes, whose pages are mapped and in the caches, rather than
 * running ahead into fresh memory. A put that cannot wait (its deadline is
 * near) or whose consumers stopped takes the room at once: it never fails
 * FULL while there is room. */
static gboolean
may_grow (SpaceWait *wait, guint64 head)
{
  gint64 now = g_get_monotonic_time ();

  if (wait->deadline - now < STALL_US)
    return TRUE;
  if (wait->last_move == 0 || word_pos (head) != word_pos (wait->last_head))
    {
      wait->last_head = head;
      wait->last_move = now;
      return FALSE;
    }
  return now - wait->last_move >= STALL_US;
}

static int
space_ready (gpointer data)
{
  SpaceWait *wait = data;
  MpkRing *ring = wait->ring;
  guint64 tail = load_tail (ring);

  /* First with the cached head; only if that says no, with the real one. */
  for (int fresh = 0; fresh < 2; fresh++)
    {
      guint64 head = ring->seen_head;
      guint64 used = (word_pos (tail) - word_pos (head)) & POS_MASK;

      if (used <= ring->capacity && ring->capacity - used >= wait->need + ring->margin &&
          (wait->maxsize <= 0 ||
           (gint64) ((word_count (tail) - word_count (head)) & COUNT_MASK) < wait->maxsize))
        {
          if (used + wait->need <= ring->home || !ring->grows)
            return 1;
          if (fresh == 1 && may_grow (wait, head))
            return 1;
        }
      if (fresh == 0)
        ring->seen_head = load_head (ring);
      else if (ring->shm->broken || used > ring->capacity)
        return -1;
    }
  return 0;
}

/* Copies bytes [@offset, @offset + @len) of the item (header, then pieces)
 * to ring position @pos. */
static void
write_item_bytes (MpkRing            *ring,
                  guint64             pos,
                  const guint8       *wire,
                  const MpkRingPiece *pieces,
                  guint               n_pieces,
                  guint64             offset,
                  guint64             len)
{
  guint64 start = 0;

  for (guint i = 0; i <= n_pieces && len > 0; i++)
    {
      const guint8 *src = i == 0 ? wire : pieces[i - 1].data;
      guint64 size = i == 0 ? MPK__WIRE_HEADER_SIZE : pieces[i - 1].size;

      if (offset < start + size)
        {
          guint64 from = offset - start, n = MIN (len, size - from);

          ring_write (ring, pos, src + from, n);
          pos += n;
          offset += n;
          len -= n;
        }
      start += size;
    }
}

/* Gives up the item being written: it will never be delivered. */
static void
abandon_item (MpkRing *ring, guint64 item)
{
  __atomic_store_n (&ring->shm->abandoned, item, __ATOMIC_SEQ_CST);
  ring->shm->writing_item = 0;
  mpk__signal_notify (&ring->shm->data);
}

/* Writes and commits one chunk. The last chunk's store also counts the item
 * (and, in a JoinableQueue, its task, with a journal for the gap). */
static void
commit_chunk (MpkRing *ring, guint64 item, guint16 flags, guint64 len,
              const guint8 *wire, const MpkRingPiece *pieces, guint n_pieces, guint64 offset)
{
  MpkRingShared *shm = ring->shm;
  ChunkHeader chunk = { CHUNK_MAGIC, flags, (guint32) len, item };
  guint64 tail = load_tail (ring), pos = word_pos (tail), next;

  ring_write (ring, pos, &chunk, sizeof chunk);
  write_item_bytes (ring, pos + sizeof chunk, wire, pieces, n_pieces, offset, len);
  next = word_make (pos + record_size (len), word_count (tail) + ((flags & CHUNK_LAST) ? 1 : 0));
  if (flags & CHUNK_LAST)
    {
      shm->item_end = next;
      MPK__CRASH_POINT ("queue.put.copied");
      if (ring->joinable)
        {
          shm->task_journal_count = __atomic_load_n (&shm->put_tasks, __ATOMIC_SEQ_CST);
          __atomic_store_n (&shm->task_journal, next, __ATOMIC_RELEASE);
          owned_add (&shm->put_tasks, 1);
        }
    }
  __atomic_store_n (&shm->tail, next, __ATOMIC_RELEASE);
  ring->my_tail = next;
  if (flags & CHUNK_LAST)
    {
      MPK__CRASH_POINT ("queue.put.committed");
      shm->task_journal = 0;
    }
  else
    MPK__CRASH_POINT ("queue.put.chunk");
  mpk__signal_notify (&shm->data);
}

static void consume_chunk (MpkRing *ring, guint16 flags, guint64 len, gboolean credit);

/* Growing ring, under wlock, before a chunk of @record bytes that would not
 * lie within the home bytes: if the ring is empty, go back to its start
 * (a pad chunk to the end of the lap, skipped here at once unless a
 * consumer is in get() to do it); if not, go on into the reserve. Only
 * when empty: with items after the pad, the producers would be confined to
 * the bytes before them until a consumer passed the pad, and an unbounded
 * queue would fill up. So a ring whose consumers keep up stays in its home
 * pages, and one that falls behind moves through the reserve, whose pages
 * the consumers give back behind them (release_behind()). */
static void
maybe_go_home (MpkRing *ring, guint64 record)
{
  MpkRingShared *shm = ring->shm;
  guint64 tail = load_tail (ring), pos = word_pos (tail);
  guint64 at = pos & (ring->capacity - 1), pad_end;
  ChunkHeader pad = { CHUNK_MAGIC, CHUNK_PAD, 0, 0 };
  int err;

  if (!ring->grows || at == 0 || at + record <= ring->home)
    return;
  ring->seen_head = load_head (ring);
  if (word_pos (ring->seen_head) != pos)
    return;
  pad.len = (guint32) (ring->capacity - at - sizeof pad);
  ring_write (ring, pos, &pad, sizeof pad);
  pad_end = word_make (pos + ring->capacity - at, word_count (tail));
  __atomic_store_n (&shm->tail, pad_end, __ATOMIC_RELEASE);
  ring->my_tail = pad_end;
  mpk__signal_notify (&shm->data);
  err = pthread_mutex_trylock (&shm->rlock);
  if (err == EOWNERDEAD)
    reader_recover (ring);
  else if (err != 0)
    return;
  if (word_pos (load_head (ring)) == pos)
    {
      if (load_head (ring) != ring->my_head)
        ring->seen_tail = load_tail (ring);
      consume_chunk (ring, CHUNK_PAD, pad.len, FALSE);
    }
  pthread_mutex_unlock (&shm->rlock);
}

static int
home_ready (gpointer data)
{
  SpaceWait *wait = data;
  MpkRing *ring = wait->ring;
  guint64 head = load_head (ring);

  return word_pos (head) == word_pos (load_tail (ring)) || may_grow (wait, head);
}

/* Growing ring, under wlock, before a chunk of @record bytes that would
 * leave the home bytes and the reserve's first RESERVE_KEEP (which stay
 * mapped) while items are in flight: wait for the consumers to take them,
 * so that maybe_go_home() can start the next lap in the home pages, as
 * long as they keep taking items (may_grow()). Until then the producers go
 * on into the kept pages without waiting: the ring empties there often
 * enough for most laps to end without this wait. */
static void
wait_home (MpkRing *ring, SpaceWait *wait, guint64 record)
{
  guint64 at = word_pos (load_tail (ring)) & (ring->capacity - 1);

  if (at == 0 || at + record <= ring->home + RESERVE_KEEP)
    return;
  wait->last_move = 0;
  mpk__signal_wait_until (&ring->shm->space, home_ready, wait, wait->deadline, STALL_US);
}

/* Under wlock: the item's chunks, each once there is room for it. */
static gboolean
put_chunks (MpkRing            *ring,
            const guint8       *wire,
            const MpkRingPiece *pieces,
            guint               n_pieces,
            guint64             total,
            gint64              maxsize,
            MpkDeadline         deadline,
            GError            **error)
{
  MpkRingShared *shm = ring->shm;
  guint64 offset = 0, item;
  SpaceWait wait = { ring, 0, maxsize, deadline, 0, 0 };
  int ready;

  /* A free slot first (maxsize), then room chunk by chunk. */
  wait.need = record_size (MIN (total, ring->max_chunk));
  ready = mpk__signal_wait_until (&shm->space, space_ready, &wait, deadline,
                                  ring->grows ? STALL_US : 0);
  if (ready < 0)
    return ring_broken (ring, error) ? FALSE : set_corrupt (ring, "positions", error);
  if (ready == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_FULL,
                           "queue: no room for the item before the timeout");
      return FALSE;
    }
  wait.maxsize = 0;
  item = ++shm->next_item;
  /* Ids only grow; readers rely on it to tell a new item from an old one. */
  if (item == 0 || item <= __atomic_load_n (&shm->abandoned, __ATOMIC_SEQ_CST))
    return set_corrupt (ring, "item ids", error);
  shm->item_end = 0;
  shm->writing_item = item;
  while (offset < total)
    {
      guint64 len = MIN (total - offset, ring->max_chunk);
      guint16 flags = (offset == 0 ? CHUNK_FIRST : 0) | (offset + len == total ? CHUNK_LAST : 0);

      wait.need = record_size (len);
      ready = mpk__signal_wait_until (&shm->space, space_ready, &wait, deadline,
                                      ring->grows ? STALL_US : 0);
      if (ready <= 0)
        {
          abandon_item (ring, item);
          if (ready == 0)
            reclaim_abandoned (ring, item);
          if (ready < 0)
            return ring_broken (ring, error) ? FALSE : set_corrupt (ring, "positions", error);
          g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                       "queue: timed out after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                       " bytes; the item was discarded", offset, total);
          return FALSE;
        }
      if (ring->grows)
        {
          wait_home (ring, &wait, record_size (len));
          maybe_go_home (ring, record_size (len));
        }
      commit_chunk (ring, item, flags, len, wire, pieces, n_pieces, offset);
      offset += len;
    }
  shm->writing_item = 0;
  return TRUE;
}

gboolean
mpk__ring_put (MpkRing             *ring,
               MpkWireHeader       *header,
               const MpkRingPiece  *pieces,
               guint                n_pieces,
               gint64               maxsize,
               MpkDeadline          deadline,
               GError             **error)
{
  guint8 wire[MPK__WIRE_HEADER_SIZE];
  gboolean ok;
  int err;

  if (ring_broken (ring, error))
    return FALSE;
  mpk__wire_encode_header (header, wire);
  err = side_lock (ring, &ring->shm->wlock, deadline);
  if (err == ETIMEDOUT)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_FULL,
                           "queue: no room before the timeout (another producer was waiting for room)");
      return FALSE;
    }
  if (err != 0)
    return mpk__set_error_from_errno (error, err, "queue: locking the producers' side");
  if (load_tail (ring) != ring->my_tail)
    ring->seen_head = load_head (ring);   /* another producer came between */
  ring->shm->writer_pid = mpk__wire_pid ();
  MPK__CRASH_POINT ("queue.put.locked");
  ok = put_chunks (ring, wire, pieces, n_pieces, MPK__WIRE_HEADER_SIZE + header->length,
                   maxsize, deadline, error);
  pthread_mutex_unlock (&ring->shm->wlock);
  return ok;
}

/* ---------------------------------------------------------------- get -- */

/* How many items @slot's process took and has not marked done. */
static guint64
holder_outstanding (MpkRing *ring, guint slot)
{
  guint64 done = __atomic_load_n (&ring->holders[slot].done, __ATOMIC_SEQ_CST);
  guint64 taken = __atomic_load_n (&ring->holders[slot].taken, __ATOMIC_SEQ_CST);

  return taken > done ? taken - done : 0;
}

/* How many holder slots have ever been claimed: a run with one consumer
 * sums one slot, not N_HOLDERS, on every task_done. */
static guint
slots_in_use (MpkRing *ring)
{
  guint n = MIN (__atomic_load_n (&ring->shm->n_slots, __ATOMIC_SEQ_CST), ring->n_holders);
  guint lo = 0, hi = n;

  if (G_LIKELY (n == 0 || __atomic_load_n (&ring->holders[n - 1].pid, __ATOMIC_RELAXED) != 0))
    return n;
  /* n_slots was scribbled on: walking millions of empty slots would commit
   * the whole table. Claimed slots are a prefix (a new one is claimed only
   * when all before it hold tasks), so look for its end. */
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (__atomic_load_n (&ring->holders[mid].pid, __ATOMIC_RELAXED) != 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static guint64
tasks_unfinished (MpkRing *ring)
{
  guint64 done = __atomic_load_n (&ring->shm->dropped_tasks, __ATOMIC_SEQ_CST)
                 + __atomic_load_n (&ring->shm->loose_done, __ATOMIC_SEQ_CST);
  guint n = slots_in_use (ring);
  guint64 put;

  for (guint i = 0; i < n; i++)
    done += __atomic_load_n (&ring->holders[i].done, __ATOMIC_SEQ_CST);
  put = __atomic_load_n (&ring->shm->put_tasks, __ATOMIC_SEQ_CST);
  return put > done ? put - done : 0;
}

/* Under rlock: credits the item being taken to this process (JoinableQueue),
 * journalled so a death before @next is stored can be undone. */
static void
credit_take (MpkRing *ring, guint64 next)
{
  MpkRingShared *shm = ring->shm;
  guint32 me = mpk__wire_pid (), slot = NO_SLOT;

  if (!ring->joinable)
    return;
  for (guint32 i = 0; i < slots_in_use (ring) && slot == NO_SLOT; i++)
    if (ring->holders[i].pid == me)
      slot = i;
  /* Else a free slot, or one whose process holds nothing now. Slots are
   * claimed only under rlock, and only rlock's holder adds to taken. */
  for (guint32 i = 0; i < ring->n_holders && slot == NO_SLOT; i++)
    if (holder_outstanding (ring, i) == 0)
      {
        __atomic_store_n (&ring->holders[i].pid, me, __ATOMIC_SEQ_CST);
        if (i >= slots_in_use (ring))
          __atomic_store_n (&shm->n_slots, i + 1, __ATOMIC_SEQ_CST);
        slot = i;
      }
  shm->take_slot = slot;
  if (slot != NO_SLOT)
    shm->take_journal_count = __atomic_load_n (&ring->holders[slot].taken, __ATOMIC_SEQ_CST);
  __atomic_store_n (&shm->take_journal, next, __ATOMIC_RELEASE);
  if (slot != NO_SLOT)
    owned_add (&ring->holders[slot].taken, 1);
}

static void tasks_finished (MpkRingShared *shm, guint64 lc, guint64 event_id);

/* A whole item was dropped undelivered: nobody will finish its task. */
static void
drop_task (MpkRing *ring)
{
  owned_add (&ring->shm->dropped_tasks, 1);   /* under rlock */
  if (tasks_unfinished (ring) == 0)
    tasks_finished (ring->shm, mpk__wire_clock_tick (), 0);
}

/* Growing ring, under rlock, after head moved from @from to @to over
 * consumed bytes: gives back the reserve's blocks wholly behind it (all but
 * its first RESERVE_KEEP bytes, kept mapped for the next time the consumers
 * fall a little behind). After the store of head, so that a death here
 * leaves pages committed, never data lost. The producers stay 2 blocks
 * short of a whole lap ahead (ring->margin), so none writes into a block
 * while it is given back. A pad's bytes were never written: nothing to do. */
static void
release_behind (MpkRing *ring, guint64 from, guint64 to)
{
  gsize start = (from & (ring->capacity - 1)) / RESERVE_BLOCK * RESERVE_BLOCK;
  gsize end = to & (ring->capacity - 1), keep = ring->home + RESERVE_KEEP;

  if (end <= (from & (ring->capacity - 1)))
    end = ring->capacity;   /* the chunk wrapped around the end */
  end = end / RESERVE_BLOCK * RESERVE_BLOCK;
  start = MAX (start, keep);
  if (end <= start)
    return;
  mpk__shm_release (ring->data + start, end - start);
  if (ring->hide_reserve)
    VALGRIND_MAKE_MEM_NOACCESS (ring->data + start, end - start);
}

/* Under rlock: consumes the chunk at head (@len payload bytes). With
 * @credit, it is the last chunk of an item this get() returns. */
static void
consume_chunk (MpkRing *ring, guint16 flags, guint64 len, gboolean credit)
{
  MpkRingShared *shm = ring->shm;
  guint64 head = load_head (ring);
  guint64 next = word_make (word_pos (head) + record_size (len),
                            word_count (head) + ((flags & CHUNK_LAST) ? 1 : 0));

  if (credit)
    {
      credit_take (ring, next);
      if (G_UNLIKELY (mpk__ring_crash_after_credit))
        mpk__crash_now ("queue.get.credited");
    }
  __atomic_store_n (&shm->head, next, __ATOMIC_RELEASE);
  ring->my_head = next;
  if (G_UNLIKELY (ring->grows) && flags != CHUNK_PAD)
    release_behind (ring, word_pos (head), word_pos (next));
  if (credit)
    {
      MPK__CRASH_POINT ("queue.get.committed");
      shm->take_journal = 0;
    }
  else if ((flags & CHUNK_LAST) && ring->joinable)
    drop_task (ring);   /* a whole item dropped undelivered: nobody will finish its task */
  mpk__signal_notify (&shm->space);
}

/* Under wlock, after giving up @item: unless a consumer is busy, take its
 * chunks out of the ring now, so that a process that only puts finds room
 * again without waiting for some get() to skip them. Trylock only: a
 * consumer may hold rlock and wait for wlock's holder, never the reverse. */
static void
reclaim_abandoned (MpkRing *ring, guint64 item)
{
  int err = pthread_mutex_trylock (&ring->shm->rlock);

  if (err == EOWNERDEAD)
    reader_recover (ring);
  else if (err != 0)
    return;
  if (load_head (ring) != ring->my_head)
    ring->seen_tail = load_tail (ring);
  for (;;)
    {
      guint64 used = consumer_used (ring);
      ChunkHeader chunk;

      if (used == G_MAXUINT64 || used < sizeof chunk)
        break;
      ring_read (ring, word_pos (load_head (ring)), &chunk, sizeof chunk);
      if (chunk.magic == CHUNK_MAGIC && chunk.flags == CHUNK_PAD && pad_fits (ring, chunk.len, used))
        {
          consume_chunk (ring, chunk.flags, chunk.len, FALSE);
          continue;
        }
      if (chunk.magic != CHUNK_MAGIC || chunk.item != item || chunk.len > ring->max_chunk ||
          record_size (chunk.len) > used)
        break;
      consume_chunk (ring, chunk.flags, chunk.len, FALSE);
    }
  pthread_mutex_unlock (&ring->shm->rlock);
}

typedef struct
{
  MpkRing *ring;
  guint64  item;        /* reading the rest of this item; 0 = waiting for any */
  gint64   next_check;  /* when to look at the writer again */
} DataWait;

/* The writer of @item died without anyone noticing? Take wlock for a moment:
 * EOWNERDEAD repairs the ring (and abandons the item). Returns TRUE if
 * nobody was putting (wlock was free, or its holder dead). */
static gboolean
check_writer (MpkRing *ring)
{
  int err = pthread_mutex_trylock (&ring->shm->wlock);

  if (err == EOWNERDEAD)
    writer_recover (ring);
  if (err == 0 || err == EOWNERDEAD)
    pthread_mutex_unlock (&ring->shm->wlock);
  return err == 0 || err == EOWNERDEAD;
}

static int
data_ready (gpointer data)
{
  DataWait *wait = data;
  MpkRing *ring = wait->ring;
  guint64 used = consumer_used (ring);

  if (used == G_MAXUINT64 || ring->shm->broken)
    return -1;
  if (used > 0)
    return 1;
  if (wait->item != 0)
    {
      if (__atomic_load_n (&ring->shm->abandoned, __ATOMIC_SEQ_CST) >= wait->item)
        return 2;
      if (g_get_monotonic_time () >= wait->next_check)
        {
          /* A put holds wlock from its item's first chunk to its last:
           * with wlock free and nothing more committed, the rest will
           * never come (only scribbled memory gets here without the item
           * being marked abandoned). */
          gboolean nobody_putting = check_writer (ring);

          if (nobody_putting && consumer_used (ring) == 0)
            return 2;
          wait->next_check = g_get_monotonic_time () + 20000;
        }
    }
  return 0;
}

/* Reads and checks the chunk header at head (@used bytes are committed). */
static gboolean
read_chunk (MpkRing *ring, guint64 used, ChunkHeader *chunk, GError **error)
{
  if (used < sizeof *chunk)
    return set_corrupt (ring, "a partial chunk header", error);
  ring_read (ring, word_pos (load_head (ring)), chunk, sizeof *chunk);
  if (chunk->magic == CHUNK_MAGIC && chunk->flags == CHUNK_PAD && pad_fits (ring, chunk->len, used))
    return TRUE;
  if (chunk->magic != CHUNK_MAGIC || (chunk->flags & ~(CHUNK_FIRST | CHUNK_LAST)) != 0 ||
      chunk->len > ring->max_chunk || record_size (chunk->len) > used)
    return set_corrupt (ring, "a bad chunk header", error);
  return TRUE;
}

typedef enum
{
  READ_DONE,      /* the item is complete */
  READ_RESTART,   /* the item was abandoned: look for the next one */
  READ_FAILED,    /* @error is set */
} ReadResult;

/* Under rlock, after the first chunk of @item: the rest of it into @buf.
 * No deadline: the first chunk is out of the ring, so giving up now would
 * lose an item whose put() returns TRUE. The wait ends when the rest comes
 * or the item is given up by its producer (its put() timed out, or it
 * died: data_ready() looks at wlock every 20 ms), never later than that
 * put's own timeout. */
static ReadResult
read_rest (MpkRing *ring, guint64 item, guint8 *buf, guint64 got, guint64 length,
           GError **error)
{
  DataWait wait = { ring, item, g_get_monotonic_time () + 20000 };
  ChunkHeader chunk;

  while (got < length)
    {
      int ready = mpk__signal_wait_until (&ring->shm->data, data_ready, &wait,
                                          MPK__DEADLINE_NEVER, 20000);

      if (ready <= 0)
        return ring_broken (ring, error) ? READ_FAILED
               : (set_corrupt (ring, "positions", error), READ_FAILED);
      if (ready == 2)
        return READ_RESTART;
      if (!read_chunk (ring, consumer_used (ring), &chunk, error))
        return READ_FAILED;
      if (chunk.flags == CHUNK_PAD)
        {
          /* The producer went back to the ring's start between two chunks. */
          consume_chunk (ring, chunk.flags, chunk.len, FALSE);
          continue;
        }
      if (chunk.item != item)
        return READ_RESTART;   /* its writer gave up and another item began */
      if (got + chunk.len > length || ((chunk.flags & CHUNK_LAST) != 0) != (got + chunk.len == length))
        {
          set_corrupt (ring, "chunk lengths do not add up", error);
          return READ_FAILED;
        }
      ring_read (ring, word_pos (load_head (ring)) + sizeof chunk, buf + got, chunk.len);
      got += chunk.len;
      if (chunk.flags & CHUNK_LAST)
        {
          /* Not "get.copied": the item's first pieces are gone already. */
          MPK__CRASH_POINT ("queue.get.chunk");
          consume_chunk (ring, chunk.flags, chunk.len, TRUE);
        }
      else
        {
          consume_chunk (ring, chunk.flags, chunk.len, FALSE);
          MPK__CRASH_POINT ("queue.get.chunk");
        }
    }
  return READ_DONE;
}

/* Under rlock, with the first chunk of an item at head: reads the item.
 * Returns the payload, or NULL with READ_RESTART/READ_FAILED in @result. */
static GBytes *
read_item (MpkRing *ring, const ChunkHeader *first, int want_kind, guint64 max_length,
           MpkWireHeader *header, ReadResult *result, GError **error)
{
  guint64 pos = word_pos (load_head (ring)) + sizeof *first;
  guint8 wire[MPK__WIRE_HEADER_SIZE];
  guint8 *buf;
  guint64 got;

  *result = READ_FAILED;
  if (first->len < MPK__WIRE_HEADER_SIZE)
    return (set_corrupt (ring, "an item without its header", error), NULL);
  ring_read (ring, pos, wire, sizeof wire);
  if (!mpk__wire_decode_header (wire, max_length, header, error))
    {
      /* A bad or oversized item is dropped; its other chunks are skipped. */
      consume_chunk (ring, first->flags, first->len, FALSE);
      return NULL;
    }
  if (want_kind != 0 && header->kind != want_kind)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "queue: the next item is a GVariant, not bytes; use mpk_queue_get()");
      return NULL;
    }
  got = first->len - MPK__WIRE_HEADER_SIZE;
  if (got > header->length || ((first->flags & CHUNK_LAST) != 0) != (got == header->length))
    return (set_corrupt (ring, "chunk lengths do not add up", error), NULL);
  buf = g_try_malloc (MAX (header->length, 1));
  if (buf == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_FAILED,
                   "queue: no memory for an item of %" G_GUINT64_FORMAT " bytes", header->length);
      return NULL;
    }
  ring_read (ring, pos + sizeof wire, buf, got);
  if (first->flags & CHUNK_LAST)
    {
      MPK__CRASH_POINT ("queue.get.copied");
      consume_chunk (ring, first->flags, first->len, TRUE);
      *result = READ_DONE;
    }
  else
    {
      consume_chunk (ring, first->flags, first->len, FALSE);
      MPK__CRASH_POINT ("queue.get.chunk");
      *result = read_rest (ring, first->item, buf, got, header->length, error);
    }
  if (*result != READ_DONE)
    {
      g_free (buf);
      return NULL;
    }
  return g_bytes_new_take (buf, header->length);
}

/* Under rlock: skips orphan chunks, then reads the first whole item. */
static GBytes *
get_item (MpkRing *ring, int want_kind, guint64 max_length, MpkWireHeader *header,
          MpkDeadline deadline, GError **error)
{
  DataWait wait = { ring, 0, 0 };

  for (;;)
    {
      ChunkHeader chunk;
      ReadResult result;
      GBytes *payload;
      int ready = mpk__signal_wait_until (&ring->shm->data, data_ready, &wait, deadline, 0);

      if (ready < 0)
        return ring_broken (ring, error) ? NULL : (set_corrupt (ring, "positions", error), NULL);
      if (ready == 0)
        {
          g_set_error_literal (error, MPK_ERROR, MPK_ERROR_EMPTY,
                               "queue: no item before the timeout");
          return NULL;
        }
      if (!read_chunk (ring, consumer_used (ring), &chunk, error))
        return NULL;
      if (!(chunk.flags & CHUNK_FIRST))
        {
          /* The rest of an item whose writer gave up or whose reader died. */
          consume_chunk (ring, chunk.flags, chunk.len, FALSE);
          continue;
        }
      payload = read_item (ring, &chunk, want_kind, max_length, header, &result, error);
      if (payload != NULL || result != READ_RESTART)
        return payload;
    }
}

GBytes *
mpk__ring_get (MpkRing        *ring,
               int             want_kind,
               guint64         max_length,
               MpkWireHeader  *header,
               MpkDeadline     deadline,
               GError        **error)
{
  GBytes *payload;
  int err;

  if (ring_broken (ring, error))
    return NULL;
  err = side_lock (ring, &ring->shm->rlock, deadline);
  if (err == ETIMEDOUT)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_EMPTY,
                           "queue: no item before the timeout (another consumer was waiting)");
      return NULL;
    }
  if (err != 0)
    return (mpk__set_error_from_errno (error, err, "queue: locking the consumers' side"), NULL);
  if (load_head (ring) != ring->my_head)
    ring->seen_tail = load_tail (ring);   /* another consumer came between */
  ring->shm->reader_pid = mpk__wire_pid ();
  MPK__CRASH_POINT ("queue.get.locked");
  payload = get_item (ring, want_kind, max_length, header, deadline, error);
  pthread_mutex_unlock (&ring->shm->rlock);
  return payload;
}

gint64
mpk__ring_count (MpkRing *ring)
{
  guint64 tail = load_tail (ring), head = load_head (ring);
  guint64 count = (word_count (tail) - word_count (head)) & COUNT_MASK;

  /* A reader may count an item a moment before its writer's word shows it. */
  return count <= COUNT_MASK / 2 ? (gint64) count : 0;
}

gboolean
mpk__ring_no_room (MpkRing *ring)
{
  guint64 used = (word_pos (load_tail (ring)) - word_pos (load_head (ring))) & POS_MASK;

  return used <= ring->capacity
         && ring->capacity - used < record_size (MPK__WIRE_HEADER_SIZE) + ring->margin;
}

guint
mpk__ring_n_recoveries (MpkRing *ring)
{
  return __atomic_load_n (&ring->shm->recoveries, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------- tasks -- */

static void
tasks_finished (MpkRingShared *shm, guint64 lc, guint64 event_id)
{
  guint64 seen = __atomic_load_n (&shm->done_clock, __ATOMIC_SEQ_CST);

  __atomic_store_n (&shm->done_event, event_id, __ATOMIC_SEQ_CST);
  while (seen < lc &&
         !__atomic_compare_exchange_n (&shm->done_clock, &seen, lc, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
    ;
  mpk__signal_notify (&shm->done);
}

/* tlock is held only for a few loads and one add: a death inside leaves
 * either the add done or not, and nothing to repair. FALSE (nothing held)
 * if the mutex itself is damaged. */
static gboolean
tasks_lock (MpkRingShared *shm)
{
  int err = mpk__mutex_lock (&shm->tlock, MPK__DEADLINE_NEVER);

  if (err == EOWNERDEAD)
    {
      pthread_mutex_consistent (&shm->tlock);
      __atomic_add_fetch (&shm->recoveries, 1, __ATOMIC_SEQ_CST);
      err = 0;
    }
  return err == 0;
}

/* Adds up to @most to @slot's done, leaving @keep tasks outstanding;
 * returns how many it added. A compare-and-swap: a process's own
 * task_done() does it without tlock. One add however many: the words may
 * have been scribbled on, and a loop by ones could then run for ever. */
static guint64
take_outstanding_but (MpkRing *ring, guint32 slot, guint64 keep, guint64 most)
{
  guint64 done = __atomic_load_n (&ring->holders[slot].done, __ATOMIC_SEQ_CST);

  for (;;)
    {
      guint64 taken = __atomic_load_n (&ring->holders[slot].taken, __ATOMIC_SEQ_CST);
      guint64 n;

      if (taken <= done || taken - done <= keep)
        return 0;
      n = MIN (taken - done - keep, most);
      if (__atomic_compare_exchange_n (&ring->holders[slot].done, &done, done + n, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return n;
    }
}

/* Adds one to @slot's done if the slot still has a task outstanding. */
static gboolean
take_outstanding (MpkRing *ring, guint32 slot)
{
  return take_outstanding_but (ring, slot, 0, 1) == 1;
}

/* The common case, untraced: this process finishes a task it took. One
 * compare-and-swap on its own slot, no lock. */
static gboolean
task_done_own (MpkRing *ring, guint64 lc)
{
  guint32 me = mpk__wire_pid (), n = slots_in_use (ring);

  for (guint32 i = 0; i < n; i++)
    if (__atomic_load_n (&ring->holders[i].pid, __ATOMIC_RELAXED) == me)
      {
        if (!take_outstanding (ring, i))
          return FALSE;
        MPK__CRASH_POINT ("queue.task_done.counted");
        if (tasks_unfinished (ring) == 0)
          tasks_finished (ring->shm, lc, 0);
        return TRUE;
      }
  return FALSE;
}

/* The slot a task_done() of @pid is credited to: its own, else any holder's. */
static guint32
done_slot (MpkRing *ring, guint32 pid)
{
  guint32 n = slots_in_use (ring);

  for (guint32 i = 0; i < n; i++)
    if (__atomic_load_n (&ring->holders[i].pid, __ATOMIC_SEQ_CST) == pid
        && holder_outstanding (ring, i) > 0)
      return i;
  for (guint32 i = 0; i < n; i++)
    if (holder_outstanding (ring, i) > 0)
      return i;
  return NO_SLOT;
}

MpkRingTaskResult
mpk__ring_task_done (MpkRing           *ring,
                     guint64            lc,
                     MpkRingTaskRecord  record,
                     gpointer           data)
{
  MpkRingShared *shm = ring->shm;
  guint64 left, event = 0;
  guint32 slot;

  /* Traced, task_dones go one at a time under tlock, so that each can
   * name the one before it. */
  if (record == NULL && task_done_own (ring, lc))
    return MPK__RING_TASK_DONE;
  if (!tasks_lock (shm))
    return MPK__RING_TASK_FAILED;
  left = tasks_unfinished (ring);
  if (left == 0)
    {
      pthread_mutex_unlock (&shm->tlock);
      return MPK__RING_TASK_NONE_LEFT;
    }
  do
    slot = done_slot (ring, mpk__wire_pid ());
  while (slot != NO_SLOT && !take_outstanding (ring, slot));   /* raced with an owner */
  if (slot == NO_SLOT)
    owned_add (&shm->loose_done, 1);
  MPK__CRASH_POINT ("queue.task_done.counted");
  /* Puts may have come in between; only a 0 needs the exact figure. */
  left = left > 1 ? left - 1 : tasks_unfinished (ring);
  /* Recorded before join() is woken: a joiner may end this process at
   * once (a daemon consumer), and the diagram must still show it. */
  if (record != NULL)
    event = record (data, left, __atomic_load_n (&shm->last_task_event, __ATOMIC_SEQ_CST));
  if (event != 0)
    __atomic_store_n (&shm->last_task_event, event, __ATOMIC_SEQ_CST);
  if (left == 0)
    tasks_finished (shm, lc, event);
  pthread_mutex_unlock (&shm->tlock);
  return MPK__RING_TASK_DONE;
}

guint64
mpk__ring_unfinished (MpkRing *ring)
{
  return tasks_unfinished (ring);
}

guint64
mpk__ring_unfinished_for (MpkRing *ring,
                          GPid     pid)
{
  guint64 sum = 0;

  for (guint i = 0; i < slots_in_use (ring); i++)
    if (__atomic_load_n (&ring->holders[i].pid, __ATOMIC_SEQ_CST) == (guint32) pid)
      sum += holder_outstanding (ring, i);
  return sum;
}

guint64
mpk__ring_abandon_tasks (MpkRing *ring,
                         GPid     pid,
                         guint64  lc)
{
  MpkRingShared *shm = ring->shm;
  guint64 written_off = 0, journal;
  guint32 pending_slot = NO_SLOT, take_slot;

  /* A consumer that died inside get() may have credited itself the task
   * of an item it never took out: repair first, or that task (whose item
   * is still queued) would be written off and join() return early. */
  mpk__ring_repair (ring);
  if (!tasks_lock (shm))
    return 0;
  /* Someone else may be repairing right now (it took rlock first): a
   * credit still journalled and not committed by head is not a task yet.
   * reader_recover() clears the journal under tlock, so this look is
   * consistent with its undo. */
  journal = __atomic_load_n (&shm->take_journal, __ATOMIC_SEQ_CST);
  take_slot = __atomic_load_n (&shm->take_slot, __ATOMIC_SEQ_CST);
  if (journal != 0 && load_head (ring) != journal && take_slot < ring->n_holders
      && __atomic_load_n (&ring->holders[take_slot].taken, __ATOMIC_SEQ_CST)
         == shm->take_journal_count + 1)
    pending_slot = take_slot;
  for (guint i = 0; i < slots_in_use (ring); i++)
    if (__atomic_load_n (&ring->holders[i].pid, __ATOMIC_SEQ_CST) == (guint32) pid)
      {
        written_off += take_outstanding_but (ring, i, i == pending_slot ? 1 : 0, G_MAXUINT64);
      }
  if (written_off > 0 && tasks_unfinished (ring) == 0)
    tasks_finished (shm, lc, 0);
  pthread_mutex_unlock (&shm->tlock);
  return written_off;
}

void
mpk__ring_repair (MpkRing *ring)
{
  int err = pthread_mutex_trylock (&ring->shm->rlock);

  if (err == EOWNERDEAD)
    reader_recover (ring);
  if (err == 0 || err == EOWNERDEAD)
    pthread_mutex_unlock (&ring->shm->rlock);
  check_writer (ring);
}

MpkShmSignal *
mpk__ring_done_signal (MpkRing *ring)
{
  return &ring->shm->done;
}

guint64
mpk__ring_done_clock (MpkRing *ring)
{
  return __atomic_load_n (&ring->shm->done_clock, __ATOMIC_SEQ_CST);
}

guint64
mpk__ring_done_event (MpkRing *ring)
{
  return __atomic_load_n (&ring->shm->done_event, __ATOMIC_SEQ_CST);
}
