/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-order.c: turns the loaded files of one run into lanes and a causal
 * order (README.md, "Merging"): lane sequences, message matching, a Lamport
 * clock recomputed over the happens-before edges, lane order by creation,
 * unique lane names, message numbers and object names. */

#include <stdlib.h>
#include <string.h>
#include "trace-model.h"

TraceEvent *
trace__event_new (TraceKind  kind,
                  TraceLane *writer)
{
  TraceEvent *e = g_new0 (TraceEvent, 1);

  e->kind = kind;
  e->writer = writer;
  e->lane = writer;
  e->bytes = -1;
  e->index = -1;
  return e;
}

gboolean
trace_is_synthetic (const TraceEvent *event)
{
  return event->line == NULL;
}

static TraceEvent *
lane_last (TraceLane *lane)
{
  return g_ptr_array_index (lane->events, lane->events->len - 1);
}

static TraceEvent *
synthesize (TraceLane *lane,
            TraceKind  kind,
            gint64     seq,
            gint64     lc,
            gint64     ts)
{
  TraceEvent *e = trace__event_new (kind, lane);

  e->ev = kind == TRACE_KIND_START ? "proc.start" : "no-exit";
  e->name = lane->header_name;
  e->seq = seq;
  e->lc = lc;
  e->ts = ts;
  g_ptr_array_add (lane->synth, e);
  return e;
}

/* Lanes before ranks exist: by start time, then pid. Also the tie-break
 * order for cycles, which must be fixed before the real order is known. */
static gint
compare_lanes_by_start (gconstpointer a,
                        gconstpointer b)
{
  const TraceLane *x = *(TraceLane * const *) a, *y = *(TraceLane * const *) b;

  if (x->t0_mono_ns != y->t0_mono_ns)
    return x->t0_mono_ns < y->t0_mono_ns ? -1 : 1;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  return strcmp (x->path, y->path) != 0 ? strcmp (x->path, y->path)
                                        : (gint) x->header_lineno - (gint) y->header_lineno;
}

static void
reindex_lanes (TraceRun *run)
{
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    ((TraceLane *) g_ptr_array_index (run->lanes, i))->index = i;
}

/* pid -> lane; a pid reused inside one run keeps its first lane. */
static GHashTable *
map_pids (TraceRun *run)
{
  GHashTable *pids = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      if (g_hash_table_contains (pids, &lane->pid))
        trace_warn ("%s: pid %" G_GINT64_FORMAT " appears twice in run %s; "
                    "events naming it go to its first lane", lane->path, lane->pid, run->id);
      else
        g_hash_table_insert (pids, &lane->pid, lane);
    }
  return pids;
}

static TraceLane *
traced_child (GHashTable *pids,
              TraceEvent *e)
{
  TraceLane *child = g_hash_table_lookup (pids, &e->child);

  return child != e->writer ? child : NULL;
}

/* The order in which @lane's process did its events. Each thread's lines
 * are in the order it did them (seq); but a thread writes an event's line
 * after the event, so another thread can write a later event first (a
 * Manager's thread sends a reply, another serves the call that reply made
 * possible and writes it, then the first writes its reply). Every event
 * took "lc" from the process's one atomic clock when it happened, so the
 * threads' sequences are merged by lc: the order the clock was taken in,
 * never against a thread's own order (ties, and damaged clocks, by seq).
 * One thread (every file without "th"): the file's order. */
static GPtrArray *
own_in_lane_order (TraceLane *lane)
{
  g_autoptr(GArray) threads = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree guint *next = NULL;
  GPtrArray *out = g_ptr_array_sized_new (lane->own->len);
  guint i, t;

  for (i = 0; i < lane->own->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (lane->own, i);

      for (t = 0; t < threads->len && g_array_index (threads, gint64, t) != e->th; t++)
        ;
      if (t == threads->len)
        g_array_append_val (threads, e->th);
    }
  if (threads->len <= 1)
    {
      for (i = 0; i < lane->own->len; i++)
        g_ptr_array_add (out, g_ptr_array_index (lane->own, i));
      return out;
    }
  /* next[t]: the position in own of thread t's first event not yet taken. */
  next = g_new0 (guint, threads->len);
  while (out->len < lane->own->len)
    {
      TraceEvent *best = NULL;
      guint best_t = 0;

      for (t = 0; t < threads->len; t++)
        {
          gint64 th = g_array_index (threads, gint64, t);
          TraceEvent *head = NULL;

          while (next[t] < lane->own->len
                 && (head = g_ptr_array_index (lane->own, next[t]))->th != th)
            next[t]++, head = NULL;
          if (head != NULL
              && (best == NULL || head->lc < best->lc
                  || (head->lc == best->lc && head->seq < best->seq)))
            best = head, best_t = t;
        }
      g_ptr_array_add (out, best);
      next[best_t]++;
    }
  return out;
}

/* A lane starts with proc.start, synthesized if the file lacks it, so every
 * lane has a header row and a first event for its spawn edge to reach. */
static void
fill_own_events (TraceLane  *lane,
                 GHashTable *pids,
                 GPtrArray  *reaped)
{
  g_autoptr(GPtrArray) ordered = own_in_lane_order (lane);
  TraceEvent *first = ordered->len > 0 ? g_ptr_array_index (ordered, 0) : NULL;
  guint i;

  lane->events = g_ptr_array_new ();
  lane->synth = g_ptr_array_new_with_free_func (g_free);
  lane->joins = g_ptr_array_new ();
  if (first == NULL || first->kind != TRACE_KIND_START)
    g_ptr_array_add (lane->events, synthesize (lane, TRACE_KIND_START, 0,
                                               first != NULL ? first->lc : 0, lane->t0_mono_ns));
  for (i = 0; i < ordered->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (ordered, i);

      if (e->kind == TRACE_KIND_SPAWN || e->kind == TRACE_KIND_REAPED
          || e->kind == TRACE_KIND_JOIN || e->kind == TRACE_KIND_SIGNAL
          || (trace_is_wait (e) && e->child > 0))
        e->child_lane = traced_child (pids, e);
      if (e->kind == TRACE_KIND_REAPED && e->child_lane != NULL)
        g_ptr_array_add (reaped, e);
      else
        g_ptr_array_add (lane->events, e);
    }
}

gboolean
trace_is_wait (const TraceEvent *event)
{
  return event->kind == TRACE_KIND_OTHER && strcmp (event->ev, "call.wait") == 0;
}

/* Whether the call.wait @i of @lane->events is where its thread stopped:
 * no later event of the same thread of the same file. */
static gboolean
wait_is_last (TraceLane *lane,
              guint      i)
{
  TraceEvent *wait = g_ptr_array_index (lane->events, i);

  for (i++; i < lane->events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (lane->events, i);

      if (e->writer == wait->writer && e->th == wait->th && !trace_is_synthetic (e))
        return FALSE;
    }
  return TRUE;
}

/* A lane that ends without exit or reaped gets a "no exit recorded" footer,
 * or, when its process was asleep in a call (a call.wait its thread never
 * got past), "blocked in get(queue#1)". Every other call.wait is dropped:
 * whether a call that returned had to sleep first depends on timing, not
 * on what the program did. */
static void
finish_lane (TraceLane *lane)
{
  TraceEvent *last;
  gboolean ended = FALSE;
  guint i, kept = 0;

  for (i = 0; i < lane->events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (lane->events, i);

      lane->has_exit |= e->kind == TRACE_KIND_EXIT;
      ended |= e->kind == TRACE_KIND_EXIT || e->kind == TRACE_KIND_REAPED;
    }
  for (i = 0; i < lane->events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (lane->events, i);

      if (trace_is_wait (e) && (ended || !wait_is_last (lane, i)))
        continue;
      if (trace_is_wait (e))
        lane->blocked = e;
      lane->events->pdata[kept++] = e;
    }
  g_ptr_array_set_size (lane->events, kept);
  last = lane_last (lane);
  for (i = 0; i < lane->events->len; i++)
    ((TraceEvent *) g_ptr_array_index (lane->events, i))->lane_pos = i;
  if (!ended)
    {
      last = synthesize (lane, TRACE_KIND_NO_EXIT, last->seq + 1, last->lc, last->ts);
      last->lane_pos = lane->events->len;
      g_ptr_array_add (lane->events, last);
    }
}

/* The name an untraced child is known by: its proc.spawn's, else its pid. */
static void
name_untraced_children (TraceLane *lane)
{
  g_autoptr(GHashTable) names = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint i;

  for (i = 0; i < lane->events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (lane->events, i);

      if (e->kind == TRACE_KIND_SPAWN && e->name != NULL)
        g_hash_table_insert (names, &e->child, (gpointer) e->name);
      else if (e->kind == TRACE_KIND_REAPED && e->name == NULL)
        e->name = g_hash_table_lookup (names, &e->child);
    }
}

/* Lane sequences: a proc.reaped is the child's terminal event, so it joins
 * the child's lane after the child's own events (the parent's reap position
 * depends on timing and must not make a row there). */
static void
build_lanes (TraceRun   *run,
             GHashTable *pids)
{
  g_autoptr(GPtrArray) reaped = g_ptr_array_new ();
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    fill_own_events (g_ptr_array_index (run->lanes, i), pids, reaped);
  for (i = 0; i < reaped->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (reaped, i);

      e->lane = e->child_lane;
      g_ptr_array_add (e->lane->events, e);
    }
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      finish_lane (lane);
      name_untraced_children (lane);
    }
}

/* The first proc.spawn naming a traced child (in lane order, then seq)
 * creates that child's lane; every proc.join naming it waits for its end. */
static void
link_children (TraceRun *run)
{
  guint i, j;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j < lane->events->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->events, j);

          if (e->kind == TRACE_KIND_SPAWN && e->child_lane != NULL && e->child_lane->spawn == NULL)
            e->child_lane->spawn = e;
          else if (e->kind == TRACE_KIND_JOIN && e->child_lane != NULL)
            g_ptr_array_add (e->child_lane->joins, e);
        }
    }
}

static void
pair_message (TraceEvent *send,
              TraceEvent *recv)
{
  send->peer = recv;
  recv->peer = send;
  if (recv->ts < send->ts)
    trace_warn ("message %s received before it was sent (%s:%u is %" G_GINT64_FORMAT
                " ns before %s:%u); a clock or tracer problem", send->msg, recv->writer->path,
                recv->lineno, send->ts - recv->ts, send->writer->path, send->lineno);
}

/* Sends and receives with the same msg id, paired in file order. */
static void
match_messages (TraceRun *run)
{
  g_autoptr(GHashTable) sends = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                       (GDestroyNotify) g_queue_free);
  guint pass, i, j;

  for (pass = 0; pass < 2; pass++)
    for (i = 0; i < run->lanes->len; i++)
      {
        TraceLane *lane = g_ptr_array_index (run->lanes, i);

        for (j = 0; j < lane->events->len; j++)
          {
            TraceEvent *e = g_ptr_array_index (lane->events, j);
            GQueue *queue = e->msg != NULL ? g_hash_table_lookup (sends, e->msg) : NULL;

            if (pass == 0 && e->kind == TRACE_KIND_SEND)
              {
                if (queue == NULL)
                  g_hash_table_insert (sends, (gpointer) e->msg, queue = g_queue_new ());
                else if (queue->length == 1)
                  trace_warn ("message id %s is sent more than once", e->msg);
                g_queue_push_tail (queue, e);
              }
            else if (pass == 1 && e->kind == TRACE_KIND_RECV && queue != NULL && queue->length > 0)
              pair_message (g_queue_pop_head (queue), e);
          }
      }
}

/* Pipe ends: "pipe.close" of one end and "pipe.eof" at the other. End of
 * file arrives only once every copy of the other end is closed, so each
 * such close happens before the EOF. */
static gboolean
is_close (const TraceEvent *e)
{
  return e->kind == TRACE_KIND_OTHER && e->obj != NULL && e->end > 0
         && g_str_has_suffix (e->ev, ".close");
}

static char *
end_key (const TraceEvent *e,
         gboolean          other)
{
  return g_strdup_printf ("%s %" G_GINT64_FORMAT, e->obj, other ? 3 - e->end : e->end);
}

static void
add_to (GHashTable *table,
        TraceEvent *e)
{
  char *key = end_key (e, FALSE);
  GPtrArray *list = g_hash_table_lookup (table, key);

  if (list == NULL)
    g_hash_table_insert (table, key, list = g_ptr_array_new ());
  else
    g_free (key);
  g_ptr_array_add (list, e);
}

static void
link_pipe_ends (TraceRun *run)
{
  guint i, j;

  run->closes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) g_ptr_array_unref);
  run->eofs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) g_ptr_array_unref);
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j < lane->events->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->events, j);

          if (is_close (e))
            add_to (run->closes, e);
          else if (e->kind == TRACE_KIND_EOF && e->obj != NULL && e->end > 0)
            add_to (run->eofs, e);
        }
    }
}

/* The recorded event @seq of @lane (its file's events are in seq order), or NULL. */
static TraceEvent *
find_seq (TraceLane *lane,
          gint64     seq)
{
  guint lo = 0, hi = lane->own->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      TraceEvent *e = g_ptr_array_index (lane->own, mid);

      if (e->seq == seq)
        return e;
      if (e->seq < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

/* The event "<pid>.<seq>" names: in the pid's first lane, else in a later
 * lane of the same pid (a reused pid, an exec). */
static TraceEvent *
find_event (TraceRun   *run,
            GHashTable *pids,
            gint64      pid,
            gint64      seq)
{
  TraceLane *first = g_hash_table_lookup (pids, &pid);
  TraceEvent *e = first != NULL ? find_seq (first, seq) : NULL;
  guint i;

  for (i = 0; first != NULL && e == NULL && i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      if (lane != first && lane->pid == pid)
        e = find_seq (lane, seq);
    }
  return e;
}

/* The latest proc.signal sent to each pid, for the repairs ("dead":pid)
 * that a killed process's death caused: the kill happened before them. */
static GHashTable *
last_signals (TraceRun *run)
{
  GHashTable *signals = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (guint j = 0; j < lane->own->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->own, j);

          if (e->kind == TRACE_KIND_SIGNAL)
            g_hash_table_insert (signals, &e->child, e);
        }
    }
  return signals;
}

/* "after" edges: an effect names its cause by pid and seq. A name this run
 * does not hold (a process that left no file, a torn line, another run) or
 * the effect itself is ignored, with one note for them all. An event that
 * repaired after a dead process ("dead":pid) without naming a cause gets the
 * signal that killed it, when the trace has one. */
static void
link_causes (TraceRun   *run,
             GHashTable *pids)
{
  g_autoptr(GHashTable) signals = last_signals (run);
  g_autoptr(GHashTable) sends = g_hash_table_new (g_str_hash, g_str_equal);
  TraceEvent *first_bad = NULL;
  guint i, j, n_bad = 0;

  run->effects = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                        (GDestroyNotify) g_ptr_array_unref);
  /* A message a protocol receiver passed over (msg.left, "ref": its msg
   * id) was there because it had been sent: the send is its cause. */
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j < lane->own->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->own, j);

          if (e->kind == TRACE_KIND_SEND && !g_hash_table_contains (sends, e->msg))
            g_hash_table_insert (sends, (gpointer) e->msg, e);
        }
    }
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j < lane->own->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->own, j);
          TraceEvent *cause;
          GPtrArray *list;

          if (e->after_seq == 0 && e->dead > 0
              && (cause = g_hash_table_lookup (signals, &e->dead)) != NULL)
            goto link;
          if (e->after_seq == 0 && e->ref != NULL
              && (cause = g_hash_table_lookup (sends, e->ref)) != NULL && cause != e)
            goto link;
          if (e->after_seq == 0)
            continue;
          cause = find_event (run, pids, e->after_pid, e->after_seq);
          if (cause == NULL || cause == e)
            {
              first_bad = first_bad != NULL ? first_bad : e;
              n_bad++;
              continue;
            }
        link:
          e->cause = cause;
          list = g_hash_table_lookup (run->effects, cause);
          if (list == NULL)
            g_hash_table_insert (run->effects, cause, list = g_ptr_array_new ());
          g_ptr_array_add (list, e);
        }
    }
  if (n_bad > 0)
    trace_note ("%u \"after\" reference(s) ignored: each names no event of this run (its "
                "process left no file, or its line was torn) or the event itself; the first "
                "is %s:%u (\"%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "\")", n_bad,
                first_bad->writer->path, first_bad->lineno, first_bad->after_pid,
                first_bad->after_seq);
}

/* "ord" edges: the events of one shared object (of one direction, for a
 * queue's puts and gets) in the order its lock gave them, each after the
 * one before it. Processes that take turns at a lock, or take items from
 * one queue, exchange no message that would say so. Two events with the
 * same place (only hand-made input, or a pid reused by an exec in place,
 * has them) are not ordered between themselves. */
static gint
compare_ord (gconstpointer a,
             gconstpointer b)
{
  const TraceEvent *x = *(TraceEvent * const *) a, *y = *(TraceEvent * const *) b;

  if (x->ord != y->ord)
    return x->ord < y->ord ? -1 : 1;
  if (x->writer->index != y->writer->index)
    return x->writer->index < y->writer->index ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
link_orders (TraceRun *run)
{
  g_autoptr(GHashTable) chains = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        (GDestroyNotify) g_ptr_array_unref);
  GHashTableIter iter;
  GPtrArray *chain;
  guint i, j, n_same = 0;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j < lane->own->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->own, j);
          char *key;

          if (e->ord <= 0 || e->obj == NULL)
            continue;
          key = g_strconcat (e->obj, e->kind == TRACE_KIND_SEND ? " out"
                                     : e->kind == TRACE_KIND_RECV ? " in" : "", NULL);
          chain = g_hash_table_lookup (chains, key);
          if (chain == NULL)
            g_hash_table_insert (chains, key, chain = g_ptr_array_new ());
          else
            g_free (key);
          g_ptr_array_add (chain, e);
        }
    }
  g_hash_table_iter_init (&iter, chains);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &chain))
    {
      g_ptr_array_sort (chain, compare_ord);
      for (i = 1; i < chain->len; i++)
        {
          TraceEvent *before = g_ptr_array_index (chain, i - 1), *e = g_ptr_array_index (chain, i);

          if (before->ord == e->ord)
            {
              n_same++;
              continue;
            }
          before->ord_next = e;
          e->ord_prev = before;
        }
    }
  if (n_same > 0)
    trace_warn ("%u event(s) share an object's \"ord\" with another (left unordered "
                "between them; the input is inconsistent)", n_same);
}

/* When the program of @lane started: its header's t0, or its first
 * recorded event if that is earlier (hand-made input). */
static gint64
lane_start_ns (const TraceLane *lane)
{
  const TraceEvent *first = lane->own->len > 0 ? g_ptr_array_index (lane->own, 0) : NULL;

  return first != NULL ? MIN (lane->t0_mono_ns, first->ts) : lane->t0_mono_ns;
}

/* The lane of @lane's parent: a lane of its ppid that started before it,
 * the latest such (a pid can have several lanes: an exec in place, a reused
 * pid), or NULL. */
static TraceLane *
parent_lane (TraceRun  *run,
             TraceLane *lane,
             gint64     start)
{
  TraceLane *parent = NULL;
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *other = g_ptr_array_index (run->lanes, i);

      /* run->lanes is sorted by start here: the last match is the latest. */
      if (other != lane && other->pid == lane->ppid && other->pid != lane->pid
          && other->t0_mono_ns < start)
        parent = other;
    }
  return parent;
}

/* Adds @lane to the list @table keeps for @e. */
static void
list_lane (GHashTable *table,
           TraceEvent *e,
           TraceLane  *lane)
{
  GPtrArray *list = g_hash_table_lookup (table, e);

  if (list == NULL)
    g_hash_table_insert (table, e, list = g_ptr_array_new ());
  g_ptr_array_add (list, lane);
}

/* An event the process of @lane recorded itself: not a reap its parent
 * wrote (moved there), nor a "no exit recorded" footer. */
static gboolean
is_own (const TraceEvent *e,
        const TraceLane  *lane)
{
  return e->writer == lane && e->kind != TRACE_KIND_NO_EXIT;
}

/* The end of an exec'd program: its last own event comes before its
 * parent's first own event with a later ts. Nothing records that the
 * parent waited for it (g_spawn_sync() did, outside mpkit), so this orders
 * by time only; on one CLOCK_MONOTONIC a real-time order never contradicts
 * a causal one, and the parent resumed no earlier. A program still running
 * at the parent's last event gets no edge. */
static void
link_exec_end (TraceRun  *run,
               TraceLane *lane,
               TraceLane *parent)
{
  TraceEvent *last = NULL;
  guint i;

  for (i = lane->events->len; i > 0 && last == NULL; i--)
    if (is_own (g_ptr_array_index (lane->events, i - 1), lane))
      last = g_ptr_array_index (lane->events, i - 1);
  for (i = 0; last != NULL && i < parent->events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (parent->events, i);

      if (is_own (e, parent) && e->ts > last->ts)
        {
          lane->exec_last = last;
          lane->exec_resume = e;
          return list_lane (run->resumes, e, lane);
        }
    }
}

/* The proc.exec @lane's header names, when that event is in this run, in
 * another lane: the parent recorded it right before it started the program
 * (mpk_trace_exec_begin()), and handed its id down through the environment. */
static TraceEvent *
named_exec (TraceRun   *run,
            GHashTable *pids,
            TraceLane  *lane)
{
  TraceEvent *e;

  if (lane->exec_seq == 0)
    return NULL;
  e = find_event (run, pids, lane->exec_pid, lane->exec_seq);
  if (e == NULL || e->writer == lane || strcmp (e->ev, "proc.exec") != 0)
    return NULL;
  return e;
}

/* The end of a program started with a recorded proc.exec (@from): the
 * proc.exec_end of the same lane that names it, which the parent recorded
 * once it had waited for the program (mpk_trace_exec_end()). Its last own
 * event comes before that. No such event: no end edge (the parent has not
 * waited, or did not say so), and no guess from timestamps either. */
static void
link_named_exec_end (TraceRun   *run,
                     TraceLane  *lane,
                     TraceEvent *from)
{
  TraceEvent *last = NULL;
  guint i;

  for (i = lane->events->len; i > 0 && last == NULL; i--)
    if (is_own (g_ptr_array_index (lane->events, i - 1), lane))
      last = g_ptr_array_index (lane->events, i - 1);
  for (i = 0; last != NULL && i < from->writer->own->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (from->writer->own, i);

      if (e->exec_seq == from->seq && e->exec_pid == from->writer->pid
          && strcmp (e->ev, "proc.exec_end") == 0)
        {
          lane->exec_last = last;
          lane->exec_resume = e;
          return list_lane (run->resumes, e, lane);
        }
    }
}

/* Programs started by exec: a lane whose ppid is a traced process of the
 * run that recorded no proc.spawn for it (g_spawn_sync(), posix_spawn(),
 * fork and exec outside mpkit). When its header names the parent's
 * proc.exec ("exec"), it comes after that event and its end before the
 * proc.exec_end naming the same exec: causal edges, whatever the threads
 * of the parent did meanwhile. Otherwise it comes after its parent's last
 * event before it started, and its end before the parent's first event
 * after it. The header's t0 and the parent's ts are read from the same
 * CLOCK_MONOTONIC of the same boot (loading refuses anything else), so
 * this is what happened; but the parent's last event before the start may
 * be another thread's, and which one it is then depends on timing. Without
 * the edges the lane would float to the top of the drawing, and what the
 * parent did after waiting for it would float up beside it. */
static void
link_execs (TraceRun   *run,
            GHashTable *pids)
{
  guint i, j;

  run->execs = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                      (GDestroyNotify) g_ptr_array_unref);
  run->resumes = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                        (GDestroyNotify) g_ptr_array_unref);
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      gint64 start = lane_start_ns (lane);
      TraceEvent *from = lane->spawn == NULL ? named_exec (run, pids, lane) : NULL;
      TraceLane *parent = NULL;

      if (from != NULL)
        {
          lane->exec_from = from;
          list_lane (run->execs, from, lane);
          link_named_exec_end (run, lane, from);
          continue;
        }
      if (lane->spawn == NULL && g_hash_table_contains (pids, &lane->ppid))
        parent = parent_lane (run, lane, start);
      for (j = 0; parent != NULL && j < parent->events->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (parent->events, j);

          /* A proc.spawn of this pid: mpkit started it, even if the spawn
           * went to another lane of the pid (it exec'd in place). */
          if (e->kind == TRACE_KIND_SPAWN && e->child == lane->pid)
            {
              from = NULL;
              break;
            }
          if (is_own (e, parent) && e->ts < start)
            from = e;
        }
      if (from == NULL)
        continue;
      lane->exec_from = from;
      list_lane (run->execs, from, lane);
      link_exec_end (run, lane, parent);
    }
}

/* Lists of lanes in their final order, once it is known. */
static gint
compare_lane_index (gconstpointer a,
                    gconstpointer b)
{
  const TraceLane *x = *(TraceLane * const *) a, *y = *(TraceLane * const *) b;

  return (gint) x->index - (gint) y->index;
}

static void
sort_lists (GHashTable *table)
{
  GHashTableIter iter;
  gpointer list;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, NULL, &list))
    g_ptr_array_sort (list, compare_lane_index);
}

/* The events of @table at the other end of @e's pipe, or NULL. */
static GPtrArray *
other_end (GHashTable       *table,
           const TraceEvent *e)
{
  g_autofree char *key = end_key (e, TRUE);

  return g_hash_table_lookup (table, key);
}

/* Happens-before predecessors, into @out (emptied first): the lane's
 * previous event, the spawn that created the lane or the parent's event
 * before its exec (for its first event),
 * the send of a receive, the end of the child a join waited for, the
 * closes of the other end before an EOF, the cause "after" names, the
 * object's event before it ("ord"), the last events of the exec'd
 * programs that ended before it. */
static void
event_preds (const TraceRun *run,
             TraceEvent     *e,
             GPtrArray      *out)
{
  GPtrArray *closes, *resumed;
  guint i;

  g_ptr_array_set_size (out, 0);
  if (e->lane_pos > 0)
    g_ptr_array_add (out, g_ptr_array_index (e->lane->events, e->lane_pos - 1));
  else if (e->lane->spawn != NULL)
    g_ptr_array_add (out, e->lane->spawn);
  else if (e->lane->exec_from != NULL)
    g_ptr_array_add (out, e->lane->exec_from);
  if (e->kind == TRACE_KIND_RECV && e->peer != NULL)
    g_ptr_array_add (out, e->peer);
  if (e->kind == TRACE_KIND_JOIN && e->child_lane != NULL)
    g_ptr_array_add (out, lane_last (e->child_lane));
  if (e->kind == TRACE_KIND_EOF && e->end > 0 && (closes = other_end (run->closes, e)) != NULL)
    g_ptr_array_extend (out, closes, NULL, NULL);
  if (e->cause != NULL)
    g_ptr_array_add (out, e->cause);
  if (e->ord_prev != NULL)
    g_ptr_array_add (out, e->ord_prev);
  for (i = 0; (resumed = g_hash_table_lookup (run->resumes, e)) != NULL && i < resumed->len; i++)
    g_ptr_array_add (out, ((TraceLane *) g_ptr_array_index (resumed, i))->exec_last);
}

TraceEvent *
trace_eof_cause (const TraceRun   *run,
                 const TraceEvent *eof)
{
  GPtrArray *closes = eof->end > 0 ? other_end (run->closes, eof) : NULL;
  TraceEvent *last = NULL;
  guint i;

  for (i = 0; closes != NULL && i < closes->len; i++)
    {
      TraceEvent *c = g_ptr_array_index (closes, i);

      if (last == NULL || c->pos > last->pos)
        last = c;
    }
  return last;
}

/* The reverse edges, into @out (emptied first). */
static void
event_succs (const TraceRun *run,
             TraceEvent     *e,
             GPtrArray      *out)
{
  GPtrArray *eofs, *effects, *execs;
  guint i;

  g_ptr_array_set_size (out, 0);
  if (e->lane_pos + 1 < e->lane->events->len)
    g_ptr_array_add (out, g_ptr_array_index (e->lane->events, e->lane_pos + 1));
  else
    g_ptr_array_extend (out, e->lane->joins, NULL, NULL);
  if (e->kind == TRACE_KIND_SPAWN && e->child_lane != NULL && e->child_lane->spawn == e)
    g_ptr_array_add (out, g_ptr_array_index (e->child_lane->events, 0));
  if (e->kind == TRACE_KIND_SEND && e->peer != NULL)
    g_ptr_array_add (out, e->peer);
  if (is_close (e) && (eofs = other_end (run->eofs, e)) != NULL)
    g_ptr_array_extend (out, eofs, NULL, NULL);
  if ((effects = g_hash_table_lookup (run->effects, e)) != NULL)
    g_ptr_array_extend (out, effects, NULL, NULL);
  for (i = 0; (execs = g_hash_table_lookup (run->execs, e)) != NULL && i < execs->len; i++)
    g_ptr_array_add (out, g_ptr_array_index (((TraceLane *) g_ptr_array_index (execs, i))->events,
                                             0));
  if (e->writer->exec_last == e)
    g_ptr_array_add (out, e->writer->exec_resume);
  if (e->ord_next != NULL)
    g_ptr_array_add (out, e->ord_next);
}

/* Kahn's algorithm state; events are numbered through e->pos meanwhile. */
typedef struct
{
  TraceRun  *run;
  GPtrArray *all;
  guint     *indeg;
  gboolean  *done;
  guint     *cursor;    /* per lane: its first event not done yet */
  GQueue     ready;
  GPtrArray *near;      /* scratch */
} Ranking;

static void
rank_one (Ranking    *k,
          TraceEvent *e)
{
  guint i;

  e->rank = 1;
  event_preds (k->run, e, k->near);
  for (i = 0; i < k->near->len; i++)
    {
      TraceEvent *before = g_ptr_array_index (k->near, i);

      if (k->done[before->pos])
        e->rank = MAX (e->rank, before->rank + 1);
    }
  k->done[e->pos] = TRUE;
  event_succs (k->run, e, k->near);
  for (i = 0; i < k->near->len; i++)
    {
      TraceEvent *next = g_ptr_array_index (k->near, i);

      if (!k->done[next->pos] && --k->indeg[next->pos] == 0)
        g_queue_push_tail (&k->ready, next);
    }
}

/* Nothing is ready but events remain: the edges form a cycle, which only
 * corrupt or hand-made input has. Take the first pending event of a lane
 * with the smallest (recorded lc, lane, seq), so lanes keep their order. */
static TraceEvent *
break_cycle (Ranking  *k,
             TraceRun *run)
{
  TraceEvent *best = NULL;
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      TraceEvent *e;

      while (k->cursor[i] < lane->events->len
             && k->done[((TraceEvent *) g_ptr_array_index (lane->events, k->cursor[i]))->pos])
        k->cursor[i]++;
      if (k->cursor[i] == lane->events->len)
        continue;
      e = g_ptr_array_index (lane->events, k->cursor[i]);
      if (best == NULL || e->lc < best->lc)
        best = e;
    }
  trace_warn ("the happens-before edges form a cycle; broken at %s:%u (the input is "
              "inconsistent)", best->writer->path, best->lineno);
  return best;
}

static GPtrArray *
all_events (TraceRun *run)
{
  GPtrArray *all = g_ptr_array_new ();
  guint i, j;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      for (j = 0; j < lane->events->len; j++)
        {
          TraceEvent *e = g_ptr_array_index (lane->events, j);

          e->pos = all->len;
          g_ptr_array_add (all, e);
        }
    }
  return all;
}

/* rank = 1 + the largest rank of the predecessors: a Lamport clock that
 * depends only on what happened before what. */
static void
compute_ranks (TraceRun *run)
{
  Ranking k = { run, all_events (run), NULL, NULL, NULL, G_QUEUE_INIT, g_ptr_array_new () };
  guint i, n_done = 0;

  k.indeg = g_new0 (guint, k.all->len);
  k.done = g_new0 (gboolean, k.all->len);
  k.cursor = g_new0 (guint, run->lanes->len);
  for (i = 0; i < k.all->len; i++)
    {
      event_preds (run, g_ptr_array_index (k.all, i), k.near);
      if ((k.indeg[i] = k.near->len) == 0)
        g_queue_push_tail (&k.ready, g_ptr_array_index (k.all, i));
    }
  for (; n_done < k.all->len; n_done++)
    {
      TraceEvent *e = g_queue_pop_head (&k.ready);

      rank_one (&k, e != NULL ? e : break_cycle (&k, run));
    }
  g_free (k.indeg);
  g_free (k.done);
  g_free (k.cursor);
  g_ptr_array_unref (k.near);
  g_ptr_array_unref (k.all);
}

#define UNPLACED G_MAXUINT

/* Lane order under construction: placed_at[i] is the new place of the lane
 * whose provisional index is i. */
typedef struct
{
  TraceRun  *run;
  GPtrArray *order;
  guint     *placed_at;
} LaneOrder;

static void
place_lane (LaneOrder *o,
            TraceLane *lane)
{
  o->placed_at[lane->index] = o->order->len;
  g_ptr_array_add (o->order, lane);
}

static gboolean
spawn_before (LaneOrder  *o,
              TraceEvent *a,
              TraceEvent *b)
{
  if (a->rank != b->rank)
    return a->rank < b->rank;
  if (a->lane != b->lane)
    return o->placed_at[a->lane->index] < o->placed_at[b->lane->index];
  return a->seq < b->seq;
}

/* The event that created @lane: its proc.spawn, or the parent's event
 * before its exec; NULL for a root or a lane nobody started. */
static TraceEvent *
creator (const TraceLane *lane)
{
  return lane->spawn != NULL ? lane->spawn : lane->exec_from;
}

/* The unplaced lane whose parent is placed that was created first, by its
 * creator's (rank, parent's place, seq). */
static TraceLane *
next_child (LaneOrder *o)
{
  TraceLane *best = NULL;
  guint i;

  for (i = 0; i < o->run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (o->run->lanes, i);
      TraceEvent *made = creator (lane);

      if (o->placed_at[i] == UNPLACED && made != NULL
          && o->placed_at[made->lane->index] != UNPLACED
          && (best == NULL || spawn_before (o, made, creator (best))))
        best = lane;
    }
  return best;
}

/* Lane order by creation: roots by start time, then children in the order
 * of their spawns (or execs), then the lanes nobody started, by start time. */
static void
order_lanes (TraceRun   *run,
             GHashTable *pids)
{
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autofree guint *placed_at = g_new (guint, run->lanes->len);
  LaneOrder o = { run, order, placed_at };
  TraceLane *child;
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    placed_at[i] = UNPLACED;
  for (i = 0; i < run->lanes->len; i++)
    if (!g_hash_table_contains (pids, &((TraceLane *) g_ptr_array_index (run->lanes, i))->ppid))
      place_lane (&o, g_ptr_array_index (run->lanes, i));
  while ((child = next_child (&o)) != NULL)
    place_lane (&o, child);
  for (i = 0; i < run->lanes->len; i++)
    if (placed_at[i] == UNPLACED)
      place_lane (&o, g_ptr_array_index (run->lanes, i));
  for (i = 0; i < order->len; i++)
    run->lanes->pdata[i] = order->pdata[i];
  reindex_lanes (run);
}

/* Lane names are the processes' names, with control characters blanked
 * (they reach terminals); a repeated one becomes "name (2)". */
static void
name_lanes (TraceRun *run)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      g_autofree char *clean = trace_clean (lane->header_name);
      const char *base = g_string_chunk_insert_const (run->strings, clean);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (seen, base)) + 1;
      g_autofree char *name = n == 1 ? g_strdup (base) : g_strdup_printf ("%s (%u)", base, n);

      g_hash_table_insert (seen, (gpointer) base, GUINT_TO_POINTER (n));
      lane->name = g_string_chunk_insert_const (run->strings, name);
    }
}

static gint
compare_causal (gconstpointer a,
                gconstpointer b)
{
  const TraceEvent *x = *(TraceEvent * const *) a, *y = *(TraceEvent * const *) b;

  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->lane->index != y->lane->index)
    return x->lane->index < y->lane->index ? -1 : 1;
  return (gint) x->lane_pos - (gint) y->lane_pos;
}

/* "pipe:4100.1" -> "pipe#1": numbered per kind by first appearance. */
static void
name_object (TraceRun   *run,
             GHashTable *names,
             GHashTable *counts,
             TraceEvent *e)
{
  g_autofree char *kind = NULL, *name = NULL, *clean = NULL;
  const char *colon;
  guint n;

  e->obj_name = g_hash_table_lookup (names, e->obj_key);
  if (e->obj_name != NULL)
    return;
  colon = strchr (e->obj_key, ':');
  kind = colon != NULL ? g_strndup (e->obj_key, colon - e->obj_key) : g_strdup (e->obj_key);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, kind)) + 1;
  name = g_strdup_printf ("%s#%u", kind, n);
  clean = trace_clean (name);     /* the kind comes from the file */
  e->obj_name = g_string_chunk_insert_const (run->strings, clean);
  g_hash_table_insert (names, (gpointer) e->obj_key, (gpointer) e->obj_name);
  g_hash_table_insert (counts, g_steal_pointer (&kind), GUINT_TO_POINTER (n));
}

/* A Manager event's object, "list#1": the server's objects are numbered per
 * type by first appearance, like the library's objects and in the same
 * count (a Manager's queue and a shared-memory queue are never both
 * "queue#1"). Without a number it is called by its type ("list"); without
 * a type, or with number 0 (the manager itself: create, publish, ...), by
 * the manager's name ("manager#1"). */
/* The request protocol's recipient (msg.*: "to", a pid) named as its lane:
 * "child 2", so that drawings show no pids; "all" for a message for
 * everybody; "pid N" for a process that left no trace. A pid may name
 * several lanes of a run (reused, or a program that exec'ed): the latest
 * that started before the event's process wrote it. */
static void
name_recipient (TraceRun   *run,
                TraceEvent *e)
{
  const TraceLane *best = NULL;
  g_autofree char *text = NULL;

  if (e->to == 0)
    {
      e->to_name = "all";
      return;
    }
  for (guint i = 0; i < run->lanes->len; i++)
    {
      const TraceLane *lane = g_ptr_array_index (run->lanes, i);

      if (lane->pid == e->to && (best == NULL || lane->t0_mono_ns > best->t0_mono_ns)
          && (best == NULL || lane->t0_mono_ns <= e->ts))
        best = lane;
    }
  text = best != NULL ? trace_clean (best->name) : g_strdup_printf ("pid %" G_GINT64_FORMAT, e->to);
  e->to_name = g_string_chunk_insert_const (run->strings, text);
}

static void
name_target (TraceRun   *run,
             GHashTable *targets,
             GHashTable *counts,
             TraceEvent *e)
{
  g_autofree char *key = NULL, *name = NULL, *clean = NULL;
  guint n;

  if (e->otype == NULL || g_strcmp0 (e->oid, "0") == 0)
    {
      e->target = e->obj_name;
      return;
    }
  if (e->oid == NULL)
    {
      clean = trace_clean (e->otype);
      e->target = g_string_chunk_insert_const (run->strings, clean);
      return;
    }
  key = g_strdup_printf ("%s\n%s\n%s", e->obj_key != NULL ? e->obj_key : "", e->otype, e->oid);
  e->target = g_hash_table_lookup (targets, key);
  if (e->target != NULL)
    return;
  n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, e->otype)) + 1;
  name = g_strdup_printf ("%s#%u", e->otype, n);
  clean = trace_clean (name);
  e->target = g_string_chunk_insert_const (run->strings, clean);
  g_hash_table_insert (counts, g_strdup (e->otype), GUINT_TO_POINTER (n));
  g_hash_table_insert (targets, g_steal_pointer (&key), (gpointer) e->target);
}

/* References to a manager's objects in a payload: the tracer writes one
 * as the object path '/mpk/g<16 hex digits: the server's generation>/o<id>'
 * (what mpk_proxy_to_value() gives), or, in the arguments of the
 * manager's own methods, as the pair "<generation in decimal>, <id>". The
 * generation is new on every run, so both are shown as the object's name
 * ("list#1", or "o<id>" for an object no traced call named), which keeps
 * the drawing of a run the same from one run to the next. */
typedef struct
{
  GHashTable *names;        /* "<obj>\n<id>" -> "list#1" */
  GPtrArray  *generations;  /* the decimal forms of the generations seen */
} References;

static const char *
reference_name (References       *refs,
                const TraceEvent *e,
                const char       *id,
                gsize             id_len,
                GString          *scratch)
{
  g_autofree char *key = g_strdup_printf ("%s\n%.*s", e->obj_key != NULL ? e->obj_key : "",
                                          (int) id_len, id);
  const char *name = g_hash_table_lookup (refs->names, key);

  if (name != NULL)
    return name;
  g_string_printf (scratch, "o%.*s", (int) id_len, id);
  return scratch->str;
}

/* The generation of the object path at @p ("'/mpk/g"), its id and length. */
static gboolean
parse_reference (const char  *p,
                 char         hex[17],
                 const char **id,
                 gsize       *id_len,
                 gsize       *len)
{
  const char *q = p + strlen ("'/mpk/g");
  guint i;

  for (i = 0; i < 16; i++)
    if (!g_ascii_isxdigit (q[i]))
      return FALSE;
  memcpy (hex, q, 16);
  hex[16] = '\0';
  q += 16;
  if (strncmp (q, "/o", 2) != 0 || !g_ascii_isdigit (q[2]))
    return FALSE;
  *id = q + 2;
  *id_len = strspn (*id, "0123456789");
  if ((*id)[*id_len] != '\'')
    return FALSE;
  *len = *id + *id_len + 1 - p;
  return TRUE;
}

static void
collect_generations (References *refs,
                     const char *sum)
{
  const char *p, *id;
  gsize id_len, len;
  char hex[17];

  for (p = strstr (sum, "'/mpk/g"); p != NULL; p = strstr (p + 1, "'/mpk/g"))
    if (parse_reference (p, hex, &id, &id_len, &len))
      {
        g_autofree char *dec = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                g_ascii_strtoull (hex, NULL, 16));

        if (!g_ptr_array_find_with_equal_func (refs->generations, dec, g_str_equal, NULL))
          g_ptr_array_add (refs->generations, g_steal_pointer (&dec));
      }
}

/* A known generation in decimal at @p, followed by ", <id>": its length. */
static gsize
generation_pair (References  *refs,
                 const char  *p,
                 const char **id,
                 gsize       *id_len)
{
  guint i;

  for (i = 0; i < refs->generations->len; i++)
    {
      const char *dec = g_ptr_array_index (refs->generations, i);
      gsize n = strlen (dec);

      if (strncmp (p, dec, n) == 0 && strncmp (p + n, ", ", 2) == 0
          && g_ascii_isdigit (p[n + 2]))
        {
          *id = p + n + 2;
          *id_len = strspn (*id, "0123456789");
          return *id + *id_len - p;
        }
    }
  return 0;
}

static const char *
name_references_in (TraceRun         *run,
                    References       *refs,
                    const TraceEvent *e)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) scratch = g_string_new (NULL);
  const char *p, *id;
  gsize id_len, len;
  gboolean changed = FALSE;
  char hex[17];

  /* A whole payload that is one reference (create's result) is the object:
   * "str '/mpk/g…/o1'" reads "list#1". */
  p = e->sum;
  if (g_str_has_prefix (p, "str '/mpk/g") && parse_reference (p + 4, hex, &id, &id_len, &len)
      && p[4 + len] == '\0')
    return g_string_chunk_insert_const (run->strings,
                                        reference_name (refs, e, id, id_len, scratch));
  for (; *p != '\0';)
    {
      if ((strncmp (p, "'/mpk/g", 7) == 0 && parse_reference (p, hex, &id, &id_len, &len))
          || (g_ascii_isdigit (*p) && (p == e->sum || !g_ascii_isdigit (p[-1]))
              && (len = generation_pair (refs, p, &id, &id_len)) > 0))
        {
          g_string_append (out, reference_name (refs, e, id, id_len, scratch));
          p += len;
          changed = TRUE;
        }
      else
        g_string_append_c (out, *p++);
    }
  return changed ? g_string_chunk_insert_const (run->strings, out->str) : NULL;
}

/* The answer to the manager's own "stats" (mpk_manager_get_stats()) is the
 * tuple (connections, auth_failures, bad_requests, calls, clients, objects)
 * of lib/manager/mpk-manager-server.c's manager_stats(). Its fifth number, the
 * connections open at that moment, depends on whether the server's threads
 * have yet seen clients that hung up (a client closes its socket as it ends
 * and nobody waits for the server to notice), which no event records: it is
 * drawn as "#", the mark `signature` uses for numbers that depend on
 * scheduling, so that the drawing of a run does not change with it. The
 * others count what clients did, each before the client could learn of it.
 * Any other sum: NULL. */
static const char *
mask_stats (TraceRun         *run,
            const TraceEvent *e)
{
  g_autoptr(GString) out = NULL;
  const char *p;
  guint field;

  if (e->otype != NULL || g_strcmp0 (e->method, "stats") != 0 || e->error != NULL
      || (strcmp (e->ev, "manager.reply") != 0 && strcmp (e->ev, "manager.result") != 0)
      || !g_str_has_prefix (e->sum, "tuple ("))
    return NULL;
  out = g_string_new ("tuple (");
  p = e->sum + strlen ("tuple (");
  for (field = 1; field <= 6; field++)
    {
      gsize n = strspn (p, "0123456789");

      if (n == 0 || p[n] != (field < 6 ? ',' : ')'))
        return NULL;
      if (field == 5)
        g_string_append_c (out, '#');
      else
        g_string_append_len (out, p, n);
      g_string_append (out, field < 6 ? ", " : ")");
      p += n + (field < 6 ? 2 : 1);
      if (field < 6 && p[-1] != ' ')
        return NULL;
    }
  return *p == '\0' ? g_string_chunk_insert_const (run->strings, out->str) : NULL;
}

/* Names the references in the sums of Manager events (shown_sum). */
static void
name_references (TraceRun *run)
{
  References refs = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
                      g_ptr_array_new_with_free_func (g_free) };
  guint i;

  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);

      if (!g_str_has_prefix (e->ev, "manager.") || e->sum == NULL)
        continue;
      collect_generations (&refs, e->sum);
      if (e->otype != NULL && e->oid != NULL && e->target != NULL)
        g_hash_table_insert (refs.names,
                             g_strdup_printf ("%s\n%s", e->obj_key != NULL ? e->obj_key : "",
                                              e->oid),
                             (gpointer) e->target);
    }
  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);

      if (g_str_has_prefix (e->ev, "manager.") && e->sum != NULL)
        e->shown_sum = mask_stats (run, e);
      if (g_str_has_prefix (e->ev, "manager.") && e->sum != NULL && e->shown_sum == NULL)
        e->shown_sum = name_references_in (run, &refs, e);
    }
  g_hash_table_unref (refs.names);
  g_ptr_array_unref (refs.generations);
}

/* A client that connected to a manager by address (mpk_manager_connect)
 * has a handle of its own, with another trace id than the server's: the
 * two ends of its calls name different "obj"s. The client's is named as
 * the server's, so that both ends say "manager#1" and "queue#1". */
static void
alias_remote_managers (TraceRun *run)
{
  g_autoptr(GHashTable) alias = g_hash_table_new (g_str_hash, g_str_equal);
  guint i;

  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);
      const TraceEvent *server = NULL, *client = NULL;

      if (e->peer == NULL || e->obj == NULL || e->peer->obj == NULL)
        continue;
      if (strcmp (e->ev, "manager.serve") == 0)
        server = e, client = e->peer;
      else if (strcmp (e->ev, "manager.result") == 0)
        server = e->peer, client = e;
      if (server != NULL && strcmp (server->obj, client->obj) != 0)
        g_hash_table_insert (alias, (gpointer) client->obj, (gpointer) server->obj);
    }
  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);
      const char *key = e->obj != NULL ? g_hash_table_lookup (alias, e->obj) : NULL;

      e->obj_key = key != NULL ? key : e->obj;
    }
}

/* Sorts every event causally and numbers what the renderers show: message
 * numbers by the send's place, object names by first appearance. */
static void
number_events (TraceRun *run)
{
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint i;

  run->causal = all_events (run);
  g_ptr_array_sort (run->causal, compare_causal);
  alias_remote_managers (run);
  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);

      e->pos = i;
      if (e->kind == TRACE_KIND_SEND)
        {
          e->msg_no = ++run->n_sends;
          if (e->peer != NULL)
            e->peer->msg_no = e->msg_no;
        }
      if (e->obj != NULL)
        name_object (run, names, counts, e);
      if (e->method != NULL || e->otype != NULL)
        name_target (run, targets, counts, e);
      if (e->req != NULL)
        name_recipient (run, e);
      if (e->kind == TRACE_KIND_DROPPED)
        run->n_dropped = e->n > G_MAXINT64 - run->n_dropped ? G_MAXINT64 : run->n_dropped + e->n;
    }
}

void
trace__run_order (TraceRun *run)
{
  g_autoptr(GHashTable) pids = NULL;
  guint i;

  g_ptr_array_sort (run->lanes, compare_lanes_by_start);
  reindex_lanes (run);
  pids = map_pids (run);
  build_lanes (run, pids);
  link_children (run);
  match_messages (run);
  link_pipe_ends (run);
  link_causes (run, pids);
  link_orders (run);
  link_execs (run, pids);
  compute_ranks (run);
  order_lanes (run, pids);
  sort_lists (run->execs);
  sort_lists (run->resumes);
  name_lanes (run);
  number_events (run);
  name_references (run);
  run->t0_ns = G_MAXINT64;
  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);

      run->t0_ns = MIN (run->t0_ns, lane->t0_mono_ns);
      run->n_torn += lane->torn;
    }
}

static gint
compare_time (gconstpointer a,
              gconstpointer b)
{
  const TraceEvent *x = *(TraceEvent * const *) a, *y = *(TraceEvent * const *) b;

  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  if (x->writer->pid != y->writer->pid)
    return x->writer->pid < y->writer->pid ? -1 : 1;
  if (x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  return (gint) x->pos - (gint) y->pos;
}

GPtrArray *
trace_run_sorted (TraceRun  *run,
                  TraceOrder order,
                  gboolean   synthetic)
{
  GPtrArray *events = g_ptr_array_new ();
  guint i;

  for (i = 0; i < run->causal->len; i++)
    if (synthetic || !trace_is_synthetic (g_ptr_array_index (run->causal, i)))
      g_ptr_array_add (events, g_ptr_array_index (run->causal, i));
  if (order == TRACE_ORDER_TIME)
    g_ptr_array_sort (events, compare_time);
  return events;
}
