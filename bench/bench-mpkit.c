/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-mpkit.c: the mpkit side of `make bench`.  The same workloads as
 * bench/bench_mp.py runs with Python's multiprocessing: Pipe round trip,
 * one-way streaming of 64 B and 1 MiB messages, Process start+join,
 * Queue / SimpleQueue / JoinableQueue throughput (P producers -> C
 * consumers), a shared counter under a Lock, a Value('i') incremented
 * with mpk_value_add, element-wise access to an 8 MiB Array('d') (a lock
 * per item, and the lock taken once), and Manager list / dict calls from
 * a client process.
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpkit.h>

/* Round trips done before the clock starts: the first ones fault in
 * stacks, buffers and malloc arenas in both processes. */
#define WARM_ROUND_TRIPS 500

static int    opt_trials = 5;
static double opt_scale = 1.0;
static char  *opt_only = NULL;
static gint64 opt_count = 0;   /* > 0: items per trial, no probes (profiling) */

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
             gpointer        args)
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

/* --- 5. queues: P producers -> C consumers ------------------------------- */

/* The workloads of the perf anchors (research/perf-anchors.md, rows 3 and 4;
 * anchor-bench/raw_limits.c queue_trial/counter_trial and py_mp_bench.py):
 * every trial forks its processes, each says "ready" and waits at a gate;
 * the parent starts the clock and opens the gate; the clock stops when the
 * last consumer has its last item (each consumer records the time in shared
 * memory), or, for a JoinableQueue, when join() returns in the parent after
 * every producer is done.  Figure: total items / that time. */

typedef enum
{
  QK_QUEUE,      /* MpkQueue (mp.Queue) */
  QK_SIMPLE,     /* MpkSimpleQueue (mp.SimpleQueue) */
  QK_JOINABLE,   /* MpkQueue from mpk_joinable_queue_new, task_done per item */
} QueueKind;

typedef enum
{
  ITEM_BYTES,    /* put_bytes / get_bytes: a new GBytes per item */
  ITEM_VARIANT,  /* put of a new "ay" GVariant / get of a GVariant */
} ItemKind;

#define MAX_GROUP 8

/* Watchdog: the calls under test block with MPK_WAIT_FOREVER, as Python's
 * do, so a lost wake-up in the library would hang `make bench`.  Each group
 * trial arms alarm() in the parent and in every child (alarms are not
 * inherited across fork): SIGALRM kills the hung process, the parent then
 * reports the child's exit status (or the shell reports "Alarm clock"). */
#define GROUP_WATCHDOG_S 120

/* In MAP_SHARED memory: what the children report back. */
typedef struct
{
  gint64 tend[MAX_GROUP];  /* monotonic us when worker i did its last item */
  gint64 counter;          /* lockcnt: incremented under the lock */
  gint64 read_us;          /* arrayew: the reader's element-wise read time */
  double read_sum;         /* arrayew: the sum of what it read */
  gint64 bad_items;        /* items of the wrong size seen by consumers */
} GroupShared;

/* The arguments of a queue or counter worker (the child reads its copy). */
typedef struct
{
  MpkQueue       *queue;
  MpkSimpleQueue *squeue;
  MpkLock        *lock;
  MpkValue       *value;     /* valinc: mpk_value_add instead of lock/++/unlock */
  MpkArray       *array;     /* arrayew */
  gboolean        lock_once; /* arrayew_idiom: one lock, a loop over the memory */
  MpkListProxy   *list;      /* mgr_list_append: the Manager list */
  MpkDictProxy   *dict;      /* mgr_dict_getset: the Manager dict */
  MpkSemaphore   *done;      /* QK_JOINABLE: each producer releases it once */
  GroupShared    *shared;
  int             ready_fd;  /* write end: one byte when at the gate */
  int             gate_rd;   /* read end of the gate: EOF = go */
  int             gate_wr;   /* the gate's write end, closed by the child */
  int             index;     /* consumer or counter worker index; mgr_*: the ManagerJob */
  gint64          count;     /* items to put or get, increments to do */
  gsize           size;      /* item bytes */
  ItemKind        item;
  QueueKind       qkind;
} GroupArgs;

static gboolean
write_byte (int fd)
{
  ssize_t r;

  do
    r = write (fd, "r", 1);
  while (r < 0 && errno == EINTR);
  return r == 1;
}

/* Child side of the start gate: say "ready", then block until the parent
 * closes its write end (read() returns 0 once every copy is closed). */
static void
gate_wait (GroupArgs *a)
{
  char c;

  alarm (GROUP_WATCHDOG_S);
  if (!write_byte (a->ready_fd))
    g_error ("bench-mpkit child: ready: %s", g_strerror (errno));
  close (a->gate_wr);
  while (read (a->gate_rd, &c, 1) < 0 && errno == EINTR)
    ;
  close (a->gate_rd);
}

static int
queue_producer_child (gpointer user_data)
{
  GroupArgs *a = user_data;
  GError *error = NULL;
  guint8 *buf = g_malloc (a->size);
  gint64 i;

  memset (buf, 'x', a->size);
  gate_wait (a);
  for (i = 0; i < a->count; i++)
    {
      gboolean ok;

      if (a->item == ITEM_VARIANT)
        {
          /* A new value per item, as Python pickles each put() anew. */
          GVariant *v;

          if (a->size <= 4096)
            v = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, buf, a->size, 1);
          else
            v = g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buf, a->size,
                                         TRUE, NULL, NULL);
          g_variant_ref_sink (v);
          if (a->qkind == QK_SIMPLE)
            ok = mpk_simple_queue_put (a->squeue, v, MPK_WAIT_FOREVER, &error);
          else
            ok = mpk_queue_put (a->queue, v, MPK_WAIT_FOREVER, &error);
          g_variant_unref (v);
        }
      else if (a->qkind == QK_SIMPLE)
        ok = mpk_simple_queue_put_bytes (a->squeue, buf, a->size,
                                         MPK_WAIT_FOREVER, &error);
      else
        ok = mpk_queue_put_bytes (a->queue, buf, a->size, MPK_WAIT_FOREVER,
                                  &error);
      if (!ok)
        return child_failed ("queue put", error);
    }
  if (a->qkind == QK_JOINABLE && !mpk_semaphore_release (a->done, &error))
    return child_failed ("semaphore release", error);
  g_free (buf);
  return 0;
}

static int
queue_consumer_child (gpointer user_data)
{
  GroupArgs *a = user_data;
  GError *error = NULL;
  gint64 i, bad = 0;

  gate_wait (a);
  for (i = 0; i < a->count; i++)
    {
      gsize got;

      if (a->item == ITEM_VARIANT)
        {
          GVariant *v = a->qkind == QK_SIMPLE
            ? mpk_simple_queue_get (a->squeue, MPK_WAIT_FOREVER, &error)
            : mpk_queue_get (a->queue, MPK_WAIT_FOREVER, &error);

          if (v == NULL)
            return child_failed ("queue get", error);
          got = g_variant_get_size (v);
          g_variant_unref (v);
        }
      else
        {
          GBytes *b = a->qkind == QK_SIMPLE
            ? mpk_simple_queue_get_bytes (a->squeue, MPK_WAIT_FOREVER, &error)
            : mpk_queue_get_bytes (a->queue, MPK_WAIT_FOREVER, &error);

          if (b == NULL)
            return child_failed ("queue get_bytes", error);
          got = g_bytes_get_size (b);
          g_bytes_unref (b);
        }
      if (G_UNLIKELY (got != a->size))
        bad++;
      if (a->qkind == QK_JOINABLE && !mpk_queue_task_done (a->queue, &error))
        return child_failed ("task_done", error);
    }
  a->shared->tend[a->index] = g_get_monotonic_time ();
  __atomic_add_fetch (&a->shared->bad_items, bad, __ATOMIC_SEQ_CST);
  return 0;
}

static int
counter_child (gpointer user_data)
{
  GroupArgs *a = user_data;
  GError *error = NULL;
  gint64 i;

  gate_wait (a);
  if (a->value != NULL)
    {
      for (i = 0; i < a->count; i++)
        mpk_value_add (a->value, 1);   /* the lock is taken inside */
      a->shared->tend[a->index] = g_get_monotonic_time ();
      return 0;
    }
  for (i = 0; i < a->count; i++)
    {
      if (!mpk_lock_acquire (a->lock, MPK_WAIT_FOREVER, &error))
        return child_failed ("lock acquire", error);
      a->shared->counter++;
      if (!mpk_lock_release (a->lock, &error))
        return child_failed ("lock release", error);
    }
  a->shared->tend[a->index] = g_get_monotonic_time ();
  return 0;
}

/* Forks the workers of one trial (n_producers running producer, then
 * n_consumers running consumer; consumer may be NULL), waits until all are
 * at the gate, opens it and returns the time it did so. */
static gint64
group_start (GroupArgs      *base,
             int             n_producers,
             MpkProcessFunc  producer,
             gint64          per_producer,
             int             n_consumers,
             MpkProcessFunc  consumer,
             gint64          per_consumer,
             MpkProcess    **procs)
{
  GroupArgs args[2 * MAX_GROUP];
  int ready[2], gate[2];
  int i, n = n_producers + n_consumers;
  gint64 t0;

  g_assert (n <= 2 * MAX_GROUP && n_consumers <= MAX_GROUP);
  alarm (GROUP_WATCHDOG_S);   /* cancelled by the trial when it is done */
  if (pipe (ready) != 0 || pipe (gate) != 0)
    g_error ("bench-mpkit: pipe: %s", g_strerror (errno));
  for (i = 0; i < n; i++)
    {
      gboolean is_producer = i < n_producers;

      args[i] = *base;
      args[i].ready_fd = ready[1];
      args[i].gate_rd = gate[0];
      args[i].gate_wr = gate[1];
      args[i].index = is_producer ? i : i - n_producers;
      args[i].count = is_producer ? per_producer : per_consumer;
      procs[i] = start_child (is_producer ? "bench-producer" : "bench-consumer",
                              is_producer ? producer : consumer,
                              &args[i]);
    }
  close (ready[1]);
  close (gate[0]);
  for (i = 0; i < n; i++)
    {
      char c;
      ssize_t r = read (ready[0], &c, 1);

      if (r < 0 && errno == EINTR)
        i--;
      else if (r != 1)
        g_error ("bench-mpkit: a worker died before the gate");
    }
  close (ready[0]);
  t0 = g_get_monotonic_time ();
  close (gate[1]);   /* go */
  return t0;
}

static GroupShared *
shared_new (void)
{
  GroupShared *s = mmap (NULL, sizeof *s, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  if (s == MAP_FAILED)
    g_error ("bench-mpkit: mmap: %s", g_strerror (errno));
  memset (s, 0, sizeof *s);
  return s;
}

/* total items from n_producers to n_consumers (total divisible by both).
 * Returns the elapsed microseconds, gate to last item (or to join()). */
static double
queue_trial (gint64    total,
             gsize     size,
             QueueKind qkind,
             ItemKind  item,
             int       n_producers,
             int       n_consumers)
{
  MpkProcess *procs[2 * MAX_GROUP];
  GroupArgs base = { 0 };
  GError *error = NULL;
  gint64 t0, t1 = 0;
  int i;

  base.shared = shared_new ();
  base.size = size;
  base.item = item;
  base.qkind = qkind;
  switch (qkind)
    {
    case QK_SIMPLE:
      base.squeue = mpk_simple_queue_new (&error);
      check_error ("mpk_simple_queue_new", error);
      break;
    case QK_JOINABLE:
      base.queue = mpk_joinable_queue_new (0, &error);
      check_error ("mpk_joinable_queue_new", error);
      base.done = mpk_semaphore_new (0, &error);
      check_error ("mpk_semaphore_new", error);
      break;
    case QK_QUEUE:
    default:
      base.queue = mpk_queue_new (0, &error);
      check_error ("mpk_queue_new", error);
      break;
    }

  t0 = group_start (&base, n_producers, queue_producer_child, total / n_producers,
                    n_consumers, queue_consumer_child, total / n_consumers, procs);
  if (qkind == QK_JOINABLE)
    {
      /* Like the anchor: wait for every producer, then join(). */
      for (i = 0; i < n_producers; i++)
        if (!mpk_semaphore_acquire (base.done, MPK_WAIT_FOREVER, &error))
          check_error ("mpk_semaphore_acquire", error);
      if (!mpk_queue_join (base.queue, MPK_WAIT_FOREVER, &error))
        check_error ("mpk_queue_join", error);
      t1 = g_get_monotonic_time ();
    }
  for (i = 0; i < n_producers + n_consumers; i++)
    join_child (procs[i]);
  if (qkind != QK_JOINABLE)
    for (i = 0; i < n_consumers; i++)
      t1 = MAX (t1, base.shared->tend[i]);
  if (base.shared->bad_items != 0)
    g_error ("bench-mpkit: %" G_GINT64_FORMAT " items of the wrong size",
             base.shared->bad_items);

  if (base.squeue != NULL)
    mpk_simple_queue_free (base.squeue);
  if (base.queue != NULL)
    mpk_queue_free (base.queue);
  if (base.done != NULL)
    mpk_semaphore_free (base.done);
  munmap (base.shared, sizeof *base.shared);
  alarm (0);
  return (double) MAX (t1 - t0, 1);
}

/* --- 6. shared counter under a Lock ------------------------------------- */

/* total increments of a counter in shared memory, split over n_procs
 * processes, each doing acquire, ++, release.  Returns the elapsed
 * microseconds from the gate to the last worker done. */
static double
counter_trial (gint64   total,
               int      n_procs,
               gboolean use_value)
{
  MpkProcess *procs[MAX_GROUP];
  GroupArgs base = { 0 };
  GError *error = NULL;
  gint64 t0, t1 = 0;
  int i;

  base.shared = shared_new ();
  if (use_value)
    {
      /* valinc: Value('i') with its own (recursive) lock. */
      base.value = mpk_value_new ('i', &error);
      check_error ("mpk_value_new", error);
    }
  else
    {
      base.lock = mpk_lock_new (&error);
      check_error ("mpk_lock_new", error);
    }
  t0 = group_start (&base, 0, NULL, 0, n_procs, counter_child, total / n_procs, procs);
  for (i = 0; i < n_procs; i++)
    join_child (procs[i]);
  for (i = 0; i < n_procs; i++)
    t1 = MAX (t1, base.shared->tend[i]);
  if (use_value)
    base.shared->counter = mpk_value_get_int (base.value);
  if (base.shared->counter != total / n_procs * n_procs)
    g_error ("bench-mpkit: counter is %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
             base.shared->counter, total / n_procs * n_procs);
  if (base.lock != NULL)
    mpk_lock_free (base.lock);
  if (base.value != NULL)
    mpk_value_free (base.value);
  munmap (base.shared, sizeof *base.shared);
  alarm (0);
  return (double) MAX (t1 - t0, 1);
}

/* --- 7. Array('d') of 8 MiB, element-wise --------------------------------- */

/* The perf anchors' row 5 (anchor-bench/py_mp_bench.py bench_array, mode
 * "elem"): an Array('d') of 1 Mi doubles (8 MiB); the parent writes items
 * 0..count-1 one at a time (arr[i] = 2.5), then a second process, which
 * has already faulted the whole array in with an untimed copy, reads them
 * one at a time (s += arr[i]).  Each call takes the array's lock, as
 * Python's synchronized wrapper does per item.  The parent times the
 * writes, the reader times the reads. */

#define ARRAY_ITEMS (1 << 20)

static double array_last_write_us, array_last_read_us;

static int
array_reader_child (gpointer user_data)
{
  GroupArgs *a = user_data;
  gsize bytes = mpk_array_get_length (a->array) * mpk_array_get_item_size (a->array);
  guint8 *dst = g_malloc (bytes);
  double s = 0.0;
  gint64 i, t0;

  /* Fault the shared pages into this process, untimed (the anchor's
   * dst[:] = mv). */
  memcpy (dst, mpk_array_get_pointer (a->array), bytes);
  gate_wait (a);   /* "ready"; the gate opens once the parent has written */
  t0 = g_get_monotonic_time ();
  if (a->lock_once)
    {
      /* The C way: hold the lock over the whole job, read the memory. */
      MpkLock *lock = mpk_array_get_lock (a->array);
      const double *items = mpk_array_get_pointer (a->array);
      GError *error = NULL;

      if (!mpk_lock_acquire (lock, MPK_WAIT_FOREVER, &error))
        return child_failed ("lock acquire", error);
      for (i = 0; i < a->count; i++)
        s += items[i];
      if (!mpk_lock_release (lock, &error))
        return child_failed ("lock release", error);
    }
  else
    for (i = 0; i < a->count; i++)
      s += mpk_array_get_double (a->array, i);
  a->shared->read_us = g_get_monotonic_time () - t0;
  a->shared->read_sum = s;
  g_free (dst);
  return 0;
}

/* count items written then read; returns write + read microseconds and
 * leaves each half in array_last_write_us / array_last_read_us.  With
 * @lock_once (arrayew_idiom), each side takes the array's lock once and
 * loops over mpk_array_get_pointer(), as C code does the job. */
static double
array_trial (gint64   count,
             gboolean lock_once)
{
  GroupArgs a = { 0 };
  GError *error = NULL;
  MpkProcess *p;
  int ready[2], gate[2];
  gint64 i, t0, t1;
  char c;
  ssize_t r;

  count = MIN (count, ARRAY_ITEMS);
  alarm (GROUP_WATCHDOG_S);
  a.shared = shared_new ();
  a.array = mpk_array_new ('d', ARRAY_ITEMS, &error);
  check_error ("mpk_array_new", error);
  /* Python's Array() zeroes its memory with memset when it makes it, so
   * the parent's pages are already touched when it writes: do the same. */
  memset (mpk_array_get_pointer (a.array), 0, (gsize) ARRAY_ITEMS * sizeof (double));
  if (pipe (ready) != 0 || pipe (gate) != 0)
    g_error ("bench-mpkit: pipe: %s", g_strerror (errno));
  a.ready_fd = ready[1];
  a.gate_rd = gate[0];
  a.gate_wr = gate[1];
  a.count = count;
  a.lock_once = lock_once;
  p = start_child ("bench-array-reader", array_reader_child, &a);
  close (ready[1]);
  close (gate[0]);
  do
    r = read (ready[0], &c, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1)
    g_error ("bench-mpkit: the array reader died before the gate");
  close (ready[0]);

  t0 = g_get_monotonic_time ();
  if (lock_once)
    {
      MpkLock *lock = mpk_array_get_lock (a.array);
      double *items = mpk_array_get_pointer (a.array);

      if (!mpk_lock_acquire (lock, MPK_WAIT_FOREVER, &error))
        check_error ("mpk_lock_acquire", error);
      for (i = 0; i < count; i++)
        items[i] = 2.5;
      if (!mpk_lock_release (lock, &error))
        check_error ("mpk_lock_release", error);
    }
  else
    for (i = 0; i < count; i++)
      mpk_array_set_double (a.array, i, 2.5, NULL);   /* the lock per item */
  t1 = g_get_monotonic_time ();
  close (gate[1]);   /* go: the reader reads */
  join_child (p);

  if (a.shared->read_sum != 2.5 * count)
    g_error ("bench-mpkit: array reader summed %g, want %g",
             a.shared->read_sum, 2.5 * count);
  array_last_write_us = (double) MAX (t1 - t0, 1);
  array_last_read_us = (double) MAX (a.shared->read_us, 1);
  mpk_array_free (a.array);
  munmap (a.shared, sizeof *a.shared);
  alarm (0);
  return array_last_write_us + array_last_read_us;
}

/* --- 8. Manager proxies, called from a client process ------------------------ */

/* A Manager (its server is a process of its own) holds a list or a dict; a
 * forked child, which inherited the proxy (as a Python Process is handed
 * one), makes count calls on it: list appends of small ints, or dict
 * set/get pairs of small int keys.  The child opens its connection and
 * warms up with MGR_WARM_CALLS len() calls before the gate, and times its
 * own loop.  Each trial starts a new manager and shuts it down (untimed). */

#define MGR_WARM_CALLS 100
#define MGR_DICT_KEYS  100   /* keys 0..99: d[i % 100] = i, then d[i % 100] */

typedef enum
{
  MGR_LIST_APPEND,
  MGR_DICT_GETSET,
} ManagerJob;

static int
manager_client_child (gpointer user_data)
{
  GroupArgs *a = user_data;
  ManagerJob job = (ManagerJob) a->index;
  GError *error = NULL;
  gint64 i, t0;

  for (i = 0; i < MGR_WARM_CALLS; i++)
    if ((job == MGR_LIST_APPEND ? mpk_list_proxy_len (a->list, &error)
                                : mpk_dict_proxy_len (a->dict, &error)) < 0
        || error != NULL)
      return child_failed ("len", error);
  gate_wait (a);
  t0 = g_get_monotonic_time ();
  for (i = 0; i < a->count; i++)
    {
      GVariant *v = g_variant_ref_sink (g_variant_new_int32 ((gint32) i));
      gboolean ok;

      if (job == MGR_LIST_APPEND)
        ok = mpk_list_proxy_append (a->list, v, &error);
      else
        {
          GVariant *key = g_variant_ref_sink (g_variant_new_int32 ((gint32) (i % MGR_DICT_KEYS)));
          GVariant *got = NULL;

          ok = mpk_dict_proxy_set (a->dict, key, v, &error)
               && (got = mpk_dict_proxy_get (a->dict, key, &error)) != NULL;
          if (ok && g_variant_get_int32 (got) != (gint32) i)
            g_error ("bench-mpkit child: dict gave %d, want %d",
                     g_variant_get_int32 (got), (gint32) i);
          if (got != NULL)
            g_variant_unref (got);
          g_variant_unref (key);
        }
      g_variant_unref (v);
      if (!ok)
        return child_failed (job == MGR_LIST_APPEND ? "list append" : "dict set/get", error);
    }
  a->shared->read_us = g_get_monotonic_time () - t0;
  return 0;
}

/* count calls' worth of @job (a dict item is a set and a get: count / 2
 * items).  Returns the child's loop time in microseconds. */
static double
manager_trial (gint64     count,
               ManagerJob job)
{
  GroupArgs a = { 0 };
  GError *error = NULL;
  MpkManager *manager;
  MpkProcess *p;
  int ready[2], gate[2];
  gint64 n, loop_us;
  char c;
  ssize_t r;

  alarm (GROUP_WATCHDOG_S);
  a.shared = shared_new ();
  manager = mpk_manager_new_started (&error);
  check_error ("mpk_manager_new_started", error);
  if (job == MGR_LIST_APPEND)
    a.list = mpk_manager_list (manager, NULL, &error);
  else
    a.dict = mpk_manager_dict (manager, NULL, &error);
  check_error ("mpk_manager_list/dict", error);
  if (pipe (ready) != 0 || pipe (gate) != 0)
    g_error ("bench-mpkit: pipe: %s", g_strerror (errno));
  a.ready_fd = ready[1];
  a.gate_rd = gate[0];
  a.gate_wr = gate[1];
  a.index = job;
  a.count = job == MGR_LIST_APPEND ? count : count / 2;
  p = start_child ("bench-manager-client", manager_client_child, &a);
  close (ready[1]);
  close (gate[0]);
  do
    r = read (ready[0], &c, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1)
    g_error ("bench-mpkit: the manager client died before the gate");
  close (ready[0]);
  close (gate[1]);   /* go */
  join_child (p);

  n = job == MGR_LIST_APPEND ? mpk_list_proxy_len (a.list, &error)
                             : mpk_dict_proxy_len (a.dict, &error);
  check_error ("len", error);
  if (n != (job == MGR_LIST_APPEND ? count : MIN (a.count, MGR_DICT_KEYS)))
    g_error ("bench-mpkit: the manager's %s has %" G_GINT64_FORMAT " items",
             job == MGR_LIST_APPEND ? "list" : "dict", n);
  g_clear_pointer (&a.list, mpk_list_proxy_unref);
  g_clear_pointer (&a.dict, mpk_dict_proxy_unref);
  mpk_manager_free (manager);   /* shuts the server down */
  loop_us = a.shared->read_us;
  munmap (a.shared, sizeof *a.shared);
  alarm (0);
  return (double) MAX (loop_us, 1);
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
  W_QUEUE,
  W_COUNTER,
  W_ARRAY,
  W_MANAGER,
} WorkloadKind;

typedef struct
{
  const char   *key;
  const char   *unit;       /* us/rt, msg/s, MB/s or ms/proc */
  WorkloadKind  kind;
  gboolean      use_bytes;  /* W_RTT: send_bytes instead of send */
  gboolean      one_cpu;    /* W_RTT: both processes on one CPU */
  RecvKind      recv;       /* W_STREAM */
  gsize         size;       /* W_STREAM, W_QUEUE: payload bytes */
  gint64        max_count;  /* items per trial at --scale 1, at most */
  QueueKind     qkind;      /* W_QUEUE */
  ItemKind      item;       /* W_QUEUE */
  int           producers;  /* W_QUEUE; W_COUNTER: 0 */
  int           consumers;  /* W_QUEUE; W_COUNTER: the processes */
  gboolean      value_add;  /* W_COUNTER: mpk_value_add on an MpkValue */
  gboolean      lock_once;  /* W_ARRAY: the lock once, a loop over the memory */
  ManagerJob    mgr_job;    /* W_MANAGER */
  int           ops_per_item; /* W_MANAGER: calls per item (dict: set + get) */
} Workload;

/* Iteration counts: at most max_count, fewer if a probe says a trial would
 * take longer than this.  Keeps `make bench` short even when a path is slow. */
#define TRIAL_TARGET_US 400000.0

static const Workload workloads[] = {
  { "rtt",       "us/rt",   W_RTT,    FALSE, FALSE, 0, 0, 10000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "rtt_1cpu",  "us/rt",   W_RTT,    FALSE, TRUE,  0, 0, 10000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "rtt_bytes", "us/rt",   W_RTT,    TRUE,  FALSE, 0, 0, 10000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "stream64",  "msg/s",   W_STREAM, FALSE, FALSE, RECV_BYTES,   64, 150000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "stream64v", "msg/s",   W_STREAM, FALSE, FALSE, RECV_VARIANT, 64, 150000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "stream1m",  "MB/s",    W_STREAM, FALSE, FALSE, RECV_BYTES,   1 << 20, 3000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "stream1mv", "MB/s",    W_STREAM, FALSE, FALSE, RECV_VARIANT, 1 << 20, 3000,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "spawn",     "ms/proc", W_SPAWN,  FALSE, FALSE, 0, 0, 300,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "spawn_raw", "ms/proc", W_SPAWN_RAW, FALSE, FALSE, 0, 0, 300,
    0, 0, 0, 0, FALSE, FALSE, 0, 0 },
  { "q1p1c",     "items/s", W_QUEUE,  FALSE, FALSE, 0, 64, 4000000,
    QK_QUEUE,    ITEM_BYTES,   1, 1, FALSE, FALSE, 0, 0 },
  { "q1p1cv",    "items/s", W_QUEUE,  FALSE, FALSE, 0, 64, 4000000,
    QK_QUEUE,    ITEM_VARIANT, 1, 1, FALSE, FALSE, 0, 0 },
  { "q2p2c",     "items/s", W_QUEUE,  FALSE, FALSE, 0, 64, 4000000,
    QK_QUEUE,    ITEM_BYTES,   2, 2, FALSE, FALSE, 0, 0 },
  { "sq1p1c",    "items/s", W_QUEUE,  FALSE, FALSE, 0, 64, 4000000,
    QK_SIMPLE,   ITEM_BYTES,   1, 1, FALSE, FALSE, 0, 0 },
  { "jq1p1c",    "items/s", W_QUEUE,  FALSE, FALSE, 0, 64, 4000000,
    QK_JOINABLE, ITEM_BYTES,   1, 1, FALSE, FALSE, 0, 0 },
  { "q1m",       "MB/s",    W_QUEUE,  FALSE, FALSE, 0, 1 << 20, 3000,
    QK_QUEUE,    ITEM_BYTES,   1, 1, FALSE, FALSE, 0, 0 },
  { "lockcnt",   "incr/s",  W_COUNTER, FALSE, FALSE, 0, 0, 20000000,
    0,           0,            0, 2, FALSE, FALSE, 0, 0 },
  { "valinc",    "incr/s",  W_COUNTER, FALSE, FALSE, 0, 0, 20000000,
    0,           0,            0, 2, TRUE, FALSE, 0, 0 },
  /* Emits arrayew_w and arrayew_r (MB/s of 8-byte items) from the same trials. */
  { "arrayew",   "MB/s",    W_ARRAY,  FALSE, FALSE, 0, 8, ARRAY_ITEMS,
    0,           0,            0, 0, FALSE, FALSE, 0, 0 },
  /* The same job with the lock taken once per side: arrayew_idiom_w, _r. */
  { "arrayew_idiom", "MB/s", W_ARRAY, FALSE, FALSE, 0, 8, ARRAY_ITEMS,
    0,           0,            0, 0, FALSE, TRUE, 0, 0 },
  { "mgr_list_append", "ops/s", W_MANAGER, FALSE, FALSE, 0, 0, 20000,
    0,           0,            0, 0, FALSE, FALSE, MGR_LIST_APPEND, 1 },
  { "mgr_dict_getset", "ops/s", W_MANAGER, FALSE, FALSE, 0, 0, 20000,
    0,           0,            0, 0, FALSE, FALSE, MGR_DICT_GETSET, 2 },
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
    case W_QUEUE:
      return queue_trial (count, w->size, w->qkind, w->item, w->producers,
                          w->consumers);
    case W_COUNTER:
      return counter_trial (count, w->consumers, w->value_add);
    case W_ARRAY:
      return array_trial (count, w->lock_once);
    case W_MANAGER:
      return manager_trial (count, w->mgr_job);
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
    case W_ARRAY:
      return count * (double) w->size / elapsed_us;    /* bytes/us = MB/s */
    case W_MANAGER:
      return count / (elapsed_us / 1e6);               /* calls/s */
    case W_STREAM:
    case W_QUEUE:
    case W_COUNTER:
      if (w->size >= 4096)
        return count * (double) w->size / elapsed_us;  /* bytes/us = MB/s */
      return count / (elapsed_us / 1e6);               /* items/s, incr/s */
    case W_SPAWN:
    default:
      return elapsed_us / 1e3 / count;
    }
}

/* count rounded down so that it splits evenly over the producers and the
 * consumers (or the counter's processes). */
static gint64
even_count (const Workload *w,
            gint64          count)
{
  gint64 m = (gint64) MAX (w->producers, 1) * MAX (w->consumers, 1)
             * MAX (w->ops_per_item, 1);

  return MAX (count - count % m, m);
}

static void
run_workload (const Workload *w)
{
  double *v = g_new (double, opt_trials);
  double *vr = g_new (double, opt_trials);   /* W_ARRAY: the read half */
  gint64 probe, count;
  double per_item;
  int t;

  if (w->one_cpu)
    pin_to_cpu (0);
  if (opt_count > 0)
    {
      /* --count: exactly this many per trial, no probes, so that counters
       * (perf stat, strace -c) divide by a known number of items. */
      count = even_count (w, opt_count);
      printf ("# %s: %" G_GINT64_FORMAT " per trial (--count)\n", w->key, count);
      goto trials;
    }
  /* Two probes of 1% of the cap, not reported; the faster one counts, as
   * the first also pays for warming up (page faults, lazy binding). */
  probe = even_count (w, MAX (w->max_count / 100, 2));
  if (w->kind == W_QUEUE || w->kind == W_COUNTER)
    {
      /* Group workloads: 1% can be a few ms, where the gate's wake-ups and
       * first-touch faults dominate; grow the probe to >= 1/8 of a trial. */
      probe = even_count (w, MAX (w->max_count / 1000, 2));
      while (probe < w->max_count / 10
             && run_trial (w, probe) < TRIAL_TARGET_US / 8)
        probe = even_count (w, probe * 4);
    }
  per_item = run_trial (w, probe) / probe;
  per_item = MIN (per_item, run_trial (w, probe) / probe);
  count = (gint64) MIN ((double) w->max_count, TRIAL_TARGET_US / MAX (per_item, 1e-3));
  count = even_count (w, scaled (MAX (count, 2)));
  printf ("# %s: %" G_GINT64_FORMAT " per trial (probe: %.3g us each)\n",
          w->key, count, per_item);
trials:
  if (w->kind == W_ARRAY && count > w->max_count)
    {
      count = w->max_count;   /* the array has no more items */
      printf ("# %s: capped at %" G_GINT64_FORMAT " (every item)\n", w->key, count);
    }
  for (t = 0; t < opt_trials; t++)
    {
      v[t] = figure (w, count, run_trial (w, count));
      if (w->kind == W_ARRAY)
        {
          v[t] = figure (w, count, array_last_write_us);
          vr[t] = figure (w, count, array_last_read_us);
        }
    }
  if (w->one_cpu)
    pin_to_cpu (-1);
  if (w->kind == W_ARRAY)
    {
      char *kw = g_strconcat (w->key, "_w", NULL), *kr = g_strconcat (w->key, "_r", NULL);

      emit (kw, w->unit, v, opt_trials);
      emit (kr, w->unit, vr, opt_trials);
      g_free (kw);
      g_free (kr);
    }
  else
    emit (w->key, w->unit, v, opt_trials);
  g_free (v);
  g_free (vr);
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
    { "count", 'n', 0, G_OPTION_ARG_INT64, &opt_count,
      "Exactly N items per trial, no probes (for perf stat / strace -c)", "N" },
    { "only", 'o', 0, G_OPTION_ARG_STRING, &opt_only,
      "Comma-separated workloads: rtt,rtt_1cpu,rtt_bytes,stream64,stream64v,"
      "stream1m,stream1mv,spawn,spawn_raw,q1p1c,q1p1cv,q2p2c,sq1p1c,jq1p1c,"
      "q1m,lockcnt,valinc,arrayew (= arrayew_w,arrayew_r),arrayew_idiom "
      "(= arrayew_idiom_w,arrayew_idiom_r),mgr_list_append,mgr_dict_getset", "KEYS" },
    G_OPTION_ENTRY_NULL
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
    {
      g_autofree char *kw = g_strconcat (workloads[i].key, "_w", NULL);
      g_autofree char *kr = g_strconcat (workloads[i].key, "_r", NULL);

      if (wanted (workloads[i].key)
          || (workloads[i].kind == W_ARRAY && (wanted (kw) || wanted (kr))))
        run_workload (&workloads[i]);
    }

  g_free (opt_only);
  return 0;
}
