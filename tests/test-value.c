/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-value.c: Value, RawValue, Array and RawArray (multiprocessing.sharedctypes),
 * ported from CPython's _TestValue and _TestArray, plus what a C kit must add:
 * range checks, one-step adds that lose no update (gap G3 of
 * ../shared/research/anchor-multiprocessing.md section 2), a lock shared by
 * several objects, and the tracer's value events. */

#include <string.h>
#include <glib/gstdio.h>
#include "test-util.h"

#define CHILD_TIMEOUT_US MPK_TEST_CHILD_TIMEOUT_US

/* argv[1] that makes main() run the traced helper instead of the tests. */
#define TRACE_HELPER_ARG "--value-trace-helper"

#define N_ADDERS 8

static guint
n_adds (void)
{
  return under_valgrind () ? 5000 : 100000;
}

static const gint32 SEQ[10] = { 680, 626, 934, 821, 150, 233, 548, 982, 714, 831 };

/* --- helpers ------------------------------------------------------------------ */

static MpkValue *
value_new_ok (char typecode, gboolean raw)
{
  g_autoptr(GError) error = NULL;
  MpkValue *value = raw ? mpk_raw_value_new (typecode, &error)
                        : mpk_value_new (typecode, &error);

  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_cmpint (mpk_value_get_typecode (value), ==, typecode);
  return value;
}

static MpkArray *
array_new_ok (char typecode, gsize length, gboolean raw)
{
  g_autoptr(GError) error = NULL;
  MpkArray *array = raw ? mpk_raw_array_new (typecode, length, &error)
                        : mpk_array_new (typecode, length, &error);

  g_assert_no_error (error);
  g_assert_nonnull (array);
  g_assert_cmpint (mpk_array_get_typecode (array), ==, typecode);
  g_assert_cmpuint (mpk_array_get_length (array), ==, length);
  return array;
}

static MpkLock *
lock_new_ok (gboolean recursive)
{
  g_autoptr(GError) error = NULL;
  MpkLock *lock = recursive ? mpk_rlock_new (&error) : mpk_lock_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (lock);
  return lock;
}

/* --- 29: Value and RawValue ------------------------------------------------------ */

typedef struct
{
  MpkValue *i, *d, *h, *q, *c;
} FiveValues;

static int
set_values_child (gpointer data)
{
  FiveValues *v = data;

  child_guard ();
  MPK_CHILD_CHECK (mpk_value_set_int (v->i, 24234, NULL));
  MPK_CHILD_CHECK (mpk_value_set_double (v->d, -4.25, NULL));
  MPK_CHILD_CHECK (mpk_value_set_int (v->h, 234, NULL));
  MPK_CHILD_CHECK (mpk_value_set_int (v->q, G_GINT64_CONSTANT (1) << 34, NULL));
  MPK_CHILD_CHECK (mpk_value_set_uint (v->c, 'y', NULL));
  return 0;
}

static void
test_value_basic (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean raw = GPOINTER_TO_INT (data);
  FiveValues v;

  g_test_summary ("CPython test_value/test_rawvalue: i 4343, d 3.625, h -232, q 2**33, "
                  "c 'x' read back; a child sets 24234, -4.25, 234, 2**34, 'y'; the "
                  "parent sees them after the join");
  v.i = value_new_ok ('i', raw);
  v.d = value_new_ok ('d', raw);
  v.h = value_new_ok ('h', raw);
  v.q = value_new_ok ('q', raw);
  v.c = value_new_ok ('c', raw);

  /* All zero at first. */
  g_assert_cmpint (mpk_value_get_int (v.i), ==, 0);
  g_assert_cmpfloat (mpk_value_get_double (v.d), ==, 0.0);
  g_assert_cmpuint (mpk_value_get_uint (v.c), ==, 0);

  ASSERT_OK (mpk_value_set_int (v.i, 4343, &error), error);
  ASSERT_OK (mpk_value_set_double (v.d, 3.625, &error), error);
  ASSERT_OK (mpk_value_set_int (v.h, -232, &error), error);
  ASSERT_OK (mpk_value_set_int (v.q, G_GINT64_CONSTANT (1) << 33, &error), error);
  ASSERT_OK (mpk_value_set_uint (v.c, 'x', &error), error);

  g_assert_cmpint (mpk_value_get_int (v.i), ==, 4343);
  g_assert_cmpfloat (mpk_value_get_double (v.d), ==, 3.625);
  g_assert_cmpint (mpk_value_get_int (v.h), ==, -232);
  g_assert_cmpint (mpk_value_get_int (v.q), ==, G_GINT64_CONSTANT (1) << 33);
  g_assert_cmpuint (mpk_value_get_uint (v.c), ==, 0x78);
  g_assert_cmpint (*(guint8 *) mpk_value_get_pointer (v.c), ==, 0x78);
  g_assert_cmpint (*(gint16 *) mpk_value_get_pointer (v.h), ==, -232);

  join_child (mpk_test_start (set_values_child, &v), 0);

  g_assert_cmpint (mpk_value_get_int (v.i), ==, 24234);
  g_assert_cmpfloat (mpk_value_get_double (v.d), ==, -4.25);
  g_assert_cmpint (mpk_value_get_int (v.h), ==, 234);
  g_assert_cmpint (mpk_value_get_int (v.q), ==, G_GINT64_CONSTANT (1) << 34);
  g_assert_cmpuint (mpk_value_get_uint (v.c), ==, 0x79);
  g_assert_cmpint (mpk_value_get_int (v.c), ==, 'y');

  mpk_value_free (v.i);
  mpk_value_free (v.d);
  mpk_value_free (v.h);
  mpk_value_free (v.q);
  mpk_value_free (v.c);
}

/* --- 30: get_lock / get_pointer ---------------------------------------------------- */

static void
test_value_getlock (void)
{
  g_autoptr(MpkLock) lock = lock_new_ok (TRUE);
  g_autoptr(GError) error = NULL;
  MpkValue *v;

  g_test_summary ("CPython test_getobj_getlock: a default Value has a lock and a pointer; "
                  "with_lock(L) gives get_lock() == L; a raw value has no lock; an "
                  "unknown typecode fails INVALID");
  v = value_new_ok ('i', FALSE);
  g_assert_nonnull (mpk_value_get_lock (v));
  g_assert_true (mpk_lock_is_recursive (mpk_value_get_lock (v)));
  g_assert_nonnull (mpk_value_get_pointer (v));
  mpk_value_free (v);

  v = mpk_value_new_with_lock ('i', lock, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_true (mpk_value_get_lock (v) == lock);
  g_assert_nonnull (mpk_value_get_pointer (v));
  mpk_value_free (v);

  v = value_new_ok ('i', TRUE);
  g_assert_null (mpk_value_get_lock (v));
  g_assert_nonnull (mpk_value_get_pointer (v));
  mpk_value_free (v);

  g_assert_null (mpk_value_new ('z', &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_raw_value_new ('z', &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_value_new_with_lock ('z', lock, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_value_new ('\0', &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
}

/* --- 31: Array and RawArray --------------------------------------------------------- */

static int
prefix_sum_child (gpointer data)
{
  MpkArray *array = data;
  MpkLock *lock = mpk_array_get_lock (array);
  gint32 *p = mpk_array_get_pointer (array);
  gsize i;

  child_guard ();
  if (lock != NULL)
    MPK_CHILD_CHECK (mpk_lock_acquire (lock, CHILD_TIMEOUT_US, NULL));
  for (i = 1; i < mpk_array_get_length (array); i++)
    p[i] += p[i - 1];
  if (lock != NULL)
    MPK_CHILD_CHECK (mpk_lock_release (lock, NULL));
  return 0;
}

static void
test_array_basic (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean raw = GPOINTER_TO_INT (data);
  gint32 expected[10], got[10] = { 0 };
  const gint32 four[4] = { 1, 2, 3, 4 };
  MpkArray *array;
  gsize i;

  g_test_summary ("CPython test_array/test_rawarray: len, arr[3], arr[2:7] read back; "
                  "arr[4:8] = [1,2,3,4]; a child makes prefix sums in place under the "
                  "lock; the parent sees them");
  array = array_new_ok ('i', G_N_ELEMENTS (SEQ), raw);
  g_assert_cmpuint (mpk_array_get_item_size (array), ==, 4);
  if (raw)
    g_assert_null (mpk_array_get_lock (array));
  else
    g_assert_nonnull (mpk_array_get_lock (array));
  ASSERT_OK (mpk_array_set_range (array, 0, G_N_ELEMENTS (SEQ), SEQ, &error), error);

  g_assert_cmpuint (mpk_array_get_length (array), ==, 10);
  g_assert_cmpint (mpk_array_get_int (array, 3), ==, 821);
  ASSERT_OK (mpk_array_get_range (array, 2, 5, got, &error), error);
  g_assert_cmpmem (got, 5 * sizeof (gint32), SEQ + 2, 5 * sizeof (gint32));

  memcpy (expected, SEQ, sizeof expected);
  memcpy (expected + 4, four, sizeof four);
  ASSERT_OK (mpk_array_set_range (array, 4, 4, four, &error), error);
  ASSERT_OK (mpk_array_get_range (array, 0, 10, got, &error), error);
  g_assert_cmpmem (got, sizeof got, expected, sizeof expected);

  join_child (mpk_test_start (prefix_sum_child, array), 0);

  for (i = 1; i < 10; i++)
    expected[i] += expected[i - 1];
  ASSERT_OK (mpk_array_get_range (array, 0, 10, got, &error), error);
  g_assert_cmpmem (got, sizeof got, expected, sizeof expected);
  for (i = 0; i < 10; i++)
    g_assert_cmpint (mpk_array_get_int (array, i), ==, expected[i]);
  g_assert_cmpint (mpk_array_get_int (array, 9), ==, 4616);
  mpk_array_free (array);
}

/* --- 32: Array from a size ------------------------------------------------------------ */

static void
test_array_from_size (void)
{
  g_autoptr(GError) error = NULL;
  gint32 zeros[10] = { 0 }, range[10], got[10];
  int round;
  gsize i;

  g_test_summary ("CPython test_array_from_size: Array('i', 10) is all zeros three times "
                  "in a row (no stale data after a filled array is freed); arr[:] = "
                  "range(10) round-trips");
  for (i = 0; i < 10; i++)
    range[i] = i;
  for (round = 0; round < 3; round++)
    {
      MpkArray *array = array_new_ok ('i', 10, FALSE);

      memset (got, 0xff, sizeof got);
      ASSERT_OK (mpk_array_get_range (array, 0, 10, got, &error), error);
      g_assert_cmpmem (got, sizeof got, zeros, sizeof zeros);
      for (i = 0; i < 10; i++)
        g_assert_cmpint (mpk_array_get_int (array, i), ==, 0);

      ASSERT_OK (mpk_array_set_range (array, 0, 10, range, &error), error);
      memset (got, 0, sizeof got);
      ASSERT_OK (mpk_array_get_range (array, 0, 10, got, &error), error);
      g_assert_cmpmem (got, sizeof got, range, sizeof range);
      for (i = 0; i < 10; i++)
        g_assert_cmpint (mpk_array_get_int (array, i), ==, (gint64) i);
      mpk_array_free (array);
    }
}

/* --- 33: get_lock / get_pointer for Array ------------------------------------------------- */

static void
test_array_getlock (void)
{
  g_autoptr(MpkLock) lock = lock_new_ok (FALSE);
  g_autoptr(GError) error = NULL;
  MpkArray *array;

  g_test_summary ("CPython test_getobj_getlock_obj: the rules of /value/getlock for Array");
  array = array_new_ok ('d', 5, FALSE);
  g_assert_nonnull (mpk_array_get_lock (array));
  g_assert_nonnull (mpk_array_get_pointer (array));
  g_assert_cmpuint (mpk_array_get_item_size (array), ==, 8);
  mpk_array_free (array);

  array = mpk_array_new_with_lock ('d', 5, lock, &error);
  g_assert_no_error (error);
  g_assert_nonnull (array);
  g_assert_true (mpk_array_get_lock (array) == lock);
  g_assert_nonnull (mpk_array_get_pointer (array));
  mpk_array_free (array);

  array = array_new_ok ('d', 5, TRUE);
  g_assert_null (mpk_array_get_lock (array));
  g_assert_nonnull (mpk_array_get_pointer (array));
  mpk_array_free (array);

  g_assert_null (mpk_array_new ('z', 5, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_raw_array_new ('z', 5, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mpk_array_new_with_lock ('z', 5, lock, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  /* A length whose byte size overflows. */
  g_assert_null (mpk_array_new ('q', G_MAXSIZE / 4, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
}

/* --- G3: one-step adds lose no update --------------------------------------------------- */

typedef enum { ADD_LOCKED, ADD_RAW, ADD_HELD_LOCK, ADD_ARRAY } AddMode;

typedef struct
{
  AddMode   mode;
  MpkValue *value;
  MpkArray *array;
  guint     n;
} AddArgs;

static int
add_child (gpointer data)
{
  AddArgs *args = data;
  MpkLock *lock = args->value != NULL ? mpk_value_get_lock (args->value) : NULL;
  guint i;

  child_guard ();
  for (i = 0; i < args->n; i++)
    {
      switch (args->mode)
        {
        case ADD_LOCKED:
        case ADD_RAW:
          mpk_value_add (args->value, 1);
          break;
        case ADD_ARRAY:
          mpk_array_add (args->array, 1, 1);
          mpk_array_add (args->array, 2, -1);
          break;
        case ADD_HELD_LOCK:
          MPK_CHILD_CHECK (mpk_lock_acquire (lock, CHILD_TIMEOUT_US, NULL));
          MPK_CHILD_CHECK (mpk_value_set_int (args->value,
                                              mpk_value_get_int (args->value) + 1, NULL));
          MPK_CHILD_CHECK (mpk_lock_release (lock, NULL));
          break;
        }
    }
  return 0;
}

static void
test_value_add_processes (gconstpointer data)
{
  AddArgs args = { .mode = GPOINTER_TO_INT (data), .n = n_adds () };
  MpkProcess *children[N_ADDERS];
  guint i;

  g_test_summary ("Gap G3: 8 processes x 100000 increments (5000 under valgrind) lose "
                  "none: mpk_value_add on a locked 'i', on a raw 'q' (atomic), "
                  "mpk_array_add on a locked array, and get+set under the held lock");
  switch (args.mode)
    {
    case ADD_LOCKED:
    case ADD_HELD_LOCK:
      args.value = value_new_ok ('i', FALSE);
      break;
    case ADD_RAW:
      args.value = value_new_ok ('q', TRUE);
      break;
    case ADD_ARRAY:
      args.array = array_new_ok ('i', 4, FALSE);
      break;
    }
  for (i = 0; i < N_ADDERS; i++)
    children[i] = mpk_test_start (add_child, &args);
  for (i = 0; i < N_ADDERS; i++)
    join_child (children[i], 0);

  if (args.value != NULL)
    {
      g_assert_cmpint (mpk_value_get_int (args.value), ==, (gint64) N_ADDERS * args.n);
      /* The returned value is the new one. */
      g_assert_cmpint (mpk_value_add (args.value, 5), ==, (gint64) N_ADDERS * args.n + 5);
      mpk_value_free (args.value);
    }
  else
    {
      g_assert_cmpint (mpk_array_get_int (args.array, 0), ==, 0);
      g_assert_cmpint (mpk_array_get_int (args.array, 1), ==, (gint64) N_ADDERS * args.n);
      g_assert_cmpint (mpk_array_get_int (args.array, 2), ==, -(gint64) N_ADDERS * args.n);
      g_assert_cmpint (mpk_array_get_int (args.array, 3), ==, 0);
      mpk_array_free (args.array);
    }
}

static void
test_value_add_wrap (void)
{
  g_autoptr(GError) error = NULL;
  MpkValue *v;

  g_test_summary ("mpk_value_add wraps like C on a narrow type, locked and raw, and "
                  "returns the new value");
  v = value_new_ok ('b', FALSE);
  ASSERT_OK (mpk_value_set_int (v, 127, &error), error);
  g_assert_cmpint (mpk_value_add (v, 1), ==, -128);
  g_assert_cmpint (mpk_value_get_int (v), ==, -128);
  mpk_value_free (v);

  v = value_new_ok ('B', TRUE);
  g_assert_cmpint (mpk_value_add (v, -1), ==, 255);
  g_assert_cmpuint (mpk_value_get_uint (v), ==, 255);
  mpk_value_free (v);

  v = value_new_ok ('d', FALSE);
  ASSERT_OK (mpk_value_set_double (v, 1.5, &error), error);
  g_assert_cmpint (mpk_value_add (v, 2), ==, 3);
  g_assert_cmpfloat (mpk_value_get_double (v), ==, 3.5);
  mpk_value_free (v);
}

/* --- range checks -------------------------------------------------------------------------- */

static void
test_value_range (void)
{
  g_autoptr(GError) error = NULL;
  MpkValue *v;
  MpkArray *a;
  gint32 buf[4] = { 0 };

  g_test_summary ("Sets that do not fit the type fail INVALID and change nothing; "
                  "get_range/set_range outside the array fail INVALID");
  v = value_new_ok ('b', FALSE);
  ASSERT_FAILS (mpk_value_set_int (v, 300, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_set_int (v, -129, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_set_uint (v, 128, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_set_double (v, 1.0, &error), error, MPK_ERROR_INVALID);
  g_assert_cmpint (mpk_value_get_int (v), ==, 0);
  ASSERT_OK (mpk_value_set_int (v, 127, &error), error);
  g_assert_cmpint (mpk_value_get_int (v), ==, 127);
  ASSERT_OK (mpk_value_set_int (v, -128, &error), error);
  g_assert_cmpint (mpk_value_get_int (v), ==, -128);
  ASSERT_FAILS (mpk_value_set_int (v, 128, &error), error, MPK_ERROR_INVALID);
  g_assert_cmpint (mpk_value_get_int (v), ==, -128);
  mpk_value_free (v);

  v = value_new_ok ('B', TRUE);
  ASSERT_FAILS (mpk_value_set_int (v, -1, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_set_uint (v, 256, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_value_set_uint (v, 255, &error), error);
  g_assert_cmpuint (mpk_value_get_uint (v), ==, 255);
  mpk_value_free (v);

  v = value_new_ok ('I', FALSE);
  ASSERT_FAILS (mpk_value_set_uint (v, G_GUINT64_CONSTANT (1) << 32, &error), error,
                MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_set_int (v, G_GINT64_CONSTANT (1) << 32, &error), error,
                MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_set_int (v, -1, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_value_set_uint (v, G_MAXUINT32, &error), error);
  g_assert_cmpuint (mpk_value_get_uint (v), ==, G_MAXUINT32);
  mpk_value_free (v);

  v = value_new_ok ('H', FALSE);
  ASSERT_FAILS (mpk_value_set_uint (v, 65536, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_value_set_int (v, 65535, &error), error);
  g_assert_cmpuint (mpk_value_get_uint (v), ==, 65535);
  mpk_value_free (v);

  v = value_new_ok ('q', FALSE);
  ASSERT_FAILS (mpk_value_set_uint (v, G_MAXUINT64, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_value_set_int (v, G_MININT64, &error), error);
  g_assert_cmpint (mpk_value_get_int (v), ==, G_MININT64);
  mpk_value_free (v);

  v = value_new_ok ('Q', FALSE);
  ASSERT_FAILS (mpk_value_set_int (v, -1, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_value_set_uint (v, G_MAXUINT64, &error), error);
  g_assert_cmpuint (mpk_value_get_uint (v), ==, G_MAXUINT64);
  mpk_value_free (v);

  v = value_new_ok ('i', FALSE);
  ASSERT_FAILS (mpk_value_set_double (v, 1.0, &error), error, MPK_ERROR_INVALID);
  g_assert_cmpint (mpk_value_get_int (v), ==, 0);
  mpk_value_free (v);

  /* Integers go into a float value, converted. */
  v = value_new_ok ('f', FALSE);
  ASSERT_OK (mpk_value_set_int (v, -3, &error), error);
  g_assert_cmpfloat (mpk_value_get_double (v), ==, -3.0);
  ASSERT_OK (mpk_value_set_double (v, 0.5, &error), error);
  g_assert_cmpfloat (mpk_value_get_double (v), ==, 0.5);
  mpk_value_free (v);

  a = array_new_ok ('i', 10, FALSE);
  ASSERT_FAILS (mpk_array_get_range (a, 8, 3, buf, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_range (a, 8, 3, buf, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_get_range (a, 11, 0, buf, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_range (a, 11, 0, buf, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_get_range (a, 1, G_MAXSIZE, buf, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_range (a, G_MAXSIZE, 2, buf, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_array_get_range (a, 10, 0, buf, &error), error);
  ASSERT_OK (mpk_array_get_range (a, 6, 4, buf, &error), error);
  ASSERT_FAILS (mpk_array_set_int (a, 9, G_GINT64_CONSTANT (1) << 31, &error), error,
                MPK_ERROR_INVALID);
  ASSERT_OK (mpk_array_set_int (a, 9, G_MAXINT32, &error), error);
  g_assert_cmpint (mpk_array_get_int (a, 9), ==, G_MAXINT32);
  mpk_array_free (a);
}

/* --- a lock shared by a Value and an Array ------------------------------------------------- */

typedef struct
{
  MpkTestChannel channel;
  MpkValue      *value;
  MpkArray      *array;
  MpkValue      *released;   /* raw flag: the parent set it before releasing the lock */
} SharedLockArgs;

static int
shared_lock_child (gpointer data)
{
  SharedLockArgs *args = data;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (child_say (&args->channel, "ready"));
  /* Blocks until the parent releases the lock. */
  MPK_CHILD_CHECK (mpk_value_set_int (args->value, 42, NULL));
  MPK_CHILD_CHECK (mpk_value_get_int (args->released) == 1);
  MPK_CHILD_CHECK (mpk_array_set_int (args->array, 2, 7, NULL));
  return 0;
}

static void
test_value_shared_lock (gconstpointer data)
{
  gboolean recursive = GPOINTER_TO_INT (data);
  g_autoptr(MpkLock) lock = lock_new_ok (recursive);
  g_autoptr(GError) error = NULL;
  SharedLockArgs args = { 0 };
  MpkProcess *child;

  g_test_summary ("A lock given to a Value and an Array guards both: while the parent "
                  "holds it, a child's set waits; it lands only after the release");
  args.value = mpk_value_new_with_lock ('i', lock, &error);
  g_assert_no_error (error);
  args.array = mpk_array_new_with_lock ('i', 4, lock, &error);
  g_assert_no_error (error);
  g_assert_true (mpk_value_get_lock (args.value) == mpk_array_get_lock (args.array));
  args.released = value_new_ok ('i', TRUE);
  mpk_test_channel_init (&args.channel);

  g_assert_true (mpk_lock_acquire (lock, CHILD_TIMEOUT_US, &error));
  g_assert_no_error (error);
  child = mpk_test_start (shared_lock_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "ready");
  /* Not a synchronisation: only a chance for the child to reach its set, so
   * that a set that ignored the lock would land now, before the flag. */
  g_usleep (under_valgrind () ? 500 * 1000 : 50 * 1000);
  g_assert_cmpint (*(gint32 *) mpk_value_get_pointer (args.value), ==, 0);
  g_assert_cmpint (((gint32 *) mpk_array_get_pointer (args.array))[2], ==, 0);
  ASSERT_OK (mpk_value_set_int (args.released, 1, &error), error);
  g_assert_true (mpk_lock_release (lock, &error));
  g_assert_no_error (error);
  join_child (child, 0);

  g_assert_cmpint (mpk_value_get_int (args.value), ==, 42);
  g_assert_cmpint (mpk_array_get_int (args.array, 2), ==, 7);
  g_assert_false (mpk_lock_is_locked (lock));

  mpk_test_channel_clear (&args.channel);
  mpk_value_free (args.released);
  mpk_array_free (args.array);
  mpk_value_free (args.value);
}

/* --- a plain lock held by the caller ---------------------------------------------------------- */

static void
test_value_plain_lock_held (void)
{
  g_autoptr(MpkLock) lock = lock_new_ok (FALSE);
  g_autoptr(GError) error = NULL;
  gint32 got[3] = { 0 };
  const gint32 in[3] = { 4, 5, 6 };
  MpkValue *v;
  MpkArray *a;

  g_test_summary ("A plain Lock given with with_lock and held by the caller (to group "
                  "calls): get, set, add and ranges go on under it, and leave it held");
  v = mpk_value_new_with_lock ('i', lock, &error);
  g_assert_no_error (error);
  a = mpk_array_new_with_lock ('i', 3, lock, &error);
  g_assert_no_error (error);

  g_assert_true (mpk_lock_acquire (lock, CHILD_TIMEOUT_US, &error));
  g_assert_no_error (error);
  ASSERT_OK (mpk_value_set_int (v, 5, &error), error);
  g_assert_cmpint (mpk_value_get_int (v), ==, 5);
  g_assert_cmpint (mpk_value_add (v, 1), ==, 6);
  ASSERT_OK (mpk_array_set_range (a, 0, 3, in, &error), error);
  ASSERT_OK (mpk_array_get_range (a, 0, 3, got, &error), error);
  g_assert_cmpmem (got, sizeof got, in, sizeof in);
  g_assert_cmpint (mpk_array_add (a, 1, 10), ==, 15);
  g_assert_true (mpk_lock_is_locked (lock));
  g_assert_true (mpk_lock_release (lock, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_lock_is_locked (lock));

  /* And without holding it. */
  ASSERT_OK (mpk_value_set_int (v, 9, &error), error);
  g_assert_cmpint (mpk_value_get_int (v), ==, 9);
  g_assert_false (mpk_lock_is_locked (lock));

  mpk_array_free (a);
  mpk_value_free (v);
}

/* --- tracer ------------------------------------------------------------------------------------- */

/* Runs in the re-executed binary, with MPK_TRACE=value read by the constructor. */
static int
trace_helper (void)
{
  MpkValue *v = mpk_value_new ('i', NULL);
  MpkArray *a = mpk_array_new ('H', 3, NULL);

  if (v == NULL || a == NULL)
    return 2;
  if (!mpk_value_set_int (v, 41, NULL))
    return 3;
  if (mpk_value_add (v, 1) != 42)
    return 4;
  if (mpk_value_get_int (v) != 42)
    return 5;
  if (!mpk_array_set_uint (a, 2, 7, NULL))
    return 6;
  mpk_array_free (a);
  mpk_value_free (v);
  return 0;
}

static gboolean
has_line (char **lines, const char *ev, const char *a, const char *b, const char *c)
{
  g_autofree char *ev_field = g_strdup_printf ("\"ev\":\"%s\"", ev);
  char **l;

  for (l = lines; *l != NULL; l++)
    if (strstr (*l, ev_field) != NULL
        && (a == NULL || strstr (*l, a) != NULL)
        && (b == NULL || strstr (*l, b) != NULL)
        && (c == NULL || strstr (*l, c) != NULL))
      return TRUE;
  return FALSE;
}

static void
test_value_trace (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = g_dir_make_tmp ("test-value-XXXXXX", &error);
  g_autoptr(GString) all = g_string_new (NULL);
  g_auto(GStrv) envp = g_get_environ ();
  g_auto(GStrv) lines = NULL;
  const char *argv[] = { NULL, TRACE_HELPER_ARG, NULL };
  const char *name;
  GDir *d;
  int status = 0;

  g_test_summary ("MPK_TRACE=value: set, add and read write value.write (old, new), "
                  "value.add (old, new) and value.read (old) lines; an array's carry "
                  "the index");
  g_assert_no_error (error);
  g_assert_nonnull (exe);
  argv[0] = exe;
  envp = g_environ_setenv (envp, "MPK_TRACE", "value", TRUE);
  envp = g_environ_setenv (envp, "MPK_TRACE_DIR", dir, TRUE);
  envp = g_environ_unsetenv (envp, "MPK_TRACE_RUN");
  g_assert_true (g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);

  d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL))
        g_string_append (all, text);
      g_unlink (path);
    }
  g_dir_close (d);
  g_rmdir (dir);

  lines = g_strsplit (all->str, "\n", -1);
  if (g_test_verbose ())
    g_printerr ("%s", all->str);
  g_assert_true (has_line (lines, "value.write", "\"old\":\"0\"", "\"new\":\"41\"", NULL));
  g_assert_true (has_line (lines, "value.add", "\"old\":\"41\"", "\"new\":\"42\"", NULL));
  g_assert_true (has_line (lines, "value.read", "\"old\":\"42\"", NULL, NULL));
  g_assert_true (has_line (lines, "value.write", "\"index\":2", "\"old\":\"0\"", "\"new\":\"7\""));
  g_assert_false (has_line (lines, "value.write", "\"old\":\"0\"", "\"new\":\"41\"", "\"index\""));
}

/* ------------------------------------------------------------------------------------------------ */

/* --- index out of range: a GError, never a critical, where there is a GError ----------------- */

static void
test_array_set_out_of_range (void)
{
  g_autoptr(GError) error = NULL;
  static const gint32 expected[4] = { 1, 2, 3, 4 };
  gint32 buf[4] = { 0 };
  MpkArray *a;

  if (!mpk_test_in_subprocess ("Issue 11 section 4: array setters with an index at or past the "
                               "length fail MPK_ERROR_INVALID (no critical) and change nothing"))
    return;
  a = array_new_ok ('i', 4, FALSE);
  ASSERT_OK (mpk_array_set_range (a, 0, 4, expected, &error), error);
  ASSERT_FAILS (mpk_array_set_int (a, 4, 7, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_int (a, G_MAXSIZE, 7, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_uint (a, 4, 7, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_double (a, 5, 7.0, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_array_get_range (a, 0, 4, buf, &error), error);
  g_assert_cmpmem (buf, sizeof buf, expected, sizeof expected);
  mpk_array_free (a);

  a = array_new_ok ('d', 2, TRUE);
  ASSERT_FAILS (mpk_array_set_double (a, 2, 1.5, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_array_set_int (a, 2, 1, &error), error, MPK_ERROR_INVALID);
  mpk_array_free (a);
}

static void
test_array_get_checked (void)
{
  g_autoptr(GError) error = NULL;
  MpkArray *a, *f;
  gint64 i = -1;
  guint64 u = 1;
  double d = -1.0;

  if (!mpk_test_in_subprocess ("Issue 11 section 4: the _checked getters and add tell an "
                               "index out of range (MPK_ERROR_INVALID) from a stored 0; the "
                               "plain getters stay a critical that returns 0"))
    return;
  a = array_new_ok ('h', 3, FALSE);
  ASSERT_OK (mpk_array_set_int (a, 2, -5, &error), error);

  g_assert_true (mpk_array_get_int_checked (a, 2, &i, &error));
  g_assert_no_error (error);
  g_assert_cmpint (i, ==, -5);
  g_assert_true (mpk_array_get_int_checked (a, 0, &i, &error));
  g_assert_no_error (error);
  g_assert_cmpint (i, ==, 0);
  g_assert_true (mpk_array_get_double_checked (a, 2, &d, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (d, ==, -5.0);

  /* Out of range: FALSE, INVALID, and the output is left alone. */
  i = 99;
  g_assert_false (mpk_array_get_int_checked (a, 3, &i, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_cmpint (i, ==, 99);
  g_clear_error (&error);
  g_assert_false (mpk_array_get_uint_checked (a, G_MAXSIZE, &u, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_cmpuint (u, ==, 1);
  g_clear_error (&error);
  g_assert_false (mpk_array_get_double_checked (a, 3, &d, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_cmpfloat (d, ==, -5.0);
  g_clear_error (&error);
  g_assert_false (mpk_array_add_checked (a, 3, 1, &i, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_cmpint (i, ==, 99);
  g_clear_error (&error);

  g_assert_true (mpk_array_add_checked (a, 2, 7, &i, &error));
  g_assert_no_error (error);
  g_assert_cmpint (i, ==, 2);
  g_assert_true (mpk_array_add_checked (a, 1, 1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mpk_array_get_int (a, 1), ==, 1);

  /* An integer getter on a float array is INVALID as well. */
  f = array_new_ok ('f', 1, TRUE);
  g_assert_false (mpk_array_get_int_checked (f, 0, &i, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mpk_array_get_uint_checked (f, 0, &u, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  mpk_array_free (f);

  /* The plain getters: still a caller bug, a critical and 0, but no crash. */
  g_test_expect_message ("mpk", G_LOG_LEVEL_CRITICAL, "*index < array->length*");
  g_assert_cmpint (mpk_array_get_int (a, 3), ==, 0);
  g_test_assert_expected_messages ();
  mpk_array_free (a);
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 2 && strcmp (argv[1], TRACE_HELPER_ARG) == 0)
    return trace_helper ();

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_data_func ("/value/basic/locked", GINT_TO_POINTER (FALSE), test_value_basic);
  mpk_test_add_data_func ("/value/basic/raw", GINT_TO_POINTER (TRUE), test_value_basic);
  mpk_test_add_func ("/value/getlock", test_value_getlock);
  mpk_test_add_func ("/value/range", test_value_range);
  mpk_test_add_data_func ("/value/add/locked", GINT_TO_POINTER (ADD_LOCKED),
                          test_value_add_processes);
  mpk_test_add_data_func ("/value/add/raw", GINT_TO_POINTER (ADD_RAW),
                          test_value_add_processes);
  mpk_test_add_data_func ("/value/add/get-set-under-lock", GINT_TO_POINTER (ADD_HELD_LOCK),
                          test_value_add_processes);
  mpk_test_add_func ("/value/add/wrap", test_value_add_wrap);
  mpk_test_add_data_func ("/value/shared-lock/lock", GINT_TO_POINTER (FALSE),
                          test_value_shared_lock);
  mpk_test_add_data_func ("/value/shared-lock/rlock", GINT_TO_POINTER (TRUE),
                          test_value_shared_lock);
  mpk_test_add_func ("/value/plain-lock-held", test_value_plain_lock_held);
  mpk_test_add_func ("/value/trace", test_value_trace);

  mpk_test_add_data_func ("/array/basic/locked", GINT_TO_POINTER (FALSE), test_array_basic);
  mpk_test_add_data_func ("/array/basic/raw", GINT_TO_POINTER (TRUE), test_array_basic);
  mpk_test_add_func ("/array/from-size", test_array_from_size);
  mpk_test_add_func ("/array/getlock", test_array_getlock);
  mpk_test_add_func ("/array/index/set-out-of-range", test_array_set_out_of_range);
  mpk_test_add_func ("/array/index/get-checked", test_array_get_checked);
  mpk_test_add_data_func ("/array/add/locked", GINT_TO_POINTER (ADD_ARRAY),
                          test_value_add_processes);

  return g_test_run ();
}
