/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-ring.h (internal): the shared-memory byte ring under MpkQueue.
 *
 * One ring, any number of producers and consumers: producers take turns
 * under a robust mutex (wlock), consumers under another (rlock), so at any
 * moment the ring has one writer and one reader, who meet only through two
 * 64-bit words (tail and head). Each word packs a byte position (40 bits)
 * and an item count (24 bits), so a single store commits both the bytes and
 * the count: a process killed anywhere leaves either the old state or the
 * new one. An item is one or more chunks, each a 16-byte header and up to
 * capacity/4 bytes; small items are one chunk and move whole, larger ones
 * stream through while the reader empties the ring. A growing ring (an
 * unbounded queue) is one very large ring whose producers go back to its
 * start, past a pad chunk, whenever they find it empty beyond its first
 * (home) bytes, and whose consumers give its pages back behind them. */
#ifndef MPK_RING_H
#define MPK_RING_H

#include "mpk-core-private.h"

G_BEGIN_DECLS

typedef struct _MpkRingShared MpkRingShared;
typedef struct _MpkRingHolder MpkRingHolder;

typedef struct
{
  MpkRingShared         *shm;
  guint8                *data;       /* the ring's bytes, inside the same mapping */
  gsize                  map_size;
  guint64                capacity;   /* this process's copies: never re-read from */
  guint64                max_chunk;  /* shared memory, which others can scribble on */
  guint64                home;       /* the part reused while the ring keeps up: capacity,
                                      * or for a growing ring its first bytes */
  gboolean               grows;      /* a large reservation, committed as it is used */
  guint64                margin;     /* growing ring: room the producers leave unused */
  gboolean               hide_reserve; /* under valgrind: see N_HOLDERS_VALGRIND */
  guint                  n_holders;  /* the holder table's slots */
  gboolean               joinable;
  const MpkObjectHeader *object;     /* the queue, for the tracer's recovery events */
  MpkRingHolder         *holders;    /* JoinableQueue: the task holders' table, after the ring */
  /* This process's last look at the other side, so that a put does not
   * pull the consumers' cache line on every item (nor a get the
   * producers'). Safe because positions only grow; see mpk-ring.c. */
  guint64                seen_head;  /* producer: head when last read */
  guint64                my_tail;    /* producer: the tail this process last stored */
  guint64                seen_tail;  /* consumer: tail when last read */
  guint64                my_head;    /* consumer: the head this process last stored */
} MpkRing;

/* A piece of an item's payload; put() writes them back to back. */
typedef struct
{
  const void *data;
  gsize       size;
} MpkRingPiece;

/* Maps a ring of @capacity bytes (a power of two, 4 KiB to 256 MiB), or
 * with @grows a growing ring: @capacity bytes used over and over while the
 * consumers keep up, inside a reservation of up to MPK__RING_RESERVE bytes
 * of address space (under RLIMIT_AS at most an eighth of what it leaves)
 * that takes what they leave behind (committed as it is written, given
 * back behind the consumers). When not even the smallest reservation that
 * works can be had (16 MiB for a home of 1 MiB), the ring is a fixed one of
 * @capacity bytes (ring->grows is FALSE). Returns FALSE with @error set
 * when shared memory cannot be had. */
#define MPK__RING_RESERVE ((gsize) 1 << 30)
G_GNUC_INTERNAL gboolean mpk__ring_init  (MpkRing                *ring,
                                          gsize                   capacity,
                                          gboolean                grows,
                                          gboolean                joinable,
                                          const MpkObjectHeader  *object,
                                          GError                **error);
/* Unmaps this process's view; the ring lives on in others. */
G_GNUC_INTERNAL void     mpk__ring_clear (MpkRing *ring);

/* Appends one item: @header (stamped by the caller; its length is the
 * pieces' total) then @pieces, waiting by @deadline for a free slot (when
 * @maxsize > 0) and for room. On FALSE nothing of the item will ever be
 * delivered: MPK_ERROR_FULL (no room before the deadline, nothing written),
 * MPK_ERROR_TIMED_OUT (the deadline passed in the middle of a streamed item,
 * which is discarded), MPK_ERROR_PROTOCOL (the ring is corrupt). */
G_GNUC_INTERNAL gboolean mpk__ring_put   (MpkRing             *ring,
                                          MpkWireHeader       *header,
                                          const MpkRingPiece  *pieces,
                                          guint                n_pieces,
                                          gint64               maxsize,
                                          MpkDeadline          deadline,
                                          GError             **error);

/* Takes the front item: returns its payload (transfer full) and fills
 * @header, or NULL with MPK_ERROR_EMPTY (no item began by @deadline; once
 * one has, it is finished whatever the deadline, unless its producer gives
 * it up: see read_rest() in mpk-ring.c), TOO_BIG or
 * PROTOCOL for a bad item header (the item was dropped; the ring goes on),
 * PROTOCOL for corrupt positions or chunks (the ring is broken for good),
 * FAILED (no memory for the item, a damaged mutex), or MPK_ERROR_INVALID
 * when @want_kind is not 0 and the front item is of another kind (it stays). */
G_GNUC_INTERNAL GBytes  *mpk__ring_get   (MpkRing        *ring,
                                          int             want_kind,
                                          guint64         max_length,
                                          MpkWireHeader  *header,
                                          MpkDeadline     deadline,
                                          GError        **error);

/* Items committed and not yet taken (exact when nothing is in flight). */
G_GNUC_INTERNAL gint64   mpk__ring_count        (MpkRing *ring);
/* TRUE when not even the smallest item (a bare wire header) has room. */
G_GNUC_INTERNAL gboolean mpk__ring_no_room      (MpkRing *ring);
G_GNUC_INTERNAL guint    mpk__ring_n_recoveries (MpkRing *ring);

/* JoinableQueue's task count: put adds one, task_done takes one. A task is
 * credited to the process whose get took it, so a dead consumer's tasks
 * can be found. */

/* Records a task_done in the trace (NULL when untraced; called with the task lock held, after
 * the count went down, before join() is woken): @left tasks remain, @prev
 * is the previous task_done's event id. Returns this one's id, or 0. */
typedef guint64 (*MpkRingTaskRecord) (gpointer data, guint64 left, guint64 prev);

typedef enum
{
  MPK__RING_TASK_DONE,
  MPK__RING_TASK_NONE_LEFT,   /* no task was unfinished */
  MPK__RING_TASK_FAILED,      /* the task lock is damaged */
} MpkRingTaskResult;

/* Takes one task (its Lamport clock @lc). */
G_GNUC_INTERNAL MpkRingTaskResult mpk__ring_task_done  (MpkRing           *ring,
                                                        guint64            lc,
                                                        MpkRingTaskRecord  record,
                                                        gpointer           data);
G_GNUC_INTERNAL guint64       mpk__ring_unfinished     (MpkRing *ring);
G_GNUC_INTERNAL guint64       mpk__ring_unfinished_for (MpkRing *ring,
                                                        GPid     pid);
G_GNUC_INTERNAL guint64       mpk__ring_abandon_tasks  (MpkRing *ring,
                                                        GPid     pid,
                                                        guint64  lc);
/* Repairs the ring now if a process died holding one of its locks (the
 * next put or get would do it anyway), for waiters that cannot wait for that. */
G_GNUC_INTERNAL void          mpk__ring_repair         (MpkRing *ring);
/* Notified when the count reaches 0; the clock of that task_done. */
G_GNUC_INTERNAL MpkShmSignal *mpk__ring_done_signal    (MpkRing *ring);
G_GNUC_INTERNAL guint64       mpk__ring_done_clock     (MpkRing *ring);
G_GNUC_INTERNAL guint64       mpk__ring_done_event     (MpkRing *ring);

G_END_DECLS

#endif /* MPK_RING_H */
