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
