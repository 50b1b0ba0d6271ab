/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-pool.h: multiprocessing.Pool, a set of worker processes that run
 * tasks, and survives the death of any of them. */
#ifndef MPK_POOL_H
#define MPK_POOL_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-pool
 * @title: Pool
 * @short_description: worker processes that run tasks, like
 *   multiprocessing.Pool, without hanging when one of them dies
 *
 * An #MpkPool is Python's `multiprocessing.Pool`: mpk_pool_new() forks the
 * workers, mpk_pool_map() runs a function over an array of #GVariant
 * inputs and returns the results in order, mpk_pool_apply_async() and
 * mpk_pool_map_async() return an #MpkPoolResult to collect later,
 * mpk_pool_imap() and mpk_pool_imap_unordered() hand the results out one
 * at a time through an #MpkPoolIter, and mpk_pool_close(),
 * mpk_pool_terminate() and mpk_pool_join() end it.
 *
 * The task function is an #MpkPoolFunc: a C function of this program,
 * which the workers have because they are forks of it (Python pickles a
 * function by its name for the same reason); a pool takes up to 64
 * different ones (then %MPK_ERROR_INVALID). Inputs and results are
 * #GVariant values; a task that fails returns %NULL with a #GError, and
 * that error comes back as this task's error while the others go on.
 *
 * Where Python's pool hangs forever (a worker killed by the OOM killer,
 * a segfault, an `exit()` in a task) this one carries on: the task the
 * dead worker was running fails with %MPK_ERROR_PEER_DIED ("worker 1234
 * died (signal 9) while running task 17"), the tasks it had received but
 * not started are handed to the others, a replacement worker starts, and
 * the pool stays usable. The task that was running is not retried: it may
 * well be the one that kills its worker. Tasks sent together in one chunk
 * report together, so the tasks of the dead worker's chunk that had
 * already finished run again elsewhere (their results died with the
 * worker); with a chunk size of 1 every task runs at most once.
 *
 * Tasks go to each worker on its own #MpkQueue and results come back on
 * one shared queue (no feeder threads, no hidden pipes), so a traced run
 * draws every task going out and every result coming back. There is no
 * background thread either: the pool hands out tasks, collects results and
 * replaces dead workers inside its own calls (any map, get, wait, next or
 * join), so an #MpkPool and its results belong to one thread. Workers are
 * started ahead with a few chunks each, and keep working between those
 * calls on what they have.
 *
 * |[<!-- language="C" -->
 * static GVariant *
 * square (GVariant *x, gpointer user_data, GError **error)
 * {
 *   gint64 v = g_variant_get_int64 (x);
 *
 *   return g_variant_new_int64 (v * v);
 * }
 *
 * g_autoptr(GError) error = NULL;
 * g_autoptr(MpkPool) pool = mpk_pool_new (4, NULL, NULL, 0, &error);
 * GVariant *inputs[10];
 * g_autoptr(GPtrArray) squares = NULL;
 *
 * for (guint i = 0; i < 10; i++)
 *   inputs[i] = g_variant_ref_sink (g_variant_new_int64 (i));
 * squares = mpk_pool_map (pool, square, inputs, 10, 0, MPK_WAIT_FOREVER, &error);
 * // squares->pdata[3] holds int64 9
 * mpk_pool_close (pool);
 * mpk_pool_join (pool, MPK_WAIT_FOREVER, &error);
 * ]|
 */

/**
 * MpkPool:
 *
 * A pool of worker processes: an opaque object owned by the process (and
 * thread) that made it; free with mpk_pool_free() (`g_autoptr(MpkPool)`
 * works), which terminates workers that are still running, as leaving
 * Python's `with Pool() as pool:` block does.
 */
typedef struct _MpkPool MpkPool;

/**
 * MpkPoolResult:
 *
 * The pending result of mpk_pool_apply_async() or mpk_pool_map_async(),
 * Python's `AsyncResult`/`MapResult`: reference counted
 * (mpk_pool_result_ref(), mpk_pool_result_unref(); `g_autoptr` works).
 * It keeps its pool's internals alive, and is usable after the pool was
 * freed (a result that was not ready then has failed with
 * %MPK_ERROR_CLOSED).
 */
typedef struct _MpkPoolResult MpkPoolResult;

/**
 * MpkPoolIter:
 *
 * The results of mpk_pool_imap() or mpk_pool_imap_unordered(), handed out
 * one at a time by mpk_pool_iter_next(); free with mpk_pool_iter_free().
 */
typedef struct _MpkPoolIter MpkPoolIter;

/**
 * MpkPoolFunc:
 * @arg: (transfer none): the task's input
 * @user_data: (transfer none) (nullable): the data given to mpk_pool_new(),
 *   the worker's copy of it
 * @error: return location for the task's #GError
 *
 * A task, run in a worker. It must be a function of this program (a
 * pointer valid in the forked workers), and must not keep @arg.
 *
 * Returns: (transfer full): the result (a floating reference is sunk), or
 *   %NULL with @error set when the task failed
 */
typedef GVariant *(*MpkPoolFunc) (GVariant  *arg,
                                  gpointer   user_data,
                                  GError   **error);

/**
 * MpkPoolStarFunc:
 * @args: (array length=n_args) (transfer none): the children of the task's
 *   input tuple
 * @n_args: how many
 * @user_data: (transfer none) (nullable): the data given to mpk_pool_new()
 * @error: return location for the task's #GError
 *
 * A task of mpk_pool_starmap(), Python's `func(*args)`.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
typedef GVariant *(*MpkPoolStarFunc) (GVariant **args,
                                      gsize      n_args,
                                      gpointer   user_data,
                                      GError   **error);

/**
 * MpkPoolInitFunc:
 * @user_data: (transfer none) (nullable): the data given to mpk_pool_new()
 *
 * Python's `initializer`: runs in every worker as it starts (replacement
 * workers too), before its first task.
 */
typedef void (*MpkPoolInitFunc) (gpointer user_data);

MPK_API MpkPool       *mpk_pool_new              (guint              n_workers,
                                                  MpkPoolInitFunc    initializer,
                                                  gpointer           user_data,
                                                  guint              maxtasksperchild,
                                                  GError           **error);
MPK_API void           mpk_pool_free             (MpkPool           *pool);
MPK_API guint          mpk_pool_get_n_workers    (MpkPool           *pool);
MPK_API GPid           mpk_pool_get_worker_pid   (MpkPool           *pool,
                                                  guint              index);
MPK_API guint          mpk_pool_get_n_replaced   (MpkPool           *pool);

MPK_API GVariant      *mpk_pool_apply            (MpkPool           *pool,
                                                  MpkPoolFunc        func,
                                                  GVariant          *arg,
                                                  gint64             timeout_us,
                                                  GError           **error);
MPK_API MpkPoolResult *mpk_pool_apply_async      (MpkPool           *pool,
                                                  MpkPoolFunc        func,
                                                  GVariant          *arg,
                                                  GError           **error);
MPK_API GPtrArray     *mpk_pool_map              (MpkPool           *pool,
                                                  MpkPoolFunc        func,
                                                  GVariant *const   *inputs,
                                                  gsize              n_inputs,
                                                  gsize              chunksize,
                                                  gint64             timeout_us,
                                                  GError           **error);
MPK_API MpkPoolResult *mpk_pool_map_async        (MpkPool           *pool,
                                                  MpkPoolFunc        func,
                                                  GVariant *const   *inputs,
                                                  gsize              n_inputs,
                                                  gsize              chunksize,
                                                  GError           **error);
MPK_API GPtrArray     *mpk_pool_starmap          (MpkPool           *pool,
                                                  MpkPoolStarFunc    func,
                                                  GVariant *const   *inputs,
                                                  gsize              n_inputs,
                                                  gsize              chunksize,
                                                  gint64             timeout_us,
                                                  GError           **error);
MPK_API MpkPoolIter   *mpk_pool_imap             (MpkPool           *pool,
                                                  MpkPoolFunc        func,
                                                  GVariant *const   *inputs,
                                                  gsize              n_inputs,
                                                  gsize              chunksize,
                                                  GError           **error);
MPK_API MpkPoolIter   *mpk_pool_imap_unordered   (MpkPool           *pool,
                                                  MpkPoolFunc        func,
                                                  GVariant *const   *inputs,
                                                  gsize              n_inputs,
                                                  gsize              chunksize,
                                                  GError           **error);

MPK_API void           mpk_pool_close            (MpkPool           *pool);
MPK_API void           mpk_pool_terminate        (MpkPool           *pool);
MPK_API gboolean       mpk_pool_join             (MpkPool           *pool,
                                                  gint64             timeout_us,
                                                  GError           **error);

MPK_API MpkPoolResult *mpk_pool_result_ref       (MpkPoolResult     *result);
MPK_API void           mpk_pool_result_unref     (MpkPoolResult     *result);
MPK_API gboolean       mpk_pool_result_wait      (MpkPoolResult     *result,
                                                  gint64             timeout_us);
MPK_API gboolean       mpk_pool_result_ready     (MpkPoolResult     *result);
MPK_API gboolean       mpk_pool_result_successful (MpkPoolResult    *result);
MPK_API GVariant      *mpk_pool_result_get       (MpkPoolResult     *result,
                                                  gint64             timeout_us,
                                                  GError           **error);
MPK_API gsize          mpk_pool_result_get_n_items (MpkPoolResult   *result);
MPK_API GVariant      *mpk_pool_result_get_item  (MpkPoolResult     *result,
                                                  gsize              index,
                                                  GError           **error);

MPK_API GVariant      *mpk_pool_iter_next        (MpkPoolIter       *iter,
                                                  gint64             timeout_us,
                                                  gsize             *index,
                                                  GError           **error);
MPK_API void           mpk_pool_iter_free        (MpkPoolIter       *iter);

MPK_API guint          mpk_cpu_count             (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkPool, mpk_pool_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkPoolResult, mpk_pool_result_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkPoolIter, mpk_pool_iter_free)

G_END_DECLS

#endif /* MPK_POOL_H */
