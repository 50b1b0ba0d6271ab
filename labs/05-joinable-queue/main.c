/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 05, joinable queue: a daemon consumer process runs forever, printing
 * every item it takes from a JoinableQueue and marking it done; the producer
 * (the parent) puts 1, 2, 3, 4 and waits with join() until all four are done.
 * The C version of the JoinableQueue example in seeds/002_f16e3013f11b5d65.txt. */

#include <stdio.h>
#include <stdlib.h>
#include <mpkit.h>

/* The body of the consumer.  It never returns: it stops only when it is
 * killed, which happens when the main program exits, because it is a daemon. */
static int
consumer (gpointer user_data)
{
  MpkQueue *input_q = user_data;

  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = NULL;

      /* Blocks while the queue is empty (Python: item = input_q.get()). */
      item = mpk_queue_get (input_q, MPK_WAIT_FOREVER, &error);
      if (item == NULL)
        {
          g_printerr ("consumer: get failed: %s\n", error->message);
          return 1;
        }
      if (!g_variant_is_of_type (item, G_VARIANT_TYPE_INT32))
        {
          g_printerr ("consumer: expected an int32, got type %s\n",
                      g_variant_get_type_string (item));
          return 1;
        }

      /* "Process" the item: here, print it (replace with useful work). */
      printf ("%d\n", g_variant_get_int32 (item));

      /* Tell the queue this item is finished (Python: input_q.task_done()).
       * Only *after* the work: once the last task_done() is in, the
       * producer's join() returns and the program may end, killing us. */
      if (!mpk_queue_task_done (input_q, &error))
        {
          g_printerr ("consumer: task_done failed: %s\n", error->message);
          return 1;
        }
    }
}

/* The producer: put every item of SEQUENCE on OUTPUT_Q. */
static gboolean
producer (const int *sequence, guint n, MpkQueue *output_q)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    /* Every put adds one unfinished task to the queue's shared counter. */
    if (!mpk_queue_put (output_q, g_variant_new_int32 (sequence[i]),
                        MPK_WAIT_FOREVER, &error))
      {
        g_printerr ("producer: cannot put %d: %s\n", sequence[i], error->message);
        return FALSE;
      }
  return TRUE;
}

int
main (void)
{
  static const int sequence[] = { 1, 2, 3, 4 };
  g_autoptr(MpkQueue) q = NULL;
  g_autoptr(MpkProcess) cons_p = NULL;
  g_autoptr(GError) error = NULL;

  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  /* A Queue that also counts unfinished tasks
   * (Python: q = multiprocessing.JoinableQueue()).  0 = no size limit. */
  q = mpk_joinable_queue_new (0, &error);
  if (q == NULL)
    {
      g_printerr ("lab05: cannot create the queue: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* Launch the consumer as a daemon (Python: cons_p.daemon = True).  It
   * loops forever, so without this the program could never end: at exit
   * mpkit terminates daemonic children and waits for all the others. */
  cons_p = mpk_process_new ("consumer", consumer, q, NULL);
  mpk_process_set_daemon (cons_p, TRUE);
  if (!mpk_process_start (cons_p, &error))
    {
      g_printerr ("lab05: cannot start the consumer: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* Produce the items.  put() does not wait for the consumer: all four may
   * be in the queue before it has taken the first. */
  if (!producer (sequence, G_N_ELEMENTS (sequence), q))
    return EXIT_FAILURE;

  /* Wait until every item put has been marked done (Python: q.join()).
   * Without this, main would return now and the daemon would be killed
   * before it had printed everything. */
  if (!mpk_queue_join (q, MPK_WAIT_FOREVER, &error))
    {
      g_printerr ("lab05: join failed: %s\n", error->message);
      return EXIT_FAILURE;
    }
  printf ("Producer: all %u items processed\n", (guint) G_N_ELEMENTS (sequence));

  /* Returning runs the exit handlers: the daemon gets SIGTERM, wherever it
   * is (most likely blocked in get() waiting for a fifth item). */
  return EXIT_SUCCESS;
}
