/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-msgproc.c: the message-process layer (issue 15) on the workloads of
 * bench/bench_msgproc.py, which runs them with Python's multiprocessing the
 * way valkka does (pickled MessageObjects over a Pipe, a select per message,
 * dispatch by getattr). bench/run.sh runs both and prints the ratios.
 *
 *   mp_rtt      ping and pong round trip (the built-in ping echoes its
 *               parameters): us per round trip
 *   mp_cmd1way  one-way commands to a handler that does nothing, then one
 *               ping to know they all ran: commands/s
 *
 * Output: "key<TAB>unit<TAB>v1,v2,..." per workload, "#" lines are notes. */
#include <mpkit.h>

#include <stdio.h>
#include <stdlib.h>

static int    opt_trials = 5;
static double opt_scale = 1.0;
static char  *opt_only = NULL;

#define TIMEOUT (60 * G_USEC_PER_SEC)

static void
emit (const char *key, const char *unit, const double *values, int n)
{
  printf ("%s\t%s\t", key, unit);
  for (int i = 0; i < n; i++)
    printf ("%s%.6g", i ? "," : "", values[i]);
  printf ("\n");
  fflush (stdout);
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "bench-msgproc: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

static gboolean
c_cmd (MpkMessageProcess *mp, MpkCommand *command, gpointer data, GError **error)
{
  return TRUE;
}

static MpkMessageProcess *
start (void)
{
  g_autoptr(GError) error = NULL;
  MpkMessageProcess *mp = mpk_message_process_new ("Bench", "backend", &error);

  if (mp == NULL
      || !mpk_message_process_add_handler (mp, "cmd", "n:i", c_cmd, NULL, NULL, &error)
      || !mpk_message_process_start (mp, &error))
    die ("start", error);
  return mp;
}

/* Sends a ping with @n and checks the pong. */
static void
ping (MpkMessageProcess *mp, gint32 n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkCommand) pong = NULL;
  gint32 got;

  if (!mpk_message_process_send (mp, mpk_command_new_with ("ping", "n", g_variant_new_int32 (n),
                                                           NULL), TIMEOUT, &error)
      || (pong = mpk_message_process_receive (mp, TIMEOUT, &error)) == NULL)
    die ("ping", error);
  if (!g_variant_lookup (mpk_command_get_params (pong), "n", "i", &got) || got != n)
    die ("ping: wrong pong", NULL);
}

static void
stop (MpkMessageProcess *mp)
{
  g_autoptr(GError) error = NULL;

  if (!mpk_message_process_stop (mp, TIMEOUT, &error))
    die ("stop", error);
  mpk_message_process_unref (mp);
}

static double
rtt_trial (gint64 count)
{
  MpkMessageProcess *mp = start ();
  gint64 t0 = 0;
  double us;

  for (gint64 i = -500; i < count; i++)      /* 500 warm-up round trips */
    {
      if (i == 0)
        t0 = g_get_monotonic_time ();
      ping (mp, (gint32) i);
    }
  us = (double) (g_get_monotonic_time () - t0) / count;
  stop (mp);
  return us;
}

static double
cmd_trial (gint64 count)
{
  MpkMessageProcess *mp = start ();
  g_autoptr(GError) error = NULL;
  gint64 t0, t1;

  ping (mp, -1);
  t0 = g_get_monotonic_time ();
  for (gint64 i = 0; i < count; i++)
    if (!mpk_message_process_send (mp, mpk_command_new_with ("cmd", "n",
                                   g_variant_new_int32 ((gint32) i), NULL), TIMEOUT, &error))
      die ("cmd", error);
  ping (mp, (gint32) count);
  t1 = g_get_monotonic_time ();
  stop (mp);
  return count / ((t1 - t0) / 1e6);
}

typedef struct
{
  const char *key;
  const char *unit;
  double    (*trial) (gint64 count);
  gint64      count;
} Workload;

static const Workload workloads[] = {
  { "mp_rtt",     "us/rt",  rtt_trial, 10000 },
  { "mp_cmd1way", "cmds/s", cmd_trial, 100000 },
};

static gboolean
selected (const char *key)
{
  g_auto(GStrv) keys = NULL;

  if (opt_only == NULL || *opt_only == '\0')
    return TRUE;
  keys = g_strsplit (opt_only, ",", -1);
  return g_strv_contains ((const char *const *) keys, key);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "trials", 0, 0, G_OPTION_ARG_INT, &opt_trials, "trials per workload (5)", "N" },
    { "scale", 0, 0, G_OPTION_ARG_DOUBLE, &opt_scale, "multiply every count (1)", "F" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only, "workloads, comma-separated", "K,K" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the message-process layer's bench");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    die ("options", error);
  printf ("# bench-msgproc trials=%d scale=%g\n", opt_trials, opt_scale);
  for (guint k = 0; k < G_N_ELEMENTS (workloads); k++)
    {
      const Workload *w = &workloads[k];
      gint64 count = MAX ((gint64) (w->count * opt_scale), 100);
      double values[64];
      int n = MIN (opt_trials, 64);

      if (!selected (w->key))
        continue;
      printf ("# %s: %" G_GINT64_FORMAT " per trial\n", w->key, count);
      for (int t = 0; t < n; t++)
        values[t] = w->trial (count);
      emit (w->key, w->unit, values, n);
    }
  g_free (opt_only);
  return 0;
}
