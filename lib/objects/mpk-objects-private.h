/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-objects-private.h: the internal header of the multiprocessing objects
 * (process, connection, wait, queue, lock, value; never installed). It
 * builds on the core's internal header and the objects' public headers,
 * and knows nothing of the Manager or the messaging layers above. */
#ifndef MPK_OBJECTS_PRIVATE_H
#define MPK_OBJECTS_PRIVATE_H

#include "mpk-core-private.h"
#include "mpk-process.h"
#include "mpk-connection.h"
#include "mpk-wait.h"
#include "mpk-lock.h"
#include "mpk-queue.h"
#include "mpk-value.h"

G_BEGIN_DECLS

/* A connection is ready to read without blocking: buffered bytes, or its fd
 * polled readable. Returns the fd to poll, or -1 if it is ready already
 * (@ready set) or closed. */
G_GNUC_INTERNAL int mpk__connection_wait_fd (MpkConnection *conn,
                                             gboolean      *ready);

/* The process's sentinel fd, or -1 if it has not started or is closed. */
G_GNUC_INTERNAL int mpk__process_wait_fd (MpkProcess *process);

/* For tests: the shared mapping behind @queue (control block, then ring). */
G_GNUC_INTERNAL gpointer mpk__queue_get_shared_for_testing (MpkQueue *queue,
                                                           gsize    *size);

/* Fault injection for tests: when TRUE the next child fails its setup. */
G_GNUC_INTERNAL extern gboolean mpk__process_fail_setup_for_testing;

/* Connection internals the Manager uses. Its connections carry requests
 * and replies: they record no pipe events (the Manager records its own,
 * manager.call etc.) and a receive polls before it reads (an answer is
 * never there yet). It needs each frame's header for the message id. */
G_GNUC_INTERNAL void      mpk__connection_set_request_reply (MpkConnection *conn);
G_GNUC_INTERNAL gboolean  mpk__connection_send_header   (MpkConnection  *conn,
                                                         GVariant       *msg,
                                                         gint64          timeout_us,
                                                         MpkWireHeader  *header_out,
                                                         GError        **error);
G_GNUC_INTERNAL GVariant *mpk__connection_recv_header   (MpkConnection  *conn,
                                                         gint64          timeout_us,
                                                         MpkWireHeader  *header_out,
                                                         GError        **error);

G_END_DECLS

#endif /* MPK_OBJECTS_PRIVATE_H */
