/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-messenger.c: libFuzzer target for what a messenger receives
 * (issue 14): a hostile or broken peer's messages.
 *
 * Byte 0 picks the mode:
 * - even: the rest is the serialized data of a "(ymvdv)" value (a
 *   messenger message as the wire decoder hands it over, normal form or
 *   not); mpk__messenger_decode() must accept it or say PROTOCOL, and what
 *   it accepts must hold what the header promises (a kind in range, a
 *   priority that is a number, an error's domain of 1 to 128 bytes).
 * - odd: byte 1 is the number of calls, then one byte per call, then the
 *   byte stream, written into one end of a socketpair (closed after it, so
 *   EOF follows) whose other end is a priority messenger; the calls are its
 *   receive calls, all without waiting. Each must return, set an error
 *   exactly when it fails (an MPK_ERROR code of those documented, or the
 *   peer's own domain for a remote error), never hand over more messages
 *   than arrived, and never make remaining() exceed the requests sent (no
 *   request is ever sent here, so every reply is refused). */

#include "mpk-private.h"
#include "mpk-messenger-private.h"

#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

#define CODE(c) (1u << (c))
#define RECV_ERRORS (CODE (MPK_ERROR_TIMED_OUT) | CODE (MPK_ERROR_PROTOCOL) | \
                     CODE (MPK_ERROR_TOO_BIG) | CODE (MPK_ERROR_PEER_CLOSED) | \
                     CODE (MPK_ERROR_CLOSE_REQUESTED))

static void
check (const char *op, gboolean failed, const GError *error)
{
  if (failed != (error != NULL))
    g_error ("%s %s", op, failed ? "failed without an error" : "succeeded with an error set");
  if (error != NULL && error->domain == MPK_ERROR
      && (error->code < 0 || error->code >= 32 || (RECV_ERRORS & CODE (error->code)) == 0))
    g_error ("%s: unexpected error %d: %s", op, error->code, error->message);
}

static void
fuzz_decode (const guint8 *data, size_t size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GVariant) v = g_variant_ref_sink (
    g_variant_new_from_bytes (G_VARIANT_TYPE (MPK__MESSENGER_WIRE_TYPE), bytes, FALSE));
  g_autoptr(GError) error = NULL;
  MpkMessengerDecoded d;
  gboolean ok = mpk__messenger_decode (v, &d, &error);

  if (ok == (error != NULL))
    g_error ("decode: result and error disagree");
  if (!ok)
    {
      if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_PROTOCOL))
        g_error ("decode: %s", error->message);
      return;
    }
  if (d.kind > MPK__MESSENGER_CLOSE || isnan (d.priority))
    g_error ("decode accepted kind %d, priority %g", d.kind, d.priority);
  if (d.kind == MPK__MESSENGER_ERROR
      && (d.domain == NULL || *d.domain == '\0' || strlen (d.domain) > MPK__MESSENGER_MAX_DOMAIN
          || d.message == NULL))
    g_error ("decode accepted a bad error");
  if (d.kind < MPK__MESSENGER_ERROR && d.payload == NULL)
    g_error ("decode accepted data without a payload");
  mpk__messenger_decoded_clear (&d);
}

static void
fuzz_stream (const guint8 *data, size_t size)
{
  g_autoptr(MpkMessenger) m = NULL;
  g_autoptr(GError) error = NULL;
  MpkConnection *raw = NULL, *conn = NULL;
  guint n_calls, taken = 0;
  const guint8 *calls;
  gsize off = 0;
  int fd;

  if (size < 2)
    return;
  n_calls = MIN (data[1], 64);
  if (size < 2 + n_calls)
    return;
  calls = data + 2;
  data += 2 + n_calls;
  size -= 2 + n_calls;
  /* The stream must fit in the socket's buffer: nobody reads meanwhile. */
  size = MIN (size, 64 * 1024);
  if (!mpk_pipe_new (TRUE, &raw, &conn, NULL))
    g_error ("socketpair");
  fd = mpk_connection_fileno (raw, NULL);
  while (off < size)
    {
      gssize n = send (fd, data + off, size - off, MSG_NOSIGNAL);

      if (n <= 0)
        break;
      off += n;
    }
  mpk_connection_free (raw);          /* EOF after the bytes */
  m = mpk_messenger_new (conn, MPK_MESSENGER_PRIORITY, &error);
  if (m == NULL)
    g_error ("mpk_messenger_new: %s", error->message);

  for (guint i = 0; i < n_calls; i++)
    {
      GVariant *channel = (calls[i] & 0x10) ? g_variant_new_string ("A") : NULL;
      g_autoptr(GPtrArray) got = NULL;
      g_autoptr(GVariant) one = NULL;
      gssize n;

      switch (calls[i] & 0x7)
        {
        case 0:
          n = mpk_messenger_available (m, channel, &error);
          check ("available", n < 0, error);
          break;
        case 1:
          if (channel != NULL)
            g_variant_unref (g_variant_ref_sink (channel));
          n = mpk_messenger_available_total (m, &error);
          check ("available_total", n < 0, error);
          break;
        case 2:
          got = mpk_messenger_receive_available (m, channel, &error);
          check ("receive_available", got == NULL, error);
          taken += got != NULL ? got->len : 0;
          break;
        case 3:
          one = mpk_messenger_receive_blocking (m, channel, MPK_NO_WAIT, &error);
          check ("receive_blocking", one == NULL, error);
          taken += one != NULL;
          break;
        case 4:
          got = mpk_messenger_receive_remaining (m, channel, MPK_NO_WAIT, &error);
          check ("receive_remaining", got == NULL, error);
          if (got != NULL && got->len != 0)
            g_error ("receive_remaining handed over messages with no request sent");
          break;
        case 5:
          check ("await_available", !mpk_messenger_await_available (m, MPK_NO_WAIT, &error),
                 error);
          if (channel != NULL)
            g_variant_unref (g_variant_ref_sink (channel));
          break;
        default:
          if (mpk_messenger_remaining (m, channel) != 0)
            g_error ("remaining() is not 0 with no request sent");
          break;
        }
      g_clear_error (&error);
    }
  /* At most one message per 28 bytes (the smallest frame) can have come. */
  if (taken > size / 28 + 1)
    g_error ("%u messages out of %zu bytes", taken, (size_t) size);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size < 1)
    return 0;
  if ((data[0] & 1) == 0)
    fuzz_decode (data + 1, size - 1);
  else
    fuzz_stream (data, size);
  return 0;
}
