/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 06, consumer pool: two daemon consumer processes take items from one
 * JoinableQueue; the producer (the parent) puts 1, 2, 3, 4 and join()s until
 * every item is done.  Which consumer gets which item is up to the scheduler.
 * The C version of the "pool of consumers" example in
 * seeds/002_f16e3013f11b5d65.txt. */

#include <stdio.h>
#include <stdlib.h>
#include <mpkit.h>

#define N_CONSUMERS 2

/* The body of each consumer: exactly lab 05's.  Both run this same loop on
 * the same queue; the queue's consumer lock lets only one of them take an
 * item at a time, so no item is ever taken twice. */
static int
consumer (gpointer user_data)
{
  MpkQueue *input_q = user_data;

  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = NULL;

      item = mpk_queue_get (input_q, MPK_WAIT_FOREVER, &error);
      if (item == NULL)
        {
          g_printerr ("%s: get failed: %s\n",
                      mpk_current_process_get_name (), error->message);
          return 1;
        }
      if (!g_variant_is_of_type (item, G_VARIANT_TYPE_INT32))
        {
          g_printerr ("%s: expected an int32, got type %s\n",
                      mpk_current_process_get_name (),
                      g_variant_get_type_string (item));
          return 1;
        }

      /* Between get() returning and this printf the other consumer may
       * take the next item and print it first: see the handout. */
      printf ("%d\n", g_variant_get_int32 (item));

      if (!mpk_queue_task_done (input_q, &error))
        {
          g_printerr ("%s: task_done failed: %s\n",
                      mpk_current_process_get_name (), error->message);
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
  MpkProcess *cons_p[N_CONSUMERS] = { NULL };
  g_autoptr(GError) error = NULL;
  int status = EXIT_SUCCESS;

  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  q = mpk_joinable_queue_new (0, &error);
  if (q == NULL)
    {
      g_printerr ("lab06: cannot create the queue: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* Launch the pool: two daemons on the same queue (Python: cons_p1 and
   * cons_p2, both with target=consumer, args=(q,), daemon=True). */
  for (guint i = 0; i < N_CONSUMERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("consumer %u", i + 1);

      cons_p[i] = mpk_process_new (name, consumer, q, NULL);
      mpk_process_set_daemon (cons_p[i], TRUE);
      if (!mpk_process_start (cons_p[i], &error))
        {
          g_printerr ("lab06: cannot start %s: %s\n", name, error->message);
          status = EXIT_FAILURE;
          goto out;
        }
    }

  /* The producer does not care how many consumers there are: it puts the
   * items and waits until all of them are done, whoever did them. */
  if (!producer (sequence, G_N_ELEMENTS (sequence), q)
      || !mpk_queue_join (q, MPK_WAIT_FOREVER, &error))
    {
      if (error != NULL)
        g_printerr ("lab06: join failed: %s\n", error->message);
      status = EXIT_FAILURE;
      goto out;
    }
  printf ("Producer: all %u items processed\n", (guint) G_N_ELEMENTS (sequence));

out:
  /* Our references go; at exit mpkit terminates both daemons. */
  for (guint i = 0; i < N_CONSUMERS; i++)
    g_clear_pointer (&cons_p[i], mpk_process_unref);
  return status;
}
