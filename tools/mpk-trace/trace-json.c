/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-json.c: `mpk-trace json`: Chrome/Perfetto trace-event JSON
 * (research/anchor-tracing.md §3.4). A process per lane; sends and receives
 * are 1 µs slices tied by flow events, and so are an "after" cause and its
 * effects; everything else is an instant. */

#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "trace-render.h"

typedef struct
{
  TraceRun    *run;
  JsonBuilder *b;
  gint64      *last_us;   /* by lane: its previous event's ts */
} Export;

static const TraceViewOptions plain_view = { FALSE, FALSE, TRACE_ORDER_TIME };

/* Flow ids: FNV-1a of the message id, so both ends compute the same. */
static char *
bind_id (const char *msg)
{
  guint64 h = 14695981039346656037ull;
  const char *p;

  for (p = msg; *p != '\0'; p++)
    h = (h ^ (guchar) *p) * 1099511628211ull;
  return g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x", h);
}

static void
member_str (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
member_int (JsonBuilder *b,
            const char  *name,
            gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* Whole microseconds from the run's start, strictly increasing within a
 * lane: 1 µs slices of one process must not overlap. */
static gint64
lane_us (Export           *x,
         const TraceEvent *e)
{
  gint64 us = (e->ts - x->run->t0_ns) / 1000;
  gint64 *last = &x->last_us[e->lane->index];

  if (us <= *last)
    us = *last + 1;
  *last = us;
  return us;
}

static void
begin_event (Export           *x,
             const TraceEvent *e,
             const char       *ph,
             const char       *name)
{
  g_autofree char *cat = g_strndup (e->ev, strcspn (e->ev, "."));

  json_builder_begin_object (x->b);
  member_str (x->b, "ph", ph);
  member_str (x->b, "name", name);
  member_str (x->b, "cat", cat);
  member_int (x->b, "pid", e->lane->pid);
  member_int (x->b, "tid", e->lane->pid);
  member_int (x->b, "ts", lane_us (x, e));
}

static void
add_message (Export           *x,
             const TraceEvent *e)
{
  g_autofree char *m = g_strdup_printf ("m%u", e->msg_no);
  g_autofree char *words = trace_message_words (e, NULL);

  begin_event (x, e, "X", e->ev);
  member_int (x->b, "dur", 1);
  if (e->peer != NULL)
    {
      g_autofree char *id = bind_id (e->msg);

      member_str (x->b, "bind_id", id);
      json_builder_set_member_name (x->b, e->kind == TRACE_KIND_SEND ? "flow_out" : "flow_in");
      json_builder_add_boolean_value (x->b, TRUE);
    }
  json_builder_set_member_name (x->b, "args");
  json_builder_begin_object (x->b);
  if (e->msg_no > 0)
    member_str (x->b, "msg", m);
  if (e->obj_name != NULL)
    member_str (x->b, "obj", e->obj_name);
  if (e->sum != NULL)
    member_str (x->b, "sum", e->sum);
  /* A Manager call or reply also says it the diagram's way. */
  if (words != NULL && g_strcmp0 (words, e->sum) != 0)
    member_str (x->b, "label", words);
  if (e->error != NULL)
    member_str (x->b, "error", e->error);
  if (e->bytes >= 0)
    member_int (x->b, "bytes", e->bytes);
  json_builder_end_object (x->b);
  json_builder_end_object (x->b);
}

static gboolean
is_message (const TraceEvent *e)
{
  return e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV;
}

/* An "after" cause and its effect are tied by a flow when neither is a
 * message (a slice has one flow id) and the cause has no cause of its own. */
static gboolean
has_after_flow (const TraceEvent *effect)
{
  return effect->cause != NULL && !is_message (effect) && !is_message (effect->cause)
         && effect->cause->cause == NULL;
}

/* The flow id of @e as a cause ("flow_out") or an effect ("flow_in"), or
 * NULL when it is neither. */
static char *
after_flow (const Export     *x,
            const TraceEvent *e,
            const char      **direction)
{
  GPtrArray *effects = g_hash_table_lookup (x->run->effects, e);
  const TraceEvent *cause = NULL;
  g_autofree char *key = NULL;
  guint i;

  if (has_after_flow (e))
    cause = e->cause, *direction = "flow_in";
  for (i = 0; cause == NULL && effects != NULL && i < effects->len; i++)
    if (has_after_flow (g_ptr_array_index (effects, i)))
      cause = e, *direction = "flow_out";
  if (cause == NULL)
    return NULL;
  key = g_strdup_printf ("after %" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, cause->writer->pid,
                         cause->seq);
  return bind_id (key);
}

/* Anything but a message: an instant, or a 1 µs slice when a flow ties it
 * to its "after" cause or effect (Perfetto binds flows to slices only). */
static void
add_instant (Export           *x,
             const TraceEvent *e)
{
  g_autofree char *text = trace_event_local (e, &plain_view);
  const char *direction = NULL;
  g_autofree char *flow = after_flow (x, e, &direction);

  begin_event (x, e, flow != NULL ? "X" : "i", text);
  if (flow != NULL)
    {
      member_int (x->b, "dur", 1);
      member_str (x->b, "bind_id", flow);
      json_builder_set_member_name (x->b, direction);
      json_builder_add_boolean_value (x->b, TRUE);
    }
  else
    member_str (x->b, "s", "t");
  json_builder_set_member_name (x->b, "args");
  json_builder_begin_object (x->b);
  member_str (x->b, "ev", e->ev);
  if (e->kind == TRACE_KIND_EXIT || g_strcmp0 (e->status, "exited") == 0)
    member_int (x->b, "code", e->code);
  if (e->sig != NULL)
    member_str (x->b, "signal", e->sig);
  if (e->obj_name != NULL)
    member_str (x->b, "obj", e->obj_name);
  json_builder_end_object (x->b);
  json_builder_end_object (x->b);
}

static void
add_process_names (Export *x)
{
  guint i;

  for (i = 0; i < x->run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (x->run->lanes, i);

      json_builder_begin_object (x->b);
      member_str (x->b, "ph", "M");
      member_str (x->b, "name", "process_name");
      member_int (x->b, "pid", lane->pid);
      json_builder_set_member_name (x->b, "args");
      json_builder_begin_object (x->b);
      member_str (x->b, "name", lane->name);
      json_builder_end_object (x->b);
      json_builder_end_object (x->b);
    }
}

gboolean
trace_json_print (TraceRun  *run,
                  GError   **error)
{
  g_autoptr(GPtrArray) events = trace_run_sorted (run, TRACE_ORDER_TIME, FALSE);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree gint64 *last_us = g_new (gint64, run->lanes->len);
  g_autofree char *text = NULL;
  Export x = { run, b, last_us };
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    last_us[i] = -1;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "traceEvents");
  json_builder_begin_array (b);
  add_process_names (&x);
  for (i = 0; i < events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (events, i);

      if (is_message (e))
        add_message (&x, e);
      else
        add_instant (&x, e);
    }
  json_builder_end_array (b);
  member_str (b, "displayTimeUnit", "ns");
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  return TRUE;
}
