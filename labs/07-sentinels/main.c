/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 07, sentinels: consumers stop when they take a special "no more work"
 * item from the queue.  First one consumer and one sentinel, then three
 * consumers, which need three sentinels.  The C version of the sentinel
 * example (and the warning after it) in seeds/002_f16e3013f11b5d65.txt.
 * Run with --one-sentinel to see what one sentinel for three consumers does. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mpkit.h>

/* Python's None.  Items are int32 ("i"); the sentinel is a *maybe* int32
 * ("mi") holding nothing: GVariant's own way to say "no value" (the tracer
 * even shows it as None).  No real item can be mistaken for it. */
static GVariant *
sentinel_new (void)
{
  return g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL);
}

/* Python: `if item is None`. */
static gboolean
is_sentinel (GVariant *item)
{
  return g_variant_is_of_type (item, G_VARIANT_TYPE ("mi"))
         && g_variant_n_children (item) == 0;
}

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
  const char *me = mpk_current_process_get_name ();

  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = mpk_queue_get (args->q, args->timeout_us, &error);

      if (item == NULL)
        {
          if (g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY))
            g_printerr ("%s: no sentinel after 2 s: it went to another consumer\n", me);
          else
            g_printerr ("%s: get failed: %s\n", me, error->message);
          return 1;
        }
      if (is_sentinel (item))
        break;              /* no more work: shut down, and take nothing more */
      if (!g_variant_is_of_type (item, G_VARIANT_TYPE_INT32))
        {
          g_printerr ("%s: unexpected item of type %s\n", me,
                      g_variant_get_type_string (item));
          return 1;
        }
      if (args->print_items)
        printf ("%d\n", g_variant_get_int32 (item));   /* "process" the item */
    }
  printf ("%s done\n", me);
  return 0;
}

/* The items, Python's `sequence`. */
static const int sequence[] = { 1, 2, 3, 4 };

/* Starts N consumers, puts the items and then N_SENTINELS sentinels on the
 * queue, and joins the consumers.  TRUE if all of them exited with 0. */
static gboolean
run_part (guint n, guint n_sentinels, ConsumerArgs *args)
{
  MpkProcess *procs[3] = { NULL };
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = n == 1 ? g_strdup ("Consumer")
                                     : g_strdup_printf ("Consumer %u", i + 1);
      procs[i] = mpk_process_new (name, consumer, args, NULL);
      if (!mpk_process_start (procs[i], &error))
        {
          n = i;                 /* only these are running */
          goto failed;
        }
    }

  /* The producer: the items, then one sentinel per consumer
   * (Python: for item in sequence: q.put(item), then q.put(None)). */
  for (guint i = 0; i < G_N_ELEMENTS (sequence) + n_sentinels; i++)
    if (!mpk_queue_put (args->q, i < G_N_ELEMENTS (sequence)
                                 ? g_variant_new_int32 (sequence[i]) : sentinel_new (),
                        MPK_WAIT_FOREVER, &error))
      goto failed;

  /* Wait for the consumers to shut down (Python: cons_p.join()). */
  for (guint i = 0; i < n; i++)
    {
      mpk_process_join (procs[i], MPK_WAIT_FOREVER);
      if (mpk_process_get_exitcode (procs[i]) != 0)
        {
          g_printerr ("lab07: %s failed with exit code %d\n",
                      mpk_process_get_name (procs[i]), mpk_process_get_exitcode (procs[i]));
          ok = FALSE;
        }
      mpk_process_unref (procs[i]);
    }
  return ok;

failed:
  g_printerr ("lab07: %s\n", error->message);
  for (guint i = 0; i < n; i++)
    mpk_process_kill (procs[i], NULL);   /* or they would wait forever */
  return FALSE;
}

int
main (int argc, char **argv)
{
  gboolean one_sentinel = argc > 1 && strcmp (argv[1], "--one-sentinel") == 0;
  g_autoptr(MpkQueue) q = NULL;
  g_autoptr(GError) error = NULL;
  ConsumerArgs args;

  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  /* A plain Queue: no task_done()/join() needed, the sentinel says "stop". */
  q = mpk_queue_new (0, &error);
  if (q == NULL)
    {
      g_printerr ("lab07: cannot create the queue: %s\n", error->message);
      return EXIT_FAILURE;
    }
  args.q = q;

  /* Part 1, the seed's example: one consumer, one sentinel. */
  printf ("One consumer, one sentinel:\n");
  args.print_items = TRUE;
  args.timeout_us = MPK_WAIT_FOREVER;
  if (!run_part (1, 1, &args))
    return EXIT_FAILURE;

  /* Part 2, the seed's warning: three consumers need three sentinels.  Each
   * consumer takes exactly one sentinel, because it stops taking items as
   * soon as it has one.  (Started after part 1 has been joined, so they get
   * a copy of ARGS with print_items FALSE.) */
  printf ("Three consumers, %s:\n", one_sentinel ? "ONE sentinel" : "three sentinels");
  args.print_items = FALSE;
  args.timeout_us = one_sentinel ? 2 * G_USEC_PER_SEC : MPK_WAIT_FOREVER;
  if (!run_part (3, one_sentinel ? 1 : 3, &args))
    return EXIT_FAILURE;

  printf ("All consumers done, items left in the queue: %" G_GINT64_FORMAT "\n",
          mpk_queue_qsize (q));
  return EXIT_SUCCESS;
}
