/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-ring.c: libFuzzer target for a Queue's shared ring and its recovery
 * (lib/core/mpk-ring.c, lib/objects/mpk-queue.c). Python's Queue trusts the length prefix
 * in its pipe; ours must trust nothing in its shared mapping, which any
 * process holding the queue can scribble on (a stray pointer, a hostile
 * peer) or leave half-written by dying inside a put or get.
 *
 * Each input makes a fresh queue, puts a few items, writes fuzzer-chosen
 * values at fuzzer-chosen offsets of the mapping (control block and ring,
 * never the pthread mutexes: a scribbled glibc mutex may legitimately block
 * for ever, as tests/test-queue-fuzz.c explains), then makes fuzzer-chosen
 * calls with zero or 1 ms timeouts, some of them from a forked child that
 * dies at one of the library's crash points so that the next call has to
 * repair the ring. Every call must return (libFuzzer's -timeout catches a
 * hang) a value or exactly one documented MPK_ERROR; nothing handed out may
 * exceed the queue's 1 MiB message limit, and nothing may allocate much past
 * it (`make fuzz` runs with -malloc_limit_mb). tests/test-queue-fuzz.c does
 * the same with random numbers in `make check`; this target lets coverage
 * steer the writes.
 *
 * The input's first byte picks the queue: joinable or not, bounded or not,
 * and a fixed ring of 4 or 64 KiB or (bit 3) the growing buffer of an
 * unbounded queue (MPK_QUEUE_BUFFER_GROWS: a 1 MiB home inside a large
 * reservation), which puts of a third of a MiB drive into its reserve. The
 * reservation is address space (MAP_NORESERVE, not malloc), so neither
 * -malloc_limit_mb nor -rss_limit_mb sees it; only the pages written count
 * towards RSS, a few MiB per input, unmapped when its queue is freed. The
 * writes reach the mapping's first 16 MiB (a 3-byte offset): the control
 * block, the home MiB and the start of the reserve. */

#include "mpk-private.h"
#include "fuzz-util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#define MS          ((gint64) 1000)
#define MAX_MESSAGE ((guint64) 1 << 20)
#define MAX_OPS     32
#define MAX_FORKS   2
#define GET_ERRORS  (CODE (MPK_ERROR_EMPTY) | CODE (MPK_ERROR_TIMED_OUT) | \
                     CODE (MPK_ERROR_TOO_BIG) | CODE (MPK_ERROR_PROTOCOL))
#define PUT_ERRORS  (CODE (MPK_ERROR_FULL) | CODE (MPK_ERROR_TIMED_OUT) | \
                     CODE (MPK_ERROR_TOO_BIG) | CODE (MPK_ERROR_PROTOCOL))

/* Byte ranges of the mapping never written: the mutexes of a fresh queue,
 * found by their initial image (robust, process-shared, error-checking). */
static gsize mutex_at[8];
static guint n_mutexes;

/* The input, read front to back; past its end every byte is 0. */
typedef struct
{
  const guint8 *p;
  gsize         left;
} Input;

static guint8
take8 (Input *in)
{
  if (in->left == 0)
    return 0;
  in->left--;
  return *in->p++;
}

static guint64
take (Input *in,
      guint  bytes)
{
  guint64 v = 0;

  for (guint i = 0; i < bytes; i++)
    v |= (guint64) take8 (in) << (8 * i);
  return v;
}

static gboolean
in_mutex (gsize offset,
          gsize width)
{
  for (guint m = 0; m < n_mutexes; m++)
    if (offset + width > mutex_at[m] && offset < mutex_at[m] + sizeof (pthread_mutex_t))
      return TRUE;
  return FALSE;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;
  MpkQueue *queue = mpk_queue_new_full (0, TRUE, 4096, &error);
  pthread_mutexattr_t attr;
  pthread_mutex_t fresh;
  const guint8 *map;
  gsize map_size;

  if (queue == NULL)
    g_error ("mpk_queue_new_full: %s", error->message);
  map = mpk__queue_get_shared_for_testing (queue, &map_size);
  memset (&fresh, 0, sizeof fresh);
  pthread_mutexattr_init (&attr);
  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init (&fresh, &attr);
  pthread_mutexattr_destroy (&attr);
  for (gsize o = 0; o + sizeof fresh <= map_size - mpk_queue_get_buffer_size (queue)
                    && n_mutexes < G_N_ELEMENTS (mutex_at); o += 8)
    if (memcmp (map + o, &fresh, sizeof fresh) == 0)
      mutex_at[n_mutexes++] = o;
  pthread_mutex_destroy (&fresh);
  mpk_queue_free (queue);
  /* Without them every write could land in a mutex: better to stop here. */
  if (n_mutexes == 0)
    g_error ("fuzz-ring: found no mutex in a fresh queue's control block");
  return 0;
}

/* A child that makes one call and dies at its @countdown-th crash point (or
 * finishes it). The parent's next call finds what it left. @streamed: the
 * length of an item streamed in pieces, or 0 for the fixed rings' 3000 bytes. */
static guint8 big[MAX_MESSAGE + 1];

static void
die_inside (MpkQueue *queue,
            guint8    how,
            gsize     streamed)
{
  pid_t pid = fork ();
  int status;

  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      guint8 item[3000] = { 0 };

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      mpk__crash_countdown = 1 + (how >> 2) % 6;
      switch (how & 3)
        {
        case 0:
          mpk_queue_put_bytes (queue, item, 1 + how % 200, 20 * MS, NULL);
          break;
        case 1:
          if (streamed > 0)
            mpk_queue_put_bytes (queue, big, streamed, 20 * MS, NULL);
          else
            mpk_queue_put_bytes (queue, item, sizeof item, 20 * MS, NULL);   /* streamed in a 4 KiB ring */
          break;
        case 2:
          {
            GBytes *b = mpk_queue_get_bytes (queue, 20 * MS, NULL);

            if (b != NULL)
              g_bytes_unref (b);
            break;
          }
        default:
          if (mpk_queue_is_joinable (queue))
            mpk_queue_task_done (queue, NULL);
          break;
        }
      _exit (0);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      g_error ("waitpid: %s", g_strerror (errno));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  Input in = { data, size };
  MpkQueue *queue;
  guint8 config, *map;
  gsize map_size, capacity;
  gboolean joinable, grows;
  guint n_puts, n_writes, n_forks = 0;

  config = take8 (&in);
  joinable = (config & 1) != 0;
  grows = (config & 8) != 0;
  /* capacity: the bytes reused over and over (a growing buffer's home),
   * which the item sizes below are chosen from. */
  capacity = grows ? MPK_QUEUE_DEFAULT_BUFFER_SIZE : (config & 2) != 0 ? 65536 : 4096;
  queue = mpk_queue_new_full ((config & 4) != 0 ? 3 : 0, joinable,
                              grows ? MPK_QUEUE_BUFFER_GROWS : capacity, &error);
  if (queue == NULL)
    g_error ("mpk_queue_new_full: %s", error->message);
  mpk_queue_set_max_message_size (queue, MAX_MESSAGE);
  map = mpk__queue_get_shared_for_testing (queue, &map_size);

  /* A few items, so the writes have records to land in. */
  n_puts = take8 (&in) % 6;
  for (guint i = 0; i < n_puts; i++)
    {
      guint16 len = (guint16) take (&in, 2);

      if (len % 4 == 0)
        mpk_queue_put (queue, g_variant_new ("(us)", len, "an item"), MPK_NO_WAIT, NULL);
      else
        mpk_queue_put_bytes (queue, big, len % (capacity / 2), MPK_NO_WAIT, NULL);
    }

  /* The scribbles: offset, width and value straight from the input. */
  n_writes = take8 (&in) % 9;
  for (guint i = 0; i < n_writes; i++)
    {
      gsize offset = take (&in, 3) % map_size;
      guint width = 1u << (take8 (&in) % 4);
      guint64 value = GUINT64_TO_LE (take (&in, 8));

      offset &= ~(gsize) (width - 1);
      if (offset + width <= map_size && !in_mutex (offset, width))
        memcpy (map + offset, &value, width);
    }

  for (guint i = 0; i < MAX_OPS && in.left > 0; i++)
    {
      guint8 op = take8 (&in);
      gint64 timeout = (op & 0x80) != 0 ? 1 * MS : MPK_NO_WAIT;

      g_clear_error (&error);
      switch (op & 0xf)
        {
        case 0:
        case 1:
          {
            g_autoptr(GVariant) v = mpk_queue_get (queue, timeout, &error);

            check ("get", v == NULL, error, GET_ERRORS);
            if (v != NULL && (g_variant_get_size (v) > MAX_MESSAGE || !g_variant_is_normal_form (v)))
              g_error ("get returned a %s of %" G_GSIZE_FORMAT " bytes, over the limit or not "
                       "normal", g_variant_get_type_string (v), g_variant_get_size (v));
            break;
          }
        case 2:
        case 3:
          {
            g_autoptr(GBytes) b = mpk_queue_get_bytes (queue, timeout, &error);

            check ("get_bytes", b == NULL, error, GET_ERRORS | CODE (MPK_ERROR_INVALID));
            if (b != NULL && g_bytes_get_size (b) > MAX_MESSAGE)
              g_error ("get_bytes returned %" G_GSIZE_FORMAT " bytes, over the limit",
                       g_bytes_get_size (b));
            break;
          }
        case 4:
          {
            gboolean ok = mpk_queue_put (queue, g_variant_new_string ("fuzz"), timeout, &error);

            check ("put", !ok, error, PUT_ERRORS);
            break;
          }
        case 5:
        case 6:
          {
            /* Small, streamed (over a quarter of the ring), or over the ring
             * (for a growing buffer, at the message limit: more would be TOO_BIG). */
            gsize len = (op & 0x40) != 0 ? MIN (capacity + 100, MAX_MESSAGE)
                        : (op & 0x20) != 0 ? capacity / 3 : 50;
            gboolean ok = mpk_queue_put_bytes (queue, big, len, timeout, &error);

            check ("put_bytes", !ok, error, PUT_ERRORS);
            break;
          }
        case 7:
          {
            gboolean ok = mpk_queue_put_bytes (queue, big, MAX_MESSAGE + 1, timeout, &error);

            check ("put_bytes (over the limit)", !ok, error, PUT_ERRORS);
            if (ok)
              g_error ("put_bytes of %" G_GUINT64_FORMAT " bytes passed a limit of %"
                       G_GUINT64_FORMAT, MAX_MESSAGE + 1, MAX_MESSAGE);
            break;
          }
        case 8:
          if (mpk_queue_qsize (queue) < 0)
            g_error ("qsize is negative");
          (void) mpk_queue_empty (queue);
          (void) mpk_queue_full (queue);
          (void) mpk_queue_get_n_recoveries (queue);
          break;
        case 9:
          if (joinable)
            {
              gboolean ok = mpk_queue_task_done (queue, &error);

              check ("task_done", !ok, error, CODE (MPK_ERROR_TOO_MANY_TASK_DONE));
            }
          break;
        case 10:
          if (joinable)
            {
              gboolean ok = mpk_queue_join (queue, timeout, &error);

              check ("join", !ok, error, CODE (MPK_ERROR_TIMED_OUT));
              (void) mpk_queue_get_unfinished (queue);
              (void) mpk_queue_get_unfinished_for (queue, getpid ());
            }
          break;
        case 11:
          {
            /* One more scribble between calls. */
            gsize offset = (take (&in, 3) % map_size) & ~(gsize) 7;
            guint64 value = take (&in, 8);

            if (offset + 8 <= map_size && !in_mutex (offset, 8))
              memcpy (map + offset, &value, 8);
            break;
          }
        case 12:
        case 13:
          if (n_forks++ < MAX_FORKS)
            die_inside (queue, take8 (&in), grows ? capacity / 3 : 0);
          break;
        default:
          {
            /* Put then get back at once: after a repair the queue works again. */
            gboolean ok = mpk_queue_put_bytes (queue, "ok", 2, MPK_NO_WAIT, &error);

            check ("put_bytes (after)", !ok, error, PUT_ERRORS);
            break;
          }
        }
    }
  mpk_queue_free (queue);
  return 0;
}
