/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager.h: multiprocessing's Manager: a server process that holds
 * lists, dicts, values, queues, locks and namespaces (and types you
 * register) for other processes, which use them through proxies over an
 * authenticated Unix or TCP socket. */
#ifndef MPK_MANAGER_H
#define MPK_MANAGER_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

typedef struct _MpkManager     MpkManager;
typedef struct _MpkProxy       MpkProxy;
typedef struct _MpkManagerCall MpkManagerCall;

/* --- user-defined types (BaseManager.register) ----------------------------- */

/* A method runs in the server, in the thread serving the caller, with the
 * manager's lock held (so methods of all objects run one at a time and may
 * not block). @args is what the client passed (a tuple; "()" for none).
 * Return a new or floating GVariant (NULL means "()"), or set @error: its
 * domain, code and message reach the caller unchanged. */
typedef GVariant *(*MpkManagerMethodFunc) (gpointer         self,
                                           GVariant        *args,
                                           MpkManagerCall  *call,
                                           GError         **error);

typedef struct
{
  const char           *name;
  MpkManagerMethodFunc  func;
} MpkManagerMethod;

/* A type the server can hold. @create makes the referent from the client's
 * arguments (or sets @error); @free destroys it. @methods ends with a
 * { NULL, NULL } entry and is the whole exposed interface: any other name
 * is refused with MPK_ERROR_REMOTE. The struct must outlive the manager. */
typedef struct
{
  const char             *name;
  gpointer              (*create) (GVariant *args, GError **error);
  GDestroyNotify          free;
  const MpkManagerMethod *methods;
} MpkManagerType;

/* Inside a method: makes a new object of @type_name on the server from
 * @args (a tuple, sunk) and returns a reference to it, to return to the
 * client or to store (Python's method_to_typeid). The built-in "iterator"
 * takes "(av)", so a method can hand back a generator-like proxy. An
 * object nobody claims (mpk_proxy_from_value) or stores within a minute
 * is freed. */
MPK_API GVariant *mpk_manager_call_new_object (MpkManagerCall  *call,
                                               const char      *type_name,
                                               GVariant        *args,
                                               GError         **error);

/* --- the manager -----------------------------------------------------------
 *
 * Decisions a C server makes where Python's trusts its caller:
 *  - an empty authkey is refused (MPK_ERROR_INVALID) by _new and _connect:
 *    anyone can compute an HMAC under an empty key;
 *  - a decref beyond the counts proxies took (create, lookup, incref) is an
 *    MPK_ERROR_INVALID reply: a published name's or a container's count is
 *    never a client's to drop;
 *  - a started manager the program never freed is shut down when the
 *    program exits (as Python's finalizer does), before exit joins children;
 *  - the server removes its private socket folder when it stops, also when
 *    its owner was killed (the parent-death signal reaches it);
 *  - one list, dict or namespace holds at most 16 Mi (2^24) items: a call
 *    that would grow it past that (create, append, insert, extend,
 *    set_slice, repeat; set, setdefault, update) is an MPK_ERROR_INVALID
 *    reply and changes nothing, so no client can grow the server's memory
 *    without bound through one object (calls that replace items or keys
 *    still work at the limit). */

MPK_API MpkManager *mpk_manager_new             (const char      *address,
                                                 GBytes          *authkey,
                                                 GError         **error);
MPK_API MpkManager *mpk_manager_new_started     (GError         **error);
MPK_API gboolean    mpk_manager_register        (MpkManager      *manager,
                                                 const MpkManagerType *type,
                                                 GError         **error);
MPK_API gboolean    mpk_manager_start           (MpkManager      *manager,
                                                 GError         **error);
MPK_API gboolean    mpk_manager_serve_forever   (MpkManager      *manager,
                                                 GError         **error);
MPK_API MpkManager *mpk_manager_connect         (const char      *address,
                                                 GBytes          *authkey,
                                                 gint64           timeout_us,
                                                 GError         **error);
MPK_API gboolean    mpk_manager_shutdown        (MpkManager      *manager,
                                                 gint64           timeout_us,
                                                 GError         **error);
MPK_API void        mpk_manager_free            (MpkManager      *manager);

MPK_API const char *mpk_manager_get_address     (MpkManager      *manager);
MPK_API GBytes     *mpk_manager_get_authkey     (MpkManager      *manager);
MPK_API GPid        mpk_manager_get_pid         (MpkManager      *manager);
MPK_API int         mpk_manager_get_exitcode    (MpkManager      *manager);
MPK_API void        mpk_manager_set_timeout     (MpkManager      *manager,
                                                 gint64           timeout_us);
MPK_API gint64      mpk_manager_get_timeout     (MpkManager      *manager);
MPK_API void        mpk_manager_set_verbose     (MpkManager      *manager,
                                                 gboolean         verbose);

/* What the server has seen since it started (for tests, labs, monitoring). */
typedef struct
{
  guint64 connections;      /* accepted */
  guint64 auth_failures;    /* refused: wrong key, bad or oversized handshake, no
                             * answer in time (a handshake dropped to make room
                             * for a newer connection is not counted) */
  guint64 bad_requests;     /* malformed frames or requests after authentication */
  guint64 calls;            /* requests served */
  guint   clients;          /* connections open now */
  guint   objects;          /* objects held now */
} MpkManagerStats;

MPK_API gboolean    mpk_manager_get_stats       (MpkManager      *manager,
                                                 MpkManagerStats *stats,
                                                 GError         **error);

/* Names for objects, so a process that did not inherit a proxy (a remote
 * client) can find one: the server keeps the object alive while named. */
MPK_API gboolean    mpk_manager_publish         (MpkManager      *manager,
                                                 const char      *name,
                                                 MpkProxy        *proxy,
                                                 GError         **error);
MPK_API MpkProxy   *mpk_manager_lookup          (MpkManager      *manager,
                                                 const char      *name,
                                                 GError         **error);

/* --- proxies -----------------------------------------------------------------
 *
 * The built-in types' methods, for mpk_proxy_call() (the typed calls below
 * wrap them). Arguments are a tuple; "v" is any value; x an int64 index
 * (negative from the end). A blocking method (queue put/get/join, lock
 * acquire) waits for the timeout of mpk_proxy_call_full(); MPK_NO_WAIT
 * with mpk_proxy_call().
 *   list:      append(v) extend(av) insert(xv) get(x) set(xv) pop(x)
 *              remove(v) index(v) count(v) len() slice(xx) set_slice(xxav)
 *              copy() repeat(x) reverse() clear() str()
 *   dict:      get(v) get_default(vv) set(vv) pop(v) setdefault(vv)
 *              contains(v) len() keys() values() items() update(a{..})
 *              clear() iter()
 *   value:     get() set(v) add(x) compare_and_set(vv)
 *   queue:     put(v) get() qsize() empty() full(); joinable_queue also
 *              task_done() join()
 *   lock:      acquire() release()
 *   namespace: get(s) set(sv) delete(s) str()
 *   iterator:  next() → (bv): FALSE at the end
 * Results: list copy/slice and dict keys/values are "av", dict items
 * "a(vv)", len/index/count "x". A value that leaves its last container
 * (pop, get) carrying a reference keeps that object for a minute, for the
 * receiver's mpk_proxy_from_value(). */

MPK_API MpkProxy   *mpk_manager_create          (MpkManager      *manager,
                                                 const char      *type_name,
                                                 GVariant        *args,
                                                 GError         **error);
MPK_API MpkProxy   *mpk_proxy_ref               (MpkProxy        *proxy);
MPK_API void        mpk_proxy_unref             (MpkProxy        *proxy);
MPK_API const char *mpk_proxy_get_type_name     (MpkProxy        *proxy);
MPK_API MpkManager *mpk_proxy_get_manager       (MpkProxy        *proxy);
MPK_API GVariant   *mpk_proxy_call              (MpkProxy        *proxy,
                                                 const char      *method,
                                                 GVariant        *args,
                                                 GError         **error);
MPK_API GVariant   *mpk_proxy_call_full         (MpkProxy        *proxy,
                                                 const char      *method,
                                                 GVariant        *args,
                                                 gint64           timeout_us,
                                                 GError         **error);
MPK_API GVariant   *mpk_proxy_to_value          (MpkProxy        *proxy);
MPK_API MpkProxy   *mpk_proxy_from_value        (MpkManager      *manager,
                                                 GVariant        *value,
                                                 GError         **error);
MPK_API gboolean    mpk_proxy_is_reference      (GVariant        *value);
MPK_API char       *mpk_proxy_to_string         (MpkProxy        *proxy,
                                                 GError         **error);

/* list: a Python list of GVariant items (each stored as "v"). Indexes may
 * be negative (from the end). Out of range → MPK_ERROR_INDEX. */
MPK_API MpkProxy   *mpk_manager_list            (MpkManager      *manager,
                                                 GVariant        *items,
                                                 GError         **error);
MPK_API gboolean    mpk_list_append             (MpkProxy        *list,
                                                 GVariant        *item,
                                                 GError         **error);
MPK_API gboolean    mpk_list_extend             (MpkProxy        *list,
                                                 GVariant        *items,
                                                 GError         **error);
MPK_API gboolean    mpk_list_insert             (MpkProxy        *list,
                                                 gint64           index,
                                                 GVariant        *item,
                                                 GError         **error);
MPK_API GVariant   *mpk_list_get                (MpkProxy        *list,
                                                 gint64           index,
                                                 GError         **error);
MPK_API gboolean    mpk_list_set                (MpkProxy        *list,
                                                 gint64           index,
                                                 GVariant        *item,
                                                 GError         **error);
MPK_API GVariant   *mpk_list_pop                (MpkProxy        *list,
                                                 gint64           index,
                                                 GError         **error);
MPK_API gboolean    mpk_list_remove             (MpkProxy        *list,
                                                 GVariant        *item,
                                                 GError         **error);
MPK_API gint64      mpk_list_index              (MpkProxy        *list,
                                                 GVariant        *item,
                                                 GError         **error);
MPK_API gint64      mpk_list_count              (MpkProxy        *list,
                                                 GVariant        *item,
                                                 GError         **error);
MPK_API gint64      mpk_list_len                (MpkProxy        *list,
                                                 GError         **error);
MPK_API GVariant   *mpk_list_slice              (MpkProxy        *list,
                                                 gint64           start,
                                                 gint64           stop,
                                                 GError         **error);
MPK_API gboolean    mpk_list_set_slice          (MpkProxy        *list,
                                                 gint64           start,
                                                 gint64           stop,
                                                 GVariant        *items,
                                                 GError         **error);
MPK_API GVariant   *mpk_list_copy               (MpkProxy        *list,
                                                 GError         **error);
MPK_API gboolean    mpk_list_repeat             (MpkProxy        *list,
                                                 gint64           times,
                                                 GError         **error);
MPK_API gboolean    mpk_list_reverse            (MpkProxy        *list,
                                                 GError         **error);
MPK_API gboolean    mpk_list_clear              (MpkProxy        *list,
                                                 GError         **error);

/* dict: keys are GVariants of a basic type (numbers, strings, ...);
 * values any GVariant. A missing key → MPK_ERROR_KEY. */
MPK_API MpkProxy   *mpk_manager_dict            (MpkManager      *manager,
                                                 GVariant        *items,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_get                (MpkProxy        *dict,
                                                 GVariant        *key,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_get_default        (MpkProxy        *dict,
                                                 GVariant        *key,
                                                 GVariant        *fallback,
                                                 GError         **error);
MPK_API gboolean    mpk_dict_set                (MpkProxy        *dict,
                                                 GVariant        *key,
                                                 GVariant        *value,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_pop                (MpkProxy        *dict,
                                                 GVariant        *key,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_setdefault         (MpkProxy        *dict,
                                                 GVariant        *key,
                                                 GVariant        *value,
                                                 GError         **error);
MPK_API gboolean    mpk_dict_contains           (MpkProxy        *dict,
                                                 GVariant        *key,
                                                 GError         **error);
MPK_API gint64      mpk_dict_len                (MpkProxy        *dict,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_keys               (MpkProxy        *dict,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_values             (MpkProxy        *dict,
                                                 GError         **error);
MPK_API GVariant   *mpk_dict_items              (MpkProxy        *dict,
                                                 GError         **error);
MPK_API gboolean    mpk_dict_update             (MpkProxy        *dict,
                                                 GVariant        *items,
                                                 GError         **error);
MPK_API gboolean    mpk_dict_clear              (MpkProxy        *dict,
                                                 GError         **error);
MPK_API MpkProxy   *mpk_dict_iter               (MpkProxy        *dict,
                                                 GError         **error);

/* iterator: what mpk_dict_iter() and mpk_manager_call_new_object(...,
 * "iterator", ...) make. Returns FALSE with no error at the end. */
MPK_API gboolean    mpk_iterator_next           (MpkProxy        *iterator,
                                                 GVariant       **item,
                                                 GError         **error);

/* value: one GVariant; add and compare_and_set happen in one step on the
 * server (Python's Manager Value has neither, so `v.value += 1` races). */
MPK_API MpkProxy   *mpk_manager_value           (MpkManager      *manager,
                                                 GVariant        *initial,
                                                 GError         **error);
MPK_API GVariant   *mpk_value_proxy_get         (MpkProxy        *value,
                                                 GError         **error);
MPK_API gboolean    mpk_value_proxy_set         (MpkProxy        *value,
                                                 GVariant        *v,
                                                 GError         **error);
MPK_API gboolean    mpk_value_proxy_add         (MpkProxy        *value,
                                                 gint64           delta,
                                                 gint64          *result,
                                                 GError         **error);
MPK_API gboolean    mpk_value_proxy_compare_and_set (MpkProxy    *value,
                                                 GVariant        *expected,
                                                 GVariant        *desired,
                                                 gboolean        *swapped,
                                                 GError         **error);

/* queue: Python's queue.Queue in the server (so qsize() is exact).
 * maxsize 0 = unbounded. A joinable queue also has task_done and join. */
MPK_API MpkProxy   *mpk_manager_queue           (MpkManager      *manager,
                                                 gint64           maxsize,
                                                 GError         **error);
MPK_API MpkProxy   *mpk_manager_joinable_queue  (MpkManager      *manager,
                                                 gint64           maxsize,
                                                 GError         **error);
MPK_API gboolean    mpk_queue_proxy_put         (MpkProxy        *queue,
                                                 GVariant        *item,
                                                 gint64           timeout_us,
                                                 GError         **error);
MPK_API GVariant   *mpk_queue_proxy_get         (MpkProxy        *queue,
                                                 gint64           timeout_us,
                                                 GError         **error);
MPK_API gint64      mpk_queue_proxy_qsize       (MpkProxy        *queue,
                                                 GError         **error);
MPK_API gboolean    mpk_queue_proxy_empty       (MpkProxy        *queue,
                                                 GError         **error);
MPK_API gboolean    mpk_queue_proxy_full        (MpkProxy        *queue,
                                                 GError         **error);
MPK_API gboolean    mpk_queue_proxy_task_done   (MpkProxy        *queue,
                                                 GError         **error);
MPK_API gboolean    mpk_queue_proxy_join        (MpkProxy        *queue,
                                                 gint64           timeout_us,
                                                 GError         **error);

/* lock: a lock in the server, released by any process (as in Python).
 * Releasing an unlocked lock → MPK_ERROR_INVALID. */
MPK_API MpkProxy   *mpk_manager_lock            (MpkManager      *manager,
                                                 GError         **error);
MPK_API gboolean    mpk_lock_proxy_acquire      (MpkProxy        *lock,
                                                 gint64           timeout_us,
                                                 GError         **error);
MPK_API gboolean    mpk_lock_proxy_release      (MpkProxy        *lock,
                                                 GError         **error);

/* namespace: named attributes. Names starting with '_' are refused with
 * MPK_ERROR_INVALID (Python keeps them on the proxy, not the server).
 * mpk_proxy_to_string() gives "Namespace(name='Bob')". */
MPK_API MpkProxy   *mpk_manager_namespace       (MpkManager      *manager,
                                                 GError         **error);
MPK_API GVariant   *mpk_namespace_get           (MpkProxy        *ns,
                                                 const char      *name,
                                                 GError         **error);
MPK_API gboolean    mpk_namespace_set           (MpkProxy        *ns,
                                                 const char      *name,
                                                 GVariant        *value,
                                                 GError         **error);
MPK_API gboolean    mpk_namespace_delete        (MpkProxy        *ns,
                                                 const char      *name,
                                                 GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkManager, mpk_manager_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkProxy, mpk_proxy_unref)

G_END_DECLS

#endif /* MPK_MANAGER_H */
