/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 06, consumer pool: two daemon consumer processes take items from one
 * JoinableQueue; the producer (the parent) puts 1, 2, 3, 4 and join()s until
 * every item is done.  Which consumer gets which item is up to the scheduler.
 * The C version of the "pool of consumers" example in
 * seeds/002_f16e3013f11b5d65.txt. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

#define N_CONSUMERS 2

/* The body of each consumer: exactly lab 05's.  Both run this same loop on
 * the same queue; the queue's consumer lock lets only one of them take an
 * item at a time, so no item is ever taken twice. */
static int
consumer (gpointer user_data)
{
  MpkQueue *input_q = user_data;
  g_autoptr(GError) error = NULL;

  while (TRUE)
    {
      g_autoptr(GVariant) item = NULL;

      LAB_CHECK (item = mpk_queue_get (input_q, MPK_WAIT_FOREVER, &error));
      LAB_CHECK (g_variant_is_of_type (item, G_VARIANT_TYPE_INT32));

      /* Between get() returning and this printf the other consumer may
       * take the next item and print it first: see the handout. */
      printf ("%d\n", g_variant_get_int32 (item));

      LAB_CHECK (mpk_queue_task_done (input_q, &error));
    }
}

/* The producer: put every item of SEQUENCE on OUTPUT_Q. */
static void
producer (const int *sequence, guint n, MpkQueue *output_q)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    LAB_CHECK (mpk_queue_put (output_q, g_variant_new_int32 (sequence[i]),
                              MPK_WAIT_FOREVER, &error));
}

int
main (void)
{
  static const int sequence[] = { 1, 2, 3, 4 };
  g_autoptr(MpkQueue) q = NULL;
  g_autoptr(GPtrArray) cons_p = g_ptr_array_new_with_free_func (
    (GDestroyNotify) mpk_process_unref);
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  LAB_CHECK (q = mpk_joinable_queue_new (0, &error));

  /* Launch the pool: two daemons on the same queue (Python: cons_p1 and
   * cons_p2, both with target=consumer, args=(q,), daemon=True). */
  for (guint i = 0; i < N_CONSUMERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("consumer %u", i + 1);
      MpkProcess *p = mpk_process_new (name, consumer, q, NULL);

      g_ptr_array_add (cons_p, p);
      mpk_process_set_daemon (p, TRUE);
      LAB_CHECK (mpk_process_start (p, &error));
    }

  /* The producer does not care how many consumers there are: it puts the
   * items and waits until all of them are done, whoever did them. */
  producer (sequence, G_N_ELEMENTS (sequence), q);
  LAB_CHECK (mpk_queue_join (q, MPK_WAIT_FOREVER, &error));
  printf ("Producer: all %u items processed\n", (guint) G_N_ELEMENTS (sequence));

  /* Our references go; at exit mpkit terminates both daemons. */
  return EXIT_SUCCESS;
}
