/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-types.c: the types a Manager holds out of the box: list,
 * dict, value, queue, joinable_queue, lock, namespace, iterator, event,
 * semaphore, barrier, condition and array. They
 * are MpkManagerType tables like any user type; they run in the server
 * with its lock held (see mpk-manager-server.c).
 *
 * Rules they share: arguments arrive as a tuple whose shape is checked
 * (the client is untrusted; a wrong shape is MPK_ERROR_REMOTE); a value of
 * type "v" is unboxed one level as it is stored; every stored value's
 * object references are counted (mpk__manager_hold_refs) and uncounted
 * when it leaves.
 *
 * The server lock: every method (the functions in the method tables) and
 * every create and free function is called with the server lock held (a
 * free function also without it while the server stops, once no client
 * thread is left), and so is every helper that reads or changes an
 * object or counts references; each says so. unbox_all releases the lock
 * while it works. The helpers that look only at their arguments (args_are,
 * unbox, room_for, ...) need no lock and say that. */
#include "mpk-manager-types.h"

#include <stdlib.h>
#include <string.h>

/* Checks that @args has the shape @type (a tuple type string). No lock
 * needed. */
static gboolean
args_are (GVariant *args, const char *type, const char *method, GError **error)
{
  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    return TRUE;
  g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE, "%s() takes %s arguments, not %s", method,
               type, args != NULL ? g_variant_get_type_string (args) : "no");
  return FALSE;
}

/* The value to store for @boxed: a "v" is opened one level. (transfer
 * full) No lock needed. */
static GVariant *
unbox (GVariant *boxed)
{
  if (g_variant_is_of_type (boxed, G_VARIANT_TYPE_VARIANT))
    return g_variant_get_variant (boxed);
  return g_variant_ref (boxed);
}

/* Argument @i of @args, unboxed. (transfer full) No lock needed. */
static GVariant *
arg_value (GVariant *args, gsize i)
{
  g_autoptr(GVariant) child = g_variant_get_child_value (args, i);

  return unbox (child);
}

/* Argument @i of @args, an int64. No lock needed. */
static gint64
arg_int (GVariant *args, gsize i)
{
  g_autoptr(GVariant) child = g_variant_get_child_value (args, i);

  return g_variant_get_int64 (child);
}

/* Stores @value's references (see the file comment) and returns it, or NULL.
 * Called with the server lock held. */
static GVariant *
hold (MpkManagerCall *call, GVariant *value, GError **error)
{
  if (!mpk__manager_hold_refs (call, value, error))
    {
      g_variant_unref (value);
      return NULL;
    }
  return value;
}

/* Uncounts a stored value's references and frees it. Called with the server lock held.
 * (or, through a free function, while the server stops) */
static void
drop (gpointer value)
{
  mpk__manager_drop_refs (value);
  g_variant_unref (value);
}

/* Values of any array as an "av". (floating) Called with the server lock held.
 * (the array is an object's) */
static GVariant *
boxed_array (GPtrArray *values)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < values->len; i++)
    g_variant_builder_add (&b, "v", g_ptr_array_index (values, i));
  return g_variant_builder_end (&b);
}

/* --- list ------------------------------------------------------------------------- */

/* What one list, dict or namespace may hold (16 Mi items, 128 MiB of a
 * list's pointers): every call that adds items checks it first, so no
 * client can make the server's memory grow without bound through one
 * object, a few items at a time. A variable only so a test can lower it
 * (see mpk-manager-types.h). */
#define DEFAULT_MAX_ITEMS (1 << 24)
static guint max_items = DEFAULT_MAX_ITEMS;

void
mpk__manager_set_max_items_for_testing (guint limit)
{
  max_items = limit > 0 ? limit : DEFAULT_MAX_ITEMS;
}

/* Whether a @what of @len items may take @more (without overflow); else
 * INVALID. No lock needed. */
static gboolean
room_for (const char *what, gsize len, gsize more, GError **error)
{
  if (len <= max_items && more <= max_items - len)
    return TRUE;
  g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "the %s would be over %u items", what,
               max_items);
  return FALSE;
}

/* The list type's create: from "(av)" or "()". Called with the server lock held. */
static gpointer
list_create (GVariant *args, GError **error)
{
  GPtrArray *items = g_ptr_array_new_with_free_func (drop);

  if (g_variant_is_of_type (args, G_VARIANT_TYPE ("(av)")))
    {
      g_autoptr(GVariant) array = g_variant_get_child_value (args, 0);
      gsize n = g_variant_n_children (array);

      if (!room_for ("list", 0, n, error))
        {
          g_ptr_array_unref (items);
          return NULL;
        }
      for (gsize i = 0; i < n; i++)
        g_ptr_array_add (items, arg_value (array, i));   /* counted by create */
    }
  else if (!args_are (args, "()", "list", error))
    {
      g_ptr_array_set_free_func (items, (GDestroyNotify) g_variant_unref);
      g_ptr_array_unref (items);
      return NULL;
    }
  return items;
}

/* Python's index rule: negative counts from the end; FALSE if outside.
 * Called with the server lock held. */
static gboolean
list_index (GPtrArray *items, gint64 index, guint *out, GError **error)
{
  if (index < 0)
    index += items->len;
  if (index < 0 || index >= (gint64) items->len)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INDEX, "list index out of range");
      return FALSE;
    }
  *out = (guint) index;
  return TRUE;
}

/* Python's slice bounds: negative from the end, then clamped to [0, len].
 * Called with the server lock held. */
static guint
clamp_bound (GPtrArray *items, gint64 bound)
{
  if (bound < 0)
    bound += items->len;
  return (guint) CLAMP (bound, 0, (gint64) items->len);
}

static GVariant *
list_append (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GVariant *item;

  if (!args_are (args, "(v)", "append", error)
      || !room_for ("list", ((GPtrArray *) self)->len, 1, error)
      || !(item = hold (call, arg_value (args, 0), error)))
    return NULL;
  g_ptr_array_add (self, item);
  return NULL;
}

/* The items of the "av" @array, unboxed, made without the server's lock:
 * for a big array that is most of the work. (transfer full) Called with
 * the server lock held; releases it meanwhile and holds it again when it
 * returns. */
static GPtrArray *
unbox_all (MpkManagerCall *call, GVariant *array)
{
  gsize n = g_variant_n_children (array);
  GPtrArray *values = g_ptr_array_new_full ((guint) n, (GDestroyNotify) g_variant_unref);

  mpk__manager_call_unlock (call);
  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (values, arg_value (array, i));
  mpk__manager_call_relock (call);
  return values;
}

static GVariant *
list_extend (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) array = NULL;
  g_autoptr(GPtrArray) values = NULL;
  gsize n;

  if (!args_are (args, "(av)", "extend", error))
    return NULL;
  array = g_variant_get_child_value (args, 0);
  /* Refused before the work of unboxing, and again after it: the list
   * may have grown while the lock was let go. */
  if (!room_for ("list", ((GPtrArray *) self)->len, g_variant_n_children (array), error))
    return NULL;
  values = unbox_all (call, array);
  if (!room_for ("list", ((GPtrArray *) self)->len, values->len, error)
      || !mpk__manager_hold_refs (call, array, error))
    return NULL;
  n = values->len;
  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (self, values->pdata[i]);
  g_ptr_array_set_free_func (values, NULL);   /* the list owns them now */
  return NULL;
}

static GVariant *
list_insert (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  GVariant *item;

  if (!args_are (args, "(xv)", "insert", error) || !room_for ("list", items->len, 1, error)
      || !(item = hold (call, arg_value (args, 1), error)))
    return NULL;
  g_ptr_array_insert (items, (gint) clamp_bound (items, arg_int (args, 0)), item);
  return NULL;
}

static GVariant *
list_get (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  guint i;

  if (!args_are (args, "(x)", "get", error) || !list_index (self, arg_int (args, 0), &i, error))
    return NULL;
  return g_variant_ref (g_ptr_array_index ((GPtrArray *) self, i));
}

static GVariant *
list_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  GVariant *item;
  guint i;

  if (!args_are (args, "(xv)", "set", error) || !list_index (items, arg_int (args, 0), &i, error)
      || !(item = hold (call, arg_value (args, 1), error)))
    return NULL;
  drop (items->pdata[i]);
  items->pdata[i] = item;
  return NULL;
}

static GVariant *
list_pop (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GVariant *item;
  guint i;

  if (!args_are (args, "(x)", "pop", error))
    return NULL;
  if (((GPtrArray *) self)->len == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INDEX, "pop from empty list");
      return NULL;
    }
  if (!list_index (self, arg_int (args, 0), &i, error))
    return NULL;
  item = g_ptr_array_steal_index (self, i);
  mpk__manager_release_refs (item);
  return item;
}

/* The first index of @value at or after 0, or -1. Called with the server lock held. */
static gint64
list_find (GPtrArray *items, GVariant *value)
{
  for (guint i = 0; i < items->len; i++)
    if (g_variant_equal (items->pdata[i], value))
      return i;
  return -1;
}

static GVariant *
list_remove (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) value = NULL;
  gint64 i;

  if (!args_are (args, "(v)", "remove", error))
    return NULL;
  value = arg_value (args, 0);
  i = list_find (self, value);
  if (i < 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID, "list.remove(x): x not in list");
      return NULL;
    }
  g_ptr_array_remove_index (self, (guint) i);
  return NULL;
}

static GVariant *
list_index_of (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) value = NULL;
  gint64 i;

  if (!args_are (args, "(v)", "index", error))
    return NULL;
  value = arg_value (args, 0);
  i = list_find (self, value);
  if (i < 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID, "list.index(x): x not in list");
      return NULL;
    }
  return g_variant_new_int64 (i);
}

static GVariant *
list_count (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  g_autoptr(GVariant) value = NULL;
  gint64 n = 0;

  if (!args_are (args, "(v)", "count", error))
    return NULL;
  value = arg_value (args, 0);
  for (guint i = 0; i < items->len; i++)
    n += g_variant_equal (items->pdata[i], value);
  return g_variant_new_int64 (n);
}

/* Also called with no arguments by the server (for iterators of a dict). */
static GVariant *
list_len (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_int64 (((GPtrArray *) self)->len);
}

static GVariant *
list_slice (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  g_autoptr(GPtrArray) part = g_ptr_array_new ();
  guint start, stop;

  if (!args_are (args, "(xx)", "slice", error))
    return NULL;
  start = clamp_bound (items, arg_int (args, 0));
  stop = clamp_bound (items, arg_int (args, 1));
  for (guint i = start; i < stop; i++)
    g_ptr_array_add (part, items->pdata[i]);
  return boxed_array (part);
}

static GVariant *
list_set_slice (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  g_autoptr(GVariant) array = NULL;
  g_autoptr(GPtrArray) values = NULL;
  guint start, stop, old_len, n;

  if (!args_are (args, "(xxav)", "set_slice", error))
    return NULL;
  array = g_variant_get_child_value (args, 2);
  if (!room_for ("list", 0, g_variant_n_children (array), error))
    return NULL;
  values = unbox_all (call, array);
  /* The list may have changed while the lock was let go: bounds from now. */
  if (!mpk__manager_hold_refs (call, array, error))
    return NULL;
  n = values->len;
  start = clamp_bound (items, arg_int (args, 0));
  stop = MAX (start, clamp_bound (items, arg_int (args, 1)));
  if (!room_for ("list", items->len - (stop - start), n, error))
    {
      mpk__manager_drop_refs (array);
      return NULL;
    }
  g_ptr_array_remove_range (items, start, stop - start);
  if (n == 0)
    return NULL;
  /* Open the gap once and fill it: inserting one at a time moved the
   * tail once per item (100 000 items stalled every client for 851 ms). */
  old_len = items->len;
  g_ptr_array_set_size (items, (gint) (old_len + n));
  memmove (items->pdata + start + n, items->pdata + start,
           (old_len - start) * sizeof (gpointer));
  memcpy (items->pdata + start, values->pdata, n * sizeof (gpointer));
  g_ptr_array_set_free_func (values, NULL);   /* the list owns them now */
  return NULL;
}

static GVariant *
list_copy (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return boxed_array (self);
}

static GVariant *
list_repeat (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  guint len = items->len;
  gint64 times;

  if (!args_are (args, "(x)", "repeat", error))
    return NULL;
  times = arg_int (args, 0);
  if (times <= 0)
    g_ptr_array_set_size (items, 0);
  if (times <= 1 || len == 0)
    return NULL;
  /* The server holds its lock meanwhile: a bounded size, checked without overflow. */
  if (times > max_items / len)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "the repeated list would be over %u items", max_items);
      return NULL;
    }
  for (gint64 t = 1; t < times; t++)
    for (guint i = 0; i < len; i++)
      {
        GVariant *item = g_variant_ref (items->pdata[i]);

        mpk__manager_hold_refs (call, item, NULL);   /* live: the original holds them */
        g_ptr_array_add (items, item);
      }
  return NULL;
}

static GVariant *
list_reverse (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;

  for (guint i = 0, j = items->len; j > i + 1; i++, j--)
    {
      gpointer t = items->pdata[i];

      items->pdata[i] = items->pdata[j - 1];
      items->pdata[j - 1] = t;
    }
  return NULL;
}

static GVariant *
list_clear (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_ptr_array_set_size (self, 0);
  return NULL;
}

static GVariant *
list_str (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GPtrArray *items = self;
  GString *s = g_string_new ("[");

  for (guint i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append (s, ", ");
      g_variant_print_string (items->pdata[i], s, FALSE);
    }
  g_string_append_c (s, ']');
  return g_variant_new_take_string (g_string_free (s, FALSE));
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod list_methods[] = {
  { "append", list_append }, { "extend", list_extend }, { "insert", list_insert },
  { "get", list_get }, { "set", list_set }, { "pop", list_pop }, { "remove", list_remove },
  { "index", list_index_of }, { "count", list_count }, { "len", list_len },
  { "slice", list_slice }, { "set_slice", list_set_slice }, { "copy", list_copy },
  { "repeat", list_repeat }, { "reverse", list_reverse }, { "clear", list_clear },
  { "str", list_str },
  { NULL, NULL },
};

static const MpkManagerType list_type = {
  "list", list_create, (GDestroyNotify) g_ptr_array_unref, list_methods,
};

/* --- dict -------------------------------------------------------------------------------
 * A hash table for lookups plus the keys in insertion order, as Python's
 * dict keeps them. */

typedef struct
{
  GHashTable *table;   /* key → value, both GVariant */
  GPtrArray  *order;   /* the keys, as inserted (borrowed from @table) */
} Dict;

/* The dict type's free. Called with the server lock held. (or while the server stops) */
static void
dict_free (gpointer self)
{
  Dict *dict = self;

  g_ptr_array_unref (dict->order);
  g_hash_table_unref (dict->table);
  g_free (dict);
}

/* Keys are hashed, and GVariant hashes basic types only. A proxy
 * reference is refused: keys are not counted as holders. No lock needed. */
static gboolean
key_ok (GVariant *key, GError **error)
{
  if (!g_variant_type_is_basic (g_variant_get_type (key)))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "unhashable key type %s: dict keys must be numbers, strings or other basic "
                   "types", g_variant_get_type_string (key));
      return FALSE;
    }
  if (mpk_proxy_is_reference (key))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "a proxy reference cannot be a dict key");
      return FALSE;
    }
  return TRUE;
}

/* Takes @key and @value (both already counted). Called with the server lock held. */
static void
dict_put (Dict *dict, GVariant *key, GVariant *value)
{
  gpointer old_key, old_value;

  if (g_hash_table_lookup_extended (dict->table, key, &old_key, &old_value))
    {
      drop (old_value);
      g_hash_table_steal (dict->table, key);
      g_hash_table_insert (dict->table, old_key, value);   /* keeps its place */
      drop (key);
      return;
    }
  g_hash_table_insert (dict->table, key, value);
  g_ptr_array_add (dict->order, key);
}

/* Takes @key's entry out: its value goes to @value, the key is dropped.
 * FALSE if there is none. Called with the server lock held. */
static gboolean
dict_take (Dict *dict, GVariant *key, GVariant **value)
{
  gpointer stored_key, stored_value;

  if (!g_hash_table_lookup_extended (dict->table, key, &stored_key, &stored_value))
    return FALSE;
  g_hash_table_steal (dict->table, key);
  g_ptr_array_remove (dict->order, stored_key);
  drop (stored_key);
  *value = stored_value;
  return TRUE;
}

/* Whether @dict may take the keys of @entries (@n of them) it lacks.
 * Called with the server lock held. */
static gboolean
dict_room_for (Dict *dict, GVariant *entries, gsize n, GError **error)
{
  g_autoptr(GHashTable) fresh = NULL;

  if (room_for ("dict", dict->order->len, n, NULL))
    return TRUE;   /* even if every key is new: the usual case costs nothing */
  /* Near the limit: count the distinct keys it does not hold yet. */
  fresh = g_hash_table_new_full (g_variant_hash, g_variant_equal,
                                 (GDestroyNotify) g_variant_unref, NULL);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (entries, i);
      GVariant *key = arg_value (entry, 0);

      if (g_hash_table_contains (dict->table, key))
        g_variant_unref (key);
      else
        g_hash_table_add (fresh, key);
    }
  return room_for ("dict", dict->order->len, g_hash_table_size (fresh), error);
}

/* Fills @dict from any dictionary GVariant; FALSE at a bad key, or if the
 * dict would be over the limit (then nothing is stored). Called with the server lock held. */
static gboolean
dict_fill (Dict *dict, GVariant *entries, MpkManagerCall *call, GError **error)
{
  gsize n;

  if (!g_variant_is_of_type (entries, G_VARIANT_TYPE_DICTIONARY))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_REMOTE, "expected a dictionary, not %s",
                   g_variant_get_type_string (entries));
      return FALSE;
    }
  n = g_variant_n_children (entries);
  /* All keys first: a refused key must leave nothing stored (a failed
   * create would otherwise drop the stored values' references twice). */
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (entries, i);
      g_autoptr(GVariant) key = arg_value (entry, 0);

      if (!key_ok (key, error))
        return FALSE;
    }
  if (!dict_room_for (dict, entries, n, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (entries, i);
      GVariant *key = arg_value (entry, 0), *value = arg_value (entry, 1);

      if (call != NULL && !mpk__manager_hold_refs (call, value, error))
        {
          g_variant_unref (key);
          g_variant_unref (value);
          return FALSE;
        }
      dict_put (dict, key, value);
    }
  return TRUE;
}

/* The dict type's create: from "(a{..})" or "()". Called with the server lock held. */
static gpointer
dict_create (GVariant *args, GError **error)
{
  Dict *dict = g_new0 (Dict, 1);

  dict->table = g_hash_table_new_full (g_variant_hash, g_variant_equal, drop, drop);
  dict->order = g_ptr_array_new ();
  if (g_variant_n_children (args) == 1)
    {
      g_autoptr(GVariant) entries = g_variant_get_child_value (args, 0);

      if (dict_fill (dict, entries, NULL, error))   /* create counted them */
        return dict;
    }
  else if (args_are (args, "()", "dict", error))
    return dict;
  dict_free (dict);
  return NULL;
}

/* The key argument @i, checked. (transfer full) No lock needed. */
static GVariant *
dict_key (GVariant *args, gsize i, GError **error)
{
  GVariant *key = arg_value (args, i);

  if (key_ok (key, error))
    return key;
  g_variant_unref (key);
  return NULL;
}

/* Sets Python's KeyError for @key. No lock needed. */
static void
missing_key (GVariant *key, GError **error)
{
  g_autofree char *text = g_variant_print (key, FALSE);

  g_set_error (error, MPK_ERROR, MPK_ERROR_KEY, "KeyError: %s", text);
}

static GVariant *
dict_get (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;
  g_autoptr(GVariant) key = NULL;
  GVariant *value;

  if (!args_are (args, "(v)", "get", error) || !(key = dict_key (args, 0, error)))
    return NULL;
  value = g_hash_table_lookup (dict->table, key);
  if (value == NULL)
    {
      missing_key (key, error);
      return NULL;
    }
  return g_variant_ref (value);
}

static GVariant *
dict_get_default (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;
  g_autoptr(GVariant) key = NULL, fallback = NULL;
  GVariant *value;

  if (!args_are (args, "(vv)", "get_default", error) || !(key = dict_key (args, 0, error)))
    return NULL;
  value = g_hash_table_lookup (dict->table, key);
  fallback = arg_value (args, 1);
  return g_variant_ref (value != NULL ? value : fallback);
}

static GVariant *
dict_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  GVariant *key, *value;

  if (!args_are (args, "(vv)", "set", error) || !(key = dict_key (args, 0, error)))
    return NULL;
  if (!g_hash_table_contains (((Dict *) self)->table, key)
      && !room_for ("dict", ((Dict *) self)->order->len, 1, error))
    {
      g_variant_unref (key);
      return NULL;
    }
  value = hold (call, arg_value (args, 1), error);
  if (value == NULL)
    {
      g_variant_unref (key);
      return NULL;
    }
  dict_put (self, key, value);
  return NULL;
}

static GVariant *
dict_pop (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) key = NULL;
  GVariant *value;

  if (!args_are (args, "(v)", "pop", error) || !(key = dict_key (args, 0, error)))
    return NULL;
  if (!dict_take (self, key, &value))
    {
      missing_key (key, error);
      return NULL;
    }
  mpk__manager_release_refs (value);
  return value;
}

static GVariant *
dict_setdefault (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;
  GVariant *key, *value;

  if (!args_are (args, "(vv)", "setdefault", error) || !(key = dict_key (args, 0, error)))
    return NULL;
  value = g_hash_table_lookup (dict->table, key);
  if (value != NULL)
    {
      g_variant_unref (key);
      return g_variant_ref (value);
    }
  if (!room_for ("dict", dict->order->len, 1, error))
    {
      g_variant_unref (key);
      return NULL;
    }
  value = hold (call, arg_value (args, 1), error);
  if (value == NULL)
    {
      g_variant_unref (key);
      return NULL;
    }
  dict_put (dict, key, value);
  return g_variant_ref (value);
}

static GVariant *
dict_contains (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) key = NULL;

  if (!args_are (args, "(v)", "contains", error) || !(key = dict_key (args, 0, error)))
    return NULL;
  return g_variant_new_boolean (g_hash_table_contains (((Dict *) self)->table, key));
}

static GVariant *
dict_len (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_int64 (((Dict *) self)->order->len);
}

static GVariant *
dict_keys (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return boxed_array (((Dict *) self)->order);
}

static GVariant *
dict_values (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;
  g_autoptr(GPtrArray) values = g_ptr_array_new ();

  for (guint i = 0; i < dict->order->len; i++)
    g_ptr_array_add (values, g_hash_table_lookup (dict->table, dict->order->pdata[i]));
  return boxed_array (values);
}

static GVariant *
dict_items (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(vv)"));
  for (guint i = 0; i < dict->order->len; i++)
    g_variant_builder_add (&b, "(vv)", dict->order->pdata[i],
                           g_hash_table_lookup (dict->table, dict->order->pdata[i]));
  return g_variant_builder_end (&b);
}

static GVariant *
dict_update (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) entries = NULL;

  if (g_variant_n_children (args) != 1)
    {
      args_are (args, "(a{sv})", "update", error);   /* sets the error */
      return NULL;
    }
  entries = g_variant_get_child_value (args, 0);
  dict_fill (self, entries, call, error);
  return NULL;
}

static GVariant *
dict_clear (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;

  g_ptr_array_set_size (dict->order, 0);
  g_hash_table_remove_all (dict->table);
  return NULL;
}

static GVariant *
dict_iter (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Dict *dict = self;

  /* An iterator over the keys as they are now, which refuses to go on once
   * the dict's size changes (Python's RuntimeError). */
  return mpk_manager_call_new_object (call, "iterator",
                                      g_variant_new ("(@avtx)", dict_keys (self, NULL, NULL, NULL),
                                                     mpk__manager_call_object_id (call),
                                                     (gint64) dict->order->len),
                                      error);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod dict_methods[] = {
  { "get", dict_get }, { "get_default", dict_get_default }, { "set", dict_set },
  { "pop", dict_pop }, { "setdefault", dict_setdefault }, { "contains", dict_contains },
  { "len", dict_len }, { "keys", dict_keys }, { "values", dict_values }, { "items", dict_items },
  { "update", dict_update }, { "clear", dict_clear }, { "iter", dict_iter },
  { NULL, NULL },
};

static const MpkManagerType dict_type = { "dict", dict_create, dict_free, dict_methods };

/* See mpk-manager-types.h. Called with the server lock held. */
gint64
mpk__manager_dict_size (const MpkManagerType *type, gpointer data)
{
  return type == &dict_type ? (gint64) ((Dict *) data)->order->len : -1;
}

/* --- iterator ------------------------------------------------------------------------------ */

typedef struct
{
  GPtrArray *items;
  guint      next;
  guint64    source;        /* the dict it walks, or 0 */
  gint64     source_size;   /* its size when the walk began */
} Iterator;

/* The iterator type's free. Called with the server lock held. (or while the server stops) */
static void
iterator_free (gpointer self)
{
  Iterator *it = self;

  g_ptr_array_unref (it->items);
  g_free (it);
}

/* The iterator type's create. Called with the server lock held. */
static gpointer
iterator_create (GVariant *args, GError **error)
{
  g_autoptr(GVariant) array = NULL;
  Iterator *it;
  gsize n;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(av)"))
      && !args_are (args, "(avtx)", "iterator", error))
    return NULL;
  it = g_new0 (Iterator, 1);
  it->items = g_ptr_array_new_with_free_func (drop);
  array = g_variant_get_child_value (args, 0);
  n = g_variant_n_children (array);
  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (it->items, arg_value (array, i));
  if (g_variant_n_children (args) == 3)
    g_variant_get (args, "(@avtx)", NULL, &it->source, &it->source_size);
  return it;
}

static GVariant *
iterator_next (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Iterator *it = self;

  if (it->source != 0 && mpk__manager_object_size (it->source) != it->source_size)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "dictionary changed size during iteration");
      return NULL;
    }
  if (it->next >= it->items->len)
    return g_variant_new ("(bv)", FALSE, g_variant_new ("()"));
  return g_variant_new ("(bv)", TRUE, it->items->pdata[it->next++]);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod iterator_methods[] = {
  { "next", iterator_next },
  { NULL, NULL },
};

static const MpkManagerType iterator_type = {
  "iterator", iterator_create, iterator_free, iterator_methods,
};

/* --- value ------------------------------------------------------------------------------ */

typedef struct
{
  GVariant *v;
} Value;

/* The value type's free. Called with the server lock held. (or while the server stops) */
static void
value_free (gpointer self)
{
  Value *value = self;

  drop (value->v);
  g_free (value);
}

/* The value type's create. Called with the server lock held. */
static gpointer
value_create (GVariant *args, GError **error)
{
  Value *value;

  if (!args_are (args, "(v)", "value", error))
    return NULL;
  value = g_new0 (Value, 1);
  value->v = arg_value (args, 0);   /* counted by create */
  return value;
}

static GVariant *
value_get (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_ref (((Value *) self)->v);
}

static GVariant *
value_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Value *value = self;
  GVariant *v;

  if (!args_are (args, "(v)", "set", error) || !(v = hold (call, arg_value (args, 0), error)))
    return NULL;
  drop (value->v);
  value->v = v;
  return NULL;
}

/* @old + @delta in @old's own integer type, or NULL when it does not fit.
 * No lock needed. */
static GVariant *
add_in_type (GVariant *old, gint64 delta, GError **error)
{
  const char *t = g_variant_get_type_string (old);
  gint64 lo, hi, now, sum;

  switch (t[0])
    {
    case 'y': lo = 0;          hi = G_MAXUINT8;  now = g_variant_get_byte (old);   break;
    case 'n': lo = G_MININT16; hi = G_MAXINT16;  now = g_variant_get_int16 (old);  break;
    case 'q': lo = 0;          hi = G_MAXUINT16; now = g_variant_get_uint16 (old); break;
    case 'i': lo = G_MININT32; hi = G_MAXINT32;  now = g_variant_get_int32 (old);  break;
    case 'u': lo = 0;          hi = G_MAXUINT32; now = g_variant_get_uint32 (old); break;
    case 'x': lo = G_MININT64; hi = G_MAXINT64;  now = g_variant_get_int64 (old);  break;
    case 'd':
      return g_variant_new_double (g_variant_get_double (old) + (double) delta);
    default:
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "add() needs a value holding a number, not %s", t);
      return NULL;
    }
  if (__builtin_add_overflow (now, delta, &sum) || sum < lo || sum > hi)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "%" G_GINT64_FORMAT " + %" G_GINT64_FORMAT " does not fit in type %s",
                   now, delta, t);
      return NULL;
    }
  now = sum;
  switch (t[0])
    {
    case 'y': return g_variant_new_byte ((guint8) now);
    case 'n': return g_variant_new_int16 ((gint16) now);
    case 'q': return g_variant_new_uint16 ((guint16) now);
    case 'i': return g_variant_new_int32 ((gint32) now);
    case 'u': return g_variant_new_uint32 ((guint32) now);
    default:  return g_variant_new_int64 (now);
    }
}

static GVariant *
value_add (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Value *value = self;
  GVariant *sum;

  if (!args_are (args, "(x)", "add", error)
      || !(sum = add_in_type (value->v, arg_int (args, 0), error)))
    return NULL;
  g_variant_unref (value->v);    /* a number holds no references */
  value->v = g_variant_ref_sink (sum);
  return g_variant_ref (value->v);
}

static GVariant *
value_compare_and_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Value *value = self;
  g_autoptr(GVariant) expected = NULL;
  GVariant *desired;

  if (!args_are (args, "(vv)", "compare_and_set", error))
    return NULL;
  expected = arg_value (args, 0);
  if (!g_variant_equal (value->v, expected))
    return g_variant_new_boolean (FALSE);
  if (!(desired = hold (call, arg_value (args, 1), error)))
    return NULL;
  drop (value->v);
  value->v = desired;
  return g_variant_new_boolean (TRUE);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod value_methods[] = {
  { "get", value_get }, { "set", value_set }, { "add", value_add },
  { "compare_and_set", value_compare_and_set },
  { NULL, NULL },
};

static const MpkManagerType value_type = { "value", value_create, value_free, value_methods };

/* --- queue and joinable_queue ------------------------------------------------------------- */

typedef struct
{
  GQueue   items;
  gint64   maxsize;      /* <= 0: unbounded */
  gint64   unfinished;   /* joinable: put minus task_done */
  gboolean joinable;
} Queue;

/* The queue type's free. Called with the server lock held. (or while the server stops) */
static void
queue_free (gpointer self)
{
  Queue *queue = self;

  g_queue_clear_full (&queue->items, drop);
  g_free (queue);
}

/* The queue type's create. Called with the server lock held. */
static gpointer
queue_create (GVariant *args, GError **error)
{
  Queue *queue;

  if (!args_are (args, "(xb)", "queue", error))
    return NULL;
  queue = g_new0 (Queue, 1);
  g_variant_get (args, "(xb)", &queue->maxsize, &queue->joinable);
  return queue;
}

/* Whether @queue holds maxsize items. Called with the server lock held. */
static gboolean
queue_is_full (Queue *queue)
{
  return queue->maxsize > 0 && (gint64) queue->items.length >= queue->maxsize;
}

static GVariant *
queue_put (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Queue *queue = self;
  GVariant *item;

  if (!args_are (args, "(v)", "put", error))
    return NULL;
  while (queue_is_full (queue))
    if (!mpk__manager_call_wait (call, MPK_ERROR_FULL, "the queue is full", error))
      return NULL;
  if (!(item = hold (call, arg_value (args, 0), error)))
    return NULL;
  g_queue_push_tail (&queue->items, item);
  queue->unfinished++;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
queue_get (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Queue *queue = self;
  GVariant *item;

  while (g_queue_is_empty (&queue->items))
    if (!mpk__manager_call_wait (call, MPK_ERROR_EMPTY, "the queue is empty", error))
      return NULL;
  item = g_queue_pop_head (&queue->items);
  mpk__manager_release_refs (item);
  mpk__manager_call_changed (call);
  return item;
}

static GVariant *
queue_qsize (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_int64 (((Queue *) self)->items.length);
}

static GVariant *
queue_empty (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_boolean (g_queue_is_empty (&((Queue *) self)->items));
}

static GVariant *
queue_full (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_boolean (queue_is_full (self));
}

static GVariant *
queue_task_done (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Queue *queue = self;

  if (queue->unfinished <= (gint64) queue->items.length)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TOO_MANY_TASK_DONE,
                           "task_done() called too many times");
      return NULL;
    }
  queue->unfinished--;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
queue_join (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Queue *queue = self;

  while (queue->unfinished > 0)
    if (!mpk__manager_call_wait (call, MPK_ERROR_TIMED_OUT,
                                 "join timed out: tasks are still unfinished", error))
      return NULL;
  return NULL;
}

/* Each method here and below is called with the server lock held. */
static const MpkManagerMethod queue_methods[] = {
  { "put", queue_put }, { "get", queue_get }, { "qsize", queue_qsize },
  { "empty", queue_empty }, { "full", queue_full }, { "len", queue_qsize },
  { NULL, NULL },
};

static const MpkManagerMethod joinable_queue_methods[] = {
  { "put", queue_put }, { "get", queue_get }, { "qsize", queue_qsize },
  { "empty", queue_empty }, { "full", queue_full }, { "len", queue_qsize },
  { "task_done", queue_task_done }, { "join", queue_join },
  { NULL, NULL },
};

static const MpkManagerType queue_type = { "queue", queue_create, queue_free, queue_methods };
static const MpkManagerType joinable_queue_type = {
  "joinable_queue", queue_create, queue_free, joinable_queue_methods,
};

/* --- lock --------------------------------------------------------------------------------- */

/* The lock type's create. Called with the server lock held. */
static gpointer
lock_create (GVariant *args, GError **error)
{
  return args_are (args, "()", "lock", error) ? g_new0 (gboolean, 1) : NULL;
}

static GVariant *
lock_acquire (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  gboolean *held = self;

  while (*held)
    if (!mpk__manager_call_wait (call, MPK_ERROR_TIMED_OUT, "the lock is held", error))
      return NULL;
  *held = TRUE;
  return NULL;
}

static GVariant *
lock_release (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  gboolean *held = self;

  if (!*held)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID, "release unlocked lock");
      return NULL;
    }
  *held = FALSE;
  mpk__manager_call_changed (call);
  return NULL;
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod lock_methods[] = {
  { "acquire", lock_acquire }, { "release", lock_release },
  { NULL, NULL },
};

static const MpkManagerType lock_type = { "lock", lock_create, g_free, lock_methods };

/* --- event, semaphore, barrier (issue 18 §4) ----------------------------------------------- */

/* The event type's create. Called with the server lock held. */
static gpointer
event_create (GVariant *args, GError **error)
{
  return args_are (args, "()", "event", error) ? g_new0 (gboolean, 1) : NULL;
}

static GVariant *
event_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  *(gboolean *) self = TRUE;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
event_clear (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  *(gboolean *) self = FALSE;
  return NULL;
}

static GVariant *
event_is_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_boolean (*(gboolean *) self);
}

static GVariant *
event_wait (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  while (!*(gboolean *) self)
    if (!mpk__manager_call_wait (call, MPK_ERROR_TIMED_OUT, "the event was not set", error))
      return NULL;
  return g_variant_new_boolean (TRUE);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod event_methods[] = {
  { "set", event_set }, { "clear", event_clear }, { "is_set", event_is_set },
  { "wait", event_wait },
  { NULL, NULL },
};

static const MpkManagerType event_type = { "event", event_create, g_free, event_methods };

typedef struct
{
  gint64 value;
  gint64 bound;   /* BoundedSemaphore: the initial value; 0 = unbounded */
} Semaphore;

/* The semaphore type's create: "(xx)", the value and the bound (0: none).
 * Called with the server lock held. */
static gpointer
semaphore_create (GVariant *args, GError **error)
{
  Semaphore *sem;

  if (!args_are (args, "(xx)", "semaphore", error))
    return NULL;
  sem = g_new0 (Semaphore, 1);
  sem->value = arg_int (args, 0);
  sem->bound = arg_int (args, 1);
  if (sem->value < 0 || sem->value > G_MAXINT32 || sem->bound < 0
      || (sem->bound != 0 && sem->bound != sem->value))
    {
      g_free (sem);
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "semaphore: the value must be 0 to 2^31 - 1 (bounded: 1 or more)");
      return NULL;
    }
  return sem;
}

static GVariant *
semaphore_acquire (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Semaphore *sem = self;

  while (sem->value == 0)
    if (!mpk__manager_call_wait (call, MPK_ERROR_TIMED_OUT, "the semaphore stayed at zero",
                                 error))
      return NULL;
  sem->value--;
  return NULL;
}

static GVariant *
semaphore_release (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Semaphore *sem = self;

  if ((sem->bound != 0 && sem->value >= sem->bound) || sem->value >= G_MAXINT32)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "semaphore or lock released too many times");
      return NULL;
    }
  sem->value++;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
semaphore_get_value (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_int64 (((Semaphore *) self)->value);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod semaphore_methods[] = {
  { "acquire", semaphore_acquire }, { "release", semaphore_release },
  { "get_value", semaphore_get_value },
  { NULL, NULL },
};

static const MpkManagerType semaphore_type = {
  "semaphore", semaphore_create, g_free, semaphore_methods,
};

/* A barrier whose rounds are generations, as lib/objects/mpk-barrier.c
 * explains: the last to arrive bumps @gen, and a waiter of an older one
 * has passed, unless its round was cut short by reset() (its bit in
 * @reset_bits). A waiter whose wait ends without a pass (its timeout, or
 * its client hung up: a party gone) breaks the barrier for everybody. */
typedef struct
{
  gint64   parties;
  gint64   count;
  guint64  gen;
  guint64  reset_bits;
  gboolean broken;
} Barrier;

/* The barrier type's create: "(x)", the parties. Called with the server lock held. */
static gpointer
barrier_create (GVariant *args, GError **error)
{
  Barrier *barrier;

  if (!args_are (args, "(x)", "barrier", error))
    return NULL;
  if (arg_int (args, 0) < 1 || arg_int (args, 0) > G_MAXINT32)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "barrier: parties must be 1 or more");
      return NULL;
    }
  barrier = g_new0 (Barrier, 1);
  barrier->parties = arg_int (args, 0);
  return barrier;
}

static GVariant *
barrier_wait (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Barrier *barrier = self;
  gint64 index;
  guint64 gen;

  if (barrier->broken)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN, "barrier: broken");
      return NULL;
    }
  index = barrier->count++;
  if (barrier->count == barrier->parties)
    {
      barrier->reset_bits &= ~(G_GUINT64_CONSTANT (1) << (barrier->gen % 64));
      barrier->count = 0;
      barrier->gen++;
      mpk__manager_call_changed (call);
      return g_variant_new_int64 (index);
    }
  gen = barrier->gen;
  while (barrier->gen == gen && !barrier->broken)
    if (!mpk__manager_call_wait (call, MPK_ERROR_BROKEN,
                                 "barrier: a wait timed out; the barrier is now broken", error))
      {
        if (barrier->gen == gen && !barrier->broken)
          {
            barrier->broken = TRUE;
            mpk__manager_call_changed (call);
          }
        if (barrier->gen == gen)
          return NULL;
        g_clear_error (error);   /* the round passed meanwhile */
        break;
      }
  if (barrier->gen != gen && !(barrier->reset_bits & (G_GUINT64_CONSTANT (1) << (gen % 64))))
    return g_variant_new_int64 (index);
  g_set_error_literal (error, MPK_ERROR, MPK_ERROR_BROKEN,
                       barrier->gen != gen ? "barrier: reset while this party waited"
                                           : "barrier: broken");
  return NULL;
}

static GVariant *
barrier_abort (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  ((Barrier *) self)->broken = TRUE;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
barrier_reset (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Barrier *barrier = self;

  barrier->reset_bits |= G_GUINT64_CONSTANT (1) << (barrier->gen % 64);
  barrier->gen++;
  barrier->count = 0;
  barrier->broken = FALSE;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
barrier_n_waiting (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Barrier *barrier = self;

  return g_variant_new_int64 (barrier->broken ? 0 : barrier->count);
}

static GVariant *
barrier_parties (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_int64 (((Barrier *) self)->parties);
}

static GVariant *
barrier_broken (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_boolean (((Barrier *) self)->broken);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod barrier_methods[] = {
  { "wait", barrier_wait }, { "abort", barrier_abort }, { "reset", barrier_reset },
  { "n_waiting", barrier_n_waiting }, { "parties", barrier_parties },
  { "broken", barrier_broken },
  { NULL, NULL },
};

static const MpkManagerType barrier_type = { "barrier", barrier_create, g_free, barrier_methods };

/* A condition: a lock (held by any client, as the lock type's) and its
 * waiters in arrival order. wait() needs the lock held; it releases it,
 * waits to be notified (or its timeout, or its client hanging up, which
 * takes it out of the line, so a notify never goes to the gone) and
 * returns whether it was notified; the client then takes the lock again
 * with acquire(), as Python's wait() does before it returns. */
typedef struct
{
  gboolean held;
  GQueue   waiters;   /* gboolean * "notified", oldest first */
} Condition;

static void
condition_free (gpointer self)
{
  Condition *cond = self;

  g_queue_clear (&cond->waiters);   /* a waiter owns its flag */
  g_free (cond);
}

/* The condition type's create. Called with the server lock held. */
static gpointer
condition_create (GVariant *args, GError **error)
{
  Condition *cond;

  if (!args_are (args, "()", "condition", error))
    return NULL;
  cond = g_new0 (Condition, 1);
  g_queue_init (&cond->waiters);
  return cond;
}

static GVariant *
condition_acquire (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Condition *cond = self;

  while (cond->held)
    if (!mpk__manager_call_wait (call, MPK_ERROR_TIMED_OUT, "the lock is held", error))
      return NULL;
  cond->held = TRUE;
  return NULL;
}

static gboolean
condition_check_held (Condition *cond, const char *method, GError **error)
{
  if (cond->held)
    return TRUE;
  g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "cannot %s un-acquired lock",
               strcmp (method, "release") == 0 ? "release" : method);
  return FALSE;
}

static GVariant *
condition_release (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Condition *cond = self;

  if (!condition_check_held (cond, "release", error))
    return NULL;
  cond->held = FALSE;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
condition_wait (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Condition *cond = self;
  gboolean notified = FALSE;
  GError *wait_error = NULL;

  if (!condition_check_held (cond, "wait on", error))
    return NULL;
  g_queue_push_tail (&cond->waiters, &notified);
  cond->held = FALSE;
  mpk__manager_call_changed (call);
  while (!notified)
    if (!mpk__manager_call_wait (call, MPK_ERROR_TIMED_OUT, "not notified", &wait_error))
      break;
  if (!notified)
    g_queue_remove (&cond->waiters, &notified);
  if (wait_error != NULL && !g_error_matches (wait_error, MPK_ERROR, MPK_ERROR_TIMED_OUT))
    {
      g_propagate_error (error, wait_error);
      return NULL;
    }
  g_clear_error (&wait_error);
  return g_variant_new_boolean (notified);
}

static GVariant *
condition_notify (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Condition *cond = self;
  gint64 n;

  if (!args_are (args, "(x)", "notify", error) || !condition_check_held (cond, "notify on", error))
    return NULL;
  n = arg_int (args, 0);
  for (gint64 i = 0; (n < 0 || i < n) && !g_queue_is_empty (&cond->waiters); i++)
    *(gboolean *) g_queue_pop_head (&cond->waiters) = TRUE;
  mpk__manager_call_changed (call);
  return NULL;
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod condition_methods[] = {
  { "acquire", condition_acquire }, { "release", condition_release },
  { "wait", condition_wait }, { "notify", condition_notify },
  { NULL, NULL },
};

static const MpkManagerType condition_type = {
  "condition", condition_create, condition_free, condition_methods,
};

/* An array: Python's manager.Array(typecode, sequence), a fixed-length
 * run of numbers of one C type. Integer typecodes hold int64s ("x")
 * checked against the type's range (Python: OverflowError → INVALID),
 * 'f' and 'd' hold doubles ("d"). */
typedef struct
{
  char    typecode;
  GArray *items;   /* gint64 or double */
} Array;

static gboolean
array_range (char typecode, gint64 *lo, gint64 *hi)
{
  switch (typecode)
    {
    case 'b': *lo = G_MININT8;  *hi = G_MAXINT8;   return TRUE;
    case 'B': *lo = 0;          *hi = G_MAXUINT8;  return TRUE;
    case 'h': *lo = G_MININT16; *hi = G_MAXINT16;  return TRUE;
    case 'H': *lo = 0;          *hi = G_MAXUINT16; return TRUE;
    case 'i': *lo = G_MININT32; *hi = G_MAXINT32;  return TRUE;
    case 'I': *lo = 0;          *hi = G_MAXUINT32; return TRUE;
    case 'l': case 'q': *lo = G_MININT64; *hi = G_MAXINT64; return TRUE;
    case 'L': case 'Q': *lo = 0; *hi = G_MAXINT64; return TRUE;   /* stored as int64 */
    default: return FALSE;
    }
}

static gboolean
array_is_float (char typecode)
{
  return typecode == 'f' || typecode == 'd';
}

/* Stores @value (a number) at @i of @array. No lock needed beyond the array's. */
static gboolean
array_store (Array *array, guint i, GVariant *value, GError **error)
{
  gint64 lo, hi, n;

  if (array_is_float (array->typecode))
    {
      double d;

      if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
        d = g_variant_get_double (value);
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        d = (double) g_variant_get_int64 (value);
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
        d = g_variant_get_int32 (value);
      else
        goto wrong_type;
      g_array_index (array->items, double, i) = d;
      return TRUE;
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    n = g_variant_get_int64 (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    n = g_variant_get_int32 (value);
  else
    goto wrong_type;
  array_range (array->typecode, &lo, &hi);
  if (n < lo || n > hi)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "array: %" G_GINT64_FORMAT " does not fit typecode '%c'", n, array->typecode);
      return FALSE;
    }
  g_array_index (array->items, gint64, i) = n;
  return TRUE;

wrong_type:
  g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "array of '%c': a %s is not a number for it",
               array->typecode, g_variant_get_type_string (value));
  return FALSE;
}

static void
array_free (gpointer self)
{
  Array *array = self;

  g_array_unref (array->items);
  g_free (array);
}

/* The array type's create: "(yav)", the typecode and the items. Called
 * with the server lock held. */
static gpointer
array_create (GVariant *args, GError **error)
{
  g_autoptr(GVariant) items = NULL;
  gint64 lo, hi;
  Array *array;
  guchar typecode;

  if (!args_are (args, "(yav)", "array", error))
    return NULL;
  g_variant_get (args, "(y@av)", &typecode, &items);
  if (!array_is_float (typecode) && !array_range (typecode, &lo, &hi))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "array: bad typecode '%c' (one of bBhHiIlLqQfd)", typecode);
      return NULL;
    }
  array = g_new0 (Array, 1);
  array->typecode = typecode;
  array->items = g_array_sized_new (FALSE, TRUE,
                                    array_is_float (typecode) ? sizeof (double) : sizeof (gint64),
                                    g_variant_n_children (items));
  g_array_set_size (array->items, g_variant_n_children (items));
  for (gsize i = 0; i < g_variant_n_children (items); i++)
    {
      g_autoptr(GVariant) value = arg_value (items, i);

      if (!array_store (array, i, value, error))
        {
          array_free (array);
          return NULL;
        }
    }
  return array;
}

static GVariant *
array_item (Array *array, guint i)
{
  return array_is_float (array->typecode)
           ? g_variant_new_double (g_array_index (array->items, double, i))
           : g_variant_new_int64 (g_array_index (array->items, gint64, i));
}

/* Python's index rule (negative from the end); FALSE with INDEX. */
static gboolean
array_index (Array *array, gint64 index, guint *i, GError **error)
{
  gint64 len = array->items->len;

  if (index < 0)
    index += len;
  if (index < 0 || index >= len)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INDEX, "array index out of range");
      return FALSE;
    }
  *i = (guint) index;
  return TRUE;
}

static GVariant *
array_len (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  return g_variant_new_int64 (((Array *) self)->items->len);
}

static GVariant *
array_get (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  guint i;

  if (!args_are (args, "(x)", "get", error) || !array_index (self, arg_int (args, 0), &i, error))
    return NULL;
  return array_item (self, i);
}

static GVariant *
array_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autoptr(GVariant) value = NULL;
  guint i;

  if (!args_are (args, "(xv)", "set", error) || !array_index (self, arg_int (args, 0), &i, error))
    return NULL;
  value = arg_value (args, 1);
  if (!array_store (self, i, value, error))
    return NULL;
  mpk__manager_call_changed (call);
  return NULL;
}

static GVariant *
array_tolist (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  Array *array = self;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < array->items->len; i++)
    g_variant_builder_add (&b, "v", array_item (array, i));
  return g_variant_builder_end (&b);
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod array_methods[] = {
  { "len", array_len }, { "get", array_get }, { "set", array_set }, { "tolist", array_tolist },
  { NULL, NULL },
};

static const MpkManagerType array_type = { "array", array_create, array_free, array_methods };

/* --- namespace ----------------------------------------------------------------------------- */

/* The namespace type's create. Called with the server lock held. */
static gpointer
namespace_create (GVariant *args, GError **error)
{
  if (!args_are (args, "()", "namespace", error))
    return NULL;
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, drop);
}

/* The attribute name in @args (of @shape), or NULL with INVALID for a
 * name starting with '_'. No lock needed. */
static const char *
attr_name (GVariant *args, const char *method, const char *shape, GError **error)
{
  const char *name;

  if (!args_are (args, shape, method, error))
    return NULL;
  g_variant_get_child (args, 0, "&s", &name);
  if (name[0] == '_')
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "'%s': names starting with '_' belong to the proxy, not the namespace", name);
      return NULL;
    }
  return name;
}

/* Sets Python's AttributeError (as MPK_ERROR_KEY). No lock needed. */
static void
missing_attr (const char *name, GError **error)
{
  g_set_error (error, MPK_ERROR, MPK_ERROR_KEY, "'Namespace' object has no attribute '%s'", name);
}

static GVariant *
namespace_get (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  const char *name = attr_name (args, "get", "(s)", error);
  GVariant *value;

  if (name == NULL)
    return NULL;
  value = g_hash_table_lookup (self, name);
  if (value == NULL)
    {
      missing_attr (name, error);
      return NULL;
    }
  return g_variant_ref (value);
}

static GVariant *
namespace_set (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  const char *name = attr_name (args, "set", "(sv)", error);
  GVariant *value;

  if (name == NULL
      || (!g_hash_table_contains (self, name)
          && !room_for ("namespace", g_hash_table_size (self), 1, error))
      || !(value = hold (call, arg_value (args, 1), error)))
    return NULL;
  g_hash_table_replace (self, g_strdup (name), value);
  return NULL;
}

static GVariant *
namespace_delete (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  const char *name = attr_name (args, "delete", "(s)", error);

  if (name != NULL && !g_hash_table_remove (self, name))
    missing_attr (name, error);
  return NULL;
}

/* qsort order of attribute names. No lock needed. */
static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* "Namespace(a=1, name='Bob')": sorted, as Python prints it. */
static GVariant *
namespace_str (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (self, NULL);
  GString *s = g_string_new ("Namespace(");
  guint n = g_hash_table_size (self);

  qsort (names, n, sizeof *names, compare_names);
  for (guint i = 0; i < n; i++)
    {
      g_string_append_printf (s, "%s%s=", i > 0 ? ", " : "", names[i]);
      g_variant_print_string (g_hash_table_lookup (self, names[i]), s, FALSE);
    }
  g_string_append_c (s, ')');
  return g_variant_new_take_string (g_string_free (s, FALSE));
}

/* Each method here is called with the server lock held. */
static const MpkManagerMethod namespace_methods[] = {
  { "get", namespace_get }, { "set", namespace_set }, { "delete", namespace_delete },
  { "str", namespace_str },
  { NULL, NULL },
};

static const MpkManagerType namespace_type = {
  "namespace", namespace_create, (GDestroyNotify) g_hash_table_unref, namespace_methods,
};

const MpkManagerType *const mpk__manager_builtin_types[] = {
  &list_type, &dict_type, &value_type, &queue_type, &joinable_queue_type, &lock_type,
  &namespace_type, &iterator_type, &event_type, &semaphore_type, &barrier_type,
  &condition_type, &array_type, NULL,
};
