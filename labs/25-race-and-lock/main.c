/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 25, race and lock: N processes each add 1 to one shared Value K times,
 * three ways: a get then a set (updates are lost), the same under the value's
 * lock (exact), and mpk_value_add() (exact, in one call).  Python's
 * `v.value += 1` versus `with v.get_lock(): v.value += 1`.  This file has the
 * adders' body and main(); rounds.c runs one round of adders. */

#include "rounds.h"   /* Method, AdderArgs, run_adders (rounds.c); "../lab.h" */

static const char *const method_names[] =
  { "unlocked get + set", "get + set under the lock", "mpk_value_add" };

/* The body of every adder process (started by run_adders, rounds.c). */
int
adder (gpointer user_data)
{
  const AdderArgs *args = user_data;
  MpkLock *lock = mpk_value_get_lock (args->counter);
  g_autoptr(GError) error = NULL;

  /* Start together, so that the adders really run at the same time. */
  mpk_event_wait (args->go, MPK_WAIT_FOREVER);

  for (int i = 0; i < args->k && args->method == ADD; i++)
    mpk_value_add (args->counter, 1);   /* the whole += in one call */
  for (int i = 0; i < args->k && args->method != ADD; i++)
    {
      gint64 old;

      /* Python: with v.get_lock() (recursive: get and set take it again). */
      if (args->method == UNDER_THE_LOCK)
        LAB_CHECK (mpk_lock_acquire (lock, MPK_WAIT_FOREVER, &error));
      /* Python: v.value += 1, a get then a set.  Unless we hold the lock, an
       * adder's set can come between them, and ours overwrites it. */
      old = mpk_value_get_int (args->counter);
      if (mpk_trace_is_enabled ())      /* traced: widen the gap, 1 ms */
        g_usleep (1000);
      LAB_CHECK (mpk_value_set_int (args->counter, old + 1, &error));
      if (args->method == UNDER_THE_LOCK)
        LAB_CHECK (mpk_lock_release (lock, &error));
      else                              /* a note in the diagram only */
        mpk_trace_mark ("read %" G_GINT64_FORMAT ", wrote %" G_GINT64_FORMAT, old, old + 1);
    }
  return 0;
}

int
main (void)
{
  g_autoptr(MpkEvent) go = NULL;
  g_autoptr(GError) error = NULL;
  /* Traced, a small run for a readable diagram (see the handout). */
  int n = mpk_trace_is_enabled () ? 2 : 4;
  int k = mpk_trace_is_enabled () ? 1 : 100000;
  gint64 total;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  LAB_CHECK (go = mpk_event_new (&error));   /* Python: Event() */

  printf ("%d processes x %d increments = %d\n", n, k, n * k);

  /* 1. The race.  Its total varies, so it goes to stderr (not graded). */
  total = run_adders (go, GET_THEN_SET, n, k);
  printf ("%s: total on stderr (it varies)\n", method_names[GET_THEN_SET]);
  g_printerr ("%s: %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " updates lost)\n",
              method_names[GET_THEN_SET], total, (gint64) n * k - total);

  /* 2. and 3. No update is lost: the totals are exact. */
  for (Method m = UNDER_THE_LOCK; m <= ADD; m++)
    {
      total = run_adders (go, m, n, k);
      printf ("%s: %" G_GINT64_FORMAT "\n", method_names[m], total);
      mpk_trace_mark ("%s: %" G_GINT64_FORMAT, method_names[m], total);
    }
  return EXIT_SUCCESS;
}
