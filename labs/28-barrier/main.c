/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 28, barrier: three workers go through three rounds, and none starts
 * a round before all have finished the one before: they meet at a Barrier
 * (Python's multiprocessing.Barrier(3, action)). The barrier's action,
 * run by the last to arrive, announces each meeting. Then the same meeting
 * once more, built by hand from a Condition (Python's Condition): a count
 * of arrivals under the condition's lock, and wait_for() until it is 3. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init, lab_start_many */

#define WORKERS 3
#define ROUNDS  3

typedef struct
{
  MpkBarrier   *barrier;
  MpkCondition *cond;
  MpkValue     *arrived;   /* the Condition's count; guarded by its lock */
  gint64        round;     /* the round being met: each worker's own copy */
} Shared;

/* The barrier's action: in the last worker to arrive, before the others go. */
static gboolean
announce (gpointer user_data, GError **error)
{
  Shared *s = user_data;

  printf ("all %d met at round %" G_GINT64_FORMAT "\n", WORKERS, s->round);
  return TRUE;
}

static gboolean
all_arrived (gpointer user_data)
{
  Shared *s = user_data;

  return mpk_value_get_int (s->arrived) == WORKERS;
}

static int
worker (gpointer user_data)
{
  Shared *s = user_data;
  const char *me = mpk_current_process_get_name ();
  g_autoptr(GError) error = NULL;

  for (s->round = 0; s->round < ROUNDS; s->round++)
    {
      printf ("%s: round %" G_GINT64_FORMAT "\n", me, s->round);
      /* Python: barrier.wait(). -1 would mean broken: a party died. */
      LAB_CHECK (mpk_barrier_wait (s->barrier, 10 * G_USEC_PER_SEC, &error) >= 0);
    }

  /* The same meeting with a Condition: count in, then wait for the rest. */
  LAB_CHECK (mpk_condition_acquire (s->cond, MPK_WAIT_FOREVER, &error));
  mpk_value_set_int (s->arrived, mpk_value_get_int (s->arrived) + 1, NULL);
  printf ("%s: arrived\n", me);
  /* Only the last to arrive has news for the others: it wakes them all. */
  if (all_arrived (s))
    LAB_CHECK (mpk_condition_notify_all (s->cond, &error));
  LAB_CHECK (mpk_condition_wait_for (s->cond, all_arrived, s, 10 * G_USEC_PER_SEC, &error));
  printf ("%s: everyone is here\n", me);
  LAB_CHECK (mpk_condition_release (s->cond, &error));
  return 0;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) workers = NULL;
  Shared s = { 0 };

  lab_init ();

  /* Made before the workers start, so that all of them share them. */
  LAB_CHECK (s.barrier = mpk_barrier_new (WORKERS, announce, &s, MPK_WAIT_FOREVER, &error));
  LAB_CHECK (s.cond = mpk_condition_new (NULL, &error));
  /* A raw value: the condition's lock guards it, it needs no lock of its own. */
  LAB_CHECK (s.arrived = mpk_raw_value_new ('q', &error));

  workers = lab_start_many ("worker", WORKERS, worker, &s);
  lab_join_all (workers);
  printf ("done\n");

  mpk_barrier_free (s.barrier);
  mpk_condition_free (s.cond);
  mpk_value_free (s.arrived);
  return EXIT_SUCCESS;
}
