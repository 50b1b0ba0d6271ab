/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-manager.c: libFuzzer target for the Manager's server (lib/mpk-manager-
 * server.c, -types.c, -proto.c): what an authenticated client can make it do
 * with any sequence of requests, and what an unauthenticated one can make its
 * handshake do. Python's manager trusts its clients (a decref too many frees
 * a live object); ours must answer every request with a result or an error,
 * never crash, leak or touch freed memory.
 *
 * The server runs in this process without a socket
 * (mpk__manager_start_in_process_for_testing); its generation is fixed, so a
 * request can name the objects earlier requests made. The first input byte
 * picks how the rest is read:
 *   0 (mod 3)  frames as they arrive on a socket (40-byte header, payload),
 *              each decoded and dispatched, until one does not decode;
 *   1          GVariant text, one request "(ttxsv)" a line, e.g.
 *              (uint64 1, uint64 0, int64 0, 'create', <('list', <()>)>)
 *              (uint64 1, uint64 1, int64 0, 'append', <(<'x'>,)>)
 *              (uint64 0, uint64 0, int64 0, 'decref', <(uint64 1, uint64 1)>)
 *              references are object paths "/mpk/g0000000000000001/o<id>";
 *   2          the client's answer in the handshake, read as the server reads
 *              it (never past the one frame it expects).
 * After the requests the server stops, which frees every object: LeakSanitizer
 * then reports any count that kept one alive, ASan any that freed one early. */

#include "mpk-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* A request may make big things (repeat, a long list): the input is at most
 * 16 KiB, but bound the count of requests too, so one input stays quick. */
#define MAX_REQUESTS 256

static void
check_error (const GError *error)
{
  /* Every refusal is a GError a client can read; user types are not
   * registered here, so only the kit's own domain appears. */
  if (error->domain != MPK_ERROR)
    g_error ("a request failed with %s %d (%s), not an MPK_ERROR",
             g_quark_to_string (error->domain), error->code, error->message);
  if (error->message == NULL || error->message[0] == '\0')
    g_error ("an error %d without a message", error->code);
}

static void
run_request (GVariant *request)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = mpk__manager_dispatch_for_testing (request, &error);

  if (result == NULL && error == NULL)
    g_error ("no result and no error");
  if (result != NULL && error != NULL)
    g_error ("a result and an error (%s)", error->message);
  if (error != NULL)
    check_error (error);
  else
    {
      /* What the server would send back must be serialisable. */
      g_autoptr(GVariant) reply = g_variant_ref_sink (g_variant_new ("(bv)", TRUE, result));

      (void) g_variant_get_size (reply);
    }
}

static void
run_frames (const guint8 *data, size_t size)
{
  for (int n = 0; n < MAX_REQUESTS && size >= MPK__WIRE_HEADER_SIZE; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) payload = NULL;
      g_autoptr(GVariant) request = NULL;
      MpkWireHeader header;

      if (!mpk__wire_decode_header (data, size - MPK__WIRE_HEADER_SIZE, &header, &error)
          || header.kind != MPK__WIRE_KIND_VARIANT)
        return;   /* the server answers with an error and reads on, or closes */
      payload = g_bytes_new (data + MPK__WIRE_HEADER_SIZE, header.length);
      data += MPK__WIRE_HEADER_SIZE + header.length;
      size -= MPK__WIRE_HEADER_SIZE + header.length;
      request = mpk__wire_decode_variant (&header, payload, &error);
      if (request != NULL)
        run_request (request);
    }
}

static void
run_text (const guint8 *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto(GStrv) lines = g_strsplit (text, "\n", MAX_REQUESTS);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GVariant) request = NULL;

      if (!g_utf8_validate (lines[i], -1, NULL))
        continue;
      /* g_variant_parse() returns a full (not floating) reference already. */
      request = g_variant_parse (NULL, lines[i], NULL, NULL, NULL);
      if (request != NULL)
        run_request (request);
    }
}

static void
run_handshake (const guint8 *data, size_t size)
{
  g_autoptr(GBytes) key = g_bytes_new_static ("fuzz", 4);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  MpkManagerAuth auth;
  gssize need;

  mpk__manager_auth_begin (&auth, out);
  while ((need = mpk__manager_auth_need (&auth, &error)) > 0 && size > 0)
    {
      gsize n = MIN ((gsize) need, size);

      memcpy (auth.buf + auth.have, data, n);
      auth.have += n;
      data += n;
      size -= n;
    }
  if (need < 0)
    {
      if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_AUTH))
        g_error ("a bad handshake frame is not AUTH: %s", error->message);
      return;
    }
  if (need > 0)
    return;   /* still waiting: the server would time the client out */
  g_byte_array_set_size (out, 0);
  /* Nobody but the key holder can answer the fresh nonce: always refused. */
  if (mpk__manager_auth_finish (&auth, key, out, &error))
    g_error ("a fuzzed answer passed the handshake");
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_AUTH))
    g_error ("a refused handshake is not AUTH: %s", error->message);
  if (out->len > MPK__MANAGER_PREAUTH_FRAME)
    g_error ("a refusal of %u bytes", out->len);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size == 0)
    return 0;
  switch (data[0] % 3)
    {
    case 0:
      mpk__manager_start_in_process_for_testing ();
      run_frames (data + 1, size - 1);
      mpk__manager_stop_in_process_for_testing ();
      break;
    case 1:
      mpk__manager_start_in_process_for_testing ();
      run_text (data + 1, size - 1);
      mpk__manager_stop_in_process_for_testing ();
      break;
    default:
      run_handshake (data + 1, size - 1);
      break;
    }
  return 0;
}
