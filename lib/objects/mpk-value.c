/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-value.c: multiprocessing.Value, Array, RawValue and RawArray. The
 * numbers live in a shared mapping made before fork; a Value is an Array of
 * one. Like Python's synchronized wrappers, each get or set takes the lock
 * (a new RLock unless one is given or none is wanted), and `value += 1`
 * written as a get then a set is still a race: mpk_value_add() is the one
 * call that is not. */
#include "mpk-objects-private.h"

#include <errno.h>
#include <string.h>

struct _MpkArray
{
  MpkObjectHeader object;
  char            typecode;
  gsize           item_size;
  gsize           length;
  guint8         *data;        /* the shared mapping */
  gsize           map_size;
  guint64        *order;       /* in the mapping, after the items: for the tracer, the
                                * accesses so far, counted under the lock ("ord") */
  MpkLock        *lock;        /* NULL for the raw variants */
  gboolean        owns_lock;
};

struct _MpkValue
{
  MpkArray array;
};

typedef enum { KIND_SIGNED, KIND_UNSIGNED, KIND_FLOAT } Kind;

/* Size and kind of @typecode; 0 for an unknown one. */
static gsize
typecode_size (char typecode, Kind *kind)
{
  switch (typecode)
    {
    case 'b': *kind = KIND_SIGNED;   return 1;
    case 'c':
    case 'B': *kind = KIND_UNSIGNED; return 1;
    case 'h': *kind = KIND_SIGNED;   return 2;
    case 'H': *kind = KIND_UNSIGNED; return 2;
    case 'i': *kind = KIND_SIGNED;   return 4;
    case 'I': *kind = KIND_UNSIGNED; return 4;
    case 'l':
    case 'q': *kind = KIND_SIGNED;   return 8;
    case 'L':
    case 'Q': *kind = KIND_UNSIGNED; return 8;
    case 'f': *kind = KIND_FLOAT;    return 4;
    case 'd': *kind = KIND_FLOAT;    return 8;
    default:  *kind = KIND_SIGNED;   return 0;
    }
}

static Kind
array_kind (MpkArray *array)
{
  Kind kind;

  typecode_size (array->typecode, &kind);
  return kind;
}

/* Fills @array; @lock: a lock to share, or NULL with @locked for a new RLock. */
static gboolean
array_init (MpkArray  *array,
            char       typecode,
            gsize      length,
            MpkLock   *lock,
            gboolean   locked,
            GError   **error)
{
  Kind kind;
  gsize size = typecode_size (typecode, &kind);

  if (size == 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "unknown typecode '%c': use one of c b B h H i I l L q Q f d", typecode);
      return FALSE;
    }
  if (length > (G_MAXSIZE - 2 * sizeof (guint64)) / size - 1)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "an array of %" G_GSIZE_FORMAT
                   " items is too large", length);
      return FALSE;
    }
  /* The tracer's counter goes after the items, aligned: the items start
   * the mapping, where mpk_array_get_pointer() shows them. */
  array->map_size = (MAX (length * size, 1) + sizeof (guint64) - 1) / sizeof (guint64)
                    * sizeof (guint64) + sizeof (guint64);
  /* A fresh anonymous mapping is zero-filled: no stale data from an earlier
   * array can show through (Python's heap reuse once did, issue #11675). */
  array->data = mpk__shm_alloc (array->map_size, error);
  if (array->data == NULL)
    return FALSE;
  if (lock == NULL && locked)
    {
      lock = mpk_rlock_new (error);
      if (lock == NULL)
        {
          mpk__shm_free (array->data, array->map_size);
          return FALSE;
        }
      array->owns_lock = TRUE;
    }
  mpk__trace_object_init (&array->object, MPK__OBJECT_VALUE);
  array->order = (guint64 *) (array->data + array->map_size - sizeof (guint64));
  array->typecode = typecode;
  array->item_size = size;
  array->length = length;
  array->lock = lock;
  return TRUE;
}

static void
array_clear (MpkArray *array)
{
  mpk__shm_free (array->data, array->map_size);
  if (array->owns_lock)
    mpk_lock_free (array->lock);
}

/* Takes the lock, if any. A thread that holds it already (a plain Lock it
 * acquired itself to group several calls) simply goes on under it. */
static gboolean
lock_in (MpkArray *array)
{
  g_autoptr(GError) error = NULL;

  if (array->lock == NULL)
    return FALSE;
  if (mpk_lock_acquire (array->lock, MPK_WAIT_FOREVER, &error))
    return TRUE;
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_INVALID))
    g_warning ("value: cannot take its lock: %s", error->message);
  return FALSE;
}

static void
lock_out (MpkArray *array, gboolean locked)
{
  if (locked)
    mpk_lock_release (array->lock, NULL);
}

/* --- reading and writing one item, as 64-bit numbers ---------------------- */

typedef union
{
  gint64  i;
  guint64 u;
  double  d;
} Number;

/* The number stored at @p in @array's type. */
static Number
decode_item (MpkArray *array, const guint8 *p)
{
  Number n = { 0 };

  switch (array->typecode)
    {
    case 'b': n.i = *(gint8 *) p; break;
    case 'c':
    case 'B': n.u = *(guint8 *) p; break;
    case 'h': n.i = *(gint16 *) p; break;
    case 'H': n.u = *(guint16 *) p; break;
    case 'i': n.i = *(gint32 *) p; break;
    case 'I': n.u = *(guint32 *) p; break;
    case 'l':
    case 'q': n.i = *(gint64 *) p; break;
    case 'L':
    case 'Q': n.u = *(guint64 *) p; break;
    case 'f': n.d = *(float *) p; break;
    case 'd': n.d = *(double *) p; break;
    default: g_assert_not_reached ();
    }
  return n;
}

static Number
load_item (MpkArray *array, gsize index)
{
  return decode_item (array, array->data + index * array->item_size);
}

static void
store_item (MpkArray *array, gsize index, Number n)
{
  guint8 *p = array->data + index * array->item_size;

  switch (array->typecode)
    {
    case 'b': *(gint8 *) p = n.i; break;
    case 'c':
    case 'B': *(guint8 *) p = n.u; break;
    case 'h': *(gint16 *) p = n.i; break;
    case 'H': *(guint16 *) p = n.u; break;
    case 'i': *(gint32 *) p = n.i; break;
    case 'I': *(guint32 *) p = n.u; break;
    case 'l':
    case 'q': *(gint64 *) p = n.i; break;
    case 'L':
    case 'Q': *(guint64 *) p = n.u; break;
    case 'f': *(float *) p = n.d; break;
    case 'd': *(double *) p = n.d; break;
    default: g_assert_not_reached ();
    }
}

/* The number as text, for the tracer ("41", "3.5"). */
static void
format_number (MpkArray *array, Number n, char *out, gsize size)
{
  switch (array_kind (array))
    {
    case KIND_SIGNED:   g_snprintf (out, size, "%" G_GINT64_FORMAT, n.i); break;
    case KIND_UNSIGNED: g_snprintf (out, size, "%" G_GUINT64_FORMAT, n.u); break;
    case KIND_FLOAT:    g_snprintf (out, size, "%g", n.d); break;
    }
}

static void
trace_access (MpkArray *array, const char *ev, gsize index, Number before, Number after)
{
  char old_text[48], new_text[48];
  MpkTraceLine line;

  mpk__trace_begin (&line, ev, 0, 0);
  mpk__trace_add_object (&line, &array->object);
  if (array->length != 1)
    mpk__trace_add_int (&line, "index", index);
  format_number (array, before, old_text, sizeof old_text);
  mpk__trace_add_str (&line, "old", old_text);
  if (strcmp (ev, "value.read") != 0)
    {
      format_number (array, after, new_text, sizeof new_text);
      mpk__trace_add_str (&line, "new", new_text);
    }
  /* Under the lock, the accesses have an order to give (a raw array's
   * have none that a counter beside the items could tell). */
  if (array->lock != NULL)
    mpk__trace_add_order (&line, ++*array->order);
  mpk__trace_end (&line);
}

static Number
get_item (MpkArray *array, gsize index)
{
  gboolean locked = lock_in (array);
  Number n = load_item (array, index);

  if (MPK__TRACING (MPK__TRACE_VALUE))
    trace_access (array, "value.read", index, n, n);
  lock_out (array, locked);
  return n;
}

/* Whether @n (given as @given) fits the array's type; else INVALID. */
static gboolean
check_range (MpkArray *array, Kind given, Number n, GError **error)
{
  Kind kind = array_kind (array);
  guint bits = array->item_size * 8;
  gboolean ok = TRUE;

  if (kind == KIND_FLOAT)
    return TRUE;
  if (given == KIND_FLOAT)
    ok = FALSE;
  else if (kind == KIND_SIGNED)
    ok = given == KIND_SIGNED
         ? bits == 64 || (n.i >= -(G_GINT64_CONSTANT (1) << (bits - 1))
                          && n.i < (G_GINT64_CONSTANT (1) << (bits - 1)))
         : n.u <= (bits == 64 ? (guint64) G_MAXINT64 : (G_GUINT64_CONSTANT (1) << (bits - 1)) - 1);
  else
    ok = given == KIND_SIGNED
         ? n.i >= 0 && (bits == 64 || n.i < (G_GINT64_CONSTANT (1) << bits))
         : bits == 64 || n.u < (G_GUINT64_CONSTANT (1) << bits);
  if (!ok)
    g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                 "value: out of range for typecode '%c'", array->typecode);
  return ok;
}

static gboolean
set_item (MpkArray *array, gsize index, Kind given, Number n, GError **error)
{
  gboolean locked;
  Number before;

  if (!check_range (array, given, n, error))
    return FALSE;
  /* Convert to the array's own kind. */
  if (array_kind (array) == KIND_FLOAT && given != KIND_FLOAT)
    n.d = given == KIND_SIGNED ? (double) n.i : (double) n.u;
  locked = lock_in (array);
  before = load_item (array, index);
  store_item (array, index, n);
  if (MPK__TRACING (MPK__TRACE_VALUE))
    trace_access (array, "value.write", index, before, load_item (array, index));
  lock_out (array, locked);
  return TRUE;
}

/* Adds @delta to item @index in one step: under the lock, or with one
 * atomic instruction for the raw variants. Returns the new value. */
static gint64
add_item (MpkArray *array, gsize index, gint64 delta)
{
  gboolean locked = lock_in (array);
  Number before = load_item (array, index), after = before;
  guint8 *p = array->data + index * array->item_size;

  if (!locked && array->lock == NULL && array_kind (array) != KIND_FLOAT)
    {
      /* Raw: the CPU makes it atomic (wrapping like C does); before and
       * after are this add's own, whatever other processes add meanwhile. */
      union { guint8 b; guint16 h; guint32 i; guint64 q; } old, new;

      switch (array->item_size)
        {
        case 1: old.b = __atomic_fetch_add ((guint8 *) p, (guint8) delta, __ATOMIC_SEQ_CST);
                new.b = old.b + (guint8) delta; break;
        case 2: old.h = __atomic_fetch_add ((guint16 *) p, (guint16) delta, __ATOMIC_SEQ_CST);
                new.h = old.h + (guint16) delta; break;
        case 4: old.i = __atomic_fetch_add ((guint32 *) p, (guint32) delta, __ATOMIC_SEQ_CST);
                new.i = old.i + (guint32) delta; break;
        default: old.q = __atomic_fetch_add ((guint64 *) p, (guint64) delta, __ATOMIC_SEQ_CST);
                 new.q = old.q + (guint64) delta; break;
        }
      before = decode_item (array, (const guint8 *) &old);
      after = decode_item (array, (const guint8 *) &new);
    }
  else
    {
      if (array_kind (array) == KIND_FLOAT)
        after.d = before.d + (double) delta;
      else
        after.u = before.u + (guint64) delta;
      store_item (array, index, after);
      after = load_item (array, index);   /* truncated to the type, as C would */
    }
  if (MPK__TRACING (MPK__TRACE_VALUE))
    trace_access (array, "value.add", index, before, after);
  lock_out (array, locked);
  return array_kind (array) == KIND_FLOAT ? (gint64) after.d
         : array_kind (array) == KIND_SIGNED ? after.i : (gint64) after.u;
}

/* ------------------------------------------------------------------ Array -- */

static MpkArray *
array_new (char typecode, gsize length, MpkLock *lock, gboolean locked, GError **error)
{
  MpkArray *array = g_new0 (MpkArray, 1);

  if (!array_init (array, typecode, length, lock, locked, error))
    g_clear_pointer (&array, g_free);
  return array;
}

/**
 * mpk_array_new:
 * @typecode: one of `c b B h H i I l L q Q f d`
 * @length: the number of items, all zero at first
 * @error: return location for a #GError, or %NULL
 *
 * Creates an array in shared memory guarded by a new recursive lock,
 * Python's `multiprocessing.Array(typecode, length)`. Fill it from a C array
 * with mpk_array_set_range().
 *
 * Returns: (transfer full): the array, or %NULL with %MPK_ERROR_INVALID
 *   (unknown typecode) or %MPK_ERROR_FAILED (no shared memory)
 */
MpkArray *
mpk_array_new (char      typecode,
               gsize     length,
               GError  **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return array_new (typecode, length, NULL, TRUE, error);
}

/**
 * mpk_array_new_with_lock:
 * @typecode: one of `c b B h H i I l L q Q f d`
 * @length: the number of items, all zero at first
 * @lock: (transfer none): the lock to guard it with (shared with other
 *   objects; it must outlive the array)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `Array(typecode, length, lock=lock)`.
 *
 * Returns: (transfer full): the array, or %NULL with @error set
 */
MpkArray *
mpk_array_new_with_lock (char      typecode,
                         gsize     length,
                         MpkLock  *lock,
                         GError  **error)
{
  g_return_val_if_fail (lock != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return array_new (typecode, length, lock, TRUE, error);
}

/**
 * mpk_raw_array_new:
 * @typecode: one of `c b B h H i I l L q Q f d`
 * @length: the number of items, all zero at first
 * @error: return location for a #GError, or %NULL
 *
 * Python's `RawArray` (or `Array(…, lock=False)`): no lock at all.
 *
 * Returns: (transfer full): the array, or %NULL with @error set
 */
MpkArray *
mpk_raw_array_new (char      typecode,
                   gsize     length,
                   GError  **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return array_new (typecode, length, NULL, FALSE, error);
}

/**
 * mpk_array_free:
 * @array: (transfer full) (nullable): an array
 *
 * Releases this process's handle (and the lock it made, if any).
 */
void
mpk_array_free (MpkArray *array)
{
  if (array == NULL)
    return;
  array_clear (array);
  g_free (array);
}

/**
 * mpk_array_get_typecode:
 * @array: (transfer none): an array
 *
 * Which C number each item is (Python keeps only the ctypes type behind
 * the typecode).
 *
 * Returns: the typecode the array was made with
 */
char
mpk_array_get_typecode (MpkArray *array)
{
  g_return_val_if_fail (array != NULL, 0);
  return array->typecode;
}

/**
 * mpk_array_get_length:
 * @array: (transfer none): an array
 *
 * Python's `len(arr)`. No lock is taken: the length never changes.
 *
 * Returns: the number of items
 */
gsize
mpk_array_get_length (MpkArray *array)
{
  g_return_val_if_fail (array != NULL, 0);
  return array->length;
}

/**
 * mpk_array_get_item_size:
 * @array: (transfer none): an array
 *
 * The size of one item, for the buffers of mpk_array_get_range() and
 * mpk_array_set_range() and for work on mpk_array_get_pointer().
 *
 * Returns: the bytes per item (1, 2, 4 or 8)
 */
gsize
mpk_array_get_item_size (MpkArray *array)
{
  g_return_val_if_fail (array != NULL, 0);
  return array->item_size;
}

/**
 * mpk_array_get_lock:
 * @array: (transfer none): an array
 *
 * Python's `arr.get_lock()`: hold it to make several calls one step (each
 * call also takes it; the lock is recursive unless you gave a plain one).
 * mpk_lock_acquire() on it is also how to wait with a timeout.
 *
 * Returns: (transfer none) (nullable): the lock, %NULL for a raw array
 */
MpkLock *
mpk_array_get_lock (MpkArray *array)
{
  g_return_val_if_fail (array != NULL, NULL);
  return array->lock;
}

/**
 * mpk_array_get_pointer:
 * @array: (transfer none): an array
 *
 * Python's `arr.get_obj()`: the shared memory itself, for bulk work
 * (memcpy, a loop). Hold the lock while you use it if others write.
 *
 * Returns: (transfer none): the first item; the memory belongs to @array
 *   and is unmapped by mpk_array_free()
 */
gpointer
mpk_array_get_pointer (MpkArray *array)
{
  g_return_val_if_fail (array != NULL, NULL);
  return array->data;
}

/* Whether @index names an item of @array; else INVALID, like the range
 * calls (Python raises IndexError for `arr[index]`). */
static gboolean
check_index (MpkArray *array, gsize index, GError **error)
{
  if (index >= array->length)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "array: index %" G_GSIZE_FORMAT " is outside its %" G_GSIZE_FORMAT " items",
                   index, array->length);
      return FALSE;
    }
  return TRUE;
}

/* Whether the integer getters may read @array (not a float array). */
static gboolean
check_integer (MpkArray *array, GError **error)
{
  if (array_kind (array) == KIND_FLOAT)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "array: typecode '%c' holds floating-point numbers: read them as double",
                   array->typecode);
      return FALSE;
    }
  return TRUE;
}

/* The item as the integer getters return it. */
static gint64
item_as_int (MpkArray *array, gsize index)
{
  Number n = get_item (array, index);

  return array_kind (array) == KIND_SIGNED ? n.i : (gint64) n.u;
}

static double
item_as_double (MpkArray *array, gsize index)
{
  Number n = get_item (array, index);

  switch (array_kind (array))
    {
    case KIND_SIGNED:   return (double) n.i;
    case KIND_UNSIGNED: return (double) n.u;
    default:            return n.d;
    }
}

/**
 * mpk_array_get_int:
 * @array: (transfer none): an array of an integer or char type
 * @index: which item, below the length
 *
 * An @index out of range is a caller bug here: a critical, and 0, which
 * looks like a stored 0. mpk_array_get_int_checked() reports it instead.
 *
 * Returns: item @index (under the lock), `arr[index]`
 */
gint64
mpk_array_get_int (MpkArray *array,
                   gsize     index)
{
  g_return_val_if_fail (array != NULL && index < array->length, 0);
  g_return_val_if_fail (array_kind (array) != KIND_FLOAT, 0);
  return item_as_int (array, index);
}

/**
 * mpk_array_get_uint:
 * @array: (transfer none): an array of an integer or char type
 * @index: which item, below the length
 *
 * Like mpk_array_get_int(): see mpk_array_get_uint_checked().
 *
 * Returns: item @index as an unsigned number
 */
guint64
mpk_array_get_uint (MpkArray *array,
                    gsize     index)
{
  g_return_val_if_fail (array != NULL && index < array->length, 0);
  g_return_val_if_fail (array_kind (array) != KIND_FLOAT, 0);
  return get_item (array, index).u;
}

/**
 * mpk_array_get_double:
 * @array: (transfer none): an array
 * @index: which item, below the length
 *
 * Like mpk_array_get_int(): see mpk_array_get_double_checked().
 *
 * Returns: item @index as a double (integers converted)
 */
double
mpk_array_get_double (MpkArray *array,
                      gsize     index)
{
  g_return_val_if_fail (array != NULL && index < array->length, 0);
  return item_as_double (array, index);
}

/**
 * mpk_array_get_int_checked:
 * @array: (transfer none): an array of an integer or char type
 * @index: which item
 * @out_value: (out): where to store item @index; untouched on failure
 * @error: return location for a #GError, or %NULL
 *
 * `arr[index]`, under the lock, for an @index that may be out of range:
 * unlike mpk_array_get_int(), a bad index is a #GError, not a critical and
 * a 0 that cannot be told from a stored 0.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @index is not below
 *   the length or the array holds `f`/`d` numbers
 */
gboolean
mpk_array_get_int_checked (MpkArray  *array,
                           gsize      index,
                           gint64    *out_value,
                           GError   **error)
{
  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (out_value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error) || !check_integer (array, error))
    return FALSE;
  *out_value = item_as_int (array, index);
  return TRUE;
}

/**
 * mpk_array_get_uint_checked:
 * @array: (transfer none): an array of an integer or char type
 * @index: which item
 * @out_value: (out): where to store item @index as an unsigned number;
 *   untouched on failure
 * @error: return location for a #GError, or %NULL
 *
 * mpk_array_get_uint() with a #GError for a bad @index.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @index is not below
 *   the length or the array holds `f`/`d` numbers
 */
gboolean
mpk_array_get_uint_checked (MpkArray  *array,
                            gsize      index,
                            guint64   *out_value,
                            GError   **error)
{
  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (out_value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error) || !check_integer (array, error))
    return FALSE;
  *out_value = get_item (array, index).u;
  return TRUE;
}

/**
 * mpk_array_get_double_checked:
 * @array: (transfer none): an array
 * @index: which item
 * @out_value: (out): where to store item @index as a double (integers
 *   converted); untouched on failure
 * @error: return location for a #GError, or %NULL
 *
 * mpk_array_get_double() with a #GError for a bad @index.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @index is not below
 *   the length
 */
gboolean
mpk_array_get_double_checked (MpkArray  *array,
                              gsize      index,
                              double    *out_value,
                              GError   **error)
{
  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (out_value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error))
    return FALSE;
  *out_value = item_as_double (array, index);
  return TRUE;
}

/**
 * mpk_array_set_int:
 * @array: (transfer none): an array
 * @index: which item
 * @v: the new value
 * @error: return location for a #GError, or %NULL
 *
 * `arr[index] = v`, under the lock.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @index is not below
 *   the length or @v does not fit the type (nothing is changed then)
 */
gboolean
mpk_array_set_int (MpkArray  *array,
                   gsize      index,
                   gint64     v,
                   GError   **error)
{
  Number n = { .i = v };

  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error))
    return FALSE;
  return set_item (array, index, KIND_SIGNED, n, error);
}

/**
 * mpk_array_set_uint:
 * @array: (transfer none): an array
 * @index: which item
 * @v: the new value
 * @error: return location for a #GError, or %NULL
 *
 * `arr[index] = v` for unsigned values.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @index is not below
 *   the length or @v does not fit the type (nothing is changed then)
 */
gboolean
mpk_array_set_uint (MpkArray  *array,
                    gsize      index,
                    guint64    v,
                    GError   **error)
{
  Number n = { .u = v };

  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error))
    return FALSE;
  return set_item (array, index, KIND_UNSIGNED, n, error);
}

/**
 * mpk_array_set_double:
 * @array: (transfer none): an array of `f` or `d`
 * @index: which item
 * @v: the new value
 * @error: return location for a #GError, or %NULL
 *
 * `arr[index] = v` for floating-point arrays.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID for an integer array or
 *   an @index that is not below the length
 */
gboolean
mpk_array_set_double (MpkArray  *array,
                      gsize      index,
                      double     v,
                      GError   **error)
{
  Number n = { .d = v };

  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error))
    return FALSE;
  return set_item (array, index, KIND_FLOAT, n, error);
}

/**
 * mpk_array_add:
 * @array: (transfer none): an array
 * @index: which item, below the length
 * @delta: what to add
 *
 * `arr[index] += delta` as one step: the read and the write happen under
 * the lock (a raw array uses one atomic instruction), so no update is lost.
 * An @index out of range is a critical and returns 0; see
 * mpk_array_add_checked().
 *
 * Returns: the new value (for `f`/`d`, truncated to an integer)
 */
gint64
mpk_array_add (MpkArray *array,
               gsize     index,
               gint64    delta)
{
  g_return_val_if_fail (array != NULL && index < array->length, 0);
  return add_item (array, index, delta);
}

/**
 * mpk_array_add_checked:
 * @array: (transfer none): an array
 * @index: which item
 * @delta: what to add
 * @out_new_value: (out) (optional): the new value (for `f`/`d`, truncated to
 *   an integer); untouched on failure
 * @error: return location for a #GError, or %NULL
 *
 * mpk_array_add() with a #GError for a bad @index.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @index is not below
 *   the length (nothing is added then)
 */
gboolean
mpk_array_add_checked (MpkArray  *array,
                       gsize      index,
                       gint64     delta,
                       gint64    *out_new_value,
                       GError   **error)
{
  gint64 after;

  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_index (array, index, error))
    return FALSE;
  after = add_item (array, index, delta);
  if (out_new_value != NULL)
    *out_new_value = after;
  return TRUE;
}

static gboolean
check_slice (MpkArray *array, gsize start, gsize n, GError **error)
{
  if (start > array->length || n > array->length - start)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "array: items %" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT
                   " are outside its %" G_GSIZE_FORMAT, start, start + n, array->length);
      return FALSE;
    }
  return TRUE;
}

/**
 * mpk_array_get_range:
 * @array: (transfer none): an array
 * @start: the first item
 * @n: how many
 * @out: (transfer none) (array) (nullable): the caller's room for @n
 *   items of the array's type (%NULL only when @n is 0)
 * @error: return location for a #GError, or %NULL
 *
 * Copies `arr[start:start+n]` out, under the lock (one consistent copy).
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if the range is outside
 *   the array
 */
gboolean
mpk_array_get_range (MpkArray  *array,
                     gsize      start,
                     gsize      n,
                     gpointer   out,
                     GError   **error)
{
  gboolean locked;

  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (out != NULL || n == 0, FALSE);

  if (!check_slice (array, start, n, error))
    return FALSE;
  locked = lock_in (array);
  memcpy (out, array->data + start * array->item_size, n * array->item_size);
  lock_out (array, locked);
  return TRUE;
}

/**
 * mpk_array_set_range:
 * @array: (transfer none): an array
 * @start: the first item
 * @n: how many
 * @in: (transfer none) (array) (nullable): @n items of the array's type,
 *   copied (%NULL only when @n is 0)
 * @error: return location for a #GError, or %NULL
 *
 * `arr[start:start+n] = in`, under the lock.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if the range is outside
 *   the array
 */
gboolean
mpk_array_set_range (MpkArray      *array,
                     gsize          start,
                     gsize          n,
                     gconstpointer  in,
                     GError       **error)
{
  gboolean locked;

  g_return_val_if_fail (array != NULL, FALSE);
  g_return_val_if_fail (in != NULL || n == 0, FALSE);

  if (!check_slice (array, start, n, error))
    return FALSE;
  locked = lock_in (array);
  memcpy (array->data + start * array->item_size, in, n * array->item_size);
  lock_out (array, locked);
  return TRUE;
}

/* ------------------------------------------------------------------ Value -- */

static MpkValue *
value_new (char typecode, MpkLock *lock, gboolean locked, GError **error)
{
  MpkValue *value = g_new0 (MpkValue, 1);

  if (!array_init (&value->array, typecode, 1, lock, locked, error))
    g_clear_pointer (&value, g_free);
  return value;
}

/**
 * mpk_value_new:
 * @typecode: one of `c b B h H i I l L q Q f d`
 * @error: return location for a #GError, or %NULL
 *
 * Creates a number in shared memory, zero at first, guarded by a new
 * recursive lock: Python's `multiprocessing.Value(typecode)`. Set the first
 * value with mpk_value_set_int() and friends.
 *
 * Returns: (transfer full): the value, or %NULL with %MPK_ERROR_INVALID
 *   (unknown typecode) or %MPK_ERROR_FAILED
 */
MpkValue *
mpk_value_new (char      typecode,
               GError  **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return value_new (typecode, NULL, TRUE, error);
}

/**
 * mpk_value_new_with_lock:
 * @typecode: one of `c b B h H i I l L q Q f d`
 * @lock: (transfer none): the lock to guard it with (it must outlive the value)
 * @error: return location for a #GError, or %NULL
 *
 * Python's `Value(typecode, lock=lock)`: several objects under one lock.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
MpkValue *
mpk_value_new_with_lock (char      typecode,
                         MpkLock  *lock,
                         GError  **error)
{
  g_return_val_if_fail (lock != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return value_new (typecode, lock, TRUE, error);
}

/**
 * mpk_raw_value_new:
 * @typecode: one of `c b B h H i I l L q Q f d`
 * @error: return location for a #GError, or %NULL
 *
 * Python's `RawValue` (or `Value(…, lock=False)`): no lock; only
 * mpk_value_add() is safe against other processes (an atomic instruction).
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
MpkValue *
mpk_raw_value_new (char      typecode,
                   GError  **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return value_new (typecode, NULL, FALSE, error);
}

/**
 * mpk_value_free:
 * @value: (transfer full) (nullable): a value
 *
 * Releases this process's handle (and the lock it made, if any).
 */
void
mpk_value_free (MpkValue *value)
{
  if (value == NULL)
    return;
  array_clear (&value->array);
  g_free (value);
}

/**
 * mpk_value_get_typecode:
 * @value: (transfer none): a value
 *
 * Which C number the value is (Python keeps only the ctypes type behind
 * the typecode).
 *
 * Returns: the typecode the value was made with
 */
char
mpk_value_get_typecode (MpkValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->array.typecode;
}

/**
 * mpk_value_get_lock:
 * @value: (transfer none): a value
 *
 * Python's `v.get_lock()`: hold it around a read and a write to make them
 * one step (`with v.get_lock(): v.value += 1`).
 *
 * Returns: (transfer none) (nullable): the lock, %NULL for a raw value
 */
MpkLock *
mpk_value_get_lock (MpkValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);
  return value->array.lock;
}

/**
 * mpk_value_get_pointer:
 * @value: (transfer none): a value
 *
 * Python's `v.get_obj()`: the shared number itself.
 *
 * Returns: (transfer none): its address; the memory belongs to @value
 *   and is unmapped by mpk_value_free()
 */
gpointer
mpk_value_get_pointer (MpkValue *value)
{
  g_return_val_if_fail (value != NULL, NULL);
  return value->array.data;
}

/**
 * mpk_value_get_int:
 * @value: (transfer none): a value of an integer or char type
 *
 * Reads `v.value` under the value's lock. A value of `f` or `d` is a
 * caller bug here: a critical, and 0.
 *
 * Returns: the number
 */
gint64
mpk_value_get_int (MpkValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return mpk_array_get_int (&value->array, 0);
}

/**
 * mpk_value_get_uint:
 * @value: (transfer none): a value of an integer or char type
 *
 * Reads `v.value` under the value's lock, for the unsigned typecodes
 * (`B H I L Q`, and `c`). A value of `f` or `d` is a caller bug here: a
 * critical, and 0.
 *
 * Returns: the number as an unsigned one
 */
guint64
mpk_value_get_uint (MpkValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return mpk_array_get_uint (&value->array, 0);
}

/**
 * mpk_value_get_double:
 * @value: (transfer none): a value
 *
 * Reads `v.value` under the value's lock, of any typecode.
 *
 * Returns: the number as a double (integers converted)
 */
double
mpk_value_get_double (MpkValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return mpk_array_get_double (&value->array, 0);
}

/**
 * mpk_value_set_int:
 * @value: (transfer none): a value
 * @v: the new value
 * @error: return location for a #GError, or %NULL
 *
 * `v.value = v` (under the lock).
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @v does not fit the type
 */
gboolean
mpk_value_set_int (MpkValue  *value,
                   gint64     v,
                   GError   **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  return mpk_array_set_int (&value->array, 0, v, error);
}

/**
 * mpk_value_set_uint:
 * @value: (transfer none): a value
 * @v: the new value
 * @error: return location for a #GError, or %NULL
 *
 * `v.value = v` for unsigned values.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @v does not fit the type
 */
gboolean
mpk_value_set_uint (MpkValue  *value,
                    guint64    v,
                    GError   **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  return mpk_array_set_uint (&value->array, 0, v, error);
}

/**
 * mpk_value_set_double:
 * @value: (transfer none): a value of `f` or `d`
 * @v: the new value
 * @error: return location for a #GError, or %NULL
 *
 * `v.value = v` for floating-point values.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID for an integer value
 */
gboolean
mpk_value_set_double (MpkValue  *value,
                      double     v,
                      GError   **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  return mpk_array_set_double (&value->array, 0, v, error);
}

/**
 * mpk_value_add:
 * @value: (transfer none): a value
 * @delta: what to add
 *
 * `v.value += delta` as one step, the answer to the lost-update race of a
 * get followed by a set (see lab 25).
 *
 * Returns: the new value (for `f`/`d`, truncated to an integer)
 */
gint64
mpk_value_add (MpkValue *value,
               gint64    delta)
{
  g_return_val_if_fail (value != NULL, 0);
  return mpk_array_add (&value->array, 0, delta);
}
