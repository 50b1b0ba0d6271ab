/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-lock.h: multiprocessing.Lock, RLock, Event, Semaphore and
 * BoundedSemaphore, kept in shared memory so that every process forked after
 * their creation uses the same object. */
#ifndef MPK_LOCK_H
#define MPK_LOCK_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-lock
 * @title: Lock, RLock, Event, Semaphore
 * @short_description: synchronisation between processes, like
 *   multiprocessing.Lock, RLock, Event, Semaphore and BoundedSemaphore
 *
 * Each object lives in shared memory made when it is created, so every
 * process forked after that uses the same lock, event or semaphore; each
 * process frees its own handle.
 *
 * An #MpkLock from mpk_lock_new() is Python's `Lock`, one from
 * mpk_rlock_new() its `RLock` (the holder may acquire it again). Both are
 * robust process-shared mutexes: only the thread that acquired one may
 * release it, and when the holder dies, killed or crashed, the lock passes
 * to the next acquirer, which learns it from mpk_lock_acquire_full()'s
 * `owner_died`, where Python's locks would stay held forever.
 *
 * An #MpkEvent is Python's `Event`: a flag processes set, clear and wait
 * for. An #MpkSemaphore is `Semaphore` or, from
 * mpk_bounded_semaphore_new(), `BoundedSemaphore`. Neither holds a lock,
 * so a process that dies while using one leaves it sound.
 *
 * |[<!-- language="C" -->
 * g_autoptr(MpkLock) lock = mpk_lock_new (&error);
 * gboolean owner_died;
 *
 * // ... start the processes that share it, then in each of them:
 * if (mpk_lock_acquire_full (lock, 5 * G_USEC_PER_SEC, &owner_died, &error))
 *   {
 *     if (owner_died)
 *       repair_shared_state ();   // the last holder died mid-update
 *     update_shared_state ();
 *     mpk_lock_release (lock, &error);
 *   }
 * ]|
 */

/**
 * MpkLock:
 *
 * A Lock or RLock in shared memory. Each process frees its handle with
 * mpk_lock_free() (`g_autoptr(MpkLock)` works); the lock lives on in the
 * others.
 */
typedef struct _MpkLock      MpkLock;

/**
 * MpkEvent:
 *
 * An Event in shared memory: a flag, initially clear. Each process frees
 * its handle with mpk_event_free().
 */
typedef struct _MpkEvent     MpkEvent;

/**
 * MpkSemaphore:
 *
 * A Semaphore or BoundedSemaphore in shared memory: a count that acquires
 * take from and releases add to. Each process frees its handle with
 * mpk_semaphore_free().
 */
typedef struct _MpkSemaphore MpkSemaphore;

/* Lock and RLock: a robust, process-shared mutex. */
MPK_API MpkLock      *mpk_lock_new              (GError       **error);
MPK_API MpkLock      *mpk_rlock_new             (GError       **error);
MPK_API void          mpk_lock_free             (MpkLock       *lock);
MPK_API gboolean      mpk_lock_acquire          (MpkLock       *lock,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean      mpk_lock_acquire_full     (MpkLock       *lock,
                                                 gint64         timeout_us,
                                                 gboolean      *owner_died,
                                                 GError       **error);
MPK_API gboolean      mpk_lock_release          (MpkLock       *lock,
                                                 GError       **error);
MPK_API gboolean      mpk_lock_is_locked        (MpkLock       *lock);
MPK_API gboolean      mpk_lock_is_recursive     (MpkLock       *lock);

/* Event: a flag processes can wait for. */
MPK_API MpkEvent     *mpk_event_new             (GError       **error);
MPK_API void          mpk_event_free            (MpkEvent      *event);
MPK_API void          mpk_event_set             (MpkEvent      *event);
MPK_API void          mpk_event_clear           (MpkEvent      *event);
MPK_API gboolean      mpk_event_is_set          (MpkEvent      *event);
MPK_API gboolean      mpk_event_wait            (MpkEvent      *event,
                                                 gint64         timeout_us);

/* Semaphore and BoundedSemaphore. */
MPK_API MpkSemaphore *mpk_semaphore_new         (guint          value,
                                                 GError       **error);
MPK_API MpkSemaphore *mpk_bounded_semaphore_new (guint          value,
                                                 GError       **error);
MPK_API void          mpk_semaphore_free        (MpkSemaphore  *sem);
MPK_API gboolean      mpk_semaphore_acquire     (MpkSemaphore  *sem,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean      mpk_semaphore_release     (MpkSemaphore  *sem,
                                                 GError       **error);
MPK_API guint         mpk_semaphore_get_value   (MpkSemaphore  *sem);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkLock, mpk_lock_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkEvent, mpk_event_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkSemaphore, mpk_semaphore_free)

G_END_DECLS

#endif /* MPK_LOCK_H */
