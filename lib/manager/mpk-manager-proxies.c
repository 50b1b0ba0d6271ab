/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-proxies.c: typed calls for the built-in manager types. Each
 * is one mpk_proxy_call_full() of the method of the same name (the methods
 * and their argument shapes are in mpk-manager-types.c); values travel
 * boxed in "v" so any GVariant can be stored. */
#include "mpk-manager-private.h"

#include <string.h>

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

/* --- list ------------------------------------------------------------------------- */

/**
 * mpk_manager_list:
 * @manager: a manager
 * @items: (nullable): the first items: any array or tuple (floating is sunk)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `manager.list(items)`. A value of type "v" (in an "av") is
 * stored unboxed, so an "av" of ints stores ints.
 *
 * Returns: (transfer full): a list proxy, or %NULL with @error
 */
MpkProxy *
mpk_manager_list (MpkManager *manager, GVariant *items, GError **error)
{
  g_return_val_if_fail (items == NULL || g_variant_is_container (items), NULL);

  return mpk_manager_create (manager, "list",
                             items != NULL ? g_variant_new ("(@av)", to_av (items)) : NULL, error);
}

gboolean
mpk_list_append (MpkProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && item != NULL, FALSE);
  return call_unit (list, "append", g_variant_new ("(@v)", box (item)), MPK_NO_WAIT, error);
}

gboolean
mpk_list_extend (MpkProxy *list, GVariant *items, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && items != NULL && g_variant_is_container (items), FALSE);
  return call_unit (list, "extend", g_variant_new ("(@av)", to_av (items)), MPK_NO_WAIT, error);
}

gboolean
mpk_list_insert (MpkProxy *list, gint64 index, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && item != NULL, FALSE);
  return call_unit (list, "insert", g_variant_new ("(x@v)", index, box (item)), MPK_NO_WAIT, error);
}

/* `list[index]`: (transfer full) the item, or NULL with MPK_ERROR_INDEX. */
GVariant *
mpk_list_get (MpkProxy *list, gint64 index, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), NULL);
  return call (list, "get", g_variant_new ("(x)", index), MPK_NO_WAIT, error);
}

gboolean
mpk_list_set (MpkProxy *list, gint64 index, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && item != NULL, FALSE);
  return call_unit (list, "set", g_variant_new ("(x@v)", index, box (item)), MPK_NO_WAIT, error);
}

/* `list.pop(index)` (-1 for the last): (transfer full) the item. */
GVariant *
mpk_list_pop (MpkProxy *list, gint64 index, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), NULL);
  return call (list, "pop", g_variant_new ("(x)", index), MPK_NO_WAIT, error);
}

gboolean
mpk_list_remove (MpkProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && item != NULL, FALSE);
  return call_unit (list, "remove", g_variant_new ("(@v)", box (item)), MPK_NO_WAIT, error);
}

gint64
mpk_list_index (MpkProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && item != NULL, -1);
  return call_int (list, "index", g_variant_new ("(@v)", box (item)), error);
}

gint64
mpk_list_count (MpkProxy *list, GVariant *item, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && item != NULL, -1);
  return call_int (list, "count", g_variant_new ("(@v)", box (item)), error);
}

gint64
mpk_list_len (MpkProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), -1);
  return call_int (list, "len", NULL, error);
}

/* `list[start:stop]` as an "av" (transfer full); bounds as in Python. */
GVariant *
mpk_list_slice (MpkProxy *list, gint64 start, gint64 stop, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), NULL);
  return call (list, "slice", g_variant_new ("(xx)", start, stop), MPK_NO_WAIT, error);
}

gboolean
mpk_list_set_slice (MpkProxy *list, gint64 start, gint64 stop, GVariant *items, GError **error)
{
  g_return_val_if_fail (is_a (list, "list") && items != NULL && g_variant_is_container (items), FALSE);
  return call_unit (list, "set_slice", g_variant_new ("(xx@av)", start, stop, to_av (items)),
                    MPK_NO_WAIT, error);
}

/* The whole list as a plain "av" (transfer full). */
GVariant *
mpk_list_copy (MpkProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), NULL);
  return call (list, "copy", NULL, MPK_NO_WAIT, error);
}

/* `list *= times`. */
gboolean
mpk_list_repeat (MpkProxy *list, gint64 times, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), FALSE);
  return call_unit (list, "repeat", g_variant_new ("(x)", times), MPK_NO_WAIT, error);
}

gboolean
mpk_list_reverse (MpkProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), FALSE);
  return call_unit (list, "reverse", NULL, MPK_NO_WAIT, error);
}

gboolean
mpk_list_clear (MpkProxy *list, GError **error)
{
  g_return_val_if_fail (is_a (list, "list"), FALSE);
  return call_unit (list, "clear", NULL, MPK_NO_WAIT, error);
}

/* --- dict --------------------------------------------------------------------------- */

/**
 * mpk_manager_dict:
 * @manager: a manager
 * @items: (nullable): the first entries: a dictionary such as "a{sv}"
 *   (floating is sunk); "v" values are stored unboxed
 * @error: return location for a #GError, or %NULL
 *
 * Python's `manager.dict(items)`. Keys must be of a basic type.
 *
 * Returns: (transfer full): a dict proxy, or %NULL with @error
 */
MpkProxy *
mpk_manager_dict (MpkManager *manager, GVariant *items, GError **error)
{
  g_return_val_if_fail (items == NULL || g_variant_is_of_type (items, G_VARIANT_TYPE_DICTIONARY), NULL);

  return mpk_manager_create (manager, "dict",
                             items != NULL ? g_variant_new_tuple (&items, 1) : NULL, error);
}

/* `dict[key]`: (transfer full) the value, or NULL with MPK_ERROR_KEY. */
GVariant *
mpk_dict_get (MpkProxy *dict, GVariant *key, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && key != NULL, NULL);
  return call (dict, "get", g_variant_new ("(@v)", box (key)), MPK_NO_WAIT, error);
}

/* `dict.get(key, fallback)`. */
GVariant *
mpk_dict_get_default (MpkProxy *dict, GVariant *key, GVariant *fallback, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && key != NULL && fallback != NULL, NULL);
  return call (dict, "get_default", g_variant_new ("(@v@v)", box (key), box (fallback)), MPK_NO_WAIT, error);
}

gboolean
mpk_dict_set (MpkProxy *dict, GVariant *key, GVariant *value, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && key != NULL && value != NULL, FALSE);
  return call_unit (dict, "set", g_variant_new ("(@v@v)", box (key), box (value)), MPK_NO_WAIT, error);
}

GVariant *
mpk_dict_pop (MpkProxy *dict, GVariant *key, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && key != NULL, NULL);
  return call (dict, "pop", g_variant_new ("(@v)", box (key)), MPK_NO_WAIT, error);
}

GVariant *
mpk_dict_setdefault (MpkProxy *dict, GVariant *key, GVariant *value, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && key != NULL && value != NULL, NULL);
  return call (dict, "setdefault", g_variant_new ("(@v@v)", box (key), box (value)), MPK_NO_WAIT, error);
}

gboolean
mpk_dict_contains (MpkProxy *dict, GVariant *key, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && key != NULL, FALSE);
  return call_bool (dict, "contains", g_variant_new ("(@v)", box (key)), error);
}

gint64
mpk_dict_len (MpkProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict"), -1);
  return call_int (dict, "len", NULL, error);
}

/* The keys, in insertion order, as "av" (transfer full). */
GVariant *
mpk_dict_keys (MpkProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict"), NULL);
  return call (dict, "keys", NULL, MPK_NO_WAIT, error);
}

GVariant *
mpk_dict_values (MpkProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict"), NULL);
  return call (dict, "values", NULL, MPK_NO_WAIT, error);
}

/* The (key, value) pairs as "a(vv)" (transfer full). */
GVariant *
mpk_dict_items (MpkProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict"), NULL);
  return call (dict, "items", NULL, MPK_NO_WAIT, error);
}

gboolean
mpk_dict_update (MpkProxy *dict, GVariant *items, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict") && items != NULL
                        && g_variant_is_of_type (items, G_VARIANT_TYPE_DICTIONARY), FALSE);
  return call_unit (dict, "update", g_variant_new_tuple (&items, 1), MPK_NO_WAIT, error);
}

gboolean
mpk_dict_clear (MpkProxy *dict, GError **error)
{
  g_return_val_if_fail (is_a (dict, "dict"), FALSE);
  return call_unit (dict, "clear", NULL, MPK_NO_WAIT, error);
}

/* An iterator over the keys; its next() fails with MPK_ERROR_INVALID once
 * the dict's size has changed (Python's RuntimeError). */
MpkProxy *
mpk_dict_iter (MpkProxy *dict, GError **error)
{
  g_autoptr(GVariant) ref = NULL;

  g_return_val_if_fail (is_a (dict, "dict"), NULL);
  ref = call (dict, "iter", NULL, MPK_NO_WAIT, error);
  return ref != NULL ? mpk_proxy_from_value (mpk_proxy_get_manager (dict), ref, error) : NULL;
}

/**
 * mpk_iterator_next:
 * @iterator: an iterator proxy
 * @item: (out) (transfer full): the next item
 * @error: return location for a #GError, or %NULL
 *
 * Returns: %TRUE with @item set; %FALSE at the end (no error) or with @error
 */
gboolean
mpk_iterator_next (MpkProxy *iterator, GVariant **item, GError **error)
{
  g_autoptr(GVariant) result = NULL, inner = NULL;
  gboolean more;

  g_return_val_if_fail (is_a (iterator, "iterator") && item != NULL, FALSE);

  *item = NULL;
  result = call (iterator, "next", NULL, MPK_NO_WAIT, error);
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

MpkProxy *
mpk_manager_value (MpkManager *manager, GVariant *initial, GError **error)
{
  g_return_val_if_fail (initial != NULL, NULL);
  return mpk_manager_create (manager, "value", g_variant_new ("(@v)", box (initial)), error);
}

GVariant *
mpk_value_proxy_get (MpkProxy *value, GError **error)
{
  g_return_val_if_fail (is_a (value, "value"), NULL);
  return call (value, "get", NULL, MPK_NO_WAIT, error);
}

gboolean
mpk_value_proxy_set (MpkProxy *value, GVariant *v, GError **error)
{
  g_return_val_if_fail (is_a (value, "value") && v != NULL, FALSE);
  return call_unit (value, "set", g_variant_new ("(@v)", box (v)), MPK_NO_WAIT, error);
}

/**
 * mpk_value_proxy_add:
 * @value: a value proxy holding an integer (or a double)
 * @delta: what to add
 * @result: (out) (optional): the new value
 * @error: return location for a #GError, or %NULL
 *
 * Adds in one step in the server, so concurrent adds never lose an update
 * (Python's `proxy.value += 1` is a get and a set, and races).
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID when the value is not a
 *   number or the sum does not fit its type
 */
gboolean
mpk_value_proxy_add (MpkProxy *value, gint64 delta, gint64 *result, GError **error)
{
  g_autoptr(GVariant) sum = NULL;

  g_return_val_if_fail (is_a (value, "value"), FALSE);

  sum = call (value, "add", g_variant_new ("(x)", delta), MPK_NO_WAIT, error);
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

/* Sets @desired if the value equals @expected, in one step; @swapped says
 * which happened. */
gboolean
mpk_value_proxy_compare_and_set (MpkProxy  *value,
                                 GVariant  *expected,
                                 GVariant  *desired,
                                 gboolean  *swapped,
                                 GError   **error)
{
  g_autoptr(GError) local = NULL;
  gboolean done;

  g_return_val_if_fail (is_a (value, "value") && expected != NULL && desired != NULL, FALSE);

  done = call_bool (value, "compare_and_set", g_variant_new ("(@v@v)", box (expected), box (desired)), &local);
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

/* Python's `manager.Queue(maxsize)` (0: unbounded). */
MpkProxy *
mpk_manager_queue (MpkManager *manager, gint64 maxsize, GError **error)
{
  return mpk_manager_create (manager, "queue", g_variant_new ("(xb)", maxsize, FALSE), error);
}

MpkProxy *
mpk_manager_joinable_queue (MpkManager *manager, gint64 maxsize, GError **error)
{
  return mpk_manager_create (manager, "joinable_queue", g_variant_new ("(xb)", maxsize, TRUE),
                             error);
}

/* Waits up to @timeout_us for room; MPK_ERROR_FULL when there is none. */
gboolean
mpk_queue_proxy_put (MpkProxy *queue, GVariant *item, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_queue (queue) && item != NULL, FALSE);
  return call_unit (queue, "put", g_variant_new ("(@v)", box (item)), timeout_us, error);
}

/* Waits up to @timeout_us for an item: (transfer full) it, or NULL with
 * MPK_ERROR_EMPTY (Python's queue.Empty, also for MPK_NO_WAIT). */
GVariant *
mpk_queue_proxy_get (MpkProxy *queue, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_queue (queue), NULL);
  return call (queue, "get", NULL, timeout_us, error);
}

gint64
mpk_queue_proxy_qsize (MpkProxy *queue, GError **error)
{
  g_return_val_if_fail (is_queue (queue), -1);
  return call_int (queue, "qsize", NULL, error);
}

gboolean
mpk_queue_proxy_empty (MpkProxy *queue, GError **error)
{
  g_return_val_if_fail (is_queue (queue), FALSE);
  return call_bool (queue, "empty", NULL, error);
}

gboolean
mpk_queue_proxy_full (MpkProxy *queue, GError **error)
{
  g_return_val_if_fail (is_queue (queue), FALSE);
  return call_bool (queue, "full", NULL, error);
}

gboolean
mpk_queue_proxy_task_done (MpkProxy *queue, GError **error)
{
  g_return_val_if_fail (is_a (queue, "joinable_queue"), FALSE);
  return call_unit (queue, "task_done", NULL, MPK_NO_WAIT, error);
}

/* Waits until every item put has been marked done, or MPK_ERROR_TIMED_OUT. */
gboolean
mpk_queue_proxy_join (MpkProxy *queue, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (queue, "joinable_queue"), FALSE);
  return call_unit (queue, "join", NULL, timeout_us, error);
}

/* --- lock ------------------------------------------------------------------------------- */

MpkProxy *
mpk_manager_lock (MpkManager *manager, GError **error)
{
  return mpk_manager_create (manager, "lock", NULL, error);
}

/* Waits up to @timeout_us; MPK_ERROR_TIMED_OUT if still held. */
gboolean
mpk_lock_proxy_acquire (MpkProxy *lock, gint64 timeout_us, GError **error)
{
  g_return_val_if_fail (is_a (lock, "lock"), FALSE);
  return call_unit (lock, "acquire", NULL, timeout_us, error);
}

gboolean
mpk_lock_proxy_release (MpkProxy *lock, GError **error)
{
  g_return_val_if_fail (is_a (lock, "lock"), FALSE);
  return call_unit (lock, "release", NULL, MPK_NO_WAIT, error);
}

/* --- namespace ---------------------------------------------------------------------------- */

MpkProxy *
mpk_manager_namespace (MpkManager *manager, GError **error)
{
  return mpk_manager_create (manager, "namespace", NULL, error);
}

GVariant *
mpk_namespace_get (MpkProxy *ns, const char *name, GError **error)
{
  g_return_val_if_fail (is_a (ns, "namespace") && name != NULL, NULL);
  return call (ns, "get", g_variant_new ("(s)", name), MPK_NO_WAIT, error);
}

gboolean
mpk_namespace_set (MpkProxy *ns, const char *name, GVariant *value, GError **error)
{
  g_return_val_if_fail (is_a (ns, "namespace") && name != NULL && value != NULL, FALSE);
  return call_unit (ns, "set", g_variant_new ("(s@v)", name, box (value)), MPK_NO_WAIT, error);
}

gboolean
mpk_namespace_delete (MpkProxy *ns, const char *name, GError **error)
{
  g_return_val_if_fail (is_a (ns, "namespace") && name != NULL, FALSE);
  return call_unit (ns, "delete", g_variant_new ("(s)", name), MPK_NO_WAIT, error);
}

/* What Python's str() shows: "[1, 2]" for a list, "Namespace(name='Bob')"
 * for a namespace. (transfer full), or NULL with @error (a type without a
 * "str" method: MPK_ERROR_REMOTE). */
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
