/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-event-group.h: valkka's EventGroup and SyncIndex: process-shared
 * events made before fork, handed out and referred to by index. */
#ifndef MPK_EVENT_GROUP_H
#define MPK_EVENT_GROUP_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-lock.h"
#include "mpk-process.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-event-group
 * @title: EventGroup
 * @short_description: a fixed group of process-shared events, reserved,
 *   set and released by index, like valkka's EventGroup and SyncIndex
 *
 * Synchronisation objects must exist before fork() for a child to share
 * them, and an event cannot travel in a message. An #MpkEventGroup
 * therefore makes @n #MpkEvent objects up front; the frontend reserves one
 * (mpk_event_group_reserve()), sends its index (a plain integer) with a
 * command, and the backend sets it by index (mpk_event_group_set()), which
 * wakes the frontend's mpk_event_wait(). Then the frontend releases the
 * index for the next use.
 *
 * Unlike valkka's group, whose free list is private to each process, the
 * bookkeeping lives in shared memory under a robust lock: any process or
 * thread may reserve and release, mpk_event_group_reserve() can wait (with
 * a timeout) for an index to come back, and the state is the same
 * everywhere. Recycling is first in, first out, as in valkka: after
 * releasing 0, 2, 1 the next reserves give 0, then 2 (before any release,
 * the lowest index comes first). A double release, a release or set of an
 * index nobody reserved, and a foreign event are errors (valkka hands the
 * same event out twice after a double release). A reserve clears the
 * event, so a set left over from an earlier use cannot wake the new user.
 *
 * The sync-index pattern (valkka's `SyncIndex` context manager) is the
 * pair mpk_event_group_sync_begin() and mpk_event_group_sync_end(), or the
 * single call mpk_message_process_send_sync(). Unlike valkka's, the wait
 * has a timeout, fails at once when the watched backend has died, and
 * always releases the index.
 *
 * |[<!-- language="C" -->
 * // before the fork
 * g_autoptr(MpkEventGroup) group = mpk_event_group_new (10, &error);
 *
 * // frontend
 * gint index = mpk_event_group_sync_begin (group, MPK_WAIT_FOREVER, &error);
 * mpk_message_process_send (mp, mpk_command_new_with ("ping", "event_index",
 *                           g_variant_new_int32 (index), NULL), timeout, &error);
 * mpk_event_group_sync_end (group, index, mpk_message_process_get_process (mp),
 *                           timeout, &error);
 *
 * // backend, in the ping handler
 * mpk_event_group_set (group, index, &error);
 * ]|
 */

/**
 * MpkEventGroup:
 *
 * A fixed group of process-shared events and the shared record of which
 * are reserved. Made before fork(); each process frees its copy with
 * mpk_event_group_free() (`g_autoptr(MpkEventGroup)` works).
 */
typedef struct _MpkEventGroup MpkEventGroup;

/**
 * MPK_EVENT_GROUP_MAX:
 *
 * The most events one group may hold: 4096.
 */
#define MPK_EVENT_GROUP_MAX 4096

MPK_API MpkEventGroup *mpk_event_group_new           (guint           n,
                                                      GError        **error);
MPK_API void           mpk_event_group_free          (MpkEventGroup  *group);
MPK_API guint          mpk_event_group_get_size      (MpkEventGroup  *group);
MPK_API guint          mpk_event_group_get_n_free    (MpkEventGroup  *group);
MPK_API gint           mpk_event_group_reserve       (MpkEventGroup  *group,
                                                      gint64          timeout_us,
                                                      MpkEvent      **event,
                                                      GError        **error);
MPK_API gboolean       mpk_event_group_release       (MpkEventGroup  *group,
                                                      gint            index,
                                                      GError        **error);
MPK_API gboolean       mpk_event_group_release_event (MpkEventGroup  *group,
                                                      MpkEvent       *event,
                                                      GError        **error);
MPK_API gboolean       mpk_event_group_set           (MpkEventGroup  *group,
                                                      gint            index,
                                                      GError        **error);
MPK_API MpkEvent      *mpk_event_group_from_index    (MpkEventGroup  *group,
                                                      gint            index);
MPK_API gint           mpk_event_group_as_index      (MpkEventGroup  *group,
                                                      MpkEvent       *event);
MPK_API char          *mpk_event_group_to_string     (MpkEventGroup  *group);
MPK_API gint           mpk_event_group_sync_begin    (MpkEventGroup  *group,
                                                      gint64          timeout_us,
                                                      GError        **error);
MPK_API gboolean       mpk_event_group_sync_end      (MpkEventGroup  *group,
                                                      gint            index,
                                                      MpkProcess     *watch,
                                                      gint64          timeout_us,
                                                      GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkEventGroup, mpk_event_group_free)

G_END_DECLS

#endif /* MPK_EVENT_GROUP_H */
