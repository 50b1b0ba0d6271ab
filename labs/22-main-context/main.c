/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 22, main context: a main program starts its message processes, then
 * a thread, multiplexes the processes' pipes in one main loop, and closes
 * everything in order when a signal comes.  valkka's MainContext
 * (seeds/003_0b6f8d8a7a71e7b5.txt) and its tutorial's main1.py, which the
 * research ran (../shared/research/anchor-layers.md §3.4). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */
#include <signal.h>
#include "worker.h"  /* worker_new (): the backends (worker.c) */

#define TIMEOUT (10 * G_USEC_PER_SEC)

static MpkMessageProcess *workers[2];
static int answers;

/* --- the main program ----------------------------------------------------------- */

/* Runs in the main loop: a frontend is used from one thread only. */
static gboolean
send_job (gpointer user_data)
{
  gint32 n = GPOINTER_TO_INT (user_data);
  g_autoptr(GError) error = NULL;

  LAB_CHECK (mpk_message_process_send (workers[(n - 1) % 2], mpk_command_new_with ("job",
                                       "n", g_variant_new_int32 (n), NULL), TIMEOUT, &error));
  return G_SOURCE_REMOVE;
}

/* startThreads: a thread that makes four jobs and hands each to the loop. */
static void
feeder (MpkProgram *program, GCancellable *cancellable, gpointer user_data)
{
  for (gint32 n = 1; n <= 4; n++)
    g_main_context_invoke (mpk_program_get_main_context (program), send_job,
                           GINT_TO_POINTER (n));
}

/* Everything the processes send comes here, from one loop over all pipes. */
static void
on_message (MpkProgram *program, MpkMessageProcess *mp, MpkCommand *message,
            const GError *failure, gpointer user_data)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  LAB_CHECK (message != NULL);
  value = mpk_command_lookup (message, "value", G_VARIANT_TYPE_INT32);
  printf ("main: %s says %d\n", mpk_message_process_get_name (mp), g_variant_get_int32 (value));
  if (++answers == 4)
    {
      /* What Ctrl-C would do; the backends ignore SIGINT, the loop takes it. */
      printf ("main: all four answers in, sending myself SIGINT\n");
      mpk_trace_mark ("SIGINT to myself");
      kill (getpid (), SIGINT);
    }
}

int
main (void)
{
  g_autoptr(MpkProgram) program = mpk_program_new ("MyMainContext");
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  for (int i = 0; i < 2; i++)
    {
      LAB_CHECK (workers[i] = worker_new (i + 1, &error));
      mpk_program_add_process (program, workers[i]);            /* startProcesses */
    }
  mpk_program_add_thread (program, "feeder", feeder, NULL);    /* startThreads */
  mpk_program_set_message_func (program, on_message, NULL);

  printf ("main: starting worker 1, worker 2, then thread feeder\n");
  LAB_CHECK (mpk_program_run (program, &error));     /* start, loop, close */
  printf ("main: closed after %s; goodbyes: worker 1 %s, worker 2 %s\n",
          mpk_program_get_signal (program) == SIGINT ? "SIGINT" : "no signal",
          mpk_message_process_said_goodbye (workers[0]) ? "yes" : "no",
          mpk_message_process_said_goodbye (workers[1]) ? "yes" : "no");
  for (int i = 0; i < 2; i++)
    mpk_message_process_unref (workers[i]);
  return EXIT_SUCCESS;
}
