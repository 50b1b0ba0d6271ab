/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 23, remote manager: a Manager served over TCP, protected by a key.  A
 * client that is a separate program, which knows nothing but an address and
 * the key, takes jobs from the manager's queue and puts back results; a
 * client with a wrong key is refused.  The kit's own lab (seed 004 says a
 * manager can serve other computers; this is how).  `lab` plays both roles
 * on 127.0.0.1; `--serve [HOST:]PORT` and `--client HOST:PORT` one each. */

#include <string.h>
#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_spawn_self, lab_init */

#define N_JOBS          3
#define KEY_VARIABLE    "MPK_AUTHKEY"  /* the key, in hex: never on a command line (ps) */
#define CLIENT_REFUSED  2              /* the client's exit status when its key is refused */

/* The client role: a program that knows only an address and a key. */
static int
run_client (const char *address, GBytes *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = NULL;
  g_autoptr(MpkProxy) jobs = NULL;
  g_autoptr(MpkProxy) results = NULL;
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

  /* We inherited no proxies: we find the queues by their published names. */
  LAB_CHECK (jobs = mpk_manager_lookup (manager, "jobs", &error));
  LAB_CHECK (results = mpk_manager_lookup (manager, "results", &error));

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
static int
spawn_client (const char *address, const char *hex, const char *which)
{
  const char *args[] = { "--client", strchr (address, ':') + 1, NULL };  /* no "tcp:" */
  g_autofree char *begin = g_strdup_printf ("runs lab --client (%s key)", which);
  g_autofree char *end = g_strdup_printf ("%s-key client", which);

  return lab_spawn_self (args, KEY_VARIABLE, hex, begin, end);
}

/* The server role, at ADDRESS with KEY (NULL: 32 random bytes).  DEMO: run
 * the clients too, one with the right key and one with a key one bit off. */
static int
run_server (const char *address, GBytes *key, gboolean demo)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) manager = NULL;
  g_autofree char *hex = NULL;
  MpkProxy *jobs, *results;
  MpkManagerStats stats;

  LAB_CHECK (manager = mpk_manager_new (address, key, &error));
  LAB_CHECK (mpk_manager_start (manager, &error));
  /* Two queues in the server, named so that remote clients can find them. */
  LAB_CHECK (jobs = mpk_manager_queue (manager, 0, &error));
  LAB_CHECK (results = mpk_manager_queue (manager, 0, &error));
  LAB_CHECK (mpk_manager_publish (manager, "jobs", jobs, &error));
  LAB_CHECK (mpk_manager_publish (manager, "results", results, &error));
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
  g_clear_pointer (&jobs, mpk_proxy_unref);
  g_clear_pointer (&results, mpk_proxy_unref);
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
