/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-messenger.h: coproc's MultiMessenger and PriorityMessenger: channels,
 * priorities, request/reply counting and special messages over one duplex
 * pipe (seeds/001_c29a5796e6bd02c6.txt). */
#ifndef MPK_MESSENGER_H
#define MPK_MESSENGER_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <math.h>
#include <glib.h>
#include "mpk-version.h"
#include "mpk-connection.h"

G_BEGIN_DECLS

/**
 * MpkMessenger:
 *
 * One side of a messenger pair: an opaque object owning one end of a
 * duplex pipe, its per-channel queues and its request counters. Made by
 * mpk_messenger_new_pair(), mpk_messenger_new() or #MpkWorker; freed with
 * mpk_messenger_free(). Used by one thread at a time.
 */
typedef struct _MpkMessenger MpkMessenger;

/**
 * MpkMessengerKind:
 * @MPK_MESSENGER_FIFO: each channel delivers in arrival order (coproc's
 *   MultiMessenger); priorities sent to it are ignored
 * @MPK_MESSENGER_PRIORITY: each channel delivers the lowest priority value
 *   first, equal priorities in arrival order (coproc's PriorityMessenger)
 *
 * How a messenger orders the messages it has received on a channel. The
 * receiving side decides: the sender only attaches a priority.
 */
typedef enum
{
  MPK_MESSENGER_FIFO,
  MPK_MESSENGER_PRIORITY,
} MpkMessengerKind;

/**
 * MpkMessengerSend:
 * @MPK_MESSENGER_SEND_NOREQUEST: plain data (coproc's send_norequest)
 * @MPK_MESSENGER_SEND_REQUEST: data that expects a reply: counts a request
 *   on the channel (send_request)
 * @MPK_MESSENGER_SEND_REPLY: the answer to a request: the receiver counts a
 *   reply on the channel when it takes the message (send_reply)
 *
 * What a data message is, for mpk_messenger_send_full().
 */
typedef enum
{
  MPK_MESSENGER_SEND_NOREQUEST,
  MPK_MESSENGER_SEND_REQUEST,
  MPK_MESSENGER_SEND_REPLY,
} MpkMessengerSend;

/**
 * MPK_PRIORITY_NONE:
 *
 * The priority of a message sent without one: +infinity, so it comes after
 * every message that has a priority (lower values are more important).
 * coproc's code does the same, although its documentation says -inf.
 */
#define MPK_PRIORITY_NONE ((gdouble) INFINITY)

MPK_API gboolean      mpk_messenger_new_pair        (MpkMessengerKind   kind,
                                                     MpkMessenger     **side1,
                                                     MpkMessenger     **side2,
                                                     GError           **error);
MPK_API MpkMessenger *mpk_messenger_new             (MpkConnection     *conn,
                                                     MpkMessengerKind   kind,
                                                     GError           **error);
MPK_API void          mpk_messenger_free            (MpkMessenger      *messenger);
MPK_API MpkMessengerKind mpk_messenger_get_kind     (MpkMessenger      *messenger);
MPK_API MpkConnection *mpk_messenger_get_connection (MpkMessenger      *messenger);

MPK_API gboolean      mpk_messenger_send_full       (MpkMessenger      *messenger,
                                                     MpkMessengerSend   what,
                                                     GVariant          *channel,
                                                     GVariant          *payload,
                                                     gdouble            priority,
                                                     gint64             timeout_us,
                                                     GError           **error);
MPK_API gboolean      mpk_messenger_send_norequest  (MpkMessenger      *messenger,
                                                     GVariant          *channel,
                                                     GVariant          *payload,
                                                     gint64             timeout_us,
                                                     GError           **error);
MPK_API gboolean      mpk_messenger_send_request    (MpkMessenger      *messenger,
                                                     GVariant          *channel,
                                                     GVariant          *payload,
                                                     gint64             timeout_us,
                                                     GError           **error);
MPK_API gboolean      mpk_messenger_send_reply      (MpkMessenger      *messenger,
                                                     GVariant          *channel,
                                                     GVariant          *payload,
                                                     gint64             timeout_us,
                                                     GError           **error);
MPK_API gboolean      mpk_messenger_send_error      (MpkMessenger      *messenger,
                                                     const GError      *remote_error,
                                                     gint64             timeout_us,
                                                     GError           **error);
MPK_API gboolean      mpk_messenger_send_close_request (MpkMessenger   *messenger,
                                                        gint64          timeout_us,
                                                        GError        **error);
MPK_API gboolean      mpk_messenger_flush           (MpkMessenger      *messenger,
                                                     gint64             timeout_us,
                                                     GError           **error);

MPK_API gssize        mpk_messenger_available       (MpkMessenger      *messenger,
                                                     GVariant          *channel,
                                                     GError           **error);
MPK_API gssize        mpk_messenger_available_total (MpkMessenger      *messenger,
                                                     GError           **error);
MPK_API GPtrArray    *mpk_messenger_receive_available (MpkMessenger    *messenger,
                                                       GVariant        *channel,
                                                       GError         **error);
MPK_API GVariant     *mpk_messenger_receive_blocking (MpkMessenger     *messenger,
                                                      GVariant         *channel,
                                                      gint64            timeout_us,
                                                      GError          **error);
MPK_API gboolean      mpk_messenger_await_available (MpkMessenger      *messenger,
                                                     gint64             timeout_us,
                                                     GError           **error);
MPK_API GPtrArray    *mpk_messenger_receive_remaining (MpkMessenger    *messenger,
                                                       GVariant        *channel,
                                                       gint64           timeout_us,
                                                       GError         **error);

MPK_API guint64       mpk_messenger_remaining       (MpkMessenger      *messenger,
                                                     GVariant          *channel);
MPK_API guint64       mpk_messenger_get_requests_sent     (MpkMessenger *messenger,
                                                           GVariant     *channel);
MPK_API guint64       mpk_messenger_get_replies_received  (MpkMessenger *messenger,
                                                           GVariant     *channel);
MPK_API guint64       mpk_messenger_get_messages_sent     (MpkMessenger *messenger,
                                                           GVariant     *channel);
MPK_API guint64       mpk_messenger_get_messages_received (MpkMessenger *messenger,
                                                           GVariant     *channel);
MPK_API gsize         mpk_messenger_queue_size      (MpkMessenger      *messenger,
                                                     GVariant          *channel);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkMessenger, mpk_messenger_free)

G_END_DECLS

#endif /* MPK_MESSENGER_H */
