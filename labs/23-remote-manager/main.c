/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 23, remote manager: a Manager served over TCP and protected by an
 * authentication key.  A client that is a separate program, which inherited
 * nothing but an address and a key, takes jobs from the manager's queue and
 * puts back results; a client with a wrong key is refused.  The kit's own
 * lab: seeds/004_cbef035b4a535284.txt says a manager can be shared by
 * processes on different computers over a network, and this is how.
 *
 *   lab                          the whole story on 127.0.0.1 (what lab.test runs)
 *   lab --serve [HOST:]PORT      the server role, by hand   (key: $MPK_AUTHKEY, hex)
 *   lab --client HOST:PORT       the client role, by hand   (key: $MPK_AUTHKEY, hex) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <mpkit.h>

#define N_JOBS          3
#define KEY_VARIABLE    "MPK_AUTHKEY"
#define CLIENT_REFUSED  2      /* the client's exit status when its key is refused */

/* --- the key: raw bytes in the library, hex text in the environment ------- */

static char *
key_to_hex (GBytes *key)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (key, &len);
  GString *hex = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

/* The key from $MPK_AUTHKEY.  Never from the command line: any user on the
 * machine can read another's command line (ps), not its environment. */
static GBytes *
key_from_environment (void)
{
  const char *hex = g_getenv (KEY_VARIABLE);
  gsize len = hex != NULL ? strlen (hex) : 0;
  guint8 *key;

  if (len == 0 || len % 2 != 0)
    return NULL;
  key = g_malloc (len / 2);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        {
          g_free (key);
          return NULL;
        }
      key[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (key, len / 2);
}

/* --- the client role: a program that knows only an address and a key ---- */

static int
run_client (const char *address)
{
  g_autoptr(GBytes) key = key_from_environment ();
  g_autoptr(MpkManager) manager = NULL;
  g_autoptr(MpkProxy) jobs = NULL;
  g_autoptr(MpkProxy) results = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *job;

  if (key == NULL)
    {
      g_printerr ("client: set %s to the server's key, in hex\n", KEY_VARIABLE);
      return 1;
    }
  /* Python: m = BaseManager(address, authkey); m.connect().  The handshake
   * happens here, before any call: a wrong key fails now, with AUTH. */
  manager = mpk_manager_connect (address, key, 5 * G_USEC_PER_SEC, &error);
  if (manager == NULL)
    {
      if (g_error_matches (error, MPK_ERROR, MPK_ERROR_AUTH))
        {
          printf ("Client: the server refused our key\n");
          mpk_trace_mark ("MPK_ERROR_AUTH: refused");
          return CLIENT_REFUSED;
        }
      g_printerr ("client: cannot connect to %s: %s\n", address, error->message);
      return 1;
    }
  printf ("Client: connected, key accepted\n");

  /* We inherited no proxies: we find the queues by the names the server
   * published them under (Python: a registered get_jobs()). */
  jobs = mpk_manager_lookup (manager, "jobs", &error);
  if (jobs != NULL)
    results = mpk_manager_lookup (manager, "results", &error);
  if (results == NULL)
    {
      g_printerr ("client: lookup failed: %s\n", error->message);
      return 1;
    }

  /* Take jobs until the queue is empty; answer each with (job, its square). */
  while ((job = mpk_queue_proxy_get (jobs, MPK_NO_WAIT, &error)) != NULL)
    {
      gint32 n = g_variant_get_int32 (job);

      g_variant_unref (job);
      printf ("Client: got job %d, put back %d\n", n, n * n);
      if (!mpk_queue_proxy_put (results, g_variant_new ("(ii)", n, n * n),
                                MPK_WAIT_FOREVER, &error))
        break;
    }
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY))
    {
      g_printerr ("client: %s\n", error->message);
      return 1;
    }
  printf ("Client: no more jobs\n");
  return 0;
}

/* --- the server role ------------------------------------------------------ */

typedef struct
{
  MpkManager *manager;
  MpkProxy   *jobs;        /* published as "jobs": ints to square */
  MpkProxy   *results;     /* published as "results": (job, square) pairs */
} Server;

/* Starts a manager at ADDRESS (key NULL: a random one), makes the two queues,
 * names them so that remote clients can find them, and fills "jobs". */
static gboolean
server_start (Server *s, const char *address, GBytes *key, GError **error)
{
  s->manager = mpk_manager_new (address, key, error);
  if (s->manager == NULL || !mpk_manager_start (s->manager, error)
      || !(s->jobs = mpk_manager_queue (s->manager, 0, error))
      || !(s->results = mpk_manager_queue (s->manager, 0, error))
      || !mpk_manager_publish (s->manager, "jobs", s->jobs, error)
      || !mpk_manager_publish (s->manager, "results", s->results, error))
    return FALSE;
  for (gint32 n = 3; n < 3 + N_JOBS; n++)
    if (!mpk_queue_proxy_put (s->jobs, g_variant_new_int32 (n), MPK_WAIT_FOREVER, error))
      return FALSE;
  printf ("Server: %d jobs in the queue \"jobs\"\n", N_JOBS);
  return TRUE;
}

/* Set by Ctrl-C (SIGINT) or SIGTERM in the server role: time to shut down.
 * The manager process ignores SIGINT, so that we can still stop it. */
static volatile sig_atomic_t stop_requested = 0;

static void
on_stop_signal (int signo)
{
  stop_requested = 1;
}

/* Waits for one result per job (a client may still be working) and prints
 * them.  It waits a second at a time, to notice a Ctrl-C in between. */
static gboolean
server_collect (Server *s, GError **error)
{
  for (int i = 0; i < N_JOBS; )
    {
      g_autoptr(GVariant) result = mpk_queue_proxy_get (s->results, G_USEC_PER_SEC, error);
      gint32 n, square;

      if (result == NULL && g_error_matches (*error, MPK_ERROR, MPK_ERROR_EMPTY)
          && !stop_requested)
        {
          g_clear_error (error);      /* nothing yet: wait another second */
          continue;
        }
      if (result == NULL)
        return FALSE;
      g_variant_get (result, "(ii)", &n, &square);
      printf ("Server: result %d squared is %d\n", n, square);
      i++;
    }
  return TRUE;
}

static gboolean
server_stop (Server *s)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_clear_pointer (&s->jobs, mpk_proxy_unref);
  g_clear_pointer (&s->results, mpk_proxy_unref);
  if (s->manager == NULL)
    return FALSE;
  ok = mpk_manager_shutdown (s->manager, 5 * G_USEC_PER_SEC, &error)
       && mpk_manager_get_exitcode (s->manager) == 0;
  if (!ok)
    g_printerr ("server: shutdown: %s\n", error != NULL ? error->message : "unclean exit");
  g_clear_pointer (&s->manager, mpk_manager_free);
  return ok;
}

/* --- the server role by hand: `--serve [HOST:]PORT` ------------------------ */

static int
run_server (const char *where)
{
  /* "PORT" alone is 127.0.0.1:PORT; give 0.0.0.0:PORT to accept other hosts. */
  g_autofree char *address = g_strconcat ("tcp:", where, NULL);
  g_autoptr(GBytes) key = key_from_environment ();
  g_autoptr(GError) error = NULL;
  Server s = { NULL, NULL, NULL };
  gboolean ok;

  if (key == NULL)
    {
      g_printerr ("server: set %s to a key in hex, for example\n"
                  "  export %s=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \\n')\n",
                  KEY_VARIABLE, KEY_VARIABLE);
      return EXIT_FAILURE;
    }
  ok = server_start (&s, address, key, &error);
  if (ok)
    printf ("Server: listening on %s; waiting for %d results\n",
            mpk_manager_get_address (s.manager), N_JOBS);
  /* Until a client has put every result.  Ctrl-C must not kill us at once:
   * the manager would be left running, holding the port. */
  signal (SIGINT, on_stop_signal);
  signal (SIGTERM, on_stop_signal);
  ok = ok && server_collect (&s, &error);
  if (stop_requested)
    g_printerr ("server: interrupted; shutting the manager down\n");
  else if (error != NULL)
    g_printerr ("server: %s\n", error->message);
  ok = server_stop (&s) && ok;
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* --- the whole story in one run: the server here, clients as new programs - */

/* Runs this program again as `--client ADDRESS`, with KEY in its
 * environment (not in its arguments), and returns its exit status. */
static int
spawn_client (const char *address, GBytes *key, const char *which)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *hex = key_to_hex (key);
  g_auto(GStrv) env = g_environ_setenv (g_get_environ (), KEY_VARIABLE, hex, TRUE);
  char *argv[] = { self, "--client", (char *) address, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  /* The tracer does not see g_spawn_sync(): no start() or join arrow links
   * us to the client.  mpk-trace links the client's lane to ours by the
   * clock alone (dashed "exec" and "exec ended" arrows), so say in our
   * lane, in words, that we ran it and waited for it. */
  mpk_trace_mark ("runs lab --client (%s key)", which);
  /* The child's stdout and stderr are ours (NULL below), so its lines come
   * between ours; g_spawn_sync() returns once it has exited. */
  if (self == NULL || !g_spawn_sync (NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                                     NULL, NULL, &status, &error))
    {
      g_printerr ("lab23: cannot run the client: %s\n",
                  error != NULL ? error->message : "no /proc/self/exe");
      return -1;
    }
  status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  mpk_trace_mark ("%s-key client: exit %d", which, status);
  return status;
}

static int
run_demo (void)
{
  Server s = { NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) wrong_key = NULL;
  MpkManagerStats stats;
  guint8 *bytes;
  gsize len;
  gboolean ok;

  /* Port 0: the system picks a free port; the real address comes back from
   * mpk_manager_get_address().  No key given: 32 random bytes. */
  if (!server_start (&s, "tcp:127.0.0.1:0", NULL, &error))
    {
      g_printerr ("lab23: cannot start the server: %s\n", error->message);
      server_stop (&s);
      return EXIT_FAILURE;
    }
  g_printerr ("lab23: the manager listens on %s\n", mpk_manager_get_address (s.manager));

  /* A client with the right key does all the jobs... */
  ok = spawn_client (mpk_manager_get_address (s.manager),
                     mpk_manager_get_authkey (s.manager), "right") == 0
       && server_collect (&s, &error);

  /* ...and one whose key differs in one bit is refused at the door. */
  bytes = g_bytes_unref_to_data (g_bytes_ref (mpk_manager_get_authkey (s.manager)), &len);
  bytes[0] ^= 0x01;
  wrong_key = g_bytes_new_take (bytes, len);
  ok = ok && spawn_client (mpk_manager_get_address (s.manager), wrong_key, "wrong")
          == CLIENT_REFUSED;

  /* The server counted the refusal too. */
  if (ok && mpk_manager_get_stats (s.manager, &stats, &error))
    printf ("Server: %" G_GUINT64_FORMAT " client refused\n", stats.auth_failures);
  if (error != NULL)
    g_printerr ("lab23: %s\n", error->message);
  ok = server_stop (&s) && ok && error == NULL;
  if (ok)
    printf ("Server: shut down\n");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  if (argc == 1)
    return run_demo ();
  if (argc == 3 && strcmp (argv[1], "--client") == 0)
    {
      /* "HOST:PORT" by hand; the demo passes the full "tcp:HOST:PORT". */
      g_autofree char *address = g_str_has_prefix (argv[2], "tcp:") ? g_strdup (argv[2])
                                 : g_strconcat ("tcp:", argv[2], NULL);
      return run_client (address);
    }
  if (argc == 3 && strcmp (argv[1], "--serve") == 0)
    return run_server (argv[2]);
  g_printerr ("usage: %s                    (the whole lab on 127.0.0.1)\n"
              "       %s --serve [HOST:]PORT\n"
              "       %s --client HOST:PORT  (both with %s=<key in hex>)\n",
              argv[0], argv[0], argv[0], KEY_VARIABLE);
  return 2;
}
