/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-signature.c: `mpk-trace signature`: what a run did, without who did
 * it or when. One line per kind of event with its count, sorted:
 *   "  4  consumer: task_done queue#1"
 * A lane is named by its role, its process name without a trailing number
 * ("worker 2" -> "worker"), and what a role of several lanes sends or marks
 * has its numbers written as '#' (a worker may send its own number). So two
 * runs of a program whose scheduler dealt the work out differently give the
 * same signature, and a different item, a missing or an extra event change
 * it (README.md, "Commands"). A repair its process was killed right after
 * is left out: whether it happens depends on the order of the kills. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trace-render.h"

#define SIGNATURE_VERSION 1

typedef struct
{
  TraceRun   *run;
  char      **role;     /* by lane index */
  gboolean   *shared;   /* by lane index: its role has several lanes */
} Signature;

static const TraceViewOptions plain_view = { FALSE, FALSE, TRACE_ORDER_CAUSAL };

/* "worker 2" -> "worker", "p1" -> "p"; a name that is only a number stays. */
static char *
role_of (const TraceLane *lane)
{
  g_autofree char *clean = trace_clean (lane->header_name);
  gsize n = strlen (clean);

  while (n > 0 && g_ascii_isdigit (clean[n - 1]))
    n--;
  while (n > 0 && strchr (" \t-_#.", clean[n - 1]) != NULL)
    n--;
  return n > 0 ? g_strndup (clean, n) : g_steal_pointer (&clean);
}

/* An object's name ends at @p: "list#1" (the number after "word#"). */
static gboolean
in_object_name (const char *text,
                const char *p)
{
  while (p > text && g_ascii_isdigit (p[-1]))
    p--;
  return p - text >= 2 && p[-1] == '#' && (g_ascii_isalnum (p[-2]) || p[-2] == '_');
}

/* Every run of digits of @text as '#', except, with @keep_names, in an
 * object's name ("list#1", which a Manager call's arguments may name). */
static char *
mask_numbers (const char *text,
              gboolean    keep_names)
{
  GString *s = g_string_new (NULL);
  const char *p;

  for (p = text; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p) || (keep_names && in_object_name (text, p)))
        g_string_append_c (s, *p);
      else if (p == text || !g_ascii_isdigit (p[-1]))
        g_string_append_c (s, '#');
    }
  return g_string_free (s, FALSE);
}

/* What @e's lane says in its own words (a payload, a mark), masked when
 * the lane's role is shared. */
static char *
own_words (const Signature  *sig,
           const TraceEvent *sender,
           const char       *text,
           gboolean          keep_names)
{
  g_autofree char *clean = trace_clean (text);

  return sig->shared[sender->lane->index] ? mask_numbers (clean, keep_names)
                                          : g_steal_pointer (&clean);
}

/* The event without its lane: "put int 1 -> consumer (queue#1)",
 * "task_done queue#1", "killed by SIGTERM (reaped by MainProcess)". */
static char *
describe (const Signature  *sig,
          const TraceEvent *e)
{
  g_autofree char *local = NULL, *words = NULL, *peer = NULL, *obj = NULL;

  if (e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV)
    {
      const TraceEvent *send = e->kind == TRACE_KIND_SEND ? e : e->peer;
      g_autofree char *text = NULL, *head = NULL, *masked = NULL;
      gsize fixed = 0;

      /* A Manager's reply speaks for its caller: what a worker got back
       * is masked like what it sent. */
      if (g_strcmp0 (e->ev, "manager.reply") == 0 && e->peer != NULL)
        send = e->peer;
      else if (g_strcmp0 (e->ev, "manager.result") == 0)
        send = e;
      text = trace_message_words (e, &fixed);
      if (text == NULL)
        text = g_strdup ("");
      /* The object and method of a Manager call are never masked. */
      head = g_strndup (text, fixed);
      masked = own_words (sig, send != NULL ? send : e, text + fixed,
                          g_str_has_prefix (e->ev, "manager."));
      g_free (text);
      text = trace_clean (head);   /* the masked part is clean already */
      words = g_strconcat (text, masked, NULL);
      if (e->peer == NULL)
        peer = g_strdup (e->kind == TRACE_KIND_SEND ? "not received" : "<- ?");
      else
        peer = g_strdup_printf ("%s %s", e->kind == TRACE_KIND_SEND ? "->" : "<-",
                                sig->role[e->peer->lane->index]);
      obj = e->obj_name != NULL ? g_strdup_printf (" (%s)", e->obj_name) : g_strdup ("");
      return g_strdup_printf ("%s%s%s %s%s", trace_event_verb (e), *words != '\0' ? " " : "",
                              words, peer, obj);
    }
  if (e->kind == TRACE_KIND_MARK)
    {
      words = own_words (sig, e, e->text, FALSE);
      return g_strdup_printf ("\"%s\"", words);
    }
  local = trace_event_local (e, &plain_view);
  /* A shared number: what it held depends on who got there first, even
   * when one process reads it. */
  if (e->old_text != NULL)
    {
      words = trace_clean (local);
      return mask_numbers (words, FALSE);
    }
  words = trace_clean (local);
  if (e->kind == TRACE_KIND_REAPED && e->lane != e->writer)
    return g_strdup_printf ("%s (reaped by %s)", words, sig->role[e->writer->index]);
  return g_steal_pointer (&words);
}

static char *
signature_line (const Signature  *sig,
                const TraceEvent *e)
{
  g_autofree char *what = describe (sig, e), *cause = NULL;

  if (e->cause == NULL)
    return g_strdup_printf ("%s: %s", sig->role[e->lane->index], what);
  cause = describe (sig, e->cause);
  return g_strdup_printf ("%s: %s (after %s: %s)", sig->role[e->lane->index], what,
                          sig->role[e->cause->lane->index], cause);
}

/* A repair (a lock or queue whose holder died, "*.recovered") after which
 * its process did nothing before it was killed: when a parent's exit kills
 * its daemons one by one, one may die holding a lock and the next repair it
 * first, or not, as the scheduler has it. Left out of the signature. */
static gboolean
is_unused_repair (const TraceEvent *e)
{
  gboolean killed = FALSE;
  guint i;

  if (e->kind != TRACE_KIND_OTHER || !g_str_has_suffix (e->ev, ".recovered"))
    return FALSE;
  for (i = e->lane_pos + 1; i < e->lane->events->len; i++)
    {
      const TraceEvent *next = g_ptr_array_index (e->lane->events, i);

      if (next->kind == TRACE_KIND_REAPED && g_strcmp0 (next->status, "signal") == 0)
        killed = TRUE;
      else if (next->kind != TRACE_KIND_NO_EXIT)
        return FALSE;
    }
  return killed;
}

/* A protocol message a receiver passed over (msg.left): whether a receiver
 * looked at a message before its recipient took it depends on who ran
 * first. Left out of the signature (the drawing shows it). */
static gboolean
is_left_message (const TraceEvent *e)
{
  return e->kind == TRACE_KIND_OTHER && strcmp (e->ev, "msg.left") == 0;
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

gboolean
trace_signature_print (TraceRun  *run,
                       GError   **error)
{
  g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) roles = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree const char **lines = NULL;
  Signature sig = { run, g_new0 (char *, run->lanes->len + 1),
                    g_new0 (gboolean, run->lanes->len) };
  guint i, n;

  for (i = 0; i < run->lanes->len; i++)
    {
      sig.role[i] = role_of (g_ptr_array_index (run->lanes, i));
      n = GPOINTER_TO_UINT (g_hash_table_lookup (roles, sig.role[i]));
      g_hash_table_insert (roles, sig.role[i], GUINT_TO_POINTER (n + 1));
    }
  for (i = 0; i < run->lanes->len; i++)
    sig.shared[i] = GPOINTER_TO_UINT (g_hash_table_lookup (roles, sig.role[i])) > 1;
  for (i = 0; i < run->causal->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (run->causal, i);
      char *line;

      if (is_unused_repair (e) || is_left_message (e))
        continue;
      line = signature_line (&sig, e);

      n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, line));
      g_hash_table_replace (counts, line, GUINT_TO_POINTER (n + 1));
    }
  lines = (const char **) g_hash_table_get_keys_as_array (counts, &n);
  qsort (lines, n, sizeof (char *), compare_strings);
  printf ("# mpk-trace signature %d: COUNT  ROLE: EVENT (tools/mpk-trace/README.md)\n",
          SIGNATURE_VERSION);
  for (i = 0; i < n; i++)
    printf ("%3u  %s\n", GPOINTER_TO_UINT (g_hash_table_lookup (counts, lines[i])), lines[i]);
  g_strfreev (sig.role);
  g_free (sig.shared);
  return TRUE;
}
