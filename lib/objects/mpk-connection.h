/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-connection.h: multiprocessing.Pipe() and its Connection objects. */
#ifndef MPK_CONNECTION_H
#define MPK_CONNECTION_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-connection
 * @title: Pipe and Connection
 * @short_description: the two ends of a pipe, sending GVariant values and
 *   bytes, like multiprocessing.Pipe() and Connection
 *
 * mpk_pipe_new() makes two #MpkConnection ends, duplex (both send and
 * receive) or one-way (the first receives, the second sends), as Python's
 * `Pipe(duplex)` does. Make the pipe before mpk_process_start(): parent
 * and child then both hold both ends, and each closes the end it does not
 * use, so that a reader sees end of file (%MPK_ERROR_EOF) once every
 * writer has closed.
 *
 * mpk_connection_send() and mpk_connection_recv() carry #GVariant values
 * (a #GVariant stands in for a pickled object);
 * mpk_connection_send_bytes(), mpk_connection_recv_bytes() and
 * mpk_connection_recv_bytes_into() carry raw bytes. Each message travels as
 * one frame whose header the receiver checks before trusting it: a
 * malformed or truncated message is a #GError (%MPK_ERROR_PROTOCOL,
 * %MPK_ERROR_TRUNCATED), never a crash or a hang, and a message over
 * mpk_connection_set_max_message_size() is refused before anything is
 * allocated for it. Every call that may block takes a timeout.
 *
 * Receives are buffered: wait for a message with mpk_connection_poll(),
 * mpk_wait() or, in a GLib main loop, mpk_connection_create_source(), never
 * with poll(2) on mpk_connection_fileno(), which cannot see a message that
 * is already in the buffer.
 *
 * |[<!-- language="C" -->
 * static int
 * child (gpointer user_data)
 * {
 *   MpkConnection *end = user_data;
 *
 *   mpk_connection_send (end, g_variant_new ("(si)", "hello", 42),
 *                        MPK_WAIT_FOREVER, NULL);
 *   return 0;
 * }
 *
 * MpkConnection *parent_end, *child_end;
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GVariant) msg = NULL;
 * g_autoptr(MpkProcess) p = NULL;
 *
 * mpk_pipe_new (TRUE, &parent_end, &child_end, &error);
 * p = mpk_process_new (NULL, child, child_end, NULL);
 * mpk_process_start (p, &error);
 * mpk_connection_close (child_end);        // the child holds its own copy
 * msg = mpk_connection_recv (parent_end, 5 * G_USEC_PER_SEC, &error);
 * mpk_process_join (p, MPK_WAIT_FOREVER);
 * mpk_connection_free (parent_end);
 * mpk_connection_free (child_end);
 * ]|
 */

/**
 * MpkConnection:
 *
 * One end of a pipe, Python's `Connection`: an opaque object owned by the
 * process that holds it, freed with mpk_connection_free()
 * (`g_autoptr(MpkConnection)` works). A forked child gets its own copy of
 * every end, which it closes and frees on its side.
 */
typedef struct _MpkConnection MpkConnection;

/**
 * MPK_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The largest message (payload bytes) a new connection accepts: 1 GiB.
 * Change it with mpk_connection_set_max_message_size().
 */
#define MPK_DEFAULT_MAX_MESSAGE_SIZE ((guint64) 1 << 30)

/**
 * MpkConnectionSourceFunc:
 * @conn: (transfer none): the #MpkConnection the source watches
 * @condition: what is ready: %G_IO_IN (a whole message is buffered, or the
 *   descriptor is readable), %G_IO_OUT, %G_IO_HUP, %G_IO_ERR, or %G_IO_NVAL
 *   once @conn has been closed
 * @user_data: (transfer none) (nullable): the data given to
 *   g_source_set_callback()
 *
 * The callback of mpk_connection_create_source(), like #GSocketSourceFunc.
 *
 * Returns: %G_SOURCE_CONTINUE to keep watching, %G_SOURCE_REMOVE to stop
 */
typedef gboolean (*MpkConnectionSourceFunc) (MpkConnection *conn,
                                             GIOCondition   condition,
                                             gpointer       user_data);

MPK_API gboolean       mpk_pipe_new                  (gboolean        duplex,
                                                      MpkConnection **conn1,
                                                      MpkConnection **conn2,
                                                      GError        **error);
MPK_API MpkConnection *mpk_connection_new_from_fd    (int             fd,
                                                      gboolean        readable,
                                                      gboolean        writable,
                                                      GError        **error);
MPK_API void           mpk_connection_free           (MpkConnection  *conn);
MPK_API void           mpk_connection_close          (MpkConnection  *conn);
MPK_API gboolean       mpk_connection_is_closed      (MpkConnection  *conn);
MPK_API gboolean       mpk_connection_is_readable    (MpkConnection  *conn);
MPK_API gboolean       mpk_connection_is_writable    (MpkConnection  *conn);
MPK_API int            mpk_connection_fileno         (MpkConnection  *conn,
                                                      GError        **error);
MPK_API void           mpk_connection_set_max_message_size (MpkConnection *conn,
                                                            guint64        max_size);
MPK_API guint64        mpk_connection_get_max_message_size (MpkConnection *conn);

MPK_API gboolean       mpk_connection_send           (MpkConnection  *conn,
                                                      GVariant       *msg,
                                                      gint64          timeout_us,
                                                      GError        **error);
MPK_API GVariant      *mpk_connection_recv           (MpkConnection  *conn,
                                                      gint64          timeout_us,
                                                      GError        **error);
MPK_API gboolean       mpk_connection_send_bytes     (MpkConnection  *conn,
                                                      gconstpointer   buf,
                                                      gsize           buf_len,
                                                      gsize           offset,
                                                      gssize          size,
                                                      gint64          timeout_us,
                                                      GError        **error);
MPK_API GBytes        *mpk_connection_recv_bytes     (MpkConnection  *conn,
                                                      gssize          maxlength,
                                                      gint64          timeout_us,
                                                      GError        **error);
MPK_API gssize         mpk_connection_recv_bytes_into (MpkConnection *conn,
                                                       gpointer       buf,
                                                       gsize          buf_len,
                                                       gsize          offset,
                                                       GBytes       **whole_message,
                                                       gint64         timeout_us,
                                                       GError       **error);
MPK_API gboolean       mpk_connection_poll           (MpkConnection  *conn,
                                                      gint64          timeout_us,
                                                      GError        **error);
MPK_API GSource       *mpk_connection_create_source  (MpkConnection  *conn,
                                                      GIOCondition    condition,
                                                      GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkConnection, mpk_connection_free)

G_END_DECLS

#endif /* MPK_CONNECTION_H */
