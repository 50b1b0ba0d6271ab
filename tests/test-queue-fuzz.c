/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-queue-fuzz.c: a Queue whose shared memory was scribbled on (a stray
 * pointer in a worker, a hostile process). Python's Queue trusts its pipe's
 * length prefix; ours must not trust anything in the mapping: every call on a
 * scribbled queue returns within its timeout, fails (if it fails) with a
 * GError in MPK_ERROR, and never crashes, aborts, hangs or allocates more than
 * the queue's message limit.
 *
 * Rounds: a fresh queue (4 or 64 KiB, sometimes joinable, sometimes bounded),
 * a few items (small, GVariant, streamed), random writes into the mapping,
 * then random calls with timeouts of 0 to 20 ms, sometimes from a forked
 * helper at the same time (which may also scribble while the helper waits).
 * Batches of rounds run in a forked child, so a crash is that child's signal
 * exit and a hang is its silence; both are reported with the seed and round:
 * MPK_FUZZ_SEED=S MPK_FUZZ_ROUND=R MPK_FUZZ_ROUNDS=N replays from round R
 * (the same writes and calls; a helper's timing may differ). A batch child
 * also runs with a capped data segment, so an allocation far past the 1 MiB
 * message limit fails the test. MPK_VALGRIND scales the rounds down 25x,
 * AddressSanitizer 2x; MPK_FUZZ_ROUNDS=N runs longer.
 *
 * Time: "returns within its timeout" is checked only as a hang detector. A
 * call may return up to 5 s (30 s under valgrind) past its timeout, on a
 * clock that leaves out the time its thread waited for a CPU (the second
 * field of /proc/thread-self/schedstat, when the kernel has it); the worst
 * lateness seen is measured and reported, never compared with a tight
 * bound, because a loaded machine delays a call arbitrarily (a 200 ms bound
 * failed every run beside CPU hogs).
 *
 * Where the writes go: /queue-fuzz/ring-data writes only the ring's bytes
 * (chunk headers, wire headers, payloads); /queue-fuzz/control-words writes
 * the control block's 8-byte words that the library changes (found by diffing
 * the mapping around puts, gets, waits and crash-point deaths);
 * /queue-fuzz/mixed does both. The limit: the control block's pthread mutexes
 * are never written. A scribbled glibc mutex can legitimately make
 * pthread_mutex_lock wait forever or fail with EINVAL, and no library that
 * keeps robust mutexes in shared memory can guard against that. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "test-util.h"

/* Internal hooks (the tests link the static library). */
extern gpointer mpk__queue_get_shared_for_testing (MpkQueue *queue,
                                                   gsize    *size);
extern int mpk__crash_countdown;
/* Present under AddressSanitizer: checks the batch child for leaks before it
 * leaves with _exit(), which skips LeakSanitizer's own check. */
extern int __lsan_do_recoverable_leak_check (void) __attribute__ ((weak));

#if defined (__SANITIZE_ADDRESS__)
#define UNDER_ASAN TRUE
#elif defined (__has_feature)
#if __has_feature (address_sanitizer)
#define UNDER_ASAN TRUE
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN FALSE
#endif

#define MS  ((gint64) 1000)
#define SEC G_USEC_PER_SEC
#define KiB ((gsize) 1 << 10)

#define MAX_MESSAGE  ((guint64) 1 << 20)  /* every fuzzed queue's message limit */
#define DEFAULT_SEED 0x6d706b46u          /* "mpkF": a fixed seed, printed on failure */
#define BATCH        100                  /* rounds per batch child */
#define FAIL_EXIT    3                    /* a child found a broken promise */
#define N_CODES      (MPK_ERROR_TOO_MANY_TASK_DONE + 1)
#define CODE(c)      (1u << (c))

static const char *const code_names[N_CODES] = {
  "FAILED", "CLOSED", "TIMED_OUT", "EOF", "TRUNCATED", "PROTOCOL", "TOO_BIG",
  "BUFFER_TOO_SHORT", "SPAWN", "INVALID", "PEER_CLOSED", "EMPTY", "FULL",
  "OWNER_DIED", "PEER_DIED", "TOO_MANY_TASK_DONE",
};

/* How long past its timeout a call may return before the test calls it
 * hung: 5 s (30 s under valgrind). This is a hang detector, not a measure
 * of promptness: on a loaded machine a process can wait for a CPU, or for a
 * lock whose holder waits for one, for hundreds of milliseconds (a 200 ms
 * bound failed every run beside CPU hogs). How late calls were is measured
 * and reported instead (worst_late_us, in the test's messages). */
static gint64
late_limit_us (void)
{
  return under_valgrind () ? 30 * SEC : 5 * SEC;
}

/* The clock calls are timed by: monotonic time less the time this thread
 * spent runnable but not running (the second field of
 * /proc/thread-self/schedstat, in ns, where the kernel keeps it), so that
 * the lateness reported is the library's and not the scheduler's. Waits for
 * a lock holder that is itself off the CPU still count, hence the generous
 * late_limit_us(). */
static gint64
call_clock_us (void)
{
  gint64 now = g_get_monotonic_time ();
  char buf[128];
  unsigned long long run_ns, wait_ns;
  ssize_t n;
  int fd = open ("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return now;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return now;
  buf[n] = '\0';
  if (sscanf (buf, "%llu %llu", &run_ns, &wait_ns) != 2)
    return now;
  return now - (gint64) (wait_ns / 1000);
}

/* A batch child that makes no progress for this long is hung. */
static gint64
hang_limit_us (void)
{
  return under_valgrind () ? 120 * SEC : 10 * SEC;
}

static guint
env_uint (const char *name,
          guint       fallback)
{
  const char *s = g_getenv (name);

  return s != NULL && *s != '\0' ? (guint) g_ascii_strtoull (s, NULL, 0) : fallback;
}

/* --- what the children report (shared memory, made by the test) ----------- */

typedef struct
{
  /* Progress, so that the test can say where a dead or silent child was. */
  guint64 heartbeat;             /* every call's start and end */
  gint    round;                 /* the batch child's round */
  char    op[2][48];             /* the call under way: batch child, helper */
  /* Tallies, added to by the batch child and its helpers. */
  guint64 rounds;
  guint64 calls;
  guint64 ok;
  guint64 errors[N_CODES];
  guint64 scribbles;
  guint64 helpers;
  guint64 helper_deaths;         /* helpers killed at a crash point */
  guint64 items_out;             /* items that get()/get_bytes() returned after scribbling */
  guint64 broken;                /* rounds with a PROTOCOL error */
  gint64  worst_late_us;         /* the most any call took past its timeout */
  /* The first broken promise; the child then leaves with FAIL_EXIT. */
  gint    failed;
  char    failure[1024];
} FuzzShared;

typedef enum
{
  SCRIBBLE_RING_DATA,
  SCRIBBLE_CONTROL_WORDS,
  SCRIBBLE_MIXED,
} ScribbleMode;

typedef struct
{
  const char   *name;
  ScribbleMode  mode;
  guint         rounds;
  guint32       salt;
} FuzzTest;

/* One round, as seen by the process making calls (batch child or helper). */
typedef struct
{
  const FuzzTest *test;
  FuzzShared     *shared;
  guint32         seed;
  guint           round;
  int             role;       /* 0: the batch child, 1: its forked helper */
  GRand          *rand;
  MpkQueue       *queue;
  gsize           capacity;
  gboolean        joinable;
  guint8         *map;        /* the queue's mapping: control block, then ring */
  gsize           map_size;
  gsize           data_off;   /* where the ring's bytes start */
  gsize           written;    /* ring bytes our puts used, to aim at records */
  gsize           records[64];/* ring offsets of the chunks found before scribbling ... */
  guint16         flags[64];  /* ... and their flags */
  guint           n_records;
  guint64         broken_seen;
} Round;

/* The control block's words that change (8-byte aligned offsets), found once
 * by the test process; children inherit them. */
static GArray *control_words;
static void find_control_words (void);

static void
note_op (Round      *r,
         const char *op)
{
  g_strlcpy (r->shared->op[r->role], op, sizeof r->shared->op[0]);
  if (r->role == 0)
    r->shared->round = r->round;
  __atomic_add_fetch (&r->shared->heartbeat, 1, __ATOMIC_RELAXED);
}

static G_GNUC_NORETURN G_GNUC_PRINTF (2, 3) void
fuzz_fail (Round      *r,
           const char *format,
           ...)
{
  g_autofree char *what = NULL;
  va_list ap;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (g_atomic_int_compare_and_exchange (&r->shared->failed, 0, 1))
    g_snprintf (r->shared->failure, sizeof r->shared->failure,
                "%s: %s (round %u, %s pid %d; replay: MPK_FUZZ_SEED=0x%08x MPK_FUZZ_ROUND=%u "
                "MPK_FUZZ_ROUNDS=1 -p /queue-fuzz/%s)", r->test->name, what, r->round,
                r->role == 0 ? "batch child" : "helper", (int) getpid (), r->seed, r->round,
                r->test->name);
  g_printerr ("test-queue-fuzz: seed 0x%08x round %u: %s\n", r->seed, r->round, what);
  _exit (FAIL_EXIT);
}

/* Checks one call: its time, and that it failed (if it did) as documented. */
static void
check_call (Round        *r,
            const char   *op,
            gint64        timeout_us,
            gint64        elapsed_us,
            gboolean      failed,
            const GError *error,
            guint         allowed)
{
  gint64 late = elapsed_us - MAX (timeout_us, 0);
  gint64 worst = __atomic_load_n (&r->shared->worst_late_us, __ATOMIC_RELAXED);

  __atomic_add_fetch (&r->shared->calls, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&r->shared->heartbeat, 1, __ATOMIC_RELAXED);
  while (late > worst &&
         !__atomic_compare_exchange_n (&r->shared->worst_late_us, &worst, late, FALSE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;
  if (late > late_limit_us ())
    fuzz_fail (r, "%s returned %" G_GINT64_FORMAT " us after its timeout of %" G_GINT64_FORMAT
               " us", op, late, timeout_us);
  if (failed != (error != NULL))
    fuzz_fail (r, "%s %s", op, failed ? "failed without an error" : "succeeded with an error set");
  if (error == NULL)
    {
      __atomic_add_fetch (&r->shared->ok, 1, __ATOMIC_RELAXED);
      return;
    }
  if (error->domain != MPK_ERROR || error->code < 0 || error->code >= N_CODES ||
      (allowed & CODE (error->code)) == 0)
    fuzz_fail (r, "%s: unexpected error %s %d: %s", op, g_quark_to_string (error->domain),
               error->code, error->message);
  __atomic_add_fetch (&r->shared->errors[error->code], 1, __ATOMIC_RELAXED);
  if (error->code == MPK_ERROR_PROTOCOL)
    r->broken_seen++;
}

/* --- the calls ---------------------------------------------------------------- */

#define GET_ERRORS (CODE (MPK_ERROR_EMPTY) | CODE (MPK_ERROR_TIMED_OUT) | \
                    CODE (MPK_ERROR_TOO_BIG) | CODE (MPK_ERROR_PROTOCOL))
#define PUT_ERRORS (CODE (MPK_ERROR_FULL) | CODE (MPK_ERROR_TIMED_OUT) | \
                    CODE (MPK_ERROR_TOO_BIG) | CODE (MPK_ERROR_PROTOCOL))

typedef enum
{
  OP_GET,
  OP_GET_BYTES,
  OP_PUT,
  OP_PUT_BYTES,
  OP_PUT_STREAMED,   /* more than a quarter of the ring: several chunks */
  OP_PUT_OVERSIZE,   /* more than the ring: a timeout abandons it half-way */
  OP_PUT_TOO_BIG,    /* over the message limit */
  OP_SIZES,          /* qsize, empty, full */
  OP_TASK_DONE,
  OP_JOIN,
  OP_COUNTS,         /* recoveries, unfinished, unfinished_for */
} FuzzOp;

/* Mostly no wait at all, so a round costs little; sometimes up to 20 ms. */
static gint64
pick_timeout (Round *r)
{
  gint32 x = g_rand_int_range (r->rand, 0, 100);

  return x < 75 ? 0 : x < 88 ? 1 * MS : x < 97 ? 5 * MS : 20 * MS;
}

static GVariant *
make_variant (Round *r)
{
  switch (g_rand_int_range (r->rand, 0, 6))
    {
    case 0:
      return g_variant_new_int32 ((gint32) g_rand_int (r->rand));
    case 1:
      return g_variant_new_string ("a string from the fuzzer");
    case 2:
      return g_variant_new ("(sus)", "fuzz", g_rand_int (r->rand), "item");
    case 3:
      {
        const char *strv[] = { "one", "two", "three", NULL };
        return g_variant_new_strv (strv, -1);
      }
    case 4:
      {
        GVariantBuilder b;

        g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
        g_variant_builder_add (&b, "{sv}", "n", g_variant_new_uint64 (g_rand_int (r->rand)));
        g_variant_builder_add (&b, "{sv}", "s", g_variant_new_string ("v"));
        return g_variant_builder_end (&b);
      }
    default:
      {
        gint32 ints[16];
        guint n = g_rand_int_range (r->rand, 0, G_N_ELEMENTS (ints) + 1);

        for (guint i = 0; i < n; i++)
          ints[i] = (gint32) g_rand_int (r->rand);
        return g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, ints, n, sizeof ints[0]);
      }
    }
}

/* A record's ring bytes: its chunk headers and the 40-byte wire header, rounded. */
static gsize
record_bytes (Round *r,
              gsize  payload)
{
  gsize total = payload + 40, max_chunk = r->capacity / 4 - 16;
  gsize chunks = MAX ((total + max_chunk - 1) / max_chunk, 1);

  return total + chunks * (16 + 63);
}

static void
put_bytes_call (Round      *r,
                const char *op,
                gsize       size)
{
  static guint8 *zeros;   /* one buffer, the largest item plus one; never freed */
  g_autoptr(GError) error = NULL;
  gint64 timeout = pick_timeout (r), start;
  gboolean ok;

  if (zeros == NULL)
    zeros = g_malloc0 (MAX_MESSAGE + 1);
  for (gsize i = 0; i < MIN (size, 64); i++)
    zeros[i] = (guint8) g_rand_int (r->rand);
  note_op (r, op);
  start = call_clock_us ();
  ok = mpk_queue_put_bytes (r->queue, zeros, size, timeout, &error);
  check_call (r, op, timeout, call_clock_us () - start, !ok, error, PUT_ERRORS);
  if (ok)
    r->written = MIN (r->written + record_bytes (r, size), r->capacity);
}

static void
check_item_variant (Round    *r,
                    GVariant *value)
{
  if (g_variant_get_size (value) > MAX_MESSAGE)
    fuzz_fail (r, "get returned %" G_GSIZE_FORMAT " bytes, over the limit",
               g_variant_get_size (value));
  if (!g_variant_is_normal_form (value))
    fuzz_fail (r, "get returned a %s that is not in normal form", g_variant_get_type_string (value));
  /* Walk the value, as a caller would. */
  if (g_variant_get_size (value) < 4096)
    g_free (g_variant_print (value, TRUE));
}

static void
do_op (Round  *r,
       FuzzOp  op)
{
  g_autoptr(GError) error = NULL;
  gint64 timeout = pick_timeout (r), start;

  switch (op)
    {
    case OP_GET:
      {
        g_autoptr(GVariant) value = NULL;

        note_op (r, "get");
        start = call_clock_us ();
        value = mpk_queue_get (r->queue, timeout, &error);
        check_call (r, "get", timeout, call_clock_us () - start, value == NULL, error,
                    GET_ERRORS);
        if (value != NULL)
          {
            check_item_variant (r, value);
            __atomic_add_fetch (&r->shared->items_out, 1, __ATOMIC_RELAXED);
          }
        break;
      }
    case OP_GET_BYTES:
      {
        g_autoptr(GBytes) bytes = NULL;

        note_op (r, "get_bytes");
        start = call_clock_us ();
        bytes = mpk_queue_get_bytes (r->queue, timeout, &error);
        check_call (r, "get_bytes", timeout, call_clock_us () - start, bytes == NULL,
                    error, GET_ERRORS | CODE (MPK_ERROR_INVALID));
        if (bytes != NULL)
          {
            if (g_bytes_get_size (bytes) > MAX_MESSAGE)
              fuzz_fail (r, "get_bytes returned %" G_GSIZE_FORMAT " bytes, over the limit",
                         g_bytes_get_size (bytes));
            __atomic_add_fetch (&r->shared->items_out, 1, __ATOMIC_RELAXED);
          }
        break;
      }
    case OP_PUT:
      {
        GVariant *value = make_variant (r);
        gsize size = g_variant_get_size (value) + strlen (g_variant_get_type_string (value));
        gboolean ok;

        note_op (r, "put");
        start = call_clock_us ();
        ok = mpk_queue_put (r->queue, value, timeout, &error);
        check_call (r, "put", timeout, call_clock_us () - start, !ok, error, PUT_ERRORS);
        if (ok)
          r->written = MIN (r->written + record_bytes (r, size), r->capacity);
        break;
      }
    case OP_PUT_BYTES:
      put_bytes_call (r, "put_bytes", g_rand_int_range (r->rand, 0, 300));
      break;
    case OP_PUT_STREAMED:
      put_bytes_call (r, "put_bytes (streamed)",
                      r->capacity / 4 + g_rand_int_range (r->rand, 0, r->capacity / 2));
      break;
    case OP_PUT_OVERSIZE:
      put_bytes_call (r, "put_bytes (over the ring)",
                      r->capacity + g_rand_int_range (r->rand, 0, r->capacity));
      break;
    case OP_PUT_TOO_BIG:
      put_bytes_call (r, "put_bytes (over the limit)", MAX_MESSAGE + 1);
      break;
    case OP_SIZES:
      {
        gint64 n;

        note_op (r, "qsize/empty/full");
        start = call_clock_us ();
        n = mpk_queue_qsize (r->queue);
        (void) mpk_queue_empty (r->queue);
        (void) mpk_queue_full (r->queue);
        check_call (r, "qsize/empty/full", 0, call_clock_us () - start, FALSE, NULL, 0);
        if (n < 0)
          fuzz_fail (r, "qsize returned %" G_GINT64_FORMAT, n);
        break;
      }
    case OP_TASK_DONE:
      {
        gboolean ok;

        note_op (r, "task_done");
        start = call_clock_us ();
        ok = mpk_queue_task_done (r->queue, &error);
        check_call (r, "task_done", 0, call_clock_us () - start, !ok, error,
                    CODE (MPK_ERROR_TOO_MANY_TASK_DONE));
        break;
      }
    case OP_JOIN:
      {
        gboolean ok;

        note_op (r, "join");
        start = call_clock_us ();
        ok = mpk_queue_join (r->queue, timeout, &error);
        check_call (r, "join", timeout, call_clock_us () - start, !ok, error,
                    CODE (MPK_ERROR_TIMED_OUT));
        break;
      }
    case OP_COUNTS:
      note_op (r, "recoveries/unfinished");
      start = call_clock_us ();
      (void) mpk_queue_get_n_recoveries (r->queue);
      if (r->joinable)
        {
          (void) mpk_queue_get_unfinished (r->queue);
          (void) mpk_queue_get_unfinished_for (r->queue, getpid ());
        }
      check_call (r, "recoveries/unfinished", 0, call_clock_us () - start, FALSE, NULL, 0);
      break;
    }
}

static FuzzOp
pick_op (Round *r)
{
  static const struct { FuzzOp op; int weight; } table[] = {
    { OP_GET, 22 }, { OP_GET_BYTES, 12 }, { OP_PUT, 10 }, { OP_PUT_BYTES, 12 },
    { OP_PUT_STREAMED, 8 }, { OP_PUT_OVERSIZE, 2 }, { OP_PUT_TOO_BIG, 1 },
    { OP_SIZES, 10 }, { OP_TASK_DONE, 10 }, { OP_JOIN, 6 }, { OP_COUNTS, 7 },
  };
  int total = 0, x;

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    total += table[i].weight;
  x = g_rand_int_range (r->rand, 0, total);
  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    {
      if (x < table[i].weight)
        {
          if (!r->joinable && (table[i].op == OP_TASK_DONE || table[i].op == OP_JOIN))
            return OP_GET;   /* a plain queue has no tasks (a critical, by contract) */
          return table[i].op;
        }
      x -= table[i].weight;
    }
  g_assert_not_reached ();
}

/* --- the scribbling ------------------------------------------------------------ */

static void
poke (Round  *r,
      gsize   offset,
      guint64 value,
      gsize   width)
{
  guint64 le = GUINT64_TO_LE (value);

  g_assert (offset + width <= r->map_size);
  memcpy (r->map + offset, &le, width);
}

static guint64
peek (Round *r,
      gsize  offset,
      gsize  width)
{
  guint64 le = 0;

  memcpy (&le, r->map + offset, width);
  return GUINT64_FROM_LE (le);
}

static guint64
random64 (Round *r)
{
  return ((guint64) g_rand_int (r->rand) << 32) | g_rand_int (r->rand);
}

/* Values at the edges of what the ring and the wire header check. */
static guint64
interesting (Round *r)
{
  const guint64 values[] = {
    0, 1, 2, 15, 16, 17, 39, 40, 41, 63, 64, 65, 255, 256, 4096, 65536,
    r->capacity / 4 - 17, r->capacity / 4 - 16, r->capacity / 4 - 15, r->capacity - 64,
    r->capacity, r->capacity + 64, MAX_MESSAGE - 1, MAX_MESSAGE, MAX_MESSAGE + 1,
    (guint64) 1 << 30, G_MAXINT32, G_MAXUINT32, (guint64) 1 << 32,
    ((guint64) 1 << 40) - 64, (guint64) 1 << 40, ((guint64) 1 << 40) + 64,
    G_MAXINT64, G_MAXUINT64 - 63, G_MAXUINT64,
  };

  return values[g_rand_int_range (r->rand, 0, G_N_ELEMENTS (values))];
}

/* The chunks in the ring, walked from its start (the queue is fresh) as
 * mpk-ring.c lays them out: a 16-byte header (magic 0x5143, flags FIRST 1 |
 * LAST 2, payload length, item id) and the payload, padded to 64 bytes; the
 * first chunk of an item starts with the 40-byte wire header. Only to aim the
 * scribbles: if the layout changes, they land at random, the test holds. */
#define CHUNK_MAGIC 0x5143
#define CHUNK_FIRST 0x1
#define CHUNK_LAST  0x2

static void
find_records (Round *r)
{
  r->n_records = 0;
  for (gsize at = 0, walked = 0; walked < r->capacity && r->n_records < G_N_ELEMENTS (r->records); )
    {
      gsize record = r->data_off + at % r->capacity;
      guint64 len = peek (r, record + 4, 4);

      if (peek (r, record, 2) != CHUNK_MAGIC || len > r->capacity / 4)
        break;
      r->records[r->n_records] = record;
      r->flags[r->n_records++] = peek (r, record + 2, 2);
      at += (16 + len + 63) & ~(gsize) 63;
      walked += (16 + len + 63) & ~(gsize) 63;
    }
}

/* A record to aim at: often the first chunk of a streamed item (its wire
 * length decides an allocation), else any chunk, else any line. */
static gsize
pick_record (Round *r)
{
  gsize span = MAX (r->written, 64);

  if (r->n_records > 0 && g_rand_int_range (r->rand, 0, 4) > 0)
    {
      guint i = g_rand_int_range (r->rand, 0, r->n_records);

      if (g_rand_boolean (r->rand))
        for (guint j = 0; j < r->n_records; j++)
          if ((r->flags[(i + j) % r->n_records] & (CHUNK_FIRST | CHUNK_LAST)) == CHUNK_FIRST)
            return r->records[(i + j) % r->n_records];
      return r->records[i];
    }
  return r->data_off + ((gsize) g_rand_int_range (r->rand, 0, span / 64 + 1) * 64) % r->capacity;
}

/* One write into the ring's bytes, aimed at records most of the time. */
static void
scribble_ring_data (Round *r)
{
  gsize span = MAX (r->written, 64);
  gsize record = pick_record (r);
  gsize any = r->data_off + g_rand_int_range (r->rand, 0, r->capacity);

  switch (g_rand_int_range (r->rand, 0, 10))
    {
    case 0:   /* a random byte anywhere in the ring */
      poke (r, any, g_rand_int (r->rand), 1);
      break;
    case 1:   /* a flipped bit where the records are */
      {
        gsize at = r->data_off + g_rand_int_range (r->rand, 0, span) % r->capacity;

        r->map[at] ^= 1u << g_rand_int_range (r->rand, 0, 8);
        break;
      }
    case 2:   /* an aligned word */
      poke (r, any & ~(gsize) 7, g_rand_boolean (r->rand) ? random64 (r) : interesting (r), 8);
      break;
    case 3:   /* chunk header: magic and flags */
      if (g_rand_boolean (r->rand))
        poke (r, record, peek (r, record, 2) ^ (1u << g_rand_int_range (r->rand, 0, 16)), 2);
      else
        poke (r, record + 2, g_rand_boolean (r->rand) ? (guint32) g_rand_int_range (r->rand, 0, 8)
                                                      : g_rand_int (r->rand), 2);
      break;
    case 4:   /* chunk header: payload length */
      poke (r, record + 4, g_rand_boolean (r->rand)
                           ? interesting (r) : peek (r, record + 4, 4) + g_rand_int_range (r->rand, -65, 66), 4);
      break;
    case 5:   /* chunk header: item id */
      poke (r, record + 8, g_rand_boolean (r->rand)
                           ? peek (r, record + 8, 8) + g_rand_int_range (r->rand, -2, 3) : interesting (r), 8);
      break;
    case 6:   /* wire header (after the chunk header): kind, flags, type length, reserved */
      switch (g_rand_int_range (r->rand, 0, 5))
        {
        case 0: poke (r, record + 16, peek (r, record + 16, 4) ^ (1u << g_rand_int_range (r->rand, 0, 32)), 4); break;
        case 1: poke (r, record + 16 + 4, g_rand_int_range (r->rand, 0, 4), 1); break;
        case 2: poke (r, record + 16 + 5, g_rand_int_range (r->rand, 0, 4), 1); break;
        case 3: poke (r, record + 16 + 6, g_rand_boolean (r->rand) ? (guint64) g_rand_int_range (r->rand, 0, 300)
                                                                   : interesting (r), 2); break;
        default: poke (r, record + 16 + 20, g_rand_int (r->rand) | 1, 4); break;
        }
      break;
    case 7:   /* wire header: payload length, clock */
      if (g_rand_int_range (r->rand, 0, 4) > 0)
        poke (r, record + 16 + 8, g_rand_boolean (r->rand)
                                  ? interesting (r) : peek (r, record + 16 + 8, 8) + g_rand_int_range (r->rand, -70, 71), 8);
      else
        poke (r, record + 16 + 32, interesting (r), 8);
      break;
    default:  /* the payload's first bytes: a GVariant's type string */
      {
        static const char codes[] = "ybnqiuxtdhsogvam(){}*?r";

        poke (r, record + 56 + g_rand_int_range (r->rand, 0, 8),
              g_rand_boolean (r->rand) ? (guint8) codes[g_rand_int_range (r->rand, 0, sizeof codes - 1)]
                                       : g_rand_int (r->rand), 1);
        break;
      }
    }
}

/* One write to a control-block word the library uses (never a mutex). */
static void
scribble_control_word (Round *r)
{
  gsize off = g_array_index (control_words, gsize, g_rand_int_range (r->rand, 0, control_words->len));
  guint64 cur = peek (r, off, 8), value;
  gint32 k = g_rand_int_range (r->rand, 1, 4) * (g_rand_boolean (r->rand) ? 1 : -1);

  switch (g_rand_int_range (r->rand, 0, 9))
    {
    case 0: value = random64 (r); break;
    case 1: value = interesting (r); break;
    case 2: value = cur + k; break;                          /* a count or an id, off by a few */
    case 3: value = cur + (guint64) (k * 64); break;         /* a position, off by records */
    case 4: value = cur + (guint64) k * r->capacity; break;  /* a position, off by rings */
    case 5: value = cur + ((guint64) k << 40); break;        /* a packed item count, off by a few */
    case 6: value = cur ^ ((guint64) 1 << g_rand_int_range (r->rand, 0, 64)); break;
    case 7:                                                  /* another word's value (tail := head) */
      value = peek (r, g_array_index (control_words, gsize,
                                      g_rand_int_range (r->rand, 0, control_words->len)), 8);
      break;
    default:                                                 /* one half only (pids, slots, flags) */
      poke (r, off + 4 * g_rand_int_range (r->rand, 0, 2),
            g_rand_boolean (r->rand) ? g_rand_int (r->rand) : (guint32) g_rand_int_range (r->rand, 0, 70), 4);
      return;
    }
  poke (r, off, value, 8);
}

static void
scribble (Round *r,
          guint  n)
{
  for (guint i = 0; i < n; i++)
    {
      gboolean data;

      switch (r->test->mode)
        {
        case SCRIBBLE_RING_DATA:     data = TRUE; break;
        case SCRIBBLE_CONTROL_WORDS: data = FALSE; break;
        default:                     data = g_rand_boolean (r->rand); break;
        }
      if (data)
        scribble_ring_data (r);
      else
        scribble_control_word (r);
    }
  __atomic_add_fetch (&r->shared->scribbles, n, __ATOMIC_RELAXED);
}

/* --- rounds and batches ----------------------------------------------------------- */

static void
do_ops (Round *r,
        guint  n)
{
  for (guint i = 0; i < n; i++)
    do_op (r, pick_op (r));
}

/* The helper: calls at the same time as the batch child; with @crash > 0 it
 * SIGKILLs itself at its @crash-th crash point (inside a put or a get), so
 * the batch child repairs the queue from a control block it may scribble. */
static G_GNUC_NORETURN void
helper_main (Round   *r,
             guint32  helper_seed,
             int      crash)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  r->role = 1;
  r->rand = g_rand_new_with_seed (helper_seed);
  mpk__crash_countdown = crash;
  do_ops (r, g_rand_int_range (r->rand, 3, 12));
  _exit (0);
}

static void
run_round (const FuzzTest *test,
           FuzzShared     *shared,
           guint32         seed,
           guint           round)
{
  static const gint64 maxsizes[] = { 0, 0, 0, 2, 8 };
  g_autoptr(GError) error = NULL;
  Round r = { .test = test, .shared = shared, .seed = seed, .round = round };
  pid_t helper = -1;
  int crash = 0;

  r.rand = g_rand_new_with_seed (mix32 (seed ^ test->salt) ^ mix32 (round + 1));
  note_op (&r, "mpk_queue_new_full");
  r.capacity = g_rand_boolean (r.rand) ? 4 * KiB : 64 * KiB;
  r.joinable = g_rand_boolean (r.rand);
  r.queue = mpk_queue_new_full (maxsizes[g_rand_int_range (r.rand, 0, G_N_ELEMENTS (maxsizes))],
                                r.joinable, r.capacity, &error);
  if (r.queue == NULL)
    fuzz_fail (&r, "mpk_queue_new_full: %s", error->message);
  mpk_queue_set_max_message_size (r.queue, MAX_MESSAGE);
  r.map = mpk__queue_get_shared_for_testing (r.queue, &r.map_size);
  if (mpk_queue_get_buffer_size (r.queue) != r.capacity || r.map_size < r.capacity + 4096)
    fuzz_fail (&r, "mapping of %" G_GSIZE_FORMAT " bytes for a ring of %" G_GSIZE_FORMAT,
               r.map_size, mpk_queue_get_buffer_size (r.queue));
  r.data_off = r.map_size - r.capacity;

  /* The queue as a program would leave it: a few items, maybe one taken. */
  for (guint i = g_rand_int_range (r.rand, 1, 6); i > 0; i--)
    switch (g_rand_int_range (r.rand, 0, 5))
      {
      case 0: case 1: do_op (&r, OP_PUT); break;
      case 2: case 3: do_op (&r, OP_PUT_BYTES); break;
      default: do_op (&r, OP_PUT_STREAMED); break;
      }
  if (g_rand_int_range (r.rand, 0, 4) == 0)
    do_op (&r, OP_PUT_OVERSIZE);   /* a streamed item given up half-way */
  if (g_rand_int_range (r.rand, 0, 3) == 0)
    {
      do_op (&r, OP_GET);
      if (r.joinable && g_rand_boolean (r.rand))
        do_op (&r, OP_TASK_DONE);
    }

  find_records (&r);
  scribble (&r, g_rand_int_range (r.rand, 1, 7));

  /* Sometimes a second process makes calls at the same time. */
  if (g_rand_int_range (r.rand, 0, 6) == 0)
    {
      guint32 helper_seed = g_rand_int (r.rand);

      crash = g_rand_int_range (r.rand, 0, 3) == 0 ? g_rand_int_range (r.rand, 1, 8) : 0;
      __atomic_add_fetch (&shared->helpers, 1, __ATOMIC_RELAXED);
      helper = fork ();
      if (helper < 0)
        fuzz_fail (&r, "fork: %s", g_strerror (errno));
      if (helper == 0)
        helper_main (&r, helper_seed, crash);
    }
  do_ops (&r, g_rand_int_range (r.rand, 2, 6));
  if (helper > 0 && g_rand_boolean (r.rand))
    scribble (&r, g_rand_int_range (r.rand, 1, 4));   /* while the helper may be waiting */
  do_ops (&r, g_rand_int_range (r.rand, 1, 6));
  if (helper > 0)
    {
      int status;

      note_op (&r, "waitpid (helper)");
      if (waitpid (helper, &status, 0) != helper)
        fuzz_fail (&r, "waitpid: %s", g_strerror (errno));
      if (WIFEXITED (status) && WEXITSTATUS (status) == FAIL_EXIT)
        _exit (FAIL_EXIT);   /* the helper said why */
      if (crash > 0 && WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL)
        __atomic_add_fetch (&shared->helper_deaths, 1, __ATOMIC_RELAXED);
      else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fuzz_fail (&r, "the helper (pid %d) %s %d while in %s", (int) helper,
                   WIFSIGNALED (status) ? "was killed by signal" : "exited with",
                   WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status), shared->op[1]);
      /* Dead now: what it held can be written off (join_full's recipe). */
      if (r.joinable && g_rand_boolean (r.rand))
        {
          gint64 start = call_clock_us ();

          note_op (&r, "abandon_tasks");
          (void) mpk_queue_get_unfinished_for (r.queue, helper);
          (void) mpk_queue_abandon_tasks (r.queue, helper);
          check_call (&r, "abandon_tasks", 0, call_clock_us () - start, FALSE, NULL, 0);
          do_op (&r, OP_JOIN);
        }
      do_ops (&r, g_rand_int_range (r.rand, 0, 3));   /* repairs after a death */
    }
  note_op (&r, "mpk_queue_free");
  if (r.broken_seen > 0)
    __atomic_add_fetch (&shared->broken, 1, __ATOMIC_RELAXED);
  mpk_queue_free (r.queue);
  g_rand_free (r.rand);
  __atomic_add_fetch (&shared->rounds, 1, __ATOMIC_RELAXED);
}

/* The data segment a batch child may use: far below what a scribbled length
 * (up to 2^64) could ask for, far above the 1 MiB items it may take. An
 * allocation past it fails: g_try_malloc() gives MPK_ERROR_FAILED (not an
 * allowed error), g_malloc() aborts; both fail the test. Not under
 * AddressSanitizer or valgrind, whose own mappings count against it. */
#define DATA_LIMIT ((rlim_t) 256 << 20)

static G_GNUC_NORETURN void
batch_main (const FuzzTest *test,
            FuzzShared     *shared,
            guint32         seed,
            guint           first,
            guint           n)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (!UNDER_ASAN && !under_valgrind ())
    {
      struct rlimit limit = { DATA_LIMIT, DATA_LIMIT };

      setrlimit (RLIMIT_DATA, &limit);
    }
  for (guint round = first; round < first + n; round++)
    run_round (test, shared, seed, round);
  if (__lsan_do_recoverable_leak_check != NULL && __lsan_do_recoverable_leak_check () != 0)
    {
      Round r = { .test = test, .shared = shared, .seed = seed, .round = first + n - 1 };

      fuzz_fail (&r, "LeakSanitizer found leaks in rounds %u-%u (report above)", first, first + n - 1);
    }
  _exit (0);
}

/* Waits for a batch child: until its pipe's write end closes (it and its
 * helper are gone) or until it stops making progress. Returns FALSE on a hang
 * (the child is then killed). Fills @status and @usage either way. */
static gboolean
watch_batch (pid_t          pid,
             int            fd,
             FuzzShared    *shared,
             int           *status,
             struct rusage *usage)
{
  guint64 beat = __atomic_load_n (&shared->heartbeat, __ATOMIC_RELAXED);
  gint64 last_progress = g_get_monotonic_time ();
  gboolean hung = FALSE;

  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      int rc = poll (&pfd, 1, 250);
      guint64 now_beat = __atomic_load_n (&shared->heartbeat, __ATOMIC_RELAXED);

      if (rc > 0)
        break;
      if (rc < 0 && errno != EINTR)
        g_error ("poll: %s", g_strerror (errno));
      if (now_beat != beat)
        {
          beat = now_beat;
          last_progress = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - last_progress > hang_limit_us ())
        {
          hung = TRUE;
          kill (pid, SIGKILL);
          break;
        }
    }
  while (wait4 (pid, status, 0, usage) < 0)
    g_assert_cmpint (errno, ==, EINTR);
  return !hung;
}

static void
test_fuzz (gconstpointer data)
{
  const FuzzTest *test = data;
  guint32 seed = env_uint ("MPK_FUZZ_SEED", DEFAULT_SEED);
  guint first = env_uint ("MPK_FUZZ_ROUND", 0);
  guint n = env_uint ("MPK_FUZZ_ROUNDS", under_valgrind () ? MAX (test->rounds / 25, 10)
                                          : UNDER_ASAN ? test->rounds / 2 : test->rounds);
  FuzzShared *shared = shared_new (sizeof *shared);
  g_autofree char *problem = NULL;
  GString *codes = g_string_new (NULL);
  gint64 start = g_get_monotonic_time ();
  glong max_rss_kib = 0;

  if (control_words == NULL && test->mode != SCRIBBLE_RING_DATA)
    find_control_words ();
  shared->worst_late_us = G_MININT64;
  for (guint batch = first; batch < first + n && problem == NULL; batch += BATCH)
    {
      guint count = MIN (BATCH, first + n - batch);
      struct rusage usage;
      int fds[2], status;
      pid_t pid;

      g_assert_cmpint (pipe (fds), ==, 0);
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          close (fds[0]);
          batch_main (test, shared, seed, batch, count);
        }
      close (fds[1]);
      if (!watch_batch (pid, fds[0], shared, &status, &usage))
        problem = g_strdup_printf ("%s: hung for %" G_GINT64_FORMAT " s in round %d in %s "
                                   "(helper: %s); replay: MPK_FUZZ_SEED=0x%08x MPK_FUZZ_ROUND=%d "
                                   "MPK_FUZZ_ROUNDS=1", test->name, hang_limit_us () / SEC,
                                   shared->round, shared->op[0],
                                   shared->op[1][0] != '\0' ? shared->op[1] : "none", seed,
                                   shared->round);
      else if (WIFEXITED (status) && WEXITSTATUS (status) == FAIL_EXIT && shared->failed)
        problem = g_strdup (shared->failure);
      else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        problem = g_strdup_printf ("%s: the batch child %s %d in round %d in %s (helper: %s); "
                                   "replay: MPK_FUZZ_SEED=0x%08x MPK_FUZZ_ROUND=%d MPK_FUZZ_ROUNDS=1",
                                   test->name,
                                   WIFSIGNALED (status) ? "was killed by signal" : "exited with",
                                   WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status),
                                   shared->round, shared->op[0],
                                   shared->op[1][0] != '\0' ? shared->op[1] : "none", seed,
                                   shared->round);
      close (fds[0]);
      max_rss_kib = MAX (max_rss_kib, usage.ru_maxrss);
      memset (shared->op, 0, sizeof shared->op);
    }

  for (int c = 0; c < N_CODES; c++)
    if (shared->errors[c] > 0)
      g_string_append_printf (codes, " %s=%" G_GUINT64_FORMAT, code_names[c], shared->errors[c]);
  g_test_message ("%s: seed 0x%08x, rounds %u-%u: %" G_GUINT64_FORMAT " rounds done, %"
                  G_GUINT64_FORMAT " scribbles, %" G_GUINT64_FORMAT " helpers (%" G_GUINT64_FORMAT
                  " killed inside a call), %" G_GUINT64_FORMAT " calls: %" G_GUINT64_FORMAT " ok (%" G_GUINT64_FORMAT " items out), errors:%s; "
                  "%" G_GUINT64_FORMAT " rounds with PROTOCOL; worst lateness %" G_GINT64_FORMAT
                  " us; child max RSS %ld KiB; %.2f s",
                  test->name, seed, first, first + n - 1, shared->rounds, shared->scribbles,
                  shared->helpers, shared->helper_deaths, shared->calls, shared->ok, shared->items_out, codes->str,
                  shared->broken, shared->worst_late_us, max_rss_kib,
                  (g_get_monotonic_time () - start) / 1e6);
  g_string_free (codes, TRUE);
  munmap (shared, sizeof *shared);
  if (problem != NULL)
    {
      g_test_fail_printf ("%s", problem);
      return;
    }
  /* Allocation stays bounded: nothing near a 1 GiB default limit was taken
   * (under valgrind the figure is valgrind's own). */
  if (!under_valgrind ())
    g_assert_cmpint (max_rss_kib, <, 512 * 1024);
}

/* --- finding the control block's words ------------------------------------------ */

/* Marks the 8-byte words of @map that differ from @before, then updates @before. */
static void
look (const guint8 *map,
      guint8       *before,
      gboolean     *changed,
      gsize         size)
{
  for (gsize o = 0; o < size; o += 8)
    if (memcmp (map + o, before + o, 8) != 0)
      changed[o / 8] = TRUE;
  memcpy (before, map, size);
}

/* Looks once child @pid sleeps (in its futex wait: it has counted itself as
 * a waiter), or after 2 s. */
static void
look_when_asleep (pid_t         pid,
                  const guint8 *map,
                  guint8       *before,
                  gboolean     *changed,
                  gsize         size)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  gint64 limit = g_get_monotonic_time () + 2 * SEC * (under_valgrind () ? 20 : 1);

  while (g_get_monotonic_time () < limit)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      if (g_file_get_contents (path, &stat, NULL, NULL) &&
          (paren = strrchr (stat, ')')) != NULL && paren[1] == ' ' && paren[2] == 'S')
        break;
      sched_yield ();
    }
  look (map, before, changed, size);
}

static void
unref_value (GVariant *value)
{
  if (value != NULL)
    g_variant_unref (value);
}

typedef enum { CHILD_GET, CHILD_PUT, CHILD_JOIN } ChildCall;

/* A forked child that makes one call (waiting up to 1 s), or dies at the
 * @countdown-th crash point of it. */
static pid_t
child_call (MpkQueue  *queue,
            ChildCall  call,
            int        countdown)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(GError) error = NULL;

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      mpk__crash_countdown = countdown;
      if (call == CHILD_GET)
        unref_value (mpk_queue_get (queue, SEC, &error));
      else if (call == CHILD_PUT)
        mpk_queue_put_bytes (queue, "child", 5, SEC, &error);
      else
        mpk_queue_join (queue, SEC, &error);
      _exit (0);
    }
  return pid;
}

static void
reap (pid_t pid)
{
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
}

/* Empties @queue and finishes every task (a dead child's too). */
static void
drain (MpkQueue *queue)
{
  GVariant *value;

  while ((value = mpk_queue_get (queue, MPK_NO_WAIT, NULL)) != NULL)
    g_variant_unref (value);
  while (mpk_queue_task_done (queue, NULL))
    ;
}

/* The control block's words that puts, gets, task_dones, waits and deaths
 * inside them change, minus the mutexes (found on a fresh queue by their
 * initial image, which a robust process-shared error-checking mutex has). */
static void
find_control_words (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkQueue) queue = mpk_queue_new_full (0, TRUE, 4096, &error);
  g_autofree guint8 *before = NULL;
  g_autofree gboolean *changed = NULL;
  g_autoptr(GString) shown = g_string_new (NULL);
  GArray *mutexes = g_array_new (FALSE, FALSE, sizeof (gsize));
  pthread_mutexattr_t attr;
  pthread_mutex_t fresh;
  guint8 *map, *big;
  gsize map_size, size;

  g_assert_no_error (error);
  map = mpk__queue_get_shared_for_testing (queue, &map_size);
  size = map_size - mpk_queue_get_buffer_size (queue);
  before = g_memdup2 (map, size);
  changed = g_new0 (gboolean, size / 8);

  memset (&fresh, 0, sizeof fresh);
  pthread_mutexattr_init (&attr);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  g_assert_cmpint (pthread_mutex_init (&fresh, &attr), ==, 0);
  pthread_mutexattr_destroy (&attr);
  for (gsize o = 0; o + sizeof fresh <= size; o += 8)
    if (memcmp (map + o, &fresh, sizeof fresh) == 0)
      g_array_append_val (mutexes, o);
  pthread_mutex_destroy (&fresh);
  g_assert_cmpuint (mutexes->len, >=, 1);

  g_assert_true (mpk_queue_put_bytes (queue, "a", 1, 0, NULL));
  look (map, before, changed, size);
  g_assert_true (mpk_queue_put (queue, g_variant_new_string ("b"), 0, NULL));
  big = g_malloc0 (8192);
  g_assert_true (mpk_queue_put_bytes (queue, big, 3000, 0, NULL));   /* three chunks */
  look (map, before, changed, size);
  drain (queue);
  look (map, before, changed, size);
  g_assert_true (mpk_queue_put_bytes (queue, "t", 1, 0, NULL));
  g_assert_true (mpk_queue_task_done (queue, NULL));                 /* done before taken */
  drain (queue);
  look (map, before, changed, size);
  g_assert_false (mpk_queue_put_bytes (queue, big, 8192, 0, NULL));  /* abandoned half-way */
  look (map, before, changed, size);
  g_assert_true (mpk_queue_put_bytes (queue, "c", 1, 0, NULL));
  mpk_queue_set_max_message_size (queue, 0);                          /* dropped by get */
  g_assert_null (mpk_queue_get_bytes (queue, 0, NULL));
  mpk_queue_set_max_message_size (queue, MAX_MESSAGE);
  look (map, before, changed, size);

  /* Waiters: each signal word moves while a child waits and another wakes it. */
  {
    pid_t pid = child_call (queue, CHILD_GET, 0);

    look_when_asleep (pid, map, before, changed, size);
    g_assert_true (mpk_queue_put_bytes (queue, "d", 1, 0, NULL));
    reap (pid);
    look (map, before, changed, size);
    drain (queue);
    while (mpk_queue_put_bytes (queue, big, 900, 0, NULL))
      ;
    while (mpk_queue_put_bytes (queue, "f", 1, 0, NULL))
      ;                                                                 /* full */
    look (map, before, changed, size);
    pid = child_call (queue, CHILD_PUT, 0);
    look_when_asleep (pid, map, before, changed, size);
    unref_value (mpk_queue_get (queue, 0, NULL));
    reap (pid);
    look (map, before, changed, size);
    pid = child_call (queue, CHILD_JOIN, 0);
    look_when_asleep (pid, map, before, changed, size);
    drain (queue);
    reap (pid);
    look (map, before, changed, size);
  }

  /* Deaths inside a put and a get leave their journals; the repair moves more. */
  reap (child_call (queue, CHILD_PUT, 3));   /* queue.put.committed */
  look (map, before, changed, size);
  g_assert_true (mpk_queue_put_bytes (queue, "e", 1, 0, NULL));
  look (map, before, changed, size);
  reap (child_call (queue, CHILD_GET, 3));   /* queue.get.committed */
  look (map, before, changed, size);
  drain (queue);
  look (map, before, changed, size);

  control_words = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (gsize o = 0; o < size; o += 8)
    {
      gboolean in_mutex = FALSE;

      for (guint m = 0; m < mutexes->len; m++)
        {
          gsize at = g_array_index (mutexes, gsize, m);

          in_mutex |= o + 8 > at && o < at + sizeof (pthread_mutex_t);
        }
      if (changed[o / 8] && !in_mutex)
        {
          g_array_append_val (control_words, o);
          g_string_append_printf (shown, " %" G_GSIZE_FORMAT, o);
        }
    }
  g_test_message ("control block of %" G_GSIZE_FORMAT " bytes: %u mutexes (skipped), "
                  "%u words changed by the library, at:%s", size, mutexes->len,
                  control_words->len, shown->str);
  g_assert_cmpuint (control_words->len, >=, 4);
  g_array_free (mutexes, TRUE);
  g_free (big);
}

int
main (int   argc,
      char *argv[])
{
  static const FuzzTest ring_data = { "ring-data", SCRIBBLE_RING_DATA, 1400, 0x1111 };
  static const FuzzTest control = { "control-words", SCRIBBLE_CONTROL_WORDS, 1400, 0x2222 };
  static const FuzzTest mixed = { "mixed", SCRIBBLE_MIXED, 1000, 0x3333 };
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/queue-fuzz/ring-data", &ring_data, test_fuzz);
  g_test_add_data_func ("/queue-fuzz/control-words", &control, test_fuzz);
  g_test_add_data_func ("/queue-fuzz/mixed", &mixed, test_fuzz);
  rc = g_test_run ();
  g_clear_pointer (&control_words, g_array_unref);
  return rc;
}
