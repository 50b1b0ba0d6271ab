/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-proxies.c: the typed proxies of the built-in manager types
 * (MpkListProxy, ...; the design is in mpk-manager.h): their calls, each
 * one mpk_proxy_call_full() of the method of the same name (the methods
 * and their argument shapes are in mpk-manager-types.c), their references,
 * and the run-time checked conversions from a generic proxy. Values travel
 * boxed in "v" so any GVariant can be stored. */
#include "mpk-manager-private.h"

#include <string.h>

/* Whether @proxy's object is of the server type @type. Every typed call
 * checks it (g_return_val_if_fail): the compiler has checked the C type,
 * and this catches a pointer cast by hand to the wrong one. */
static gboolean
is_a (MpkProxy *proxy, const char *type)
{
  return proxy != NULL && strcmp (mpk_proxy_get_type_name (proxy), type) == 0;
}

static gboolean
is_queue (MpkProxy *proxy)
{
  return is_a (proxy, "queue") || is_a (proxy, "joinable_queue");
}

/* The call's result (transfer full) or NULL. */
static GVariant *
call (MpkProxy *proxy, const char *method, GVariant *args, gint64 timeout_us, GError **error)
{
  return mpk_proxy_call_full (proxy, method, args, timeout_us, error);
}

static gboolean
call_unit (MpkProxy *proxy, const char *method, GVariant *args, gint64 timeout_us, GError **error)
{
  g_autoptr(GVariant) result = call (proxy, method, args, timeout_us, error);

  return result != NULL;
}

/* An int64 result, or -1 with @error. */
static gint64
call_int (MpkProxy *proxy, const char *method, GVariant *args, GError **error)
{
  g_autoptr(GVariant) result = call (proxy, method, args, MPK_NO_WAIT, error);

  if (result == NULL)
    return -1;
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE_INT64))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "%s: expected a number, got %s", method,
                   g_variant_get_type_string (result));
      return -1;
    }
  return g_variant_get_int64 (result);
}

/* A boolean result; FALSE also with @error. */
static gboolean
call_bool (MpkProxy *proxy, const char *method, GVariant *args, GError **error)
{
  g_autoptr(GVariant) result = call (proxy, method, args, MPK_NO_WAIT, error);

  if (result == NULL)
    return FALSE;
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE_BOOLEAN))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "%s: expected a boolean, got %s", method,
                   g_variant_get_type_string (result));
      return FALSE;
    }
  return g_variant_get_boolean (result);
}

/* @item as the "v" it travels in: a value that is a "v" already goes as
 * it is, so g_variant_new_variant (x) stores x, as the header says. */
static GVariant *
box (GVariant *item)
{
  return g_variant_is_of_type (item, G_VARIANT_TYPE_VARIANT) ? item : g_variant_new_variant (item);
}

/* Any array (or tuple) as "av". (floating, or @items itself if it is one) */
static GVariant *
to_av (GVariant *items)
{
  GVariantBuilder b;
  GVariantIter iter;
  GVariant *child;

  if (g_variant_is_of_type (items, G_VARIANT_TYPE ("av")))
    return items;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  g_variant_iter_init (&iter, items);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_variant_builder_add (&b, "v", child);
      g_variant_unref (child);
    }
  g_variant_ref_sink (items);
  g_variant_unref (items);
  return g_variant_builder_end (&b);
}

/* --- references and checked conversions ------------------------------------------- */

/* @proxy, with a new reference, if the server's type of it is one of
 * @types (NULL-ended); else NULL with MPK_ERROR_INVALID. */
static gpointer
checked_as (MpkProxy *proxy, const char *kind, const char *const *types, GError **error)
{
  const char *type;

  g_return_val_if_fail (proxy != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  type = mpk_proxy_get_type_name (proxy);
  for (; *types != NULL; types++)
    if (strcmp (type, *types) == 0)
      return mpk_proxy_ref (proxy);
  g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
               "expected a proxy of kind '%s', got one of type '%s'", kind, type);
  return NULL;
}

/* Each kind's ref, unref and mpk_proxy_as_<kind>(), documented below. */
#define DEFINE_KIND(Kind, kind, ...)                                    \
  Mpk##Kind##Proxy *                                                    \
  mpk_##kind##_proxy_ref (Mpk##Kind##Proxy *proxy)                      \
  {                                                                     \
    return (Mpk##Kind##Proxy *) mpk_proxy_ref (MPK_PROXY (proxy));      \
  }                                                                     \
                                                                        \
  void                                                                  \
  mpk_##kind##_proxy_unref (Mpk##Kind##Proxy *proxy)                    \
  {                                                                     \
    mpk_proxy_unref (MPK_PROXY (proxy));                                \
  }                                                                     \
                                                                        \
  Mpk##Kind##Proxy *                                                    \
  mpk_proxy_as_##kind (MpkProxy *proxy, GError **error)                 \
  {                                                                     \
    static const char *const types[] = { __VA_ARGS__, NULL };           \
                                                                        \
    return checked_as (proxy, #kind, types, error);                     \
  }

/**
 * mpk_proxy_as_list:
 * @proxy: (transfer none): a generic proxy, for example from
 *   mpk_proxy_from_value() or mpk_manager_lookup()
 * @error: return location for a #GError, or %NULL
 *
 * The checked conversion of a generic proxy to a list proxy: the run-time
 * check a proxy made from a reference must pass before it is used as a
 * list, since its kind is whatever the server says it is. The result is
 * the same proxy under its typed name, with a reference of its own: unref
 * both (or hold both in g_autoptr()).
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkListProxy; %NULL
 *   with %MPK_ERROR_INVALID, naming both kinds, if it is not a list's
 */
/**
 * mpk_proxy_as_dict:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a dict.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkDictProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not a dict's
 */
/**
 * mpk_proxy_as_value:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a value.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkValueProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not a value's
 */
/**
 * mpk_proxy_as_queue:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a queue: a "queue" or a "joinable_queue".
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkQueueProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not a queue's
 */
/**
 * mpk_proxy_as_lock:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a lock.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkLockProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not a lock's
 */
/**
 * mpk_proxy_as_namespace:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a namespace.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkNamespaceProxy (a
 *   new reference); %NULL with %MPK_ERROR_INVALID if it is not a
 *   namespace's
 */
/**
 * mpk_proxy_as_iterator:
 * @proxy: (transfer none): a generic proxy, for example made from the
 *   reference a registered method returned from
 *   mpk_manager_call_new_object (call, "iterator", ...)
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for an iterator.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkIteratorProxy (a
 *   new reference); %NULL with %MPK_ERROR_INVALID if it is not an
 *   iterator's
 */
/**
 * mpk_list_proxy_ref:
 * @list: (transfer none): a list proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @list
 */
/**
 * mpk_list_proxy_unref:
 * @list: (transfer full): a list proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the list if nothing else holds it.
 */
/**
 * mpk_dict_proxy_ref:
 * @dict: (transfer none): a dict proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @dict
 */
/**
 * mpk_dict_proxy_unref:
 * @dict: (transfer full): a dict proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the dict if nothing else holds it.
 */
/**
 * mpk_value_proxy_ref:
 * @value: (transfer none): a value proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @value
 */
/**
 * mpk_value_proxy_unref:
 * @value: (transfer full): a value proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the value if nothing else holds it.
 */
/**
 * mpk_queue_proxy_ref:
 * @queue: (transfer none): a queue proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @queue
 */
/**
 * mpk_queue_proxy_unref:
 * @queue: (transfer full): a queue proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the queue if nothing else holds it.
 */
/**
 * mpk_lock_proxy_ref:
 * @lock: (transfer none): a lock proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @lock
 */
/**
 * mpk_lock_proxy_unref:
 * @lock: (transfer full): a lock proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the lock if nothing else holds it.
 */
/**
 * mpk_namespace_proxy_ref:
 * @ns: (transfer none): a namespace proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @ns
 */
/**
 * mpk_namespace_proxy_unref:
 * @ns: (transfer full): a namespace proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the namespace if nothing else holds it.
 */
/**
 * mpk_iterator_proxy_ref:
 * @iterator: (transfer none): an iterator proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @iterator
 */
/**
 * mpk_iterator_proxy_unref:
 * @iterator: (transfer full): an iterator proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the iterator if nothing else holds it.
 */
DEFINE_KIND (List, list, "list")
DEFINE_KIND (Dict, dict, "dict")
DEFINE_KIND (Value, value, "value")
DEFINE_KIND (Queue, queue, "queue", "joinable_queue")
DEFINE_KIND (Lock, lock, "lock")
DEFINE_KIND (Namespace, namespace, "namespace")
DEFINE_KIND (Iterator, iterator, "iterator")
/**
 * mpk_proxy_as_event:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for an event.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkEventProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not an event's
 */
/**
 * mpk_event_proxy_ref:
 * @event: (transfer none): an event proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @event
 */
/**
 * mpk_event_proxy_unref:
 * @event: (transfer full): an event proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the event if nothing else holds it.
 */
/**
 * mpk_proxy_as_semaphore:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a semaphore.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkSemaphoreProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not a semaphore's
 */
/**
 * mpk_semaphore_proxy_ref:
 * @sem: (transfer none): a semaphore proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @sem
 */
/**
 * mpk_semaphore_proxy_unref:
 * @sem: (transfer full): a semaphore proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the semaphore if nothing else holds it.
 */
/**
 * mpk_proxy_as_barrier:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a barrier.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkBarrierProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not a barrier's
 */
/**
 * mpk_barrier_proxy_ref:
 * @barrier: (transfer none): a barrier proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @barrier
 */
/**
 * mpk_barrier_proxy_unref:
 * @barrier: (transfer full): a barrier proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the barrier if nothing else holds it.
 */
DEFINE_KIND (Event, event, "event")
DEFINE_KIND (Semaphore, semaphore, "semaphore")
/**
 * mpk_proxy_as_condition:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for a condition.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkConditionProxy (a
 *   new reference); %NULL with %MPK_ERROR_INVALID if it is not a
 *   condition's
 */
/**
 * mpk_condition_proxy_ref:
 * @cond: (transfer none): a condition proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @cond
 */
/**
 * mpk_condition_proxy_unref:
 * @cond: (transfer full): a condition proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the condition if nothing else holds it.
 */
DEFINE_KIND (Barrier, barrier, "barrier")
/**
 * mpk_proxy_as_array:
 * @proxy: (transfer none): a generic proxy
 * @error: return location for a #GError, or %NULL
 *
 * As mpk_proxy_as_list(), for an array.
 *
 * Returns: (transfer full) (nullable): @proxy as an #MpkArrayProxy (a new
 *   reference); %NULL with %MPK_ERROR_INVALID if it is not an array's
 */
/**
 * mpk_array_proxy_ref:
 * @array: (transfer none): an array proxy
 *
 * Takes a reference, as mpk_proxy_ref() does (nothing is sent to the server).
 *
 * Returns: (transfer full): @array
 */
/**
 * mpk_array_proxy_unref:
 * @array: (transfer full): an array proxy
 *
 * Drops a reference, as mpk_proxy_unref() does: the last one tells the
 * server, which frees the array if nothing else holds it.
 */
DEFINE_KIND (Condition, condition, "condition")
DEFINE_KIND (Array, array, "array")

/* --- list ------------------------------------------------------------------------- */

/**
 * mpk_manager_list:
 * @manager: (transfer none): a started or connected manager
 * @items: (transfer none) (nullable): the first items: any array or tuple;
 *   a floating reference is sunk. A "v" item (in an "av") is stored
 *   unboxed, so an "av" of ints stores ints
 * @error: return location for a #GError, or %NULL
 *
 * Makes a list in the server: Python's `manager.list(items)`.
 *
 * Returns: (transfer full) (nullable): a list proxy, freed with
 *   mpk_list_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkListProxy *
mpk_manager_list (MpkManager *manager, GVariant *items, GError **error)
{
  g_return_val_if_fail (items == NULL || g_variant_is_container (items), NULL);

  return (MpkListProxy *) mpk_manager_create (
    manager, "list", items != NULL ? g_variant_new ("(@av)", to_av (items)) : NULL, error);
}

/**
 * mpk_list_proxy_append:
 * @list: (transfer none): a list proxy
 * @item: (transfer none): the item; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.append(item)`, one round trip.
 *
 * Returns: %TRUE; %FALSE with @error (%MPK_ERROR_INVALID at the size
 *   limit, %MPK_ERROR_STALE_HANDLE for a reference to an object that is
 *   gone, a transport error)
 */
gboolean
mpk_list_proxy_append (MpkListProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && item != NULL, FALSE);
  return call_unit (MPK_PROXY (list), "append", g_variant_new ("(@v)", box (item)), MPK_NO_WAIT,
                    error);
}

/**
 * mpk_list_proxy_extend:
 * @list: (transfer none): a list proxy
 * @items: (transfer none): any array or tuple; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.extend(items)`.
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_list_proxy_extend (MpkListProxy *list, GVariant *items, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && items != NULL
                        && g_variant_is_container (items), FALSE);
  return call_unit (MPK_PROXY (list), "extend", g_variant_new ("(@av)", to_av (items)),
                    MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_insert:
 * @list: (transfer none): a list proxy
 * @index: where, as in Python (negative from the end, clamped to the list)
 * @item: (transfer none): the item; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.insert(index, item)`.
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_list_proxy_insert (MpkListProxy *list, gint64 index, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && item != NULL, FALSE);
  return call_unit (MPK_PROXY (list), "insert", g_variant_new ("(x@v)", index, box (item)),
                    MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_get:
 * @list: (transfer none): a list proxy
 * @index: the index, negative from the end
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list[index]`: a copy of the item.
 *
 * Returns: (transfer full) (nullable): the item; %NULL with
 *   %MPK_ERROR_INDEX when @index is out of range, or another error
 */
GVariant *
mpk_list_proxy_get (MpkListProxy *list, gint64 index, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), NULL);
  return call (MPK_PROXY (list), "get", g_variant_new ("(x)", index), MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_set:
 * @list: (transfer none): a list proxy
 * @index: the index, negative from the end
 * @item: (transfer none): the new item; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list[index] = item`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INDEX or another error
 */
gboolean
mpk_list_proxy_set (MpkListProxy *list, gint64 index, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && item != NULL, FALSE);
  return call_unit (MPK_PROXY (list), "set", g_variant_new ("(x@v)", index, box (item)),
                    MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_pop:
 * @list: (transfer none): a list proxy
 * @index: the index, negative from the end: -1 for the last item
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.pop(index)`.
 *
 * Returns: (transfer full) (nullable): the item taken out; %NULL with
 *   %MPK_ERROR_INDEX (an empty list too) or another error
 */
GVariant *
mpk_list_proxy_pop (MpkListProxy *list, gint64 index, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), NULL);
  return call (MPK_PROXY (list), "pop", g_variant_new ("(x)", index), MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_remove:
 * @list: (transfer none): a list proxy
 * @item: (transfer none): the item to remove; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.remove(item)`: removes the first equal item.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when no item is equal,
 *   or another error
 */
gboolean
mpk_list_proxy_remove (MpkListProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && item != NULL, FALSE);
  return call_unit (MPK_PROXY (list), "remove", g_variant_new ("(@v)", box (item)), MPK_NO_WAIT,
                    error);
}

/**
 * mpk_list_proxy_index:
 * @list: (transfer none): a list proxy
 * @item: (transfer none): the item to find; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.index(item)`.
 *
 * Returns: the index of the first equal item; -1 with %MPK_ERROR_INVALID
 *   when there is none, or another error
 */
gint64
mpk_list_proxy_index (MpkListProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && item != NULL, -1);
  return call_int (MPK_PROXY (list), "index", g_variant_new ("(@v)", box (item)), error);
}

/**
 * mpk_list_proxy_count:
 * @list: (transfer none): a list proxy
 * @item: (transfer none): the item to count; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.count(item)`.
 *
 * Returns: how many items are equal to @item; -1 with @error
 */
gint64
mpk_list_proxy_count (MpkListProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && item != NULL, -1);
  return call_int (MPK_PROXY (list), "count", g_variant_new ("(@v)", box (item)), error);
}

/**
 * mpk_list_proxy_len:
 * @list: (transfer none): a list proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `len(list)`.
 *
 * Returns: the length; -1 with @error
 */
gint64
mpk_list_proxy_len (MpkListProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), -1);
  return call_int (MPK_PROXY (list), "len", NULL, error);
}

/**
 * mpk_list_proxy_slice:
 * @list: (transfer none): a list proxy
 * @start: the first index, as in Python (negative from the end, clamped)
 * @stop: the index after the last, as @start (%G_MAXINT64 for the end)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list[start:stop]`.
 *
 * Returns: (transfer full) (nullable): the items as an "av"; %NULL with
 *   @error
 */
GVariant *
mpk_list_proxy_slice (MpkListProxy *list, gint64 start, gint64 stop, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), NULL);
  return call (MPK_PROXY (list), "slice", g_variant_new ("(xx)", start, stop), MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_set_slice:
 * @list: (transfer none): a list proxy
 * @start: the first index replaced, as in mpk_list_proxy_slice()
 * @stop: the index after the last replaced
 * @items: (transfer none): the new items: any array or tuple; a floating
 *   reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list[start:stop] = items` (the two lengths may differ).
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_list_proxy_set_slice (MpkListProxy *list, gint64 start, gint64 stop, GVariant *items,
                          GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list") && items != NULL
                        && g_variant_is_container (items), FALSE);
  return call_unit (MPK_PROXY (list), "set_slice",
                    g_variant_new ("(xx@av)", start, stop, to_av (items)), MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_copy:
 * @list: (transfer none): a list proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list[:]`: the whole list in one round trip.
 *
 * Returns: (transfer full) (nullable): the items as a plain "av"; %NULL
 *   with @error
 */
GVariant *
mpk_list_proxy_copy (MpkListProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), NULL);
  return call (MPK_PROXY (list), "copy", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_repeat:
 * @list: (transfer none): a list proxy
 * @times: how many copies of the list it becomes (0 or less empties it)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list *= times`.
 *
 * Returns: %TRUE; %FALSE with @error (%MPK_ERROR_INVALID past the size
 *   limit)
 */
gboolean
mpk_list_proxy_repeat (MpkListProxy *list, gint64 times, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), FALSE);
  return call_unit (MPK_PROXY (list), "repeat", g_variant_new ("(x)", times), MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_reverse:
 * @list: (transfer none): a list proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.reverse()`, in place.
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_list_proxy_reverse (MpkListProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), FALSE);
  return call_unit (MPK_PROXY (list), "reverse", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_list_proxy_clear:
 * @list: (transfer none): a list proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list.clear()`.
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_list_proxy_clear (MpkListProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (list), "list"), FALSE);
  return call_unit (MPK_PROXY (list), "clear", NULL, MPK_NO_WAIT, error);
}

/* --- dict --------------------------------------------------------------------------- */

/**
 * mpk_manager_dict:
 * @manager: (transfer none): a started or connected manager
 * @items: (transfer none) (nullable): the first entries: a dictionary such
 *   as "a{sv}"; a floating reference is sunk. "v" values are stored unboxed
 * @error: return location for a #GError, or %NULL
 *
 * Makes a dict in the server: Python's `manager.dict(items)`. Keys must be
 * of a basic type (numbers, strings, ...), and not references.
 *
 * Returns: (transfer full) (nullable): a dict proxy, freed with
 *   mpk_dict_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkDictProxy *
mpk_manager_dict (MpkManager *manager, GVariant *items, GError **error)
{
  g_return_val_if_fail (items == NULL || g_variant_is_of_type (items, G_VARIANT_TYPE_DICTIONARY),
                        NULL);

  return (MpkDictProxy *) mpk_manager_create (
    manager, "dict", items != NULL ? g_variant_new_tuple (&items, 1) : NULL, error);
}

/**
 * mpk_dict_proxy_get:
 * @dict: (transfer none): a dict proxy
 * @key: (transfer none): the key; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict[key]`: a copy of the value.
 *
 * Returns: (transfer full) (nullable): the value; %NULL with
 *   %MPK_ERROR_KEY when there is no such key, or another error
 */
GVariant *
mpk_dict_proxy_get (MpkDictProxy *dict, GVariant *key, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && key != NULL, NULL);
  return call (MPK_PROXY (dict), "get", g_variant_new ("(@v)", box (key)), MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_get_default:
 * @dict: (transfer none): a dict proxy
 * @key: (transfer none): the key; a floating reference is sunk
 * @fallback: (transfer none): what to return without such a key; a
 *   floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict.get(key, fallback)`.
 *
 * Returns: (transfer full) (nullable): the value or a copy of @fallback;
 *   %NULL with @error
 */
GVariant *
mpk_dict_proxy_get_default (MpkDictProxy *dict, GVariant *key, GVariant *fallback,
                            GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && key != NULL && fallback != NULL, NULL);
  return call (MPK_PROXY (dict), "get_default",
               g_variant_new ("(@v@v)", box (key), box (fallback)), MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_set:
 * @dict: (transfer none): a dict proxy
 * @key: (transfer none): the key; a floating reference is sunk
 * @value: (transfer none): the value; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict[key] = value`.
 *
 * Returns: %TRUE; %FALSE with @error (%MPK_ERROR_INVALID for a key that is
 *   not of a basic type, or a new key past the size limit)
 */
gboolean
mpk_dict_proxy_set (MpkDictProxy *dict, GVariant *key, GVariant *value, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && key != NULL && value != NULL, FALSE);
  return call_unit (MPK_PROXY (dict), "set", g_variant_new ("(@v@v)", box (key), box (value)),
                    MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_pop:
 * @dict: (transfer none): a dict proxy
 * @key: (transfer none): the key; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict.pop(key)`.
 *
 * Returns: (transfer full) (nullable): the value taken out; %NULL with
 *   %MPK_ERROR_KEY or another error
 */
GVariant *
mpk_dict_proxy_pop (MpkDictProxy *dict, GVariant *key, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && key != NULL, NULL);
  return call (MPK_PROXY (dict), "pop", g_variant_new ("(@v)", box (key)), MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_setdefault:
 * @dict: (transfer none): a dict proxy
 * @key: (transfer none): the key; a floating reference is sunk
 * @value: (transfer none): the value to set if @key is missing; a floating
 *   reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict.setdefault(key, value)`, in one step.
 *
 * Returns: (transfer full) (nullable): the value @key has now; %NULL with
 *   @error
 */
GVariant *
mpk_dict_proxy_setdefault (MpkDictProxy *dict, GVariant *key, GVariant *value, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && key != NULL && value != NULL, NULL);
  return call (MPK_PROXY (dict), "setdefault", g_variant_new ("(@v@v)", box (key), box (value)),
               MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_contains:
 * @dict: (transfer none): a dict proxy
 * @key: (transfer none): the key; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `key in dict`.
 *
 * Returns: whether @key is there; %FALSE also with @error
 */
gboolean
mpk_dict_proxy_contains (MpkDictProxy *dict, GVariant *key, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && key != NULL, FALSE);
  return call_bool (MPK_PROXY (dict), "contains", g_variant_new ("(@v)", box (key)), error);
}

/**
 * mpk_dict_proxy_len:
 * @dict: (transfer none): a dict proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `len(dict)`.
 *
 * Returns: the number of keys; -1 with @error
 */
gint64
mpk_dict_proxy_len (MpkDictProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict"), -1);
  return call_int (MPK_PROXY (dict), "len", NULL, error);
}

/**
 * mpk_dict_proxy_keys:
 * @dict: (transfer none): a dict proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list(dict.keys())`.
 *
 * Returns: (transfer full) (nullable): the keys in insertion order, an
 *   "av"; %NULL with @error
 */
GVariant *
mpk_dict_proxy_keys (MpkDictProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict"), NULL);
  return call (MPK_PROXY (dict), "keys", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_values:
 * @dict: (transfer none): a dict proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list(dict.values())`.
 *
 * Returns: (transfer full) (nullable): the values in the keys' order, an
 *   "av"; %NULL with @error
 */
GVariant *
mpk_dict_proxy_values (MpkDictProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict"), NULL);
  return call (MPK_PROXY (dict), "values", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_items:
 * @dict: (transfer none): a dict proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `list(dict.items())`.
 *
 * Returns: (transfer full) (nullable): the (key, value) pairs in insertion
 *   order, an "a(vv)"; %NULL with @error
 */
GVariant *
mpk_dict_proxy_items (MpkDictProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict"), NULL);
  return call (MPK_PROXY (dict), "items", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_update:
 * @dict: (transfer none): a dict proxy
 * @items: (transfer none): the entries, a dictionary such as "a{sv}"; a
 *   floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict.update(items)`: all the entries or, on an error, none.
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_dict_proxy_update (MpkDictProxy *dict, GVariant *items, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict") && items != NULL
                        && g_variant_is_of_type (items, G_VARIANT_TYPE_DICTIONARY), FALSE);
  return call_unit (MPK_PROXY (dict), "update", g_variant_new_tuple (&items, 1), MPK_NO_WAIT,
                    error);
}

/**
 * mpk_dict_proxy_clear:
 * @dict: (transfer none): a dict proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `dict.clear()`.
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_dict_proxy_clear (MpkDictProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict"), FALSE);
  return call_unit (MPK_PROXY (dict), "clear", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_dict_proxy_iter:
 * @dict: (transfer none): a dict proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `iter(dict)`: an iterator over the keys as they are now, in the
 * server. Its mpk_iterator_proxy_next() fails with %MPK_ERROR_INVALID once
 * the dict's size has changed (Python's RuntimeError).
 *
 * Returns: (transfer full) (nullable): an iterator proxy; %NULL with
 *   @error
 */
MpkIteratorProxy *
mpk_dict_proxy_iter (MpkDictProxy *dict, GError **error)
{
  g_autoptr(GVariant) ref = NULL;
  g_autoptr(MpkProxy) proxy = NULL;

  g_return_val_if_fail (is_a (MPK_PROXY (dict), "dict"), NULL);

  ref = call (MPK_PROXY (dict), "iter", NULL, MPK_NO_WAIT, error);
  if (ref == NULL)
    return NULL;
  proxy = mpk_proxy_from_value (mpk_proxy_get_manager (MPK_PROXY (dict)), ref, error);
  return proxy != NULL ? mpk_proxy_as_iterator (proxy, error) : NULL;
}

/* --- iterator ------------------------------------------------------------------------ */

/**
 * mpk_iterator_proxy_next:
 * @iterator: (transfer none): an iterator proxy
 * @item: (out) (transfer full) (nullable): the next item; %NULL at the end
 *   or on an error
 * @error: return location for a #GError, or %NULL
 *
 * Python's `next(iterator)`, with the end (StopIteration) as a %FALSE
 * without an error.
 *
 * Returns: %TRUE with @item set; %FALSE at the end (no error) or with
 *   @error
 */
gboolean
mpk_iterator_proxy_next (MpkIteratorProxy *iterator, GVariant **item, GError **error)
{
  g_autoptr(GVariant) result = NULL, inner = NULL;
  gboolean more;

  g_return_val_if_fail (is_a (MPK_PROXY (iterator), "iterator") && item != NULL, FALSE);

  *item = NULL;
  result = call (MPK_PROXY (iterator), "next", NULL, MPK_NO_WAIT, error);
  if (result == NULL)
    return FALSE;
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE ("(bv)")))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "next: a malformed reply");
      return FALSE;
    }
  g_variant_get (result, "(bv)", &more, &inner);
  if (more)
    *item = g_steal_pointer (&inner);
  return more;
}

/* --- value --------------------------------------------------------------------------- */

/**
 * mpk_manager_value:
 * @manager: (transfer none): a started or connected manager
 * @initial: (transfer none): the first value, any GVariant; a floating
 *   reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Makes a value in the server: Python's `manager.Value(typecode, initial)`,
 * with the GVariant's type as the typecode.
 *
 * Returns: (transfer full) (nullable): a value proxy, freed with
 *   mpk_value_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkValueProxy *
mpk_manager_value (MpkManager *manager, GVariant *initial, GError **error)
{
  g_return_val_if_fail (initial != NULL, NULL);
  return (MpkValueProxy *) mpk_manager_create (manager, "value",
                                               g_variant_new ("(@v)", box (initial)), error);
}

/**
 * mpk_value_proxy_get:
 * @value: (transfer none): a value proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `value.value` (or `value.get()`).
 *
 * Returns: (transfer full) (nullable): a copy of the value; %NULL with
 *   @error
 */
GVariant *
mpk_value_proxy_get (MpkValueProxy *value, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (value), "value"), NULL);
  return call (MPK_PROXY (value), "get", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_value_proxy_set:
 * @value: (transfer none): a value proxy
 * @v: (transfer none): the new value, of any type; a floating reference is
 *   sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `value.value = v` (or `value.set(v)`).
 *
 * Returns: %TRUE; %FALSE with @error
 */
gboolean
mpk_value_proxy_set (MpkValueProxy *value, GVariant *v, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (value), "value") && v != NULL, FALSE);
  return call_unit (MPK_PROXY (value), "set", g_variant_new ("(@v)", box (v)), MPK_NO_WAIT,
                    error);
}

/**
 * mpk_value_proxy_add:
 * @value: (transfer none): a value proxy holding an integer (or a double)
 * @delta: what to add
 * @result: (out) (optional): the new value (a double's, truncated)
 * @error: return location for a #GError, or %NULL
 *
 * Adds in one step in the server, so concurrent adds never lose an update
 * (Python's `proxy.value += 1` is a get and a set, and races). The value
 * keeps its type.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when the value is not a
 *   number or the sum does not fit its type, or another error
 */
gboolean
mpk_value_proxy_add (MpkValueProxy *value, gint64 delta, gint64 *result, GError **error)
{
  g_autoptr(GVariant) sum = NULL;

  g_return_val_if_fail (is_a (MPK_PROXY (value), "value"), FALSE);

  sum = call (MPK_PROXY (value), "add", g_variant_new ("(x)", delta), MPK_NO_WAIT, error);
  if (sum == NULL)
    return FALSE;
  if (result != NULL)
    switch (g_variant_classify (sum))
      {
      case G_VARIANT_CLASS_BYTE:   *result = g_variant_get_byte (sum);   break;
      case G_VARIANT_CLASS_INT16:  *result = g_variant_get_int16 (sum);  break;
      case G_VARIANT_CLASS_UINT16: *result = g_variant_get_uint16 (sum); break;
      case G_VARIANT_CLASS_INT32:  *result = g_variant_get_int32 (sum);  break;
      case G_VARIANT_CLASS_UINT32: *result = g_variant_get_uint32 (sum); break;
      case G_VARIANT_CLASS_INT64:  *result = g_variant_get_int64 (sum);  break;
      case G_VARIANT_CLASS_DOUBLE: *result = (gint64) g_variant_get_double (sum); break;
      default:                     *result = 0;                          break;
      }
  return TRUE;
}

/**
 * mpk_value_proxy_compare_and_set:
 * @value: (transfer none): a value proxy
 * @expected: (transfer none): what the value must equal; a floating
 *   reference is sunk
 * @desired: (transfer none): what it then becomes; a floating reference is
 *   sunk
 * @swapped: (out) (optional): whether it was set
 * @error: return location for a #GError, or %NULL
 *
 * Sets @desired if the value equals @expected (type and contents), in one
 * step in the server.
 *
 * Returns: %TRUE when the call was made (see @swapped for what it did);
 *   %FALSE with @error
 */
gboolean
mpk_value_proxy_compare_and_set (MpkValueProxy  *value,
                                 GVariant       *expected,
                                 GVariant       *desired,
                                 gboolean       *swapped,
                                 GError        **error)
{
  g_autoptr(GError) local = NULL;
  gboolean done;

  g_return_val_if_fail (is_a (MPK_PROXY (value), "value") && expected != NULL && desired != NULL,
                        FALSE);

  done = call_bool (MPK_PROXY (value), "compare_and_set",
                    g_variant_new ("(@v@v)", box (expected), box (desired)), &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (swapped != NULL)
    *swapped = done;
  return TRUE;
}

/* --- queue ----------------------------------------------------------------------------- */

/**
 * mpk_manager_queue:
 * @manager: (transfer none): a started or connected manager
 * @maxsize: the most items it holds at once; 0 or less for no limit
 * @error: return location for a #GError, or %NULL
 *
 * Makes a queue in the server: Python's `manager.Queue(maxsize)`.
 *
 * Returns: (transfer full) (nullable): a queue proxy, freed with
 *   mpk_queue_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkQueueProxy *
mpk_manager_queue (MpkManager *manager, gint64 maxsize, GError **error)
{
  return (MpkQueueProxy *) mpk_manager_create (manager, "queue",
                                               g_variant_new ("(xb)", maxsize, FALSE), error);
}

/**
 * mpk_manager_joinable_queue:
 * @manager: (transfer none): a started or connected manager
 * @maxsize: the most items it holds at once; 0 or less for no limit
 * @error: return location for a #GError, or %NULL
 *
 * Makes a joinable queue in the server: Python's
 * `manager.JoinableQueue(maxsize)`, which also has
 * mpk_queue_proxy_task_done() and mpk_queue_proxy_join().
 *
 * Returns: (transfer full) (nullable): a queue proxy, freed with
 *   mpk_queue_proxy_unref(); %NULL with @error
 */
MpkQueueProxy *
mpk_manager_joinable_queue (MpkManager *manager, gint64 maxsize, GError **error)
{
  return (MpkQueueProxy *) mpk_manager_create (manager, "joinable_queue",
                                               g_variant_new ("(xb)", maxsize, TRUE), error);
}

/**
 * mpk_queue_proxy_put:
 * @queue: (transfer none): a queue proxy
 * @item: (transfer none): the item; a floating reference is sunk
 * @timeout_us: how long to wait for room: %MPK_NO_WAIT, a time in
 *   microseconds, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `queue.put(item, timeout=...)`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_FULL when there was no room in
 *   time, or another error
 */
gboolean
mpk_queue_proxy_put (MpkQueueProxy *queue, GVariant *item, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_queue (MPK_PROXY (queue)) && item != NULL, FALSE);
  return call_unit (MPK_PROXY (queue), "put", g_variant_new ("(@v)", box (item)), timeout_us,
                    error);
}

/**
 * mpk_queue_proxy_get:
 * @queue: (transfer none): a queue proxy
 * @timeout_us: how long to wait for an item: %MPK_NO_WAIT, a time in
 *   microseconds, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `queue.get(timeout=...)`.
 *
 * Returns: (transfer full) (nullable): the item; %NULL with
 *   %MPK_ERROR_EMPTY (Python's queue.Empty, also for %MPK_NO_WAIT) or
 *   another error
 */
GVariant *
mpk_queue_proxy_get (MpkQueueProxy *queue, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_queue (MPK_PROXY (queue)), NULL);
  return call (MPK_PROXY (queue), "get", NULL, timeout_us, error);
}

/**
 * mpk_queue_proxy_qsize:
 * @queue: (transfer none): a queue proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `queue.qsize()`: exact, since the queue is in the server.
 *
 * Returns: the number of items; -1 with @error
 */
gint64
mpk_queue_proxy_qsize (MpkQueueProxy *queue, GError **error)
{
  g_return_val_if_fail (is_queue (MPK_PROXY (queue)), -1);
  return call_int (MPK_PROXY (queue), "qsize", NULL, error);
}

/**
 * mpk_queue_proxy_empty:
 * @queue: (transfer none): a queue proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `queue.empty()`.
 *
 * Returns: whether it holds no item; %FALSE also with @error
 */
gboolean
mpk_queue_proxy_empty (MpkQueueProxy *queue, GError **error)
{
  g_return_val_if_fail (is_queue (MPK_PROXY (queue)), FALSE);
  return call_bool (MPK_PROXY (queue), "empty", NULL, error);
}

/**
 * mpk_queue_proxy_full:
 * @queue: (transfer none): a queue proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `queue.full()`.
 *
 * Returns: whether it holds maxsize items; %FALSE also with @error
 */
gboolean
mpk_queue_proxy_full (MpkQueueProxy *queue, GError **error)
{
  g_return_val_if_fail (is_queue (MPK_PROXY (queue)), FALSE);
  return call_bool (MPK_PROXY (queue), "full", NULL, error);
}

/**
 * mpk_queue_proxy_task_done:
 * @queue: (transfer none): a joinable queue's proxy (a plain queue's is a
 *   caller error, refused)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `JoinableQueue.task_done()`: one item taken out is finished.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TOO_MANY_TASK_DONE when more tasks
 *   are done than items were taken, or another error
 */
gboolean
mpk_queue_proxy_task_done (MpkQueueProxy *queue, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (queue), "joinable_queue"), FALSE);
  return call_unit (MPK_PROXY (queue), "task_done", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_queue_proxy_join:
 * @queue: (transfer none): a joinable queue's proxy
 * @timeout_us: how long to wait, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `JoinableQueue.join()`: waits until every item put has been
 * marked done with mpk_queue_proxy_task_done().
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TIMED_OUT or another error
 */
gboolean
mpk_queue_proxy_join (MpkQueueProxy *queue, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (queue), "joinable_queue"), FALSE);
  return call_unit (MPK_PROXY (queue), "join", NULL, timeout_us, error);
}

/* --- lock ------------------------------------------------------------------------------- */

/**
 * mpk_manager_lock:
 * @manager: (transfer none): a started or connected manager
 * @error: return location for a #GError, or %NULL
 *
 * Makes a lock in the server: Python's `manager.Lock()`. Any process may
 * release it, as in Python.
 *
 * Returns: (transfer full) (nullable): a lock proxy, freed with
 *   mpk_lock_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkLockProxy *
mpk_manager_lock (MpkManager *manager, GError **error)
{
  return (MpkLockProxy *) mpk_manager_create (manager, "lock", NULL, error);
}

/**
 * mpk_lock_proxy_acquire:
 * @lock: (transfer none): a lock proxy
 * @timeout_us: how long to wait: %MPK_NO_WAIT, a time in microseconds, or
 *   %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `lock.acquire(timeout=...)`.
 *
 * Returns: %TRUE once this caller holds it; %FALSE with
 *   %MPK_ERROR_TIMED_OUT if it was still held, or another error
 */
gboolean
mpk_lock_proxy_acquire (MpkLockProxy *lock, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (lock), "lock"), FALSE);
  return call_unit (MPK_PROXY (lock), "acquire", NULL, timeout_us, error);
}

/**
 * mpk_lock_proxy_release:
 * @lock: (transfer none): a lock proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `lock.release()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if it was not held, or
 *   another error
 */
gboolean
mpk_lock_proxy_release (MpkLockProxy *lock, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (lock), "lock"), FALSE);
  return call_unit (MPK_PROXY (lock), "release", NULL, MPK_NO_WAIT, error);
}

/* --- namespace ---------------------------------------------------------------------------- */

/**
 * mpk_manager_namespace:
 * @manager: (transfer none): a started or connected manager
 * @error: return location for a #GError, or %NULL
 *
 * Makes a namespace in the server: Python's `manager.Namespace()`.
 *
 * Returns: (transfer full) (nullable): a namespace proxy, freed with
 *   mpk_namespace_proxy_unref(); %NULL with @error (see
 *   mpk_manager_create())
 */
MpkNamespaceProxy *
mpk_manager_namespace (MpkManager *manager, GError **error)
{
  return (MpkNamespaceProxy *) mpk_manager_create (manager, "namespace", NULL, error);
}

/**
 * mpk_namespace_proxy_get:
 * @ns: (transfer none): a namespace proxy
 * @name: (transfer none): the attribute's name
 * @error: return location for a #GError, or %NULL
 *
 * Python's `ns.name`.
 *
 * Returns: (transfer full) (nullable): a copy of the attribute's value;
 *   %NULL with %MPK_ERROR_KEY (no such attribute), %MPK_ERROR_INVALID (a
 *   name starting with '_') or another error
 */
GVariant *
mpk_namespace_proxy_get (MpkNamespaceProxy *ns, const char *name, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (ns), "namespace") && name != NULL, NULL);
  return call (MPK_PROXY (ns), "get", g_variant_new ("(s)", name), MPK_NO_WAIT, error);
}

/**
 * mpk_namespace_proxy_set:
 * @ns: (transfer none): a namespace proxy
 * @name: (transfer none): the attribute's name
 * @value: (transfer none): its value; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Python's `ns.name = value`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID (a name starting with
 *   '_', or a new name past the size limit) or another error
 */
gboolean
mpk_namespace_proxy_set (MpkNamespaceProxy *ns, const char *name, GVariant *value,
                         GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (ns), "namespace") && name != NULL && value != NULL,
                        FALSE);
  return call_unit (MPK_PROXY (ns), "set", g_variant_new ("(s@v)", name, box (value)),
                    MPK_NO_WAIT, error);
}

/**
 * mpk_namespace_proxy_delete:
 * @ns: (transfer none): a namespace proxy
 * @name: (transfer none): the attribute's name
 * @error: return location for a #GError, or %NULL
 *
 * Python's `del ns.name`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_KEY (no such attribute) or
 *   another error
 */
gboolean
mpk_namespace_proxy_delete (MpkNamespaceProxy *ns, const char *name, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (ns), "namespace") && name != NULL, FALSE);
  return call_unit (MPK_PROXY (ns), "delete", g_variant_new ("(s)", name), MPK_NO_WAIT, error);
}

/**
 * mpk_proxy_to_string:
 * @proxy: (transfer none): a proxy (MPK_PROXY() of a typed one)
 * @error: return location for a #GError, or %NULL
 *
 * What Python's `str(proxy)` shows: "[1, 2]" for a list,
 * "Namespace(name='Bob')" for a namespace. One round trip: the server
 * makes the text.
 *
 * Returns: (transfer full) (nullable): the text, freed with g_free(); %NULL
 *   with @error (%MPK_ERROR_REMOTE for a type without a "str" method)
 */
char *
mpk_proxy_to_string (MpkProxy *proxy, GError **error)
{
  g_autoptr(GVariant) text = NULL;

  g_return_val_if_fail (proxy != NULL, NULL);

  text = call (proxy, "str", NULL, MPK_NO_WAIT, error);
  if (text == NULL)
    return NULL;
  if (!g_variant_is_of_type (text, G_VARIANT_TYPE_STRING))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "str: expected a string");
      return NULL;
    }
  return g_variant_dup_string (text, NULL);
}

/* --- event, semaphore, barrier ------------------------------------------------------- */

/**
 * mpk_manager_event:
 * @manager: (transfer none): a started or connected manager
 * @error: return location for a #GError, or %NULL
 *
 * Makes an event in the server: Python's `manager.Event()`, a flag,
 * initially clear.
 *
 * Returns: (transfer full) (nullable): an event proxy, freed with
 *   mpk_event_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkEventProxy *
mpk_manager_event (MpkManager *manager, GError **error)
{
  return (MpkEventProxy *) mpk_manager_create (manager, "event", NULL, error);
}

/**
 * mpk_event_proxy_set:
 * @event: (transfer none): an event proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `event.set()`: sets the flag and wakes every waiter.
 *
 * Returns: %TRUE; %FALSE with @error when the call failed
 */
gboolean
mpk_event_proxy_set (MpkEventProxy *event, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (event), "event"), FALSE);
  return call_unit (MPK_PROXY (event), "set", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_event_proxy_clear:
 * @event: (transfer none): an event proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `event.clear()`.
 *
 * Returns: %TRUE; %FALSE with @error when the call failed
 */
gboolean
mpk_event_proxy_clear (MpkEventProxy *event, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (event), "event"), FALSE);
  return call_unit (MPK_PROXY (event), "clear", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_event_proxy_is_set:
 * @event: (transfer none): an event proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `event.is_set()`.
 *
 * Returns: whether the flag is set; %FALSE also with @error
 */
gboolean
mpk_event_proxy_is_set (MpkEventProxy *event, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (event), "event"), FALSE);
  return call_bool (MPK_PROXY (event), "is_set", NULL, error);
}

/**
 * mpk_event_proxy_wait:
 * @event: (transfer none): an event proxy
 * @timeout_us: how long to wait: %MPK_NO_WAIT, a time in microseconds, or
 *   %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `event.wait(timeout)`.
 *
 * Returns: %TRUE once the flag is set; %FALSE with %MPK_ERROR_TIMED_OUT
 *   (Python returns False) or another error
 */
gboolean
mpk_event_proxy_wait (MpkEventProxy *event, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (event), "event"), FALSE);
  return call_unit (MPK_PROXY (event), "wait", NULL, timeout_us, error);
}

/**
 * mpk_manager_semaphore:
 * @manager: (transfer none): a started or connected manager
 * @value: the initial count, at most %G_MAXINT32
 * @error: return location for a #GError, or %NULL
 *
 * Makes a semaphore in the server: Python's `manager.Semaphore(value)`.
 *
 * Returns: (transfer full) (nullable): a semaphore proxy, freed with
 *   mpk_semaphore_proxy_unref(); %NULL with @error (%MPK_ERROR_INVALID for
 *   a @value above %G_MAXINT32; see mpk_manager_create())
 */
MpkSemaphoreProxy *
mpk_manager_semaphore (MpkManager *manager, guint value, GError **error)
{
  return (MpkSemaphoreProxy *) mpk_manager_create (manager, "semaphore",
                                                   g_variant_new ("(xx)", (gint64) value,
                                                                  (gint64) 0),
                                                   error);
}

/**
 * mpk_manager_bounded_semaphore:
 * @manager: (transfer none): a started or connected manager
 * @value: the initial count, which releases may not exceed: 1 to %G_MAXINT32
 * @error: return location for a #GError, or %NULL
 *
 * Makes a bounded semaphore in the server: Python's
 * `manager.BoundedSemaphore(value)`.
 *
 * Returns: (transfer full) (nullable): a semaphore proxy, freed with
 *   mpk_semaphore_proxy_unref(); %NULL with @error (%MPK_ERROR_INVALID for
 *   a @value of 0)
 */
MpkSemaphoreProxy *
mpk_manager_bounded_semaphore (MpkManager *manager, guint value, GError **error)
{
  if (value == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "semaphore: a bounded semaphore of 0 could never be acquired "
                           "nor released");
      return NULL;
    }
  return (MpkSemaphoreProxy *) mpk_manager_create (manager, "semaphore",
                                                   g_variant_new ("(xx)", (gint64) value,
                                                                  (gint64) value),
                                                   error);
}

/**
 * mpk_semaphore_proxy_acquire:
 * @sem: (transfer none): a semaphore proxy
 * @timeout_us: how long to wait: %MPK_NO_WAIT, a time in microseconds, or
 *   %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `sem.acquire(timeout=...)`: takes one from the count, waiting
 * while it is zero.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TIMED_OUT or another error
 */
gboolean
mpk_semaphore_proxy_acquire (MpkSemaphoreProxy *sem, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (sem), "semaphore"), FALSE);
  return call_unit (MPK_PROXY (sem), "acquire", NULL, timeout_us, error);
}

/**
 * mpk_semaphore_proxy_release:
 * @sem: (transfer none): a semaphore proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `sem.release()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when a bounded semaphore
 *   would go above its initial value, or another error
 */
gboolean
mpk_semaphore_proxy_release (MpkSemaphoreProxy *sem, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (sem), "semaphore"), FALSE);
  return call_unit (MPK_PROXY (sem), "release", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_semaphore_proxy_get_value:
 * @sem: (transfer none): a semaphore proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `sem.get_value()`.
 *
 * Returns: the count; -1 with @error
 */
gint64
mpk_semaphore_proxy_get_value (MpkSemaphoreProxy *sem, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (sem), "semaphore"), -1);
  return call_int (MPK_PROXY (sem), "get_value", NULL, error);
}

/**
 * mpk_manager_barrier:
 * @manager: (transfer none): a started or connected manager
 * @parties: how many must meet, at least 1
 * @error: return location for a #GError, or %NULL
 *
 * Makes a barrier in the server: Python's `manager.Barrier(parties)`
 * (without an action: an action would run in the server).
 *
 * Returns: (transfer full) (nullable): a barrier proxy, freed with
 *   mpk_barrier_proxy_unref(); %NULL with @error (%MPK_ERROR_INVALID for
 *   0 parties)
 */
MpkBarrierProxy *
mpk_manager_barrier (MpkManager *manager, guint parties, GError **error)
{
  return (MpkBarrierProxy *) mpk_manager_create (manager, "barrier",
                                                 g_variant_new ("(x)", (gint64) parties), error);
}

/**
 * mpk_barrier_proxy_wait:
 * @barrier: (transfer none): a barrier proxy
 * @timeout_us: how long to wait: %MPK_NO_WAIT, a time in microseconds, or
 *   %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `barrier.wait(timeout)`. A timeout breaks the barrier, as in
 * Python; so does a waiting party whose client goes away.
 *
 * Returns: this party's index (0 arrived first); -1 with
 *   %MPK_ERROR_BROKEN or another error
 */
gint64
mpk_barrier_proxy_wait (MpkBarrierProxy *barrier, gint64 timeout_us, GError **error)
{
  g_autoptr(GVariant) result = NULL;

  g_return_val_if_fail (is_a (MPK_PROXY (barrier), "barrier"), -1);
  result = call (MPK_PROXY (barrier), "wait", NULL, timeout_us, error);
  if (result == NULL)
    return -1;
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE_INT64))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "wait: expected a number, got %s",
                   g_variant_get_type_string (result));
      return -1;
    }
  return g_variant_get_int64 (result);
}

/**
 * mpk_barrier_proxy_abort:
 * @barrier: (transfer none): a barrier proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `barrier.abort()`: breaks it for every waiter, now and later.
 *
 * Returns: %TRUE; %FALSE with @error when the call failed
 */
gboolean
mpk_barrier_proxy_abort (MpkBarrierProxy *barrier, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (barrier), "barrier"), FALSE);
  return call_unit (MPK_PROXY (barrier), "abort", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_barrier_proxy_reset:
 * @barrier: (transfer none): a barrier proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `barrier.reset()`: whole and empty again; the waiters of the
 * round it cuts short get %MPK_ERROR_BROKEN.
 *
 * Returns: %TRUE; %FALSE with @error when the call failed
 */
gboolean
mpk_barrier_proxy_reset (MpkBarrierProxy *barrier, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (barrier), "barrier"), FALSE);
  return call_unit (MPK_PROXY (barrier), "reset", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_barrier_proxy_get_n_waiting:
 * @barrier: (transfer none): a barrier proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `barrier.n_waiting`.
 *
 * Returns: the parties waiting in this round; -1 with @error
 */
gint64
mpk_barrier_proxy_get_n_waiting (MpkBarrierProxy *barrier, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (barrier), "barrier"), -1);
  return call_int (MPK_PROXY (barrier), "n_waiting", NULL, error);
}

/**
 * mpk_barrier_proxy_get_parties:
 * @barrier: (transfer none): a barrier proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `barrier.parties`.
 *
 * Returns: how many must meet; -1 with @error
 */
gint64
mpk_barrier_proxy_get_parties (MpkBarrierProxy *barrier, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (barrier), "barrier"), -1);
  return call_int (MPK_PROXY (barrier), "parties", NULL, error);
}

/**
 * mpk_barrier_proxy_is_broken:
 * @barrier: (transfer none): a barrier proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `barrier.broken`.
 *
 * Returns: whether it is broken; %FALSE also with @error
 */
gboolean
mpk_barrier_proxy_is_broken (MpkBarrierProxy *barrier, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (barrier), "barrier"), FALSE);
  return call_bool (MPK_PROXY (barrier), "broken", NULL, error);
}

/**
 * mpk_manager_condition:
 * @manager: (transfer none): a started or connected manager
 * @error: return location for a #GError, or %NULL
 *
 * Makes a condition in the server: Python's `manager.Condition()`, with a
 * lock of its own that any process may release (as the manager's lock).
 *
 * Returns: (transfer full) (nullable): a condition proxy, freed with
 *   mpk_condition_proxy_unref(); %NULL with @error (see mpk_manager_create())
 */
MpkConditionProxy *
mpk_manager_condition (MpkManager *manager, GError **error)
{
  return (MpkConditionProxy *) mpk_manager_create (manager, "condition", NULL, error);
}

/**
 * mpk_condition_proxy_acquire:
 * @cond: (transfer none): a condition proxy
 * @timeout_us: how long to wait: %MPK_NO_WAIT, a time in microseconds, or
 *   %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `cond.acquire()`: takes the condition's lock.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_TIMED_OUT or another error
 */
gboolean
mpk_condition_proxy_acquire (MpkConditionProxy *cond, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (cond), "condition"), FALSE);
  return call_unit (MPK_PROXY (cond), "acquire", NULL, timeout_us, error);
}

/**
 * mpk_condition_proxy_release:
 * @cond: (transfer none): a condition proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `cond.release()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if the lock was not held,
 *   or another error
 */
gboolean
mpk_condition_proxy_release (MpkConditionProxy *cond, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (cond), "condition"), FALSE);
  return call_unit (MPK_PROXY (cond), "release", NULL, MPK_NO_WAIT, error);
}

/**
 * mpk_condition_proxy_wait:
 * @cond: (transfer none): a condition proxy whose lock the caller holds
 * @timeout_us: how long to wait for a notify: %MPK_NO_WAIT, a time in
 *   microseconds, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Python's `cond.wait(timeout)`: releases the lock, waits for a notify,
 * and takes the lock again (whatever the outcome, as Python does; that
 * wait has no timeout) before it returns.
 *
 * Returns: %TRUE when notified; %FALSE with %MPK_ERROR_TIMED_OUT (Python
 *   returns False, the lock held again), %MPK_ERROR_INVALID when the lock
 *   was not held, or another error
 */
gboolean
mpk_condition_proxy_wait (MpkConditionProxy *cond, gint64 timeout_us, GError **error)
{
  g_autoptr(GVariant) result = NULL;
  gboolean notified;

  g_return_val_if_fail (is_a (MPK_PROXY (cond), "condition"), FALSE);
  result = call (MPK_PROXY (cond), "wait", NULL, timeout_us, error);
  if (result == NULL)
    return FALSE;
  notified = g_variant_is_of_type (result, G_VARIANT_TYPE_BOOLEAN)
             && g_variant_get_boolean (result);
  if (!call_unit (MPK_PROXY (cond), "acquire", NULL, MPK_WAIT_FOREVER, error))
    return FALSE;
  if (!notified)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                           "condition: not notified before the timeout");
      return FALSE;
    }
  return TRUE;
}

/**
 * mpk_condition_proxy_notify:
 * @cond: (transfer none): a condition proxy whose lock the caller holds
 * @n: how many waiters to wake at most
 * @error: return location for a #GError, or %NULL
 *
 * Python's `cond.notify(n)`: wakes the @n longest waiting.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if the lock was not held,
 *   or another error
 */
gboolean
mpk_condition_proxy_notify (MpkConditionProxy *cond, guint n, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (cond), "condition"), FALSE);
  return call_unit (MPK_PROXY (cond), "notify", g_variant_new ("(x)", (gint64) n), MPK_NO_WAIT,
                    error);
}

/**
 * mpk_condition_proxy_notify_all:
 * @cond: (transfer none): a condition proxy whose lock the caller holds
 * @error: return location for a #GError, or %NULL
 *
 * Python's `cond.notify_all()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if the lock was not held,
 *   or another error
 */
gboolean
mpk_condition_proxy_notify_all (MpkConditionProxy *cond, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (cond), "condition"), FALSE);
  return call_unit (MPK_PROXY (cond), "notify", g_variant_new ("(x)", (gint64) -1), MPK_NO_WAIT,
                    error);
}

/**
 * mpk_manager_array:
 * @manager: (transfer none): a started or connected manager
 * @typecode: the C type of the numbers, as Python's array module names it:
 *   one of bBhHiIlLqQ (integers) or fd (floating point)
 * @items: (transfer none) (nullable): the initial numbers, any array or
 *   tuple of int32, int64 or double values (a floating reference is sunk);
 *   %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Makes an array in the server: Python's `manager.Array(typecode,
 * sequence)`. Its length is fixed.
 *
 * Returns: (transfer full) (nullable): an array proxy, freed with
 *   mpk_array_proxy_unref(); %NULL with @error (%MPK_ERROR_INVALID for a
 *   bad typecode or a number that does not fit it)
 */
MpkArrayProxy *
mpk_manager_array (MpkManager *manager, char typecode, GVariant *items, GError **error)
{
  GVariant *av = items != NULL ? to_av (items) : g_variant_new_array (G_VARIANT_TYPE_VARIANT,
                                                                      NULL, 0);

  return (MpkArrayProxy *) mpk_manager_create (manager, "array",
                                               g_variant_new ("(y@av)", (guchar) typecode, av),
                                               error);
}

/**
 * mpk_array_proxy_len:
 * @array: (transfer none): an array proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `len(a)`.
 *
 * Returns: the length; -1 with @error
 */
gint64
mpk_array_proxy_len (MpkArrayProxy *array, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (array), "array"), -1);
  return call_int (MPK_PROXY (array), "len", NULL, error);
}

/**
 * mpk_array_proxy_get:
 * @array: (transfer none): an array proxy
 * @index: the position, negative from the end
 * @error: return location for a #GError, or %NULL
 *
 * Python's `a[index]`.
 *
 * Returns: (transfer full) (nullable): the number (an int64, or a double
 *   for typecodes f and d); %NULL with %MPK_ERROR_INDEX or another error
 */
GVariant *
mpk_array_proxy_get (MpkArrayProxy *array, gint64 index, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (array), "array"), NULL);
  return call (MPK_PROXY (array), "get", g_variant_new ("(x)", index), MPK_NO_WAIT, error);
}

/**
 * mpk_array_proxy_set:
 * @array: (transfer none): an array proxy
 * @index: the position, negative from the end
 * @value: (transfer none): an int32, int64 or double (a floating reference
 *   is sunk)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `a[index] = value`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INDEX, %MPK_ERROR_INVALID (not a
 *   number, or one that does not fit the typecode) or another error
 */
gboolean
mpk_array_proxy_set (MpkArrayProxy *array, gint64 index, GVariant *value, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (array), "array"), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  return call_unit (MPK_PROXY (array), "set", g_variant_new ("(x@v)", index, box (value)),
                    MPK_NO_WAIT, error);
}

/**
 * mpk_array_proxy_tolist:
 * @array: (transfer none): an array proxy
 * @error: return location for a #GError, or %NULL
 *
 * Python's `a[:]` (or `list(a)`): every number at once.
 *
 * Returns: (transfer full) (nullable): an "av" of the numbers; %NULL with
 *   @error
 */
GVariant *
mpk_array_proxy_tolist (MpkArrayProxy *array, GError **error)
{
  g_return_val_if_fail (is_a (MPK_PROXY (array), "array"), NULL);
  return call (MPK_PROXY (array), "tolist", NULL, MPK_NO_WAIT, error);
}
