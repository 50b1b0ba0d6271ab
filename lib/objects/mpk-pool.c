/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-pool.c: multiprocessing.Pool on the kit's own queues.
 *
 * Python's pool sends tasks down one shared queue, so when a worker dies
 * nobody knows which task it held, and map() waits for that result
 * forever. Here each worker has its own task queue and the parent knows,
 * per worker, which chunks it sent and not yet heard back of; each worker
 * writes the chunk and item it is running into a slot in shared memory.
 * When a worker is found dead the parent first takes every result still
 * in the result queue (a put that returned is in it: the queue has no
 * feeder thread), then fails the item the slot names with
 * MPK_ERROR_PEER_DIED, hands the rest of its chunks to the others and
 * starts a replacement. Nothing is lost and nothing waits on the dead.
 *
 * There is no thread in the parent either: dispatching, collecting and
 * replacing happen in pool_run_until(), which every call that waits runs.
 *
 * Messages: a task chunk is (ay data, au ends, s type, b boxed, t id,
 * t func, b star), its inputs packed (pack_values()); id 0 asks the worker
 * to exit. A result is (ay data, au ends, s type, b boxed, t id,
 * a(usis) errors), one error (item, domain, code, message) per failed
 * item, which packs as nothing. A message of RAW_FRAME_MIN bytes or more
 * travels as its serialized bytes instead (frame_put()), so that the
 * receiver's queue does not check it byte by byte. */
#include "mpk-objects-private.h"
#include "mpk-pool.h"

#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* What a worker is sent ahead: at least two chunks (one running, one
 * waiting, so it never idles between chunks while the parent is busy
 * elsewhere), and small chunks until it holds this many tasks, so that a
 * chunk size of 1 is not one round trip per task. What a dead worker held
 * and had not started goes to the others, so a deep window loses nothing. */
#define WINDOW_CHUNKS 2
#define WINDOW_TASKS  256

/* How often the parent looks for dead workers while results flow, and
 * how long it sleeps on the result queue when nothing comes. */
#define CHECK_US (10 * 1000)

/* How long a worker waits for a task before it looks whether its parent
 * still lives (a daemonic worker is also sent SIGTERM when it dies). */
#define WORKER_POLL_US (G_USEC_PER_SEC)

/* How long terminate and free give a worker after SIGTERM before SIGKILL. */
#define TERMINATE_GRACE_US (5 * G_USEC_PER_SEC)

/* From this size on a chunk's message is put as raw bytes (see frame_put()). */
#define RAW_FRAME_MIN 4096

typedef enum
{
  JOB_APPLY,
  JOB_MAP,
  JOB_IMAP,
  JOB_IMAP_UNORDERED,
} JobKind;

typedef enum
{
  POOL_RUN,
  POOL_CLOSE,
  POOL_TERMINATE,
  POOL_JOINED,
} PoolState;

/* An MpkPoolResult is a job: one call's tasks and their outcomes. */
struct _MpkPoolResult
{
  gint       ref_count;
  MpkPool   *pool;      /* NULL once the pool is gone (then the job is complete) */
  JobKind    kind;
  guint32    func;      /* its place in the pool's FuncTable: an MpkPoolFunc, or
                         * an MpkPoolStarFunc when @star */
  gboolean   star;
  gsize      n;
  GVariant **inputs;    /* dropped item by item as they complete */
  gboolean   borrowed;  /* @inputs are the caller's, without a reference of
                         * the job's: map and starmap, whose call outlives
                         * the job's use of them (job_keep_inputs() when it
                         * returns before); a floating one is in @owned */
  GPtrArray *owned;
  GVariant **results;
  GError   **errors;
  guint8    *done;
  gsize      n_done;
  gsize      n_failed;
  GArray    *order;     /* gsize: items in the order they completed */
  gsize      cursor;    /* the iterator's next position */
};

struct _MpkPoolIter
{
  MpkPoolResult *job;
};

typedef struct
{
  guint64        id;
  MpkPoolResult *job;     /* a reference */
  gsize          start;
  gsize          count;
  guint          worker;  /* where it was sent */
} Chunk;

/* The task functions a pool has been given, in shared memory: a task
 * names its function by its place here, not by its address, so that a
 * trace (which shows a task's message) reads the same from run to run
 * whatever the address space's layout; the workers, forks of the parent,
 * find the same address in their copy of the program. */
#define MAX_FUNCS 64
typedef struct
{
  guint32  n_funcs;
  guint32  pad;
  gpointer funcs[MAX_FUNCS];
} FuncTable;

/* One per worker, in shared memory: what it is running now. */
typedef struct
{
  guint64 chunk;   /* 0 between chunks */
  guint32 item;    /* the item of @chunk being run */
  guint32 pad;
} WorkerSlot;

typedef struct
{
  MpkPool    *pool;
  guint       index;
  MpkProcess *process;     /* NULL while there is none */
  MpkQueue   *tasks;
  GQueue      outstanding; /* Chunk *, in the order they were sent */
  gsize       n_outstanding; /* their tasks */
  gboolean    stop_sent;
} Worker;

struct _MpkPool
{
  guint            n_workers;
  MpkPoolInitFunc  initializer;
  gpointer         user_data;
  guint            maxtasksperchild;
  PoolState        state;
  pid_t            owner;
  WorkerSlot      *slots;     /* shared: n_workers */
  FuncTable       *funcs;     /* shared */
  Worker          *workers;
  MpkQueue        *results;
  GQueue           pending;   /* Chunk * not yet sent */
  GHashTable      *sent;      /* id → Chunk * sent to a worker */
  GPtrArray       *jobs;      /* MpkPoolResult * not complete (a reference each) */
  guint64          next_chunk_id;
  guint            n_started;
  guint            n_replaced;
  gint64           last_check;
};

/* ------------------------------------------------------------ helpers -- */

/**
 * mpk_cpu_count:
 *
 * The number of CPUs this process may run on, Python's `os.cpu_count()`
 * narrowed to the affinity mask (`len(os.sched_getaffinity(0))`, which is
 * what a pool can really use); at least 1.
 *
 * Returns: the number of usable CPUs
 */
guint
mpk_cpu_count (void)
{
  cpu_set_t set;
  long n;

  if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
    return CPU_COUNT (&set);
  n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (guint) n : 1;
}

static void
chunk_free (Chunk *chunk)
{
  mpk_pool_result_unref (chunk->job);
  g_free (chunk);
}

static gboolean
job_complete (MpkPoolResult *job)
{
  return job->n_done == job->n;
}

/* Records item @i's outcome: @value (transfer full) or @error (transfer full). */
static void
job_finish_item (MpkPoolResult *job, gsize i, GVariant *value, GError *error)
{
  if (job->done[i])
    {
      /* Cannot happen: a chunk is sent again only after its first copy is
       * known to be lost. Keep the first outcome. */
      g_clear_pointer (&value, g_variant_unref);
      g_clear_error (&error);
      return;
    }
  job->done[i] = 1;
  job->results[i] = value;
  job->errors[i] = error;
  if (error != NULL)
    job->n_failed++;
  if (job->borrowed)
    job->inputs[i] = NULL;
  else
    g_clear_pointer (&job->inputs[i], g_variant_unref);
  g_array_append_val (job->order, i);
  job->n_done++;
  if (job_complete (job) && job->pool != NULL)
    {
      MpkPool *pool = job->pool;

      job->pool = NULL;
      g_ptr_array_remove_fast (pool->jobs, job);   /* drops the pool's reference */
    }
}

static void
job_fail_range (MpkPoolResult *job, gsize start, gsize count, GQuark domain, int code,
                const char *message)
{
  /* The last item may drop the pool's reference, which may be the last. */
  mpk_pool_result_ref (job);
  for (gsize i = start; i < start + count; i++)
    if (!job->done[i])
      job_finish_item (job, i, NULL, g_error_new (domain, code, "task %" G_GSIZE_FORMAT ": %s",
                                                  i, message));
  mpk_pool_result_unref (job);
}

/* ------------------------------------------------------------ packing -- */

/* A chunk's values travel packed: their serialized bytes one after another
 * (each at an 8-byte boundary, as GVariant data wants) in one "ay", where
 * each one ends in an "au", and their common type once. Building an "av"
 * instead costs a tree of boxed variants per item on both sides, which on
 * small tasks was most of the work. Values of different types are packed
 * boxed (each as a "v"). A NULL value (a failed task) packs as nothing. */
#define PACK_ALIGN 8

typedef struct
{
  GVariant *data;    /* "ay", floating */
  GVariant *ends;    /* "au", floating */
  char     *type;
  gboolean  boxed;
} Packed;

/* A type whose values all have one size, which is a multiple of its
 * alignment: its values packed end to end are a GVariant array. */
static gboolean
type_is_fixed (const char *type)
{
  return type[0] != '\0' && type[strspn (type, "bynqiuxthd()")] == '\0';
}

static void
pack_values (GVariant *const *values, gsize n, Packed *out)
{
  g_autoptr(GByteArray) data = g_byte_array_sized_new (n * 16 + 16);
  g_autofree guint32 *ends = g_new (guint32, MAX (n, 1));
  const char *type = NULL;
  gboolean boxed = FALSE;
  gsize fixed_size = 0;
  static const guint8 zeros[PACK_ALIGN] = { 0 };

  for (gsize i = 0; i < n && !boxed; i++)
    if (values[i] != NULL)
      {
        const char *t = g_variant_get_type_string (values[i]);

        if (type == NULL)
          type = t;
        else if (strcmp (type, t) != 0)
          boxed = TRUE;
      }
  for (gsize i = 0; i < n && fixed_size == 0 && !boxed && type != NULL && type_is_fixed (type);
       i++)
    if (values[i] != NULL)
      fixed_size = g_variant_get_size (values[i]);
  for (gsize i = 0; i < n; i++)
    {
      if (data->len % PACK_ALIGN != 0 && (boxed || type == NULL || !type_is_fixed (type)))
        g_byte_array_append (data, zeros, PACK_ALIGN - data->len % PACK_ALIGN);
      if (values[i] != NULL && boxed)
        {
          g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_variant (values[i]));
          gsize size = g_variant_get_size (v);

          if (size > 0)
            g_byte_array_append (data, g_variant_get_data (v), size);
        }
      else if (values[i] != NULL)
        {
          /* No reference taken: the caller holds the value (a third of the
           * cost of packing a chunk of integers went to taking and dropping
           * one per item). A value of a fixed type has the first one's
           * size: g_variant_get_size() takes the value's lock, a write. */
          gsize size = fixed_size != 0 ? fixed_size : g_variant_get_size (values[i]);

          if (size > 0)
            g_byte_array_append (data, g_variant_get_data (values[i]), size);
        }
      ends[i] = data->len;
    }
  out->data = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data->data, data->len, 1);
  out->ends = g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, ends, n, sizeof (guint32));
  out->type = g_strdup (boxed || type == NULL ? "v" : type);
  out->boxed = boxed;
}

typedef struct
{
  GVariant           *array;  /* owned: the values as one array, when they make one */
  GVariant           *data;   /* owned */
  const guint8       *bytes;
  gsize               size;
  GVariant           *ends_v; /* owned */
  const guint32      *ends;
  gsize               n;
  const GVariantType *type;
  gboolean            boxed;
  gboolean            fixed;  /* packed end to end, not at 8-byte boundaries */
} Unpacked;

static void
unpacked_clear (Unpacked *u)
{
  g_clear_pointer (&u->array, g_variant_unref);
  g_clear_pointer (&u->data, g_variant_unref);
  g_clear_pointer (&u->ends_v, g_variant_unref);
}

/* Takes @data and @ends (transfer full); checks them: FALSE when they do
 * not make @n values of @type. */
static gboolean
unpack_init (Unpacked *u, GVariant *data, GVariant *ends, const char *type, gboolean boxed,
             gsize n)
{
  memset (u, 0, sizeof *u);
  u->data = data;
  u->ends_v = ends;
  u->bytes = g_variant_get_fixed_array (data, &u->size, 1);
  u->ends = g_variant_get_fixed_array (ends, &u->n, sizeof (guint32));
  if (!g_variant_type_string_is_valid (type) || u->n != n)
    return FALSE;
  u->type = G_VARIANT_TYPE (type);
  if (!g_variant_type_is_definite (u->type) || (boxed && strcmp (type, "v") != 0))
    return FALSE;
  u->boxed = boxed;
  u->fixed = !boxed && type_is_fixed (type);
  for (gsize i = 0; i < n; i++)
    if (u->ends[i] > u->size || (i > 0 && u->ends[i] < u->ends[i - 1]))
      return FALSE;
  if (!boxed && n > 0 && u->ends[0] > 0 && type_is_fixed (type))
    {
      gboolean even = TRUE;

      for (gsize i = 1; i < n && even; i++)
        even = u->ends[i] == (i + 1) * u->ends[0];
      if (even)
        {
          /* One array: a value is then a view into it, one allocation.
           * Numbers need no normal-form check (any bytes are one); a
           * boolean must be 0 or 1, and a unit 0, so those are checked. */
          g_autofree char *array_type = g_strconcat ("a", type, NULL);
          gboolean any_bytes = type[strspn (type, "ynqiuxthd")] == '\0';

          u->array = g_variant_ref_sink (
            g_variant_new_from_data (G_VARIANT_TYPE (array_type), u->bytes, u->ends[n - 1],
                                     any_bytes, (GDestroyNotify) g_variant_unref,
                                     g_variant_ref (u->data)));
        }
    }
  return TRUE;
}

/* Value @i: (transfer full), sharing the packed bytes (not trusted: GVariant
 * checks what it reads). */
static GVariant *
unpack_item (Unpacked *u, gsize i)
{
  gsize start = i == 0 ? 0 : u->ends[i - 1];
  gsize end = u->ends[i];
  GVariant *v;

  if (u->array != NULL)
    return g_variant_get_child_value (u->array, i);
  /* Values of a fixed type are packed end to end: aligning the start of
   * one that follows a failed task's (empty) place would skip its bytes. */
  if (!u->fixed)
    start = MIN ((start + PACK_ALIGN - 1) / PACK_ALIGN * PACK_ALIGN, end);
  v = g_variant_ref_sink (g_variant_new_from_data (u->type, u->bytes + start, end - start, FALSE,
                                                   (GDestroyNotify) g_variant_unref,
                                                   g_variant_ref (u->data)));
  if (u->boxed)
    {
      GVariant *inner = g_variant_get_variant (v);

      g_variant_unref (v);
      return inner;
    }
  return v;
}

/* A worker packs each result as soon as it has it and drops it, instead of
 * keeping a chunk's results alive to pack them at the end: its allocator
 * then reuses the same few blocks for every task, where a chunk's worth of
 * live results spread over pages it shares with the parent since the fork,
 * each first write a copy-on-write fault (most of a small-task map's time
 * in the workers). Values of the first value's type are packed as
 * pack_values() packs them; when another type comes, the chunk is packed
 * again boxed at the end (rare: a function that returns different types). */
typedef struct
{
  GByteArray  *data;
  guint32     *starts;
  guint32     *ends;
  const char **types;  /* interned; NULL for a failed task */
  gsize        n;
  const char  *type;   /* interned: the first value's */
  gsize        fixed_size;  /* its size when its type is fixed, else 0 */
  gboolean     fixed;
  gboolean     mixed;
} Packer;

static void
packer_init (Packer *p, gsize n)
{
  memset (p, 0, sizeof *p);
  p->data = g_byte_array_sized_new (n * 8 + 16);
  p->starts = g_new (guint32, MAX (n, 1));
  p->ends = g_new (guint32, MAX (n, 1));
  p->types = g_new0 (const char *, MAX (n, 1));
}

/* Adds the next value (transfer none; NULL for a failed task). */
static void
packer_add (Packer *p, GVariant *value)
{
  static const guint8 zeros[PACK_ALIGN] = { 0 };
  gsize i = p->n++;

  if (value != NULL)
    {
      const char *t = g_variant_get_type_string (value);

      if (p->type == NULL)
        {
          p->type = g_intern_string (t);
          p->fixed = type_is_fixed (t);
          p->fixed_size = p->fixed ? g_variant_get_size (value) : 0;
        }
      if (t == p->type || strcmp (t, p->type) == 0)
        p->types[i] = p->type;
      else
        {
          p->types[i] = g_intern_string (t);
          p->mixed = TRUE;
        }
    }
  if (p->data->len % PACK_ALIGN != 0 && (p->type == NULL || !p->fixed))
    g_byte_array_append (p->data, zeros, PACK_ALIGN - p->data->len % PACK_ALIGN);
  p->starts[i] = p->data->len;
  if (value != NULL)
    {
      /* A value of the first one's fixed type has its size: asking takes
       * the value's lock. */
      gsize size = p->fixed_size != 0 && p->types[i] == p->type ? p->fixed_size
                                                                : g_variant_get_size (value);

      if (size > 0)
        g_byte_array_append (p->data, g_variant_get_data (value), size);
    }
  p->ends[i] = p->data->len;
}

/* Frees @p's buffers and fills @out as pack_values() would have. */
static void
packer_finish (Packer *p, Packed *out)
{
  if (p->mixed)
    {
      GVariant **values = g_new0 (GVariant *, MAX (p->n, 1));

      for (gsize i = 0; i < p->n; i++)
        if (p->types[i] != NULL)
          {
            g_autoptr(GBytes) bytes = g_bytes_new (p->data->data + p->starts[i],
                                                   p->ends[i] - p->starts[i]);

            values[i] = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (p->types[i]),
                                                                      bytes, TRUE));
          }
      pack_values (values, p->n, out);
      for (gsize i = 0; i < p->n; i++)
        g_clear_pointer (&values[i], g_variant_unref);
      g_free (values);
      g_byte_array_unref (p->data);
    }
  else
    {
      g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes (p->data);

      out->data = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
      out->ends = g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, p->ends, p->n,
                                             sizeof (guint32));
      out->type = g_strdup (p->type != NULL ? p->type : "v");
      out->boxed = FALSE;
    }
  p->data = NULL;
  g_clear_pointer (&p->starts, g_free);
  g_clear_pointer (&p->ends, g_free);
  g_clear_pointer (&p->types, g_free);
}

/* Puts @msg (floating references are sunk). The queue checks a GVariant it
 * receives for normal form, which GLib does byte by byte in an "ay" inside
 * a tuple (about 15 ns a byte: 1.5 ms for a chunk of 12 500 integers, each
 * way). A large message therefore travels as its own serialized bytes,
 * which the queue passes as they are, and frame_take() reads them back as
 * the tuple, untrusted (GLib reads non-normal data safely, and unpack_init()
 * checks what the pool relies on). A small one stays a tuple, which a trace
 * shows field by field. */
static gboolean
frame_put (MpkQueue *queue, GVariant *msg, gint64 timeout_us, GError **error)
{
  g_autoptr(GVariant) m = g_variant_ref_sink (msg);
  gsize size = g_variant_get_size (m);

  if (size < RAW_FRAME_MIN)
    return mpk_queue_put (queue, m, timeout_us, error);
  return mpk_queue_put_bytes (queue, g_variant_get_data (m), size, timeout_us, error);
}

/* @msg (transfer none) as a @type, either itself or the tuple its bytes
 * hold; NULL when it is neither. Returns (transfer full). */
static GVariant *
frame_take (GVariant *msg, const GVariantType *type)
{
  if (g_variant_is_of_type (msg, type))
    return g_variant_ref (msg);
  if (g_variant_is_of_type (msg, G_VARIANT_TYPE_BYTESTRING))
    {
      g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (msg);

      return g_variant_ref_sink (g_variant_new_from_bytes (type, bytes, FALSE));
    }
  return NULL;
}

/* ------------------------------------------------------------- worker -- */

static GVariant *
run_item (MpkPool *pool, gpointer func, gboolean star, GVariant *arg, GError **error)
{
  GVariant *result;

  if (star)
    {
      gsize n_args = g_variant_is_container (arg) ? g_variant_n_children (arg) : 0;
      GVariant **args = g_new0 (GVariant *, n_args + 1);

      if (!g_variant_is_of_type (arg, G_VARIANT_TYPE_TUPLE))
        {
          g_free (args);
          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "starmap: the input is a %s, not a tuple", g_variant_get_type_string (arg));
          return NULL;
        }
      for (gsize i = 0; i < n_args; i++)
        args[i] = g_variant_get_child_value (arg, i);
      result = ((MpkPoolStarFunc) func) (args, n_args, pool->user_data, error);
      for (gsize i = 0; i < n_args; i++)
        g_variant_unref (args[i]);
      g_free (args);
    }
  else
    result = ((MpkPoolFunc) func) (arg, pool->user_data, error);
  if (result == NULL && (error == NULL || *error == NULL))
    g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                         "the task function returned NULL without an error");
  if (result != NULL)
    g_variant_ref_sink (result);
  return result;
}

/* Runs one chunk and puts its results. FALSE if the result queue refused
 * or the chunk is malformed. */
static gboolean
worker_run_chunk (Worker *self, GVariant *msg)
{
  MpkPool *pool = self->pool;
  WorkerSlot *slot = &pool->slots[self->index];
  GVariant *data, *ends;
  const char *type;
  Unpacked in;
  Packed out;
  GVariantBuilder errors;
  Packer packer;
  guint64 id, func;
  gboolean boxed, star, ok;
  gsize n;

  g_variant_get (msg, "(@ay@au&sbttb)", &data, &ends, &type, &boxed, &id, &func, &star);
  n = g_variant_n_children (ends);
  if (!unpack_init (&in, data, ends, type, boxed, n))
    {
      unpacked_clear (&in);
      return FALSE;
    }
  if (func >= __atomic_load_n (&pool->funcs->n_funcs, __ATOMIC_ACQUIRE))
    {
      unpacked_clear (&in);
      return FALSE;
    }
  packer_init (&packer, n);
  g_variant_builder_init (&errors, G_VARIANT_TYPE ("a(usis)"));
  __atomic_store_n (&slot->item, 0, __ATOMIC_RELEASE);
  __atomic_store_n (&slot->chunk, id, __ATOMIC_RELEASE);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) arg = unpack_item (&in, i);
      g_autoptr(GVariant) result = NULL;
      g_autoptr(GError) error = NULL;

      __atomic_store_n (&slot->item, (guint32) i, __ATOMIC_RELEASE);
      result = run_item (pool, pool->funcs->funcs[func], star, arg, &error);
      if (result == NULL)
        g_variant_builder_add (&errors, "(usis)", (guint32) i, g_quark_to_string (error->domain),
                               error->code, error->message);
      packer_add (&packer, result);
    }
  packer_finish (&packer, &out);
  ok = frame_put (pool->results,
                  g_variant_new ("(@ay@ausbta(usis))", out.data, out.ends, out.type,
                                 out.boxed, id, &errors),
                  MPK_WAIT_FOREVER, NULL);
  __atomic_store_n (&slot->chunk, 0, __ATOMIC_RELEASE);
  g_free (out.type);
  unpacked_clear (&in);
  return ok;
}

static int
worker_main (gpointer data)
{
  Worker *self = data;
  MpkPool *pool = self->pool;
  guint n_chunks = 0;

  if (pool->initializer != NULL)
    pool->initializer (pool->user_data);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) frame = mpk_queue_get (self->tasks, WORKER_POLL_US, &error);
      g_autoptr(GVariant) msg = NULL;
      guint64 id;

      if (frame == NULL)
        {
          if (g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT)
              || g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY))
            {
              if (getppid () != pool->owner)
                return 1;
              continue;
            }
          return 2;
        }
      msg = frame_take (frame, G_VARIANT_TYPE ("(ayausbttb)"));
      if (msg == NULL)
        return 3;
      g_variant_get_child (msg, 4, "t", &id);
      if (id == 0)
        return 0;
      if (!worker_run_chunk (self, msg))
        return 4;
      if (pool->maxtasksperchild > 0 && ++n_chunks >= pool->maxtasksperchild)
        return 0;
    }
}

/* ------------------------------------------------------------- parent -- */

static gboolean
worker_start (MpkPool *pool, Worker *w, GError **error)
{
  g_autofree char *name = NULL;

  g_assert (w->process == NULL);
  w->tasks = mpk_queue_new (0, error);
  if (w->tasks == NULL)
    return FALSE;
  pool->slots[w->index].chunk = 0;
  pool->slots[w->index].item = 0;
  w->stop_sent = FALSE;
  name = g_strdup_printf ("ForkPoolWorker-%u", ++pool->n_started);
  w->process = mpk_process_new (name, worker_main, w, NULL);
  mpk_process_set_daemon (w->process, TRUE);
  if (!mpk_process_start (w->process, error))
    {
      g_clear_pointer (&w->process, mpk_process_unref);
      g_clear_pointer (&w->tasks, mpk_queue_free);
      return FALSE;
    }
  return TRUE;
}

static void
send_chunk (MpkPool *pool, Worker *w, Chunk *chunk)
{
  MpkPoolResult *job = chunk->job;
  g_autoptr(GError) error = NULL;
  gboolean ok;
  Packed in;

  pack_values (job->inputs + chunk->start, chunk->count, &in);
  ok = frame_put (w->tasks,
                  g_variant_new ("(@ay@ausbttb)", in.data, in.ends, in.type, in.boxed,
                                 chunk->id, (guint64) job->func, job->star),
                  G_USEC_PER_SEC, &error);
  g_free (in.type);
  if (!ok)
    {
      job_fail_range (job, chunk->start, chunk->count, error->domain, error->code,
                      error->message);
      chunk_free (chunk);
      return;
    }
  chunk->worker = w->index;
  g_queue_push_tail (&w->outstanding, chunk);
  w->n_outstanding += chunk->count;
  g_hash_table_insert (pool->sent, &chunk->id, chunk);
}

static void
dispatch (MpkPool *pool)
{
  gboolean sent = TRUE;

  /* Round robin, one chunk per worker per turn, so a short map spreads. */
  while (sent && !g_queue_is_empty (&pool->pending))
    {
      sent = FALSE;
      for (guint i = 0; i < pool->n_workers && !g_queue_is_empty (&pool->pending); i++)
        {
          Worker *w = &pool->workers[i];

          if (w->process == NULL || w->stop_sent
              || (w->outstanding.length >= WINDOW_CHUNKS && w->n_outstanding >= WINDOW_TASKS))
            continue;
          send_chunk (pool, w, g_queue_pop_head (&pool->pending));
          sent = TRUE;
        }
    }
}

static void
handle_result (MpkPool *pool, GVariant *frame)
{
  g_autoptr(GVariant) msg = frame_take (frame, G_VARIANT_TYPE ("(ayausbta(usis))"));
  g_autoptr(GVariant) errors = NULL;
  g_autofree GError **item_errors = NULL;
  GVariant *data, *ends;
  GVariantIter iter;
  const char *type, *domain, *message;
  guint32 item;
  gint32 code;
  guint64 id;
  gboolean boxed;
  Unpacked out;
  Chunk *chunk;

  if (msg == NULL)
    return;
  g_variant_get (msg, "(@ay@au&sbt@a(usis))", &data, &ends, &type, &boxed, &id, &errors);
  chunk = g_hash_table_lookup (pool->sent, &id);
  if (chunk == NULL || !unpack_init (&out, data, ends, type, boxed, chunk->count))
    {
      /* A chunk given up on (terminate), or garbage: cannot be anything else. */
      if (chunk == NULL)
        {
          g_variant_unref (data);
          g_variant_unref (ends);
        }
      else
        unpacked_clear (&out);
      return;
    }
  g_hash_table_remove (pool->sent, &id);
  g_queue_remove (&pool->workers[chunk->worker].outstanding, chunk);
  pool->workers[chunk->worker].n_outstanding -= chunk->count;
  item_errors = g_new0 (GError *, chunk->count);
  g_variant_iter_init (&iter, errors);
  while (g_variant_iter_next (&iter, "(u&si&s)", &item, &domain, &code, &message))
    if (item < chunk->count && item_errors[item] == NULL)
      item_errors[item] = g_error_new (g_quark_from_string (domain), code,
                                       "task %" G_GSIZE_FORMAT ": %s", chunk->start + item,
                                       message);
  for (gsize i = 0; i < chunk->count; i++)
    job_finish_item (chunk->job, chunk->start + i,
                     item_errors[i] == NULL ? unpack_item (&out, i) : NULL, item_errors[i]);
  unpacked_clear (&out);
  chunk_free (chunk);
}

/* Takes every result already in the queue, without waiting. */
static void
drain_results (MpkPool *pool)
{
  for (;;)
    {
      g_autoptr(GVariant) msg = mpk_queue_get_nowait (pool->results, NULL);

      if (msg == NULL)
        return;
      handle_result (pool, msg);
    }
}

/* A chunk part that must run again goes to the front of the line. */
static void
requeue (MpkPool *pool, MpkPoolResult *job, gsize start, gsize count, GList *before)
{
  Chunk *chunk;

  if (count == 0)
    return;
  chunk = g_new0 (Chunk, 1);
  chunk->id = ++pool->next_chunk_id;
  chunk->job = mpk_pool_result_ref (job);
  chunk->start = start;
  chunk->count = count;
  if (before != NULL)
    g_queue_insert_before (&pool->pending, before, chunk);
  else
    g_queue_push_tail (&pool->pending, chunk);
}

static gboolean
jobs_remain (MpkPool *pool)
{
  return pool->jobs->len > 0;
}

/* @w's process has exited: account for every chunk it held, and start
 * another worker if there is work for one. */
static void
worker_ended (MpkPool *pool, Worker *w)
{
  WorkerSlot *slot = &pool->slots[w->index];
  guint64 running = __atomic_load_n (&slot->chunk, __ATOMIC_ACQUIRE);
  guint32 item = __atomic_load_n (&slot->item, __ATOMIC_ACQUIRE);
  int exitcode = mpk_process_get_exitcode (w->process);
  GPid pid = mpk_process_get_pid (w->process);
  GList *front = pool->pending.head;
  Chunk *chunk;

  /* Whatever it finished before it died is in the queue: take it first. */
  drain_results (pool);
  w->n_outstanding = 0;
  while ((chunk = g_queue_pop_head (&w->outstanding)) != NULL)
    {
      g_hash_table_remove (pool->sent, &chunk->id);
      if (chunk->id == running && item < chunk->count)
        {
          g_autofree char *why = NULL;

          why = exitcode < 0
                  ? g_strdup_printf ("pool worker %d died (signal %d) while running it",
                                     (int) pid, -exitcode)
                  : g_strdup_printf ("pool worker %d exited (code %d) while running it",
                                     (int) pid, exitcode);
          requeue (pool, chunk->job, chunk->start, item, front);
          job_fail_range (chunk->job, chunk->start + item, 1, MPK_ERROR, MPK_ERROR_PEER_DIED, why);
          requeue (pool, chunk->job, chunk->start + item + 1, chunk->count - item - 1, front);
        }
      else
        requeue (pool, chunk->job, chunk->start, chunk->count, front);
      chunk_free (chunk);
    }
  g_clear_pointer (&w->process, mpk_process_unref);
  g_clear_pointer (&w->tasks, mpk_queue_free);
  if (exitcode != 0 || running != 0)
    pool->n_replaced++;
  if (pool->state == POOL_RUN || (pool->state == POOL_CLOSE && jobs_remain (pool)))
    {
      g_autoptr(GError) error = NULL;

      /* A fork that fails now is tried again at the next check. */
      if (!worker_start (pool, w, &error))
        g_warning ("pool: cannot start a replacement worker: %s", error->message);
    }
}

static void
check_workers (MpkPool *pool)
{
  gboolean any = FALSE;

  pool->last_check = g_get_monotonic_time ();
  for (guint i = 0; i < pool->n_workers; i++)
    {
      Worker *w = &pool->workers[i];

      if (w->process != NULL && !mpk_process_is_alive (w->process))
        worker_ended (pool, w);
      else if (w->process == NULL && pool->state == POOL_RUN)
        worker_start (pool, w, NULL);   /* an earlier fork failed */
      any = any || w->process != NULL;
    }
  if (!any && jobs_remain (pool) && pool->state != POOL_RUN)
    {
      /* Closed, and no worker could be started: nothing will ever run. */
      for (guint j = pool->jobs->len; j > 0; j--)
        {
          MpkPoolResult *job = g_ptr_array_index (pool->jobs, j - 1);

          job_fail_range (job, 0, job->n, MPK_ERROR, MPK_ERROR_SPAWN,
                          "no pool worker could be started");
        }
    }
}

typedef gboolean (*PoolPredicate) (gpointer data);

/* Runs the pool until @pred (@data) holds or @deadline passes. */
static gboolean
pool_run_until (MpkPool *pool, PoolPredicate pred, gpointer data, MpkDeadline deadline)
{
  for (;;)
    {
      g_autoptr(GVariant) msg = NULL;
      g_autoptr(GError) error = NULL;
      gint64 now, wait;

      dispatch (pool);
      if (pred (data))
        return TRUE;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        return FALSE;
      if (now - pool->last_check >= CHECK_US)
        {
          check_workers (pool);
          continue;
        }
      wait = MIN (deadline - now, CHECK_US);
      msg = mpk_queue_get (pool->results, wait, &error);
      if (msg != NULL)
        handle_result (pool, msg);
      else
        check_workers (pool);
    }
}

/* ----------------------------------------------------------- the pool -- */

static void
pool_stop_workers (MpkPool *pool)
{
  for (guint i = 0; i < pool->n_workers; i++)
    {
      Worker *w = &pool->workers[i];

      if (w->process != NULL)
        mpk_process_terminate (w->process, NULL);
    }
  for (guint i = 0; i < pool->n_workers; i++)
    {
      Worker *w = &pool->workers[i];

      if (w->process == NULL)
        continue;
      if (!mpk_process_join (w->process, TERMINATE_GRACE_US))
        {
          mpk_process_kill (w->process, NULL);
          mpk_process_join (w->process, MPK_WAIT_FOREVER);
        }
      g_queue_clear_full (&w->outstanding, (GDestroyNotify) chunk_free);
      w->n_outstanding = 0;
      g_clear_pointer (&w->process, mpk_process_unref);
      g_clear_pointer (&w->tasks, mpk_queue_free);
    }
}

/* Fails what has not finished with @message, and forgets every job. */
static void
pool_fail_all (MpkPool *pool, const char *message)
{
  g_hash_table_remove_all (pool->sent);
  g_queue_clear_full (&pool->pending, (GDestroyNotify) chunk_free);
  for (guint i = 0; i < pool->n_workers; i++)
    {
      g_queue_clear_full (&pool->workers[i].outstanding, (GDestroyNotify) chunk_free);
      pool->workers[i].n_outstanding = 0;
    }
  while (pool->jobs->len > 0)
    {
      MpkPoolResult *job = g_ptr_array_index (pool->jobs, pool->jobs->len - 1);

      job_fail_range (job, 0, job->n, MPK_ERROR, MPK_ERROR_CLOSED, message);
    }
}

/**
 * mpk_pool_new:
 * @n_workers: how many worker processes; 0 for mpk_cpu_count()
 * @initializer: (nullable): run in each worker as it
 *   starts, Python's `initializer`
 * @user_data: (transfer none) (nullable): given to @initializer and to every task
 *   function, in the workers (each has its own copy of this process's
 *   memory as it was when the worker started)
 * @maxtasksperchild: after this many chunks a worker exits and a fresh one
 *   replaces it (Python's `maxtasksperchild`, whose tasks are chunks too);
 *   0 for never
 * @error: return location for a #GError, or %NULL
 *
 * Starts a pool of worker processes, Python's `multiprocessing.Pool()`.
 * The workers are daemonic: they end when this process ends.
 *
 * Returns: (transfer full): the pool, free with mpk_pool_free(); %NULL with
 *   %MPK_ERROR_SPAWN or %MPK_ERROR_FAILED when the workers or their queues
 *   cannot be made
 */
MpkPool *
mpk_pool_new (guint             n_workers,
              MpkPoolInitFunc   initializer,
              gpointer          user_data,
              guint             maxtasksperchild,
              GError          **error)
{
  MpkPool *pool;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  pool = g_new0 (MpkPool, 1);
  pool->n_workers = n_workers != 0 ? n_workers : mpk_cpu_count ();
  pool->initializer = initializer;
  pool->user_data = user_data;
  pool->maxtasksperchild = maxtasksperchild;
  pool->owner = getpid ();
  pool->sent = g_hash_table_new (g_int64_hash, g_int64_equal);
  pool->jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_pool_result_unref);
  g_queue_init (&pool->pending);
  pool->workers = g_new0 (Worker, pool->n_workers);
  pool->slots = mpk__shm_alloc (pool->n_workers * sizeof (WorkerSlot), error);
  pool->funcs = pool->slots != NULL ? mpk__shm_alloc (sizeof (FuncTable), error) : NULL;
  pool->results = pool->funcs != NULL ? mpk_queue_new (0, error) : NULL;
  if (pool->results == NULL)
    {
      pool->state = POOL_JOINED;
      mpk_pool_free (pool);
      return NULL;
    }
  for (guint i = 0; i < pool->n_workers; i++)
    {
      pool->workers[i].pool = pool;
      pool->workers[i].index = i;
      g_queue_init (&pool->workers[i].outstanding);
    }
  /* Free heap pages this process still holds would be the workers' too,
   * and their first writes to them copy pages one fault at a time: give
   * them back first (on a loaded VM this halved a small-task map). */
  malloc_trim (0);
  for (guint i = 0; i < pool->n_workers; i++)
    if (!worker_start (pool, &pool->workers[i], error))
      {
        mpk_pool_free (pool);
        return NULL;
      }
  pool->last_check = g_get_monotonic_time ();
  return pool;
}

/**
 * mpk_pool_free:
 * @pool: (transfer full) (nullable): a pool
 *
 * Terminates the workers if mpk_pool_join() has not ended them (what
 * leaving Python's `with Pool()` block does) and frees the pool. Results
 * and iterators still held stay valid; what they had not received has
 * failed with %MPK_ERROR_CLOSED.
 */
void
mpk_pool_free (MpkPool *pool)
{
  if (pool == NULL)
    return;
  if (pool->owner == getpid ())
    {
      pool_stop_workers (pool);
      pool_fail_all (pool, "the pool was freed before the task ran");
    }
  else
    pool_fail_all (pool, "the pool was freed before the task ran");
  for (guint i = 0; i < pool->n_workers; i++)
    {
      g_clear_pointer (&pool->workers[i].process, mpk_process_unref);
      g_clear_pointer (&pool->workers[i].tasks, mpk_queue_free);
    }
  g_clear_pointer (&pool->results, mpk_queue_free);
  if (pool->slots != NULL)
    mpk__shm_free (pool->slots, pool->n_workers * sizeof (WorkerSlot));
  if (pool->funcs != NULL)
    mpk__shm_free (pool->funcs, sizeof (FuncTable));
  g_hash_table_unref (pool->sent);
  g_ptr_array_unref (pool->jobs);
  g_free (pool->workers);
  g_free (pool);
}

/**
 * mpk_pool_get_n_workers:
 * @pool: (transfer none): a pool
 *
 * How many workers the pool keeps running (Python's `_processes`).
 *
 * Returns: the number given to mpk_pool_new(), or the CPU count
 */
guint
mpk_pool_get_n_workers (MpkPool *pool)
{
  g_return_val_if_fail (pool != NULL, 0);
  return pool->n_workers;
}

/**
 * mpk_pool_get_worker_pid:
 * @pool: (transfer none): a pool
 * @index: a worker's place, below mpk_pool_get_n_workers()
 *
 * The process id of the worker in place @index now: a replacement has
 * another. For tests and demonstrations that kill a worker.
 *
 * Returns: its pid, or 0 when that place has no worker (between a death
 *   and the replacement, or after the pool ended)
 */
GPid
mpk_pool_get_worker_pid (MpkPool *pool,
                         guint    index)
{
  g_return_val_if_fail (pool != NULL, 0);
  g_return_val_if_fail (index < pool->n_workers, 0);
  return pool->workers[index].process != NULL
           ? mpk_process_get_pid (pool->workers[index].process) : 0;
}

/**
 * mpk_pool_get_n_replaced:
 * @pool: (transfer none): a pool
 *
 * How many workers died or exited in the middle of their work and were
 * replaced (workers retired by @maxtasksperchild do not count).
 *
 * Returns: the count so far
 */
guint
mpk_pool_get_n_replaced (MpkPool *pool)
{
  g_return_val_if_fail (pool != NULL, 0);
  return pool->n_replaced;
}

static gboolean
pool_check_running (MpkPool *pool, GError **error)
{
  if (pool->state == POOL_RUN)
    return TRUE;
  g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "pool: not running (closed or terminated): no new tasks");
  return FALSE;
}

/* @func's place in the pool's table, added if new (the workers read the
 * table when a task names it, so one added after they started is there).
 * FALSE with INVALID when the table is full. */
static gboolean
func_index (MpkPool *pool, gpointer func, guint32 *index, GError **error)
{
  FuncTable *table = pool->funcs;

  for (guint32 i = 0; i < table->n_funcs; i++)
    if (table->funcs[i] == func)
      {
        *index = i;
        return TRUE;
      }
  if (table->n_funcs == MAX_FUNCS)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "pool: more than %d different task functions", MAX_FUNCS);
      return FALSE;
    }
  table->funcs[table->n_funcs] = func;
  *index = table->n_funcs;
  __atomic_store_n (&table->n_funcs, table->n_funcs + 1, __ATOMIC_RELEASE);
  return TRUE;
}

/* A borrowed job's inputs that have not run get a reference of the job's,
 * for a call that returns before the job is complete (a timeout): the
 * caller may then free its own. */
static void
job_keep_inputs (MpkPoolResult *job)
{
  if (!job->borrowed)
    return;
  for (gsize i = 0; i < job->n; i++)
    if (job->inputs[i] != NULL)
      g_variant_ref (job->inputs[i]);
  job->borrowed = FALSE;
}

/* Makes a job of @n inputs and queues its chunks; NULL only when @func
 * cannot be added to the pool's table. With @borrow the job takes no
 * reference to inputs that are not floating (see MpkPoolResult): taking
 * and dropping one writes to every input, and an input made before the
 * workers were forked shares its page with them, so that write copies the
 * page. */
static MpkPoolResult *
submit (MpkPool *pool, JobKind kind, gpointer func, gboolean star, GVariant *const *inputs,
        gsize n, gsize chunksize, gboolean borrow, GError **error)
{
  MpkPoolResult *job;
  guint32 index;

  if (!func_index (pool, func, &index, error))
    return NULL;
  job = g_new0 (MpkPoolResult, 1);
  job->ref_count = 1;
  job->kind = kind;
  job->func = index;
  job->star = star;
  job->n = n;
  job->inputs = g_new0 (GVariant *, n);
  job->results = g_new0 (GVariant *, n);
  job->errors = g_new0 (GError *, n);
  job->done = g_new0 (guint8, n);
  job->order = g_array_sized_new (FALSE, FALSE, sizeof (gsize), n);
  job->borrowed = borrow;
  for (gsize i = 0; i < n; i++)
    if (!borrow)
      job->inputs[i] = g_variant_ref_sink (inputs[i]);
    else
      {
        if (g_variant_is_floating (inputs[i]))
          {
            if (job->owned == NULL)
              job->owned = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
            g_ptr_array_add (job->owned, g_variant_ref_sink (inputs[i]));
          }
        job->inputs[i] = inputs[i];
      }
  if (n == 0)
    return job;
  job->pool = pool;
  g_ptr_array_add (pool->jobs, mpk_pool_result_ref (job));
  if (chunksize == 0)
    {
      /* Python's rule: about four chunks per worker. */
      chunksize = n / (pool->n_workers * 4);
      if (n % (pool->n_workers * 4) != 0 || chunksize == 0)
        chunksize++;
    }
  for (gsize start = 0; start < n; start += chunksize)
    requeue (pool, job, start, MIN (chunksize, n - start), NULL);
  dispatch (pool);
  return job;
}

static gboolean
inputs_valid (GVariant *const *inputs, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (inputs[i] == NULL)
      return FALSE;
  return TRUE;
}

/**
 * mpk_pool_apply_async:
 * @pool: (transfer none): a running pool
 * @func:: the task function
 * @arg: (transfer none): its input (a floating reference is sunk)
 * @error: return location for a #GError, or %NULL
 *
 * Queues one task, Python's `pool.apply_async(func, (arg,))`.
 *
 * Returns: (transfer full): its pending result; %NULL with
 *   %MPK_ERROR_INVALID when the pool was closed or terminated (or has
 *   64 other task functions)
 */
MpkPoolResult *
mpk_pool_apply_async (MpkPool      *pool,
                      MpkPoolFunc   func,
                      GVariant     *arg,
                      GError      **error)
{
  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (arg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pool_check_running (pool, error))
    return NULL;
  return submit (pool, JOB_APPLY, func, FALSE, &arg, 1, 1, FALSE, error);
}

/**
 * mpk_pool_apply:
 * @pool: (transfer none): a running pool
 * @func:: the task function
 * @arg: (transfer none): its input (a floating reference is sunk)
 * @timeout_us: microseconds to wait for the result, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Runs one task in a worker and waits for it, Python's
 * `pool.apply(func, (arg,))`.
 *
 * Returns: (transfer full): the result; %NULL with the task's error, with
 *   %MPK_ERROR_PEER_DIED when its worker died running it, with
 *   %MPK_ERROR_TIMED_OUT (the task goes on), or %MPK_ERROR_INVALID when
 *   the pool is not running
 */
GVariant *
mpk_pool_apply (MpkPool      *pool,
                MpkPoolFunc   func,
                GVariant     *arg,
                gint64        timeout_us,
                GError      **error)
{
  g_autoptr(MpkPoolResult) result = NULL;

  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  result = mpk_pool_apply_async (pool, func, arg, error);
  if (result == NULL)
    return NULL;
  return mpk_pool_result_get (result, timeout_us, error);
}

/**
 * mpk_pool_map_async:
 * @pool: (transfer none): a running pool
 * @func:: the task function
 * @inputs: (array length=n_inputs) (transfer none): one input per task
 *   (floating references are sunk)
 * @n_inputs: how many
 * @chunksize: how many tasks go to a worker together; 0 for Python's
 *   choice (about four chunks per worker)
 * @error: return location for a #GError, or %NULL
 *
 * Queues one task per input, Python's `pool.map_async()`. Each task's
 * outcome can be read with mpk_pool_result_get_item() once the result is
 * ready; mpk_pool_result_get() gives them all.
 *
 * Returns: (transfer full): the pending result; %NULL with
 *   %MPK_ERROR_INVALID when the pool is not running (or has 64 other task
 *   functions)
 */
MpkPoolResult *
mpk_pool_map_async (MpkPool          *pool,
                    MpkPoolFunc       func,
                    GVariant *const  *inputs,
                    gsize             n_inputs,
                    gsize             chunksize,
                    GError          **error)
{
  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (n_inputs == 0 || inputs != NULL, NULL);
  g_return_val_if_fail (inputs_valid (inputs, n_inputs), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pool_check_running (pool, error))
    return NULL;
  return submit (pool, JOB_MAP, func, FALSE, inputs, n_inputs, chunksize, FALSE, error);
}

/* Waits for @job and turns it into the array mpk_pool_map() returns. The
 * job is the caller's own (map and starmap make it and drop it on return),
 * so a complete one gives its results away instead of each taking a
 * reference that the job's end drops again. */
static GPtrArray *
collect_map (MpkPoolResult *job, gint64 timeout_us, GError **error)
{
  GPtrArray *out;

  if (!mpk_pool_result_wait (job, timeout_us))
    {
      /* The tasks go on after this call: they need their inputs. */
      job_keep_inputs (job);
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                   "pool: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                   " tasks finished before the timeout", job->n_done, job->n);
      return NULL;
    }
  for (gsize i = 0; i < job->n; i++)
    if (job->errors[i] != NULL)
      {
        g_propagate_error (error, g_error_copy (job->errors[i]));
        return NULL;
      }
  out = g_ptr_array_new_full (job->n, (GDestroyNotify) g_variant_unref);
  for (gsize i = 0; i < job->n; i++)
    g_ptr_array_add (out, g_steal_pointer (&job->results[i]));
  return out;
}

/**
 * mpk_pool_map:
 * @pool: (transfer none): a running pool
 * @func:: the task function
 * @inputs: (array length=n_inputs) (transfer none): one input per task
 *   (floating references are sunk)
 * @n_inputs: how many
 * @chunksize: tasks sent to a worker together; 0 for Python's choice
 * @timeout_us: microseconds to wait for all of them, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Runs @func on every input in the workers and returns the results in the
 * order of the inputs, Python's `pool.map(func, inputs, chunksize)`. Every
 * task runs to its end even when some fail; then, as Python raises the
 * first exception, the error of the first failed task (by position) is
 * returned. mpk_pool_map_async() gives each task's own outcome.
 *
 * Returns: (transfer container) (element-type GVariant): the results;
 *   %NULL with a failed task's error ("task 7: ..."), %MPK_ERROR_PEER_DIED
 *   for a task whose worker died running it, %MPK_ERROR_TIMED_OUT, or
 *   %MPK_ERROR_INVALID when the pool is not running
 */
GPtrArray *
mpk_pool_map (MpkPool          *pool,
              MpkPoolFunc       func,
              GVariant *const  *inputs,
              gsize             n_inputs,
              gsize             chunksize,
              gint64            timeout_us,
              GError          **error)
{
  g_autoptr(MpkPoolResult) job = NULL;

  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (n_inputs == 0 || inputs != NULL, NULL);
  g_return_val_if_fail (inputs_valid (inputs, n_inputs), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pool_check_running (pool, error))
    return NULL;
  job = submit (pool, JOB_MAP, func, FALSE, inputs, n_inputs, chunksize, TRUE, error);
  if (job == NULL)
    return NULL;
  return collect_map (job, timeout_us, error);
}

/**
 * mpk_pool_starmap:
 * @pool: (transfer none): a running pool
 * @func:: the task function, given each input's children
 * @inputs: (array length=n_inputs) (transfer none): one tuple per task
 *   (floating references are sunk)
 * @n_inputs: how many
 * @chunksize: tasks sent to a worker together; 0 for Python's choice
 * @timeout_us: microseconds to wait for all of them, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * mpk_pool_map() for functions of several arguments, Python's
 * `pool.starmap(func, [(a, b), ...])`: each input is a tuple, and @func
 * receives its children. An input that is not a tuple fails its task with
 * %MPK_ERROR_INVALID.
 *
 * Returns: (transfer container) (element-type GVariant): the results, or
 *   %NULL with an error as mpk_pool_map() returns them
 */
GPtrArray *
mpk_pool_starmap (MpkPool          *pool,
                  MpkPoolStarFunc   func,
                  GVariant *const  *inputs,
                  gsize             n_inputs,
                  gsize             chunksize,
                  gint64            timeout_us,
                  GError          **error)
{
  g_autoptr(MpkPoolResult) job = NULL;

  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (n_inputs == 0 || inputs != NULL, NULL);
  g_return_val_if_fail (inputs_valid (inputs, n_inputs), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pool_check_running (pool, error))
    return NULL;
  job = submit (pool, JOB_MAP, func, TRUE, inputs, n_inputs, chunksize, TRUE, error);
  if (job == NULL)
    return NULL;
  return collect_map (job, timeout_us, error);
}

static MpkPoolIter *
imap (MpkPool *pool, JobKind kind, MpkPoolFunc func, GVariant *const *inputs, gsize n,
      gsize chunksize, GError **error)
{
  MpkPoolResult *job;
  MpkPoolIter *iter;

  if (!pool_check_running (pool, error))
    return NULL;
  /* Python's imap sends one task at a time unless told otherwise. */
  job = submit (pool, kind, func, FALSE, inputs, n, chunksize != 0 ? chunksize : 1, FALSE,
                error);
  if (job == NULL)
    return NULL;
  iter = g_new0 (MpkPoolIter, 1);
  iter->job = job;
  return iter;
}

/**
 * mpk_pool_imap:
 * @pool: (transfer none): a running pool
 * @func:: the task function
 * @inputs: (array length=n_inputs) (transfer none): one input per task
 *   (floating references are sunk)
 * @n_inputs: how many
 * @chunksize: tasks sent to a worker together; 0 for 1, as in Python
 * @error: return location for a #GError, or %NULL
 *
 * Queues the tasks and returns an iterator that hands out their results
 * in the order of the inputs as they become available, Python's
 * `pool.imap()`: mpk_pool_iter_next() waits for the next one.
 *
 * Returns: (transfer full): the iterator; %NULL with %MPK_ERROR_INVALID
 *   when the pool is not running
 */
MpkPoolIter *
mpk_pool_imap (MpkPool          *pool,
               MpkPoolFunc       func,
               GVariant *const  *inputs,
               gsize             n_inputs,
               gsize             chunksize,
               GError          **error)
{
  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (n_inputs == 0 || inputs != NULL, NULL);
  g_return_val_if_fail (inputs_valid (inputs, n_inputs), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return imap (pool, JOB_IMAP, func, inputs, n_inputs, chunksize, error);
}

/**
 * mpk_pool_imap_unordered:
 * @pool: (transfer none): a running pool
 * @func:: the task function
 * @inputs: (array length=n_inputs) (transfer none): one input per task
 *   (floating references are sunk)
 * @n_inputs: how many
 * @chunksize: tasks sent to a worker together; 0 for 1, as in Python
 * @error: return location for a #GError, or %NULL
 *
 * mpk_pool_imap() that hands out each result as soon as it is there,
 * whatever its position, Python's `pool.imap_unordered()`;
 * mpk_pool_iter_next() tells which input it belongs to.
 *
 * Returns: (transfer full): the iterator; %NULL with %MPK_ERROR_INVALID
 *   when the pool is not running
 */
MpkPoolIter *
mpk_pool_imap_unordered (MpkPool          *pool,
                         MpkPoolFunc       func,
                         GVariant *const  *inputs,
                         gsize             n_inputs,
                         gsize             chunksize,
                         GError          **error)
{
  g_return_val_if_fail (pool != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (n_inputs == 0 || inputs != NULL, NULL);
  g_return_val_if_fail (inputs_valid (inputs, n_inputs), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return imap (pool, JOB_IMAP_UNORDERED, func, inputs, n_inputs, chunksize, error);
}

/**
 * mpk_pool_close:
 * @pool: (transfer none): a pool
 *
 * Takes no more tasks, Python's `pool.close()`: the queued ones still
 * run, and mpk_pool_join() waits for them and for the workers to exit.
 */
void
mpk_pool_close (MpkPool *pool)
{
  g_return_if_fail (pool != NULL);
  if (pool->state == POOL_RUN)
    pool->state = POOL_CLOSE;
}

/**
 * mpk_pool_terminate:
 * @pool: (transfer none): a pool
 *
 * Stops the workers at once (SIGTERM, then SIGKILL for one that does not
 * go within five seconds), Python's `pool.terminate()`. Tasks that had
 * not finished fail with %MPK_ERROR_CLOSED. mpk_pool_join() may follow.
 */
void
mpk_pool_terminate (MpkPool *pool)
{
  g_return_if_fail (pool != NULL);
  if (pool->state == POOL_JOINED || pool->state == POOL_TERMINATE)
    return;
  pool->state = POOL_TERMINATE;
  pool_stop_workers (pool);
  pool_fail_all (pool, "the pool was terminated before the task finished");
}

static gboolean
pool_idle (gpointer data)
{
  return !jobs_remain (data);
}

/**
 * mpk_pool_join:
 * @pool: (transfer none): a closed or terminated pool
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Waits for the queued tasks to finish and the workers to exit, Python's
 * `pool.join()` (which must follow close() or terminate()). Workers that
 * die meanwhile are replaced while tasks remain. After a timeout it may be
 * called again.
 *
 * Returns: %TRUE once every worker has exited; %FALSE with
 *   %MPK_ERROR_TIMED_OUT, or %MPK_ERROR_INVALID when the pool is still
 *   running (Python: ValueError)
 */
gboolean
mpk_pool_join (MpkPool  *pool,
               gint64    timeout_us,
               GError  **error)
{
  MpkDeadline deadline;

  g_return_val_if_fail (pool != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (pool->state == POOL_RUN)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "pool: join() needs close() or terminate() first");
      return FALSE;
    }
  if (pool->state == POOL_JOINED || pool->state == POOL_TERMINATE)
    {
      pool->state = POOL_JOINED;
      return TRUE;
    }
  deadline = mpk__deadline_from_timeout (timeout_us);
  if (!pool_run_until (pool, pool_idle, pool, deadline))
    goto timed_out;
  for (guint i = 0; i < pool->n_workers; i++)
    {
      Worker *w = &pool->workers[i];

      if (w->process != NULL && !w->stop_sent
          && mpk_queue_put (w->tasks, g_variant_new ("(ayausbttb)", NULL, NULL, "v", FALSE,
                                                     (guint64) 0, (guint64) 0, FALSE),
                            G_USEC_PER_SEC, NULL))
        w->stop_sent = TRUE;
    }
  for (guint i = 0; i < pool->n_workers; i++)
    {
      Worker *w = &pool->workers[i];
      gint64 left;

      if (w->process == NULL)
        continue;
      left = deadline == MPK__DEADLINE_NEVER ? MPK_WAIT_FOREVER
                                             : MAX (deadline - g_get_monotonic_time (), 0);
      if (!w->stop_sent)
        mpk_process_terminate (w->process, NULL);
      if (!mpk_process_join (w->process, left))
        goto timed_out;
      g_clear_pointer (&w->process, mpk_process_unref);
      g_clear_pointer (&w->tasks, mpk_queue_free);
    }
  pool->state = POOL_JOINED;
  return TRUE;

timed_out:
  g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                       "pool: tasks or workers still running after the timeout");
  return FALSE;
}

/* ------------------------------------------------------------ results -- */

/**
 * mpk_pool_result_ref:
 * @result: (transfer none): a result
 *
 * Takes a reference on @result.
 *
 * Returns: (transfer full): @result
 */
MpkPoolResult *
mpk_pool_result_ref (MpkPoolResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_atomic_int_inc (&result->ref_count);
  return result;
}

/**
 * mpk_pool_result_unref:
 * @result: (transfer full) (nullable): a result
 *
 * Drops a reference. Tasks still queued keep running; their outcomes are
 * dropped when they arrive.
 */
void
mpk_pool_result_unref (MpkPoolResult *result)
{
  if (result == NULL || !g_atomic_int_dec_and_test (&result->ref_count))
    return;
  for (gsize i = 0; i < result->n; i++)
    {
      if (!result->borrowed)
        g_clear_pointer (&result->inputs[i], g_variant_unref);
      g_clear_pointer (&result->results[i], g_variant_unref);
      g_clear_error (&result->errors[i]);
    }
  g_clear_pointer (&result->owned, g_ptr_array_unref);
  g_free (result->inputs);
  g_free (result->results);
  g_free (result->errors);
  g_free (result->done);
  g_array_unref (result->order);
  g_free (result);
}

static gboolean
result_is_complete (gpointer data)
{
  return job_complete (data);
}

/**
 * mpk_pool_result_wait:
 * @result: (transfer none): a result
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 *
 * Waits until every task of @result has finished (or failed), Python's
 * `AsyncResult.wait(timeout)`. Runs the pool meanwhile.
 *
 * Returns: %TRUE when it is ready
 */
gboolean
mpk_pool_result_wait (MpkPoolResult *result,
                      gint64         timeout_us)
{
  g_return_val_if_fail (result != NULL, FALSE);

  if (job_complete (result))
    return TRUE;
  if (result->pool == NULL)
    return FALSE;
  return pool_run_until (result->pool, result_is_complete, result,
                         mpk__deadline_from_timeout (timeout_us));
}

/**
 * mpk_pool_result_ready:
 * @result: (transfer none): a result
 *
 * Python's `AsyncResult.ready()`: looks (without waiting) whether every
 * task has finished.
 *
 * Returns: %TRUE when it is ready
 */
gboolean
mpk_pool_result_ready (MpkPoolResult *result)
{
  return mpk_pool_result_wait (result, MPK_NO_WAIT);
}

/**
 * mpk_pool_result_successful:
 * @result: (transfer none): a ready result
 *
 * Python's `AsyncResult.successful()`. Asking before it is ready is a
 * caller bug (Python: ValueError).
 *
 * Returns: %TRUE when every task succeeded
 */
gboolean
mpk_pool_result_successful (MpkPoolResult *result)
{
  g_return_val_if_fail (result != NULL, FALSE);
  g_return_val_if_fail (job_complete (result), FALSE);
  return result->n_failed == 0;
}

/**
 * mpk_pool_result_get:
 * @result: (transfer none): a result
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits for @result and returns it, Python's `AsyncResult.get(timeout)`:
 * for mpk_pool_apply_async() the task's value, for mpk_pool_map_async() an
 * array (`av`) of the results in order.
 *
 * Returns: (transfer full): the value; %NULL with %MPK_ERROR_TIMED_OUT, or
 *   the first failed task's error (%MPK_ERROR_PEER_DIED when its worker
 *   died, %MPK_ERROR_CLOSED when the pool ended first)
 */
GVariant *
mpk_pool_result_get (MpkPoolResult  *result,
                     gint64          timeout_us,
                     GError        **error)
{
  GVariantBuilder all;

  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mpk_pool_result_wait (result, timeout_us))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                           "pool: the result was not ready before the timeout");
      return NULL;
    }
  for (gsize i = 0; i < result->n; i++)
    if (result->errors[i] != NULL)
      {
        g_propagate_error (error, g_error_copy (result->errors[i]));
        return NULL;
      }
  if (result->kind == JOB_APPLY)
    return g_variant_ref (result->results[0]);
  g_variant_builder_init (&all, G_VARIANT_TYPE ("av"));
  for (gsize i = 0; i < result->n; i++)
    g_variant_builder_add (&all, "v", result->results[i]);
  return g_variant_ref_sink (g_variant_builder_end (&all));
}

/**
 * mpk_pool_result_get_n_items:
 * @result: (transfer none): a result
 *
 * The number of tasks of @result, one per input.
 *
 * Returns: how many (1 for mpk_pool_apply_async())
 */
gsize
mpk_pool_result_get_n_items (MpkPoolResult *result)
{
  g_return_val_if_fail (result != NULL, 0);
  return result->n;
}

/**
 * mpk_pool_result_get_item:
 * @result: (transfer none): a result
 * @index: a task's position, below mpk_pool_result_get_n_items()
 * @error: return location for a #GError, or %NULL
 *
 * One task's outcome, without waiting (use mpk_pool_result_wait() first):
 * what Python cannot give, the results of a map next to its failures.
 *
 * Returns: (transfer full): the task's value; %NULL with its error, or
 *   %MPK_ERROR_EMPTY when it has not finished yet
 */
GVariant *
mpk_pool_result_get_item (MpkPoolResult  *result,
                          gsize           index,
                          GError        **error)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_return_val_if_fail (index < result->n, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!result->done[index])
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_EMPTY,
                   "pool: task %" G_GSIZE_FORMAT " has not finished", index);
      return NULL;
    }
  if (result->errors[index] != NULL)
    {
      g_propagate_error (error, g_error_copy (result->errors[index]));
      return NULL;
    }
  return g_variant_ref (result->results[index]);
}

/* ----------------------------------------------------------- iterator -- */

static gboolean
iter_has_next (gpointer data)
{
  MpkPoolIter *iter = data;
  MpkPoolResult *job = iter->job;

  if (job->cursor >= job->n)
    return TRUE;
  if (job->kind == JOB_IMAP_UNORDERED)
    return job->cursor < job->order->len;
  return job->done[job->cursor];
}

/**
 * mpk_pool_iter_next:
 * @iter: (transfer none): an iterator from mpk_pool_imap() or
 *   mpk_pool_imap_unordered()
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @index: (out) (optional): the position of the input this result belongs to
 * @error: return location for a #GError, or %NULL
 *
 * The next result, Python's `next(it, timeout)`, as
 * g_file_enumerator_next_file() hands out files: %NULL without an error
 * at the end. A task's error is that step's error, and the next call goes
 * on with the following task, as Python's iterator raises and goes on.
 *
 * Returns: (transfer full) (nullable): the next task's value; %NULL with
 *   that task's error, with %MPK_ERROR_TIMED_OUT (call again: nothing was
 *   consumed), or with no error at the end
 */
GVariant *
mpk_pool_iter_next (MpkPoolIter  *iter,
                    gint64        timeout_us,
                    gsize        *index,
                    GError      **error)
{
  MpkPoolResult *job;
  gsize i;

  g_return_val_if_fail (iter != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  job = iter->job;
  if (!iter_has_next (iter)
      && (job->pool == NULL
          || !pool_run_until (job->pool, iter_has_next, iter,
                              mpk__deadline_from_timeout (timeout_us))))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                           "pool: the next result was not ready before the timeout");
      return NULL;
    }
  if (job->cursor >= job->n)
    return NULL;
  i = job->kind == JOB_IMAP_UNORDERED ? g_array_index (job->order, gsize, job->cursor)
                                      : job->cursor;
  job->cursor++;
  if (index != NULL)
    *index = i;
  if (job->errors[i] != NULL)
    {
      g_propagate_error (error, g_error_copy (job->errors[i]));
      return NULL;
    }
  return g_variant_ref (job->results[i]);
}

/**
 * mpk_pool_iter_free:
 * @iter: (transfer full) (nullable): an iterator
 *
 * Frees the iterator; its tasks still run, and their results are dropped.
 */
void
mpk_pool_iter_free (MpkPoolIter *iter)
{
  if (iter == NULL)
    return;
  mpk_pool_result_unref (iter->job);
  g_free (iter);
}
