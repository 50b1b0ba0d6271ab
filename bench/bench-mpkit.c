/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-mpkit.c: the mpkit side of `make bench`.  The same workloads as
 * bench/bench_mp.py runs with Python's multiprocessing: Pipe round trip,
 * one-way streaming of 64 B and 1 MiB messages, Process start+join.
 *
 * Output: one line per measurement, '#' lines are comments:
 *   key <TAB> unit <TAB> v1,v2,...   (one value per trial)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpkit.h>

/* Round trips done before the clock starts: the first ones fault in
 * stacks, buffers and malloc arenas in both processes. */
#define WARM_ROUND_TRIPS 500

static int    opt_trials = 5;
static double opt_scale = 1.0;
static char  *opt_only = NULL;

/* The arguments of a child process.  Filled in by the parent before
 * mpk_process_start(); the child reads its fork()ed copy. */
typedef struct
{
  MpkConnection *conn;   /* the child's end */
  gint64         count;  /* messages to echo or to send */
  gsize          size;   /* payload bytes per message (streams) */
} ChildArgs;

static gint64
scaled (gint64 base)
{
  gint64 n = (gint64) (base * opt_scale);

  return MAX (n, 1);
}

static gboolean
wanted (const char *key)
{
  gchar **keys;
  gboolean found;

  if (opt_only == NULL || *opt_only == '\0')
    return TRUE;
  keys = g_strsplit (opt_only, ",", -1);
  found = g_strv_contains ((const gchar * const *) keys, key);
  g_strfreev (keys);
  return found;
}

static void
emit (const char   *key,
      const char   *unit,
      const double *values,
      int           n)
{
  int i;

  printf ("%s\t%s\t", key, unit);
  for (i = 0; i < n; i++)
    printf ("%s%.6g", i ? "," : "", values[i]);
  printf ("\n");
  fflush (stdout);
}

/* Benchmark code has no recovery path: any failure ends the run. */
static void
check_error (const char *what,
             GError     *error)
{
  if (error != NULL)
    {
      g_printerr ("bench-mpkit: %s: %s\n", what, error->message);
      exit (1);
    }
}

static void
new_pipe (MpkConnection **parent_end,
          MpkConnection **child_end)
{
  GError *error = NULL;

  if (!mpk_pipe_new (TRUE, parent_end, child_end, &error))
    check_error ("mpk_pipe_new", error);
}

static MpkProcess *
start_child (const char     *name,
             MpkProcessFunc  func,
             ChildArgs      *args)
{
  GError *error = NULL;
  MpkProcess *p;

  p = mpk_process_new (name, func, args, NULL);
  if (!mpk_process_start (p, &error))
    check_error ("mpk_process_start", error);
  return p;
}

static void
join_child (MpkProcess *p)
{
  int code;

  mpk_process_join (p, MPK_WAIT_FOREVER);
  code = mpk_process_get_exitcode (p);
  if (code != 0)
    {
      g_printerr ("bench-mpkit: child %s exited with %d\n",
                  mpk_process_get_name (p), code);
      exit (1);
    }
  mpk_process_unref (p);
}

static int
child_failed (const char *what,
              GError     *error)
{
  g_printerr ("bench-mpkit child: %s: %s\n", what,
              error ? error->message : "failed");
  g_clear_error (&error);
  return 1;
}

/* --- children ------------------------------------------------------------ */

/* Echo count GVariant messages back, as received. */
static int
echo_child (gpointer user_data)
{
  ChildArgs *args = user_data;
  GError *error = NULL;
  gint64 i;

  for (i = 0; i < args->count; i++)
    {
      GVariant *v = mpk_connection_recv (args->conn, MPK_WAIT_FOREVER, &error);
      gboolean ok;

      if (v == NULL)
        return child_failed ("recv", error);
      ok = mpk_connection_send (args->conn, v, MPK_WAIT_FOREVER, &error);
      g_variant_unref (v);
      if (!ok)
        return child_failed ("send", error);
    }
  return 0;
}

/* Echo count byte messages back. */
static int
echo_bytes_child (gpointer user_data)
{
  ChildArgs *args = user_data;
  GError *error = NULL;
  gint64 i;

  for (i = 0; i < args->count; i++)
    {
      GBytes *b = mpk_connection_recv_bytes (args->conn, -1, MPK_WAIT_FOREVER,
                                             &error);
      gsize len;
      gconstpointer data;
      gboolean ok;

      if (b == NULL)
        return child_failed ("recv_bytes", error);
      data = g_bytes_get_data (b, &len);
      ok = mpk_connection_send_bytes (args->conn, data, len, 0, len,
                                      MPK_WAIT_FOREVER, &error);
      g_bytes_unref (b);
      if (!ok)
        return child_failed ("send_bytes", error);
    }
  return 0;
}

/* The stream handshake: tell the parent we are running, then wait for its
 * "go", so the parent's clock covers the messages only, not the fork. */
static gboolean
stream_handshake (MpkConnection *conn,
                  GError       **error)
{
  GBytes *go;

  if (!mpk_connection_send_bytes (conn, "r", 1, 0, 1, MPK_WAIT_FOREVER, error))
    return FALSE;
  go = mpk_connection_recv_bytes (conn, -1, MPK_WAIT_FOREVER, error);
  if (go == NULL)
    return FALSE;
  g_bytes_unref (go);
  return TRUE;
}

/* Send count messages of size bytes with send_bytes. */
static int
stream_bytes_child (gpointer user_data)
{
  ChildArgs *args = user_data;
  GError *error = NULL;
  guint8 *buf = g_malloc (args->size);
  gint64 i;

  memset (buf, 'x', args->size);
  if (!stream_handshake (args->conn, &error))
    return child_failed ("handshake", error);
  for (i = 0; i < args->count; i++)
    if (!mpk_connection_send_bytes (args->conn, buf, args->size, 0, args->size,
                                    MPK_WAIT_FOREVER, &error))
      return child_failed ("send_bytes", error);
  g_free (buf);
  return 0;
}

/* Send count GVariant "ay" messages of size bytes with send.  Like Python's
 * send(), which pickles its bytes object on every call, each message is a
 * new value: a copy of the 64 bytes for small messages, and a zero-copy
 * g_variant_new_from_data() over the same buffer for large ones. */
static int
stream_variant_child (gpointer user_data)
{
  ChildArgs *args = user_data;
  GError *error = NULL;
  guint8 *buf = g_malloc (args->size);
  gint64 i;

  memset (buf, 'x', args->size);
  if (!stream_handshake (args->conn, &error))
    return child_failed ("handshake", error);
  for (i = 0; i < args->count; i++)
    {
      GVariant *v;
      gboolean ok;

      if (args->size <= 4096)
        v = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, buf, args->size, 1);
      else
        v = g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buf, args->size,
                                     TRUE, NULL, NULL);
      g_variant_ref_sink (v);
      ok = mpk_connection_send (args->conn, v, MPK_WAIT_FOREVER, &error);
      g_variant_unref (v);
      if (!ok)
        return child_failed ("send", error);
    }
  g_free (buf);
  return 0;
}

static int
noop_child (gpointer user_data)
{
  return 0;
}

/* --- 1. round trip ------------------------------------------------------- */

/* The parent sends, the child echoes, iters times (after a warm-up).
 * Returns the elapsed microseconds. */
static double
rtt_trial (gint64   iters,
           gboolean use_bytes)
{
  MpkConnection *conn, *child_end;
  ChildArgs args;
  MpkProcess *p;
  GError *error = NULL;
  guint8 msg64[64];
  gint64 i, t0 = 0, t1;

  memset (msg64, 'x', sizeof msg64);
  new_pipe (&conn, &child_end);
  args.conn = child_end;
  args.count = iters + WARM_ROUND_TRIPS;
  args.size = 0;
  p = start_child (use_bytes ? "bench-echo-bytes" : "bench-echo",
                   use_bytes ? echo_bytes_child : echo_child, &args);
  mpk_connection_free (child_end);

  for (i = 0; i < iters + WARM_ROUND_TRIPS; i++)
    {
      if (i == WARM_ROUND_TRIPS)
        t0 = g_get_monotonic_time ();
      if (use_bytes)
        {
          GBytes *b;

          if (!mpk_connection_send_bytes (conn, msg64, sizeof msg64, 0,
                                          sizeof msg64, MPK_WAIT_FOREVER,
                                          &error))
            check_error ("send_bytes", error);
          b = mpk_connection_recv_bytes (conn, -1, MPK_WAIT_FOREVER, &error);
          check_error ("recv_bytes", error);
          if (g_bytes_get_size (b) != sizeof msg64)
            g_error ("rtt: echoed %zu bytes", g_bytes_get_size (b));
          g_bytes_unref (b);
        }
      else
        {
          GVariant *v = g_variant_ref_sink (g_variant_new_int32 ((gint32) i));

          if (!mpk_connection_send (conn, v, MPK_WAIT_FOREVER, &error))
            check_error ("send", error);
          g_variant_unref (v);
          v = mpk_connection_recv (conn, MPK_WAIT_FOREVER, &error);
          check_error ("recv", error);
          if (g_variant_get_int32 (v) != (gint32) i)
            g_error ("rtt: sent %d, got %d", (gint32) i, g_variant_get_int32 (v));
          g_variant_unref (v);
        }
    }
  t1 = g_get_monotonic_time ();

  join_child (p);
  mpk_connection_free (conn);
  return (double) (t1 - t0);
}

/* --- 2, 3. one-way streams ---------------------------------------------- */

typedef enum
{
  RECV_BYTES,     /* mpk_connection_recv_bytes: a new GBytes per message */
  RECV_VARIANT,   /* mpk_connection_recv: a new GVariant per message */
} RecvKind;

/* The child streams count messages of size bytes; the parent receives them.
 * Returns the elapsed microseconds, from the "go" to the last message. */
static double
stream_trial (gint64   count,
              gsize    size,
              RecvKind kind)
{
  MpkConnection *conn, *child_end;
  ChildArgs args;
  MpkProcess *p;
  GError *error = NULL;
  GBytes *ready;
  gint64 i, t0, t1;

  new_pipe (&conn, &child_end);
  args.conn = child_end;
  args.count = count;
  args.size = size;
  p = start_child ("bench-stream",
                   kind == RECV_BYTES ? stream_bytes_child : stream_variant_child,
                   &args);
  mpk_connection_free (child_end);

  ready = mpk_connection_recv_bytes (conn, -1, MPK_WAIT_FOREVER, &error);
  check_error ("recv_bytes (ready)", error);
  g_bytes_unref (ready);

  t0 = g_get_monotonic_time ();
  if (!mpk_connection_send_bytes (conn, "g", 1, 0, 1, MPK_WAIT_FOREVER, &error))
    check_error ("send_bytes (go)", error);
  for (i = 0; i < count; i++)
    {
      if (kind == RECV_BYTES)
        {
          GBytes *b = mpk_connection_recv_bytes (conn, -1, MPK_WAIT_FOREVER,
                                                 &error);

          check_error ("recv_bytes", error);
          if (G_UNLIKELY (g_bytes_get_size (b) != size))
            g_error ("stream: got %zu bytes, want %zu", g_bytes_get_size (b), size);
          g_bytes_unref (b);
        }
      else
        {
          GVariant *v = mpk_connection_recv (conn, MPK_WAIT_FOREVER, &error);

          check_error ("recv", error);
          if (G_UNLIKELY (g_variant_get_size (v) != size))
            g_error ("stream: got a %zu-byte value, want %zu",
                     g_variant_get_size (v), size);
          g_variant_unref (v);
        }
    }
  t1 = g_get_monotonic_time ();

  join_child (p);
  mpk_connection_free (conn);
  return (double) (t1 - t0);
}

/* --- 4. process start + join --------------------------------------------- */

/* count start+joins of a child that returns 0 at once.  Returns the
 * elapsed microseconds. */
static double
spawn_trial (gint64 count)
{
  gint64 i, t0, t1;

  join_child (start_child ("bench-noop", noop_child, NULL));  /* warm-up */
  t0 = g_get_monotonic_time ();
  for (i = 0; i < count; i++)
    join_child (start_child ("bench-noop", noop_child, NULL));
  t1 = g_get_monotonic_time ();
  return (double) (t1 - t0);
}

/* The floor under any fork-based start+join: a bare fork, _exit and waitpid,
 * no library at all.  Python's start+join time over this figure is the best
 * ratio a library that forks can reach on this machine, in this run. */
static double
spawn_raw_trial (gint64 count)
{
  gint64 i, t0, t1;

  t0 = g_get_monotonic_time ();
  for (i = 0; i < count; i++)
    {
      int status;
      pid_t pid = fork ();

      if (pid == 0)
        _exit (0);
      if (pid < 0 || waitpid (pid, &status, 0) != pid)
        g_error ("bench-mpkit: fork/waitpid failed: %s", g_strerror (errno));
    }
  t1 = g_get_monotonic_time ();
  return (double) (t1 - t0);
}

/* --- driver -------------------------------------------------------------- */

/* rtt_1cpu: pin this process, and so the child it forks, to one CPU.  The
 * round trip then pays no cross-CPU wake-up, which on this VM is the
 * noisiest part of an unpinned round trip (it depends on vCPU placement). */
static void
pin_to_cpu (int cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  if (cpu >= 0)
    CPU_SET (cpu, &set);
  else
    {
      long n = sysconf (_SC_NPROCESSORS_ONLN);
      long i;

      for (i = 0; i < n && i < CPU_SETSIZE; i++)
        CPU_SET (i, &set);
    }
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    g_printerr ("bench-mpkit: sched_setaffinity failed; results are unpinned\n");
}

typedef enum
{
  W_RTT,
  W_STREAM,
  W_SPAWN,
  W_SPAWN_RAW,
} WorkloadKind;

typedef struct
{
  const char   *key;
  const char   *unit;       /* us/rt, msg/s, MB/s or ms/proc */
  WorkloadKind  kind;
  gboolean      use_bytes;  /* W_RTT: send_bytes instead of send */
  gboolean      one_cpu;    /* W_RTT: both processes on one CPU */
  RecvKind      recv;       /* W_STREAM */
  gsize         size;       /* W_STREAM: payload bytes */
  gint64        max_count;  /* items per trial at --scale 1, at most */
} Workload;

/* Iteration counts: at most max_count, fewer if a probe says a trial would
 * take longer than this.  Keeps `make bench` short even when a path is slow. */
#define TRIAL_TARGET_US 400000.0

static const Workload workloads[] = {
  { "rtt",       "us/rt",   W_RTT,    FALSE, FALSE, 0, 0, 10000 },
  { "rtt_1cpu",  "us/rt",   W_RTT,    FALSE, TRUE,  0, 0, 10000 },
  { "rtt_bytes", "us/rt",   W_RTT,    TRUE,  FALSE, 0, 0, 10000 },
  { "stream64",  "msg/s",   W_STREAM, FALSE, FALSE, RECV_BYTES,   64, 150000 },
  { "stream64v", "msg/s",   W_STREAM, FALSE, FALSE, RECV_VARIANT, 64, 150000 },
  { "stream1m",  "MB/s",    W_STREAM, FALSE, FALSE, RECV_BYTES,   1 << 20, 3000 },
  { "stream1mv", "MB/s",    W_STREAM, FALSE, FALSE, RECV_VARIANT, 1 << 20, 3000 },
  { "spawn",     "ms/proc", W_SPAWN,  FALSE, FALSE, 0, 0, 300 },
  { "spawn_raw", "ms/proc", W_SPAWN_RAW, FALSE, FALSE, 0, 0, 300 },
};

/* Runs one trial of count items; returns the elapsed microseconds. */
static double
run_trial (const Workload *w,
           gint64          count)
{
  switch (w->kind)
    {
    case W_RTT:
      return rtt_trial (count, w->use_bytes);
    case W_STREAM:
      return stream_trial (count, w->size, w->recv);
    case W_SPAWN_RAW:
      return spawn_raw_trial (count);
    case W_SPAWN:
    default:
      return spawn_trial (count);
    }
}

/* The figure reported for count items in elapsed_us, in w->unit. */
static double
figure (const Workload *w,
        gint64          count,
        double          elapsed_us)
{
  switch (w->kind)
    {
    case W_RTT:
      return elapsed_us / count;
    case W_STREAM:
      if (w->size >= 4096)
        return count * (double) w->size / elapsed_us;  /* bytes/us = MB/s */
      return count / (elapsed_us / 1e6);
    case W_SPAWN:
    default:
      return elapsed_us / 1e3 / count;
    }
}

static void
run_workload (const Workload *w)
{
  double *v = g_new (double, opt_trials);
  gint64 probe, count;
  double per_item;
  int t;

  if (w->one_cpu)
    pin_to_cpu (0);
  /* Two probes of 1% of the cap, not reported; the faster one counts, as
   * the first also pays for warming up (page faults, lazy binding). */
  probe = MAX (w->max_count / 100, 2);
  per_item = run_trial (w, probe) / probe;
  per_item = MIN (per_item, run_trial (w, probe) / probe);
  count = (gint64) MIN ((double) w->max_count, TRIAL_TARGET_US / MAX (per_item, 1e-3));
  count = scaled (MAX (count, 2));
  printf ("# %s: %" G_GINT64_FORMAT " per trial (probe: %.3g us each)\n",
          w->key, count, per_item);
  for (t = 0; t < opt_trials; t++)
    v[t] = figure (w, count, run_trial (w, count));
  if (w->one_cpu)
    pin_to_cpu (-1);
  emit (w->key, w->unit, v, opt_trials);
  g_free (v);
}

int
main (int   argc,
      char *argv[])
{
  GOptionEntry entries[] = {
    { "trials", 't', 0, G_OPTION_ARG_INT, &opt_trials,
      "Trials per measurement (default 5)", "N" },
    { "scale", 's', 0, G_OPTION_ARG_DOUBLE, &opt_scale,
      "Multiply every iteration count by F (default 1)", "F" },
    { "only", 'o', 0, G_OPTION_ARG_STRING, &opt_only,
      "Comma-separated workloads: rtt,rtt_1cpu,rtt_bytes,stream64,stream64v,"
      "stream1m,stream1mv,spawn", "KEYS" },
    { NULL }
  };
  GOptionContext *ctx;
  GError *error = NULL;
  guint i;

  ctx = g_option_context_new ("- mpkit IPC benchmarks");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("bench-mpkit: %s\n", error->message);
      return 2;
    }
  g_option_context_free (ctx);
  opt_trials = MAX (opt_trials, 1);
  if (opt_scale <= 0)
    opt_scale = 1.0;

  printf ("# bench-mpkit %d.%d.%d trials=%d scale=%g\n", MPK_MAJOR_VERSION,
          MPK_MINOR_VERSION, MPK_MICRO_VERSION, opt_trials, opt_scale);
  fflush (stdout);

  for (i = 0; i < G_N_ELEMENTS (workloads); i++)
    if (wanted (workloads[i].key))
      run_workload (&workloads[i]);

  g_free (opt_only);
  return 0;
}
