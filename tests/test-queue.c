/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-queue.c: Queue, JoinableQueue and SimpleQueue (multiprocessing.queues),
 * ported from CPython's _TestQueue and TestSimpleQueue, plus what Python cannot
 * promise: errors from put() itself, no false empty() after put, items of any
 * size (G5), joining a producer before draining (G6), and join() that notices
 * a consumer which died holding a task. G5 and G6 are gaps in CPython's tests
 * named in section 2 of ../shared/research/anchor-multiprocessing.md. */

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include "test-util.h"

#define T1_US    (100 * 1000)
#define T2_US    (200 * 1000)
/* A call with timeout T fails after [T - EARLY_US, T + LATE_US]; a call that
 * must not block returns within QUICK_US. */
#define EARLY_US (10 * 1000)
#define LATE_US  (200 * 1000)
#define QUICK_US (50 * 1000)

#define KiB ((gsize) 1 << 10)
#define MiB ((gsize) 1 << 20)

#define N_PRODUCERS 2
#define N_CONSUMERS 2
#define N_WORKERS   4
#define SENTINEL    G_MAXUINT64

/* Every blocking call in a child, and every join in the parent, is bounded by
 * this: a broken library fails a test instead of hanging it. */
#define CHILD_TIMEOUT_US MPK_TEST_CHILD_TIMEOUT_US

/* The same for a call returning a pointer (get, get_bytes) that must be NULL. */
#define ASSERT_NULL_IN(call, error_var, code, ...) \
  ASSERT_FAILS_IN ((call) != NULL, error_var, code, __VA_ARGS__)

/* Timeouts of a failing put/get and the window they must fail in. */
#define QUICK_WINDOW  0, QUICK_US
#define T1_WINDOW     T1_US - EARLY_US, T1_US + LATE_US
#define T2_WINDOW     T2_US - EARLY_US, T2_US + LATE_US

/* --- process helpers --------------------------------------------------------- */

/* --- queue helpers ------------------------------------------------------------ */

static MpkQueue *
new_queue (gint64   maxsize,
           gboolean joinable)
{
  g_autoptr(GError) error = NULL;
  MpkQueue *queue = joinable ? mpk_joinable_queue_new (maxsize, &error)
                             : mpk_queue_new (maxsize, &error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}

static MpkSimpleQueue *
new_simple_queue (void)
{
  g_autoptr(GError) error = NULL;
  MpkSimpleQueue *queue = mpk_simple_queue_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}

static void
put_int (MpkQueue *queue,
         gint32    value)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = mpk_queue_put (queue, g_variant_new_int32 (value), MPK_NO_WAIT, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

/* Gets an "i" item and returns its value. */
static gint32
get_int (MpkQueue *queue,
         gint64    timeout_us)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mpk_queue_get (queue, timeout_us, &error);

  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "i");
  return g_variant_get_int32 (v);
}

#define ASSERT_GET_INT(queue, timeout, expected) \
  G_STMT_START \
    { \
      gint32 got_value = get_int ((queue), (timeout)); \
      gint32 expected_value = (expected); \
      g_assert_cmpint (got_value, ==, expected_value); \
    } \
  G_STMT_END

static void
task_done_ok (MpkQueue *queue)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = mpk_queue_task_done (queue, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

/* A pattern in which every 8-byte word differs (so a lost, repeated or swapped
 * piece of a streamed item shows), and which depends on @len. */
static guint64
pattern_word (gsize word,
              gsize len)
{
  return ((guint64) word + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15) ^ (guint64) len;
}

static guint8 *
make_pattern (gsize len)
{
  guint8 *buf = g_malloc (MAX (len, 1));
  gsize i;

  for (i = 0; i + 8 <= len; i += 8)
    {
      guint64 w = pattern_word (i / 8, len);
      memcpy (buf + i, &w, 8);
    }
  if (i < len)
    {
      guint64 w = pattern_word (i / 8, len);
      memcpy (buf + i, &w, len - i);
    }
  return buf;
}

/* Returns the offset of the first byte of @data that differs from the pattern
 * of @len bytes, or @len if none does. */
static gsize
pattern_mismatch (const guint8 *data,
                  gsize         len)
{
  gsize i;

  for (i = 0; i + 8 <= len; i += 8)
    {
      guint64 w = pattern_word (i / 8, len);
      if (memcmp (data + i, &w, 8) != 0)
        break;
    }
  for (; i < len; i++)
    {
      guint64 w = pattern_word (i / 8, len);
      if (data[i] != ((const guint8 *) &w)[i % 8])
        return i;
    }
  return len;
}

static void
assert_pattern_bytes (GBytes *bytes,
                      gsize   expected_size)
{
  gsize got_size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &got_size);
  gsize first_mismatch;

  g_assert_cmpuint (got_size, ==, expected_size);
  first_mismatch = pattern_mismatch (data, got_size);
  g_assert_cmpuint (first_mismatch, ==, expected_size);
}

/* A tuple of 300 int32: its type string is 302 characters, over the 255 limit. */
static GVariant *
long_type_item (void)
{
  GVariant *children[300];
  GVariant *tuple;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (children); i++)
    children[i] = g_variant_new_int32 (i);
  tuple = g_variant_new_tuple (children, G_N_ELEMENTS (children));
  g_assert_cmpuint (strlen (g_variant_get_type_string (tuple)), >, 255);
  return tuple;
}

/* --- child bodies ------------------------------------------------------------- */

typedef struct
{
  MpkTestChannel  channel;
  MpkQueue       *queue;
  MpkSimpleQueue *simple;
  gint32          from, to;     /* put_range_child puts from..to-1; get children expect them */
  gint64          maxsize;
} QueueArgs;

static int
put_range_child (gpointer data)
{
  QueueArgs *args = data;
  gint32 i;

  child_guard ();
  for (i = args->from; i < args->to; i++)
    MPK_CHILD_CHECK (mpk_queue_put (args->queue, g_variant_new_int32 (i),
                                    CHILD_TIMEOUT_US, NULL));
  return 0;
}

/* Gets from..to-1 in order (waiting for each). */
static int
get_range_child (gpointer data)
{
  QueueArgs *args = data;
  gint32 i;

  child_guard ();
  for (i = args->from; i < args->to; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mpk_queue_get (args->queue, CHILD_TIMEOUT_US, &error);

      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32));
      MPK_CHILD_CHECK (g_variant_get_int32 (v) == i);
    }
  return 0;
}

/* Sees qsize() == to - from, then takes them all. */
static int
qsize_child (gpointer data)
{
  QueueArgs *args = data;

  child_guard ();
  MPK_CHILD_CHECK (mpk_queue_qsize (args->queue) == args->to - args->from);
  MPK_CHILD_CHECK (!mpk_queue_empty (args->queue));
  if (get_range_child (data) != 0)
    return 1;
  MPK_CHILD_CHECK (mpk_queue_qsize (args->queue) == 0);
  MPK_CHILD_CHECK (mpk_queue_empty (args->queue));
  return 0;
}

/* Puts 0..to-1; after each put says "put" and waits for the parent's "got". */
static int
ping_put_child (gpointer data)
{
  QueueArgs *args = data;
  gint32 i;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  for (i = 0; i < args->to; i++)
    {
      MPK_CHILD_CHECK (mpk_queue_put (args->queue, g_variant_new_int32 (i),
                                      CHILD_TIMEOUT_US, NULL));
      MPK_CHILD_CHECK (child_say (&args->channel, "put"));
      MPK_CHILD_CHECK (child_wait (&args->channel));
    }
  return 0;
}

/* Closes its own copy of the queue: put/get fail CLOSED here, not in the parent. */
static int
close_child (gpointer data)
{
  QueueArgs *args = data;
  GError *error = NULL;
  GVariant *v;

  child_guard ();
  mpk_queue_close (args->queue);
  MPK_CHILD_CHECK (mpk_queue_is_closed (args->queue));
  MPK_CHILD_CHECK (!mpk_queue_put (args->queue, g_variant_new_int32 (1), MPK_NO_WAIT, &error));
  MPK_CHILD_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSED));
  g_clear_error (&error);
  v = mpk_queue_get (args->queue, MPK_NO_WAIT, &error);
  MPK_CHILD_CHECK (v == NULL);
  MPK_CHILD_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSED));
  g_clear_error (&error);
  return 0;
}

/* CPython's TestSimpleQueue._test_empty: puts empty() twice. */
static int
simple_empty_child (gpointer data)
{
  QueueArgs *args = data;

  child_guard ();
  MPK_CHILD_CHECK (mpk_simple_queue_put (args->simple,
                                         g_variant_new_boolean (mpk_simple_queue_empty (args->simple)),
                                         CHILD_TIMEOUT_US, NULL));
  MPK_CHILD_CHECK (mpk_simple_queue_put (args->simple,
                                         g_variant_new_boolean (mpk_simple_queue_empty (args->simple)),
                                         CHILD_TIMEOUT_US, NULL));
  return 0;
}

/* A JoinableQueue worker (CPython's _test_task_done): get, task_done, until -1. */
static int
worker_child (gpointer data)
{
  QueueArgs *args = data;

  child_guard ();
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mpk_queue_get (args->queue, CHILD_TIMEOUT_US, &error);
      gint32 value;

      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32));
      value = g_variant_get_int32 (v);
      MPK_CHILD_CHECK (mpk_queue_task_done (args->queue, &error));
      MPK_CHILD_NO_ERROR (error);
      if (value < 0)
        return 0;
    }
}

/* Takes one item, says "got", then waits (to be killed, or until told to go). */
static int
take_and_hold_child (gpointer data)
{
  QueueArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  v = mpk_queue_get (args->queue, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (v != NULL);
  MPK_CHILD_CHECK (mpk_queue_get_unfinished_for (args->queue, getpid ()) == 1);
  MPK_CHILD_CHECK (child_say (&args->channel, "got"));
  child_wait (&args->channel);
  return 0;
}

/* Takes one item and finishes it. */
static int
take_and_finish_child (gpointer data)
{
  QueueArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  child_guard ();
  v = mpk_queue_get (args->queue, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_queue_task_done (args->queue, &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_queue_get_unfinished_for (args->queue, getpid ()) == 0);
  return 0;
}

/* --- Queue: CPython's _TestQueue ---------------------------------------------- */

static void
test_put_forms (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkQueue *queue;
  gboolean ok;

  g_test_summary ("CPython test_put: Queue(6) filled by six put forms is full; no-wait "
                  "puts then fail FULL in ~0 s, puts with 0.1 s and 0.2 s after ~that; "
                  "after a child took the six, it is empty");
  queue = args.queue = new_queue (6, FALSE);
  g_assert_true (mpk_queue_empty (queue));
  g_assert_false (mpk_queue_full (queue));

  ok = mpk_queue_put (queue, g_variant_new_int32 (0), MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_put (queue, g_variant_new_int32 (1), MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_put_nowait (queue, g_variant_new_int32 (2), &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_put (queue, g_variant_new_int32 (3), G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_put (queue, g_variant_new_int32 (4), -5, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_put (queue, g_variant_new_int32 (5), T1_US, &error);
  g_assert_no_error (error);
  g_assert_true (ok);

  g_assert_false (mpk_queue_empty (queue));
  g_assert_true (mpk_queue_full (queue));
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 6);

  ASSERT_FAILS_IN (mpk_queue_put (queue, g_variant_new_int32 (7), MPK_NO_WAIT, &error),
                   error, MPK_ERROR_FULL, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put (queue, g_variant_new_int32 (7), -5, &error),
                   error, MPK_ERROR_FULL, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put_nowait (queue, g_variant_new_int32 (7), &error),
                   error, MPK_ERROR_FULL, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put_bytes (queue, "x", 1, MPK_NO_WAIT, &error),
                   error, MPK_ERROR_FULL, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put (queue, g_variant_new_int32 (7), T1_US, &error),
                   error, MPK_ERROR_FULL, T1_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put (queue, g_variant_new_int32 (7), T2_US, &error),
                   error, MPK_ERROR_FULL, T2_WINDOW);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 6);

  args.from = 0;
  args.to = 6;
  join_child (mpk_test_start (get_range_child, &args), 0);
  g_assert_true (mpk_queue_empty (queue));
  g_assert_false (mpk_queue_full (queue));
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (queue), ==, 0);
  mpk_queue_free (queue);
}

static void
test_get_forms (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkQueue *queue;

  g_test_summary ("CPython test_get: a child puts 1..5 and exits; five get forms return "
                  "them in order; then no-wait gets fail EMPTY in ~0 s, gets with 0.1 s "
                  "and 0.2 s after ~that");
  queue = args.queue = new_queue (0, FALSE);
  args.from = 1;
  args.to = 6;
  join_child (mpk_test_start (put_range_child, &args), 0);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 5);

  ASSERT_GET_INT (queue, -5, 1);             /* no-wait forms still get a ready item */
  ASSERT_GET_INT (queue, MPK_WAIT_FOREVER, 2);
  ASSERT_GET_INT (queue, G_USEC_PER_SEC, 3);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 4);
  {
    g_autoptr(GVariant) v = mpk_queue_get_nowait (queue, &error);
    g_assert_no_error (error);
    g_assert_nonnull (v);
    g_assert_cmpint (g_variant_get_int32 (v), ==, 5);
  }
  g_assert_true (mpk_queue_empty (queue));
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);

  ASSERT_NULL_IN (mpk_queue_get (queue, MPK_NO_WAIT, &error), error, MPK_ERROR_EMPTY,
                  QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get (queue, -5, &error), error, MPK_ERROR_EMPTY, QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get_nowait (queue, &error), error, MPK_ERROR_EMPTY, QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error), error, MPK_ERROR_EMPTY,
                  QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get (queue, T1_US, &error), error, MPK_ERROR_EMPTY, T1_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get (queue, T2_US, &error), error, MPK_ERROR_EMPTY, T2_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get_bytes (queue, T1_US, &error), error, MPK_ERROR_EMPTY,
                  T1_WINDOW);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  mpk_queue_free (queue);
}

static void
test_fork_order (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkQueue *queue;
  gint32 i;

  g_test_summary ("CPython test_fork: the parent puts 0..9, then a child puts 10..19; "
                  "the parent gets 0..19 in order, then EMPTY");
  queue = args.queue = new_queue (0, FALSE);
  for (i = 0; i < 10; i++)
    put_int (queue, i);
  args.from = 10;
  args.to = 20;
  join_child (mpk_test_start (put_range_child, &args), 0);
  for (i = 0; i < 20; i++)
    ASSERT_GET_INT (queue, MPK_NO_WAIT, i);
  ASSERT_NULL_IN (mpk_queue_get (queue, MPK_NO_WAIT, &error), error, MPK_ERROR_EMPTY,
                  QUICK_WINDOW);
  mpk_queue_free (queue);
}

static void
test_qsize (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);

  g_test_summary ("CPython test_qsize: 0, put, 1, put, 2, get, 1, get, 0");
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  put_int (queue, 5);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  put_int (queue, 6);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 2);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 5);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 6);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
}

static void
test_qsize_two_processes (void)
{
  QueueArgs args = { 0 };
  MpkQueue *queue;

  g_test_summary ("qsize() is exact across processes: a child's five puts count in the "
                  "parent (full at maxsize 5), the parent's gets count in a second child");
  queue = args.queue = new_queue (5, FALSE);
  args.from = 0;
  args.to = 5;
  join_child (mpk_test_start (put_range_child, &args), 0);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 5);
  g_assert_true (mpk_queue_full (queue));
  g_assert_false (mpk_queue_empty (queue));
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 0);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 1);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 3);
  g_assert_false (mpk_queue_full (queue));
  args.from = 2;
  join_child (mpk_test_start (qsize_child, &args), 0);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  g_assert_true (mpk_queue_empty (queue));
  mpk_queue_free (queue);
}

static void
test_no_false_empty (gconstpointer data)
{
  QueueArgs args = { 0 };
  MpkProcess *child;
  MpkQueue *queue;
  gint32 i;

  g_test_summary ("Right after a child's put() returned, the parent sees empty() FALSE, "
                  "qsize() 1 (and full() TRUE at maxsize 1) and gets the item without "
                  "waiting: no false \"empty\" as in Python");
  args.maxsize = GPOINTER_TO_INT (data);
  queue = args.queue = new_queue (args.maxsize, FALSE);
  args.to = under_valgrind () ? 20 : 200;
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (ping_put_child, &args);
  mpk_connection_close (args.channel.child);
  for (i = 0; i < args.to; i++)
    {
      parent_expect (&args.channel, "put");
      g_assert_false (mpk_queue_empty (queue));
      g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
      g_assert_cmpint (mpk_queue_full (queue), ==, args.maxsize == 1);
      ASSERT_GET_INT (queue, MPK_NO_WAIT, i);
      g_assert_true (mpk_queue_empty (queue));
      g_assert_false (mpk_queue_full (queue));
      parent_say (&args.channel, "got");
    }
  join_child (child, 0);
  mpk_test_channel_clear (&args.channel);
  mpk_queue_free (queue);
}

static void
test_get_timeout (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  gint64 start;

  g_test_summary ("CPython test_timeout: get(0.2 s) on an empty queue fails EMPTY after "
                  "at least 0.1 s (here: ~0.2 s)");
  start = g_get_monotonic_time ();
  v = mpk_queue_get (queue, T2_US, &error);
  ASSERT_DURATION (g_get_monotonic_time () - start, T1_US, T2_US + LATE_US);
  g_assert_null (v);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
}

static void
test_unserializable (gconstpointer data)
{
  gint64 maxsize = GPOINTER_TO_INT (data);
  g_autoptr(MpkQueue) queue = new_queue (maxsize, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  gboolean ok;

  g_test_summary ("CPython test_queue_feeder_donot_stop_onexc, adapted: an item that "
                  "cannot be sent (type string over 255 chars) fails in put() with "
                  "MPK_ERROR_INVALID, takes no slot, and the queue keeps working");
  ASSERT_FAILS_IN (mpk_queue_put (queue, long_type_item (), MPK_WAIT_FOREVER, &error),
                   error, MPK_ERROR_INVALID, QUICK_WINDOW);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  g_assert_true (mpk_queue_empty (queue));
  ok = mpk_queue_put (queue, g_variant_new_boolean (TRUE), MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  g_assert_cmpint (mpk_queue_full (queue), ==, maxsize == 1);
  v = mpk_queue_get (queue, T1_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "b");
  g_assert_true (g_variant_get_boolean (v));
  g_assert_true (mpk_queue_empty (queue));
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
}

static void
test_too_big (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint8 *big = make_pattern (64 * KiB);
  gboolean ok;

  g_test_summary ("Over the queue's max message size put_bytes() and put() fail "
                  "MPK_ERROR_TOO_BIG at once; the queue keeps working");
  mpk_queue_set_max_message_size (queue, 4 * KiB);
  ASSERT_FAILS_IN (mpk_queue_put_bytes (queue, big, 64 * KiB, MPK_WAIT_FOREVER, &error),
                   error, MPK_ERROR_TOO_BIG, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put (queue, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, big,
                                                                    64 * KiB, 1),
                                  MPK_WAIT_FOREVER, &error),
                   error, MPK_ERROR_TOO_BIG, QUICK_WINDOW);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  ok = mpk_queue_put_bytes (queue, big, 16, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  bytes = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), big, 16);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
}

/* --- close ----------------------------------------------------------------------- */

static void
test_close_put_get (void)
{
  g_autoptr(GError) error = NULL;
  MpkQueue *queue;

  g_test_summary ("CPython test_closed_queue_put_get_exceptions: after close() every "
                  "put and get form fails MPK_ERROR_CLOSED at once; close() twice is fine");
  queue = new_queue (0, FALSE);
  put_int (queue, 1);
  g_assert_false (mpk_queue_is_closed (queue));
  mpk_queue_close (queue);
  g_assert_true (mpk_queue_is_closed (queue));
  mpk_queue_close (queue);
  g_assert_true (mpk_queue_is_closed (queue));
  ASSERT_FAILS_IN (mpk_queue_put (queue, g_variant_new_int32 (2), MPK_WAIT_FOREVER, &error),
                   error, MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put_nowait (queue, g_variant_new_int32 (2), &error),
                   error, MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_put_bytes (queue, "x", 1, T1_US, &error),
                   error, MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get (queue, MPK_WAIT_FOREVER, &error), error, MPK_ERROR_CLOSED,
                  QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get_nowait (queue, &error), error, MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_queue_get_bytes (queue, T1_US, &error), error, MPK_ERROR_CLOSED,
                  QUICK_WINDOW);
  mpk_queue_free (queue);
}

static void
test_close_per_process (void)
{
  QueueArgs args = { 0 };
  MpkQueue *queue;

  g_test_summary ("close() in a child closes the child's handle only: the parent's "
                  "queue keeps its item and keeps working");
  queue = args.queue = new_queue (0, FALSE);
  put_int (queue, 7);
  join_child (mpk_test_start (close_child, &args), 0);
  g_assert_false (mpk_queue_is_closed (queue));
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  put_int (queue, 8);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 7);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 8);
  mpk_queue_free (queue);
}

typedef enum { CALL_QSIZE, CALL_EMPTY, CALL_FULL, CALL_SIMPLE_EMPTY,
               CALL_TASK_DONE, CALL_JOIN } CriticalCall;

typedef struct
{
  CriticalCall call;
  gboolean     used;      /* put and get an item before close */
  gboolean     close;     /* FALSE: the call is wrong for another reason */
  const char  *stderr_pattern;   /* on a closed queue: the reason, not the function
                                  * (empty() and full() may check through qsize()) */
} CriticalCase;

static const CriticalCase closed_qsize        = { CALL_QSIZE, TRUE, TRUE, "*CRITICAL*closed*" };
static const CriticalCase closed_empty_unused = { CALL_EMPTY, FALSE, TRUE, "*CRITICAL*closed*" };
static const CriticalCase closed_empty_used   = { CALL_EMPTY, TRUE, TRUE, "*CRITICAL*closed*" };
static const CriticalCase closed_full         = { CALL_FULL, FALSE, TRUE, "*CRITICAL*closed*" };
static const CriticalCase closed_simple_unused = { CALL_SIMPLE_EMPTY, FALSE, TRUE,
                                                   "*CRITICAL*closed*" };
static const CriticalCase closed_simple_used  = { CALL_SIMPLE_EMPTY, TRUE, TRUE,
                                                  "*CRITICAL*closed*" };
static const CriticalCase plain_join          = { CALL_JOIN, FALSE, FALSE,
                                                  "*CRITICAL*mpk_queue_join*" };

static void
test_critical (gconstpointer data)
{
  const CriticalCase *c = data;

  if (!g_test_subprocess ())
    {
      g_test_summary ("CPython test_closed_queue_empty_exceptions / TestSimpleQueue."
                      "test_empty_exceptions: qsize/empty/full on a closed queue (used or "
                      "not) are caller errors (criticals), as is join on a queue that is "
                      "not joinable");
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_failed ();
      g_test_trap_assert_stderr (c->stderr_pattern);
      return;
    }

  if (c->call == CALL_SIMPLE_EMPTY)
    {
      MpkSimpleQueue *simple = new_simple_queue ();

      if (c->used)
        {
          g_assert_true (mpk_simple_queue_put (simple, g_variant_new_string ("foo"),
                                               MPK_NO_WAIT, NULL));
        }
      mpk_simple_queue_close (simple);
      mpk_simple_queue_empty (simple);
      return;
    }
  else
    {
      MpkQueue *queue = new_queue (4, FALSE);

      if (c->used)
        put_int (queue, 1);
      if (c->close)
        mpk_queue_close (queue);
      switch (c->call)
        {
        case CALL_QSIZE: mpk_queue_qsize (queue); break;
        case CALL_EMPTY: mpk_queue_empty (queue); break;
        case CALL_FULL:  mpk_queue_full (queue); break;
        case CALL_TASK_DONE: mpk_queue_task_done (queue, NULL); break;
        case CALL_JOIN:  mpk_queue_join (queue, MPK_NO_WAIT, NULL); break;
        case CALL_SIMPLE_EMPTY: g_assert_not_reached ();
        }
    }
}

/* --- SimpleQueue ------------------------------------------------------------------ */

static void
test_simple_basic (void)
{
  g_autoptr(MpkSimpleQueue) queue = new_simple_queue ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gboolean ok;

  g_test_summary ("SimpleQueue: FIFO of variants and bytes; EMPTY in ~0 s / after ~T; "
                  "get_bytes on a variant item is MPK_ERROR_INVALID and the item stays; "
                  "a bytes item comes back from get() as \"ay\"");
  g_assert_true (mpk_simple_queue_empty (queue));
  ASSERT_NULL_IN (mpk_simple_queue_get (queue, MPK_NO_WAIT, &error), error, MPK_ERROR_EMPTY,
                  QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_simple_queue_get_bytes (queue, -5, &error), error, MPK_ERROR_EMPTY,
                  QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_simple_queue_get (queue, T1_US, &error), error, MPK_ERROR_EMPTY,
                  T1_WINDOW);

  ok = mpk_simple_queue_put (queue, g_variant_new_string ("one"), MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_simple_queue_put_bytes (queue, "two", 3, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_simple_queue_put_bytes (queue, "three", 5, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_false (mpk_simple_queue_empty (queue));

  bytes = mpk_simple_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (bytes);
  g_clear_error (&error);
  v = mpk_simple_queue_get (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "s");
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "one");

  again = mpk_simple_queue_get (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_assert_cmpstr (g_variant_get_type_string (again), ==, "ay");
  {
    gsize n;
    gconstpointer p = g_variant_get_fixed_array (again, &n, 1);
    g_assert_cmpmem (p, n, "two", 3);
  }
  bytes = mpk_simple_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "three", 5);
  g_assert_true (mpk_simple_queue_empty (queue));
}

static void
test_simple_empty_child (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;

  g_test_summary ("CPython TestSimpleQueue.test_empty: a child puts empty() twice; the "
                  "parent reads TRUE then FALSE; close() twice is fine and then put/get "
                  "fail MPK_ERROR_CLOSED");
  args.simple = new_simple_queue ();
  g_assert_true (mpk_simple_queue_empty (args.simple));
  join_child (mpk_test_start (simple_empty_child, &args), 0);
  g_assert_false (mpk_simple_queue_empty (args.simple));
  first = mpk_simple_queue_get (args.simple, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  second = mpk_simple_queue_get (args.simple, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);
  g_assert_cmpstr (g_variant_get_type_string (first), ==, "b");
  g_assert_cmpstr (g_variant_get_type_string (second), ==, "b");
  g_assert_true (g_variant_get_boolean (first));
  g_assert_false (g_variant_get_boolean (second));
  g_assert_true (mpk_simple_queue_empty (args.simple));

  mpk_simple_queue_close (args.simple);
  mpk_simple_queue_close (args.simple);
  ASSERT_FAILS_IN (mpk_simple_queue_put (args.simple, g_variant_new_int32 (1),
                                         MPK_NO_WAIT, &error),
                   error, MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_simple_queue_put_bytes (args.simple, "x", 1, MPK_NO_WAIT, &error),
                   error, MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_simple_queue_get (args.simple, MPK_WAIT_FOREVER, &error), error,
                  MPK_ERROR_CLOSED, QUICK_WINDOW);
  ASSERT_NULL_IN (mpk_simple_queue_get_bytes (args.simple, T1_US, &error), error,
                  MPK_ERROR_CLOSED, QUICK_WINDOW);
  mpk_simple_queue_free (args.simple);
}

/* --- many producers and consumers --------------------------------------------------- */

typedef struct
{
  guint64 count[N_PRODUCERS];
  guint64 sum;
  guint64 xor;
  guint64 sentinels;
} ConsumerReport;

typedef struct
{
  MpkQueue       *queue;
  guint64         n_items;     /* per producer */
  gboolean        bytes;       /* put_bytes/get_bytes, else "t" variants */
  guint           index;       /* this producer's or consumer's number */
  ConsumerReport *reports;     /* shared, one per consumer */
} ManyArgs;

/* Producer p sends (p + 1) << 40 | seq, seq = 0..n-1. */
static guint64
item_value (guint   producer,
            guint64 seq)
{
  return ((guint64) (producer + 1) << 40) | seq;
}

static gboolean
put_value (MpkQueue *queue,
           gboolean  bytes,
           guint64   value,
           GError  **error)
{
  if (bytes)
    return mpk_queue_put_bytes (queue, &value, sizeof value, CHILD_TIMEOUT_US, error);
  return mpk_queue_put (queue, g_variant_new_uint64 (value), CHILD_TIMEOUT_US, error);
}

static int
producer_child (gpointer data)
{
  ManyArgs *args = data;
  guint64 seq;

  child_guard ();
  for (seq = 0; seq < args->n_items; seq++)
    {
      GError *error = NULL;

      put_value (args->queue, args->bytes, item_value (args->index, seq), &error);
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

/* Takes items until a SENTINEL; checks that each producer's items come in
 * increasing order, and reports count per producer, sum and xor. */
static int
consumer_child (gpointer data)
{
  ManyArgs *args = data;
  ConsumerReport *report = &args->reports[args->index];
  gint64 last[N_PRODUCERS];
  guint p;

  child_guard ();
  for (p = 0; p < N_PRODUCERS; p++)
    last[p] = -1;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      guint64 value, seq;

      if (args->bytes)
        {
          g_autoptr(GBytes) b = mpk_queue_get_bytes (args->queue, CHILD_TIMEOUT_US, &error);

          MPK_CHILD_NO_ERROR (error);
          MPK_CHILD_CHECK (g_bytes_get_size (b) == sizeof value);
          memcpy (&value, g_bytes_get_data (b, NULL), sizeof value);
        }
      else
        {
          g_autoptr(GVariant) v = mpk_queue_get (args->queue, CHILD_TIMEOUT_US, &error);

          MPK_CHILD_NO_ERROR (error);
          MPK_CHILD_CHECK (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64));
          value = g_variant_get_uint64 (v);
        }
      if (value == SENTINEL)
        {
          report->sentinels++;
          return 0;
        }
      p = (guint) (value >> 40) - 1;
      seq = value & ((G_GUINT64_CONSTANT (1) << 40) - 1);
      MPK_CHILD_CHECK (p < N_PRODUCERS);
      MPK_CHILD_CHECK (seq < args->n_items);
      if ((gint64) seq <= last[p])
        {
          g_printerr ("consumer %u: producer %u's item %" G_GUINT64_FORMAT
                      " came after its item %" G_GINT64_FORMAT " (FIFO broken)\n",
                      args->index, p, seq, last[p]);
          return 1;
        }
      last[p] = (gint64) seq;
      report->count[p]++;
      report->sum += value;
      report->xor ^= value;
    }
}

typedef struct
{
  guint64  n_items;
  guint64  n_items_valgrind;
  gboolean bytes;
  gint64   maxsize;
} ManyCase;

static const ManyCase many_bytes    = { 100000, 2000, TRUE, 0 };
static const ManyCase many_variants = { 5000, 500, FALSE, 16 };

static void
test_many (gconstpointer data)
{
  const ManyCase *c = data;
  ManyArgs args = { 0 };
  MpkProcess *producers[N_PRODUCERS];
  MpkProcess *consumers[N_CONSUMERS];
  guint64 expected_sum = 0, expected_xor = 0, got_sum = 0, got_xor = 0;
  guint64 got_count[N_PRODUCERS] = { 0 };
  guint64 got_sentinels = 0;
  guint64 seq;
  guint i, p;

  g_test_summary ("2 producer processes x 2 consumer processes: every item arrives "
                  "exactly once (count per producer, sum and xor), and each consumer "
                  "sees each producer's items in increasing order");
  args.queue = new_queue (c->maxsize, FALSE);
  args.n_items = under_valgrind () ? c->n_items_valgrind : c->n_items;
  args.bytes = c->bytes;
  args.reports = shared_new (N_CONSUMERS * sizeof (ConsumerReport));

  for (i = 0; i < N_CONSUMERS; i++)
    {
      args.index = i;
      consumers[i] = mpk_test_start (consumer_child, &args);
    }
  for (i = 0; i < N_PRODUCERS; i++)
    {
      args.index = i;
      producers[i] = mpk_test_start (producer_child, &args);
    }
  for (i = 0; i < N_PRODUCERS; i++)
    join_child (producers[i], 0);
  for (i = 0; i < N_CONSUMERS; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = put_value (args.queue, args.bytes, SENTINEL, &error);

      g_assert_no_error (error);
      g_assert_true (ok);
    }
  for (i = 0; i < N_CONSUMERS; i++)
    join_child (consumers[i], 0);

  for (p = 0; p < N_PRODUCERS; p++)
    for (seq = 0; seq < args.n_items; seq++)
      {
        expected_sum += item_value (p, seq);
        expected_xor ^= item_value (p, seq);
      }
  for (i = 0; i < N_CONSUMERS; i++)
    {
      for (p = 0; p < N_PRODUCERS; p++)
        got_count[p] += args.reports[i].count[p];
      got_sum += args.reports[i].sum;
      got_xor ^= args.reports[i].xor;
      got_sentinels += args.reports[i].sentinels;
    }
  for (p = 0; p < N_PRODUCERS; p++)
    g_assert_cmpuint (got_count[p], ==, args.n_items);
  g_assert_cmpuint (got_sum, ==, expected_sum);
  g_assert_cmpuint (got_xor, ==, expected_xor);
  g_assert_cmpuint (got_sentinels, ==, N_CONSUMERS);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 0);
  munmap (args.reports, N_CONSUMERS * sizeof (ConsumerReport));
  mpk_queue_free (args.queue);
}

/* --- item sizes (G5) ------------------------------------------------------------------ */

static const gsize item_sizes[] = {
  64, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 1 * MiB, 16 * MiB, 64 * MiB,
};

static guint
n_item_sizes (void)
{
  /* 64 MiB is left out under valgrind */
  return G_N_ELEMENTS (item_sizes) - (under_valgrind () ? 1 : 0);
}

typedef struct
{
  MpkQueue *queue;
  gboolean  variants;    /* put "ay" variants instead of raw bytes */
} SizesArgs;

static int
sizes_producer_child (gpointer data)
{
  SizesArgs *args = data;
  guint i;

  child_guard ();
  for (i = 0; i < n_item_sizes (); i++)
    {
      gsize size = item_sizes[i];
      guint8 *buf = make_pattern (size);
      GError *error = NULL;

      if (args->variants)
        mpk_queue_put (args->queue,
                       g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buf, size, TRUE,
                                                g_free, buf),
                       CHILD_TIMEOUT_US, &error);
      else
        {
          mpk_queue_put_bytes (args->queue, buf, size, CHILD_TIMEOUT_US, &error);
          g_free (buf);
        }
      if (error != NULL)
        g_printerr ("child: put of %" G_GSIZE_FORMAT " bytes failed\n", size);
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

typedef struct
{
  gint64   maxsize;
  gboolean variants;
} SizesCase;

static const SizesCase sizes_unbounded = { 0, FALSE };
static const SizesCase sizes_maxsize_1 = { 1, FALSE };
static const SizesCase sizes_variants  = { 1, TRUE };

static void
test_sizes (gconstpointer data)
{
  const SizesCase *c = data;
  SizesArgs args = { 0 };
  MpkProcess *child;
  guint i;

  g_test_summary ("G5: items of 64 B, 64 KiB-1, 64 KiB, 64 KiB+1, 1 MiB, 16 MiB and "
                  "64 MiB go from a child through a queue with a 1 MiB buffer (unbounded "
                  "and maxsize 1) and arrive byte for byte");
  args.queue = new_queue (c->maxsize, FALSE);
  args.variants = c->variants;
  g_assert_cmpuint (mpk_queue_get_buffer_size (args.queue), ==, MPK_QUEUE_DEFAULT_BUFFER_SIZE);
  child = mpk_test_start (sizes_producer_child, &args);
  for (i = 0; i < n_item_sizes (); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize expected_size = item_sizes[i];

      g_test_message ("item of %" G_GSIZE_FORMAT " bytes", expected_size);
      if (c->variants)
        {
          g_autoptr(GVariant) v = mpk_queue_get (args.queue, CHILD_TIMEOUT_US, &error);
          g_autoptr(GBytes) b = NULL;

          g_assert_no_error (error);
          g_assert_nonnull (v);
          g_assert_cmpstr (g_variant_get_type_string (v), ==, "ay");
          b = g_variant_get_data_as_bytes (v);
          assert_pattern_bytes (b, expected_size);
        }
      else
        {
          g_autoptr(GBytes) b = mpk_queue_get_bytes (args.queue, CHILD_TIMEOUT_US, &error);

          g_assert_no_error (error);
          g_assert_nonnull (b);
          assert_pattern_bytes (b, expected_size);
        }
    }
  join_child (child, 0);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 0);
  mpk_queue_free (args.queue);
}

static void
test_bytes_item_is_ay (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) empty = NULL;
  gconstpointer p;
  gsize n;
  gboolean ok;

  g_test_summary ("A put_bytes item comes back from get() as an \"ay\" variant; an "
                  "empty bytes item comes back from get_bytes() as 0 bytes");
  ok = mpk_queue_put_bytes (queue, "abc", 3, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_put_bytes (queue, "", 0, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 2);
  v = mpk_queue_get (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "ay");
  p = g_variant_get_fixed_array (v, &n, 1);
  g_assert_cmpmem (p, n, "abc", 3);
  empty = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (empty);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
}

static void
test_get_bytes_on_variant (void)
{
  g_autoptr(MpkQueue) queue = new_queue (1, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_test_summary ("get_bytes() on a GVariant item fails MPK_ERROR_INVALID at once and "
                  "leaves the item: qsize stays 1 and get() returns it");
  put_int (queue, 42);
  ASSERT_NULL_IN (mpk_queue_get_bytes (queue, MPK_WAIT_FOREVER, &error), error,
                  MPK_ERROR_INVALID, QUICK_WINDOW);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  g_assert_true (mpk_queue_full (queue));
  ASSERT_NULL_IN (mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error), error,
                  MPK_ERROR_INVALID, QUICK_WINDOW);
  v = mpk_queue_get (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "i");
  g_assert_cmpint (g_variant_get_int32 (v), ==, 42);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  bytes = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_assert_null (bytes);
}

/* Puts one 3 MiB "ay" variant (streamed through the 1 MiB buffer). */
static int
big_variant_child (gpointer data)
{
  QueueArgs *args = data;
  gsize size = 3 * MiB;
  guint8 *buf = make_pattern (size);
  GError *error = NULL;

  child_guard ();
  mpk_queue_put (args->queue,
                 g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buf, size, TRUE, g_free, buf),
                 CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_get_bytes_on_streamed_variant (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) b = NULL;
  MpkProcess *child;
  gint64 start;

  g_test_summary ("get_bytes() on a streamed (bigger than buffer/4) GVariant item fails "
                  "MPK_ERROR_INVALID without waiting for its timeout and leaves it: "
                  "get() then returns the whole item");
  args.queue = new_queue (0, FALSE);
  child = mpk_test_start (big_variant_child, &args);
  start = g_get_monotonic_time ();
  b = mpk_queue_get_bytes (args.queue, 2 * G_USEC_PER_SEC, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (b);
  g_clear_error (&error);
  ASSERT_DURATION (g_get_monotonic_time () - start, 0, G_USEC_PER_SEC);
  v = mpk_queue_get (args.queue, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "ay");
  b = g_variant_get_data_as_bytes (v);
  assert_pattern_bytes (b, 3 * MiB);
  join_child (child, 0);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  mpk_queue_free (args.queue);
}

/* --- G6: join the producer before draining -------------------------------------------- */

#define G6_ITEMS 1000
#define G6_SIZE  KiB

static void
fill_g6_item (guint8 *buf,
              guint   index)
{
  guint j;

  for (j = 0; j < G6_SIZE; j++)
    buf[j] = (guint8) (index * 7 + j);
}

static int
g6_producer_child (gpointer data)
{
  QueueArgs *args = data;
  guint8 buf[G6_SIZE];
  guint i;

  child_guard ();
  for (i = 0; i < G6_ITEMS; i++)
    {
      GError *error = NULL;

      fill_g6_item (buf, i);
      mpk_queue_put_bytes (args->queue, buf, sizeof buf, CHILD_TIMEOUT_US, &error);
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

static void
test_join_before_drain (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *child;
  gboolean exited;
  guint i;

  g_test_summary ("G6: a child puts 1000 items of 1 KiB into a queue with a 4 MiB buffer "
                  "and exits; the parent joins it first (no deadlock: no feeder thread), "
                  "then drains all 1000 intact and in order");
  args.queue = mpk_queue_new_full (0, FALSE, 4 * MiB, &error);
  g_assert_no_error (error);
  g_assert_nonnull (args.queue);
  g_assert_cmpuint (mpk_queue_get_buffer_size (args.queue), ==, 4 * MiB);
  child = mpk_test_start (g6_producer_child, &args);
  exited = mpk_process_join (child, 10 * G_USEC_PER_SEC);
  if (!exited)
    mpk_process_kill (child, NULL);
  g_assert_true (exited);
  join_child (child, 0);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, G6_ITEMS);
  for (i = 0; i < G6_ITEMS; i++)
    {
      g_autoptr(GBytes) b = mpk_queue_get_bytes (args.queue, MPK_NO_WAIT, &error);
      guint8 expected[G6_SIZE];

      g_assert_no_error (error);
      g_assert_nonnull (b);
      fill_g6_item (expected, i);
      g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), expected, G6_SIZE);
    }
  g_assert_true (mpk_queue_empty (args.queue));
  mpk_queue_free (args.queue);
}

static void
test_big_put_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkQueue) queue = mpk_queue_new_full (0, FALSE, MPK_QUEUE_DEFAULT_BUFFER_SIZE,
                                                  &error);
  g_autoptr(GBytes) b = NULL;
  g_autofree guint8 *big = make_pattern (16 * MiB);
  gint64 start, elapsed;
  gboolean ok;

  g_test_summary ("A put of 16 MiB into a fixed 1 MiB buffer with no consumer and a 0.2 s "
                  "timeout fails (TIMED_OUT or FULL) after ~0.2 s; nothing of it is "
                  "delivered and the queue works afterwards");
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  ok = mpk_queue_put_bytes (queue, big, 16 * MiB, T2_US, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_false (ok);
  g_assert_nonnull (error);
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_FULL))
    g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  ASSERT_DURATION (elapsed, T2_US - EARLY_US, T2_US + LATE_US);

  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  g_assert_true (mpk_queue_empty (queue));
  ok = mpk_queue_put_bytes (queue, "small", 5, T1_US, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  b = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (b);
  g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), "small", 5);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
  g_clear_pointer (&b, g_bytes_unref);
  b = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_assert_null (b);
}

/* --- JoinableQueue ---------------------------------------------------------------------- */

static void
test_accessors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkQueue) plain = new_queue (3, FALSE);
  g_autoptr(MpkQueue) joinable = new_queue (0, TRUE);
  g_autoptr(MpkQueue) unbounded = new_queue (-3, FALSE);
  g_autoptr(MpkQueue) full = NULL;
  gint32 i;

  g_test_summary ("is_joinable, maxsize and buffer size read back; maxsize <= 0 is "
                  "unbounded");
  g_assert_false (mpk_queue_is_joinable (plain));
  g_assert_true (mpk_queue_is_joinable (joinable));
  g_assert_cmpint (mpk_queue_get_maxsize (plain), ==, 3);
  g_assert_cmpuint (mpk_queue_get_buffer_size (plain), ==, MPK_QUEUE_DEFAULT_BUFFER_SIZE);
  full = mpk_queue_new_full (2, TRUE, 64 * KiB, &error);
  g_assert_no_error (error);
  g_assert_nonnull (full);
  g_assert_true (mpk_queue_is_joinable (full));
  g_assert_cmpint (mpk_queue_get_maxsize (full), ==, 2);
  g_assert_cmpuint (mpk_queue_get_buffer_size (full), ==, 64 * KiB);
  for (i = 0; i < 1000; i++)
    put_int (unbounded, i);
  g_assert_false (mpk_queue_full (unbounded));
  g_assert_cmpint (mpk_queue_qsize (unbounded), ==, 1000);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (unbounded), ==, 0);
}

static void
test_task_done_workers (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *workers[N_WORKERS];
  gboolean ok;
  guint i;

  g_test_summary ("CPython test_task_done: 4 worker processes get and task_done 10 "
                  "items; join() returns; then a sentinel each stops them");
  args.queue = new_queue (0, TRUE);
  for (i = 0; i < N_WORKERS; i++)
    workers[i] = mpk_test_start (worker_child, &args);
  for (i = 0; i < 10; i++)
    put_int (args.queue, i);
  ok = mpk_queue_join (args.queue, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 0);
  for (i = 0; i < N_WORKERS; i++)
    put_int (args.queue, -1);
  for (i = 0; i < N_WORKERS; i++)
    join_child (workers[i], 0);
  ok = mpk_queue_join (args.queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 0);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 0);
  mpk_queue_free (args.queue);
}

static void
test_join_counts (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, TRUE);
  g_autoptr(GError) error = NULL;
  GPid self = getpid ();
  gboolean ok;

  g_test_summary ("Every put adds an unfinished task, every get counts for the getter, "
                  "every task_done removes one; join() is TRUE exactly when none is left, "
                  "and join(0.1 s) before that fails TIMED_OUT after ~0.1 s");
  ok = mpk_queue_join (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  put_int (queue, 1);
  put_int (queue, 2);
  put_int (queue, 3);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 3);
  g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, self), ==, 0);
  ASSERT_FAILS_IN (mpk_queue_join (queue, MPK_NO_WAIT, &error), error, MPK_ERROR_TIMED_OUT,
                   QUICK_WINDOW);
  ASSERT_FAILS_IN (mpk_queue_join (queue, T1_US, &error), error, MPK_ERROR_TIMED_OUT,
                   T1_WINDOW);

  ASSERT_GET_INT (queue, MPK_NO_WAIT, 1);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 2);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 3);
  g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, self), ==, 2);
  task_done_ok (queue);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 2);
  g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, self), ==, 1);
  task_done_ok (queue);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 1);
  g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, self), ==, 0);
  ASSERT_FAILS_IN (mpk_queue_join (queue, T1_US, &error), error, MPK_ERROR_TIMED_OUT,
                   T1_WINDOW);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 3);
  task_done_ok (queue);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, self), ==, 0);
  ok = mpk_queue_join (queue, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
test_task_done_too_many (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, TRUE);
  g_autoptr(GError) error = NULL;

  g_test_summary ("task_done() with no unfinished task is FALSE + "
                  "MPK_ERROR_TOO_MANY_TASK_DONE and changes nothing; a failed put adds "
                  "no task");
  ASSERT_FAILS_IN (mpk_queue_task_done (queue, &error), error,
                   MPK_ERROR_TOO_MANY_TASK_DONE, QUICK_WINDOW);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);

  ASSERT_FAILS_IN (mpk_queue_put (queue, long_type_item (), MPK_NO_WAIT, &error),
                   error, MPK_ERROR_INVALID, QUICK_WINDOW);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);

  put_int (queue, 1);
  ASSERT_GET_INT (queue, MPK_NO_WAIT, 1);
  task_done_ok (queue);
  ASSERT_FAILS_IN (mpk_queue_task_done (queue, &error), error,
                   MPK_ERROR_TOO_MANY_TASK_DONE, QUICK_WINDOW);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);

  /* Python allows task_done() for an item nobody got: only the count matters */
  put_int (queue, 2);
  task_done_ok (queue);
  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);
  ASSERT_FAILS_IN (mpk_queue_task_done (queue, &error), error,
                   MPK_ERROR_TOO_MANY_TASK_DONE, QUICK_WINDOW);
}

static void
test_join_full_peer_died (gconstpointer data)
{
  gboolean reap_first = GPOINTER_TO_INT (data);
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *pid_text = NULL;
  MpkProcess *child;
  GPid pid;
  gint64 start, elapsed;
  gboolean ok;

  g_test_summary ("A consumer killed between get and task_done: join_full watching it "
                  "fails MPK_ERROR_PEER_DIED well before its timeout; "
                  "get_unfinished_for(pid) is 1; abandon_tasks(pid) writes it off and "
                  "join succeeds");
  args.queue = new_queue (0, TRUE);
  put_int (args.queue, 1);
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (take_and_hold_child, &args);
  pid = mpk_process_get_pid (child);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "got");
  g_assert_cmpuint (mpk_queue_get_unfinished_for (args.queue, pid), ==, 1);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 1);
  g_assert_true (mpk_process_kill (child, NULL));
  if (reap_first)
    g_assert_true (mpk_process_join (child, CHILD_TIMEOUT_US));

  start = g_get_monotonic_time ();
  ok = mpk_queue_join_full (args.queue, &child, 1, 5 * G_USEC_PER_SEC, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_false (ok);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED);
  g_test_message ("join_full: %s", error->message);
  pid_text = g_strdup_printf ("%d", (int) pid);
  g_assert_nonnull (strstr (error->message, pid_text));
  g_assert_nonnull (strstr (error->message, "died holding 1 unfinished task"));
  g_clear_error (&error);
  ASSERT_DURATION (elapsed, 0, 500 * 1000);

  g_assert_cmpuint (mpk_queue_get_unfinished_for (args.queue, pid), ==, 1);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 1);
  g_assert_cmpuint (mpk_queue_abandon_tasks (args.queue, pid), ==, 1);
  g_assert_cmpuint (mpk_queue_get_unfinished_for (args.queue, pid), ==, 0);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 0);
  g_assert_cmpuint (mpk_queue_abandon_tasks (args.queue, pid), ==, 0);
  ok = mpk_queue_join (args.queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_queue_join_full (args.queue, &child, 1, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  join_child (child, -SIGKILL);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 0);
  mpk_test_channel_clear (&args.channel);
  mpk_queue_free (args.queue);
}

static void
test_join_full_peer_exited_holding (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *child;
  GPid pid;
  gboolean ok;

  g_test_summary ("A consumer that exits normally (code 0) holding an unfinished task "
                  "makes join_full fail MPK_ERROR_PEER_DIED at once");
  args.queue = new_queue (0, TRUE);
  put_int (args.queue, 1);
  mpk_test_channel_init (&args.channel);
  child = mpk_test_start (take_and_hold_child, &args);
  pid = mpk_process_get_pid (child);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "got");
  parent_say (&args.channel, "exit");
  g_assert_true (mpk_process_join (child, CHILD_TIMEOUT_US));
  g_assert_cmpint (mpk_process_get_exitcode (child), ==, 0);
  ASSERT_FAILS_IN (mpk_queue_join_full (args.queue, &child, 1, 5 * G_USEC_PER_SEC, &error),
                   error, MPK_ERROR_PEER_DIED, QUICK_WINDOW);
  g_assert_cmpuint (mpk_queue_abandon_tasks (args.queue, pid), ==, 1);
  ok = mpk_queue_join_full (args.queue, &child, 1, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  join_child (child, 0);
  mpk_test_channel_clear (&args.channel);
  mpk_queue_free (args.queue);
}

static void
test_join_full_clean_exit (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *child;
  gboolean ok;

  g_test_summary ("A watched consumer that finished its task and exited is no reason to "
                  "fail: join_full waits for the other unfinished task (TIMED_OUT after "
                  "~0.1 s) and is TRUE once it is done");
  args.queue = new_queue (0, TRUE);
  put_int (args.queue, 1);
  put_int (args.queue, 2);
  child = mpk_test_start (take_and_finish_child, &args);
  g_assert_true (mpk_process_join (child, CHILD_TIMEOUT_US));
  g_assert_cmpint (mpk_process_get_exitcode (child), ==, 0);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 1);
  ASSERT_FAILS_IN (mpk_queue_join_full (args.queue, &child, 1, T1_US, &error),
                   error, MPK_ERROR_TIMED_OUT, T1_WINDOW);
  ASSERT_GET_INT (args.queue, MPK_NO_WAIT, 2);
  task_done_ok (args.queue);
  ok = mpk_queue_join_full (args.queue, &child, 1, T1_US, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  join_child (child, 0);
  mpk_queue_free (args.queue);
}

static void
test_no_recoveries (void)
{
  QueueArgs args = { 0 };

  g_test_summary ("mpk_queue_get_n_recoveries() is 0 on a queue nobody died on, after "
                  "puts and gets in several processes");
  args.queue = new_queue (3, TRUE);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 0);
  args.from = 0;
  args.to = 50;
  {
    MpkProcess *producer = mpk_test_start (put_range_child, &args);
    MpkProcess *consumer = mpk_test_start (get_range_child, &args);

    join_child (producer, 0);
    join_child (consumer, 0);
  }
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 0);
  mpk_queue_free (args.queue);
}

/* --- issue 11 §3: the queue's reliability findings ----------------------------------- */

/* The library's crash points (see tests/test-robust.c); set in children only. */
extern int mpk__crash_countdown;
/* A crash point of its own between a get's credit of the task and its
 * removal of the item (lib/core/mpk-ring.c), outside test-robust's countdown. */
extern int mpk__ring_crash_after_credit;
extern gpointer mpk__queue_get_shared_for_testing (MpkQueue *queue,
                                                   gsize    *size);

/* Bytes the producers have committed to a queue's ring so far (the low bits of
 * its tail word, the control block's second line: see lib/core/mpk-ring.c). */
static guint64
ring_tail_bytes (MpkQueue *queue)
{
  gsize size;
  guint8 *map = mpk__queue_get_shared_for_testing (queue, &size);

  return __atomic_load_n ((guint64 *) (map + 64), __ATOMIC_ACQUIRE) & 0xffffffffu;
}

/* Waits (bounded) until the producers committed @bytes. */
static void
wait_tail_bytes (MpkQueue *queue,
                 guint64   bytes)
{
  gint64 give_up = g_get_monotonic_time () + CHILD_TIMEOUT_US;

  while (ring_tail_bytes (queue) < bytes)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, give_up);
      g_usleep (1000);
    }
}

#define MID_ITEM_SIZE MiB

static int
put_big_child (gpointer data)
{
  QueueArgs *args = data;
  g_autofree guint8 *big = make_pattern (MID_ITEM_SIZE);
  g_autoptr(GError) error = NULL;

  child_guard ();
  if (args->maxsize > 0)
    mpk__crash_countdown = (int) args->maxsize;
  MPK_CHILD_CHECK (mpk_queue_put_bytes (args->queue, big, MID_ITEM_SIZE, CHILD_TIMEOUT_US,
                                        &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

/* Gets one item with a 0.1 s timeout and tells the parent what came. */
static int
get_short_child (gpointer data)
{
  QueueArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) b = NULL;
  g_autofree char *report = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  b = mpk_queue_get_bytes (args->queue, T1_US, &error);
  if (b == NULL)
    report = g_strdup_printf ("error %d: %s", error->code, error->message);
  else if (g_bytes_get_size (b) != MID_ITEM_SIZE
           || pattern_mismatch (g_bytes_get_data (b, NULL), MID_ITEM_SIZE) != MID_ITEM_SIZE)
    report = g_strdup_printf ("a torn item of %" G_GSIZE_FORMAT " bytes", g_bytes_get_size (b));
  else
    report = g_strdup ("whole");
  MPK_CHILD_CHECK (child_say (&args->channel, report));
  return 0;
}

static void
test_get_timeout_mid_item (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) early = NULL, late = NULL;
  g_autoptr(GBytes) again = NULL;
  MpkProcess *producer, *consumer;

  g_test_summary ("Issue 11 §3: a producer streams a 1 MiB item through a 64 KiB ring and is "
                  "stopped (SIGSTOP) half-way; a get with a 0.1 s timeout starts the item. "
                  "The get must not drop an item whose put returns TRUE: it finishes the "
                  "item once the producer runs again, and the item is delivered once");
  args.queue = mpk_queue_new_full (0, FALSE, 64 * KiB, &error);
  g_assert_no_error (error);
  producer = mpk_test_start (put_big_child, &args);
  wait_tail_bytes (args.queue, 64 * KiB);   /* the ring is full of the item's first chunks */
  g_assert_cmpint (kill (mpk_process_get_pid (producer), SIGSTOP), ==, 0);

  mpk_test_channel_init (&args.channel);
  consumer = mpk_test_start (get_short_child, &args);
  mpk_connection_close (args.channel.child);
  /* Well past the get's own timeout, the producer still stopped. */
  early = mpk_connection_recv (args.channel.parent, 10 * T1_US, &error);
  if (early != NULL)
    g_test_message ("the consumer answered while the producer was stopped: %s",
                    g_variant_get_string (early, NULL));
  g_clear_error (&error);
  g_assert_cmpint (kill (mpk_process_get_pid (producer), SIGCONT), ==, 0);
  if (early == NULL)
    {
      late = mpk_connection_recv (args.channel.parent, CHILD_TIMEOUT_US, &error);
      g_assert_no_error (error);
    }
  g_assert_cmpstr (g_variant_get_string (early != NULL ? early : late, NULL), ==, "whole");
  join_child (producer, 0);
  join_child (consumer, 0);
  again = mpk_queue_get_bytes (args.queue, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_assert_null (again);
  mpk_test_channel_clear (&args.channel);
  mpk_queue_free (args.queue);
}

typedef struct
{
  const char *name;
  gint64      maxsize;
  gboolean    joinable;
  gboolean    simple;
} UnboundedCase;

static const UnboundedCase unbounded_queue    = { "Queue()", 0, FALSE, FALSE };
static const UnboundedCase unbounded_joinable = { "JoinableQueue()", 0, TRUE, FALSE };
static const UnboundedCase unbounded_simple   = { "SimpleQueue()", 0, FALSE, TRUE };
static const UnboundedCase bounded_20000      = { "Queue(20000)", 20000, FALSE, FALSE };

#define MANY_SMALL 20000

static void
test_unbounded_many (gconstpointer data)
{
  const UnboundedCase *c = data;
  g_autoptr(GError) error = NULL;
  MpkSimpleQueue *simple = NULL;
  MpkQueue *queue;

  g_test_summary ("Issue 11 §3: a queue whose maxsize is 0 takes 20 000 small items with "
                  "put_nowait and no consumer (the old ring failed FULL after ~8 192 while "
                  "full() said FALSE); with maxsize 20 000, full() turns TRUE exactly when "
                  "put_nowait starts failing FULL; every item comes back in order");
  if (c->simple)
    {
      simple = new_simple_queue ();
      queue = (MpkQueue *) simple;   /* only for put/get below, through the simple API */
    }
  else
    queue = c->joinable ? mpk_joinable_queue_new (c->maxsize, &error)
                        : mpk_queue_new (c->maxsize, &error);
  g_assert_no_error (error);
  for (gint32 i = 0; i < MANY_SMALL; i++)
    {
      gboolean ok;

      if (!c->simple)
        g_assert_false (mpk_queue_full (queue));
      ok = c->simple ? mpk_simple_queue_put (simple, g_variant_new_int32 (i), MPK_NO_WAIT, &error)
                     : mpk_queue_put_nowait (queue, g_variant_new_int32 (i), &error);
      if (!ok)
        g_test_message ("%s: put_nowait of item %d failed: %s", c->name, i, error->message);
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  if (!c->simple)
    {
      g_assert_cmpint (mpk_queue_qsize (queue), ==, MANY_SMALL);
      g_assert_true (mpk_queue_full (queue) == (c->maxsize > 0));
      if (c->maxsize > 0)
        ASSERT_FAILS_IN (mpk_queue_put_nowait (queue, g_variant_new_int32 (-1), &error), error,
                         MPK_ERROR_FULL, QUICK_WINDOW);
    }
  for (gint32 i = 0; i < MANY_SMALL; i++)
    {
      g_autoptr(GVariant) v = c->simple ? mpk_simple_queue_get (simple, MPK_NO_WAIT, &error)
                                        : mpk_queue_get_nowait (queue, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
  if (c->simple)
    mpk_simple_queue_free (simple);
  else
    mpk_queue_free (queue);
}

static void
test_unbounded_big_item (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *big = make_pattern (8 * MiB);
  g_autoptr(GBytes) b = NULL;
  gboolean ok;

  g_test_summary ("Issue 11 §3: one process puts an 8 MiB item into Queue() (no consumer, "
                  "no wait) and then gets it back whole");
  ok = mpk_queue_put_bytes (queue, big, 8 * MiB, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
  g_assert_false (mpk_queue_full (queue));
  b = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  assert_pattern_bytes (b, 8 * MiB);
}

/* Kilobytes of shared memory this process has resident (RssShmem). */
static gint64
rss_shmem_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "RssShmem:");
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen ("RssShmem:"), NULL, 10);
}

static void
test_unbounded_gives_back (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *chunk = make_pattern (64 * KiB);
  gint64 before, peak, after;

  g_test_summary ("Issue 11 §3: 32 MiB put into Queue() at once (no consumer) is held in "
                  "memory; once it is taken out, the queue gives that memory back to the "
                  "system instead of keeping its high-water mark");
  before = rss_shmem_kib ();
  for (guint i = 0; i < 512; i++)
    g_assert_true (mpk_queue_put_bytes (queue, chunk, 64 * KiB, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  peak = rss_shmem_kib ();
  for (guint i = 0; i < 512; i++)
    {
      g_autoptr(GBytes) b = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (b), ==, 64 * KiB);
    }
  /* Some more traffic after the drain, as a running program has. */
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(GBytes) b = NULL;

      g_assert_true (mpk_queue_put_bytes (queue, chunk, 1 * KiB, MPK_NO_WAIT, &error));
      b = mpk_queue_get_bytes (queue, MPK_NO_WAIT, &error);
      g_assert_no_error (error);
    }
  after = rss_shmem_kib ();
  g_test_message ("RssShmem: %" G_GINT64_FORMAT " KiB before, %" G_GINT64_FORMAT
                  " KiB with 32 MiB queued, %" G_GINT64_FORMAT " KiB after the drain",
                  before, peak, after);
  g_assert_cmpint (peak - before, >=, 30 * 1024);
  g_assert_cmpint (after - before, <, 12 * 1024);
}

static void
test_dead_producer_no_consumer (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_test_summary ("Issue 11 §3: a producer killed half-way through streaming an item, with "
                  "its chunks filling the ring: another producer's put_nowait succeeds "
                  "at once, with no consumer running to skip the dead item");
  args.queue = mpk_queue_new_full (0, FALSE, 64 * KiB, &error);
  g_assert_no_error (error);
  /* Dies at its 5th crash point: put.locked, then after 4 chunks of 16 KiB. */
  args.maxsize = 5;
  join_child (mpk_test_start (put_big_child, &args), -SIGKILL);
  g_assert_cmpuint (ring_tail_bytes (args.queue), ==, 64 * KiB);
  ok = mpk_queue_put_nowait (args.queue, g_variant_new_int32 (42), &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (mpk_queue_get_n_recoveries (args.queue), ==, 1);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 1);
  ASSERT_GET_INT (args.queue, MPK_NO_WAIT, 42);
  g_assert_true (mpk_queue_empty (args.queue));
  mpk_queue_free (args.queue);
}

#define MANY_CONSUMERS 70

typedef struct
{
  MpkQueue *queue;
  int       ready[2];   /* each consumer writes a byte once it holds its item */
  int       hold[2];    /* then waits here (until killed) */
} HoldArgs;

static int
hold_one_child (gpointer data)
{
  HoldArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  struct pollfd pfd = { args->hold[0], POLLIN, 0 };

  child_guard ();
  v = mpk_queue_get (args->queue, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (write (args->ready[1], "g", 1) == 1);
  poll (&pfd, 1, CHILD_TIMEOUT_US / 1000);
  return 0;
}

static void
test_join_full_many_consumers (void)
{
  HoldArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *children[MANY_CONSUMERS];
  guint n_ready = 0;

  g_test_summary ("Issue 11 §3: 70 consumers (more than the old table's 64 slots) each "
                  "take a task and are killed; join_full reports PEER_DIED, every one of "
                  "them holds 1 task, abandon_tasks writes each off, and join returns");
  args.queue = new_queue (0, TRUE);
  g_assert_cmpint (pipe (args.ready), ==, 0);
  g_assert_cmpint (pipe (args.hold), ==, 0);
  for (gint32 i = 0; i < MANY_CONSUMERS; i++)
    put_int (args.queue, i);
  for (guint i = 0; i < MANY_CONSUMERS; i++)
    children[i] = mpk_test_start (hold_one_child, &args);
  while (n_ready < MANY_CONSUMERS)
    {
      struct pollfd pfd = { args.ready[0], POLLIN, 0 };
      char buf[MANY_CONSUMERS];
      ssize_t n;

      g_assert_cmpint (poll (&pfd, 1, CHILD_TIMEOUT_US / 1000), ==, 1);
      n = read (args.ready[0], buf, sizeof buf);
      g_assert_cmpint (n, >, 0);
      n_ready += n;
    }
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 0);
  for (guint i = 0; i < MANY_CONSUMERS; i++)
    {
      g_assert_true (mpk_process_kill (children[i], NULL));
      g_assert_true (mpk_process_join (children[i], CHILD_TIMEOUT_US));
    }
  ASSERT_FAILS_IN (mpk_queue_join_full (args.queue, children, MANY_CONSUMERS,
                                        5 * G_USEC_PER_SEC, &error),
                   error, MPK_ERROR_PEER_DIED, 0, G_USEC_PER_SEC);
  for (guint i = 0; i < MANY_CONSUMERS; i++)
    {
      GPid pid = mpk_process_get_pid (children[i]);

      g_test_message ("consumer %u (pid %d)", i, (int) pid);
      g_assert_cmpuint (mpk_queue_get_unfinished_for (args.queue, pid), ==, 1);
      g_assert_cmpuint (mpk_queue_abandon_tasks (args.queue, pid), ==, 1);
    }
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 0);
  g_assert_true (mpk_queue_join_full (args.queue, children, MANY_CONSUMERS, MPK_NO_WAIT,
                                      &error));
  g_assert_no_error (error);
  for (guint i = 0; i < MANY_CONSUMERS; i++)
    join_child (children[i], -SIGKILL);
  close (args.ready[0]);
  close (args.ready[1]);
  close (args.hold[0]);
  close (args.hold[1]);
  mpk_queue_free (args.queue);
}

static int
die_after_credit_child (gpointer data)
{
  QueueArgs *args = data;

  child_guard ();
  mpk__ring_crash_after_credit = 1;
  mpk_queue_get (args->queue, CHILD_TIMEOUT_US, NULL);
  return 0;   /* not reached: the crash point kills it */
}

static void
test_abandon_before_repair (void)
{
  QueueArgs args = { 0 };
  g_autoptr(GError) error = NULL;
  MpkProcess *child;
  GPid pid;

  g_test_summary ("Issue 11 §3: a consumer dies inside get after crediting itself the task "
                  "but before taking the item out; abandon_tasks(pid) called before anything "
                  "repaired the queue writes off nothing (the item is still queued), join "
                  "waits for it, and its real task_done is accepted");
  args.queue = new_queue (0, TRUE);
  put_int (args.queue, 5);
  child = mpk_test_start (die_after_credit_child, &args);
  pid = mpk_process_get_pid (child);
  join_child (child, -SIGKILL);
  g_assert_cmpuint (mpk_queue_abandon_tasks (args.queue, pid), ==, 0);
  g_assert_cmpuint (mpk_queue_get_unfinished (args.queue), ==, 1);
  g_assert_cmpint (mpk_queue_qsize (args.queue), ==, 1);
  ASSERT_FAILS_IN (mpk_queue_join (args.queue, MPK_NO_WAIT, &error), error,
                   MPK_ERROR_TIMED_OUT, QUICK_WINDOW);
  ASSERT_GET_INT (args.queue, MPK_NO_WAIT, 5);
  task_done_ok (args.queue);
  g_assert_true (mpk_queue_join (args.queue, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  mpk_queue_free (args.queue);
}

static void
test_task_done_not_joinable (void)
{
  g_autoptr(MpkQueue) queue = new_queue (0, FALSE);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_test_summary ("Issue 11 §4: task_done on a plain Queue is an error the caller can "
                  "handle (MPK_ERROR_INVALID, Python's AttributeError), not a critical");
  put_int (queue, 1);
  ok = mpk_queue_task_done (queue, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_false (ok);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 1);
}

/* --- the growing buffer under crash points --------------------------------------- */

#define GROW_ITEMS 8

static gsize
grow_item_size (guint i)
{
  return i % 3 == 1 ? 600 * KiB : 100 + i;   /* every third streamed in pieces */
}

typedef struct
{
  MpkQueue *queue;
  int       countdown;
  gint     *n_put;    /* shared: puts that returned TRUE */
} GrowArgs;

static int
grow_producer_child (gpointer data)
{
  GrowArgs *args = data;

  child_guard ();
  mpk__crash_countdown = args->countdown;
  for (guint i = 0; i < GROW_ITEMS; i++)
    {
      g_autofree guint8 *buf = make_pattern (grow_item_size (i));
      g_autoptr(GError) error = NULL;

      MPK_CHILD_CHECK (mpk_queue_put_bytes (args->queue, buf, grow_item_size (i),
                                            CHILD_TIMEOUT_US, &error));
      MPK_CHILD_NO_ERROR (error);
      __atomic_add_fetch (args->n_put, 1, __ATOMIC_SEQ_CST);
    }
  mpk__crash_countdown = 0;
  return 0;
}

/* Takes one item; checks it is whole and the next expected one (or a later
 * one, past an item its dead producer never finished). Returns its index. */
static guint
take_grow_item (GBytes *b,
                guint   next)
{
  gsize size = g_bytes_get_size (b);
  guint i;

  for (i = next; i < GROW_ITEMS && grow_item_size (i) != size; i++)
    ;
  g_assert_cmpuint (i, <, GROW_ITEMS);
  g_assert_cmpuint (pattern_mismatch (g_bytes_get_data (b, NULL), size), ==, size);
  return i;
}

static void
test_unbounded_crash_points (void)
{
  gint *n_put = shared_new (sizeof (gint));
  guint deaths = 0;

  g_test_summary ("The growing buffer (Queue()) with a producer killed at each of its crash "
                  "points in turn while the parent consumes: every item whose put returned "
                  "is delivered once, whole and in order, nothing torn, and the queue works "
                  "afterwards");
  for (int countdown = 1; countdown < 200; countdown++)
    {
      GrowArgs args = { new_queue (0, FALSE), countdown, n_put };
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) probe = NULL;
      MpkProcess *producer;
      guint next = 0, got = 0;
      int exitcode;

      *n_put = 0;
      producer = mpk_test_start (grow_producer_child, &args);
      for (;;)
        {
          g_autoptr(GBytes) b = mpk_queue_get_bytes (args.queue, 20 * 1000, &error);

          if (b != NULL)
            {
              next = take_grow_item (b, next) + 1;
              got++;
              continue;
            }
          g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
          g_clear_error (&error);
          if (!mpk_process_is_alive (producer))
            break;
        }
      g_assert_true (mpk_process_join (producer, CHILD_TIMEOUT_US));
      exitcode = mpk_process_get_exitcode (producer);
      mpk_process_unref (producer);
      /* What it put before dying may have come after the last look. */
      for (GBytes *b; (b = mpk_queue_get_bytes (args.queue, MPK_NO_WAIT, NULL)) != NULL; )
        {
          next = take_grow_item (b, next) + 1;
          got++;
          g_bytes_unref (b);
        }
      if (exitcode == 0)
        {
          g_assert_cmpuint (got, ==, GROW_ITEMS);
          mpk_queue_free (args.queue);
          break;     /* past the last crash point */
        }
      deaths++;
      g_assert_cmpint (exitcode, ==, -SIGKILL);
      /* A death after the committing store, before put returned: one more. */
      g_assert_cmpuint (got, >=, (guint) *n_put);
      g_assert_cmpuint (got, <=, (guint) *n_put + 1);
      g_assert_true (mpk_queue_put_bytes (args.queue, "probe", 5, MPK_NO_WAIT, &error));
      probe = mpk_queue_get_bytes (args.queue, MPK_NO_WAIT, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (probe, NULL), g_bytes_get_size (probe), "probe", 5);
      g_assert_true (mpk_queue_empty (args.queue));
      mpk_queue_free (args.queue);
    }
  g_test_message ("%u deaths at crash points", deaths);
  g_assert_cmpuint (deaths, >, 8);
  munmap (n_put, sizeof (gint));
}

/* --- issue 11 §3 review: the growing buffer's address space ------------------------ */

/* What a child made under an address-space limit saw, for the parent to assert. */
typedef struct
{
  gsize  headroom;        /* in: address space the child leaves itself (RLIMIT_AS) */
  guint  n_queues;        /* in: Queue()s to make, then one JoinableQueue() */
  gint   made;            /* out: queues made */
  gint   full_when_empty; /* out: queues whose full() said TRUE before any put */
  gint   put_failed;      /* out: queues where a 1-byte put_nowait failed */
  gint   got_back;        /* out: queues that gave that byte back */
  gint   bad_size;        /* out: growing rings under MIN_GROWING_MAP (a ring too small to work) */
  gint   malloc_ok;       /* out: a 256 MiB malloc after them succeeded */
  gsize  mapped;          /* out: address space the queues took, all told */
  char   message[256];    /* out: the first error, if any */
} AsLimitArgs;

/* A growing ring's mapping is at least this (see mpk_queue_new_full); a fixed
 * fallback's is its MiB and a page of control block. */
#define MIN_GROWING_MAP (16 * MiB)

static gsize
vm_size (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmSize:");
  return line != NULL ? (gsize) g_ascii_strtoull (line + 7, NULL, 10) * KiB : 0;
}

static int
as_limit_child (gpointer data)
{
  AsLimitArgs *args = data;
  MpkQueue *queues[8] = { NULL };
  struct rlimit lim;
  gpointer big;

  child_guard ();
  /* Warm up what GLib and the library allocate once, so that the limit
   * leaves the headroom to the queues. */
  mpk_queue_free (mpk_queue_new_full (0, TRUE, 4096, NULL));
  lim.rlim_cur = lim.rlim_max = vm_size () + args->headroom;
  MPK_CHILD_CHECK (setrlimit (RLIMIT_AS, &lim) == 0);
  for (guint i = 0; i <= args->n_queues && i < G_N_ELEMENTS (queues); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) back = NULL;
      gsize size = 0;

      queues[i] = i < args->n_queues ? mpk_queue_new (0, &error) : mpk_joinable_queue_new (0, &error);
      if (queues[i] == NULL)
        {
          if (args->message[0] == '\0')
            g_snprintf (args->message, sizeof args->message, "queue %u: %s", i, error->message);
          continue;
        }
      args->made++;
      mpk__queue_get_shared_for_testing (queues[i], &size);
      args->mapped += size;
      if (size > 2 * MiB && size < MIN_GROWING_MAP)
        args->bad_size++;
      if (mpk_queue_full (queues[i]))
        args->full_when_empty++;
      if (!mpk_queue_put_bytes (queues[i], "x", 1, MPK_NO_WAIT, &error))
        {
          args->put_failed++;
          if (args->message[0] == '\0')
            g_snprintf (args->message, sizeof args->message, "queue %u (%zu KiB): put: %s",
                        i, size / KiB, error->message);
          continue;
        }
      back = mpk_queue_get_bytes (queues[i], MPK_NO_WAIT, NULL);
      if (back != NULL && g_bytes_get_size (back) == 1)
        args->got_back++;
      /* A growing ring holds 4 MiB queued at once (a fixed MiB would not). */
      for (guint k = 0; size >= MIN_GROWING_MAP && k < 64; k++)
        {
          static guint8 chunk[64 * 1024];

          if (!mpk_queue_put_bytes (queues[i], chunk, sizeof chunk, MPK_NO_WAIT, &error))
            {
              args->put_failed++;
              if (args->message[0] == '\0')
                g_snprintf (args->message, sizeof args->message, "queue %u (%zu KiB): put %u of "
                            "64 KiB: %s", i, size / KiB, k, error->message);
              break;
            }
        }
      if (size >= MIN_GROWING_MAP && mpk_queue_qsize (queues[i]) != 64)
        args->put_failed++;
      if (i < args->n_queues ? mpk_queue_is_joinable (queues[i]) : !mpk_queue_is_joinable (queues[i]))
        return 1;
    }
  big = g_try_malloc (256 * MiB);
  args->malloc_ok = big != NULL;
  g_free (big);
  for (guint i = 0; i < G_N_ELEMENTS (queues); i++)
    g_clear_pointer (&queues[i], mpk_queue_free);
  return 0;
}

static gboolean
as_limit_unsupported (void)
{
#if defined (__SANITIZE_ADDRESS__)
  return TRUE;      /* its shadow memory alone is terabytes of address space */
#elif defined (__has_feature)
#if __has_feature (address_sanitizer)
  return TRUE;
#endif
#endif
  return under_valgrind ();  /* valgrind's own mappings count against the limit */
}

/* Runs as_limit_child with @headroom bytes of address space to spare. */
static AsLimitArgs *
run_as_limit (gsize headroom,
              guint n_queues)
{
  AsLimitArgs *args = shared_new (sizeof (AsLimitArgs));

  args->headroom = headroom;
  args->n_queues = n_queues;
  join_child (mpk_test_start (as_limit_child, args), 0);
  g_test_message ("%zu MiB to spare: %d of %u queues made, %zu KiB mapped%s%s", headroom / MiB,
                  args->made, n_queues + 1, args->mapped / KiB,
                  args->message[0] != '\0' ? "; " : "", args->message);
  return args;
}

static void
test_unbounded_small_reservation (void)
{
  static const gsize headrooms[] = { 3, 5, 7, 12, 20, 40, 160 };

  g_test_summary ("Queue() (a growing buffer) where RLIMIT_AS leaves only a few MiB: "
                  "it is made, and either grows in a ring big enough to work "
                  "(MIN_GROWING_MAP) or is a fixed ring of the default size; "
                  "either way full() is FALSE when it is empty and a 1-byte put "
                  "and get succeed");
  if (as_limit_unsupported ())
    {
      g_test_skip ("RLIMIT_AS counts the sanitizer's or valgrind's own address space");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (headrooms); i++)
    {
      AsLimitArgs *args = run_as_limit (headrooms[i] * MiB, 1);

      /* The JoinableQueue may not fit in 3 MiB; the Queue must. */
      g_assert_cmpint (args->made, >=, 1);
      g_assert_cmpint (args->bad_size, ==, 0);
      g_assert_cmpint (args->full_when_empty, ==, 0);
      g_assert_cmpint (args->put_failed, ==, 0);
      g_assert_cmpint (args->got_back, ==, args->made);
      munmap (args, sizeof (AsLimitArgs));
    }
}

static void
test_unbounded_address_space (void)
{
  g_autoptr(GError) error = NULL;
  MpkQueue *queue;
  AsLimitArgs *args;
  gsize size = 0;

  g_test_summary ("How much address space unbounded queues take: at most 1 GiB (+ 4 MiB "
                  "of holder table for a JoinableQueue) each without a limit, and at "
                  "most an eighth of what RLIMIT_AS leaves: four Queue()s and a "
                  "JoinableQueue() with 2 GiB to spare leave room for a 256 MiB malloc");
  queue = mpk_queue_new (0, &error);
  g_assert_no_error (error);
  mpk__queue_get_shared_for_testing (queue, &size);
  g_test_message ("Queue(): %zu MiB of address space", size / MiB);
  g_assert_cmpuint (size, <=, 1024 * MiB + 64 * KiB);
  mpk_queue_free (queue);
  queue = mpk_joinable_queue_new (0, &error);
  g_assert_no_error (error);
  mpk__queue_get_shared_for_testing (queue, &size);
  g_test_message ("JoinableQueue(): %zu MiB of address space", size / MiB);
  g_assert_cmpuint (size, <=, 1028 * MiB + 64 * KiB);
  mpk_queue_free (queue);
  if (as_limit_unsupported ())
    {
      g_test_skip ("RLIMIT_AS counts the sanitizer's or valgrind's own address space");
      return;
    }
  args = run_as_limit (2048 * MiB, 4);
  g_assert_cmpint (args->made, ==, 5);
  g_assert_cmpint (args->put_failed, ==, 0);
  g_assert_cmpint (args->got_back, ==, 5);
  g_assert_cmpuint (args->mapped, <=, 1024 * MiB);
  g_assert_cmpint (args->malloc_ok, ==, TRUE);
  munmap (args, sizeof (AsLimitArgs));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/queue/accessors", test_accessors);
  mpk_test_add_func ("/queue/put/forms", test_put_forms);
  mpk_test_add_func ("/queue/get/forms", test_get_forms);
  mpk_test_add_func ("/queue/fork/order", test_fork_order);
  mpk_test_add_func ("/queue/qsize/sequence", test_qsize);
  mpk_test_add_func ("/queue/qsize/two-processes", test_qsize_two_processes);
  mpk_test_add_data_func ("/queue/empty/after-put", GINT_TO_POINTER (0), test_no_false_empty);
  mpk_test_add_data_func ("/queue/empty/after-put-maxsize-1", GINT_TO_POINTER (1),
                          test_no_false_empty);
  mpk_test_add_func ("/queue/get/timeout", test_get_timeout);
  mpk_test_add_data_func ("/queue/put/unserializable", GINT_TO_POINTER (0), test_unserializable);
  mpk_test_add_data_func ("/queue/put/unserializable-maxsize-1", GINT_TO_POINTER (1),
                          test_unserializable);
  mpk_test_add_func ("/queue/put/too-big", test_too_big);
  mpk_test_add_func ("/queue/put/big-timeout", test_big_put_timeout);
  mpk_test_add_func ("/queue/close/put-get", test_close_put_get);
  mpk_test_add_func ("/queue/close/per-process", test_close_per_process);
  mpk_test_add_data_func ("/queue/close/qsize-critical", &closed_qsize, test_critical);
  mpk_test_add_data_func ("/queue/close/empty-critical/unused", &closed_empty_unused,
                          test_critical);
  mpk_test_add_data_func ("/queue/close/empty-critical/used", &closed_empty_used, test_critical);
  mpk_test_add_data_func ("/queue/close/full-critical", &closed_full, test_critical);
  mpk_test_add_func ("/queue/task-done/not-joinable", test_task_done_not_joinable);
  mpk_test_add_data_func ("/queue/join/not-joinable", &plain_join, test_critical);
  mpk_test_add_data_func ("/queue/many/bytes", &many_bytes, test_many);
  mpk_test_add_data_func ("/queue/many/variants", &many_variants, test_many);
  mpk_test_add_data_func ("/queue/size/unbounded", &sizes_unbounded, test_sizes);
  mpk_test_add_data_func ("/queue/size/maxsize-1", &sizes_maxsize_1, test_sizes);
  mpk_test_add_data_func ("/queue/size/variants", &sizes_variants, test_sizes);
  mpk_test_add_func ("/queue/get/bytes-item-is-ay", test_bytes_item_is_ay);
  mpk_test_add_func ("/queue/get-bytes/variant-item", test_get_bytes_on_variant);
  mpk_test_add_func ("/queue/get-bytes/streamed-variant-item", test_get_bytes_on_streamed_variant);
  mpk_test_add_func ("/queue/join-before-drain", test_join_before_drain);
  mpk_test_add_func ("/queue/recoveries/none", test_no_recoveries);
  mpk_test_add_data_func ("/queue/unbounded/many/queue", &unbounded_queue, test_unbounded_many);
  mpk_test_add_data_func ("/queue/unbounded/many/joinable", &unbounded_joinable,
                          test_unbounded_many);
  mpk_test_add_data_func ("/queue/unbounded/many/simple", &unbounded_simple, test_unbounded_many);
  mpk_test_add_data_func ("/queue/full/agrees-with-put", &bounded_20000, test_unbounded_many);
  mpk_test_add_func ("/queue/unbounded/big-item", test_unbounded_big_item);
  mpk_test_add_func ("/queue/unbounded/gives-memory-back", test_unbounded_gives_back);
  mpk_test_add_func ("/queue/unbounded/crash-points", test_unbounded_crash_points);
  mpk_test_add_func ("/queue/unbounded/small-reservation", test_unbounded_small_reservation);
  mpk_test_add_func ("/queue/unbounded/address-space", test_unbounded_address_space);
  mpk_test_add_func ("/joinable-queue/join-full/many-consumers", test_join_full_many_consumers);
  mpk_test_add_func ("/queue/get/timeout-mid-item", test_get_timeout_mid_item);
  mpk_test_add_func ("/queue/put/dead-producer-no-consumer", test_dead_producer_no_consumer);
  mpk_test_add_func ("/joinable-queue/abandon-tasks/before-repair", test_abandon_before_repair);

  mpk_test_add_func ("/simple-queue/basic", test_simple_basic);
  mpk_test_add_func ("/simple-queue/empty/child", test_simple_empty_child);
  mpk_test_add_data_func ("/simple-queue/close/empty-critical/unused", &closed_simple_unused,
                          test_critical);
  mpk_test_add_data_func ("/simple-queue/close/empty-critical/used", &closed_simple_used,
                          test_critical);

  mpk_test_add_func ("/joinable-queue/task-done/workers", test_task_done_workers);
  mpk_test_add_func ("/joinable-queue/join/counts", test_join_counts);
  mpk_test_add_func ("/joinable-queue/task-done/too-many", test_task_done_too_many);
  mpk_test_add_data_func ("/joinable-queue/join-full/peer-killed", GINT_TO_POINTER (FALSE),
                          test_join_full_peer_died);
  mpk_test_add_data_func ("/joinable-queue/join-full/peer-killed-reaped", GINT_TO_POINTER (TRUE),
                          test_join_full_peer_died);
  mpk_test_add_func ("/joinable-queue/join-full/peer-exited-holding",
                     test_join_full_peer_exited_holding);
  mpk_test_add_func ("/joinable-queue/join-full/clean-exit", test_join_full_clean_exit);

  return g_test_run ();
}
