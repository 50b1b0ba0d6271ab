/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-connection.c: Pipe() and its connections (multiprocessing.connection), ported
 * from CPython's _TestConnection, _TestPoll, TestIgnoreEINTR and TestInvalidHandle,
 * plus what CPython leaves untested: maxlength, big and truncated messages. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include "test-util.h"

#define BIG_SIZE ((gsize) 16 << 20)

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz";

/* Fills a new buffer of @len bytes with a pattern that depends on @len. */
static guint8 *
make_pattern (gsize len)
{
  guint8 *buf = g_malloc (MAX (len, 1));
  gsize i;

  for (i = 0; i < len; i++)
    buf[i] = (guint8) (i * 31 + len);
  return buf;
}

/* --- messages --------------------------------------------------------------- */

static void
test_send_variant (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sent = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GVariant) back = NULL;

  g_test_summary ("Python's [1, 2.25, None] crosses a duplex pipe both ways unchanged");
  mpk_test_pipe (TRUE, &a, &b);
  sent = g_variant_ref_sink (g_variant_new_parsed ("(1, 2.25, @mv nothing)"));

  mpk_test_send (a, sent);
  got = mpk_connection_recv (b, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_cmpvariant (got, sent);

  mpk_test_send (b, sent);
  back = mpk_connection_recv (a, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpvariant (back, sent);
}

static void
test_recv_bytes_frame_as_variant (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) got = NULL;
  gconstpointer data;
  gsize len;

  g_test_summary ("recv() on a frame written by send_bytes() returns an \"ay\" variant");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send_bytes (a, "abc", 3);
  got = mpk_connection_recv (b, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_cmpstr (g_variant_get_type_string (got), ==, "ay");
  data = g_variant_get_fixed_array (got, &len, 1);
  g_assert_cmpmem (data, len, "abc", 3);
}

/* Sends alphabet[offset:offset+size] and checks that exactly @expected arrives. */
static void
assert_slice (MpkConnection *a,
              MpkConnection *b,
              gsize          offset,
              gssize         size,
              const char    *expected)
{
  GError *error = NULL;
  gboolean ok;

  ok = mpk_connection_send_bytes (a, alphabet, sizeof alphabet - 1, offset, size,
                                  MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_test_assert_recv_bytes (b, expected, strlen (expected));
}

static void
test_send_bytes_slices (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;

  g_test_summary ("CPython test_sendbytes: offset/size slices; -1 means the rest");
  mpk_test_pipe (TRUE, &a, &b);
  assert_slice (a, b, 0, -1, alphabet);
  assert_slice (a, b, 5, -1, alphabet + 5);
  assert_slice (a, b, 7, 8, "hijklmno");
  assert_slice (a, b, 26, -1, "");
  assert_slice (a, b, 26, 0, "");
}

static void
test_send_bytes_invalid (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  const gsize n = sizeof alphabet - 1;
  static const struct { gsize offset; gssize size; } bad[] = {
    { 27, -1 }, { 22, 5 }, { 26, 1 }, { 0, 27 },
  };
  gsize i;

  g_test_summary ("CPython test_sendbytes: offset > length or offset + size > length "
                  "is MPK_ERROR_INVALID and sends nothing");
  mpk_test_pipe (TRUE, &a, &b);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("offset %" G_GSIZE_FORMAT ", size %" G_GSSIZE_FORMAT,
                      bad[i].offset, bad[i].size);
      g_assert_false (mpk_connection_send_bytes (a, alphabet, n, bad[i].offset, bad[i].size,
                                                 MPK_WAIT_FOREVER, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);
    }
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
}

static void
test_send_bytes_negative_size (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  const gsize n = sizeof alphabet - 1;
  static const gssize bad[] = { -2, -5, G_MINSSIZE };
  gsize i;

  g_test_summary ("Issue 11 section 4: only -1 means 'the rest'; any other negative size "
                  "is MPK_ERROR_INVALID (Python: ValueError 'size is negative') and sends "
                  "nothing");
  mpk_test_pipe (TRUE, &a, &b);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gboolean sent = mpk_connection_send_bytes (a, alphabet, n, 3, bad[i],
                                                 MPK_WAIT_FOREVER, &error);

      g_test_message ("size %" G_GSSIZE_FORMAT, bad[i]);
      g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_assert_false (sent);
      g_clear_error (&error);
    }
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);

  /* The same for recv_bytes' maxlength: -1 is "no limit", -5 is refused
   * before anything is read, so the message stays for the next call. */
  mpk_test_send_bytes (a, "kept", 4);
  got = mpk_connection_recv_bytes (b, -5, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (got);
  g_clear_error (&error);
  mpk_test_assert_recv_bytes (b, "kept", 4);
}

static void
test_recv_bytes_into_offset (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  const gint32 sent[4] = { 0, 1, 2, 3 };
  const gint32 at0[10] = { 0, 1, 2, 3, 0, 0, 0, 0, 0, 0 };
  const gint32 at3[10] = { 0, 0, 0, 0, 1, 2, 3, 0, 0, 0 };
  gint32 buf[10] = { 0 };
  gssize n;

  g_test_summary ("CPython test_connection: recv_bytes_into returns the byte count and "
                  "writes at the offset, leaving the rest of the buffer alone");
  mpk_test_pipe (TRUE, &a, &b);

  mpk_test_send_bytes (a, sent, sizeof sent);
  n = mpk_connection_recv_bytes_into (b, buf, sizeof buf, 0, NULL, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, sizeof sent);
  g_assert_cmpmem (buf, sizeof buf, at0, sizeof at0);

  memset (buf, 0, sizeof buf);
  mpk_test_send_bytes (a, sent, sizeof sent);
  n = mpk_connection_recv_bytes_into (b, buf, sizeof buf, 3 * sizeof buf[0], NULL,
                                      MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, sizeof sent);
  g_assert_cmpmem (buf, sizeof buf, at3, sizeof at3);
}

static void
test_recv_bytes_into_too_short (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) whole = NULL;
  g_autofree guint8 *longmsg = make_pattern (110);
  guint8 buf[40];
  gssize n;

  g_test_summary ("CPython test_connection: a 110-byte message into a 40-byte buffer is "
                  "BUFFER_TOO_SHORT and hands back the whole (consumed) message");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send_bytes (a, longmsg, 110);
  n = mpk_connection_recv_bytes_into (b, buf, sizeof buf, 0, &whole, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_BUFFER_TOO_SHORT);
  g_assert_cmpint (n, <, 0);
  g_assert_nonnull (whole);
  g_assert_cmpmem (g_bytes_get_data (whole, NULL), g_bytes_get_size (whole), longmsg, 110);
  g_clear_error (&error);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
}

static void
test_recv_bytes_maxlength (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;

  g_test_summary ("Gap G1: a message longer than maxlength is TOO_BIG and is discarded; "
                  "the next recv_bytes returns the following message");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send_bytes (a, "0123456789", 10);
  mpk_test_send_bytes (a, "next", 4);
  mpk_test_send_bytes (a, "fives", 5);

  got = mpk_connection_recv_bytes (b, 5, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG);
  g_assert_null (got);
  g_clear_error (&error);

  got = mpk_connection_recv_bytes (b, 5, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "next", 4);
  g_clear_pointer (&got, g_bytes_unref);

  /* Exactly maxlength bytes is allowed. */
  got = mpk_connection_recv_bytes (b, 5, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "fives", 5);
}

static void
test_max_message_size (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autofree guint8 *msg = make_pattern (2000);

  g_test_summary ("A frame over the receiver's max_message_size is TOO_BIG and shuts its "
                  "read side (later reads are CLOSED); its write side still works");
  mpk_test_pipe (TRUE, &a, &b);
  g_assert_cmpuint (mpk_connection_get_max_message_size (b), ==, MPK_DEFAULT_MAX_MESSAGE_SIZE);
  mpk_connection_set_max_message_size (b, 1000);
  g_assert_cmpuint (mpk_connection_get_max_message_size (b), ==, 1000);

  mpk_test_send_bytes (a, msg, 1000);
  mpk_test_assert_recv_bytes (b, msg, 1000);

  mpk_test_send_bytes (a, msg, 2000);
  got = mpk_connection_recv_bytes (b, -1, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG);
  g_assert_null (got);
  g_clear_error (&error);

  got = mpk_connection_recv_bytes (b, -1, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  v = mpk_connection_recv (b, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);

  mpk_test_send_bytes (b, "still", 5);
  mpk_test_assert_recv_bytes (a, "still", 5);
}

/* --- poll and timeouts ------------------------------------------------------ */

static void
test_poll_timeouts (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("poll() on an empty connection is FALSE for MPK_NO_WAIT, for a negative "
                  "timeout other than -1 and after a short wait; after a send it is TRUE "
                  "and stays TRUE: poll never consumes");
  mpk_test_pipe (TRUE, &a, &b);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_connection_poll (b, -5, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_connection_poll (b, 100 * 1000, &error));
  g_assert_no_error (error);

  mpk_test_send_bytes (a, "x", 1);
  g_assert_true (mpk_connection_poll (b, MPK_WAIT_FOREVER, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  mpk_test_assert_recv_bytes (b, "x", 1);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
}

static void
test_recv_timeout (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) v = NULL;
  guint8 buf[8];

  g_test_summary ("Receiving from an empty connection with a finite timeout is TIMED_OUT "
                  "(negative timeouts other than -1 count as 0); it stays usable");
  mpk_test_pipe (TRUE, &a, &b);
  bytes = mpk_connection_recv_bytes (b, -1, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_null (bytes);
  g_clear_error (&error);
  v = mpk_connection_recv (b, -5, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_null (v);
  g_clear_error (&error);
  v = mpk_connection_recv (b, 100 * 1000, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_null (v);
  g_clear_error (&error);
  g_assert_cmpint (mpk_connection_recv_bytes_into (b, buf, sizeof buf, 0, NULL,
                                                   MPK_NO_WAIT, &error), <, 0);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);

  mpk_test_send_bytes (a, "ok", 2);
  mpk_test_assert_recv_bytes (b, "ok", 2);
}

static void
test_poll_empty_message (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("CPython test_empty_string: a zero-length message makes poll() TRUE "
                  "until it is read");
  mpk_test_pipe (TRUE, &a, &b);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  mpk_test_send_bytes (a, "", 0);
  g_assert_true (mpk_connection_poll (b, MPK_WAIT_FOREVER, &error));
  g_assert_no_error (error);
  g_assert_true (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
  mpk_test_assert_recv_bytes (b, "", 0);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
}

static void
test_poll_dont_merge (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("CPython test_dont_merge: b'a', b'b', b'cd' arrive as three messages");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send_bytes (a, "a", 1);
  mpk_test_send_bytes (a, "b", 1);
  mpk_test_send_bytes (a, "cd", 2);
  mpk_test_assert_recv_bytes (b, "a", 1);
  mpk_test_assert_recv_bytes (b, "b", 1);
  mpk_test_assert_recv_bytes (b, "cd", 2);
  g_assert_false (mpk_connection_poll (b, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
}

static int
poll_then_exit_child (gpointer data)
{
  MpkConnection *reader = data;
  GError *error = NULL;
  gboolean ready;

  ready = mpk_connection_poll (reader, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (ready);
  return 0;
}

static void
test_poll_boundaries (void)
{
  g_autoptr(MpkConnection) r = NULL;
  g_autoptr(MpkConnection) w = NULL;
  MpkProcess *child;

  g_test_summary ("CPython test_boundaries: a poll() in another process does not take any "
                  "part of a frame away from the pipe");
  mpk_test_pipe (FALSE, &r, &w);
  child = mpk_test_start (poll_then_exit_child, r);
  mpk_test_send_bytes (w, "first", 5);
  mpk_test_send_bytes (w, "second", 6);
  mpk_test_join (child, 0);
  mpk_test_assert_recv_bytes (r, "first", 5);
  mpk_test_assert_recv_bytes (r, "second", 6);
}

/* --- closing, EOF, peer gone ---------------------------------------------- */

static void
test_close_idempotent (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) expected = g_variant_ref_sink (g_variant_new_int32 (1729));
  guint8 buf[4];

  g_test_summary ("CPython test_context: close() is idempotent; every use of a closed "
                  "connection is MPK_ERROR_CLOSED");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send (a, expected);
  v = mpk_connection_recv (b, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpvariant (v, expected);
  g_clear_pointer (&v, g_variant_unref);

  g_assert_false (mpk_connection_is_closed (a));
  mpk_connection_close (a);
  mpk_connection_close (a);
  mpk_connection_close (b);
  g_assert_true (mpk_connection_is_closed (a));
  g_assert_true (mpk_connection_is_closed (b));

  v = mpk_connection_recv (a, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  bytes = mpk_connection_recv_bytes (b, -1, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (mpk_connection_recv_bytes_into (a, buf, sizeof buf, 0, NULL,
                                                   MPK_NO_WAIT, &error), <, 0);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (mpk_connection_send_bytes (a, "x", 1, 0, -1, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (mpk_connection_poll (a, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (mpk_connection_fileno (a, &error), <, 0);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSED);
}

static void
test_close_by_scope (void)
{
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_test_summary ("A g_autoptr connection (Python's with-block) is closed when its scope "
                  "ends: the peer sees EOF");
  {
    g_autoptr(MpkConnection) a = NULL;

    mpk_test_pipe (TRUE, &a, &b);
    mpk_test_send_bytes (a, "bye", 3);
  }
  mpk_test_assert_recv_bytes (b, "bye", 3);
  bytes = mpk_connection_recv_bytes (b, -1, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  g_assert_null (bytes);
}

static void
test_eof_at_boundary (void)
{
  g_autoptr(MpkConnection) a = NULL;
  g_autoptr(MpkConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) v = NULL;

  g_test_summary ("CPython test_connection: after the peer closes at a message boundary, "
                  "readable/writable stay TRUE and recv() and recv_bytes() are EOF");
  mpk_test_pipe (TRUE, &a, &b);
  mpk_test_send_bytes (a, "last", 4);
  g_clear_pointer (&a, mpk_connection_free);

  g_assert_true (mpk_connection_is_readable (b));
  g_assert_true (mpk_connection_is_writable (b));
  mpk_test_assert_recv_bytes (b, "last", 4);
  g_assert_true (mpk_connection_poll (b, MPK_WAIT_FOREVER, &error));
  g_assert_no_error (error);
  v = mpk_connection_recv (b, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  g_assert_null (v);
  g_clear_error (&error);
  bytes = mpk_connection_recv_bytes (b, -1, MPK_WAIT_FOREVER, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  g_assert_null (bytes);
  g_assert_true (mpk_connection_is_readable (b));
  g_assert_true (mpk_connection_is_writable (b));
}

static void
test_send_peer_closed (gconstpointer data)
{
  gboolean duplex = GPOINTER_TO_INT (data);
  g_autoptr(MpkConnection) r = NULL;
  g_autoptr(MpkConnection) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = NULL;

  if (!mpk_test_in_subprocess ("Sending to a closed peer is PEER_CLOSED; SIGPIPE (at its default, "
                               "fatal action) does not kill the sender"))
    return;

  signal (SIGPIPE, SIG_DFL);
  mpk_test_pipe (duplex, &r, &w);
  g_clear_pointer (&r, mpk_connection_free);
  g_assert_false (mpk_connection_send_bytes (w, "x", 1, 0, -1, MPK_WAIT_FOREVER, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_clear_error (&error);
  msg = g_variant_ref_sink (g_variant_new_string ("x"));
  g_assert_false (mpk_connection_send (w, msg, MPK_WAIT_FOREVER, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
}

/* --- directions and handles ------------------------------------------------ */

static void
test_duplex_false (void)
{
  g_autoptr(MpkConnection) reader = NULL;
  g_autoptr(MpkConnection) writer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = g_variant_ref_sink (g_variant_new_int32 (1));
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_test_summary ("CPython test_duplex_false: conn1 is read-only, conn2 write-only; the "
                  "wrong direction is MPK_ERROR_INVALID");
  mpk_test_pipe (FALSE, &reader, &writer);
  g_assert_true (mpk_connection_is_readable (reader));
  g_assert_false (mpk_connection_is_writable (reader));
  g_assert_false (mpk_connection_is_readable (writer));
  g_assert_true (mpk_connection_is_writable (writer));

  g_assert_false (mpk_connection_send (reader, msg, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mpk_connection_send_bytes (reader, "x", 1, 0, -1, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  v = mpk_connection_recv (writer, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  bytes = mpk_connection_recv_bytes (writer, -1, MPK_NO_WAIT, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mpk_connection_poll (writer, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);

  mpk_test_send (writer, msg);
  v = mpk_connection_recv (reader, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_cmpvariant (v, msg);
}

static void
test_new_from_fd_invalid (void)
{
  g_autoptr(GError) error = NULL;
  MpkConnection *conn;

  g_test_summary ("CPython test_invalid_handles: a connection on fd -1 is MPK_ERROR_INVALID");
  conn = mpk_connection_new_from_fd (-1, TRUE, TRUE, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (conn);
}

static void
test_new_from_fd_bogus (void)
{
  g_autoptr(GError) error = NULL;
  MpkConnection *conn;
  int fd;

  g_test_summary ("CPython test_invalid_handles: poll() on a connection whose fd is not "
                  "open fails with an error instead of crashing or reporting data");
  fd = dup (2);
  g_assert_cmpint (fd, >=, 0);
  close (fd);  /* now a number that names no open file */

  conn = mpk_connection_new_from_fd (fd, TRUE, TRUE, &error);
  if (conn == NULL)
    {
      g_assert_nonnull (error);
      g_assert_cmpuint (error->domain, ==, MPK_ERROR);
      return;
    }
  g_assert_no_error (error);
  g_assert_false (mpk_connection_poll (conn, MPK_NO_WAIT, &error));
  g_assert_nonnull (error);
  g_assert_cmpuint (error->domain, ==, MPK_ERROR);
  mpk_connection_free (conn);
}

/* --- big and truncated messages (child processes) ------------------------- */

typedef struct
{
  MpkConnection *parent_in, *parent_out;  /* the parent reads, writes */
  MpkConnection *child_in, *child_out;    /* the child reads, writes */
} EchoPipes;

static int
echo_child (gpointer data)
{
  EchoPipes *pipes = data;
  GError *error = NULL;

  mpk_connection_close (pipes->parent_in);
  mpk_connection_close (pipes->parent_out);
  for (;;)
    {
      GBytes *msg = mpk_connection_recv_bytes (pipes->child_in, -1, MPK_WAIT_FOREVER, &error);
      gsize len;
      gconstpointer buf;

      if (g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
        return 0;
      MPK_CHILD_NO_ERROR (error);
      buf = g_bytes_get_data (msg, &len);
      mpk_connection_send_bytes (pipes->child_out, buf, len, 0, -1, MPK_WAIT_FOREVER, &error);
      MPK_CHILD_NO_ERROR (error);
      g_bytes_unref (msg);
    }
}

static void
test_big_messages (gconstpointer data)
{
  gboolean duplex = GPOINTER_TO_INT (data);
  static const gsize sizes[] = { 65535, 65536, 65537, BIG_SIZE };
  EchoPipes pipes;
  MpkProcess *child;
  gsize i;

  g_test_summary ("Gap G5: messages of 64 KiB - 1, 64 KiB, 64 KiB + 1 and 16 MiB echo "
                  "intact through a child process");
  if (duplex)
    {
      mpk_test_pipe (TRUE, &pipes.parent_in, &pipes.child_in);
      pipes.parent_out = pipes.parent_in;
      pipes.child_out = pipes.child_in;
    }
  else
    {
      mpk_test_pipe (FALSE, &pipes.child_in, &pipes.parent_out);
      mpk_test_pipe (FALSE, &pipes.parent_in, &pipes.child_out);
    }
  child = mpk_test_start (echo_child, &pipes);
  mpk_connection_close (pipes.child_in);
  mpk_connection_close (pipes.child_out);

  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree guint8 *msg = make_pattern (sizes[i]);

      g_test_message ("size %" G_GSIZE_FORMAT, sizes[i]);
      mpk_test_send_bytes (pipes.parent_out, msg, sizes[i]);
      mpk_test_assert_recv_bytes (pipes.parent_in, msg, sizes[i]);
    }
  mpk_connection_close (pipes.parent_out);
  mpk_test_join (child, 0);

  mpk_connection_free (pipes.parent_in);
  mpk_connection_free (pipes.child_in);
  if (!duplex)
    {
      mpk_connection_free (pipes.parent_out);
      mpk_connection_free (pipes.child_out);
    }
}

static int
send_big_child (gpointer data)
{
  MpkTestChannel *channel = data;
  g_autofree guint8 *msg = make_pattern (BIG_SIZE);
  GError *error = NULL;

  mpk_connection_close (channel->parent);
  /* Blocks once the socket buffer is full; the parent kills us there. */
  mpk_connection_send_bytes (channel->child, msg, BIG_SIZE, 0, -1, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_recv_truncated (void)
{
  MpkTestChannel channel;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  MpkProcess *child;
  gboolean ok;

  g_test_summary ("A peer killed in the middle of a 16 MiB message gives TRUNCATED, not "
                  "EOF, and not TIMED_OUT within a 10 s timeout");
  mpk_test_channel_init (&channel);
  child = mpk_test_start (send_big_child, &channel);
  mpk_connection_close (channel.child);

  ok = mpk_connection_poll (channel.parent, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  ok = mpk_process_kill (child, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  mpk_test_join (child, -SIGKILL);

  bytes = mpk_connection_recv_bytes (channel.parent, -1, 10 * G_USEC_PER_SEC, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TRUNCATED);
  g_assert_null (bytes);
  mpk_test_channel_clear (&channel);
}

/* --- EINTR ------------------------------------------------------------------ */

static volatile sig_atomic_t usr1_count;

static void
on_usr1 (int signum)
{
  usr1_count++;
}

/* Spins until the main thread of @pid sleeps in the kernel (state S). The parent
 * does one blocking call at a time, so "asleep" means "blocked in that call". */
static void
wait_until_sleeping (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/stat", (int) pid, (int) pid);

  for (;;)
    {
      g_autofree char *stat = NULL;
      const char *end;

      if (g_file_get_contents (path, &stat, NULL, NULL)
          && (end = strrchr (stat, ')')) != NULL
          && end[1] == ' ' && end[2] == 'S')
        return;
      sched_yield ();
    }
}

/* Interrupts the parent's blocking call with SIGUSR1 (aimed at its main thread). */
static void
interrupt_parent (void)
{
  GPid parent = getppid ();

  wait_until_sleeping (parent);
  syscall (SYS_tgkill, (int) parent, (int) parent, SIGUSR1);
}

static int
eintr_recv_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;

  mpk_connection_close (channel->parent);
  mpk_connection_send_bytes (channel->child, "ready", 5, 0, -1, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  interrupt_parent ();
  mpk_connection_send_bytes (channel->child, "after", 5, 0, -1, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static int
eintr_send_child (gpointer data)
{
  MpkTestChannel *channel = data;
  GError *error = NULL;
  GBytes *bytes;
  guint64 len;

  mpk_connection_close (channel->parent);
  mpk_connection_send_bytes (channel->child, "ready", 5, 0, -1, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  interrupt_parent ();
  bytes = mpk_connection_recv_bytes (channel->child, -1, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  len = g_bytes_get_size (bytes);
  mpk_connection_send (channel->child, g_variant_new_uint64 (len), MPK_WAIT_FOREVER, &error);
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

/* Installs on_usr1 without SA_RESTART, so blocking system calls fail with EINTR. */
static void
install_usr1 (struct sigaction *old)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0;
  g_assert_cmpint (sigaction (SIGUSR1, &sa, old), ==, 0);
  usr1_count = 0;
}

static void
test_eintr_recv (void)
{
  MpkTestChannel channel;
  struct sigaction old;
  MpkProcess *child;

  g_test_summary ("CPython TestIgnoreEINTR: a signal (handler without SA_RESTART) that "
                  "arrives while recv is blocked does not break the recv");
  install_usr1 (&old);
  mpk_test_channel_init (&channel);
  child = mpk_test_start (eintr_recv_child, &channel);
  mpk_connection_close (channel.child);

  mpk_test_assert_recv_bytes (channel.parent, "ready", 5);
  mpk_test_assert_recv_bytes (channel.parent, "after", 5);
  g_assert_cmpint (usr1_count, ==, 1);
  mpk_test_join (child, 0);
  mpk_test_channel_clear (&channel);
  sigaction (SIGUSR1, &old, NULL);
}

static void
test_eintr_send (void)
{
  MpkTestChannel channel;
  struct sigaction old;
  MpkProcess *child;
  g_autofree guint8 *msg = make_pattern (BIG_SIZE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) len = NULL;

  g_test_summary ("CPython TestIgnoreEINTR: a signal that arrives while send_bytes is "
                  "blocked on a full socket buffer does not break the send");
  install_usr1 (&old);
  mpk_test_channel_init (&channel);
  child = mpk_test_start (eintr_send_child, &channel);
  mpk_connection_close (channel.child);

  mpk_test_assert_recv_bytes (channel.parent, "ready", 5);
  mpk_test_send_bytes (channel.parent, msg, BIG_SIZE);
  g_assert_cmpint (usr1_count, ==, 1);
  len = mpk_connection_recv (channel.parent, MPK_WAIT_FOREVER, &error);
  g_assert_no_error (error);
  g_assert_nonnull (len);
  g_assert_cmpstr (g_variant_get_type_string (len), ==, "t");
  g_assert_cmpuint (g_variant_get_uint64 (len), ==, BIG_SIZE);
  mpk_test_join (child, 0);
  mpk_test_channel_clear (&channel);
  sigaction (SIGUSR1, &old, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/connection/send/variant", test_send_variant);
  g_test_add_func ("/connection/recv/bytes-frame-is-ay", test_recv_bytes_frame_as_variant);
  g_test_add_func ("/connection/send-bytes/slices", test_send_bytes_slices);
  g_test_add_func ("/connection/send-bytes/invalid", test_send_bytes_invalid);
  g_test_add_func ("/connection/send-bytes/negative-size", test_send_bytes_negative_size);
  g_test_add_func ("/connection/recv-bytes-into/offset", test_recv_bytes_into_offset);
  g_test_add_func ("/connection/recv-bytes-into/too-short", test_recv_bytes_into_too_short);
  g_test_add_func ("/connection/recv-bytes/maxlength", test_recv_bytes_maxlength);
  g_test_add_func ("/connection/max-message-size/too-big", test_max_message_size);
  g_test_add_func ("/connection/poll/timeouts", test_poll_timeouts);
  g_test_add_func ("/connection/recv/timeout", test_recv_timeout);
  g_test_add_func ("/connection/poll/empty-message", test_poll_empty_message);
  g_test_add_func ("/connection/poll/dont-merge", test_poll_dont_merge);
  g_test_add_func ("/connection/poll/boundaries", test_poll_boundaries);
  g_test_add_func ("/connection/close/idempotent", test_close_idempotent);
  g_test_add_func ("/connection/close/scope", test_close_by_scope);
  g_test_add_func ("/connection/recv/eof", test_eof_at_boundary);
  g_test_add_data_func ("/connection/send/peer-closed/duplex", GINT_TO_POINTER (TRUE),
                        test_send_peer_closed);
  g_test_add_data_func ("/connection/send/peer-closed/simplex", GINT_TO_POINTER (FALSE),
                        test_send_peer_closed);
  g_test_add_func ("/connection/duplex-false/directions", test_duplex_false);
  g_test_add_func ("/connection/new-from-fd/invalid", test_new_from_fd_invalid);
  g_test_add_func ("/connection/new-from-fd/bogus-fd", test_new_from_fd_bogus);
  g_test_add_data_func ("/connection/big/duplex", GINT_TO_POINTER (TRUE), test_big_messages);
  g_test_add_data_func ("/connection/big/simplex", GINT_TO_POINTER (FALSE), test_big_messages);
  g_test_add_func ("/connection/recv/truncated", test_recv_truncated);
  g_test_add_func ("/connection/eintr/recv", test_eintr_recv);
  g_test_add_func ("/connection/eintr/send", test_eintr_send);

  return g_test_run ();
}
