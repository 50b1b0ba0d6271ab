/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-pool.c: MpkPool (issue 18) on the workloads of bench/bench_pool.py,
 * which runs them with Python's multiprocessing.Pool (fork). bench/run.sh
 * runs both and prints the ratios.
 *
 *   pool_map    map of a tiny task (x * x) over 100 000 ints, 2 workers,
 *               the default chunk size, pool already running, inputs
 *               already made (Python: a list of ints), after the pool
 *               started on both sides: inputs made before the fork share
 *               their pages with the workers, and the first write to each
 *               page copies it (GLib takes a lock bit in every GVariant it
 *               reads; Python writes refcounts): on the 2-CPU test VM
 *               that halved Python's rate and cut this one to a third;
 *               tasks/s
 *   pool_imap   imap_unordered of the same over 20 000 ints with chunk
 *               size 1: one message per task each way; tasks/s
 *   pool_start  start a pool of 4 workers, one apply, close, join; ms
 *
 * Output: "key<TAB>unit<TAB>v1,v2,..." per workload, "#" lines are notes. */
#include <mpkit.h>

#include <stdio.h>
#include <stdlib.h>

#include "bench-util.h"

#define TIMEOUT (120 * G_USEC_PER_SEC)

static GVariant *
sqr (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  return g_variant_new_int64 (v * v);
}

static MpkPool *
pool_new (guint n)
{
  g_autoptr(GError) error = NULL;
  MpkPool *pool = mpk_pool_new (n, NULL, NULL, 0, &error);

  if (pool == NULL)
    bench_die ("pool_new", error);
  return pool;
}

static void
pool_end (MpkPool *pool)
{
  g_autoptr(GError) error = NULL;

  mpk_pool_close (pool);
  if (!mpk_pool_join (pool, TIMEOUT, &error))
    bench_die ("join", error);
  mpk_pool_free (pool);
}

/* The ints 0..@count-1, made by the caller once its pool runs (see the
 * head comment: made before the fork, they would share pages with the
 * workers). */
static GVariant **
inputs_new (gint64 count)
{
  GVariant **inputs = g_new (GVariant *, count);

  for (gint64 i = 0; i < count; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new_int64 (i));
  return inputs;
}

static void
inputs_free (GVariant **inputs, gint64 count)
{
  for (gint64 i = 0; i < count; i++)
    g_variant_unref (inputs[i]);
  g_free (inputs);
}

static double
map_trial (gint64 count)
{
  MpkPool *pool = pool_new (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = NULL;
  GVariant **inputs;
  gint64 t0, t1;

  inputs = inputs_new (count);
  t0 = g_get_monotonic_time ();
  results = mpk_pool_map (pool, sqr, inputs, count, 0, TIMEOUT, &error);
  t1 = g_get_monotonic_time ();
  if (results == NULL || results->len != count
      || g_variant_get_int64 (g_ptr_array_index (results, count - 1)) != (count - 1) * (count - 1))
    bench_die ("map", error);
  inputs_free (inputs, count);
  pool_end (pool);
  return count / ((t1 - t0) / 1e6);
}

static double
imap_trial (gint64 count)
{
  MpkPool *pool = pool_new (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolIter) it = NULL;
  GVariant **inputs;
  GVariant *v;
  gint64 t0, t1, got = 0;

  inputs = inputs_new (count);
  t0 = g_get_monotonic_time ();
  it = mpk_pool_imap_unordered (pool, sqr, inputs, count, 1, &error);
  if (it == NULL)
    bench_die ("imap_unordered", error);
  while ((v = mpk_pool_iter_next (it, TIMEOUT, NULL, &error)) != NULL)
    {
      got++;
      g_variant_unref (v);
    }
  t1 = g_get_monotonic_time ();
  if (error != NULL || got != count)
    bench_die ("imap_unordered next", error);
  inputs_free (inputs, count);
  pool_end (pool);
  return count / ((t1 - t0) / 1e6);
}

/* One trial: @count starts, each of 4 workers, one apply, close and join;
 * ms per start. */
static double
start_trial (gint64 count)
{
  gint64 t0 = g_get_monotonic_time ();

  for (gint64 i = 0; i < count; i++)
    {
      MpkPool *pool = pool_new (4);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mpk_pool_apply (pool, sqr, g_variant_new_int64 (3), TIMEOUT,
                                              &error);

      if (v == NULL)
        bench_die ("apply", error);
      pool_end (pool);
    }
  return (g_get_monotonic_time () - t0) / 1e3 / count;
}

static const BenchWorkload workloads[] = {
  { "pool_map",   "tasks/s", map_trial,   100000 },
  { "pool_imap",  "tasks/s", imap_trial,  20000 },
  { "pool_start", "ms",      start_trial, 20 },
};

int
main (int argc, char **argv)
{
  static const BenchSpec spec = {
    "bench-pool", "- the pool's bench", 1, TRUE, FALSE,
    workloads, G_N_ELEMENTS (workloads)
  };

  return bench_main (argc, argv, &spec);
}
