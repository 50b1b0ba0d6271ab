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

/* Queue and JoinableQueue share one type (Python's JoinableQueue is a
 * subclass of Queue); SimpleQueue has its own, smaller API. */
typedef struct _MpkQueue       MpkQueue;
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
