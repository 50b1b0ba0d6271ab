/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-rows.c: the diagram's rows. One row per drawn event, in causal
 * order; a run of identical messages between the same two lanes folds into
 * one arrow "×N", a reaped child that already logged its exit takes no
 * second row, and a child's header shares the row of its spawn. */

#include <string.h>
#include "trace-render.h"

/* A proc.reaped without a signal adds nothing to a lane that logged
 * proc.exit ("lost": someone else reaped it, its status is unknown). */
static gboolean
is_redundant_reap (const TraceEvent *e)
{
  return e->kind == TRACE_KIND_REAPED && e->child_lane != NULL && e->lane->has_exit
         && (g_strcmp0 (e->status, "exited") == 0 || g_strcmp0 (e->status, "lost") == 0);
}

/* The next event after @e in its lane that is still drawn. */
static TraceEvent *
next_drawn (const TraceRows *r,
            TraceEvent      *e,
            const gboolean  *hidden)
{
  guint i;

  for (i = e->lane_pos + 1; i < e->lane->events->len; i++)
    {
      TraceEvent *next = g_ptr_array_index (e->lane->events, i);

      if (!hidden[next->pos])
        return next;
    }
  return NULL;
}

static gboolean
same_message (const TraceEvent *a,
              const TraceEvent *b)
{
  return b->kind == TRACE_KIND_SEND && b->peer != NULL
         && a->lane == b->lane && a->peer->lane == b->peer->lane
         && g_strcmp0 (a->obj, b->obj) == 0 && g_strcmp0 (a->sum, b->sum) == 0
         && g_strcmp0 (a->ev, b->ev) == 0 && g_strcmp0 (a->target, b->target) == 0
         && g_strcmp0 (a->method, b->method) == 0 && g_strcmp0 (a->error, b->error) == 0;
}

/* Folds the messages that follow @first: each next send is the next drawn
 * event of the sender and its receive the next drawn event of the receiver.
 * The arrow runs from the first send to the last receive. */
static void
fold_from (TraceRows  *r,
           TraceEvent *first,
           gboolean   *hidden)
{
  TraceEvent *send = first, *recv = first->peer, *next;
  guint n = 1;

  while (first->lane != first->peer->lane
         && (next = next_drawn (r, send, hidden)) != NULL && same_message (first, next)
         && next_drawn (r, recv, hidden) == next->peer)
    {
      hidden[next->pos] = TRUE;
      hidden[recv->pos] = TRUE;
      send = next;
      recv = next->peer;
      n++;
    }
  r->fold_n[first->pos] = n;
  r->arrow_end[first->pos] = recv;
  r->arrow_from[recv->pos] = first;
}

/* The spawn whose row a child's header shares, or NULL: the header sits
 * level with the spawn, so the creation arrow is horizontal and crosses no
 * message label on the lanes between. */
static TraceEvent *
header_spawn (const TraceRows  *r,
              const TraceEvent *e)
{
  TraceEvent *spawn = e->lane->spawn;

  if (e->kind != TRACE_KIND_START || e->lane_pos != 0 || spawn == NULL
      || r->row_of[spawn->pos] == 0)
    return NULL;
  return spawn;
}

static void
assign_rows (TraceRows      *r,
             TraceRun       *run,
             const gboolean *hidden)
{
  guint i;

  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);
      TraceEvent *spawn;

      if (hidden[i])
        continue;
      if ((spawn = header_spawn (r, e)) != NULL)
        {
          r->row_of[i] = r->row_of[spawn->pos];
          r->first_row[e->lane->index] = r->last_row[e->lane->index] = r->row_of[i];
          continue;
        }
      g_ptr_array_add (r->rows, e);
      r->row_of[i] = r->rows->len;
      if (e->lane_pos == 0)
        r->first_row[e->lane->index] = r->rows->len;
      r->last_row[e->lane->index] = r->rows->len;
    }
}

TraceRows *
trace_rows_new (TraceRun *run)
{
  guint n = run->causal->len, i;
  g_autofree gboolean *hidden = g_new0 (gboolean, n);
  TraceRows *r = g_new0 (TraceRows, 1);

  r->rows = g_ptr_array_new ();
  r->row_of = g_new0 (guint, n);
  r->fold_n = g_new0 (guint, n);
  r->arrow_end = g_new0 (TraceEvent *, n);
  r->arrow_from = g_new0 (TraceEvent *, n);
  r->first_row = g_new0 (guint, run->lanes->len);
  r->last_row = g_new0 (guint, run->lanes->len);
  for (i = 0; i < n; i++)
    hidden[i] = is_redundant_reap (g_ptr_array_index (run->causal, i));
  for (i = 0; i < n; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);

      if (e->kind == TRACE_KIND_SEND && e->peer != NULL && !hidden[i])
        fold_from (r, e, hidden);
    }
  assign_rows (r, run, hidden);
  return r;
}

void
trace_rows_free (TraceRows *rows)
{
  if (rows == NULL)
    return;
  g_ptr_array_unref (rows->rows);
  g_free (rows->row_of);
  g_free (rows->fold_n);
  g_free (rows->arrow_end);
  g_free (rows->arrow_from);
  g_free (rows->first_row);
  g_free (rows->last_row);
  g_free (rows);
}
