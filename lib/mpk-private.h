/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-private.h: the internal umbrella (never installed). Everything libmpkit's
 * files share: deadlines, the wire format, the tracer, object headers.
 * Each prototype says its contract, nng-style. */
#ifndef MPK_PRIVATE_H
#define MPK_PRIVATE_H

#include "mpkit.h"

#include <gio/gio.h>
#include <poll.h>
#include <pthread.h>
#include <sys/types.h>

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

/* --- objects mpk_wait() understands --------------------------------------- */

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

/* A connection is ready to read without blocking: buffered bytes, or its fd
 * polled readable. Returns the fd to poll, or -1 if it is ready already
 * (@ready set) or closed. */
G_GNUC_INTERNAL int mpk__connection_wait_fd (MpkConnection *conn,
                                             gboolean      *ready);

/* The process's sentinel fd, or -1 if it has not started or is closed. */
G_GNUC_INTERNAL int mpk__process_wait_fd (MpkProcess *process);

/* For tests: the shared mapping behind @queue (control block, then ring). */
G_GNUC_INTERNAL gpointer mpk__queue_get_shared_for_testing (MpkQueue *queue,
                                                           gsize    *size);

/* Fault injection for tests: when TRUE the next child fails its setup. */
G_GNUC_INTERNAL extern gboolean mpk__process_fail_setup_for_testing;

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

/* --- the Manager (mpk-manager*.c) -----------------------------------------
 *
 * A client's call is one request frame and one reply frame on a socket
 * (an MpkConnection over the socket's fd, so frames get the wire's checks):
 *   request (ttxsv): server generation, object id (0 = the manager itself),
 *                    how long the server may block (µs, -1 forever), method,
 *                    arguments (a tuple)
 *   reply   (bv):    TRUE and the result, or FALSE and (sis): the GError's
 *                    domain name, code and message
 * Before either, the handshake (mpk__manager_auth_*) proves both sides know
 * the key; until it succeeds no frame may exceed 256 bytes. */

/* The largest payload before authentication: 256 bytes per frame in all. */
#define MPK__MANAGER_PREAUTH_MAX (256 - MPK__WIRE_HEADER_SIZE)
/* How long a new connection may take to authenticate, on either side. */
#define MPK__MANAGER_AUTH_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define MPK__MANAGER_KEY_SIZE 32

/* Fills @buf with @len bytes from the kernel's CSPRNG (getrandom). */
G_GNUC_INTERNAL void mpk__random_bytes (guint8 *buf, gsize len);

/* "unix:/path", "tcp:HOST:PORT" or "tcp:PORT" (loopback) → a socket address
 * (a GNetworkAddress for a TCP client, which may resolve a host name), or
 * NULL with MPK_ERROR_INVALID. */
G_GNUC_INTERNAL GSocketConnectable *mpk__manager_parse_address (const char *address,
                                                                gboolean    for_listening,
                                                                GError    **error);
/* The address string of a bound @address ("tcp:127.0.0.1:40123"). */
G_GNUC_INTERNAL char *mpk__manager_format_address (GSocketAddress *address);

/* The largest frame the server reads before authentication, header included. */
#define MPK__MANAGER_PREAUTH_FRAME (MPK__WIRE_HEADER_SIZE + MPK__MANAGER_PREAUTH_MAX)

/* The server's side of the handshake, as steps on bytes so that one thread
 * can run many at once without blocking (and without a thread each):
 * _begin appends the greeting frame to @out; _need says how many bytes of
 * the client's answer to read next into @buf + @have (0: all there; -1:
 * a bad frame header, AUTH set), never more than the one frame, so no byte
 * past MPK__MANAGER_PREAUTH_FRAME is read before the key is proven;
 * _finish checks the answer and appends the verdict to @out (a refusal
 * too): TRUE to accept, FALSE with MPK_ERROR_AUTH. */
typedef struct
{
  guint8 nonce[MPK__MANAGER_KEY_SIZE];
  guint8 buf[MPK__MANAGER_PREAUTH_FRAME];
  gsize  have;
} MpkManagerAuth;

G_GNUC_INTERNAL void     mpk__manager_auth_begin  (MpkManagerAuth *auth,
                                                   GByteArray     *out);
G_GNUC_INTERNAL gssize   mpk__manager_auth_need   (MpkManagerAuth *auth,
                                                   GError        **error);
G_GNUC_INTERNAL gboolean mpk__manager_auth_finish (MpkManagerAuth *auth,
                                                   GBytes         *key,
                                                   GByteArray     *out,
                                                   GError        **error);
/* The same steps run to the end on a blocking or non-blocking @fd (for
 * tests and the fuzz target): MPK_ERROR_AUTH for every failure. */
G_GNUC_INTERNAL gboolean mpk__manager_auth_server (int             fd,
                                                   GBytes         *key,
                                                   gint64          timeout_us,
                                                   GError        **error);
/* The client's side, with its own deadline: MPK_ERROR_AUTH for a refusal
 * and for a server that cannot prove it has the key. */
G_GNUC_INTERNAL gboolean mpk__manager_auth_client (MpkConnection *conn,
                                                   GBytes        *key,
                                                   GError       **error);

/* Object references inside values: an object path "/mpk/g<gen>/o<id>". */
G_GNUC_INTERNAL GVariant *mpk__manager_ref_new   (guint64   generation,
                                                  guint64   id);
G_GNUC_INTERNAL gboolean  mpk__manager_ref_parse (GVariant *value,
                                                  guint64  *generation,
                                                  guint64  *id);

/* A GError as (sis) and back; the domain travels by name, so a user type's
 * own domain arrives as the same quark. */
G_GNUC_INTERNAL GVariant *mpk__manager_error_to_variant   (const GError *error);
G_GNUC_INTERNAL void      mpk__manager_error_from_variant (GVariant     *value,
                                                           GError      **error);

/* Runs the server on @listener (bound) until a shutdown request, SIGTERM
 * / SIGINT when @handle_signals, or @stop_fd (if >= 0) becomes readable
 * (it is not read). Returns FALSE with @error if it could not start.
 * @types: the registered MpkManagerType pointers. */
G_GNUC_INTERNAL gboolean mpk__manager_serve (GSocket    *listener,
                                             GBytes     *key,
                                             GPtrArray  *types,
                                             const MpkObjectHeader *trace_object,
                                             gboolean    handle_signals,
                                             int         stop_fd,
                                             gboolean    verbose,
                                             GError    **error);

/* Records a manager event (manager.call/serve/reply/result) for the frame
 * @header: @payload is the call's arguments or its result (a 1-tuple is
 * shown as its element), @error a failed reply. @manager is the trace id
 * that client and server share (the MpkManager the server was forked from). */
G_GNUC_INTERNAL void mpk__manager_trace (const char            *ev,
                                         MpkTraceDirection      dir,
                                         gint64                 ts,
                                         const MpkWireHeader   *header,
                                         const MpkObjectHeader *manager,
                                         const char            *type,
                                         guint64                id,
                                         const char            *method,
                                         GVariant              *payload,
                                         const GError          *error);

/* "INDEX" for MPK_ERROR_INDEX, the domain's name for other domains' errors. */
G_GNUC_INTERNAL const char *mpk__error_code_name (const GError *error);

/* For the server's built-in types (mpk-manager-types.c). */
G_GNUC_INTERNAL extern const MpkManagerType *const mpk__manager_builtin_types[];

/* Blocks the calling method (the manager's lock is released meanwhile) until
 * another call changes something, the request's deadline passes (FALSE with
 * @timeout_code and @timeout_message) or the client hangs up (FALSE with
 * DISCONNECTED). Callers loop: while (!condition) if (!wait) return error. */
G_GNUC_INTERNAL gboolean mpk__manager_call_wait    (MpkManagerCall *call,
                                                    gint            timeout_code,
                                                    const char     *timeout_message,
                                                    GError        **error);
/* Wakes every waiting call: the state it may be waiting for changed. */
G_GNUC_INTERNAL void     mpk__manager_call_changed (MpkManagerCall *call);
/* Lets other calls run while a method does long work that touches no
 * server state (unboxing its own arguments); its object stays alive (the
 * call counts), but may change meanwhile: read it only after _relock. */
G_GNUC_INTERNAL void     mpk__manager_call_unlock  (MpkManagerCall *call);
G_GNUC_INTERNAL void     mpk__manager_call_relock  (MpkManagerCall *call);

/* Stored values may hold references: the server counts them, so an object
 * stays alive while some container holds it (Python's nested proxies).
 * _hold checks every reference in @value names a live object (else
 * STALE_HANDLE) and counts them; _drop uncounts (and may free objects). */
G_GNUC_INTERNAL gboolean mpk__manager_hold_refs (MpkManagerCall *call,
                                                 GVariant       *value,
                                                 GError        **error);
G_GNUC_INTERNAL void     mpk__manager_drop_refs (GVariant       *value);
/* _release is _drop for a value that leaves its container to go to the
 * client (a pop, a queue get): an object it was the last holder of is kept
 * for a while (a minute), for the client to take a proxy of. */
G_GNUC_INTERNAL void     mpk__manager_release_refs (GVariant    *value);
/* The size of a held dict, by id, for its iterators; -1 once it is gone. */
G_GNUC_INTERNAL gint64   mpk__manager_object_size (guint64 id);
/* The size of @data if @type is the built-in dict, else -1. */
G_GNUC_INTERNAL gint64   mpk__manager_dict_size (const MpkManagerType *type,
                                                 gpointer              data);
G_GNUC_INTERNAL guint64  mpk__manager_call_object_id (MpkManagerCall *call);

/* Connection internals the Manager uses. Its connections carry requests
 * and replies: they record no pipe events (the Manager records its own,
 * manager.call etc.) and a receive polls before it reads (an answer is
 * never there yet). It needs each frame's header for the message id. */
G_GNUC_INTERNAL void      mpk__connection_set_request_reply (MpkConnection *conn);
G_GNUC_INTERNAL gboolean  mpk__connection_send_header   (MpkConnection  *conn,
                                                         GVariant       *msg,
                                                         gint64          timeout_us,
                                                         MpkWireHeader  *header_out,
                                                         GError        **error);
G_GNUC_INTERNAL GVariant *mpk__connection_recv_header   (MpkConnection  *conn,
                                                         gint64          timeout_us,
                                                         MpkWireHeader  *header_out,
                                                         GError        **error);

/* For tests and the fuzz target: a server in this process, without a
 * socket (start, then dispatch requests "(ttxsv)" as a client's thread
 * would, then stop, which frees every object). Its generation is
 * MPK__MANAGER_TESTING_GENERATION, so a request can name its objects, and
 * no call waits (a queue get on an empty queue is EMPTY at once).
 * _dispatch returns the reply's result (transfer full) or NULL with the
 * error a client would get. */
#define MPK__MANAGER_TESTING_GENERATION 1
G_GNUC_INTERNAL void      mpk__manager_start_in_process_for_testing (void);
G_GNUC_INTERNAL GVariant *mpk__manager_dispatch_for_testing (GVariant  *request,
                                                             GError   **error);
G_GNUC_INTERNAL guint     mpk__manager_objects_for_testing  (void);
G_GNUC_INTERNAL void      mpk__manager_stop_in_process_for_testing  (void);

/* For tests: how many items one list, dict or namespace may hold (0: the
 * default, 16 Mi). Set it before mpk_manager_start(): the server is forked
 * and keeps the value it was forked with. */
G_GNUC_INTERNAL void mpk__manager_set_max_items_for_testing (guint limit);

/* For tests: how many threads serve authenticated connections at once (0:
 * the default, 256); more wait in the pool's queue. Set it before the
 * server starts (a forked server keeps the value it was forked with). */
G_GNUC_INTERNAL void mpk__manager_set_max_threads_for_testing (guint threads);
/* For tests: the counters of the server that ran last in this process
 * (mpk_manager_serve_forever), as it left them; objects is 0. */
G_GNUC_INTERNAL void mpk__manager_last_stats_for_testing (MpkManagerStats *stats);

/* For tests: a socket connected to @manager's server, authenticated when
 * @authenticate (then it speaks the request protocol). Close it yourself. */
G_GNUC_INTERNAL int mpk__manager_open_raw_for_testing (MpkManager *manager,
                                                      gboolean    authenticate,
                                                      GError    **error);

G_END_DECLS

#endif /* MPK_PRIVATE_H */
