/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* worker.c: lab 22's workers, the backend side: valkka's tutorial worker
 * (a MessageProcess with a c__ handler and a postRun__), made ready for
 * the main program to add to its context. */

#include <stdio.h>
#include "worker.h"

#define TIMEOUT (10 * G_USEC_PER_SEC)

/* c__job(n): print the work, answer with the square. */
static gboolean
c_job (MpkMessageProcess *mp, MpkCommand *command, gpointer user_data, GError **error)
{
  g_autoptr(GVariant) n_v = mpk_command_lookup (command, "n", NULL);
  gint32 n = g_variant_get_int32 (n_v);
  g_autoptr(MpkCommand) ready = mpk_command_new_with ("ready", "value",
                                                      g_variant_new_int32 (n * n), NULL);

  printf ("%s: job %d: %d * %d = %d\n", mpk_message_process_get_name (mp), n, n, n, n * n);
  return mpk_message_process_reply (mp, command, ready, TIMEOUT, error);
}

/* postRun__: the backend's last words, after its loop. */
static gboolean
post_run (MpkMessageProcess *mp, gpointer user_data, GError **error)
{
  printf ("%s: post-run, bye!\n", mpk_message_process_get_name (mp));
  return TRUE;
}

MpkMessageProcess *
worker_new (int n, GError **error)
{
  g_autofree char *name = g_strdup_printf ("worker %d", n);
  g_autoptr(MpkMessageProcess) mp = mpk_message_process_new ("Worker", name, error);

  if (mp == NULL
      || !mpk_message_process_add_handler (mp, "job", "n:i", c_job, NULL, NULL, error))
    return NULL;
  mpk_message_process_set_hooks (mp, NULL, post_run, NULL);
  /* Ctrl-C reaches the whole process group: the main program stops us. */
  mpk_message_process_set_ignore_sigint (mp, TRUE);
  return g_steal_pointer (&mp);
}
