/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-program.h: valkka's MainContext: a main program that starts its
 * message processes, then its threads, multiplexes their pipes in a GLib
 * main loop and closes everything in order. */
#ifndef MPK_PROGRAM_H
#define MPK_PROGRAM_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <gio/gio.h>
#include "mpk-version.h"
#include "mpk-command.h"
#include "mpk-message-process.h"

G_BEGIN_DECLS

typedef struct _MpkProgram MpkProgram;

/**
 * MpkProgramThreadFunc:
 * @program: (transfer none): the program
 * @cancellable: (transfer none): cancelled when the program closes: the
 *   thread must return soon after
 * @user_data: (transfer none) (nullable): the data given to
 *   mpk_program_add_thread()
 *
 * The body of one of the program's threads, started after every process
 * (forking with threads running is unsafe). It may call mpk_program_quit().
 */
typedef void (*MpkProgramThreadFunc) (MpkProgram   *program,
                                      GCancellable *cancellable,
                                      gpointer      user_data);

/**
 * MpkProgramMessageFunc:
 * @program: (transfer none): the program
 * @mp: (transfer none): the process whose backend sent something
 * @message: (transfer none) (nullable): the message, or %NULL when @error
 *   is set
 * @error: (transfer none) (nullable): a handler's error, or the process's
 *   end (%MPK_ERROR_EOF after its goodbye, %MPK_ERROR_PEER_DIED if it died)
 * @user_data: (transfer none) (nullable): the data given to
 *   mpk_program_set_message_func()
 *
 * Called in the program's main loop for everything its processes send,
 * as valkka's tutorial selects on every pipe.
 */
typedef void (*MpkProgramMessageFunc) (MpkProgram        *program,
                                       MpkMessageProcess *mp,
                                       MpkCommand        *message,
                                       const GError      *error,
                                       gpointer           user_data);

/**
 * MPK_PROGRAM_STOP_TIMEOUT:
 *
 * How long mpk_program_close() gives each process to stop by itself
 * before terminating it, unless mpk_program_set_stop_timeout() said
 * otherwise: 10 s.
 */
#define MPK_PROGRAM_STOP_TIMEOUT ((gint64) 10 * G_USEC_PER_SEC)

MPK_API MpkProgram   *mpk_program_new              (const char            *name);
MPK_API void          mpk_program_free             (MpkProgram            *program);
MPK_API void          mpk_program_add_process      (MpkProgram            *program,
                                                    MpkMessageProcess     *mp);
MPK_API void          mpk_program_add_thread       (MpkProgram            *program,
                                                    const char            *name,
                                                    MpkProgramThreadFunc   func,
                                                    gpointer               user_data);
MPK_API void          mpk_program_set_message_func (MpkProgram            *program,
                                                    MpkProgramMessageFunc  func,
                                                    gpointer               user_data);
MPK_API void          mpk_program_set_stop_timeout (MpkProgram            *program,
                                                    gint64                 timeout_us);
MPK_API gboolean      mpk_program_start            (MpkProgram            *program,
                                                    GError               **error);
MPK_API gboolean      mpk_program_run              (MpkProgram            *program,
                                                    GError               **error);
MPK_API void          mpk_program_quit             (MpkProgram            *program);
MPK_API gboolean      mpk_program_close            (MpkProgram            *program,
                                                    GError               **error);
MPK_API int           mpk_program_get_signal       (MpkProgram            *program);
MPK_API GMainContext *mpk_program_get_main_context (MpkProgram            *program);
MPK_API const char   *mpk_program_get_name         (MpkProgram            *program);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkProgram, mpk_program_free)

G_END_DECLS

#endif /* MPK_PROGRAM_H */
