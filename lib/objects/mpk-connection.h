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
 * @conn: the #MpkConnection the source watches
 * @condition: what is ready: %G_IO_IN (a whole message is buffered, or the
 *   descriptor is readable), %G_IO_OUT, %G_IO_HUP, %G_IO_ERR, or %G_IO_NVAL
 *   once @conn has been closed
 * @user_data: the data given to g_source_set_callback()
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
