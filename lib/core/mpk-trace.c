/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-trace.c: the recorder behind MPK_TRACE. Each process appends JSON lines
 * to its own file, one write(2) per event and no stdio buffer, so a process
 * killed at any moment loses nothing it had recorded. Lines of one thread are
 * in the order it did things; threads of one process (a Manager's) may write
 * an event's line after a later event of another thread, so each line names
 * its thread ("th") and carries the process's clock ("lc"), which orders them.
 * tools/mpk-trace merges the files into diagrams; tools/mpk-trace/README.md
 * is the format. */
#include "mpk-core-private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

guint mpk__trace_mask = 0;

static const GDebugKey trace_keys[] = {
  { "proc",    MPK__TRACE_PROC },
  { "pipe",    MPK__TRACE_PIPE },
  { "queue",   MPK__TRACE_QUEUE },
  { "lock",    MPK__TRACE_LOCK },
  { "value",   MPK__TRACE_VALUE },
  { "manager", MPK__TRACE_MANAGER },
  { "msg",     MPK__TRACE_MSG },
};

static const char *const trace_key_help[] = {
  "process start, spawn, exit, and how each child ended",
  "Pipe/Connection send, receive and end of file",
  "Queue, SimpleQueue and JoinableQueue",
  "Lock, RLock, Event and Semaphore",
  "Value and Array reads and writes",
  "Manager proxy calls and replies",
  "the messaging layers (protocol, messengers, message processes)",
};

/* Set up once by the constructor; in a forked child the atfork handler
 * forgets the parent's file, and the first event opens the child's own. */
static struct
{
  char     *dir;          /* absolute path of the trace folder */
  char     *run;          /* "<root pid>-<root t0 ns>" */
  pid_t     run_creator;  /* the process that named the run, or 0 if inherited */
  char     *boot_id;
  GMutex    open_lock;    /* protects fd and fd_pid while a file is opened */
  GMutex    write_lock;   /* makes taking a seq and writing its line one step */
  int       fd;           /* this process's file, -1 until opened */
  guint32   fd_pid;       /* the process whose file @fd is, once its header is written */
  guint64   seq;          /* last event number written (under write_lock) */
  guint32   objects;      /* objects created by this process (atomic) */
  guint32   threads;      /* threads of this process that recorded (atomic) */
  guint64   dropped;      /* events that could not be written (atomic) */
  char     *exec;         /* "<pid>.<seq>": the proc.exec that started this program
                           * (MPK_TRACE_EXEC), for its header; NULL if none or forked */
} trace = { .fd = -1 };

/* The environment variable that carries a proc.exec's id to the program it
 * starts (mpk_trace_exec_begin()); that program takes it out of its own
 * environment, so that a program it runs in turn does not claim it. */
#define EXEC_VARIABLE "MPK_TRACE_EXEC"

/* Set while this thread writes a new file's first lines: their own
 * mpk__trace_begin() must not try to open the file again. */
static __thread gboolean opening;

/* This thread's number in its process (thread_pid's), from 1 in the order
 * threads first record; a forked child's thread starts again at 1. */
static __thread guint32 thread_pid;
static __thread guint32 thread_no;

/* Set by the process layer (mpk-process.c) in each child it starts and when
 * the current process is renamed; the core never calls upward for it. */
static const char *process_name;

void
mpk__trace_set_process_name (const char *name)
{
  process_name = name;
}

const char *
mpk__trace_get_process_name (void)
{
  return process_name != NULL ? process_name : "MainProcess";
}

gint64
mpk__trace_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static gint64
real_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* --- building a line --------------------------------------------------------- */

/* Bytes still free, keeping room for the closing "}\n". */
static gsize
line_room (const MpkTraceLine *line)
{
  return MPK__TRACE_LINE_MAX - 2 - line->len;
}

static void
line_append (MpkTraceLine *line, const char *text, gsize n)
{
  n = MIN (n, line_room (line));
  memcpy (line->buf + line->len, text, n);
  line->len += n;
}

/* Ends the object; line_room() always kept these two bytes free. */
static void
line_close (MpkTraceLine *line)
{
  memcpy (line->buf + line->len, "}\n", 2);
  line->len += 2;
}

static void
line_printf (MpkTraceLine *line, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
line_printf (MpkTraceLine *line, const char *format, ...)
{
  char tmp[128];
  va_list ap;
  int n;

  va_start (ap, format);
  n = g_vsnprintf (tmp, sizeof tmp, format, ap);
  va_end (ap);
  line_append (line, tmp, MIN ((gsize) MAX (n, 0), sizeof tmp - 1));
}

/* Room a string value leaves for the fields after it. */
#define LATER_FIELDS_ROOM 256

/* Appends @text as a JSON string. Whole characters only: a string that does
 * not fit ends in "…", so the line stays valid JSON and valid UTF-8. The
 * string leaves @keep bytes free, so that fields added after it are whole. */
static void
line_append_json_string (MpkTraceLine *line, const char *text, gsize keep)
{
  g_autofree char *valid = NULL;
  const char *p;

  if (!g_utf8_validate (text, -1, NULL))
    text = valid = g_utf8_make_valid (text, -1);
  line_append (line, "\"", 1);
  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      char esc[8];
      gsize n = g_utf8_next_char (p) - p;
      const char *out = p;

      if (*p == '"' || *p == '\\')
        n = g_snprintf (esc, sizeof esc, "\\%c", *p), out = esc;
      else if ((guchar) *p < 0x20)
        n = g_snprintf (esc, sizeof esc, "\\u%04x", (guint) (guchar) *p), out = esc;
      /* Keep 4 bytes for "…" and the closing quote. */
      if (n + 4 + keep > line_room (line))
        {
          line_append (line, "\xe2\x80\xa6", 3);
          break;
        }
      line_append (line, out, n);
    }
  line_append (line, "\"", 1);
}

static void
line_key (MpkTraceLine *line, const char *key)
{
  line_printf (line, ",\"%s\":", key);
}

void
mpk__trace_add_int (MpkTraceLine *line, const char *key, gint64 value)
{
  line_key (line, key);
  line_printf (line, "%" G_GINT64_FORMAT, value);
}

void
mpk__trace_add_str (MpkTraceLine *line, const char *key, const char *value)
{
  line_key (line, key);
  line_append_json_string (line, value, LATER_FIELDS_ROOM);
}

void
mpk__trace_add_last_str (MpkTraceLine *line, const char *key, const char *value)
{
  line_key (line, key);
  line_append_json_string (line, value, 0);
}

/* --- objects ------------------------------------------------------------------ */

void
mpk__trace_object_init (MpkObjectHeader *object, MpkObjectType type)
{
  object->type = type;
  object->trace_pid = mpk__wire_pid ();
  object->trace_n = __atomic_add_fetch (&trace.objects, 1, __ATOMIC_RELAXED);
}

static const char *
object_kind (MpkObjectType type)
{
  switch (type)
    {
    case MPK__OBJECT_CONNECTION: return "pipe";
    case MPK__OBJECT_PROCESS:    return "process";
    case MPK__OBJECT_QUEUE:      return "queue";
    case MPK__OBJECT_LOCK:       return "lock";
    case MPK__OBJECT_EVENT:      return "event";
    case MPK__OBJECT_SEMAPHORE:  return "semaphore";
    case MPK__OBJECT_VALUE:      return "value";
    case MPK__OBJECT_MANAGER:    return "manager";
    default:                     return "object";
    }
}

void
mpk__trace_add_object (MpkTraceLine *line, const MpkObjectHeader *object)
{
  line_key (line, "obj");
  line_printf (line, "\"%s:%u.%u\"", object_kind (object->type),
               object->trace_pid, object->trace_n);
}

void
mpk__trace_add_message (MpkTraceLine        *line,
                        MpkTraceDirection    dir,
                        const MpkWireHeader *header,
                        GVariant            *payload)
{
  char sum[4 * 64];   /* 48 characters of up to 4 bytes, and "…" */

  if (payload != NULL)
    mpk__trace_summarize (payload, sum, sizeof sum);
  else
    g_snprintf (sum, sizeof sum, "bytes[%" G_GUINT64_FORMAT "]", header->length);
  mpk__trace_add_str (line, "dir", dir == MPK__TRACE_OUT ? "out" : "in");
  line_key (line, "msg");
  line_printf (line, "\"%u.%" G_GUINT64_FORMAT "\"", header->pid, header->seq);
  mpk__trace_add_int (line, "bytes", (gint64) header->length);
  mpk__trace_add_str (line, "sum", sum);
}

/* --- the file ---------------------------------------------------------------- */

/* One write(2) for the whole line: other processes append to their own
 * files, and threads of this one append whole lines (O_APPEND). A line that
 * cannot be written whole (a full disk) is cut back off the file, so the
 * next line does not stick to a torn one; it is counted as dropped. */
static gboolean
write_line (const char *buf, gsize len)
{
  gsize written = 0;

  while (written < len)
    {
      gssize n = write (trace.fd, buf + written, len - written);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          off_t end = lseek (trace.fd, 0, SEEK_END);

          if (written > 0 && end >= (off_t) written)
            (void) !ftruncate (trace.fd, end - written);
          __atomic_add_fetch (&trace.dropped, 1, __ATOMIC_RELAXED);
          return FALSE;
        }
      written += n;
    }
  return TRUE;
}

static void
write_header (void)
{
  MpkTraceLine line;

  line.len = MPK__TRACE_PREFIX_MAX;
  line_printf (&line, "{\"v\":1,\"type\":\"proc\",\"pid\":%u,\"ppid\":%d",
               mpk__wire_pid (), (int) getppid ());
  mpk__trace_add_str (&line, "run", trace.run);
  mpk__trace_add_str (&line, "clock", "CLOCK_MONOTONIC");
  mpk__trace_add_str (&line, "boot_id", trace.boot_id);
  mpk__trace_add_int (&line, "t0_mono_ns", mpk__trace_now ());
  mpk__trace_add_int (&line, "t0_real_ns", real_now ());
  if (trace.exec != NULL)
    mpk__trace_add_str (&line, "exec", trace.exec);
  mpk__trace_add_last_str (&line, "name", mpk__trace_get_process_name ());
  line_close (&line);
  write_line (line.buf + MPK__TRACE_PREFIX_MAX, line.len - MPK__TRACE_PREFIX_MAX);
}

static void
open_file (guint32 pid)
{
  g_autofree char *name = g_strdup_printf ("trace-%u.jsonl", pid);
  g_autofree char *path = g_build_filename (trace.dir, name, NULL);

  /* The process that starts a run empties a file left by an earlier run
   * with the same pid. Any other appends: after an exec, the new program
   * has the same pid, and its lines (after a header of their own) follow
   * the old program's instead of erasing them. */
  trace.fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC
                         | (trace.run_creator == (pid_t) pid ? O_TRUNC : 0), 0644);
  if (trace.fd < 0)
    {
      g_printerr ("mpk: cannot write trace file %s: %s; tracing is off in pid %u\n",
                  path, g_strerror (errno), pid);
      mpk__trace_mask = 0;
      return;
    }
  write_header ();
  if (mpk__trace_mask & MPK__TRACE_PROC)
    {
      MpkTraceLine line;

      mpk__trace_begin (&line, "proc.start", 0, 0);
      mpk__trace_add_str (&line, "name", mpk__trace_get_process_name ());
      mpk__trace_end (&line);
    }
  /* Only now may other threads write: the header must be the first line. */
  __atomic_store_n (&trace.fd_pid, pid, __ATOMIC_RELEASE);
}

/* Opens this process's file on its first event (a forked child's first
 * event is its proc.start, see mpk__trace_child_started()). */
static void
ensure_open (void)
{
  guint32 pid = mpk__wire_pid ();

  if (G_LIKELY (__atomic_load_n (&trace.fd_pid, __ATOMIC_ACQUIRE) == pid) || opening)
    return;
  g_mutex_lock (&trace.open_lock);
  if (trace.fd_pid != pid)
    {
      opening = TRUE;
      open_file (pid);
      opening = FALSE;
    }
  g_mutex_unlock (&trace.open_lock);
}

/* Events lost to a failed write are counted in the next line that works. */
static void
report_dropped (void)
{
  guint64 n = __atomic_exchange_n (&trace.dropped, 0, __ATOMIC_RELAXED);
  MpkTraceLine line;

  if (n == 0)
    return;
  mpk__trace_begin (&line, "trace.dropped", 0, 0);
  mpk__trace_add_int (&line, "n", (gint64) n);
  mpk__trace_add_str (&line, "why", "write failed");
  mpk__trace_end (&line);
}

/* The "th" of this thread's lines. An event's line is written after the
 * event (a reply's after its send), so another thread of this process can
 * write a later event's line first: the file is in order per thread, and
 * "lc", which every event takes from the process's one atomic clock at the
 * moment it happens, orders the threads (tools/mpk-trace/README.md). */
static guint32
thread_number (void)
{
  guint32 pid = mpk__wire_pid ();

  if (G_UNLIKELY (thread_pid != pid))
    {
      thread_no = __atomic_add_fetch (&trace.threads, 1, __ATOMIC_RELAXED);
      thread_pid = pid;
    }
  return thread_no;
}

void
mpk__trace_begin (MpkTraceLine *line, const char *ev, gint64 ts, guint64 lc)
{
  guint32 th;

  ensure_open ();
  if (G_UNLIKELY (__atomic_load_n (&trace.dropped, __ATOMIC_RELAXED) != 0)
      && strcmp (ev, "trace.dropped") != 0)
    report_dropped ();
  line->ts = ts != 0 ? ts : mpk__trace_now ();
  line->lc = lc != 0 ? lc : mpk__wire_clock_tick ();
  line->ev = ev;
  line->len = MPK__TRACE_PREFIX_MAX;
  /* The first thread's lines go without: a one-thread process's file reads
   * as it did before threads were told apart. */
  th = thread_number ();
  if (th > 1)
    mpk__trace_add_int (line, "th", th);
}

/* Writes the prefix into the gap before the fields, right-aligned, and
 * returns where the line starts. @ev is a literal of the library's. */
static char *
fill_prefix (MpkTraceLine *line, guint64 seq)
{
  char prefix[MPK__TRACE_PREFIX_MAX];
  int n;

  n = g_snprintf (prefix, sizeof prefix,
                  "{\"ts\":%" G_GINT64_FORMAT ",\"pid\":%u,\"seq\":%" G_GUINT64_FORMAT
                  ",\"lc\":%" G_GUINT64_FORMAT ",\"ev\":\"%s\"",
                  line->ts, mpk__wire_pid (), seq, line->lc, line->ev);
  n = MIN (n, (int) sizeof prefix - 1);
  memcpy (line->buf + MPK__TRACE_PREFIX_MAX - n, prefix, n);
  return line->buf + MPK__TRACE_PREFIX_MAX - n;
}

guint64
mpk__trace_end (MpkTraceLine *line)
{
  guint64 seq = 0;
  char *start;

  line_close (line);
  if (trace.fd < 0)
    return 0;
  g_mutex_lock (&trace.write_lock);
  start = fill_prefix (line, ++trace.seq);
  if (write_line (start, line->buf + line->len - start))
    seq = trace.seq;
  else
    trace.seq--;     /* seq counts the lines in the file: no gap for a lost one */
  g_mutex_unlock (&trace.write_lock);
  return seq;
}

guint64
mpk__trace_event_id (guint64 seq)
{
  return seq == 0 ? 0 : ((guint64) mpk__wire_pid () << 32) | (seq & G_MAXUINT32);
}

void
mpk__trace_add_after (MpkTraceLine *line,
                      guint64       event_id)
{
  char id[32];

  if (event_id == 0)
    return;
  g_snprintf (id, sizeof id, "%u.%u", (guint) (event_id >> 32), (guint) (event_id & G_MAXUINT32));
  mpk__trace_add_str (line, "after", id);
}

void
mpk__trace_add_order (MpkTraceLine *line,
                      guint64       ord)
{
  if (ord != 0)
    mpk__trace_add_int (line, "ord", (gint64) (ord & G_MAXINT64));
}

/* --- who is stuck ------------------------------------------------------------ */

/* The innermost call of this thread that named itself; a forked child
 * starts outside any (fork happens in mpk_process_start(), which names
 * none). A mask cleared for good between enter and leave leaves this
 * pointing at a finished frame, but nothing reads it once the mask is 0. */
static __thread MpkTraceWaiting *waiting_now;

void
mpk__trace_wait_enter (MpkTraceWaiting               *waiting,
                       const struct _MpkObjectHeader *object,
                       const char                    *call)
{
  waiting->object = object;
  waiting->call = call;
  waiting->child = 0;
  waiting->end = 0;
  waiting->recorded = FALSE;
  waiting->outer = waiting_now;
  waiting_now = waiting;
}

void
mpk__trace_wait_leave (MpkTraceWaiting *waiting)
{
  if (waiting_now == waiting)
    waiting_now = waiting->outer;
}

gboolean
mpk__trace_wait_pending (void)
{
  return mpk__trace_mask != 0 && waiting_now != NULL && !waiting_now->recorded;
}

void
mpk__trace_sleeping (void)
{
  MpkTraceWaiting *waiting;
  MpkTraceLine line;

  if (!mpk__trace_wait_pending ())
    return;
  waiting = waiting_now;
  waiting->recorded = TRUE;
  mpk__trace_begin (&line, "call.wait", 0, 0);
  if (waiting->object != NULL)
    mpk__trace_add_object (&line, waiting->object);
  if (waiting->end != 0)
    mpk__trace_add_int (&line, "end", waiting->end);
  if (waiting->child != 0)
    mpk__trace_add_int (&line, "child", waiting->child);
  mpk__trace_add_str (&line, "call", waiting->call);
  mpk__trace_end (&line);
}

/* --- process events ------------------------------------------------------------- */

/* The spawn's clock is taken before fork(), so the child, which starts from
 * a copy of this clock, stamps its start after the spawn. */
guint64
mpk__trace_reserve_clock (void)
{
  return mpk__wire_clock_tick ();
}

void
mpk__trace_spawned (pid_t child, const char *name, guint64 lc)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, "proc.spawn", 0, lc);
  mpk__trace_add_int (&line, "child", child);
  mpk__trace_add_str (&line, "name", name);
  mpk__trace_end (&line);
}

void
mpk__trace_child_started (void)
{
  ensure_open ();
}

/* A local event with one number: proc.exit's code, proc.join's child. */
static void
record_number (const char *ev, const char *key, gint64 value)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, ev, 0, 0);
  mpk__trace_add_int (&line, key, value);
  mpk__trace_end (&line);
}

void
mpk__trace_exiting (int code)
{
  record_number ("proc.exit", "code", code);
}

static const char *
signal_name (int signo)
{
  static const struct { int signo; const char *name; } names[] = {
    { SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
    { SIGILL, "SIGILL" }, { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" },
    { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" },
    { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" }, { SIGPIPE, "SIGPIPE" },
    { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGXCPU, "SIGXCPU" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].signo == signo)
      return names[i].name;
  return NULL;
}

/* The parent's view of a child's end, from waitpid(): the only record of a
 * child killed by a signal. @lost: someone else reaped it, status unknown. */
guint64
mpk__trace_signal (pid_t child, int sig)
{
  const char *name = signal_name (sig);
  g_autofree char *fallback = g_strdup_printf ("SIG%d", sig);
  MpkTraceLine line;

  mpk__trace_begin (&line, "proc.signal", 0, 0);
  mpk__trace_add_int (&line, "child", child);
  mpk__trace_add_str (&line, "sig", name != NULL ? name : fallback);
  return mpk__trace_event_id (mpk__trace_end (&line));
}

void
mpk__trace_reaped (pid_t child, int status, gboolean lost, guint64 after)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, "proc.reaped", 0, 0);
  mpk__trace_add_int (&line, "child", child);
  mpk__trace_add_after (&line, after);
  if (WIFSIGNALED (status))
    {
      const char *name = signal_name (WTERMSIG (status));
      g_autofree char *fallback = g_strdup_printf ("SIG%d", WTERMSIG (status));

      mpk__trace_add_str (&line, "status", "signal");
      mpk__trace_add_str (&line, "sig", name != NULL ? name : fallback);
      mpk__trace_add_int (&line, "signo", WTERMSIG (status));
    }
  else
    {
      mpk__trace_add_str (&line, "status", lost ? "lost" : "exited");
      mpk__trace_add_int (&line, "code", WEXITSTATUS (status));
    }
  mpk__trace_end (&line);
}

void
mpk__trace_joined (pid_t child)
{
  record_number ("proc.join", "child", child);
}

/* --- the public calls --------------------------------------------------------- */

/**
 * mpk_trace_is_enabled:
 *
 * Whether this process records trace events (`MPK_TRACE` was set to one or
 * more categories when the program started).
 *
 * Returns: %TRUE if tracing is on
 */
gboolean
mpk_trace_is_enabled (void)
{
  return mpk__trace_mask != 0;
}

/**
 * mpk_trace_get_dir:
 *
 * The folder the trace files go to (`MPK_TRACE_DIR`, or `./mpk-trace`).
 *
 * Returns: (transfer none) (nullable): an absolute path, or %NULL when
 *   tracing is off
 */
const char *
mpk_trace_get_dir (void)
{
  return mpk__trace_mask != 0 ? trace.dir : NULL;
}

/**
 * mpk_trace_mark:
 * @format: (transfer none): a printf()-style format for the note
 * @...: its arguments
 *
 * Records a note in this process's lane of the trace, drawn as a small box
 * in the diagram; what VizTracer's instant events and Erlang's
 * `seq_trace:print` are for. Does nothing when tracing is off.
 */
void
mpk_trace_mark (const char *format, ...)
{
  g_autofree char *text = NULL;
  MpkTraceLine line;
  va_list ap;

  g_return_if_fail (format != NULL);

  if (!MPK__TRACING (~0u))
    return;
  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  mpk__trace_begin (&line, "mark", 0, 0);
  mpk__trace_add_last_str (&line, "text", text);
  mpk__trace_end (&line);
}

/* Records a note @ev ("proc.exec", "proc.exec_end") with @text, and
 * "exec" naming @exec_id when it is not 0. Returns the line's event id. */
static guint64
record_exec_note (const char *ev,
                  guint64     exec_id,
                  const char *text)
{
  MpkTraceLine line;
  char id[32];

  mpk__trace_begin (&line, ev, 0, 0);
  if (exec_id != 0)
    {
      g_snprintf (id, sizeof id, "%u.%u", (guint) (exec_id >> 32),
                  (guint) (exec_id & G_MAXUINT32));
      mpk__trace_add_str (&line, "exec", id);
    }
  mpk__trace_add_last_str (&line, "text", text);
  return mpk__trace_event_id (mpk__trace_end (&line));
}

/**
 * mpk_trace_exec_begin:
 * @envp: (transfer full) (array zero-terminated=1) (nullable): the
 *   environment the program about to be started will get (g_get_environ()
 *   and additions); it is given back, changed, as the result
 * @exec_id: (out): where to store the id to give mpk_trace_exec_end();
 *   0 when tracing is off or the note could not be written
 * @format: (transfer none): a printf()-style format for the note
 *   ("runs lab --client")
 * @...: its arguments
 *
 * Call right before running another program without mpkit (g_spawn_sync(),
 * posix_spawn(), fork() and exec()), from the thread that runs it, and pass
 * the returned environment to that program. The note is recorded in this
 * process's lane (a "proc.exec" event, drawn like mpk_trace_mark()'s), and
 * the environment tells the new program's tracer which event started it:
 * `mpk-trace` then draws its lane from this note, whatever other threads of
 * this process record meanwhile. Without it, the tool can only link the
 * program by timestamps (tools/mpk-trace/README.md, "Programs started by
 * exec"). Does nothing to @envp when tracing is off.
 *
 * Returns: (transfer full): @envp with `MPK_TRACE_EXEC` set; free it with
 *   g_strfreev()
 */
char **
mpk_trace_exec_begin (char       **envp,
                      guint64     *exec_id,
                      const char  *format,
                      ...)
{
  g_autofree char *text = NULL;
  char id[32];
  va_list ap;

  g_return_val_if_fail (exec_id != NULL, envp);
  g_return_val_if_fail (format != NULL, envp);

  *exec_id = 0;
  if (!MPK__TRACING (~0u))
    return envp;
  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  *exec_id = record_exec_note ("proc.exec", 0, text);
  if (*exec_id == 0)
    return g_environ_unsetenv (envp, EXEC_VARIABLE);
  g_snprintf (id, sizeof id, "%u.%u", (guint) (*exec_id >> 32),
              (guint) (*exec_id & G_MAXUINT32));
  return g_environ_setenv (envp, EXEC_VARIABLE, id, TRUE);
}

/**
 * mpk_trace_exec_end:
 * @exec_id: what mpk_trace_exec_begin() stored, or 0
 * @format: (transfer none): a printf()-style format for the note
 *   ("client: exit 2")
 * @...: its arguments
 *
 * Call once this process knows that the program it started with
 * mpk_trace_exec_begin() has ended (g_spawn_sync() or waitpid() returned).
 * Records the note (a "proc.exec_end" event naming the begin's event), and
 * `mpk-trace` draws the program's end before it. Does nothing when @exec_id
 * is 0 (tracing was off).
 */
void
mpk_trace_exec_end (guint64     exec_id,
                    const char *format,
                    ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  g_return_if_fail (format != NULL);

  if (exec_id == 0 || !MPK__TRACING (~0u))
    return;
  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  record_exec_note ("proc.exec_end", exec_id, text);
}

/* --- start-up ----------------------------------------------------------------- */

static void
print_help (void)
{
  g_printerr ("MPK_TRACE: record what mpkit calls do, one trace file per process.\n"
              "  MPK_TRACE=all, or a comma-separated list of:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (trace_keys); i++)
    g_printerr ("    %-8s %s\n", trace_keys[i].key, trace_key_help[i]);
  g_printerr ("  MPK_TRACE_DIR=FOLDER  where the files go (default ./mpk-trace)\n"
              "  Then: mpk-trace dot FOLDER > run.dot (see tools/mpk-trace/README.md)\n");
}

/* Parses MPK_TRACE, naming the words it does not know (GLib ignores them). */
static guint
parse_categories (const char *spec)
{
  g_auto(GStrv) words = g_strsplit_set (spec, ":;, \t", -1);

  for (char **w = words; *w != NULL; w++)
    {
      gboolean known = **w == '\0' || g_ascii_strcasecmp (*w, "all") == 0;

      for (gsize i = 0; !known && i < G_N_ELEMENTS (trace_keys); i++)
        known = g_ascii_strcasecmp (*w, trace_keys[i].key) == 0;
      if (!known)
        g_printerr ("mpk: MPK_TRACE: unknown category '%s' ignored (MPK_TRACE=help lists them)\n", *w);
    }
  return g_parse_debug_string (spec, trace_keys, G_N_ELEMENTS (trace_keys));
}

static char *
read_boot_id (void)
{
  char *text = NULL;

  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text, NULL, NULL))
    return g_strdup ("unknown");
  return g_strstrip (text);
}

/* The folder, made absolute so that a child that changes directory still
 * writes beside its parent. FALSE if it cannot be created. */
static gboolean
choose_dir (gboolean announce)
{
  const char *dir = g_getenv ("MPK_TRACE_DIR");
  gboolean chosen = dir != NULL && *dir != '\0';

  trace.dir = g_canonicalize_filename (chosen ? dir : "mpk-trace", NULL);
  if (g_mkdir_with_parents (trace.dir, 0755) < 0)
    {
      g_printerr ("mpk: MPK_TRACE: cannot create %s: %s; tracing is off\n",
                  trace.dir, g_strerror (errno));
      return FALSE;
    }
  if (announce && !chosen)
    g_printerr ("mpk: tracing to %s (MPK_TRACE_DIR chooses the folder)\n", trace.dir);
  return TRUE;
}

static void
trace_after_fork_child (void)
{
  if (trace.fd >= 0)
    close (trace.fd);       /* the parent's file is the parent's */
  trace.fd = -1;
  trace.fd_pid = 0;
  opening = FALSE;
  /* A forked child is linked by its proc.spawn; the exec started its parent. */
  g_clear_pointer (&trace.exec, g_free);
  /* Another thread may have held these at the fork; it does not exist here. */
  g_mutex_init (&trace.open_lock);
  g_mutex_init (&trace.write_lock);
  trace.seq = 0;
  __atomic_store_n (&trace.objects, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&trace.threads, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&trace.dropped, 0, __ATOMIC_RELAXED);
}

/* Children of mpkit leave through _exit() and record their exit themselves;
 * this catches the main program's exit(), with its status. */
static void
trace_on_exit (int status, void *data)
{
  if (MPK__TRACING (MPK__TRACE_PROC) && trace.fd_pid == mpk__wire_pid ())
    mpk__trace_exiting (status & 0xff);     /* what the parent's waitpid() will see */
}

/* Runs before main(): the environment is read once, and a process that
 * never calls mpkit still gets its lane. */
__attribute__ ((constructor)) static void
trace_init (void)
{
  const char *spec = g_getenv ("MPK_TRACE");
  const char *run = g_getenv ("MPK_TRACE_RUN");
  guint mask;

  if (spec == NULL || *spec == '\0')
    return;
  if (g_ascii_strcasecmp (spec, "help") == 0)
    {
      print_help ();
      return;
    }
  mask = parse_categories (spec);
  if (mask == 0 || !choose_dir (run == NULL))
    return;
  trace.boot_id = read_boot_id ();
  /* The first traced process names the run; everything it starts, even
   * through exec, inherits the name and joins the same run. */
  trace.run_creator = run != NULL ? 0 : getpid ();
  trace.run = run != NULL ? g_strdup (run)
                          : g_strdup_printf ("%d-%" G_GINT64_FORMAT, (int) getpid (),
                                             mpk__trace_now ());
  g_setenv ("MPK_TRACE_RUN", trace.run, TRUE);
  /* Started by a traced program that recorded a proc.exec for us: our
   * header names it. Taken out so that what we run does not claim it. */
  trace.exec = g_strdup (g_getenv (EXEC_VARIABLE));
  if (trace.exec != NULL && !g_regex_match_simple ("^[1-9][0-9]{0,9}\\.[1-9][0-9]{0,17}$",
                                                   trace.exec, 0, 0))
    g_clear_pointer (&trace.exec, g_free);    /* not one of ours: ignored */
  g_unsetenv (EXEC_VARIABLE);
  pthread_atfork (NULL, NULL, trace_after_fork_child);
  on_exit (trace_on_exit, NULL);
  mpk__trace_mask = mask;
  ensure_open ();
}
