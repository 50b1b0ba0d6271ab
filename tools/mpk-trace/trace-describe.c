/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-describe.c: the words every renderer uses for lanes and events, so
 * the text timeline, the DOT diagram and the JSON export say the same thing
 * ("exit 0", "killed by SIGKILL", "pipe#1", "m3"). */

#include <string.h>
#include "trace-model.h"

char *
trace_lane_label (const TraceLane        *lane,
                  const TraceViewOptions *view)
{
  if (view->pids)
    return g_strdup_printf ("%s [%" G_GINT64_FORMAT "]", lane->name, lane->pid);
  return g_strdup (lane->name);
}

/* "send" for pipe.send, "put" for queue.put: the word after the category. */
const char *
trace_event_verb (const TraceEvent *event)
{
  const char *dot = strrchr (event->ev, '.');

  return dot != NULL ? dot + 1 : event->ev;
}

/* A child is named by its lane, else by its proc.spawn's name; its pid is
 * shown only when nothing else is known, or with --pids. */
static char *
child_label (const TraceEvent       *event,
             const TraceViewOptions *view)
{
  if (event->child_lane != NULL)
    return trace_lane_label (event->child_lane, view);
  if (event->name == NULL)
    return g_strdup_printf ("pid %" G_GINT64_FORMAT, event->child);
  if (view->pids)
    return g_strdup_printf ("%s [%" G_GINT64_FORMAT "]", event->name, event->child);
  return g_strdup (event->name);
}

/* How a process ended, from proc.reaped's status. */
static char *
reaped_end (const TraceEvent *event)
{
  if (g_strcmp0 (event->status, "signal") == 0)
    return g_strdup_printf ("killed by %s", event->sig);
  if (g_strcmp0 (event->status, "exited") == 0)
    return g_strdup_printf ("exit %" G_GINT64_FORMAT, event->code);
  if (g_strcmp0 (event->status, "lost") == 0)
    return g_strdup ("exit unknown (reaped elsewhere)");
  return g_strdup_printf ("ended: %s", event->status);
}

static char *
reaped_text (const TraceEvent       *event,
             const TraceViewOptions *view)
{
  g_autofree char *end = reaped_end (event);
  g_autofree char *child = NULL;

  /* In its own lane the child needs no name; in its parent's it does. */
  if (event->child_lane != NULL)
    return g_steal_pointer (&end);
  child = child_label (event, view);
  return g_strdup_printf ("reaped %s: %s", child, end);
}

static char *
with_object (const char       *what,
             const TraceEvent *event)
{
  if (event->obj_name == NULL)
    return g_strdup (what);
  if (event->end > 0)
    return g_strdup_printf ("%s %s end %" G_GINT64_FORMAT, what, event->obj_name, event->end);
  return g_strdup_printf ("%s %s", what, event->obj_name);
}

/* A shared number's access, with its numbers: "write value#1[2]: 0 → 9",
 * "read value#1: 42", "add value#1: 41 → 42". */
static char *
value_text (const TraceEvent *event)
{
  const char *verb = trace_event_verb (event);
  g_autofree char *item = NULL;

  item = event->index >= 0
         ? g_strdup_printf ("%s[%" G_GINT64_FORMAT "]",
                            event->obj_name != NULL ? event->obj_name : "value", event->index)
         : g_strdup (event->obj_name != NULL ? event->obj_name : "value");
  if (event->new_text == NULL)
    return g_strdup_printf ("%s %s: %s", verb, item, event->old_text);
  return g_strdup_printf ("%s %s: %s → %s", verb, item, event->old_text, event->new_text);
}

typedef enum
{
  MANAGER_NONE,
  MANAGER_CALL,    /* manager.call (the client) and manager.serve (the server) */
  MANAGER_REPLY,   /* manager.reply (the server) and manager.result (the client) */
} ManagerSide;

static ManagerSide
manager_side (const TraceEvent *event)
{
  if (event->kind != TRACE_KIND_SEND && event->kind != TRACE_KIND_RECV)
    return MANAGER_NONE;
  if (strcmp (event->ev, "manager.call") == 0 || strcmp (event->ev, "manager.serve") == 0)
    return MANAGER_CALL;
  if (strcmp (event->ev, "manager.reply") == 0 || strcmp (event->ev, "manager.result") == 0)
    return MANAGER_REPLY;
  return MANAGER_NONE;
}

/* The type words of the library's summaries (lib/core/mpk-trace-summary.c). */
static const char *const summary_words[] = {
  "tuple ", "int ", "float ", "bool ", "str ", "array ", "dict ",
};

/* A Manager call reads like the Python call it stands for: the object, the
 * method and the arguments without their type word, "list#1.append
 * ('Jeff', 8)", "list#1.append (5)", "list#1.len()" without any; its reply
 * is what came back, "→ None", "→ int 4", or what went wrong, "✗ INDEX:
 * list index out of range". The tracer summarizes the arguments as a tuple
 * ("tuple (1, 'a')", a single argument as itself: "int 5") and a reply
 * without a value as "tuple ()" or "None". */
static char *
manager_words (const TraceEvent *event,
               ManagerSide       side,
               gsize            *fixed)
{
  const char *sum = event->shown_sum != NULL ? event->shown_sum : event->sum;
  g_autofree char *head = NULL;

  if (side == MANAGER_REPLY)
    {
      head = g_strdup (event->error != NULL ? "✗ " : "→ ");
      if (event->error == NULL
          && (sum == NULL || strcmp (sum, "tuple ()") == 0 || strcmp (sum, "()") == 0))
        sum = "None";
      *fixed = strlen (head);
      return g_strconcat (head, event->error != NULL ? event->error : sum, NULL);
    }
  head = g_strdup_printf ("%s.%s", event->target != NULL ? event->target
                                   : event->otype != NULL ? event->otype : "manager",
                          event->method != NULL ? event->method : "?");
  for (guint i = 0; sum != NULL && i < G_N_ELEMENTS (summary_words); i++)
    if (g_str_has_prefix (sum, summary_words[i]))
      {
        sum += strlen (summary_words[i]);
        break;
      }
  *fixed = strlen (head) + 1;
  if (sum == NULL || *sum == '\0' || strcmp (sum, "()") == 0)
    {
      *fixed = strlen (head) + 2;
      return g_strconcat (head, "()", NULL);
    }
  if (*sum == '(')
    return g_strdup_printf ("%s %s", head, sum);
  *fixed = strlen (head) + 2;
  return g_strdup_printf ("%s (%s)", head, sum);
}

/* The request protocol's words: "DO → child 2 int 20", "DIE → all": the
 * request and its recipient (never masked), then the data unless it is
 * None. A message left for its recipient reads "left DO → child 2". */
static char *
protocol_words (const TraceEvent *event,
                gsize            *fixed)
{
  g_autofree char *head = g_strdup_printf ("%s%s → %s",
                                           event->kind == TRACE_KIND_OTHER ? "left " : "",
                                           event->req,
                                           event->to_name != NULL ? event->to_name : "all");

  *fixed = strlen (head);
  if (event->sum == NULL || strcmp (event->sum, "None") == 0)
    return g_steal_pointer (&head);
  *fixed += 1;
  return g_strdup_printf ("%s %s", head, event->sum);
}

char *
trace_message_words (const TraceEvent *event,
                     gsize            *fixed)
{
  ManagerSide side = manager_side (event);
  gsize none;

  if (fixed == NULL)
    fixed = &none;
  *fixed = 0;
  if (side != MANAGER_NONE)
    return manager_words (event, side, fixed);
  if (event->req != NULL)
    return protocol_words (event, fixed);
  return g_strdup (event->sum);
}

/* The text of an event drawn on its lane: "exit 0", "EOF pipe#1", a mark's
 * text, "killed by SIGKILL", an unknown event's name. */
char *
trace_event_local (const TraceEvent       *event,
                   const TraceViewOptions *view)
{
  g_autofree char *child = NULL;

  switch (event->kind)
    {
    case TRACE_KIND_START:
      return g_strdup (trace_is_synthetic (event) ? "start (not recorded)" : "start");
    case TRACE_KIND_SPAWN:
      child = child_label (event, view);
      return g_strdup_printf (event->child_lane != NULL ? "start %s" : "start %s (not traced)",
                              child);
    case TRACE_KIND_JOIN:
      child = child_label (event, view);
      return g_strdup_printf ("join %s", child);
    case TRACE_KIND_SIGNAL:
      child = child_label (event, view);
      return g_strdup_printf ("%s %s", event->sig, child);
    case TRACE_KIND_EXIT:
      return g_strdup_printf ("exit %" G_GINT64_FORMAT, event->code);
    case TRACE_KIND_REAPED:
      return reaped_text (event, view);
    case TRACE_KIND_EOF:
      return with_object ("EOF", event);
    case TRACE_KIND_MARK:
      return g_strdup (event->text);
    case TRACE_KIND_DROPPED:
      return g_strdup_printf ("%" G_GINT64_FORMAT " event(s) dropped%s%s%s", event->n,
                              event->text != NULL ? " (" : "",
                              event->text != NULL ? event->text : "",
                              event->text != NULL ? ")" : "");
    case TRACE_KIND_NO_EXIT:
      if (event->lane->blocked != NULL)
        {
          g_autofree char *call = trace_wait_call (event->lane->blocked, view);

          return g_strdup_printf ("still blocked in %s", call);
        }
      return g_strdup ("no exit recorded");
    case TRACE_KIND_SEND:
    case TRACE_KIND_RECV:
      {
        char *words = trace_message_words (event, NULL);

        return words != NULL ? words : g_strdup (trace_event_verb (event));
      }
    case TRACE_KIND_OTHER:
    default:
      if (trace_is_wait (event))
        {
          g_autofree char *call = trace_wait_call (event, view);

          return g_strdup_printf ("blocked in %s", call);
        }
      if (event->old_text != NULL)
        return value_text (event);
      if (event->req != NULL)
        return trace_message_words (event, NULL);
      /* "pipe.close" on pipe#1 reads "close pipe#1"; without an object
       * the category stays: "queue.flush". */
      if (event->obj_name != NULL && strchr (event->ev, '.') != NULL)
        return with_object (strchr (event->ev, '.') + 1, event);
      return with_object (event->ev, event);
    }
}

char *
trace_wait_call (const TraceEvent       *event,
                 const TraceViewOptions *view)
{
  g_autofree char *what = NULL;
  const char *call = event->call != NULL ? event->call : "a call";

  if (event->child > 0)
    what = child_label (event, view);
  else if (event->obj_name != NULL && event->end > 0)
    what = g_strdup_printf ("%s end %" G_GINT64_FORMAT, event->obj_name, event->end);
  else
    what = g_strdup (event->obj_name != NULL ? event->obj_name : "");
  return g_strdup_printf ("%s(%s)", call, what);
}

/* The facts behind an event, for tooltips and the timeline:
 * "m3, pipe#1, 7 bytes, +1.234 ms" (times only when asked for). */
char *
trace_event_details (const TraceEvent       *event,
                     const TraceRun         *run,
                     const TraceViewOptions *view)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  if (event->msg_no > 0)
    g_ptr_array_add (parts, g_strdup_printf ("m%u", event->msg_no));
  if (event->obj_name != NULL)
    g_ptr_array_add (parts, g_strdup (event->obj_name));
  if (event->target != NULL && g_strcmp0 (event->target, event->obj_name) != 0)
    g_ptr_array_add (parts, g_strdup (event->target));
  if (event->bytes >= 0)
    g_ptr_array_add (parts, g_strdup_printf ("%" G_GINT64_FORMAT " bytes", event->bytes));
  if (view->times && !trace_is_synthetic (event))
    g_ptr_array_add (parts, g_strdup_printf ("+%.3f ms", (event->ts - run->t0_ns) / 1e6));
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (", ", (char **) parts->pdata);
}

/* Shortens @text to @max_chars characters, ending in "…" when cut. */
char *
trace_truncate (const char *text,
                guint       max_chars)
{
  g_autofree char *head = NULL;

  if (g_utf8_strlen (text, -1) <= max_chars)
    return g_strdup (text);
  if (max_chars == 0)
    return g_strdup ("");
  head = g_utf8_substring (text, 0, max_chars - 1);
  return g_strconcat (head, "…", NULL);
}

/* Valid UTF-8 on one line: control characters become spaces. */
char *
trace_clean (const char *text)
{
  char *clean = g_utf8_make_valid (text, -1);
  char *p;

  for (p = clean; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return clean;
}
