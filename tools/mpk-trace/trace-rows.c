/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-rows.c: the diagram's rows. One row per drawn event, in causal
 * order; a run of identical messages between the same two lanes folds into
 * one arrow "×N", a reaped child that already logged its exit takes no
 * second row, and a child's header shares the row of its spawn (an exec'd
 * program's, when it can, the row of the parent's event before it). It
 * also says which drawn events the "exec" and "exec ended" arrows join. */

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

/* An acquire, one access to a shared number, the release of the same
 * lock, one after the other in one thread: what every locked Value call
 * does (lab 02 spent 24 of its 34 rows on them). The three become one
 * row, the access's, marked "(locked)"; an acquire and its release with
 * nothing traced between become one row "held lock#1". A recovery is
 * never folded. */
static void
fold_locked (TraceRows *r,
             TraceRun  *run,
             gboolean  *hidden)
{
  guint i, j;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j + 2 < lane->events->len; j++)
        {
          TraceEvent *a = g_ptr_array_index (lane->events, j);
          TraceEvent *v = g_ptr_array_index (lane->events, j + 1);
          TraceEvent *z = g_ptr_array_index (lane->events, j + 2);

          /* Held for what the trace does not show (a range copy): one row. */
          if (strcmp (a->ev, "lock.acquire") == 0 && strcmp (v->ev, "lock.release") == 0
              && a->obj != NULL && g_strcmp0 (a->obj, v->obj) == 0 && a->writer == v->writer
              && a->th == v->th && !hidden[a->pos] && !hidden[v->pos])
            {
              hidden[v->pos] = TRUE;
              r->held[a->pos] = TRUE;
              j += 1;
              continue;
            }

          if (strcmp (a->ev, "lock.acquire") != 0 || strcmp (z->ev, "lock.release") != 0
              || !g_str_has_prefix (v->ev, "value.") || a->obj == NULL
              || g_strcmp0 (a->obj, z->obj) != 0 || a->writer != z->writer
              || v->writer != a->writer || a->th != v->th || v->th != z->th
              || hidden[a->pos] || hidden[v->pos] || hidden[z->pos])
            continue;
          hidden[a->pos] = hidden[z->pos] = TRUE;
          r->locked[v->pos] = TRUE;
          j += 2;
        }
    }
}

/* The spawn whose row a child's header shares, or NULL: the header sits
 * level with the spawn, so the creation arrow is horizontal and crosses no
 * message label on the lanes between. An exec'd program's header shares
 * the row of the event its "exec" arrow starts at, unless that row has an
 * arrow of its own (a message's end, a spawn, a header) or another such
 * header already: then it takes a row of its own, and the arrow slants. */
static TraceEvent *
header_spawn (const TraceRows  *r,
              const TraceEvent *e,
              const gboolean   *shared)
{
  TraceEvent *spawn = e->lane->spawn;
  TraceEvent *from = r->exec_from[e->lane->index];

  if (e->kind != TRACE_KIND_START || e->lane_pos != 0)
    return NULL;
  if (spawn != NULL)
    return r->row_of[spawn->pos] != 0 ? spawn : NULL;
  if (from == NULL || r->row_of[from->pos] == 0 || shared[from->pos]
      || from->kind == TRACE_KIND_SEND || from->kind == TRACE_KIND_RECV
      || from->kind == TRACE_KIND_START
      || (from->kind == TRACE_KIND_SPAWN && from->child_lane != NULL))
    return NULL;
  return from;
}

/* The drawn event an exec'd lane's arrow starts at: the parent's event
 * before the exec, or, when that one is folded into an arrow "×N", the
 * parent's latest drawn event before it. */
static void
anchor_execs (TraceRows      *r,
              TraceRun       *run,
              const gboolean *hidden)
{
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      TraceEvent *from = lane->exec_from;
      GPtrArray *list;

      while (from != NULL && hidden[from->pos])
        from = from->lane_pos > 0 ? g_ptr_array_index (from->lane->events, from->lane_pos - 1)
                                  : NULL;
      if (from == NULL)
        continue;
      r->exec_from[i] = from;
      list = g_hash_table_lookup (r->execs, from);
      if (list == NULL)
        g_hash_table_insert (r->execs, from, list = g_ptr_array_new ());
      g_ptr_array_add (list, lane);  /* lanes in order: the list is too */
    }
}

/* The drawn events an exec'd lane's "exec ended" arrow joins: its last own
 * event (or, folded, its latest drawn one before) and the parent's first
 * event after it (or, folded, its next drawn one). */
static void
anchor_resumes (TraceRows      *r,
                TraceRun       *run,
                const gboolean *hidden)
{
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      TraceEvent *last = lane->exec_last, *to = lane->exec_resume;
      GPtrArray *list;

      while (last != NULL && hidden[last->pos])
        last = last->lane_pos > 0 ? g_ptr_array_index (last->lane->events, last->lane_pos - 1)
                                  : NULL;
      while (to != NULL && hidden[to->pos])
        to = to->lane_pos + 1 < to->lane->events->len
             ? g_ptr_array_index (to->lane->events, to->lane_pos + 1) : NULL;
      if (last == NULL || to == NULL)
        continue;
      r->exec_last[i] = last;
      list = g_hash_table_lookup (r->resumes, to);
      if (list == NULL)
        g_hash_table_insert (r->resumes, to, list = g_ptr_array_new ());
      g_ptr_array_add (list, lane);  /* in lane order, as above */
    }
}

static void
assign_rows (TraceRows      *r,
             TraceRun       *run,
             const gboolean *hidden)
{
  g_autofree gboolean *shared = g_new0 (gboolean, run->causal->len);
  guint i;

  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);
      TraceEvent *spawn;

      if (hidden[i])
        continue;
      if ((spawn = header_spawn (r, e, shared)) != NULL)
        {
          shared[spawn->pos] = TRUE;
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
  r->locked = g_new0 (gboolean, n);
  r->held = g_new0 (gboolean, n);
  r->arrow_end = g_new0 (TraceEvent *, n);
  r->arrow_from = g_new0 (TraceEvent *, n);
  r->first_row = g_new0 (guint, run->lanes->len);
  r->last_row = g_new0 (guint, run->lanes->len);
  r->exec_from = g_new0 (TraceEvent *, run->lanes->len);
  r->execs = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                    (GDestroyNotify) g_ptr_array_unref);
  r->exec_last = g_new0 (TraceEvent *, run->lanes->len);
  r->resumes = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                      (GDestroyNotify) g_ptr_array_unref);
  for (i = 0; i < n; i++)
    hidden[i] = is_redundant_reap (g_ptr_array_index (run->causal, i));
  fold_locked (r, run, hidden);
  for (i = 0; i < n; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);

      if (e->kind == TRACE_KIND_SEND && e->peer != NULL && !hidden[i])
        fold_from (r, e, hidden);
    }
  anchor_execs (r, run, hidden);
  anchor_resumes (r, run, hidden);
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
  g_free (rows->locked);
  g_free (rows->held);
  g_free (rows->arrow_end);
  g_free (rows->arrow_from);
  g_free (rows->first_row);
  g_free (rows->last_row);
  g_free (rows->exec_from);
  g_hash_table_unref (rows->execs);
  g_free (rows->exec_last);
  g_hash_table_unref (rows->resumes);
  g_free (rows);
}
