/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-server.c: the Manager's server: the main loop accepts
 * connections and runs every handshake itself (no thread until a client
 * proves the key), a pool of threads serves authenticated connections (one
 * each), a table of objects, and the dispatch of each request to a method
 * of its object's type.
 *
 * All objects share one lock, held while a method runs: methods are short
 * and never block while holding it (a queue get waits with
 * mpk__manager_call_wait, which releases it; a big list splice unboxes its
 * items with mpk__manager_call_unlock), so one lock costs little and makes
 * every method atomic, which is what server-side add and compare-and-set
 * need. Each function below says whether it must be called with that lock
 * held ("Called with the server lock held"), takes it itself, or must be
 * called without it; the exception to all three is the shutdown, which
 * frees the objects without it once no client thread is left (server_free).
 *
 * At its file limit the server never spins: with a connection waiting and
 * no older handshake to drop, it stops watching the listening socket until
 * a descriptor comes free (see on_incoming). */
/* POLLRDHUP needs _GNU_SOURCE, which the Makefile defines. */
#include "mpk-manager-server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <glib-unix.h>

/* How often a blocked method looks whether its client hung up. */
#define HANGUP_CHECK_US (100 * 1000)

/* Authenticated connections served at once, each by a thread of its own
 * (a blocked get holds one); more wait for a thread. */
#define MAX_CLIENTS 256

/* The pool's thread count; a variable only so a test can lower it. */
static guint max_client_threads = MAX_CLIENTS;

/* Handshakes in progress at once. They hold no thread (the main loop runs
 * them all, a few hundred bytes each) and live at most
 * MPK__MANAGER_AUTH_TIMEOUT_US; past this many the oldest is dropped, so
 * idle connections without the key cannot lock key holders out. Also
 * bounded by the file limit (see pending_limit(); at the limit itself,
 * on_incoming). A dropped handshake is not counted in auth_failures. */
#define MAX_PENDING 1024
/* Connections accepted per wake-up, so pending answers are read between. */
#define ACCEPT_BATCH 32
/* How often handshakes past their time are dropped. */
#define AGE_CHECK_MS 250

/* How long an object nothing counts may wait for a client to take a proxy
 * for it: one just taken out of its last container (the reference is on
 * its way to the client), or one a method made (mpk_manager_call_new_object). */
#define UNCLAIMED_GRACE_US (60 * G_USEC_PER_SEC)

typedef struct
{
  guint64               id;
  const MpkManagerType *type;
  gpointer              data;
  /* Two counts, so a client can drop only what clients took: a decref
   * beyond @proxies is refused, and the server's own holds (a published
   * name, a stored reference) stay until the server lets them go. */
  gint64                proxies; /* creates, increfs, lookups not yet decref'd */
  gint64                refs;    /* @proxies plus containers and names */
  guint                 calls;   /* methods running on it (some may wait) */
  gint64                unclaimed_until;   /* refs == 0: freed then, unless claimed */
} Object;

typedef struct
{
  guint64 id;
  gint64  until;
} Unclaimed;

typedef struct
{
  GMutex                 lock;
  GCond                  changed;
  GHashTable            *objects;   /* id → Object* */
  guint64                next_id;
  guint64                generation;
  GHashTable            *types;     /* name → const MpkManagerType* */
  GHashTable            *names;     /* published name → Object* (holds a ref) */
  GHashTable            *clients;   /* MpkConnection* of live connections */
  GQueue                 waiting;   /* fd + 1 of authenticated connections no thread took yet */
  GQueue                 unclaimed; /* Unclaimed*, oldest first */
  GBytes                *key;
  const MpkObjectHeader *trace_object;
  gboolean               verbose;
  gboolean               stopping;
  gboolean               in_process;  /* for tests: no socket, no call waits */
  guint                  handlers;  /* client threads inside serve_client() */
  MpkManagerStats        stats;
  GMainLoop             *loop;
  /* Only the main loop's thread touches these, so no lock: */
  GMainContext          *context;
  GQueue                 pending;   /* Pending*, oldest first */
  guint                  max_pending;
  int                    listen_fd;      /* -1 once the server stops */
  GSource               *listen_source;  /* NULL while paused (see listen_pause) */
  guint64                wake;           /* on_incoming calls, to date each accept */
  gboolean               out_of_fds;     /* paused for want of one, and said so */
  GThreadPool           *pool;      /* serves authenticated connections */
} Server;

/* A connection whose handshake is under way (see mpk__manager_auth_begin). */
typedef struct
{
  int             fd;
  gint64          until;    /* dropped then, unauthenticated */
  GSource        *source;   /* readable */
  GList          *link;     /* in server->pending */
  guint64         wake;     /* the on_incoming call that accepted it */
  MpkManagerAuth  auth;
} Pending;

struct _MpkManagerCall
{
  MpkConnection *conn;
  int            fd;
  MpkDeadline    deadline;    /* how long this request may block */
  Object        *object;      /* while its method runs; NULL for the manager's own */
  const char    *type_name;   /* @object's (type names are static), for the tracer */
};

/* A process runs at most one server, and the built-in types' free functions
 * need it (to drop the references their contents hold), so it is global.
 * The struct is static and its lock never cleared: a client thread the
 * service started just as the server stopped still finds a valid lock and
 * the stopping flag, and leaves. */
static Server  the_server;
static Server *server;

static void
say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  if (!server->verbose)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("mpk-manager[%d]: %s\n", (int) getpid (), text);
}

static gboolean is_builtin (const MpkManagerType *type);

/* --- objects and references ------------------------------------------------- */

/* Our object @id, or NULL. Called with the server lock held. */
static Object *
object_lookup (guint64 id)
{
  return g_hash_table_lookup (server->objects, &id);
}

/* Frees @object once nothing counts it, no method runs on it and it is
 * not waiting to be claimed. Freeing a container drops the references it
 * held, which may free more objects: those wait in a list and are freed by
 * the outermost call, so a chain of a million nested lists (a client can
 * build one) costs a loop, not a million stack frames. Called with the
 * server lock held (@pending is under it), or by server_free. */
static void
object_maybe_free (Object *object)
{
  static GQueue pending = G_QUEUE_INIT;   /* under the server lock */
  static gboolean freeing;

  if (object->refs > 0 || object->calls > 0 || object->unclaimed_until != 0)
    return;
  g_hash_table_remove (server->objects, &object->id);
  g_queue_push_tail (&pending, object);
  if (freeing)
    return;
  freeing = TRUE;
  while ((object = g_queue_pop_head (&pending)) != NULL)
    {
      if (object->type->free != NULL && object->data != NULL)
        object->type->free (object->data);   /* may queue more */
      g_free (object);
    }
  freeing = FALSE;
}

/* A count below zero would free an object something still points at: no
 * path may get here with none left (decref checks @proxies first); if one
 * ever does, the object leaks rather than the server crashing. Called with
 * the server lock held. */
static gboolean
object_has_refs (Object *object)
{
  if (object->refs > 0)
    return TRUE;
  say ("internal error: object %" G_GUINT64_FORMAT " has no count to drop", object->id);
  return FALSE;
}

/* Drops a count; at zero the object is freed. Called with the server lock held. */
static void
object_unref (Object *object)
{
  if (object_has_refs (object) && --object->refs == 0)
    object_maybe_free (object);
}

/* Keeps @object (refs 0) alive for a while for the client it is going to.
 * Called with the server lock held. */
static void
object_park (Object *object)
{
  Unclaimed *u = g_new (Unclaimed, 1);

  u->id = object->id;
  u->until = object->unclaimed_until = g_get_monotonic_time () + UNCLAIMED_GRACE_US;
  g_queue_push_tail (&server->unclaimed, u);
}

/* Drops a count; at zero the object waits to be claimed instead of dying.
 * Called with the server lock held. */
static void
object_release (Object *object)
{
  if (object_has_refs (object) && --object->refs == 0)
    object_park (object);
}

/* Adds a count (a container, a name, a proxy), ending any wait to be
 * claimed. Called with the server lock held. */
static void
object_claim (Object *object)
{
  object->refs++;
  object->unclaimed_until = 0;
}

/* A count a client's proxy owns (and may decref). Called with the server lock held. */
static void
proxy_claim (Object *object)
{
  object_claim (object);
  object->proxies++;
}

/* Frees the parked objects whose grace is over and nobody claimed.
 * Called with the server lock held. */
static void
sweep_unclaimed (void)
{
  gint64 now = g_get_monotonic_time ();
  Unclaimed *u;

  while ((u = g_queue_peek_head (&server->unclaimed)) != NULL && u->until <= now)
    {
      Object *object = object_lookup (u->id);

      g_queue_pop_head (&server->unclaimed);
      /* An entry is stale once its object was claimed or parked again. */
      if (object != NULL && object->refs == 0 && object->unclaimed_until == u->until)
        {
          object->unclaimed_until = 0;
          object_maybe_free (object);
        }
      g_free (u);
    }
}

/* Enters a new object holding @data in the table, counted once.
 * Called with the server lock held. */
static Object *
object_new (const MpkManagerType *type, gpointer data)
{
  Object *object = g_new0 (Object, 1);

  object->id = ++server->next_id;
  object->type = type;
  object->data = data;
  object->refs = 1;
  g_hash_table_insert (server->objects, &object->id, object);
  return object;
}

/* Only values whose type can contain an object path need walking. (It
 * looks at @value only: no lock needed.) */
static gboolean
may_hold_refs (GVariant *value)
{
  const char *type = g_variant_get_type_string (value);

  return strchr (type, 'o') != NULL || strchr (type, 'v') != NULL;
}

/* Whether @value's bytes could hold a reference at all: every one is an
 * object path starting "/mpk/g" (mpk__manager_ref_parse), so a value
 * without those bytes has none. One scan of the serialized data spares
 * walking every child of a big "av" (set_slice of 100 000 items walked
 * 200 000 boxes, twice, under the server's lock). No lock needed. */
static gboolean
may_hold_refs_deep (GVariant *value)
{
  static const char prefix[] = "/mpk/g";
  gsize size;

  if (!may_hold_refs (value) || (size = g_variant_get_size (value)) == 0)
    return FALSE;   /* (an empty value's data is NULL) */
  return memmem (g_variant_get_data (value), size, prefix, sizeof prefix - 1) != NULL;
}

/* Calls @func on each of our objects @value refers to; stops at the first
 * FALSE. A reference to an object that is gone (or of another run) sets
 * @stale and stops the walk when @func is ref_ok; other walks skip it.
 * walk_refs and the RefFuncs are called with the server lock held. */
typedef gboolean (*RefFunc) (Object *object, gpointer data);

static gboolean ref_ok (Object *object, gpointer data);

static gboolean
walk_refs (GVariant *value, RefFunc func, gpointer data, gboolean *stale)
{
  guint64 generation, id;

  if (!may_hold_refs (value))
    return TRUE;
  if (mpk__manager_ref_parse (value, &generation, &id))
    {
      Object *object = generation == server->generation ? object_lookup (id) : NULL;

      if (object == NULL)
        {
          *stale = TRUE;
          return func != ref_ok;
        }
      return func (object, data);
    }
  if (g_variant_is_container (value))
    {
      gsize n = g_variant_n_children (value);

      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (value, i);

          if (!walk_refs (child, func, data, stale))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
ref_ok (Object *object, gpointer data)
{
  return TRUE;
}

static gboolean
ref_hold (Object *object, gpointer data)
{
  object_claim (object);
  return TRUE;
}

static gboolean
ref_drop (Object *object, gpointer data)
{
  object_unref (object);
  return TRUE;
}

static gboolean
ref_release (Object *object, gpointer data)
{
  object_release (object);
  return TRUE;
}

/* See mpk-manager-call.h. Called with the server lock held. */
gboolean
mpk__manager_hold_refs (MpkManagerCall *call, GVariant *value, GError **error)
{
  gboolean stale = FALSE;

  if (!may_hold_refs_deep (value))
    return TRUE;
  /* Check all first, so a refusal leaves no count changed. */
  if (!walk_refs (value, ref_ok, NULL, &stale))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE,
                           "the value refers to an object this manager no longer holds");
      return FALSE;
    }
  walk_refs (value, ref_hold, NULL, &stale);
  return TRUE;
}

/* See mpk-manager-call.h. Called with the server lock held, or by a
 * type's free function during server_free. */
void
mpk__manager_drop_refs (GVariant *value)
{
  gboolean stale = FALSE;

  if (value != NULL && server != NULL && may_hold_refs_deep (value))
    walk_refs (value, ref_drop, NULL, &stale);
}

/* See mpk-manager-call.h. Called with the server lock held. */
void
mpk__manager_release_refs (GVariant *value)
{
  gboolean stale = FALSE;

  if (value != NULL && server != NULL && may_hold_refs_deep (value))
    walk_refs (value, ref_release, NULL, &stale);
}

/* See mpk-manager-call.h. Called with the server lock held. */
gint64
mpk__manager_object_size (guint64 id)
{
  Object *object = object_lookup (id);

  return object != NULL ? mpk__manager_dict_size (object->type, object->data) : -1;
}

/* The object @call's method runs on (0 for the manager's own methods).
 * Called with the server lock held. */
guint64
mpk__manager_call_object_id (MpkManagerCall *call)
{
  return call->object != NULL ? call->object->id : 0;
}

/* --- waiting inside a method ------------------------------------------------------ */

/* Whether the client on @fd hung up (a poll of it; no lock needed). */
static gboolean
peer_gone (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLRDHUP };

  return poll (&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* See mpk-manager-call.h. Called with the server lock held; releases it
 * while it waits, and holds it again when it returns. */
gboolean
mpk__manager_call_wait (MpkManagerCall *call,
                        gint            timeout_code,
                        const char     *timeout_message,
                        GError        **error)
{
  gint64 now = g_get_monotonic_time ();

  if (now >= call->deadline)
    {
      g_set_error_literal (error, MPK_ERROR, timeout_code, timeout_message);
      return FALSE;
    }
  /* A client killed while it waits must not keep a thread (or, for a queue
   * get, take an item nobody will receive). */
  if (server->stopping || peer_gone (call->fd))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_DISCONNECTED,
                           server->stopping ? "the manager is shutting down"
                                            : "the client went away while its call waited");
      return FALSE;
    }
  g_cond_wait_until (&server->changed, &server->lock, MIN (call->deadline, now + HANGUP_CHECK_US));
  return TRUE;
}

/* See mpk-manager-call.h. Called with the server lock held. */
void
mpk__manager_call_changed (MpkManagerCall *call)
{
  g_cond_broadcast (&server->changed);
}

/* Called with the server lock held; releases it (see mpk-manager-call.h). */
void
mpk__manager_call_unlock (MpkManagerCall *call)
{
  g_mutex_unlock (&server->lock);
}

/* Called without the server lock, after _unlock; takes it again. */
void
mpk__manager_call_relock (MpkManagerCall *call)
{
  g_mutex_lock (&server->lock);
}

/* Makes an object of @type_name from @args (a tuple), counted once (the
 * caller's). The built-in containers store what they are made from, so
 * the references in @args are counted for them. Called with the server
 * lock held, so the type's create function is too. */
static Object *
object_create (MpkManagerCall *call, const char *type_name, GVariant *args, GError **error)
{
  const MpkManagerType *type = g_hash_table_lookup (server->types, type_name);
  gpointer data;

  if (type == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE,
                   "the manager has no type \"%s\" (register it before start)", type_name);
      return NULL;
    }
  if (is_builtin (type) && !mpk__manager_hold_refs (call, args, error))
    return NULL;
  data = type->create (args, error);
  if (data == NULL)
    {
      if (is_builtin (type))
        mpk__manager_drop_refs (args);
      return NULL;
    }
  return object_new (type, data);
}

/**
 * mpk_manager_call_new_object:
 * @call: (transfer none): the call the running method was given
 * @type_name: (transfer none): a built-in type's name (for example
 *   "iterator", which takes "(av)": the items it will give) or a
 *   registered one's
 * @args: (transfer none) (nullable): the arguments for the type's create
 *   function, a tuple; a floating reference is sunk; %NULL for "()"
 * @error: return location for a #GError, or %NULL
 *
 * Inside a registered type's method (an #MpkManagerMethodFunc): makes a new
 * object on the server and returns a reference to it, for the method to
 * return to the client or to store (Python's `method_to_typeid`). The
 * client makes a proxy of it with mpk_proxy_from_value(), a generic one:
 * mpk_proxy_as_iterator() (or another kind's) checks its kind. An object
 * nobody claims (with a proxy) or stores within a minute is freed.
 *
 * Called with the server lock held, as every method is.
 *
 * Returns: (transfer full) (nullable): the reference (an "o", see
 *   mpk_proxy_to_value()); %NULL with %MPK_ERROR_REMOTE (no such type) or
 *   the create function's error
 */
GVariant *
mpk_manager_call_new_object (MpkManagerCall  *call,
                             const char      *type_name,
                             GVariant        *args,
                             GError         **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (args != NULL ? args : g_variant_new ("()"));
  Object *object;

  g_return_val_if_fail (call != NULL && server != NULL, NULL);
  g_return_val_if_fail (type_name != NULL, NULL);
  g_return_val_if_fail (g_variant_is_of_type (owned, G_VARIANT_TYPE_TUPLE), NULL);

  object = object_create (call, type_name, owned, error);
  if (object == NULL)
    return NULL;
  /* Counted once stored or made into a proxy (which increfs), as Python's
   * server does; until then it waits to be claimed. */
  object->refs = 0;
  object_park (object);
  return mpk__manager_ref_new (server->generation, object->id);
}

/* --- the manager's own methods (object id 0) ---------------------------------------- */

/* Whether @type is one of ours (a static table: no lock needed). */
static gboolean
is_builtin (const MpkManagerType *type)
{
  for (guint i = 0; mpk__manager_builtin_types[i] != NULL; i++)
    if (mpk__manager_builtin_types[i] == type)
      return TRUE;
  return FALSE;
}

/* The manager's methods (object id 0): create, incref/decref, publish,
 * lookup, stats, ping and shutdown. Each is called with the server lock
 * held, as manager_method is. */
static GVariant *
manager_create (MpkManagerCall *call, GVariant *args, GError **error)
{
  const char *type_name;
  g_autoptr(GVariant) type_args = NULL;
  Object *object;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(sv)")))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE,
                   "create takes (type name, arguments), not %s", g_variant_get_type_string (args));
      return NULL;
    }
  g_variant_get (args, "(&sv)", &type_name, &type_args);
  if (!g_variant_is_of_type (type_args, G_VARIANT_TYPE_TUPLE))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE,
                   "create: the arguments for \"%s\" must be a tuple, not %s", type_name,
                   g_variant_get_type_string (type_args));
      return NULL;
    }
  object = object_create (call, type_name, type_args, error);
  if (object == NULL)
    return NULL;
  object->proxies = 1;   /* the count object_new made is the proxy's */
  return mpk__manager_ref_new (server->generation, object->id);
}

/* The object "(tt)" @args names, or NULL with STALE_HANDLE. Called with the server lock held. */
static Object *
arg_object (GVariant *args, const char *method, GError **error)
{
  guint64 generation, id;
  Object *object;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(tt)")))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE, "%s takes (generation, object id)", method);
      return NULL;
    }
  g_variant_get (args, "(tt)", &generation, &id);
  object = generation == server->generation ? object_lookup (id) : NULL;
  if (object == NULL)
    g_set_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE,
                 "the manager holds no object %" G_GUINT64_FORMAT, id);
  return object;
}

/* publish "(stt)": names an object. Called with the server lock held. */
static GVariant *
manager_publish (GVariant *args, GError **error)
{
  const char *name;
  guint64 generation, id;
  Object *object;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(stt)")))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_REMOTE,
                           "publish takes (name, generation, object id)");
      return NULL;
    }
  g_variant_get (args, "(&stt)", &name, &generation, &id);
  object = generation == server->generation ? object_lookup (id) : NULL;
  if (object == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE,
                   "the manager holds no object %" G_GUINT64_FORMAT, id);
      return NULL;
    }
  object_claim (object);
  g_hash_table_replace (server->names, g_strdup (name), object);   /* drops an older one */
  return NULL;
}

/* lookup "(s)": the named object, for a new proxy. Called with the server
 * lock held. */
static GVariant *
manager_lookup (GVariant *args, GError **error)
{
  const char *name;
  Object *object;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(s)")))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_REMOTE, "lookup takes (name)");
      return NULL;
    }
  g_variant_get (args, "(&s)", &name);
  object = g_hash_table_lookup (server->names, name);
  if (object == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_KEY, "nothing is published as \"%s\"", name);
      return NULL;
    }
  proxy_claim (object);    /* the caller's new proxy owns this count */
  return g_variant_new ("(s@o)", object->type->name,
                        mpk__manager_ref_new (server->generation, object->id));
}

/* stats: the counters. Called with the server lock held. */
static GVariant *
manager_stats (void)
{
  const MpkManagerStats *s = &server->stats;

  return g_variant_new ("(ttttuu)", s->connections, s->auth_failures, s->bad_requests,
                        s->calls, s->clients, g_hash_table_size (server->objects));
}

/* Runs the manager's own @method. Called with the server lock held. */
static GVariant *
manager_method (MpkManagerCall *call, const char *method, GVariant *args, GError **error)
{
  Object *object;

  if (strcmp (method, "create") == 0)
    return manager_create (call, args, error);
  if (strcmp (method, "incref") == 0 || strcmp (method, "decref") == 0)
    {
      object = arg_object (args, method, error);
      if (object == NULL)
        return NULL;
      if (method[0] == 'd')
        {
          if (object->proxies == 0)
            {
              /* Python's server trusts its clients here; a C server cannot
               * afford to: the count left may be a name's or a container's. */
              g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "decref of object %" G_GUINT64_FORMAT " without a proxy's "
                           "reference to drop", object->id);
              return NULL;
            }
          object->proxies--;
          object_unref (object);
          return NULL;
        }
      proxy_claim (object);
      return g_variant_new ("(s)", object->type->name);   /* what the new proxy is */
    }
  if (strcmp (method, "publish") == 0)
    return manager_publish (args, error);
  if (strcmp (method, "lookup") == 0)
    return manager_lookup (args, error);
  if (strcmp (method, "stats") == 0)
    return manager_stats ();
  if (strcmp (method, "ping") == 0)
    return g_variant_new ("(t)", server->generation);
  if (strcmp (method, "shutdown") == 0)
    {
      g_atomic_int_set (&server->stopping, TRUE);   /* the loop quits once the reply is sent */
      g_cond_broadcast (&server->changed);
      return NULL;
    }
  g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE, "the manager has no method \"%s\"", method);
  return NULL;
}

/* --- dispatch ------------------------------------------------------------------------- */

/* @type's method @name, or NULL (type tables are static: no lock needed). */
static const MpkManagerMethod *
find_method (const MpkManagerType *type, const char *name)
{
  for (const MpkManagerMethod *m = type->methods; m != NULL && m->name != NULL; m++)
    if (strcmp (m->name, name) == 0)
      return m;
  return NULL;
}

/* Runs @method of object @id. Called with the server lock held. (The method
 * may release it while it waits: see mpk__manager_call_wait.) */
static GVariant *
object_method (MpkManagerCall *call, guint64 generation, guint64 id, const char *method,
               GVariant *args, GError **error)
{
  const MpkManagerMethod *m;
  GVariant *result;

  if (generation != server->generation)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE,
                           "the proxy belongs to an earlier run of this manager");
      return NULL;
    }
  call->object = object_lookup (id);
  if (call->object == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE,
                   "the manager holds no object %" G_GUINT64_FORMAT " (it was freed)", id);
      return NULL;
    }
  m = find_method (call->object->type, method);
  if (m == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE, "'%s' object has no exposed method '%s'",
                   call->object->type->name, method);
      return NULL;
    }
  call->type_name = call->object->type->name;
  call->object->calls++;    /* alive while the method runs, even if it waits */
  result = m->func (call->object->data, args, call, error);
  call->object->calls--;
  object_maybe_free (call->object);
  call->object = NULL;
  return result;
}

typedef struct
{
  const char *type;     /* for the tracer */
  guint64     id;
  const char *method;
} CallInfo;

/* Runs one request. Returns the reply (floating) or NULL with @error.
 * Takes the server lock for the method (call it without). */
static GVariant *
dispatch (MpkConnection *conn, int fd, GVariant *request, CallInfo *info, GError **error)
{
  MpkManagerCall call = { .conn = conn, .fd = fd };
  g_autoptr(GVariant) args = NULL;
  guint64 generation;
  gint64 wait_us;
  GVariant *result;

  if (!g_variant_is_of_type (request, G_VARIANT_TYPE ("(ttxsv)")))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "malformed request: expected (ttxsv), got %s",
                   g_variant_get_type_string (request));
      return NULL;
    }
  g_variant_get (request, "(ttx&sv)", &generation, &info->id, &wait_us, &info->method, &args);
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "malformed request: the arguments must be a tuple, not %s",
                   g_variant_get_type_string (args));
      return NULL;
    }
  call.deadline = server->in_process ? g_get_monotonic_time ()
                                     : mpk__deadline_from_timeout (wait_us);
  g_mutex_lock (&server->lock);
  server->stats.calls++;
  sweep_unclaimed ();
  if (info->id == 0)
    result = manager_method (&call, info->method, args, error);
  else
    result = object_method (&call, generation, info->id, info->method, args, error);
  info->type = call.type_name;
  g_mutex_unlock (&server->lock);
  if (result == NULL && (error == NULL || *error == NULL))
    result = g_variant_new ("()");
  return result;
}

/* Sends the reply to one request. Called without the server lock: the
 * client may be slow to read. */
static gboolean
send_reply (MpkConnection *conn, GVariant *result, const GError *failure, CallInfo *info)
{
  GVariant *reply;
  MpkWireHeader header;
  gint64 ts = MPK__TRACING (MPK__TRACE_MANAGER) ? mpk__trace_now () : 0;
  gboolean ok;

  if (failure == NULL)
    reply = g_variant_new ("(bv)", TRUE, result);
  else
    reply = g_variant_new ("(bv)", FALSE, mpk__manager_error_to_variant (failure));
  g_variant_ref_sink (reply);
  ok = mpk__connection_send_header (conn, reply, 10 * G_USEC_PER_SEC, &header, NULL);
  if (ok && MPK__TRACING (MPK__TRACE_MANAGER))
    mpk__manager_trace ("manager.reply", MPK__TRACE_OUT, ts, &header, server->trace_object,
                        info->type, info->id, info->method, result, failure);
  g_variant_unref (reply);
  return ok;
}

/* Adds one to a counter of server->stats. Takes the server lock. */
static void
count (guint64 *counter)
{
  g_mutex_lock (&server->lock);
  (*counter)++;
  g_mutex_unlock (&server->lock);
}

/* For the tracer: the type of object @id (types are static strings).
 * Takes the server lock. */
static const char *
type_name (guint64 id)
{
  const char *name = NULL;
  Object *object;

  g_mutex_lock (&server->lock);
  object = id != 0 ? object_lookup (id) : NULL;
  if (object != NULL)
    name = object->type->name;
  g_mutex_unlock (&server->lock);
  return name;
}

/* Serves one authenticated connection until it closes or breaks. Called
 * without the server lock (each request takes it in dispatch). */
static void
serve_requests (MpkConnection *conn, int fd)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) request = NULL, result = NULL;
      CallInfo info = { NULL, 0, NULL };
      MpkWireHeader header;

      request = mpk__connection_recv_header (conn, MPK_WAIT_FOREVER, &header, &error);
      if (request == NULL)
        {
          if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_PROTOCOL)
              && !g_error_matches (error, MPK_ERROR, MPK_ERROR_TOO_BIG))
            return;   /* EOF, a cut-off frame, a closed stream: the client is gone */
          count (&server->stats.bad_requests);
          say ("bad frame from a client: %s", error->message);
          send_reply (conn, NULL, error, &info);   /* then read on, or stop if unreadable */
          continue;
        }
      if (MPK__TRACING (MPK__TRACE_MANAGER) && g_variant_is_of_type (request, G_VARIANT_TYPE ("(ttxsv)")))
        {
          g_autoptr(GVariant) args = g_variant_get_child_value (request, 4);
          g_autoptr(GVariant) inner = g_variant_get_variant (args);
          g_autoptr(GVariant) id = g_variant_get_child_value (request, 1);
          g_autoptr(GVariant) method = g_variant_get_child_value (request, 3);

          mpk__manager_trace ("manager.serve", MPK__TRACE_IN, 0, &header, server->trace_object,
                              type_name (g_variant_get_uint64 (id)), g_variant_get_uint64 (id),
                              g_variant_get_string (method, NULL), inner, NULL);
        }
      result = dispatch (conn, fd, request, &info, &error);
      if (result != NULL)
        g_variant_take_ref (result);   /* methods return a new or a floating value */
      else if (g_error_matches (error, MPK_ERROR, MPK_ERROR_PROTOCOL))
        {
          count (&server->stats.bad_requests);
          say ("malformed request: %s", error->message);
        }
      if (!send_reply (conn, result, error, &info))
        return;
      if (g_atomic_int_get (&server->stopping))
        {
          g_main_loop_quit (server->loop);
          return;
        }
    }
}

/* Enters @conn in the client set; FALSE if the server is stopping. Takes
 * the server lock. */
static gboolean
client_add (MpkConnection *conn)
{
  gboolean ok;

  g_mutex_lock (&the_server.lock);
  ok = !the_server.stopping;
  if (ok)
    {
      g_hash_table_add (the_server.clients, conn);
      the_server.handlers++;
    }
  g_mutex_unlock (&the_server.lock);
  return ok;
}

/* Takes @conn out of the client set. Takes the server lock. */
static void
client_remove (MpkConnection *conn)
{
  g_mutex_lock (&server->lock);
  g_hash_table_remove (server->clients, conn);
  server->stats.clients--;
  server->handlers--;
  g_cond_broadcast (&server->changed);
  g_mutex_unlock (&server->lock);
}

/* A connection counted in stats.clients since its accept was closed
 * without being served. Takes the server lock. */
static void
client_unserved (void)
{
  g_mutex_lock (&the_server.lock);
  the_server.stats.clients--;
  g_mutex_unlock (&the_server.lock);
}

/* Hands an authenticated connection to the pool. Its fd waits in
 * server->waiting rather than in the pool's own queue, which cannot be
 * emptied by hand: a shutdown closes what no thread took. Takes the
 * server lock. */
static void
hand_off (int fd)
{
  g_mutex_lock (&server->lock);
  g_queue_push_tail (&server->waiting, GINT_TO_POINTER (fd + 1));
  g_mutex_unlock (&server->lock);
  g_thread_pool_push (server->pool, GINT_TO_POINTER (1), NULL);   /* one task per fd */
}

/* A thread of the pool: serves the oldest authenticated connection waiting.
 * Takes the server lock for a moment (and dispatch, for each request). */
static void
serve_client (gpointer data, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  MpkConnection *conn;
  int fd;

  g_mutex_lock (&the_server.lock);
  fd = GPOINTER_TO_INT (g_queue_pop_head (&the_server.waiting)) - 1;
  g_mutex_unlock (&the_server.lock);
  if (fd < 0)
    return;   /* a shutdown closed it */
  conn = mpk_connection_new_from_fd (fd, TRUE, TRUE, &error);
  if (conn == NULL)
    {
      close (fd);
      client_unserved ();
      return;
    }
  mpk__connection_set_request_reply (conn);
  if (!client_add (conn))
    {
      mpk_connection_free (conn);
      client_unserved ();
      return;
    }
  serve_requests (conn, fd);
  client_remove (conn);
  mpk_connection_free (conn);
}

/* --- handshakes, all in the main loop's thread ---------------------------------------------- */

/* The main loop's functions are called without the server lock; only
 * pending_new and pending_free take it (pending_evict and pending_refuse
 * through pending_free), to count. */

/* Sends all of @out at once or fails: a handshake frame is a few hundred
 * bytes, which a fresh socket's buffer always takes, and the main loop
 * never waits for a peer. */
static gboolean
send_now (int fd, GByteArray *out)
{
  ssize_t n;

  do
    n = send (fd, out->data, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t) out->len;
}

static void listen_resume (void);

/* Ends a handshake: closes the connection unless @keep_fd (it goes on to
 * a serving thread). Takes the server lock, to count. */
static void
pending_free (Pending *p, gboolean keep_fd)
{
  g_queue_delete_link (&server->pending, p->link);
  g_source_destroy (p->source);
  g_source_unref (p->source);
  if (!keep_fd)
    {
      close (p->fd);
      g_mutex_lock (&server->lock);
      server->stats.clients--;
      g_mutex_unlock (&server->lock);
      listen_resume ();   /* a descriptor came free */
    }
  g_free (p);
}

/* Drops a handshake to make room: not the peer's failure, so not counted
 * in auth_failures. */
static void
pending_evict (Pending *p, const char *why)
{
  say ("dropped a handshake: %s", why);
  pending_free (p, FALSE);
}

/* Refuses a handshake: counted before the client can learn of it. */
static void
pending_refuse (Pending *p, GByteArray *verdict, const char *why)
{
  count (&server->stats.auth_failures);
  if (verdict != NULL && verdict->len > 0)
    send_now (p->fd, verdict);
  say ("refused a connection: %s", why);
  pending_free (p, FALSE);
}

/* Reads what the handshake still needs (never more than its one frame). */
static gboolean
on_pending_readable (gint fd, GIOCondition condition, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) out = NULL;
  Pending *p = data;
  gssize need;

  while ((need = mpk__manager_auth_need (&p->auth, &error)) > 0)
    {
      ssize_t n = recv (fd, p->auth.buf + p->auth.have, (gsize) need, MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        {
          pending_refuse (p, NULL, n == 0 ? "it hung up during the handshake" : g_strerror (errno));
          return G_SOURCE_REMOVE;
        }
      p->auth.have += (gsize) n;
    }
  out = g_byte_array_new ();
  if (need < 0 || !mpk__manager_auth_finish (&p->auth, server->key, out, &error))
    {
      pending_refuse (p, out, error->message);
      return G_SOURCE_REMOVE;
    }
  if (!send_now (fd, out))
    {
      pending_refuse (p, NULL, "could not send the verdict");
      return G_SOURCE_REMOVE;
    }
  pending_free (p, TRUE);
  hand_off (fd);
  return G_SOURCE_REMOVE;
}

/* Starts the handshake of a connection just accepted. Takes the server
 * lock, to count. */
static void
pending_new (int fd)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  Pending *p;

  if (server->pending.length >= server->max_pending)
    pending_evict (g_queue_peek_head (&server->pending),
                   "too many handshakes at once: the oldest goes");
  p = g_new0 (Pending, 1);
  p->fd = fd;
  p->wake = server->wake;
  p->until = g_get_monotonic_time () + MPK__MANAGER_AUTH_TIMEOUT_US;
  g_queue_push_tail (&server->pending, p);
  p->link = server->pending.tail;
  p->source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (p->source, G_SOURCE_FUNC (on_pending_readable), p, NULL);
  g_source_attach (p->source, server->context);
  g_mutex_lock (&server->lock);
  server->stats.connections++;
  server->stats.clients++;
  g_mutex_unlock (&server->lock);
  mpk__manager_auth_begin (&p->auth, out);
  if (!send_now (fd, out))
    pending_refuse (p, NULL, "could not send the greeting");
}

/* --- accepting, within the file limit ---------------------------------------------------- */

static gboolean on_incoming (gint listen_fd, GIOCondition condition, gpointer data);

/* Whether a connection waits in the listening socket's backlog (accept()
 * fails with EMFILE before it looks, so its failure does not say). */
static gboolean
connection_waiting (void)
{
  struct pollfd p = { .fd = server->listen_fd, .events = POLLIN };

  return poll (&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

/* Watches the listening socket again after listen_pause(). */
static void
listen_resume (void)
{
  if (server->listen_source != NULL || server->listen_fd < 0)
    return;
  server->listen_source = g_unix_fd_source_new (server->listen_fd, G_IO_IN);
  g_source_set_callback (server->listen_source, G_SOURCE_FUNC (on_incoming), NULL, NULL);
  g_source_attach (server->listen_source, server->context);
}

/* Stops watching the listening socket; on_incoming then returns
 * G_SOURCE_REMOVE. A connection waiting that cannot be accepted keeps the
 * socket readable, so the loop would call on_incoming at every turn and
 * spin. It waits in the backlog until a handshake ends (pending_free) or
 * the next age check (a serving thread may have closed its connection). */
static void
listen_pause (void)
{
  g_clear_pointer (&server->listen_source, g_source_unref);
}

/* Accepts up to ACCEPT_BATCH connections. Out of descriptors (or kernel
 * memory) with a connection waiting, the oldest handshake makes room,
 * once per call and only if it was accepted by an earlier call (so it had
 * a turn of the loop to answer, and one just accepted is never dropped for
 * the next in line); the connection then takes its descriptor at once.
 * With nothing to drop, listening pauses rather than spin. */
static gboolean
on_incoming (gint listen_fd, GIOCondition condition, gpointer data)
{
  gboolean evicted = FALSE;

  server->wake++;
  for (int i = 0; i < ACCEPT_BATCH; i++)
    {
      int fd = accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      int err = errno;
      Pending *oldest;

      if (fd >= 0)
        {
          server->out_of_fds = FALSE;
          pending_new (fd);
          if (evicted)
            break;   /* the other handshakes' answers are read before another goes */
          continue;
        }
      if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
        {
          if (err == EAGAIN || err == EWOULDBLOCK)
            break;   /* all taken */
          continue;  /* EINTR, or that connection's own error (accept(2)): the next */
        }
      if (!connection_waiting ())
        break;       /* out of descriptors, but nobody asks for one */
      oldest = g_queue_peek_head (&server->pending);
      if (!evicted && oldest != NULL && oldest->wake != server->wake
          && (err == EMFILE || err == ENFILE))
        {
          pending_evict (oldest, "out of file descriptors: the oldest handshake makes room "
                                 "for a waiting connection");
          evicted = TRUE;
          continue;
        }
      if (!server->out_of_fds)   /* said once, not at every retry */
        say ("%s: not accepting until a descriptor is free", g_strerror (err));
      server->out_of_fds = TRUE;
      listen_pause ();
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_age_check (gpointer data)
{
  gint64 now = g_get_monotonic_time ();
  Pending *p;

  listen_resume ();   /* if paused: a serving thread may have freed a descriptor */
  while ((p = g_queue_peek_head (&server->pending)) != NULL && p->until <= now)
    pending_refuse (p, NULL, "no answer to the greeting in time");
  return G_SOURCE_CONTINUE;
}

/* Half the files this process may open, less what the serving threads
 * use: a handshake costs one. */
static guint
pending_limit (void)
{
  struct rlimit limit;
  rlim_t spare;

  if (getrlimit (RLIMIT_NOFILE, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY)
    return MAX_PENDING;
  spare = limit.rlim_cur > MAX_CLIENTS + 64 ? limit.rlim_cur - MAX_CLIENTS - 64 : 32;
  return (guint) CLAMP (spare / 2, 16, MAX_PENDING);
}

/* --- running ----------------------------------------------------------------------------- */

static gboolean
on_stop_signal (gpointer data)
{
  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

static void
hang_up_client (gpointer key, gpointer value, gpointer data)
{
  int fd = mpk_connection_fileno (key, NULL);

  if (fd >= 0)
    shutdown (fd, SHUT_RDWR);   /* its thread sees EOF and ends */
}

/* Makes the server's state. Takes the server lock (no client thread runs
 * yet, but one left from an earlier run may still look at it). */
static void
server_new (GBytes *key, GPtrArray *types, const MpkObjectHeader *trace_object, gboolean verbose)
{
  guint8 random[8];

  server = &the_server;
  g_mutex_lock (&server->lock);   /* statically initialised; never cleared */
  server->stopping = FALSE;
  server->handlers = 0;
  memset (&server->stats, 0, sizeof server->stats);
  server->next_id = 0;
  server->objects = g_hash_table_new (g_int64_hash, g_int64_equal);
  server->types = g_hash_table_new (g_str_hash, g_str_equal);
  server->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) object_unref);
  server->clients = g_hash_table_new (NULL, NULL);
  server->key = g_bytes_ref (key);
  server->trace_object = trace_object;
  server->verbose = verbose;
  g_mutex_unlock (&server->lock);
  /* A new generation per run: a proxy from an earlier run is refused (STALE_HANDLE). */
  mpk__random_bytes (random, sizeof random);
  memcpy (&server->generation, random, sizeof random);
  for (guint i = 0; mpk__manager_builtin_types[i] != NULL; i++)
    g_hash_table_insert (server->types, (gpointer) mpk__manager_builtin_types[i]->name,
                         (gpointer) mpk__manager_builtin_types[i]);
  for (guint i = 0; types != NULL && i < types->len; i++)
    {
      const MpkManagerType *type = g_ptr_array_index (types, i);

      g_hash_table_insert (server->types, (gpointer) type->name, (gpointer) type);
    }
}

/* Frees every object and the server's state. Called without the server
 * lock, once no client thread is left: nobody else can reach the objects. */
static void
server_free (void)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_remove_all (server->names);
  g_queue_clear_full (&server->unclaimed, g_free);
  /* Free what is left, whatever its count: nobody can reach it any more. */
  while (g_hash_table_size (server->objects) > 0)
    {
      Object *object;

      g_hash_table_iter_init (&iter, server->objects);
      g_hash_table_iter_next (&iter, NULL, &value);
      object = value;
      object->refs = 1;
      object->calls = 0;
      object->unclaimed_until = 0;
      object_unref (object);
    }
  g_hash_table_unref (server->objects);
  g_hash_table_unref (server->types);
  g_hash_table_unref (server->names);
  g_hash_table_unref (server->clients);
  g_bytes_unref (server->key);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  server = NULL;
}

static GSource *
attach (GSource *source, GSourceFunc func, gpointer data)
{
  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, server->context);
  return source;
}

static void
detach (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static gboolean
on_stop_fd (gint fd, GIOCondition condition, gpointer data)
{
  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

/* See mpk-manager-server.h. Called without the server lock; takes it to
 * make the server (server_new) and to stop its client threads. */
gboolean
mpk__manager_serve (GSocket               *listener,
                    GBytes                *key,
                    GPtrArray             *types,
                    const MpkObjectHeader *trace_object,
                    gboolean               handle_signals,
                    int                    stop_fd,
                    gboolean               verbose,
                    GError               **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  GSource *sources[4] = { NULL, NULL, NULL, NULL };
  int listen_fd = g_socket_get_fd (listener);
  gint64 deadline;
  guint left;
  Pending *p;
  gpointer waiting;

  g_return_val_if_fail (server == NULL, FALSE);

  g_main_context_push_thread_default (context);
  server_new (key, types, trace_object, verbose);
  server->context = context;
  server->loop = g_main_loop_new (context, FALSE);
  server->max_pending = pending_limit ();
  server->pool = g_thread_pool_new (serve_client, NULL, (gint) max_client_threads, FALSE, error);
  if (server->pool == NULL)
    {
      server_free ();
      g_main_context_pop_thread_default (context);
      return FALSE;
    }
  g_unix_set_fd_nonblocking (listen_fd, TRUE, NULL);
  server->listen_fd = listen_fd;
  server->listen_source = NULL;
  server->wake = 0;
  server->out_of_fds = FALSE;
  listen_resume ();
  sources[0] = attach (g_timeout_source_new (AGE_CHECK_MS), on_age_check, NULL);
  if (stop_fd >= 0)
    sources[1] = attach (g_unix_fd_source_new (stop_fd, G_IO_IN), G_SOURCE_FUNC (on_stop_fd), NULL);
  if (handle_signals)
    {
      sources[2] = attach (g_unix_signal_source_new (SIGTERM), on_stop_signal, NULL);
      sources[3] = attach (g_unix_signal_source_new (SIGINT), on_stop_signal, NULL);
    }
  say ("serving (at most %u handshakes at once)", server->max_pending);
  g_main_loop_run (server->loop);

  /* Stop accepting, drop the handshakes, wake every waiting call, hang up
   * on every client, and wait for their threads before freeing the objects. */
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    detach (&sources[i]);
  server->listen_fd = -1;   /* no resume from here on */
  detach (&server->listen_source);
  g_socket_close (listener, NULL);
  while ((p = g_queue_peek_head (&server->pending)) != NULL)
    pending_free (p, FALSE);
  g_mutex_lock (&server->lock);
  server->stopping = TRUE;
  g_cond_broadcast (&server->changed);
  g_hash_table_foreach (server->clients, hang_up_client, NULL);
  /* Connections no thread took: their tasks, if any still run, find none. */
  while ((waiting = g_queue_pop_head (&server->waiting)) != NULL)
    {
      close (GPOINTER_TO_INT (waiting) - 1);
      server->stats.clients--;
    }
  /* Waiting calls notice within HANGUP_CHECK_US; a second is plenty. */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (server->handlers > 0 && g_cond_wait_until (&server->changed, &server->lock, deadline))
    ;
  left = server->handlers;
  g_mutex_unlock (&server->lock);
  if (left > 0)
    {
      /* A thread stuck in a user method: its objects must outlive it. The
       * pool's tasks still queued are dropped (their connections are closed). */
      say ("%u client thread(s) did not finish; leaving their objects", left);
      g_thread_pool_free (server->pool, TRUE, FALSE);
      g_main_context_pop_thread_default (context);
      return TRUE;
    }
  g_thread_pool_free (server->pool, FALSE, TRUE);
  say ("stopped after %" G_GUINT64_FORMAT " calls", server->stats.calls);
  server_free ();
  g_main_context_pop_thread_default (context);
  return TRUE;
}

/* --- in this process, for tests and the fuzz target ------------------------------------- */

void
mpk__manager_start_in_process_for_testing (void)
{
  g_autoptr(GBytes) key = g_bytes_new_static ("fuzz", 4);

  g_return_if_fail (server == NULL);
  server_new (key, NULL, NULL, FALSE);
  server->generation = MPK__MANAGER_TESTING_GENERATION;
  server->in_process = TRUE;
}

/* Takes the server lock (in dispatch), as a client's thread does. */
GVariant *
mpk__manager_dispatch_for_testing (GVariant *request, GError **error)
{
  CallInfo info = { NULL, 0, NULL };
  GVariant *result;

  g_return_val_if_fail (server != NULL && server->in_process, NULL);
  result = dispatch (NULL, -1, request, &info, error);
  return result != NULL ? g_variant_take_ref (result) : NULL;
}

/* Takes the server lock. */
guint
mpk__manager_objects_for_testing (void)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = g_hash_table_size (server->objects);
  g_mutex_unlock (&server->lock);
  return n;
}

void
mpk__manager_set_max_threads_for_testing (guint threads)
{
  max_client_threads = threads > 0 ? threads : MAX_CLIENTS;
}

/* Takes the server lock. */
void
mpk__manager_last_stats_for_testing (MpkManagerStats *stats)
{
  g_mutex_lock (&the_server.lock);
  *stats = the_server.stats;
  g_mutex_unlock (&the_server.lock);
}

void
mpk__manager_stop_in_process_for_testing (void)
{
  g_return_if_fail (server != NULL && server->in_process);
  server->in_process = FALSE;
  server_free ();
}
