/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-wire.c: libFuzzer target for the frame decoder (lib/core/mpk-wire.c), the
 * code that first touches another process's bytes. Python's Connection reads
 * a length prefix and unpickles; we decode a 40-byte header and a GVariant,
 * and both must refuse garbage with a GError, never crash or over-allocate.
 *
 * Input: a 40-byte header, then the payload. The header's decode is checked
 * against a limit the input picks (its first byte), and a header that passes
 * must describe a payload no bigger than that limit; a VARIANT frame's
 * payload then goes through mpk__wire_decode_variant(), whose result (if
 * any) must be a definite GVariant in normal form that survives being
 * re-encoded and decoded again unchanged. Built and run by `make fuzz`. */

#include "mpk-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Limits the first input byte picks from: the edges of what the header
 * fields can say, small enough that no limit lets a big allocation through. */
static const guint64 limits[] = { 0, 1, 39, 40, 41, 255, 256, 4096, 65536, 1 << 20 };

static void
check_error (GError *error)
{
  if (error->domain != MPK_ERROR
      || (error->code != MPK_ERROR_PROTOCOL && error->code != MPK_ERROR_TOO_BIG))
    g_error ("decoder failed with %s %d (%s), not MPK_ERROR PROTOCOL or TOO_BIG",
             g_quark_to_string (error->domain), error->code, error->message);
}

/* Sends @value through the encoder and the decoder again: what comes back
 * must be equal (the receiver's normal form is the sender's). */
static void
round_trip (GVariant *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GVariant) again = NULL;
  guint8 frame[MPK__WIRE_HEADER_SIZE];
  MpkWireOutgoing out;
  MpkWireHeader header;
  GByteArray *buf;

  if (!mpk__wire_outgoing_init (&out, value, &error))   /* takes a reference of its own */
    g_error ("a decoded %s cannot be sent again: %s", g_variant_get_type_string (value),
             error->message);
  mpk__wire_encode_header (&out.header, frame);
  if (!mpk__wire_decode_header (frame, G_MAXUINT64, &header, &error))
    g_error ("our own header does not decode: %s", error->message);
  buf = g_byte_array_new ();
  g_byte_array_append (buf, (const guint8 *) out.type, out.type_len);
  g_byte_array_append (buf, out.data, out.size);
  payload = g_byte_array_free_to_bytes (buf);
  mpk__wire_outgoing_clear (&out);
  if (header.length != g_bytes_get_size (payload))
    g_error ("header length %" G_GUINT64_FORMAT " for a payload of %" G_GSIZE_FORMAT " bytes",
             header.length, g_bytes_get_size (payload));
  again = mpk__wire_decode_variant (&header, payload, &error);
  if (again == NULL)
    g_error ("a decoded %s does not decode again: %s", g_variant_get_type_string (value),
             error->message);
  if (!g_variant_equal (value, again))
    g_error ("a %s changed on its way round", g_variant_get_type_string (value));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GVariant) value = NULL;
  guint8 frame[MPK__WIRE_HEADER_SIZE];
  MpkWireHeader header;
  guint64 limit;

  if (size < 1 + MPK__WIRE_HEADER_SIZE)
    return 0;
  limit = limits[data[0] % G_N_ELEMENTS (limits)];
  memcpy (frame, data + 1, MPK__WIRE_HEADER_SIZE);
  data += 1 + MPK__WIRE_HEADER_SIZE;
  size -= 1 + MPK__WIRE_HEADER_SIZE;

  if (!mpk__wire_decode_header (frame, limit, &header, &error))
    {
      g_assert (error != NULL);
      check_error (error);
      return 0;
    }
  g_assert (error == NULL);
  if (header.length > limit)
    g_error ("header of %" G_GUINT64_FORMAT " bytes passed a limit of %" G_GUINT64_FORMAT,
             header.length, limit);
  if (header.kind != MPK__WIRE_KIND_VARIANT)
    return 0;
  /* The connection reads exactly header.length bytes before decoding; a
   * shorter input is a truncated frame, which the connection reports itself. */
  if (size < header.length)
    return 0;
  payload = g_bytes_new (data, header.length);
  value = mpk__wire_decode_variant (&header, payload, &error);
  if (value == NULL)
    {
      g_assert (error != NULL);
      check_error (error);
      return 0;
    }
  g_assert (error == NULL);
  if (!g_variant_type_is_definite (g_variant_get_type (value)) || !g_variant_is_normal_form (value))
    g_error ("decoder returned a %s that is not definite or not normal",
             g_variant_get_type_string (value));
  /* Walk it as a receiver would. */
  if (g_variant_get_size (value) < 4096)
    g_free (g_variant_print (value, TRUE));
  round_trip (value);
  return 0;
}
