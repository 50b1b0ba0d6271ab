/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 23, remote manager: the client role, a separate program that knows
 * only the manager's address and the key, and how the server role starts
 * it (a new program, by exec).  The server role and main() are in main.c. */

#include "client.h"   /* "../lab.h": <mpkit.h>, LAB_CHECK, lab_spawn_self */

/* The client role: a program that knows only an address and a key. */
int
run_client (const char *address, GBytes *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = NULL;
  g_autoptr(MpkProxy) found_jobs = NULL;
  g_autoptr(MpkProxy) found_results = NULL;
  g_autoptr(MpkQueueProxy) jobs = NULL;
  g_autoptr(MpkQueueProxy) results = NULL;
  GVariant *job;

  /* Python: m.connect().  The handshake is here: a wrong key fails now. */
  manager = mpk_manager_connect (address, key, 5 * G_USEC_PER_SEC, &error);
  if (g_error_matches (error, MPK_ERROR, MPK_ERROR_AUTH))
    {
      printf ("Client: the server refused our key\n");
      mpk_trace_mark ("MPK_ERROR_AUTH: refused");
      return CLIENT_REFUSED;
    }
  LAB_CHECK (manager != NULL);
  printf ("Client: connected, key accepted\n");

  /* We inherited no proxies: we find the queues by their published names.
   * A lookup gives a generic proxy, of whatever type the server says; the
   * compiler cannot know it is a queue, so we check it as the program runs
   * (Python finds out at the first call). */
  LAB_CHECK (found_jobs = mpk_manager_lookup (manager, "jobs", &error));
  LAB_CHECK (found_results = mpk_manager_lookup (manager, "results", &error));
  LAB_CHECK (jobs = mpk_proxy_as_queue (found_jobs, &error));
  LAB_CHECK (results = mpk_proxy_as_queue (found_results, &error));

  /* Take jobs until the queue is empty; answer each with (job, its square). */
  while ((job = mpk_queue_proxy_get (jobs, MPK_NO_WAIT, &error)) != NULL)
    {
      gint32 n = g_variant_get_int32 (job);

      g_variant_unref (job);
      printf ("Client: got job %d, put back %d\n", n, n * n);
      LAB_CHECK (mpk_queue_proxy_put (results, g_variant_new ("(ii)", n, n * n),
                                      MPK_WAIT_FOREVER, &error));
    }
  LAB_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY));
  printf ("Client: no more jobs\n");
  return 0;
}

/* Runs this program again as `--client HOST:PORT`, a separate program, with
 * the key (HEX) in its environment; returns its exit status.  The tracer
 * cannot see an exec (see the handout): lab_spawn_self says it in our lane,
 * before ("runs lab --client") and after ("client: exit N"). */
int
spawn_client (const char *address, const char *hex, const char *which)
{
  const char *args[] = { "--client", strchr (address, ':') + 1, NULL };  /* no "tcp:" */
  g_autofree char *begin = g_strdup_printf ("runs lab --client (%s key)", which);
  g_autofree char *end = g_strdup_printf ("%s-key client", which);

  return lab_spawn_self (args, KEY_VARIABLE, hex, begin, end);
}
