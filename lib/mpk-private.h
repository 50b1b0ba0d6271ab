/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-private.h: the internal umbrella (never installed). Everything libmpkit's
 * files share: deadlines, the wire format, the tracer hook, object headers.
 * Each prototype says its contract, nng-style. */
#ifndef MPK_PRIVATE_H
#define MPK_PRIVATE_H

#include "mpkit.h"

#include <poll.h>
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
} MpkObjectType;

/* The first member of every waitable struct, so mpk_wait() can tell them apart. */
typedef struct
{
  MpkObjectType type;
} MpkObjectHeader;

/* A connection is ready to read without blocking: buffered bytes, or its fd
 * polled readable. Returns the fd to poll, or -1 if it is ready already
 * (@ready set) or closed. */
G_GNUC_INTERNAL int mpk__connection_wait_fd (MpkConnection *conn,
                                             gboolean      *ready);

/* The process's sentinel fd, or -1 if it has not started or is closed. */
G_GNUC_INTERNAL int mpk__process_wait_fd (MpkProcess *process);

/* Fault injection for tests: when TRUE the next child fails its setup. */
G_GNUC_INTERNAL extern gboolean mpk__process_fail_setup_for_testing;

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

/* --- the tracer hook (mpk-trace.c) ----------------------------------------- */

typedef enum
{
  MPK__TRACE_SEND,
  MPK__TRACE_RECV,
} MpkTraceDirection;

/* Every message a connection sends or receives passes through mpk__trace()
 * with its header; the tracer (MPK_TRACE) records it there. NULL when
 * tracing is off, so the cost is one predictable branch. */
typedef void (*MpkTraceHook) (MpkTraceDirection    direction,
                              const MpkWireHeader *header,
                              gconstpointer        object);
G_GNUC_INTERNAL extern MpkTraceHook mpk__trace_hook;

static inline void
mpk__trace (MpkTraceDirection    direction,
            const MpkWireHeader *header,
            gconstpointer        object)
{
  if (G_UNLIKELY (mpk__trace_hook != NULL))
    mpk__trace_hook (direction, header, object);
}

G_END_DECLS

#endif /* MPK_PRIVATE_H */
