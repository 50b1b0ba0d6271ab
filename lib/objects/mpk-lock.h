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

typedef struct _MpkLock      MpkLock;
typedef struct _MpkEvent     MpkEvent;
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
