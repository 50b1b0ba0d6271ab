/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-util.h: the driver that bench-protocol, bench-messenger,
 * bench-msgproc and bench-pool share: a table of workloads, the options
 * bench/run.sh passes (--trials N --scale X --only K,K), the trials loop
 * and the lines run.sh reads. bench/bench_util.py is its Python twin.
 *
 * Header-only, every function static: the Makefile builds each .c in bench/
 * as a program of its own linked with the library alone, so a shared .c
 * would become one more program instead of being linked in.
 *
 * Output, on stdout, one line per workload; "#" lines are notes that
 * run.sh skips:
 *   key <TAB> unit <TAB> v1,v2,...   (one value per trial, %.6g)
 */
#ifndef MPK_BENCH_UTIL_H
#define MPK_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

typedef struct
{
  const char *key;                    /* what --only names and run.sh keys on */
  const char *unit;                   /* "us/rt", "msg/s", "ms", ... */
  double    (*trial) (gint64 count);  /* one trial of @count: its figure in @unit */
  gint64      count;                  /* per trial, before --scale */
} BenchWorkload;

typedef struct
{
  const char          *name;         /* "bench-pool": the header note, error messages */
  const char          *summary;      /* --help's line after the usage */
  gint64               min_count;    /* the least count a small --scale gives */
  gboolean             header;       /* first a note "# NAME trials=N scale=X" */
  gboolean             warm_up;      /* an untimed trial of count / 10 first */
  const BenchWorkload *workloads;
  guint                n_workloads;
} BenchSpec;

/* Set by bench_main(), for bench_die()'s messages. */
static const char *bench__name = "bench";

/* Benchmark code has no recovery path: any failure ends the run, with a
 * line on stderr that run.sh shows (it then marks the workload failed). */
static inline G_GNUC_NORETURN void
bench_die (const char *what, const GError *error)
{
  fprintf (stderr, "%s: %s: %s\n", bench__name, what, error != NULL ? error->message : "failed");
  exit (1);
}

/* One result line; flushed, as the trials that follow fork children that
 * would otherwise inherit (and print again) what is still buffered. */
static inline void
bench_emit (const char *key, const char *unit, const double *values, int n)
{
  printf ("%s\t%s\t", key, unit);
  for (int i = 0; i < n; i++)
    printf ("%s%.6g", i ? "," : "", values[i]);
  printf ("\n");
  fflush (stdout);
}

/* Parses the options, then runs each workload --only names (all without
 * it), in the table's order: a note with its count, the warm-up trial if
 * @spec asks for one, --trials timed trials, and their line. Exits the
 * program through bench_die() on bad options or a failed trial; returns
 * main()'s exit status. */
static inline int
bench_main (int argc, char **argv, const BenchSpec *spec)
{
  int trials = 5;
  double scale = 1.0;
  g_autofree char *only = NULL;
  GOptionEntry entries[] = {
    { "trials", 't', 0, G_OPTION_ARG_INT, &trials, "trials per workload (5)", "N" },
    { "scale", 's', 0, G_OPTION_ARG_DOUBLE, &scale, "multiply every count (1)", "F" },
    { "only", 'o', 0, G_OPTION_ARG_STRING, &only, "workloads, comma-separated", "K,K" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (spec->summary);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) keys = NULL;

  bench__name = spec->name;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    bench_die ("options", error);
  trials = MAX (trials, 1);
  if (only != NULL && *only != '\0')
    keys = g_strsplit (only, ",", -1);
  if (spec->header)
    printf ("# %s trials=%d scale=%g\n", spec->name, trials, scale);
  for (guint k = 0; k < spec->n_workloads; k++)
    {
      const BenchWorkload *w = &spec->workloads[k];
      gint64 count = MAX ((gint64) (w->count * scale), spec->min_count);
      g_autofree double *values = NULL;

      if (keys != NULL && !g_strv_contains ((const char *const *) keys, w->key))
        continue;
      printf ("# %s: %" G_GINT64_FORMAT " per trial\n", w->key, count);
      if (spec->warm_up)
        w->trial (MAX (count / 10, 1));   /* not reported */
      values = g_new (double, trials);
      for (int t = 0; t < trials; t++)
        values[t] = w->trial (count);
      bench_emit (w->key, w->unit, values, trials);
    }
  return 0;
}

#endif /* MPK_BENCH_UTIL_H */
