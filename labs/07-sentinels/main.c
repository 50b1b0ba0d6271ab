/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 07, sentinels: consumers stop when they take a special "no more work"
 * item from the queue.  First one consumer and one sentinel, then three
 * consumers, which need three sentinels.  The C version of the sentinel
 * example (and the warning after it) in seeds/002_f16e3013f11b5d65.txt.
 * Run with --one-sentinel to see what one sentinel for three consumers does. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start_many, lab_join_all, sentinels */

typedef struct
{
  MpkQueue *q;
  gboolean  print_items;   /* part 1 prints every item, part 2 does not */
  gint64    timeout_us;    /* MPK_WAIT_FOREVER, or 2 s with --one-sentinel */
} ConsumerArgs;

/* The body of every consumer: take items until the sentinel comes. */
static int
consumer (gpointer user_data)
{
  ConsumerArgs *args = user_data;
  g_autoptr(GError) error = NULL;

  while (TRUE)
    {
      g_autoptr(GVariant) item = mpk_queue_get (args->q, args->timeout_us, &error);

      if (item == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY))
        {
          g_printerr ("%s: no sentinel after 2 s: it went to another consumer\n",
                      mpk_current_process_get_name ());
          return 1;
        }
      LAB_CHECK (item != NULL);
      /* Python: `if item is None`.  Items are "i"; the sentinel is an empty
       * "mi", which no real item can be mistaken for (the handout says why). */
      if (lab_is_sentinel (item))
        break;              /* no more work: shut down, and take nothing more */
      LAB_CHECK (g_variant_is_of_type (item, G_VARIANT_TYPE_INT32));
      if (args->print_items)
        printf ("%d\n", g_variant_get_int32 (item));   /* "process" the item */
    }
  printf ("%s done\n", mpk_current_process_get_name ());
  return 0;
}

static const int sequence[] = { 1, 2, 3, 4 };   /* the items, Python's `sequence` */

/* Starts N consumers, puts the items and N_SENTINELS sentinels, joins them. */
static void
run_part (ConsumerArgs args, guint n, guint n_sentinels)
{
  g_autoptr(GPtrArray) procs = NULL;
  g_autoptr(GError) error = NULL;

  /* "Consumer", or "Consumer 1" to "Consumer N".  Each gets its own copy of
   * ARGS, made by fork() at start. */
  procs = lab_start_many ("Consumer", n, consumer, &args);

  /* Python: for item in sequence: q.put(item), then q.put(None) for each. */
  for (guint i = 0; i < G_N_ELEMENTS (sequence); i++)
    LAB_CHECK (mpk_queue_put (args.q, g_variant_new_int32 (sequence[i]),
                              MPK_WAIT_FOREVER, &error));
  for (guint i = 0; i < n_sentinels; i++)
    LAB_CHECK (mpk_queue_put (args.q, lab_sentinel_new (), MPK_WAIT_FOREVER, &error));

  lab_join_all (procs);   /* Python: cons_p.join(), for each consumer */
}

int
main (int argc, char **argv)
{
  gboolean one_sentinel = argc > 1 && strcmp (argv[1], "--one-sentinel") == 0;
  g_autoptr(MpkQueue) q = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* A plain Queue: no task_done()/join() needed, the sentinel says "stop". */
  LAB_CHECK (q = mpk_queue_new (0, &error));

  /* Part 1, the seed's example: one consumer, one sentinel. */
  printf ("One consumer, one sentinel:\n");
  run_part ((ConsumerArgs) { q, TRUE, MPK_WAIT_FOREVER }, 1, 1);

  /* Part 2, the seed's warning: one sentinel stops one consumer. */
  printf ("Three consumers, %s:\n", one_sentinel ? "ONE sentinel" : "three sentinels");
  run_part ((ConsumerArgs) { q, FALSE, one_sentinel ? 2 * G_USEC_PER_SEC : MPK_WAIT_FOREVER },
            3, one_sentinel ? 1 : 3);

  printf ("All consumers done, items left in the queue: %" G_GINT64_FORMAT "\n",
          mpk_queue_qsize (q));
  return EXIT_SUCCESS;
}
