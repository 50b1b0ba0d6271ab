/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-lifecycle.c: the Manager's life cycle: starting a server process (or
 * serving in this one), addresses and keys it makes, stopping it (shutdown, its
 * escalation, free in a child or the starter, a program that exits without freeing, an
 * owner killed), and what a stopped server leaves behind.
 *
 * What each test covers:
 *   /manager/lifecycle      M1 M2 M3 M6: default unix address (0600 file in a 0700
 *                           dir, removed at shutdown), "tcp:0", 32-byte key, start
 *                           twice / after shutdown -> INVALID, register after start
 *                           -> INVALID, shutdown idempotent, exit code 0
 *   /manager/shutdown-escalates M6: a server that cannot answer is SIGTERMed, then
 *                           SIGKILLed; exit code -15 or -9; reaped
 *   /manager/serve-forever  M4 M5 M6: serve_forever in a child, connect(), shutdown()
 *                           from the connected handle -> TRUE, child exits 0
 *   /manager/restart        41: a new manager binds the same tcp address
 *   /manager/free-in-child  free() in a forked child leaves the server running;
 *                           free() in the starter stops and reaps it
 *   /manager/exit/without-free issue 11: a program returning from main with a started
 *                           manager exits, its socket folder gone (it hung in the
 *                           exit handler)
 *   /manager/owner-killed/sigkill, /manager/owner-killed/sigterm
 *                           issue 11: the server removes its $TMPDIR folder when its
 *                           owner dies
 *   /manager/stats/clients-unserved issue 11: serve_forever in this process with 2
 *                           client threads, both busy, 3 more authenticated
 *                           connections waiting: after the shutdown stats.clients is
 *                           0 (it kept the 3) and they are closed
 *   /manager/shutdown/queued-closed issue 11: the same with both threads stalled past
 *                           the shutdown's second (SIGTERM): the waiting connections
 *                           are closed when serve_forever returns (they were dropped
 *                           open)
 *
 * Contract points: M1-M17 are the Manager rows of
 * ../shared/research/anchor-multiprocessing.md section 1.4; the numbers 34-44 are
 * the CPython test cases of its section 2.
 * The issue 11 tests fail on the code before their fix.
 * Shared helpers and assertions: test-manager-util.h. The managers the tests
 * start are shut down with exit code 0 unless killed on purpose.
 */

#include <sys/stat.h>
#include <glib/gstdio.h>
#include "test-manager-util.h"

/* --- lifecycle (M1 M2 M3 M6) ------------------------------------------------------ */

static void
test_manager_lifecycle (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *message = NULL;
  MpkManager *manager;
  GBytes *key;
  GStatBuf st;

  g_test_summary ("M1-M3, M6: a default manager listens on a unix socket (0600) in a private "
                  "dir (0700) with a 32-byte random key; start twice and start after shutdown are "
                  "INVALID; shutdown is idempotent, exit code 0, the socket is removed");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (manager);
  key = mpk_manager_get_authkey (manager);
  g_assert_nonnull (key);
  g_assert_cmpuint (g_bytes_get_size (key), ==, 32);

  ASSERT_OK (mpk_manager_start (manager, &error), error);
  g_assert_true (g_str_has_prefix (mpk_manager_get_address (manager), "unix:"));
  path = g_strdup (mpk_manager_get_address (manager) + strlen ("unix:"));
  dir = g_path_get_dirname (path);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_true (g_str_has_prefix (dir, g_get_tmp_dir ()));

  g_assert_false (mpk_manager_start (manager, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  message = g_ascii_strdown (error->message, -1);
  g_assert_nonnull (strstr (message, "already started"));
  g_clear_error (&error);
  g_clear_pointer (&message, g_free);

  /* Registration is only possible before start. */
  ASSERT_FAILS (mpk_manager_register (manager, &foo_type, &error), error, MPK_ERROR_INVALID);

  /* The server works. */
  {
    g_autoptr(MpkListProxy) list = new_list (manager, NULL);

    ASSERT_OK (mpk_list_proxy_append (list, I32 (1), &error), error);
    ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);
  }

  ASSERT_OK (mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error), error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    g_test_message ("observed: the private dir %s is left behind at shutdown", dir);
  ASSERT_OK (mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error), error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);

  g_assert_false (mpk_manager_start (manager, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  message = g_ascii_strdown (error->message, -1);
  g_assert_nonnull (strstr (message, "manager has shut down"));
  g_clear_error (&error);
  mpk_manager_free (manager);

  /* mpk_manager_new_started(): Python's Manager(). */
  manager = new_started ();
  g_assert_true (g_str_has_prefix (mpk_manager_get_address (manager), "unix:"));
  shutdown_clean (manager);

  /* "tcp:PORT" means 127.0.0.1:PORT; port 0 is resolved after start. */
  manager = start_manager ("tcp:0", NULL);
  g_assert_true (g_str_has_prefix (mpk_manager_get_address (manager), "tcp:127.0.0.1:"));
  g_assert_cmpstr (mpk_manager_get_address (manager), !=, "tcp:127.0.0.1:0");
  shutdown_clean (manager);
}

static void
test_manager_shutdown_escalates (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  int exitcode;
  GPid pid;

  g_test_summary ("M6: a server that cannot answer (SIGSTOPped) is stopped anyway: shutdown "
                  "with a 0.2 s timeout escalates to SIGTERM, then SIGKILL; the exit code says so "
                  "(-15 or -9)");
  manager = new_started ();
  pid = mpk_manager_get_pid (manager);
  {
    g_autoptr(MpkListProxy) list = new_list (manager, NULL);

    ASSERT_OK (mpk_list_proxy_append (list, I32 (1), &error), error);
  }
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  mpk_manager_shutdown (manager, 200 * 1000, &error);
  if (error != NULL)
    g_test_message ("shutdown of a stopped server: %s", error->message);
  g_clear_error (&error);
  exitcode = mpk_manager_get_exitcode (manager);
  g_test_message ("observed: exit code %d", exitcode);
  if (exitcode != -SIGKILL)
    g_assert_cmpint (exitcode, ==, -SIGTERM);
  g_assert_cmpint (kill (pid, 0), ==, -1);   /* reaped */
  mpk_manager_free (manager);
}

/* --- serve_forever (M4) ------------------------------------------------------------- */

static int
serve_forever_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  MpkManager *manager;

  child_guard ();
  manager = mpk_manager_new (args->address, args->authkey, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (manager != NULL);
  MPK_CHILD_CHECK (mpk_manager_serve_forever (manager, &error));
  MPK_CHILD_NO_ERROR (error);
  mpk_manager_free (manager);
  return 0;
}

static void
test_manager_serve_forever (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = random_key ();
  g_autofree char *dir = g_dir_make_tmp ("mpk-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "server.sock", NULL);
  g_autofree char *address = g_strconcat ("unix:", path, NULL);
  ChildArgs args = { 0 };
  MpkManager *client = NULL;
  MpkProcess *child;

  g_test_summary ("M4: mpk_manager_serve_forever() in a child serves a client that connect()s; "
                  "the client's shutdown() is acknowledged (TRUE) and the server's process exits 0");
  g_assert_nonnull (dir);
  args.address = address;
  args.authkey = key;
  child = mpk_test_start (serve_forever_child, &args);

  /* The child cannot say when it listens (serve_forever blocks): poll with
   * connect() until it stops being REFUSED (bounded by CHILD_TIMEOUT_US). */
  {
    gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;

    while (client == NULL)
      {
        client = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
        if (client != NULL)
          break;
        g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
        g_clear_error (&error);
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        g_usleep (2000);
      }
  }
  g_assert_no_error (error);

  {
    g_autoptr(MpkListProxy) list = new_list (client, g_variant_new_parsed ("[1, 2]"));
    MpkManagerStats stats;

    ASSERT_OK (mpk_list_proxy_append (list, I32 (3), &error), error);
    ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "[1, 2, 3]");
    stats = stats_of (client);
    g_assert_cmpuint (stats.connections, >=, 1);
    g_assert_cmpuint (stats.clients, >=, 1);
    g_assert_cmpuint (stats.calls, >=, 3);
    g_assert_cmpuint (stats.objects, >=, 1);
  }
  ASSERT_OK (mpk_manager_shutdown (client, CHILD_TIMEOUT_US, &error), error);
  join_child (child, 0);
  mpk_manager_free (client);
  /* The contract promises removal for the default address only. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    g_test_message ("observed: serve_forever leaves its socket %s behind", path);
  g_unlink (path);
  g_rmdir (dir);
}

/* --- 41: rapid restart -------------------------------------------------------------------------- */

static void
test_manager_restart (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = random_key ();
  g_autofree char *address = NULL;
  MpkManager *manager;
  MpkQueueProxy *queue;

  g_test_summary ("CPython test_rapid_restart: after a shutdown a new manager binds the same "
                  "tcp address (one retry allowed) and serves");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  address = g_strdup (mpk_manager_get_address (manager));
  queue = new_queue (manager, 0, FALSE);
  ASSERT_OK (mpk_queue_proxy_put (queue, S ("hello world"), CHILD_TIMEOUT_US, &error), error);
  ASSERT_GOT (mpk_queue_proxy_get (queue, CHILD_TIMEOUT_US, &error), error, "'hello world'");
  mpk_queue_proxy_unref (queue);
  shutdown_clean (manager);

  manager = start_manager_retry_once (address, key);
  g_assert_cmpstr (mpk_manager_get_address (manager), ==, address);
  queue = new_queue (manager, 0, FALSE);
  ASSERT_OK (mpk_queue_proxy_put (queue, S ("again"), CHILD_TIMEOUT_US, &error), error);
  ASSERT_GOT (mpk_queue_proxy_get (queue, CHILD_TIMEOUT_US, &error), error, "'again'");
  mpk_queue_proxy_unref (queue);
  shutdown_clean (manager);
}

/* --- handles in children, names ------------------------------------------------------------------- */

/* Uses the inherited manager, then frees it: in a child that only drops
 * local state, the server keeps running. */
static int
free_inherited_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_list_proxy_append (args->list, S ("from the child"), &error));
  MPK_CHILD_NO_ERROR (error);
  mpk_list_proxy_unref (args->list);
  mpk_manager_free (args->manager);
  return 0;
}

static void
test_manager_free_in_child (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;
  GPid pid;

  g_test_summary ("mpk_manager_free() in a forked child frees only local state: the server and "
                  "the parent's proxies keep working; in the starting process it stops the server "
                  "(the process is gone afterwards)");
  manager = new_started ();
  pid = mpk_manager_get_pid (manager);
  args.manager = manager;
  args.list = new_list (manager, NULL);
  join_child (mpk_test_start (free_inherited_child, &args), 0);
  ASSERT_GOT (mpk_list_proxy_get (args.list, 0, &error), error, "'from the child'");
  ASSERT_NUMBER (mpk_list_proxy_len (args.list, &error), error, 1);
  g_assert_cmpint (kill (pid, 0), ==, 0);
  mpk_list_proxy_unref (args.list);

  /* No explicit shutdown: free() stops and reaps the server. */
  mpk_manager_free (manager);
  g_assert_cmpint (kill (pid, 0), ==, -1);
  g_assert_cmpint (errno, ==, ESRCH);
}

/* --- issue 11 §1: the server under a hostile or careless client ------------------------------- */

/* A program that returns from main with a started manager (never freed) must
 * exit: it hung in the exit handler joining the server process. */
static void
test_exit_without_free (void)
{
  const char *note = g_getenv ("MPK_TEST_EXIT_NOTE");
  g_autofree char *note_path = NULL, *address = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  if (g_test_subprocess ())
    {
      /* Never freed, on purpose; static, so LeakSanitizer sees them reachable. */
      static MpkManager *manager;
      static MpkListProxy *list;

      manager = new_started ();
      list = new_list (manager, NULL);
      ASSERT_OK (mpk_list_proxy_append (list, S ("left behind"), &error), error);
      g_assert_true (g_file_set_contents (note, mpk_manager_get_address (manager), -1, NULL));
      return;   /* g_test_run returns, main returns, the exit handlers run */
    }
  g_test_summary ("A program that starts a manager and returns from main without freeing it "
                  "exits (the manager is shut down at exit, like Python's), well within a generous "
                  "bound, and its socket folder is gone");
  note_path = g_build_filename (g_get_tmp_dir (), "mpk-exit-note-XXXXXX", NULL);
  close (g_mkstemp (note_path));
  g_setenv ("MPK_TEST_EXIT_NOTE", note_path, TRUE);
  start = g_get_monotonic_time ();
  g_test_trap_subprocess (NULL, 4 * CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_message ("the program ended after %.1f ms", (g_get_monotonic_time () - start) / 1000.0);
  g_unsetenv ("MPK_TEST_EXIT_NOTE");
  g_assert_true (g_file_get_contents (note_path, &address, NULL, &error));
  g_assert_no_error (error);
  g_unlink (note_path);
  g_test_trap_assert_passed ();
  g_assert_true (g_str_has_prefix (address, "unix:"));
  {
    g_autofree char *dir = g_path_get_dirname (address + 5);

    g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  }
}

/* The owner of a started manager, killed by the test. */
static int
owner_child (gpointer data)
{
  MpkTestChannel *channel = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) never = NULL;
  MpkManager *manager;

  mpk_connection_close (channel->parent);
  manager = mpk_manager_new_started (&error);
  MPK_CHILD_NO_ERROR (error);
  if (!mpk_connection_send (channel->child,
                            g_variant_new ("(si)", mpk_manager_get_address (manager),
                                           (gint32) mpk_manager_get_pid (manager)),
                            CHILD_TIMEOUT_US, &error))
    return 1;
  never = mpk_connection_recv (channel->child, 4 * CHILD_TIMEOUT_US, NULL);
  return 0;
}

/* A Manager's owner killed by @data (SIGKILL, or SIGTERM as a timeout sends): the
 * server, told by the parent-death signal, ends and removes its socket folder. */
static void
test_owner_killed_cleanup (gconstpointer data)
{
  int sig = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) hello = NULL;
  g_autofree char *dir = NULL;
  MpkTestChannel channel;
  MpkProcess *owner;
  const char *address;
  gint32 server_pid;
  gint64 end;

  g_test_summary ("A process that started a manager is killed (SIGKILL, SIGTERM): the server "
                  "ends and its $TMPDIR/mpk-manager-* folder is removed (bounded wait)");
  mpk_test_channel_init (&channel);
  owner = mpk_test_start (owner_child, &channel);
  mpk_connection_close (channel.child);
  hello = mpk_connection_recv (channel.parent, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_variant_get (hello, "(&si)", &address, &server_pid);
  g_assert_true (g_str_has_prefix (address, "unix:"));
  dir = g_path_get_dirname (address + 5);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));

  g_assert_cmpint (kill (mpk_process_get_pid (owner), sig), ==, 0);
  g_assert_true (mpk_process_join (owner, CHILD_TIMEOUT_US));
  g_assert_cmpint (mpk_process_get_exitcode (owner), ==, -sig);
  mpk_process_unref (owner);
  wait_until_dead (server_pid);
  end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  while (g_file_test (dir, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < end)
    g_usleep (10000);
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    g_test_message ("left behind: %s", dir);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  mpk_test_channel_clear (&channel);
}

/* --- connections waiting for a thread when the server stops --- */

/* A server run by mpk_manager_serve_forever() in a thread of this process,
 * so the test can look at what it leaves behind. */
typedef struct
{
  MpkManager *server;
  GThread    *thread;
  char       *dir;
  char       *address;
  GBytes     *key;
} InProcess;

static gpointer
in_process_serve (gpointer data)
{
  InProcess *ip = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = mpk_manager_serve_forever (ip->server, &error);

  g_assert_no_error (error);
  return GINT_TO_POINTER (ok);
}

/* Starts serving with at most @threads client threads (and @type registered
 * if not NULL); returns a connected client. */
static MpkManager *
in_process_start (InProcess *ip, guint threads, const MpkManagerType *type)
{
  g_autoptr(GError) error = NULL;
  MpkManager *client = NULL;
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;

  ip->dir = g_dir_make_tmp ("mpk-test-XXXXXX", NULL);
  g_assert_nonnull (ip->dir);
  ip->address = g_strconcat ("unix:", ip->dir, "/server.sock", NULL);
  ip->key = random_key ();
  ip->server = mpk_manager_new (ip->address, ip->key, &error);
  g_assert_no_error (error);
  if (type != NULL)
    ASSERT_OK (mpk_manager_register (ip->server, type, &error), error);
  mpk__manager_set_max_threads_for_testing (threads);
  ip->thread = g_thread_new ("serve-forever", in_process_serve, ip);
  while (client == NULL)
    {
      client = mpk_manager_connect (ip->address, ip->key, CHILD_TIMEOUT_US, &error);
      if (client != NULL)
        break;
      g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
      g_clear_error (&error);
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (2000);
    }
  mpk_manager_set_timeout (client, CHILD_TIMEOUT_US);
  return client;
}

/* Shuts the server down through @client and waits for serve_forever to return TRUE. */
static void
in_process_stop (InProcess *ip, MpkManager *client)
{
  g_autoptr(GError) error = NULL;
  ASSERT_OK (mpk_manager_shutdown (client, CHILD_TIMEOUT_US, &error), error);
  mpk_manager_free (client);
  g_assert_true (GPOINTER_TO_INT (g_thread_join (ip->thread)));
  mpk__manager_set_max_threads_for_testing (0);
  mpk_manager_free (ip->server);
  g_unlink (ip->address + 5);
  g_rmdir (ip->dir);
  g_free (ip->dir);
  g_free (ip->address);
  g_bytes_unref (ip->key);
}

#define QUEUED_CONNECTIONS 3

/* Connections that authenticated while every client thread was busy wait in
 * the thread pool's queue. At a shutdown they were closed unserved, but
 * stats.clients, which counted them from their accept, kept them: a server
 * that stopped had clients left. */
static void
test_stats_clients_unserved (void)
{
  if (g_test_subprocess ())
    {
      InProcess ip = { 0 };
      MpkManager *client = in_process_start (&ip, 2, NULL);
      int busy, queued[QUEUED_CONNECTIONS];
      MpkManagerStats stats;

      /* Thread 1 serves @client, thread 2 this idle connection. */
      busy = mpk__manager_open_raw_for_testing (client, TRUE, NULL);
      g_assert_cmpint (busy, >=, 0);
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          queued[i] = mpk__manager_open_raw_for_testing (client, TRUE, NULL);
          g_assert_cmpint (queued[i], >=, 0);
        }
      stats = stats_of (client);
      g_test_message ("before the shutdown: %u clients", stats.clients);
      g_assert_cmpuint (stats.clients, ==, 2 + QUEUED_CONNECTIONS);
      in_process_stop (&ip, client);
      mpk__manager_last_stats_for_testing (&stats);
      g_test_message ("after the server stopped: %u clients counted", stats.clients);
      g_assert_cmpuint (stats.clients, ==, 0);
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          g_assert_true (peer_closed (queued[i], 1000));
          close (queued[i]);
        }
      close (busy);
      return;
    }
  g_test_summary ("A server with 2 client threads, both busy, and 3 more authenticated "
                  "connections waiting for one: after a shutdown the waiting connections are "
                  "closed and stats.clients is back to 0 (it kept counting them)");
  g_test_trap_subprocess (NULL, 4 * CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* A method that lets the server's lock go and waits until the test lets it
 * return: a client thread the server cannot end at a shutdown. */
static GMutex stall_lock;
static GCond  stall_changed;
static guint  stall_entered;
static gboolean stall_released;

static gpointer
stall_create (GVariant *args, GError **error)
{
  return g_new0 (int, 1);
}

static GVariant *
stall_wait (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  gint64 end = g_get_monotonic_time () + 4 * CHILD_TIMEOUT_US;   /* never for ever */

  mpk__manager_call_unlock (call);
  g_mutex_lock (&stall_lock);
  stall_entered++;
  g_cond_broadcast (&stall_changed);
  while (!stall_released && g_cond_wait_until (&stall_changed, &stall_lock, end))
    ;
  g_mutex_unlock (&stall_lock);
  mpk__manager_call_relock (call);
  return NULL;
}

static const MpkManagerMethod stall_methods[] = { { "wait", stall_wait }, { NULL, NULL } };
static const MpkManagerType stall_type = { "Stall", stall_create, g_free, stall_methods };

/* Calls Stall.wait on a connection of its own (the client's pool opens one
 * per thread that needs it). */
static gpointer
stall_client (gpointer data)
{
  MpkProxy *stall = data;
  g_autoptr(GError) error = NULL;
  GVariant *reply = mpk_proxy_call (stall, "wait", NULL, &error);

  /* Hung up at the shutdown: no reply (or, released late, any answer). */
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_error (&error);
  return NULL;
}

#define STALLED 2

/* When a client thread did not end within its second at a shutdown, the
 * pool was freed at once: the authenticated connections still waiting in
 * its queue were dropped without being closed, so their clients waited for
 * ever and a serve_forever process kept the descriptors. */
static void
test_shutdown_queued_closed (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      InProcess ip = { 0 };
      MpkManager *client = in_process_start (&ip, STALLED, &stall_type);
      static MpkProxy *stall;   /* kept (reachable) past the _exit below */
      GThread *stallers[STALLED];
      int queued[QUEUED_CONNECTIONS];
      MpkManagerStats stats;
      gint64 end;

      stall = mpk_manager_create (client, "Stall", NULL, &error);
      g_assert_no_error (error);
      /* Every client thread stalls in a call. */
      for (int i = 0; i < STALLED; i++)
        stallers[i] = g_thread_new ("stall", stall_client, stall);
      g_mutex_lock (&stall_lock);
      end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
      while (stall_entered < STALLED && g_cond_wait_until (&stall_changed, &stall_lock, end))
        ;
      g_assert_cmpuint (stall_entered, ==, STALLED);
      g_mutex_unlock (&stall_lock);
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          queued[i] = mpk__manager_open_raw_for_testing (client, TRUE, NULL);
          g_assert_cmpint (queued[i], >=, 0);
        }
      /* No thread is free for a shutdown request: SIGTERM stops serve_forever,
       * which gives up on the stalled threads after a second. */
      g_assert_cmpint (kill (getpid (), SIGTERM), ==, 0);
      g_assert_true (GPOINTER_TO_INT (g_thread_join (ip.thread)));
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          gboolean closed = peer_closed (queued[i], 1000);

          if (!closed)
            g_test_message ("queued connection %d: still open after serve_forever returned", i);
          g_assert_true (closed);
          close (queued[i]);
        }
      mpk__manager_last_stats_for_testing (&stats);
      g_test_message ("after serve_forever returned: %u clients counted", stats.clients);
      g_assert_cmpuint (stats.clients, ==, STALLED);
      g_mutex_lock (&stall_lock);
      stall_released = TRUE;
      g_cond_broadcast (&stall_changed);
      g_mutex_unlock (&stall_lock);
      for (int i = 0; i < STALLED; i++)
        g_thread_join (stallers[i]);
      g_unlink (ip.address + 5);
      g_rmdir (ip.dir);
      _exit (0);   /* the server's state stays (stalled threads may use it): no other cleanup */
    }
  g_test_summary ("serve_forever with 2 client threads, both stalled in a method past the "
                  "shutdown's second, and 3 authenticated connections waiting for a thread: "
                  "stopped by SIGTERM, it closes the waiting connections before it returns (they "
                  "were left open) and counts only the 2 stalled clients");
  g_test_trap_subprocess (NULL, 4 * CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/manager/lifecycle", test_manager_lifecycle);
  mpk_test_add_func ("/manager/shutdown-escalates", test_manager_shutdown_escalates);
  mpk_test_add_func ("/manager/serve-forever", test_manager_serve_forever);
  mpk_test_add_func ("/manager/restart", test_manager_restart);
  mpk_test_add_func ("/manager/free-in-child", test_manager_free_in_child);
  mpk_test_add_func ("/manager/exit/without-free", test_exit_without_free);
  mpk_test_add_data_func ("/manager/owner-killed/sigkill", GINT_TO_POINTER (SIGKILL),
                         test_owner_killed_cleanup);
  mpk_test_add_data_func ("/manager/owner-killed/sigterm", GINT_TO_POINTER (SIGTERM),
                         test_owner_killed_cleanup);
  mpk_test_add_func ("/manager/stats/clients-unserved", test_stats_clients_unserved);
  mpk_test_add_func ("/manager/shutdown/queued-closed", test_shutdown_queued_closed);

  return g_test_run ();
}
