/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-connection.c: multiprocessing.Pipe() and Connection. One end of a
 * socketpair carrying frames (mpk-wire.c). Reads are buffered, so a small
 * message costs one read(2) or less; a frame and its payload go out in one
 * sendmsg(2). Nothing here ever raises SIGPIPE. mpk_connection_create_source()
 * watches an end in a GLib main loop, buffered messages included. */
#include "mpk-objects-private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Read buffer size: one read(2) fetches up to this many bytes of small frames. */
#define RBUF_SIZE (64 * 1024)
/* A large payload's buffer starts at most this big and grows as data arrives,
 * so a lying length field cannot make us allocate much before it is backed. */
#define PAYLOAD_FIRST_ALLOC (16 * 1024 * 1024)

/* The frame being received. It survives a timeout, so the next call resumes
 * where the last one stopped and no byte of the stream is lost. */
typedef struct
{
  gboolean      active;     /* the header has been consumed from the stream */
  gboolean      discard;    /* drop the payload (recv_bytes over maxlength) */
  MpkWireHeader header;
  guint8       *data;       /* payload so far, NULL while discarding */
  gsize         alloc;      /* bytes allocated at @data */
  gsize         got;        /* payload bytes received */
} PendingFrame;

struct _MpkConnection
{
  MpkObjectHeader object;
  int             fd;           /* -1 once closed */
  gboolean        readable;
  gboolean        writable;
  gboolean        is_socket;    /* sockets get MSG_NOSIGNAL; others mask SIGPIPE */
  gboolean        read_shut;    /* the stream lost sync: no more reads */
  guint64         max_message_size;
  guint8         *rbuf;         /* bytes [rpos, rlen) are read but not consumed */
  gsize           rpos;
  gsize           rlen;
  PendingFrame    cur;
  guint8          trace_end;    /* 1 or 2 for the ends of mpk_pipe_new(), else 0 */
  gboolean        untraced;     /* a layer above records its own events (Manager) */
  gboolean        poll_first;   /* request/reply: an answer is never there at once */
};

/* Whether @conn records pipe events itself. */
#define TRACING_PIPE(conn) (MPK__TRACING (MPK__TRACE_PIPE) && !(conn)->untraced)

/* Every open connection of this process. Bytes a process has read into its
 * buffer are its own: a forked child must not see them a second time, so
 * the atfork handler below empties the child's copies. */
static GMutex    registry_lock;   /* protects registry */
static GHashTable *registry;      /* MpkConnection* set */

static void
drop_buffered (gpointer key, gpointer value, gpointer user_data)
{
  MpkConnection *conn = key;

  conn->rpos = conn->rlen = 0;
  g_free (conn->cur.data);    /* the parent's copy lives on in the parent */
  memset (&conn->cur, 0, sizeof conn->cur);
}

/* In a forked child: the parent's buffered messages belong to the parent. A
 * frame the parent was part-way through is lost to the child, whose next
 * read starts mid-frame and is reported as a protocol error, never misread. */
static void
registry_after_fork_child (void)
{
  g_mutex_init (&registry_lock);     /* the parent's holder does not exist here */
  if (registry != NULL)
    g_hash_table_foreach (registry, drop_buffered, NULL);
}

static void
registry_add (MpkConnection *conn)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      pthread_atfork (NULL, NULL, registry_after_fork_child);
      g_once_init_leave (&once, 1);
    }
  g_mutex_lock (&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new (NULL, NULL);
  g_hash_table_add (registry, conn);
  g_mutex_unlock (&registry_lock);
}

static void
registry_remove (MpkConnection *conn)
{
  g_mutex_lock (&registry_lock);
  if (registry != NULL)
    g_hash_table_remove (registry, conn);
  g_mutex_unlock (&registry_lock);
}

/* Records an event of @conn's own: "pipe.eof", "pipe.close". */
static void
trace_local (MpkConnection *conn, const char *ev)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, ev, 0, 0);
  mpk__trace_add_object (&line, &conn->object);
  if (conn->trace_end != 0)
    mpk__trace_add_int (&line, "end", conn->trace_end);
  mpk__trace_end (&line);
}

static MpkConnection *
connection_new (int fd, gboolean readable, gboolean writable, gboolean is_socket)
{
  MpkConnection *conn = g_new0 (MpkConnection, 1);

  mpk__trace_object_init (&conn->object, MPK__OBJECT_CONNECTION);
  conn->fd = fd;
  conn->readable = readable;
  conn->writable = writable;
  conn->is_socket = is_socket;
  conn->max_message_size = MPK_DEFAULT_MAX_MESSAGE_SIZE;
  registry_add (conn);
  return conn;
}

static gboolean
set_nonblocking (int fd, GError **error)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return mpk__set_error_from_errno (error, errno, "fcntl");
  return TRUE;
}

/**
 * mpk_pipe_new:
 * @duplex: %TRUE for two ends that both send and receive
 * @conn1: (out) (transfer full): the first end; read-only if not @duplex
 * @conn2: (out) (transfer full): the second end; write-only if not @duplex
 * @error: return location for a #GError, or %NULL
 *
 * Creates a pipe, like Python's `multiprocessing.Pipe(duplex)`. Create it
 * before starting the processes that use it: after fork() both processes
 * hold both ends, and each closes the end it does not use (otherwise the
 * reader never sees end-of-file). Both ends are a socketpair, so a one-way
 * pipe enforces its direction in the objects, not the kernel.
 *
 * Receives are buffered in the process that makes them, so each end has one
 * reading process at a time (Python's docs give the same rule for the same
 * end). A child started later does not see messages its parent has
 * already read into its buffer.
 *
 * Returns: %TRUE on success; free the ends with mpk_connection_free().
 *   %FALSE with %MPK_ERROR_FAILED if socketpair(2) failed (descriptors
 *   exhausted); @conn1 and @conn2 are then left as they were
 */
gboolean
mpk_pipe_new (gboolean        duplex,
              MpkConnection **conn1,
              MpkConnection **conn2,
              GError        **error)
{
  int sv[2];

  g_return_val_if_fail (conn1 != NULL && conn2 != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
    return mpk__set_error_from_errno (error, errno, "socketpair");
  *conn1 = connection_new (sv[0], TRUE, duplex, TRUE);
  *conn2 = connection_new (sv[1], duplex, TRUE, TRUE);
  (*conn2)->object = (*conn1)->object;    /* one pipe, one name in the trace */
  (*conn1)->trace_end = 1;
  (*conn2)->trace_end = 2;
  return TRUE;
}

/**
 * mpk_connection_new_from_fd:
 * @fd: an open file descriptor (a socket or a pipe end); the connection owns it
 * @readable: whether the connection may receive
 * @writable: whether the connection may send
 * @error: return location for a #GError, or %NULL
 *
 * Wraps @fd, like Python's `Connection(handle, readable, writable)`.
 *
 * Returns: (transfer full) (nullable): the connection, or %NULL with
 *   %MPK_ERROR_INVALID when @fd is not an open descriptor or both flags are
 *   %FALSE (then @fd is not closed)
 */
MpkConnection *
mpk_connection_new_from_fd (int        fd,
                            gboolean   readable,
                            gboolean   writable,
                            GError   **error)
{
  struct stat st;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (fd < 0 || fstat (fd, &st) < 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "invalid file descriptor %d", fd);
      return NULL;
    }
  if (!readable && !writable)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "a connection must be readable, writable or both");
      return NULL;
    }
  if (!set_nonblocking (fd, error))
    return NULL;
  return connection_new (fd, readable, writable, S_ISSOCK (st.st_mode));
}

static void
pending_reset (PendingFrame *cur)
{
  g_free (cur->data);
  memset (cur, 0, sizeof *cur);
}

/**
 * mpk_connection_close:
 * @conn: (transfer none): a #MpkConnection
 *
 * Closes this process's copy of the end, like `Connection.close()`. Calling
 * it again does nothing. Later calls on @conn fail with %MPK_ERROR_CLOSED.
 */
void
mpk_connection_close (MpkConnection *conn)
{
  g_return_if_fail (conn != NULL);

  if (conn->fd >= 0)
    {
      close (conn->fd);
      registry_remove (conn);
      /* Who closed which end, and when, is what makes EOF arrive (lab 09). */
      if (TRACING_PIPE (conn))
        trace_local (conn, "pipe.close");
    }
  conn->fd = -1;
  g_clear_pointer (&conn->rbuf, g_free);
  conn->rpos = conn->rlen = 0;
  pending_reset (&conn->cur);
}

/**
 * mpk_connection_free:
 * @conn: (nullable) (transfer full): a #MpkConnection
 *
 * Closes @conn if it is open and frees it.
 */
void
mpk_connection_free (MpkConnection *conn)
{
  if (conn == NULL)
    return;
  mpk_connection_close (conn);
  g_free (conn);
}

/**
 * mpk_connection_is_closed:
 * @conn: (transfer none): a #MpkConnection
 *
 * Python's `Connection.closed`. Only mpk_connection_close() (or a send
 * that failed part-way through a message, see mpk_connection_send())
 * closes an end; the peer's close does not, it shows as %MPK_ERROR_EOF.
 *
 * Returns: %TRUE once this process closed @conn
 */
gboolean
mpk_connection_is_closed (MpkConnection *conn)
{
  g_return_val_if_fail (conn != NULL, TRUE);
  return conn->fd < 0;
}

/* Python keeps readable/writable True after close and after the peer's close. */
/**
 * mpk_connection_is_readable:
 * @conn: (transfer none): a #MpkConnection
 *
 * Python's `Connection.readable`: fixed when the end is made, and unchanged
 * by a close on either side.
 *
 * Returns: %TRUE if @conn may receive (the first end of a one-way pipe, or
 *   either end of a duplex one)
 */
gboolean
mpk_connection_is_readable (MpkConnection *conn)
{
  g_return_val_if_fail (conn != NULL, FALSE);
  return conn->readable;
}

/**
 * mpk_connection_is_writable:
 * @conn: (transfer none): a #MpkConnection
 *
 * Python's `Connection.writable`: fixed when the end is made, and unchanged
 * by a close on either side.
 *
 * Returns: %TRUE if @conn may send (the second end of a one-way pipe, or
 *   either end of a duplex one)
 */
gboolean
mpk_connection_is_writable (MpkConnection *conn)
{
  g_return_val_if_fail (conn != NULL, FALSE);
  return conn->writable;
}

/**
 * mpk_connection_fileno:
 * @conn: (transfer none): a #MpkConnection
 * @error: return location for a #GError, or %NULL
 *
 * Like Python's `Connection.fileno()`. Do not watch this descriptor to learn
 * when a message can be received: a receive reads every byte the socket
 * holds into @conn's buffer, so after two sends and one receive the second
 * message waits in that buffer while poll(2), select(2) or a
 * g_unix_fd_add() watch on the descriptor say nothing is ready, and a
 * program waiting on them stalls. Wait with mpk_connection_poll(),
 * mpk_wait(), or in a GLib main loop with mpk_connection_create_source(),
 * which all look at the buffer first.
 *
 * Returns: the descriptor (still owned by @conn, and non-blocking), or -1
 *   with %MPK_ERROR_CLOSED
 */
int
mpk_connection_fileno (MpkConnection  *conn,
                       GError        **error)
{
  g_return_val_if_fail (conn != NULL, -1);

  if (conn->fd < 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_CLOSED, "connection is closed");
      return -1;
    }
  return conn->fd;
}

/**
 * mpk_connection_set_max_message_size:
 * @conn: (transfer none): a #MpkConnection
 * @max_size: the largest payload, in bytes, this end accepts
 *
 * Guards the receiver against a peer that sends (or claims to send) huge
 * messages. A frame over the limit fails with %MPK_ERROR_TOO_BIG before
 * anything is allocated for it; the stream cannot be trusted after that, so
 * the connection stops reading (later receives give %MPK_ERROR_CLOSED) while
 * sending still works. Default: %MPK_DEFAULT_MAX_MESSAGE_SIZE.
 */
void
mpk_connection_set_max_message_size (MpkConnection *conn,
                                     guint64        max_size)
{
  g_return_if_fail (conn != NULL);
  conn->max_message_size = max_size;
}

/**
 * mpk_connection_get_max_message_size:
 * @conn: (transfer none): a #MpkConnection
 *
 * The limit set by mpk_connection_set_max_message_size().
 *
 * Returns: the largest payload, in bytes, a receive on @conn accepts
 */
guint64
mpk_connection_get_max_message_size (MpkConnection *conn)
{
  g_return_val_if_fail (conn != NULL, 0);
  return conn->max_message_size;
}

/* Checks that @conn is open and may be used in the direction asked. */
static gboolean
check_usable (MpkConnection *conn, gboolean for_reading, GError **error)
{
  if (conn->fd < 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_CLOSED, "connection is closed");
      return FALSE;
    }
  if (for_reading ? !conn->readable : !conn->writable)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           for_reading ? "connection is write-only" : "connection is read-only");
      return FALSE;
    }
  if (for_reading && conn->read_shut)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_CLOSED,
                           "connection was closed for reading after a bad or oversized frame");
      return FALSE;
    }
  return TRUE;
}

/* --- sending --------------------------------------------------------------- */

/* One sendmsg/writev that never raises SIGPIPE. For a non-socket fd the signal
 * is blocked for the call and a SIGPIPE it caused is consumed, not delivered. */
static gssize
write_vec (MpkConnection *conn, struct iovec *iov, int n_iov)
{
  sigset_t pipe_set, old_set, pending;
  gboolean was_pending;
  gssize n;
  int saved_errno;

  if (conn->is_socket)
    {
      struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n_iov };
      return sendmsg (conn->fd, &msg, MSG_NOSIGNAL);
    }
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old_set);
  sigpending (&pending);
  was_pending = sigismember (&pending, SIGPIPE);
  n = writev (conn->fd, iov, n_iov);
  saved_errno = errno;
  if (n < 0 && saved_errno == EPIPE && !was_pending)
    {
      struct timespec zero = { 0, 0 };
      sigtimedwait (&pipe_set, NULL, &zero);
    }
  pthread_sigmask (SIG_SETMASK, &old_set, NULL);
  errno = saved_errno;
  return n;
}

/* mpk__wait_fd() as a call the tracer can name if it sleeps ("blocked in
 * recv(pipe#1)": who is stuck). */
static gboolean
conn_wait_fd (MpkConnection *conn, short events, MpkDeadline deadline, const char *what,
              GError **error)
{
  MpkTraceWaiting waiting;
  gboolean ok;

  if (!MPK__TRACING (MPK__TRACE_PIPE))
    return mpk__wait_fd (conn->fd, events, deadline, what, error);
  mpk__trace_wait_enter (&waiting, &conn->object, what);
  waiting.end = conn->trace_end;
  ok = mpk__wait_fd (conn->fd, events, deadline, what, error);
  mpk__trace_wait_leave (&waiting);
  return ok;
}

/* Writes all of @iov before @deadline. On a timeout or error after part of a
 * frame went out, the peer would see a truncated frame next, so the
 * connection is closed: a half-sent frame never corrupts a later message. */
static gboolean
write_all (MpkConnection *conn, struct iovec *iov, int n_iov, MpkDeadline deadline,
           GError **error)
{
  gboolean started = FALSE;

  while (n_iov > 0)
    {
      gssize n = write_vec (conn, iov, n_iov);

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          if (saved_errno == EAGAIN
              && conn_wait_fd (conn, POLLOUT, deadline, "send", error))
            continue;
          if (saved_errno != EAGAIN)
            mpk__set_error_from_errno (error, saved_errno, "send");
          if (started)
            mpk_connection_close (conn);
          return FALSE;
        }
      started = TRUE;
      while (n_iov > 0 && (gsize) n >= iov->iov_len)
        {
          n -= iov->iov_len;
          iov++;
          n_iov--;
        }
      if (n_iov > 0)
        {
          iov->iov_base = (guint8 *) iov->iov_base + n;
          iov->iov_len -= n;
        }
    }
  return TRUE;
}

/* Records one message event: "pipe.send" or "pipe.recv" with the id and
 * Lamport clock of @header and a summary of @msg (or "bytes[N]"). */
static void
trace_message (MpkConnection *conn, MpkTraceDirection dir, const MpkWireHeader *header,
               GVariant *msg, gint64 ts)
{
  MpkTraceLine line;

  mpk__trace_begin (&line, dir == MPK__TRACE_OUT ? "pipe.send" : "pipe.recv", ts, header->clock);
  mpk__trace_add_object (&line, &conn->object);
  mpk__trace_add_message (&line, dir, header, msg);
  mpk__trace_end (&line);
}

/* Frames @header plus up to two payload pieces and sends them in one call.
 * @msg is what the payload encodes (NULL for bytes), for the tracer only. */
static gboolean
send_frame (MpkConnection *conn, MpkWireHeader *header,
            gconstpointer p1, gsize n1, gconstpointer p2, gsize n2,
            GVariant *msg, gint64 timeout_us, GError **error)
{
  guint8 head[MPK__WIRE_HEADER_SIZE];
  struct iovec iov[3] = {
    { head, sizeof head },
    { (gpointer) p1, n1 },
    { (gpointer) p2, n2 },
  };
  gint64 ts = 0;

  mpk__wire_encode_header (header, head);
  if (TRACING_PIPE (conn))
    ts = mpk__trace_now ();     /* before the write: the receiver reads after it */
  if (!write_all (conn, iov, 3, mpk__deadline_from_timeout (timeout_us), error))
    return FALSE;
  if (TRACING_PIPE (conn))
    trace_message (conn, MPK__TRACE_OUT, header, msg, ts);
  return TRUE;
}

/**
 * mpk_connection_send:
 * @conn: (transfer none): a writable #MpkConnection
 * @msg: (transfer none): the message; a floating reference is sunk (and
 *   so consumed), a full one is left to the caller
 * @timeout_us: microseconds to wait for room, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Sends @msg as one message, like Python's `Connection.send(obj)` (a
 * #GVariant stands in for a pickled object). If the timeout expires or the
 * peer goes away after part of the message was written, @conn is closed,
 * because the stream can no longer carry whole messages.
 *
 * Returns: %TRUE once the whole message is in the kernel's buffer;
 *   %FALSE with %MPK_ERROR_PEER_CLOSED, %MPK_ERROR_TIMED_OUT, ...
 */
gboolean
mpk_connection_send (MpkConnection  *conn,
                     GVariant       *msg,
                     gint64          timeout_us,
                     GError        **error)
{
  MpkWireHeader header;

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mpk__connection_send_header (conn, msg, timeout_us, &header, error);
}

/**
 * mpk_connection_send_bytes:
 * @conn: (transfer none): a writable #MpkConnection
 * @buf: (transfer none) (array length=buf_len): the bytes, read during
 *   the call only
 * @buf_len: the length of @buf
 * @offset: where in @buf the message starts
 * @size: how many bytes to send, or -1 for the rest of @buf after @offset;
 *   other negative sizes are refused
 * @timeout_us: microseconds to wait for room, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Sends `buf[offset:offset+size]` as one message, like Python's
 * `Connection.send_bytes(buf, offset, size)`. A zero-length message is a
 * message too. The same closing rule as mpk_connection_send() applies.
 *
 * Returns: %TRUE on success; %FALSE with %MPK_ERROR_INVALID when @offset or
 *   @size fall outside @buf or @size is below -1 (nothing is sent), or
 *   another error
 */
gboolean
mpk_connection_send_bytes (MpkConnection  *conn,
                           gconstpointer   buf,
                           gsize           buf_len,
                           gsize           offset,
                           gssize          size,
                           gint64          timeout_us,
                           GError        **error)
{
  MpkWireHeader header;

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || buf_len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (offset > buf_len)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "buffer length %" G_GSIZE_FORMAT " < offset %" G_GSIZE_FORMAT, buf_len, offset);
      return FALSE;
    }
  /* Only -1 stands for Python's size=None; any other negative number is
   * a mistake, not "the rest" (Python: ValueError "size is negative"). */
  if (size < -1)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "size %" G_GSSIZE_FORMAT " is negative (only -1 means the rest)", size);
      return FALSE;
    }
  if (size == -1)
    size = buf_len - offset;
  if ((gsize) size > buf_len - offset)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "buffer length %" G_GSIZE_FORMAT " < offset + size (%" G_GSIZE_FORMAT
                   " + %" G_GSSIZE_FORMAT ")", buf_len, offset, size);
      return FALSE;
    }
  if (!check_usable (conn, FALSE, error))
    return FALSE;
  mpk__wire_stamp (&header, MPK__WIRE_KIND_BYTES, size);
  return send_frame (conn, &header, (const guint8 *) buf + offset, size, NULL, 0,
                     NULL, timeout_us, error);
}

/* --- receiving ------------------------------------------------------------- */


/* Reads what the socket has into @dst (at most @max bytes), waiting until
 * @deadline for the first byte. Returns the count, 0 at end of file, -1 on
 * error or timeout with @error set. */
static gssize
read_some (MpkConnection *conn, guint8 *dst, gsize max, MpkDeadline deadline, GError **error)
{
  /* Waiting first saves a read that would only say EAGAIN. */
  if (conn->poll_first && !conn_wait_fd (conn, POLLIN, deadline, "recv", error))
    return -1;
  for (;;)
    {
      gssize n = read (conn->fd, dst, max);

      if (n >= 0)
        return n;
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        {
          mpk__set_error_from_errno (error, errno, "recv");
          return -1;
        }
      if (!conn_wait_fd (conn, POLLIN, deadline, "recv", error))
        return -1;
    }
}

/* Buffers at least @want unconsumed bytes (@want <= RBUF_SIZE). Returns 1 on
 * success, 0 at end of file (fewer bytes buffered), -1 on error or timeout. */
static int
fill (MpkConnection *conn, gsize want, MpkDeadline deadline, GError **error)
{
  if (conn->rbuf == NULL)
    conn->rbuf = g_malloc (RBUF_SIZE);
  while (conn->rlen - conn->rpos < want)
    {
      gssize n;

      if (conn->rpos > 0 && conn->rpos + want > RBUF_SIZE)
        {
          memmove (conn->rbuf, conn->rbuf + conn->rpos, conn->rlen - conn->rpos);
          conn->rlen -= conn->rpos;
          conn->rpos = 0;
        }
      n = read_some (conn, conn->rbuf + conn->rlen, RBUF_SIZE - conn->rlen, deadline, error);
      if (n < 0)
        return -1;
      if (n == 0)
        return 0;
      conn->rlen += n;
    }
  return 1;
}

/* Makes conn->cur the next frame: consumes and checks its header. A bad or
 * oversized header means the stream cannot be trusted: stop reading. */
static gboolean
begin_frame (MpkConnection *conn, MpkDeadline deadline, GError **error)
{
  int rc;

  if (conn->cur.active)
    return TRUE;
  rc = fill (conn, MPK__WIRE_HEADER_SIZE, deadline, error);
  if (rc < 0)
    return FALSE;
  if (rc == 0)
    {
      if (conn->rlen == conn->rpos)
        {
          g_set_error_literal (error, MPK_ERROR, MPK_ERROR_EOF, "end of file: the peer closed the connection");
          if (TRACING_PIPE (conn))
            trace_local (conn, "pipe.eof");
        }
      else
        g_set_error (error, MPK_ERROR, MPK_ERROR_TRUNCATED,
                     "got end of file during a message header (%" G_GSIZE_FORMAT " of %d bytes)",
                     conn->rlen - conn->rpos, MPK__WIRE_HEADER_SIZE);
      return FALSE;
    }
  if (!mpk__wire_decode_header (conn->rbuf + conn->rpos, conn->max_message_size,
                                &conn->cur.header, error))
    {
      conn->read_shut = TRUE;
      return FALSE;
    }
  conn->rpos += MPK__WIRE_HEADER_SIZE;
  conn->cur.active = TRUE;
  return TRUE;
}

/* Makes room for @need payload bytes. The buffer starts at most
 * PAYLOAD_FIRST_ALLOC and doubles, so memory follows the data that arrived,
 * not the length the peer claimed. */
static void
reserve (PendingFrame *cur, gsize need)
{
  gsize len = cur->header.length;

  if (need <= cur->alloc)
    return;
  cur->alloc = MAX (need, cur->alloc == 0 ? MIN (len, PAYLOAD_FIRST_ALLOC) : MIN (len, cur->alloc * 2));
  cur->data = g_realloc (cur->data, MAX (cur->alloc, 1));
}

/* Receives the rest of the current frame's payload into conn->cur (or drops
 * it when discarding). Small payloads come out of the read buffer; a large
 * one is read straight into its own buffer. */
static gboolean
read_payload (MpkConnection *conn, MpkDeadline deadline, GError **error)
{
  PendingFrame *cur = &conn->cur;
  gsize len = cur->header.length;

  while (cur->got < len)
    {
      gsize avail = conn->rlen - conn->rpos;
      gsize left = len - cur->got;
      gssize n;

      if (avail > 0)
        {
          gsize take = MIN (avail, left);

          if (!cur->discard)
            {
              reserve (cur, cur->got + take);
              memcpy (cur->data + cur->got, conn->rbuf + conn->rpos, take);
            }
          conn->rpos += take;
          cur->got += take;
          continue;
        }
      conn->rpos = conn->rlen = 0;
      if (left < RBUF_SIZE || cur->discard)
        {
          n = read_some (conn, conn->rbuf, RBUF_SIZE, deadline, error);
          conn->rlen = MAX (n, 0);
        }
      else
        {
          reserve (cur, cur->got + 1);
          n = read_some (conn, cur->data + cur->got, cur->alloc - cur->got, deadline, error);
          cur->got += MAX (n, 0);
        }
      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_TRUNCATED,
                       "got end of file during a message (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                       " bytes)", cur->got, len);
          return FALSE;
        }
    }
  return TRUE;
}

/* Ends the current frame: ticks the clock and hands back its payload. */
static GBytes *
finish_frame (MpkConnection *conn, MpkWireHeader *header_out)
{
  PendingFrame *cur = &conn->cur;
  GBytes *payload;

  *header_out = cur->header;
  header_out->clock = mpk__wire_clock_receive (cur->header.clock);
  payload = cur->discard ? NULL : g_bytes_new_take (g_steal_pointer (&cur->data), cur->got);
  /* A zero-length payload never allocated: g_bytes_new_take (NULL, 0) is fine. */
  pending_reset (cur);
  return payload;
}

/* Receives one whole frame. With @maxlength >= 0, a longer payload is read
 * and dropped, and MPK_ERROR_TOO_BIG is returned: the stream stays usable. */
static GBytes *
recv_frame (MpkConnection *conn, gint64 maxlength, gint64 timeout_us,
            MpkWireHeader *header, GError **error)
{
  MpkDeadline deadline = mpk__deadline_from_timeout (timeout_us);

  if (!check_usable (conn, TRUE, error) || !begin_frame (conn, deadline, error))
    return NULL;
  /* Once a call has decided to discard a frame, a later call (after a
   * timeout) finishes discarding it and reports it too. */
  if (maxlength >= 0 && conn->cur.header.length > (guint64) maxlength)
    conn->cur.discard = TRUE;
  if (!read_payload (conn, deadline, error))
    return NULL;
  if (conn->cur.discard)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG,
                   "bad message length: %" G_GUINT64_FORMAT " bytes is over maxlength; "
                   "the message was discarded", conn->cur.header.length);
      finish_frame (conn, header);
      if (TRACING_PIPE (conn))
        trace_message (conn, MPK__TRACE_IN, header, NULL, 0);
      return NULL;
    }
  return finish_frame (conn, header);
}

/**
 * mpk_connection_recv:
 * @conn: (transfer none): a readable #MpkConnection
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Receives the next message, like Python's `Connection.recv()`. A message
 * sent with mpk_connection_send_bytes() arrives as a `ay` variant. If the
 * timeout expires part-way through a message, nothing is lost: the next
 * call continues it.
 *
 * Returns: (transfer full) (nullable): the message, free with g_variant_unref();
 *   %NULL with %MPK_ERROR_EOF when the peer closed at a message boundary,
 *   %MPK_ERROR_TRUNCATED when it closed mid-message, %MPK_ERROR_TIMED_OUT,
 *   %MPK_ERROR_PROTOCOL for a malformed message (consumed; the connection
 *   stays usable unless the frame header itself was bad), ...
 */
GVariant *
mpk_connection_recv (MpkConnection  *conn,
                     gint64          timeout_us,
                     GError        **error)
{
  g_autoptr(GBytes) payload = NULL;
  MpkWireHeader header;
  GVariant *msg;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  payload = recv_frame (conn, -1, timeout_us, &header, error);
  if (payload == NULL)
    return NULL;
  if (header.kind == MPK__WIRE_KIND_BYTES)
    msg = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, payload, TRUE));
  else
    msg = mpk__wire_decode_variant (&header, payload, error);
  if (TRACING_PIPE (conn))
    trace_message (conn, MPK__TRACE_IN, &header, msg, 0);
  return msg;
}

/* Receives a bytes message; a GVariant message is consumed and refused. */
static GBytes *
recv_bytes_frame (MpkConnection *conn, gint64 maxlength, gint64 timeout_us, GError **error)
{
  g_autoptr(GBytes) payload = NULL;
  MpkWireHeader header;

  payload = recv_frame (conn, maxlength, timeout_us, &header, error);
  if (payload != NULL && TRACING_PIPE (conn))
    trace_message (conn, MPK__TRACE_IN, &header, NULL, 0);
  if (payload != NULL && header.kind != MPK__WIRE_KIND_BYTES)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "expected a bytes message (send_bytes), got a GVariant message (send); "
                           "it was discarded");
      return NULL;
    }
  return g_steal_pointer (&payload);
}

/**
 * mpk_connection_recv_bytes:
 * @conn: (transfer none): a readable #MpkConnection
 * @maxlength: the longest message accepted, or -1 for no limit beyond the
 *   connection's maximum message size; other negative values are refused
 *   with %MPK_ERROR_INVALID before anything is read (Python: ValueError)
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Receives a message sent with mpk_connection_send_bytes(), like Python's
 * `Connection.recv_bytes(maxlength)`. Unlike Python, which leaves the
 * connection unreadable after refusing a message over @maxlength, mpkit
 * reads and discards that message: the error is %MPK_ERROR_TOO_BIG and the
 * next call receives the next message.
 *
 * Returns: (transfer full) (nullable): the bytes, free with g_bytes_unref();
 *   %NULL with @error set (see mpk_connection_recv())
 */
GBytes *
mpk_connection_recv_bytes (MpkConnection  *conn,
                           gssize          maxlength,
                           gint64          timeout_us,
                           GError        **error)
{
  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (maxlength < -1)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "maxlength %" G_GSSIZE_FORMAT " is negative (only -1 means no limit)",
                   maxlength);
      return NULL;
    }
  return recv_bytes_frame (conn, maxlength, timeout_us, error);
}

/**
 * mpk_connection_recv_bytes_into:
 * @conn: (transfer none): a readable #MpkConnection
 * @buf: (transfer none) (array length=buf_len): where to store the
 *   message; the caller's memory, written during the call only
 * @buf_len: the size of @buf
 * @offset: where in @buf the message goes
 * @whole_message: (out) (optional) (transfer full): on
 *   %MPK_ERROR_BUFFER_TOO_SHORT, the whole message, which has been
 *   consumed (free it with g_bytes_unref()); untouched otherwise
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Receives a bytes message into @buf at @offset, like Python's
 * `Connection.recv_bytes_into(buf, offset)`.
 *
 * Returns: the message length, or -1 with @error set: %MPK_ERROR_INVALID for
 *   an @offset past @buf_len, %MPK_ERROR_BUFFER_TOO_SHORT (Python's
 *   BufferTooShort) when the message does not fit, ...
 */
gssize
mpk_connection_recv_bytes_into (MpkConnection *conn,
                                gpointer       buf,
                                gsize          buf_len,
                                gsize          offset,
                                GBytes       **whole_message,
                                gint64         timeout_us,
                                GError       **error)
{
  g_autoptr(GBytes) payload = NULL;
  gsize size;

  g_return_val_if_fail (conn != NULL, -1);
  g_return_val_if_fail (buf != NULL || buf_len == 0, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (offset > buf_len)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "offset %" G_GSIZE_FORMAT " too large for a buffer of %" G_GSIZE_FORMAT " bytes",
                   offset, buf_len);
      return -1;
    }
  payload = recv_bytes_frame (conn, -1, timeout_us, error);
  if (payload == NULL)
    return -1;
  size = g_bytes_get_size (payload);
  if (size > buf_len - offset)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_BUFFER_TOO_SHORT,
                   "buffer too short: the message has %" G_GSIZE_FORMAT " bytes, room for %"
                   G_GSIZE_FORMAT, size, buf_len - offset);
      if (whole_message != NULL)
        *whole_message = g_steal_pointer (&payload);
      return -1;
    }
  if (size > 0)
    memcpy ((guint8 *) buf + offset, g_bytes_get_data (payload, NULL), size);
  return size;
}

/* Whether the next frame is wholly in the read buffer, so a receive returns
 * without reading. Part of a frame is not enough: the rest may never come. */
static gboolean
frame_buffered (MpkConnection *conn)
{
  gsize avail = conn->rlen - conn->rpos;
  MpkWireHeader header;

  if (conn->cur.active)
    return avail >= conn->cur.header.length - conn->cur.got;
  if (avail < MPK__WIRE_HEADER_SIZE)
    return FALSE;
  /* A bad header is "ready" too: the receive reports it at once. */
  if (!mpk__wire_decode_header (conn->rbuf + conn->rpos, conn->max_message_size, &header, NULL))
    return TRUE;
  return avail - MPK__WIRE_HEADER_SIZE >= header.length;
}

/**
 * mpk_connection_poll:
 * @conn: (transfer none): a readable #MpkConnection
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Tells whether there is something to receive, like Python's
 * `Connection.poll(timeout)`: a message (even a zero-length one), or the
 * peer's end of file. It never consumes anything.
 *
 * Like Python's, it looks at the descriptor: when only the first bytes of a
 * message have arrived (a large message the peer is still writing), it says
 * %TRUE and a receive then waits for the rest. Give that receive a timeout
 * if the peer may stall mid-message.
 *
 * Returns: %TRUE if a whole message is buffered, or the descriptor has
 *   bytes or the end of file to read; %FALSE after the timeout,
 *   or with @error set (%MPK_ERROR_CLOSED, %MPK_ERROR_INVALID on a
 *   write-only end)
 */
gboolean
mpk_connection_poll (MpkConnection  *conn,
                     gint64          timeout_us,
                     GError        **error)
{
  struct pollfd pfd;
  int rc;

  g_return_val_if_fail (conn != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_usable (conn, TRUE, error))
    return FALSE;
  if (frame_buffered (conn))
    return TRUE;
  pfd.fd = conn->fd;
  pfd.events = POLLIN;
  rc = mpk__poll (&pfd, 1, mpk__deadline_from_timeout (timeout_us));
  if (rc < 0)
    return mpk__set_error_from_errno (error, errno, "poll");
  return rc > 0;
}

int
mpk__connection_wait_fd (MpkConnection *conn,
                         gboolean      *ready)
{
  /* mpk_wait() refuses an end closed by this process before asking; one
   * shut for reading after a bad frame is "ready": the receive reports it. */
  *ready = conn->fd < 0 || conn->read_shut || frame_buffered (conn);
  return *ready ? -1 : conn->fd;
}

/* --- main-loop sources ------------------------------------------------------
 *
 * A GSource that polls the descriptor, like g_socket_create_source(), but
 * that is also ready, without polling, while a whole frame waits in the read
 * buffer: the descriptor alone says nothing about those bytes. It reads
 * nothing itself; the callback receives. */

typedef struct
{
  GSource        source;
  MpkConnection *conn;        /* not owned: it must outlive the source */
  GIOCondition   condition;   /* what the caller asked for: G_IO_IN and/or G_IO_OUT */
  gpointer       fd_tag;      /* conn->fd in the poll set; NULL once conn is closed */
} ConnectionSource;

/* What is ready now: the poll's answer for the descriptor, and G_IO_IN for
 * a buffered frame (or a stream shut after a bad frame: the receive reports
 * it at once). A closed connection is G_IO_NVAL and leaves the poll set, so
 * a descriptor number reused by someone else is never watched. */
static GIOCondition
connection_source_ready (ConnectionSource *cs, gboolean polled)
{
  MpkConnection *conn = cs->conn;
  GIOCondition ready = 0;

  if (conn->fd < 0)
    {
      if (cs->fd_tag != NULL)
        g_source_remove_unix_fd (&cs->source, g_steal_pointer (&cs->fd_tag));
      return G_IO_NVAL;
    }
  if (polled)
    ready = g_source_query_unix_fd (&cs->source, cs->fd_tag);
  if ((cs->condition & G_IO_IN) && (conn->read_shut || frame_buffered (conn)))
    ready |= G_IO_IN;
  return ready & (cs->condition | G_IO_HUP | G_IO_ERR | G_IO_NVAL);
}

/* Before the poll: a buffered frame makes the source ready without it (and
 * the poll then does not sleep). Otherwise the descriptor decides, which
 * GLib checks itself since the source has no check function. */
static gboolean
connection_source_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return connection_source_ready ((ConnectionSource *) source, FALSE) != 0;
}

static gboolean
connection_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ConnectionSource *cs = (ConnectionSource *) source;
  MpkConnectionSourceFunc func = (MpkConnectionSourceFunc) (void (*) (void)) callback;

  if (func == NULL)
    {
      g_warning ("mpk_connection_create_source: the source was dispatched without a "
                 "callback; call g_source_set_callback()");
      return G_SOURCE_REMOVE;
    }
  /* Nothing touches cs->conn after the callback: it may free the connection
   * and return G_SOURCE_REMOVE. */
  return func (cs->conn, connection_source_ready (cs, cs->fd_tag != NULL), user_data);
}

static GSourceFuncs connection_source_funcs =
{
  connection_source_prepare,
  NULL,                       /* check: the descriptor's poll result decides */
  connection_source_dispatch,
  NULL,
  NULL,
  NULL,
};

/**
 * mpk_connection_create_source:
 * @conn: (transfer none): an open #MpkConnection
 * @condition: %G_IO_IN (only on a readable end), %G_IO_OUT (only on a
 *   writable end), or both
 * @error: return location for a #GError, or %NULL
 *
 * Creates a #GSource that watches @conn in a GLib main loop, like
 * g_socket_create_source(). Set its callback, an #MpkConnectionSourceFunc,
 * with g_source_set_callback() (cast with G_SOURCE_FUNC()), then
 * g_source_attach() it.
 *
 * For %G_IO_IN the source is ready when a whole message is already in
 * @conn's read buffer (so a receive takes it without reading), or when the
 * descriptor is readable: new bytes, which may be only part of a message,
 * or the peer's end of file (%G_IO_HUP). That is what a watch on
 * mpk_connection_fileno() misses. The callback should receive without
 * blocking (%MPK_NO_WAIT): %MPK_ERROR_TIMED_OUT then means part of a
 * message came and the source fires again when more does. Taking one
 * message per call is enough: while another is buffered, the source stays
 * ready. For %G_IO_OUT it is ready when the descriptor is writable.
 *
 * Like every level-triggered watch, a source whose callback leaves the
 * reason it fired in place (does not receive, or ignores end of file)
 * fires again at once: return %G_SOURCE_REMOVE after %MPK_ERROR_EOF or an
 * error that leaves the end unreadable (%MPK_ERROR_TRUNCATED, or
 * %MPK_ERROR_CLOSED after a bad frame header, which the source reports as
 * %G_IO_IN so that the receive can say what went wrong).
 *
 * Once @conn is closed the callback gets %G_IO_NVAL (and the descriptor,
 * whose number may be reused, is no longer watched). The source does not
 * own @conn: free the connection only after destroying the source, or in
 * its callback when the callback returns %G_SOURCE_REMOVE. Run the source
 * in the thread that receives on @conn, as the read buffer is not locked.
 *
 * Returns: (transfer full): the source, unref with g_source_unref(); %NULL
 *   with %MPK_ERROR_CLOSED if @conn is closed, or %MPK_ERROR_INVALID for a
 *   @condition the end cannot have (%G_IO_IN on a write-only end, anything
 *   but %G_IO_IN and %G_IO_OUT)
 */
GSource *
mpk_connection_create_source (MpkConnection  *conn,
                              GIOCondition    condition,
                              GError        **error)
{
  ConnectionSource *cs;
  GSource *source;
  const char *why = NULL;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (conn->fd < 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_CLOSED, "connection is closed");
      return NULL;
    }
  if (condition == 0 || (condition & ~(G_IO_IN | G_IO_OUT)) != 0)
    why = "the condition must be G_IO_IN, G_IO_OUT or both";
  else if ((condition & G_IO_IN) && !conn->readable)
    why = "G_IO_IN on a write-only connection";
  else if ((condition & G_IO_OUT) && !conn->writable)
    why = "G_IO_OUT on a read-only connection";
  if (why != NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "mpk_connection_create_source: %s",
                   why);
      return NULL;
    }

  source = g_source_new (&connection_source_funcs, sizeof (ConnectionSource));
  g_source_set_static_name (source, "MpkConnection");
  cs = (ConnectionSource *) source;
  cs->conn = conn;
  cs->condition = condition;
  cs->fd_tag = g_source_add_unix_fd (source, conn->fd, condition);
  return source;
}

/* --- for layers that record their own events (the Manager) ---------------- */

void
mpk__connection_set_request_reply (MpkConnection *conn)
{
  conn->untraced = TRUE;
  conn->poll_first = TRUE;
}

gboolean
mpk__connection_send_header (MpkConnection  *conn,
                             GVariant       *msg,
                             gint64          timeout_us,
                             MpkWireHeader  *header_out,
                             GError        **error)
{
  MpkWireOutgoing out;
  gboolean ok;

  if (!mpk__wire_outgoing_init (&out, msg, error))
    return FALSE;
  ok = check_usable (conn, FALSE, error)
       && send_frame (conn, &out.header, out.type, out.type_len, out.data, out.size,
                      out.value, timeout_us, error);
  *header_out = out.header;
  mpk__wire_outgoing_clear (&out);
  return ok;
}

GVariant *
mpk__connection_recv_header (MpkConnection  *conn,
                             gint64          timeout_us,
                             MpkWireHeader  *header_out,
                             GError        **error)
{
  g_autoptr(GBytes) payload = NULL;

  payload = recv_frame (conn, -1, timeout_us, header_out, error);
  if (payload == NULL)
    return NULL;
  if (header_out->kind != MPK__WIRE_KIND_VARIANT)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "expected a GVariant message, got raw bytes");
      return NULL;
    }
  return mpk__wire_decode_variant (header_out, payload, error);
}
