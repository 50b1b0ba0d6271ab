/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-queue.c: multiprocessing.Queue, JoinableQueue and SimpleQueue.
 *
 * Python's Queue is a pipe, two locks, a semaphore and a feeder thread per
 * process. Ours is a byte ring in shared memory (mpk-ring.c) and nothing
 * else: put() copies the item in and returns, get() copies it out. There is
 * no thread, so an item whose put() returned is in the queue, a process may
 * exit at once, and an error (a value too big, a timeout) comes back to the
 * caller of put(). This file holds the API: serialising, deadlines, the
 * JoinableQueue's task count and the tracer's events. */
#include "mpk-objects-private.h"
#include "mpk-ring.h"

#include <errno.h>
#include <string.h>

struct _MpkQueue
{
  MpkObjectHeader object;
  MpkRing         ring;
  gint64          maxsize;       /* <= 0: unbounded */
  gboolean        joinable;
  gboolean        closed;
  guint64         max_message_size;
};

struct _MpkSimpleQueue
{
  MpkQueue queue;
};

#define MAX_BUFFER_SIZE ((gsize) 1 << 28)   /* a fixed ring; a growing one is larger */
#define MIN_BUFFER_SIZE ((gsize) 4096)

static gboolean
queue_init (MpkQueue *queue,
            gint64    maxsize,
            gboolean  joinable,
            gsize     buffer_size,
            GError  **error)
{
  gsize capacity = MIN_BUFFER_SIZE, wanted = buffer_size != 0 ? buffer_size
                                                             : MPK_QUEUE_DEFAULT_BUFFER_SIZE;

  while (capacity < wanted && capacity < MAX_BUFFER_SIZE)
    capacity <<= 1;
  mpk__trace_object_init (&queue->object, MPK__OBJECT_QUEUE);
  if (!mpk__ring_init (&queue->ring, capacity, buffer_size == 0, joinable, &queue->object,
                       error))
    return FALSE;
  queue->maxsize = maxsize > 0 ? maxsize : 0;
  queue->joinable = joinable;
  queue->max_message_size = MPK_DEFAULT_MAX_MESSAGE_SIZE;
  return TRUE;
}

/**
 * mpk_queue_new_full:
 * @maxsize: the most items the queue holds at once; 0 or less for no limit
 * @joinable: %TRUE for a JoinableQueue (task_done() and join())
 * @buffer_size: %MPK_QUEUE_BUFFER_GROWS (0) for a buffer that grows as
 *   needed, as the other constructors make; or a fixed size in bytes
 *   (rounded up to a power of two, 4 KiB to 256 MiB), which then bounds the
 *   queue too: put() waits for room, and items over a quarter of it are
 *   streamed through in pieces while a consumer takes them
 * @error: return location for a #GError, or %NULL
 *
 * Creates a queue in shared memory, shared by this process and every process
 * started after it: Python's `multiprocessing.Queue(maxsize)` or
 * `JoinableQueue(maxsize)`. Create it before starting the processes that use
 * it, as the Python documents do.
 *
 * What "no limit" means: a growing buffer reuses its first
 * %MPK_QUEUE_DEFAULT_BUFFER_SIZE bytes while the consumers keep up, and
 * when they fall behind, goes on into a reservation of address space whose
 * memory is committed as it is written and given back, 2 MiB at a time,
 * once the consumers have taken what was there (the reservation's first
 * 2 MiB stay). The reservation is 1 GiB; under a limit on address space
 * (RLIMIT_AS, `ulimit -v`), which counts a reservation in full whether or
 * not it is used, it is at most an eighth of the address space the limit
 * leaves when the queue is made (a power of two, so between a sixteenth and
 * an eighth), and less where the system refuses that much. A reservation
 * under 16 MiB would be full before it was used: where not even 16 MiB can
 * be had (under RLIMIT_AS, less than 128 MiB to spare), the queue gets a
 * fixed buffer of %MPK_QUEUE_DEFAULT_BUFFER_SIZE instead, as if made with
 * that buffer_size (put() then waits for room; mpk_queue_get_buffer_size()
 * says the same either way). A JoinableQueue adds 4 MiB of address space
 * for its task holders' table (65536 consumers holding tasks at once; the
 * tasks of any more are counted but not credited to their process).
 * So with maxsize 0 a queue takes items until nearly its reservation is
 * queued at once (4 MiB short of it; in 1 GiB about 16 million small
 * items): put_nowait() fails %MPK_ERROR_FULL only then, and full() says
 * so. A put() that may wait still waits for consumers that are taking
 * items (one in the last 20 ms) before it grows the buffer, so that a fast
 * producer does not run ahead of them into fresh memory; it grows it at
 * once when they stop or its timeout is near. A queue with maxsize > 0
 * holds at most maxsize items, of any size within that.
 *
 * Returns: (transfer full): the queue, free with mpk_queue_free(); %NULL with
 *   @error set if shared memory cannot be had
 */
MpkQueue *
mpk_queue_new_full (gint64    maxsize,
                    gboolean  joinable,
                    gsize     buffer_size,
                    GError  **error)
{
  MpkQueue *queue;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  queue = g_new0 (MpkQueue, 1);
  if (!queue_init (queue, maxsize, joinable, buffer_size, error))
    g_clear_pointer (&queue, g_free);
  return queue;
}

/**
 * mpk_queue_new:
 * @maxsize: the most items the queue holds at once; 0 or less for no limit
 * @error: return location for a #GError, or %NULL
 *
 * Creates a queue with the default buffer (%MPK_QUEUE_DEFAULT_BUFFER_SIZE),
 * Python's `multiprocessing.Queue(maxsize)`. See mpk_queue_new_full().
 *
 * Returns: (transfer full): the queue, or %NULL with @error set
 */
MpkQueue *
mpk_queue_new (gint64    maxsize,
               GError  **error)
{
  return mpk_queue_new_full (maxsize, FALSE, MPK_QUEUE_BUFFER_GROWS, error);
}

/**
 * mpk_joinable_queue_new:
 * @maxsize: the most items the queue holds at once; 0 or less for no limit
 * @error: return location for a #GError, or %NULL
 *
 * Creates a JoinableQueue, Python's `multiprocessing.JoinableQueue(maxsize)`:
 * a queue that also counts unfinished tasks (mpk_queue_task_done(),
 * mpk_queue_join()).
 *
 * What the count does when a process dies:
 * - a producer killed inside put() adds no task (its item is discarded);
 * - a consumer killed inside get() before it took the item leaves the item
 *   (and its task) for another consumer;
 * - a consumer killed after get() took the item, before task_done(),
 *   leaves the task unfinished for good. The
 *   queue knows which process took it: mpk_queue_get_unfinished_for() counts
 *   it, mpk_queue_join_full() fails with %MPK_ERROR_PEER_DIED instead of
 *   waiting, and mpk_queue_abandon_tasks() writes it off;
 * - an item the queue itself drops undelivered (the rest of a streamed item
 *   whose reader died, a corrupt or oversized item) counts as done.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set
 */
MpkQueue *
mpk_joinable_queue_new (gint64    maxsize,
                        GError  **error)
{
  return mpk_queue_new_full (maxsize, TRUE, MPK_QUEUE_BUFFER_GROWS, error);
}

/**
 * mpk_queue_close:
 * @queue: (transfer none): a queue
 *
 * Closes this process's handle, Python's `queue.close()`: afterwards put
 * and get fail with %MPK_ERROR_CLOSED here, while other processes keep
 * using the queue. Idempotent. Nothing is lost: there is no buffer to
 * flush, since put() has finished when it returns. A call already waiting
 * in another thread of this process finishes normally; the shared memory
 * is unmapped by mpk_queue_free().
 */
void
mpk_queue_close (MpkQueue *queue)
{
  g_return_if_fail (queue != NULL);
  queue->closed = TRUE;
}

/**
 * mpk_queue_free:
 * @queue: (transfer full) (nullable): a queue
 *
 * Closes @queue in this process (mpk_queue_close()) and frees the handle.
 */
void
mpk_queue_free (MpkQueue *queue)
{
  if (queue == NULL)
    return;
  mpk_queue_close (queue);
  mpk__ring_clear (&queue->ring);
  g_free (queue);
}

/**
 * mpk_queue_is_closed:
 * @queue: (transfer none): a queue
 *
 * Whether this process closed its handle; other processes' handles are
 * theirs (Python's Queue has no such call: it tracks `_closed` inside).
 *
 * Returns: %TRUE after mpk_queue_close() in this process
 */
gboolean
mpk_queue_is_closed (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, TRUE);
  return queue->closed;
}

/**
 * mpk_queue_is_joinable:
 * @queue: (transfer none): a queue
 *
 * Tells a JoinableQueue (from mpk_joinable_queue_new(), or
 * mpk_queue_new_full() with @joinable) from a plain Queue.
 *
 * Returns: %TRUE for a JoinableQueue
 */
gboolean
mpk_queue_is_joinable (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  return queue->joinable;
}

/**
 * mpk_queue_get_maxsize:
 * @queue: (transfer none): a queue
 *
 * Python's `queue._maxsize`: the most items the queue holds at once.
 *
 * Returns: the item limit given at creation, 0 for none
 */
gint64
mpk_queue_get_maxsize (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  return queue->maxsize;
}

/**
 * mpk_queue_get_buffer_size:
 * @queue: (transfer none): a queue
 *
 * The size of the queue's shared buffer, as mpk_queue_new_full() chose
 * it.
 *
 * Returns: the bytes of shared buffer (a power of two); for a growing
 *   buffer, the part it reuses while the consumers keep up
 *   (%MPK_QUEUE_DEFAULT_BUFFER_SIZE)
 */
gsize
mpk_queue_get_buffer_size (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  return queue->ring.home;
}

/**
 * mpk_queue_set_max_message_size:
 * @queue: (transfer none): a queue
 * @max_size: the largest item, in payload bytes, this process accepts
 *
 * Items announced as larger are dropped by get() with %MPK_ERROR_TOO_BIG,
 * before any memory is set aside for them (shared memory is written by other
 * processes: its contents are not trusted). Default 1 GiB.
 */
void
mpk_queue_set_max_message_size (MpkQueue *queue,
                                guint64   max_size)
{
  g_return_if_fail (queue != NULL);
  queue->max_message_size = max_size;
}

static gboolean
check_open (MpkQueue *queue, GError **error)
{
  if (queue->closed)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_CLOSED, "queue is closed");
      return FALSE;
    }
  return TRUE;
}

/* The item's place in the queue's order ("ord"): how many items had been
 * put (for a put) or taken (for a get) when this one was, its own
 * included. The ring counts them in the word a put or get commits under
 * its lock (the count above mpk-ring.c's 36 bits of position), and this
 * process's copy of that word is the one it stored last: its own item's,
 * unless another thread of this process used the same handle meanwhile. */
#define RING_WORD_COUNT(word) ((word) >> 36)

static void
trace_item (MpkQueue            *queue,
            const char          *ev,
            MpkTraceDirection    dir,
            gint64               ts,
            const MpkWireHeader *header,
            GVariant            *value)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, ev, ts,
                    dir == MPK__TRACE_OUT ? header->clock
                                          : mpk__wire_clock_receive (header->clock));
  mpk__trace_add_object (&line, &queue->object);
  mpk__trace_add_message (&line, dir, header, value);
  mpk__trace_add_order (&line, RING_WORD_COUNT (dir == MPK__TRACE_OUT ? queue->ring.my_tail
                                                                      : queue->ring.my_head));
  mpk__trace_end (&line);
}

/* put() of one item already split into header, type string and data. */
static gboolean
queue_put_item (MpkQueue       *queue,
                MpkWireHeader  *header,
                const void     *type,
                gsize           type_len,
                const void     *data,
                gsize           size,
                GVariant       *value,
                gint64          timeout_us,
                GError        **error)
{
  MpkRingPiece pieces[2] = { { type, type_len }, { data, size } };
  gint64 ts = 0;

  if (!check_open (queue, error))
    return FALSE;
  if (header->length > queue->max_message_size)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG,
                   "queue: an item of %" G_GUINT64_FORMAT " bytes is over the limit of %"
                   G_GUINT64_FORMAT, header->length, queue->max_message_size);
      return FALSE;
    }
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    {
      MpkTraceWaiting waiting;
      gboolean ok;

      ts = mpk__trace_now ();
      mpk__trace_wait_enter (&waiting, &queue->object, "put");
      ok = mpk__ring_put (&queue->ring, header, pieces, G_N_ELEMENTS (pieces), queue->maxsize,
                          mpk__deadline_from_timeout (timeout_us), error);
      mpk__trace_wait_leave (&waiting);
      if (ok)
        trace_item (queue, "queue.put", MPK__TRACE_OUT, ts, header, value);
      return ok;
    }
  return mpk__ring_put (&queue->ring, header, pieces, G_N_ELEMENTS (pieces), queue->maxsize,
                        mpk__deadline_from_timeout (timeout_us), error);
}

/**
 * mpk_queue_put:
 * @queue: (transfer none): a queue
 * @item: (transfer none): the item; a floating reference is sunk
 * @timeout_us: microseconds to wait for room, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Puts @item at the back of the queue, Python's `queue.put(obj, block,
 * timeout)`. When it returns %TRUE the item is in the queue's shared memory:
 * no thread finishes the job later, so this process may exit at once and a
 * process that joins it first never deadlocks. An item larger than the
 * buffer is streamed through it while consumers read it; then @timeout_us
 * bounds the whole transfer, and an item cut short by the timeout is
 * discarded, never delivered in part.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_FULL (no room before the timeout),
 *   %MPK_ERROR_TIMED_OUT (the timeout expired in the middle of a streamed
 *   item), %MPK_ERROR_CLOSED, %MPK_ERROR_INVALID (a type string of more
 *   than 255 characters), %MPK_ERROR_TOO_BIG or %MPK_ERROR_PROTOCOL (the
 *   queue's shared memory was found corrupt)
 */
gboolean
mpk_queue_put (MpkQueue  *queue,
               GVariant  *item,
               gint64     timeout_us,
               GError   **error)
{
  MpkWireOutgoing out;
  gboolean ok;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (item != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mpk__wire_outgoing_init (&out, item, error))
    return FALSE;
  ok = queue_put_item (queue, &out.header, out.type, out.type_len, out.data, out.size,
                       out.value, timeout_us, error);
  mpk__wire_outgoing_clear (&out);
  return ok;
}

/**
 * mpk_queue_put_nowait:
 * @queue: (transfer none): a queue
 * @item: (transfer none): the item; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * mpk_queue_put() with %MPK_NO_WAIT, Python's `queue.put_nowait(obj)`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_FULL if there is no room now
 */
gboolean
mpk_queue_put_nowait (MpkQueue  *queue,
                      GVariant  *item,
                      GError   **error)
{
  return mpk_queue_put (queue, item, MPK_NO_WAIT, error);
}

/**
 * mpk_queue_put_bytes:
 * @queue: (transfer none): a queue
 * @data: (transfer none) (array length=size) (nullable): the bytes,
 *   copied into the queue (%NULL only when @size is 0)
 * @size: how many
 * @timeout_us: microseconds to wait for room, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Puts raw bytes as one item (what `queue.put(b"...")` carries in Python,
 * without pickling). mpk_queue_get_bytes() takes it out; mpk_queue_get()
 * returns it as a bytestring (`ay`) variant.
 *
 * Returns: %TRUE; %FALSE with an error as for mpk_queue_put()
 */
gboolean
mpk_queue_put_bytes (MpkQueue      *queue,
                     gconstpointer  data,
                     gsize          size,
                     gint64         timeout_us,
                     GError       **error)
{
  MpkWireHeader header;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  mpk__wire_stamp (&header, MPK__WIRE_KIND_BYTES, size);
  return queue_put_item (queue, &header, NULL, 0, data, size, NULL, timeout_us, error);
}

/* get() of one item as its header and payload bytes. */
static GBytes *
queue_get_item (MpkQueue       *queue,
                gboolean        want_bytes,
                MpkWireHeader  *header,
                gint64          timeout_us,
                GError        **error)
{
  MpkTraceWaiting waiting;
  GBytes *payload;

  if (!check_open (queue, error))
    return NULL;
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    mpk__trace_wait_enter (&waiting, &queue->object, "get");
  payload = mpk__ring_get (&queue->ring, want_bytes ? MPK__WIRE_KIND_BYTES : 0,
                           queue->max_message_size, header,
                           mpk__deadline_from_timeout (timeout_us), error);
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    mpk__trace_wait_leave (&waiting);
  return payload;
}

/**
 * mpk_queue_get:
 * @queue: (transfer none): a queue
 * @timeout_us: microseconds to wait for an item, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Removes and returns the item at the front, Python's `queue.get(block,
 * timeout)`. Items from one producer come out in the order it put them.
 * The timeout bounds the wait for an item to begin. An item larger than a
 * quarter of the buffer is streamed: its producer may still be writing it
 * when the get starts reading, and the get's first read takes the item's
 * first pieces out of the buffer. From then on the get finishes the item
 * even past its timeout, because giving up would lose an item whose put()
 * returns %TRUE; it waits only as long as the producer is alive and
 * putting (the put's own timeout bounds it: a put that gives up discards
 * its item, and the get goes on to the next item or fails EMPTY).
 * The item is checked before it is returned: shared memory is writable by
 * every process that shares the queue, so a corrupt item gives
 * %MPK_ERROR_PROTOCOL, never a crash.
 *
 * Returns: (transfer full): the item; %NULL with %MPK_ERROR_EMPTY (nothing
 *   before the timeout), %MPK_ERROR_CLOSED,
 *   %MPK_ERROR_TOO_BIG (the item was dropped), %MPK_ERROR_PROTOCOL (a
 *   corrupt item, dropped; or corrupt shared positions, after which the
 *   queue stays unusable) or %MPK_ERROR_FAILED (no memory for the item)
 */
GVariant *
mpk_queue_get (MpkQueue  *queue,
               gint64     timeout_us,
               GError   **error)
{
  g_autoptr(GBytes) payload = NULL;
  MpkWireHeader header;
  GVariant *value;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  payload = queue_get_item (queue, FALSE, &header, timeout_us, error);
  if (payload == NULL)
    return NULL;
  if (header.kind == MPK__WIRE_KIND_BYTES)
    value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                          payload, TRUE));
  else if ((value = mpk__wire_decode_variant (&header, payload, error)) == NULL)
    {
      /* Taken but unusable: nobody will call task_done() for it. */
      if (queue->joinable)
        mpk__ring_task_done (&queue->ring, mpk__wire_clock_tick (), NULL, NULL);
      return NULL;
    }
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    trace_item (queue, "queue.get", MPK__TRACE_IN, mpk__trace_now (), &header, value);
  else if (MPK__TRACING (~0u))
    mpk__wire_clock_receive (header.clock);
  return value;
}

/**
 * mpk_queue_get_nowait:
 * @queue: (transfer none): a queue
 * @error: return location for a #GError, or %NULL
 *
 * mpk_queue_get() with %MPK_NO_WAIT, Python's `queue.get_nowait()`.
 *
 * Returns: (transfer full): the item; %NULL with %MPK_ERROR_EMPTY if none is there now
 */
GVariant *
mpk_queue_get_nowait (MpkQueue  *queue,
                      GError   **error)
{
  return mpk_queue_get (queue, MPK_NO_WAIT, error);
}

/**
 * mpk_queue_get_bytes:
 * @queue: (transfer none): a queue
 * @timeout_us: microseconds to wait for an item, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Removes and returns an item put with mpk_queue_put_bytes().
 *
 * Returns: (transfer full): the bytes; %NULL with an error as for
 *   mpk_queue_get(), or %MPK_ERROR_INVALID when the front item is a
 *   #GVariant (it stays in the queue)
 */
GBytes *
mpk_queue_get_bytes (MpkQueue  *queue,
                     gint64     timeout_us,
                     GError   **error)
{
  MpkWireHeader header;
  GBytes *payload;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  payload = queue_get_item (queue, TRUE, &header, timeout_us, error);
  if (payload == NULL)
    return NULL;
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    trace_item (queue, "queue.get", MPK__TRACE_IN, mpk__trace_now (), &header, NULL);
  else if (MPK__TRACING (~0u))
    mpk__wire_clock_receive (header.clock);
  return payload;
}

/**
 * mpk_queue_qsize:
 * @queue: (transfer none): an open queue
 *
 * The number of items in the queue, Python's `queue.qsize()`: items whose
 * put() returned minus items whose get() returned. Exact whenever no put or
 * get is half-way through, and available on every platform (Python's raises
 * NotImplementedError on macOS). An item being streamed in is not counted
 * until its put() finishes.
 *
 * Returns: the item count
 */
gint64
mpk_queue_qsize (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  g_return_val_if_fail (!queue->closed, 0);
  return mpk__ring_count (&queue->ring);
}

/**
 * mpk_queue_empty:
 * @queue: (transfer none): an open queue
 *
 * Python's `queue.empty()`, from the same count as mpk_queue_qsize(): never
 * wrong right after a put() returned, unlike Python's (whose feeder thread
 * may not have written the item yet). Other processes may change the
 * answer the moment after. A closed queue is a caller bug (a critical).
 *
 * Returns: %TRUE when the queue holds no item
 */
gboolean
mpk_queue_empty (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, TRUE);
  g_return_val_if_fail (!queue->closed, TRUE);
  return mpk__ring_count (&queue->ring) == 0;
}

/**
 * mpk_queue_full:
 * @queue: (transfer none): an open queue
 *
 * Python's `queue.full()`: whether put_nowait() would fail with
 * %MPK_ERROR_FULL now. That is when a bounded queue holds maxsize items, or
 * when the buffer has no room left even for the smallest item (only a
 * queue made with a fixed buffer_size, see mpk_queue_new_full(), or a
 * growing one that used up its reservation). An item larger than the room
 * left can still fail FULL (or, streamed, TIMED_OUT) while this is %FALSE.
 *
 * Returns: %TRUE when the queue is full
 */
gboolean
mpk_queue_full (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (!queue->closed, FALSE);
  return (queue->maxsize > 0 && mpk__ring_count (&queue->ring) >= queue->maxsize)
         || mpk__ring_no_room (&queue->ring);
}

/**
 * mpk_queue_get_n_recoveries:
 * @queue: (transfer none): an open queue
 *
 * How many times a process found that another had died holding one of the
 * queue's locks and repaired the queue (discarding a half-written item,
 * skipping the rest of a half-read one). Python's Queue cannot do this: its
 * locks stay held forever.
 *
 * Returns: the number of repairs since the queue was made
 */
guint
mpk_queue_get_n_recoveries (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  g_return_val_if_fail (!queue->closed, 0);
  return mpk__ring_n_recoveries (&queue->ring);
}

/* For tests that scribble on a queue's shared memory (what a buggy or
 * hostile process could do): the mapping and the size of its control block
 * and ring bytes. */
gpointer
mpk__queue_get_shared_for_testing (MpkQueue *queue,
                                   gsize    *size)
{
  /* The control block and the ring's bytes; not the holder table (nor,
   * for a growing ring, the reserve) that follow. */
  *size = (gsize) (queue->ring.data - (guint8 *) queue->ring.shm) + queue->ring.capacity;
  return queue->ring.shm;
}

/* ------------------------------------------------------- JoinableQueue -- */

static guint64
record_task_done (gpointer data, guint64 left, guint64 prev)
{
  MpkQueue *queue = data;
  MpkTraceLine line;

  if (!MPK__TRACING (MPK__TRACE_QUEUE))
    return 0;
  mpk__trace_begin (&line, "queue.task_done", 0, 0);
  mpk__trace_add_object (&line, &queue->object);
  mpk__trace_add_int (&line, "left", left);
  /* The count is one shared number, so task_dones happen one after the
   * other (the diagram draws that across processes only). */
  mpk__trace_add_after (&line, prev);
  return mpk__trace_event_id (mpk__trace_end (&line));
}

/**
 * mpk_queue_task_done:
 * @queue: (transfer none): an open JoinableQueue (any other queue gives
 *   %MPK_ERROR_INVALID)
 * @error: return location for a #GError, or %NULL
 *
 * Says that an item taken with get() has been dealt with, Python's
 * `queue.task_done()`. When the count of unfinished tasks reaches zero,
 * every join() returns.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TOO_MANY_TASK_DONE when no task is
 *   unfinished (Python: ValueError), %MPK_ERROR_INVALID when @queue is not a
 *   JoinableQueue (Python: AttributeError; nothing is counted),
 *   %MPK_ERROR_CLOSED, or %MPK_ERROR_PROTOCOL (the queue's shared memory is
 *   damaged)
 */
gboolean
mpk_queue_task_done (MpkQueue  *queue,
                     GError   **error)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!queue->joinable)
    {
      /* Python raises (AttributeError: a Queue has no task_done); a
       * program ported from it may test for that, so it is an error here,
       * not a critical. */
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "queue: task_done() on a queue that is not a JoinableQueue");
      return FALSE;
    }
  if (!check_open (queue, error))
    return FALSE;
  switch (mpk__ring_task_done (&queue->ring, MPK__TRACING (~0u) ? mpk__wire_clock_tick () : 0,
                               MPK__TRACING (MPK__TRACE_QUEUE) ? record_task_done : NULL, queue))
    {
    case MPK__RING_TASK_DONE:
      return TRUE;
    case MPK__RING_TASK_NONE_LEFT:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TOO_MANY_TASK_DONE,
                           "queue: task_done() called too many times");
      return FALSE;
    case MPK__RING_TASK_FAILED:
    default:
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "queue: the task count's lock in shared memory is damaged");
      return FALSE;
    }
}

/* The first watched process that died holding unfinished tasks, or NULL. */
static MpkProcess *
find_dead_holder (MpkQueue     *queue,
                  MpkProcess  **watch,
                  guint         n_watch,
                  guint64      *held)
{
  for (guint i = 0; i < n_watch; i++)
    {
      GPid pid = mpk_process_get_pid (watch[i]);

      if (pid <= 0 || mpk_process_is_alive (watch[i]))
        continue;
      *held = mpk__ring_unfinished_for (&queue->ring, pid);
      if (*held > 0)
        return watch[i];
    }
  return NULL;
}

typedef struct
{
  MpkQueue    *queue;
  MpkProcess **watch;
  guint        n_watch;
  gint64       next_look;
  MpkProcess  *dead;
  guint64      held;
} JoinWait;

/* How often join_full() looks at the watched processes and at the queue's
 * locks: deaths wake nobody, so it polls; 20 ms is quick for a person and
 * cheap for the machine. */
#define WATCH_SLICE_US (20 * 1000)

static int
join_ready (gpointer data)
{
  JoinWait *wait = data;

  if (mpk__ring_unfinished (&wait->queue->ring) == 0)
    return 1;
  if (g_get_monotonic_time () < wait->next_look)
    return 0;
  wait->next_look = g_get_monotonic_time () + WATCH_SLICE_US;
  /* A producer that died half-way through a put still counts its task
   * until someone repairs the queue; nobody else may be coming. */
  mpk__ring_repair (&wait->queue->ring);
  if (mpk__ring_unfinished (&wait->queue->ring) == 0)
    return 1;
  wait->dead = find_dead_holder (wait->queue, wait->watch, wait->n_watch, &wait->held);
  return wait->dead != NULL ? 2 : 0;
}

/**
 * mpk_queue_join_full:
 * @queue: (transfer none): an open JoinableQueue
 * @watch: (transfer none) (array length=n_watch) (nullable): processes
 *   that consume from @queue, borrowed for the call (%NULL when @n_watch
 *   is 0)
 * @n_watch: the number of @watch
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * mpk_queue_join() that also notices a dead consumer. In Python a consumer
 * that dies between get() and task_done() makes join() hang forever; here,
 * when one of @watch has exited while holding unfinished tasks (items it
 * took with get() and never marked done), this fails with
 * %MPK_ERROR_PEER_DIED within about 20 ms. The count is left as it is: the
 * caller decides, for instance with mpk_queue_abandon_tasks(), then joins
 * again. (Tasks are credited to the process that called get(); a
 * task_done() from another process is taken from that process's own tasks
 * first, else from any holder's.)
 *
 * Returns: %TRUE when no task is unfinished; %FALSE with
 *   %MPK_ERROR_TIMED_OUT, %MPK_ERROR_PEER_DIED or %MPK_ERROR_CLOSED
 */
gboolean
mpk_queue_join_full (MpkQueue     *queue,
                     MpkProcess  **watch,
                     guint         n_watch,
                     gint64        timeout_us,
                     GError      **error)
{
  JoinWait wait = { queue, watch, n_watch, 0, NULL, 0 };
  MpkTraceWaiting waiting;
  int result;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (queue->joinable, FALSE);
  g_return_val_if_fail (watch != NULL || n_watch == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (queue, error))
    return FALSE;
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    mpk__trace_wait_enter (&waiting, &queue->object, "join");
  result = mpk__signal_wait_until (mpk__ring_done_signal (&queue->ring), join_ready, &wait,
                                   mpk__deadline_from_timeout (timeout_us), WATCH_SLICE_US);
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    mpk__trace_wait_leave (&waiting);
  if (result == 2)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED,
                   "queue: process %s (pid %d) died holding %" G_GUINT64_FORMAT
                   " unfinished task(s)", mpk_process_get_name (wait.dead),
                   (int) mpk_process_get_pid (wait.dead), wait.held);
      return FALSE;
    }
  if (result == 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                   "queue: %" G_GUINT64_FORMAT " task(s) still unfinished after the timeout",
                   mpk__ring_unfinished (&queue->ring));
      return FALSE;
    }
  /* After the task_done() that finished the count, in every diagram. */
  if (MPK__TRACING (MPK__TRACE_QUEUE))
    {
      MpkTraceLine line;

      mpk__trace_begin (&line, "queue.join", 0,
                        mpk__wire_clock_receive (mpk__ring_done_clock (&queue->ring)));
      mpk__trace_add_object (&line, &queue->object);
      mpk__trace_add_after (&line, mpk__ring_done_event (&queue->ring));
      mpk__trace_end (&line);
    }
  else if (MPK__TRACING (~0u))
    mpk__wire_clock_receive (mpk__ring_done_clock (&queue->ring));
  return TRUE;
}

/**
 * mpk_queue_join:
 * @queue: (transfer none): an open JoinableQueue
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits until every item put has been marked done, Python's `queue.join()`,
 * but with a timeout (Python's has none).
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TIMED_OUT or %MPK_ERROR_CLOSED
 */
gboolean
mpk_queue_join (MpkQueue  *queue,
                gint64     timeout_us,
                GError   **error)
{
  return mpk_queue_join_full (queue, NULL, 0, timeout_us, error);
}

/**
 * mpk_queue_get_unfinished:
 * @queue: (transfer none): an open JoinableQueue
 *
 * The count mpk_queue_join() waits for to reach 0 (Python keeps it in
 * the JoinableQueue's `_unfinished_tasks` semaphore). Another kind of
 * queue, or a closed one, is a caller bug (a critical, and 0).
 *
 * Returns: the number of items put and not yet marked done (64-bit: it
 *   cannot overflow the way Python's semaphore can)
 */
guint64
mpk_queue_get_unfinished (MpkQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);
  g_return_val_if_fail (queue->joinable && !queue->closed, 0);
  return mpk__ring_unfinished (&queue->ring);
}

/**
 * mpk_queue_get_unfinished_for:
 * @queue: (transfer none): an open JoinableQueue
 * @pid: a process
 *
 * The tasks credited to one consumer, the ones mpk_queue_join_full()
 * reports when @pid dies and mpk_queue_abandon_tasks() writes off. Python
 * has no such count.
 *
 * Returns: how many items process @pid took with get() and has not marked
 *   done
 */
guint64
mpk_queue_get_unfinished_for (MpkQueue *queue,
                              GPid      pid)
{
  g_return_val_if_fail (queue != NULL, 0);
  g_return_val_if_fail (queue->joinable && !queue->closed, 0);
  return mpk__ring_unfinished_for (&queue->ring, pid);
}

/**
 * mpk_queue_abandon_tasks:
 * @queue: (transfer none): an open JoinableQueue
 * @pid: a process that will never call task_done() again (it died)
 *
 * Writes off the tasks @pid holds: they count as done, so join() can return.
 * It first repairs the queue after a process that died holding one of its
 * locks (as the next put or get would), so when it is called makes no
 * difference: a consumer killed inside get() before it took its item out
 * holds no task (the item stays queued for another consumer), and nothing
 * is written off for it.
 *
 * Returns: how many tasks were written off
 */
guint64
mpk_queue_abandon_tasks (MpkQueue *queue,
                         GPid      pid)
{
  g_return_val_if_fail (queue != NULL, 0);
  g_return_val_if_fail (queue->joinable && !queue->closed, 0);
  return mpk__ring_abandon_tasks (&queue->ring, pid, mpk__wire_clock_tick ());
}

/* --------------------------------------------------------- SimpleQueue -- */

/**
 * mpk_simple_queue_new:
 * @error: return location for a #GError, or %NULL
 *
 * Creates Python's `multiprocessing.SimpleQueue()`: an unbounded queue with
 * only put, get, empty and close. (Python's has no timeouts; ours does.)
 *
 * Returns: (transfer full): the queue, free with mpk_simple_queue_free();
 *   %NULL with @error set
 */
MpkSimpleQueue *
mpk_simple_queue_new (GError **error)
{
  MpkSimpleQueue *queue;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  queue = g_new0 (MpkSimpleQueue, 1);
  if (!queue_init (&queue->queue, 0, FALSE, MPK_QUEUE_BUFFER_GROWS, error))
    g_clear_pointer (&queue, g_free);
  return queue;
}

/**
 * mpk_simple_queue_free:
 * @queue: (transfer full) (nullable): a queue
 *
 * Closes and frees this process's handle; see mpk_queue_free().
 */
void
mpk_simple_queue_free (MpkSimpleQueue *queue)
{
  if (queue != NULL)
    mpk_queue_free (&queue->queue);
}

/**
 * mpk_simple_queue_close:
 * @queue: (transfer none): a queue
 *
 * See mpk_queue_close().
 */
void
mpk_simple_queue_close (MpkSimpleQueue *queue)
{
  g_return_if_fail (queue != NULL);
  mpk_queue_close (&queue->queue);
}

/**
 * mpk_simple_queue_put:
 * @queue: (transfer none): a queue
 * @item: (transfer none): the item; a floating reference is sunk
 * @timeout_us: microseconds to wait for buffer room, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * See mpk_queue_put().
 *
 * Returns: %TRUE; %FALSE with @error set
 */
gboolean
mpk_simple_queue_put (MpkSimpleQueue  *queue,
                      GVariant        *item,
                      gint64           timeout_us,
                      GError         **error)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  return mpk_queue_put (&queue->queue, item, timeout_us, error);
}

/**
 * mpk_simple_queue_put_bytes:
 * @queue: (transfer none): a queue
 * @data: (transfer none) (array length=size) (nullable): the bytes,
 *   copied into the queue (%NULL only when @size is 0)
 * @size: how many
 * @timeout_us: microseconds to wait for buffer room, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * See mpk_queue_put_bytes().
 *
 * Returns: %TRUE; %FALSE with @error set
 */
gboolean
mpk_simple_queue_put_bytes (MpkSimpleQueue  *queue,
                            gconstpointer    data,
                            gsize            size,
                            gint64           timeout_us,
                            GError         **error)
{
  g_return_val_if_fail (queue != NULL, FALSE);
  return mpk_queue_put_bytes (&queue->queue, data, size, timeout_us, error);
}

/**
 * mpk_simple_queue_get:
 * @queue: (transfer none): a queue
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * See mpk_queue_get().
 *
 * Returns: (transfer full): the item, or %NULL with @error set
 */
GVariant *
mpk_simple_queue_get (MpkSimpleQueue  *queue,
                      gint64           timeout_us,
                      GError         **error)
{
  g_return_val_if_fail (queue != NULL, NULL);
  return mpk_queue_get (&queue->queue, timeout_us, error);
}

/**
 * mpk_simple_queue_get_bytes:
 * @queue: (transfer none): a queue
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * See mpk_queue_get_bytes().
 *
 * Returns: (transfer full): the bytes, or %NULL with @error set
 */
GBytes *
mpk_simple_queue_get_bytes (MpkSimpleQueue  *queue,
                            gint64           timeout_us,
                            GError         **error)
{
  g_return_val_if_fail (queue != NULL, NULL);
  return mpk_queue_get_bytes (&queue->queue, timeout_us, error);
}

/**
 * mpk_simple_queue_empty:
 * @queue: (transfer none): an open queue
 *
 * Python's `SimpleQueue.empty()`; see mpk_queue_empty(). After close it is
 * a caller bug (a critical, and %TRUE), where Python's raises OSError.
 *
 * Returns: %TRUE when the queue holds no item
 */
gboolean
mpk_simple_queue_empty (MpkSimpleQueue *queue)
{
  g_return_val_if_fail (queue != NULL, TRUE);
  g_return_val_if_fail (!queue->queue.closed, TRUE);
  return mpk__ring_count (&queue->queue.ring) == 0;
}
