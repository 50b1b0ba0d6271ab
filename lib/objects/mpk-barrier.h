/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-barrier.h: multiprocessing.Barrier, process-shared, that breaks
 * instead of waiting forever for a party that died. */
#ifndef MPK_BARRIER_H
#define MPK_BARRIER_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-barrier
 * @title: Barrier
 * @short_description: processes meet before any goes on, like
 *   multiprocessing.Barrier
 *
 * An #MpkBarrier is Python's `multiprocessing.Barrier(parties, action,
 * timeout)`: each of @parties processes calls mpk_barrier_wait(), and
 * none returns before the last has arrived; then all go on, and the
 * barrier is ready for the next round. Each gets a different index,
 * 0 for the first to arrive. The last to arrive runs the action (if any)
 * before the others are let go.
 *
 * A barrier breaks (every waiter, now and later, gets %MPK_ERROR_BROKEN,
 * Python's BrokenBarrierError) when mpk_barrier_abort() is called, when a
 * wait times out, when the action fails, and, where Python would wait
 * forever, when a party dies: one that went through the barrier in the
 * last round and is now gone (killed, crashed, exited) cannot come to this
 * one, so the parties waiting for it are told instead of stranded. A party
 * that arrived and died since still counts for its round (it did arrive);
 * the next round misses it. A process that dies before its first wait
 * cannot be told from one that is late. mpk_barrier_reset() makes the
 * barrier usable again and forgets the last round's parties (so other
 * processes may take their places); waiters of the round it cuts short
 * get %MPK_ERROR_BROKEN.
 *
 * |[<!-- language="C" -->
 * // made before the processes start
 * g_autoptr(MpkBarrier) barrier = mpk_barrier_new (3, NULL, NULL, MPK_WAIT_FOREVER, &error);
 *
 * // in each of the three processes
 * for (int round = 0; round < 5; round++)
 *   {
 *     work (round);
 *     if (mpk_barrier_wait (barrier, MPK_WAIT_FOREVER, &error) < 0)
 *       return 1;   // broken: a party died, or someone aborted
 *   }
 * ]|
 */

/**
 * MpkBarrier:
 *
 * A barrier in shared memory: create it before the processes that use it;
 * each process frees its handle with mpk_barrier_free().
 */
typedef struct _MpkBarrier MpkBarrier;

/**
 * MpkBarrierAction:
 * @user_data: (transfer none) (nullable): the data given to mpk_barrier_new()
 * @error: return location for a #GError
 *
 * Python's `action`: run by the last party to arrive, in its own process,
 * before the others are let go.
 *
 * Returns: %TRUE; %FALSE with @error set breaks the barrier
 */
typedef gboolean (*MpkBarrierAction) (gpointer   user_data,
                                      GError   **error);

MPK_API MpkBarrier *mpk_barrier_new            (guint              parties,
                                                MpkBarrierAction   action,
                                                gpointer           user_data,
                                                gint64             timeout_us,
                                                GError           **error);
MPK_API void        mpk_barrier_free           (MpkBarrier        *barrier);
MPK_API gint        mpk_barrier_wait           (MpkBarrier        *barrier,
                                                gint64             timeout_us,
                                                GError           **error);
MPK_API gint        mpk_barrier_wait_default   (MpkBarrier        *barrier,
                                                GError           **error);
MPK_API void        mpk_barrier_abort          (MpkBarrier        *barrier);
MPK_API void        mpk_barrier_reset          (MpkBarrier        *barrier);
MPK_API guint       mpk_barrier_get_parties    (MpkBarrier        *barrier);
MPK_API guint       mpk_barrier_get_n_waiting  (MpkBarrier        *barrier);
MPK_API gboolean    mpk_barrier_is_broken      (MpkBarrier        *barrier);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkBarrier, mpk_barrier_free)

G_END_DECLS

#endif /* MPK_BARRIER_H */
