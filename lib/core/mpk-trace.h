/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-trace.h: the tracer's public side. Tracing is switched on from the
 * environment (MPK_TRACE=all, MPK_TRACE_DIR=folder), not from code; a program
 * can only ask whether it is on, add notes to its lane, and say where it
 * runs another program (exec) and where it learned that program ended. */
#ifndef MPK_TRACE_H
#define MPK_TRACE_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-trace
 * @title: Tracing
 * @short_description: record what the mpkit calls do, and draw it as a
 *   message-flow diagram
 *
 * Tracing is switched on from the environment, never from code: run a
 * program with `MPK_TRACE=all` (or a comma-separated list of `proc`,
 * `pipe`, `queue`, `lock`, `value`, `manager`, `msg`; `MPK_TRACE=help`
 * lists them) and every mpkit call that moves data or synchronises
 * appends an event to a file of its process in `MPK_TRACE_DIR` (default
 * `./mpk-trace`). The `mpk-trace` tool merges the files into a diagram
 * with one lane per process and an arrow from each send to its receive
 * (`mpk-trace dot`, `text` or `json`; tools/mpk-trace/README.md). With
 * tracing off, each call costs one test of a global flag.
 *
 * A program can only ask whether tracing is on (mpk_trace_is_enabled()),
 * add a note to its own lane (mpk_trace_mark()), and mark where it runs
 * another program without mpkit, so that the tool links that program's
 * lane to the note before it started and the one after it ended
 * (mpk_trace_exec_begin(), mpk_trace_exec_end()).
 *
 * |[<!-- language="C" -->
 * mpk_trace_mark ("round %d starts", round);
 *
 * guint64 exec_id;
 * char **envp = mpk_trace_exec_begin (g_get_environ (), &exec_id,
 *                                     "runs %s", argv[0]);
 * g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
 *               NULL, NULL, &status, &error);
 * mpk_trace_exec_end (exec_id, "exit %d", WEXITSTATUS (status));
 * g_strfreev (envp);
 * ]|
 *
 * `MPK_TRACE=all MPK_TRACE_DIR=/tmp/t ./prog`, then
 * `mpk-trace dot /tmp/t > run.dot && dot -Tsvg run.dot -o run.svg`.
 */

MPK_API gboolean    mpk_trace_is_enabled (void);
MPK_API const char *mpk_trace_get_dir    (void);
MPK_API void        mpk_trace_mark       (const char *format,
                                          ...) G_GNUC_PRINTF (1, 2);
MPK_API char      **mpk_trace_exec_begin (char       **envp,
                                          guint64     *exec_id,
                                          const char  *format,
                                          ...) G_GNUC_PRINTF (3, 4);
MPK_API void        mpk_trace_exec_end   (guint64      exec_id,
                                          const char  *format,
                                          ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS

#endif /* MPK_TRACE_H */
