/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 27, pool map: seed 002 ends its pipe example by saying that more
 * advanced programs should use a process pool. This is that pool, Python's
 * multiprocessing.Pool: two workers square six numbers with map(). Then
 * one task kills the worker that runs it (as the OOM killer or a segfault
 * would): Python's map() would wait for that result forever; here that one
 * task fails, the others finish, a new worker takes the dead one's place,
 * and the pool goes on working. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */
#include <signal.h>

/* The task, run in a worker: Python's `def square(x): return x * x`.
 * -1 stands for a task that crashes its process. */
static GVariant *
square (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  if (v < 0)
    raise (SIGKILL);   /* the worker dies here, in the middle of the map */
  return g_variant_new_int64 (v * v);
}

static void
print_results (GPtrArray *results)
{
  for (guint i = 0; i < results->len; i++)
    printf ("%s%" G_GINT64_FORMAT, i > 0 ? " " : "",
            g_variant_get_int64 (g_ptr_array_index (results, i)));
  printf ("\n");
}

int
main (void)
{
  g_autoptr(MpkPool) pool = NULL;
  g_autoptr(GPtrArray) squares = NULL;
  g_autoptr(MpkPoolResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *inputs[6];

  lab_init ();

  /* Python: with Pool(2) as pool: the two workers are forked now. */
  LAB_CHECK (pool = mpk_pool_new (2, NULL, NULL, 0, &error));

  /* Python: pool.apply(square, (7,)): one task, run by one worker. */
  {
    g_autoptr(GVariant) v = NULL;

    LAB_CHECK (v = mpk_pool_apply (pool, square, g_variant_new_int64 (7), MPK_WAIT_FOREVER,
                                   &error));
    printf ("apply: 7 squared is %" G_GINT64_FORMAT "\n", g_variant_get_int64 (v));
  }

  /* Python: pool.map(square, range(6), 3): two chunks of three inputs,
   * one per worker. (Chunk size 0 lets the pool choose, by Python's rule
   * of about four chunks per worker: here one task a chunk.) */
  for (gint64 i = 0; i < 6; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new_int64 (i));
  LAB_CHECK (squares = mpk_pool_map (pool, square, inputs, 6, 3, MPK_WAIT_FOREVER, &error));
  printf ("map: ");
  print_results (squares);

  /* Task 2 now kills its worker. With a chunk size of 1 the tasks go out
   * one by one, in turn: the worker that runs 0 and 2 also holds 4, queued
   * behind 2. map_async() gives each task's own outcome. */
  g_variant_unref (inputs[2]);
  inputs[2] = g_variant_ref_sink (g_variant_new_int64 (-1));
  LAB_CHECK (result = mpk_pool_map_async (pool, square, inputs, 6, 1, &error));
  LAB_CHECK (mpk_pool_result_wait (result, 30 * G_USEC_PER_SEC));
  for (gsize i = 0; i < 6; i++)
    {
      g_autoptr(GVariant) v = mpk_pool_result_get_item (result, i, &error);

      if (v != NULL)
        printf ("task %zu: %" G_GINT64_FORMAT "\n", i, g_variant_get_int64 (v));
      else if (g_error_matches (error, MPK_ERROR, MPK_ERROR_PEER_DIED))
        {
          /* The message names the worker's pid, which changes: not printed. */
          printf ("task %zu: failed, its worker died (PEER_DIED)\n", i);
          g_clear_error (&error);
        }
      else
        LAB_CHECK (v != NULL);
    }
  printf ("workers replaced: %u\n", mpk_pool_get_n_replaced (pool));

  /* The pool is whole again: two workers, and map works (its one chunk
   * goes to the first place, where the replacement now is). */
  g_clear_pointer (&squares, g_ptr_array_unref);
  LAB_CHECK (squares = mpk_pool_map (pool, square, inputs + 3, 3, 3, MPK_WAIT_FOREVER, &error));
  printf ("map again: ");
  print_results (squares);

  /* Python: leaving the with block; here close() then join(). */
  mpk_pool_close (pool);
  LAB_CHECK (mpk_pool_join (pool, MPK_WAIT_FOREVER, &error));
  for (guint i = 0; i < 6; i++)
    g_variant_unref (inputs[i]);
  return EXIT_SUCCESS;
}
