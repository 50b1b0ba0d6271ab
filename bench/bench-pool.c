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

static int    opt_trials = 5;
static double opt_scale = 1.0;
static char  *opt_only = NULL;

#define TIMEOUT (120 * G_USEC_PER_SEC)

static void
emit (const char *key, const char *unit, const double *values, int n)
{
  printf ("%s\t%s\t", key, unit);
  for (int i = 0; i < n; i++)
    printf ("%s%.6g", i ? "," : "", values[i]);
  printf ("\n");
  fflush (stdout);
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "bench-pool: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

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
    die ("pool_new", error);
  return pool;
}

static void
pool_end (MpkPool *pool)
{
  g_autoptr(GError) error = NULL;

  mpk_pool_close (pool);
  if (!mpk_pool_join (pool, TIMEOUT, &error))
    die ("join", error);
  mpk_pool_free (pool);
}

static double
map_trial (gint64 count)
{
  MpkPool *pool = pool_new (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = NULL;
  GVariant **inputs;
  gint64 t0, t1;

  inputs = g_new (GVariant *, count);
  for (gint64 i = 0; i < count; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new_int64 (i));
  t0 = g_get_monotonic_time ();
  results = mpk_pool_map (pool, sqr, inputs, count, 0, TIMEOUT, &error);
  t1 = g_get_monotonic_time ();
  if (results == NULL || results->len != count
      || g_variant_get_int64 (g_ptr_array_index (results, count - 1)) != (count - 1) * (count - 1))
    die ("map", error);
  for (gint64 i = 0; i < count; i++)
    g_variant_unref (inputs[i]);
  g_free (inputs);
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

  inputs = g_new (GVariant *, count);
  for (gint64 i = 0; i < count; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new_int64 (i));
  t0 = g_get_monotonic_time ();
  it = mpk_pool_imap_unordered (pool, sqr, inputs, count, 1, &error);
  if (it == NULL)
    die ("imap_unordered", error);
  while ((v = mpk_pool_iter_next (it, TIMEOUT, NULL, &error)) != NULL)
    {
      got++;
      g_variant_unref (v);
    }
  t1 = g_get_monotonic_time ();
  if (error != NULL || got != count)
    die ("imap_unordered next", error);
  for (gint64 i = 0; i < count; i++)
    g_variant_unref (inputs[i]);
  g_free (inputs);
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
        die ("apply", error);
      pool_end (pool);
    }
  return (g_get_monotonic_time () - t0) / 1e3 / count;
}

typedef struct
{
  const char *key;
  const char *unit;
  double    (*trial) (gint64 count);
  gint64      count;
} Workload;

static const Workload workloads[] = {
  { "pool_map",   "tasks/s", map_trial,   100000 },
  { "pool_imap",  "tasks/s", imap_trial,  20000 },
  { "pool_start", "ms",      start_trial, 20 },
};

static gboolean
selected (const char *key)
{
  g_auto(GStrv) keys = NULL;

  if (opt_only == NULL || *opt_only == '\0')
    return TRUE;
  keys = g_strsplit (opt_only, ",", -1);
  return g_strv_contains ((const char *const *) keys, key);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "trials", 0, 0, G_OPTION_ARG_INT, &opt_trials, "trials per workload (5)", "N" },
    { "scale", 0, 0, G_OPTION_ARG_DOUBLE, &opt_scale, "multiply every count (1)", "F" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only, "workloads, comma-separated", "K,K" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the pool's bench");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    die ("options", error);
  printf ("# bench-pool trials=%d scale=%g\n", opt_trials, opt_scale);
  for (guint k = 0; k < G_N_ELEMENTS (workloads); k++)
    {
      const Workload *w = &workloads[k];
      gint64 count = MAX ((gint64) (w->count * opt_scale), 1);
      double values[64];
      int n = MIN (opt_trials, 64);

      if (!selected (w->key))
        continue;
      printf ("# %s: %" G_GINT64_FORMAT " per trial\n", w->key, count);
      for (int t = 0; t < n; t++)
        values[t] = w->trial (count);
      emit (w->key, w->unit, values, n);
    }
  g_free (opt_only);
  return 0;
}
