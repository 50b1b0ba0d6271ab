/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 25, race and lock: one round of adders, the experiment around the
 * race.  The adders' body (where the race is) and main() are in main.c. */

#include "rounds.h"   /* "../lab.h": <mpkit.h>, LAB_CHECK, lab_start_many, lab_join_all */

gint64
run_adders (MpkEvent *go, Method method, int n, int k)
{
  g_autoptr(MpkValue) counter = NULL;
  g_autoptr(GPtrArray) adders = NULL;
  g_autoptr(GError) error = NULL;
  AdderArgs args;

  /* A fresh value each round, made before the forks so that every adder
   * shares it (Python: Value('i'), passed in args). */
  LAB_CHECK (counter = mpk_value_new ('i', &error));
  mpk_event_clear (go);         /* the adders of the last round are gone */
  args = (AdderArgs) { counter, go, method, k };
  adders = lab_start_many ("adder", n, adder, &args);   /* "adder 1", ... */
  mpk_event_set (go);           /* go: all of them at once */
  lab_join_all (adders);
  return mpk_value_get_int (counter);
}
