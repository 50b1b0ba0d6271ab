/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-render.h: mpk-trace's outputs (merged JSON lines, DOT, Perfetto
 * JSON, a text timeline, a signature) and the row layout the diagram is drawn on. Every
 * output is deterministic: the same folder gives the same bytes. */
#ifndef MPK_TRACE_RENDER_H
#define MPK_TRACE_RENDER_H

#include "trace-model.h"

G_BEGIN_DECLS

/* Which events get a row of the diagram, and what each arrow spans. Arrays
 * are indexed by event pos (TraceEvent.pos) or lane index. */
typedef struct
{
  GPtrArray   *rows;       /* TraceEvent; row r (from 1) is at index r - 1 */
  guint       *row_of;     /* by event: its row, 0 = not drawn (folded) */
  guint       *fold_n;     /* by send: messages its arrow stands for (1 = plain) */
  gboolean    *locked;     /* by event: a Value access whose own acquire and release
                            * (just before and after it) are folded into its row */
  gboolean    *held;       /* by event: an acquire whose release came right after it
                            * (nothing traced between), folded into its row */
  TraceEvent **arrow_end;  /* by send: the receive its arrow ends at, or NULL */
  TraceEvent **arrow_from; /* by receive: the send its arrow starts at, or NULL */
  guint       *first_row;  /* by lane: its header's row */
  guint       *last_row;   /* by lane: its last row */
  TraceEvent **exec_from;  /* by lane: the drawn event its "exec" arrow starts at, or NULL */
  GHashTable  *execs;      /* drawn TraceEvent → GPtrArray of the lanes whose "exec"
                            * arrows start at it, in lane order */
  TraceEvent **exec_last;  /* by lane: the drawn event its "exec ended" arrow starts at,
                            * or NULL */
  GHashTable  *resumes;    /* drawn TraceEvent → GPtrArray of the lanes whose "exec
                            * ended" arrows end at it, in lane order */
} TraceRows;

typedef struct
{
  TraceViewOptions view;
  guint            max_rows;  /* rows per page; 0 = one page */
  guint            page;      /* the page printed without -o, from 1 */
  const char      *output;    /* -o FILE, or NULL for stdout */
  const char      *title;
  gboolean         queue_arrows;  /* --queue-arrows: a queue's items as arrows from
                                   * putter to getter, not through a lane of the queue */
} TraceDotOptions;

TraceRows *trace_rows_new     (TraceRun  *run);
void       trace_rows_free    (TraceRows *rows);

gboolean   trace_merge_print  (TraceRun   *run,
                               TraceOrder  order,
                               GError    **error);
gboolean   trace_dot_print    (TraceRun              *run,
                               const TraceDotOptions *options,
                               GError               **error);
gboolean   trace_json_print   (TraceRun  *run,
                               GError   **error);
gboolean   trace_text_print   (TraceRun               *run,
                               const TraceViewOptions *view,
                               GError                **error);
gboolean   trace_signature_print (TraceRun  *run,
                                  GError   **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceRows, trace_rows_free)

G_END_DECLS

#endif /* MPK_TRACE_RENDER_H */
