/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-condition.h: multiprocessing.Condition, process-shared, over an
 * MpkLock. */
#ifndef MPK_CONDITION_H
#define MPK_CONDITION_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-lock.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-condition
 * @title: Condition
 * @short_description: wait for a change to shared state, like
 *   multiprocessing.Condition
 *
 * An #MpkCondition is Python's `multiprocessing.Condition(lock)`: a lock
 * (an #MpkLock, by default a new RLock) and a way to wait, holding it,
 * until another process changes what the lock guards and calls
 * mpk_condition_notify(). mpk_condition_wait() releases the lock while it
 * waits and holds it again when it returns, in every case;
 * mpk_condition_wait_for() waits until a predicate holds.
 *
 * Nothing in it can strand a waiter: waiters are woken through a futex
 * word, never a pthread condition variable that a killed process can
 * leave wedged; a notifier that dies holding the lock hands it to the next
 * acquirer (pthread's EOWNERDEAD), and a woken waiter reports that with
 * %MPK_ERROR_OWNER_DIED; a waiter that dies frees its place, so a later
 * notify wakes a live one instead of the dead. A condition holds at most
 * 256 waiters at once.
 *
 * |[<!-- language="C" -->
 * // consumer
 * mpk_condition_acquire (cond, MPK_WAIT_FOREVER, &error);
 * while (mpk_value_get_int (items) == 0)
 *   if (!mpk_condition_wait (cond, MPK_WAIT_FOREVER, &error))
 *     break;
 * ...
 * mpk_condition_release (cond, &error);
 *
 * // producer
 * mpk_condition_acquire (cond, MPK_WAIT_FOREVER, &error);
 * mpk_value_set_int (items, 1);
 * mpk_condition_notify (cond, 1, &error);
 * mpk_condition_release (cond, &error);
 * ]|
 */

/**
 * MpkCondition:
 *
 * A condition variable in shared memory: create it before the processes
 * that use it; each frees its handle with mpk_condition_free().
 */
typedef struct _MpkCondition MpkCondition;

/**
 * MpkConditionPredicate:
 * @user_data: (transfer none) (nullable): the data given to
 *   mpk_condition_wait_for()
 *
 * Tests the shared state, with the condition's lock held.
 *
 * Returns: %TRUE when the wait is over
 */
typedef gboolean (*MpkConditionPredicate) (gpointer user_data);

MPK_API MpkCondition *mpk_condition_new        (MpkLock               *lock,
                                                GError               **error);
MPK_API void          mpk_condition_free       (MpkCondition          *cond);
MPK_API MpkLock      *mpk_condition_get_lock   (MpkCondition          *cond);
MPK_API gboolean      mpk_condition_acquire    (MpkCondition          *cond,
                                                gint64                 timeout_us,
                                                GError               **error);
MPK_API gboolean      mpk_condition_release    (MpkCondition          *cond,
                                                GError               **error);
MPK_API gboolean      mpk_condition_wait       (MpkCondition          *cond,
                                                gint64                 timeout_us,
                                                GError               **error);
MPK_API gboolean      mpk_condition_wait_for   (MpkCondition          *cond,
                                                MpkConditionPredicate  predicate,
                                                gpointer               user_data,
                                                gint64                 timeout_us,
                                                GError               **error);
MPK_API gboolean      mpk_condition_notify     (MpkCondition          *cond,
                                                guint                  n,
                                                GError               **error);
MPK_API gboolean      mpk_condition_notify_all (MpkCondition          *cond,
                                                GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkCondition, mpk_condition_free)

G_END_DECLS

#endif /* MPK_CONDITION_H */
