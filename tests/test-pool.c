/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pool.c: MpkPool. CPython's _TestPool and _TestPoolWorkerLifetime
 * (Lib/test/_test_multiprocessing.py) ported: apply, map with and without
 * chunks, starmap, async results and their timeouts, imap and
 * imap_unordered (with a failing task in the middle), empty maps, close,
 * terminate and join, maxtasksperchild, the initializer. Then what Python's
 * pool cannot do: a worker that dies (SIGKILL, SIGSEGV, exit) fails only
 * the task it was running, a replacement starts and the pool goes on, and
 * random SIGKILLs during a 10 000-task map lose no task. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpkit.h>
#include "test-util.h"

#define TIMEOUT (under_valgrind () ? 300 * G_USEC_PER_SEC : 30 * G_USEC_PER_SEC)

static GQuark
test_error_quark (void)
{
  return g_quark_from_static_string ("test-pool-error");
}

static GVariant *
sqr (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  return g_variant_new_int64 (v * v);
}

/* Fails for multiples of 7 (but not 0). */
static GVariant *
sqr_or_fail (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  if (v != 0 && v % 7 == 0)
    {
      g_set_error (error, test_error_quark (), 42, "%" G_GINT64_FORMAT " is a multiple of 7", v);
      return NULL;
    }
  return g_variant_new_int64 (v * v);
}

static GVariant *
mul (GVariant **args, gsize n_args, gpointer user_data, GError **error)
{
  if (n_args != 2)
    {
      g_set_error (error, test_error_quark (), 1, "mul takes 2 arguments, got %zu", n_args);
      return NULL;
    }
  return g_variant_new_int64 (g_variant_get_int64 (args[0]) * g_variant_get_int64 (args[1]));
}

static GVariant *
get_pid (GVariant *x, gpointer user_data, GError **error)
{
  return g_variant_new_int32 (getpid ());
}

/* Waits on an event given through the pool's user data, then returns its input. */
static GVariant *
wait_for_event (GVariant *x, gpointer user_data, GError **error)
{
  if (!mpk_event_wait (user_data, TIMEOUT))
    {
      g_set_error_literal (error, test_error_quark (), 2, "the event never came");
      return NULL;
    }
  return g_variant_ref (x);
}

/* -1 kills its worker with SIGKILL, -2 with SIGSEGV, -3 exits (code 3). */
static GVariant *
die_or_sqr (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  if (v == -1)
    raise (SIGKILL);
  if (v == -2)
    {
      signal (SIGSEGV, SIG_DFL);
      raise (SIGSEGV);
    }
  if (v == -3)
    _exit (3);
  return g_variant_new_int64 (v * v);
}

static GVariant **
int_inputs (gsize n)
{
  GVariant **inputs = g_new0 (GVariant *, n + 1);

  for (gsize i = 0; i < n; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new_int64 (i));
  return inputs;
}

static void
inputs_free (GVariant **inputs, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_variant_unref (inputs[i]);
  g_free (inputs);
}

static MpkPool *
pool_new (guint n, MpkPoolInitFunc init, gpointer data, guint maxtasks)
{
  g_autoptr(GError) error = NULL;
  MpkPool *pool = mpk_pool_new (n, init, data, maxtasks, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pool);
  return pool;
}

static void
pool_finish (MpkPool *pool)
{
  g_autoptr(GError) error = NULL;

  mpk_pool_close (pool);
  g_assert_true (mpk_pool_join (pool, TIMEOUT, &error));
  g_assert_no_error (error);
  mpk_pool_free (pool);
}

static void
assert_squares (GPtrArray *results, gsize n)
{
  g_assert_nonnull (results);
  g_assert_cmpuint (results->len, ==, n);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint (g_variant_get_int64 (g_ptr_array_index (results, i)), ==, (gint64) (i * i));
}

static void
test_apply (void)
{
  MpkPool *pool = pool_new (4, NULL, NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = mpk_pool_apply (pool, sqr, g_variant_new_int64 (5), TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 25);
  g_assert_cmpuint (mpk_pool_get_n_workers (pool), ==, 4);
  pool_finish (pool);
}

static void
test_map (void)
{
  MpkPool *pool = pool_new (4, NULL, NULL, 0);
  GVariant **inputs = int_inputs (100);
  g_autoptr(GError) error = NULL;
  GPtrArray *results;

  results = mpk_pool_map (pool, sqr, inputs, 10, 0, TIMEOUT, &error);
  g_assert_no_error (error);
  assert_squares (results, 10);
  g_ptr_array_unref (results);

  results = mpk_pool_map (pool, sqr, inputs, 100, 20, TIMEOUT, &error);
  g_assert_no_error (error);
  assert_squares (results, 100);
  g_ptr_array_unref (results);

  results = mpk_pool_map (pool, sqr, inputs, 100, 1, TIMEOUT, &error);
  g_assert_no_error (error);
  assert_squares (results, 100);
  g_ptr_array_unref (results);

  /* test_empty_iterable */
  results = mpk_pool_map (pool, sqr, NULL, 0, 0, TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (results);
  g_assert_cmpuint (results->len, ==, 0);
  g_ptr_array_unref (results);

  inputs_free (inputs, 100);
  pool_finish (pool);
}

static void
test_starmap (void)
{
  MpkPool *pool = pool_new (2, NULL, NULL, 0);
  g_autoptr(GError) error = NULL;
  GVariant *inputs[10];
  GPtrArray *results;

  for (gint64 i = 0; i < 10; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new ("(xx)", i, 10 - i));
  for (gsize chunksize = 0; chunksize <= 3; chunksize += 3)
    {
      results = mpk_pool_starmap (pool, mul, inputs, 10, chunksize, TIMEOUT, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (results->len, ==, 10);
      for (gint64 i = 0; i < 10; i++)
        g_assert_cmpint (g_variant_get_int64 (g_ptr_array_index (results, i)), ==, i * (10 - i));
      g_ptr_array_unref (results);
    }
  for (guint i = 0; i < 10; i++)
    g_variant_unref (inputs[i]);

  /* An input that is not a tuple fails its task, not the pool. */
  inputs[0] = g_variant_ref_sink (g_variant_new_int64 (3));
  results = mpk_pool_starmap (pool, mul, inputs, 1, 0, TIMEOUT, &error);
  g_assert_null (results);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_variant_unref (inputs[0]);
  pool_finish (pool);
}

static void
test_map_async (void)
{
  MpkPool *pool = pool_new (4, NULL, NULL, 0);
  GVariant **inputs = int_inputs (100);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  g_autoptr(GVariant) all = NULL;

  res = mpk_pool_map_async (pool, sqr, inputs, 100, 0, &error);
  g_assert_no_error (error);
  all = mpk_pool_result_get (res, TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_true (mpk_pool_result_ready (res));
  g_assert_true (mpk_pool_result_successful (res));
  g_assert_cmpstr (g_variant_get_type_string (all), ==, "av");
  g_assert_cmpuint (g_variant_n_children (all), ==, 100);
  for (gsize i = 0; i < 100; i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (all, i);
      g_autoptr(GVariant) v = g_variant_get_variant (boxed);
      g_autoptr(GVariant) item = mpk_pool_result_get_item (res, i, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i * i));
      g_assert_true (g_variant_equal (v, item));
    }
  inputs_free (inputs, 100);
  pool_finish (pool);
}

/* test_async_timeout: get() with a timeout before the task can finish;
 * later the same result arrives. */
static void
test_async_timeout (void)
{
  g_autoptr(MpkEvent) event = mpk_event_new (NULL);
  MpkPool *pool = pool_new (2, NULL, event, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  g_autoptr(GVariant) v = NULL;

  res = mpk_pool_apply_async (pool, wait_for_event, g_variant_new_string ("late"), &error);
  g_assert_no_error (error);
  v = mpk_pool_result_get (res, 50 * 1000, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_null (v);
  g_clear_error (&error);
  g_assert_false (mpk_pool_result_ready (res));
  g_assert_false (mpk_pool_result_wait (res, MPK_NO_WAIT));
  mpk_event_set (event);
  v = mpk_pool_result_get (res, TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "late");
  g_assert_true (mpk_pool_result_successful (res));
  pool_finish (pool);
}

/* map() does not take a reference to each input it is given (the call
 * outlives its use of them), but a map that times out returns while its
 * tasks go on: those must still have their inputs when the caller has
 * dropped its own (600 tasks of one, more than the workers are sent ahead,
 * so some are still in the parent; ASan and valgrind see a use after free).
 * Floating inputs are the pool's: freed by it (the leak checkers see that). */
static void
test_map_inputs (void)
{
  g_autoptr(MpkEvent) event = mpk_event_new (NULL);
  MpkPool *pool = pool_new (2, NULL, event, 0);
  g_autoptr(GError) error = NULL;
  const gsize n = 600;
  GVariant **inputs = g_new0 (GVariant *, n);
  GVariant *floating[5];
  GPtrArray *results;

  for (gsize i = 0; i < n; i++)
    inputs[i] = g_variant_ref_sink (g_variant_new_take_string (g_strdup_printf ("in %zu", i)));
  results = mpk_pool_map (pool, wait_for_event, inputs, n, 1, 50 * 1000, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_null (results);
  g_clear_error (&error);
  inputs_free (inputs, n);
  mpk_event_set (event);

  for (gsize i = 0; i < G_N_ELEMENTS (floating); i++)
    floating[i] = g_variant_new_int64 (i);
  results = mpk_pool_map (pool, sqr, floating, G_N_ELEMENTS (floating), 0, TIMEOUT, &error);
  g_assert_no_error (error);
  assert_squares (results, G_N_ELEMENTS (floating));
  g_ptr_array_unref (results);
  pool_finish (pool);
}

/* A task's error is that task's; the others finish. */
static void
test_task_error (void)
{
  MpkPool *pool = pool_new (3, NULL, NULL, 0);
  GVariant **inputs = int_inputs (30);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  GPtrArray *results;

  results = mpk_pool_map (pool, sqr_or_fail, inputs, 30, 4, TIMEOUT, &error);
  g_assert_null (results);
  g_assert_error (error, test_error_quark (), 42);
  g_assert_cmpstr (error->message, ==, "task 7: 7 is a multiple of 7");
  g_clear_error (&error);

  res = mpk_pool_map_async (pool, sqr_or_fail, inputs, 30, 4, &error);
  g_assert_no_error (error);
  g_assert_true (mpk_pool_result_wait (res, TIMEOUT));
  g_assert_false (mpk_pool_result_successful (res));
  for (gsize i = 0; i < 30; i++)
    {
      g_autoptr(GVariant) v = mpk_pool_result_get_item (res, i, &error);

      if (i != 0 && i % 7 == 0)
        {
          g_assert_error (error, test_error_quark (), 42);
          g_assert_null (v);
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i * i));
        }
    }

  /* apply: the error comes back from get(). */
  {
    g_autoptr(GVariant) v = mpk_pool_apply (pool, sqr_or_fail, g_variant_new_int64 (14),
                                            TIMEOUT, &error);

    g_assert_null (v);
    g_assert_error (error, test_error_quark (), 42);
    g_clear_error (&error);
  }
  inputs_free (inputs, 30);
  pool_finish (pool);
}

static void
test_imap (void)
{
  MpkPool *pool = pool_new (4, NULL, NULL, 0);
  GVariant **inputs = int_inputs (100);
  g_autoptr(GError) error = NULL;

  for (gsize chunksize = 0; chunksize <= 7; chunksize += 7)
    {
      g_autoptr(MpkPoolIter) it = mpk_pool_imap (pool, sqr, inputs, 100, chunksize, &error);
      GVariant *v;
      gsize i = 0, index = G_MAXSIZE;

      g_assert_no_error (error);
      while ((v = mpk_pool_iter_next (it, TIMEOUT, &index, &error)) != NULL)
        {
          g_assert_cmpuint (index, ==, i);
          g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i * i));
          g_variant_unref (v);
          i++;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (i, ==, 100);
      /* At the end it stays at the end. */
      g_assert_null (mpk_pool_iter_next (it, MPK_NO_WAIT, NULL, &error));
      g_assert_no_error (error);
    }

  /* test_imap_handle_iterable_exception's spirit: a failing task raises
   * at its step, and the iteration goes on. */
  {
    g_autoptr(MpkPoolIter) it = mpk_pool_imap (pool, sqr_or_fail, inputs, 10, 1, &error);
    GVariant *v;

    g_assert_no_error (error);
    for (gsize i = 0; i < 10; i++)
      {
        v = mpk_pool_iter_next (it, TIMEOUT, NULL, &error);
        if (i == 7)
          {
            g_assert_null (v);
            g_assert_error (error, test_error_quark (), 42);
            g_clear_error (&error);
            continue;
          }
        g_assert_no_error (error);
        g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i * i));
        g_variant_unref (v);
      }
    g_assert_null (mpk_pool_iter_next (it, TIMEOUT, NULL, &error));
    g_assert_no_error (error);
  }
  inputs_free (inputs, 100);
  pool_finish (pool);
}

static void
test_imap_unordered (void)
{
  MpkPool *pool = pool_new (4, NULL, NULL, 0);
  GVariant **inputs = int_inputs (100);
  g_autoptr(GError) error = NULL;

  for (gsize chunksize = 0; chunksize <= 7; chunksize += 7)
    {
      g_autoptr(MpkPoolIter) it = mpk_pool_imap_unordered (pool, sqr, inputs, 100, chunksize,
                                                           &error);
      gboolean seen[100] = { FALSE };
      GVariant *v;
      gsize n = 0, index;

      g_assert_no_error (error);
      while ((v = mpk_pool_iter_next (it, TIMEOUT, &index, &error)) != NULL)
        {
          g_assert_cmpuint (index, <, 100);
          g_assert_false (seen[index]);
          seen[index] = TRUE;
          g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (index * index));
          g_variant_unref (v);
          n++;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (n, ==, 100);
    }
  inputs_free (inputs, 100);
  pool_finish (pool);
}

/* test_terminate: a long job, terminated: join returns, its tasks fail. */
static void
test_terminate (void)
{
  g_autoptr(MpkEvent) event = mpk_event_new (NULL);
  MpkPool *pool = pool_new (4, NULL, event, 0);
  GVariant **inputs = int_inputs (100);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  g_autoptr(GVariant) v = NULL;

  res = mpk_pool_map_async (pool, wait_for_event, inputs, 100, 1, &error);
  g_assert_no_error (error);
  mpk_pool_terminate (pool);
  g_assert_true (mpk_pool_join (pool, TIMEOUT, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_pool_result_ready (res));
  v = mpk_pool_result_get (res, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpint (mpk_pool_get_worker_pid (pool, i), ==, 0);
  mpk_pool_free (pool);
  inputs_free (inputs, 100);
}

/* close() refuses new tasks; join() before close() is refused (ValueError). */
static void
test_close_join (void)
{
  MpkPool *pool = pool_new (2, NULL, NULL, 0);
  GVariant **inputs = int_inputs (50);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  g_autoptr(GVariant) all = NULL;

  g_assert_false (mpk_pool_join (pool, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  res = mpk_pool_map_async (pool, sqr, inputs, 50, 1, &error);
  g_assert_no_error (error);
  mpk_pool_close (pool);
  g_assert_null (mpk_pool_apply_async (pool, sqr, inputs[0], &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  /* join runs the queued tasks to their end first. */
  g_assert_true (mpk_pool_join (pool, TIMEOUT, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_pool_result_ready (res));
  all = mpk_pool_result_get (res, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (all), ==, 50);
  mpk_pool_free (pool);
  inputs_free (inputs, 50);
}

/* A result outlives its pool: what had not finished failed with CLOSED. */
static void
test_free_with_pending (void)
{
  g_autoptr(MpkEvent) event = mpk_event_new (NULL);
  MpkPool *pool = pool_new (2, NULL, event, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  g_autoptr(MpkPoolIter) it = NULL;
  GVariant **inputs = int_inputs (5);

  res = mpk_pool_apply_async (pool, wait_for_event, inputs[0], &error);
  it = mpk_pool_imap (pool, wait_for_event, inputs, 5, 1, &error);
  g_assert_no_error (error);
  mpk_pool_free (pool);
  g_assert_true (mpk_pool_result_ready (res));
  g_assert_false (mpk_pool_result_successful (res));
  g_assert_null (mpk_pool_result_get (res, TIMEOUT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  for (guint i = 0; i < 5; i++)
    {
      g_assert_null (mpk_pool_iter_next (it, TIMEOUT, NULL, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
      g_clear_error (&error);
    }
  g_assert_null (mpk_pool_iter_next (it, TIMEOUT, NULL, &error));
  g_assert_no_error (error);
  inputs_free (inputs, 5);
}

/* _TestPoolWorkerLifetime.test_pool_worker_lifetime: with
 * maxtasksperchild the workers change, and every result is right. */
static void
test_maxtasksperchild (void)
{
  MpkPool *pool = pool_new (3, NULL, NULL, 10);
  GVariant **inputs = int_inputs (100);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  GPtrArray *results;

  results = mpk_pool_map (pool, get_pid, inputs, 100, 1, TIMEOUT, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < results->len; i++)
    g_hash_table_add (pids, GINT_TO_POINTER (g_variant_get_int32 (g_ptr_array_index (results, i))));
  g_ptr_array_unref (results);
  /* 100 chunks, at most 10 per worker: at least 10 workers ran them. */
  g_test_message ("%u workers ran 100 tasks", g_hash_table_size (pids));
  g_assert_cmpuint (g_hash_table_size (pids), >=, 10);
  /* Retirements are not failures. */
  g_assert_cmpuint (mpk_pool_get_n_replaced (pool), ==, 0);

  results = mpk_pool_map (pool, sqr, inputs, 100, 3, TIMEOUT, &error);
  g_assert_no_error (error);
  assert_squares (results, 100);
  g_ptr_array_unref (results);
  inputs_free (inputs, 100);
  pool_finish (pool);
}

static int init_value;

static void
initializer (gpointer user_data)
{
  init_value = GPOINTER_TO_INT (user_data);
}

static GVariant *
get_init_value (GVariant *x, gpointer user_data, GError **error)
{
  return g_variant_new_int32 (init_value);
}

static void
test_initializer (void)
{
  MpkPool *pool = pool_new (2, initializer, GINT_TO_POINTER (77), 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = mpk_pool_apply (pool, get_init_value, g_variant_new_int32 (0), TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 77);
  g_assert_cmpint (init_value, ==, 0);   /* it ran in the worker, not here */
  pool_finish (pool);
}

/* A worker that dies running a task fails that task only; the pool
 * replaces it and stays usable. */
static void
test_worker_death (gconstpointer data)
{
  gint64 how = GPOINTER_TO_INT (data);
  MpkPool *pool = pool_new (2, NULL, NULL, 0);
  GVariant **inputs = int_inputs (20);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkPoolResult) res = NULL;
  GPtrArray *results;

  g_variant_unref (inputs[5]);
  inputs[5] = g_variant_ref_sink (g_variant_new_int64 (how));
  res = mpk_pool_map_async (pool, die_or_sqr, inputs, 20, 3, &error);
  g_assert_no_error (error);
  g_assert_true (mpk_pool_result_wait (res, TIMEOUT));
  for (gsize i = 0; i < 20; i++)
    {
      g_autoptr(GVariant) v = mpk_pool_result_get_item (res, i, &error);

      if (i == 5)
        {
          g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED);
          g_test_message ("%s", error->message);
          g_assert_nonnull (strstr (error->message, how == -3 ? "exited (code 3)"
                                                    : how == -2 ? "signal 11" : "signal 9"));
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i * i));
        }
    }
  g_assert_cmpuint (mpk_pool_get_n_replaced (pool), ==, 1);

  /* Still usable, at full strength. */
  results = mpk_pool_map (pool, sqr, inputs, 4, 1, TIMEOUT, &error);
  g_assert_no_error (error);
  assert_squares (results, 4);
  g_ptr_array_unref (results);
  g_assert_cmpint (mpk_pool_get_worker_pid (pool, 0), >, 0);
  g_assert_cmpint (mpk_pool_get_worker_pid (pool, 1), >, 0);
  inputs_free (inputs, 20);
  pool_finish (pool);
}

/* A little work per task, so a map lasts long enough to be shot at. */
static GVariant *
slow_sqr (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);
  volatile guint64 spin = 0;

  for (guint i = 0; i < 5000; i++)
    spin += i;
  (void) spin;
  return g_variant_new_int64 (v * v);
}

/* Random SIGKILLs during a 10 000-task map: every task is accounted for,
 * as its square or as PEER_DIED, and only a killed worker's running task
 * may fail. MPK_POOL_KILL_ROUNDS sets the rounds (2 by default). */
static void
test_kill_during_map (void)
{
  const gsize n = under_valgrind () ? 1000 : 10000;
  const char *env = g_getenv ("MPK_POOL_KILL_ROUNDS");
  guint rounds = env != NULL ? (guint) atoi (env) : 2;
  GVariant **inputs = int_inputs (n);
  guint32 seed = g_test_rand_int ();

  g_test_message ("seed %u, %u rounds", seed, rounds);
  for (guint round = 0; round < rounds; round++)
    {
      GRand *rand = g_rand_new_with_seed (mix32 (seed + round));
      MpkPool *pool = pool_new (3, NULL, NULL, 0);
      g_autoptr(GHashTable) killed = g_hash_table_new (NULL, NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkPoolResult) res = NULL;
      /* Every third round, chunks large enough to travel as raw bytes. */
      gsize chunksize = round % 3 == 2 ? g_rand_int_range (rand, 520, 900)
                                       : g_rand_int_range (rand, 1, 20);
      gsize n_ok = 0, n_died = 0;
      gint64 deadline = g_get_monotonic_time () + 4 * TIMEOUT;

      res = mpk_pool_map_async (pool, slow_sqr, inputs, n, chunksize, &error);
      g_assert_no_error (error);
      while (!mpk_pool_result_wait (res, g_rand_int_range (rand, 0, 3000)))
        {
          GPid pid = mpk_pool_get_worker_pid (pool, g_rand_int_range (rand, 0, 3));

          g_assert_cmpint (g_get_monotonic_time (), <, deadline);   /* a hang detector */
          if (pid > 0 && g_hash_table_size (killed) < 30
              && !g_hash_table_contains (killed, GINT_TO_POINTER (pid)))
            {
              g_hash_table_add (killed, GINT_TO_POINTER (pid));
              kill (pid, SIGKILL);
            }
        }
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) v = mpk_pool_result_get_item (res, i, &error);

          if (v != NULL)
            {
              g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i * i));
              n_ok++;
            }
          else
            {
              g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED);
              g_clear_error (&error);
              n_died++;
            }
        }
      g_test_message ("round %u: chunksize %zu, %u kills, %zu ok, %zu failed with their worker",
                      round, chunksize, g_hash_table_size (killed), n_ok, n_died);
      g_assert_cmpuint (n_ok + n_died, ==, n);
      g_assert_cmpuint (n_died, <=, g_hash_table_size (killed));
      /* Every failure is a replaced worker; a kill that landed after the
       * last result may not have been noticed yet. */
      g_assert_cmpuint (mpk_pool_get_n_replaced (pool), >=, n_died);
      g_assert_cmpuint (mpk_pool_get_n_replaced (pool), <=, g_hash_table_size (killed));

      /* Usable afterwards. */
      {
        GPtrArray *results = mpk_pool_map (pool, sqr, inputs, 30, 2, TIMEOUT, &error);

        g_assert_no_error (error);
        assert_squares (results, 30);
        g_ptr_array_unref (results);
      }
      pool_finish (pool);
      g_rand_free (rand);
    }
  inputs_free (inputs, n);
}

/* current_process() as a worker sees it: its pid, its name, daemonic. */
static GVariant *
who_am_i (GVariant *x, gpointer user_data, GError **error)
{
  return g_variant_new ("(isbi)", mpk_current_process_get_pid (), mpk_current_process_get_name (),
                        mpk_current_process_get_daemon (), mpk_parent_process_get_pid ());
}

static void
test_current_process (void)
{
  MpkPool *pool = pool_new (1, NULL, NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  const char *name;
  gint32 pid, parent;
  gboolean daemon;

  g_assert_cmpint (mpk_current_process_get_pid (), ==, getpid ());
  v = mpk_pool_apply (pool, who_am_i, g_variant_new_int32 (0), TIMEOUT, &error);
  g_assert_no_error (error);
  g_variant_get (v, "(i&sbi)", &pid, &name, &daemon, &parent);
  g_assert_cmpint (pid, ==, mpk_pool_get_worker_pid (pool, 0));
  g_assert_cmpstr (name, ==, "ForkPoolWorker-1");
  g_assert_true (daemon);
  g_assert_cmpint (parent, ==, getpid ());
  pool_finish (pool);
}

/* An int32 (a fixed type of 4 bytes) three times the input; fails for
 * multiples of 7 (not 0). */
static GVariant *
triple32_or_fail (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  if (v != 0 && v % 7 == 0)
    {
      g_set_error (error, test_error_quark (), 7, "%" G_GINT64_FORMAT " is a multiple of 7", v);
      return NULL;
    }
  return g_variant_new_int32 ((gint32) (3 * v));
}

/* An int64 for an even input, a string for an odd one. */
static GVariant *
int_or_string (GVariant *x, gpointer user_data, GError **error)
{
  gint64 v = g_variant_get_int64 (x);

  if (v % 2 == 0)
    return g_variant_new_int64 (v * v);
  return g_variant_new_take_string (g_strdup_printf ("odd %" G_GINT64_FORMAT, v));
}

/* The string's length, with the string: a result of a variable size. */
static GVariant *
describe (GVariant *x, gpointer user_data, GError **error)
{
  const char *s = g_variant_get_string (x, NULL);

  if (g_str_has_prefix (s, "fail"))
    {
      g_set_error (error, test_error_quark (), 3, "asked to fail: %s", s);
      return NULL;
    }
  return g_variant_new ("(us)", (guint32) strlen (s), s);
}

/* Results packed per chunk: values of a fixed size that is not 8 next to
 * failed tasks (which pack as nothing), a chunk of two result types, and
 * chunks large enough to travel as raw bytes (strings, so not one array),
 * each with failures in it. Every item is checked by position. */
static void
test_packing (void)
{
  g_autoptr(MpkPool) pool = pool_new (2, NULL, NULL, 0);
  g_autoptr(GError) error = NULL;
  const gsize n = 3000;
  GVariant **inputs = int_inputs (n);
  GVariant **strings = g_new0 (GVariant *, n);
  const gsize chunks[] = { 1, 5, 64, 1000 };

  for (gsize i = 0; i < n; i++)
    strings[i] = g_variant_ref_sink (g_variant_new_take_string (
      i % 97 == 5 ? g_strdup_printf ("fail %zu", i)
                  : g_strnfill (i % 23, (char) ('a' + i % 26))));
  for (guint c = 0; c < G_N_ELEMENTS (chunks); c++)
    {
      g_autoptr(MpkPoolResult) fixed = NULL;
      g_autoptr(MpkPoolResult) mixed = NULL;
      g_autoptr(MpkPoolResult) varying = NULL;

      fixed = mpk_pool_map_async (pool, triple32_or_fail, inputs, n, chunks[c], &error);
      g_assert_no_error (error);
      mixed = mpk_pool_map_async (pool, int_or_string, inputs, n, chunks[c], &error);
      g_assert_no_error (error);
      varying = mpk_pool_map_async (pool, describe, strings, n, chunks[c], &error);
      g_assert_no_error (error);
      g_assert_true (mpk_pool_result_wait (fixed, TIMEOUT));
      g_assert_true (mpk_pool_result_wait (mixed, TIMEOUT));
      g_assert_true (mpk_pool_result_wait (varying, TIMEOUT));
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) f = mpk_pool_result_get_item (fixed, i, &error);
          g_autoptr(GVariant) m = NULL;
          g_autoptr(GVariant) v = NULL;

          if (i != 0 && i % 7 == 0)
            {
              g_assert_error (error, test_error_quark (), 7);
              g_assert_null (f);
              g_clear_error (&error);
            }
          else
            {
              g_assert_no_error (error);
              g_assert_true (g_variant_is_of_type (f, G_VARIANT_TYPE_INT32));
              g_assert_cmpint (g_variant_get_int32 (f), ==, 3 * (gint32) i);
            }
          m = mpk_pool_result_get_item (mixed, i, &error);
          g_assert_no_error (error);
          if (i % 2 == 0)
            g_assert_cmpint (g_variant_get_int64 (m), ==, (gint64) (i * i));
          else
            {
              g_autofree char *want = g_strdup_printf ("odd %zu", i);

              g_assert_cmpstr (g_variant_get_string (m, NULL), ==, want);
            }
          v = mpk_pool_result_get_item (varying, i, &error);
          if (i % 97 == 5)
            {
              g_assert_error (error, test_error_quark (), 3);
              g_clear_error (&error);
            }
          else
            {
              const char *got;
              guint32 len;

              g_assert_no_error (error);
              g_variant_get (v, "(u&s)", &len, &got);
              g_assert_cmpuint (len, ==, i % 23);
              g_assert_cmpstr (got, ==, g_variant_get_string (strings[i], NULL));
            }
        }
    }
  inputs_free (inputs, n);
  inputs_free (strings, n);
  mpk_pool_close (pool);
  g_assert_true (mpk_pool_join (pool, TIMEOUT, &error));
  g_assert_no_error (error);
}

static void
test_cpu_count (void)
{
  g_assert_cmpuint (mpk_cpu_count (), >=, 1);
  g_test_message ("cpu count %u", mpk_cpu_count ());
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  mpk_test_add_func ("/pool/apply", test_apply);
  mpk_test_add_func ("/pool/map", test_map);
  mpk_test_add_func ("/pool/starmap", test_starmap);
  mpk_test_add_func ("/pool/map-async", test_map_async);
  mpk_test_add_func ("/pool/async-timeout", test_async_timeout);
  mpk_test_add_func ("/pool/map-inputs", test_map_inputs);
  mpk_test_add_func ("/pool/task-error", test_task_error);
  mpk_test_add_func ("/pool/imap", test_imap);
  mpk_test_add_func ("/pool/imap-unordered", test_imap_unordered);
  mpk_test_add_func ("/pool/terminate", test_terminate);
  mpk_test_add_func ("/pool/close-join", test_close_join);
  mpk_test_add_func ("/pool/free-with-pending", test_free_with_pending);
  mpk_test_add_func ("/pool/maxtasksperchild", test_maxtasksperchild);
  mpk_test_add_func ("/pool/initializer", test_initializer);
  mpk_test_add_func ("/pool/packing", test_packing);
  mpk_test_add_data_func ("/pool/worker-death/sigkill", GINT_TO_POINTER (-1), test_worker_death);
  mpk_test_add_data_func ("/pool/worker-death/sigsegv", GINT_TO_POINTER (-2), test_worker_death);
  mpk_test_add_data_func ("/pool/worker-death/exit", GINT_TO_POINTER (-3), test_worker_death);
  mpk_test_add_func ("/pool/kill-during-map", test_kill_during_map);
  mpk_test_add_func ("/pool/cpu-count", test_cpu_count);
  mpk_test_add_func ("/pool/current-process", test_current_process);
  return g_test_run ();
}
