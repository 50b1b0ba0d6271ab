/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-trace.c: the tracer behind MPK_TRACE. The switch is read before main(),
 * so every traced workload runs in a fresh exec of this binary (a trapped
 * subprocess with MPK_TRACE in its environment); the parent then reads the
 * files back with json-glib and holds them to tools/mpk-trace/README.md. */
#include "mpk-private.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "test-util.h"

/* Generous limits: a healthy run takes milliseconds, these only stop a hang. */
#define TRAP_TIMEOUT  (20 * G_USEC_PER_SEC)
#define IO_TIMEOUT    (10 * G_USEC_PER_SEC)
#define GO_TIMEOUT_MS 10000

#define LINE_LIMIT 4096               /* README: a line is at most 4 KiB */
#define SUM_CHARS  48                 /* README: a summary is at most 48 characters */
#define ELLIPSIS   "\xe2\x80\xa6"     /* U+2026, what a shortened string ends in */

#define N_WRITERS       4
#define CHILD_MARKS     2000
#define THREAD_MARKS    500

/* --- failing with a message ------------------------------------------------ */

/* g_assert_*() cannot say which line of which file was wrong; this can. */
#define trace_fail(...) \
  G_STMT_START \
    { \
      g_autofree char *trace_fail_msg_ = g_strdup_printf (__VA_ARGS__); \
      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, trace_fail_msg_); \
    } \
  G_STMT_END

static char *
describe (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

static JsonNode *
get_member (JsonObject *object, const char *key, GType type)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
    {
      g_autofree char *text = describe (object);
      trace_fail ("expected %s member \"%s\" in %s",
                  type == G_TYPE_STRING ? "a string" : "an integer", key, text);
    }
  return node;
}

static const char *
get_str (JsonObject *object, const char *key)
{
  return json_node_get_string (get_member (object, key, G_TYPE_STRING));
}

static gint64
get_int (JsonObject *object, const char *key)
{
  return json_node_get_int (get_member (object, key, G_TYPE_INT64));
}

static gboolean
has_ev_prefix (JsonObject *event, const char *prefix)
{
  return g_str_has_prefix (get_str (event, "ev"), prefix);
}

/* --- files and folders --------------------------------------------------------- */

static char *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mpkit-test-trace-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_nonnull (dir);
  return dir;
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
    }
  g_remove (path);
}

static guint
count_entries (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
  guint n = 0;

  g_assert_no_error (error);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* --- reading a trace ------------------------------------------------------------ */

typedef struct
{
  guint32     pid;
  char       *path;
  JsonObject *header;   /* the first line */
  GPtrArray  *events;   /* JsonObject *, the other lines in file order */
} TraceFile;

static void
trace_file_free (TraceFile *file)
{
  g_free (file->path);
  g_clear_pointer (&file->header, json_object_unref);
  g_clear_pointer (&file->events, g_ptr_array_unref);
  g_free (file);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceFile, trace_file_free)

static JsonObject *
parse_line (const char *path, guint line_no, const char *text, gsize len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, len, &error))
    trace_fail ("%s:%u: not JSON (%s): %.*s", path, line_no, error->message, (int) len, text);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    trace_fail ("%s:%u: not a JSON object: %.*s", path, line_no, (int) len, text);
  return json_object_ref (json_node_get_object (root));
}

static void
check_header (TraceFile *file)
{
  JsonObject *header = file->header;

  g_assert_cmpint (get_int (header, "v"), ==, 1);
  g_assert_cmpstr (get_str (header, "type"), ==, "proc");
  g_assert_cmpint (get_int (header, "pid"), ==, file->pid);
  g_assert_cmpint (get_int (header, "ppid"), >, 0);
  g_assert_cmpstr (get_str (header, "name"), !=, "");
  g_assert_cmpstr (get_str (header, "run"), !=, "");
  g_assert_cmpstr (get_str (header, "clock"), ==, "CLOCK_MONOTONIC");
  g_assert_cmpstr (get_str (header, "boot_id"), !=, "");
  g_assert_cmpint (get_int (header, "t0_mono_ns"), >, 0);
  g_assert_cmpint (get_int (header, "t0_real_ns"), >, 0);
}

/* Reads one trace-<pid>.jsonl and checks what every file must satisfy:
 * whole lines of at most LINE_LIMIT bytes, valid UTF-8 and JSON, a header
 * first, then events with ts/pid/seq/lc/ev and seq = 1, 2, 3, ... */
static TraceFile *
trace_file_load (const char *path, guint32 pid)
{
  g_autoptr(TraceFile) file = g_new0 (TraceFile, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  const char *line;
  guint line_no = 0;

  file->pid = pid;
  file->path = g_strdup (path);
  file->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  if (length == 0 || contents[length - 1] != '\n')
    trace_fail ("%s: empty, or its last line has no newline (%" G_GSIZE_FORMAT " bytes)",
                path, length);
  if (strlen (contents) != length)
    trace_fail ("%s: holds a NUL byte", path);

  for (line = contents; *line != '\0'; )
    {
      const char *end = strchr (line, '\n');
      gsize len = end - line;
      JsonObject *object;

      line_no++;
      if (len + 1 > LINE_LIMIT)
        trace_fail ("%s:%u: %" G_GSIZE_FORMAT " bytes with its newline, over %d",
                    path, line_no, len + 1, LINE_LIMIT);
      if (!g_utf8_validate (line, len, NULL))
        trace_fail ("%s:%u: not valid UTF-8", path, line_no);
      object = parse_line (path, line_no, line, len);
      if (file->header == NULL)
        {
          file->header = object;
          check_header (file);
        }
      else
        {
          g_ptr_array_add (file->events, object);
          if (json_object_has_member (object, "type"))
            trace_fail ("%s:%u: a second header", path, line_no);
          g_assert_cmpint (get_int (object, "ts"), >, 0);
          g_assert_cmpint (get_int (object, "pid"), ==, pid);
          if (get_int (object, "seq") != (gint64) file->events->len)
            trace_fail ("%s:%u: seq %" G_GINT64_FORMAT ", expected %u", path, line_no,
                        get_int (object, "seq"), file->events->len);
          g_assert_cmpint (get_int (object, "lc"), >, 0);
          g_assert_cmpstr (get_str (object, "ev"), !=, "");
        }
      line = end + 1;
    }
  return g_steal_pointer (&file);
}

/* Loads every file of @dir; anything but trace-<pid>.jsonl there is an error. */
static GPtrArray *
trace_load (const char *dir_path)
{
  GPtrArray *files = g_ptr_array_new_with_free_func ((GDestroyNotify) trace_file_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, &error);
  const char *name;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *expected = NULL;
      guint pid = 0;

      if (sscanf (name, "trace-%u.jsonl", &pid) == 1)
        expected = g_strdup_printf ("trace-%u.jsonl", pid);
      if (g_strcmp0 (name, expected) != 0)
        trace_fail ("unexpected file %s in the trace folder", path);
      g_ptr_array_add (files, trace_file_load (path, pid));
    }
  return files;
}

/* The one file whose header has "name":@name. */
static TraceFile *
trace_find (GPtrArray *files, const char *name)
{
  TraceFile *found = NULL;

  for (guint i = 0; i < files->len; i++)
    {
      TraceFile *file = g_ptr_array_index (files, i);

      if (g_strcmp0 (get_str (file->header, "name"), name) != 0)
        continue;
      if (found != NULL)
        trace_fail ("two trace files are named \"%s\": %s and %s", name, found->path, file->path);
      found = file;
    }
  if (found == NULL)
    trace_fail ("no trace file is named \"%s\"", name);
  return found;
}

/* The events of @file named @ev, in file order (borrowed). */
static GPtrArray *
trace_events (TraceFile *file, const char *ev)
{
  GPtrArray *found = g_ptr_array_new ();

  for (guint i = 0; i < file->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (file->events, i);

      if (g_strcmp0 (get_str (event, "ev"), ev) == 0)
        g_ptr_array_add (found, event);
    }
  return found;
}

/* The one event named @ev; fails if there are none or several. */
static JsonObject *
trace_event (TraceFile *file, const char *ev)
{
  g_autoptr(GPtrArray) found = trace_events (file, ev);

  if (found->len != 1)
    trace_fail ("%s: %u \"%s\" events, expected one", file->path, found->len, ev);
  return g_ptr_array_index (found, 0);
}

/* The event @ev carrying message @msg, or NULL. */
static JsonObject *
trace_find_message (TraceFile *file, const char *ev, const char *msg)
{
  for (guint i = 0; i < file->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (file->events, i);

      if (g_strcmp0 (get_str (event, "ev"), ev) == 0
          && g_strcmp0 (get_str (event, "msg"), msg) == 0)
        return event;
    }
  return NULL;
}

static guint
count_events (TraceFile *file, const char *ev)
{
  g_autoptr(GPtrArray) found = trace_events (file, ev);

  return found->len;
}

static guint
count_ev_prefix (TraceFile *file, const char *prefix)
{
  guint n = 0;

  for (guint i = 0; i < file->events->len; i++)
    n += has_ev_prefix (g_ptr_array_index (file->events, i), prefix);
  return n;
}

/* "proc.start pipe.send ..." : one string, so a failure shows the whole lane. */
static char *
ev_names (TraceFile *file)
{
  GString *names = g_string_new (NULL);

  for (guint i = 0; i < file->events->len; i++)
    {
      if (i > 0)
        g_string_append_c (names, ' ');
      g_string_append (names, get_str (g_ptr_array_index (file->events, i), "ev"));
    }
  return g_string_free (names, FALSE);
}

/* Checks the two sides of every message @from sent to @to: same id, pipe,
 * size and summary, the receive after the send in both clocks. Returns
 * how many there were. */
static guint
check_messages (TraceFile *from, TraceFile *to)
{
  g_autoptr(GPtrArray) sends = trace_events (from, "pipe.send");

  for (guint i = 0; i < sends->len; i++)
    {
      JsonObject *send = g_ptr_array_index (sends, i);
      const char *msg = get_str (send, "msg");
      g_autofree char *origin = g_strdup_printf ("%u.", from->pid);
      JsonObject *recv = trace_find_message (to, "pipe.recv", msg);

      if (recv == NULL)
        trace_fail ("message %s sent in %s is never received in %s", msg, from->path, to->path);
      g_assert_true (g_str_has_prefix (msg, origin));
      g_assert_cmpstr (get_str (send, "dir"), ==, "out");
      g_assert_cmpstr (get_str (recv, "dir"), ==, "in");
      g_assert_true (g_str_has_prefix (get_str (send, "obj"), "pipe:"));
      g_assert_cmpstr (get_str (recv, "obj"), ==, get_str (send, "obj"));
      g_assert_cmpint (get_int (recv, "bytes"), ==, get_int (send, "bytes"));
      g_assert_cmpstr (get_str (recv, "sum"), ==, get_str (send, "sum"));
      g_assert_cmpint (g_utf8_strlen (get_str (send, "sum"), -1), <=, SUM_CHARS);
      g_assert_cmpint (get_int (recv, "lc"), >, get_int (send, "lc"));
      g_assert_cmpint (get_int (recv, "ts"), >=, get_int (send, "ts"));
    }
  return sends->len;
}

/* --- running traced code ----------------------------------------------------- */

/* Runs the calling test again in a fresh exec of this binary, with
 * MPK_TRACE=@spec and MPK_TRACE_DIR a new folder, which is returned. */
static char *
run_traced (const char           *spec,
            GTestSubprocessFlags  flags)
{
  char *dir = make_tmp_dir ();

  g_test_message ("trace folder: %s", dir);
  g_setenv ("MPK_TRACE", spec, TRUE);
  g_setenv ("MPK_TRACE_DIR", dir, TRUE);
  g_test_trap_subprocess (NULL, TRAP_TIMEOUT, flags);
  g_unsetenv ("MPK_TRACE");
  g_unsetenv ("MPK_TRACE_DIR");
  g_test_trap_assert_passed ();
  return dir;
}

/* Set in the copies run_self_in() starts: they run a test's traced half. */
#define CHILD_HALF_ENV "MPK_TEST_TRACE_CHILD_HALF"

static gboolean
is_child_half (void)
{
  return g_test_subprocess () || g_getenv (CHILD_HALF_ENV) != NULL;
}

/* Runs the calling test again in a fresh exec of this binary whose current
 * folder is @cwd, and returns its stderr. g_test_trap_subprocess() cannot:
 * it always starts the copy in the folder the test program started in,
 * and the tracer chooses its default folder before main(). */
static char *
run_self_in (const char *cwd)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { "timeout", "-k", "5", "20", exe, "-q", "-p", g_test_get_path (), NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  char *err = NULL;
  int status;

  g_assert_nonnull (exe);
  g_setenv (CHILD_HALF_ENV, "1", TRUE);
  g_spawn_sync (cwd, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_unsetenv (CHILD_HALF_ENV);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    trace_fail ("the traced copy of %s failed (%s)\nits stdout:\n%s\nits stderr:\n%s",
                g_test_get_path (), error->message, out, err);
  return err;
}

static GVariant *
recv_ok (MpkConnection *conn)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = mpk_connection_recv (conn, IO_TIMEOUT, &error);

  g_assert_no_error (error);
  g_assert_nonnull (v);
  return v;
}

static MpkProcess *
start_named (const char     *name,
             MpkProcessFunc  func,
             gpointer        data)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *process = mpk_process_new (name, func, data, NULL);

  mpk_process_start (process, &error);
  g_assert_no_error (error);
  return process;
}

/* Joins with a timeout, so a stuck child fails the test instead of hanging it. */
static void
join_ok (MpkProcess *process,
         int         expected_exitcode)
{
  g_assert_true (mpk_process_join (process, IO_TIMEOUT));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, expected_exitcode);
  mpk_process_unref (process);
}

/* Receives one message, replies "<it> + 1", exits: the worker of the
 * two-process tests. */
static int
echo_child (gpointer data)
{
  MpkTestChannel *channel = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  mpk_connection_close (channel->parent);
  v = mpk_connection_recv (channel->child, IO_TIMEOUT, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32));
  mpk_connection_send (channel->child, g_variant_new_int32 (g_variant_get_int32 (v) + 1),
                       IO_TIMEOUT, &error);
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

/* A parent and an echo_child named @name exchange one message each way. */
static void
echo_workload (const char *name)
{
  MpkTestChannel channel;
  g_autoptr(GVariant) reply = NULL;
  MpkProcess *child;

  mpk_test_channel_init (&channel);
  child = start_named (name, echo_child, &channel);
  mpk_connection_close (channel.child);
  mpk_test_send (channel.parent, g_variant_new_int32 (41));
  reply = recv_ok (channel.parent);
  g_assert_cmpint (g_variant_get_int32 (reply), ==, 42);
  mpk_trace_mark ("got %d", g_variant_get_int32 (reply));
  join_ok (child, 0);
  mpk_test_channel_clear (&channel);
}

/* --- tracing off ------------------------------------------------------------------- */

static void
test_off (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *unused = NULL;
  g_autofree char *err = NULL;

  if (is_child_half ())
    {
      g_autoptr(MpkConnection) a = NULL;
      g_autoptr(MpkConnection) b = NULL;
      g_autoptr(GVariant) v = NULL;

      g_assert_false (mpk_trace_is_enabled ());
      g_assert_null (mpk_trace_get_dir ());
      mpk_test_pipe (TRUE, &a, &b);
      mpk_test_send (a, g_variant_new_string ("hello"));
      v = recv_ok (b);
      g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "hello");
      mpk_trace_mark ("note %d", 7);
      echo_workload ("worker");
      g_assert_false (g_file_test ("mpk-trace", G_FILE_TEST_EXISTS));
      return;
    }

  g_test_summary ("MPK_TRACE unset: tracing reports off, and pipes, processes and marks "
                  "write nothing, neither to MPK_TRACE_DIR nor to ./mpk-trace");
  dir = make_tmp_dir ();
  unused = g_build_filename (dir, "unused", NULL);
  g_unsetenv ("MPK_TRACE");
  g_setenv ("MPK_TRACE_DIR", unused, TRUE);
  err = run_self_in (dir);
  g_unsetenv ("MPK_TRACE_DIR");
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpuint (count_entries (dir), ==, 0);
  remove_tree (dir);
}

/* --- one process, one pipe ---------------------------------------------------------- */

static void
record_pipe_workload (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v1 = NULL;
  g_autoptr(GVariant) v2 = NULL;
  g_autoptr(GVariant) v3 = NULL;
  g_autoptr(GBytes) got = NULL;
  guint8 big[512], small[64], into[128];
  gssize n;

  g_assert_true (mpk_trace_is_enabled ());
  g_assert_cmpstr (mpk_trace_get_dir (), ==, g_getenv ("MPK_TRACE_DIR"));
  for (gsize i = 0; i < sizeof big; i++)
    big[i] = i * 7;
  for (gsize i = 0; i < sizeof small; i++)
    small[i] = 255 - i;

  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send (a, g_variant_new_int32 (42));
  mpk_test_send (a, g_variant_new_string ("hello"));
  mpk_test_send_bytes (a, big, sizeof big);
  mpk_test_send_bytes (a, small, sizeof small);
  mpk_test_send (b, g_variant_new ("(is)", 1, "a"));

  v1 = recv_ok (b);
  g_assert_cmpint (g_variant_get_int32 (v1), ==, 42);
  v2 = recv_ok (b);
  g_assert_cmpstr (g_variant_get_string (v2, NULL), ==, "hello");
  got = mpk_connection_recv_bytes (b, -1, IO_TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), big, sizeof big);
  n = mpk_connection_recv_bytes_into (b, into, sizeof into, 0, NULL, IO_TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (into, n, small, sizeof small);
  v3 = recv_ok (a);
  g_assert_cmpstr (g_variant_get_type_string (v3), ==, "(is)");

  mpk_trace_mark ("note %d", 7);
}

static void
test_record_pipe (void)
{
  static const char *const sums[] = {
    "int 42", "str 'hello'", "bytes[512]", "bytes[64]", "tuple (1, 'a')",
  };
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) sends = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *names = NULL;
  g_autofree char *run_prefix = NULL;
  TraceFile *file;
  JsonObject *last;

  if (g_test_subprocess ())
    {
      record_pipe_workload ();
      return;
    }

  g_test_summary ("One traced process: a header, then proc.start, one pipe.send and one "
                  "pipe.recv per message with the same id, pipe, size and summary, the "
                  "mark, and proc.exit last");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 1);
  file = g_ptr_array_index (files, 0);
  g_assert_cmpstr (get_str (file->header, "name"), ==, "MainProcess");
  g_assert_cmpint (get_int (file->header, "ppid"), ==, getpid ());
  run_prefix = g_strdup_printf ("%u-", file->pid);
  g_assert_true (g_str_has_prefix (get_str (file->header, "run"), run_prefix));

  names = ev_names (file);
  g_assert_cmpstr (names, ==,
                   "proc.start pipe.send pipe.send pipe.send pipe.send pipe.send "
                   "pipe.recv pipe.recv pipe.recv pipe.recv pipe.recv mark pipe.close pipe.close "
                   "proc.exit");
  g_assert_cmpstr (get_str (g_ptr_array_index (file->events, 0), "name"), ==, "MainProcess");

  sends = trace_events (file, "pipe.send");
  for (guint i = 0; i < G_N_ELEMENTS (sums); i++)
    g_assert_cmpstr (get_str (g_ptr_array_index (sends, i), "sum"), ==, sums[i]);
  g_assert_cmpint (get_int (g_ptr_array_index (sends, 2), "bytes"), ==, 512);
  g_assert_cmpint (get_int (g_ptr_array_index (sends, 3), "bytes"), ==, 64);
  g_assert_cmpuint (check_messages (file, file), ==, G_N_ELEMENTS (sums));
  /* Five messages, five different ids. */
  for (guint i = 0; i < sends->len; i++)
    for (guint j = i + 1; j < sends->len; j++)
      g_assert_cmpstr (get_str (g_ptr_array_index (sends, i), "msg"), !=,
                       get_str (g_ptr_array_index (sends, j), "msg"));

  g_assert_cmpstr (get_str (trace_event (file, "mark"), "text"), ==, "note 7");
  last = g_ptr_array_index (file->events, file->events->len - 1);
  g_assert_cmpint (get_int (last, "code"), ==, 0);
  remove_tree (dir);
}

/* --- two processes ------------------------------------------------------------------ */

static void
test_record_processes (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *dir = NULL;
  TraceFile *parent, *child;
  JsonObject *spawn, *start, *reaped, *end;

  if (g_test_subprocess ())
    {
      echo_workload ("worker");
      return;
    }

  g_test_summary ("A parent and its child \"worker\": two files of one run; spawn before "
                  "the child's start in Lamport time; the child's exit and the parent's "
                  "reaped; message ids match across the files both ways");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 2);
  parent = trace_find (files, "MainProcess");
  child = trace_find (files, "worker");

  g_assert_cmpint (get_int (child->header, "ppid"), ==, parent->pid);
  g_assert_cmpstr (get_str (child->header, "run"), ==, get_str (parent->header, "run"));
  g_assert_cmpstr (get_str (child->header, "boot_id"), ==, get_str (parent->header, "boot_id"));

  spawn = trace_event (parent, "proc.spawn");
  g_assert_cmpint (get_int (spawn, "child"), ==, child->pid);
  g_assert_cmpstr (get_str (spawn, "name"), ==, "worker");
  start = g_ptr_array_index (child->events, 0);
  g_assert_cmpstr (get_str (start, "ev"), ==, "proc.start");
  g_assert_cmpstr (get_str (start, "name"), ==, "worker");
  g_assert_cmpint (get_int (start, "lc"), >, get_int (spawn, "lc"));

  end = g_ptr_array_index (child->events, child->events->len - 1);
  g_assert_cmpstr (get_str (end, "ev"), ==, "proc.exit");
  g_assert_cmpint (get_int (end, "code"), ==, 0);
  reaped = trace_event (parent, "proc.reaped");
  g_assert_cmpint (get_int (reaped, "child"), ==, child->pid);
  g_assert_cmpstr (get_str (reaped, "status"), ==, "exited");
  g_assert_cmpint (get_int (reaped, "code"), ==, 0);
  g_assert_cmpint (get_int (reaped, "ts"), >=, get_int (end, "ts"));

  g_assert_cmpuint (check_messages (parent, child), ==, 1);
  g_assert_cmpuint (check_messages (child, parent), ==, 1);
  g_assert_cmpstr (get_str (trace_event (parent, "mark"), "text"), ==, "got 42");
  remove_tree (dir);
}

/* --- a child killed by SIGKILL ---------------------------------------------------------- */

static int
killed_child (gpointer data)
{
  mpk_trace_mark ("one");
  mpk_trace_mark ("two");
  mpk_trace_mark ("three");
  kill (getpid (), SIGKILL);
  return 3;   /* not reached */
}

/* The merge tool: $MPK_TRACE_TOOL, else build/tools/mpk-trace beside build/tests. */
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

/* Does the merged output hold an event @ev with @key = @value? */
static gboolean
merged_has (GPtrArray *merged, const char *ev, const char *key, const char *value)
{
  for (guint i = 0; i < merged->len; i++)
    {
      JsonObject *event = g_ptr_array_index (merged, i);

      if (json_object_has_member (event, "ev")
          && g_strcmp0 (json_object_get_string_member (event, "ev"), ev) == 0
          && json_object_has_member (event, key)
          && g_strcmp0 (json_object_get_string_member (event, key), value) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
check_merge_tool (const char *dir)
{
  g_autofree char *tool = find_trace_tool ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) merged = NULL;
  g_auto(GStrv) lines = NULL;
  const char *argv[] = { "timeout", "-k", "5", "20", tool, "merge", dir, NULL };
  int status;

  if (!g_file_test (tool, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip_printf ("the trace files passed; the merge tool %s is not built yet "
                          "(set MPK_TRACE_TOOL to test another)", tool);
      return;
    }
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 124)
    trace_fail ("%s merge %s did not finish within 20 s", tool, dir);
  if (!g_spawn_check_wait_status (status, &error))
    trace_fail ("%s merge %s failed (%s); its stderr:\n%s", tool, dir, error->message, err);

  merged = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      g_ptr_array_add (merged, parse_line ("mpk-trace merge", i + 1, lines[i], strlen (lines[i])));
  g_assert_true (merged_has (merged, "mark", "text", "one"));
  g_assert_true (merged_has (merged, "mark", "text", "two"));
  g_assert_true (merged_has (merged, "mark", "text", "three"));
  g_assert_true (merged_has (merged, "proc.reaped", "sig", "SIGKILL"));
}

static void
test_killed_child (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) marks = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *names = NULL;
  TraceFile *parent, *child;
  JsonObject *reaped;

  if (g_test_subprocess ())
    {
      MpkProcess *victim = start_named ("victim", killed_child, NULL);

      join_ok (victim, -SIGKILL);
      return;
    }

  g_test_summary ("A child killed by SIGKILL keeps every mark it wrote (one write(2) per "
                  "line) and has no proc.exit; its parent records the signal; mpk-trace "
                  "merge shows both");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 2);
  parent = trace_find (files, "MainProcess");
  child = trace_find (files, "victim");

  names = ev_names (child);
  g_assert_cmpstr (names, ==, "proc.start mark mark mark");
  marks = trace_events (child, "mark");
  g_assert_cmpstr (get_str (g_ptr_array_index (marks, 0), "text"), ==, "one");
  g_assert_cmpstr (get_str (g_ptr_array_index (marks, 1), "text"), ==, "two");
  g_assert_cmpstr (get_str (g_ptr_array_index (marks, 2), "text"), ==, "three");

  reaped = trace_event (parent, "proc.reaped");
  g_assert_cmpint (get_int (reaped, "child"), ==, child->pid);
  g_assert_cmpstr (get_str (reaped, "status"), ==, "signal");
  g_assert_cmpstr (get_str (reaped, "sig"), ==, "SIGKILL");
  g_assert_cmpint (get_int (reaped, "signo"), ==, SIGKILL);
  g_assert_false (json_object_has_member (reaped, "code"));

  check_merge_tool (dir);
  remove_tree (dir);
}

/* --- many writers at once ------------------------------------------------------------- */

/* The text of mark @i of writer @writer: "w<writer> #<i> " then a body that
 * varies with @i: short, quotes and backslashes, control characters,
 * non-ASCII, about 3000 bytes, too long for a line, or short but long once
 * escaped. */
static char *
mark_text (guint writer, guint i)
{
  GString *text = g_string_new (NULL);

  g_string_printf (text, "w%u #%u ", writer, i);
  switch (i % 8)
    {
    case 0:
      g_string_append (text, "plain");
      break;
    case 1:
      g_string_append (text, "say \"hi\" to C:\\dir\\file and \\\"this\\\"");
      break;
    case 2:
      g_string_append (text, "line one\nline two\ttabbed\r\x01\x1f\x7f end");
      break;
    case 3:
      g_string_append (text, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 "
                             "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
      break;
    case 4:
      while (text->len < 2990)
        g_string_append (text, "abcdefgh\"\\");
      break;
    case 5:
      while (text->len < 2980)
        g_string_append (text, "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80x");
      break;
    case 6:
      while (text->len < 5000)
        g_string_append (text, "0123456789\xe2\x82\xac");
      break;
    default:
      for (guint j = 0; j < (i * 37) % 1000; j++)
        g_string_append_c (text, "\n\"\\\t"[j % 4]);
      break;
    }
  return g_string_free (text, FALSE);
}

/* Bytes @text takes as a JSON string at most (\u00XX for every control
 * character). */
static gsize
escaped_size (const char *text)
{
  gsize n = 0;

  for (const char *p = text; *p != '\0'; p++)
    n += *p == '"' || *p == '\\' ? 2 : (guchar) *p < 0x20 ? 6 : 1;
  return n;
}

/* A mark's text is @expected, or, if that could not fit a line, a prefix
 * of it ending in "…". A text that surely fits must not be shortened. */
static void
check_mark_text (const char *got, const char *expected)
{
  g_autofree char *head = NULL;
  gsize kept;

  if (strcmp (got, expected) == 0)
    return;
  /* 300 bytes: the common prefix, the key and quotes, with room to spare. */
  if (escaped_size (expected) + 300 <= LINE_LIMIT)
    trace_fail ("mark shortened though it fits: got %.60s..., expected %.60s...", got, expected);
  if (!g_str_has_suffix (got, ELLIPSIS))
    trace_fail ("shortened mark does not end in U+2026: %.60s...", got);
  kept = strlen (got) - strlen (ELLIPSIS);
  if (strncmp (got, expected, kept) != 0)
    trace_fail ("shortened mark is not a prefix of the text: %.60s...", got);
  g_assert_true (g_utf8_validate (got, -1, NULL));
  /* Cut because the line was full, not long before. */
  head = g_strndup (got, kept);
  g_assert_cmpuint (escaped_size (head), >, LINE_LIMIT - 1000);
}

/* Checks that @file holds exactly @count marks from each writer in
 * [@first, @first + @n_writers), in order, with the texts of mark_text(). */
static void
check_marks (TraceFile *file, guint first, guint n_writers, guint count)
{
  g_autoptr(GPtrArray) marks = trace_events (file, "mark");
  guint next[N_WRITERS * 2] = { 0 };

  g_assert_cmpuint (marks->len, ==, n_writers * count);
  for (guint k = 0; k < marks->len; k++)
    {
      const char *text = get_str (g_ptr_array_index (marks, k), "text");
      g_autofree char *expected = NULL;
      guint writer, i;

      if (sscanf (text, "w%u #%u ", &writer, &i) != 2
          || writer < first || writer >= first + n_writers)
        trace_fail ("%s: a mark from no writer of this process: %.60s", file->path, text);
      if (i != next[writer])
        trace_fail ("%s: writer %u: mark %u where %u was due", file->path, writer, i, next[writer]);
      next[writer]++;
      expected = mark_text (writer, i);
      check_mark_text (text, expected);
    }
}

typedef struct
{
  int   go;       /* read end of the start pipe: EOF means go */
  int   go_write; /* its write end, which children must close */
  guint writer;
  guint count;
} Writer;

/* Blocks until the start pipe's write end is closed everywhere. */
static gboolean
wait_for_go (int fd)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  int rc;

  do
    rc = poll (&pfd, 1, GO_TIMEOUT_MS);
  while (rc < 0 && errno == EINTR);
  return rc == 1;
}

static void
write_marks (const Writer *w)
{
  for (guint i = 0; i < w->count; i++)
    {
      g_autofree char *text = mark_text (w->writer, i);
      mpk_trace_mark ("%s", text);
    }
}

static int
writer_child (gpointer data)
{
  Writer *w = data;

  close (w->go_write);
  MPK_CHILD_CHECK (wait_for_go (w->go));
  write_marks (w);
  return 0;
}

static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;

  if (!wait_for_go (w->go))
    return GINT_TO_POINTER (FALSE);
  write_marks (w);
  return GINT_TO_POINTER (TRUE);
}

static void
concurrent_workload (void)
{
  Writer writers[N_WRITERS * 2];
  MpkProcess *children[N_WRITERS];
  GThread *threads[N_WRITERS];
  int go[2];

  g_assert_cmpint (pipe (go), ==, 0);
  for (guint w = 0; w < N_WRITERS * 2; w++)
    writers[w] = (Writer) { go[0], go[1], w, w < N_WRITERS ? CHILD_MARKS : THREAD_MARKS };
  /* Every fork before the first thread; then everyone starts at once. */
  for (guint w = 0; w < N_WRITERS; w++)
    {
      g_autofree char *name = g_strdup_printf ("writer-%u", w);
      children[w] = start_named (name, writer_child, &writers[w]);
    }
  for (guint t = 0; t < N_WRITERS; t++)
    threads[t] = g_thread_new ("marks", writer_thread, &writers[N_WRITERS + t]);
  close (go[1]);
  for (guint t = 0; t < N_WRITERS; t++)
    g_assert_true (GPOINTER_TO_INT (g_thread_join (threads[t])));
  for (guint w = 0; w < N_WRITERS; w++)
    join_ok (children[w], 0);
  close (go[0]);
}

static void
test_concurrent (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *dir = NULL;
  TraceFile *main_file;

  if (g_test_subprocess ())
    {
      concurrent_workload ();
      return;
    }

  g_test_summary ("4 processes x 2000 marks and 4 threads x 500 marks at once, texts "
                  "up to 5000 bytes with quotes, control characters and UTF-8: every line "
                  "whole, valid JSON, at most 4 KiB; seq gapless; texts exact or cut "
                  "with U+2026");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, N_WRITERS + 1);
  for (guint w = 0; w < N_WRITERS; w++)
    {
      g_autofree char *name = g_strdup_printf ("writer-%u", w);
      TraceFile *file = trace_find (files, name);

      g_assert_cmpuint (file->events->len, ==, CHILD_MARKS + 2);
      g_assert_cmpstr (get_str (g_ptr_array_index (file->events, 0), "ev"), ==, "proc.start");
      g_assert_cmpstr (get_str (g_ptr_array_index (file->events, CHILD_MARKS + 1), "ev"), ==,
                       "proc.exit");
      check_marks (file, w, 1, CHILD_MARKS);
    }
  main_file = trace_find (files, "MainProcess");
  check_marks (main_file, N_WRITERS, N_WRITERS, THREAD_MARKS);
  g_assert_cmpuint (count_events (main_file, "proc.spawn"), ==, N_WRITERS);
  g_assert_cmpuint (count_events (main_file, "proc.reaped"), ==, N_WRITERS);
  remove_tree (dir);
}

/* --- strings longer than they may be ---------------------------------------------- */

static int
return_zero (gpointer data)
{
  return 0;
}

static char *
long_name (void)
{
  return g_strnfill (5000, 'n');
}

static void
test_long_name (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *name = long_name ();
  g_autofree char *names = NULL;
  TraceFile *parent, *child = NULL;
  const char *shown;

  if (g_test_subprocess ())
    {
      join_ok (start_named (name, return_zero, NULL), 0);
      return;
    }

  g_test_summary ("A process name of 5000 bytes is shortened in the child's header like "
                  "any string: the header stays one valid JSON line with run, boot_id and "
                  "the clocks, and proc.start follows on its own line");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 2);
  parent = trace_find (files, "MainProcess");
  for (guint i = 0; i < files->len; i++)
    if (g_ptr_array_index (files, i) != parent)
      child = g_ptr_array_index (files, i);
  shown = get_str (child->header, "name");
  check_mark_text (shown, name);
  g_assert_true (g_str_has_suffix (shown, ELLIPSIS));
  g_assert_cmpstr (get_str (child->header, "run"), ==, get_str (parent->header, "run"));
  names = ev_names (child);
  g_assert_cmpstr (names, ==, "proc.start proc.exit");
  check_mark_text (get_str (trace_event (parent, "proc.spawn"), "name"), name);
  remove_tree (dir);
}

/* 100 characters of 4 bytes: a summary of 48 characters takes 180 bytes. */
static GVariant *
wide_string (void)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < 100; i++)
    g_string_append (text, "\xf0\x9f\x98\x80");
  return g_variant_ref_sink (g_variant_new_string (text->str));
}

static void
test_wide_summary (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GVariant) value = wide_string ();
  g_autofree char *dir = NULL;
  TraceFile *file;
  char expected[256];

  if (g_test_subprocess ())
    {
      g_autoptr(MpkConnection) a = NULL;
      g_autoptr(MpkConnection) b = NULL;
      g_autoptr(GVariant) got = NULL;

      mpk_test_pipe (TRUE, &a, &b);
      mpk_test_send (a, value);
      got = recv_ok (b);
      g_assert_cmpvariant (got, value);
      return;
    }

  g_test_summary ("The \"sum\" of a message is mpk__trace_summarize()'s whole summary, "
                  "the ellipsis included, even when its 48 characters take 4 bytes each");
  mpk__trace_summarize (value, expected, sizeof expected);
  g_assert_true (g_str_has_suffix (expected, ELLIPSIS));
  dir = run_traced ("pipe", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 1);
  file = g_ptr_array_index (files, 0);
  g_assert_cmpstr (get_str (trace_event (file, "pipe.send"), "sum"), ==, expected);
  g_assert_cmpstr (get_str (trace_event (file, "pipe.recv"), "sum"), ==, expected);
  remove_tree (dir);
}

/* --- the line limit ----------------------------------------------------------------- */

#define N_LIMIT_TEXTS 4

/* 10 000 ASCII characters; 10 000 of 3- and 4-byte ones; invalid UTF-8;
 * 10 000 control characters, six bytes each once escaped. */
static char *
limit_text (guint k)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; k != 2 && i < 10000; i++)
    {
      if (k == 0)
        g_string_append_c (text, 'a' + i % 26);
      else if (k == 1)
        g_string_append (text, i % 2 ? "\xe2\x82\xac" : "\xf0\x9f\x98\x80");
      else
        g_string_append_c (text, 1 + i % 31);
    }
  if (k == 2)
    g_string_append (text, "bad \xff\xfe bytes \xc3( and \xe2\x82 end");
  return g_string_free (text, FALSE);
}

static void
test_line_limit (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) marks = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *repaired = NULL;
  TraceFile *file;

  if (g_test_subprocess ())
    {
      for (guint k = 0; k < N_LIMIT_TEXTS; k++)
        {
          g_autofree char *text = limit_text (k);
          mpk_trace_mark ("%s", text);
        }
      return;
    }

  g_test_summary ("Marks of 10 000 characters give one line of at most 4 KiB, cut on a "
                  "character boundary with U+2026; invalid UTF-8 becomes U+FFFD");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 1);
  file = g_ptr_array_index (files, 0);
  marks = trace_events (file, "mark");
  g_assert_cmpuint (marks->len, ==, N_LIMIT_TEXTS);
  for (guint k = 0; k < N_LIMIT_TEXTS; k++)
    {
      g_autofree char *text = limit_text (k);
      const char *got = get_str (g_ptr_array_index (marks, k), "text");

      if (k == 2)
        continue;
      g_assert_true (g_str_has_suffix (got, ELLIPSIS));
      check_mark_text (got, text);
    }

  bad = limit_text (2);
  repaired = g_utf8_make_valid (bad, -1);
  g_assert_nonnull (strstr (repaired, "\xef\xbf\xbd"));
  g_assert_cmpstr (get_str (g_ptr_array_index (marks, 2), "text"), ==, repaired);
  remove_tree (dir);
}

/* --- categories ------------------------------------------------------------------- */

/* The subprocess half of the category tests: two processes, one message
 * each way, a mark. */
static gboolean
categories_subprocess (gboolean expect_on)
{
  if (!g_test_subprocess ())
    return FALSE;
  g_assert_cmpint (mpk_trace_is_enabled (), ==, expect_on);
  echo_workload ("worker");
  return TRUE;
}

static void
test_categories_proc (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *dir = NULL;
  TraceFile *parent, *child;

  if (categories_subprocess (TRUE))
    return;

  g_test_summary ("MPK_TRACE=proc: start, spawn, reaped and exit are recorded, pipe "
                  "events are not; marks always are");
  dir = run_traced ("proc", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 2);
  parent = trace_find (files, "MainProcess");
  child = trace_find (files, "worker");
  g_assert_cmpuint (count_ev_prefix (parent, "pipe."), ==, 0);
  g_assert_cmpuint (count_ev_prefix (child, "pipe."), ==, 0);
  trace_event (parent, "proc.start");
  trace_event (parent, "proc.spawn");
  trace_event (parent, "proc.reaped");
  trace_event (parent, "proc.exit");
  trace_event (parent, "mark");
  trace_event (child, "proc.start");
  trace_event (child, "proc.exit");
  remove_tree (dir);
}

/* MPK_TRACE=@spec: pipe events in both processes, no process events, a
 * header all the same. */
static char *
run_pipe_only (const char *spec, GTestSubprocessFlags flags)
{
  g_autoptr(GPtrArray) files = NULL;
  char *dir;
  TraceFile *parent, *child;

  dir = run_traced (spec, flags);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 2);
  parent = trace_find (files, "MainProcess");
  child = trace_find (files, "worker");
  g_assert_cmpuint (count_ev_prefix (parent, "proc."), ==, 0);
  g_assert_cmpuint (count_ev_prefix (child, "proc."), ==, 0);
  g_assert_cmpuint (check_messages (parent, child), ==, 1);
  g_assert_cmpuint (check_messages (child, parent), ==, 1);
  trace_event (parent, "mark");
  return dir;
}

static void
test_categories_pipe (void)
{
  g_autofree char *dir = NULL;

  if (categories_subprocess (TRUE))
    return;

  g_test_summary ("MPK_TRACE=pipe: sends and receives are recorded, no proc.* events, "
                  "and each file still starts with its header");
  dir = run_pipe_only ("pipe", G_TEST_SUBPROCESS_INHERIT_STDERR);
  remove_tree (dir);
}

static void
test_categories_unknown (void)
{
  g_autofree char *dir = NULL;

  if (categories_subprocess (TRUE))
    return;

  g_test_summary ("MPK_TRACE=pipe,bogus: the unknown word is named on stderr and the "
                  "known one still works");
  dir = run_pipe_only ("pipe,bogus", 0);
  g_test_trap_assert_stderr ("*'bogus'*");
  g_test_trap_assert_stderr_unmatched ("*'pipe'*");
  remove_tree (dir);
}

static void
test_categories_help (void)
{
  static const char *const categories[] = {
    "proc", "pipe", "queue", "lock", "value", "manager", "msg",
  };
  g_autofree char *dir = NULL;
  g_autofree char *unused = NULL;

  if (categories_subprocess (FALSE))
    {
      g_assert_null (mpk_trace_get_dir ());
      return;
    }

  g_test_summary ("MPK_TRACE=help lists the seven categories on stderr, and traces nothing");
  dir = make_tmp_dir ();
  unused = g_build_filename (dir, "unused", NULL);
  g_setenv ("MPK_TRACE", "help", TRUE);
  g_setenv ("MPK_TRACE_DIR", unused, TRUE);
  g_test_trap_subprocess (NULL, TRAP_TIMEOUT, 0);
  g_unsetenv ("MPK_TRACE");
  g_unsetenv ("MPK_TRACE_DIR");
  g_test_trap_assert_passed ();
  /* One category per line, as a word of its own ("Pipe/Connection" in a
   * description does not count for "pipe"). */
  for (guint i = 0; i < G_N_ELEMENTS (categories); i++)
    {
      g_autofree char *pattern = g_strdup_printf ("* %s *", categories[i]);
      g_test_trap_assert_stderr (pattern);
    }
  g_assert_false (g_file_test (unused, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_entries (dir), ==, 0);
  remove_tree (dir);
}

/* --- the default folder --------------------------------------------------------------- */

static void
test_default_dir (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *real = NULL;
  g_autofree char *trace_dir = NULL;
  g_autofree char *err = NULL;
  g_autofree char *once = NULL;
  g_autofree char *twice = NULL;

  if (is_child_half ())
    {
      g_autofree char *here = g_get_current_dir ();
      g_autofree char *expected = g_build_filename (here, "mpk-trace", NULL);

      g_assert_true (mpk_trace_is_enabled ());
      g_assert_true (g_path_is_absolute (mpk_trace_get_dir ()));
      g_assert_cmpstr (mpk_trace_get_dir (), ==, expected);
      echo_workload ("worker");
      return;
    }

  g_test_summary ("MPK_TRACE_DIR unset: the files go to ./mpk-trace (an absolute path), "
                  "announced once on stderr even though two processes trace");
  tmp = make_tmp_dir ();
  real = realpath (tmp, NULL);
  g_assert_nonnull (real);
  trace_dir = g_build_filename (real, "mpk-trace", NULL);
  g_setenv ("MPK_TRACE", "all", TRUE);
  g_unsetenv ("MPK_TRACE_DIR");
  err = run_self_in (tmp);
  g_unsetenv ("MPK_TRACE");

  once = g_strdup_printf ("*%s*", trace_dir);
  twice = g_strdup_printf ("*%s*%s*", trace_dir, trace_dir);
  if (!g_pattern_match_simple (once, err) || g_pattern_match_simple (twice, err))
    trace_fail ("stderr should name %s once, but is:\n%s", trace_dir, err);
  g_assert_cmpuint (count_entries (tmp), ==, 1);
  files = trace_load (trace_dir);
  g_assert_cmpuint (files->len, ==, 2);
  trace_find (files, "MainProcess");
  trace_find (files, "worker");
  remove_tree (tmp);
}

/* --- summaries ------------------------------------------------------------------------ */

static void
assert_summary (GVariant *value, const char *expected)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (value);
  char out[256];

  mpk__trace_summarize (v, out, sizeof out);
  g_assert_cmpstr (out, ==, expected);
}

static void
test_summary (void)
{
  g_autofree guint8 *bytes = g_malloc0 (512);
  g_autoptr(GVariantBuilder) dict = g_variant_builder_new (G_VARIANT_TYPE ("a{si}"));
  gint32 three[] = { 1, 2, 3 };

  g_test_summary ("mpk__trace_summarize() reads like Python's repr(): int 42, str 'hello', "
                  "bytes[512], tuple (1, 'a'), dict {...}, None");
  assert_summary (g_variant_new_int32 (42), "int 42");
  assert_summary (g_variant_new_int64 (-7), "int -7");
  assert_summary (g_variant_new_uint64 (G_MAXUINT64), "int 18446744073709551615");
  assert_summary (g_variant_new_double (2.5), "float 2.5");
  assert_summary (g_variant_new_boolean (TRUE), "bool True");
  assert_summary (g_variant_new_boolean (FALSE), "bool False");
  assert_summary (g_variant_new_string ("hello"), "str 'hello'");
  assert_summary (g_variant_new_string (""), "str ''");
  /* Python writes "it's"; a quote escaped inside '...' is as valid and as clear. */
  assert_summary (g_variant_new_string ("it's"), "str 'it\\'s'");
  assert_summary (g_variant_new_string ("a\\b"), "str 'a\\\\b'");
  assert_summary (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, 512, 1), "bytes[512]");
  assert_summary (g_variant_new ("(is)", 1, "a"), "tuple (1, 'a')");
  assert_summary (g_variant_new ("()"), "tuple ()");
  assert_summary (g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, three, 3, sizeof (gint32)),
                  "array [1, 2, 3]");
  g_variant_builder_add (dict, "{si}", "a", 1);
  g_variant_builder_add (dict, "{si}", "b", 2);
  assert_summary (g_variant_builder_end (dict), "dict {'a': 1, 'b': 2}");
  assert_summary (g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL), "None");
  assert_summary (g_variant_new_variant (g_variant_new_int32 (5)), "int 5");
  assert_summary (g_variant_new ("(s@ay)", "x", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                                          bytes, 3, 1)),
                  "tuple ('x', bytes[3])");
}

/* --- a summary's cost ------------------------------------------------------ */

/* A summary must cost as much for a million elements as for three. Comparing
 * CPU times says that only on a quiet machine, so the test checks the
 * property itself: it summarizes a copy of the value's serialized bytes in a
 * mapping where everything past the first GUARD_HEAD bytes is unreadable
 * (PROT_NONE) except the last page, which holds a container's framing
 * offsets (GVariant keeps them at the end). A summary that visits an element
 * it never shows faults there; the handler jumps back with the address and
 * the test names the byte that was read. */
#define GUARD_HEAD 1024   /* 256 int32s: several times what 48 characters show */

static sigjmp_buf guard_jump;
static const void *volatile guard_fault;

static void
guard_on_segv (int signum, siginfo_t *info, void *context)
{
  guard_fault = info->si_addr;
  siglongjmp (guard_jump, 1);
}

/* Summarizes @value into @out from a guarded copy. Returns -1 if the summary
 * read only what it may, else the offset in @value of the first byte it
 * touched in the unreadable part (outside the value if the fault was not the
 * guard's: then a crash somewhere else). */
static gssize
summarize_guarded (GVariant *value, char *out, gsize out_size)
{
  const gsize page = sysconf (_SC_PAGESIZE);
  const gsize size = g_variant_get_size (value);
  const gsize lead = page - GUARD_HEAD;    /* the value starts this far into the map */
  const gsize map_size = (lead + size + page - 1) / page * page;
  struct sigaction on_segv = { 0 }, old_segv;
  guint8 *map, *data;
  GVariant *copy;

  g_assert_cmpuint (lead % 8, ==, 0);      /* GVariant's largest alignment: no copy */
  map = mmap (NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  g_assert_true (map != MAP_FAILED);
  data = map + lead;
  g_variant_store (value, data);
  /* Pages [1, last): at least one, or the value is too small to say anything. */
  g_assert_cmpuint (map_size, >, 2 * page);
  g_assert_cmpint (mprotect (map + page, map_size - 2 * page, PROT_NONE), ==, 0);
  copy = g_variant_ref_sink (g_variant_new_from_data (g_variant_get_type (value), data, size,
                                                      FALSE, NULL, NULL));
  g_assert_true (g_variant_get_data (copy) == data);

  on_segv.sa_sigaction = guard_on_segv;
  on_segv.sa_flags = SA_SIGINFO;
  sigemptyset (&on_segv.sa_mask);
  g_assert_cmpint (sigaction (SIGSEGV, &on_segv, &old_segv), ==, 0);
  if (sigsetjmp (guard_jump, 1) != 0)
    {
      /* The summary was cut off mid-way: leave its copy and map alone. */
      sigaction (SIGSEGV, &old_segv, NULL);
      return (const guint8 *) guard_fault - data;
    }
  mpk__trace_summarize (copy, out, out_size);
  sigaction (SIGSEGV, &old_segv, NULL);

  g_variant_unref (copy);
  g_assert_cmpint (munmap (map, map_size), ==, 0);
  return -1;
}

/* Asserts that summarizing @value reads no more than its first GUARD_HEAD
 * bytes and its last page, and gives @expected (its summary read in full). */
static void
assert_summary_reads_head (GVariant *value, const char *expected)
{
  char out[256];
  gssize touched = summarize_guarded (value, out, sizeof out);

  if (touched >= 0)
    trace_fail ("summarizing a %" G_GSIZE_FORMAT "-byte %s read its byte %" G_GSSIZE_FORMAT
                "; expected it to read only bytes 0..%d and the last page: it visits "
                "elements a 48-character summary never shows",
                g_variant_get_size (value), g_variant_get_type_string (value), touched,
                GUARD_HEAD - 1);
  g_assert_cmpstr (out, ==, expected);
}

static gint64
cpu_time_us (void)
{
  struct timespec ts;

  g_assert_cmpint (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts), ==, 0);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* CPU time of visiting the first @n elements of @array one by one, which
 * any summary that looked at every element would spend at least. Only
 * reported: each element is checked (array[i] == i) so the number is the
 * time of a walk that happened. */
static gint64
walk_time_us (GVariant *array, gsize n)
{
  gint64 start = cpu_time_us ();

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (array, i);
      g_assert_cmpint (g_variant_get_int32 (child), ==, i);
    }
  return cpu_time_us () - start;
}

static void
test_summary_bounded (void)
{
  const gsize n = 1000000;
  g_autofree gint32 *numbers = g_new0 (gint32, n);
  g_autoptr(GVariant) big = NULL;
  g_autoptr(GVariant) nested = NULL;
  g_autoptr(GString) long_text = g_string_new (NULL);
  g_autoptr(GVariant) long_str = NULL;
  g_autofree char *expected = NULL;
  char out[256];
  gint64 start, elapsed, walk;

  g_test_summary ("Summaries are at most 48 characters ending in U+2026, and a million-element "
                  "array costs no more than a short one: summarizing it reads only its first "
                  "KiB (the rest of its bytes unreadable), alone or inside a tuple");
  for (gsize i = 0; i < n; i++)
    numbers[i] = i;
  big = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, numbers, n,
                                                       sizeof (gint32)));
  mpk__trace_summarize (big, out, sizeof out);    /* warms GLib's type caches */
  start = cpu_time_us ();
  mpk__trace_summarize (big, out, sizeof out);
  elapsed = cpu_time_us () - start;
  walk = walk_time_us (big, n / 10);
  /* Measured, not asserted: a loaded machine, valgrind or ASan skew both. */
  g_test_message ("1 000 000 ints: %s in %" G_GINT64_FORMAT " us of CPU; visiting "
                  "100 000 of them takes %" G_GINT64_FORMAT " us", out, elapsed, walk);
  g_assert_true (g_str_has_prefix (out, "array [0, 1, 2, "));
  g_assert_true (g_str_has_suffix (out, ELLIPSIS));
  g_assert_cmpint (g_utf8_strlen (out, -1), ==, SUM_CHARS);
  assert_summary_reads_head (big, out);

  /* A tuple is serialized with the array first and its framing offsets last. */
  nested = g_variant_ref_sink (g_variant_new ("(@aii)", big, 7));
  mpk__trace_summarize (nested, out, sizeof out);
  g_assert_true (g_str_has_prefix (out, "tuple ([0, 1, "));
  g_assert_true (g_str_has_suffix (out, ELLIPSIS));
  g_assert_cmpint (g_utf8_strlen (out, -1), ==, SUM_CHARS);
  assert_summary_reads_head (nested, out);

  for (guint i = 0; i < 200; i++)
    g_string_append_c (long_text, 'x');
  long_str = g_variant_ref_sink (g_variant_new_string (long_text->str));
  mpk__trace_summarize (long_str, out, sizeof out);
  expected = g_strdup_printf ("str '%.*s" ELLIPSIS, SUM_CHARS - 6, long_text->str);
  g_assert_cmpstr (out, ==, expected);
  g_assert_cmpint (g_utf8_strlen (out, -1), ==, SUM_CHARS);
}

static void
test_summary_utf8 (void)
{
  static const char *const chars[] = { "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "x" };
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GVariant) value = NULL;
  char full[256];

  g_test_summary ("A summary of multi-byte UTF-8 is never cut inside a character, whatever "
                  "the output size");
  for (guint i = 0; i < 100; i++)
    g_string_append (text, chars[i % G_N_ELEMENTS (chars)]);
  value = g_variant_ref_sink (g_variant_new_string (text->str));
  mpk__trace_summarize (value, full, sizeof full);
  g_assert_true (g_utf8_validate (full, -1, NULL));
  g_assert_cmpint (g_utf8_strlen (full, -1), ==, SUM_CHARS);
  g_assert_true (g_str_has_suffix (full, ELLIPSIS));

  for (gsize size = 1; size <= sizeof full; size++)
    {
      char out[sizeof full];

      memset (out, 'Z', sizeof out);
      mpk__trace_summarize (value, out, size);
      g_assert_cmpuint (strlen (out), <, size);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      g_assert_true (g_str_has_prefix (full, out));
      /* At most one character (4 bytes) lost to the cut. */
      g_assert_cmpuint (strlen (out) + 4, >=, MIN (size - 1, strlen (full)));
    }
}

/* --- end of file --------------------------------------------------------------------- */

static void
eof_workload (void)
{
  g_autoptr(MpkConnection) decoy_r = NULL;
  g_autoptr(MpkConnection) decoy_w = NULL;
  g_autoptr(MpkConnection) r = NULL;
  g_autoptr(MpkConnection) w = NULL;
  g_autoptr(GVariant) v1 = NULL;
  g_autoptr(GVariant) v2 = NULL;
  g_autoptr(GVariant) none = NULL;
  g_autoptr(GError) error = NULL;

  mpk_test_pipe (FALSE, &decoy_r, &decoy_w);
  mpk_test_pipe (FALSE, &r, &w);
  mpk_test_send (decoy_w, g_variant_new_string ("decoy"));
  v1 = recv_ok (decoy_r);
  mpk_test_send (w, g_variant_new_string ("last"));
  mpk_connection_close (w);
  v2 = recv_ok (r);
  none = mpk_connection_recv (r, IO_TIMEOUT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  g_assert_null (none);
}

static void
test_eof (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GPtrArray) sends = NULL;
  g_autoptr(GPtrArray) closes = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *names = NULL;
  TraceFile *file;
  const char *decoy, *obj;

  if (g_test_subprocess ())
    {
      eof_workload ();
      return;
    }

  g_test_summary ("A receive that finds end of file records pipe.eof with that pipe's id");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);
  g_assert_cmpuint (files->len, ==, 1);
  file = g_ptr_array_index (files, 0);
  names = ev_names (file);
  /* The writer's close comes before the EOF it causes; the last three
   * closes are g_autoptr's at the end of the workload. */
  g_assert_cmpstr (names, ==, "proc.start pipe.send pipe.recv pipe.send pipe.close pipe.recv "
                              "pipe.eof pipe.close pipe.close pipe.close proc.exit");
  sends = trace_events (file, "pipe.send");
  decoy = get_str (g_ptr_array_index (sends, 0), "obj");
  obj = get_str (g_ptr_array_index (sends, 1), "obj");
  g_assert_cmpstr (decoy, !=, obj);
  g_assert_cmpstr (get_str (trace_event (file, "pipe.eof"), "obj"), ==, obj);
  /* mpk_pipe_new (FALSE, &r, &w): the close is of end 2 (w), the EOF at end 1. */
  closes = trace_events (file, "pipe.close");
  g_assert_cmpstr (get_str (g_ptr_array_index (closes, 0), "obj"), ==, obj);
  g_assert_cmpint (get_int (g_ptr_array_index (closes, 0), "end"), ==, 2);
  g_assert_cmpint (get_int (trace_event (file, "pipe.eof"), "end"), ==, 1);
  g_assert_false (json_object_has_member (trace_event (file, "pipe.eof"), "msg"));
  remove_tree (dir);
}

/* A "full disk" for one mark: the file may grow 40 more bytes, so the
 * mark's line is written in part and fails (SIGXFSZ ignored, EFBIG). */
static void
full_disk_workload (void)
{
  g_autofree char *name = g_strdup_printf ("trace-%d.jsonl", (int) getpid ());
  g_autofree char *path = g_build_filename (mpk_trace_get_dir (), name, NULL);
  struct rlimit saved, small;
  struct stat st;

  signal (SIGXFSZ, SIG_IGN);
  mpk_trace_mark ("first");
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small.rlim_cur = st.st_size + 40;
  small.rlim_max = saved.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  mpk_trace_mark ("this note does not fit on the disk");
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  mpk_trace_mark ("after");
}

/* A line that could not be written whole leaves no torn piece behind: the
 * file stays valid JSON lines, and the loss is reported in the next line. */
static void
test_full_disk (void)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *names = NULL;
  TraceFile *file;

  if (g_test_subprocess ())
    {
      full_disk_workload ();
      return;
    }
  g_test_summary ("A write that fails half-way (full disk) is cut back and counted as dropped");
  dir = run_traced ("all", G_TEST_SUBPROCESS_INHERIT_STDERR);
  files = trace_load (dir);     /* fails the test on any invalid line */
  file = g_ptr_array_index (files, 0);
  names = ev_names (file);
  g_assert_cmpstr (names, ==, "proc.start mark trace.dropped mark proc.exit");
  g_assert_cmpint (get_int (trace_event (file, "trace.dropped"), "n"), ==, 1);
  remove_tree (dir);
}

/* The program a traced process execs in /trace/exec: this binary again,
 * told by its first argument to record one mark and stop. */
#define EXEC_MARK_ARG "--record-mark-after-exec"

static void
exec_workload (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

  mpk_trace_mark ("before exec");
  execl (self, self, EXEC_MARK_ARG, (char *) NULL);
  g_error ("execl %s: %s", self, g_strerror (errno));
}

/* An exec keeps the pid: the new program's lines must follow the old
 * program's in the same file (after a header of their own), not erase
 * them, and both belong to the same run. */
static void
test_exec (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint headers = 0;
  const char *before, *after;

  if (g_test_subprocess ())
    {
      exec_workload ();
      return;
    }
  g_test_summary ("A traced process that execs a traced program keeps both programs' lines");
  dir = run_traced ("all", 0);
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name = g_dir_read_name (d);

    g_assert_nonnull (name);
    g_assert_null (g_dir_read_name (d));   /* one pid, one file */
    path = g_build_filename (dir, name, NULL);
  }
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    headers += strstr (*l, "\"type\":\"proc\"") != NULL;
  g_assert_cmpuint (headers, ==, 2);
  before = strstr (text, "\"text\":\"before exec\"");
  after = strstr (text, "\"text\":\"after exec\"");
  g_assert_nonnull (before);
  g_assert_nonnull (after);
  g_assert_true (before < after);
  remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  /* The far side of /trace/exec: the environment still says MPK_TRACE. */
  if (argc == 2 && strcmp (argv[1], EXEC_MARK_ARG) == 0)
    {
      mpk_trace_mark ("after exec");
      return 0;
    }
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  /* Each test chooses its own tracing; the caller's must not leak in. */
  if (!is_child_half ())
    {
      g_unsetenv ("MPK_TRACE");
      g_unsetenv ("MPK_TRACE_DIR");
      g_unsetenv ("MPK_TRACE_RUN");
    }

  g_test_add_func ("/trace/off", test_off);
  g_test_add_func ("/trace/record/pipe", test_record_pipe);
  g_test_add_func ("/trace/record/processes", test_record_processes);
  g_test_add_func ("/trace/killed-child", test_killed_child);
  g_test_add_func ("/trace/concurrent", test_concurrent);
  g_test_add_func ("/trace/line-limit", test_line_limit);
  g_test_add_func ("/trace/categories/proc", test_categories_proc);
  g_test_add_func ("/trace/categories/pipe", test_categories_pipe);
  g_test_add_func ("/trace/categories/unknown", test_categories_unknown);
  g_test_add_func ("/trace/categories/help", test_categories_help);
  g_test_add_func ("/trace/default-dir", test_default_dir);
  g_test_add_func ("/trace/summary/values", test_summary);
  g_test_add_func ("/trace/summary/bounded", test_summary_bounded);
  g_test_add_func ("/trace/summary/utf8", test_summary_utf8);
  g_test_add_func ("/trace/eof", test_eof);
  g_test_add_func ("/trace/exec", test_exec);
  g_test_add_func ("/trace/full-disk", test_full_disk);
  /* Last: a failure here must not hide the others (assertions abort). */
  g_test_add_func ("/trace/long/process-name", test_long_name);
  g_test_add_func ("/trace/long/summary-in-line", test_wide_summary);

  return g_test_run ();
}
