/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-causal.c: the merged order of a traced run against the truth. The
 * processes of each workload take turns at a shared object (a lock, a
 * queue, a Value) and write down, inside the object's own order, what
 * happened in which order: a shared counter taken under the lock, the
 * items of a one-producer FIFO, the numbers a Value held. `mpk-trace
 * merge` must list the events in that order, although no message went
 * between the processes: only the objects' "ord" (README, "Merging") says
 * it. Each workload runs traced in a fresh exec of this binary (the switch
 * is read before main()); the parent reads the merge. */
#include "mpk-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "test-util.h"

#define TRAP_TIMEOUT (60 * G_USEC_PER_SEC)   /* only stops a hang */
#define LOCK_ROUNDS  25
#define N_ITEMS      48
#define VALUE_ROUNDS 20

/* Fails the test with a message that says what was expected and found. */
#define causal_fail(...) \
  G_STMT_START \
    { \
      g_autofree char *causal_fail_msg_ = g_strdup_printf (__VA_ARGS__); \
      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, causal_fail_msg_); \
    } \
  G_STMT_END

/* --- running traced and merging -------------------------------------------- */

static char *
find_trace_tool (void)
{
  const char *env = g_getenv ("MPK_TRACE_TOOL");
  g_autofree char *exe = NULL;
  g_autofree char *bindir = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  exe = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (exe);
  bindir = g_path_get_dirname (exe);
  return g_canonicalize_filename ("../tools/mpk-trace", bindir);
}

/* Runs the calling test again in a fresh exec of this binary with
 * MPK_TRACE=@spec into a new folder, which is returned. */
static char *
run_traced (const char *spec)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mpk-causal-XXXXXX", &error);

  g_assert_no_error (error);
  g_test_message ("trace folder: %s", dir);
  g_setenv ("MPK_TRACE", spec, TRUE);
  g_setenv ("MPK_TRACE_DIR", dir, TRUE);
  g_test_trap_subprocess (NULL, TRAP_TIMEOUT, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv ("MPK_TRACE");
  g_unsetenv ("MPK_TRACE_DIR");
  g_test_trap_assert_passed ();
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (dir);
}

/* The events of `mpk-trace merge DIR`, in its order (headers left out). */
static GPtrArray *
merge (const char *dir)
{
  g_autofree char *tool = find_trace_tool ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  const char *argv[] = { "timeout", "-k", "5", "60", tool, "merge", dir, NULL };
  GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  int status;

  g_assert_true (g_file_test (tool, G_FILE_TEST_IS_EXECUTABLE));
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    causal_fail ("%s merge %s failed (%s); its stderr:\n%s", tool, dir, error->message, err);
  if (err != NULL && strstr (err, "cycle") != NULL)
    causal_fail ("mpk-trace merge %s found a cycle in the happens-before edges:\n%s", dir, err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonNode *root;

      if (*lines[i] == '\0')
        continue;
      if (!json_parser_load_from_data (parser, lines[i], -1, &error))
        causal_fail ("merge line %u is not JSON (%s): %s", i + 1, error->message, lines[i]);
      root = json_parser_get_root (parser);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
      if (json_object_has_member (json_node_get_object (root), "ev"))
        g_ptr_array_add (events, json_object_ref (json_node_get_object (root)));
    }
  return events;
}

static const char *
str_member (JsonObject *e, const char *key)
{
  return json_object_has_member (e, key) ? json_object_get_string_member (e, key) : NULL;
}

static gboolean
is_ev (JsonObject *e, const char *ev)
{
  return g_strcmp0 (str_member (e, "ev"), ev) == 0;
}

/* A shared word made before fork: the ground truth's counter. */
static guint64 *
shared_counter (void)
{
  void *p = mmap (NULL, sizeof (guint64), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);

  g_assert_true (p != MAP_FAILED);
  *(guint64 *) p = 0;
  return p;
}

static void
join_all (GPtrArray *children)
{
  for (guint i = 0; i < children->len; i++)
    {
      MpkProcess *child = g_ptr_array_index (children, i);

      g_assert_true (mpk_process_join (child, 30 * G_USEC_PER_SEC));
      g_assert_cmpint (mpk_process_get_exitcode (child), ==, 0);
    }
}

/* --- a lock: its holders, one after the other -------------------------------- */

typedef struct
{
  MpkLock *lock;
  guint64 *counter;
} LockWork;

static int
lock_worker (gpointer data)
{
  LockWork *w = data;

  for (guint i = 0; i < LOCK_ROUNDS; i++)
    {
      MPK_CHILD_CHECK (mpk_lock_acquire (w->lock, 20 * G_USEC_PER_SEC, NULL));
      /* Inside the critical section: this holder's place in the truth. */
      mpk_trace_mark ("cs %" G_GUINT64_FORMAT, (*w->counter)++);
      MPK_CHILD_CHECK (mpk_lock_release (w->lock, NULL));
    }
  return 0;
}

static void
test_lock (gconstpointer data)
{
  guint n_workers = GPOINTER_TO_UINT (data);
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) events = NULL;
  const char *holder = NULL;
  gint64 next = 0;

  if (g_test_subprocess ())
    {
      g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);
      LockWork w = { mpk_lock_new (NULL), shared_counter () };

      g_assert_nonnull (w.lock);
      for (guint i = 0; i < n_workers; i++)
        {
          g_ptr_array_add (children, mpk_process_new (NULL, lock_worker, &w, NULL));
          g_assert_true (mpk_process_start (g_ptr_array_index (children, i), NULL));
        }
      join_all (children);
      g_assert_cmpuint (*w.counter, ==, n_workers * LOCK_ROUNDS);
      mpk_lock_free (w.lock);
      return;
    }
  g_test_summary ("Processes taking turns at one lock, each writing down a shared counter "
                  "inside its critical section: the merge lists the critical sections in "
                  "the counter's order, and never one acquire while another lane holds it");
  dir = run_traced ("lock");
  events = merge (dir);
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (events, i);
      const char *lane = str_member (e, "lane");
      const char *text = str_member (e, "text");

      if (is_ev (e, "mark") && text != NULL && g_str_has_prefix (text, "cs "))
        {
          gint64 n = g_ascii_strtoll (text + 3, NULL, 10);

          if (n != next)
            causal_fail ("merged event %u: expected critical section %" G_GINT64_FORMAT
                     " next (the counter's order), got \"%s\" in lane %s (folder %s)",
                     i + 1, next, text, lane, dir);
          if (g_strcmp0 (holder, lane) != 0)
            causal_fail ("merged event %u: critical section %" G_GINT64_FORMAT " of lane %s is "
                     "drawn while lane %s holds the lock", i + 1, n, lane,
                     holder != NULL ? holder : "(nobody)");
          next++;
        }
      else if (is_ev (e, "lock.acquire"))
        {
          if (holder != NULL)
            causal_fail ("merged event %u: lane %s acquires the lock while lane %s holds it "
                     "(folder %s)", i + 1, lane, holder, dir);
          holder = lane;
        }
      else if (is_ev (e, "lock.release"))
        {
          if (g_strcmp0 (holder, lane) != 0)
            causal_fail ("merged event %u: lane %s releases a lock held by %s", i + 1, lane,
                     holder != NULL ? holder : "(nobody)");
          holder = NULL;
        }
    }
  g_assert_cmpint (next, ==, n_workers * LOCK_ROUNDS);
  remove_dir (dir);
}

/* --- a queue: items leave in the order they came in -------------------------- */

static int
queue_consumer (gpointer data)
{
  MpkQueue *queue = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = mpk_queue_get (queue, 20 * G_USEC_PER_SEC, &error);

      MPK_CHILD_NO_ERROR (error);
      if (g_variant_get_int32 (item) < 0)
        return 0;
      /* Work that the trace records: a consumer's own events push its
       * later gets down, so only the queue's order keeps the FIFO. */
      for (guint i = 0; i < 3; i++)
        mpk_trace_mark ("working on %d", g_variant_get_int32 (item));
    }
}

static void
test_queue (gconstpointer data)
{
  guint n_consumers = GPOINTER_TO_UINT (data);
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) events = NULL;
  guint n_puts = 0, n_gets = 0;
  gint64 last_get_ord = 0;

  if (g_test_subprocess ())
    {
      g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);
      MpkQueue *queue = mpk_queue_new (0, NULL);

      g_assert_nonnull (queue);
      for (guint i = 0; i < n_consumers; i++)
        {
          g_ptr_array_add (children, mpk_process_new (NULL, queue_consumer, queue, NULL));
          g_assert_true (mpk_process_start (g_ptr_array_index (children, i), NULL));
        }
      /* One producer: the FIFO order is the order of the numbers. */
      for (gint i = 0; i < N_ITEMS; i++)
        g_assert_true (mpk_queue_put (queue, g_variant_new_int32 (i), MPK_WAIT_FOREVER, NULL));
      for (guint i = 0; i < n_consumers; i++)
        g_assert_true (mpk_queue_put (queue, g_variant_new_int32 (-1), MPK_WAIT_FOREVER, NULL));
      join_all (children);
      mpk_queue_free (queue);
      return;
    }
  g_test_summary ("One producer, several consumers on one queue: the merge lists the gets "
                  "in FIFO order (item 0, 1, 2, …, then the stop items), whichever consumer "
                  "took each, and each get after its put");
  dir = run_traced ("queue");
  events = merge (dir);
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (events, i);
      const char *sum = str_member (e, "sum");
      g_autofree char *expected = NULL;

      if (is_ev (e, "queue.put"))
        {
          expected = g_strdup_printf ("int %d", n_puts < N_ITEMS ? (int) n_puts : -1);
          if (g_strcmp0 (sum, expected) != 0)
            causal_fail ("merged event %u: expected put number %u to carry '%s', got '%s' "
                     "(folder %s)", i + 1, n_puts, expected, sum, dir);
          n_puts++;
        }
      else if (is_ev (e, "queue.get"))
        {
          gint64 ord = json_object_has_member (e, "ord") ? json_object_get_int_member (e, "ord") : 0;

          expected = g_strdup_printf ("int %d", n_gets < N_ITEMS ? (int) n_gets : -1);
          if (g_strcmp0 (sum, expected) != 0)
            causal_fail ("merged event %u: expected get number %u (FIFO) to take '%s', got '%s' "
                     "in lane %s (folder %s)", i + 1, n_gets, expected, sum,
                     str_member (e, "lane"), dir);
          if (n_gets >= n_puts)
            causal_fail ("merged event %u: get number %u is listed before its put", i + 1, n_gets);
          if (ord <= last_get_ord)
            causal_fail ("merged event %u: a get with \"ord\" %" G_GINT64_FORMAT " after one with %"
                     G_GINT64_FORMAT, i + 1, ord, last_get_ord);
          last_get_ord = ord;
          n_gets++;
        }
    }
  g_assert_cmpuint (n_puts, ==, N_ITEMS + n_consumers);
  g_assert_cmpuint (n_gets, ==, N_ITEMS + n_consumers);
  remove_dir (dir);
}

/* --- a Value: every read sees the write listed last before it ---------------- */

static int
value_worker (gpointer data)
{
  MpkValue *value = data;

  for (guint i = 0; i < VALUE_ROUNDS; i++)
    {
      mpk_value_add (value, 1);
      (void) mpk_value_get_int (value);
      MPK_CHILD_CHECK (mpk_value_set_int (value, mpk_value_get_int (value) + 0, NULL));
    }
  return 0;
}

static void
test_value (gconstpointer data)
{
  guint n_workers = GPOINTER_TO_UINT (data);
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autofree char *current = g_strdup ("0");
  guint n_adds = 0;

  if (g_test_subprocess ())
    {
      g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);
      MpkValue *value = mpk_value_new ('q', NULL);

      g_assert_nonnull (value);
      for (guint i = 0; i < n_workers; i++)
        {
          g_ptr_array_add (children, mpk_process_new (NULL, value_worker, value, NULL));
          g_assert_true (mpk_process_start (g_ptr_array_index (children, i), NULL));
        }
      join_all (children);
      g_assert_cmpint (mpk_value_get_int (value), ==, n_workers * VALUE_ROUNDS);
      mpk_value_free (value);
      return;
    }
  g_test_summary ("Processes adding to, reading and writing one Value (each access under "
                  "its lock): in the merge every access finds the number the access "
                  "listed before it left, and the adds count 0, 1, 2, … up");
  dir = run_traced ("value");
  events = merge (dir);
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (events, i);
      const char *old_text = str_member (e, "old");

      if (!is_ev (e, "value.read") && !is_ev (e, "value.write") && !is_ev (e, "value.add"))
        continue;
      if (g_strcmp0 (old_text, current) != 0)
        causal_fail ("merged event %u (%s in lane %s): expected it to find %s, the number the "
                 "access listed before it left; it found %s (folder %s)", i + 1,
                 str_member (e, "ev"), str_member (e, "lane"), current, old_text, dir);
      if (!is_ev (e, "value.read"))
        {
          g_free (current);
          current = g_strdup (str_member (e, "new"));
        }
      n_adds += is_ev (e, "value.add");
    }
  g_assert_cmpuint (n_adds, ==, n_workers * VALUE_ROUNDS);
  g_assert_cmpint (g_ascii_strtoll (current, NULL, 10), ==, n_workers * VALUE_ROUNDS);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  mpk_test_add_data_func ("/causal/lock/2", GUINT_TO_POINTER (2), test_lock);
  mpk_test_add_data_func ("/causal/lock/4", GUINT_TO_POINTER (4), test_lock);
  mpk_test_add_data_func ("/causal/queue/2-consumers", GUINT_TO_POINTER (2), test_queue);
  mpk_test_add_data_func ("/causal/queue/3-consumers", GUINT_TO_POINTER (3), test_queue);
  mpk_test_add_data_func ("/causal/queue/4-consumers", GUINT_TO_POINTER (4), test_queue);
  mpk_test_add_data_func ("/causal/value/2", GUINT_TO_POINTER (2), test_value);
  mpk_test_add_data_func ("/causal/value/3", GUINT_TO_POINTER (3), test_value);
  return g_test_run ();
}
