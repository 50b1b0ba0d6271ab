/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-robust.c: processes killed by SIGKILL inside the critical sections of
 * Queue, JoinableQueue and Lock (Python leaves such a lock held forever and a
 * queue with half a frame in it: pain points PP1-PP3 in section 3 of
 * ../shared/research/anchor-multiprocessing.md, and its gap G4). The victims die
 * at the library's crash points or at random moments; the survivors must never
 * hang past their timeouts, never get a torn or duplicated item, and lose no
 * item whose put returned, except the one a dying consumer was taking.
 *
 * The crash points (MPK__CRASH_POINT in lib/) and what a death there must
 * leave behind:
 *   queue.put.locked        producer holds the producer lock, nothing written:
 *                           its item is NOT delivered
 *   queue.put.copied        item bytes in the buffer, not committed: NOT delivered
 *   queue.put.chunk         streamed item (> buffer/4), a non-final piece
 *                           committed: NOT delivered, and never delivered torn
 *   queue.put.committed     item committed, lock still held: delivered exactly once
 *   queue.get.locked        consumer holds the consumer lock, took nothing: nothing lost
 *   queue.get.copied        item copied out, not removed: it stays, another consumer gets it
 *   queue.get.committed     item removed, not yet returned: that one item is gone
 *   queue.get.chunk         streamed item partly consumed: that one item is gone
 *                           (its rest is skipped, never handed out)
 *   queue.task_done.counted (JoinableQueue) the unfinished count was decremented,
 *                           the holder table not yet: the task counts as done
 *   lock.acquired           a Lock/RLock was just acquired: the next acquirer gets
 *                           it with owner_died = TRUE
 * In every case qsize() is exact again once the queue is quiescent, the
 * queue's lock recoveries are counted by mpk_queue_get_n_recoveries(), and a
 * process asleep waiting for the victim (for data, room or the last task_done)
 * is woken, not left to sleep out its timeout.
 *
 * The /robust/queue/growing/ paths run the same two loops on the growing
 * buffer of an unbounded queue (MPK_QUEUE_BUFFER_GROWS) with items of up to
 * 200 KiB, so that deaths happen while the producers are in its reserve.
 *
 * Every child is daemonic (it dies with the test), joined with a timeout and
 * killed on failure; every queue operation has a timeout. The rounds draw their
 * parameters from a seed (g_test_rand_int); a failure names it and the round:
 * MPK_ROBUST_SEED=S MPK_ROBUST_ROUND=N replays from there, MPK_ROBUST_VERBOSE=1
 * prints every round. MPK_VALGRIND scales the rounds down ~10x; MPK_SOAK=N
 * runs N times as many (`make soak`).
 *
 * The same SIGKILL-anywhere idea for the other objects a process can die
 * holding: a pipe whose sender or receiver is killed mid-stream (the survivor
 * gets every whole message before it and then EOF, TRUNCATED or PEER_CLOSED,
 * never a torn message, a hang or SIGPIPE), a Manager client killed in the
 * middle of its calls (the server and the other clients carry on, the list it
 * appended to holds exactly the appends that happened, its connection is
 * closed), and a Manager's owner killed at any moment, even while it starts
 * the server (no server process and no mpk-manager-* folder are left).
 *
 * Time limits: a survivor waits with long timeouts (tens of seconds) and a
 * check that something happened "at once" only asks that it took less than
 * half of that timeout, so a loaded machine cannot fail a test; the measured
 * times are printed with g_test_message(). */

#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "test-util.h"

/* The library's crash points (lib/core/mpk-core-private.h): while the countdown is > 0,
 * each crash point decrements it; the one that reaches 0 writes its name into
 * mpk__crash_note (64 bytes) and SIGKILLs its own process. Set in children only. */
extern int   mpk__crash_countdown;
extern char *mpk__crash_note;
extern gpointer mpk__queue_get_shared_for_testing (MpkQueue *queue,
                                                   gsize    *size);
#define CRASH_NOTE_SIZE 64

#define SEC G_USEC_PER_SEC
#define MS  (G_USEC_PER_SEC / 1000)

/* --- common helpers --------------------------------------------------------- */

/* MPK_SOAK=N: the loops run N times longer (make soak); 1 by default. */
static guint
soak_factor (void)
{
  const char *s = g_getenv ("MPK_SOAK");
  guint64 n = s != NULL && *s != '\0' ? g_ascii_strtoull (s, NULL, 10) : 1;

  return (guint) CLAMP (n, 1, 10000);
}

/* Loop counts, times MPK_SOAK, scaled down ~10x under valgrind. */
static guint
scaled (guint n)
{
  n *= soak_factor ();
  return under_valgrind () ? MAX (n / 10, 1) : n;
}

/* Time limits on this machine: valgrind runs every process ~10-50x slower. */
static gint64
slack (gint64 us)
{
  return under_valgrind () ? us * 10 : us;
}

/* The base seed of a test: MPK_ROBUST_SEED replays one, else GTest's seeded
 * random numbers (so --seed reproduces a run too). */
static guint32
base_seed (void)
{
  const char *s = g_getenv ("MPK_ROBUST_SEED");

  if (s != NULL && *s != '\0')
    return (guint32) g_ascii_strtoull (s, NULL, 0);
  return (guint32) g_test_rand_int ();
}

/* The first round of a loop: MPK_ROBUST_ROUND replays from the one that failed. */
static guint
first_round (void)
{
  const char *s = g_getenv ("MPK_ROBUST_ROUND");

  return s != NULL && *s != '\0' ? (guint) g_ascii_strtoull (s, NULL, 10) : 0;
}

static guint32
fnv1a (const guint8 *data,
       gsize         len)
{
  guint32 h = 0x811c9dc5u;

  for (gsize i = 0; i < len; i++)
    h = (h ^ data[i]) * 0x01000193u;
  return h;
}

/* Starts @func (@data) in a daemonic child: should the test process die, the
 * kernel sends its children SIGTERM, so nothing is left running. */
static MpkProcess *
start_child (const char     *name,
             MpkProcessFunc  func,
             gpointer        data)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *process;
  gboolean ok;

  process = mpk_process_new (name, func, data, NULL);
  g_assert_nonnull (process);
  mpk_process_set_daemon (process, TRUE);
  ok = mpk_process_start (process, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return process;
}

/* Joins @process by @deadline (monotonic); FALSE if it is still running. */
static gboolean
join_by (MpkProcess *process,
         gint64      deadline)
{
  return mpk_process_join (process, MAX (deadline - g_get_monotonic_time (), 0));
}

/* Kills @process if it still runs and reaps it. */
static void
kill_and_reap (MpkProcess *process)
{
  if (process == NULL)
    return;
  if (!mpk_process_join (process, MPK_NO_WAIT))
    {
      mpk_process_kill (process, NULL);
      if (!mpk_process_join (process, 10 * SEC))
        g_printerr ("test-robust: process %s (pid %d) survives SIGKILL\n",
                    mpk_process_get_name (process), (int) mpk_process_get_pid (process));
    }
}

/* Arms the crash countdown in a child: it dies at the @countdown-th crash point. */
static void
arm_crash (char *note,
           int   countdown)
{
  if (countdown <= 0)
    return;
  mpk__crash_note = note;
  mpk__crash_countdown = countdown;
}

/* Kill statistics per crash point (or "async" for mpk_process_kill). */
static void
count_kill (GHashTable *kills,
            const char *where)
{
  gpointer n = g_hash_table_lookup (kills, where);

  g_hash_table_replace (kills, g_strdup (where), GUINT_TO_POINTER (GPOINTER_TO_UINT (n) + 1));
}

static char *
format_kills (GHashTable *kills)
{
  g_autofree gpointer *keys = NULL;
  GString *s = g_string_new (NULL);
  guint n;

  keys = g_hash_table_get_keys_as_array (kills, &n);
  qsort (keys, n, sizeof (gpointer), compare_strings);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s=%u", i > 0 ? " " : "", (char *) keys[i],
                            GPOINTER_TO_UINT (g_hash_table_lookup (kills, keys[i])));
  return g_string_free (s, FALSE);
}

/* --- the records of a queue round ------------------------------------------- */

#define MAX_PRODUCERS 3
#define MAX_CONSUMERS 3
#define MAX_WORKERS   (MAX_PRODUCERS + MAX_CONSUMERS)
#define MAX_SEQ       4096       /* items per producer, at most */
#define STOP_ID       0xfffeu    /* producer id of the parent's STOP items */
#define PROBE_ID      0xfffdu    /* producer id of the parent's final probe */
#define BYTES_MAGIC   0x54534252u /* "RBST": a bytes item's first word */
#define BYTES_HEADER  16         /* magic, producer, seq, checksum */

#define SMALL_MIN     8
#define SMALL_MAX     200
#define STREAM_BUFFER ((gsize) 64 * 1024)
#define BIG_MIN       (20 * 1024)
#define BIG_MAX       (40 * 1024)
/* Growing-buffer rounds: most items this big, so that a few dozen of them
 * run past the buffer's home MiB into its reserve while consumers lag, and
 * yet each is one chunk (under a quarter of the home MiB). */
#define GROW_MIN      (100 * 1024)
#define GROW_MAX      (200 * 1024)

/* Survivors wait long: on a loaded machine a process may not run for seconds,
 * and a timeout that expires then is not the library's fault. */
#define PUT_TIMEOUT   slack (20 * SEC) /* a survivor's put */
#define GET_TIMEOUT   slack (10 * SEC) /* a consumer's get; STOP items end the consumers */
#define DRAIN_TIMEOUT MPK_NO_WAIT /* the parent's drain, once all is quiescent */
#define ROUND_LIMIT   (60 * SEC) /* a whole round; past it, a hang */
#define OVERRUN_LIMIT (5 * SEC)  /* how long past its timeout an operation may return */

enum { PUT_NONE, PUT_TRYING, PUT_OK, PUT_FAILED };

/* In shared memory, zeroed before each round. */
typedef struct
{
  char   note[CRASH_NOTE_SIZE];  /* the victim's crash point writes its name here */
  gint   done;                   /* parent: the producers have finished */
  gint   stop;                   /* parent: producers, stop now (random kills) */
  gint   stops_taken;            /* consumers: STOP items taken */
  gint   torn;                   /* consumers: items that failed their checks */
  gint   out_of_order;           /* consumers: items behind their producer's last one */
  gint   n_problems;             /* workers: unexpected results */
  gint   problem_claimed;        /* the first worker with a problem writes it */
  char   problem[512];
  gint   ops[MAX_WORKERS];       /* each worker: operations completed */
  gint64 overrun_us[MAX_WORKERS];/* each worker: worst time past an op's timeout */
  gint   put_state[MAX_PRODUCERS][MAX_SEQ];  /* producer: PUT_* for each item */
  gint   delivered[MAX_PRODUCERS][MAX_SEQ];  /* consumers and parent: times taken */
} Shared;

typedef enum
{
  KILL_AT_CRASH_POINT,   /* the victim arms its countdown */
  KILL_ASYNC,            /* the parent SIGKILLs the victim at a random moment */
} KillMode;

typedef struct
{
  guint32  seed;
  guint    index;
  KillMode mode;
  gboolean joinable;
  gboolean as_bytes;          /* put_bytes items (else "(uuuuay)" variants) */
  gboolean streamed;          /* most items > buffer/4 */
  gboolean growing;           /* MPK_QUEUE_BUFFER_GROWS, most items GROW_MIN-GROW_MAX */
  gint64   maxsize;
  gsize    buffer_size;
  guint    n_producers;
  guint    n_consumers;
  guint    n_items;           /* per producer */
  gboolean victim_is_consumer;
  guint    victim;            /* its producer or consumer number */
  int      countdown;         /* KILL_AT_CRASH_POINT */
  guint    kill_delay_us;     /* KILL_ASYNC */
} Round;

typedef struct
{
  const Round *round;
  MpkQueue    *queue;
  Shared      *shared;
  guint        id;            /* producer or consumer number */
  guint        slot;          /* its index in Shared.ops */
  int          countdown;
} Worker;

typedef struct
{
  gboolean killed;
  char     note[CRASH_NOTE_SIZE];
  guint    n_recoveries;
  guint64  abandoned;
  gint64   phase_us[4];       /* started, producers joined, consumers joined, checked */
  gboolean in_reserve;        /* a growing buffer's producers went past its home MiB */
  GString *problems;
} Outcome;

static char *
describe_round (const Round *r)
{
  return g_strdup_printf ("seed %u round %u: %s%s queue, maxsize %" G_GINT64_FORMAT
                          ", buffer %" G_GSIZE_FORMAT "%s, %s items, %u producers x %u items, "
                          "%u consumers, victim %s %u, %s %d",
                          r->seed, r->index, r->joinable ? "joinable " : "",
                          r->streamed ? "streamed" : r->growing ? "big" : "small", r->maxsize,
                          r->buffer_size, r->growing ? " (grows)" : "",
                          r->as_bytes ? "bytes" : "variant", r->n_producers, r->n_items,
                          r->n_consumers, r->victim_is_consumer ? "consumer" : "producer",
                          r->victim,
                          r->mode == KILL_AT_CRASH_POINT ? "countdown" : "kill after us",
                          r->mode == KILL_AT_CRASH_POINT ? r->countdown : (int) r->kill_delay_us);
}

/* A worker reports what went wrong; the first report is kept in full. */
G_GNUC_PRINTF (2, 3) static void
shared_problem (Shared     *sh,
                const char *format,
                ...)
{
  va_list args;

  g_atomic_int_inc (&sh->n_problems);
  if (!g_atomic_int_compare_and_exchange (&sh->problem_claimed, 0, 1))
    return;
  va_start (args, format);
  g_vsnprintf (sh->problem, sizeof sh->problem, format, args);
  va_end (args);
}

static void
note_overrun (Shared *sh,
              guint   slot,
              gint64  start,
              gint64  timeout)
{
  gint64 over = g_get_monotonic_time () - start - timeout;

  if (over > sh->overrun_us[slot])
    sh->overrun_us[slot] = over;
}

/* The part of the buffer an item must fit a quarter of to travel whole: a
 * growing buffer's home MiB. */
static gsize
home_size (const Round *r)
{
  return r->buffer_size != MPK_QUEUE_BUFFER_GROWS ? r->buffer_size : MPK_QUEUE_DEFAULT_BUFFER_SIZE;
}

/* Whether a growing buffer's producers ever wrote past its home MiB: the
 * reserve's first page is then in memory (the reserve's first 2 MiB are
 * never given back). The ring's bytes start after a control block of less
 * than a MiB, and the ring is a whole number of MiB. */
static gboolean
reserve_used (MpkQueue *queue)
{
  gsize size, page = (gsize) sysconf (_SC_PAGESIZE);
  guint8 *map = mpk__queue_get_shared_for_testing (queue, &size);
  gsize first = (size & (MPK_QUEUE_DEFAULT_BUFFER_SIZE - 1)) + MPK_QUEUE_DEFAULT_BUFFER_SIZE;
  unsigned char resident = 0;

  if (size <= first + page || mincore (map + first, page, &resident) != 0)
    return FALSE;
  return (resident & 1) != 0;
}

/* The length of item @seq of producer @producer: a function of the round. */
static gsize
item_length (const Round *r,
             guint        producer,
             guint        seq)
{
  guint32 h = mix32 (r->seed ^ mix32 (producer * 7919u + seq * 104729u + 1));

  if (r->streamed && h % 10 < 7)
    return BIG_MIN + (h >> 8) % (BIG_MAX - BIG_MIN + 1);
  if (r->growing && h % 10 < 7)
    return GROW_MIN + (h >> 8) % (GROW_MAX - GROW_MIN + 1);
  return SMALL_MIN + (h >> 8) % (SMALL_MAX - SMALL_MIN + 1);
}

/* The content of an item: pseudo-random bytes that differ for every item, so
 * pieces of two items glued together never pass the checks. */
static void
fill_payload (guint8  *buf,
              gsize    len,
              guint32  seed,
              guint32  producer,
              guint32  seq)
{
  guint32 state = mix32 (seed ^ (producer * 0x9e3779b1u) ^ (seq * 0x85ebca77u));

  for (gsize i = 0; i < len; i++)
    {
      if (i % 4 == 0)
        state = mix32 (state + (guint32) i + 1);
      buf[i] = (guint8) (state >> (8 * (i % 4)));
    }
}

/* Puts item @seq of @producer (or a STOP/probe item, whose payload is empty). */
static gboolean
put_item (const Round *r,
          MpkQueue    *queue,
          guint32      producer,
          guint32      seq,
          gint64       timeout,
          GError     **error)
{
  gsize len = producer < MAX_PRODUCERS ? item_length (r, producer, seq) : 0;
  g_autofree guint8 *buf = g_malloc (BYTES_HEADER + len);
  guint8 *payload = buf + BYTES_HEADER;
  guint32 header[4];
  gboolean ok;

  fill_payload (payload, len, r->seed, producer, seq);
  if (r->as_bytes)
    {
      header[0] = BYTES_MAGIC;
      header[1] = producer;
      header[2] = seq;
      header[3] = fnv1a (payload, len);
      memcpy (buf, header, sizeof header);
      ok = mpk_queue_put_bytes (queue, buf, BYTES_HEADER + len, timeout, error);
    }
  else
    {
      GVariant *item = g_variant_new ("(uuuu@ay)", producer, seq, (guint32) len,
                                      fnv1a (payload, len),
                                      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                                 payload, len, 1));
      g_variant_ref_sink (item);
      ok = mpk_queue_put (queue, item, timeout, error);
      g_variant_unref (item);
    }
  return ok;
}

typedef struct
{
  guint32 producer;
  guint32 seq;
} ItemId;

/* Checks an item taken from the queue. Returns FALSE with @why when it is not
 * exactly an item some producer of this round made. */
static gboolean
check_item (const Round *r,
            GVariant    *v,
            GBytes      *b,
            ItemId      *id,
            char       **why)
{
  g_autoptr(GVariant) array = NULL;
  const guint8 *data, *payload;
  g_autofree guint8 *expected = NULL;
  guint32 len, csum;
  gsize size;

  if (r->as_bytes)
    {
      guint32 header[4];

      if (v != NULL)
        {
          if (!g_variant_is_of_type (v, G_VARIANT_TYPE_BYTESTRING))
            {
              *why = g_strdup_printf ("a bytes item came back as type %s",
                                      g_variant_get_type_string (v));
              return FALSE;
            }
          data = g_variant_get_fixed_array (v, &size, 1);
        }
      else
        data = g_bytes_get_data (b, &size);
      if (size < BYTES_HEADER)
        {
          *why = g_strdup_printf ("a bytes item of %" G_GSIZE_FORMAT " bytes", size);
          return FALSE;
        }
      memcpy (header, data, sizeof header);
      if (header[0] != BYTES_MAGIC)
        {
          *why = g_strdup_printf ("a bytes item without the magic (0x%08x)", header[0]);
          return FALSE;
        }
      id->producer = header[1];
      id->seq = header[2];
      csum = header[3];
      payload = data + BYTES_HEADER;
      len = size - BYTES_HEADER;
    }
  else
    {
      if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("(uuuuay)")))
        {
          *why = g_strdup_printf ("an item of type %s", g_variant_get_type_string (v));
          return FALSE;
        }
      g_variant_get (v, "(uuuu@ay)", &id->producer, &id->seq, &len, &csum, &array);
      payload = g_variant_get_fixed_array (array, &size, 1);
      if (size != len)
        {
          *why = g_strdup_printf ("item %u/%u says %u bytes and holds %" G_GSIZE_FORMAT,
                                  id->producer, id->seq, len, size);
          return FALSE;
        }
    }

  if (id->producer == STOP_ID || id->producer == PROBE_ID)
    {
      if (len != 0 || id->seq != 0)
        {
          *why = g_strdup_printf ("a control item %x with seq %u and %u bytes",
                                  id->producer, id->seq, len);
          return FALSE;
        }
      return TRUE;
    }
  if (id->producer >= r->n_producers || id->seq >= r->n_items)
    {
      *why = g_strdup_printf ("an unknown item %u/%u (%u bytes)", id->producer, id->seq, len);
      return FALSE;
    }
  if (len != item_length (r, id->producer, id->seq))
    {
      *why = g_strdup_printf ("item %u/%u has %u bytes, not %" G_GSIZE_FORMAT,
                              id->producer, id->seq, len,
                              item_length (r, id->producer, id->seq));
      return FALSE;
    }
  if (fnv1a (payload, len) != csum)
    {
      *why = g_strdup_printf ("item %u/%u (%u bytes) is torn: checksum 0x%08x, not 0x%08x",
                              id->producer, id->seq, len, fnv1a (payload, len), csum);
      return FALSE;
    }
  expected = g_malloc (MAX (len, 1));
  fill_payload (expected, len, r->seed, id->producer, id->seq);
  if (memcmp (expected, payload, len) != 0)
    {
      *why = g_strdup_printf ("item %u/%u (%u bytes) has the right checksum, wrong content",
                              id->producer, id->seq, len);
      return FALSE;
    }
  return TRUE;
}

/* Takes one item: get(), or get_bytes() for half of the bytes items.
 * Returns FALSE with @error when nothing came. */
static gboolean
take_item (const Round *r,
           MpkQueue    *queue,
           GRand       *rand,
           gint64       timeout,
           GVariant   **v,
           GBytes     **b,
           GError     **error)
{
  *v = NULL;
  *b = NULL;
  if (r->as_bytes && g_rand_boolean (rand))
    *b = mpk_queue_get_bytes (queue, timeout, error);
  else
    *v = mpk_queue_get (queue, timeout, error);
  return *v != NULL || *b != NULL;
}

/* Records an item taken by a consumer or the parent's drain. @last holds the
 * last sequence number this taker saw from each producer (FIFO per producer). */
static gboolean
record_item (const Round *r,
             Shared      *sh,
             GVariant    *v,
             GBytes      *b,
             gint        *last,
             const char  *who,
             ItemId      *id)
{
  g_autofree char *why = NULL;

  if (!check_item (r, v, b, id, &why))
    {
      g_atomic_int_inc (&sh->torn);
      shared_problem (sh, "%s took %s", who, why);
      return FALSE;
    }
  if (id->producer == STOP_ID)
    {
      g_atomic_int_inc (&sh->stops_taken);
      return TRUE;
    }
  if (id->producer == PROBE_ID)
    return TRUE;
  g_atomic_int_inc (&sh->delivered[id->producer][id->seq]);
  if ((gint) id->seq <= last[id->producer])
    {
      g_atomic_int_inc (&sh->out_of_order);
      shared_problem (sh, "%s took item %u/%u after item %u/%d (FIFO per producer)",
                      who, id->producer, id->seq, id->producer, last[id->producer]);
    }
  last[id->producer] = id->seq;
  return TRUE;
}

/* --- the workers --------------------------------------------------------------- */

static int
producer_main (gpointer data)
{
  Worker *w = data;
  const Round *r = w->round;
  Shared *sh = w->shared;

  arm_crash (sh->note, w->countdown);
  for (guint seq = 0; seq < r->n_items && !g_atomic_int_get (&sh->stop); seq++)
    {
      g_autoptr(GError) error = NULL;
      gint64 start;
      gboolean ok;

      g_atomic_int_set (&sh->put_state[w->id][seq], PUT_TRYING);
      start = g_get_monotonic_time ();
      ok = put_item (r, w->queue, w->id, seq, PUT_TIMEOUT, &error);
      note_overrun (sh, w->slot, start, PUT_TIMEOUT);
      g_atomic_int_set (&sh->put_state[w->id][seq], ok ? PUT_OK : PUT_FAILED);
      if (!ok)
        {
          shared_problem (sh, "producer %u: put of item %u (%" G_GSIZE_FORMAT " bytes) failed "
                          "after %d ms: %s (code %d); qsize() = %" G_GINT64_FORMAT,
                          w->id, seq, item_length (r, w->id, seq),
                          (int) ((g_get_monotonic_time () - start) / MS),
                          error ? error->message : "no error set", error ? error->code : -1,
                          mpk_queue_qsize (w->queue));
          return 1;
        }
      g_atomic_int_inc (&sh->ops[w->slot]);
    }
  return 0;
}

/* Takes items until a STOP item, or until the queue stays empty after the
 * producers have finished (a STOP item may have died with a consumer). */
static int
consumer_main (gpointer data)
{
  Worker *w = data;
  const Round *r = w->round;
  Shared *sh = w->shared;
  g_autoptr(GRand) rand = g_rand_new_with_seed (r->seed ^ mix32 (w->id + 77));
  g_autofree char *who = g_strdup_printf ("consumer %u", w->id);
  gint last[MAX_PRODUCERS] = { -1, -1, -1 };
  gint64 give_up = g_get_monotonic_time () + slack (ROUND_LIMIT);

  arm_crash (sh->note, w->countdown);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = NULL;
      g_autoptr(GBytes) b = NULL;
      gboolean done = g_atomic_int_get (&sh->done);
      gint64 start = g_get_monotonic_time ();
      ItemId id;

      if (!take_item (r, w->queue, rand, GET_TIMEOUT, &v, &b, &error))
        {
          note_overrun (sh, w->slot, start, GET_TIMEOUT);
          if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY)
              && !g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT))
            {
              shared_problem (sh, "%s: get failed: %s (code %d)", who,
                              error ? error->message : "no error set", error ? error->code : -1);
              return 1;
            }
          /* Waiting the whole timeout with a complete item in the queue is
           * a lost wake-up: nothing in these rounds holds a consumer up that long. */
          if (g_get_monotonic_time () - start >= GET_TIMEOUT && mpk_queue_qsize (w->queue) > 0)
            {
              shared_problem (sh, "%s: get waited its whole %d s timeout (%s) while "
                              "qsize() = %" G_GINT64_FORMAT ": a lost wake-up", who,
                              (int) (GET_TIMEOUT / SEC), error->message,
                              mpk_queue_qsize (w->queue));
              return 1;
            }
          if (done)
            return 0;
          if (g_get_monotonic_time () > give_up)
            {
              shared_problem (sh, "%s: no STOP item in %d s", who, (int) (slack (ROUND_LIMIT) / SEC));
              return 3;
            }
          continue;
        }
      note_overrun (sh, w->slot, start, GET_TIMEOUT);
      g_atomic_int_inc (&sh->ops[w->slot]);
      if (!record_item (r, sh, v, b, last, who, &id))
        return 1;
      if (r->joinable && !mpk_queue_task_done (w->queue, &error))
        {
          shared_problem (sh, "%s: task_done failed: %s", who, error->message);
          return 1;
        }
      if (id.producer == STOP_ID)
        return 0;
    }
}

/* --- one round: start, kill, stop, drain, check --------------------------------- */

static gboolean
is_point (const char *note,
          const char *name)
{
  return strcmp (note, name) == 0;
}

/* Does a death at @note leave one lock of the queue held? */
static gboolean
point_holds_queue_lock (const char *note)
{
  return g_str_has_prefix (note, "queue.put.") || g_str_has_prefix (note, "queue.get.");
}

G_GNUC_PRINTF (2, 3) static void
problem (Outcome    *out,
         const char *format,
         ...)
{
  va_list args;

  va_start (args, format);
  g_string_append (out->problems, "\n  ");
  g_string_append_vprintf (out->problems, format, args);
  va_end (args);
}

/* Takes the remaining items in the parent, then puts and gets a probe item,
 * which takes both of the queue's locks (recovering any dead holder's). */
static void
drain_and_probe (const Round *r,
                 MpkQueue    *queue,
                 Shared      *sh,
                 Outcome     *out)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (r->seed ^ 0x5eed);
  gint last[MAX_PRODUCERS] = { -1, -1, -1 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) b = NULL;
  guint timeouts = 0;
  ItemId id;

  for (guint n = 0; ; n++)
    {
      gint64 start = g_get_monotonic_time ();

      g_clear_pointer (&v, g_variant_unref);
      g_clear_pointer (&b, g_bytes_unref);
      g_clear_error (&error);
      if (!take_item (r, queue, rand, DRAIN_TIMEOUT, &v, &b, &error))
        {
          if (g_get_monotonic_time () - start - DRAIN_TIMEOUT > slack (OVERRUN_LIMIT))
            problem (out, "drain: get(%d ms) took %d ms", (int) (DRAIN_TIMEOUT / MS),
                     (int) ((g_get_monotonic_time () - start) / MS));
          if (g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY))
            break;
          /* TIMED_OUT: the rest of a streamed item a dead producer never
           * wrote; what follows it (nothing, or more) is taken next. */
          if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT) || ++timeouts > 3)
            {
              problem (out, "drain: get failed: %s (code %d)", error->message, error->code);
              break;
            }
          continue;
        }
      if (n > 2 * MAX_PRODUCERS * MAX_SEQ)
        {
          problem (out, "drain: the queue never runs empty");
          break;
        }
      record_item (r, sh, v, b, last, "the parent's drain", &id);
      if (r->joinable && !mpk_queue_task_done (queue, &error))
        problem (out, "drain: task_done failed: %s", error->message);
    }

  g_clear_pointer (&v, g_variant_unref);
  g_clear_pointer (&b, g_bytes_unref);
  g_clear_error (&error);
  if (!put_item (r, queue, PROBE_ID, 0, PUT_TIMEOUT, &error))
    {
      problem (out, "probe: put failed: %s", error->message);
      return;
    }
  if (!take_item (r, queue, rand, PUT_TIMEOUT, &v, &b, &error))
    {
      problem (out, "probe: get failed: %s", error->message);
      return;
    }
  memset (&id, 0, sizeof id);
  if (!record_item (r, sh, v, b, last, "the parent's probe", &id) || id.producer != PROBE_ID)
    problem (out, "probe: got item %x/%u, not the probe", id.producer, id.seq);
  if (r->joinable && !mpk_queue_task_done (queue, &error))
    problem (out, "probe: task_done failed: %s", error->message);
}

/* Compares what the producers put with what was delivered. */
static void
check_deliveries (const Round *r,
                  Shared      *sh,
                  Outcome     *out,
                  gint         stops_put)
{
  gboolean victim_died_in_get = FALSE;
  guint missing = 0, stops_gone, allowed_gone;
  gint64 worst = 0;

  if (out->killed && r->victim_is_consumer)
    {
      /* Async kills: the victim may have taken an item without recording it. */
      victim_died_in_get = r->mode == KILL_ASYNC
                           || is_point (out->note, "queue.get.committed")
                           || is_point (out->note, "queue.get.chunk");
    }

  for (guint p = 0; p < r->n_producers; p++)
    for (guint s = 0; s < r->n_items; s++)
      {
        gint state = sh->put_state[p][s];
        gint n = sh->delivered[p][s];
        gboolean is_victim = out->killed && !r->victim_is_consumer && p == r->victim;

        if (n > 1)
          problem (out, "item %u/%u (%" G_GSIZE_FORMAT " bytes) was delivered %d times",
                   p, s, item_length (r, p, s), n);
        switch (state)
          {
          case PUT_OK:
            if (n == 0)
              {
                missing++;
                if (!victim_died_in_get)
                  problem (out, "item %u/%u (%" G_GSIZE_FORMAT " bytes): put returned TRUE, "
                           "never delivered", p, s, item_length (r, p, s));
                else if (is_point (out->note, "queue.get.chunk")
                         && item_length (r, p, s) <= home_size (r) / 4)
                  problem (out, "item %u/%u (%" G_GSIZE_FORMAT " bytes, not streamed) is "
                           "missing after a death at queue.get.chunk",
                           p, s, item_length (r, p, s));
              }
            break;
          case PUT_TRYING:
            if (!is_victim)
              problem (out, "item %u/%u: its put never returned", p, s);
            else if (r->mode == KILL_ASYNC)
              ;   /* killed before or after the commit: 0 or 1 (checked above) */
            else if (is_point (out->note, "queue.put.committed"))
              {
                if (n != 1)
                  problem (out, "item %u/%u: its producer died at queue.put.committed, "
                           "delivered %d times, expected once", p, s, n);
              }
            else if (is_point (out->note, "queue.put.locked")
                     || is_point (out->note, "queue.put.copied")
                     || is_point (out->note, "queue.put.chunk"))
              {
                if (n != 0)
                  problem (out, "item %u/%u (%" G_GSIZE_FORMAT " bytes): its producer died "
                           "at %s, delivered %d times, expected never",
                           p, s, item_length (r, p, s), out->note, n);
              }
            else
              problem (out, "producer %u died at crash point \"%s\", not one of put's",
                       p, out->note);
            break;
          case PUT_FAILED:
          case PUT_NONE:
            if (n != 0)
              problem (out, "item %u/%u: delivered %d times, its put %s", p, s, n,
                       state == PUT_NONE ? "never started" : "failed");
            break;
          default:
            g_assert_not_reached ();
          }
      }

  stops_gone = MAX (stops_put - g_atomic_int_get (&sh->stops_taken), 0);
  if (g_atomic_int_get (&sh->stops_taken) > stops_put)
    problem (out, "%d STOP items taken, %d put", sh->stops_taken, stops_put);
  /* The parent puts STOP items after an async kill, so only a crash-point
   * death can take one with it. */
  allowed_gone = victim_died_in_get ? 1 : 0;
  if (r->mode == KILL_AT_CRASH_POINT && victim_died_in_get)
    {
      if (missing + stops_gone != 1)
        problem (out, "a consumer died at %s: expected exactly one item gone, "
                 "%u items whose put returned are missing and %u STOP items",
                 out->note, missing, stops_gone);
    }
  else if (missing + stops_gone > allowed_gone)
    problem (out, "%u items whose put returned are missing and %u STOP items gone "
             "(%u allowed)", missing, stops_gone, allowed_gone);

  if (sh->torn > 0)
    problem (out, "%d torn or unknown items", sh->torn);
  if (sh->out_of_order > 0)
    problem (out, "%d items out of their producer's order", sh->out_of_order);
  for (guint i = 0; i < MAX_WORKERS; i++)
    worst = MAX (worst, sh->overrun_us[i]);
  if (worst > slack (OVERRUN_LIMIT))
    problem (out, "an operation returned %d ms after its timeout", (int) (worst / MS));
}

static void
run_round (const Round *r,
           Shared      *sh,
           Outcome     *out)
{
  g_autoptr(GError) error = NULL;
  Worker workers[MAX_WORKERS];
  MpkProcess *producers[MAX_PRODUCERS] = { NULL }, *consumers[MAX_CONSUMERS] = { NULL };
  MpkProcess *victim;
  gint64 deadline = g_get_monotonic_time () + slack (ROUND_LIMIT);
  gboolean hang = FALSE;
  gint stops_put = 0;
  guint n_running = 0;
  MpkQueue *queue;
  guint slot = 0;
  int code;

  memset (sh, 0, sizeof *sh);
  out->killed = FALSE;
  out->note[0] = '\0';
  out->n_recoveries = 0;
  out->abandoned = 0;
  queue = mpk_queue_new_full (r->maxsize, r->joinable, r->buffer_size, &error);
  g_assert_no_error (error);
  g_assert_nonnull (queue);

  for (guint i = 0; i < r->n_consumers; i++, slot++)
    {
      g_autofree char *name = g_strdup_printf ("consumer-%u", i);

      workers[slot] = (Worker) { r, queue, sh, i, slot,
                                 r->mode == KILL_AT_CRASH_POINT && r->victim_is_consumer
                                 && r->victim == i ? r->countdown : 0 };
      consumers[i] = start_child (name, consumer_main, &workers[slot]);
    }
  for (guint i = 0; i < r->n_producers; i++, slot++)
    {
      g_autofree char *name = g_strdup_printf ("producer-%u", i);

      workers[slot] = (Worker) { r, queue, sh, i, slot,
                                 r->mode == KILL_AT_CRASH_POINT && !r->victim_is_consumer
                                 && r->victim == i ? r->countdown : 0 };
      producers[i] = start_child (name, producer_main, &workers[slot]);
    }
  victim = r->victim_is_consumer ? consumers[r->victim] : producers[r->victim];
  out->phase_us[0] = g_get_monotonic_time ();

  if (r->mode == KILL_ASYNC)
    {
      guint victim_slot = r->victim_is_consumer ? r->victim : r->n_consumers + r->victim;
      gint64 wait_until = g_get_monotonic_time () + slack (2 * SEC);

      /* The fault injector may sleep: wait until the victim is busy, then
       * kill it a random moment later. */
      while (g_atomic_int_get (&sh->ops[victim_slot]) == 0
             && g_get_monotonic_time () < wait_until
             && !mpk_process_join (victim, MPK_NO_WAIT))
        g_usleep (50);
      g_usleep (r->kill_delay_us);
      mpk_process_kill (victim, NULL);
      if (!join_by (victim, deadline))
        {
          problem (out, "the victim survived SIGKILL");
          hang = TRUE;
          goto out;
        }
      g_atomic_int_set (&sh->stop, 1);
    }

  for (guint i = 0; i < r->n_producers; i++)
    if (!join_by (producers[i], deadline))
      {
        problem (out, "producer %u still runs after %d s (hang)", i,
                 (int) (slack (ROUND_LIMIT) / SEC));
        hang = TRUE;
        goto out;
      }

  out->phase_us[1] = g_get_monotonic_time ();
  /* One STOP item for each consumer still running, the victim included:
   * should it die taking one, the others still have theirs. (Count first: a
   * consumer that takes the first STOP item exits at once.) */
  g_atomic_int_set (&sh->done, 1);
  for (guint i = 0; i < r->n_consumers; i++)
    n_running += !mpk_process_join (consumers[i], MPK_NO_WAIT);
  for (guint i = 0; i < n_running; i++)
    {
      if (!put_item (r, queue, STOP_ID, 0, PUT_TIMEOUT, &error))
        {
          problem (out, "STOP item: put failed: %s", error->message);
          g_clear_error (&error);
        }
      else
        stops_put++;
    }
  for (guint i = 0; i < r->n_consumers; i++)
    if (!join_by (consumers[i], deadline))
      {
        problem (out, "consumer %u still runs after %d s (hang)", i,
                 (int) (slack (ROUND_LIMIT) / SEC));
        hang = TRUE;
        goto out;
      }

  out->phase_us[2] = g_get_monotonic_time ();
  /* Who died, and where. */
  code = mpk_process_get_exitcode (victim);
  out->killed = code == -SIGKILL;
  memcpy (out->note, sh->note, CRASH_NOTE_SIZE);
  out->note[CRASH_NOTE_SIZE - 1] = '\0';
  if (code != 0 && code != -SIGKILL)
    problem (out, "the victim exited with %d", code);
  if (r->mode == KILL_AT_CRASH_POINT && out->killed != (out->note[0] != '\0'))
    problem (out, "the victim %s, crash note \"%s\"", out->killed ? "was killed" : "lived",
             out->note);
  if (r->mode == KILL_ASYNC && out->note[0] != '\0')
    problem (out, "crash note \"%s\" without a countdown", out->note);
  for (guint i = 0; i < r->n_producers + r->n_consumers; i++)
    {
      MpkProcess *p = i < r->n_consumers ? consumers[i] : producers[i - r->n_consumers];

      if (p != victim && mpk_process_get_exitcode (p) != 0)
        problem (out, "%s exited with %d", mpk_process_get_name (p),
                 mpk_process_get_exitcode (p));
    }

  out->in_reserve = r->growing && reserve_used (queue);
  drain_and_probe (r, queue, sh, out);
  if (mpk_queue_qsize (queue) != 0 || !mpk_queue_empty (queue) || mpk_queue_full (queue))
    problem (out, "quiescent and drained: qsize %" G_GINT64_FORMAT ", empty %d, full %d",
             mpk_queue_qsize (queue), mpk_queue_empty (queue), mpk_queue_full (queue));
  if (r->joinable)
    {
      if (out->killed)
        out->abandoned = mpk_queue_abandon_tasks (queue, mpk_process_get_pid (victim));
      if (mpk_queue_get_unfinished (queue) != 0)
        problem (out, "%" G_GUINT64_FORMAT " unfinished tasks left (%" G_GUINT64_FORMAT
                 " abandoned by the victim)", mpk_queue_get_unfinished (queue), out->abandoned);
      else if (!mpk_queue_join (queue, slack (1 * SEC), &error))
        {
          problem (out, "join failed with no unfinished task: %s", error->message);
          g_clear_error (&error);
        }
    }
  out->n_recoveries = mpk_queue_get_n_recoveries (queue);
  if (r->mode == KILL_AT_CRASH_POINT && out->killed && point_holds_queue_lock (out->note)
      && out->n_recoveries == 0)
    problem (out, "the victim died at %s holding a lock of the queue, "
             "mpk_queue_get_n_recoveries() is 0", out->note);
  check_deliveries (r, sh, out, stops_put);
  out->phase_us[3] = g_get_monotonic_time ();

out:
  if (sh->n_problems > 0)
    problem (out, "%d problem(s) in the children, the first: %s", sh->n_problems, sh->problem);
  if (hang)
    problem (out, "victim crash note \"%s\"", sh->note);
  for (guint i = 0; i < r->n_producers; i++)
    {
      kill_and_reap (producers[i]);
      mpk_process_unref (producers[i]);
    }
  for (guint i = 0; i < r->n_consumers; i++)
    {
      kill_and_reap (consumers[i]);
      mpk_process_unref (consumers[i]);
    }
  mpk_queue_free (queue);
}

/* Draws a round's shape: small items in a 1 MiB or a 4 KiB buffer, or items of
 * 20-40 KiB streamed through 64 KiB; or with @growing, items of up to
 * 200 KiB in a growing buffer (MPK_QUEUE_BUFFER_GROWS); bounded or not;
 * joinable or not. */
static void
draw_round (Round    *r,
            GRand    *rand,
            KillMode  mode,
            gboolean  growing)
{
  int kind = g_rand_int_range (rand, 0, 5);

  r->mode = mode;
  r->growing = growing;
  r->streamed = !growing && kind >= 3;
  r->joinable = g_rand_int_range (rand, 0, 3) == 0;
  r->as_bytes = g_rand_boolean (rand);
  if (growing)
    {
      r->buffer_size = MPK_QUEUE_BUFFER_GROWS;
      /* Mostly unbounded (the case that grows); sometimes bounded by count. */
      r->maxsize = kind < 4 ? 0 : g_rand_int_range (rand, 1, 9);
    }
  else if (r->streamed)
    {
      r->buffer_size = STREAM_BUFFER;
      r->maxsize = g_rand_boolean (rand) ? 0 : g_rand_int_range (rand, 1, 5);
    }
  else
    {
      r->buffer_size = kind == 2 ? 4096 : MPK_QUEUE_DEFAULT_BUFFER_SIZE;
      r->maxsize = g_rand_boolean (rand) ? 0 : g_rand_int_range (rand, 1, 9);
    }
  r->victim_is_consumer = r->index % 2 == 1;
  r->n_producers = g_rand_int_range (rand, 1, MAX_PRODUCERS + 1);
  r->n_consumers = g_rand_int_range (rand, r->victim_is_consumer ? 2 : 1, MAX_CONSUMERS + 1);
  r->victim = g_rand_int_range (rand, 0, r->victim_is_consumer ? r->n_consumers
                                                               : r->n_producers);
  if (mode == KILL_AT_CRASH_POINT)
    {
      /* About 3 crash points per item, more for a streamed one; a countdown
       * past the victim's last point leaves it alive (no kill). */
      guint per_item = r->streamed ? 6 : 3;
      guint items;

      r->n_items = r->streamed ? g_rand_int_range (rand, 3, 9) : g_rand_int_range (rand, 10, 41);
      if (r->victim_is_consumer)
        {
          items = r->n_producers * r->n_items / r->n_consumers + 1;
          per_item += r->joinable ? 1 : 0;
        }
      else
        items = r->n_items;
      r->countdown = g_rand_int_range (rand, 1, per_item * items + 1);
    }
  else
    {
      r->n_items = MAX_SEQ;      /* the parent stops the producers */
      r->kill_delay_us = g_rand_int_range (rand, 0, 3001);
    }
}

static void
run_kill_loop (KillMode  mode,
               gboolean  growing,
               guint     min_kills,
               guint     max_rounds,
               const char *what)
{
  Shared *sh = shared_new (sizeof (Shared));
  g_autoptr(GHashTable) kills = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *summary = NULL;
  guint32 seed = base_seed ();
  guint n_kills = 0, round, recovered = 0, in_reserve = 0;
  gint64 start = g_get_monotonic_time ();
  const char *first = g_getenv ("MPK_ROBUST_ROUND");

  /* MPK_ROBUST_SEED=S MPK_ROBUST_ROUND=N replays from the round that failed. */
  round = first != NULL ? (guint) g_ascii_strtoull (first, NULL, 10) : 0;
  for (; n_kills < min_kills && round < max_rounds; round++)
    {
      g_autoptr(GRand) rand = g_rand_new_with_seed (seed + round);
      Round r = { .seed = seed + round, .index = round };
      Outcome out = { .problems = g_string_new (NULL) };

      gint64 t0 = g_get_monotonic_time ();

      draw_round (&r, rand, mode, growing);
      run_round (&r, sh, &out);
      if (g_getenv ("MPK_ROBUST_VERBOSE") != NULL)
        {
          g_autofree char *desc = describe_round (&r);

          g_printerr ("%s\n    -> %s \"%s\", ms: start %.1f, producers %.1f, consumers %.1f, "
                      "checks %.1f, total %.1f\n", desc, out.killed ? "killed" : "alive",
                      out.note, (out.phase_us[0] - t0) / 1e3,
                      (out.phase_us[1] - out.phase_us[0]) / 1e3,
                      (out.phase_us[2] - out.phase_us[1]) / 1e3,
                      (out.phase_us[3] - out.phase_us[2]) / 1e3,
                      (g_get_monotonic_time () - t0) / 1e3);
        }
      if (out.killed)
        {
          n_kills++;
          count_kill (kills, mode == KILL_ASYNC ? (r.victim_is_consumer ? "async.consumer"
                                                                        : "async.producer")
                                                : out.note);
          recovered += out.n_recoveries > 0;
        }
      in_reserve += out.in_reserve;
      if (out.problems->len > 0)
        {
          g_autofree char *desc = describe_round (&r);

          g_test_fail_printf ("%s: %s (replay with MPK_ROBUST_SEED=%u "
                              "MPK_ROBUST_ROUND=%u), victim %s, crash point \"%s\":%s",
                              what, desc, seed, round, out.killed ? "killed" : "alive",
                              out.note, out.problems->str);
          g_string_free (out.problems, TRUE);
          round++;
          break;
        }
      g_string_free (out.problems, TRUE);
    }

  summary = format_kills (kills);
  g_test_message ("%s: seed %u, %u rounds, %u kills (%u with a lock recovered) in %.2f s: %s",
                  what, seed, round, n_kills, recovered,
                  (g_get_monotonic_time () - start) / (double) SEC, summary);
  if (growing)
    g_test_message ("%s: %u of %u rounds went past the home MiB into the reserve",
                    what, in_reserve, round);
  if (!g_test_failed () && n_kills < min_kills)
    g_test_fail_printf ("%s: only %u kills in %u rounds (seed %u)", what, n_kills, round, seed);
  /* Coverage, not timing: the crash-point rounds must reach the reserve
   * (their consumers start behind ~10 MiB of items), or the loop tested
   * only the home MiB again. */
  if (!g_test_failed () && growing && mode == KILL_AT_CRASH_POINT && in_reserve == 0)
    g_test_fail_printf ("%s: no round reached the growing buffer's reserve (seed %u)", what, seed);
  munmap (sh, sizeof (Shared));
}

static void
test_queue_crash_points (void)
{
  g_test_summary ("Producers and consumers SIGKILLed at the queue's crash points "
                  "(countdown): no hang, no torn or duplicated item, every item whose put "
                  "returned delivered once except the one a dying consumer was taking");
  run_kill_loop (KILL_AT_CRASH_POINT, FALSE, scaled (120), scaled (600), "crash-points");
}

static void
test_queue_growing_crash_points (void)
{
  g_test_summary ("The same with a growing buffer (MPK_QUEUE_BUFFER_GROWS) and items of up "
                  "to 200 KiB, so that the producers run past its home MiB into the "
                  "reserve (pads, going back to the start, blocks given back)");
  run_kill_loop (KILL_AT_CRASH_POINT, TRUE, scaled (60), scaled (300), "growing crash-points");
}

static void
test_queue_random_kill (void)
{
  g_test_summary ("A producer or consumer SIGKILLed 0-3 ms into a busy stream: no hang, "
                  "no torn or duplicated item, at most one item lost per killed consumer");
  run_kill_loop (KILL_ASYNC, FALSE, scaled (60), scaled (300), "random-kill");
}

static void
test_queue_growing_random_kill (void)
{
  g_test_summary ("The same with a growing buffer (MPK_QUEUE_BUFFER_GROWS) and items of up "
                  "to 200 KiB");
  run_kill_loop (KILL_ASYNC, TRUE, scaled (30), scaled (150), "growing random-kill");
}

/* --- a waiter sleeping while the process that should wake it dies -------------- */

/* The waiter's timeout. It must be woken well before it: within half. */
#define WAITER_TIMEOUT slack (30 * SEC)

typedef struct
{
  char   note[CRASH_NOTE_SIZE];
  gint   ok;                /* the waiter's put/get succeeded */
  gint64 returned_at;       /* when it returned (one monotonic clock for all) */
} WakeShared;

typedef struct
{
  MpkQueue   *queue;
  WakeShared *shared;
  int         countdown;    /* the victim's */
} WakeWorker;

static int
waiting_getter_main (gpointer data)
{
  WakeWorker *ww = data;
  g_autoptr(GVariant) item = mpk_queue_get (ww->queue, WAITER_TIMEOUT, NULL);

  ww->shared->returned_at = g_get_monotonic_time ();
  ww->shared->ok = item != NULL;
  return 0;
}

static int
waiting_putter_main (gpointer data)
{
  WakeWorker *ww = data;
  gboolean ok = mpk_queue_put (ww->queue, g_variant_new_uint32 (2), WAITER_TIMEOUT, NULL);

  ww->shared->returned_at = g_get_monotonic_time ();
  ww->shared->ok = ok;
  return 0;
}

static int
waiting_joiner_main (gpointer data)
{
  WakeWorker *ww = data;
  gboolean ok = mpk_queue_join (ww->queue, WAITER_TIMEOUT, NULL);

  ww->shared->returned_at = g_get_monotonic_time ();
  ww->shared->ok = ok;
  return 0;
}

static int
dying_finisher_main (gpointer data)
{
  WakeWorker *ww = data;
  g_autoptr(GVariant) item = NULL;

  arm_crash (ww->shared->note, ww->countdown);
  item = mpk_queue_get (ww->queue, 1 * SEC, NULL);
  if (item != NULL)
    mpk_queue_task_done (ww->queue, NULL);
  return 3;
}

static int
dying_putter_main (gpointer data)
{
  WakeWorker *ww = data;

  arm_crash (ww->shared->note, ww->countdown);
  mpk_queue_put (ww->queue, g_variant_new_uint32 (1), 1 * SEC, NULL);
  return 3;
}

static int
dying_getter_main (gpointer data)
{
  WakeWorker *ww = data;
  g_autoptr(GVariant) item = NULL;

  arm_crash (ww->shared->note, ww->countdown);
  item = mpk_queue_get (ww->queue, 1 * SEC, NULL);
  return 3;
}

/* Waits (briefly, this is the fault injector) until @process sleeps in the kernel. */
static void
wait_until_asleep (MpkProcess *process)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) mpk_process_get_pid (process));
  gint64 until = g_get_monotonic_time () + slack (2 * SEC);

  while (g_get_monotonic_time () < until)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      if (g_file_get_contents (path, &stat, NULL, NULL)
          && (paren = strrchr (stat, ')')) != NULL && paren[1] == ' ' && paren[2] == 'S')
        break;
      g_usleep (1000);
    }
  g_usleep (slack (20 * MS));   /* past any spinning, into the futex wait */
}

typedef enum
{
  WAITER_GETS,    /* get on an empty queue; a producer dies at queue.put.committed */
  WAITER_PUTS,    /* put on a full queue; a consumer dies at queue.get.committed */
  WAITER_JOINS,   /* join; the last consumer dies at queue.task_done.counted */
} WaiterKind;

static void
test_queue_waiter_wakes (gconstpointer data)
{
  WaiterKind kind = GPOINTER_TO_INT (data);
  static const char *points[] = { "queue.put.committed", "queue.get.committed",
                                  "queue.task_done.counted" };
  static const MpkProcessFunc waiters[] = { waiting_getter_main, waiting_putter_main,
                                            waiting_joiner_main };
  static const MpkProcessFunc victims[] = { dying_putter_main, dying_getter_main,
                                            dying_finisher_main };
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkQueue) queue = NULL;
  g_autoptr(MpkProcess) waiter = NULL, victim = NULL;
  WakeShared *sh = shared_new (sizeof (WakeShared));
  WakeWorker ww;
  gint64 died_at;

  g_test_summary ("A process asleep in get (queue empty), put (queue at maxsize) or join "
                  "is woken when the one that should wake it dies right after its commit, "
                  "instead of sleeping out its timeout (or, with MPK_WAIT_FOREVER, forever)");

  queue = mpk_queue_new_full (kind == WAITER_PUTS ? 1 : 0, kind == WAITER_JOINS,
                              MPK_QUEUE_DEFAULT_BUFFER_SIZE, &error);
  g_assert_no_error (error);
  if (kind != WAITER_GETS)
    {
      g_assert_true (mpk_queue_put (queue, g_variant_new_uint32 (1), MPK_NO_WAIT, &error));
      g_assert_no_error (error);
    }
  /* A small item passes put.locked, put.copied, put.committed (or
   * get.locked, get.copied, get.committed): the third is the commit, and
   * task_done's first point is the fourth. */
  ww = (WakeWorker) { queue, sh, kind == WAITER_JOINS ? 4 : 3 };
  waiter = start_child ("waiter", waiters[kind], &ww);
  wait_until_asleep (waiter);
  victim = start_child ("victim", victims[kind], &ww);
  if (!mpk_process_join (victim, slack (20 * SEC)))
    kill_and_reap (victim);
  died_at = g_get_monotonic_time ();
  g_assert_cmpint (mpk_process_get_exitcode (victim), ==, -SIGKILL);
  g_assert_cmpstr (sh->note, ==, points[kind]);

  if (!mpk_process_join (waiter, WAITER_TIMEOUT + slack (10 * SEC)))
    kill_and_reap (waiter);
  g_assert_cmpint (mpk_process_get_exitcode (waiter), ==, 0);
  g_test_message ("waiter-wakes: the victim died at %s; the waiter returned %s %.1f ms later",
                  sh->note, sh->ok ? "TRUE" : "FALSE", (sh->returned_at - died_at) / 1000.0);
  g_assert_true (sh->ok);
  g_assert_cmpint (sh->returned_at - died_at, <, WAITER_TIMEOUT / 2);
  g_assert_cmpint (mpk_queue_qsize (queue), ==, kind == WAITER_PUTS ? 1 : 0);
  if (kind == WAITER_JOINS)
    g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);
  munmap (sh, sizeof (WakeShared));
}

/* --- JoinableQueue: a consumer dies between get and task_done ------------------ */

typedef struct
{
  MpkQueue       *queue;
  MpkTestChannel *channel;      /* KILL variant: "I hold N items" */
  char           *note;
  int             countdown;
  guint           n_take;
} DeadConsumer;

/* Takes @n_take items, says so, and waits to be killed (never task_done). */
static int
holding_consumer_main (gpointer data)
{
  DeadConsumer *dc = data;
  GError *error = NULL;
  GVariant *reply;

  mpk_connection_close (dc->channel->parent);
  for (guint i = 0; i < dc->n_take; i++)
    {
      GVariant *item = mpk_queue_get (dc->queue, slack (20 * SEC), &error);

      MPK_CHILD_NO_ERROR (error);
      g_variant_unref (item);
    }
  mpk_connection_send (dc->channel->child, g_variant_new_uint32 (dc->n_take), slack (20 * SEC),
                       &error);
  MPK_CHILD_NO_ERROR (error);
  reply = mpk_connection_recv (dc->channel->child, 10 * SEC, NULL);
  g_clear_pointer (&reply, g_variant_unref);
  return 3;    /* the parent should have killed us */
}

/* get + task_done with the countdown armed. */
static int
crashing_consumer_main (gpointer data)
{
  DeadConsumer *dc = data;
  GError *error = NULL;
  GVariant *item;

  arm_crash (dc->note, dc->countdown);
  item = mpk_queue_get (dc->queue, slack (20 * SEC), &error);
  MPK_CHILD_NO_ERROR (error);
  g_variant_unref (item);
  MPK_CHILD_CHECK (mpk_queue_task_done (dc->queue, &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static MpkQueue *
joinable_with_items (guint n)
{
  g_autoptr(GError) error = NULL;
  MpkQueue *queue = mpk_joinable_queue_new (0, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (mpk_queue_put (queue, g_variant_new_uint32 (i), 1 * SEC, &error));
      g_assert_no_error (error);
    }
  return queue;
}

/* Takes @n items in the parent and marks them done. */
static void
take_and_finish (MpkQueue *queue,
                 guint     n)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GVariant) item = mpk_queue_get (queue, 1 * SEC, &error);

      g_assert_no_error (error);
      g_assert_nonnull (item);
      g_assert_true (mpk_queue_task_done (queue, &error));
      g_assert_no_error (error);
    }
  g_assert_null (mpk_queue_get (queue, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
}

/* join_full() watching @victim must fail at once with PEER_DIED, naming it. */
static void
assert_peer_died (MpkQueue   *queue,
                  MpkProcess *victim,
                  guint64     held)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pid = g_strdup_printf ("%d", (int) mpk_process_get_pid (victim));
  gint64 start = g_get_monotonic_time ();

  g_assert_false (mpk_queue_join_full (queue, &victim, 1, slack (20 * SEC), &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED);
  g_test_message ("join_full: PEER_DIED after %.1f ms",
                  (g_get_monotonic_time () - start) / 1000.0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, slack (10 * SEC));
  g_assert_nonnull (strstr (error->message, pid));
  g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, mpk_process_get_pid (victim)), ==, held);
}

/* Nothing unfinished: join and join_full (watching the dead victim) succeed at once. */
static void
assert_joins (MpkQueue   *queue,
              MpkProcess *victim)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 0);
  g_assert_true (mpk_queue_join (queue, slack (20 * SEC), &error));
  g_assert_no_error (error);
  g_assert_true (mpk_queue_join_full (queue, &victim, 1, slack (20 * SEC), &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, slack (10 * SEC));
  g_assert_cmpint (mpk_queue_qsize (queue), ==, 0);
}

static void
test_joinable_dead_consumer (void)
{
  g_autoptr(GHashTable) kills = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *summary = NULL;
  char *note = shared_new (CRASH_NOTE_SIZE);
  gboolean saw_committed = FALSE, saw_counted = FALSE;
  gint64 start = g_get_monotonic_time ();
  guint k;

  g_test_summary ("A JoinableQueue consumer killed between get and task_done: join_full "
                  "watching it fails PEER_DIED at once, abandon_tasks writes its items off, "
                  "then join succeeds; deaths inside get and task_done leave exact counts");

  /* Killed after it says it holds 1 or 2 items. */
  for (guint round = 0; round < 2 * scaled (2); round++)
    {
      guint n_take = 1 + round % 2;
      g_autoptr(MpkQueue) queue = joinable_with_items (3);
      g_autoptr(MpkProcess) victim = NULL;
      g_autoptr(GVariant) said = NULL;
      g_autoptr(GError) error = NULL;
      MpkTestChannel channel;
      DeadConsumer dc = { queue, &channel, NULL, 0, n_take };
      gint64 t0;

      mpk_test_channel_init (&channel);
      victim = start_child ("holding-consumer", holding_consumer_main, &dc);
      mpk_connection_close (channel.child);
      said = mpk_connection_recv (channel.parent, slack (20 * SEC), &error);
      if (said == NULL)
        kill_and_reap (victim);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_get_uint32 (said), ==, n_take);
      g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 3);
      g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, mpk_process_get_pid (victim)),
                        ==, n_take);

      /* Alive and holding: join_full waits out its timeout. */
      t0 = g_get_monotonic_time ();
      g_assert_false (mpk_queue_join_full (queue, &victim, 1, 50 * MS, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
      g_clear_error (&error);
      g_assert_cmpint (g_get_monotonic_time () - t0, >=, 50 * MS);

      g_assert_true (mpk_process_kill (victim, NULL));
      g_assert_true (mpk_process_join (victim, slack (20 * SEC)));
      g_assert_cmpint (mpk_process_get_exitcode (victim), ==, -SIGKILL);
      count_kill (kills, "async.holding");

      assert_peer_died (queue, victim, n_take);
      /* Without the watch list, join can only time out. */
      g_assert_false (mpk_queue_join (queue, 20 * MS, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
      g_clear_error (&error);

      take_and_finish (queue, 3 - n_take);
      g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, n_take);
      assert_peer_died (queue, victim, n_take);
      g_assert_cmpuint (mpk_queue_abandon_tasks (queue, mpk_process_get_pid (victim)), ==, n_take);
      g_assert_cmpuint (mpk_queue_abandon_tasks (queue, mpk_process_get_pid (victim)), ==, 0);
      assert_joins (queue, victim);
      mpk_test_channel_clear (&channel);
    }

  /* Killed at each crash point of get + task_done in turn, until the
   * countdown outlasts them and the consumer finishes. */
  for (k = 1; k <= 16; k++)
    {
      g_autoptr(MpkQueue) queue = joinable_with_items (3);
      g_autoptr(MpkProcess) victim = NULL;
      g_autoptr(GError) error = NULL;
      DeadConsumer dc = { queue, NULL, note, (int) k, 1 };
      GPid pid;

      memset (note, 0, CRASH_NOTE_SIZE);
      victim = start_child ("crashing-consumer", crashing_consumer_main, &dc);
      if (!mpk_process_join (victim, slack (20 * SEC)))
        kill_and_reap (victim);
      if (mpk_process_get_exitcode (victim) == 0)
        {
          g_assert_cmpstr (note, ==, "");
          break;      /* past the last crash point */
        }
      g_assert_cmpint (mpk_process_get_exitcode (victim), ==, -SIGKILL);
      g_test_message ("dead-consumer: countdown %u: died at %s", k, note);
      count_kill (kills, note);
      pid = mpk_process_get_pid (victim);

      if (is_point (note, "queue.get.locked") || is_point (note, "queue.get.copied"))
        {
          /* It took nothing: join_full does not blame it, only times out. */
          g_assert_false (mpk_queue_join_full (queue, &victim, 1, 20 * MS, &error));
          g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
          g_clear_error (&error);
          g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, pid), ==, 0);
          take_and_finish (queue, 3);
          g_assert_cmpuint (mpk_queue_abandon_tasks (queue, pid), ==, 0);
        }
      else if (is_point (note, "queue.get.committed"))
        {
          /* The item left the queue with the victim: it held it. */
          saw_committed = TRUE;
          assert_peer_died (queue, victim, 1);
          take_and_finish (queue, 2);
          g_assert_cmpuint (mpk_queue_abandon_tasks (queue, pid), ==, 1);
        }
      else if (is_point (note, "queue.task_done.counted"))
        {
          /* Its task_done counted: it holds nothing, so join_full does not
           * blame it, and writing its tasks off must not take others'. */
          saw_counted = TRUE;
          g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 2);
          g_assert_cmpuint (mpk_queue_get_unfinished_for (queue, pid), ==, 0);
          g_assert_false (mpk_queue_join_full (queue, &victim, 1, 20 * MS, &error));
          g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
          g_clear_error (&error);
          g_assert_cmpuint (mpk_queue_abandon_tasks (queue, pid), ==, 0);
          g_assert_cmpuint (mpk_queue_get_unfinished (queue), ==, 2);
          take_and_finish (queue, 2);
        }
      else
        g_error ("dead-consumer: countdown %u: a crash point \"%s\" that get and "
                 "task_done should not pass", k, note);
      assert_joins (queue, victim);
    }
  g_assert_cmpuint (k, <=, 16);
  g_assert_true (saw_committed);
  g_assert_true (saw_counted);

  summary = format_kills (kills);
  g_test_message ("dead-consumer: kills %s in %.2f s", summary,
                  (g_get_monotonic_time () - start) / (double) SEC);
  munmap (note, CRASH_NOTE_SIZE);
}

/* --- Lock / RLock: a holder dies ------------------------------------------------ */

/* How long a survivor waits for a dead holder's lock; it must get it well
 * before that (within half), and normally does in microseconds. */
#define LOCK_TIMEOUT slack (20 * SEC)

typedef struct
{
  char   note[CRASH_NOTE_SIZE];
  gint   waiting;               /* racers about to acquire */
  struct
  {
    gint   ok;
    gint   owner_died;
    gint   code;
    gint64 acquired_at;         /* g_get_monotonic_time(): one clock for all processes */
  } racer[2];
} LockShared;

typedef struct
{
  MpkLock        *lock;
  LockShared     *shared;
  MpkTestChannel *channel;     /* holder: "holding" */
  int             countdown;   /* holder: crash at the countdown-th acquire */
  guint           n_acquire;   /* holder: 2 for an RLock */
  int             go[2];       /* racers: a pipe, one byte each means "go" */
  guint           id;          /* racer number */
} LockWorker;

/* Acquires the lock (twice if recursive), says so, waits to be killed. */
static int
holder_main (gpointer data)
{
  LockWorker *lw = data;
  GError *error = NULL;
  GVariant *reply;

  mpk_connection_close (lw->channel->parent);
  arm_crash (lw->shared->note, lw->countdown);
  for (guint i = 0; i < lw->n_acquire; i++)
    {
      gboolean ok = mpk_lock_acquire (lw->lock, slack (20 * SEC), &error);

      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (ok);
    }
  mpk_connection_send (lw->channel->child, g_variant_new_string ("holding"), slack (20 * SEC), &error);
  MPK_CHILD_NO_ERROR (error);
  reply = mpk_connection_recv (lw->channel->child, 10 * SEC, NULL);
  g_clear_pointer (&reply, g_variant_unref);
  return 3;    /* the parent should have killed us */
}

/* Waits for "go", then races for the lock and records what it got. */
static int
racer_main (gpointer data)
{
  LockWorker *lw = data;
  GError *error = NULL;
  struct pollfd pfd = { lw->go[0], POLLIN, 0 };
  gboolean owner_died = FALSE, ok;
  char c;

  close (lw->go[1]);
  MPK_CHILD_CHECK (poll (&pfd, 1, 10000) == 1);
  MPK_CHILD_CHECK (read (lw->go[0], &c, 1) == 1);
  g_atomic_int_inc (&lw->shared->waiting);
  ok = mpk_lock_acquire_full (lw->lock, LOCK_TIMEOUT, &owner_died, &error);
  lw->shared->racer[lw->id].acquired_at = g_get_monotonic_time ();
  lw->shared->racer[lw->id].ok = ok;
  lw->shared->racer[lw->id].owner_died = owner_died;
  lw->shared->racer[lw->id].code = error != NULL ? error->code : -1;
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (ok);
  MPK_CHILD_CHECK (mpk_lock_release (lw->lock, &error));
  return 0;
}

/* Starts a holder and has it die holding @lock: at its crash point or by
 * SIGKILL after it says it holds the lock. Returns where it died. */
static const char *
kill_holder (MpkLock    *lock,
             LockShared *sh,
             gboolean    at_crash_point,
             gboolean    before_kill_start_racers,
             MpkProcess *racers[2],
             LockWorker  racer_workers[2],
             gint64     *killed_at)
{
  g_autoptr(MpkProcess) holder = NULL;
  g_autoptr(GVariant) said = NULL;
  g_autoptr(GError) error = NULL;
  MpkTestChannel channel;
  LockWorker lw = { 0 };
  const char *where;
  guint n_acquire = mpk_lock_is_recursive (lock) ? 2 : 1;

  mpk_test_channel_init (&channel);
  lw.lock = lock;
  lw.shared = sh;
  lw.channel = &channel;
  lw.n_acquire = n_acquire;
  lw.countdown = at_crash_point ? (int) n_acquire : 0;
  holder = start_child ("holder", holder_main, &lw);
  mpk_connection_close (channel.child);
  said = mpk_connection_recv (channel.parent, slack (20 * SEC), &error);
  if (at_crash_point && said == NULL)
    {
      g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
      where = "lock.acquired";
    }
  else
    {
      if (said == NULL)
        kill_and_reap (holder);
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (said, NULL), ==, "holding");
      if (at_crash_point)
        g_test_message ("lock: the %s acquire passed no crash point, killed instead",
                        n_acquire == 2 ? "recursive" : "first");
      if (before_kill_start_racers)
        {
          gint64 until = g_get_monotonic_time () + slack (2 * SEC);

          for (guint i = 0; i < 2; i++)
            racers[i] = start_child ("racer", racer_main, &racer_workers[i]);
          g_assert_cmpint (write (racer_workers[0].go[1], "gg", 2), ==, 2);
          /* The fault injector may sleep: let both block in acquire. */
          while (g_atomic_int_get (&sh->waiting) < 2 && g_get_monotonic_time () < until)
            g_usleep (100);
          g_usleep (2000);
          g_assert_false (mpk_process_join (racers[0], MPK_NO_WAIT));
          g_assert_false (mpk_process_join (racers[1], MPK_NO_WAIT));
        }
      *killed_at = g_get_monotonic_time ();
      g_assert_true (mpk_process_kill (holder, NULL));
      where = "async";
    }
  if (!mpk_process_join (holder, slack (20 * SEC)))
    kill_and_reap (holder);
  g_assert_cmpint (mpk_process_get_exitcode (holder), ==, -SIGKILL);
  if (strcmp (where, "lock.acquired") == 0)
    g_assert_cmpstr (sh->note, ==, "lock.acquired");
  else
    g_assert_cmpstr (sh->note, ==, "");
  mpk_test_channel_clear (&channel);
  return where;
}

static void
test_lock_dead_holder (void)
{
  g_autoptr(GHashTable) kills = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *summary = NULL;
  LockShared *sh = shared_new (sizeof (LockShared));
  gint64 start = g_get_monotonic_time (), worst = 0;
  guint n_rounds = scaled (30), n_races = MAX (scaled (8), 2), round;

  g_test_summary ("A Lock or RLock whose holder was SIGKILLed (at lock.acquired or at "
                  "random) goes to the next acquirer at once with owner_died; of two "
                  "processes racing for it, exactly one sees owner_died");

  for (round = 0; round < n_rounds; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkLock) lock = NULL;
      gboolean recursive = round % 3 == 2, owner_died = FALSE;
      gint64 t0, took;
      const char *where;

      memset (sh, 0, sizeof *sh);
      lock = recursive ? mpk_rlock_new (&error) : mpk_lock_new (&error);
      g_assert_no_error (error);
      where = kill_holder (lock, sh, round % 2 == 0, FALSE, NULL, NULL, &t0);
      count_kill (kills, where);

      /* The dead holder still holds it, until someone recovers it. */
      g_assert_true (mpk_lock_is_locked (lock));
      t0 = g_get_monotonic_time ();
      g_assert_true (mpk_lock_acquire_full (lock, LOCK_TIMEOUT, &owner_died, &error));
      took = g_get_monotonic_time () - t0;
      worst = MAX (worst, took);
      g_assert_no_error (error);
      g_assert_true (owner_died);
      g_assert_cmpint (took, <, LOCK_TIMEOUT / 2);

      /* The new holder holds it once, even if the dead one held an RLock twice. */
      g_assert_true (mpk_lock_is_locked (lock));
      g_assert_true (mpk_lock_release (lock, &error));
      g_assert_no_error (error);
      g_assert_false (mpk_lock_is_locked (lock));
      g_assert_false (mpk_lock_release (lock, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);

      /* Repaired: the next acquire is an ordinary one. */
      g_assert_true (mpk_lock_acquire_full (lock, MPK_NO_WAIT, &owner_died, &error));
      g_assert_no_error (error);
      g_assert_false (owner_died);
      g_assert_true (mpk_lock_release (lock, &error));
      g_assert_no_error (error);
    }

  /* Two processes race for a dead holder's lock: even races start them after
   * the death, odd ones have them waiting in acquire when the holder dies. */
  for (guint race = 0; race < n_races; race++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkLock) lock = NULL;
      MpkProcess *racers[2] = { NULL, NULL };
      LockWorker rw[2];
      gboolean waiting = race % 2 == 1, owner_died = FALSE;
      gint64 killed_at = 0, first;
      const char *where;
      int go[2];

      memset (sh, 0, sizeof *sh);
      lock = race % 4 >= 2 ? mpk_rlock_new (&error) : mpk_lock_new (&error);
      g_assert_no_error (error);
      g_assert_cmpint (pipe (go), ==, 0);
      for (guint i = 0; i < 2; i++)
        rw[i] = (LockWorker) { .lock = lock, .shared = sh, .go = { go[0], go[1] }, .id = i };

      where = kill_holder (lock, sh, !waiting, waiting, racers, rw, &killed_at);
      count_kill (kills, where);
      if (!waiting)
        {
          g_assert_true (mpk_lock_is_locked (lock));
          for (guint i = 0; i < 2; i++)
            racers[i] = start_child ("racer", racer_main, &rw[i]);
          killed_at = g_get_monotonic_time ();
          g_assert_cmpint (write (go[1], "gg", 2), ==, 2);
        }
      close (go[0]);
      close (go[1]);
      for (guint i = 0; i < 2; i++)
        {
          if (!mpk_process_join (racers[i], LOCK_TIMEOUT + slack (10 * SEC)))
            kill_and_reap (racers[i]);
          g_assert_cmpint (mpk_process_get_exitcode (racers[i]), ==, 0);
          mpk_process_unref (racers[i]);
        }
      g_assert_true (sh->racer[0].ok && sh->racer[1].ok);
      g_assert_cmpint (sh->racer[0].owner_died + sh->racer[1].owner_died, ==, 1);
      first = MIN (sh->racer[0].acquired_at, sh->racer[1].acquired_at);
      g_assert_cmpint (first - killed_at, <, LOCK_TIMEOUT / 2);
      worst = MAX (worst, first - killed_at);
      g_assert_false (mpk_lock_is_locked (lock));
      g_assert_true (mpk_lock_acquire_full (lock, MPK_NO_WAIT, &owner_died, &error));
      g_assert_no_error (error);
      g_assert_false (owner_died);
      g_assert_true (mpk_lock_release (lock, &error));
    }

  summary = format_kills (kills);
  g_test_message ("dead-holder: %u rounds + %u races, kills %s, slowest recovery %.1f ms, "
                  "%.2f s", n_rounds, n_races, summary, worst / 1000.0,
                  (g_get_monotonic_time () - start) / (double) SEC);
  munmap (sh, sizeof (LockShared));
}

/* --- Pipe: a sender or a receiver dies mid-stream ------------------------------ */

#define PIPE_MAGIC      0x45504950u   /* "PIPE": a bytes message's first word */
#define PIPE_HEADER     16            /* magic, seq, length, checksum */
#define PIPE_TIMEOUT    slack (20 * SEC)
#define PIPE_MAX_SEQ    100000

typedef struct
{
  gint sent;       /* sender: messages whose send returned */
  gint received;   /* receiver: whole messages checked */
  gint bad;        /* receiver: a torn or out-of-order message */
  char problem[256];
} PipeShared;

typedef struct
{
  MpkConnection *rx, *tx;
  PipeShared    *shared;
  guint32        seed;
} PipeWorker;

/* Message @seq of a round: 8-200 bytes mostly, sometimes 20-300 KiB (more
 * than a socket buffer holds, so the sender blocks inside it). */
static gsize
pipe_length (guint32 seed,
             guint   seq)
{
  guint32 h = mix32 (seed ^ mix32 (seq * 2654435761u + 7));

  if (h % 8 == 0)
    return 20 * 1024 + (h >> 8) % (280 * 1024);
  return 8 + (h >> 8) % 193;
}

/* Sends message @seq: a bytes message, or every third one a "(uuay)" variant. */
static gboolean
pipe_send (MpkConnection *tx,
           guint32        seed,
           guint          seq,
           GError       **error)
{
  gsize len = pipe_length (seed, seq);
  g_autofree guint8 *buf = g_malloc (PIPE_HEADER + len);
  guint32 header[4] = { PIPE_MAGIC, seq, (guint32) len, 0 };

  fill_payload (buf + PIPE_HEADER, len, seed, 0, seq);
  header[3] = fnv1a (buf + PIPE_HEADER, len);
  if (seq % 3 == 2)
    return mpk_connection_send (tx, g_variant_new ("(uu@ay)", seq, header[3],
                                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                                              buf + PIPE_HEADER,
                                                                              len, 1)),
                                PIPE_TIMEOUT, error);
  memcpy (buf, header, sizeof header);
  return mpk_connection_send_bytes (tx, buf, PIPE_HEADER + len, 0, -1, PIPE_TIMEOUT, error);
}

/* Receives message @seq and checks it is exactly what pipe_send() sent.
 * Returns FALSE with @error from the connection, or with *@why set. */
static gboolean
pipe_recv_check (MpkConnection *rx,
                 guint32        seed,
                 guint          seq,
                 char         **why,
                 GError       **error)
{
  gsize len = pipe_length (seed, seq), size;
  g_autofree guint8 *expected = g_malloc (MAX (len, 1));
  const guint8 *payload;
  guint32 sum;

  fill_payload (expected, len, seed, 0, seq);
  if (seq % 3 == 2)
    {
      g_autoptr(GVariant) v = mpk_connection_recv (rx, PIPE_TIMEOUT, error);
      g_autoptr(GVariant) array = NULL;
      guint32 got_seq;

      if (v == NULL)
        return FALSE;
      if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("(uuay)")))
        {
          *why = g_strdup_printf ("message %u: a %s, not (uuay)", seq, g_variant_get_type_string (v));
          return FALSE;
        }
      g_variant_get (v, "(uu@ay)", &got_seq, &sum, &array);
      payload = g_variant_get_fixed_array (array, &size, 1);
      if (got_seq != seq || size != len || memcmp (payload, expected, len) != 0)
        {
          *why = g_strdup_printf ("message %u: got seq %u with %" G_GSIZE_FORMAT " bytes, "
                                  "expected %" G_GSIZE_FORMAT " bytes%s", seq, got_seq, size,
                                  len, size == len ? " (contents differ)" : "");
          return FALSE;
        }
    }
  else
    {
      g_autoptr(GBytes) b = mpk_connection_recv_bytes (rx, -1, PIPE_TIMEOUT, error);
      const guint32 *h;

      if (b == NULL)
        return FALSE;
      h = g_bytes_get_data (b, &size);
      if (size != PIPE_HEADER + len || h[0] != PIPE_MAGIC || h[1] != seq || h[2] != len
          || memcmp ((const guint8 *) h + PIPE_HEADER, expected, len) != 0)
        {
          *why = g_strdup_printf ("message %u: got %" G_GSIZE_FORMAT " bytes (seq %u), expected "
                                  "%" G_GSIZE_FORMAT, seq, size, size >= 8 ? h[1] : 0,
                                  PIPE_HEADER + len);
          return FALSE;
        }
    }
  return TRUE;
}

static int
pipe_sender_main (gpointer data)
{
  PipeWorker *pw = data;
  GError *error = NULL;

  mpk_connection_close (pw->rx);
  for (guint seq = 0; seq < PIPE_MAX_SEQ; seq++)
    {
      if (!pipe_send (pw->tx, pw->seed, seq, &error))
        {
          g_printerr ("test-robust: pipe sender: message %u: %s\n", seq, error->message);
          return 1;
        }
      g_atomic_int_set (&pw->shared->sent, seq + 1);
    }
  return 0;
}

static int
pipe_receiver_main (gpointer data)
{
  PipeWorker *pw = data;
  GError *error = NULL;

  mpk_connection_close (pw->tx);
  for (guint seq = 0; seq < PIPE_MAX_SEQ; seq++)
    {
      char *why = NULL;

      if (!pipe_recv_check (pw->rx, pw->seed, seq, &why, &error))
        {
          g_snprintf (pw->shared->problem, sizeof pw->shared->problem, "receiver: %s",
                      why != NULL ? why : error->message);
          g_atomic_int_set (&pw->shared->bad, 1);
          return 1;
        }
      g_atomic_int_set (&pw->shared->received, seq + 1);
    }
  return 0;
}

/* Waits until *@counter reaches @n (or @victim ended, or 20 s passed). */
static void
wait_for_count (gint       *counter,
                gint        n,
                MpkProcess *victim)
{
  gint64 until = g_get_monotonic_time () + slack (20 * SEC);

  while (g_atomic_int_get (counter) < n && g_get_monotonic_time () < until
         && !mpk_process_join (victim, MPK_NO_WAIT))
    g_usleep (200);
}

typedef struct
{
  MpkProcess *victim;
  gint       *counter;
  gint        n;
  guint       delay_us;
} Killer;

/* A thread of the test: kills the receiver once it has @n messages (plus a
 * moment), while the main thread is busy sending. */
static gpointer
killer_thread (gpointer data)
{
  Killer *k = data;

  wait_for_count (k->counter, k->n, k->victim);
  g_usleep (k->delay_us);
  mpk_process_kill (k->victim, NULL);
  return NULL;
}

static void
test_pipe_random_kill (void)
{
  g_autoptr(GHashTable) kills = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *summary = NULL;
  PipeShared *sh = shared_new (sizeof (PipeShared));
  guint32 seed = base_seed ();
  guint n_rounds = scaled (40);
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("A pipe's sender or receiver SIGKILLed at a random moment mid-stream "
                  "(messages up to 300 KiB, bytes and GVariant): the receiver gets every "
                  "whole message the dead sender's send returned for, in order and intact, "
                  "then EOF or TRUNCATED; the sender gets PEER_CLOSED, not SIGPIPE; nothing "
                  "hangs");

  for (guint round = first_round (); round < n_rounds; round++)
    {
      g_autoptr(GRand) rand = g_rand_new_with_seed (seed + round);
      g_autoptr(MpkProcess) victim = NULL;
      g_autoptr(GError) error = NULL;
      MpkConnection *rx = NULL, *tx = NULL;
      PipeWorker pw;
      gboolean sender_dies = round % 2 == 0;
      gint n = g_rand_int_range (rand, 0, 12);
      guint delay = g_rand_int_range (rand, 0, 2001);
      char *why = NULL;
      guint seq = 0;

      memset (sh, 0, sizeof *sh);
      g_assert_true (mpk_pipe_new (FALSE, &rx, &tx, &error));
      g_assert_no_error (error);
      pw = (PipeWorker) { rx, tx, sh, seed + round };
      if (sender_dies)
        {
          gint sent_at_kill;

          victim = start_child ("pipe-sender", pipe_sender_main, &pw);
          mpk_connection_close (tx);
          /* Take @n messages, wait a moment, kill the sender wherever it is. */
          for (; seq < (guint) n; seq++)
            if (!pipe_recv_check (rx, pw.seed, seq, &why, &error))
              break;
          if (why == NULL && error == NULL)
            {
              g_usleep (delay);
              mpk_process_kill (victim, NULL);
              if (!mpk_process_join (victim, slack (10 * SEC)))
                kill_and_reap (victim);
              sent_at_kill = g_atomic_int_get (&sh->sent);
              g_assert_cmpint (mpk_process_get_exitcode (victim), ==, -SIGKILL);
              /* Every message whose send returned is there, then the end. */
              for (;; seq++)
                if (!pipe_recv_check (rx, pw.seed, seq, &why, &error))
                  break;
              if (why == NULL && seq < (guint) sent_at_kill)
                why = g_strdup_printf ("the sender's send returned for %d messages, "
                                       "the receiver got %u", sent_at_kill, seq);
              if (why == NULL && seq > (guint) sent_at_kill + 1)
                why = g_strdup_printf ("%u messages arrived, the sender sent %d (at most one "
                                       "more can have been sent unrecorded)", seq, sent_at_kill);
              count_kill (kills, error != NULL && error->code == MPK_ERROR_TRUNCATED
                                 ? "sender.mid-message" : "sender.between");
            }
          if (why == NULL && !g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF)
              && !g_error_matches (error, MPK_ERROR, MPK_ERROR_TRUNCATED))
            why = g_strdup_printf ("after message %u the receiver got \"%s\", not EOF or "
                                   "TRUNCATED", seq, error != NULL ? error->message : "?");
        }
      else
        {
          Killer k;
          GThread *thread;

          victim = start_child ("pipe-receiver", pipe_receiver_main, &pw);
          mpk_connection_close (rx);
          k = (Killer) { victim, &sh->received, n, delay };
          thread = g_thread_new ("killer", killer_thread, &k);
          for (; seq < PIPE_MAX_SEQ; seq++)
            {
              gint64 t0 = g_get_monotonic_time ();

              if (!pipe_send (tx, pw.seed, seq, &error))
                {
                  if (g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT))
                    why = g_strdup_printf ("send %u timed out after %.1f s: the dead receiver's "
                                           "end was not seen as closed", seq,
                                           (g_get_monotonic_time () - t0) / 1e6);
                  else if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED))
                    why = g_strdup_printf ("send %u failed with \"%s\" (code %d), not "
                                           "PEER_CLOSED", seq, error->message, error->code);
                  break;
                }
            }
          g_thread_join (thread);
          if (!mpk_process_join (victim, slack (10 * SEC)))
            kill_and_reap (victim);
          if (why == NULL && sh->bad)
            why = g_strdup (sh->problem);
          if (why == NULL && mpk_process_get_exitcode (victim) != -SIGKILL)
            why = g_strdup_printf ("the receiver ended with exit code %d, not SIGKILL",
                                   mpk_process_get_exitcode (victim));
          count_kill (kills, "receiver");
        }
      mpk_connection_free (rx);
      mpk_connection_free (tx);
      if (why != NULL)
        {
          g_test_fail_printf ("pipe round %u (seed %u, replay with MPK_ROBUST_SEED=%u "
                              "MPK_ROBUST_ROUND=%u), %s killed after %d messages + %u us: %s",
                              round, seed + round, seed, round, sender_dies ? "sender" : "receiver", n, delay, why);
          g_free (why);
          break;
        }
    }
  summary = format_kills (kills);
  g_test_message ("pipe: %u rounds, kills %s, %.2f s", n_rounds, summary,
                  (g_get_monotonic_time () - start) / (double) SEC);
  munmap (sh, sizeof (PipeShared));
}

/* --- Manager: a client dies in the middle of its calls -------------------------- */

typedef struct
{
  gint appended;     /* victim: appends that returned */
  gint calls;        /* victim: calls that returned */
  gint failed;       /* victim: a call failed */
  char problem[256];
} ClientShared;

typedef struct
{
  MpkListProxy  *list;
  MpkQueueProxy *queue;
  MpkValueProxy *value;
  ClientShared  *shared;
  guint32        seed;
} ClientWorker;

/* Appends 0, 1, 2, ... to the list, with other calls in between. */
static int
manager_client_main (gpointer data)
{
  ClientWorker *cw = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (cw->seed);

  for (gint i = 0; i < 100000; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = TRUE;

      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0:
        case 1:
          ok = mpk_list_proxy_append (cw->list, g_variant_new_int32 (cw->shared->appended), &error);
          if (ok)
            g_atomic_int_inc (&cw->shared->appended);
          break;
        case 2:
          ok = mpk_queue_proxy_put (cw->queue, g_variant_new_string ("x"), 5 * MS, &error)
               || g_error_matches (error, MPK_ERROR, MPK_ERROR_FULL)
               || g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
          break;
        case 3:
          {
            g_autoptr(GVariant) v = mpk_queue_proxy_get (cw->queue, g_rand_int_range (rand, 0, 3) * MS,
                                                         &error);

            ok = v != NULL || g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY)
                 || g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
            break;
          }
        case 4:
          ok = mpk_list_proxy_len (cw->list, &error) >= 0;
          break;
        default:
          {
            gint64 result;

            ok = mpk_value_proxy_add (cw->value, 1, &result, &error);
            break;
          }
        }
      if (!ok)
        {
          g_snprintf (cw->shared->problem, sizeof cw->shared->problem, "client call %d: %s", i,
                      error != NULL ? error->message : "failed without an error");
          g_atomic_int_set (&cw->shared->failed, 1);
          return 1;
        }
      g_atomic_int_inc (&cw->shared->calls);
    }
  return 0;
}

static MpkManagerStats
manager_stats (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  MpkManagerStats stats;

  g_assert_true (mpk_manager_get_stats (manager, &stats, &error));
  g_assert_no_error (error);
  return stats;
}

static void
test_manager_client_killed (void)
{
  g_autoptr(GHashTable) kills = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  ClientShared *sh = shared_new (sizeof (ClientShared));
  guint32 seed = base_seed ();
  guint n_rounds = scaled (20), baseline;
  gint64 start = g_get_monotonic_time (), slowest_close = 0;
  MpkManager *manager;
  MpkQueueProxy *queue;
  MpkValueProxy *value;

  g_test_summary ("A Manager client SIGKILLed at a random moment in a stream of calls "
                  "(list append, queue put/get, value add): the list holds exactly the "
                  "appends that happened, the server and a new client carry on, and the "
                  "dead client's connection is closed");

  manager = mpk_manager_new_started (&error);
  g_assert_no_error (error);
  queue = mpk_manager_queue (manager, 4, &error);
  g_assert_no_error (error);
  value = mpk_manager_value (manager, g_variant_new_int64 (0), &error);
  g_assert_no_error (error);
  baseline = manager_stats (manager).clients;

  for (guint round = first_round (); round < n_rounds; round++)
    {
      g_autoptr(GRand) rand = g_rand_new_with_seed (seed + round);
      g_autoptr(MpkProcess) victim = NULL;
      MpkListProxy *list = mpk_manager_list (manager, NULL, &error);
      ClientWorker cw = { list, queue, value, sh, seed + round };
      gint n = g_rand_int_range (rand, 0, 40), appended;
      guint delay = g_rand_int_range (rand, 0, 3001);
      gint64 len, t0, until;
      char *why = NULL;

      g_assert_no_error (error);
      memset (sh, 0, sizeof *sh);
      victim = start_child ("manager-client", manager_client_main, &cw);
      wait_for_count (&sh->calls, n, victim);
      g_usleep (delay);
      mpk_process_kill (victim, NULL);
      if (!mpk_process_join (victim, slack (10 * SEC)))
        kill_and_reap (victim);
      appended = g_atomic_int_get (&sh->appended);
      if (sh->failed)
        why = g_strdup (sh->problem);
      else if (mpk_process_get_exitcode (victim) != -SIGKILL)
        why = g_strdup_printf ("the client ended with exit code %d, not SIGKILL",
                               mpk_process_get_exitcode (victim));
      count_kill (kills, "client");

      /* The list: 0 .. m-1 in order, m the appends that returned (or one more,
       * whose reply the client did not live to read). */
      len = mpk_list_proxy_len (list, &error);
      g_assert_no_error (error);
      if (why == NULL && (len < appended || len > appended + 1))
        why = g_strdup_printf ("the list has %" G_GINT64_FORMAT " items, the client's appends "
                               "returned %d times", len, appended);
      for (gint64 i = 0; why == NULL && i < len; i++)
        {
          g_autoptr(GVariant) item = mpk_list_proxy_get (list, i, &error);

          g_assert_no_error (error);
          if (!g_variant_is_of_type (item, G_VARIANT_TYPE_INT32) || g_variant_get_int32 (item) != i)
            {
              g_autofree char *shown = g_variant_print (item, TRUE);

              why = g_strdup_printf ("list item %" G_GINT64_FORMAT " is %s", i, shown);
            }
        }

      /* The server carries on: our own call works; its connection goes. */
      if (why == NULL && !mpk_list_proxy_append (list, g_variant_new_int32 (-1), &error))
        why = g_strdup_printf ("the parent's append failed: %s", error->message);
      t0 = g_get_monotonic_time ();
      until = t0 + slack (20 * SEC);
      while (why == NULL && manager_stats (manager).clients > baseline
             && g_get_monotonic_time () < until)
        g_usleep (1000);
      slowest_close = MAX (slowest_close, g_get_monotonic_time () - t0);
      if (why == NULL && manager_stats (manager).clients > baseline)
        why = g_strdup_printf ("the server still counts %u clients (%u before) %d s after the "
                               "client died", manager_stats (manager).clients, baseline,
                               (int) (slack (20 * SEC) / SEC));
      mpk_list_proxy_unref (list);
      if (why != NULL)
        {
          g_test_fail_printf ("manager client round %u (seed %u, replay with "
                              "MPK_ROBUST_SEED=%u MPK_ROBUST_ROUND=%u): killed after %d calls "
                              "+ %u us: %s", round, seed + round, seed, round, n, delay, why);
          g_free (why);
          break;
        }
    }

  mpk_queue_proxy_unref (queue);
  mpk_value_proxy_unref (value);
  g_assert_true (mpk_manager_shutdown (manager, slack (10 * SEC), &error));
  g_assert_no_error (error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);
  mpk_manager_free (manager);
  summary = format_kills (kills);
  g_test_message ("manager-client: %u rounds, kills %s, slowest connection close %.1f ms, %.2f s",
                  n_rounds, summary, slowest_close / 1000.0,
                  (g_get_monotonic_time () - start) / (double) SEC);
  munmap (sh, sizeof (ClientShared));
}

/* --- Manager: its owner dies, even while it starts the server -------------------- */

typedef struct
{
  gint   started;           /* owner: the manager is up */
  gint   server_pid;
  gint   calls;             /* owner: calls made after start */
  char   address[512];
} OwnerShared;

typedef struct
{
  OwnerShared *shared;
  gboolean     calling;     /* keep calling the server until killed */
} OwnerWorker;

static int
manager_owner_main (gpointer data)
{
  OwnerWorker *ow = data;
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkListProxy *list;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  manager = mpk_manager_new_started (&error);
  MPK_CHILD_NO_ERROR (error);
  g_strlcpy (ow->shared->address, mpk_manager_get_address (manager), sizeof ow->shared->address);
  ow->shared->server_pid = mpk_manager_get_pid (manager);
  g_atomic_int_set (&ow->shared->started, 1);
  list = mpk_manager_list (manager, NULL, &error);
  MPK_CHILD_NO_ERROR (error);
  for (guint i = 0; i < 200000; i++)
    {
      if (ow->calling)
        {
          MPK_CHILD_CHECK (mpk_list_proxy_append (list, g_variant_new_uint32 (i), &error));
          g_atomic_int_inc (&ow->shared->calls);
        }
      else
        g_usleep (1000);
    }
  return 3;   /* the parent should have killed us long ago */
}

/* The mpk-manager-* entries of the temporary folder (GLib's, which the
 * manager uses: the runner's private TMPDIR under make check). */
static GHashTable *
manager_folders (void)
{
  GHashTable *names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GDir *dir = g_dir_open (g_get_tmp_dir (), 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "mpk-manager-"))
      g_hash_table_add (names, g_strdup (name));
  if (dir != NULL)
    g_dir_close (dir);
  return names;
}

/* The processes whose parent is this one (orphans adopted as a subreaper),
 * except @known. */
static GArray *
my_children (pid_t known)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  GDir *dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree char *stat = NULL;
      const char *paren;
      pid_t pid = (pid_t) atoi (name), ppid;

      if (pid <= 0 || pid == known || !g_file_get_contents (path, &stat, NULL, NULL)
          || (paren = strrchr (stat, ')')) == NULL)
        continue;
      ppid = (pid_t) atoi (paren + 4);    /* ") S ppid" */
      if (ppid == getpid ())
        g_array_append_val (pids, pid);
    }
  if (dir != NULL)
    g_dir_close (dir);
  return pids;
}

static void
test_manager_owner_killed (void)
{
  g_autoptr(GHashTable) kills = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *summary = NULL;
  OwnerShared *sh = shared_new (sizeof (OwnerShared));
  guint32 seed = base_seed ();
  guint n_rounds = scaled (20);
  gint64 start = g_get_monotonic_time (), slowest = 0;

  g_test_summary ("A process that owns a Manager SIGKILLed at a random moment: while it "
                  "starts the server, while idle, or in the middle of calls. Afterwards no "
                  "server process is left (the test adopts orphans as a subreaper and "
                  "waits for them) and no new mpk-manager-* folder is left in TMPDIR");

  /* Orphaned grandchildren (a server whose owner died) become ours, so we
   * can see them and reap them. */
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  for (guint round = first_round (); round < n_rounds; round++)
    {
      g_autoptr(GRand) rand = g_rand_new_with_seed (seed + round);
      g_autoptr(MpkProcess) owner = NULL;
      g_autoptr(GHashTable) before = manager_folders (), after = NULL;
      g_autoptr(GArray) orphans = NULL;
      g_autoptr(GString) left = g_string_new (NULL);
      const char *modes[] = { "starting", "idle", "calling" };
      guint mode = round % 3;
      guint delay = g_rand_int_range (rand, 0, mode == 0 ? 8001 : 2001);
      OwnerWorker ow;
      gint64 t0, until;
      char *why = NULL;
      GHashTableIter iter;
      gpointer name;

      memset (sh, 0, sizeof *sh);
      ow = (OwnerWorker) { sh, mode == 2 };
      /* Not daemonic: a daemonic process may not have children (Python's
       * rule), and a manager's server is one. It dies with the test anyway. */
      owner = mpk_process_new ("manager-owner", manager_owner_main, &ow, NULL);
      g_assert_true (mpk_process_start (owner, NULL));
      if (mode != 0)
        {
          gint64 limit = g_get_monotonic_time () + slack (20 * SEC);

          while (!g_atomic_int_get (&sh->started) && g_get_monotonic_time () < limit
                 && !mpk_process_join (owner, MPK_NO_WAIT))
            g_usleep (500);
          if (!g_atomic_int_get (&sh->started))
            why = g_strdup_printf ("the owner did not start its manager (exit code %d)",
                                   mpk_process_get_exitcode (owner));
        }
      g_usleep (delay);
      if (why == NULL && sh->started
          && !g_str_has_prefix (sh->address + strlen ("unix:"), g_get_tmp_dir ()))
        why = g_strdup_printf ("the manager's address %s is not in TMPDIR %s: the check "
                               "below would look in the wrong place", sh->address,
                               g_get_tmp_dir ());
      mpk_process_kill (owner, NULL);
      if (!mpk_process_join (owner, slack (10 * SEC)))
        kill_and_reap (owner);
      if (why == NULL && mpk_process_get_exitcode (owner) != -SIGKILL)
        why = g_strdup_printf ("the owner ended with exit code %d, not SIGKILL",
                               mpk_process_get_exitcode (owner));
      count_kill (kills, !sh->started ? "owner.starting" : mode == 2 ? "owner.calling"
                                                                      : "owner.idle");

      /* Its server must go by itself: wait for it (and reap it). */
      t0 = g_get_monotonic_time ();
      until = t0 + slack (20 * SEC);
      for (;;)
        {
          orphans = my_children (mpk_process_get_pid (owner));
          for (guint i = 0; i < orphans->len; i++)
            waitpid (g_array_index (orphans, pid_t, i), NULL, WNOHANG);
          g_array_unref (orphans);
          orphans = my_children (mpk_process_get_pid (owner));
          if (orphans->len == 0 || g_get_monotonic_time () > until)
            break;
          g_array_unref (orphans);
          g_usleep (2000);
        }
      slowest = MAX (slowest, g_get_monotonic_time () - t0);
      for (guint i = 0; i < orphans->len; i++)
        {
          pid_t pid = g_array_index (orphans, pid_t, i);
          g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
          g_autofree char *cmd = NULL;

          g_file_get_contents (path, &cmd, NULL, NULL);
          g_string_append_printf (left, " process %d (%s%s) still running %d s after its owner "
                                  "died;", (int) pid, cmd != NULL ? cmd : "?",
                                  pid == sh->server_pid ? ", the server" : "",
                                  (int) (slack (20 * SEC) / SEC));
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
        }
      after = manager_folders ();
      g_hash_table_iter_init (&iter, after);
      while (g_hash_table_iter_next (&iter, &name, NULL))
        if (!g_hash_table_contains (before, name))
          {
            g_autofree char *path = g_build_filename (g_get_tmp_dir (), name, NULL);
            g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", path);

            g_string_append_printf (left, " %s left in TMPDIR;", path);
            g_assert_cmpint (system (cmd), ==, 0);
          }
      if (why == NULL && left->len > 0)
        why = g_strdup (left->str);
      if (why != NULL)
        {
          g_test_fail_printf ("manager owner round %u (seed %u, replay with MPK_ROBUST_SEED=%u "
                              "MPK_ROBUST_ROUND=%u), killed %s (%s, %d calls, after %u us):%s%s",
                              round, seed + round, seed, round, sh->started ? "after the start" : "while starting",
                              modes[mode], sh->calls, delay, why[0] == ' ' ? "" : " ", why);
          g_free (why);
          break;
        }
    }
  prctl (PR_SET_CHILD_SUBREAPER, 0);
  summary = format_kills (kills);
  g_test_message ("manager-owner: %u rounds, kills %s, slowest server exit %.1f ms, %.2f s",
                  n_rounds, summary, slowest / 1000.0,
                  (g_get_monotonic_time () - start) / (double) SEC);
  munmap (sh, sizeof (OwnerShared));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/robust/queue/crash-points", test_queue_crash_points);
  g_test_add_func ("/robust/queue/random-kill", test_queue_random_kill);
  g_test_add_func ("/robust/queue/growing/crash-points", test_queue_growing_crash_points);
  g_test_add_func ("/robust/queue/growing/random-kill", test_queue_growing_random_kill);
  g_test_add_data_func ("/robust/queue/waiter-wakes/getter", GINT_TO_POINTER (WAITER_GETS),
                        test_queue_waiter_wakes);
  g_test_add_data_func ("/robust/queue/waiter-wakes/putter", GINT_TO_POINTER (WAITER_PUTS),
                        test_queue_waiter_wakes);
  g_test_add_data_func ("/robust/joinable/waiter-wakes/joiner", GINT_TO_POINTER (WAITER_JOINS),
                        test_queue_waiter_wakes);
  g_test_add_func ("/robust/joinable/dead-consumer", test_joinable_dead_consumer);
  g_test_add_func ("/robust/lock/dead-holder", test_lock_dead_holder);
  g_test_add_func ("/robust/pipe/random-kill", test_pipe_random_kill);
  g_test_add_func ("/robust/manager/client-killed", test_manager_client_killed);
  g_test_add_func ("/robust/manager/owner-killed", test_manager_owner_killed);

  return g_test_run ();
}
