/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-worker.h: coproc's WorkerResource: a worker process started with its
 * own messenger, and a host-side messenger to talk to it. */
#ifndef MPK_WORKER_H
#define MPK_WORKER_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-process.h"
#include "mpk-messenger.h"

G_BEGIN_DECLS

/**
 * MpkWorker:
 *
 * A worker resource (coproc's WorkerResource): an opaque object holding a
 * worker process, once started, and the host's side of its messenger pair.
 * Made by mpk_worker_new(), freed with mpk_worker_free().
 */
typedef struct _MpkWorker MpkWorker;

/**
 * MpkWorkerFunc:
 * @messenger: (transfer none): the worker's side of the messenger pair
 * @user_data: (transfer none) (nullable): the data given to mpk_worker_new()
 *
 * The body of a worker process, coproc's `target(messenger)`. It runs in the
 * child only. A loop that serves the host usually ends when a receive fails
 * with %MPK_ERROR_CLOSE_REQUESTED (mpk_worker_close() sends it).
 *
 * Returns: the worker's exit code (0 to 255)
 */
typedef int (*MpkWorkerFunc) (MpkMessenger *messenger,
                              gpointer      user_data);

/**
 * MPK_WORKER_CLOSE_TIMEOUT:
 *
 * How long mpk_worker_free() gives a running worker to leave after the
 * close request before it terminates it: 10 s.
 */
#define MPK_WORKER_CLOSE_TIMEOUT ((gint64) 10 * G_USEC_PER_SEC)

MPK_API MpkWorker    *mpk_worker_new           (const char       *name,
                                                MpkWorkerFunc     func,
                                                gpointer          user_data,
                                                GDestroyNotify    user_data_free,
                                                MpkMessengerKind  kind,
                                                GError          **error);
MPK_API gboolean      mpk_worker_start         (MpkWorker        *worker,
                                                GError          **error);
MPK_API MpkMessenger *mpk_worker_get_messenger (MpkWorker        *worker);
MPK_API MpkProcess   *mpk_worker_get_process   (MpkWorker        *worker);
MPK_API gboolean      mpk_worker_is_alive      (MpkWorker        *worker);
MPK_API gboolean      mpk_worker_join          (MpkWorker        *worker,
                                                gint64            timeout_us,
                                                GError          **error);
MPK_API gboolean      mpk_worker_close         (MpkWorker        *worker,
                                                gint64            timeout_us,
                                                GError          **error);
MPK_API int           mpk_worker_get_exitcode  (MpkWorker        *worker);
MPK_API void          mpk_worker_free          (MpkWorker        *worker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkWorker, mpk_worker_free)

G_END_DECLS

#endif /* MPK_WORKER_H */
