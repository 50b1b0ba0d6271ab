/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 24, crash recovery: worker 1 of three is SIGKILLed while it waits in
 * get() on the empty queue, holding the queue's consumer lock.  The lock is a
 * robust mutex, so workers 2 and 3 carry on and every item is processed once;
 * Python's Queue would hang here (see the handout).  This file has the main
 * program; worker.c the workers. */

#include "worker.h"   /* worker (), WorkerArgs (worker.c); "../lab.h" */

#define N_WORKERS 3
#define N_ITEMS   6

int
main (void)
{
  g_autoptr(MpkQueue) work = NULL;
  g_autoptr(MpkQueue) results = NULL;
  g_autoptr(MpkEvent) started = NULL;
  g_autoptr(GError) error = NULL;
  WorkerArgs args[N_WORKERS];
  MpkProcess *workers[N_WORKERS];
  int times_seen[N_ITEMS + 1] = { 0 };
  g_autoptr(GString) seen = g_string_new (NULL);
  int n_once = 0;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* Every shared object before the first fork. */
  LAB_CHECK (work = mpk_queue_new (0, &error));
  LAB_CHECK (results = mpk_queue_new (0, &error));
  LAB_CHECK (started = mpk_event_new (&error));
  for (int i = 0; i < N_WORKERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("worker %d", i + 1);
      args[i] = (WorkerArgs) { work, results, i == 0 ? started : NULL, i + 1 };
      workers[i] = mpk_process_new (name, worker, &args[i], NULL);
      mpk_process_set_daemon (workers[i], TRUE);
    }

  /* 1. Worker 1 alone: it takes the consumer lock and waits for an item. */
  LAB_CHECK (mpk_process_start (workers[0], &error));
  mpk_event_wait (started, MPK_WAIT_FOREVER);
  /* After its event, worker 1 can only fall asleep in get(), lock held. */
  LAB_CHECK (lab_wait_until_asleep (workers[0]));
  printf ("worker 1 is waiting in get() on the empty queue, holding its consumer lock\n");

  /* 2. Workers 2 and 3 start, and line up behind worker 1 for that lock. */
  for (int i = 1; i < N_WORKERS; i++)
    LAB_CHECK (mpk_process_start (workers[i], &error));

  /* 3. Kill worker 1, lock held: SIGKILL runs no clean-up code at all. */
  LAB_CHECK (mpk_process_kill (workers[0], &error));
  mpk_process_join (workers[0], MPK_WAIT_FOREVER);
  printf ("killed worker 1: exit code %d\n", mpk_process_get_exitcode (workers[0]));

  /* 4. The work: the items, then one sentinel per surviving worker. */
  for (int i = 1; i <= N_ITEMS; i++)
    LAB_CHECK (mpk_queue_put (work, g_variant_new_int32 (i), MPK_WAIT_FOREVER, &error));
  for (int i = 1; i < N_WORKERS; i++)
    LAB_CHECK (mpk_queue_put (work, lab_sentinel_new (), MPK_WAIT_FOREVER, &error));
  printf ("put %d items and %d sentinels\n", N_ITEMS, N_WORKERS - 1);
  for (int i = 1; i < N_WORKERS; i++)
    {
      mpk_process_join (workers[i], MPK_WAIT_FOREVER);
      printf ("worker %d exited with code %d\n", i + 1, mpk_process_get_exitcode (workers[i]));
    }

  /* 5. Every item exactly once?  Count per item, in item order. */
  while (!mpk_queue_empty (results))
    {
      g_autoptr(GVariant) r = NULL;
      gint32 item;

      LAB_CHECK (r = mpk_queue_get (results, MPK_NO_WAIT, &error));
      g_variant_get (r, "(ii)", NULL, &item);     /* who did it varies: skip it */
      times_seen[CLAMP (item, 0, N_ITEMS)]++;     /* [0]: not one of our items */
    }
  for (int i = 1; i <= N_ITEMS; i++)
    {
      for (int k = 0; k < times_seen[i]; k++)     /* a lost item is missing, */
        g_string_append_printf (seen, " %d", i);  /* a doubled one shows twice */
      n_once += times_seen[i] == 1;
    }
  printf ("items processed:%s\n", seen->str);
  printf ("processed exactly once: %d of %d\n", n_once, N_ITEMS);
  printf ("queue repairs after a dead lock holder: %u\n", mpk_queue_get_n_recoveries (work));

  for (int i = 0; i < N_WORKERS; i++)
    mpk_process_unref (workers[i]);
  return n_once == N_ITEMS ? EXIT_SUCCESS : EXIT_FAILURE;
}
