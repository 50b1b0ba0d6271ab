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

#include "bench-util.h"

#define TIMEOUT (60 * G_USEC_PER_SEC)

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
    bench_die ("start", error);
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
    bench_die ("ping", error);
  if (!g_variant_lookup (mpk_command_get_params (pong), "n", "i", &got) || got != n)
    bench_die ("ping: wrong pong", NULL);
}

static void
stop (MpkMessageProcess *mp)
{
  g_autoptr(GError) error = NULL;

  if (!mpk_message_process_stop (mp, TIMEOUT, &error))
    bench_die ("stop", error);
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
      bench_die ("cmd", error);
  ping (mp, (gint32) count);
  t1 = g_get_monotonic_time ();
  stop (mp);
  return count / ((t1 - t0) / 1e6);
}

static const BenchWorkload workloads[] = {
  { "mp_rtt",     "us/rt",  rtt_trial, 10000 },
  { "mp_cmd1way", "cmds/s", cmd_trial, 100000 },
};

int
main (int argc, char **argv)
{
  static const BenchSpec spec = {
    "bench-msgproc", "- the message-process layer's bench", 100, TRUE, FALSE,
    workloads, G_N_ELEMENTS (workloads)
  };

  return bench_main (argc, argv, &spec);
}
