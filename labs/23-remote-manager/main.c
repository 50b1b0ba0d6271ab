/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 23, remote manager: a Manager served over TCP, protected by a key.  A
 * client that is a separate program, which knows nothing but an address and
 * the key, takes jobs from the manager's queue and puts back results; a
 * client with a wrong key is refused.  The kit's own lab (seed 004 says a
 * manager can serve other computers; this is how).  `lab` plays both roles
 * on 127.0.0.1; `--serve [HOST:]PORT` and `--client HOST:PORT` one each.
 * This file has the server role and main(); client.c the client role. */

#include "client.h"   /* the client role (client.c), "../lab.h" */

#define N_JOBS          3

/* The server role, at ADDRESS with KEY (NULL: 32 random bytes).  DEMO: run
 * the clients too, one with the right key and one with a key one bit off. */
static int
run_server (const char *address, GBytes *key, gboolean demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = NULL;
  g_autofree char *hex = NULL;
  MpkQueueProxy *jobs, *results;
  MpkManagerStats stats;

  LAB_CHECK (manager = mpk_manager_new (address, key, &error));
  LAB_CHECK (mpk_manager_start (manager, &error));
  /* Two queues in the server, named so that remote clients can find them. */
  LAB_CHECK (jobs = mpk_manager_queue (manager, 0, &error));
  LAB_CHECK (results = mpk_manager_queue (manager, 0, &error));
  LAB_CHECK (mpk_manager_publish (manager, "jobs", MPK_PROXY (jobs), &error));
  LAB_CHECK (mpk_manager_publish (manager, "results", MPK_PROXY (results), &error));
  for (gint32 n = 3; n < 3 + N_JOBS; n++)
    LAB_CHECK (mpk_queue_proxy_put (jobs, g_variant_new_int32 (n), MPK_WAIT_FOREVER, &error));
  printf ("Server: %d jobs in the queue \"jobs\"\n", N_JOBS);

  /* Port 0 picked a free port: the real address comes from the manager. */
  address = mpk_manager_get_address (manager);
  if (!demo)
    printf ("Server: listening on %s; waiting for %d results\n", address, N_JOBS);
  else    /* the port changes every run: to stderr, which the test ignores */
    {
      g_printerr ("lab23: the manager listens on %s\n", address);
      hex = mpk_authkey_to_hex (mpk_manager_get_authkey (manager));
      LAB_CHECK (spawn_client (address, hex, "right") == 0);
    }

  /* One result per job, as a client puts them.  Ctrl-C ends us here; the
   * manager process then gets SIGTERM too (its parent-death signal). */
  for (int i = 0; i < N_JOBS; i++)
    {
      g_autoptr(GVariant) result = NULL;
      gint32 n, square;

      LAB_CHECK (result = mpk_queue_proxy_get (results, MPK_WAIT_FOREVER, &error));
      g_variant_get (result, "(ii)", &n, &square);
      printf ("Server: result %d squared is %d\n", n, square);
    }

  if (demo)
    {
      hex[0] = "0123456789abcdef"[g_ascii_xdigit_value (hex[0]) ^ 1];   /* one bit off */
      LAB_CHECK (spawn_client (address, hex, "wrong") == CLIENT_REFUSED);
      LAB_CHECK (mpk_manager_get_stats (manager, &stats, &error));   /* it counted */
      printf ("Server: %" G_GUINT64_FORMAT " client refused\n", stats.auth_failures);
    }

  /* Our proxies go first (they ask the server to drop the queues). */
  g_clear_pointer (&jobs, mpk_queue_proxy_unref);
  g_clear_pointer (&results, mpk_queue_proxy_unref);
  LAB_CHECK (mpk_manager_shutdown (manager, 5 * G_USEC_PER_SEC, &error));
  LAB_CHECK (mpk_manager_get_exitcode (manager) == 0);
  if (demo)
    printf ("Server: shut down\n");
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = NULL;
  const char *role = argc == 3 ? argv[1] : "";
  /* "HOST:PORT", or "PORT" alone for 127.0.0.1:PORT. */
  g_autofree char *address = argc == 3 ? g_strconcat ("tcp:", argv[2], NULL) : NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */
  if (argc == 1)
    return run_server ("tcp:127.0.0.1:0", NULL, TRUE);
  if (strcmp (role, "--client") != 0 && strcmp (role, "--serve") != 0)
    {
      g_printerr ("usage: lab | lab --serve [HOST:]PORT | lab --client HOST:PORT\n"
                  "  (%s=<the key in hex> for --serve and --client)\n", KEY_VARIABLE);
      return 2;
    }
  /* A separate program knows the key only from its environment, in hex. */
  LAB_CHECK (key = mpk_authkey_from_environment (KEY_VARIABLE, &error));
  return strcmp (role, "--client") == 0 ? run_client (address, key)
                                        : run_server (address, key, FALSE);
}
