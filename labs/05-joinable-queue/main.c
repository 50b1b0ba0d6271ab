/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 05, joinable queue: a daemon consumer process runs forever, printing
 * every item it takes from a JoinableQueue and marking it done; the producer
 * (the parent) puts 1, 2, 3, 4 and waits with join() until all four are done.
 * The C version of the JoinableQueue example in seeds/002_f16e3013f11b5d65.txt. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

/* The body of the consumer.  It never returns: it stops only when it is
 * killed, which happens when the main program exits, because it is a daemon. */
static int
consumer (gpointer user_data)
{
  MpkQueue *input_q = user_data;
  g_autoptr(GError) error = NULL;

  while (TRUE)
    {
      g_autoptr(GVariant) item = NULL;

      /* Blocks while the queue is empty (Python: item = input_q.get()). */
      LAB_CHECK (item = mpk_queue_get (input_q, MPK_WAIT_FOREVER, &error));
      LAB_CHECK (g_variant_is_of_type (item, G_VARIANT_TYPE_INT32));

      /* "Process" the item: here, print it (replace with useful work). */
      printf ("%d\n", g_variant_get_int32 (item));

      /* Tell the queue this item is finished (Python: input_q.task_done()).
       * Only *after* the work: once the last task_done() is in, the
       * producer's join() returns and the program may end, killing us. */
      LAB_CHECK (mpk_queue_task_done (input_q, &error));
    }
}

/* The producer: put every item of SEQUENCE on OUTPUT_Q. */
static void
producer (const int *sequence, guint n, MpkQueue *output_q)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    /* Every put adds one unfinished task to the queue's shared counter. */
    LAB_CHECK (mpk_queue_put (output_q, g_variant_new_int32 (sequence[i]),
                              MPK_WAIT_FOREVER, &error));
}

int
main (void)
{
  static const int sequence[] = { 1, 2, 3, 4 };
  g_autoptr(MpkQueue) q = NULL;
  g_autoptr(MpkProcess) cons_p = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* A Queue that also counts unfinished tasks
   * (Python: q = multiprocessing.JoinableQueue()).  0 = no size limit. */
  LAB_CHECK (q = mpk_joinable_queue_new (0, &error));

  /* Launch the consumer as a daemon (Python: cons_p.daemon = True).  It
   * loops forever, so without this the program could never end: at exit
   * mpkit terminates daemonic children and waits for all the others. */
  cons_p = mpk_process_new ("consumer", consumer, q, NULL);
  mpk_process_set_daemon (cons_p, TRUE);
  LAB_CHECK (mpk_process_start (cons_p, &error));

  /* Produce the items.  put() does not wait for the consumer: all four may
   * be in the queue before it has taken the first. */
  producer (sequence, G_N_ELEMENTS (sequence), q);

  /* Wait until every item put has been marked done (Python: q.join()).
   * Without this, main would return now and the daemon would be killed
   * before it had printed everything. */
  LAB_CHECK (mpk_queue_join (q, MPK_WAIT_FOREVER, &error));
  printf ("Producer: all %u items processed\n", (guint) G_N_ELEMENTS (sequence));

  /* Returning runs the exit handlers: the daemon gets SIGTERM, wherever it
   * is (most likely blocked in get() waiting for a fifth item). */
  return EXIT_SUCCESS;
}
