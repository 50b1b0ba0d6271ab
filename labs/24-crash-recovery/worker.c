/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 24, crash recovery: the worker role, a plain consumer like lab 07's.
 * Nothing in it is about crashes: the repair happens inside mpk_queue_get()
 * of whichever worker locks the queue after the victim's death.  The main
 * program, which kills worker 1, is in main.c. */

#include "worker.h"   /* "../lab.h": <mpkit.h>, LAB_CHECK, lab_is_sentinel */

/* Process items until the sentinel (Python's None, as in lab 07);
 * "processing" an item means reporting it. */
int
worker (gpointer user_data)
{
  WorkerArgs *args = user_data;
  g_autoptr(GError) error = NULL;

  if (args->started != NULL)
    mpk_event_set (args->started);     /* "I am about to call get()" */
  while (TRUE)
    {
      g_autoptr(GVariant) item = NULL;

      /* Holds the queue's consumer lock while it waits for an item. */
      LAB_CHECK (item = mpk_queue_get (args->work, MPK_WAIT_FOREVER, &error));
      if (lab_is_sentinel (item))
        return 0;                       /* no more work */
      LAB_CHECK (g_variant_is_of_type (item, G_VARIANT_TYPE_INT32));
      LAB_CHECK (mpk_queue_put (args->results,
                                g_variant_new ("(ii)", args->number, g_variant_get_int32 (item)),
                                MPK_WAIT_FOREVER, &error));
    }
}
