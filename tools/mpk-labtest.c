/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-labtest: the lab tester.  For each lab directory it reads lab.test (a
 * GKeyFile, format in labs/README.md), runs $BUILD/labs/<dir>/lab in its own
 * process group under a timeout (or reads a given output file), compares the
 * output with expected.txt (exact, or per-stream order plus happens-before
 * constraints) and prints one TAP test point per lab. A lab killed after
 * its timeout runs once more, traced (MPK_TRACE=all into a folder of its
 * own), and is reported with who was still waiting in which call
 * ($BUILD/tools/mpk-trace text: "still blocked"). */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>

#define MAX_CAPTURE  (1024 * 1024)  /* bytes kept of each stream; the rest is drained */
#define MAX_DIAG_LINES 60           /* lines of a listing shown in diagnostics */
#define DEFAULT_TIMEOUT 10          /* seconds */

typedef enum
{
  MODE_EXACT,
  MODE_INTERLEAVE,
} Mode;

/* One constraint "line A must come before line B". */
typedef struct
{
  char *a;
  char *b;
} Before;

/* What lab.test says, with the expected output loaded. */
typedef struct
{
  char     *dir;
  char     *name;           /* "lab 08 pipe-messages" */
  char     *slug;           /* "08-pipe-messages" */
  char     *title;
  int       points;
  int       timeout_s;
  int       exit_status;
  Mode      mode;
  char     *expected_path;
  char     *expected;       /* the whole file */
  char    **expected_lines;
  GPtrArray *streams;       /* GRegex, one per stream */
  GArray   *before;         /* Before */
} LabTest;

/* What one run of the lab gave. */
typedef struct
{
  GString  *out;
  GString  *err;
  gboolean  out_truncated;
  gboolean  timed_out;
  gboolean  exited;         /* the lab's main process was reaped */
  int       wait_status;
  double    seconds;
} RunResult;

/* --- small helpers ---------------------------------------------------------- */

/* Diagnostics are collected, then printed as "# " lines after the test point. */
static void G_GNUC_PRINTF (2, 3)
diag (GPtrArray *diags, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (diags, g_strdup_vprintf (format, args));
  va_end (args);
}

/* Splits TEXT into lines; a final '\n' ends the last line and makes no empty one. */
static char **
split_lines (const char *text)
{
  char **lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);

  if (n > 0 && lines[n - 1][0] == '\0')
    {
      g_free (lines[n - 1]);
      lines[n - 1] = NULL;
    }
  return lines;
}

static void
diag_listing (GPtrArray *diags, const char *heading, char **lines)
{
  guint n = g_strv_length (lines);

  diag (diags, "%s (%u line%s):", heading, n, n == 1 ? "" : "s");
  for (guint i = 0; i < n && i < MAX_DIAG_LINES; i++)
    diag (diags, "  %3u  %s", i + 1, lines[i]);
  if (n > MAX_DIAG_LINES)
    diag (diags, "  ... %u more lines", n - MAX_DIAG_LINES);
}

static const char *
signal_name (int sig)
{
  switch (sig)
    {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
    }
}

/* --- lab.test ------------------------------------------------------------- */

static void
lab_test_free (LabTest *t)
{
  g_free (t->dir);
  g_free (t->name);
  g_free (t->slug);
  g_free (t->title);
  g_free (t->expected_path);
  g_free (t->expected);
  g_strfreev (t->expected_lines);
  if (t->streams)
    g_ptr_array_unref (t->streams);
  if (t->before)
    {
      for (guint i = 0; i < t->before->len; i++)
        {
          g_free (g_array_index (t->before, Before, i).a);
          g_free (g_array_index (t->before, Before, i).b);
        }
      g_array_unref (t->before);
    }
  g_free (t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LabTest, lab_test_free)

/* Index of the first stream whose regex matches LINE, or -1. */
static int
stream_of (LabTest *t, const char *line)
{
  for (guint s = 0; s < t->streams->len; s++)
    if (g_regex_match (g_ptr_array_index (t->streams, s), line, 0, NULL))
      return (int) s;
  return -1;
}

/* Index of the only line equal to WANT in LINES; -1 if none, -2 if several. */
static int
find_line (char **lines, const char *want)
{
  int found = -1;

  for (int i = 0; lines[i] != NULL; i++)
    if (strcmp (lines[i], want) == 0)
      {
        if (found >= 0)
          return -2;
        found = i;
      }
  return found;
}

/* "labs/08-pipe-messages/" -> "08-pipe-messages" */
static char *
lab_slug (const char *dir)
{
  g_autofree char *trimmed = g_strdup (dir);

  while (strlen (trimmed) > 1 && g_str_has_suffix (trimmed, "/"))
    trimmed[strlen (trimmed) - 1] = '\0';
  return g_path_get_basename (trimmed);
}

/* "labs/08-pipe-messages" -> "lab 08 pipe-messages", the name of the test point */
static char *
lab_name (const char *dir)
{
  g_autofree char *slug = lab_slug (dir);
  const char *dash = strchr (slug, '-');

  if (dash == NULL)
    return g_strdup_printf ("lab %s", slug);
  return g_strdup_printf ("lab %.*s %s", (int) (dash - slug), slug, dash + 1);
}

static gboolean
bad_config (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "%s: %s", path, what);
  return FALSE;
}

/* Reads DIR/lab.test and the expected output beside it, and checks that the
 * expected output satisfies its own constraints (a broken lab.test is an error). */
static LabTest *
lab_test_load (const char *dir, GError **error)
{
  g_autoptr(LabTest) t = g_new0 (LabTest, 1);
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *path = g_build_filename (dir, "lab.test", NULL);
  g_autofree char *mode = NULL;
  g_autofree char *expected = NULL;
  g_auto(GStrv) streams = NULL;
  g_auto(GStrv) before = NULL;
  GError *local = NULL;

  t->dir = g_strdup (dir);
  t->slug = lab_slug (dir);
  t->name = lab_name (dir);

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  t->title = g_key_file_get_string (kf, "lab", "title", NULL);
  t->points = g_key_file_get_integer (kf, "lab", "points", NULL);
  t->timeout_s = g_key_file_get_integer (kf, "lab", "timeout", &local);
  if (local != NULL || t->timeout_s <= 0)
    t->timeout_s = DEFAULT_TIMEOUT;
  g_clear_error (&local);
  t->exit_status = g_key_file_get_integer (kf, "lab", "exit-status", NULL);

  mode = g_key_file_get_string (kf, "lab", "mode", NULL);
  if (mode == NULL || strcmp (mode, "exact") == 0)
    t->mode = MODE_EXACT;
  else if (strcmp (mode, "interleave") == 0)
    t->mode = MODE_INTERLEAVE;
  else
    return bad_config (error, path, "mode must be exact or interleave"), NULL;

  expected = g_key_file_get_string (kf, "lab", "expected", NULL);
  t->expected_path = g_build_filename (dir, expected ? expected : "expected.txt", NULL);
  if (!g_file_get_contents (t->expected_path, &t->expected, NULL, error))
    return NULL;
  t->expected_lines = split_lines (t->expected);

  t->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_regex_unref);
  t->before = g_array_new (FALSE, TRUE, sizeof (Before));
  if (t->mode == MODE_EXACT)
    return g_steal_pointer (&t);

  streams = g_key_file_get_string_list (kf, "lab", "streams", NULL, NULL);
  if (streams == NULL || streams[0] == NULL)
    return bad_config (error, path, "mode=interleave needs streams="), NULL;
  for (guint i = 0; streams[i] != NULL; i++)
    {
      GRegex *re = g_regex_new (streams[i], 0, 0, error);
      if (re == NULL)
        {
          g_prefix_error (error, "%s: stream %u: ", path, i + 1);
          return NULL;
        }
      g_ptr_array_add (t->streams, re);
    }
  for (guint i = 0; t->expected_lines[i] != NULL; i++)
    if (stream_of (t, t->expected_lines[i]) < 0)
      {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                     "%s: expected line %u matches no stream: %s",
                     path, i + 1, t->expected_lines[i]);
        return NULL;
      }

  before = g_key_file_get_string_list (kf, "lab", "before", NULL, NULL);
  for (guint i = 0; before != NULL && before[i] != NULL; i++)
    {
      char *bar = strchr (before[i], '|');
      Before c;
      int ia, ib;

      if (before[i][0] == '\0')
        continue;
      if (bar == NULL)
        return bad_config (error, path, "a before= item needs the form A|B"), NULL;
      c.a = g_strndup (before[i], bar - before[i]);
      c.b = g_strdup (bar + 1);
      g_array_append_val (t->before, c);
      ia = find_line (t->expected_lines, c.a);
      ib = find_line (t->expected_lines, c.b);
      if (ia < 0 || ib < 0 || ia >= ib)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: before=%s|%s: both lines must occur once in %s, "
                       "in this order", path, c.a, c.b, t->expected_path);
          return NULL;
        }
    }
  return g_steal_pointer (&t);
}

/* --- running the lab ------------------------------------------------------ */

static void
run_result_clear (RunResult *r)
{
  if (r->out)
    g_string_free (r->out, TRUE);
  if (r->err)
    g_string_free (r->err, TRUE);
}

/* Runs PROGRAM in a new process group with stdin from /dev/null, capturing
 * stdout and stderr until both close and the process has exited, or until
 * TIMEOUT_S seconds: then the whole group gets SIGKILL. With TRACE_DIR, the
 * run is traced there (MPK_TRACE=all), so that a run killed after its
 * timeout can still say who was waiting for what. */
static gboolean
run_lab (const char *program, int timeout_s, const char *trace_dir, RunResult *r,
         GError **error)
{
  int out_pipe[2], err_pipe[2];
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) timeout_s * G_USEC_PER_SEC;
  struct pollfd fds[2];
  pid_t pid;

  memset (r, 0, sizeof *r);
  r->out = g_string_new (NULL);
  r->err = g_string_new (NULL);

  if (pipe (out_pipe) < 0 || pipe (err_pipe) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "pipe: %s", g_strerror (errno));
      return FALSE;
    }
  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  if (pid < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "fork: %s", g_strerror (errno));
      return FALSE;
    }
  if (pid == 0)
    {
      int devnull = open ("/dev/null", O_RDONLY);

      setpgid (0, 0);
      signal (SIGPIPE, SIG_DFL);
      if (trace_dir != NULL)
        {
          g_setenv ("MPK_TRACE", "all", TRUE);
          g_setenv ("MPK_TRACE_DIR", trace_dir, TRUE);
          g_unsetenv ("MPK_TRACE_RUN");   /* a run of its own */
        }
      if (devnull >= 0)
        dup2 (devnull, 0);
      dup2 (out_pipe[1], 1);
      dup2 (err_pipe[1], 2);
      close (out_pipe[0]);
      close (out_pipe[1]);
      close (err_pipe[0]);
      close (err_pipe[1]);
      execl (program, program, (char *) NULL);
      dprintf (2, "mpk-labtest: cannot run %s: %s\n", program, g_strerror (errno));
      _exit (127);
    }
  setpgid (pid, pid);   /* also here: no race with the child's own setpgid */
  close (out_pipe[1]);
  close (err_pipe[1]);
  fds[0].fd = out_pipe[0];
  fds[1].fd = err_pipe[0];
  fds[0].events = fds[1].events = POLLIN;

  while (fds[0].fd >= 0 || fds[1].fd >= 0 || !r->exited)
    {
      gint64 now = g_get_monotonic_time ();
      int wait_ms;

      if (now >= deadline)
        {
          r->timed_out = TRUE;
          break;
        }
      if (!r->exited)
        {
          /* WNOWAIT: note the exit but leave the zombie, so that the group id
           * cannot be reused before we kill the group below. */
          siginfo_t info;
          info.si_pid = 0;
          if (waitid (P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
              && info.si_pid == pid)
            r->exited = TRUE;
        }
      wait_ms = MIN ((deadline - now) / 1000 + 1, 20);
      if (poll (fds, 2, wait_ms) < 0 && errno != EINTR)
        break;
      for (int i = 0; i < 2; i++)
        {
          char buf[4096];
          GString *to = i == 0 ? r->out : r->err;
          ssize_t n;

          if (fds[i].fd < 0 || fds[i].revents == 0)
            continue;
          n = read (fds[i].fd, buf, sizeof buf);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              close (fds[i].fd);
              fds[i].fd = -1;
              continue;
            }
          if (to->len + n <= MAX_CAPTURE)
            g_string_append_len (to, buf, n);
          else if (i == 0)
            r->out_truncated = TRUE;
        }
    }

  /* Kill whatever is left of the group: everything on a timeout, stray
   * grandchildren otherwise (a correct lab has joined them all). */
  kill (-pid, SIGKILL);
  while (waitpid (pid, &r->wait_status, 0) < 0 && errno == EINTR)
    ;
  for (int i = 0; i < 2; i++)
    if (fds[i].fd >= 0)
      close (fds[i].fd);
  r->seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  return TRUE;
}

/* --- who was stuck -------------------------------------------------------- */

/* After a timeout: the "still blocked" summary of `mpk-trace text` on the
 * killed run's trace (tools/mpk-trace/README.md), one diagnostic line each:
 * which process was asleep in which call, since which step. */
static void
diag_blocked (GPtrArray *diags, const char *build, const char *trace_dir)
{
  g_autofree char *tool = g_build_filename (build, "tools", "mpk-trace", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  const char *argv[] = { tool, "text", trace_dir, NULL };
  gboolean found = FALSE;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      diag (diags, "(who was waiting is unknown: %s text %s: %s)", tool, trace_dir,
            error->message);
      return;
    }
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      found |= g_str_has_prefix (lines[i], "still blocked");
      if (found && lines[i][0] != '\0')
        diag (diags, "%s", lines[i]);
    }
  if (!found)
    diag (diags, "(the trace of the run shows no process asleep in an mpkit call)");
}

static void remove_trace_dir (const char *dir);

/* After a timeout: who was waiting for what. The graded run is not traced
 * (a lab may do less when it is: lab 25 draws a short race), so the lab
 * runs again, traced, under the same timeout; a hang that a program's
 * logic makes (a task_done() forgotten, an end left open) comes back, and
 * the trace of that killed run says which call each process was asleep
 * in. Not when the caller traces the lab itself (their MPK_TRACE wins). */
static void
diag_hang (GPtrArray *diags, const char *build, const char *program, int timeout_s)
{
  g_autofree char *trace_dir = NULL;
  g_autoptr(GError) error = NULL;
  RunResult again = { 0 };

  if (g_getenv ("MPK_TRACE") != NULL
      || (trace_dir = g_dir_make_tmp ("mpk-labtest-XXXXXX", &error)) == NULL)
    return;
  if (!run_lab (program, timeout_s, trace_dir, &again, &error))
    diag (diags, "(who was waiting is unknown: %s)", error->message);
  else if (!again.timed_out)
    diag (diags, "(a traced run of it ended in time: the hang depends on timing)");
  else
    {
      diag (diags, "a traced run hung too and was killed after %d s:", timeout_s);
      diag_blocked (diags, build, trace_dir);
    }
  run_result_clear (&again);
  remove_trace_dir (trace_dir);
}

static void
remove_trace_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);

      unlink (path);
    }
  rmdir (dir);
}

/* --- comparing ------------------------------------------------------------ */

/* TRUE if OPS[K] is a change or within three lines of one. */
static gboolean
diff_near_change (GPtrArray *ops, guint k)
{
  for (guint d = (k >= 3 ? k - 3 : 0); d < ops->len && d <= k + 3; d++)
    if (((char *) g_ptr_array_index (ops, d))[0] != ' ')
      return TRUE;
  return FALSE;
}

/* Exact mode: byte for byte.  On a difference, a unified-diff-like listing
 * (an LCS of the lines, three lines of context). */
static gboolean
check_exact (LabTest *t, const char *got, GPtrArray *diags)
{
  g_auto(GStrv) got_lines = NULL;
  char **exp_lines = t->expected_lines;
  guint n, m;

  if (strcmp (t->expected, got) == 0)
    return TRUE;

  got_lines = split_lines (got);
  n = g_strv_length (exp_lines);
  m = g_strv_length (got_lines);
  diag (diags, "the output differs from %s:", t->expected_path);
  diag (diags, "--- expected");
  diag (diags, "+++ got");

  if ((guint64) (n + 1) * (m + 1) > 4 * 1024 * 1024)
    {
      guint i = 0;
      while (i < n && i < m && strcmp (exp_lines[i], got_lines[i]) == 0)
        i++;
      diag (diags, "(too long to diff) first difference at line %u", i + 1);
      diag (diags, "-%s", i < n ? exp_lines[i] : "(end of output)");
      diag (diags, "+%s", i < m ? got_lines[i] : "(end of output)");
      return FALSE;
    }

  {
    /* lcs[i][j]: length of the LCS of exp_lines[i..] and got_lines[j..] */
    guint *lcs = g_new0 (guint, (gsize) (n + 1) * (m + 1));
    GPtrArray *ops = g_ptr_array_new_with_free_func (g_free);
    guint i = 0, j = 0, shown = 0;
#define L(a, b) lcs[(gsize) (a) * (m + 1) + (b)]

    for (int a = n - 1; a >= 0; a--)
      for (int b = m - 1; b >= 0; b--)
        L (a, b) = strcmp (exp_lines[a], got_lines[b]) == 0
                   ? L (a + 1, b + 1) + 1 : MAX (L (a + 1, b), L (a, b + 1));
    while (i < n || j < m)
      {
        if (i < n && j < m && strcmp (exp_lines[i], got_lines[j]) == 0)
          {
            g_ptr_array_add (ops, g_strdup_printf (" %s", exp_lines[i]));
            i++;
            j++;
          }
        else if (i < n && (j == m || L (i + 1, j) >= L (i, j + 1)))
          g_ptr_array_add (ops, g_strdup_printf ("-%s", exp_lines[i++]));
        else
          g_ptr_array_add (ops, g_strdup_printf ("+%s", got_lines[j++]));
      }
#undef L
    /* Show each changed line with up to three unchanged lines around it;
     * "@@" marks where unchanged lines were left out. */
    for (guint k = 0; k < ops->len && shown < MAX_DIAG_LINES; k++)
      {
        if (!diff_near_change (ops, k))
          continue;
        if (k > 0 && !diff_near_change (ops, k - 1))
          diag (diags, "@@ ... @@");
        diag (diags, "%s", (char *) g_ptr_array_index (ops, k));
        shown++;
      }
    if (lcs[0] == n && n == m)
      diag (diags, "(the lines are the same; the final newline differs)");
    g_free (lcs);
    g_ptr_array_unref (ops);
  }
  return FALSE;
}

/* Interleave mode: every output line belongs to a stream, each stream has
 * exactly its expected lines in its expected order, and every before=
 * constraint holds. */
static gboolean
check_interleave (LabTest *t, const char *got, GPtrArray *diags)
{
  g_auto(GStrv) got_lines = split_lines (got);
  gboolean ok = TRUE;

  for (guint i = 0; got_lines[i] != NULL; i++)
    if (stream_of (t, got_lines[i]) < 0)
      {
        diag (diags, "line %u belongs to no stream (unexpected line): %s",
              i + 1, got_lines[i]);
        ok = FALSE;
      }

  for (guint s = 0; s < t->streams->len; s++)
    {
      g_autoptr(GPtrArray) want = g_ptr_array_new ();
      g_autoptr(GPtrArray) have = g_ptr_array_new ();
      const char *pattern = g_regex_get_pattern (g_ptr_array_index (t->streams, s));
      guint k = 0;

      for (guint i = 0; t->expected_lines[i] != NULL; i++)
        if (stream_of (t, t->expected_lines[i]) == (int) s)
          g_ptr_array_add (want, t->expected_lines[i]);
      for (guint i = 0; got_lines[i] != NULL; i++)
        if (stream_of (t, got_lines[i]) == (int) s)
          g_ptr_array_add (have, got_lines[i]);

      while (k < want->len && k < have->len
             && strcmp (want->pdata[k], have->pdata[k]) == 0)
        k++;
      if (k == want->len && k == have->len)
        continue;
      ok = FALSE;
      diag (diags, "stream %u (/%s/) differs at its line %u:", s + 1, pattern, k + 1);
      diag (diags, "  expected: %s", k < want->len ? (char *) want->pdata[k]
                                                   : "(no more lines)");
      diag (diags, "  got:      %s", k < have->len ? (char *) have->pdata[k]
                                                   : "(no more lines)");
      diag (diags, "  the stream must be, in this order:");
      for (guint i = 0; i < want->len; i++)
        diag (diags, "    %s", (char *) want->pdata[i]);
    }

  for (guint c = 0; c < t->before->len; c++)
    {
      Before *b = &g_array_index (t->before, Before, c);
      int ia = find_line (got_lines, b->a);
      int ib = find_line (got_lines, b->b);

      if (ia < 0 || ib < 0)
        continue;   /* missing or repeated: already reported above */
      if (ia > ib)
        {
          ok = FALSE;
          diag (diags, "constraint failed: \"%s\" must come before \"%s\","
                " but it is line %d and the other is line %d",
                b->a, b->b, ia + 1, ib + 1);
        }
    }
  return ok;
}

/* --- one test point ------------------------------------------------------- */

static gboolean
test_one (guint number, const char *dir, const char *output_file, const char *build)
{
  g_autoptr(GPtrArray) diags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(LabTest) t = lab_test_load (dir, &error);
  g_autofree char *got = NULL;
  g_autofree char *name = NULL;
  gsize got_len = 0;
  RunResult r = { 0 };
  gboolean ok = TRUE;

  if (t == NULL)
    {
      g_autofree char *bad_name = lab_name (dir);
      printf ("not ok %u - %s\n# cannot read the lab test: %s\n",
              number, bad_name, error->message);
      return FALSE;
    }
  name = g_strdup (t->name);

  if (output_file != NULL)
    {
      if (strcmp (output_file, "-") == 0)
        {
          GString *s = g_string_new (NULL);
          char buf[4096];
          size_t n;
          while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
            g_string_append_len (s, buf, n);
          got_len = s->len;
          got = g_string_free (s, FALSE);
        }
      else if (!g_file_get_contents (output_file, &got, &got_len, &error))
        {
          printf ("not ok %u - %s\n# %s\n", number, name, error->message);
          return FALSE;
        }
    }
  else
    {
      g_autofree char *program = g_build_filename (build, "labs", t->slug, "lab", NULL);

      if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
        {
          printf ("not ok %u - %s\n# %s: no such program (run make first)\n",
                  number, name, program);
          return FALSE;
        }
      if (!run_lab (program, t->timeout_s, NULL, &r, &error))
        {
          printf ("not ok %u - %s\n# cannot run %s: %s\n",
                  number, name, program, error->message);
          run_result_clear (&r);
          return FALSE;
        }
      got = g_memdup2 (r.out->str, r.out->len + 1);
      got_len = r.out->len;
      if (r.timed_out)
        {
          ok = FALSE;
          diag (diags, "TIMEOUT: the lab did not finish within %d s; "
                "its process group was killed with SIGKILL", t->timeout_s);
          if (r.exited)
            diag (diags, "(its main process had exited: another process "
                  "still held stdout or stderr open)");
          diag_hang (diags, build, program, t->timeout_s);
        }
      else if (WIFSIGNALED (r.wait_status))
        {
          ok = FALSE;
          diag (diags, "the lab was killed by %s (signal %d)",
                signal_name (WTERMSIG (r.wait_status)), WTERMSIG (r.wait_status));
        }
      else if (WIFEXITED (r.wait_status)
               && WEXITSTATUS (r.wait_status) != t->exit_status)
        {
          ok = FALSE;
          diag (diags, "the lab exited with status %d, expected %d",
                WEXITSTATUS (r.wait_status), t->exit_status);
        }
      if (r.out_truncated)
        diag (diags, "(stdout was longer than %d bytes; the rest was dropped)",
              MAX_CAPTURE);
    }

  /* The checks below see the output as a C string: a NUL byte would hide
   * whatever follows it, so it is a failure of its own. */
  if (memchr (got, '\0', got_len) != NULL)
    {
      ok = FALSE;
      diag (diags, "the output contains a NUL byte (at offset %zu)",
            (size_t) ((char *) memchr (got, '\0', got_len) - got));
    }
  if (!(t->mode == MODE_EXACT ? check_exact (t, got, diags)
                              : check_interleave (t, got, diags)))
    ok = FALSE;

  if (!ok)
    {
      g_auto(GStrv) got_lines = split_lines (got);
      diag_listing (diags, "got", got_lines);
      if (r.err != NULL && r.err->len > 0)
        {
          g_auto(GStrv) err_lines = split_lines (r.err->str);
          diag_listing (diags, "stderr", err_lines);
        }
    }

  printf ("%s %u - %s\n", ok ? "ok" : "not ok", number, name);
  for (guint i = 0; i < diags->len; i++)
    printf ("# %s\n", (char *) diags->pdata[i]);
  /* A summary line for graders: the title, the points, the time taken. */
  printf ("# %s: %d/%d points", t->title ? t->title : name,
          ok ? t->points : 0, t->points);
  if (output_file == NULL)
    printf (", %.2f s", r.seconds);
  printf ("\n");
  run_result_clear (&r);
  fflush (stdout);
  return ok;
}

int
main (int argc, char **argv)
{
  g_auto(GStrv) outputs = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const char *build = g_getenv ("BUILD");
  guint n_outputs, failed = 0;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME_ARRAY, &outputs,
      "Check FILE (- for stdin) instead of running the lab; give one per lab",
      "FILE" },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("LAB-DIR... - run lab tests, print TAP");
  g_option_context_set_summary (context,
    "Runs $BUILD/labs/<slug>/lab (BUILD defaults to \"build\") for each\n"
    "lab directory, checks it against the directory's lab.test and prints\n"
    "one TAP test point per lab.  Exits 1 if any lab failed.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("mpk-labtest: %s\n", error->message);
      return 2;
    }
  n_outputs = outputs ? g_strv_length (outputs) : 0;
  if (argc < 2 || (n_outputs > 0 && n_outputs != (guint) argc - 1))
    {
      g_printerr ("usage: mpk-labtest [--output FILE]... LAB-DIR...\n"
                  "(with --output, give one FILE per LAB-DIR, in the same order)\n");
      return 2;
    }
  if (build == NULL || build[0] == '\0')
    build = "build";

  signal (SIGPIPE, SIG_IGN);
  printf ("1..%d\n", argc - 1);
  for (int i = 1; i < argc; i++)
    if (!test_one (i, argv[i], n_outputs ? outputs[i - 1] : NULL, build))
      failed++;
  return failed == 0 ? 0 : 1;
}
