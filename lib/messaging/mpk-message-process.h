/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-message-process.h: valkka's MessageProcess and AsyncBackMessageProcess:
 * a frontend in the calling process sends commands to a backend process,
 * whose main loop runs the handler registered for each. */
#ifndef MPK_MESSAGE_PROCESS_H
#define MPK_MESSAGE_PROCESS_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-process.h"
#include "mpk-connection.h"
#include "mpk-command.h"
#include "mpk-event-group.h"

G_BEGIN_DECLS

typedef struct _MpkMessageProcess MpkMessageProcess;

/**
 * MpkCommandHandler:
 * @mp: (transfer none): the message process, in its backend
 * @command: (transfer none): the command received; its parameters have
 *   been checked against the handler's parameter list
 * @user_data: (transfer none) (nullable): the data given to
 *   mpk_message_process_add_handler()
 * @error: return location for a #GError
 *
 * A backend handler, valkka's `c__name` method. It runs in the backend's
 * main loop, one command at a time. A handler may answer at once
 * (mpk_message_process_reply()), later from a source it attaches to
 * mpk_message_process_get_main_context() (the async backend), or never.
 *
 * Returns: %TRUE; or %FALSE with @error set, which is logged and sent to
 *   the frontend as an error message (the backend carries on)
 */
typedef gboolean (*MpkCommandHandler) (MpkMessageProcess  *mp,
                                       MpkCommand         *command,
                                       gpointer            user_data,
                                       GError            **error);

/**
 * MpkMessageProcessHook:
 * @mp: (transfer none): the message process, in its backend
 * @user_data: (transfer none) (nullable): the data given to
 *   mpk_message_process_set_hooks()
 * @error: return location for a #GError
 *
 * valkka's `preRun__` and `postRun__`: run in the backend before its loop
 * starts and after it ends.
 *
 * Returns: %TRUE; %FALSE with @error set: a failed pre-run hook sends the
 *   error to the frontend and ends the backend with exit code 1, a failed
 *   post-run hook only changes the exit code to 1
 */
typedef gboolean (*MpkMessageProcessHook) (MpkMessageProcess  *mp,
                                           gpointer            user_data,
                                           GError            **error);

/**
 * MpkMessageProcessSourceFunc:
 * @mp: (transfer none): the message process whose backend sent something
 * @message: (transfer none) (nullable): the message, or %NULL when
 *   @error is set
 * @error: (transfer none) (nullable): an error message from a handler
 *   (the backend goes on), or the end: %MPK_ERROR_EOF once the backend
 *   said goodbye, %MPK_ERROR_PEER_DIED if it ended without
 * @user_data: (transfer none) (nullable): the data given to
 *   g_source_set_callback()
 *
 * The callback of mpk_message_process_create_source(). After the end
 * (%MPK_ERROR_EOF or %MPK_ERROR_PEER_DIED) the source is destroyed
 * whatever the callback returns.
 *
 * Returns: %G_SOURCE_CONTINUE to keep watching, %G_SOURCE_REMOVE to stop
 */
typedef gboolean (*MpkMessageProcessSourceFunc) (MpkMessageProcess *mp,
                                                 MpkCommand        *message,
                                                 const GError      *error,
                                                 gpointer           user_data);

/**
 * MPK_MESSAGE_PROCESS_KILL_TIMEOUT:
 *
 * How long mpk_message_process_stop() waits after SIGTERM before it sends
 * SIGKILL: 2 s.
 */
#define MPK_MESSAGE_PROCESS_KILL_TIMEOUT ((gint64) 2 * G_USEC_PER_SEC)

/* creating, in the frontend */
MPK_API MpkMessageProcess *mpk_message_process_new        (const char             *class_name,
                                                           const char             *name,
                                                           GError                **error);
MPK_API MpkMessageProcess *mpk_message_process_ref        (MpkMessageProcess      *mp);
MPK_API void               mpk_message_process_unref      (MpkMessageProcess      *mp);
MPK_API gboolean           mpk_message_process_add_handler (MpkMessageProcess     *mp,
                                                           const char             *command,
                                                           const char             *params,
                                                           MpkCommandHandler       handler,
                                                           gpointer                user_data,
                                                           GDestroyNotify          user_data_free,
                                                           GError                **error);
MPK_API void               mpk_message_process_set_hooks  (MpkMessageProcess      *mp,
                                                           MpkMessageProcessHook   pre_run,
                                                           MpkMessageProcessHook   post_run,
                                                           gpointer                user_data);
MPK_API void               mpk_message_process_set_ignore_sigint (MpkMessageProcess *mp,
                                                           gboolean                ignore);
MPK_API gboolean           mpk_message_process_start      (MpkMessageProcess      *mp,
                                                           GError                **error);

/* the frontend */
MPK_API gboolean           mpk_message_process_send       (MpkMessageProcess      *mp,
                                                           MpkCommand             *command,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_send_command (MpkMessageProcess    *mp,
                                                           const char             *name,
                                                           GVariant               *params,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_send_sync  (MpkMessageProcess      *mp,
                                                           MpkEventGroup          *group,
                                                           MpkCommand             *command,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API MpkCommand        *mpk_message_process_receive    (MpkMessageProcess      *mp,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API MpkConnection     *mpk_message_process_get_connection (MpkMessageProcess  *mp);
MPK_API GSource           *mpk_message_process_create_source (MpkMessageProcess   *mp,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_request_stop (MpkMessageProcess    *mp,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_wait_stop  (MpkMessageProcess      *mp,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_stop       (MpkMessageProcess      *mp,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_is_alive   (MpkMessageProcess      *mp);
MPK_API gboolean           mpk_message_process_said_goodbye (MpkMessageProcess    *mp);
MPK_API MpkProcess        *mpk_message_process_get_process (MpkMessageProcess     *mp);
MPK_API const char        *mpk_message_process_get_name   (MpkMessageProcess      *mp);
MPK_API const char        *mpk_message_process_get_log_domain (MpkMessageProcess  *mp);

/* the backend */
MPK_API gboolean           mpk_message_process_send_out   (MpkMessageProcess      *mp,
                                                           MpkCommand             *message,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_reply      (MpkMessageProcess      *mp,
                                                           MpkCommand             *command,
                                                           MpkCommand             *reply,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API gboolean           mpk_message_process_reply_error (MpkMessageProcess     *mp,
                                                           MpkCommand             *command,
                                                           const GError           *failure,
                                                           gint64                  timeout_us,
                                                           GError                **error);
MPK_API GMainContext      *mpk_message_process_get_main_context (MpkMessageProcess *mp);
MPK_API void               mpk_message_process_hold       (MpkMessageProcess      *mp);
MPK_API void               mpk_message_process_release    (MpkMessageProcess      *mp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkMessageProcess, mpk_message_process_unref)

G_END_DECLS

#endif /* MPK_MESSAGE_PROCESS_H */
