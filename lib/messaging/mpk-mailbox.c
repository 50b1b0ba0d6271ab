/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-mailbox.c: the protocol queue's shared memory, a mailbox.
 *
 * pymulproc filters a JoinableQueue by taking its head and putting back
 * what the filter refuses, at the tail: messages overtake one another, two
 * processes can pass one back and forth forever, and a put-back still in a
 * dying process's feeder thread is lost (research: anchor-layers.md §1.5,
 * D1-D3, D7). A FIFO cannot do better, so this is not one. It is a set of
 * fixed-size slots in one shared mapping:
 *
 *   - the queued slots form a list in arrival order (each has its arrival
 *     number, seq); a receiver walks it and takes the first message its
 *     filter accepts, and everything it passes over stays in place;
 *   - each message is taken at most once, under a robust mutex;
 *   - a receiver with nothing to take sleeps on a futex word bumped by every
 *     put (MpkShmSignal), senders waiting for room and joiners on one bumped
 *     by every take: nobody polls;
 *   - a process killed anywhere, even inside the lock, leaves a state the
 *     next locker rebuilds from the slots alone (EOWNERDEAD): a slot's state
 *     word is written last by a put and first by a take, and the lists and
 *     the count are rebuilt from the states and arrival numbers.
 * Every byte here is writable by every process that shares it: indices are
 * checked before use (a bad one rebuilds the lists), and a message is
 * decoded from a private copy and checked (mpk__message_decode). */
#include "mpk-messaging-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_QUEUED 0x51554555u   /* "QUEU"; any other value is free */
#define NO_SLOT     G_MAXUINT32
#define SLOT_ALIGN  64
#define MAX_CAPACITY (1u << 20)
#define MAX_SLOT_SIZE ((gsize) 1 << 24)
#define MAX_MAPPING ((gsize) 1 << 32)

/* One slot: its bookkeeping, then the serialized message. */
typedef struct
{
  guint32 state;        /* SLOT_QUEUED when the message is whole: the put's last
                         * write and the take's first (under the lock) */
  guint32 next;         /* the next slot of its list (queued: arrival order; or free) */
  guint64 seq;          /* arrival number, from 1 */
  gint32  sender;       /* the message's pids, to filter without decoding */
  gint32  recipient;    /* MPK_PID_NONE for everybody */
  guint32 size;         /* bytes of the message */
  guint32 origin_pid;   /* the tracer's message id and clock (MpkWireHeader) */
  guint64 origin_seq;
  guint64 clock;
  guint8  pad[16];
} Slot;
G_STATIC_ASSERT (sizeof (Slot) == 64);

/* The mapping's head, then the slots. All fields are written under @mutex;
 * the waiters read @count and @puts without it (atomically). */
typedef struct
{
  pthread_mutex_t mutex;
  MpkShmSignal    arrived;     /* notified after every put: receivers */
  MpkShmSignal    left;        /* notified after every take: senders, joiners */
  guint32 capacity;            /* set at creation, never written again */
  guint32 slot_size;           /* message bytes per slot */
  guint32 stride;              /* bytes from slot to slot */
  guint32 head, tail;          /* queued slots, oldest first */
  guint32 free_head;           /* free slots that have been used */
  guint32 fresh;               /* slots [fresh, capacity) were never used: a new
                                * mailbox writes no slot, so its pages are
                                * committed only as the queue first grows */
  guint32 count;               /* queued messages */
  guint32 recoveries;          /* repairs after a holder died */
  guint32 broken;              /* non-zero: unusable (see mailbox_lock) */
  guint64 next_seq;            /* the next arrival number */
  guint64 puts;                /* messages ever put: what receivers wait to change */
} MailboxShared;

struct _MpkMailbox
{
  MpkObjectHeader  object;
  MailboxShared   *sh;
  gsize            size;
  guint8          *slots;
};

static inline Slot *
slot_at (MpkMailbox *box, guint32 i)
{
  return (Slot *) (box->slots + (gsize) i * box->sh->stride);
}

static inline guint8 *
slot_data (Slot *slot)
{
  return (guint8 *) (slot + 1);
}

static gsize
align_up (gsize n, gsize to)
{
  return (n + to - 1) / to * to;
}

MpkMailbox *
mpk__mailbox_new (guint    capacity,
                  gsize    max_message_size,
                  GError **error)
{
  MpkMailbox *box;
  gsize head = align_up (sizeof (MailboxShared), SLOT_ALIGN), stride, size;

  if (capacity == 0 || capacity > MAX_CAPACITY || max_message_size == 0
      || max_message_size > MAX_SLOT_SIZE)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "protocol queue: capacity must be 1 to %u messages and the message "
                   "size 1 to %" G_GSIZE_FORMAT " bytes", MAX_CAPACITY, MAX_SLOT_SIZE);
      return NULL;
    }
  stride = align_up (sizeof (Slot) + max_message_size, SLOT_ALIGN);
  size = head + stride * capacity;
  if (size > MAX_MAPPING)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "protocol queue: %u slots of %" G_GSIZE_FORMAT " bytes are over 4 GiB",
                   capacity, stride);
      return NULL;
    }
  box = g_new0 (MpkMailbox, 1);
  /* Address space only: a slot's pages are committed when first written. */
  box->sh = mpk__shm_reserve (size, error);
  if (box->sh == NULL)
    {
      g_free (box);
      return NULL;
    }
  box->size = size;
  box->slots = (guint8 *) box->sh + head;
  if (!mpk__mutex_init (&box->sh->mutex, PTHREAD_MUTEX_NORMAL, error))
    {
      mpk__mailbox_free (box);
      return NULL;
    }
  box->sh->capacity = capacity;
  box->sh->slot_size = stride - sizeof (Slot);
  box->sh->stride = stride;
  box->sh->head = box->sh->tail = NO_SLOT;
  box->sh->next_seq = 1;
  box->sh->free_head = NO_SLOT;
  box->sh->fresh = 0;
  mpk__trace_object_init (&box->object, MPK__OBJECT_QUEUE);
  return box;
}

void
mpk__mailbox_free (MpkMailbox *box)
{
  if (box == NULL)
    return;
  mpk__shm_free (box->sh, box->size);
  g_free (box);
}

const MpkObjectHeader *
mpk__mailbox_get_object (MpkMailbox *box)
{
  return &box->object;
}

guint8 *
mpk__mailbox_slot_for_testing (MpkMailbox  *box,
                               guint        index,
                               guint32    **size)
{
  Slot *slot = slot_at (box, index);

  *size = &slot->size;
  return slot_data (slot);
}

guint
mpk__mailbox_get_n_recoveries (MpkMailbox *box)
{
  return __atomic_load_n (&box->sh->recoveries, __ATOMIC_RELAXED);
}

/* --- repair ------------------------------------------------------------------ */

static int
by_seq (const void *a, const void *b, void *box)
{
  guint64 sa = slot_at (box, *(const guint32 *) a)->seq;
  guint64 sb = slot_at (box, *(const guint32 *) b)->seq;

  return sa < sb ? -1 : sa > sb;
}

/* Rebuilds the lists and the count from the slots alone: a queued slot
 * (state, a sane size and arrival number) stays, in arrival order; every
 * other slot is free. What a process killed in the middle of a put or take
 * left half-done is thereby finished or undone. Called with the lock held. */
static void
rebuild (MpkMailbox *box)
{
  MailboxShared *sh = box->sh;
  g_autofree guint32 *queued = NULL;
  guint32 n = 0, free_head = NO_SLOT;

  /* Slots past the watermark were never written: they stay fresh. */
  if (sh->fresh > sh->capacity)
    sh->fresh = sh->capacity;
  queued = g_new (guint32, MAX (sh->fresh, 1));
  for (guint32 i = 0; i < sh->fresh; i++)
    {
      Slot *slot = slot_at (box, i);

      if (slot->state == SLOT_QUEUED && slot->size <= sh->slot_size
          && slot->seq > 0 && slot->seq < sh->next_seq)
        queued[n++] = i;
      else
        slot->state = 0;
    }
  qsort_r (queued, n, sizeof *queued, by_seq, box);
  sh->head = sh->tail = NO_SLOT;
  for (guint32 k = 0; k < n; k++)
    {
      slot_at (box, queued[k])->next = NO_SLOT;
      if (sh->tail == NO_SLOT)
        sh->head = queued[k];
      else
        slot_at (box, sh->tail)->next = queued[k];
      sh->tail = queued[k];
    }
  for (guint32 i = sh->fresh; i-- > 0;)
    if (slot_at (box, i)->state != SLOT_QUEUED)
      {
        slot_at (box, i)->next = free_head;
        free_head = i;
      }
  sh->free_head = free_head;
  __atomic_store_n (&sh->count, n, __ATOMIC_RELEASE);
}

/* Takes the lock by @deadline. A holder that died is repaired here: the
 * state is rebuilt and the mutex made consistent. */
static gboolean
mailbox_lock (MpkMailbox  *box,
              MpkDeadline  deadline,
              GError     **error)
{
  MailboxShared *sh = box->sh;
  int err = mpk__mutex_lock (&sh->mutex, deadline);

  if (err == EOWNERDEAD)
    {
      /* The shared capacity and stride are set once; a wrong one means the
       * mapping was overwritten, and nothing can be rebuilt from it. */
      if (sh->stride != align_up (sizeof (Slot) + sh->slot_size, SLOT_ALIGN)
          || sh->stride * (gsize) sh->capacity + (box->slots - (guint8 *) sh) != box->size)
        sh->broken = 1;
      else
        rebuild (box);
      sh->recoveries++;
      pthread_mutex_consistent (&sh->mutex);
      if (MPK__TRACING (MPK__TRACE_MSG))
        {
          MpkTraceLine line;

          mpk__trace_begin (&line, "queue.recovered", 0, 0);
          mpk__trace_add_object (&line, &box->object);
          mpk__trace_add_str (&line, "side", "mailbox");
          mpk__trace_end (&line);
        }
      err = 0;
    }
  if (err == ETIMEDOUT)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                           "protocol queue: still locked by another process at the timeout");
      return FALSE;
    }
  if (err != 0)
    return mpk__set_error_from_errno (error, err, "protocol queue lock");
  if (sh->broken)
    {
      pthread_mutex_unlock (&sh->mutex);
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "protocol queue: its shared memory is corrupt");
      return FALSE;
    }
  return TRUE;
}

static void
mailbox_unlock (MpkMailbox *box)
{
  pthread_mutex_unlock (&box->sh->mutex);
}

/* A list index read from shared memory: in range, or the lists are rebuilt. */
static gboolean
index_ok (MpkMailbox *box, guint32 i)
{
  return i == NO_SLOT || i < box->sh->capacity;
}

/* --- put ------------------------------------------------------------------------ */

static int
has_room (gpointer data)
{
  MailboxShared *sh = data;

  return __atomic_load_n (&sh->count, __ATOMIC_ACQUIRE) < sh->capacity
         || __atomic_load_n (&sh->broken, __ATOMIC_RELAXED);
}

gboolean
mpk__mailbox_put (MpkMailbox          *box,
                  const char          *request,
                  GPid                 sender,
                  GPid                 recipient,
                  GVariant            *data,
                  MpkWireHeader       *header,
                  MpkDeadline          deadline,
                  GError             **error)
{
  MailboxShared *sh = box->sh;
  gsize size = mpk__message_encoded_size (request, data);

  if (size > sh->slot_size)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG,
                   "protocol queue: a message of %" G_GSIZE_FORMAT " bytes is over "
                   "the slot size of %u", size, sh->slot_size);
      return FALSE;
    }
  mpk__wire_stamp (header, MPK__WIRE_KIND_VARIANT, size);
  for (;;)
    {
      guint32 i;
      Slot *slot;

      if (!mailbox_lock (box, deadline, error))
        return FALSE;
      i = sh->free_head;
      if (!index_ok (box, i))
        {
          rebuild (box);
          i = sh->free_head;
        }
      if (i == NO_SLOT && sh->fresh < sh->capacity)
        i = sh->fresh++;   /* a death before the commit leaves it free */
      else if (i != NO_SLOT)
        sh->free_head = slot_at (box, i)->next;
      if (i != NO_SLOT)
        {
          slot = slot_at (box, i);
          MPK__CRASH_POINT ("mailbox.put.claimed");
          mpk__message_encode (slot_data (slot), request, data);
          slot->size = size;
          slot->sender = sender;
          slot->recipient = recipient;
          slot->origin_pid = header->pid;
          slot->origin_seq = header->seq;
          slot->clock = header->clock;
          slot->seq = sh->next_seq++;
          slot->next = NO_SLOT;
          MPK__CRASH_POINT ("mailbox.put.copied");
          __atomic_store_n (&slot->state, SLOT_QUEUED, __ATOMIC_RELEASE);
          if (sh->tail == NO_SLOT || !index_ok (box, sh->tail))
            sh->head = i;
          else
            slot_at (box, sh->tail)->next = i;
          sh->tail = i;
          MPK__CRASH_POINT ("mailbox.put.linked");
          __atomic_store_n (&sh->count, sh->count + 1, __ATOMIC_RELEASE);
          __atomic_store_n (&sh->puts, sh->puts + 1, __ATOMIC_RELEASE);
          mailbox_unlock (box);
          mpk__signal_notify (&sh->arrived);
          return TRUE;
        }
      mailbox_unlock (box);
      if (!mpk__signal_wait_until (&sh->left, has_room, sh, deadline, 0))
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_FULL,
                       "protocol queue: all %u slots still full at the timeout", sh->capacity);
          return FALSE;
        }
    }
}

/* --- take ------------------------------------------------------------------------ */

/* Unlinks queued slot @i (after @prev, or the head) and frees it. */
static void
remove_slot (MpkMailbox *box, guint32 prev, guint32 i)
{
  MailboxShared *sh = box->sh;
  Slot *slot = slot_at (box, i);

  slot->state = 0;   /* first: from here on a repair sees it free */
  MPK__CRASH_POINT ("mailbox.take.freed");
  if (prev == NO_SLOT)
    sh->head = slot->next;
  else
    slot_at (box, prev)->next = slot->next;
  if (sh->tail == i)
    sh->tail = prev;
  slot->next = sh->free_head;
  sh->free_head = i;
  __atomic_store_n (&sh->count, sh->count - 1, __ATOMIC_RELEASE);
}

static void
fill_header (MpkWireHeader *header, const Slot *slot)
{
  memset (header, 0, sizeof *header);
  header->kind = MPK__WIRE_KIND_VARIANT;
  header->length = slot->size;
  header->pid = slot->origin_pid;
  header->seq = slot->origin_seq;
  header->clock = slot->clock;
}

/* A copy of slot @slot's message, checked; NULL when it is corrupt. */
static MpkMessage *
decode_slot (MpkMailbox *box, Slot *slot, GError **error)
{
  if (slot->size > box->sh->slot_size)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "protocol queue: a slot claims %u bytes", slot->size);
      return NULL;
    }
  return mpk__message_decode (slot_data (slot), slot->size, slot->sender, slot->recipient,
                              error);
}

/* Whether @filter may accept @slot from its pids alone (no decoding). */
static gboolean
quick_accepts (const MpkMessageFilter *filter, const Slot *slot, GPid me)
{
  if (filter == NULL)
    return TRUE;
  if ((filter->match & MPK_MATCH_FOR_ME) && slot->recipient != MPK_PID_NONE
      && slot->recipient != me)
    return FALSE;
  if ((filter->match & MPK_MATCH_TO_ME) && slot->recipient != me)
    return FALSE;
  if ((filter->match & MPK_MATCH_SENDER) && slot->sender != filter->sender_pid)
    return FALSE;
  return TRUE;
}

static void
trace_left (MpkMailbox *box, Slot *slot)
{
  g_autoptr(MpkMessage) message = decode_slot (box, slot, NULL);
  MpkTraceLine line;
  char id[48];

  if (message == NULL)
    return;
  mpk__trace_begin (&line, "msg.left", 0, 0);
  mpk__trace_add_object (&line, &box->object);
  g_snprintf (id, sizeof id, "%u.%" G_GUINT64_FORMAT, slot->origin_pid, slot->origin_seq);
  mpk__trace_add_str (&line, "ref", id);
  mpk__message_trace_fields (&line, message);
  mpk__trace_end (&line);
}

/* Whether @filter looks past the pids (request, a function of its own):
 * then a slot is decoded under the lock to ask it. */
static gboolean
needs_message (const MpkMessageFilter *filter)
{
  return filter != NULL && ((filter->match & MPK_MATCH_REQUEST) || filter->func != NULL);
}

/* Takes slot @i (after @prev) whatever it holds: copies its bytes, removes
 * it, unlocks, then decodes the copy. A corrupt one is gone all the same
 * (it blocks nobody) and reported as PROTOCOL. Called locked; returns
 * unlocked. */
static MpkMessage *
take_copy (MpkMailbox     *box,
           guint32         prev,
           guint32         i,
           MpkWireHeader  *header,
           GError        **error)
{
  Slot *slot = slot_at (box, i);
  guint8 small[512];
  g_autofree guint8 *large = NULL;
  guint8 *copy = small;
  guint32 size = slot->size;
  GPid sender = slot->sender, recipient = slot->recipient;

  fill_header (header, slot);
  if (size > box->sh->slot_size)
    size = G_MAXUINT32;   /* corrupt: said below, after the unlock */
  else if (size > sizeof small)
    copy = large = g_malloc (size);
  if (size != G_MAXUINT32)
    memcpy (copy, slot_data (slot), size);
  remove_slot (box, prev, i);
  mailbox_unlock (box);
  mpk__signal_notify (&box->sh->left);
  if (size == G_MAXUINT32)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "protocol queue: a slot claims more bytes than it has");
      return NULL;
    }
  return mpk__message_decode (copy, size, sender, recipient, error);
}

typedef struct
{
  MailboxShared *sh;
  guint64        seen;
} ArrivedWait;

static int
arrived_since (gpointer data)
{
  ArrivedWait *w = data;

  return __atomic_load_n (&w->sh->puts, __ATOMIC_ACQUIRE) != w->seen
         || __atomic_load_n (&w->sh->broken, __ATOMIC_RELAXED);
}

MpkMessage *
mpk__mailbox_take (MpkMailbox             *box,
                   const MpkMessageFilter *filter,
                   GPid                    me,
                   MpkWireHeader          *header,
                   MpkDeadline             deadline,
                   GError                **error)
{
  MailboxShared *sh = box->sh;
  guint64 passed = 0;   /* every message up to this arrival number was refused by
                         * this call: later looks skip them (the filter is asked
                         * once per message per call) */

  for (;;)
    {
      ArrivedWait w = { sh, 0 };
      guint32 prev = NO_SLOT, i, steps = 0;

      if (!mailbox_lock (box, deadline, error))
        return NULL;
    again:
      prev = NO_SLOT;
      steps = 0;
      for (i = sh->head; i != NO_SLOT;)
        {
          Slot *slot;

          if (!index_ok (box, i) || ++steps > sh->capacity)
            {
              rebuild (box);
              goto again;
            }
          slot = slot_at (box, i);
          if (slot->seq > passed)
            {
              g_autoptr(MpkMessage) message = NULL;
              GError *local = NULL;

              if (quick_accepts (filter, slot, me) && !needs_message (filter))
                {
                  /* The pids decide: copy the bytes out and decode them
                   * after the unlock, so that the lock is held for a
                   * memcpy, not for the checks and allocations of a
                   * decode (the senders wait for it). */
                  return take_copy (box, prev, i, header, error);
                }
              if (quick_accepts (filter, slot, me))
                {
                  message = decode_slot (box, slot, &local);
                  if (message == NULL || mpk_message_filter_accepts (filter, message, me))
                    {
                      /* Taken; or corrupt, and then removed too, so that it
                       * blocks nobody, and reported. */
                      fill_header (header, slot);
                      remove_slot (box, prev, i);
                      mailbox_unlock (box);
                      mpk__signal_notify (&sh->left);
                      if (message == NULL)
                        {
                          g_propagate_error (error, local);
                          return NULL;
                        }
                      return g_steal_pointer (&message);
                    }
                }
              if (MPK__TRACING (MPK__TRACE_MSG))
                trace_left (box, slot);
              passed = slot->seq;
            }
          prev = i;
          i = slot->next;
        }
      w.seen = __atomic_load_n (&sh->puts, __ATOMIC_RELAXED);
      mailbox_unlock (box);
      if (!mpk__signal_wait_until (&sh->arrived, arrived_since, &w, deadline, 0))
        {
          g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                               "protocol queue: no message this receiver accepts before the timeout");
          return NULL;
        }
    }
}

/* --- counts, join, collect ----------------------------------------------------------- */

guint
mpk__mailbox_count (MpkMailbox *box,
                    gboolean    any,
                    GPid        recipient)
{
  MailboxShared *sh = box->sh;
  guint n = 0, steps = 0;

  if (any)
    return __atomic_load_n (&sh->count, __ATOMIC_ACQUIRE);
  if (!mailbox_lock (box, MPK__DEADLINE_NEVER, NULL))
    return 0;
  for (guint32 i = sh->head; i != NO_SLOT && index_ok (box, i) && ++steps <= sh->capacity;
       i = slot_at (box, i)->next)
    if (slot_at (box, i)->recipient == recipient)
      n++;
  mailbox_unlock (box);
  return n;
}

typedef struct
{
  MpkMailbox  *box;
  MpkProcess **watch;
  guint        n_watch;
  GPid         dead;
  guint        dead_count;
} JoinWait;

static int
join_done (gpointer data)
{
  JoinWait *w = data;

  if (__atomic_load_n (&w->box->sh->count, __ATOMIC_ACQUIRE) == 0)
    return 1;
  if (__atomic_load_n (&w->box->sh->broken, __ATOMIC_RELAXED))
    return 3;
  for (guint k = 0; k < w->n_watch; k++)
    {
      GPid pid = mpk_process_get_pid (w->watch[k]);
      guint n;

      if (pid <= 0 || mpk_process_is_alive (w->watch[k]))
        continue;
      if ((n = mpk__mailbox_count (w->box, FALSE, pid)) > 0)
        {
          w->dead = pid;
          w->dead_count = n;
          return 2;
        }
    }
  return 0;
}

gboolean
mpk__mailbox_join (MpkMailbox  *box,
                   MpkProcess **watch,
                   guint        n_watch,
                   MpkDeadline  deadline,
                   GError     **error)
{
  JoinWait w = { box, watch, n_watch, 0, 0 };

  /* A death is nobody's notify: with processes to watch, look every 10 ms. */
  switch (mpk__signal_wait_until (&box->sh->left, join_done, &w, deadline,
                                  n_watch > 0 ? 10 * 1000 : 0))
    {
    case 1:
      return TRUE;
    case 2:
      g_set_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED,
                   "protocol queue: process %d ended with %u message(s) for it still "
                   "queued (mpk_protocol_queue_collect() takes them)",
                   (int) w.dead, w.dead_count);
      return FALSE;
    case 3:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "protocol queue: its shared memory is corrupt");
      return FALSE;
    default:
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                   "protocol queue: %u message(s) still queued at the timeout",
                   __atomic_load_n (&box->sh->count, __ATOMIC_ACQUIRE));
      return FALSE;
    }
}

GPtrArray *
mpk__mailbox_collect (MpkMailbox  *box,
                      GPid         recipient,
                      GError     **error)
{
  MailboxShared *sh = box->sh;
  GPtrArray *taken = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_message_unref);
  guint32 prev = NO_SLOT, i, steps = 0;

  if (!mailbox_lock (box, MPK__DEADLINE_NEVER, error))
    {
      g_ptr_array_unref (taken);
      return NULL;
    }
  for (i = sh->head; i != NO_SLOT;)
    {
      Slot *slot;
      guint32 next;

      if (!index_ok (box, i) || ++steps > sh->capacity)
        {
          rebuild (box);
          prev = NO_SLOT;
          i = sh->head;
          steps = 0;
          continue;
        }
      slot = slot_at (box, i);
      next = slot->next;
      if (slot->recipient == recipient)
        {
          MpkMessage *message = decode_slot (box, slot, NULL);

          if (message != NULL)
            g_ptr_array_add (taken, message);
          remove_slot (box, prev, i);
        }
      else
        prev = i;
      i = next;
    }
  mailbox_unlock (box);
  mpk__signal_notify (&sh->left);
  return taken;
}
