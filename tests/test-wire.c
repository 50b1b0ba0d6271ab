/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-wire.c: the frame format under hostile input. Random, truncated and
 * corrupted frames must give a GError (never a crash, a hang or a huge
 * allocation), and every message must pass through the tracer hook. */
#include "mpk-private.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_SEED 20261123

/* Encodes @value as a complete frame, as mpk_connection_send() would. */
static GByteArray *
encode_frame (GVariant *value)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (value);
  const char *type = g_variant_get_type_string (v);
  GByteArray *frame = g_byte_array_new ();
  guint8 head[MPK__WIRE_HEADER_SIZE];
  MpkWireHeader header;

  mpk__wire_stamp (&header, MPK__WIRE_KIND_VARIANT, strlen (type) + g_variant_get_size (v));
  header.type_len = strlen (type);
  mpk__wire_encode_header (&header, head);
  g_byte_array_append (frame, head, sizeof head);
  g_byte_array_append (frame, (const guint8 *) type, strlen (type));
  g_byte_array_append (frame, g_variant_get_data (v), g_variant_get_size (v));
  return frame;
}

/* Writes @len bytes into a fresh socketpair, closes the writer, and receives
 * until an error. Returns the number of whole messages received; @error_out
 * gets the final error, which must be set (the peer closed at the end). */
static guint
feed_connection (const guint8 *bytes, gsize len, guint64 max_size, GError **error_out)
{
  int sv[2];
  g_autoptr(MpkConnection) conn = NULL;
  guint n_messages = 0;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  /* Our frames are small: they fit in the socket buffer, so no writer process is needed. */
  g_assert_cmpint (write (sv[1], bytes, len), ==, (gssize) len);
  close (sv[1]);
  conn = mpk_connection_new_from_fd (sv[0], TRUE, FALSE, NULL);
  mpk_connection_set_max_message_size (conn, max_size);
  for (;;)
    {
      GError *error = NULL;
      g_autoptr(GVariant) msg = mpk_connection_recv (conn, G_USEC_PER_SEC, &error);

      if (msg != NULL)
        {
          n_messages++;
          continue;
        }
      g_assert_nonnull (error);
      g_assert_true (error->domain == MPK_ERROR);
      /* Every input ends with the writer closed: a timeout would be a hang. */
      g_assert_cmpint (error->code, !=, MPK_ERROR_TIMED_OUT);
      /* A bad payload is consumed and reading goes on; after a bad header
       * the connection refuses to read (CLOSED): report the cause. */
      if (error->code == MPK_ERROR_CLOSED && *error_out != NULL)
        {
          g_error_free (error);
          return n_messages;
        }
      g_clear_error (error_out);
      g_propagate_error (error_out, error);
      if ((*error_out)->code != MPK_ERROR_PROTOCOL)
        return n_messages;
    }
}

static void
test_wire_roundtrip_header (void)
{
  MpkWireHeader in, out;
  guint8 bytes[MPK__WIRE_HEADER_SIZE];
  g_autoptr(GError) error = NULL;

  mpk__wire_stamp (&in, MPK__WIRE_KIND_BYTES, 12345);
  mpk__wire_encode_header (&in, bytes);
  g_assert_true (mpk__wire_decode_header (bytes, G_MAXUINT64, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out.kind, ==, MPK__WIRE_KIND_BYTES);
  g_assert_cmpuint (out.length, ==, 12345);
  g_assert_cmpuint (out.pid, ==, (guint32) getpid ());
  g_assert_cmpuint (out.seq, ==, in.seq);
  g_assert_cmpuint (out.clock, ==, in.clock);

  /* The same header over a smaller limit is refused before any allocation. */
  g_assert_false (mpk__wire_decode_header (bytes, 100, &out, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG);
}

static void
test_wire_bad_headers (void)
{
  static const struct { guint offset; guint8 value; MpkError code; } cases[] = {
    { 0, 'X', MPK_ERROR_PROTOCOL },     /* magic */
    { 4, 9, MPK_ERROR_PROTOCOL },       /* kind */
    { 5, 0x80, MPK_ERROR_PROTOCOL },    /* unknown flag */
    { 20, 1, MPK_ERROR_PROTOCOL },      /* reserved */
    { 6, 0xff, MPK_ERROR_PROTOCOL },    /* type_len > length */
    { 15, 0x7f, MPK_ERROR_TOO_BIG },    /* length ~ 2^63 */
  };
  MpkWireHeader header;
  guint8 good[MPK__WIRE_HEADER_SIZE];

  mpk__wire_stamp (&header, MPK__WIRE_KIND_VARIANT, 4);
  header.type_len = 1;
  mpk__wire_encode_header (&header, good);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      guint8 bad[MPK__WIRE_HEADER_SIZE];

      memcpy (bad, good, sizeof bad);
      bad[cases[i].offset] = cases[i].value;
      g_assert_false (mpk__wire_decode_header (bad, MPK_DEFAULT_MAX_MESSAGE_SIZE, &header, &error));
      g_assert_error (error, MPK_ERROR, (gint) cases[i].code);
      g_test_message ("case %u: %s", i, error->message);
    }
}

/* A frame whose payload is not a valid GVariant of its type is refused, but
 * the stream stays in step: the next message is received. */
static void
test_wire_bad_payload_then_good (void)
{
  g_autoptr(GByteArray) frames = encode_frame (g_variant_new_string ("hello"));
  g_autoptr(GByteArray) good = encode_frame (g_variant_new_int32 (42));
  g_autoptr(GError) error = NULL;

  /* "hello\0" with its NUL replaced: not a valid "s" in normal form. */
  frames->data[frames->len - 1] = 'X';
  g_byte_array_append (frames, good->data, good->len);
  g_assert_cmpuint (feed_connection (frames->data, frames->len, MPK_DEFAULT_MAX_MESSAGE_SIZE, &error), ==, 1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
}

/* Arrays of fixed-size numbers take a fast normal-form check: a whole number
 * of elements is accepted, a ragged tail is refused like any bad payload. */
static void
test_wire_number_array (void)
{
  static const gint32 ints[] = { 1, 2, 3 };
  g_autoptr(GByteArray) frame = encode_frame (g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, ints, 3, 4));
  g_autoptr(GByteArray) ragged = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkConnection) conn = NULL;
  g_autoptr(GVariant) msg = NULL;
  MpkWireHeader header;
  guint64 len;
  int sv[2];

  g_assert_cmpuint (feed_connection (frame->data, frame->len, MPK_DEFAULT_MAX_MESSAGE_SIZE, &error), ==, 1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  g_clear_error (&error);

  /* The same frame with one byte more payload: 13 bytes is not whole int32s. */
  ragged = g_byte_array_new ();
  g_byte_array_append (ragged, frame->data, frame->len);
  g_byte_array_append (ragged, (const guint8 *) "\0", 1);
  g_assert_true (mpk__wire_decode_header (ragged->data, G_MAXUINT64, &header, NULL));
  len = GUINT64_TO_LE (header.length + 1);
  memcpy (ragged->data + 8, &len, 8);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_assert_cmpint (write (sv[1], ragged->data, ragged->len), ==, (gssize) ragged->len);
  close (sv[1]);
  conn = mpk_connection_new_from_fd (sv[0], TRUE, FALSE, NULL);
  msg = mpk_connection_recv (conn, G_USEC_PER_SEC, &error);
  g_assert_null (msg);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
}

/* A type string must use every byte the header gives it. */
static void
test_wire_type_with_nul (void)
{
  g_autoptr(GByteArray) frame = encode_frame (g_variant_new_uint32 (42));
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  MpkWireHeader header;
  static const guint8 body[] = { 'u', 0, 'J', 'U', 42, 0, 0, 0 };

  g_assert_true (mpk__wire_decode_header (frame->data, G_MAXUINT64, &header, NULL));
  header.type_len = 4;      /* "u\0JU" */
  header.length = sizeof body;
  payload = g_bytes_new_static (body, sizeof body);
  value = mpk__wire_decode_variant (&header, payload, &error);
  g_assert_null (value);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
}

/* Part of a frame is not "ready": poll and mpk_wait wait for the rest instead
 * of reporting a receive that would block (an event loop would spin). */
static void
test_wire_partial_not_ready (void)
{
  g_autoptr(GByteArray) frame = encode_frame (g_variant_new_string ("complete"));
  g_autoptr(MpkConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  gpointer objects[1];
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  conn = mpk_connection_new_from_fd (sv[0], TRUE, FALSE, NULL);
  objects[0] = conn;
  for (guint cut = 8; cut < frame->len; cut += frame->len - 9)
    {
      /* Write the first @cut bytes; a receive takes them into its buffer. */
      g_assert_cmpint (write (sv[1], frame->data, cut), ==, (gssize) cut);
      g_assert_null (mpk_connection_recv (conn, MPK_NO_WAIT, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
      g_clear_error (&error);
      g_assert_false (mpk_connection_poll (conn, 20000, &error));
      g_assert_no_error (error);
      ready = mpk_wait (objects, 1, 20000, &error);
      g_assert_cmpuint (ready->len, ==, 0);
      g_clear_pointer (&ready, g_ptr_array_unref);

      /* The rest arrives: now it is ready, and the message is whole. */
      g_assert_cmpint (write (sv[1], frame->data + cut, frame->len - cut), ==, (gssize) (frame->len - cut));
      g_assert_true (mpk_connection_poll (conn, MPK_WAIT_FOREVER, &error));
      msg = mpk_connection_recv (conn, MPK_NO_WAIT, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (msg, NULL), ==, "complete");
      g_clear_pointer (&msg, g_variant_unref);
    }
  close (sv[1]);
}

/* Every prefix of a valid frame stream ends in EOF (at a boundary) or
 * TRUNCATED (inside a frame), never anything else. */
static void
test_wire_truncated (void)
{
  g_autoptr(GByteArray) stream = encode_frame (g_variant_new_parsed ("(1, 2.25, @ms nothing, 'x')"));
  g_autoptr(GByteArray) second = encode_frame (g_variant_new_parsed ("[byte 1, 2, 3]"));
  gsize first_len = stream->len;

  g_byte_array_append (stream, second->data, second->len);
  for (gsize cut = 0; cut <= stream->len; cut++)
    {
      g_autoptr(GError) error = NULL;
      guint n = feed_connection (stream->data, cut, MPK_DEFAULT_MAX_MESSAGE_SIZE, &error);
      gboolean boundary = cut == 0 || cut == first_len || cut == stream->len;
      gint expected = boundary ? MPK_ERROR_EOF : MPK_ERROR_TRUNCATED;

      g_assert_cmpuint (n, ==, (cut >= first_len) + (cut == stream->len));
      g_assert_error (error, MPK_ERROR, expected);
    }
}

/* Mutates valid frames at random (seeded) and feeds them to a connection. */
static void
test_wire_fuzz (void)
{
  static const char *samples[] = {
    "(1, 2.25, @ms nothing)", "'hello'", "[1, 2, 3]", "{'a': <1>, 'b': <'x'>}",
    "(@ay [], @a{sv} {}, true)", "[(1, 'x'), (2, 'yy')]", "@mv <@as ['p', 'q']>",
  };
  GRand *rand = g_rand_new_with_seed (FUZZ_SEED);
  guint counts[MPK_ERROR_PEER_CLOSED + 1] = { 0 };
  guint cases = g_test_slow () ? 100000 : 10000;

  g_test_summary ("10 000 seeded mutations of valid frames (bit flips, random bytes, "
                  "cuts, random garbage) all end in a GError, never a crash or a hang");
  for (guint i = 0; i < cases; i++)
    {
      g_autoptr(GByteArray) frame = encode_frame (g_variant_new_parsed (samples[i % G_N_ELEMENTS (samples)]));
      g_autoptr(GError) error = NULL;
      guint n_mut = g_rand_int_range (rand, 1, 5);

      for (guint m = 0; m < n_mut; m++)
        {
          guint at = g_rand_int_range (rand, 0, frame->len);
          switch (g_rand_int_range (rand, 0, 4))
            {
            case 0: frame->data[at] ^= 1u << g_rand_int_range (rand, 0, 8); break;
            case 1: frame->data[at] = g_rand_int_range (rand, 0, 256); break;
            case 2: g_byte_array_set_size (frame, at); break;
            default:
              for (guint k = 0; k < frame->len; k++)
                frame->data[k] = g_rand_int_range (rand, 0, 256);
              break;
            }
          if (frame->len == 0)
            break;
        }
      feed_connection (frame->data, frame->len, 1 << 20, &error);
      g_assert_nonnull (error);
      counts[error->code]++;
    }
  for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
    if (counts[c] > 0)
      g_test_message ("error code %u: %u cases", c, counts[c]);
  /* The mutations must reach the interesting paths, or this test proves little. */
  g_assert_cmpuint (counts[MPK_ERROR_PROTOCOL], >, cases / 10);
  g_assert_cmpuint (counts[MPK_ERROR_TRUNCATED], >, cases / 20);
  g_rand_free (rand);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/wire/header/roundtrip", test_wire_roundtrip_header);
  g_test_add_func ("/wire/header/bad", test_wire_bad_headers);
  g_test_add_func ("/wire/payload/bad-then-good", test_wire_bad_payload_then_good);
  g_test_add_func ("/wire/payload/number-array", test_wire_number_array);
  g_test_add_func ("/wire/payload/type-with-nul", test_wire_type_with_nul);
  g_test_add_func ("/wire/partial/not-ready", test_wire_partial_not_ready);
  g_test_add_func ("/wire/truncated/every-prefix", test_wire_truncated);
  g_test_add_func ("/wire/fuzz/seeded", test_wire_fuzz);

  return g_test_run ();
}
