/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-util.h: small helpers shared by the unit tests: a pipe whose two ends belong
 * to a parent and a child, starting and joining a child, sending and checking, word
 * handshakes, the forking tests' guards, shared memory and seeds, the per-test
 * watchdog, and assertions on a call and the GError it reports through. The
 * Manager's own helpers are in test-manager-util.h. */
#ifndef MPK_TEST_UTIL_H
#define MPK_TEST_UTIL_H

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <glib.h>
#include <mpkit.h>

/* Inside a child a failed g_assert would print TAP lines and abort; these say what
 * failed on stderr and leave the child with exit code 1, which the parent's
 * mpk_test_join() then reports. They return from the calling child function. */
#define MPK_CHILD_CHECK(expr) \
  G_STMT_START \
    { \
      if (!(expr)) \
        { \
          g_printerr ("child %d: %s:%d: check failed: %s\n", \
                      (int) getpid (), __FILE__, __LINE__, #expr); \
          return 1; \
        } \
    } \
  G_STMT_END

#define MPK_CHILD_NO_ERROR(err) \
  G_STMT_START \
    { \
      if ((err) != NULL) \
        { \
          g_printerr ("child %d: %s:%d: unexpected error: %s\n", \
                      (int) getpid (), __FILE__, __LINE__, (err)->message); \
          return 1; \
        } \
    } \
  G_STMT_END

/* A duplex pipe shared by a parent and one child. After the start the parent
 * closes @child and the child closes @parent, so each sees EOF when the other
 * goes away. */
typedef struct
{
  MpkConnection *parent;  /* the parent's end */
  MpkConnection *child;   /* the child's end */
} MpkTestChannel;

static inline void
mpk_test_pipe (gboolean        duplex,
               MpkConnection **conn1,
               MpkConnection **conn2)
{
  GError *error = NULL;
  gboolean ok;

  ok = mpk_pipe_new (duplex, conn1, conn2, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_nonnull (*conn1);
  g_assert_nonnull (*conn2);
}

static inline void
mpk_test_channel_init (MpkTestChannel *channel)
{
  mpk_test_pipe (TRUE, &channel->parent, &channel->child);
}

static inline void
mpk_test_channel_clear (MpkTestChannel *channel)
{
  g_clear_pointer (&channel->parent, mpk_connection_free);
  g_clear_pointer (&channel->child, mpk_connection_free);
}

/* Runs the calling test again in a subprocess (fresh process state, a
 * crash stays contained) and asserts it passed. Returns TRUE inside that
 * subprocess, where the test body runs; FALSE in the parent, which returns. */
static inline gboolean
mpk_test_in_subprocess (const char *summary)
{
  if (g_test_subprocess ())
    return TRUE;
  g_test_summary (summary);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  return FALSE;
}

/* A child body that blocks until the parent sends something or closes its end. */
static inline int
mpk_test_blocking_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GVariant *v;

  mpk_connection_close (channel->parent);
  v = mpk_connection_recv (channel->child, MPK_WAIT_FOREVER, NULL);
  g_clear_pointer (&v, g_variant_unref);
  return 0;
}

/* Returns a started child running @func (@data); asserts that it started. */
static inline MpkProcess *
mpk_test_start (MpkProcessFunc func,
                gpointer       data)
{
  GError *error = NULL;
  MpkProcess *process;
  gboolean ok;

  process = mpk_process_new (NULL, func, data, NULL);
  g_assert_nonnull (process);
  ok = mpk_process_start (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return process;
}

/* Waits for @process to exit, checks its exit code and drops the reference. */
static inline void
mpk_test_join (MpkProcess *process,
               int         expected_exitcode)
{
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, expected_exitcode);
  mpk_process_unref (process);
}

/* Sends @msg (a floating reference is consumed) and asserts success. */
static inline void
mpk_test_send (MpkConnection *conn,
               GVariant      *msg)
{
  GError *error = NULL;
  gboolean ok;

  g_variant_ref_sink (msg);
  ok = mpk_connection_send (conn, msg, MPK_WAIT_FOREVER, &error);
  g_variant_unref (msg);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static inline void
mpk_test_send_bytes (MpkConnection *conn,
                     gconstpointer  data,
                     gsize          len)
{
  GError *error = NULL;
  gboolean ok;

  ok = mpk_connection_send_bytes (conn, data, len, 0, -1, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

/* Receives one message and asserts that it holds exactly @len bytes of @data. */
static inline void
mpk_test_assert_recv_bytes (MpkConnection *conn,
                            gconstpointer  data,
                            gsize          len)
{
  GError *error = NULL;
  GBytes *bytes;

  bytes = mpk_connection_recv_bytes (conn, -1, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, len);
  g_bytes_unref (bytes);
}

/* MPK_VALGRIND is set (and not "0"): everything runs many times slower. */
static inline gboolean
under_valgrind (void)
{
  const char *v = g_getenv ("MPK_VALGRIND");

  return v != NULL && *v != '\0' && g_strcmp0 (v, "0") != 0;
}

/* --- word handshakes between a parent and its child ------------------------
 * The robustness and lock tests step a child through a scenario with short
 * words on an MpkTestChannel. Every wait is bounded, so no test can hang. */

#define MPK_TEST_CHILD_TIMEOUT_US ((under_valgrind () ? 60 : 10) * G_USEC_PER_SEC)

/* Sends @word to the child (asserts). */
static inline void
parent_say (MpkTestChannel *channel,
            const char     *word)
{
  mpk_test_send (channel->parent, g_variant_new_string (word));
}

/* Waits (bounded) for @word from the child. */
static inline void
parent_expect (MpkTestChannel *channel,
               const char     *word)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = mpk_connection_recv (channel->parent, MPK_TEST_CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "s");
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, word);
}

/* Sends @word to the parent; FALSE if it could not. */
static inline gboolean
child_say (MpkTestChannel *channel,
           const char     *word)
{
  return mpk_connection_send (channel->child, g_variant_new_string (word),
                              MPK_TEST_CHILD_TIMEOUT_US, NULL);
}

/* Waits (bounded) for the parent's next message; FALSE on EOF or timeout. */
static inline gboolean
child_wait (MpkTestChannel *channel)
{
  g_autoptr(GVariant) v = mpk_connection_recv (channel->child, MPK_TEST_CHILD_TIMEOUT_US, NULL);

  return v != NULL;
}

/* --- helpers of the forking tests (queue, lock, robustness, fuzz) ----------- */

/* The first thing every child does: if the test process dies (a failed
 * assertion aborts it), the child is killed instead of outliving it. */
static inline void
child_guard (void)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != mpk_parent_process_get_pid ())
    _exit (1);
}

/* Joins @process within @timeout_us (killing it if it overruns), checks its
 * exit code and drops the reference. */
static inline void
join_child_within (MpkProcess *process,
                   int         expected_exitcode,
                   gint64      timeout_us)
{
  gboolean exited = mpk_process_join (process, timeout_us);
  int exitcode;

  if (!exited)
    {
      g_printerr ("%s did not exit in time: killing it\n", mpk_process_get_name (process));
      mpk_process_kill (process, NULL);
      mpk_process_join (process, MPK_WAIT_FOREVER);
    }
  exitcode = mpk_process_get_exitcode (process);
  mpk_process_unref (process);
  g_assert_true (exited);
  g_assert_cmpint (exitcode, ==, expected_exitcode);
}

/* join_child_within() the usual allowance, MPK_TEST_CHILD_TIMEOUT_US. */
static inline void
join_child (MpkProcess *process,
            int         expected_exitcode)
{
  join_child_within (process, expected_exitcode, MPK_TEST_CHILD_TIMEOUT_US);
}

/* join_child() with four times the allowance, for children whose work is
 * thousands of round trips (on a loaded two-CPU machine, or under valgrind,
 * that can take longer than the usual allowance); still inside the watchdog. */
static inline void
join_busy_child (MpkProcess *process,
                 int         expected_exitcode)
{
  join_child_within (process, expected_exitcode, 4 * MPK_TEST_CHILD_TIMEOUT_US);
}

/* @size zeroed bytes of anonymous shared memory (asserts): children forked
 * afterwards see the same pages. The test unmaps it with munmap (p, size). */
static inline gpointer
shared_new (gsize size)
{
  gpointer mem = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  g_assert_true (mem != MAP_FAILED);
  memset (mem, 0, size);
  return mem;
}

/* A 32-bit integer hash (lowbias32): the randomised tests derive each round's
 * and each worker's seed from one printed seed with it, so a failure replays. */
static inline guint32
mix32 (guint32 x)
{
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* A GCompareFunc over two char * elements (g_ptr_array_sort, qsort). */
static inline int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A library bug that blocks the test process itself (a wait that should
 * fail at once) ends the run here rather than at run-tests.sh's timeout;
 * the children follow through child_guard(). Alarms are not inherited by
 * fork(), and g_test_trap_subprocess() children arm their own.
 *
 * The allowance is per test, not per binary: a binary's total time grows
 * with its number of tests and with the machine's load (ASan on a loaded
 * machine took test-queue past a whole-binary minute), while one test that
 * takes a minute is a hang. Tests registered with mpk_test_add_func() or
 * mpk_test_add_data_func() re-arm it as they start, and the message names
 * the test that ran too long. */
static char mpk_test_watchdog_path[256];

static inline void
mpk_test_watchdog_fired (int signum)
{
  static const char msg[] = "watchdog: this test ran too long (a hang?): ";

  if (write (STDERR_FILENO, msg, sizeof msg - 1) < 0
      || write (STDERR_FILENO, mpk_test_watchdog_path, strlen (mpk_test_watchdog_path)) < 0
      || write (STDERR_FILENO, "\n", 1) < 0)
    _exit (125);
  _exit (125);
}

static inline void
arm_watchdog (void)
{
  const char *path = g_test_get_path ();

  g_strlcpy (mpk_test_watchdog_path, path != NULL && *path != '\0' ? path : "(between tests)",
             sizeof mpk_test_watchdog_path);
  signal (SIGALRM, mpk_test_watchdog_fired);
  alarm (under_valgrind () ? 300 : 60);
}

typedef struct
{
  GTestFunc     func;
  GTestDataFunc data_func;
  gconstpointer data;
} MpkTestWatched;

static inline void
mpk_test_run_watched (gconstpointer data)
{
  const MpkTestWatched *test = data;

  arm_watchdog ();
  if (test->func != NULL)
    test->func ();
  else
    test->data_func (test->data);
}

/* The registrations live as long as the test binary: a global array keeps
 * them reachable, so a g_test_trap_subprocess() child, which exits without
 * freeing the suite, reports no leak to LeakSanitizer or valgrind. */
static GPtrArray *mpk_test_watched_all;

static inline MpkTestWatched *
mpk_test_watched_new (void)
{
  if (mpk_test_watched_all == NULL)
    mpk_test_watched_all = g_ptr_array_new ();
  g_ptr_array_add (mpk_test_watched_all, g_new0 (MpkTestWatched, 1));
  return g_ptr_array_index (mpk_test_watched_all, mpk_test_watched_all->len - 1);
}

/* g_test_add_func() with the watchdog re-armed as the test starts. */
static inline void
mpk_test_add_func (const char *path,
                   GTestFunc   func)
{
  MpkTestWatched *test = mpk_test_watched_new ();

  test->func = func;
  g_test_add_data_func (path, test, mpk_test_run_watched);
}

/* g_test_add_data_func() with the watchdog re-armed as the test starts. */
static inline void
mpk_test_add_data_func (const char    *path,
                        gconstpointer  data,
                        GTestDataFunc  func)
{
  MpkTestWatched *test = mpk_test_watched_new ();

  test->data_func = func;
  test->data = data;
  g_test_add_data_func (path, test, mpk_test_run_watched);
}

/* --- timed failures ---------------------------------------------------------- */

/* Tests hold no timing thresholds: a loaded machine may delay any call. A
 * timed call is checked for what is correct whatever the load: it never
 * returns before its timeout (@lo), and it does return (no hang: within
 * @hi plus this much). How long it took against the expected @hi goes to
 * the test log, where a slow path still shows. */
#define MPK_TEST_HANG_US (10 * G_USEC_PER_SEC)

/* Asserts that @elapsed (µs) is at least @lo and not a hang (at most @hi +
 * MPK_TEST_HANG_US); logs it against the expected @hi. */
#define ASSERT_DURATION(elapsed, lo, hi) \
  G_STMT_START \
    { \
      gint64 elapsed_us = (elapsed); \
      gint64 least_us = (lo); \
      gint64 expected_us = (hi); \
      g_test_message ("took %" G_GINT64_FORMAT " µs (at least %" G_GINT64_FORMAT \
                      ", expected at most %" G_GINT64_FORMAT "%s)", elapsed_us, least_us, \
                      expected_us, elapsed_us > expected_us ? ": slow, not failed" : ""); \
      g_assert_cmpint (elapsed_us, >=, least_us); \
      g_assert_cmpint (elapsed_us, <=, expected_us + MPK_TEST_HANG_US); \
    } \
  G_STMT_END

/* Asserts that evaluating @call (a gboolean) fails with @code in @error_var
 * after [lo, hi] µs (the window may be given as one macro: "lo, hi"). */
#define ASSERT_FAILS_IN(call, error_var, code, ...) \
  ASSERT_FAILS_IN_ (call, error_var, code, __VA_ARGS__)
#define ASSERT_FAILS_IN_(call, error_var, code, lo, hi) \
  G_STMT_START \
    { \
      gint64 start_ = g_get_monotonic_time (); \
      gboolean succeeded = (call); \
      gint64 end_ = g_get_monotonic_time (); \
      g_assert_false (succeeded); \
      g_assert_error ((error_var), MPK_ERROR, (code)); \
      g_clear_error (&(error_var)); \
      ASSERT_DURATION (end_ - start_, (lo), (hi)); \
    } \
  G_STMT_END

/* --- a call and its GError ---------------------------------------------------
 * @call reports through &@error, a GError * the test declares (usually
 * g_autoptr(GError) error = NULL) and names here too. The macros check both the
 * call's result and @error, say what was expected and what came, and leave
 * @error NULL, so that one variable serves a whole test:
 *   ASSERT_OK (mpk_lock_release (lock, &error), error);
 *   ASSERT_FAILS (mpk_lock_release (lock, &error), error, MPK_ERROR_INVALID); */

/* @call (a gboolean) must return TRUE with no error. */
#define ASSERT_OK(call, error) \
  G_STMT_START \
    { \
      gboolean ok_ = (call); \
      g_assert_no_error (error); \
      g_assert_true (ok_); \
    } \
  G_STMT_END

/* @call (a gboolean) must return FALSE with MPK_ERROR @code and a message. */
#define ASSERT_FAILS(call, error, code) \
  G_STMT_START \
    { \
      gboolean ok_ = (call); \
      g_assert_error ((error), MPK_ERROR, (code)); \
      g_assert_false (ok_); \
      g_assert_cmpstr ((error)->message, !=, ""); \
      g_clear_error (&(error)); \
    } \
  G_STMT_END

#endif /* MPK_TEST_UTIL_H */
