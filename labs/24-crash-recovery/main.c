/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 24, crash recovery: three workers consume from one Queue.  Worker 1 is
 * killed with SIGKILL while it waits inside get() on the empty queue, holding
 * the queue's consumer lock.  Workers 2 and 3 carry on, and every item is
 * processed exactly once.  Python's multiprocessing.Queue would hang here
 * (see the handout): mpkit's queue locks are robust mutexes. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mpkit.h>

#define N_WORKERS 3
#define N_ITEMS   6

typedef struct
{
  MpkQueue *work;      /* the items, then one sentinel per surviving worker */
  MpkQueue *results;   /* "(ii)": (worker number, item) for each item processed */
  MpkEvent *started;   /* worker 1 only: set just before its first get() */
  int       number;
} WorkerArgs;

/* The body of every worker: process items until the sentinel (the empty
 * maybe, as in lab 07); "processing" an item means reporting it. */
static int
worker (gpointer user_data)
{
  WorkerArgs *args = user_data;
  g_autoptr(GError) error = NULL;

  if (args->started != NULL)
    mpk_event_set (args->started);     /* "I am about to call get()" */
  while (TRUE)
    {
      g_autoptr(GVariant) item = mpk_queue_get (args->work, MPK_WAIT_FOREVER, &error);

      if (item != NULL && !g_variant_is_of_type (item, G_VARIANT_TYPE_INT32))
        return 0;                       /* the sentinel: no more work */
      if (item == NULL
          || !mpk_queue_put (args->results, g_variant_new ("(ii)", args->number,
                                                           g_variant_get_int32 (item)),
                             MPK_WAIT_FOREVER, &error))
        {
          g_printerr ("worker %d: %s\n", args->number, error->message);
          return 1;
        }
    }
}

/* Ends the program on an unexpected error.  exit() terminates the workers:
 * they are daemons, so none is left waiting for work that never comes. */
G_GNUC_NORETURN static void
die (const char *what, GError *error)
{
  g_printerr ("lab24: %s%s%s\n", what, error ? ": " : "", error ? error->message : "");
  exit (EXIT_FAILURE);
}

/* Waits until the kernel reports PID asleep: state S in /proc/PID/stat, the
 * field after "(name)".  Once worker 1 has set its event, the only place it
 * can fall asleep is inside get(), waiting for an item with the consumer
 * lock held.  (Linux-specific; a real program would not need to know.) */
static gboolean
wait_until_asleep (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);

  for (int tries = 0; tries < 10000; tries++)      /* at most about 10 s */
    {
      g_autofree char *stat = NULL;
      const char *paren;

      if (g_file_get_contents (path, &stat, NULL, NULL)
          && (paren = strrchr (stat, ')')) != NULL && strncmp (paren, ") S", 3) == 0)
        return TRUE;
      g_usleep (1000);
    }
  return FALSE;
}

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

  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  /* Every shared object before the first fork. */
  if (!(work = mpk_queue_new (0, &error)) || !(results = mpk_queue_new (0, &error))
      || !(started = mpk_event_new (&error)))
    die ("cannot create the queues", error);
  for (int i = 0; i < N_WORKERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("worker %d", i + 1);
      args[i] = (WorkerArgs) { work, results, i == 0 ? started : NULL, i + 1 };
      workers[i] = mpk_process_new (name, worker, &args[i], NULL);
      mpk_process_set_daemon (workers[i], TRUE);
    }

  /* 1. Worker 1 alone: it takes the consumer lock and waits for an item. */
  if (!mpk_process_start (workers[0], &error))
    die ("cannot start worker 1", error);
  mpk_event_wait (started, MPK_WAIT_FOREVER);
  if (!wait_until_asleep (mpk_process_get_pid (workers[0])))
    die ("worker 1 never went to sleep in get()", NULL);
  printf ("worker 1 is waiting in get() on the empty queue, holding its consumer lock\n");

  /* 2. Workers 2 and 3 start, and line up behind worker 1 for that lock. */
  for (int i = 1; i < N_WORKERS; i++)
    if (!mpk_process_start (workers[i], &error))
      die ("cannot start a worker", error);

  /* 3. Kill worker 1, lock held: SIGKILL runs no clean-up code at all. */
  mpk_process_kill (workers[0], NULL);
  mpk_process_join (workers[0], MPK_WAIT_FOREVER);
  printf ("killed worker 1: exit code %d\n", mpk_process_get_exitcode (workers[0]));

  /* 4. The work: the items, then one sentinel per surviving worker. */
  for (int i = 1; i <= N_ITEMS + N_WORKERS - 1; i++)
    if (!mpk_queue_put (work, i <= N_ITEMS ? g_variant_new_int32 (i)
                                           : g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL),
                        MPK_WAIT_FOREVER, &error))
      die ("put failed", error);
  printf ("put %d items and %d sentinels\n", N_ITEMS, N_WORKERS - 1);
  for (int i = 1; i < N_WORKERS; i++)
    {
      mpk_process_join (workers[i], MPK_WAIT_FOREVER);
      printf ("worker %d exited with code %d\n", i + 1, mpk_process_get_exitcode (workers[i]));
    }

  /* 5. Every item exactly once?  Which worker did which does not matter
   * (and changes from run to run), so count per item, in item order. */
  while (!mpk_queue_empty (results))
    {
      g_autoptr(GVariant) r = mpk_queue_get (results, MPK_NO_WAIT, &error);
      gint32 item;

      if (r == NULL)
        die ("get failed", error);
      g_variant_get (r, "(ii)", NULL, &item);     /* who did it varies: skip it */
      if (item >= 1 && item <= N_ITEMS)
        times_seen[item]++;
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
