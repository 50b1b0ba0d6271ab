/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-recv.c: libFuzzer target for a Connection's receive path (Python's
 * Connection.recv/recv_bytes/recv_bytes_into/poll). The fuzzer's bytes are
 * written into one end of a socketpair, as a hostile or broken peer would
 * send them; the other end is an MpkConnection that receives them with
 * fuzzer-chosen calls, limits and zero or 1 ms timeouts.
 *
 * What must hold: every call returns (libFuzzer's -timeout catches a hang);
 * a failure sets exactly one MPK_ERROR of the codes the API documents;
 * nothing is returned over the connection's message limit or a call's
 * maxlength; and memory follows the bytes that arrived, not the length a header
 * claimed (`make fuzz` runs with -malloc_limit_mb, so a 1 GiB claim backed
 * by a few bytes is a failure).
 *
 * Input: byte 0 picks the limit and whether the writer closes its end
 * (EOF after the data) or stays open (receives time out); byte 1 is the
 * number of calls; then one byte per call; the rest is the byte stream.
 *
 * MPK_FUZZ_STRICT_POLL=1 adds one more check: poll() saying TRUE means the
 * next receive does not time out, as mpk_connection_poll()'s documentation
 * promises. It is off by default because today's poll() returns TRUE as
 * soon as any byte can be read, like Python's, so part of a frame from a
 * peer that is still writing makes it TRUE (issue 11, reported to the
 * Connection's owner); with it on, the fuzzer finds that in seconds. */

#include "mpk-private.h"
#include "fuzz-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* CLOSED: after a bad frame header the end is closed for reading (the
 * stream cannot be trusted past it); every later call says so. */
#define RECV_ERRORS (CODE (MPK_ERROR_EOF) | CODE (MPK_ERROR_TRUNCATED) | \
                     CODE (MPK_ERROR_TIMED_OUT) | CODE (MPK_ERROR_PROTOCOL) | \
                     CODE (MPK_ERROR_TOO_BIG) | CODE (MPK_ERROR_CLOSED))

static const guint64 limits[] = {
  0, 1, 40, 255, 4096, 65536, (guint64) 1 << 20, MPK_DEFAULT_MAX_MESSAGE_SIZE,
};

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(MpkConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *ops, *stream;
  gsize n_ops, stream_len, written = 0;
  guint64 limit;
  gboolean close_writer;
  gboolean poll_said_ready = FALSE;
  static int strict_poll = -1;
  int fds[2];

  if (strict_poll < 0)
    strict_poll = g_strcmp0 (g_getenv ("MPK_FUZZ_STRICT_POLL"), "1") == 0;
  if (size < 2)
    return 0;
  limit = limits[(data[0] >> 1) % G_N_ELEMENTS (limits)];
  close_writer = (data[0] & 1) != 0;
  n_ops = MIN ((gsize) data[1] % 16 + 1, size - 2);
  ops = data + 2;
  stream = ops + n_ops;
  stream_len = size - 2 - n_ops;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    g_error ("socketpair: %s", g_strerror (errno));
  /* All of it must fit in the socket buffer at once (make fuzz caps the
   * input at 16 KiB): we write, then read, in one thread. */
  fcntl (fds[1], F_SETFL, O_NONBLOCK);
  while (written < stream_len)
    {
      gssize n = write (fds[1], stream + written, stream_len - written);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      written += n;
    }
  if (close_writer)
    close (fds[1]);

  conn = mpk_connection_new_from_fd (fds[0], TRUE, FALSE, &error);
  if (conn == NULL)
    g_error ("mpk_connection_new_from_fd: %s", error->message);
  mpk_connection_set_max_message_size (conn, limit);

  for (gsize i = 0; i < n_ops; i++)
    {
      guint8 op = ops[i];
      /* Mostly no wait; a 1 ms wait now and then exercises the poll path. */
      gint64 timeout = (op & 0x80) != 0 ? 1000 : MPK_NO_WAIT;
      gboolean expect_ready = poll_said_ready;

      poll_said_ready = FALSE;
      g_clear_error (&error);
      switch (op & 0x3)
        {
        case 0:
          {
            g_autoptr(GVariant) v = mpk_connection_recv (conn, timeout, &error);

            check ("recv", v == NULL, error, RECV_ERRORS);
            if (v != NULL)
              {
                if (g_variant_get_size (v) > limit)
                  g_error ("recv returned %" G_GSIZE_FORMAT " bytes over a limit of %"
                           G_GUINT64_FORMAT, g_variant_get_size (v), limit);
                if (!g_variant_is_normal_form (v))
                  g_error ("recv returned a %s not in normal form", g_variant_get_type_string (v));
                if (g_variant_get_size (v) < 4096)
                  g_free (g_variant_print (v, TRUE));
              }
            break;
          }
        case 1:
          {
            gssize maxlength = (op & 0x40) != 0 ? -1 : (op >> 2) & 0xf;
            g_autoptr(GBytes) b = mpk_connection_recv_bytes (conn, maxlength, timeout, &error);

            check ("recv_bytes", b == NULL, error, RECV_ERRORS);
            if (b != NULL && (g_bytes_get_size (b) > limit
                              || (maxlength >= 0 && g_bytes_get_size (b) > (gsize) maxlength)))
              g_error ("recv_bytes returned %" G_GSIZE_FORMAT " bytes over a limit of %"
                       G_GUINT64_FORMAT " or maxlength %" G_GSSIZE_FORMAT,
                       g_bytes_get_size (b), limit, maxlength);
            break;
          }
        case 2:
          {
            guint8 buf[64];
            gsize offset = (op >> 2) & 0x1f;
            g_autoptr(GBytes) whole = NULL;
            gssize n = mpk_connection_recv_bytes_into (conn, buf, sizeof buf, offset, &whole,
                                                       timeout, &error);

            check ("recv_bytes_into", n < 0, error,
                   RECV_ERRORS | CODE (MPK_ERROR_BUFFER_TOO_SHORT));
            if (n > (gssize) (sizeof buf - offset))
              g_error ("recv_bytes_into stored %" G_GSSIZE_FORMAT " bytes in %" G_GSIZE_FORMAT,
                       n, sizeof buf - offset);
            if ((whole != NULL) != (error != NULL && error->code == MPK_ERROR_BUFFER_TOO_SHORT))
              g_error ("recv_bytes_into: whole message %s without BUFFER_TOO_SHORT",
                       whole != NULL ? "given" : "missing");
            break;
          }
        default:
          {
            gboolean ready = mpk_connection_poll (conn, timeout, &error);

            if (ready && error != NULL)
              g_error ("poll said ready with an error set: %s", error->message);
            check ("poll", error != NULL, error, CODE (MPK_ERROR_CLOSED));
            poll_said_ready = ready;
            break;
          }
        }
      /* poll() said a receive would not block: it may fail, but not time out. */
      if (strict_poll && expect_ready && (op & 0x3) != 3 && error != NULL && error->code == MPK_ERROR_TIMED_OUT)
        g_error ("poll said ready, then a receive timed out: %s", error->message);
    }
  g_clear_pointer (&conn, mpk_connection_free);
  if (!close_writer)
    close (fds[1]);
  return 0;
}
