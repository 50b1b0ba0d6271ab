/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-text.c: `mpk-trace text`: the timeline for a terminal, one line per
 * event: step, lane, what happened, and for a message where it went:
 *   "  12  worker-1   recv  str 'hello'   <- parent    (m3, pipe#1, 7 bytes)" */

#include <stdio.h>
#include <string.h>
#include "trace-render.h"

#define SUM_MAX 32   /* characters of a summary column */

typedef struct
{
  TraceRun               *run;
  const TraceViewOptions *view;
  guint                   lane_w;  /* column widths, in characters */
  guint                   verb_w;  /* 6, or more for "result" (Manager calls) */
  guint                   sum_w;
  guint                   peer_w;
  GString                *out;
} Text;

/* Appends @text padded with spaces to @width characters (not bytes). */
static void
pad (GString    *s,
     const char *text,
     guint       width)
{
  guint n = g_utf8_strlen (text, -1);

  g_string_append (s, text);
  for (; n < width; n++)
    g_string_append_c (s, ' ');
}

static char *
summary (const TraceEvent *e)
{
  g_autofree char *words = trace_message_words (e, NULL);
  g_autofree char *clean = trace_clean (words != NULL ? words : "");

  return trace_truncate (clean, SUM_MAX);
}

/* Where a message went or came from: "-> parent", "<- ?", "not received". */
static char *
peer_text (const Text       *t,
           const TraceEvent *e)
{
  g_autofree char *peer = e->peer != NULL ? trace_lane_label (e->peer->lane, t->view) : NULL;

  if (e->kind == TRACE_KIND_SEND)
    return peer != NULL ? g_strdup_printf ("-> %s", peer) : g_strdup ("not received");
  return g_strdup_printf ("<- %s", peer != NULL ? peer : "?");
}

static void
measure (Text      *t,
         GPtrArray *events)
{
  guint i;

  for (i = 0; i < events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (events, i);
      g_autofree char *lane = trace_lane_label (e->lane, t->view);

      t->lane_w = MAX (t->lane_w, g_utf8_strlen (lane, -1));
      if (e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV)
        {
          g_autofree char *sum = summary (e), *peer = peer_text (t, e);

          t->verb_w = MAX (t->verb_w, strlen (trace_event_verb (e)) + 1);
          t->sum_w = MAX (t->sum_w, g_utf8_strlen (sum, -1));
          t->peer_w = MAX (t->peer_w, g_utf8_strlen (peer, -1));
        }
    }
}

static void
append_message (Text             *t,
                const TraceEvent *e)
{
  g_autofree char *sum = summary (e), *peer = peer_text (t, e);
  g_autofree char *details = trace_event_details (e, t->run, t->view);

  pad (t->out, trace_event_verb (e), t->verb_w);
  pad (t->out, sum, t->sum_w + 2);
  pad (t->out, peer, t->peer_w + 2);
  g_string_append_printf (t->out, "(%s)", details);
}

/* Local events say what happened; a reaped child also says by whom. */
static void
append_local (Text             *t,
              const TraceEvent *e)
{
  g_autofree char *text = NULL, *clean = NULL, *parent = NULL;

  text = trace_event_local (e, t->view);
  clean = trace_clean (text);
  g_string_append_printf (t->out, e->kind == TRACE_KIND_MARK ? "\"%s\"" : "%s", clean);
  if (e->kind == TRACE_KIND_REAPED && e->lane != e->writer)
    {
      parent = trace_lane_label (e->writer, t->view);
      g_string_append_printf (t->out, " (reaped by %s)", parent);
    }
  if (t->view->times && !trace_is_synthetic (e))
    g_string_append_printf (t->out, "  (+%.3f ms)", (e->ts - t->run->t0_ns) / 1e6);
}

static void
print_event (Text             *t,
             const TraceEvent *e,
             guint             step)
{
  g_autofree char *lane = trace_lane_label (e->lane, t->view);
  g_autoptr(GString) head = g_string_new (NULL);

  g_string_printf (head, "%4u  ", step);
  pad (head, lane, t->lane_w + 2);
  t->out = g_string_new (NULL);
  if (e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV)
    append_message (t, e);
  else
    append_local (t, e);
  g_string_append (head, t->out->str);
  g_string_free (t->out, TRUE);
  printf ("%s\n", g_strchomp (head->str));
}

/* The end of a hang's story: every process that never returned from a
 * call, the call, and the step where it went to sleep. Nothing when every
 * process ended. */
static void
print_blocked (TraceRun               *run,
               const TraceViewOptions *view,
               GPtrArray              *events)
{
  gboolean any = FALSE;
  guint i, j;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      g_autofree char *name = NULL, *call = NULL;

      if (lane->blocked == NULL)
        continue;
      if (!any)
        printf ("still blocked (no exit recorded):\n");
      any = TRUE;
      for (j = 0; j < events->len && g_ptr_array_index (events, j) != lane->blocked; j++)
        ;
      name = trace_lane_label (lane, view);
      call = trace_wait_call (lane->blocked, view);
      printf ("  %s: in %s since step %u\n", name, call, j + 1);
    }
}

gboolean
trace_text_print (TraceRun               *run,
                  const TraceViewOptions *view,
                  GError                **error)
{
  g_autoptr(GPtrArray) events = trace_run_sorted (run, view->order, TRUE);
  Text t = { run, view, 0, 6, 0, 0, NULL };
  guint i;

  measure (&t, events);
  for (i = 0; i < events->len; i++)
    print_event (&t, g_ptr_array_index (events, i), i + 1);
  print_blocked (run, view, events);
  return TRUE;
}
