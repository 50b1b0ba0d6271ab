/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-source.c: connections and processes in a GLib main loop. */

#include "test-util.h"

#include <errno.h>
#include <poll.h>
#include <sys/wait.h>

/* How long a main loop may run before the test calls it a stall: only a
 * hang detector, never a measure of speed. */
#define STALL_GUARD_S (under_valgrind () ? 120 : 30)

typedef struct
{
  MpkConnection *conn;
  guint          n_wakeups;    /* dispatches of the watch */
  guint          n_received;   /* messages taken */
  guint          n_empty;      /* dispatches that found no whole message */
  guint          n_wanted;     /* stop the loop after this many */
  guint          burst;        /* with @conn duplex: say "next" after each burst */
  gint32         next;         /* the value the next message must carry */
  gint32         bad_value;    /* the first value out of order, if any */
  gboolean       out_of_order;
  gboolean       eof;
  gboolean       stalled;
  GIOCondition   conditions;   /* every condition the callback was given */
} Reader;

/* A message's number: an "i", or the first member of an "(is)"; -1 for
 * anything else. */
static gint32
message_number (GVariant *v)
{
  g_autoptr(GVariant) first = NULL;

  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (v);
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("(is)")))
    return -1;
  first = g_variant_get_child_value (v, 0);
  return g_variant_get_int32 (first);
}

/* One message per wake-up, never blocking: what a main-loop program does. */
static gboolean
reader_take_one (Reader *reader)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  reader->n_wakeups++;
  v = mpk_connection_recv (reader->conn, MPK_NO_WAIT, &error);
  if (v == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
    {
      reader->eof = TRUE;
      return G_SOURCE_REMOVE;
    }
  if (v == NULL)
    {
      /* Part of a message came; the rest wakes us again. */
      g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
      reader->n_empty++;
      return G_SOURCE_CONTINUE;
    }
  if (message_number (v) != reader->next && !reader->out_of_order)
    {
      reader->out_of_order = TRUE;
      reader->bad_value = message_number (v);
    }
  reader->next++;
  reader->n_received++;
  if (reader->burst > 0 && reader->n_received % reader->burst == 0)
    mpk_test_send (reader->conn, g_variant_new_string ("next"));
  return G_SOURCE_CONTINUE;
}

static gboolean
conn_watch_cb (MpkConnection *conn, GIOCondition condition, gpointer data)
{
  Reader *reader = data;

  g_assert_true (conn == reader->conn);
  reader->conditions |= condition;
  return reader_take_one (reader);
}

static gboolean
stall_guard_cb (gpointer data)
{
  gboolean *stalled = data;

  *stalled = TRUE;
  return G_SOURCE_REMOVE;
}

/* A guard on @context that sets *@stalled after STALL_GUARD_S. */
static GSource *
add_stall_guard (GMainContext *context, gboolean *stalled)
{
  GSource *guard = g_timeout_source_new_seconds (STALL_GUARD_S);

  g_source_set_callback (guard, stall_guard_cb, stalled, NULL);
  g_source_attach (guard, context);
  return guard;
}

/* A source on @reader's connection, attached to @context. */
static GSource *
add_reader_source (GMainContext *context, Reader *reader)
{
  g_autoptr(GError) error = NULL;
  GSource *source;

  source = mpk_connection_create_source (reader->conn, G_IO_IN, &error);
  g_assert_no_error (error);
  g_assert_nonnull (source);
  g_source_set_callback (source, G_SOURCE_FUNC (conn_watch_cb), reader, NULL);
  g_source_attach (source, context);
  return source;
}

/* Runs @context until @reader has its messages (or EOF) or the guard fires. */
static void
run_reader (GMainContext *context, Reader *reader)
{
  g_autoptr(GSource) guard = add_stall_guard (context, &reader->stalled);

  while (reader->n_received < reader->n_wanted && !reader->eof && !reader->stalled)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (guard);
}

/* Iterates @context without blocking until nothing is left to dispatch
 * (bounded): what a watch that is not ready must leave alone. */
static void
drain_context (GMainContext *context)
{
  for (int i = 0; i < 100 && g_main_context_iteration (context, FALSE); i++)
    ;
}

static void
test_connection_buffered (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  Reader reader = { 0 };

  g_test_summary ("Issue 12 §1: after two sends and one receive the second message is "
                  "in the receiver's buffer, not in the socket; a main-loop watch on "
                  "the connection must still fire for it (a g_unix_fd_add() watch on "
                  "mpk_connection_fileno() never does)");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send (b, g_variant_new_int32 (0));
  mpk_test_send (b, g_variant_new_int32 (1));
  reader.conn = a;
  reader.n_wanted = 2;
  reader_take_one (&reader);              /* one read(2) takes both frames */
  g_assert_cmpuint (reader.n_received, ==, 1);

  reader.n_wakeups = 0;
  watch = add_reader_source (context, &reader);
  run_reader (context, &reader);
  g_source_destroy (watch);

  g_test_message ("wake-ups %u, messages %u, empty %u", reader.n_wakeups, reader.n_received,
                  reader.n_empty);
  g_assert_cmpuint (reader.n_received, ==, 2);
  g_assert_false (reader.stalled);
  g_assert_false (reader.out_of_order);
  g_assert_cmpuint (reader.n_wakeups, ==, 1);
  g_assert_cmpint (reader.conditions, ==, G_IO_IN);
}

static void
test_connection_raw_fd (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GVariant) v = NULL;
  struct pollfd pfd;

  g_test_summary ("What mpk_connection_fileno()'s documentation warns about: with a "
                  "message buffered, poll(2) on the descriptor says nothing is ready "
                  "while mpk_connection_poll() (and the source) says a message is");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send (b, g_variant_new_int32 (0));
  mpk_test_send (b, g_variant_new_int32 (1));
  v = mpk_connection_recv (a, MPK_WAIT_FOREVER, NULL);
  g_assert_nonnull (v);

  pfd.fd = mpk_connection_fileno (a, NULL);
  pfd.events = POLLIN;
  pfd.revents = 0;
  g_assert_cmpint (poll (&pfd, 1, 0), ==, 0);
  g_assert_true (mpk_connection_poll (a, MPK_NO_WAIT, NULL));
}

/* The sender of the burst test: @n_bursts bursts of BURST messages, each
 * burst sent in one go and the next only after the parent's "next". Their
 * sizes vary, and one message per burst is larger than the read buffer, so
 * frames arrive whole, several to a read, and in pieces. */
#define BURST 64
#define N_BURSTS 16
#define BIG_MESSAGE (200 * 1024)

static int
burst_sender (gpointer data)
{
  MpkTestChannel *channel = data;
  gint32 n = 0;

  child_guard ();
  mpk_connection_close (channel->parent);
  for (int burst = 0; burst < N_BURSTS; burst++)
    {
      g_autoptr(GVariant) ack = NULL;

      for (int i = 0; i < BURST; i++, n++)
        {
          gsize size = i == BURST / 2 ? BIG_MESSAGE : (gsize) (n * 97) % 3000;
          g_autofree char *pad = g_malloc (size + 1);
          GError *error = NULL;

          memset (pad, 'a' + n % 26, size);
          pad[size] = '\0';
          mpk_connection_send (channel->child, g_variant_new ("(is)", n, pad),
                               MPK_TEST_CHILD_TIMEOUT_US, &error);
          MPK_CHILD_NO_ERROR (error);
        }
      ack = mpk_connection_recv (channel->child, MPK_TEST_CHILD_TIMEOUT_US, NULL);
      MPK_CHILD_CHECK (ack != NULL);
    }
  /* Quiet, not gone: the parent checks that an idle source stays still. */
  MPK_CHILD_CHECK (child_wait (channel));
  return 0;
}

static void
test_connection_bursts (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  MpkTestChannel channel;
  MpkProcess *sender;
  Reader reader = { 0 };
  guint idle_wakeups;

  g_test_summary ("Issue 12 §1: a main loop receives every message of bursts sent "
                  "through a connection source, in order, and wakes up about once per "
                  "message: never while nothing has arrived");
  mpk_test_channel_init (&channel);
  sender = mpk_test_start (burst_sender, &channel);
  mpk_connection_close (channel.child);

  reader.conn = channel.parent;
  reader.n_wanted = BURST * N_BURSTS;
  reader.burst = BURST;
  watch = add_reader_source (context, &reader);
  run_reader (context, &reader);

  g_test_message ("%u messages in %u bursts: %u wake-ups, %u of them without a whole "
                  "message", reader.n_received, N_BURSTS, reader.n_wakeups, reader.n_empty);
  g_assert_false (reader.stalled);
  g_assert_cmpuint (reader.n_received, ==, BURST * N_BURSTS);
  g_assert_false (reader.out_of_order);
  /* Every wake-up without a message took bytes that were new (a part of a
   * frame): a watch that fired with nothing new would spin and count
   * thousands. The big frames are the ones that come in pieces. */
  g_assert_cmpuint (reader.n_wakeups, ==, reader.n_received + reader.n_empty);
  g_assert_cmpuint (reader.n_empty, <=, reader.n_received);

  /* All read, and the sender waits for our "bye" without sending: the idle
   * source must not fire. */
  idle_wakeups = reader.n_wakeups;
  drain_context (context);
  g_assert_cmpuint (reader.n_wakeups, ==, idle_wakeups);
  parent_say (&channel, "bye");

  join_child (sender, 0);
  g_source_destroy (watch);
  mpk_test_channel_clear (&channel);
}

static void
test_connection_eof (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  Reader reader = { 0 };

  g_test_summary ("A message then the peer's close: the source gives the message, then "
                  "G_IO_HUP and end of file; returning G_SOURCE_REMOVE ends it");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send (b, g_variant_new_int32 (0));
  mpk_connection_close (b);
  reader.conn = a;
  reader.n_wanted = G_MAXUINT;
  watch = add_reader_source (context, &reader);
  run_reader (context, &reader);

  g_assert_false (reader.stalled);
  g_assert_true (reader.eof);
  g_assert_cmpuint (reader.n_received, ==, 1);
  g_assert_true (reader.conditions & G_IO_HUP);
  g_assert_true (g_source_is_destroyed (watch));
}

typedef struct
{
  guint        n_fired;
  GIOCondition condition;
} Fired;

static gboolean
record_fired_cb (MpkConnection *conn, GIOCondition condition, gpointer data)
{
  Fired *fired = data;

  fired->n_fired++;
  fired->condition = condition;
  return G_SOURCE_REMOVE;
}

static void
test_connection_writable (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  g_autoptr(GSource) guard = NULL;
  g_autoptr(GError) error = NULL;
  char chunk[4096] = { 0 };
  gboolean stalled = FALSE;
  Fired fired = { 0 };
  int fd_a, fd_b;
  gsize filled = 0;

  g_test_summary ("G_IO_OUT: a full socket does not fire the source; once the peer "
                  "has read, it fires with G_IO_OUT");
  mpk_test_pipe (TRUE, &a, &b);
  fd_a = mpk_connection_fileno (a, NULL);
  fd_b = mpk_connection_fileno (b, NULL);
  /* Raw bytes, read back raw: only the socket's fill level matters here. */
  while (write (fd_a, chunk, sizeof chunk) > 0)
    filled += sizeof chunk;
  g_assert_cmpint (errno, ==, EAGAIN);

  watch = mpk_connection_create_source (a, G_IO_OUT, &error);
  g_assert_no_error (error);
  g_source_set_callback (watch, G_SOURCE_FUNC (record_fired_cb), &fired, NULL);
  g_source_attach (watch, context);
  drain_context (context);
  g_assert_cmpuint (fired.n_fired, ==, 0);

  while (read (fd_b, chunk, sizeof chunk) > 0)
    ;
  guard = add_stall_guard (context, &stalled);
  while (fired.n_fired == 0 && !stalled)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (guard);
  g_test_message ("the socket took %" G_GSIZE_FORMAT " bytes", filled);
  g_assert_false (stalled);
  g_assert_cmpuint (fired.n_fired, ==, 1);
  g_assert_cmpint (fired.condition, ==, G_IO_OUT);
}

static void
test_connection_closed (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(MpkConnection) r = NULL;
  g_autoptr(MpkConnection) w = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  g_autoptr(GError) error = NULL;
  GSource *none;
  Fired fired = { 0 };

  g_test_summary ("A connection closed under its source gives G_IO_NVAL once and "
                  "leaves the poll set; a source on a closed end is CLOSED, one for a "
                  "direction the end lacks INVALID");
  mpk_test_pipe (TRUE, &a, &b);
  watch = mpk_connection_create_source (a, G_IO_IN | G_IO_OUT, &error);
  g_assert_no_error (error);
  g_source_set_callback (watch, G_SOURCE_FUNC (record_fired_cb), &fired, NULL);
  g_source_attach (watch, context);
  /* Open and writable: it fires with G_IO_OUT (and removes itself). */
  drain_context (context);
  g_assert_cmpuint (fired.n_fired, ==, 1);
  g_assert_cmpint (fired.condition, ==, G_IO_OUT);
  g_clear_pointer (&watch, g_source_unref);

  watch = mpk_connection_create_source (a, G_IO_IN, &error);
  g_assert_no_error (error);
  g_source_set_callback (watch, G_SOURCE_FUNC (record_fired_cb), &fired, NULL);
  g_source_attach (watch, context);
  drain_context (context);
  g_assert_cmpuint (fired.n_fired, ==, 1);     /* nothing to read */
  mpk_connection_close (a);
  drain_context (context);
  g_assert_cmpuint (fired.n_fired, ==, 2);
  g_assert_cmpint (fired.condition, ==, G_IO_NVAL);

  none = mpk_connection_create_source (a, G_IO_IN, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_assert_null (none);
  g_clear_error (&error);

  mpk_test_pipe (FALSE, &r, &w);
  none = mpk_connection_create_source (w, G_IO_IN, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (none);
  g_clear_error (&error);
  none = mpk_connection_create_source (r, G_IO_OUT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (none);
  g_clear_error (&error);
  none = mpk_connection_create_source (r, G_IO_PRI, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (none);
}

/* --- process ends ---------------------------------------------------------- */

typedef struct
{
  guint    n_fired;
  gboolean was_zombie;     /* not reaped when the callback ran */
  gboolean joined;
  int      exitcode;
} Ended;

static void
process_ended_cb (MpkProcess *process, gpointer data)
{
  Ended *ended = data;
  siginfo_t info = { 0 };

  ended->n_fired++;
  /* WNOWAIT looks without reaping: the child must still be ours to reap. */
  ended->was_zombie = waitid (P_PID, mpk_process_get_pid (process), &info,
                              WEXITED | WNOHANG | WNOWAIT) == 0
                      && info.si_pid == mpk_process_get_pid (process);
  ended->joined = mpk_process_join (process, MPK_NO_WAIT);
  ended->exitcode = mpk_process_get_exitcode (process);
}

static void
count_end_cb (MpkProcess *process, gpointer data)
{
  Ended *ended = data;

  ended->n_fired++;
}

static GSource *
add_end_source (GMainContext *context, MpkProcess *process, Ended *ended)
{
  g_autoptr(GError) error = NULL;
  GSource *source;

  source = mpk_process_create_source (process, &error);
  g_assert_no_error (error);
  g_assert_nonnull (source);
  g_source_set_callback (source, G_SOURCE_FUNC (process_ended_cb), ended, NULL);
  g_source_attach (source, context);
  return source;
}

static void
run_until_ended (GMainContext *context, Ended *ended)
{
  gboolean stalled = FALSE;
  g_autoptr(GSource) guard = add_stall_guard (context, &stalled);

  while (ended->n_fired == 0 && !stalled)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (guard);
  g_assert_false (stalled);
}

/* Exits with 42 once the parent says so. */
static int
exit_42_when_told (gpointer data)
{
  MpkTestChannel *channel = data;

  child_guard ();
  mpk_connection_close (channel->parent);
  MPK_CHILD_CHECK (child_wait (channel));
  return 42;
}

static void
test_process_end (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  MpkTestChannel channel;
  MpkProcess *process;
  Ended ended = { 0 };

  g_test_summary ("Issue 12 §1: a process-end source does not fire while the child "
                  "runs, fires once when it ends, and leaves it unreaped, so join "
                  "gets the right exit code");
  mpk_test_channel_init (&channel);
  process = mpk_test_start (exit_42_when_told, &channel);
  mpk_connection_close (channel.child);

  watch = add_end_source (context, process, &ended);
  drain_context (context);
  g_assert_cmpuint (ended.n_fired, ==, 0);     /* it waits for our word */

  parent_say (&channel, "exit");
  run_until_ended (context, &ended);
  drain_context (context);
  g_assert_cmpuint (ended.n_fired, ==, 1);
  g_assert_true (ended.was_zombie);
  g_assert_true (ended.joined);
  g_assert_cmpint (ended.exitcode, ==, 42);
  g_assert_true (g_source_is_destroyed (watch));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, 42);

  mpk_process_unref (process);
  mpk_test_channel_clear (&channel);
}

static void
test_process_killed (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  MpkTestChannel channel;
  MpkProcess *process;
  Ended ended = { 0 };

  g_test_summary ("A process killed by SIGKILL: the source fires once and the exit "
                  "code is -SIGKILL");
  mpk_test_channel_init (&channel);
  process = mpk_test_start (exit_42_when_told, &channel);
  mpk_connection_close (channel.child);
  watch = add_end_source (context, process, &ended);
  g_assert_true (mpk_process_kill (process, NULL));
  run_until_ended (context, &ended);
  drain_context (context);
  g_assert_cmpuint (ended.n_fired, ==, 1);
  g_assert_true (ended.was_zombie);
  g_assert_cmpint (ended.exitcode, ==, -SIGKILL);
  mpk_process_unref (process);
  mpk_test_channel_clear (&channel);
}

static void
test_process_already_joined (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) watch = NULL;
  g_autoptr(GSource) closed_watch = NULL;
  g_autoptr(GError) error = NULL;
  MpkTestChannel channel;
  MpkProcess *process;
  Ended ended = { 0 };
  Ended closed_ended = { 0 };
  GSource *none;

  g_test_summary ("A source made after the join fires at once with the exit code "
                  "intact; closing the process under a source fires it; not started "
                  "or closed is INVALID");
  mpk_test_channel_init (&channel);
  process = mpk_process_new (NULL, exit_42_when_told, &channel, NULL);
  none = mpk_process_create_source (process, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (none);
  g_clear_error (&error);

  g_assert_true (mpk_process_start (process, NULL));
  mpk_connection_close (channel.child);
  parent_say (&channel, "exit");
  g_assert_true (mpk_process_join (process, MPK_TEST_CHILD_TIMEOUT_US));

  watch = add_end_source (context, process, &ended);
  closed_watch = mpk_process_create_source (process, &error);
  g_assert_no_error (error);
  g_source_set_callback (closed_watch, G_SOURCE_FUNC (count_end_cb), &closed_ended, NULL);
  drain_context (context);
  g_assert_cmpuint (ended.n_fired, ==, 1);
  g_assert_true (ended.joined);
  g_assert_cmpint (ended.exitcode, ==, 42);

  /* Closed (its sentinel gone) before the source ever ran. */
  g_assert_true (mpk_process_close (process, NULL));
  g_source_attach (closed_watch, context);
  drain_context (context);
  g_assert_cmpuint (closed_ended.n_fired, ==, 1);

  none = mpk_process_create_source (process, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (none);

  mpk_process_unref (process);
  mpk_test_channel_clear (&channel);
}

/* --- in a forked child --------------------------------------------------- */

#define CHILD_MESSAGES 20

static gboolean
child_stall_cb (gpointer data)
{
  gboolean *stalled = data;

  *stalled = TRUE;
  return G_SOURCE_REMOVE;
}

static int
exit_7 (gpointer data)
{
  return 7;
}

static void
child_process_ended (MpkProcess *process, gpointer data)
{
  int *exitcode = data;

  *exitcode = mpk_process_join (process, MPK_NO_WAIT) ? mpk_process_get_exitcode (process)
                                                      : -1000;
}

/* In the child: its own GMainContext receives the parent's messages
 * through a connection source, then watches a grandchild's end. */
static int
main_loop_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GMainContext *context;
  GSource *watch, *end_watch, *guard;
  MpkProcess *grandchild;
  GError *error = NULL;
  Reader reader = { 0 };
  gboolean stalled = FALSE;
  int grandchild_code = MPK_EXITCODE_NONE;

  child_guard ();
  mpk_connection_close (channel->parent);
  context = g_main_context_new ();
  guard = g_timeout_source_new_seconds (STALL_GUARD_S);
  g_source_set_callback (guard, child_stall_cb, &stalled, NULL);
  g_source_attach (guard, context);

  reader.conn = channel->child;
  reader.n_wanted = CHILD_MESSAGES;
  watch = mpk_connection_create_source (channel->child, G_IO_IN, &error);
  MPK_CHILD_NO_ERROR (error);
  g_source_set_callback (watch, G_SOURCE_FUNC (conn_watch_cb), &reader, NULL);
  g_source_attach (watch, context);
  while (reader.n_received < reader.n_wanted && !stalled)
    g_main_context_iteration (context, TRUE);
  MPK_CHILD_CHECK (reader.n_received == CHILD_MESSAGES);
  MPK_CHILD_CHECK (!reader.out_of_order);

  grandchild = mpk_process_new (NULL, exit_7, NULL, NULL);
  MPK_CHILD_CHECK (mpk_process_start (grandchild, &error));
  end_watch = mpk_process_create_source (grandchild, &error);
  MPK_CHILD_NO_ERROR (error);
  g_source_set_callback (end_watch, G_SOURCE_FUNC (child_process_ended), &grandchild_code, NULL);
  g_source_attach (end_watch, context);
  while (grandchild_code == MPK_EXITCODE_NONE && !stalled)
    g_main_context_iteration (context, TRUE);
  MPK_CHILD_CHECK (grandchild_code == 7);

  g_source_destroy (watch);
  g_source_unref (watch);
  g_source_unref (end_watch);
  g_source_destroy (guard);
  g_source_unref (guard);
  mpk_process_unref (grandchild);
  g_main_context_unref (context);
  MPK_CHILD_CHECK (child_say (channel, "done"));
  return 0;
}

static void
test_forked_child (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) parent_watch = NULL;
  MpkTestChannel channel;
  MpkProcess *child;
  Reader reader = { 0 };
  Ended ended = { 0 };
  g_autoptr(GSource) end_watch = NULL;

  g_test_summary ("Issue 12 §1: in a forked child, its own GMainContext runs a "
                  "connection source and a process-end source for its own child; the "
                  "parent's source, attached before the fork, still works");
  mpk_test_channel_init (&channel);
  reader.conn = channel.parent;
  reader.n_wanted = 1;
  parent_watch = add_reader_source (context, &reader);
  /* All at once, so the child buffers most of them in one read. */
  for (gint32 i = 0; i < CHILD_MESSAGES; i++)
    mpk_test_send (channel.parent, g_variant_new_int32 (i));
  child = mpk_test_start (main_loop_child, &channel);
  mpk_connection_close (channel.child);
  end_watch = add_end_source (context, child, &ended);

  run_reader (context, &reader);
  g_assert_false (reader.stalled);
  g_assert_cmpuint (reader.n_received, ==, 1);
  g_assert_cmpint (reader.bad_value, ==, -1);  /* the child's "done", not a number */

  run_until_ended (context, &ended);
  g_assert_true (ended.was_zombie);
  g_assert_cmpint (ended.exitcode, ==, 0);
  mpk_process_unref (child);
  g_source_destroy (parent_watch);
  mpk_test_channel_clear (&channel);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  arm_watchdog ();

  mpk_test_add_func ("/source/connection/buffered", test_connection_buffered);
  mpk_test_add_func ("/source/connection/raw-fd", test_connection_raw_fd);
  mpk_test_add_func ("/source/connection/bursts", test_connection_bursts);
  mpk_test_add_func ("/source/connection/eof", test_connection_eof);
  mpk_test_add_func ("/source/connection/writable", test_connection_writable);
  mpk_test_add_func ("/source/connection/closed", test_connection_closed);
  mpk_test_add_func ("/source/process/end", test_process_end);
  mpk_test_add_func ("/source/process/killed", test_process_killed);
  mpk_test_add_func ("/source/process/already-joined", test_process_already_joined);
  mpk_test_add_func ("/source/forked-child", test_forked_child);

  return g_test_run ();
}
