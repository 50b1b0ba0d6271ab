/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-wait.c: mpk_wait(), multiprocessing.connection.wait(), over connections and
 * process sentinels, ported from CPython's TestWait. */

#include "test-util.h"

#define N_CHILDREN 4
#define N_MESSAGES 10

/* Returns the ready subset of @objects after asserting that mpk_wait succeeded. */
static GPtrArray *
wait_ready (gpointer *objects,
            guint     n_objects,
            gint64    timeout_us)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *ready;

  ready = mpk_wait (objects, n_objects, timeout_us, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ready);
  return ready;
}

/* Names the members of @ready by the names of @objects, e.g. "b,a", so that a
 * failed comparison shows what came back. */
static char *
ready_names (GPtrArray          *ready,
             gpointer           *objects,
             const char * const *names,
             guint               n_objects)
{
  GString *s = g_string_new (NULL);
  guint i, j;

  for (i = 0; i < ready->len; i++)
    {
      const char *name = "?";

      for (j = 0; j < n_objects; j++)
        if (objects[j] == g_ptr_array_index (ready, i))
          name = names[j];
      g_string_append_printf (s, "%s%s", i > 0 ? "," : "", name);
    }
  return g_string_free (s, FALSE);
}

/* Sends (i, pid) for i = 0 .. N_MESSAGES - 1 on the write end @data. */
static int
sender_child (gpointer data)
{
  MpkConnection *writer = data;
  GError *error = NULL;
  int i;

  for (i = 0; i < N_MESSAGES; i++)
    {
      mpk_connection_send (writer, g_variant_new ("(ii)", i, (gint32) getpid ()),
                           MPK_WAIT_FOREVER, &error);
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

static guint
index_of (MpkConnection **readers,
          gpointer        object)
{
  guint k;

  for (k = 0; k < N_CHILDREN; k++)
    if (readers[k] == object)
      return k;
  g_assert_not_reached ();
}

/* Reads one message from readers[k]; on EOF retires the reader from @live. */
static void
read_one (MpkConnection **readers,
          guint           k,
          MpkProcess    **processes,
          int            *next,
          GPtrArray      *live)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = NULL;
  gint32 i, pid;

  msg = mpk_connection_recv (readers[k], MPK_WAIT_FOREVER, &error);
  if (g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
    {
      g_assert_true (g_ptr_array_remove (live, readers[k]));
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (msg), ==, "(ii)");
  g_variant_get (msg, "(ii)", &i, &pid);
  g_assert_cmpint (i, ==, next[k]);
  g_assert_cmpint (pid, ==, mpk_process_get_pid (processes[k]));
  next[k]++;
}

static void
test_wait_children (void)
{
  MpkConnection *readers[N_CHILDREN];
  MpkProcess *processes[N_CHILDREN];
  int next[N_CHILDREN] = { 0 };
  g_autoptr(GPtrArray) live = g_ptr_array_new ();
  guint k, j;

  g_test_summary ("CPython test_wait: 4 children x 10 messages multiplexed with mpk_wait; "
                  "EOF retires each reader; every message arrives once and in order");
  for (k = 0; k < N_CHILDREN; k++)
    {
      MpkConnection *writer;

      mpk_test_pipe (FALSE, &readers[k], &writer);
      processes[k] = mpk_test_start (sender_child, writer);
      mpk_connection_free (writer);
      g_ptr_array_add (live, readers[k]);
    }

  while (live->len > 0)
    {
      g_autoptr(GPtrArray) ready = wait_ready (live->pdata, live->len, MPK_WAIT_FOREVER);

      g_assert_cmpuint (ready->len, >, 0);
      for (j = 0; j < ready->len; j++)
        read_one (readers, index_of (readers, g_ptr_array_index (ready, j)),
                  processes, next, live);
    }

  for (k = 0; k < N_CHILDREN; k++)
    {
      g_assert_cmpint (next[k], ==, N_MESSAGES);
      mpk_connection_free (readers[k]);
      mpk_test_join (processes[k], 0);
    }
}

static void
test_wait_timeout (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) a_peer = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(MpkConnection) b_peer = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  const char * const names[] = { "a", "b" };
  g_autofree char *got = NULL;
  gpointer objects[2];

  g_test_summary ("CPython test_wait_timeout: idle connections give an empty array (not "
                  "NULL) on timeout; after a send exactly the ready one is returned");
  mpk_test_pipe (TRUE, &a, &a_peer);
  mpk_test_pipe (TRUE, &b, &b_peer);
  objects[0] = a;
  objects[1] = b;

  ready = wait_ready (objects, 2, 200 * 1000);
  g_assert_cmpuint (ready->len, ==, 0);
  g_clear_pointer (&ready, g_ptr_array_unref);

  mpk_test_send (b_peer, g_variant_new_int32 (1));
  ready = wait_ready (objects, 2, MPK_WAIT_FOREVER);
  got = ready_names (ready, objects, names, 2);
  g_assert_cmpstr (got, ==, "b");
}

static void
test_wait_input_order (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) a_peer = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(MpkConnection) b_peer = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  const char * const names[] = { "b", "a" };
  g_autofree char *got = NULL;
  gpointer objects[2];

  g_test_summary ("The ready objects come back in the order they were given");
  mpk_test_pipe (TRUE, &a, &a_peer);
  mpk_test_pipe (TRUE, &b, &b_peer);
  mpk_test_send (a_peer, g_variant_new_int32 (1));
  mpk_test_send (b_peer, g_variant_new_int32 (2));

  objects[0] = b;
  objects[1] = a;
  ready = wait_ready (objects, 2, MPK_WAIT_FOREVER);
  got = ready_names (ready, objects, names, 2);
  g_assert_cmpstr (got, ==, "b,a");
}

/* The peer of the negative-timeout test: it sends "after-go" when the
 * parent says "go", or "fallback" if no word comes within
 * MPK_TEST_CHILD_TIMEOUT_US. A wait that blocked instead of returning at
 * once would wake up only for "fallback", which the parent then sees. */
static int
go_or_fallback_child (gpointer data)
{
  MpkTestChannel *channel = data;
  gboolean told;

  child_guard ();
  mpk_connection_close (channel->parent);
  told = child_wait (channel);
  MPK_CHILD_CHECK (child_say (channel, told ? "after-go" : "fallback"));
  return 0;
}

static void
test_wait_negative_timeout (void)
{
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GPtrArray) ready_now = NULL;
  MpkTestChannel channel;
  MpkProcess *peer;
  gpointer objects[1];

  g_test_summary ("CPython test_neg_timeout: a negative timeout other than -1 counts as "
                  "0, so waiting on an idle connection returns an empty array at once. "
                  "Checked by what comes back, not by a clock: the peer sends only "
                  "after our word (or, failing it, much later), so a wait that blocked "
                  "would return that message, not the empty array");
  mpk_test_channel_init (&channel);
  peer = mpk_test_start (go_or_fallback_child, &channel);
  mpk_connection_close (channel.child);

  objects[0] = channel.parent;
  ready = wait_ready (objects, 1, -5);
  g_assert_cmpuint (ready->len, ==, 0);
  ready_now = wait_ready (objects, 1, MPK_NO_WAIT);
  g_assert_cmpuint (ready_now->len, ==, 0);

  parent_say (&channel, "go");
  parent_expect (&channel, "after-go");
  join_child (peer, 0);
  mpk_test_channel_clear (&channel);
}

static void
test_wait_eof (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) a_peer = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  const char * const names[] = { "a" };
  g_autofree char *got = NULL;
  gpointer objects[1];

  g_test_summary ("A connection whose peer closed is ready (recv then gives EOF)");
  mpk_test_pipe (TRUE, &a, &a_peer);
  g_clear_pointer (&a_peer, mpk_connection_free);
  objects[0] = a;
  ready = wait_ready (objects, 1, MPK_WAIT_FOREVER);
  got = ready_names (ready, objects, names, 1);
  g_assert_cmpstr (got, ==, "a");
  v = mpk_connection_recv (a, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
}

static void
test_wait_process (void)
{
  MpkTestChannel channel;
  g_autoptr(MpkConnection) idle = NULL;
  g_autoptr(MpkConnection) idle_peer = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  const char * const names[] = { "idle", "process" };
  g_autofree char *got = NULL;
  MpkProcess *process;
  gpointer objects[2];

  g_test_summary ("A process in the array is not ready while it runs and becomes ready "
                  "when it exits; an idle connection beside it stays out");
  mpk_test_pipe (TRUE, &idle, &idle_peer);
  mpk_test_channel_init (&channel);
  process = mpk_test_start (mpk_test_blocking_child, &channel);
  mpk_connection_close (channel.child);
  objects[0] = idle;
  objects[1] = process;

  ready = wait_ready (objects, 2, MPK_NO_WAIT);
  g_assert_cmpuint (ready->len, ==, 0);
  g_clear_pointer (&ready, g_ptr_array_unref);

  mpk_test_send (channel.parent, g_variant_new_string ("exit"));
  ready = wait_ready (objects, 2, MPK_WAIT_FOREVER);
  got = ready_names (ready, objects, names, 2);
  g_assert_cmpstr (got, ==, "process");
  mpk_test_join (process, 0);
  mpk_test_channel_clear (&channel);
}

static void
test_wait_null_element (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) a_peer = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *ready;
  gpointer objects[2];

  if (!mpk_test_in_subprocess ("Issue 11 section 4: a NULL element is a caller bug: a "
                               "critical and NULL, not a crash"))
    return;
  mpk_test_pipe (TRUE, &a, &a_peer);
  objects[0] = a;
  objects[1] = NULL;
  g_test_expect_message ("mpk", G_LOG_LEVEL_CRITICAL, "*NULL*");
  ready = mpk_wait (objects, 2, MPK_NO_WAIT, &error);
  g_test_assert_expected_messages ();
  g_assert_null (ready);
  g_assert_no_error (error);
}

static void
test_wait_closed_connection (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) a_peer = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(MpkConnection) b_peer = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GError) error = NULL;
  gpointer objects[2];

  g_test_summary ("Issue 11 section 4: waiting on a connection this process closed is "
                  "MPK_ERROR_CLOSED and NULL (Python raises OSError 'handle is closed'), "
                  "even with another object ready beside it; it is not reported ready");
  mpk_test_pipe (TRUE, &a, &a_peer);
  mpk_test_pipe (TRUE, &b, &b_peer);
  mpk_test_send (b_peer, g_variant_new_int32 (1));
  mpk_connection_close (a);
  objects[0] = b;
  objects[1] = a;
  ready = mpk_wait (objects, 2, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_assert_null (ready);
}

static int
exit_child (gpointer data)
{
  return 0;
}

static void
test_wait_process_unusable (void)
{
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GError) error = NULL;
  MpkProcess *process;
  gpointer objects[1];

  g_test_summary ("Issue 11 section 4: a process not started, or closed, has no sentinel: "
                  "MPK_ERROR_INVALID (Python: ValueError), not a wait that never ends");
  process = mpk_process_new (NULL, mpk_test_blocking_child, NULL, NULL);
  objects[0] = process;
  ready = mpk_wait (objects, 1, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (ready);
  g_clear_error (&error);
  mpk_process_unref (process);

  process = mpk_test_start (exit_child, NULL);
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_true (mpk_process_close (process, NULL));
  objects[0] = process;
  ready = mpk_wait (objects, 1, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (ready);
  mpk_process_unref (process);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wait/connection/children", test_wait_children);
  g_test_add_func ("/wait/connection/timeout", test_wait_timeout);
  g_test_add_func ("/wait/connection/input-order", test_wait_input_order);
  g_test_add_func ("/wait/connection/negative-timeout", test_wait_negative_timeout);
  g_test_add_func ("/wait/connection/eof", test_wait_eof);
  g_test_add_func ("/wait/process/exit", test_wait_process);
  g_test_add_func ("/wait/null-element", test_wait_null_element);
  g_test_add_func ("/wait/connection/closed", test_wait_closed_connection);
  g_test_add_func ("/wait/process/not-started", test_wait_process_unusable);

  return g_test_run ();
}
