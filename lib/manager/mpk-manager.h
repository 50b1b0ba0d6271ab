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

/**
 * MpkManager:
 *
 * A handle on a manager: the server this process started
 * (mpk_manager_start()), runs (mpk_manager_serve_forever()) or connected
 * to (mpk_manager_connect()). Free it with mpk_manager_free(), after its
 * proxies.
 */
typedef struct _MpkManager     MpkManager;

/**
 * MpkProxy:
 *
 * A generic proxy: a reference-counted handle on an object held by a
 * manager's server. It is what mpk_manager_create(), mpk_manager_lookup()
 * and mpk_proxy_from_value() return, and the only kind a registered type's
 * object has. The built-in kinds have a typed proxy each (#MpkListProxy and
 * the others); mpk_proxy_as_list() and its siblings check a generic proxy's
 * kind and give the typed one, and MPK_PROXY() goes the other way.
 */
typedef struct _MpkProxy       MpkProxy;

/**
 * MpkManagerCall:
 *
 * The call a registered type's method is running for, inside the server:
 * pass it to mpk_manager_call_new_object(). Valid only while the method
 * runs.
 */
typedef struct _MpkManagerCall MpkManagerCall;

/* --- typed proxies ---------------------------------------------------------
 *
 * One opaque type per built-in kind, so that the compiler, not a string
 * compared at run time, rejects a dict proxy passed to a list call:
 *
 *   kind        type                 made by                      calls
 *   list        MpkListProxy         mpk_manager_list()           mpk_list_proxy_*()
 *   dict        MpkDictProxy         mpk_manager_dict()           mpk_dict_proxy_*()
 *   value       MpkValueProxy        mpk_manager_value()          mpk_value_proxy_*()
 *   queue       MpkQueueProxy        mpk_manager_queue(),         mpk_queue_proxy_*()
 *                                    mpk_manager_joinable_queue()
 *   lock        MpkLockProxy         mpk_manager_lock()           mpk_lock_proxy_*()
 *   namespace   MpkNamespaceProxy    mpk_manager_namespace()      mpk_namespace_proxy_*()
 *   iterator    MpkIteratorProxy     mpk_dict_proxy_iter()        mpk_iterator_proxy_next()
 *   event       MpkEventProxy        mpk_manager_event()          mpk_event_proxy_*()
 *   semaphore   MpkSemaphoreProxy    mpk_manager_semaphore(),     mpk_semaphore_proxy_*()
 *                                    mpk_manager_bounded_semaphore()
 *   barrier     MpkBarrierProxy      mpk_manager_barrier()        mpk_barrier_proxy_*()
 *   condition   MpkConditionProxy    mpk_manager_condition()      mpk_condition_proxy_*()
 *   array       MpkArrayProxy        mpk_manager_array()          mpk_array_proxy_*()
 *
 * One naming scheme: a kind K's type is MpkKProxy and its calls are
 * mpk_K_proxy_VERB(), with Python's verb (mpk_list_proxy_append is
 * `l.append()`), including mpk_K_proxy_ref() and mpk_K_proxy_unref(), so
 * g_autoptr(MpkKProxy) works. Each is made by the manager, as Python's
 * `manager.list()` is: mpk_manager_K().
 *
 * Underneath, each is an MpkProxy (the structs are never defined; the
 * library casts). Between the two:
 *  - MPK_PROXY (p) is any typed proxy as the generic MpkProxy it is, for
 *    the generic calls (mpk_proxy_call(), mpk_manager_publish(),
 *    mpk_proxy_to_value(), ...). It is checked when compiling: a pointer
 *    that is not a proxy does not compile.
 *  - mpk_proxy_as_K (proxy, &error) goes from generic to typed, checked at
 *    run time: a proxy made from a reference (mpk_proxy_from_value(): a
 *    value another process stored, or a reply) or found by
 *    mpk_manager_lookup() is whatever the server says it is, and only this
 *    check makes it a typed proxy. It returns a new reference (the same
 *    object under its typed name) or NULL with MPK_ERROR_INVALID.
 * A queue and a joinable queue share MpkQueueProxy (Python's JoinableQueue
 * is a Queue): task_done and join on a plain queue are refused at run time
 * (a critical, as a caller's mistake is).
 * Registered types keep the generic MpkProxy and mpk_proxy_call(). Every
 * typed call still checks its proxy's kind (a g_return_if_fail), which
 * catches a pointer cast by hand to the wrong type. */

/**
 * MpkListProxy:
 *
 * A proxy for a list in a manager (Python's `ListProxy`), made by
 * mpk_manager_list(); its calls are mpk_list_proxy_*().
 */
typedef struct _MpkListProxy      MpkListProxy;
/**
 * MpkDictProxy:
 *
 * A proxy for a dict in a manager (Python's `DictProxy`), made by
 * mpk_manager_dict(); its calls are mpk_dict_proxy_*().
 */
typedef struct _MpkDictProxy      MpkDictProxy;
/**
 * MpkValueProxy:
 *
 * A proxy for one value in a manager (Python's `manager.Value()`), made by
 * mpk_manager_value(); its calls are mpk_value_proxy_*().
 */
typedef struct _MpkValueProxy     MpkValueProxy;
/**
 * MpkQueueProxy:
 *
 * A proxy for a queue in a manager (Python's `manager.Queue()` or
 * `manager.JoinableQueue()`), made by mpk_manager_queue() or
 * mpk_manager_joinable_queue(); its calls are mpk_queue_proxy_*().
 */
typedef struct _MpkQueueProxy     MpkQueueProxy;
/**
 * MpkLockProxy:
 *
 * A proxy for a lock in a manager (Python's `manager.Lock()`), made by
 * mpk_manager_lock(); its calls are mpk_lock_proxy_*().
 */
typedef struct _MpkLockProxy      MpkLockProxy;
/**
 * MpkNamespaceProxy:
 *
 * A proxy for a namespace in a manager (Python's `manager.Namespace()`),
 * made by mpk_manager_namespace(); its calls are mpk_namespace_proxy_*().
 */
typedef struct _MpkNamespaceProxy MpkNamespaceProxy;
/**
 * MpkIteratorProxy:
 *
 * A proxy for an iterator in a manager, made by mpk_dict_proxy_iter() (or,
 * from a reference a registered method returned, by
 * mpk_proxy_as_iterator()); its call is mpk_iterator_proxy_next().
 */
typedef struct _MpkIteratorProxy  MpkIteratorProxy;
/**
 * MpkEventProxy:
 *
 * A proxy for an event in a manager (Python's `manager.Event()`), made by
 * mpk_manager_event(); its calls are mpk_event_proxy_*().
 */
typedef struct _MpkEventProxy     MpkEventProxy;
/**
 * MpkSemaphoreProxy:
 *
 * A proxy for a semaphore in a manager (Python's `manager.Semaphore()` or
 * `manager.BoundedSemaphore()`), made by mpk_manager_semaphore() or
 * mpk_manager_bounded_semaphore(); its calls are mpk_semaphore_proxy_*().
 */
typedef struct _MpkSemaphoreProxy MpkSemaphoreProxy;
/**
 * MpkBarrierProxy:
 *
 * A proxy for a barrier in a manager (Python's `manager.Barrier()`), made
 * by mpk_manager_barrier(); its calls are mpk_barrier_proxy_*().
 */
typedef struct _MpkBarrierProxy   MpkBarrierProxy;
/**
 * MpkConditionProxy:
 *
 * A proxy for a condition in a manager (Python's `manager.Condition()`),
 * made by mpk_manager_condition(); its calls are mpk_condition_proxy_*().
 */
typedef struct _MpkConditionProxy MpkConditionProxy;
/**
 * MpkArrayProxy:
 *
 * A proxy for an array of numbers in a manager (Python's
 * `manager.Array(typecode, sequence)`), made by mpk_manager_array(); its
 * calls are mpk_array_proxy_*().
 */
typedef struct _MpkArrayProxy     MpkArrayProxy;

/**
 * MPK_PROXY:
 * @p: a typed proxy (#MpkListProxy, ...) or an #MpkProxy
 *
 * @p as the generic #MpkProxy it is (the same pointer: no reference is
 * taken or dropped), for the generic calls: mpk_proxy_call(),
 * mpk_proxy_to_value(), mpk_manager_publish(), mpk_proxy_to_string(), ...
 * Unlike a plain cast it is checked when compiling: a pointer that is not a
 * proxy (an #MpkManager, a #gpointer, %NULL) is a compile error.
 */
#define MPK_PROXY(p) _Generic ((p),                                   \
    MpkProxy *:          (MpkProxy *) (p),                            \
    MpkListProxy *:      (MpkProxy *) (p),                            \
    MpkDictProxy *:      (MpkProxy *) (p),                            \
    MpkValueProxy *:     (MpkProxy *) (p),                            \
    MpkQueueProxy *:     (MpkProxy *) (p),                            \
    MpkLockProxy *:      (MpkProxy *) (p),                            \
    MpkNamespaceProxy *: (MpkProxy *) (p),                            \
    MpkIteratorProxy *:  (MpkProxy *) (p),                            \
    MpkEventProxy *:     (MpkProxy *) (p),                            \
    MpkSemaphoreProxy *: (MpkProxy *) (p),                            \
    MpkBarrierProxy *:   (MpkProxy *) (p),                            \
    MpkConditionProxy *: (MpkProxy *) (p),                            \
    MpkArrayProxy *:     (MpkProxy *) (p))

/* --- user-defined types (BaseManager.register) ----------------------------- */

/**
 * MpkManagerMethodFunc:
 * @self: (transfer none): the object, as the type's create function made it
 * @args: (transfer none): what the client passed: a tuple ("()" for none)
 * @call: (transfer none): the call, for mpk_manager_call_new_object()
 * @error: return location for a #GError
 *
 * A method of a registered type. It runs in the server, in the thread
 * serving the caller, with the server's lock held: the methods of all
 * objects run one at a time, so a method must not block. An error it sets
 * reaches the caller with its domain, code and message unchanged.
 *
 * Returns: (transfer full) (nullable): the result, new or floating; %NULL
 *   for "()" or with @error set
 */
typedef GVariant *(*MpkManagerMethodFunc) (gpointer         self,
                                           GVariant        *args,
                                           MpkManagerCall  *call,
                                           GError         **error);

/**
 * MpkManagerMethod:
 * @name: the name clients call it by (mpk_proxy_call())
 * @func: the method
 *
 * One entry of #MpkManagerType's method table.
 */
typedef struct
{
  const char           *name;
  MpkManagerMethodFunc  func;
} MpkManagerMethod;

/**
 * MpkManagerCreateFunc:
 * @args: (transfer none): the client's arguments: a tuple, "()" for none
 * @error: return location for a #GError
 *
 * Makes an object of a registered type, in the server, from what the
 * client passed to mpk_manager_create(). It runs with the server's lock
 * held. An error it sets reaches the client unchanged.
 *
 * Returns: (transfer full) (nullable): the object, owned by the server
 *   (which frees it with the type's free function); %NULL with @error set
 */
typedef gpointer (*MpkManagerCreateFunc) (GVariant  *args,
                                          GError   **error);

/**
 * MpkManagerType:
 * @name: the type's name, for mpk_manager_create(); not a built-in's
 * @create: makes an object from the client's arguments
 * @free: (nullable): destroys an object @create made
 * @methods: the whole interface clients can call, ended by a
 *   `{ NULL, NULL }` entry: any other name is refused with
 *   %MPK_ERROR_REMOTE
 *
 * A type the server can hold, for mpk_manager_register() (Python's
 * `BaseManager.register()`). The struct must outlive the manager. Clients
 * hold its objects through a generic #MpkProxy. @create, @free and the
 * methods run in the server with the server's lock held (@free also while
 * the server stops, once no client is served), so they must not block.
 */
typedef struct
{
  const char             *name;
  MpkManagerCreateFunc    create;
  GDestroyNotify          free;
  const MpkManagerMethod *methods;
} MpkManagerType;

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

/**
 * MpkManagerStats:
 * @connections: connections accepted
 * @auth_failures: connections refused: a wrong key, a bad or oversized
 *   handshake, no answer in time (a handshake dropped to make room for a
 *   newer connection is not counted)
 * @bad_requests: malformed frames or requests after authentication
 * @calls: requests served
 * @clients: connections open now
 * @objects: objects held now
 *
 * What the server has seen since it started, from mpk_manager_get_stats()
 * (for tests, labs and monitoring).
 */
typedef struct
{
  guint64 connections;
  guint64 auth_failures;
  guint64 bad_requests;
  guint64 calls;
  guint   clients;
  guint   objects;
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

/* --- generic proxies -----------------------------------------------------------
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
 *   event:     set() clear() is_set() wait()
 *   semaphore: acquire() release() get_value()
 *   barrier:   wait() → x abort() reset() n_waiting() parties() broken()
 *   condition: acquire() release() wait() → b (the lock is not taken
 *              again: acquire() follows) notify(x) (x < 0: all)
 *   array:     len() get(x) set(xv) tolist() (numbers: "x", or "d" for
 *              typecodes f and d)
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

/* From a generic proxy to a typed one, checked at run time: a new
 * reference, or NULL with MPK_ERROR_INVALID naming both kinds. */
MPK_API MpkListProxy      *mpk_proxy_as_list      (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkDictProxy      *mpk_proxy_as_dict      (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkValueProxy     *mpk_proxy_as_value     (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkQueueProxy     *mpk_proxy_as_queue     (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkLockProxy      *mpk_proxy_as_lock      (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkNamespaceProxy *mpk_proxy_as_namespace (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkIteratorProxy  *mpk_proxy_as_iterator  (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkEventProxy     *mpk_proxy_as_event     (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkSemaphoreProxy *mpk_proxy_as_semaphore (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkBarrierProxy   *mpk_proxy_as_barrier   (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkConditionProxy *mpk_proxy_as_condition (MpkProxy  *proxy,
                                                   GError   **error);
MPK_API MpkArrayProxy     *mpk_proxy_as_array     (MpkProxy  *proxy,
                                                   GError   **error);

/* --- list: a Python list of GVariant items (each stored as "v"). Indexes
 * may be negative (from the end). Out of range → MPK_ERROR_INDEX. */
MPK_API MpkListProxy *mpk_manager_list          (MpkManager    *manager,
                                                 GVariant      *items,
                                                 GError       **error);
MPK_API MpkListProxy *mpk_list_proxy_ref        (MpkListProxy  *list);
MPK_API void        mpk_list_proxy_unref        (MpkListProxy  *list);
MPK_API gboolean    mpk_list_proxy_append       (MpkListProxy  *list,
                                                 GVariant      *item,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_extend       (MpkListProxy  *list,
                                                 GVariant      *items,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_insert       (MpkListProxy  *list,
                                                 gint64         index,
                                                 GVariant      *item,
                                                 GError       **error);
MPK_API GVariant   *mpk_list_proxy_get          (MpkListProxy  *list,
                                                 gint64         index,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_set          (MpkListProxy  *list,
                                                 gint64         index,
                                                 GVariant      *item,
                                                 GError       **error);
MPK_API GVariant   *mpk_list_proxy_pop          (MpkListProxy  *list,
                                                 gint64         index,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_remove       (MpkListProxy  *list,
                                                 GVariant      *item,
                                                 GError       **error);
MPK_API gint64      mpk_list_proxy_index        (MpkListProxy  *list,
                                                 GVariant      *item,
                                                 GError       **error);
MPK_API gint64      mpk_list_proxy_count        (MpkListProxy  *list,
                                                 GVariant      *item,
                                                 GError       **error);
MPK_API gint64      mpk_list_proxy_len          (MpkListProxy  *list,
                                                 GError       **error);
MPK_API GVariant   *mpk_list_proxy_slice        (MpkListProxy  *list,
                                                 gint64         start,
                                                 gint64         stop,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_set_slice    (MpkListProxy  *list,
                                                 gint64         start,
                                                 gint64         stop,
                                                 GVariant      *items,
                                                 GError       **error);
MPK_API GVariant   *mpk_list_proxy_copy         (MpkListProxy  *list,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_repeat       (MpkListProxy  *list,
                                                 gint64         times,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_reverse      (MpkListProxy  *list,
                                                 GError       **error);
MPK_API gboolean    mpk_list_proxy_clear        (MpkListProxy  *list,
                                                 GError       **error);

/* --- dict: keys are GVariants of a basic type (numbers, strings, ...);
 * values any GVariant. A missing key → MPK_ERROR_KEY. */
MPK_API MpkDictProxy *mpk_manager_dict          (MpkManager    *manager,
                                                 GVariant      *items,
                                                 GError       **error);
MPK_API MpkDictProxy *mpk_dict_proxy_ref        (MpkDictProxy  *dict);
MPK_API void        mpk_dict_proxy_unref        (MpkDictProxy  *dict);
MPK_API GVariant   *mpk_dict_proxy_get          (MpkDictProxy  *dict,
                                                 GVariant      *key,
                                                 GError       **error);
MPK_API GVariant   *mpk_dict_proxy_get_default  (MpkDictProxy  *dict,
                                                 GVariant      *key,
                                                 GVariant      *fallback,
                                                 GError       **error);
MPK_API gboolean    mpk_dict_proxy_set          (MpkDictProxy  *dict,
                                                 GVariant      *key,
                                                 GVariant      *value,
                                                 GError       **error);
MPK_API GVariant   *mpk_dict_proxy_pop          (MpkDictProxy  *dict,
                                                 GVariant      *key,
                                                 GError       **error);
MPK_API GVariant   *mpk_dict_proxy_setdefault   (MpkDictProxy  *dict,
                                                 GVariant      *key,
                                                 GVariant      *value,
                                                 GError       **error);
MPK_API gboolean    mpk_dict_proxy_contains     (MpkDictProxy  *dict,
                                                 GVariant      *key,
                                                 GError       **error);
MPK_API gint64      mpk_dict_proxy_len          (MpkDictProxy  *dict,
                                                 GError       **error);
MPK_API GVariant   *mpk_dict_proxy_keys         (MpkDictProxy  *dict,
                                                 GError       **error);
MPK_API GVariant   *mpk_dict_proxy_values       (MpkDictProxy  *dict,
                                                 GError       **error);
MPK_API GVariant   *mpk_dict_proxy_items        (MpkDictProxy  *dict,
                                                 GError       **error);
MPK_API gboolean    mpk_dict_proxy_update       (MpkDictProxy  *dict,
                                                 GVariant      *items,
                                                 GError       **error);
MPK_API gboolean    mpk_dict_proxy_clear        (MpkDictProxy  *dict,
                                                 GError       **error);
MPK_API MpkIteratorProxy *mpk_dict_proxy_iter   (MpkDictProxy  *dict,
                                                 GError       **error);

/* --- iterator: what mpk_dict_proxy_iter() makes (and, through
 * mpk_proxy_as_iterator(), what a registered method's
 * mpk_manager_call_new_object (call, "iterator", ...) returns). */
MPK_API MpkIteratorProxy *mpk_iterator_proxy_ref (MpkIteratorProxy *iterator);
MPK_API void        mpk_iterator_proxy_unref    (MpkIteratorProxy *iterator);
MPK_API gboolean    mpk_iterator_proxy_next     (MpkIteratorProxy *iterator,
                                                 GVariant        **item,
                                                 GError          **error);

/* --- value: one GVariant; add and compare_and_set happen in one step on the
 * server (Python's Manager Value has neither, so `v.value += 1` races). */
MPK_API MpkValueProxy *mpk_manager_value        (MpkManager    *manager,
                                                 GVariant      *initial,
                                                 GError       **error);
MPK_API MpkValueProxy *mpk_value_proxy_ref      (MpkValueProxy *value);
MPK_API void        mpk_value_proxy_unref       (MpkValueProxy *value);
MPK_API GVariant   *mpk_value_proxy_get         (MpkValueProxy *value,
                                                 GError       **error);
MPK_API gboolean    mpk_value_proxy_set         (MpkValueProxy *value,
                                                 GVariant      *v,
                                                 GError       **error);
MPK_API gboolean    mpk_value_proxy_add         (MpkValueProxy *value,
                                                 gint64         delta,
                                                 gint64        *result,
                                                 GError       **error);
MPK_API gboolean    mpk_value_proxy_compare_and_set (MpkValueProxy *value,
                                                 GVariant      *expected,
                                                 GVariant      *desired,
                                                 gboolean      *swapped,
                                                 GError       **error);

/* --- queue: Python's queue.Queue in the server (so qsize() is exact).
 * maxsize 0 = unbounded. A joinable queue also has task_done and join. */
MPK_API MpkQueueProxy *mpk_manager_queue        (MpkManager    *manager,
                                                 gint64         maxsize,
                                                 GError       **error);
MPK_API MpkQueueProxy *mpk_manager_joinable_queue (MpkManager  *manager,
                                                 gint64         maxsize,
                                                 GError       **error);
MPK_API MpkQueueProxy *mpk_queue_proxy_ref      (MpkQueueProxy *queue);
MPK_API void        mpk_queue_proxy_unref       (MpkQueueProxy *queue);
MPK_API gboolean    mpk_queue_proxy_put         (MpkQueueProxy *queue,
                                                 GVariant      *item,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API GVariant   *mpk_queue_proxy_get         (MpkQueueProxy *queue,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gint64      mpk_queue_proxy_qsize       (MpkQueueProxy *queue,
                                                 GError       **error);
MPK_API gboolean    mpk_queue_proxy_empty       (MpkQueueProxy *queue,
                                                 GError       **error);
MPK_API gboolean    mpk_queue_proxy_full        (MpkQueueProxy *queue,
                                                 GError       **error);
MPK_API gboolean    mpk_queue_proxy_task_done   (MpkQueueProxy *queue,
                                                 GError       **error);
MPK_API gboolean    mpk_queue_proxy_join        (MpkQueueProxy *queue,
                                                 gint64         timeout_us,
                                                 GError       **error);

/* --- lock: a lock in the server, released by any process (as in Python).
 * Releasing an unlocked lock → MPK_ERROR_INVALID. */
MPK_API MpkLockProxy *mpk_manager_lock          (MpkManager    *manager,
                                                 GError       **error);
MPK_API MpkLockProxy *mpk_lock_proxy_ref        (MpkLockProxy  *lock);
MPK_API void        mpk_lock_proxy_unref        (MpkLockProxy  *lock);
MPK_API gboolean    mpk_lock_proxy_acquire      (MpkLockProxy  *lock,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean    mpk_lock_proxy_release      (MpkLockProxy  *lock,
                                                 GError       **error);

/* --- namespace: named attributes. Names starting with '_' are refused with
 * MPK_ERROR_INVALID (Python keeps them on the proxy, not the server).
 * mpk_proxy_to_string() gives "Namespace(name='Bob')". */
MPK_API MpkNamespaceProxy *mpk_manager_namespace (MpkManager   *manager,
                                                 GError       **error);
MPK_API MpkNamespaceProxy *mpk_namespace_proxy_ref (MpkNamespaceProxy *ns);
MPK_API void        mpk_namespace_proxy_unref   (MpkNamespaceProxy *ns);
MPK_API GVariant   *mpk_namespace_proxy_get     (MpkNamespaceProxy *ns,
                                                 const char    *name,
                                                 GError       **error);
MPK_API gboolean    mpk_namespace_proxy_set     (MpkNamespaceProxy *ns,
                                                 const char    *name,
                                                 GVariant      *value,
                                                 GError       **error);
MPK_API gboolean    mpk_namespace_proxy_delete  (MpkNamespaceProxy *ns,
                                                 const char    *name,
                                                 GError       **error);

/* --- event, semaphore, barrier: Python's SyncManager kinds. A waiter
 * whose client goes away stops waiting; a barrier party's does, too, and
 * breaks the barrier (MPK_ERROR_BROKEN) instead of leaving the others
 * waiting for it. */
MPK_API MpkEventProxy *mpk_manager_event        (MpkManager    *manager,
                                                 GError       **error);
MPK_API MpkEventProxy *mpk_event_proxy_ref      (MpkEventProxy *event);
MPK_API void        mpk_event_proxy_unref       (MpkEventProxy *event);
MPK_API gboolean    mpk_event_proxy_set         (MpkEventProxy *event,
                                                 GError       **error);
MPK_API gboolean    mpk_event_proxy_clear       (MpkEventProxy *event,
                                                 GError       **error);
MPK_API gboolean    mpk_event_proxy_is_set      (MpkEventProxy *event,
                                                 GError       **error);
MPK_API gboolean    mpk_event_proxy_wait        (MpkEventProxy *event,
                                                 gint64         timeout_us,
                                                 GError       **error);

MPK_API MpkSemaphoreProxy *mpk_manager_semaphore (MpkManager   *manager,
                                                 guint          value,
                                                 GError       **error);
MPK_API MpkSemaphoreProxy *mpk_manager_bounded_semaphore (MpkManager *manager,
                                                          guint       value,
                                                          GError    **error);
MPK_API MpkSemaphoreProxy *mpk_semaphore_proxy_ref (MpkSemaphoreProxy *sem);
MPK_API void        mpk_semaphore_proxy_unref   (MpkSemaphoreProxy *sem);
MPK_API gboolean    mpk_semaphore_proxy_acquire (MpkSemaphoreProxy *sem,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean    mpk_semaphore_proxy_release (MpkSemaphoreProxy *sem,
                                                 GError       **error);
MPK_API gint64      mpk_semaphore_proxy_get_value (MpkSemaphoreProxy *sem,
                                                   GError     **error);

MPK_API MpkBarrierProxy *mpk_manager_barrier    (MpkManager    *manager,
                                                 guint          parties,
                                                 GError       **error);
MPK_API MpkBarrierProxy *mpk_barrier_proxy_ref  (MpkBarrierProxy *barrier);
MPK_API void        mpk_barrier_proxy_unref     (MpkBarrierProxy *barrier);
MPK_API gint64      mpk_barrier_proxy_wait      (MpkBarrierProxy *barrier,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean    mpk_barrier_proxy_abort     (MpkBarrierProxy *barrier,
                                                 GError       **error);
MPK_API gboolean    mpk_barrier_proxy_reset     (MpkBarrierProxy *barrier,
                                                 GError       **error);
MPK_API gint64      mpk_barrier_proxy_get_n_waiting (MpkBarrierProxy *barrier,
                                                     GError     **error);
MPK_API gint64      mpk_barrier_proxy_get_parties (MpkBarrierProxy *barrier,
                                                   GError     **error);
MPK_API gboolean    mpk_barrier_proxy_is_broken (MpkBarrierProxy *barrier,
                                                 GError       **error);

MPK_API MpkConditionProxy *mpk_manager_condition (MpkManager   *manager,
                                                 GError       **error);
MPK_API MpkConditionProxy *mpk_condition_proxy_ref (MpkConditionProxy *cond);
MPK_API void        mpk_condition_proxy_unref   (MpkConditionProxy *cond);
MPK_API gboolean    mpk_condition_proxy_acquire (MpkConditionProxy *cond,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean    mpk_condition_proxy_release (MpkConditionProxy *cond,
                                                 GError       **error);
MPK_API gboolean    mpk_condition_proxy_wait    (MpkConditionProxy *cond,
                                                 gint64         timeout_us,
                                                 GError       **error);
MPK_API gboolean    mpk_condition_proxy_notify  (MpkConditionProxy *cond,
                                                 guint          n,
                                                 GError       **error);
MPK_API gboolean    mpk_condition_proxy_notify_all (MpkConditionProxy *cond,
                                                    GError     **error);

MPK_API MpkArrayProxy *mpk_manager_array        (MpkManager    *manager,
                                                 char           typecode,
                                                 GVariant      *items,
                                                 GError       **error);
MPK_API MpkArrayProxy *mpk_array_proxy_ref      (MpkArrayProxy *array);
MPK_API void        mpk_array_proxy_unref       (MpkArrayProxy *array);
MPK_API gint64      mpk_array_proxy_len         (MpkArrayProxy *array,
                                                 GError       **error);
MPK_API GVariant   *mpk_array_proxy_get         (MpkArrayProxy *array,
                                                 gint64         index,
                                                 GError       **error);
MPK_API gboolean    mpk_array_proxy_set         (MpkArrayProxy *array,
                                                 gint64         index,
                                                 GVariant      *value,
                                                 GError       **error);
MPK_API GVariant   *mpk_array_proxy_tolist      (MpkArrayProxy *array,
                                                 GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkManager, mpk_manager_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkProxy, mpk_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkListProxy, mpk_list_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkDictProxy, mpk_dict_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkValueProxy, mpk_value_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkQueueProxy, mpk_queue_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkLockProxy, mpk_lock_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkNamespaceProxy, mpk_namespace_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkIteratorProxy, mpk_iterator_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkEventProxy, mpk_event_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkSemaphoreProxy, mpk_semaphore_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkBarrierProxy, mpk_barrier_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkConditionProxy, mpk_condition_proxy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkArrayProxy, mpk_array_proxy_unref)

G_END_DECLS

#endif /* MPK_MANAGER_H */
