/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-remote.c: reaching a Manager from elsewhere: connect() by address and key
 * from another process, tcp and unix addresses, host names, wrong or empty keys and
 * nothing listening. Ported from CPython's _TestRemoteManager.
 *
 * What each test covers:
 *   /manager/remote         40, M2 M5: tcp port 0, random key, a forked child that
 *                           connect()s and looks up a published queue; unicode
 *                           strings, bytes, nothing, bool, double
 *   /manager/auth           M5: wrong key -> AUTH, counted, right key still served,
 *                           refused and freed connections are closed on the server
 *   /manager/refused        M5: nothing listening (unix, tcp) -> REFUSED
 *   /manager/authkey/empty  issue 11: an empty key is INVALID for new() and connect()
 *   /manager/regress/connect-host-name review bug 9c: connect() takes a host name
 *
 * Contract points: M1-M17 are the Manager rows of
 * ../shared/research/anchor-multiprocessing.md section 1.4; the numbers 34-44 are
 * the CPython test cases of its section 2.
 * The /manager/regress/ tests pin the review's bugs fixed in 927e9a0 (each fails
 * on the code before it; the comment above each names its bug).
 * The issue 11 tests fail on the code before their fix.
 * Shared helpers and assertions: test-manager-util.h. The managers the tests
 * start are shut down with exit code 0 unless killed on purpose.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <glib/gstdio.h>
#include "test-manager-util.h"

/* --- 40: a remote manager --------------------------------------------------------------------- */

/* CPython's values: 'hello world', None, True, 2.25, two unicode strings, bytes. */
static GVariant *
remote_values (void)
{
  static const guint8 bytes[] = { 'h', 'a', 'l', 'l', 0xe5, ' ', 'v', 0xe4, 'r', 'l', 'd', 'e', 'n' };

  return av_of (S ("hello world"),
                g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL),
                g_variant_new_boolean (TRUE),
                g_variant_new_double (2.25),
                S ("hall\u00e5 v\u00e4rlden"),
                S ("\u043f\u0440\u0438\u0432\u0456\u0442 \u0441\u0432\u0456\u0442"),
                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, sizeof bytes, 1),
                NULL);
}

/* Does not touch the inherited manager: connects by address and key. */
static int
remote_putter_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  MpkManager *remote;
  MpkQueueProxy *queue;

  child_guard ();
  remote = mpk_manager_connect (args->address, args->authkey, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (remote != NULL);
  queue = as_queue (mpk_manager_lookup (remote, "queue", &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (queue != NULL);
  MPK_CHILD_CHECK (mpk_queue_proxy_put (queue, remote_values (), CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_queue_proxy_put (queue, S ("hello world"), CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  mpk_queue_proxy_unref (queue);
  mpk_manager_free (remote);
  return 0;
}

static void
test_manager_remote (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) expected = g_variant_ref_sink (remote_values ());
  g_autofree char *expected_text = g_variant_print (expected, TRUE);
  ChildArgs args = { 0 };
  MpkManager *manager, *remote;
  MpkQueueProxy *queue;
  MpkQueueProxy *remote_queue;
  MpkProcess *child;
  const char *address;

  g_test_summary ("CPython test_remote: a manager on tcp:127.0.0.1:0 with a random 32-byte key; "
                  "a child that connect()s by address and key and looks up the published queue "
                  "puts CPython's values (unicode strings, bytes, None, True, 2.25); a second "
                  "connected handle gets them unchanged");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  address = mpk_manager_get_address (manager);
  g_assert_true (g_str_has_prefix (address, "tcp:127.0.0.1:"));
  g_assert_cmpstr (address, !=, "tcp:127.0.0.1:0");
  g_assert_true (g_bytes_equal (mpk_manager_get_authkey (manager), key));

  queue = new_queue (manager, 0, FALSE);
  ASSERT_OK (mpk_manager_publish (manager, "queue", MPK_PROXY (queue), &error), error);

  args.address = address;
  args.authkey = key;
  child = mpk_test_start (remote_putter_child, &args);

  remote = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (remote);
  remote_queue = as_queue (mpk_manager_lookup (remote, "queue", &error));
  g_assert_no_error (error);
  g_assert_nonnull (remote_queue);
  ASSERT_GOT (mpk_queue_proxy_get (remote_queue, CHILD_TIMEOUT_US, &error), error, expected_text);
  ASSERT_GOT (mpk_queue_proxy_get (queue, CHILD_TIMEOUT_US, &error), error, "'hello world'");
  join_child (child, 0);

  mpk_queue_proxy_unref (remote_queue);
  mpk_manager_free (remote);
  mpk_queue_proxy_unref (queue);
  shutdown_clean (manager);
}

/* --- gaps: authentication and addresses ------------------------------------------------------------- */

static void
test_manager_auth (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GBytes) wrong = random_key ();
  g_autoptr(GBytes) short_key = g_bytes_new_static ("short", 5);
  g_autoptr(GError) error = NULL;
  MpkManager *manager, *client;
  const char *address;
  guint clients_before;

  g_test_summary ("M5: connect() with a wrong key (same length, and shorter) fails AUTH; the "
                  "server counts the failures and still serves the right key");
  manager = start_manager (NULL, key);
  address = mpk_manager_get_address (manager);
  clients_before = stats_of (manager).clients;   /* the parent's own connection */

  client = mpk_manager_connect (address, wrong, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_AUTH);
  g_assert_null (client);
  g_clear_error (&error);
  client = mpk_manager_connect (address, short_key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_AUTH);
  g_assert_null (client);
  g_clear_error (&error);

  WAIT_FOR_STAT (manager, auth_failures, >=, 2);

  client = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  {
    g_autoptr(MpkListProxy) list = new_list (client, NULL);

    ASSERT_OK (mpk_list_proxy_append (list, S ("ok"), &error), error);
    ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);
  }
  mpk_manager_free (client);
  WAIT_FOR_STAT (manager, clients, ==, clients_before);   /* refused and freed: closed */
  shutdown_clean (manager);
}

/* A TCP port on 127.0.0.1 that is bound but not listening: a connect() to it
 * is refused for as long as the returned socket stays open. */
static int
bound_port (guint16 *port)
{
  struct sockaddr_in sin = { 0 };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

static void
test_manager_refused (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mpk-test-XXXXXX", NULL);
  g_autofree char *unix_address = g_strconcat ("unix:", dir, "/nobody.sock", NULL);
  g_autofree char *tcp_address = NULL;
  MpkManager *client;
  guint16 port;
  int fd;

  g_test_summary ("M5: connect() where nothing listens fails REFUSED: a unix path that does not "
                  "exist, a tcp port bound but not listening");
  client = mpk_manager_connect (unix_address, key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
  g_assert_null (client);
  g_clear_error (&error);

  fd = bound_port (&port);
  tcp_address = g_strdup_printf ("tcp:127.0.0.1:%u", port);
  client = mpk_manager_connect (tcp_address, key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
  g_assert_null (client);
  g_clear_error (&error);
  close (fd);
  g_rmdir (dir);
}

/* --- regressions: the review's bugs (fixed in 927e9a0) -------------------------------------------- */

/* Whether @host resolves (through the system's resolver) to 127.0.0.1. */
static gboolean
resolves_to_loopback (const char *host)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  GList *found = g_resolver_lookup_by_name (resolver, host, NULL, NULL);
  gboolean loopback = FALSE;

  for (GList *l = found; l != NULL; l = l->next)
    {
      g_autofree char *text = g_inet_address_to_string (l->data);

      loopback = loopback || strcmp (text, "127.0.0.1") == 0;
    }
  g_resolver_free_addresses (found);
  return loopback;
}

/* Review bug 9c: connect() parsed its address as a server's, which takes
 * numeric hosts only ("localhost" was mapped by hand), so a host name such
 * as "LOCALHOST" was INVALID. */
static void
test_regress_connect_host_name (void)
{
  static const char *const hosts[] = { "localhost", "LOCALHOST" };
  g_autoptr(GBytes) key = random_key ();
  MpkManager *manager;
  const char *address, *port;
  gsize i;

  g_test_summary ("Review bug 9c: mpk_manager_connect (\"tcp:HOST:PORT\", key) with a host name "
                  "(localhost, and LOCALHOST, which the resolver maps but no special case does) "
                  "reaches a manager listening on tcp:127.0.0.1:0; its proxies work");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  address = mpk_manager_get_address (manager);
  port = strrchr (address, ':');
  g_assert_nonnull (port);

  for (i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *by_name = g_strdup_printf ("tcp:%s:%s", hosts[i], port + 1);
      g_autofree char *name = g_strdup_printf ("by-name-%" G_GSIZE_FORMAT, i);
      MpkManager *client;

      if (i > 0 && !resolves_to_loopback (hosts[i]))
        {
          g_test_message ("%s does not resolve to 127.0.0.1 here: not tried", hosts[i]);
          continue;
        }
      client = mpk_manager_connect (by_name, key, CHILD_TIMEOUT_US, &error);
      g_assert_no_error (error);
      g_assert_nonnull (client);
      {
        g_autoptr(MpkListProxy) list = new_list (client, NULL);

        ASSERT_OK (mpk_list_proxy_append (list, S (hosts[i]), &error), error);
        ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);
        ASSERT_OK (mpk_manager_publish (client, name, MPK_PROXY (list), &error), error);
      }
      mpk_manager_free (client);
      {
        g_autoptr(MpkListProxy) found = as_list (mpk_manager_lookup (manager, name, &error));
        g_autofree char *expected = g_strdup_printf ("'%s'", hosts[i]);

        g_assert_no_error (error);
        ASSERT_GOT (mpk_list_proxy_get (found, 0, &error), error, expected);
      }
    }
  shutdown_clean (manager);
}

/* --- issue 11 §1: the server under a hostile or careless client ------------------------------- */

/* An empty key would let anyone in (an HMAC under an empty key is public knowledge). */
static void
test_authkey_empty (void)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  MpkManager *manager;

  g_test_summary ("An empty authkey is refused with INVALID by mpk_manager_new() and "
                  "mpk_manager_connect()");
  manager = mpk_manager_new (NULL, empty, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (manager);
  g_clear_error (&error);
  manager = mpk_manager_new ("tcp:0", empty, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (manager);
  g_clear_error (&error);
  manager = mpk_manager_connect ("tcp:127.0.0.1:1", empty, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/manager/remote", test_manager_remote);
  mpk_test_add_func ("/manager/auth", test_manager_auth);
  mpk_test_add_func ("/manager/refused", test_manager_refused);
  mpk_test_add_func ("/manager/regress/connect-host-name", test_regress_connect_host_name);
  mpk_test_add_func ("/manager/authkey/empty", test_authkey_empty);

  return g_test_run ();
}
