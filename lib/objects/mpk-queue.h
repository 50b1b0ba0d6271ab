/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-queue.h: multiprocessing.Queue, JoinableQueue and SimpleQueue, as a
 * ring buffer in shared memory (no pipe, no feeder thread). */
#ifndef MPK_QUEUE_H
#define MPK_QUEUE_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-process.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-queue
 * @title: Queue, JoinableQueue, SimpleQueue
 * @short_description: FIFO queues between processes, like
 *   multiprocessing.Queue, JoinableQueue and SimpleQueue
 *
 * An #MpkQueue is a ring buffer in shared memory made before fork(): any
 * number of processes put #GVariant items (mpk_queue_put()) or raw bytes
 * (mpk_queue_put_bytes()), and any number take them out (mpk_queue_get()).
 * Unlike Python's Queue there is no pipe and no feeder thread: when put()
 * returns, the item is in the queue, so mpk_queue_qsize() and
 * mpk_queue_empty() are exact and a producer may exit at once.
 *
 * A JoinableQueue (mpk_joinable_queue_new()) also counts unfinished tasks:
 * each get() takes one, mpk_queue_task_done() finishes it, and
 * mpk_queue_join() waits until none is left. The queue knows which process
 * holds which task, so mpk_queue_join_full() reports a consumer that died
 * holding one (%MPK_ERROR_PEER_DIED) instead of waiting forever, as
 * Python's join() would.
 *
 * The queues survive a process killed at any point: a half-written item is
 * discarded and a half-read one skipped by the next process that takes the
 * queue's lock (mpk_queue_get_n_recoveries() counts the repairs). What is
 * in the shared memory is checked before it is believed, since every
 * process sharing it can write it.
 *
 * An #MpkSimpleQueue is Python's `SimpleQueue`: unbounded, with put, get,
 * empty and close only.
 *
 * |[<!-- language="C" -->
 * static int
 * worker (gpointer user_data)
 * {
 *   MpkQueue *tasks = user_data;
 *   g_autoptr(GVariant) item = NULL;
 *
 *   while ((item = mpk_queue_get (tasks, 10 * G_USEC_PER_SEC, NULL)) != NULL)
 *     {
 *       gint32 n = g_variant_get_int32 (item);
 *       g_clear_pointer (&item, g_variant_unref);
 *       mpk_queue_task_done (tasks, NULL);
 *       if (n < 0)
 *         break;                       // the sentinel
 *       printf ("%d squared is %d\n", n, n * n);
 *     }
 *   return 0;
 * }
 *
 * g_autoptr(MpkQueue) tasks = mpk_joinable_queue_new (0, &error);
 * g_autoptr(MpkProcess) p = mpk_process_new (NULL, worker, tasks, NULL);
 *
 * mpk_process_start (p, &error);
 * for (gint32 n = 0; n < 10; n++)
 *   mpk_queue_put (tasks, g_variant_new_int32 (n), MPK_WAIT_FOREVER, &error);
 * mpk_queue_put (tasks, g_variant_new_int32 (-1), MPK_WAIT_FOREVER, &error);
 * mpk_queue_join (tasks, MPK_WAIT_FOREVER, &error);
 * mpk_process_join (p, MPK_WAIT_FOREVER);
 * ]|
 */

/* Queue and JoinableQueue share one type (Python's JoinableQueue is a
 * subclass of Queue); SimpleQueue has its own, smaller API. */

/**
 * MpkQueue:
 *
 * A Queue or JoinableQueue in shared memory. Each process frees its handle
 * with mpk_queue_free() (`g_autoptr(MpkQueue)` works); the queue lives on
 * in the processes that still hold one.
 */
typedef struct _MpkQueue       MpkQueue;

/**
 * MpkSimpleQueue:
 *
 * A SimpleQueue in shared memory, freed in each process with
 * mpk_simple_queue_free().
 */
typedef struct _MpkSimpleQueue MpkSimpleQueue;

/**
 * MPK_QUEUE_DEFAULT_BUFFER_SIZE:
 *
 * The shared buffer a new queue reuses while its consumers keep up: 1 MiB.
 * Items that fit in a quarter of it travel whole; larger items (any size up
 * to the queue's message limit) go in pieces.
 */
#define MPK_QUEUE_DEFAULT_BUFFER_SIZE ((gsize) 1 << 20)

/**
 * MPK_QUEUE_BUFFER_GROWS:
 *
 * The buffer_size of mpk_queue_new_full() for a buffer that grows when the
 * consumers fall behind (what mpk_queue_new() and the other constructors
 * make): a queue with maxsize 0 is then limited only by memory, up to
 * nearly 1 GiB queued at once (less under a limit on address space, and a
 * fixed buffer where that leaves under 128 MiB). See mpk_queue_new_full().
 */
#define MPK_QUEUE_BUFFER_GROWS ((gsize) 0)

MPK_API MpkQueue  *mpk_queue_new              (gint64          maxsize,
                                               GError        **error);
MPK_API MpkQueue  *mpk_joinable_queue_new     (gint64          maxsize,
                                               GError        **error);
MPK_API MpkQueue  *mpk_queue_new_full         (gint64          maxsize,
                                               gboolean        joinable,
                                               gsize           buffer_size,
                                               GError        **error);
MPK_API void       mpk_queue_free             (MpkQueue       *queue);
MPK_API void       mpk_queue_close            (MpkQueue       *queue);
MPK_API gboolean   mpk_queue_is_closed        (MpkQueue       *queue);
MPK_API gboolean   mpk_queue_is_joinable      (MpkQueue       *queue);
MPK_API gint64     mpk_queue_get_maxsize      (MpkQueue       *queue);
MPK_API gsize      mpk_queue_get_buffer_size  (MpkQueue       *queue);
MPK_API void       mpk_queue_set_max_message_size (MpkQueue   *queue,
                                                   guint64     max_size);

MPK_API gboolean   mpk_queue_put              (MpkQueue       *queue,
                                               GVariant       *item,
                                               gint64          timeout_us,
                                               GError        **error);
MPK_API gboolean   mpk_queue_put_nowait       (MpkQueue       *queue,
                                               GVariant       *item,
                                               GError        **error);
MPK_API gboolean   mpk_queue_put_bytes        (MpkQueue       *queue,
                                               gconstpointer   data,
                                               gsize           size,
                                               gint64          timeout_us,
                                               GError        **error);
MPK_API GVariant  *mpk_queue_get              (MpkQueue       *queue,
                                               gint64          timeout_us,
                                               GError        **error);
MPK_API GVariant  *mpk_queue_get_nowait       (MpkQueue       *queue,
                                               GError        **error);
MPK_API GBytes    *mpk_queue_get_bytes        (MpkQueue       *queue,
                                               gint64          timeout_us,
                                               GError        **error);

MPK_API gint64     mpk_queue_qsize            (MpkQueue       *queue);
MPK_API gboolean   mpk_queue_empty            (MpkQueue       *queue);
MPK_API gboolean   mpk_queue_full             (MpkQueue       *queue);
MPK_API guint      mpk_queue_get_n_recoveries (MpkQueue       *queue);

/* JoinableQueue only (task_done on another queue: MPK_ERROR_INVALID). */
MPK_API gboolean   mpk_queue_task_done        (MpkQueue       *queue,
                                               GError        **error);
MPK_API gboolean   mpk_queue_join             (MpkQueue       *queue,
                                               gint64          timeout_us,
                                               GError        **error);
MPK_API gboolean   mpk_queue_join_full        (MpkQueue       *queue,
                                               MpkProcess    **watch,
                                               guint           n_watch,
                                               gint64          timeout_us,
                                               GError        **error);
MPK_API guint64    mpk_queue_get_unfinished   (MpkQueue       *queue);
MPK_API guint64    mpk_queue_get_unfinished_for (MpkQueue     *queue,
                                                 GPid          pid);
MPK_API guint64    mpk_queue_abandon_tasks    (MpkQueue       *queue,
                                               GPid            pid);

/* SimpleQueue: unbounded, put/get/empty/close. */
MPK_API MpkSimpleQueue *mpk_simple_queue_new       (GError         **error);
MPK_API void            mpk_simple_queue_free      (MpkSimpleQueue  *queue);
MPK_API void            mpk_simple_queue_close     (MpkSimpleQueue  *queue);
MPK_API gboolean        mpk_simple_queue_put       (MpkSimpleQueue  *queue,
                                                    GVariant        *item,
                                                    gint64           timeout_us,
                                                    GError         **error);
MPK_API gboolean        mpk_simple_queue_put_bytes (MpkSimpleQueue  *queue,
                                                    gconstpointer    data,
                                                    gsize            size,
                                                    gint64           timeout_us,
                                                    GError         **error);
MPK_API GVariant       *mpk_simple_queue_get       (MpkSimpleQueue  *queue,
                                                    gint64           timeout_us,
                                                    GError         **error);
MPK_API GBytes         *mpk_simple_queue_get_bytes (MpkSimpleQueue  *queue,
                                                    gint64           timeout_us,
                                                    GError         **error);
MPK_API gboolean        mpk_simple_queue_empty     (MpkSimpleQueue  *queue);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkQueue, mpk_queue_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkSimpleQueue, mpk_simple_queue_free)

G_END_DECLS

#endif /* MPK_QUEUE_H */
