/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-protocol.h: pymulproc's communication API in C: one interface, send
 * and receive, over a pipe (1:1) or a queue shared by a parent and its
 * children (1:N, N:1, N:M), with filtered receive that never reorders. */
#ifndef MPK_PROTOCOL_H
#define MPK_PROTOCOL_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-process.h"
#include "mpk-message.h"

G_BEGIN_DECLS

/**
 * MpkProtocol:
 *
 * One process's handle on a request-protocol channel: an end of a pipe
 * (mpk_protocol_pipe_new()), or a queue in shared memory
 * (mpk_protocol_queue_new()) that the parent and its children share. Each
 * process frees its own with mpk_protocol_free() (`g_autoptr(MpkProtocol)`
 * works).
 */
typedef struct _MpkProtocol MpkProtocol;

/**
 * MPK_PROTOCOL_DEFAULT_CAPACITY:
 *
 * The messages a protocol queue holds at once when made with capacity 0.
 */
#define MPK_PROTOCOL_DEFAULT_CAPACITY 1024

/**
 * MPK_PROTOCOL_DEFAULT_MESSAGE_SIZE:
 *
 * The largest message (serialized, request and data together) a protocol
 * queue made with mpk_protocol_queue_new() carries: 4 KiB less a slot's
 * bookkeeping.
 */
#define MPK_PROTOCOL_DEFAULT_MESSAGE_SIZE 4032

MPK_API gboolean     mpk_protocol_pipe_new        (MpkProtocol   **parent,
                                                   MpkProtocol   **child,
                                                   GError        **error);
MPK_API MpkProtocol *mpk_protocol_queue_new       (guint           capacity,
                                                   GError        **error);
MPK_API MpkProtocol *mpk_protocol_queue_new_full  (guint           capacity,
                                                   gsize           max_message_size,
                                                   GError        **error);
MPK_API void         mpk_protocol_free            (MpkProtocol    *proto);
MPK_API gboolean     mpk_protocol_is_queue        (MpkProtocol    *proto);

MPK_API gboolean     mpk_protocol_send            (MpkProtocol    *proto,
                                                   const char     *request,
                                                   GPid            sender_pid,
                                                   GPid            recipient_pid,
                                                   GVariant       *data,
                                                   gint64          timeout_us,
                                                   GError        **error);
MPK_API MpkMessage  *mpk_protocol_receive         (MpkProtocol    *proto,
                                                   const MpkMessageFilter *filter,
                                                   gint64          timeout_us,
                                                   GError        **error);

/* The queue transport only. */
MPK_API gboolean     mpk_protocol_queue_empty     (MpkProtocol    *proto);
MPK_API guint        mpk_protocol_queue_size      (MpkProtocol    *proto);
MPK_API guint        mpk_protocol_queue_count_for (MpkProtocol    *proto,
                                                   GPid            recipient_pid);
MPK_API gboolean     mpk_protocol_queue_join      (MpkProtocol    *proto,
                                                   gint64          timeout_us,
                                                   GError        **error);
MPK_API gboolean     mpk_protocol_queue_join_full (MpkProtocol    *proto,
                                                   MpkProcess    **watch,
                                                   guint           n_watch,
                                                   gint64          timeout_us,
                                                   GError        **error);
MPK_API GPtrArray   *mpk_protocol_queue_collect   (MpkProtocol    *proto,
                                                   GPid            recipient_pid,
                                                   GError        **error);
MPK_API guint        mpk_protocol_queue_get_n_recoveries (MpkProtocol *proto);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkProtocol, mpk_protocol_free)

G_END_DECLS

#endif /* MPK_PROTOCOL_H */
