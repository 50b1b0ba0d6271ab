/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-process.c: child processes (multiprocessing.Process), ported from CPython's
 * _TestProcess and _TestSubclassingProcess: life cycle, names, daemons, signals,
 * sentinels, close, exit codes, many children, and stdio flushed exactly once;
 * plus issue 11's daemons that must die with a SIGKILLed parent, and join's
 * misuse told apart from its timeout. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "test-util.h"

/* The library's fault-injection switch (lib/objects/mpk-objects-private.h): when
 * TRUE, the child's setup fails after fork, before the process function runs. */
extern gboolean mpk__process_fail_setup_for_testing;

#define N_MANY 100

static gboolean
is_active_child (MpkProcess *process)
{
  g_autoptr(GPtrArray) children = mpk_active_children ();
  guint i;

  g_assert_nonnull (children);
  for (i = 0; i < children->len; i++)
    if (g_ptr_array_index (children, i) == process)
      return TRUE;
  return FALSE;
}

/* Asserts that this process has no child left, reaped or zombie. */
static void
assert_no_children (void)
{
  int saved_errno;
  pid_t pid;

  pid = waitpid (-1, NULL, WNOHANG);
  saved_errno = errno;
  g_assert_cmpint (pid, ==, -1);
  g_assert_cmpint (saved_errno, ==, ECHILD);
}

/* Receives a string message and returns a copy of it. */
static char *
recv_string (MpkConnection *conn)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = mpk_connection_recv (conn, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "s");
  return g_variant_dup_string (v, NULL);
}

/* --- child bodies ------------------------------------------------------------ */

/* Sends (name, pid, parent pid, daemon), then waits for the parent's go (or EOF). */
static int
report_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;
  GVariant *go;

  mpk_connection_close (channel->parent);
  mpk_connection_send (channel->child,
                       g_variant_new ("(siib)", mpk_current_process_get_name (),
                                      (gint32) getpid (),
                                      (gint32) mpk_parent_process_get_pid (),
                                      mpk_current_process_get_daemon ()),
                       MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  go = mpk_connection_recv (channel->child, MPK_WAIT_FOREVER, &error);
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
    MPK_CHILD_NO_ERROR (error);
  g_clear_pointer (&go, g_variant_unref);
  return 0;
}

static int
return_child (gpointer data)
{
  return GPOINTER_TO_INT (data);
}

static int
pause_child (gpointer data)
{
  for (;;)
    pause ();
  return 0;  /* not reached: the parent's SIGTERM ends us */
}

/* Sends this process's name to the test over @data's channel. */
static int
name_grandchild (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;

  mpk_connection_send (channel->child, g_variant_new_string (mpk_current_process_get_name ()),
                       MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

/* Starts a grandchild that sends its name, then sends its own name. */
static int
name_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;
  MpkProcess *grandchild;

  mpk_connection_close (channel->parent);
  grandchild = mpk_process_new (NULL, name_grandchild, channel, NULL);
  mpk_process_start (grandchild, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_process_join (grandchild, MPK_WAIT_FOREVER));
  MPK_CHILD_CHECK (mpk_process_get_exitcode (grandchild) == 0);
  return name_grandchild (channel);
}

/* In a daemonic child: a new process inherits daemon = TRUE and cannot start.
 * Sends (its daemon flag, whether start succeeded, the error code or -1). */
static int
daemon_parent_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;
  MpkProcess *grandchild;
  GVariant *msg;
  gboolean started;
  int code;

  mpk_connection_close (channel->parent);
  grandchild = mpk_process_new (NULL, return_child, NULL, NULL);
  started = mpk_process_start (grandchild, &error);
  code = error != NULL && error->domain == MPK_ERROR ? error->code : -1;
  msg = g_variant_new ("(bbi)", mpk_process_get_daemon (grandchild), started, code);
  mpk_connection_send (channel->child, msg, MPK_WAIT_FOREVER, NULL);
  return 0;
}

/* Echoes each string message back upper-cased until EOF (CPython's subclassing test). */
static int
upper_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;

  mpk_connection_close (channel->parent);
  for (;;)
    {
      GVariant *v = mpk_connection_recv (channel->child, MPK_WAIT_FOREVER, &error);
      char *upper;

      if (g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
        return 0;
      MPK_CHILD_NO_ERROR (error);
      upper = g_ascii_strup (g_variant_get_string (v, NULL), -1);
      mpk_connection_send (channel->child, g_variant_new_take_string (upper),
                           MPK_WAIT_FOREVER, &error);
      MPK_CHILD_NO_ERROR (error);
      g_variant_unref (v);
    }
}

static int
print_child (gpointer data)
{
  printf ("B");
  return 0;
}

/* --- tests ------------------------------------------------------------------- */

static void
test_current (void)
{
  g_test_summary ("CPython test_current: the main process is \"MainProcess\", not daemonic");
  g_assert_cmpstr (mpk_current_process_get_name (), ==, "MainProcess");
  g_assert_false (mpk_current_process_get_daemon ());
}

static void
test_lifecycle (void)
{
  MpkTestChannel channel;
  g_autoptr(MpkProcess) process = NULL;
  g_autoptr(GVariant) report = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;
  gint32 pid, ppid;
  gboolean is_daemon, ok;

  g_test_summary ("CPython test_process: state before start, while running and after "
                  "join; the child reports its own name and pid");
  mpk_test_channel_init (&channel);
  process = mpk_process_new (NULL, report_child, &channel, NULL);
  g_assert_false (mpk_process_is_alive (process));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, MPK_EXITCODE_NONE);
  g_assert_cmpint (mpk_process_get_pid (process), ==, 0);
  g_assert_false (is_active_child (process));

  ok = mpk_process_start (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_connection_close (channel.child);
  report = mpk_connection_recv (channel.parent, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (report), ==, "(siib)");
  g_variant_get (report, "(&siib)", &name, &pid, &ppid, &is_daemon);
  g_assert_cmpstr (name, ==, mpk_process_get_name (process));
  g_assert_cmpint (pid, ==, mpk_process_get_pid (process));
  g_assert_false (is_daemon);
  g_assert_true (mpk_process_is_alive (process));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, MPK_EXITCODE_NONE);
  g_assert_true (is_active_child (process));

  mpk_test_send (channel.parent, g_variant_new_string ("go"));
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, 0);
  g_assert_false (mpk_process_is_alive (process));
  g_assert_false (is_active_child (process));
  mpk_test_channel_clear (&channel);
}

/* Starts report_child as @process and returns its report. */
static GVariant *
run_report_child (MpkProcess     *process,
                  MpkTestChannel *channel)
{
  g_autoptr(GError) error = NULL;
  GVariant *report;
  gboolean ok;

  ok = mpk_process_start (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_connection_close (channel->child);
  report = mpk_connection_recv (channel->parent, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (report);
  g_assert_cmpstr (g_variant_get_type_string (report), ==, "(siib)");
  mpk_connection_close (channel->parent);
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, 0);
  return report;
}

static void
test_name_explicit (void)
{
  MpkTestChannel channel;
  g_autoptr(MpkProcess) process = NULL;
  g_autoptr(GVariant) report = NULL;
  const char *name;

  g_test_summary ("A name given to mpk_process_new(), then changed before start, is the "
                  "child's current process name");
  mpk_test_channel_init (&channel);
  process = mpk_process_new ("worker", report_child, &channel, NULL);
  g_assert_cmpstr (mpk_process_get_name (process), ==, "worker");
  mpk_process_set_name (process, "renamed");
  g_assert_cmpstr (mpk_process_get_name (process), ==, "renamed");
  report = run_report_child (process, &channel);
  g_variant_get_child (report, 0, "&s", &name);
  g_assert_cmpstr (name, ==, "renamed");
  mpk_test_channel_clear (&channel);
}

static void
test_name_default (void)
{
  MpkTestChannel channel;
  g_autoptr(MpkProcess) first = NULL;
  g_autoptr(MpkProcess) second = NULL;
  g_autofree char *grandchild_name = NULL;
  g_autofree char *child_name = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (!mpk_test_in_subprocess ("Default names count per creator: Process-1, Process-2; the first "
                               "child of Process-1 is Process-1:1"))
    return;

  mpk_test_channel_init (&channel);
  first = mpk_process_new (NULL, name_child, &channel, NULL);
  second = mpk_process_new (NULL, return_child, NULL, NULL);
  g_assert_cmpstr (mpk_process_get_name (first), ==, "Process-1");
  g_assert_cmpstr (mpk_process_get_name (second), ==, "Process-2");

  ok = mpk_process_start (first, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_connection_close (channel.child);
  grandchild_name = recv_string (channel.parent);
  child_name = recv_string (channel.parent);
  g_assert_cmpstr (grandchild_name, ==, "Process-1:1");
  g_assert_cmpstr (child_name, ==, "Process-1");
  g_assert_true (mpk_process_join (first, MPK_WAIT_FOREVER));
  g_assert_cmpint (mpk_process_get_exitcode (first), ==, 0);
  mpk_test_channel_clear (&channel);
}

static void
test_daemon_flag (void)
{
  MpkTestChannel channel;
  g_autoptr(MpkProcess) plain = NULL;
  g_autoptr(MpkProcess) daemonic = NULL;
  g_autoptr(GVariant) report = NULL;
  gboolean is_daemon;

  g_test_summary ("CPython test_daemon_argument: daemon defaults to the creator's flag; "
                  "a set flag is kept and seen by the child");
  plain = mpk_process_new (NULL, return_child, NULL, NULL);
  g_assert_false (mpk_process_get_daemon (plain));
  mpk_process_set_daemon (plain, TRUE);
  mpk_process_set_daemon (plain, FALSE);
  g_assert_false (mpk_process_get_daemon (plain));

  mpk_test_channel_init (&channel);
  daemonic = mpk_process_new (NULL, report_child, &channel, NULL);
  mpk_process_set_daemon (daemonic, TRUE);
  g_assert_true (mpk_process_get_daemon (daemonic));
  report = run_report_child (daemonic, &channel);
  g_variant_get_child (report, 3, "b", &is_daemon);
  g_assert_true (is_daemon);
  mpk_test_channel_clear (&channel);
}

static void
test_daemon_no_children (void)
{
  MpkTestChannel channel;
  g_autoptr(GVariant) report = NULL;
  g_autoptr(GError) error = NULL;
  MpkProcess *process;
  gboolean inherited, started, ok;
  int code;

  g_test_summary ("A process made by a daemonic process is daemonic too, and starting it "
                  "fails with MPK_ERROR_INVALID (daemons may not have children)");
  mpk_test_channel_init (&channel);
  process = mpk_process_new (NULL, daemon_parent_child, &channel, NULL);
  mpk_process_set_daemon (process, TRUE);
  ok = mpk_process_start (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_connection_close (channel.child);
  report = mpk_connection_recv (channel.parent, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (report), ==, "(bbi)");
  g_variant_get (report, "(bbi)", &inherited, &started, &code);
  g_assert_true (inherited);
  g_assert_false (started);
  g_assert_cmpint (code, ==, MPK_ERROR_INVALID);
  mpk_test_join (process, 0);
  mpk_test_channel_clear (&channel);
}

static void
test_parent_pid (void)
{
  MpkTestChannel channel;
  g_autoptr(MpkProcess) process = NULL;
  g_autoptr(GVariant) report = NULL;
  gint32 ppid;

  g_test_summary ("CPython test_parent_process_attributes: the child's parent pid is ours");
  mpk_test_channel_init (&channel);
  process = mpk_process_new (NULL, report_child, &channel, NULL);
  report = run_report_child (process, &channel);
  g_variant_get_child (report, 2, "i", &ppid);
  g_assert_cmpint (ppid, ==, getpid ());
  mpk_test_channel_clear (&channel);
}

static void
test_signal (gconstpointer data)
{
  int signum = GPOINTER_TO_INT (data);
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  MpkProcess *process;
  gboolean ok;

  g_test_summary ("CPython test_terminate/test_kill: join(0) and join(-5) are FALSE while "
                  "the child blocks; after terminate/kill the exit code is -signal");
  mpk_test_channel_init (&channel);
  process = mpk_test_start (mpk_test_blocking_child, &channel);
  mpk_connection_close (channel.child);

  g_assert_false (mpk_process_join (process, 0));
  g_assert_false (mpk_process_join (process, -5));
  g_assert_true (mpk_process_is_alive (process));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, MPK_EXITCODE_NONE);
  if (signum == SIGTERM)
    ok = mpk_process_terminate (process, &error);
  else
    ok = mpk_process_kill (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_false (mpk_process_is_alive (process));
  mpk_test_join (process, -signum);
  mpk_test_channel_clear (&channel);
}

static void
test_signal_after_exit (void)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *process;
  gboolean ok;

  g_test_summary ("terminate() and kill() on a process that has exited and been joined "
                  "do nothing and keep its exit code");
  process = mpk_test_start (return_child, GINT_TO_POINTER (3));
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  ok = mpk_process_terminate (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_process_kill (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_test_join (process, 3);
}

static void
test_sentinel_not_started (void)
{
  if (g_test_subprocess ())
    {
      MpkProcess *process = mpk_process_new (NULL, return_child, NULL, NULL);

      mpk_process_get_sentinel (process);
      return;
    }
  g_test_summary ("CPython test_sentinel: the sentinel of a process not started is a "
                  "caller error (critical)");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*mpk_process_get_sentinel*");
}

static void
test_sentinel_ready_at_exit (void)
{
  MpkTestChannel channel;
  struct pollfd pfd = { 0 };
  MpkProcess *process;

  g_test_summary ("CPython test_sentinel: the sentinel is not ready while the child runs "
                  "and becomes readable when it exits");
  mpk_test_channel_init (&channel);
  process = mpk_test_start (mpk_test_blocking_child, &channel);
  mpk_connection_close (channel.child);

  pfd.fd = mpk_process_get_sentinel (process);
  pfd.events = POLLIN;
  g_assert_cmpint (pfd.fd, >=, 0);
  g_assert_cmpint (poll (&pfd, 1, 0), ==, 0);

  mpk_test_send (channel.parent, g_variant_new_string ("exit"));
  g_assert_cmpint (poll (&pfd, 1, -1), ==, 1);
  g_assert_cmpint (pfd.revents & (POLLIN | POLLHUP), !=, 0);
  mpk_test_join (process, 0);
  mpk_test_channel_clear (&channel);
}

static void
test_close (void)
{
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  MpkProcess *process;
  gboolean ok;

  g_test_summary ("CPython test_close: close() on a running process is MPK_ERROR_INVALID; "
                  "after join it succeeds, and a second close is fine");
  mpk_test_channel_init (&channel);
  process = mpk_test_start (mpk_test_blocking_child, &channel);
  mpk_connection_close (channel.child);

  g_assert_false (mpk_process_close (process, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  mpk_connection_close (channel.parent);
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, 0);
  ok = mpk_process_close (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_process_close (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_process_unref (process);
  mpk_test_channel_clear (&channel);
}

static void
test_close_then_use (void)
{
  MpkProcess *process;

  if (!g_test_subprocess ())
    {
      g_test_summary ("CPython test_close: using a closed process object is a caller "
                      "error (critical)");
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_failed ();
      g_test_trap_assert_stderr ("*CRITICAL*mpk_process_is_alive*");
      return;
    }
  process = mpk_test_start (return_child, NULL);
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_true (mpk_process_close (process, NULL));
  mpk_process_is_alive (process);
}

static void
test_many_exit (void)
{
  MpkProcess *processes[N_MANY];
  guint i;

  g_test_summary ("CPython test_many_processes: 100 short children all exit 0, and no "
                  "zombie is left behind");
  for (i = 0; i < N_MANY; i++)
    processes[i] = mpk_test_start (return_child, NULL);
  for (i = 0; i < N_MANY; i++)
    mpk_test_join (processes[i], 0);
  assert_no_children ();
}

static void
test_many_terminate (void)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *processes[N_MANY];
  guint i;

  g_test_summary ("CPython test_many_processes: 100 children terminated right after start "
                  "all exit with -SIGTERM");
  for (i = 0; i < N_MANY; i++)
    processes[i] = mpk_test_start (pause_child, NULL);
  for (i = 0; i < N_MANY; i++)
    {
      gboolean ok = mpk_process_terminate (processes[i], &error);

      g_assert_no_error (error);
      g_assert_true (ok);
    }
  for (i = 0; i < N_MANY; i++)
    mpk_test_join (processes[i], -SIGTERM);
  assert_no_children ();
}

static void
test_exitcodes (void)
{
  static const int codes[] = { 0, 1, 8, 255 };
  guint i;

  g_test_summary ("CPython test_sys_exit: the function's return value is the exit code");
  for (i = 0; i < G_N_ELEMENTS (codes); i++)
    mpk_test_join (mpk_test_start (return_child, GINT_TO_POINTER (codes[i])), codes[i]);
}

static void
test_echo (void)
{
  MpkTestChannel channel;
  g_autofree char *reply = NULL;
  MpkProcess *process;

  g_test_summary ("CPython test_subclassing: a child echoes \"hello\" as \"HELLO\"");
  mpk_test_channel_init (&channel);
  process = mpk_test_start (upper_child, &channel);
  mpk_connection_close (channel.child);
  mpk_test_send (channel.parent, g_variant_new_string ("hello"));
  reply = recv_string (channel.parent);
  g_assert_cmpstr (reply, ==, "HELLO");
  mpk_connection_close (channel.parent);
  mpk_test_join (process, 0);
  mpk_test_channel_clear (&channel);
}

static void
test_spawn_failure (void)
{
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkProcess) failed = NULL;

  if (!mpk_test_in_subprocess ("When the child's setup fails, start() is FALSE with MPK_ERROR_SPAWN, "
                               "the function never runs, no zombie remains, and later starts work"))
    return;

  mpk_test_channel_init (&channel);
  failed = mpk_process_new (NULL, name_grandchild, &channel, NULL);
  mpk__process_fail_setup_for_testing = TRUE;
  g_assert_false (mpk_process_start (failed, &error));
  mpk__process_fail_setup_for_testing = FALSE;
  g_assert_error (error, MPK_ERROR, MPK_ERROR_SPAWN);
  g_assert_false (mpk_process_is_alive (failed));
  assert_no_children ();
  g_clear_error (&error);
  g_assert_false (mpk_connection_poll (channel.parent, MPK_NO_WAIT, &error));
  g_assert_no_error (error);

  mpk_test_join (mpk_test_start (return_child, GINT_TO_POINTER (5)), 5);
  mpk_test_channel_clear (&channel);
}

static void
test_stdio_once (void)
{
  if (!g_test_subprocess ())
    {
      g_test_summary ("stdio is flushed before fork and by the exiting child: unflushed "
                      "output of parent and child appears exactly once, in order");
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout ("ABC");
      return;
    }
  printf ("A");
  mpk_test_join (mpk_test_start (print_child, NULL), 0);
  printf ("C");
}

/* The child's view of its own process object. */
static int
self_object_child (gpointer data)
{
  MpkProcess *me = *(MpkProcess **) data;

  MPK_CHILD_CHECK (mpk_process_get_pid (me) == getpid ());
  MPK_CHILD_CHECK (mpk_process_is_alive (me));
  MPK_CHILD_CHECK (mpk_process_get_exitcode (me) == MPK_EXITCODE_NONE);
  mpk_process_set_name (me, "renamed");
  MPK_CHILD_CHECK (g_strcmp0 (mpk_current_process_get_name (), "renamed") == 0);
  return 0;
}

static void
test_self_object (void)
{
  MpkProcess *process = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("In the child its own process object has its pid and is alive; "
                  "renaming it renames the current process (Python's current_process())");
  process = mpk_process_new ("original", self_object_child, &process, NULL);
  g_assert_true (mpk_process_start (process, &error));
  g_assert_no_error (error);
  mpk_test_join (process, 0);
}

/* Receives on @data's end without waiting: the parent's buffered message must
 * not be there. */
static int
buffered_child (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = mpk_connection_recv (data, MPK_NO_WAIT, &error);

  MPK_CHILD_CHECK (msg == NULL);
  MPK_CHILD_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT));
  return 0;
}

static void
test_fork_keeps_buffer (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GVariant) one = NULL;
  g_autoptr(GVariant) two = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Messages the parent has read into its buffer stay the parent's: "
                  "a child started afterwards does not receive them a second time");
  g_assert_true (mpk_pipe_new (TRUE, &a, &b, &error));
  g_assert_true (mpk_connection_send (a, g_variant_new_string ("one"), MPK_WAIT_FOREVER, &error));
  g_assert_true (mpk_connection_send (a, g_variant_new_string ("two"), MPK_WAIT_FOREVER, &error));
  one = mpk_connection_recv (b, MPK_WAIT_FOREVER, &error);   /* buffers "two" as well */
  g_assert_cmpstr (g_variant_get_string (one, NULL), ==, "one");
  mpk_test_join (mpk_test_start (buffered_child, b), 0);
  two = mpk_connection_recv (b, MPK_NO_WAIT, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (two, NULL), ==, "two");
}

/* Counts this process's open descriptors. */
static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n - 1;   /* the GDir's own descriptor */
}

static void
test_no_fd_leak (void)
{
  guint before = count_fds ();

  g_test_summary ("Pipes, started, joined, killed and closed processes leave no "
                  "descriptor open behind them");
  for (guint i = 0; i < 20; i++)
    {
      MpkTestChannel channel;
      MpkProcess *process;

      mpk_test_channel_init (&channel);
      process = mpk_test_start (mpk_test_blocking_child, &channel);
      if (i % 2 == 0)
        g_assert_true (mpk_process_kill (process, NULL));
      mpk_test_channel_clear (&channel);    /* the child sees EOF, if still alive */
      g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
      g_assert_true (mpk_process_close (process, NULL));
      mpk_process_unref (process);
    }
  g_assert_cmpuint (count_fds (), ==, before);
}

/* Opens /dev/null until the descriptor table is full. */
static GArray *
fill_fd_table (void)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
  int fd;

  while ((fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    g_array_append_val (fds, fd);
  g_assert_cmpint (errno, ==, EMFILE);
  return fds;
}

static void
free_fd_table (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_unref (fds);
}

/* Whether @fd is a pidfd (not a pipe: the fallback sentinel). */
static gboolean
is_pidfd (int fd)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", fd);
  g_autofree char *target = g_file_read_link (path, NULL);

  return target != NULL && strstr (target, "pidfd") != NULL;
}

static void
test_start_failures_clean_up (void)
{
  g_autoptr(GError) error = NULL;
  struct rlimit old, low;
  MpkProcess *process, *failed;
  GArray *fds;
  guint before;
  gboolean ok;
  int probe;

  if (!mpk_test_in_subprocess ("A start that fails (no descriptor for its pipes; the child's "
                               "setup) leaves no descriptor, child or state behind: the same "
                               "object starts afterwards, and with a pidfd as its sentinel "
                               "where the kernel has them (a full descriptor table is not a "
                               "kernel without pidfds)"))
    return;
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &old), ==, 0);
  low = old;
  low.rlim_cur = MIN (old.rlim_cur, 256);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  probe = syscall (SYS_pidfd_open, getpid (), 0);
  if (probe >= 0)
    close (probe);
  before = count_fds ();

  process = mpk_process_new (NULL, return_child, GINT_TO_POINTER (3), NULL);
  fds = fill_fd_table ();
  ok = mpk_process_start (process, &error);
  free_fd_table (fds);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_FAILED);
  g_assert_false (ok);
  g_assert_false (mpk_process_is_alive (process));
  assert_no_children ();
  g_assert_cmpuint (count_fds (), ==, before);
  g_clear_error (&error);

  /* Room for the status pipe only: then the pidfd probe and the fallback
   * pipe fail for want of descriptors. */
  fds = fill_fd_table ();
  close (g_array_index (fds, int, fds->len - 1));
  close (g_array_index (fds, int, fds->len - 2));
  g_array_set_size (fds, fds->len - 2);
  ok = mpk_process_start (process, &error);
  free_fd_table (fds);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_FAILED);
  g_assert_false (ok);
  assert_no_children ();
  g_assert_cmpuint (count_fds (), ==, before);
  g_clear_error (&error);

  failed = mpk_process_new (NULL, return_child, NULL, NULL);
  mpk__process_fail_setup_for_testing = TRUE;
  ok = mpk_process_start (failed, &error);
  mpk__process_fail_setup_for_testing = FALSE;
  g_assert_error (error, MPK_ERROR, MPK_ERROR_SPAWN);
  g_assert_false (ok);
  assert_no_children ();
  g_clear_error (&error);
  g_clear_pointer (&failed, mpk_process_unref);
  g_assert_cmpuint (count_fds (), ==, before);

  ok = mpk_process_start (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  if (probe >= 0)
    g_assert_true (is_pidfd (mpk_process_get_sentinel (process)));
  else
    g_test_message ("pidfd_open is not available here: the sentinel is a pipe");
  mpk_test_join (process, 3);
  g_assert_cmpuint (count_fds (), ==, before);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &old), ==, 0);
}

static void
test_signal_not_started (void)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *process;

  if (!mpk_test_in_subprocess ("Issue 11 section 4: terminate/kill on a process not started, "
                               "or closed, is FALSE with MPK_ERROR_INVALID (they take a "
                               "GError), not a critical with the error left unset"))
    return;
  process = mpk_process_new (NULL, return_child, NULL, NULL);
  g_assert_false (mpk_process_terminate (process, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mpk_process_kill (process, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (mpk_process_start (process, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_process_join (process, MPK_WAIT_FOREVER));
  g_assert_true (mpk_process_terminate (process, &error));   /* exited: nothing to do */
  g_assert_no_error (error);
  g_assert_true (mpk_process_close (process, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_process_kill (process, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  mpk_process_unref (process);
}

/* --- join: misuse is not a timeout (issue 11 section 4) ---------------------- */

/* Tries to join the sibling @data, which this process did not create: sends
 * the error code it got (-1 for none) and whether join returned TRUE. */
static int
join_sibling_child (gpointer data)
{
  MpkProcess *sibling = data;
  g_autoptr(GError) error = NULL;
  gboolean joined;

  joined = mpk_process_join_full (sibling, MPK_NO_WAIT, &error);
  if (joined)
    return 10;
  if (error == NULL || error->domain != MPK_ERROR)
    return 11;
  return 20 + error->code;
}

static void
test_join_misuse (void)
{
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  MpkProcess *process, *sibling;

  if (!mpk_test_in_subprocess ("Issue 11 section 4: mpk_process_join_full() tells misuse "
                               "(not started, closed, not our child: MPK_ERROR_INVALID) from "
                               "a timeout (MPK_ERROR_TIMED_OUT); plain join stays a critical"))
    return;

  process = mpk_process_new (NULL, return_child, NULL, NULL);
  g_assert_false (mpk_process_join_full (process, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_test_expect_message ("mpk", G_LOG_LEVEL_CRITICAL, "*not been started*");
  g_assert_false (mpk_process_join (process, MPK_NO_WAIT));
  g_test_assert_expected_messages ();
  mpk_process_unref (process);

  mpk_test_channel_init (&channel);
  process = mpk_test_start (mpk_test_blocking_child, &channel);
  mpk_connection_close (channel.child);
  g_assert_false (mpk_process_join_full (process, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (mpk_process_join_full (process, 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* A sibling may not join it: Python's "can only join a child process". */
  sibling = mpk_test_start (join_sibling_child, process);
  g_assert_true (mpk_process_join_full (sibling, MPK_WAIT_FOREVER, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mpk_process_get_exitcode (sibling), ==, 20 + MPK_ERROR_INVALID);
  mpk_process_unref (sibling);

  mpk_connection_close (channel.parent);
  g_assert_true (mpk_process_join_full (process, MPK_WAIT_FOREVER, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, 0);
  g_assert_true (mpk_process_join_full (process, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_process_close (process, NULL));
  g_assert_false (mpk_process_join_full (process, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  mpk_process_unref (process);
  mpk_test_channel_clear (&channel);
}

/* --- daemons die with a SIGKILLed parent (issue 11 section 2) ----------------
 * Three generations: the test process (T) forks a plain parent (P), P starts
 * a daemon (D) and reports D's pid, T SIGKILLs P and checks that D is gone.
 * T is a child subreaper, so D is reparented to T and reaped by it: no
 * orphan and no zombie is left, whatever happens. */

typedef struct
{
  gint32   daemon_pid;     /* -1 if the start failed */
  gboolean alive;          /* D answered a ping after its start (and its starter thread's end) */
} DaemonReport;

/* D: answers one ping, then waits to be killed. The alarm bounds its life
 * if nothing kills it (the bug under test), so even a failed run leaves no
 * process behind for long. It never reads its pipe again: EOF after P's
 * death must not be what ends it. */
static int
ping_daemon (gpointer data)
{
  MpkConnection *conn = data;
  g_autoptr(GVariant) ping = NULL;

  alarm (600);
  ping = mpk_connection_recv (conn, MPK_TEST_CHILD_TIMEOUT_US, NULL);
  if (ping == NULL)
    return 1;
  if (!mpk_connection_send (conn, g_variant_new_string ("pong"), MPK_TEST_CHILD_TIMEOUT_US, NULL))
    return 1;
  for (;;)
    pause ();
  return 0;
}

static gpointer
start_in_thread (gpointer data)
{
  return GINT_TO_POINTER (mpk_process_start (data, NULL));
}

/* The number of threads of this process (entries of /proc/self/task). */
static guint
count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* P: starts D (from a thread that has ended by the time of the report, if
 * @from_thread), pings it, reports to T over @report_fd, and waits for
 * T's SIGKILL. A plain fork: P is a test helper, not an mpkit child. */
G_GNUC_NORETURN static void
daemon_parent (int report_fd, gboolean from_thread, pid_t test_pid)
{
  MpkConnection *mine, *theirs;
  DaemonReport report = { -1, FALSE };
  g_autoptr(GVariant) pong = NULL;
  MpkProcess *daemon;
  gboolean started;

  prctl (PR_SET_PDEATHSIG, SIGKILL);       /* P never outlives T */
  if (getppid () != test_pid)
    _exit (1);
  if (!mpk_pipe_new (TRUE, &mine, &theirs, NULL))
    _exit (1);
  daemon = mpk_process_new ("daemon", ping_daemon, theirs, NULL);
  mpk_process_set_daemon (daemon, TRUE);
  if (from_thread)
    {
      GThread *thread = g_thread_new ("starter", start_in_thread, daemon);
      gint64 deadline = g_get_monotonic_time () + MPK_TEST_CHILD_TIMEOUT_US;

      started = GPOINTER_TO_INT (g_thread_join (thread));
      /* g_thread_join() can return before the kernel has finished the
       * thread's exit, where a parent-death signal tied to it would be
       * sent; once the thread is gone from /proc, that point is past. */
      while (count_threads () > 1 && g_get_monotonic_time () < deadline)
        g_usleep (1000);
    }
  else
    started = mpk_process_start (daemon, NULL);
  if (started)
    {
      report.daemon_pid = mpk_process_get_pid (daemon);
      if (mpk_connection_send (mine, g_variant_new_string ("ping"), MPK_TEST_CHILD_TIMEOUT_US, NULL))
        pong = mpk_connection_recv (mine, MPK_TEST_CHILD_TIMEOUT_US, NULL);
      report.alive = pong != NULL;
    }
  if (write (report_fd, &report, sizeof report) != sizeof report)
    _exit (1);
  for (;;)
    pause ();
}

static int
test_pidfd_open (pid_t pid)
{
#ifdef SYS_pidfd_open
  return syscall (SYS_pidfd_open, pid, 0);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static void
test_daemon_parent_killed (gconstpointer data)
{
  gboolean from_thread = GPOINTER_TO_INT (data);
  int timeout_ms = (under_valgrind () ? 120 : 30) * 1000;
  DaemonReport report = { -1, FALSE };
  struct pollfd pfd = { -1, POLLIN, 0 };
  int fds[2], status = 0, pidfd, rc;
  pid_t reaped;
  const char *verdict;
  gint64 killed_at;
  pid_t parent;

  if (!mpk_test_in_subprocess (from_thread
                               ? "Issue 11 section 2: a daemon started from a thread that "
                                 "has ended lives on, and is terminated (SIGTERM) once its "
                                 "parent is SIGKILLed"
                               : "Issue 11 section 2: a daemon is terminated (SIGTERM) when "
                                 "its parent is SIGKILLed, checked by the grandparent"))
    return;

  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  g_assert_cmpint (pipe (fds), ==, 0);
  parent = fork ();
  g_assert_cmpint (parent, >=, 0);
  if (parent == 0)
    {
      close (fds[0]);
      daemon_parent (fds[1], from_thread, getppid ());
    }
  close (fds[1]);

  pfd.fd = fds[0];
  rc = poll (&pfd, 1, timeout_ms);
  if (rc == 1)
    rc = read (fds[0], &report, sizeof report);
  close (fds[0]);
  g_assert_cmpint (rc, ==, sizeof report);
  g_assert_cmpint (report.daemon_pid, >, 0);
  /* A pidfd now, while D is P's (unreaped) child: it names D for sure.
   * Without one (valgrind knows no pidfd_open), waitpid() polls below. */
  pidfd = test_pidfd_open (report.daemon_pid);
  g_assert_true (pidfd >= 0 || errno == ENOSYS);
  g_assert_true (report.alive);

  g_assert_cmpint (kill (parent, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (parent, NULL, 0), ==, parent);
  killed_at = g_get_monotonic_time ();

  /* Now D is our child (we are its subreaper): wait, bounded, for its end. */
  reaped = 0;
  if (pidfd >= 0)
    {
      pfd.fd = pidfd;
      do
        rc = poll (&pfd, 1, timeout_ms);
      while (rc < 0 && errno == EINTR);
      close (pidfd);
    }
  else
    {
      gint64 deadline = killed_at + timeout_ms * (gint64) 1000;

      while ((reaped = waitpid (report.daemon_pid, &status, WNOHANG)) == 0
             && g_get_monotonic_time () < deadline)
        g_usleep (10000);
      rc = reaped == report.daemon_pid ? 1 : 0;
    }
  if (rc == 1)
    {
      verdict = "the daemon is gone";
      g_test_message ("the daemon was gone %.1f ms after its parent's SIGKILL",
                      (g_get_monotonic_time () - killed_at) / 1000.0);
    }
  else
    {
      verdict = "the daemon still runs after its parent's SIGKILL";
      kill (report.daemon_pid, SIGKILL);
    }
  if (reaped != report.daemon_pid)
    g_assert_cmpint (waitpid (report.daemon_pid, &status, 0), ==, report.daemon_pid);
  g_assert_cmpstr (verdict, ==, "the daemon is gone");
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGTERM);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/process/current/main", test_current);
  g_test_add_func ("/process/lifecycle/report", test_lifecycle);
  g_test_add_func ("/process/name/explicit", test_name_explicit);
  g_test_add_func ("/process/name/default", test_name_default);
  g_test_add_func ("/process/daemon/flag", test_daemon_flag);
  g_test_add_func ("/process/daemon/no-children", test_daemon_no_children);
  g_test_add_data_func ("/process/daemon/parent-killed", GINT_TO_POINTER (FALSE),
                        test_daemon_parent_killed);
  g_test_add_data_func ("/process/daemon/parent-killed-from-thread", GINT_TO_POINTER (TRUE),
                        test_daemon_parent_killed);
  g_test_add_func ("/process/join/misuse-vs-timeout", test_join_misuse);
  g_test_add_func ("/process/parent/pid", test_parent_pid);
  g_test_add_data_func ("/process/signal/terminate", GINT_TO_POINTER (SIGTERM), test_signal);
  g_test_add_data_func ("/process/signal/kill", GINT_TO_POINTER (SIGKILL), test_signal);
  g_test_add_func ("/process/signal/after-exit", test_signal_after_exit);
  g_test_add_func ("/process/signal/not-started", test_signal_not_started);
  g_test_add_func ("/process/sentinel/not-started", test_sentinel_not_started);
  g_test_add_func ("/process/sentinel/ready-at-exit", test_sentinel_ready_at_exit);
  g_test_add_func ("/process/close/running-then-joined", test_close);
  g_test_add_func ("/process/close/then-use", test_close_then_use);
  g_test_add_func ("/process/many/exit", test_many_exit);
  g_test_add_func ("/process/many/terminate", test_many_terminate);
  g_test_add_func ("/process/exitcode/return-value", test_exitcodes);
  g_test_add_func ("/process/echo/upper", test_echo);
  g_test_add_func ("/process/spawn/failure", test_spawn_failure);
  g_test_add_func ("/process/stdio/flushed-once", test_stdio_once);
  g_test_add_func ("/process/fds/no-leak", test_no_fd_leak);
  g_test_add_func ("/process/start/failures-clean-up", test_start_failures_clean_up);
  g_test_add_func ("/process/self/object", test_self_object);
  g_test_add_func ("/process/fork/keeps-buffer", test_fork_keeps_buffer);

  return g_test_run ();
}
