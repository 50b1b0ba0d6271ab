/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-message.h: the request protocol's message (pymulproc's 4-element
 * list: request, sender pid, recipient pid, data) and the filters a
 * receiver picks messages with. */
#ifndef MPK_MESSAGE_H
#define MPK_MESSAGE_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * MPK_REQ_DO:
 *
 * The standard request "do a task" (pymulproc's `REQ_DO`).
 */
#define MPK_REQ_DO "DO"
/**
 * MPK_REQ_FINISHED:
 *
 * The standard request "the task is done" (pymulproc's `REQ_FINISHED`).
 */
#define MPK_REQ_FINISHED "FINISHED"
/**
 * MPK_REQ_DIE:
 *
 * The standard request "stop as soon as possible": the poison pill
 * (pymulproc's `REQ_DIE`).
 */
#define MPK_REQ_DIE "DIE"
/**
 * MPK_REQ_TEST_PARENT:
 *
 * The test request a parent sends in pymulproc's examples and tests.
 */
#define MPK_REQ_TEST_PARENT "I'M PARENT PROCESS"
/**
 * MPK_REQ_TEST_CHILD:
 *
 * The test request a child sends in pymulproc's examples and tests.
 */
#define MPK_REQ_TEST_CHILD "I'M CHILD PROCESS"

/**
 * MPK_MESSAGE_TYPE_STRING:
 *
 * The #GVariant type of a message on the wire, "(simimv)": the request, the
 * sender pid, the recipient pid (nothing: everybody) and the data (nothing:
 * none). Anything else received is %MPK_ERROR_PROTOCOL.
 */
#define MPK_MESSAGE_TYPE_STRING "(simimv)"

/**
 * MPK_PID_NONE:
 *
 * A recipient pid meaning "nobody in particular": the message is for
 * everybody (pymulproc's `None`), and one process, the first whose filter
 * accepts it, takes it.
 */
#define MPK_PID_NONE ((GPid) 0)

typedef struct _MpkMessage MpkMessage;

/**
 * MpkMessage:
 * @request: (transfer none): the request, a non-empty UTF-8 string (%MPK_REQ_DO, ...)
 * @sender_pid: the pid of the process that sent it (or the one it named)
 * @recipient_pid: the process it is for, or %MPK_PID_NONE for everybody
 * @data: (nullable): the data, any #GVariant, or %NULL for none
 *
 * One message of the request protocol: pymulproc's
 * `[request, sender_pid, recipient_pid, data]`. Reference counted; the
 * fields are read-only once the message exists.
 */
struct _MpkMessage
{
  char     *request;
  GPid      sender_pid;
  GPid      recipient_pid;
  GVariant *data;
  /*< private >*/
  gint      ref_count;
};

MPK_API MpkMessage *mpk_message_new              (const char   *request,
                                                  GPid          sender_pid,
                                                  GPid          recipient_pid,
                                                  GVariant     *data);
MPK_API MpkMessage *mpk_message_ref              (MpkMessage   *message);
MPK_API void        mpk_message_unref            (MpkMessage   *message);
MPK_API gboolean    mpk_message_is_request       (const MpkMessage *message,
                                                  const char   *request);
MPK_API GVariant   *mpk_message_to_variant       (const MpkMessage *message);
MPK_API MpkMessage *mpk_message_new_from_variant (GVariant     *value,
                                                  GError      **error);
MPK_API char       *mpk_message_to_string        (const MpkMessage *message);

/**
 * MpkMatch:
 * @MPK_MATCH_ALL: no condition: every message (pymulproc's default filter)
 * @MPK_MATCH_FOR_ME: the recipient is the receiving process or everybody
 *   (the children's filter of pymulproc's tests)
 * @MPK_MATCH_TO_ME: the recipient is exactly the receiving process
 *   (a message for everybody is refused)
 * @MPK_MATCH_SENDER: the sender is #MpkMessageFilter.sender_pid
 * @MPK_MATCH_REQUEST: the request is #MpkMessageFilter.request
 *
 * The conditions of a #MpkMessageFilter; all the flags given must hold.
 * "The receiving process" is the caller of mpk_protocol_receive(), its pid
 * taken when it receives.
 */
typedef enum
{
  MPK_MATCH_ALL     = 0,
  MPK_MATCH_FOR_ME  = 1 << 0,
  MPK_MATCH_TO_ME   = 1 << 1,
  MPK_MATCH_SENDER  = 1 << 2,
  MPK_MATCH_REQUEST = 1 << 3,
} MpkMatch;

/**
 * MpkMessageFilterFunc:
 * @message: (transfer none): a message
 * @user_data: (transfer none): the filter's user data
 *
 * A filter of your own (pymulproc's `func`). It runs while the shared
 * queue is locked, so it must be quick and must not use the queue.
 *
 * Returns: %TRUE to take @message, %FALSE to leave it for another process
 */
typedef gboolean (*MpkMessageFilterFunc) (const MpkMessage *message,
                                          gpointer          user_data);

/**
 * MpkMessageFilter:
 * @match: the conditions, #MpkMatch flags
 * @sender_pid: for %MPK_MATCH_SENDER
 * @request: (nullable): for %MPK_MATCH_REQUEST
 * @func: (nullable): a last condition of your own, or %NULL
 * @user_data: (transfer none): for @func
 *
 * What a receiver accepts: every condition of @match, and @func when it is
 * set. A %NULL filter accepts everything. Messages a filter refuses stay
 * where they are, in their order, for the process they are for.
 */
typedef struct
{
  MpkMatch              match;
  GPid                  sender_pid;
  const char           *request;
  MpkMessageFilterFunc  func;
  gpointer              user_data;
} MpkMessageFilter;

/**
 * MPK_MESSAGE_FILTER_FOR_ME:
 *
 * A `const MpkMessageFilter *` accepting messages for the receiving
 * process or for everybody.
 */
#define MPK_MESSAGE_FILTER_FOR_ME \
  ((const MpkMessageFilter *) &(const MpkMessageFilter) { MPK_MATCH_FOR_ME, 0, NULL, NULL, NULL })

/**
 * MPK_MESSAGE_FILTER_TO_ME:
 *
 * A `const MpkMessageFilter *` accepting only messages addressed to the
 * receiving process by its pid.
 */
#define MPK_MESSAGE_FILTER_TO_ME \
  ((const MpkMessageFilter *) &(const MpkMessageFilter) { MPK_MATCH_TO_ME, 0, NULL, NULL, NULL })

MPK_API gboolean    mpk_message_filter_accepts   (const MpkMessageFilter *filter,
                                                  const MpkMessage       *message,
                                                  GPid                    receiver_pid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkMessage, mpk_message_unref)

G_END_DECLS

#endif /* MPK_MESSAGE_H */
