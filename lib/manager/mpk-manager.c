/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager.c: the Manager as its clients see it: starting, connecting
 * and stopping the server, the per-process pool of authenticated
 * connections, one call = one request and one reply, and proxies.
 * The typed proxies (mpk_list_proxy_append, ...) are in
 * mpk-manager-proxies.c, the server in mpk-manager-server.c. */

/**
 * SECTION:mpk-manager
 * @title: Manager
 * @short_description: a server process holding lists, dicts, queues,
 *   locks and your own types for other processes, through proxies
 * @include: mpkit.h
 *
 * Python's `multiprocessing.Manager`. A manager is a server process that
 * holds objects; other processes (its children, or separate programs that
 * know its address and key) use them through proxies. Every call on a
 * proxy is one request over an authenticated Unix or TCP socket and one
 * reply, and the server runs the methods of all objects one at a time, so
 * each call is atomic.
 *
 * mpk_manager_new_started() is Python's `Manager()`: a server on a private
 * Unix socket with a random key. mpk_manager_new() with an address, then
 * mpk_manager_start() or mpk_manager_serve_forever(), is
 * `BaseManager(address, authkey)`; mpk_manager_connect() is `connect()`.
 *
 * Each built-in kind has a proxy type of its own, made by the manager and
 * called as mpk_KIND_proxy_VERB(): #MpkListProxy (mpk_manager_list(),
 * mpk_list_proxy_append(), ...), #MpkDictProxy, #MpkValueProxy,
 * #MpkQueueProxy, #MpkLockProxy, #MpkNamespaceProxy and #MpkIteratorProxy,
 * so passing one kind to another kind's call does not compile. Registered
 * types (mpk_manager_register(), Python's `BaseManager.register()`) have a
 * generic #MpkProxy, called with mpk_proxy_call(). A proxy made from a
 * reference (mpk_proxy_from_value()) or found by name
 * (mpk_manager_lookup()) is generic too: mpk_proxy_as_list() and its
 * siblings check its kind when the program runs. MPK_PROXY() gives a typed
 * proxy to the generic calls.
 *
 * A proxy made before mpk_process_start() is inherited by the child, which
 * opens its own connection on its first call:
 * |[<!-- language="C" -->
 * static int
 * child (gpointer data)
 * {
 *   MpkListProxy *list = data;
 *
 *   return mpk_list_proxy_append (list, g_variant_new_int32 (42), NULL) ? 0 : 1;
 * }
 *
 * int
 * main (void)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(MpkManager) manager = mpk_manager_new_started (&error);
 *   g_autoptr(MpkListProxy) list = mpk_manager_list (manager, NULL, &error);
 *   g_autoptr(MpkProcess) p = mpk_process_new ("child", child, list, NULL);
 *   g_autofree char *text = NULL;
 *
 *   mpk_process_start (p, &error);
 *   mpk_process_join (p, MPK_WAIT_FOREVER);
 *   text = mpk_proxy_to_string (MPK_PROXY (list), &error);
 *   printf ("%s\n", text);        // [42]
 *   g_clear_pointer (&list, mpk_list_proxy_unref);   // before the manager
 *   return mpk_manager_shutdown (manager, G_USEC_PER_SEC, &error) ? 0 : 1;
 * }
 * ]|
 *
 * An object lives while a proxy, a container or a published name holds it;
 * the last mpk_list_proxy_unref() (or any kind's unref) in the process
 * that made the proxy tells the server. Free the proxies before the
 * manager.
 */
#include "mpk-manager-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define SHUTDOWN_GRACE_US  G_USEC_PER_SEC   /* after SIGTERM, before SIGKILL */
#define LISTEN_BACKLOG     128

typedef enum
{
  STATE_INITIAL,     /* made, not started */
  STATE_STARTED,     /* this handle started the server process */
  STATE_CONNECTED,   /* a client of a server started elsewhere */
  STATE_SHUTDOWN,
} State;

struct _MpkManager
{
  MpkObjectHeader object;       /* the trace id client and server events share */
  char           *address;      /* as given, then as bound */
  GBytes         *key;
  GPtrArray      *types;        /* registered MpkManagerType* (borrowed) */
  State           state;
  pid_t           owner;        /* the process that started or connected */
  MpkProcess     *server;       /* STARTED */
  GSocket        *listener;     /* bound, until the server has it */
  char           *socket_dir;   /* the private directory of a default socket */
  int             report[2];    /* start, default address: the server reports it here */
  gint64          timeout_us;
  gboolean        verbose;
  /* Connections are this process's own: a forked child opens its own (it
   * must not talk on its parent's), so the pool remembers whose it is. */
  GMutex          pool_lock;
  GPtrArray      *idle;         /* MpkConnection*, authenticated */
  gint            pool_pid;     /* whose pool this is */
  gint            pool_adopter; /* the process taking it over (pool_adopt) */
};

struct _MpkProxy
{
  gint        ref_count;
  MpkManager *manager;
  char       *type_name;
  guint64     generation;
  guint64     id;
  pid_t       owner;   /* the process whose server-side count this proxy holds */
};

/* --- connections ---------------------------------------------------------------- */

static gboolean
map_connect_error (MpkManager *m, GError *gerr, GError **error)
{
  int code = MPK_ERROR_FAILED;

  if (g_error_matches (gerr, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
      || g_error_matches (gerr, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    code = MPK_ERROR_REFUSED;
  else if (g_error_matches (gerr, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    code = MPK_ERROR_TIMED_OUT;
  g_set_error (error, MPK_ERROR, code, "cannot connect to the manager at %s: %s",
               m->address, gerr->message);
  return FALSE;
}

/* A socket connected to the server (our own fd: GIO's objects are gone
 * when this returns), or -1 with @error. */
static int
connect_fd (MpkManager *m, gint64 timeout_us, GError **error)
{
  g_autoptr(GSocketConnectable) address = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) gconn = NULL;
  g_autoptr(GError) gerr = NULL;
  int fd;

  address = mpk__manager_parse_address (m->address, FALSE, error);
  if (address == NULL)
    return -1;
  client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);   /* no proxy lookups, no modules */
  if (timeout_us > 0)
    g_socket_client_set_timeout (client, (guint) ((timeout_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC));
  gconn = g_socket_client_connect (client, address, NULL, &gerr);
  if (gconn == NULL)
    {
      map_connect_error (m, gerr, error);
      return -1;
    }
  fd = fcntl (g_socket_get_fd (g_socket_connection_get_socket (gconn)), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    mpk__set_error_from_errno (error, errno, "fcntl(F_DUPFD)");
  return fd;
}

/* A new connection to the server, authenticated. */
static MpkConnection *
open_connection (MpkManager *m, gint64 timeout_us, GError **error)
{
  MpkConnection *conn;
  int fd = connect_fd (m, timeout_us, error);

  if (fd < 0)
    return NULL;
  conn = mpk_connection_new_from_fd (fd, TRUE, TRUE, error);
  if (conn == NULL)
    {
      close (fd);
      return NULL;
    }
  mpk__connection_set_request_reply (conn);
  if (!mpk__manager_auth_client (conn, m->key, error))
    {
      mpk_connection_free (conn);
      return NULL;
    }
  return conn;
}

/* A forked child inherits its parent's idle connections: it closes its
 * copies (the parent keeps its own) and starts a pool of its own. The
 * mutex is re-made too, in case a parent thread held it at fork. If two
 * threads of the child get here at once, one adopts and the other waits. */
static void
pool_adopt (MpkManager *m)
{
  gint self = (gint) mpk__wire_pid ();
  gint adopter;

  if (G_LIKELY (g_atomic_int_get (&m->pool_pid) == self))
    return;
  adopter = g_atomic_int_get (&m->pool_adopter);
  if (adopter != self && g_atomic_int_compare_and_exchange (&m->pool_adopter, adopter, self))
    {
      g_mutex_init (&m->pool_lock);
      g_ptr_array_set_size (m->idle, 0);
      g_atomic_int_set (&m->pool_pid, self);
      return;
    }
  while (g_atomic_int_get (&m->pool_pid) != self)
    g_thread_yield ();
}

static MpkConnection *
pool_take (MpkManager *m, GError **error)
{
  g_autoptr(GError) local = NULL;
  MpkConnection *conn = NULL;

  if (m->state == STATE_SHUTDOWN || m->state == STATE_INITIAL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED, "the manager at %s %s",
                   m->address != NULL ? m->address : "(no address)",
                   m->state == STATE_SHUTDOWN ? "has shut down" : "has not started");
      return NULL;
    }
  pool_adopt (m);
  g_mutex_lock (&m->pool_lock);
  if (m->idle->len > 0)
    conn = g_ptr_array_steal_index_fast (m->idle, m->idle->len - 1);
  g_mutex_unlock (&m->pool_lock);
  if (conn != NULL)
    return conn;
  conn = open_connection (m, m->timeout_us, &local);
  /* For a call, a manager that stopped listening has gone away. */
  if (conn == NULL && g_error_matches (local, MPK_ERROR, MPK_ERROR_REFUSED))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED, "the manager went away (%s)",
                   local->message);
      return NULL;
    }
  if (conn == NULL)
    g_propagate_error (error, g_steal_pointer (&local));
  return conn;
}

static void
pool_give (MpkManager *m, MpkConnection *conn)
{
  g_mutex_lock (&m->pool_lock);
  g_ptr_array_add (m->idle, conn);
  g_mutex_unlock (&m->pool_lock);
}

/* --- one call ------------------------------------------------------------------------ */

/* A failure to move a frame: the connection is dropped (a late reply must
 * never be read as the answer to the next call) and the error says why. */
static void
transport_error (MpkManager *m, const char *method, GError *local, GError **error)
{
  if (local->domain == MPK_ERROR
      && (local->code == MPK_ERROR_TIMED_OUT || local->code == MPK_ERROR_PROTOCOL
          || local->code == MPK_ERROR_TOO_BIG))
    g_set_error (error, MPK_ERROR, local->code, "%s: %s", method, local->message);
  else
    g_set_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED,
                 "the manager at %s went away (%s: %s)", m->address, method, local->message);
}

/* The reply's wait: what the server may block, plus the round-trip allowance. */
static gint64
reply_timeout (gint64 wait_us, gint64 answer_us)
{
  if (wait_us < 0 || answer_us < 0)
    return MPK_WAIT_FOREVER;
  return wait_us > G_MAXINT64 - answer_us ? MPK_WAIT_FOREVER : wait_us + answer_us;
}

/* Sends @method (@args sunk; NULL = "()") to object @id and returns its
 * result (transfer full; "()" for none) or NULL with @error. The server
 * may block the call @wait_us; @answer_us more is allowed for the round
 * trip. */
static GVariant *
manager_call_full (MpkManager  *m,
                   const char  *type,
                   guint64      generation,
                   guint64      id,
                   const char  *method,
                   GVariant    *args,
                   gint64       wait_us,
                   gint64       answer_us,
                   GError     **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (args != NULL ? args : g_variant_new ("()"));
  g_autoptr(GVariant) request = NULL, reply = NULL, inner = NULL;
  g_autoptr(GError) local = NULL;
  MpkWireHeader out, in;
  MpkConnection *conn;
  gboolean ok;
  gint64 ts;

  conn = pool_take (m, error);
  if (conn == NULL)
    return NULL;
  request = g_variant_ref_sink (g_variant_new ("(ttxsv)", generation, id, wait_us, method, owned));
  ts = MPK__TRACING (MPK__TRACE_MANAGER) ? mpk__trace_now () : 0;
  if (!mpk__connection_send_header (conn, request, answer_us, &out, &local))
    goto broken;
  if (MPK__TRACING (MPK__TRACE_MANAGER))
    mpk__manager_trace ("manager.call", MPK__TRACE_OUT, ts, &out, &m->object, type, id, method,
                        owned, NULL);
  reply = mpk__connection_recv_header (conn, reply_timeout (wait_us, answer_us), &in, &local);
  if (reply == NULL)
    goto broken;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(bv)")))
    {
      g_set_error (&local, MPK_ERROR, MPK_ERROR_PROTOCOL, "a malformed reply (%s)",
                   g_variant_get_type_string (reply));
      goto broken;
    }
  pool_give (m, conn);
  g_variant_get (reply, "(bv)", &ok, &inner);
  if (!ok)
    mpk__manager_error_from_variant (inner, &local);
  if (MPK__TRACING (MPK__TRACE_MANAGER))
    mpk__manager_trace ("manager.result", MPK__TRACE_IN, 0, &in, &m->object, type, id, method,
                        ok ? inner : NULL, local);
  if (!ok)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&inner);

broken:
  mpk_connection_free (conn);
  transport_error (m, method, local, error);
  return NULL;
}

static GVariant *
manager_call (MpkManager  *m,
              const char  *type,
              guint64      generation,
              guint64      id,
              const char  *method,
              GVariant    *args,
              gint64       wait_us,
              GError     **error)
{
  return manager_call_full (m, type, generation, id, method, args, wait_us, m->timeout_us, error);
}

/* --- the manager's life ------------------------------------------------------------------ */

static MpkManager *manager_new (const char *address, gboolean listening, GBytes *authkey,
                                GError **error);

/**
 * mpk_manager_new:
 * @address: (transfer none) (nullable): where the server listens: %NULL for a Unix socket
 *   (mode 0600) in a new private directory (mode 0700), "unix:/path",
 *   "tcp:HOST:PORT", or "tcp:PORT" for loopback. Port 0 picks a free port.
 * @authkey: (transfer none) (nullable): the shared key; %NULL makes 32 random bytes. An
 *   empty key is refused: an HMAC under an empty key is something anyone
 *   can compute, so it would authenticate every peer.
 * @error: return location for a #GError, or %NULL
 *
 * Makes a manager that is not started yet, like Python's
 * `BaseManager(address, authkey)`. Register user types, then call
 * mpk_manager_start() (a server process) or mpk_manager_serve_forever()
 * (this process is the server).
 *
 * Every connection, local or remote, must prove it knows @authkey, and
 * the server proves it too (HMAC-SHA256 over fresh nonces from both sides;
 * the key never travels). A TCP manager reachable from other hosts should
 * use a key you chose and share out of band.
 *
 * Returns: (transfer full): a new #MpkManager, or %NULL with
 *   %MPK_ERROR_INVALID for a malformed address or an empty @authkey
 */
MpkManager *
mpk_manager_new (const char *address, GBytes *authkey, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return manager_new (address, TRUE, authkey, error);
}

/* A manager for @address, checked as a server's (@listening) or a client's. */
static MpkManager *
manager_new (const char *address, gboolean listening, GBytes *authkey, GError **error)
{
  g_autoptr(GSocketConnectable) parsed = NULL;
  MpkManager *m;

  if (authkey != NULL && g_bytes_get_size (authkey) == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "an empty authkey would let anyone in: give a key, or NULL for "
                           "a random one");
      return NULL;
    }
  if (address != NULL
      && (parsed = mpk__manager_parse_address (address, listening, error)) == NULL)
    return NULL;
  m = g_new0 (MpkManager, 1);
  mpk__trace_object_init (&m->object, MPK__OBJECT_MANAGER);
  m->address = g_strdup (address);
  if (authkey != NULL)
    m->key = g_bytes_ref (authkey);
  else
    {
      guint8 *key = g_malloc (MPK__MANAGER_KEY_SIZE);

      mpk__random_bytes (key, MPK__MANAGER_KEY_SIZE);
      m->key = g_bytes_new_take (key, MPK__MANAGER_KEY_SIZE);
    }
  m->types = g_ptr_array_new ();
  m->timeout_us = DEFAULT_TIMEOUT_US;
  m->owner = getpid ();
  g_mutex_init (&m->pool_lock);
  m->idle = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_connection_free);
  m->pool_pid = m->pool_adopter = m->owner;
  m->report[0] = m->report[1] = -1;
  return m;
}

/**
 * mpk_manager_new_started:
 * @error: return location for a #GError, or %NULL
 *
 * Python's `multiprocessing.Manager()`: a manager on a private Unix socket
 * with a random key, already started.
 *
 * Returns: (transfer full): the running manager, or %NULL with @error
 */
MpkManager *
mpk_manager_new_started (GError **error)
{
  MpkManager *m = mpk_manager_new (NULL, NULL, error);

  if (m != NULL && !mpk_manager_start (m, error))
    g_clear_pointer (&m, mpk_manager_free);
  return m;
}

/**
 * mpk_manager_register:
 * @manager: (transfer none): a manager that has not started
 * @type: (transfer none): the type; it must outlive @manager
 * @error: return location for a #GError, or %NULL
 *
 * Lets the server hold objects of @type, like `BaseManager.register()`.
 * Clients make them with mpk_manager_create (manager, type->name, args)
 * and call the methods of @type->methods with mpk_proxy_call(); no other
 * name can be called.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID after start or for a
 *   name already taken
 */
gboolean
mpk_manager_register (MpkManager *manager, const MpkManagerType *type, GError **error)
{
  g_return_val_if_fail (manager != NULL, FALSE);
  g_return_val_if_fail (type != NULL && type->name != NULL && type->create != NULL, FALSE);

  if (manager->state != STATE_INITIAL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "register \"%s\" before the manager starts", type->name);
      return FALSE;
    }
  for (guint i = 0; mpk__manager_builtin_types[i] != NULL; i++)
    if (strcmp (mpk__manager_builtin_types[i]->name, type->name) == 0)
      {
        g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "\"%s\" is a built-in type", type->name);
        return FALSE;
      }
  for (guint i = 0; i < manager->types->len; i++)
    if (strcmp (((const MpkManagerType *) manager->types->pdata[i])->name, type->name) == 0)
      {
        g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "\"%s\" is registered already",
                     type->name);
        return FALSE;
      }
  g_ptr_array_add (manager->types, (gpointer) type);
  return TRUE;
}

static gboolean
check_initial (MpkManager *m, GError **error)
{
  if (m->state == STATE_INITIAL)
    return TRUE;
  g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                       m->state == STATE_SHUTDOWN ? "manager has shut down" : "already started");
  return FALSE;
}

/* A fresh 0700 directory for the default socket, so nobody else can even
 * reach the socket file. */
static gboolean
make_private_address (MpkManager *m, GError **error)
{
  g_autoptr(GError) local = NULL;

  m->socket_dir = g_dir_make_tmp ("mpk-manager-XXXXXX", &local);
  if (m->socket_dir == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_FAILED, "cannot make the socket directory: %s",
                   local->message);
      return FALSE;
    }
  m->address = g_strdup_printf ("unix:%s/manager.sock", m->socket_dir);
  return TRUE;
}

/* Binds the listening socket here, before any fork, so the address (a
 * chosen port) is known when start() returns and early connections wait
 * in the backlog instead of failing. */
static gboolean
bind_listener (MpkManager *m, GError **error)
{
  g_autoptr(GSocketConnectable) parsed = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) local = NULL;
  GSocketAddress *address;

  if (m->address == NULL && !make_private_address (m, error))
    return FALSE;
  parsed = mpk__manager_parse_address (m->address, TRUE, error);
  if (parsed == NULL)
    return FALSE;
  address = G_SOCKET_ADDRESS (parsed);
  m->listener = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                              G_SOCKET_PROTOCOL_DEFAULT, &local);
  if (m->listener != NULL)
    g_socket_set_listen_backlog (m->listener, LISTEN_BACKLOG);
  if (m->listener != NULL && g_socket_bind (m->listener, address, TRUE, &local)
      && G_IS_UNIX_SOCKET_ADDRESS (address)
      && chmod (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)), 0600) < 0)
    g_set_error (&local, G_IO_ERROR, g_io_error_from_errno (errno), "chmod: %s",
                 g_strerror (errno));
  if (local != NULL || !g_socket_listen (m->listener, &local)
      || (bound = g_socket_get_local_address (m->listener, &local)) == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_FAILED, "cannot listen at %s: %s", m->address,
                   local->message);
      g_clear_object (&m->listener);
      return FALSE;
    }
  g_free (m->address);
  m->address = mpk__manager_format_address (bound);
  return TRUE;
}

/* In the server process, once it stopped: the private folder of a default
 * socket goes with it, so an owner killed before shutdown (SIGKILL, a
 * timeout) leaves nothing in $TMPDIR. The owner's own clean-up after a
 * shutdown then finds nothing left, which is fine. */
static void
remove_server_socket (MpkManager *m)
{
  if (m->socket_dir == NULL)
    return;
  if (g_str_has_prefix (m->address, "unix:"))
    unlink (m->address + 5);
  rmdir (m->socket_dir);
}

/* The server process's body. */
static int
server_main (gpointer data)
{
  MpkManager *m = data;
  g_autoptr(GError) error = NULL;
  struct signalfd_siginfo info = { 0 };
  struct rlimit files;
  sigset_t term;
  int stop_fd;
  gboolean ok;

  /* A Ctrl-C in the terminal goes to the whole process group: the server
   * must outlive it so the parent can still shut it down (bpo-36368). */
  signal (SIGINT, SIG_IGN);
  /* SIGTERM (from shutdown's escalation, or the parent-death signal below)
   * stops the server in order, so it can remove its socket folder: blocked
   * here, before any thread starts, and read from a signalfd by the
   * server's loop (not GLib's signal sources: they need GLib's worker
   * thread, which a forked child may think it has and does not). */
  sigemptyset (&term);
  sigaddset (&term, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &term, NULL);
  stop_fd = signalfd (-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
  /* ... and not outlive the process that started it (killed, or it crashed
   * before shutdown): an orphan would hold the address for good. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (getppid () != m->owner)
    {
      remove_server_socket (m);
      return 1;
    }
  g_ptr_array_set_size (m->idle, 0);   /* the parent's, not ours */
  if (m->report[1] >= 0)
    {
      /* The default address is made and bound here, once the parent-death
       * signal is armed: an owner killed at any moment leaves no folder
       * (before the fork there is none; after it, this process removes it). */
      g_autofree char *line = NULL;
      gsize len;

      close (m->report[0]);
      ok = bind_listener (m, &error);
      line = ok ? g_strdup_printf ("OK %s\n", m->address)
                : g_strdup_printf ("ERR %s\n", error->message);
      len = strlen (line);
      for (gsize done = 0; done < len;)
        {
          ssize_t n = write (m->report[1], line + done, len - done);

          if (n < 0 && errno != EINTR)
            break;
          if (n > 0)
            done += (gsize) n;
        }
      close (m->report[1]);
      if (!ok)
        {
          remove_server_socket (m);
          return 1;
        }
    }
  /* Each handshake in progress holds a file: this process is ours, so it
   * may use what the hard limit allows (the server bounds them anyway). */
  if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max)
    {
      files.rlim_cur = MAX (files.rlim_cur, MIN (files.rlim_max, 65536));
      setrlimit (RLIMIT_NOFILE, &files);
    }
  ok = mpk__manager_serve (m->listener, m->key, m->types, &m->object, FALSE, stop_fd, m->verbose,
                           &error);
  remove_server_socket (m);
  if (!ok)
    {
      g_printerr ("mpk-manager: %s\n",
                  error != NULL ? error->message : "this process already runs a manager server");
      return 1;
    }
  /* Stopped by SIGTERM: end as the signal says (exit code -15), as before. */
  if (stop_fd >= 0 && read (stop_fd, &info, sizeof info) == sizeof info)
    {
      fflush (NULL);
      signal (SIGTERM, SIG_DFL);
      pthread_sigmask (SIG_UNBLOCK, &term, NULL);
      raise (SIGTERM);
    }
  return 0;
}

/* Started managers of this process, for the exit handler. A program that
 * returns from main with one still running would otherwise wait forever
 * in mpk-process's exit handler, which joins every child (the server is
 * one). Python's manager has a finalizer that shuts it down first. */
static GMutex  started_lock;
static GSList *started;   /* MpkManager*, STATE_STARTED, under started_lock */

static void
managers_at_exit (void)
{
  for (;;)
    {
      MpkManager *m = NULL;

      g_mutex_lock (&started_lock);
      for (GSList *l = started; l != NULL && m == NULL; l = l->next)
        if (((MpkManager *) l->data)->owner == getpid ())
          m = l->data;
      started = g_slist_remove (started, m);
      g_mutex_unlock (&started_lock);
      if (m == NULL)
        return;
      /* Bounded: a server that does not stop is terminated, then killed. */
      mpk_manager_shutdown (m, G_USEC_PER_SEC, NULL);
    }
}

static void
started_add (MpkManager *m)
{
  static gboolean registered;

  g_mutex_lock (&started_lock);
  started = g_slist_prepend (started, m);
  /* After mpk_process_start() registered its handler: atexit handlers run
   * last-registered first, so the shutdown comes before the join. */
  if (!registered)
    registered = atexit (managers_at_exit) == 0;
  g_mutex_unlock (&started_lock);
}

static void
started_remove (MpkManager *m)
{
  g_mutex_lock (&started_lock);
  started = g_slist_remove (started, m);
  g_mutex_unlock (&started_lock);
}

static void
close_report (MpkManager *m)
{
  for (int i = 0; i < 2; i++)
    if (m->report[i] >= 0)
      {
        close (m->report[i]);
        m->report[i] = -1;
      }
}

/* Reads the server's "OK <address>" or "ERR <message>" line (bounded). */
static gboolean
read_report (MpkManager *m, GError **error)
{
  g_autoptr(GString) line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (m->timeout_us > 0 ? m->timeout_us
                                                                  : DEFAULT_TIMEOUT_US);

  close (m->report[1]);
  m->report[1] = -1;
  while (!strchr (line->str, '\n'))
    {
      struct pollfd p = { .fd = m->report[0], .events = POLLIN };
      gint64 left = deadline - g_get_monotonic_time ();
      char buf[256];
      ssize_t n;

      if (left <= 0 || poll (&p, 1, (int) MIN (left / 1000 + 1, G_MAXINT)) == 0)
        break;
      n = read (m->report[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (line, buf, n);
    }
  close_report (m);
  if (g_str_has_prefix (line->str, "OK unix:") && strchr (line->str, '\n') != NULL)
    {
      *strchr (line->str, '\n') = '\0';
      m->address = g_strdup (line->str + 3);
      m->socket_dir = g_path_get_dirname (m->address + 5);
      return TRUE;
    }
  if (g_str_has_prefix (line->str, "ERR "))
    g_set_error (error, MPK_ERROR, MPK_ERROR_FAILED, "%.*s", (int) strcspn (line->str + 4, "\n"),
                 line->str + 4);
  else
    g_set_error_literal (error, MPK_ERROR, MPK_ERROR_FAILED,
                         "the manager process did not say where it listens");
  return FALSE;
}

/**
 * mpk_manager_start:
 * @manager: (transfer none): a manager made with mpk_manager_new()
 * @error: return location for a #GError, or %NULL
 *
 * Binds the address and starts the server in a child process named
 * "manager", like Python's `BaseManager.start()` (the default private
 * address is made and bound by the server itself, before this returns). Its children (started
 * later with mpk_process_start()) can use @manager and its proxies. The
 * server ignores SIGINT (a Ctrl-C meant for the program) and ends when the
 * thread that started it ends (Linux's parent-death signal), so it never
 * outlives a program that died before mpk_manager_shutdown(); it then
 * removes its socket folder. A program that exits (returns from main)
 * without freeing @manager shuts it down at exit, as Python does.
 *
 * Returns: %TRUE once the server listens; %FALSE with %MPK_ERROR_INVALID
 *   ("already started", "manager has shut down"), %MPK_ERROR_FAILED, ...
 */
gboolean
mpk_manager_start (MpkManager *manager, GError **error)
{
  gboolean private_address;

  g_return_val_if_fail (manager != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_initial (manager, error))
    return FALSE;
  /* A given address is bound here; the default one by the server (see
   * server_main), which tells us where. */
  private_address = manager->address == NULL;
  if (private_address && pipe2 (manager->report, O_CLOEXEC) < 0)
    return mpk__set_error_from_errno (error, errno, "pipe");
  if (!private_address && !bind_listener (manager, error))
    return FALSE;
  manager->server = mpk_process_new ("manager", server_main, manager, NULL);
  if (!mpk_process_start (manager->server, error))
    {
      g_clear_pointer (&manager->server, mpk_process_unref);
      g_clear_object (&manager->listener);
      close_report (manager);
      return FALSE;
    }
  g_clear_object (&manager->listener);   /* the server has its own copy */
  if (private_address && !read_report (manager, error))
    {
      /* It could not bind (and ends), or never said: it goes either way. */
      if (!mpk_process_join (manager->server, SHUTDOWN_GRACE_US))
        {
          mpk_process_kill (manager->server, NULL);
          mpk_process_join (manager->server, SHUTDOWN_GRACE_US);
        }
      g_clear_pointer (&manager->server, mpk_process_unref);
      return FALSE;
    }
  manager->state = STATE_STARTED;
  started_add (manager);
  return TRUE;
}

static void
remove_socket_dir (MpkManager *m)
{
  if (m->socket_dir == NULL || m->owner != getpid ())
    return;
  if (g_str_has_prefix (m->address, "unix:"))
    unlink (m->address + 5);
  rmdir (m->socket_dir);
  g_clear_pointer (&m->socket_dir, g_free);
}

/**
 * mpk_manager_serve_forever:
 * @manager: (transfer none): a manager made with mpk_manager_new()
 * @error: return location for a #GError, or %NULL
 *
 * Runs the server in this process, like Python's
 * `manager.get_server().serve_forever()`, until a client calls
 * mpk_manager_shutdown() or the process gets SIGTERM or SIGINT. Objects
 * for remote clients are made by the clients (and found by name with
 * mpk_manager_publish() and mpk_manager_lookup()).
 *
 * Returns: %TRUE after a shutdown; %FALSE with @error if it could not start
 */
gboolean
mpk_manager_serve_forever (MpkManager *manager, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (manager != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_initial (manager, error) || !bind_listener (manager, error))
    return FALSE;
  manager->state = STATE_STARTED;
  ok = mpk__manager_serve (manager->listener, manager->key, manager->types, &manager->object,
                           TRUE, -1, manager->verbose, error);
  g_clear_object (&manager->listener);
  manager->state = STATE_SHUTDOWN;
  remove_socket_dir (manager);
  return ok;
}

/**
 * mpk_manager_connect:
 * @address: (transfer none): the server's address, as
 *   mpk_manager_get_address() gave it
 * @authkey: (transfer none): the server's key
 * @timeout_us: how long connecting may take, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Connects to a running manager, like Python's `BaseManager.connect()`,
 * and authenticates at once, so a wrong key is reported here.
 *
 * Returns: (transfer full): a client handle, or %NULL with
 *   %MPK_ERROR_AUTH, %MPK_ERROR_REFUSED (nothing listens there),
 *   %MPK_ERROR_TIMED_OUT, %MPK_ERROR_INVALID (a malformed address, an
 *   empty @authkey)
 */
MpkManager *
mpk_manager_connect (const char *address,
                     GBytes     *authkey,
                     gint64      timeout_us,
                     GError    **error)
{
  g_autoptr(MpkManager) m = NULL;
  MpkConnection *conn;

  g_return_val_if_fail (address != NULL && authkey != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  m = manager_new (address, FALSE, authkey, error);
  if (m == NULL)
    return NULL;
  m->state = STATE_CONNECTED;
  conn = open_connection (m, timeout_us, error);
  if (conn == NULL)
    return NULL;
  pool_give (m, conn);
  return g_steal_pointer (&m);
}

static gboolean
wait_server (MpkManager *m, gint64 timeout_us)
{
  return mpk_process_join (m->server, timeout_us) && !mpk_process_is_alive (m->server);
}

/**
 * mpk_manager_shutdown:
 * @manager: (transfer none): a manager
 * @timeout_us: how long the server may take to stop before it is
 *   terminated (SIGTERM, then SIGKILL a second later)
 * @error: return location for a #GError, or %NULL
 *
 * Stops the server, like Python's `shutdown()`: its objects are gone and
 * every client's next call fails with %MPK_ERROR_DISCONNECTED. Calling it
 * again does nothing. From a handle made by mpk_manager_connect() it asks
 * the server to stop and returns once the server has agreed.
 *
 * Returns: %TRUE when the server stopped (see mpk_manager_get_exitcode());
 *   %FALSE with @error if it could not be asked or did not die
 */
gboolean
mpk_manager_shutdown (MpkManager *manager, gint64 timeout_us, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (manager != NULL, FALSE);

  if (manager->state == STATE_SHUTDOWN || manager->state == STATE_INITIAL)
    return TRUE;
  if (manager->owner != getpid ())
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "only the process that started or connected the manager can shut it down");
      return FALSE;
    }
  /* A server that does not answer in @timeout_us is terminated below. */
  reply = manager_call_full (manager, NULL, 0, 0, "shutdown", NULL, 0,
                             timeout_us < 0 ? manager->timeout_us : MIN (timeout_us, manager->timeout_us),
                             &local);
  g_mutex_lock (&manager->pool_lock);
  g_ptr_array_set_size (manager->idle, 0);
  g_mutex_unlock (&manager->pool_lock);
  if (manager->state == STATE_CONNECTED)
    {
      manager->state = STATE_SHUTDOWN;
      if (reply == NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      return reply != NULL;
    }
  manager->state = STATE_SHUTDOWN;
  if (!wait_server (manager, timeout_us))
    {
      mpk_process_terminate (manager->server, NULL);
      if (!wait_server (manager, SHUTDOWN_GRACE_US))
        {
          mpk_process_kill (manager->server, NULL);
          if (!wait_server (manager, SHUTDOWN_GRACE_US))
            {
              g_set_error (error, MPK_ERROR, MPK_ERROR_FAILED,
                           "the manager (pid %d) did not die", (int) mpk_process_get_pid (manager->server));
              return FALSE;
            }
        }
    }
  remove_socket_dir (manager);
  return TRUE;
}

/**
 * mpk_manager_free:
 * @manager: (nullable) (transfer full): a manager
 *
 * In the process that started the server, shuts it down first (allowing
 * one second). In other processes (children that inherited @manager) it
 * only closes this process's connections. Free its proxies first.
 */
void
mpk_manager_free (MpkManager *manager)
{
  if (manager == NULL)
    return;
  if (manager->owner == getpid () && manager->state == STATE_STARTED)
    mpk_manager_shutdown (manager, G_USEC_PER_SEC, NULL);
  started_remove (manager);
  pool_adopt (manager);    /* a child closes only its copies */
  g_ptr_array_unref (manager->idle);
  g_mutex_clear (&manager->pool_lock);
  g_clear_pointer (&manager->server, mpk_process_unref);
  g_clear_object (&manager->listener);
  remove_socket_dir (manager);
  g_ptr_array_unref (manager->types);
  g_bytes_unref (manager->key);
  g_free (manager->socket_dir);
  g_free (manager->address);
  g_free (manager);
}

/**
 * mpk_manager_get_address:
 * @manager: (transfer none): a manager
 *
 * Where the server listens, in the form mpk_manager_new() and
 * mpk_manager_connect() take: after a start on port 0 or on the default
 * private socket, the address actually bound.
 *
 * Returns: (transfer none) (nullable): the address, owned by @manager;
 *   %NULL for a default address before mpk_manager_start()
 */
const char *
mpk_manager_get_address (MpkManager *manager)
{
  g_return_val_if_fail (manager != NULL, NULL);
  return manager->address;
}

/**
 * mpk_manager_get_authkey:
 * @manager: (transfer none): a manager
 *
 * The key clients must prove they know (a random one when none was
 * given); mpk_authkey_to_hex() writes it as text for another program.
 *
 * Returns: (transfer none): the key, owned by @manager
 */
GBytes *
mpk_manager_get_authkey (MpkManager *manager)
{
  g_return_val_if_fail (manager != NULL, NULL);
  return manager->key;
}

/**
 * mpk_manager_get_pid:
 * @manager: (transfer none): a manager
 *
 * The server process's id, for a handle that started it.
 *
 * Returns: the pid; 0 when this handle did not start the server
 */
GPid
mpk_manager_get_pid (MpkManager *manager)
{
  g_return_val_if_fail (manager != NULL, 0);
  return manager->server != NULL ? mpk_process_get_pid (manager->server) : 0;
}

/**
 * mpk_manager_get_exitcode:
 * @manager: (transfer none): a manager
 *
 * How the server process ended, for a handle that started it.
 *
 * Returns: its exit code after mpk_manager_shutdown(): 0 when it stopped
 *   cleanly, minus the signal when it had to be terminated;
 *   %MPK_EXITCODE_NONE while it runs or when this handle did not start it
 */
int
mpk_manager_get_exitcode (MpkManager *manager)
{
  g_return_val_if_fail (manager != NULL, MPK_EXITCODE_NONE);
  return manager->server != NULL ? mpk_process_get_exitcode (manager->server) : MPK_EXITCODE_NONE;
}

/**
 * mpk_manager_set_timeout:
 * @manager: (transfer none): a manager
 * @timeout_us: the time in microseconds, or %MPK_WAIT_FOREVER for no limit
 *
 * How long any call may wait for its answer beyond what it blocks for on
 * purpose (a queue get's own timeout): 30 seconds by default. A call past
 * it fails with %MPK_ERROR_TIMED_OUT. A dead manager is reported at once
 * whatever this is.
 */
void
mpk_manager_set_timeout (MpkManager *manager, gint64 timeout_us)
{
  g_return_if_fail (manager != NULL);
  manager->timeout_us = timeout_us;
}

/**
 * mpk_manager_get_timeout:
 * @manager: (transfer none): a manager
 *
 * See mpk_manager_set_timeout().
 *
 * Returns: the timeout in microseconds, or %MPK_WAIT_FOREVER
 */
gint64
mpk_manager_get_timeout (MpkManager *manager)
{
  g_return_val_if_fail (manager != NULL, 0);
  return manager->timeout_us;
}

/**
 * mpk_manager_set_verbose:
 * @manager: (transfer none): a manager that has not started
 * @verbose: whether the server says on stderr what it refuses and why
 *
 * For debugging a client the server refuses. Set it before
 * mpk_manager_start() or mpk_manager_serve_forever().
 */
void
mpk_manager_set_verbose (MpkManager *manager, gboolean verbose)
{
  g_return_if_fail (manager != NULL);
  manager->verbose = verbose;
}

/**
 * mpk_manager_get_stats:
 * @manager: (transfer none): a started or connected manager
 * @stats: (out caller-allocates): filled with the server's counters
 * @error: return location for a #GError, or %NULL
 *
 * Asks the server what it has seen since it started (one round trip).
 *
 * Returns: %TRUE with @stats filled; %FALSE with @error
 */
gboolean
mpk_manager_get_stats (MpkManager *manager, MpkManagerStats *stats, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  guint32 clients, objects;

  g_return_val_if_fail (manager != NULL && stats != NULL, FALSE);

  reply = manager_call (manager, NULL, 0, 0, "stats", NULL, 0, error);
  if (reply == NULL)
    return FALSE;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(ttttuu)")))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "a malformed stats reply");
      return FALSE;
    }
  g_variant_get (reply, "(ttttuu)", &stats->connections, &stats->auth_failures,
                 &stats->bad_requests, &stats->calls, &clients, &objects);
  stats->clients = clients;
  stats->objects = objects;
  return TRUE;
}

/* --- proxies ----------------------------------------------------------------------------- */

static MpkProxy *
proxy_new (MpkManager *m, const char *type_name, guint64 generation, guint64 id)
{
  MpkProxy *proxy = g_new0 (MpkProxy, 1);

  proxy->ref_count = 1;
  proxy->manager = m;
  proxy->type_name = g_strdup (type_name);
  proxy->generation = generation;
  proxy->id = id;
  proxy->owner = getpid ();
  return proxy;
}

static MpkProxy *
proxy_from_reply (MpkManager *m, const char *type_name, GVariant *ref, GError **error)
{
  guint64 generation, id;

  if (ref == NULL)
    return NULL;
  if (!mpk__manager_ref_parse (ref, &generation, &id))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "expected an object reference, got %s",
                   g_variant_get_type_string (ref));
      return NULL;
    }
  return proxy_new (m, type_name, generation, id);
}

/**
 * mpk_manager_create:
 * @manager: (transfer none): a started or connected manager
 * @type_name: (transfer none): "list", "dict", "value", "queue", "joinable_queue", "lock",
 *   "namespace", "iterator" or a registered type's name
 * @args: (transfer none) (nullable): the arguments for the type's create
 *   function, a tuple (a floating reference is sunk); %NULL for "()"
 * @error: return location for a #GError, or %NULL
 *
 * Makes an object in the server and returns a proxy for it. The object
 * lives while this process keeps the proxy, while it is stored in another
 * object or published, and while any process holds a proxy it got from
 * mpk_proxy_from_value() or mpk_manager_lookup(). Children started after
 * this call use the proxy as they inherit it.
 *
 * For a built-in type, mpk_manager_list() and the others give a typed
 * proxy; this gives a generic one (mpk_proxy_as_list() converts it).
 *
 * Returns: (transfer full) (nullable): a proxy, or %NULL with
 *   %MPK_ERROR_REMOTE (no such type, bad arguments),
 *   %MPK_ERROR_DISCONNECTED, ...
 */
MpkProxy *
mpk_manager_create (MpkManager  *manager,
                    const char  *type_name,
                    GVariant    *args,
                    GError     **error)
{
  g_autoptr(GVariant) owned = NULL, ref = NULL;

  g_return_val_if_fail (manager != NULL && type_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  owned = g_variant_ref_sink (args != NULL ? args : g_variant_new ("()"));
  ref = manager_call (manager, NULL, 0, 0, "create", g_variant_new ("(sv)", type_name, owned), 0,
                      error);
  return proxy_from_reply (manager, type_name, ref, error);
}

/**
 * mpk_proxy_ref:
 * @proxy: (transfer none): a proxy
 *
 * Takes a reference (nothing is sent to the server: the server counts
 * proxies, not references).
 *
 * Returns: (transfer full): @proxy
 */
MpkProxy *
mpk_proxy_ref (MpkProxy *proxy)
{
  g_return_val_if_fail (proxy != NULL, NULL);
  g_atomic_int_inc (&proxy->ref_count);
  return proxy;
}

/**
 * mpk_proxy_unref:
 * @proxy: (transfer full): a proxy
 *
 * Drops a reference. When the last one goes in the process that owns the
 * server-side count, the server is told (and frees the object if nothing
 * else holds it). A forked child's inherited proxies are borrowed: freeing
 * them there tells the server nothing.
 */
void
mpk_proxy_unref (MpkProxy *proxy)
{
  g_return_if_fail (proxy != NULL);

  if (!g_atomic_int_dec_and_test (&proxy->ref_count))
    return;
  if (proxy->owner == getpid () && proxy->manager->state != STATE_SHUTDOWN)
    {
      /* Nothing in the reply matters here: a manager that is gone has
       * dropped the object already. */
      GVariant *done = manager_call (proxy->manager, NULL, 0, 0, "decref",
                                     g_variant_new ("(tt)", proxy->generation, proxy->id),
                                     0, NULL);

      g_clear_pointer (&done, g_variant_unref);
    }
  g_free (proxy->type_name);
  g_free (proxy);
}

/**
 * mpk_proxy_get_type_name:
 * @proxy: (transfer none): a proxy
 *
 * The server's type of @proxy's object, as the server named it when the
 * proxy was made: "list", "joinable_queue", a registered type's name, ...
 *
 * Returns: (transfer none): the name, owned by @proxy
 */
const char *
mpk_proxy_get_type_name (MpkProxy *proxy)
{
  g_return_val_if_fail (proxy != NULL, NULL);
  return proxy->type_name;
}

/**
 * mpk_proxy_get_manager:
 * @proxy: (transfer none): a proxy
 *
 * The manager @proxy's object lives in, for mpk_proxy_from_value() on
 * references read from it.
 *
 * Returns: (transfer none): the manager
 */
MpkManager *
mpk_proxy_get_manager (MpkProxy *proxy)
{
  g_return_val_if_fail (proxy != NULL, NULL);
  return proxy->manager;
}

/**
 * mpk_proxy_call_full:
 * @proxy: (transfer none): a proxy (MPK_PROXY() of a typed one)
 * @method: (transfer none): the method's name
 * @args: (transfer none) (nullable): its arguments, a tuple (a floating
 *   reference is sunk); %NULL for "()"
 * @timeout_us: how long the method may block in the server (a queue get,
 *   a lock acquire), or %MPK_WAIT_FOREVER; the manager's timeout is added
 *   for the round trip
 * @error: return location for a #GError, or %NULL
 *
 * Calls @method on the object in the server, Python's `_callmethod()`.
 * An error the method sets arrives with its own domain, code and message.
 *
 * Returns: (transfer full) (nullable): the result ("()" when there is
 *   none), or %NULL with the method's error, %MPK_ERROR_REMOTE (no such method),
 *   %MPK_ERROR_STALE_HANDLE, %MPK_ERROR_DISCONNECTED, %MPK_ERROR_TIMED_OUT
 */
GVariant *
mpk_proxy_call_full (MpkProxy    *proxy,
                     const char  *method,
                     GVariant    *args,
                     gint64       timeout_us,
                     GError     **error)
{
  g_return_val_if_fail (proxy != NULL && method != NULL, NULL);
  g_return_val_if_fail (args == NULL || g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return manager_call (proxy->manager, proxy->type_name, proxy->generation, proxy->id, method,
                       args, timeout_us, error);
}

/**
 * mpk_proxy_call:
 * @proxy: (transfer none): a proxy (MPK_PROXY() of a typed one)
 * @method: (transfer none): the method's name
 * @args: (transfer none) (nullable): its arguments, a tuple (a floating
 *   reference is sunk); %NULL for "()"
 * @error: return location for a #GError, or %NULL
 *
 * mpk_proxy_call_full() with %MPK_NO_WAIT, for a method that does not
 * block.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error
 */
GVariant *
mpk_proxy_call (MpkProxy    *proxy,
                const char  *method,
                GVariant    *args,
                GError     **error)
{
  return mpk_proxy_call_full (proxy, method, args, MPK_NO_WAIT, error);
}

/**
 * mpk_proxy_to_value:
 * @proxy: (transfer none): a proxy (MPK_PROXY() of a typed one)
 *
 * A reference to @proxy's object that can be stored in a list, dict,
 * namespace, value or queue of the same manager: an object path
 * "/mpk/g<run>/o<id>". While stored it keeps the object alive.
 *
 * Returns: (transfer floating): the reference
 */
GVariant *
mpk_proxy_to_value (MpkProxy *proxy)
{
  g_return_val_if_fail (proxy != NULL, NULL);
  return mpk__manager_ref_new (proxy->generation, proxy->id);
}

/**
 * mpk_proxy_is_reference:
 * @value: (transfer none): any value (a floating reference is not sunk)
 *
 * Whether @value is a reference, as mpk_proxy_to_value() makes: an object
 * path of the form "/mpk/g<run>/o<id>". It says nothing of whether the
 * object still exists, or of its type.
 *
 * Returns: %TRUE for a reference
 */
gboolean
mpk_proxy_is_reference (GVariant *value)
{
  guint64 generation, id;

  g_return_val_if_fail (value != NULL, FALSE);
  return mpk__manager_ref_parse (value, &generation, &id);
}

/**
 * mpk_proxy_from_value:
 * @manager: (transfer none): the manager the reference comes from
 * @value: (transfer none): a reference (an "o", or a "v" holding one); a
 *   floating reference is not sunk
 * @error: return location for a #GError, or %NULL
 *
 * A proxy for a reference read from a container, owning its own count on
 * the server (the object stays alive while this proxy does).
 *
 * The reference is untrusted: any process could have stored it, so its
 * kind is what the server says the object is, and the proxy is generic.
 * Check the kind with mpk_proxy_as_list() (or another kind's) before
 * using it as a typed proxy.
 *
 * Returns: (transfer full) (nullable): a generic proxy, or %NULL with
 *   %MPK_ERROR_INVALID (not a reference), %MPK_ERROR_STALE_HANDLE (the
 *   object is gone), ...
 */
MpkProxy *
mpk_proxy_from_value (MpkManager *manager, GVariant *value, GError **error)
{
  g_autoptr(GVariant) inner = NULL, reply = NULL;
  guint64 generation, id;
  const char *type_name;

  g_return_val_if_fail (manager != NULL && value != NULL, NULL);

  inner = g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT) ? g_variant_get_variant (value)
                                                                : g_variant_ref (value);
  if (!mpk__manager_ref_parse (inner, &generation, &id))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "not an object reference: a %s value",
                   g_variant_get_type_string (inner));
      return NULL;
    }
  reply = manager_call (manager, NULL, 0, 0, "incref", g_variant_new ("(tt)", generation, id), 0,
                        error);
  if (reply == NULL)
    return NULL;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(s)")))
    {
      /* Without a type name the proxy could not be checked for its kind. */
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "a malformed incref reply");
      return NULL;
    }
  g_variant_get (reply, "(&s)", &type_name);
  return proxy_new (manager, type_name, generation, id);
}

/**
 * mpk_manager_publish:
 * @manager: (transfer none): a started or connected manager
 * @name: (transfer none): a name
 * @proxy: (transfer none): the object to name (it stays alive while
 *   named); MPK_PROXY() of a typed proxy
 * @error: return location for a #GError, or %NULL
 *
 * Names an object so that any client can find it with
 * mpk_manager_lookup(), the way Python's remote managers register
 * `get_queue`. Publishing a name again replaces the old object.
 *
 * Returns: %TRUE; %FALSE with @error (%MPK_ERROR_STALE_HANDLE when the
 *   object is gone, a transport error)
 */
gboolean
mpk_manager_publish (MpkManager *manager, const char *name, MpkProxy *proxy, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (manager != NULL && name != NULL && proxy != NULL, FALSE);

  reply = manager_call (manager, NULL, 0, 0, "publish",
                        g_variant_new ("(stt)", name, proxy->generation, proxy->id), 0, error);
  return reply != NULL;
}

/**
 * mpk_manager_lookup:
 * @manager: (transfer none): a started or connected manager
 * @name: (transfer none): a name given to mpk_manager_publish()
 * @error: return location for a #GError, or %NULL
 *
 * A proxy for the object published as @name, owning its own count on the
 * server. It is generic: what the name stands for is the server's to say,
 * so check it with mpk_proxy_as_queue() (or another kind's) to get a
 * typed proxy.
 *
 * Returns: (transfer full) (nullable): a generic proxy, or %NULL with
 *   %MPK_ERROR_KEY (no such name) or another error
 */
MpkProxy *
mpk_manager_lookup (MpkManager *manager, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = NULL, ref = NULL;
  const char *type_name;

  g_return_val_if_fail (manager != NULL && name != NULL, NULL);

  reply = manager_call (manager, NULL, 0, 0, "lookup", g_variant_new ("(s)", name), 0, error);
  if (reply == NULL)
    return NULL;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(so)")))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "a malformed lookup reply");
      return NULL;
    }
  g_variant_get (reply, "(&s@o)", &type_name, &ref);
  return proxy_from_reply (manager, type_name, ref, error);
}

/* --- for tests ----------------------------------------------------------------------------- */

int
mpk__manager_open_raw_for_testing (MpkManager *manager, gboolean authenticate, GError **error)
{
  MpkConnection *conn;
  int fd = connect_fd (manager, manager->timeout_us, error);

  if (!authenticate || fd < 0)
    return fd;
  /* The handshake on a copy, so the caller keeps a plain fd. */
  conn = mpk_connection_new_from_fd (fcntl (fd, F_DUPFD_CLOEXEC, 0), TRUE, TRUE, error);
  if (conn == NULL || !mpk__manager_auth_client (conn, manager->key, error))
    {
      close (fd);
      fd = -1;
    }
  if (conn != NULL)
    mpk_connection_free (conn);   /* nothing is buffered after the handshake's last frame */
  return fd;
}
