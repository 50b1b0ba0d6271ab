/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-trace: merges the per-process trace files of one run (MPK_TRACE=all)
 * and draws them: merged JSON lines, a Graphviz sequence diagram, Perfetto
 * JSON, a text timeline, a signature that ignores scheduling. Exit status:
 * 0 done, 1 bad input, 2 bad usage. */

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trace-render.h"

#define EXIT_USAGE 2

/* Every command's options; each command shows only its own. */
static char *opt_run, *opt_order, *opt_output, *opt_title;
static gboolean opt_pids, opt_times, opt_verbose, opt_queue_arrows;
static gint opt_max_rows = 120, opt_page = 1;

static const GOptionEntry load_entries[] = {
  { "run", 0, 0, G_OPTION_ARG_STRING, &opt_run,
    "Use the run ID (default: the newest run in DIR)", "ID" },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
    "Also say what was skipped (torn last lines, unknown line types)", NULL },
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry order_entries[] = {
  { "order", 0, 0, G_OPTION_ARG_STRING, &opt_order,
    "causal (default: by happens-before, stable across runs) or time (by timestamp)",
    "causal|time" },
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry view_entries[] = {
  { "pids", 0, 0, G_OPTION_ARG_NONE, &opt_pids, "Show process ids next to names", NULL },
  { "times", 0, 0, G_OPTION_ARG_NONE, &opt_times,
    "Show times since the run's start (not deterministic)", NULL },
  G_OPTION_ENTRY_NULL
};

static const GOptionEntry dot_entries[] = {
  { "max-rows", 0, 0, G_OPTION_ARG_INT, &opt_max_rows,
    "Rows per page (default 120; 0: one page)", "N" },
  { "page", 0, 0, G_OPTION_ARG_INT, &opt_page, "The page to print without -o (default 1)", "K" },
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output,
    "Write FILE (FILE-p1.dot, FILE-p2.dot… when there are several pages)", "FILE" },
  { "title", 0, 0, G_OPTION_ARG_STRING, &opt_title,
    "The diagram's title (default: the folder's name)", "T" },
  { "queue-arrows", 0, 0, G_OPTION_ARG_NONE, &opt_queue_arrows,
    "Draw a queue's items as arrows from putter to getter (default: through a lane of "
    "the queue)", NULL },
  G_OPTION_ENTRY_NULL
};

typedef struct
{
  const char         *name;
  const char         *summary;
  const char         *description;
  const GOptionEntry *entries[4];
} Command;

static const Command commands[] = {
  { "merge", "The run's events as JSON lines: headers first, then every event with "
    "\"lane\" and \"rank\" added.",
    "Prints the header lines (lane order), then the events in the chosen order.",
    { load_entries, order_entries, NULL } },
  { "dot", "A sequence diagram in Graphviz DOT (render: dot -Tsvg FILE.dot -o FILE.svg).",
    "Lanes left to right by creation, one row per event in causal order.",
    { load_entries, view_entries, dot_entries, NULL } },
  { "json", "Chrome/Perfetto trace-event JSON (open in https://ui.perfetto.dev).",
    "Sends and receives are 1 µs slices joined by flow arrows; the rest are instants.",
    { load_entries, NULL } },
  { "text", "A timeline for the terminal, one line per event.",
    "Columns: step, lane, event, payload summary, peer, (message, object, bytes).",
    { load_entries, order_entries, view_entries, NULL } },
  { "signature", "What the run did, without who did it or when: sorted lines \"COUNT  ROLE: EVENT\".",
    "Two runs whose scheduler dealt the work out differently give the same lines: lanes are "
    "named by role (the process name without a trailing number), and what a role of several "
    "lanes sends or marks has its numbers written as #.",
    { load_entries, NULL } },
};

static void
print_usage (FILE *out)
{
  guint i;

  fprintf (out, "Usage: mpk-trace COMMAND [OPTION…] DIR\n\n"
                "Merges and draws the trace files (trace-*.jsonl) that MPK_TRACE=all "
                "MPK_TRACE_DIR=DIR wrote.\n\nCommands:\n");
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'mpk-trace COMMAND --help' shows a command's options.\n");
}

static int
usage_error (const Command *cmd,
             const char    *message)
{
  g_printerr ("mpk-trace: %s\nTry 'mpk-trace %s --help'.\n", message, cmd->name);
  return EXIT_USAGE;
}

/* Parses the command line of @cmd; returns the folder, or NULL after
 * printing a usage error. --help prints and exits here. */
static const char *
parse_options (const Command *cmd,
               int           *argc,
               char        ***argv,
               int           *status)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("DIR");
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("mpk-trace %s", cmd->name);
  guint i;

  g_set_prgname (prgname);
  g_option_context_set_summary (context, cmd->summary);
  g_option_context_set_description (context, cmd->description);
  for (i = 0; cmd->entries[i] != NULL; i++)
    g_option_context_add_main_entries (context, cmd->entries[i], NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    *status = usage_error (cmd, error->message);
  else if (*argc != 2)
    *status = usage_error (cmd, *argc < 2 ? "no folder given" : "give exactly one folder");
  else if (opt_order != NULL && strcmp (opt_order, "causal") != 0
           && strcmp (opt_order, "time") != 0)
    *status = usage_error (cmd, "--order must be causal or time");
  else if (opt_max_rows < 0 || opt_page < 1)
    *status = usage_error (cmd, "--max-rows must be 0 or more and --page 1 or more");
  else
    return (*argv)[1];
  return NULL;
}

static gboolean
run_command (const Command *cmd,
             TraceRun      *run,
             const char    *dir,
             GError       **error)
{
  g_autofree char *base = g_path_get_basename (dir);
  TraceViewOptions view = { opt_pids, opt_times, TRACE_ORDER_CAUSAL };
  TraceDotOptions dot = { view, opt_max_rows, opt_page, opt_output,
                          opt_title != NULL ? opt_title : base, opt_queue_arrows };

  if (g_strcmp0 (opt_order, "time") == 0)
    view.order = TRACE_ORDER_TIME;
  if (strcmp (cmd->name, "merge") == 0)
    return trace_merge_print (run, view.order, error);
  if (strcmp (cmd->name, "dot") == 0)
    return trace_dot_print (run, &dot, error);
  if (strcmp (cmd->name, "json") == 0)
    return trace_json_print (run, error);
  if (strcmp (cmd->name, "signature") == 0)
    return trace_signature_print (run, error);
  return trace_text_print (run, &view, error);
}

static int
main_command (const Command *cmd,
              int            argc,
              char         **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TraceRun) run = NULL;
  TraceLoadOptions load = { NULL, FALSE };
  const char *dir;
  int status = 0;

  dir = parse_options (cmd, &argc, &argv, &status);
  if (dir == NULL)
    return status;
  load.run_id = opt_run;
  load.verbose = opt_verbose;
  run = trace_run_load (dir, &load, &error);
  if (run != NULL && run_command (cmd, run, dir, &error) && fflush (stdout) == 0)
    return 0;
  if (error == NULL)
    g_set_error (&error, TRACE_ERROR, TRACE_ERROR_FAILED, "cannot write the output");
  g_printerr ("mpk-trace: %s\n", error->message);
  return g_error_matches (error, TRACE_ERROR, TRACE_ERROR_USAGE) ? EXIT_USAGE : 1;
}

int
main (int    argc,
      char **argv)
{
  const char *name = argc > 1 ? argv[1] : NULL;
  int status;
  guint i;

  /* The user's charset for messages; numbers in DOT always with a '.'. */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  if (name != NULL && (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0
                       || strcmp (name, "help") == 0))
    {
      print_usage (stdout);
      return 0;
    }
  for (i = 0; name != NULL && i < G_N_ELEMENTS (commands); i++)
    if (strcmp (name, commands[i].name) == 0)
      {
        status = main_command (&commands[i], argc - 1, argv + 1);
        g_clear_pointer (&opt_run, g_free);
        g_clear_pointer (&opt_order, g_free);
        g_clear_pointer (&opt_output, g_free);
        g_clear_pointer (&opt_title, g_free);
        return status;
      }
  if (name != NULL)
    g_printerr ("mpk-trace: unknown command '%s'\n", name);
  print_usage (stderr);
  return EXIT_USAGE;
}
