/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-load.c: reads a trace folder (README.md, "File format"): every
 * trace-*.jsonl, line by line with json-glib, checked key by key so that a
 * bad line is reported as FILE:LINE. Then it picks one run and refuses to
 * mix boots or clocks; trace-order.c does the rest. */

#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "trace-model.h"

#define TRACE_LINE_MAX 4096   /* bytes without the newline (README, "File format") */

G_DEFINE_QUARK (mpk-trace-error-quark, trace_error)

/* One line being read: where it is, for error messages, and its object. */
typedef struct
{
  TraceRun   *run;
  const char *path;
  guint       lineno;
  JsonObject *obj;
} Line;

/* "mpk-trace: KIND: text" on stderr. */
static void
say (const char *kind,
     const char *format,
     va_list     args)
{
  g_autofree char *text = g_strdup_vprintf (format, args);

  g_printerr ("mpk-trace: %s: %s\n", kind, text);
}

void
trace_warn (const char *format,
            ...)
{
  va_list args;

  va_start (args, format);
  say ("warning", format, args);
  va_end (args);
}

void
trace_note (const char *format,
            ...)
{
  va_list args;

  va_start (args, format);
  say ("note", format, args);
  va_end (args);
}

static gboolean G_GNUC_PRINTF (3, 4)
line_fail (const Line *l,
           GError    **error,
           const char *format,
           ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, TRACE_ERROR, TRACE_ERROR_FAILED, "%s:%u: %s", l->path, l->lineno, text);
  return FALSE;
}

static const char *
node_kind (JsonNode *node)
{
  GType type;

  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    return "a string";
  if (type == G_TYPE_BOOLEAN)
    return "true/false";
  if (type == G_TYPE_DOUBLE)
    return "a fraction";
  return "an integer";
}

/* Fetches @key if it holds a value of @type. Returns FALSE with @error set
 * when it is ill-typed, or missing and @required; *found says if it is there. */
static gboolean
line_value (const Line *l,
            const char *key,
            GType       type,
            gboolean    required,
            JsonNode  **found,
            GError    **error)
{
  JsonNode *node = json_object_get_member (l->obj, key);

  *found = NULL;
  if (node == NULL)
    return !required || line_fail (l, error, "missing key \"%s\"", key);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
    return line_fail (l, error, "key \"%s\" must be %s, not %s", key,
                      type == G_TYPE_STRING ? "a string" : "an integer", node_kind (node));
  *found = node;
  return TRUE;
}

static gboolean
line_int (const Line *l,
          const char *key,
          gboolean    required,
          gint64     *out,
          GError    **error)
{
  JsonNode *node;

  if (!line_value (l, key, G_TYPE_INT64, required, &node, error))
    return FALSE;
  if (node == NULL)
    return TRUE;
  /* Every number of the format is a count, a pid, a code or a time since
   * boot: none is negative, and so no difference of two can overflow. */
  if (json_node_get_int (node) < 0)
    return line_fail (l, error, "key \"%s\" must not be negative", key);
  *out = json_node_get_int (node);
  return TRUE;
}

/* The string goes into the run's chunk: it outlives the parser. */
static gboolean
line_str (const Line  *l,
          const char  *key,
          gboolean     required,
          const char **out,
          GError     **error)
{
  JsonNode *node;

  if (!line_value (l, key, G_TYPE_STRING, required, &node, error))
    return FALSE;
  if (node != NULL)
    *out = g_string_chunk_insert_const (l->run->strings, json_node_get_string (node));
  return TRUE;
}

static void
lane_free (gpointer data)
{
  TraceLane *lane = data;

  if (lane == NULL)
    return;
  g_clear_pointer (&lane->own, g_ptr_array_unref);
  g_clear_pointer (&lane->events, g_ptr_array_unref);
  g_clear_pointer (&lane->synth, g_ptr_array_unref);
  g_clear_pointer (&lane->joins, g_ptr_array_unref);
  g_free (lane);
}

/* Reads a positive decimal number of at most 18 digits (no sign, no
 * leading zero) from *@p, moving *@p past it. */
static gboolean
parse_id_part (const char **p,
               gint64      *out)
{
  const char *start = *p;

  *out = 0;
  while (g_ascii_isdigit (**p) && *p - start < 18)
    *out = *out * 10 + (*(*p)++ - '0');
  return *p > start && *out > 0 && *start != '0' && !g_ascii_isdigit (**p);
}

/* @key:"<pid>.<seq>", an event named by its process and seq ("after", the
 * event that caused this one; "exec", the proc.exec that started a program:
 * README, "File format"): both parts positive integers. Absent: both 0. */
static gboolean
parse_event_id (const Line *l,
                const char *key,
                gint64     *pid,
                gint64     *seq,
                GError    **error)
{
  const char *id = NULL, *p;

  if (!line_str (l, key, FALSE, &id, error))
    return FALSE;
  if (id == NULL)
    return TRUE;
  p = id;
  if (!parse_id_part (&p, pid) || *p++ != '.' || !parse_id_part (&p, seq) || *p != '\0')
    {
      g_autofree char *clean = trace_clean (id);
      g_autofree char *shown = trace_truncate (clean, 40);

      *pid = *seq = 0;
      return line_fail (l, error, "key \"%s\" must be \"<pid>.<seq>\" (two positive "
                        "integers), not \"%s\"", key, shown);
    }
  return TRUE;
}

static TraceLane *
parse_header (const Line *l,
              GError    **error)
{
  g_autoptr(GError) local = NULL;
  TraceLane *lane = g_new0 (TraceLane, 1);
  gint64 version = 0;

  lane->own = g_ptr_array_new_with_free_func (g_free);
  lane->path = l->path;
  lane->header_lineno = l->lineno;
  if (line_int (l, "v", TRUE, &version, &local)
      && (version == 1
          || line_fail (l, &local, "format version %" G_GINT64_FORMAT " is not supported "
                        "(this mpk-trace reads version 1)", version))
      && line_int (l, "pid", TRUE, &lane->pid, &local)
      && line_int (l, "ppid", TRUE, &lane->ppid, &local)
      && line_str (l, "name", TRUE, &lane->header_name, &local)
      && line_str (l, "run", TRUE, &lane->run, &local)
      && line_str (l, "clock", TRUE, &lane->clock, &local)
      && line_str (l, "boot_id", TRUE, &lane->boot_id, &local)
      && line_int (l, "t0_mono_ns", TRUE, &lane->t0_mono_ns, &local)
      && parse_event_id (l, "exec", &lane->exec_pid, &lane->exec_seq, &local))
    return lane;
  g_propagate_error (error, g_steal_pointer (&local));
  lane_free (lane);
  return NULL;
}

static TraceKind
classify (const char *ev,
          const char *dir)
{
  static const struct { const char *ev; TraceKind kind; } names[] = {
    { "proc.start", TRACE_KIND_START }, { "proc.spawn", TRACE_KIND_SPAWN },
    { "proc.exit", TRACE_KIND_EXIT }, { "proc.reaped", TRACE_KIND_REAPED },
    { "proc.join", TRACE_KIND_JOIN }, { "proc.signal", TRACE_KIND_SIGNAL },
    { "mark", TRACE_KIND_MARK }, { "trace.dropped", TRACE_KIND_DROPPED },
    /* A program's notes around a program it runs (mpk_trace_exec_begin/_end). */
    { "proc.exec", TRACE_KIND_MARK }, { "proc.exec_end", TRACE_KIND_MARK },
  };
  guint i;

  /* Any category's message pair is drawn as an arrow, and any *.eof as EOF. */
  if (dir != NULL)
    return strcmp (dir, "out") == 0 ? TRACE_KIND_SEND : TRACE_KIND_RECV;
  if (g_str_has_suffix (ev, ".eof"))
    return TRACE_KIND_EOF;
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (ev, names[i].ev) == 0)
      return names[i].kind;
  return TRACE_KIND_OTHER;
}

/* "id" of a Manager event: the server's number of the object, written as
 * an integer or a string; kept as text ("3"). */
static gboolean
line_object_id (const Line  *l,
                const char **out,
                GError     **error)
{
  JsonNode *node = json_object_get_member (l->obj, "id");
  gint64 n = 0;

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING)
    return line_str (l, "id", FALSE, out, error);
  if (!line_int (l, "id", FALSE, &n, error))
    return FALSE;
  if (node != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, n);

      *out = g_string_chunk_insert_const (l->run->strings, text);
    }
  return TRUE;
}

/* The keys each kind needs beyond the common ones (README, "Events recorded"). */
static gboolean
parse_kind_fields (const Line *l,
                   TraceEvent *e,
                   GError    **error)
{
  gboolean is_msg = e->kind == TRACE_KIND_SEND || e->kind == TRACE_KIND_RECV;
  gboolean exited;

  if (!parse_event_id (l, "after", &e->after_pid, &e->after_seq, error)
      || !parse_event_id (l, "exec", &e->exec_pid, &e->exec_seq, error)
      || !line_str (l, "msg", is_msg, &e->msg, error)
      || !line_str (l, "obj", FALSE, &e->obj, error)
      || !line_str (l, "sum", FALSE, &e->sum, error)
      || !line_int (l, "bytes", FALSE, &e->bytes, error)
      || !line_int (l, "end", FALSE, &e->end, error)
      || !line_str (l, "name", FALSE, &e->name, error)
      || !line_int (l, "dead", FALSE, &e->dead, error)
      || !line_int (l, "index", FALSE, &e->index, error)
      || !line_str (l, "old", FALSE, &e->old_text, error)
      || !line_str (l, "new", FALSE, &e->new_text, error)
      || !line_str (l, "otype", FALSE, &e->otype, error)
      || !line_object_id (l, &e->oid, error)
      || !line_str (l, "method", FALSE, &e->method, error)
      || !line_str (l, "error", FALSE, &e->error, error)
      || !line_str (l, "req", FALSE, &e->req, error)
      || !line_str (l, "ref", FALSE, &e->ref, error)
      || !line_int (l, "to", FALSE, &e->to, error)
      || !line_int (l, "ord", FALSE, &e->ord, error)
      || !line_str (l, "call", FALSE, &e->call, error))
    return FALSE;
  switch (e->kind)
    {
    case TRACE_KIND_SPAWN:
    case TRACE_KIND_JOIN:
      return line_int (l, "child", TRUE, &e->child, error);
    case TRACE_KIND_SIGNAL:
      return line_int (l, "child", TRUE, &e->child, error)
             && line_str (l, "sig", TRUE, &e->sig, error);
    case TRACE_KIND_EXIT:
      return line_int (l, "code", TRUE, &e->code, error);
    case TRACE_KIND_REAPED:
      if (!line_int (l, "child", TRUE, &e->child, error)
          || !line_str (l, "status", TRUE, &e->status, error))
        return FALSE;
      exited = strcmp (e->status, "exited") == 0;
      return line_int (l, "code", exited, &e->code, error)
             && line_str (l, "sig", strcmp (e->status, "signal") == 0, &e->sig, error);
    case TRACE_KIND_MARK:
      return line_str (l, "text", TRUE, &e->text, error);
    case TRACE_KIND_DROPPED:
      return line_int (l, "n", TRUE, &e->n, error)
             && line_str (l, "why", FALSE, &e->text, error);
    default:
      /* call.wait of a join: the child it waits for. */
      return line_int (l, "child", FALSE, &e->child, error);
    }
}

static gboolean
parse_event (const Line *l,
             TraceLane  *lane,
             const char *text,
             gsize       len,
             GError    **error)
{
  g_autofree TraceEvent *e = trace__event_new (TRACE_KIND_OTHER, lane);
  const char *dir = NULL;
  gint64 pid = 0;

  e->lineno = l->lineno;
  e->line = g_string_chunk_insert_len (l->run->strings, text, len);
  if (!line_int (l, "ts", TRUE, &e->ts, error)
      || !line_int (l, "pid", TRUE, &pid, error)
      || !line_int (l, "seq", TRUE, &e->seq, error)
      || !line_int (l, "lc", TRUE, &e->lc, error)
      || !line_str (l, "ev", TRUE, &e->ev, error)
      || !line_str (l, "dir", FALSE, &dir, error)
      || !line_int (l, "th", FALSE, &e->th, error))
    return FALSE;
  if (json_object_get_member (l->obj, "th") == NULL)
    e->th = 1;    /* the process's first thread, or a file from before threads */
  else if (e->th < 1)
    return line_fail (l, error, "key \"th\" must be a positive integer, not %" G_GINT64_FORMAT,
                      e->th);
  if (pid != lane->pid)
    return line_fail (l, error, "pid %" G_GINT64_FORMAT " differs from the header's pid %"
                      G_GINT64_FORMAT, pid, lane->pid);
  if (dir != NULL && strcmp (dir, "out") != 0 && strcmp (dir, "in") != 0)
    return line_fail (l, error, "key \"dir\" must be \"out\" or \"in\", not \"%s\"", dir);
  if (lane->own->len > 0
      && e->seq <= ((TraceEvent *) g_ptr_array_index (lane->own, lane->own->len - 1))->seq)
    return line_fail (l, error, "seq %" G_GINT64_FORMAT " does not follow the previous line's",
                      e->seq);
  e->kind = classify (e->ev, dir);
  if (!parse_kind_fields (l, e, error))
    return FALSE;
  g_ptr_array_add (lane->own, g_steal_pointer (&e));
  return TRUE;
}

/* A line's "type" if it is a string: "proc" for headers; events have none. */
static const char *
line_type (JsonObject *obj)
{
  JsonNode *type = json_object_get_member (obj, "type");

  if (type == NULL || !JSON_NODE_HOLDS_VALUE (type)
      || json_node_get_value_type (type) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (type);
}

/* One line: a header starts a new lane (a reused pid appends a second run
 * to an old file); anything else is an event of the current lane. */
static gboolean
load_line (Line        *l,
           gboolean     verbose,
           JsonParser  *parser,
           const char  *text,
           gsize        len,
           GPtrArray   *lanes,
           TraceLane  **lane,
           GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *canonical = NULL;
  JsonNode *root;
  const char *kind;

  /* The format's own limit; json-glib's recursive parser must not be fed a
   * line of any length (deep nesting would overflow the stack). */
  if (len > TRACE_LINE_MAX)
    return line_fail (l, error, "line of %" G_GSIZE_FORMAT " bytes is over the format's "
                      "limit of %d", len, TRACE_LINE_MAX);
  if (!json_parser_load_from_data (parser, text, len, &local))
    return line_fail (l, error, "not valid JSON (%s)", local->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return line_fail (l, error, "not a JSON object");
  /* Kept as json-glib writes it back, not as read: json-glib tolerates
   * comments and trailing text, which `merge` would otherwise copy. */
  canonical = json_to_string (root, FALSE);
  text = canonical;
  len = strlen (canonical);
  l->obj = json_node_get_object (root);
  /* A line with "ev" is an event, whatever else it holds. */
  kind = json_object_has_member (l->obj, "ev") ? NULL : line_type (l->obj);
  if (kind != NULL && strcmp (kind, "proc") != 0)
    {
      /* A line kind a later format may add: not an event, skipped. */
      if (verbose)
        trace_note ("%s:%u: line of unknown type \"%s\" skipped", l->path, l->lineno, kind);
      return TRUE;
    }
  if (kind != NULL)
    {
      *lane = parse_header (l, error);
      if (*lane == NULL)
        return FALSE;
      (*lane)->header_line = g_string_chunk_insert_len (l->run->strings, text, len);
      g_ptr_array_add (lanes, *lane);
      return TRUE;
    }
  if (*lane == NULL)
    return line_fail (l, error, "the first line is not a header ({\"type\":\"proc\", …})");
  return parse_event (l, *lane, text, len, error);
}

/* Reads one file into @lanes. A last line without its newline was cut short
 * by the writer's death: it is dropped, never an error. */
static gboolean
load_file (TraceRun               *run,
           const char             *path,
           const TraceLoadOptions *options,
           GPtrArray              *lanes,
           GError                **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *contents = NULL;
  Line l = { run, path, 0, NULL };
  TraceLane *lane = NULL;
  char *p, *end, *nl;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, error))
    return FALSE;
  for (p = contents, end = contents + len; p < end; p = nl + 1)
    {
      l.lineno++;
      nl = memchr (p, '\n', end - p);
      if (nl == NULL)
        {
          if (lane != NULL)
            lane->torn = TRUE;
          if (options->verbose)
            trace_note ("%s:%u: torn last line dropped (its writer died while writing it)",
                        path, l.lineno);
          break;
        }
      if (strspn (p, " \t\r") < (gsize) (nl - p)
          && !load_line (&l, options->verbose, parser, p, nl - p, lanes, &lane, error))
        return FALSE;
    }
  /* Only whole lines are read, so a file without one was opened by a
   * process that died before its header was written: nothing to draw. */
  if (lane == NULL)
    trace_warn ("%s: no complete line (its process died before writing its header); "
                "skipped", path);
  return TRUE;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Returns the trace-*.jsonl paths of @dir, sorted, or NULL with @error set. */
static GPtrArray *
list_files (TraceRun *run,
            GError  **error)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  g_autoptr(GDir) d = NULL;
  const char *name;

  if (!g_file_test (run->dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, TRACE_ERROR, TRACE_ERROR_FAILED,
                   "no folder %s; run the program with MPK_TRACE=all MPK_TRACE_DIR=%s",
                   run->dir, run->dir);
      return NULL;
    }
  d = g_dir_open (run->dir, 0, error);
  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "trace-") && g_str_has_suffix (name, ".jsonl"))
      {
        g_autofree char *path = g_build_filename (run->dir, name, NULL);

        g_ptr_array_add (paths, g_string_chunk_insert (run->strings, path));
      }
  if (paths->len == 0)
    {
      g_set_error (error, TRACE_ERROR, TRACE_ERROR_FAILED,
                   "no trace files in %s; run the program with MPK_TRACE=all MPK_TRACE_DIR=%s",
                   run->dir, run->dir);
      return NULL;
    }
  g_ptr_array_sort (paths, compare_names);
  return g_steal_pointer (&paths);
}

/* A run starts when its earliest process does. */
static gint64
run_start (GPtrArray  *lanes,
           const char *id)
{
  gint64 t0 = G_MAXINT64;
  guint i;

  for (i = 0; i < lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (lanes, i);

      if (strcmp (lane->run, id) == 0)
        t0 = MIN (t0, lane->t0_mono_ns);
    }
  return t0;
}

/* Picks the run asked for, or the newest one (ties: the larger id). */
static const char *
choose_run (GPtrArray              *lanes,
            const TraceLoadOptions *options,
            guint                  *n_runs,
            GError                **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  const char *best = NULL;
  guint i;

  for (i = 0; i < lanes->len; i++)
    {
      const char *id = ((TraceLane *) g_ptr_array_index (lanes, i))->run;
      gint64 t0, best_t0;

      if (!g_hash_table_add (ids, (gpointer) id))
        continue;
      if (options->run_id != NULL)
        continue;
      t0 = run_start (lanes, id);
      best_t0 = best != NULL ? run_start (lanes, best) : G_MININT64;
      if (best == NULL || t0 > best_t0 || (t0 == best_t0 && strcmp (id, best) > 0))
        best = id;
    }
  *n_runs = g_hash_table_size (ids);
  if (options->run_id == NULL)
    return best;
  best = g_hash_table_lookup (ids, options->run_id);
  if (best == NULL)
    {
      g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (ids, NULL);
      g_autofree char *list = NULL;

      qsort (names, *n_runs, sizeof (char *), compare_names);
      list = g_strjoinv (", ", (char **) names);
      g_set_error (error, TRACE_ERROR, TRACE_ERROR_FAILED, "no run '%s' here; runs: %s",
                   options->run_id, list);
    }
  return best;
}

/* Timestamps of different boots or clocks cannot be compared: refuse. */
static gboolean
check_comparable (GPtrArray *lanes,
                  GError   **error)
{
  TraceLane *first = g_ptr_array_index (lanes, 0);
  guint i;

  for (i = 1; i < lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (lanes, i);
      const char *what = NULL, *a = NULL, *b = NULL;

      if (strcmp (lane->boot_id, first->boot_id) != 0)
        what = "boots", a = first->boot_id, b = lane->boot_id;
      else if (strcmp (lane->clock, first->clock) != 0)
        what = "clocks", a = first->clock, b = lane->clock;
      if (what == NULL)
        continue;
      g_set_error (error, TRACE_ERROR, TRACE_ERROR_FAILED,
                   "%s and %s come from different %s (%s and %s); their times cannot be "
                   "compared, so they are not merged (move one run's files away%s)",
                   first->path, lane->path, what, a, b,
                   strcmp (first->run, lane->run) != 0 ? ", or choose a run with --run=ID" : "");
      return FALSE;
    }
  return TRUE;
}

/* Moves the lanes of the chosen run from @lanes into run->lanes. */
static gboolean
select_run (TraceRun               *run,
            GPtrArray              *lanes,
            const TraceLoadOptions *options,
            GError                **error)
{
  guint i, n_runs = 0, n_other = 0;

  if (lanes->len == 0)
    {
      g_set_error (error, TRACE_ERROR, TRACE_ERROR_FAILED,
                   "no trace events in %s: every trace file is empty", run->dir);
      return FALSE;
    }
  if (options->run_id == NULL && !check_comparable (lanes, error))
    return FALSE;
  run->id = g_strdup (choose_run (lanes, options, &n_runs, error));
  if (run->id == NULL)
    return FALSE;
  for (i = 0; i < lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (lanes, i);

      if (strcmp (lane->run, run->id) != 0)
        n_other++;
      else
        g_ptr_array_add (run->lanes, g_steal_pointer (&lanes->pdata[i]));
    }
  if (options->run_id == NULL && n_other > 0)
    trace_note ("using run %s; %u file(s) of %u other run(s) ignored (--run=ID to choose)",
                run->id, n_other, n_runs - 1);
  return check_comparable (run->lanes, error);
}

TraceRun *
trace_run_load (const char             *dir,
                const TraceLoadOptions *options,
                GError                **error)
{
  g_autoptr(TraceRun) run = g_new0 (TraceRun, 1);
  g_autoptr(GPtrArray) paths = NULL;
  g_autoptr(GPtrArray) lanes = g_ptr_array_new_with_free_func (lane_free);
  guint i;

  run->dir = g_strdup (dir);
  run->strings = g_string_chunk_new (64 * 1024);
  run->lanes = g_ptr_array_new_with_free_func (lane_free);
  paths = list_files (run, error);
  if (paths == NULL)
    return NULL;
  for (i = 0; i < paths->len; i++)
    if (!load_file (run, g_ptr_array_index (paths, i), options, lanes, error))
      return NULL;
  if (!select_run (run, lanes, options, error))
    return NULL;
  trace__run_order (run);
  return g_steal_pointer (&run);
}

void
trace_run_free (TraceRun *run)
{
  if (run == NULL)
    return;
  g_clear_pointer (&run->causal, g_ptr_array_unref);
  g_clear_pointer (&run->closes, g_hash_table_unref);
  g_clear_pointer (&run->eofs, g_hash_table_unref);
  g_clear_pointer (&run->effects, g_hash_table_unref);
  g_clear_pointer (&run->execs, g_hash_table_unref);
  g_clear_pointer (&run->resumes, g_hash_table_unref);
  g_clear_pointer (&run->lanes, g_ptr_array_unref);
  if (run->strings != NULL)
    g_string_chunk_free (run->strings);
  g_free (run->id);
  g_free (run->dir);
  g_free (run);
}
