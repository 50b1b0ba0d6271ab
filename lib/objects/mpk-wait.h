/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-wait.h: multiprocessing.connection.wait() over connections and process sentinels. */
#ifndef MPK_WAIT_H
#define MPK_WAIT_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-wait
 * @title: Waiting on many objects
 * @short_description: block until one of several connections or processes
 *   is ready, like multiprocessing.connection.wait()
 *
 * mpk_wait() takes a mixed array of #MpkConnection and #MpkProcess
 * pointers and returns those that are ready: a connection when a receive
 * would not block (a message, even one already in its buffer, or the
 * peer's end of file), a process once it has exited. It is the way to
 * serve many pipes from one process without a thread per pipe, or to wait
 * for whichever child ends first. In a GLib main loop, use
 * mpk_connection_create_source() and mpk_process_create_source() instead.
 *
 * |[<!-- language="C" -->
 * gpointer objects[] = { conn_a, conn_b, worker };
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GPtrArray) ready = NULL;
 *
 * ready = mpk_wait (objects, G_N_ELEMENTS (objects), 10 * G_USEC_PER_SEC,
 *                   &error);
 * for (guint i = 0; ready != NULL && i < ready->len; i++)
 *   if (g_ptr_array_index (ready, i) == worker)
 *     mpk_process_join (worker, MPK_WAIT_FOREVER);
 *   else
 *     handle (mpk_connection_recv (g_ptr_array_index (ready, i),
 *                                  MPK_NO_WAIT, &error));
 * ]|
 */

MPK_API GPtrArray *mpk_wait (gpointer  *objects,
                             guint      n_objects,
                             gint64     timeout_us,
                             GError   **error);

G_END_DECLS

#endif /* MPK_WAIT_H */
