/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-msgproc.c: the message-process layer (issue 15, seed 003, valkka).
 * valkka has no test suite (../shared/research/anchor-layers.md §3.3): its
 * demos are ported (base.test1's ping, the seed's EventGroup run with FIFO
 * recycling), then each defect of §3.5 is run against this layer: a handler
 * error, wrong parameters, an unknown command and a malformed frame are
 * reported and the backend lives on (VD1-VD3, VD14); a backend SIGKILLed
 * makes the frontend's calls fail in time (VD1); a frontend SIGKILLed ends
 * its backend (VD4); an idle backend sleeps (VD5); a double release is
 * refused (VD7); a sync wait ends (VD6); descriptors above 1024 (VD9); a
 * 4 MiB message (VD10); the async backend overlaps commands and says
 * goodbye (VD12). Orders are checked, never durations (those go to the
 * log). */
#include "mpk-private.h"
#include "mpk-msgproc-private.h"
#include "test-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <fcntl.h>

#define WAIT_US MPK_TEST_CHILD_TIMEOUT_US

/* --- helpers ---------------------------------------------------------------- */

static MpkMessageProcess *
new_mp (const char *name)
{
  g_autoptr(GError) error = NULL;
  MpkMessageProcess *mp = mpk_message_process_new ("TestProcess", name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (mp);
  return mp;
}

static void
start_ok (MpkMessageProcess *mp)
{
  g_autoptr(GError) error = NULL;

  ASSERT_OK (mpk_message_process_start (mp, &error), error);
}

static void
send_ok (MpkMessageProcess *mp, MpkCommand *command)
{
  g_autoptr(GError) error = NULL;

  ASSERT_OK (mpk_message_process_send (mp, command, WAIT_US, &error), error);
}

/* Receives a message called @name and returns it. */
static MpkCommand *
expect_message (MpkMessageProcess *mp, const char *name)
{
  g_autoptr(GError) error = NULL;
  MpkCommand *got = mpk_message_process_receive (mp, WAIT_US, &error);

  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_cmpstr (mpk_command_get_name (got), ==, name);
  return got;
}

static void
expect_pong (MpkMessageProcess *mp, gint32 n)
{
  g_autoptr(MpkCommand) pong = expect_message (mp, "pong");
  g_autoptr(GVariant) v = mpk_command_lookup (pong, "n", G_VARIANT_TYPE_INT32);

  g_assert_nonnull (v);
  g_assert_cmpint (g_variant_get_int32 (v), ==, n);
}

static void
ping (MpkMessageProcess *mp, gint32 n)
{
  send_ok (mp, mpk_command_new_with ("ping", "n", g_variant_new_int32 (n), NULL));
  expect_pong (mp, n);
}

/* Receives and expects a failure with @domain and @code. */
static void
expect_error (MpkMessageProcess *mp, GQuark domain, int code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkCommand) got = mpk_message_process_receive (mp, WAIT_US, &error);

  g_assert_null (got);
  g_assert_error (error, domain, code);
  g_test_message ("error as received: %s", error->message);
}

static void
stop_ok (MpkMessageProcess *mp)
{
  g_autoptr(GError) error = NULL;

  ASSERT_OK (mpk_message_process_stop (mp, WAIT_US, &error), error);
  g_assert_true (mpk_message_process_said_goodbye (mp));
  g_assert_cmpint (mpk_process_get_exitcode (mpk_message_process_get_process (mp)), ==, 0);
}

/* A handler that replies with its command's name and parameters. */
static gboolean
echo_handler (MpkMessageProcess *mp, MpkCommand *command, gpointer data, GError **error)
{
  return mpk_message_process_reply (mp, command, command, WAIT_US, error);
}

static gboolean
fail_handler (MpkMessageProcess *mp, MpkCommand *command, gpointer data, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such file: %s", "valkka.txt");
  return FALSE;
}

/* Blocks its backend for good: a backend that never reads the stop. */
static gboolean
hang_handler (MpkMessageProcess *mp, MpkCommand *command, gpointer data, GError **error)
{
  signal (SIGTERM, SIG_IGN);
  for (int i = 0; i < 600; i++)
    g_usleep (100 * 1000);
  return TRUE;
}

/* --- the command object ------------------------------------------------------ */

static void
test_command_basics (void)
{
  g_autoptr(MpkCommand) cmd = mpk_command_new_with ("a-command",
                                                    "par1", g_variant_new_int32 (1),
                                                    "par2", g_variant_new_int32 (2),
                                                    NULL);
  g_autoptr(MpkCommand) empty = mpk_command_new ("stop", NULL);
  g_autoptr(GVariant) p1 = NULL;
  g_autoptr(GVariant) missing = NULL;
  g_autofree char *text = NULL, *text2 = NULL;

  g_test_summary ("the seed's MessageObject example: msg() is 'a-command', msg['par1'] is 1");
  g_assert_cmpstr (mpk_command_get_name (cmd), ==, "a-command");
  g_assert_true (mpk_command_is (cmd, "a-command"));
  g_assert_false (mpk_command_is (cmd, "b"));
  p1 = mpk_command_lookup (cmd, "par1", G_VARIANT_TYPE_INT32);
  g_assert_nonnull (p1);
  g_assert_cmpint (g_variant_get_int32 (p1), ==, 1);
  missing = mpk_command_lookup (cmd, "par3", NULL);
  g_assert_null (missing);
  text = mpk_command_to_string (cmd);
  g_assert_cmpstr (text, ==, "a-command (par1=1, par2=2)");
  text2 = mpk_command_to_string (empty);
  g_assert_cmpstr (text2, ==, "stop ()");
  g_assert_cmpuint (g_variant_n_children (mpk_command_get_params (empty)), ==, 0);
}

static void
test_command_wire (void)
{
  g_autoptr(MpkCommand) cmd = mpk_command_new_with ("ping", "lis",
                                                    g_variant_new_parsed ("[1, 2]"), NULL);
  g_autoptr(GVariant) frame = g_variant_ref_sink (mpk__command_to_wire (cmd, MPK__COMMAND_KIND_COMMAND, 7));
  g_autoptr(MpkCommand) back = NULL;
  g_autoptr(GError) error = NULL;
  MpkCommandKind kind = 0;
  guint64 id = 0;
  const char *bad[] = {
    "(byte 0, uint64 1, 'x', @a{sv} {})",                           /* kind 0 */
    "(byte 9, uint64 1, 'x', @a{sv} {})",                           /* kind out of range */
    "(byte 1, uint64 1, '', @a{sv} {})",                            /* empty name */
    "(byte 1, uint64 1, 'x', {'a': <1>, 'a': <2>})",                /* a key twice */
    "(byte 5, uint64 1, 'x', {'code': <1>})",                       /* an error without domain */
    "(byte 5, uint64 1, 'x', {'domain': <''>, 'code': <1>, 'message': <'m'>})",
  };

  g_test_summary ("commands survive the wire; malformed frames are PROTOCOL, never a crash");
  back = mpk__command_from_wire (frame, &kind, &id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kind, ==, MPK__COMMAND_KIND_COMMAND);
  g_assert_cmpuint (id, ==, 7);
  g_assert_true (g_variant_equal (mpk_command_get_params (back), mpk_command_get_params (cmd)));
  g_assert_cmpuint (mpk__command_get_id (back), ==, 7);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_parsed (bad[i]));
      g_autoptr(MpkCommand) c = mpk__command_from_wire (v, &kind, &id, &error);

      g_assert_null (c);
      g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
      g_clear_error (&error);
    }
  {
    g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_parsed ("(1, 'x')"));
    g_autoptr(MpkCommand) c = mpk__command_from_wire (v, &kind, &id, &error);

    g_assert_null (c);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
    g_clear_error (&error);
  }
  /* Many keys (compared through a table) with the last one repeated. */
  {
    GVariantBuilder b;
    g_autoptr(GVariant) v = NULL;
    g_autoptr(MpkCommand) c = NULL;

    g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
    for (int k = 0; k < 20; k++)
      {
        g_autofree char *key = g_strdup_printf ("k%d", k);

        g_variant_builder_add (&b, "{sv}", key, g_variant_new_int32 (k));
      }
    g_variant_builder_add (&b, "{sv}", "k7", g_variant_new_int32 (7));
    v = g_variant_ref_sink (g_variant_new ("(ytsa{sv})", 1, (guint64) 1, "many", &b));
    c = mpk__command_from_wire (v, &kind, &id, &error);
    g_assert_null (c);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
    g_clear_error (&error);
  }
  {
    char *name = g_strnfill (MPK_COMMAND_MAX_NAME + 1, 'n');
    g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new ("(ytsa{sv})", 1, (guint64) 1,
                                                               name, NULL));
    g_autoptr(MpkCommand) c = mpk__command_from_wire (v, &kind, &id, &error);

    g_free (name);
    g_assert_null (c);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
    g_clear_error (&error);
  }
}

static void
test_param_spec (void)
{
  g_autoptr(GError) error = NULL;
  MpkParamSpec *spec;
  struct { const char *params; gboolean ok; } cases[] = {
    { "{'lis': <[1, 2]>, 'n': <3>}", TRUE },
    { "{'lis': <[1, 2]>}", TRUE },                    /* n is optional */
    { "{'n': <3>}", FALSE },                          /* lis is missing */
    { "{'lis': <['a']>}", FALSE },                    /* wrong type */
    { "{'lis': <@ai []>, 'x': <1>}", FALSE },          /* unexpected */
  };
  const char *bad_specs[] = { "lis", ":i", "lis:", "lis:q(", "a:i,a:s", "?:i" };

  g_test_summary ("parameter lists: required, optional, types, unexpected keys");
  spec = mpk__param_spec_parse ("lis:ai, n?:i", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) params = g_variant_ref_sink (g_variant_new_parsed (cases[i].params));
      gboolean ok = mpk__param_spec_check (spec, params, &error);

      g_test_message ("%s: %s", cases[i].params, ok ? "accepted" : error->message);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (!ok)
        g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);
    }
  mpk__param_spec_free (spec);
  for (guint i = 0; i < G_N_ELEMENTS (bad_specs); i++)
    {
      spec = mpk__param_spec_parse (bad_specs[i], &error);
      g_assert_null (spec);
      g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);
    }
  spec = mpk__param_spec_parse ("", &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) none = g_variant_ref_sink (g_variant_new_parsed ("@a{sv} {}"));
    g_autoptr(GVariant) one = g_variant_ref_sink (g_variant_new_parsed ("{'a': <1>}"));

    g_assert_true (mpk__param_spec_check (spec, none, NULL));
    g_assert_false (mpk__param_spec_check (spec, one, NULL));
  }
  mpk__param_spec_free (spec);
}

/* --- dispatch ------------------------------------------------------------------ */

static void
test_valkka_test1 (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("test1");
  g_autoptr(MpkCommand) pong = NULL;
  g_autoptr(GVariant) lis = NULL;

  g_test_summary ("valkka's base.test1: sendPing([1, 2, 3]) gets a pong back; stop says goodbye");
  start_ok (mp);
  send_ok (mp, mpk_command_new_with ("ping", "lis", g_variant_new_parsed ("[1, 2, 3]"), NULL));
  pong = expect_message (mp, "pong");
  lis = mpk_command_lookup (pong, "lis", G_VARIANT_TYPE ("ai"));
  g_assert_nonnull (lis);
  g_assert_cmpuint (g_variant_n_children (lis), ==, 3);
  stop_ok (mp);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MpkCommand) none = mpk_message_process_receive (mp, WAIT_US, &error);

    g_assert_null (none);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  }
}

static void
test_receive_after_wait (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("select");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(MpkCommand) pong = NULL;
  gpointer objects[1];

  g_test_summary ("valkka's select pattern: mpk_wait on the frontend's pipe, then a receive "
                  "that does not wait gets the message; with nothing there it is TIMED_OUT");
  start_ok (mp);
  {
    g_autoptr(MpkCommand) none = mpk_message_process_receive (mp, MPK_NO_WAIT, &error);

    g_assert_null (none);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
    g_clear_error (&error);
  }
  send_ok (mp, mpk_command_new_with ("ping", "n", g_variant_new_int32 (9), NULL));
  objects[0] = mpk_message_process_get_connection (mp);
  ready = mpk_wait (objects, 1, WAIT_US, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 1);
  pong = mpk_message_process_receive (mp, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pong);
  g_assert_cmpstr (mpk_command_get_name (pong), ==, "pong");
  stop_ok (mp);
}

static void
test_dispatch_every_command (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("dispatch");
  g_autoptr(GError) error = NULL;
  const char *names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };

  g_test_summary ("every registered command reaches its own handler, in the order sent");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    ASSERT_OK (mpk_message_process_add_handler (mp, names[i], "i:i", echo_handler, NULL, NULL,
                                                &error), error);
  start_ok (mp);
  ASSERT_FAILS (mpk_message_process_add_handler (mp, "late", NULL, echo_handler, NULL, NULL,
                                                 &error), error, MPK_ERROR_INVALID);
  for (int round = 0; round < 3; round++)
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      send_ok (mp, mpk_command_new_with (names[i], "i", g_variant_new_int32 (round * 10 + i), NULL));
  for (int round = 0; round < 3; round++)
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autoptr(MpkCommand) got = expect_message (mp, names[i]);
        g_autoptr(GVariant) v = mpk_command_lookup (got, "i", G_VARIANT_TYPE_INT32);

        g_assert_cmpint (g_variant_get_int32 (v), ==, round * 10 + (int) i);
      }
  stop_ok (mp);
}

static void
test_errors_reported (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("errors");
  g_autoptr(GError) error = NULL;

  g_test_summary ("VD1-VD3: an unknown command, wrong parameters and a failing handler are "
                  "error messages to the frontend; the backend answers the next ping");
  ASSERT_OK (mpk_message_process_add_handler (mp, "typed", "lis:ai,n?:i", echo_handler, NULL,
                                              NULL, &error), error);
  ASSERT_OK (mpk_message_process_add_handler (mp, "boom", "", fail_handler, NULL, NULL, &error),
             error);
  start_ok (mp);

  send_ok (mp, mpk_command_new ("nosuch", NULL));
  expect_error (mp, MPK_ERROR, MPK_ERROR_INVALID);
  ping (mp, 1);

  send_ok (mp, mpk_command_new_with ("typed", "lis", g_variant_new_string ("x"), NULL));
  expect_error (mp, MPK_ERROR, MPK_ERROR_INVALID);
  send_ok (mp, mpk_command_new_with ("typed", "n", g_variant_new_int32 (1), NULL));
  expect_error (mp, MPK_ERROR, MPK_ERROR_INVALID);
  send_ok (mp, mpk_command_new_with ("typed", "lis", g_variant_new_parsed ("@ai []"),
                                     "extra", g_variant_new_int32 (1), NULL));
  expect_error (mp, MPK_ERROR, MPK_ERROR_INVALID);
  ping (mp, 2);

  send_ok (mp, mpk_command_new ("boom", NULL));
  expect_error (mp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  ping (mp, 3);

  /* VD14: something that is not a command at all. */
  g_assert_true (mpk_connection_send (mpk_message_process_get_connection (mp),
                                      g_variant_new_string ("not a command"), WAIT_US, &error));
  g_assert_no_error (error);
  expect_error (mp, MPK_ERROR, MPK_ERROR_PROTOCOL);
  ping (mp, 4);
  g_assert_true (mpk_message_process_is_alive (mp));
  stop_ok (mp);
}

/* --- stopping --------------------------------------------------------------------- */

static gboolean
pre_run_hook (MpkMessageProcess *mp, gpointer data, GError **error)
{
  g_autoptr(MpkCommand) ready = mpk_command_new ("ready", NULL);

  return mpk_message_process_send_out (mp, ready, WAIT_US, error);
}

static gboolean
post_run_hook (MpkMessageProcess *mp, gpointer data, GError **error)
{
  mpk_event_set (data);
  return TRUE;
}

static void
test_stop_goodbye_hooks (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("hooks");
  g_autoptr(MpkEvent) post_ran = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkCommand) ready = NULL;

  g_test_summary ("pre-run runs before the first command, the goodbye comes after the last "
                  "reply, post-run runs after the loop; a second stop is harmless");
  post_ran = mpk_event_new (&error);
  g_assert_no_error (error);
  mpk_message_process_set_hooks (mp, pre_run_hook, post_run_hook, post_ran);
  start_ok (mp);
  send_ok (mp, mpk_command_new_with ("ping", "n", g_variant_new_int32 (5), NULL));
  ASSERT_OK (mpk_message_process_request_stop (mp, WAIT_US, &error), error);
  ASSERT_FAILS (mpk_message_process_send (mp, mpk_command_new ("ping", NULL), WAIT_US, &error),
                error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_message_process_wait_stop (mp, WAIT_US, &error), error);
  /* What came before the goodbye is kept for receive. */
  ready = expect_message (mp, "ready");
  expect_pong (mp, 5);
  expect_error (mp, MPK_ERROR, MPK_ERROR_EOF);
  g_assert_true (mpk_message_process_said_goodbye (mp));
  g_assert_true (mpk_event_is_set (post_ran));
  ASSERT_OK (mpk_message_process_stop (mp, WAIT_US, &error), error);
  ASSERT_FAILS (mpk_message_process_send (mp, mpk_command_new ("ping", NULL), WAIT_US, &error),
                error, MPK_ERROR_EOF);
}

static void
test_stop_ignored (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("stubborn");
  g_autoptr(GError) error = NULL;

  g_test_summary ("a backend that never reads the stop request is terminated after the timeout");
  ASSERT_OK (mpk_message_process_add_handler (mp, "hang", NULL, hang_handler, NULL, NULL, &error),
             error);
  start_ok (mp);
  ping (mp, 1);
  send_ok (mp, mpk_command_new ("hang", NULL));
  ASSERT_FAILS (mpk_message_process_stop (mp, 300 * 1000, &error), error, MPK_ERROR_TIMED_OUT);
  g_assert_false (mpk_message_process_is_alive (mp));
  g_assert_false (mpk_message_process_said_goodbye (mp));
  /* It ignores SIGTERM too: SIGKILL after MPK_MESSAGE_PROCESS_KILL_TIMEOUT. */
  g_assert_cmpint (mpk_process_get_exitcode (mpk_message_process_get_process (mp)), ==, -SIGKILL);
}

/* --- peers dying ---------------------------------------------------------------------- */

static void
test_backend_killed (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("victim");
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkCommand) got = NULL;
  gint64 start;

  g_test_summary ("VD1: after the backend is SIGKILLed, receive and send fail PEER_DIED in time");
  ASSERT_OK (mpk_message_process_add_handler (mp, "hang", NULL, hang_handler, NULL, NULL, &error),
             error);
  start_ok (mp);
  ping (mp, 1);
  send_ok (mp, mpk_command_new ("hang", NULL));
  g_assert_true (mpk_process_kill (mpk_message_process_get_process (mp), &error));
  start = g_get_monotonic_time ();
  got = mpk_message_process_receive (mp, WAIT_US, &error);
  g_assert_null (got);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED);
  g_test_message ("receive failed after %.1f ms: %s",
                  (g_get_monotonic_time () - start) / 1000.0, error->message);
  g_clear_error (&error);
  ASSERT_FAILS (mpk_message_process_send (mp, mpk_command_new ("ping", NULL), WAIT_US, &error),
                error, MPK_ERROR_PEER_DIED);
  ASSERT_FAILS (mpk_message_process_request_stop (mp, WAIT_US, &error), error,
                MPK_ERROR_PEER_DIED);
  /* stop on a dead backend reaps and succeeds (nothing left to stop). */
  ASSERT_OK (mpk_message_process_stop (mp, WAIT_US, &error), error);
  g_assert_cmpint (mpk_process_get_exitcode (mpk_message_process_get_process (mp)), ==, -SIGKILL);
}

/* The middle process of the orphan test: makes a message process, tells
 * the test its backend's pid, and waits to be killed. */
static int
middle_main (gpointer data)
{
  MpkTestChannel *channel = data;
  MpkMessageProcess *mp;
  GError *error = NULL;
  GVariant *v;

  mpk_connection_close (channel->parent);
  mp = mpk_message_process_new ("Orphan", "orphan", &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_message_process_start (mp, &error));
  MPK_CHILD_CHECK (mpk_connection_send (channel->child, g_variant_new_int32 (
                     mpk_process_get_pid (mpk_message_process_get_process (mp))),
                                        WAIT_US, &error));
  v = mpk_connection_recv (channel->child, WAIT_US, NULL);   /* killed in here */
  g_clear_pointer (&v, g_variant_unref);
  return 0;
}

static gboolean
pid_gone (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  paren = strrchr (stat, ')');
  return paren != NULL && (strncmp (paren, ") Z", 3) == 0 || strncmp (paren, ") X", 3) == 0);
}

static void
test_frontend_killed (void)
{
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid_v = NULL;
  MpkProcess *middle;
  GPid backend;
  int tries;

  g_test_summary ("VD4: a backend whose frontend was SIGKILLed leaves instead of living on");
  mpk_test_channel_init (&channel);
  middle = mpk_test_start (middle_main, &channel);
  mpk_connection_close (channel.child);
  pid_v = mpk_connection_recv (channel.parent, WAIT_US, &error);
  g_assert_no_error (error);
  backend = g_variant_get_int32 (pid_v);
  g_assert_cmpint (backend, >, 0);
  g_assert_false (pid_gone (backend));
  g_assert_true (mpk_process_kill (middle, &error));
  mpk_test_join (middle, -SIGKILL);
  /* A bound that only detects a hang: the backend exits at once. */
  for (tries = 0; tries < 1000 && !pid_gone (backend); tries++)
    g_usleep (10 * 1000);
  g_test_message ("backend gone after %d polls", tries);
  g_assert_true (pid_gone (backend));
  mpk_test_channel_clear (&channel);
}

static void
test_sigint_ignored (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("no-sigint");

  g_test_summary ("ignoreSIGINT: a backend that ignores SIGINT still answers after one");
  mpk_message_process_set_ignore_sigint (mp, TRUE);
  start_ok (mp);
  ping (mp, 1);
  g_assert_cmpint (kill (mpk_process_get_pid (mpk_message_process_get_process (mp)), SIGINT),
                   ==, 0);
  ping (mp, 2);
  stop_ok (mp);
}

static gboolean
process_is_asleep (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);

  for (int tries = 0; tries < 5000; tries++)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      if (g_file_get_contents (path, &stat, NULL, NULL)
          && (paren = strrchr (stat, ')')) != NULL && strncmp (paren, ") S", 3) == 0)
        return TRUE;
      g_usleep (1000);
    }
  return FALSE;
}

static void
test_idle_backend_sleeps (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("idle");

  g_test_summary ("VD5: an idle backend sleeps in poll (a spinning one is never in state S)");
  start_ok (mp);
  ping (mp, 1);
  g_assert_true (process_is_asleep (mpk_process_get_pid (mpk_message_process_get_process (mp))));
  stop_ok (mp);
}

/* --- descriptors and sizes -------------------------------------------------------- */

static void
test_fds_above_1024 (void)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(MpkMessageProcess) mp = NULL;
  struct rlimit lim;
  int fd;

  g_test_summary ("VD9: a message process whose descriptors are above 1024 works");
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  if (lim.rlim_cur < 1200)
    {
      if (lim.rlim_max < 1200)
        {
          g_test_skip ("RLIMIT_NOFILE's hard limit is below 1200");
          return;
        }
      lim.rlim_cur = 1200;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);
    }
  while ((fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < 1100)
    g_array_append_val (fds, fd);
  if (fd >= 0)
    g_array_append_val (fds, fd);
  mp = new_mp ("many-fds");
  g_assert_cmpint (mpk_connection_fileno (mpk_message_process_get_connection (mp), NULL), >, 1024);
  start_ok (mp);
  ping (mp, 1);
  stop_ok (mp);
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
}

/* Echoes one message back on a plain pipe: the yardstick for a 4 MiB one. */
static int
pipe_echo_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;
  GVariant *v;

  mpk_connection_close (channel->parent);
  v = mpk_connection_recv (channel->child, WAIT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_connection_send (channel->child, v, WAIT_US, &error));
  g_variant_unref (v);
  return 0;
}

static double
pipe_round_trip_ms (GVariant *value)
{
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) back = NULL;
  MpkProcess *child;
  gint64 start;

  mpk_test_channel_init (&channel);
  child = mpk_test_start (pipe_echo_child, &channel);
  mpk_connection_close (channel.child);
  start = g_get_monotonic_time ();
  g_assert_true (mpk_connection_send (channel.parent, value, WAIT_US, &error));
  back = mpk_connection_recv (channel.parent, WAIT_US, &error);
  g_assert_no_error (error);
  /* Not g_variant_equal(): on a received (untrusted) value it compares
   * printed text, which takes seconds for 4 MiB. */
  g_assert_cmpmem (g_variant_get_data (back), g_variant_get_size (back),
                   g_variant_get_data (value), g_variant_get_size (value));
  mpk_test_join (child, 0);
  mpk_test_channel_clear (&channel);
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
test_large_message (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("large");
  g_autoptr(MpkCommand) pong = NULL;
  g_autoptr(GVariant) data = NULL;
  gsize size = 4 * 1024 * 1024, got_size;
  guint8 *bytes = g_malloc (size);
  const guint8 *got;
  gint64 start;

  g_test_summary ("VD10: a 4 MiB parameter there and back (valkka's 8-byte reads took 82 s)");
  for (gsize i = 0; i < size; i++)
    bytes[i] = (guint8) (i * 7);
  start_ok (mp);
  start = g_get_monotonic_time ();
  send_ok (mp, mpk_command_new_with ("ping", "data",
                                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, size, 1),
                                     NULL));
  pong = expect_message (mp, "pong");
  g_test_message ("4 MiB ping and pong: %.1f ms", (g_get_monotonic_time () - start) / 1000.0);
  {
    g_autoptr(GVariant) same = g_variant_ref_sink (
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, size, 1));

    g_test_message ("4 MiB there and back on a plain pipe: %.1f ms (valkka's Duplex: 82 s one way)",
                    pipe_round_trip_ms (same));
  }
  data = mpk_command_lookup (pong, "data", G_VARIANT_TYPE_BYTESTRING);
  g_assert_nonnull (data);
  got = g_variant_get_fixed_array (data, &got_size, 1);
  g_assert_cmpmem (got, got_size, bytes, size);
  g_free (bytes);
  stop_ok (mp);
}

/* --- the event group --------------------------------------------------------------- */

static void
test_event_group_valkka (void)
{
  g_autoptr(MpkEventGroup) group = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *s1 = NULL, *s2 = NULL;
  MpkEvent *event = NULL;
  gint i;

  g_test_summary ("the seed's EventGroup: reserve gives 0, str shows R0, FIFO recycling "
                  "(release 0, 2, 1: next 0 then 2), errors for double release, foreign "
                  "events, unreserved sets, exhaustion");
  group = mpk_event_group_new (10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mpk_event_group_get_size (group), ==, 10);
  i = mpk_event_group_reserve (group, MPK_NO_WAIT, &event, &error);
  g_assert_no_error (error);
  g_assert_cmpint (i, ==, 0);
  g_assert_true (mpk_event_group_from_index (group, 0) == event);
  g_assert_cmpint (mpk_event_group_as_index (group, event), ==, 0);
  s1 = mpk_event_group_to_string (group);
  g_assert_cmpstr (s1, ==, "<EventGroup: R0 f1 f2 f3 f4 f5 f6 f7 f8 f9 >");
  ASSERT_OK (mpk_event_group_set (group, 0, &error), error);
  g_assert_true (mpk_event_is_set (event));
  ASSERT_OK (mpk_event_group_release_event (group, event, &error), error);
  s2 = mpk_event_group_to_string (group);
  g_assert_cmpstr (s2, ==, "<EventGroup: f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 >");
  /* The seed's second ping gets 1, not 0: 0 went to the back of the line. */
  g_assert_cmpint (mpk_event_group_reserve (group, MPK_NO_WAIT, NULL, &error), ==, 1);
  ASSERT_OK (mpk_event_group_release (group, 1, &error), error);

  /* Errors valkka does not have. */
  ASSERT_FAILS (mpk_event_group_release (group, 1, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_event_group_release (group, 10, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_event_group_set (group, 3, &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_event_group_set (group, -1, &error), error, MPK_ERROR_INVALID);
  {
    g_autoptr(MpkEvent) foreign = mpk_event_new (NULL);

    g_assert_cmpint (mpk_event_group_as_index (group, foreign), ==, -1);
    ASSERT_FAILS (mpk_event_group_release_event (group, foreign, &error), error,
                  MPK_ERROR_INVALID);
  }
  g_assert_null (mpk_event_group_from_index (group, 10));
}

static void
test_event_group_fifo (void)
{
  g_autoptr(MpkEventGroup) group = mpk_event_group_new (3, NULL);
  g_autoptr(GError) error = NULL;
  gint got[3];

  g_test_summary ("research §3.2: after releasing 0, 2, 1 the next reserves give 0 then 2; "
                  "a full group is EMPTY, and a waiting reserve gets the next release");
  for (int k = 0; k < 3; k++)
    g_assert_cmpint (mpk_event_group_reserve (group, MPK_NO_WAIT, NULL, &error), ==, k);
  g_assert_cmpint (mpk_event_group_reserve (group, MPK_NO_WAIT, NULL, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_cmpint (mpk_event_group_reserve (group, 20 * 1000, NULL, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_clear_error (&error);
  ASSERT_OK (mpk_event_group_release (group, 0, &error), error);
  ASSERT_OK (mpk_event_group_release (group, 2, &error), error);
  ASSERT_OK (mpk_event_group_release (group, 1, &error), error);
  for (int k = 0; k < 3; k++)
    got[k] = mpk_event_group_reserve (group, MPK_NO_WAIT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got[0], ==, 0);
  g_assert_cmpint (got[1], ==, 2);
  g_assert_cmpint (got[2], ==, 1);
  g_assert_cmpuint (mpk_event_group_get_n_free (group), ==, 0);
}

static gpointer
release_later (gpointer data)
{
  g_usleep (50 * 1000);
  mpk_event_group_release (data, 1, NULL);
  return NULL;
}

static void
test_event_group_wait_for_release (void)
{
  g_autoptr(MpkEventGroup) group = mpk_event_group_new (2, NULL);
  g_autoptr(GError) error = NULL;
  GThread *thread;

  g_test_summary ("a reserve with a timeout waits for another thread's release");
  g_assert_cmpint (mpk_event_group_reserve (group, MPK_NO_WAIT, NULL, &error), ==, 0);
  g_assert_cmpint (mpk_event_group_reserve (group, MPK_NO_WAIT, NULL, &error), ==, 1);
  thread = g_thread_new ("release", release_later, group);
  g_assert_cmpint (mpk_event_group_reserve (group, WAIT_US, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_thread_join (thread);
}

static MpkEventGroup *sync_group;   /* made before the fork, as valkka requires */

static gboolean
set_handler (MpkMessageProcess *mp, MpkCommand *command, gpointer data, GError **error)
{
  gint32 index;

  if (!g_variant_lookup (mpk_command_get_params (command), "event_index", "i", &index))
    return FALSE;
  return mpk_event_group_set (sync_group, index, error);
}

static void
test_event_group_sync_cycles (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("sync");
  g_autoptr(GError) error = NULL;
  int n = under_valgrind () ? 200 : 1000;
  gint64 start;

  g_test_summary ("10 000 reserve/set/wait/release cycles through a group of 3 recycle the "
                  "events first in, first out (0, 1, 2, 0, ...); then 1000 through the "
                  "backend (send_sync); the group ends with every event free");
  sync_group = mpk_event_group_new (3, &error);
  g_assert_no_error (error);
  for (int k = 0; k < 10000; k++)
    {
      MpkEvent *event = NULL;
      gint index = mpk_event_group_reserve (sync_group, MPK_NO_WAIT, &event, &error);

      g_assert_no_error (error);
      g_assert_cmpint (index, ==, k % 3);
      g_assert_false (mpk_event_is_set (event));   /* a reserve clears it */
      ASSERT_OK (mpk_event_group_set (sync_group, index, &error), error);
      g_assert_true (mpk_event_wait (event, WAIT_US));
      ASSERT_OK (mpk_event_group_release (sync_group, index, &error), error);
    }
  g_assert_cmpuint (mpk_event_group_get_n_free (sync_group), ==, 3);
  ASSERT_OK (mpk_message_process_add_handler (mp, "ping", "event_index:i", set_handler, NULL,
                                              NULL, &error), error);
  ASSERT_OK (mpk_message_process_add_handler (mp, "noop", "event_index:i", echo_handler, NULL,
                                              NULL, &error), error);
  start_ok (mp);
  start = g_get_monotonic_time ();
  for (int k = 0; k < n; k++)
    ASSERT_OK (mpk_message_process_send_sync (mp, sync_group, mpk_command_new ("ping", NULL),
                                              WAIT_US, &error), error);
  g_test_message ("%d sync cycles: %.1f us each", n,
                  (double) (g_get_monotonic_time () - start) / n);
  g_assert_cmpuint (mpk_event_group_get_n_free (sync_group), ==, 3);

  /* A begin/end pair whose command never sets the event: TIMED_OUT, released. */
  {
    gint index = mpk_event_group_sync_begin (sync_group, WAIT_US, &error);
    g_autoptr(MpkCommand) echoed = NULL;

    g_assert_no_error (error);
    send_ok (mp, mpk_command_new_with ("noop", "event_index", g_variant_new_int32 (index), NULL));
    ASSERT_FAILS (mpk_event_group_sync_end (sync_group, index,
                                            mpk_message_process_get_process (mp), 50 * 1000,
                                            &error), error, MPK_ERROR_TIMED_OUT);
    g_assert_cmpuint (mpk_event_group_get_n_free (sync_group), ==, 3);
    echoed = expect_message (mp, "noop");
  }
  stop_ok (mp);
  g_clear_pointer (&sync_group, mpk_event_group_free);
}

static void
test_event_group_sync_backend_died (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("sync-dies");
  g_autoptr(GError) error = NULL;

  g_test_summary ("VD6: a sync wait whose backend dies ends PEER_DIED and releases the index");
  sync_group = mpk_event_group_new (2, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_message_process_add_handler (mp, "hang", NULL, hang_handler, NULL, NULL, &error),
             error);
  start_ok (mp);
  ping (mp, 1);
  send_ok (mp, mpk_command_new ("hang", NULL));
  {
    gint index = mpk_event_group_sync_begin (sync_group, WAIT_US, &error);

    g_assert_no_error (error);
    g_assert_true (mpk_process_kill (mpk_message_process_get_process (mp), &error));
    ASSERT_FAILS (mpk_event_group_sync_end (sync_group, index,
                                            mpk_message_process_get_process (mp), WAIT_US,
                                            &error), error, MPK_ERROR_PEER_DIED);
  }
  g_assert_cmpuint (mpk_event_group_get_n_free (sync_group), ==, 2);
  /* The call form does not wait when the send fails: released at once. */
  ASSERT_FAILS (mpk_message_process_send_sync (mp, sync_group, mpk_command_new ("ping", NULL),
                                               WAIT_US, &error), error, MPK_ERROR_PEER_DIED);
  g_assert_cmpuint (mpk_event_group_get_n_free (sync_group), ==, 2);
  mpk_message_process_stop (mp, WAIT_US, NULL);
  g_clear_pointer (&sync_group, mpk_event_group_free);
}

/* --- the async backend ------------------------------------------------------------------ */

typedef struct
{
  MpkMessageProcess *mp;
  MpkCommand        *command;
} SlowJob;

static gboolean
slow_done (gpointer data)
{
  SlowJob *job = data;
  g_autoptr(GVariant) n = mpk_command_lookup (job->command, "n", NULL);
  g_autoptr(MpkCommand) end = mpk_command_new_with ("end", "n", g_variant_ref (n), NULL);

  mpk_message_process_reply (job->mp, job->command, end, WAIT_US, NULL);
  mpk_message_process_release (job->mp);
  mpk_command_unref (job->command);
  g_free (job);
  return G_SOURCE_REMOVE;
}

/* Says "begin", then replies "end" 200 ms later from the backend's loop. */
static gboolean
slow_handler (MpkMessageProcess *mp, MpkCommand *command, gpointer data, GError **error)
{
  g_autoptr(GVariant) n = mpk_command_lookup (command, "n", NULL);
  g_autoptr(MpkCommand) begin = mpk_command_new_with ("begin", "n", g_variant_ref (n), NULL);
  SlowJob *job = g_new0 (SlowJob, 1);
  GSource *timer = g_timeout_source_new (200);

  job->mp = mp;
  job->command = mpk_command_ref (command);
  mpk_message_process_hold (mp);
  g_source_set_callback (timer, slow_done, job, NULL);
  g_source_attach (timer, mpk_message_process_get_main_context (mp));
  g_source_unref (timer);
  return mpk_message_process_send_out (mp, begin, WAIT_US, error);
}

static gint32
name_n (MpkCommand *message, const char *name)
{
  g_autoptr(GVariant) n = mpk_command_lookup (message, "n", G_VARIANT_TYPE_INT32);

  g_assert_cmpstr (mpk_command_get_name (message), ==, name);
  g_assert_nonnull (n);
  return g_variant_get_int32 (n);
}

static void
test_async_overlap (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("async");
  g_autoptr(GError) error = NULL;
  const char *order[] = { "begin", "begin", "end", "end" };
  gint64 start;

  g_test_summary ("the async backend: two 200 ms commands overlap (both begin before either "
                  "ends); a stop lets held work finish before the goodbye");
  ASSERT_OK (mpk_message_process_add_handler (mp, "slow", "n:i", slow_handler, NULL, NULL,
                                              &error), error);
  start_ok (mp);
  start = g_get_monotonic_time ();
  send_ok (mp, mpk_command_new_with ("slow", "n", g_variant_new_int32 (1), NULL));
  send_ok (mp, mpk_command_new_with ("slow", "n", g_variant_new_int32 (2), NULL));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autoptr(MpkCommand) got = expect_message (mp, order[i]);

      g_assert_cmpint (name_n (got, order[i]), ==, (int) (i % 2) + 1);
    }
  g_test_message ("two 200 ms commands took %.1f ms", (g_get_monotonic_time () - start) / 1000.0);

  /* Held work outlives a stop request, and its reply comes before the goodbye. */
  send_ok (mp, mpk_command_new_with ("slow", "n", g_variant_new_int32 (3), NULL));
  ASSERT_OK (mpk_message_process_request_stop (mp, WAIT_US, &error), error);
  {
    g_autoptr(MpkCommand) begin = expect_message (mp, "begin");
    g_autoptr(MpkCommand) end = expect_message (mp, "end");

    g_assert_cmpint (name_n (begin, "begin"), ==, 3);

    g_assert_cmpint (name_n (end, "end"), ==, 3);
  }
  expect_error (mp, MPK_ERROR, MPK_ERROR_EOF);
  stop_ok (mp);
}

/* --- the GSource and the program --------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  int        pongs;
  gboolean   ended_eof;
} SourceState;

static gboolean
on_source (MpkMessageProcess *mp, MpkCommand *message, const GError *error, gpointer data)
{
  SourceState *state = data;

  if (message != NULL)
    {
      g_assert_cmpstr (mpk_command_get_name (message), ==, "pong");
      if (++state->pongs == 3)
        mpk_message_process_request_stop (mp, WAIT_US, NULL);
      return G_SOURCE_CONTINUE;
    }
  state->ended_eof = g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF);
  g_main_loop_quit (state->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
loop_timeout (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
test_source (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("source");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  SourceState state = { NULL, 0, FALSE };
  GSource *source, *timer;

  g_test_summary ("the frontend's GSource hands over three pongs, then the goodbye as EOF");
  state.loop = g_main_loop_new (context, FALSE);
  start_ok (mp);
  for (int k = 0; k < 3; k++)
    send_ok (mp, mpk_command_new_with ("ping", "n", g_variant_new_int32 (k), NULL));
  source = mpk_message_process_create_source (mp, &error);
  g_assert_no_error (error);
  g_source_set_callback (source, G_SOURCE_FUNC (on_source), &state, NULL);
  g_source_attach (source, context);
  timer = g_timeout_source_new (WAIT_US / 1000);   /* only against a hang */
  g_source_set_callback (timer, loop_timeout, state.loop, NULL);
  g_source_attach (timer, context);
  g_main_loop_run (state.loop);
  g_source_destroy (timer);
  g_source_unref (timer);
  g_source_destroy (source);
  g_source_unref (source);
  g_main_loop_unref (state.loop);
  g_assert_cmpint (state.pongs, ==, 3);
  g_assert_true (state.ended_eof);
  stop_ok (mp);
}

static gboolean
on_source_death (MpkMessageProcess *mp, MpkCommand *message, const GError *error, gpointer data)
{
  GError **seen = data;

  g_assert_null (message);   /* the backend sends nothing before it dies */
  g_assert_nonnull (error);
  *seen = g_error_copy (error);
  return G_SOURCE_CONTINUE;  /* destroyed anyway after the end */
}

static void
test_source_backend_killed (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("source-dies");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  GError *seen = NULL;
  GSource *source;

  g_test_summary ("the frontend's GSource reports a SIGKILLed backend as PEER_DIED, once");
  ASSERT_OK (mpk_message_process_add_handler (mp, "hang", NULL, hang_handler, NULL, NULL, &error),
             error);
  start_ok (mp);
  send_ok (mp, mpk_command_new ("hang", NULL));
  source = mpk_message_process_create_source (mp, &error);
  g_assert_no_error (error);
  g_source_set_callback (source, G_SOURCE_FUNC (on_source_death), &seen, NULL);
  g_source_attach (source, context);
  g_assert_true (mpk_process_kill (mpk_message_process_get_process (mp), &error));
  /* Each iteration blocks until the source is ready; the death makes it so. */
  for (int i = 0; i < 100 && seen == NULL; i++)
    g_main_context_iteration (context, TRUE);
  g_assert_error (seen, MPK_ERROR, MPK_ERROR_PEER_DIED);
  g_assert_true (g_source_is_destroyed (source));
  g_source_unref (source);
  g_clear_error (&seen);
  mpk_message_process_stop (mp, WAIT_US, NULL);
}

static gboolean
failing_pre_run (MpkMessageProcess *mp, gpointer data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no model file");
  return FALSE;
}

static void
test_pre_run_fails (void)
{
  g_autoptr(MpkMessageProcess) mp = new_mp ("no-model");

  g_test_summary ("a failing pre-run hook sends its error, the backend ends with exit code 1 "
                  "and no goodbye; the frontend's next receive says PEER_DIED");
  mpk_message_process_set_hooks (mp, failing_pre_run, NULL, NULL);
  start_ok (mp);
  expect_error (mp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  expect_error (mp, MPK_ERROR, MPK_ERROR_PEER_DIED);
  g_assert_false (mpk_message_process_said_goodbye (mp));
  g_assert_cmpint (mpk_process_get_exitcode (mpk_message_process_get_process (mp)), ==, 1);
}

typedef struct
{
  int pongs[2];
  int ended;
} ProgramState;

static MpkMessageProcess *program_mps[2];

static void
program_thread (MpkProgram *program, GCancellable *cancellable, gpointer data)
{
  /* Started after the processes: it pings each three times. */
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 2; i++)
      mpk_message_process_send (program_mps[i],
                                mpk_command_new_with ("ping", "n", g_variant_new_int32 (i), NULL),
                                WAIT_US, NULL);
  while (!g_cancellable_is_cancelled (cancellable))
    g_usleep (1000);
}

static void
on_program_message (MpkProgram *program, MpkMessageProcess *mp, MpkCommand *message,
                    const GError *error, gpointer data)
{
  ProgramState *state = data;

  g_assert_nonnull (message);
  state->pongs[name_n (message, "pong")]++;
  if (state->pongs[0] == 3 && state->pongs[1] == 3)
    mpk_program_quit (program);
}

static void
test_program (void)
{
  g_autoptr(MpkProgram) program = mpk_program_new ("TestContext");
  g_autoptr(GError) error = NULL;
  ProgramState state = { { 0, 0 }, 0 };

  g_test_summary ("MainContext: two processes, then a thread; the loop multiplexes both "
                  "pipes; close stops all in order and may run twice");
  program_mps[0] = new_mp ("one");
  program_mps[1] = new_mp ("two");
  mpk_program_add_process (program, program_mps[0]);
  mpk_program_add_process (program, program_mps[1]);
  mpk_program_add_thread (program, "pinger", program_thread, NULL);
  mpk_program_set_message_func (program, on_program_message, &state);
  ASSERT_OK (mpk_program_run (program, &error), error);
  g_assert_cmpint (state.pongs[0], ==, 3);
  g_assert_cmpint (state.pongs[1], ==, 3);
  g_assert_cmpint (mpk_program_get_signal (program), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      g_assert_false (mpk_message_process_is_alive (program_mps[i]));
      g_assert_true (mpk_message_process_said_goodbye (program_mps[i]));
    }
  ASSERT_OK (mpk_program_close (program, &error), error);
  for (int i = 0; i < 2; i++)
    g_clear_pointer (&program_mps[i], mpk_message_process_unref);
}

static gboolean
send_sigterm (gpointer data)
{
  kill (getpid (), SIGTERM);
  return G_SOURCE_REMOVE;
}

static void
test_program_signal (void)
{
  g_autoptr(MpkProgram) program = mpk_program_new ("TestContext");
  g_autoptr(MpkMessageProcess) mp = new_mp ("worker");
  g_autoptr(GError) error = NULL;
  GSource *timer;

  g_test_summary ("SIGTERM ends the program's loop; everything is closed; the program lives");
  mpk_message_process_set_ignore_sigint (mp, TRUE);
  mpk_program_add_process (program, mp);
  ASSERT_OK (mpk_program_start (program, &error), error);
  timer = g_idle_source_new ();
  g_source_set_callback (timer, send_sigterm, NULL, NULL);
  g_source_attach (timer, mpk_program_get_main_context (program));
  g_source_unref (timer);
  ASSERT_OK (mpk_program_run (program, &error), error);
  g_assert_cmpint (mpk_program_get_signal (program), ==, SIGTERM);
  g_assert_false (mpk_message_process_is_alive (mp));
  g_assert_true (mpk_message_process_said_goodbye (mp));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  mpk_test_add_func ("/msgproc/command/basics", test_command_basics);
  mpk_test_add_func ("/msgproc/command/wire", test_command_wire);
  mpk_test_add_func ("/msgproc/command/param-spec", test_param_spec);
  mpk_test_add_func ("/msgproc/valkka/test1-ping", test_valkka_test1);
  mpk_test_add_func ("/msgproc/valkka/select-then-receive", test_receive_after_wait);
  mpk_test_add_func ("/msgproc/dispatch/every-command", test_dispatch_every_command);
  mpk_test_add_func ("/msgproc/errors/reported-backend-lives", test_errors_reported);
  mpk_test_add_func ("/msgproc/stop/goodbye-and-hooks", test_stop_goodbye_hooks);
  mpk_test_add_func ("/msgproc/stop/ignored-request", test_stop_ignored);
  mpk_test_add_func ("/msgproc/peer/backend-killed", test_backend_killed);
  mpk_test_add_func ("/msgproc/peer/frontend-killed", test_frontend_killed);
  mpk_test_add_func ("/msgproc/sigint-ignored", test_sigint_ignored);
  mpk_test_add_func ("/msgproc/idle-backend-sleeps", test_idle_backend_sleeps);
  mpk_test_add_func ("/msgproc/fds-above-1024", test_fds_above_1024);
  mpk_test_add_func ("/msgproc/large-message", test_large_message);
  mpk_test_add_func ("/msgproc/event-group/valkka", test_event_group_valkka);
  mpk_test_add_func ("/msgproc/event-group/fifo-and-exhaustion", test_event_group_fifo);
  mpk_test_add_func ("/msgproc/event-group/wait-for-release", test_event_group_wait_for_release);
  mpk_test_add_func ("/msgproc/event-group/sync-cycles", test_event_group_sync_cycles);
  mpk_test_add_func ("/msgproc/event-group/sync-backend-died", test_event_group_sync_backend_died);
  mpk_test_add_func ("/msgproc/async/overlap-and-stop", test_async_overlap);
  mpk_test_add_func ("/msgproc/source", test_source);
  mpk_test_add_func ("/msgproc/source/backend-killed", test_source_backend_killed);
  mpk_test_add_func ("/msgproc/stop/pre-run-fails", test_pre_run_fails);
  mpk_test_add_func ("/msgproc/program/run", test_program);
  mpk_test_add_func ("/msgproc/program/sigterm", test_program_signal);

  return g_test_run ();
}
