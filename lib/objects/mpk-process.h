/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-process.h: multiprocessing.Process, a child made with fork(). */
#ifndef MPK_PROCESS_H
#define MPK_PROCESS_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-process
 * @title: Process
 * @short_description: child processes made with fork(), like
 *   multiprocessing.Process
 *
 * An #MpkProcess is Python's `multiprocessing.Process` with the fork start
 * method: mpk_process_new() takes the child's body (Python's `target`) and
 * its data, mpk_process_start() forks, and the child runs the body and
 * exits with its return value. The parent waits with mpk_process_join(),
 * reads mpk_process_get_exitcode() (minus the signal number for a child
 * killed by a signal, as in Python), and may mpk_process_terminate() or
 * mpk_process_kill() it.
 *
 * Everything made before the start (queues, pipes, locks, values) is
 * shared with the child, which gets a copy of the parent's memory. Names
 * ("Process-1", "Process-1:2" for a grandchild), daemonic children (ended
 * when their parent ends), sentinels for poll(2), mpk_wait() or a GLib
 * main loop (mpk_process_create_source()) and mpk_active_children() all
 * follow Python. Only the process that created an #MpkProcess can start,
 * join or signal it.
 *
 * |[<!-- language="C" -->
 * static int
 * greet (gpointer user_data)
 * {
 *   printf ("hello %s from %s\n", (const char *) user_data,
 *           mpk_current_process_get_name ());
 *   return 3;
 * }
 *
 * g_autoptr(MpkProcess) p = mpk_process_new (NULL, greet, "bob", NULL);
 * g_autoptr(GError) error = NULL;
 *
 * if (!mpk_process_start (p, &error))
 *   g_error ("%s", error->message);
 * mpk_process_join (p, MPK_WAIT_FOREVER);
 * g_assert_cmpint (mpk_process_get_exitcode (p), ==, 3);
 * ]|
 */

/**
 * MpkProcess:
 *
 * A child process, started or not: an opaque, reference-counted object
 * (mpk_process_ref(), mpk_process_unref(); `g_autoptr(MpkProcess)` works).
 */
typedef struct _MpkProcess MpkProcess;

/**
 * MpkProcessFunc:
 * @user_data: (transfer none) (nullable): the data given to mpk_process_new()
 *
 * The body of a child process, Python's `target`. It runs in the child only.
 *
 * Returns: the child's exit code (0 to 255), Python's `sys.exit(n)`
 */
typedef int (*MpkProcessFunc) (gpointer user_data);

/**
 * MPK_EXITCODE_NONE:
 *
 * What mpk_process_get_exitcode() returns while the process has not exited
 * (Python's `exitcode` is None).
 */
#define MPK_EXITCODE_NONE G_MININT

/**
 * MpkProcessSourceFunc:
 * @process: (transfer none): the #MpkProcess that ended
 * @user_data: (transfer none) (nullable): the data given to
 *   g_source_set_callback()
 *
 * The callback of mpk_process_create_source(), like #GChildWatchFunc. It
 * runs once, after the process ended; the source does not reap it, so
 * mpk_process_join() or mpk_process_get_exitcode() gives its exit code.
 */
typedef void (*MpkProcessSourceFunc) (MpkProcess *process,
                                      gpointer    user_data);

MPK_API MpkProcess  *mpk_process_new           (const char      *name,
                                                MpkProcessFunc   func,
                                                gpointer         user_data,
                                                GDestroyNotify   user_data_free);
MPK_API MpkProcess  *mpk_process_ref           (MpkProcess      *process);
MPK_API void         mpk_process_unref         (MpkProcess      *process);
MPK_API gboolean     mpk_process_start         (MpkProcess      *process,
                                                GError         **error);
MPK_API gboolean     mpk_process_join          (MpkProcess      *process,
                                                gint64           timeout_us);
MPK_API gboolean     mpk_process_join_full     (MpkProcess      *process,
                                                gint64           timeout_us,
                                                GError         **error);
MPK_API gboolean     mpk_process_is_alive      (MpkProcess      *process);
MPK_API int          mpk_process_get_exitcode  (MpkProcess      *process);
MPK_API gboolean     mpk_process_terminate     (MpkProcess      *process,
                                                GError         **error);
MPK_API gboolean     mpk_process_kill          (MpkProcess      *process,
                                                GError         **error);
MPK_API GPid         mpk_process_get_pid       (MpkProcess      *process);
MPK_API const char  *mpk_process_get_name      (MpkProcess      *process);
MPK_API void         mpk_process_set_name      (MpkProcess      *process,
                                                const char      *name);
MPK_API gboolean     mpk_process_get_daemon    (MpkProcess      *process);
MPK_API void         mpk_process_set_daemon    (MpkProcess      *process,
                                                gboolean         daemon);
MPK_API int          mpk_process_get_sentinel  (MpkProcess      *process);
MPK_API gboolean     mpk_process_close         (MpkProcess      *process,
                                                GError         **error);
MPK_API GSource     *mpk_process_create_source (MpkProcess      *process,
                                                GError         **error);

MPK_API const char  *mpk_current_process_get_name   (void);
MPK_API gboolean     mpk_current_process_get_daemon (void);
MPK_API GPid         mpk_current_process_get_pid    (void);
MPK_API GPid         mpk_parent_process_get_pid     (void);
MPK_API GPtrArray   *mpk_active_children            (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkProcess, mpk_process_unref)

G_END_DECLS

#endif /* MPK_PROCESS_H */
