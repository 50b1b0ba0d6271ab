/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-core-private.h: the core layer's internal header (never installed),
 * shared by every file of libmpkit: errors, deadlines, object identities,
 * crash points, shared memory and its robust locks, the wire format and the
 * tracer. It includes only the core's public headers: nothing here knows
 * about processes, connections, queues or the Manager (lib/README.md draws
 * the layers). Each prototype says its contract, nng-style. */
#ifndef MPK_CORE_PRIVATE_H
#define MPK_CORE_PRIVATE_H

#include <glib.h>
#include <poll.h>
#include <pthread.h>
#include <sys/types.h>

#include "mpk-version.h"
#include "mpk-error.h"
#include "mpk-trace.h"

G_BEGIN_DECLS

/* --- errors (mpk-error.c) ------------------------------------------------ */

/* Sets @error to MPK_ERROR_FAILED (or the code errno maps to: EPIPE →
 * PEER_CLOSED, EBADF → CLOSED) with "@what: strerror". Always returns FALSE. */
G_GNUC_INTERNAL gboolean mpk__set_error_from_errno (GError     **error,
                                                    int          saved_errno,
                                                    const char  *what);

/* --- deadlines (mpk-deadline.c) ------------------------------------------ */

/* An absolute CLOCK_MONOTONIC time in microseconds (g_get_monotonic_time's
 * clock), or MPK__DEADLINE_NEVER. Every blocking call turns its timeout into
 * one deadline at entry, so retries after EINTR wait only the time left. */
typedef gint64 MpkDeadline;
#define MPK__DEADLINE_NEVER G_MAXINT64

/* MPK_WAIT_FOREVER → never; other negatives → now (Python's rule); else now + timeout. */
G_GNUC_INTERNAL MpkDeadline mpk__deadline_from_timeout (gint64 timeout_us);

/* Waits on @fds like ppoll(2) until an event or @deadline. Retries EINTR with
 * the remaining time. Returns the number of ready fds, 0 when the deadline
 * passed, -1 with errno set on a real failure. */
G_GNUC_INTERNAL int mpk__poll (struct pollfd *fds,
                               nfds_t         n_fds,
                               MpkDeadline    deadline);

/* Waits until @fd has @events (POLLIN or POLLOUT) or an error/hang-up.
 * Returns TRUE when ready; FALSE with MPK_ERROR_TIMED_OUT or FAILED set. */
G_GNUC_INTERNAL gboolean mpk__wait_fd (int           fd,
                                       short         events,
                                       MpkDeadline   deadline,
                                       const char   *what,
                                       GError      **error);

/* --- object identities ------------------------------------------------------- */

typedef enum
{
  MPK__OBJECT_CONNECTION = 0x4d504b43,   /* "MPKC" */
  MPK__OBJECT_PROCESS    = 0x4d504b50,   /* "MPKP" */
  MPK__OBJECT_QUEUE      = 0x4d504b51,   /* "MPKQ" */
  MPK__OBJECT_LOCK       = 0x4d504b4c,   /* "MPKL" */
  MPK__OBJECT_EVENT      = 0x4d504b45,   /* "MPKE" */
  MPK__OBJECT_SEMAPHORE  = 0x4d504b53,   /* "MPKS" */
  MPK__OBJECT_VALUE      = 0x4d504b56,   /* "MPKV": Value and Array */
  MPK__OBJECT_MANAGER    = 0x4d504b4d,   /* "MPKM": not waitable; a trace id */
} MpkObjectType;

/* The first member of every waitable struct, so mpk_wait() can tell them apart. */
typedef struct _MpkObjectHeader
{
  MpkObjectType type;
  guint32       trace_pid;   /* the tracer's object id: creator pid and ... */
  guint32       trace_n;     /* ... its n-th object (mpk__trace_object_init) */
} MpkObjectHeader;

/* Gives @object its type and a trace id unique across the processes of a
 * run. Objects sharing an id (both ends of a pipe) copy the header. */
G_GNUC_INTERNAL void mpk__trace_object_init (MpkObjectHeader *object,
                                             MpkObjectType    type);

/* Crash points, for the robustness tests: MPK__CRASH_POINT ("queue.put.copied")
 * marks a place inside a critical section. While mpk__crash_countdown is > 0
 * every crash point counts it down; the one that brings it to 0 copies its
 * name into mpk__crash_note (when set: MPK__CRASH_NOTE_SIZE bytes, normally in
 * shared memory, so the test learns where its victim died) and SIGKILLs its
 * own process. Off (countdown 0) it costs one load and a branch. The points
 * and what a death there must leave behind are listed in tests/test-robust.c. */
#define MPK__CRASH_NOTE_SIZE 64
G_GNUC_INTERNAL extern int   mpk__crash_countdown;
G_GNUC_INTERNAL extern char *mpk__crash_note;
G_GNUC_INTERNAL G_GNUC_NORETURN void mpk__crash_now (const char *where);
#define MPK__CRASH_POINT(where) \
  G_STMT_START \
    { \
      if (G_UNLIKELY (mpk__crash_countdown > 0) && --mpk__crash_countdown == 0) \
        mpk__crash_now (where); \
    } \
  G_STMT_END

/* --- shared memory and its synchronisation (mpk-shm.c) ------------------
 *
 * Objects that processes share live in their own MAP_SHARED|MAP_ANONYMOUS
 * mapping, made before fork so every child inherits it at the same address.
 * Locks are robust process-shared pthread mutexes: a holder's death hands
 * the next locker EOWNERDEAD instead of a hang. Waiting uses a futex word
 * (MpkShmSignal), not pthread condition variables: a process killed inside
 * pthread_cond_wait can leave glibc's condvar internals locked or its wake-up
 * bookkeeping skewed for everyone else, while a dead futex waiter leaves
 * nothing behind. */

/* The longest any shared-memory wait sleeps before it looks again: what a
 * process killed between changing shared state and waking its waiters (or
 * woken and killed before it could act) costs the others, at most. */
#define MPK__RECHECK_US (20 * 1000)

/* Zeroed shared memory of @size bytes (rounded up to pages), or NULL with
 * MPK_ERROR_FAILED. Free with mpk__shm_free() in each process that maps it. */
G_GNUC_INTERNAL gpointer mpk__shm_alloc (gsize size, GError **error);
/* The same, but only address space: pages are committed when first touched
 * (and may be given back with mpk__shm_release). For large tables and
 * buffers that are mostly never used. */
G_GNUC_INTERNAL gpointer mpk__shm_reserve (gsize size, GError **error);
/* Gives the pages wholly inside [@mem, @mem + @size) back to the system in
 * every process: they read as zeros afterwards. */
G_GNUC_INTERNAL void     mpk__shm_release (gpointer mem, gsize size);
/* Maps the pages of [@mem, @mem + @size) into this process now (for
 * writing, or reading), in one call instead of a fault per page. */
G_GNUC_INTERNAL void     mpk__shm_populate (gpointer mem, gsize size, gboolean write);
G_GNUC_INTERNAL void     mpk__shm_free  (gpointer mem, gsize size);

/* Initialises a robust, process-shared mutex of @type (PTHREAD_MUTEX_*).
 * Returns FALSE with MPK_ERROR_FAILED if the system lacks them. */
G_GNUC_INTERNAL gboolean mpk__mutex_init (pthread_mutex_t *mutex,
                                          int              type,
                                          GError         **error);

/* Locks @mutex by @deadline (MPK__DEADLINE_NEVER: no limit; a past deadline:
 * one try). Returns 0; EOWNERDEAD (locked: the last holder died, the caller
 * repairs what it guards and calls pthread_mutex_consistent()); ETIMEDOUT;
 * EDEADLK (an error-checking mutex this thread holds); or another errno. */
G_GNUC_INTERNAL int mpk__mutex_lock (pthread_mutex_t *mutex,
                                     MpkDeadline      deadline);

/* A wake-up word in shared memory. Writers change the state they guard,
 * then mpk__signal_notify(); waiters use mpk__signal_wait_until(). A waiter
 * raises @sleepers before it sleeps; the first notify after that takes the
 * flag down and wakes everybody, so a sleep costs one wake syscall however
 * many notifies follow before the sleeper runs again (on a shared CPU that
 * can be thousands). A flag left up by a dead waiter costs one useless wake. */
typedef struct
{
  guint32 seq;        /* futex word: bumped by every notify that wakes */
  guint32 sleepers;   /* 1 while someone may be asleep on @seq */
} MpkShmSignal;

/* Wakes every waiter of @signal (after the caller published its change). */
G_GNUC_INTERNAL void mpk__signal_notify (MpkShmSignal *signal);

/* Returns non-zero to stop waiting (that value is returned), 0 to wait on. */
typedef int (*MpkShmPredicate) (gpointer data);

/* Waits until @pred returns non-zero or @deadline passes (then returns 0).
 * @pred runs at entry, after every wake-up, and at least every @slice_us
 * microseconds when @slice_us > 0 (for conditions nobody notifies, such as
 * a peer's death) and at least every MPK__RECHECK_US. It spins briefly
 * before sleeping, which saves the sleep/wake pair when the other side is
 * only a moment behind. */
G_GNUC_INTERNAL int mpk__signal_wait_until (MpkShmSignal    *signal,
                                            MpkShmPredicate  pred,
                                            gpointer         data,
                                            MpkDeadline      deadline,
                                            gint64           slice_us);

/* Sleeps until @deadline on CLOCK_MONOTONIC, through EINTR. */
G_GNUC_INTERNAL void mpk__sleep_until (MpkDeadline deadline);

/* The calling thread's id (gettid), cached per thread. */
G_GNUC_INTERNAL guint32 mpk__thread_id (void);

/* --- the wire format (mpk-wire.c) ------------------------------------------ */

/* Every message on a connection is one frame: this header, little-endian,
 * then @length payload bytes. A GVariant payload is its type string
 * (@type_len bytes, no NUL) followed by its serialized data. */
#define MPK__WIRE_MAGIC        0x314b504du   /* "MPK1" on the wire */
#define MPK__WIRE_HEADER_SIZE  40
#define MPK__WIRE_MAX_TYPE_LEN 255

typedef enum
{
  MPK__WIRE_KIND_BYTES   = 1,   /* send_bytes(): raw bytes */
  MPK__WIRE_KIND_VARIANT = 2,   /* send(): a serialized GVariant */
} MpkWireKind;

/* Payload flag: the GVariant data was serialized on a big-endian host. */
#define MPK__WIRE_FLAG_BIG_ENDIAN 0x01
#define MPK__WIRE_KNOWN_FLAGS     (MPK__WIRE_FLAG_BIG_ENDIAN)

typedef struct
{
  guint8  kind;       /* MpkWireKind */
  guint8  flags;      /* MPK__WIRE_FLAG_* */
  guint16 type_len;   /* VARIANT: bytes of type string at the payload's start */
  guint64 length;     /* payload bytes after the header */
  guint32 pid;        /* origin process */
  guint64 seq;        /* per-origin-process sequence number, from 1 */
  guint64 clock;      /* Lamport clock of the send event */
} MpkWireHeader;

/* Fills @header for a new outgoing message: stamps pid, the next sequence
 * number and a ticked Lamport clock. */
G_GNUC_INTERNAL void mpk__wire_stamp (MpkWireHeader *header,
                                      MpkWireKind    kind,
                                      guint64        length);

G_GNUC_INTERNAL void mpk__wire_encode_header (const MpkWireHeader *header,
                                              guint8               out[MPK__WIRE_HEADER_SIZE]);

/* Decodes and checks a header from untrusted bytes: magic, kind, flags,
 * type_len against length, length against @max_length. Sets
 * MPK_ERROR_PROTOCOL or MPK_ERROR_TOO_BIG and returns FALSE on any fault. */
G_GNUC_INTERNAL gboolean mpk__wire_decode_header (const guint8   in[MPK__WIRE_HEADER_SIZE],
                                                  guint64        max_length,
                                                  MpkWireHeader *header,
                                                  GError       **error);

/* A GVariant made ready to send: its normal form (a receiver refuses any
 * other), its type string, and a stamped VARIANT header for both. */
typedef struct
{
  GVariant      *value;      /* owned: unref with mpk__wire_outgoing_clear() */
  const char    *type;       /* inside @value's type */
  gsize          type_len;
  gconstpointer  data;       /* @value's serialized bytes */
  gsize          size;
  MpkWireHeader  header;
} MpkWireOutgoing;

/* Sinks @msg and fills @out. FALSE with MPK_ERROR_INVALID (nothing to
 * clear) when the type string is over MPK__WIRE_MAX_TYPE_LEN. */
G_GNUC_INTERNAL gboolean mpk__wire_outgoing_init  (MpkWireOutgoing  *out,
                                                   GVariant         *msg,
                                                   GError          **error);
G_GNUC_INTERNAL void     mpk__wire_outgoing_clear (MpkWireOutgoing  *out);

/* Builds a GVariant from a VARIANT payload (type string then data) taken
 * from untrusted bytes: checks the type string and that the data is in
 * normal form. Returns (transfer full) or NULL with MPK_ERROR_PROTOCOL. */
G_GNUC_INTERNAL GVariant *mpk__wire_decode_variant (const MpkWireHeader *header,
                                                    GBytes              *payload,
                                                    GError             **error);

/* Receiving side of the Lamport clock: clock = max (clock, @seen) + 1.
 * Returns the clock of the receive event. (A forked child gets its own pid
 * and restarts sequence numbers at 1; see the pthread_atfork handler.) */
G_GNUC_INTERNAL guint64 mpk__wire_clock_receive (guint64 seen);

/* Ticks the Lamport clock for a local event and returns the new value. */
G_GNUC_INTERNAL guint64 mpk__wire_clock_tick (void);

/* This process's pid, cached (getpid() is a syscall). */
G_GNUC_INTERNAL guint32 mpk__wire_pid (void);

/* --- the tracer (mpk-trace.c) ----------------------------------------------
 *
 * With MPK_TRACE set, each call that moves data writes one JSON line to this
 * process's trace file (format: tools/mpk-trace/README.md). Recording an
 * event for a new object takes a few lines:
 *
 *   if (MPK__TRACING (MPK__TRACE_QUEUE))
 *     {
 *       MpkTraceLine line;
 *       mpk__trace_begin (&line, "queue.put", ts, header.clock);
 *       mpk__trace_add_object (&line, &queue->object);
 *       mpk__trace_add_message (&line, MPK__TRACE_OUT, &header, item);
 *       mpk__trace_end (&line);
 *     }
 *
 * Off, MPK__TRACING() is one test of a global word that is always zero, and
 * nothing else runs: summaries are built only inside the branch. */

typedef enum
{
  MPK__TRACE_PROC    = 1 << 0,   /* start, spawn, exit, reaped */
  MPK__TRACE_PIPE    = 1 << 1,   /* Connection send/recv/EOF */
  MPK__TRACE_QUEUE   = 1 << 2,
  MPK__TRACE_LOCK    = 1 << 3,
  MPK__TRACE_VALUE   = 1 << 4,
  MPK__TRACE_MANAGER = 1 << 5,
  MPK__TRACE_MSG     = 1 << 6,   /* the messaging layers */
} MpkTraceCategory;

/* Which categories MPK_TRACE switched on; 0 when tracing is off. Set by
 * the library's constructor before main() runs; cleared (for good) in a
 * process that cannot open its trace file. */
G_GNUC_INTERNAL extern guint mpk__trace_mask;

#ifdef MPK_NO_TRACE   /* the bench's untraced build: no test at all */
#define MPK__TRACING(cat) FALSE
#else
#define MPK__TRACING(cat) G_UNLIKELY ((mpk__trace_mask & (cat)) != 0)
#endif

typedef enum
{
  MPK__TRACE_OUT,   /* the sending side of a message ("dir":"out") */
  MPK__TRACE_IN,    /* the receiving side ("dir":"in") */
} MpkTraceDirection;

/* One event line under construction; always a whole JSON object, at most
 * MPK__TRACE_LINE_MAX bytes with its newline (long strings are shortened).
 * The fields go after a gap that mpk__trace_end() fills with the common
 * prefix ("ts", "pid", "seq", ...): seq is taken as the line is written, so
 * a file's lines are in seq order even when threads record at once. */
#define MPK__TRACE_LINE_MAX 4096
#define MPK__TRACE_PREFIX_MAX 160
typedef struct
{
  gint64      ts;
  guint64     lc;
  const char *ev;
  gsize       len;                       /* bytes used in @buf, gap included */
  char        buf[MPK__TRACE_LINE_MAX];
} MpkTraceLine;

/* CLOCK_MONOTONIC in ns. A send is stamped before its write, a receive
 * after its read, so that ts(send) < ts(recv) always holds. */
G_GNUC_INTERNAL gint64 mpk__trace_now (void);

/* Starts an event line: ts (0 = now), pid, seq, ev and lc. @lc is the
 * Lamport clock of the event; 0 ticks the process's clock (local events). */
G_GNUC_INTERNAL void mpk__trace_begin (MpkTraceLine *line,
                                       const char   *ev,
                                       gint64        ts,
                                       guint64       lc);
G_GNUC_INTERNAL void mpk__trace_add_int (MpkTraceLine *line,
                                         const char   *key,
                                         gint64        value);
/* Adds "key":"value", JSON-escaped, invalid UTF-8 replaced, shortened to
 * fit the line while leaving room for a few more fields. */
G_GNUC_INTERNAL void mpk__trace_add_str (MpkTraceLine *line,
                                         const char   *key,
                                         const char   *value);
/* The same for a line's last field, which may fill the line (a mark's text). */
G_GNUC_INTERNAL void mpk__trace_add_last_str (MpkTraceLine *line,
                                              const char   *key,
                                              const char   *value);
/* "obj":"<kind>:<creator pid>.<n>" for an object made by mpk__trace_object_init(). */
G_GNUC_INTERNAL void mpk__trace_add_object (MpkTraceLine          *line,
                                            const struct _MpkObjectHeader *object);
/* "dir", "msg" (origin pid.seq from @header), "bytes" and "sum": @payload
 * summarized, or "bytes[N]" when @payload is NULL. */
G_GNUC_INTERNAL void mpk__trace_add_message (MpkTraceLine        *line,
                                             MpkTraceDirection    dir,
                                             const MpkWireHeader *header,
                                             GVariant            *payload);
/* Closes the line and writes it with one write(2). Returns the line's seq,
 * or 0 when nothing was written. */
G_GNUC_INTERNAL guint64 mpk__trace_end (MpkTraceLine *line);

/* Causes that are not messages (the task_done that let a join return, the
 * set that woke a wait): the cause's recorder keeps
 * mpk__trace_event_id (seq) in shared memory, and the effect adds
 * "after":"<pid>.<seq>", which mpk-trace orders and draws as a dotted
 * arrow. An id of 0 (the cause was not traced) adds nothing. */
G_GNUC_INTERNAL guint64 mpk__trace_event_id (guint64 seq);
G_GNUC_INTERNAL void    mpk__trace_add_after (MpkTraceLine *line,
                                              guint64       event_id);

/* Order that a shared object's own lock imposes between processes (a
 * lock's hand-overs, the order items entered and left a queue, the
 * accesses to a Value): the recorder counts the object's events in its
 * shared memory under that lock and adds "ord":<count>. mpk-trace orders
 * the events of one object (and one direction, for messages) by it,
 * which no message between the processes says. @ord 0 adds nothing. */
G_GNUC_INTERNAL void    mpk__trace_add_order (MpkTraceLine *line,
                                              guint64       ord);

/* Who is stuck. A call that may sleep names itself for its thread
 * (mpk__trace_wait_enter ... mpk__trace_wait_leave, under its category's
 * MPK__TRACING); the core's sleeping places (a contended mutex, a futex
 * wait, a poll that finds nothing ready) call mpk__trace_sleeping(), which
 * records "call.wait" once for the innermost named call. So the fast path
 * records nothing, and a process that never returns from the call ends
 * its trace with it: mpk-trace draws "blocked in get(queue#1)". */
typedef struct _MpkTraceWaiting MpkTraceWaiting;
struct _MpkTraceWaiting
{
  const struct _MpkObjectHeader *object;  /* or NULL */
  const char      *call;                  /* "get", "acquire", "recv", "join" */
  gint64           child;                 /* join: the child's pid; else 0 */
  gint             end;                   /* a pipe's end (1 or 2); else 0 */
  gboolean         recorded;
  MpkTraceWaiting *outer;
};
G_GNUC_INTERNAL void     mpk__trace_wait_enter   (MpkTraceWaiting               *waiting,
                                                  const struct _MpkObjectHeader *object,
                                                  const char                    *call);
G_GNUC_INTERNAL void     mpk__trace_wait_leave   (MpkTraceWaiting *waiting);
/* TRUE when a named call of this thread has not yet recorded its wait:
 * worth a look before sleeping (always behind MPK__TRACING (~0u)). */
G_GNUC_INTERNAL gboolean mpk__trace_wait_pending (void);
G_GNUC_INTERNAL void     mpk__trace_sleeping     (void);

/* A short, bounded description of @value ("int 42", "str 'hello'",
 * "bytes[512]", "tuple (1, 'a')"), at most @size - 1 bytes, never
 * serializing more of a large value than it prints. */
G_GNUC_INTERNAL void mpk__trace_summarize (GVariant *value,
                                           char     *out,
                                           gsize     size);

/* Process events, called by mpk-process.c. */
G_GNUC_INTERNAL guint64 mpk__trace_reserve_clock (void);
G_GNUC_INTERNAL void mpk__trace_spawned (pid_t child, const char *name, guint64 lc);
G_GNUC_INTERNAL void mpk__trace_child_started (void);
G_GNUC_INTERNAL void mpk__trace_exiting (int code);
G_GNUC_INTERNAL void mpk__trace_reaped (pid_t child, int status, gboolean lost,
                                        guint64 after);
/* proc.signal: this process sends @sig to @child. Returns its event id. */
G_GNUC_INTERNAL guint64 mpk__trace_signal (pid_t child, int sig);
G_GNUC_INTERNAL void mpk__trace_joined (pid_t child);

/* "INDEX" for MPK_ERROR_INDEX, the domain's name for other domains' errors
 * (mpk-error.c). */
G_GNUC_INTERNAL const char *mpk__error_code_name (const GError *error);

/* The tracer's name for this process ("MainProcess", "Process-1", ...):
 * the process layer sets it when it forks a child or renames this process
 * (the core never asks upward). @name must stay valid until the next call. */
G_GNUC_INTERNAL void mpk__trace_set_process_name (const char *name);
G_GNUC_INTERNAL const char *mpk__trace_get_process_name (void);

G_END_DECLS

#endif /* MPK_CORE_PRIVATE_H */
