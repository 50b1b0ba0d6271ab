/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-causal.c: the merged order of a traced run against the truth. The
 * processes of each workload take turns at a shared object (a lock, a
 * queue, a Value) and write down, inside the object's own order, what
 * happened in which order: a shared counter taken under the lock, the
 * items of a one-producer FIFO, the numbers a Value held, the order of a
 * Manager list the clients appended to. `mpk-trace
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

/* --- the Manager: its calls in the order the server ran them ---------------- */

#define MANAGER_CLIENTS 3
#define MANAGER_ROUNDS  8

typedef struct
{
  MpkListProxy *list;
  MpkEvent     *go;     /* the clients start appending together */
} ManagerWork;

static int
manager_client (gpointer data)
{
  ManagerWork *w = data;
  MpkListProxy *list = w->list;
  int me = g_str_has_suffix (mpk_current_process_get_name (), "1") ? 1
           : g_str_has_suffix (mpk_current_process_get_name (), "2") ? 2 : 3;

  MPK_CHILD_CHECK (mpk_event_wait (w->go, 20 * G_USEC_PER_SEC));
  for (int i = 0; i < MANAGER_ROUNDS; i++)
    MPK_CHILD_CHECK (mpk_list_proxy_append (list, g_variant_new ("(ii)", me, i), NULL));
  return 0;
}

/* The merged position of the manager.serve of append (c, i), and of the
 * manager.reply its server thread sent next. */
static void
find_append (GPtrArray *events, int c, int i, guint *serve, guint *reply)
{
  g_autofree char *sum = g_strdup_printf ("tuple (%d, %d)", c, i);
  const char *th = NULL;
  gint64 pid = 0;

  *serve = *reply = G_MAXUINT;
  for (guint k = 0; k < events->len; k++)
    {
      JsonObject *e = g_ptr_array_index (events, k);
      const char *e_th = json_object_has_member (e, "th") ? str_member (e, "th") : NULL;

      if (*serve == G_MAXUINT && is_ev (e, "manager.serve")
          && g_strcmp0 (str_member (e, "method"), "append") == 0
          && g_strcmp0 (str_member (e, "sum"), sum) == 0)
        {
          *serve = k;
          th = e_th;
          pid = json_object_get_int_member (e, "pid");
        }
      else if (*serve != G_MAXUINT && is_ev (e, "manager.reply")
               && json_object_get_int_member (e, "pid") == pid && g_strcmp0 (e_th, th) == 0)
        {
          *reply = k;
          return;
        }
    }
}

static void
test_manager (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_auto(GStrv) order = NULL;
  const char *truth = NULL;

  if (g_test_subprocess ())
    {
      g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);
      g_autoptr(GString) text = g_string_new ("order");
      MpkManager *manager = mpk_manager_new_started (NULL);
      MpkListProxy *list;
      ManagerWork w;
      gint64 n;

      g_assert_nonnull (manager);
      list = mpk_manager_list (manager, g_variant_new_parsed ("@a(ii) []"), NULL);
      g_assert_nonnull (list);
      w.list = list;
      w.go = mpk_event_new (NULL);
      g_assert_nonnull (w.go);
      for (guint i = 0; i < MANAGER_CLIENTS; i++)
        {
          g_autofree char *name = g_strdup_printf ("client %u", i + 1);

          g_ptr_array_add (children, mpk_process_new (name, manager_client, &w, NULL));
          g_assert_true (mpk_process_start (g_ptr_array_index (children, i), NULL));
        }
      mpk_event_set (w.go);
      join_all (children);
      mpk_event_free (w.go);
      /* The list's order is the order the server ran the appends. */
      n = mpk_list_proxy_len (list, NULL);
      g_assert_cmpint (n, ==, MANAGER_CLIENTS * MANAGER_ROUNDS);
      for (gint64 k = 0; k < n; k++)
        {
          g_autoptr(GVariant) item = mpk_list_proxy_get (list, k, NULL);
          int c, i;

          g_assert_nonnull (item);
          g_variant_get (item, "(ii)", &c, &i);
          g_string_append_printf (text, " %d,%d", c, i);
        }
      mpk_trace_mark ("%s", text->str);
      mpk_list_proxy_unref (list);
      g_assert_true (mpk_manager_shutdown (manager, 20 * G_USEC_PER_SEC, NULL));
      mpk_manager_free (manager);
      return;
    }
  g_test_summary ("Clients appending to one Manager list at once: the list's order is the "
                  "order the server ran the appends, and in the merge each append's serve "
                  "comes before the reply to the append the server ran next");
  dir = run_traced ("manager");
  events = merge (dir);
  for (guint k = 0; k < events->len && truth == NULL; k++)
    {
      JsonObject *e = g_ptr_array_index (events, k);

      if (is_ev (e, "mark") && g_str_has_prefix (str_member (e, "text"), "order "))
        truth = str_member (e, "text");
    }
  g_assert_nonnull (truth);
  g_test_message ("the server ran the appends in this order (client,item): %s", truth);
  order = g_strsplit (truth + strlen ("order "), " ", -1);
  g_assert_cmpuint (g_strv_length (order), ==, MANAGER_CLIENTS * MANAGER_ROUNDS);
  for (guint k = 0; order[k + 1] != NULL; k++)
    {
      int c0, i0, c1, i1;
      guint serve0, reply0, serve1, reply1;

      g_assert_cmpint (sscanf (order[k], "%d,%d", &c0, &i0), ==, 2);
      g_assert_cmpint (sscanf (order[k + 1], "%d,%d", &c1, &i1), ==, 2);
      find_append (events, c0, i0, &serve0, &reply0);
      find_append (events, c1, i1, &serve1, &reply1);
      if (serve0 == G_MAXUINT || reply1 == G_MAXUINT)
        causal_fail ("append (%d, %d) or (%d, %d) is missing its serve or reply in the merge "
                     "(folder %s)", c0, i0, c1, i1, dir);
      if (serve0 > reply1)
        causal_fail ("the server ran append (%d, %d) before (%d, %d), but the merge lists "
                     "the first one's serve (event %u) after the second one's reply (event %u) "
                     "(folder %s)", c0, i0, c1, i1, serve0 + 1, reply1 + 1, dir);
    }
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
  mpk_test_add_func ("/causal/manager/list", test_manager);
  return g_test_run ();
}
