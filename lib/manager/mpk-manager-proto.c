/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-proto.c: what a Manager's client and server agree on:
 * addresses, the authentication handshake, object references and errors
 * on the wire. The request/reply shapes are described in mpk-manager-proto.h. */
#include "mpk-manager-proto.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#define AUTH_GREETING "mpk-manager-1"

void
mpk__random_bytes (guint8 *buf, gsize len)
{
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = getrandom (buf + got, len - got, 0);

      if (n < 0 && errno != EINTR)
        g_error ("getrandom: %s", g_strerror (errno));   /* no safe fallback for a key */
      if (n > 0)
        got += (gsize) n;
    }
}

/* --- addresses ------------------------------------------------------------------ */

static GSocketConnectable *
parse_tcp (const char *rest, gboolean for_listening, const char *address, GError **error)
{
  const char *colon = strrchr (rest, ':');
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  guint64 port;
  char *end;

  host = colon != NULL ? g_strndup (rest, (gsize) (colon - rest)) : g_strdup ("127.0.0.1");
  port = g_ascii_strtoull (colon != NULL ? colon + 1 : rest, &end, 10);
  if (*end != '\0' || end == (colon != NULL ? colon + 1 : rest) || port > 65535)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "bad manager address \"%s\": the port must be a number from 0 to 65535",
                   address);
      return NULL;
    }
  if (g_str_has_prefix (host, "[") && g_str_has_suffix (host, "]"))   /* [::1] */
    {
      char *bare = g_strndup (host + 1, strlen (host) - 2);

      g_free (host);
      host = bare;
    }
  if (strcmp (host, "localhost") == 0 || host[0] == '\0')
    {
      g_free (host);
      host = g_strdup ("127.0.0.1");
    }
  if (!for_listening)
    return g_network_address_new (host, (guint16) port);   /* may resolve a name */
  inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "bad manager address \"%s\": a server listens on a numeric address "
                   "such as 127.0.0.1 or 0.0.0.0", address);
      return NULL;
    }
  return G_SOCKET_CONNECTABLE (g_inet_socket_address_new (inet, (guint16) port));
}

GSocketConnectable *
mpk__manager_parse_address (const char *address,
                            gboolean    for_listening,
                            GError    **error)
{
  if (g_str_has_prefix (address, "unix:") && address[5] != '\0')
    return G_SOCKET_CONNECTABLE (g_unix_socket_address_new (address + 5));
  if (g_str_has_prefix (address, "tcp:"))
    return parse_tcp (address + 4, for_listening, address, error);
  g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
               "bad manager address \"%s\": expected unix:/path, tcp:HOST:PORT or tcp:PORT",
               address);
  return NULL;
}

char *
mpk__manager_format_address (GSocketAddress *address)
{
  if (G_IS_UNIX_SOCKET_ADDRESS (address))
    return g_strconcat ("unix:", g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)),
                        NULL);
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
      gboolean v6 = strchr (host, ':') != NULL;

      return g_strdup_printf (v6 ? "tcp:[%s]:%u" : "tcp:%s:%u", host,
                              g_inet_socket_address_get_port (inet));
    }
  return g_strdup ("unknown");
}

/* --- the handshake ------------------------------------------------------------------
 *
 *   server → client  (say)   greeting, server nonce
 *   client → server  (ayay)  HMAC(key, "client" nonce_s), client nonce
 *   server → client  (bsay)  accepted?, reason, HMAC(key, "server" nonce_c nonce_s)
 *
 * Each side proves it knows the key without sending it, and a fresh nonce
 * from the other side means a recorded exchange cannot be replayed. */

static GVariant *
nonce_variant (guint8 nonce[MPK__MANAGER_KEY_SIZE])
{
  mpk__random_bytes (nonce, MPK__MANAGER_KEY_SIZE);
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, nonce, MPK__MANAGER_KEY_SIZE, 1);
}

static void
proof (GBytes *key, const char *who, const guint8 *a, const guint8 *b,
       guint8 out[MPK__MANAGER_KEY_SIZE])
{
  gsize key_len;
  gconstpointer key_data = g_bytes_get_data (key, &key_len);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key_data, key_len);
  gsize len = MPK__MANAGER_KEY_SIZE;

  g_hmac_update (hmac, (const guchar *) who, (gssize) strlen (who));
  g_hmac_update (hmac, a, MPK__MANAGER_KEY_SIZE);
  if (b != NULL)
    g_hmac_update (hmac, b, MPK__MANAGER_KEY_SIZE);
  g_hmac_get_digest (hmac, out, &len);
}

/* Compares in time that does not depend on where the bytes differ, so a
 * peer cannot find the right proof byte by byte by timing refusals. */
static gboolean
same_bytes (const guint8 *a, const guint8 *b, gsize len)
{
  guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* Whether @error says the peer went away (closed, reset) rather than
 * sent something wrong: a manager dying mid-handshake is not a key problem. */
static gboolean
peer_vanished (const GError *error)
{
  return error->domain == MPK_ERROR
         && (error->code == MPK_ERROR_EOF || error->code == MPK_ERROR_TRUNCATED
             || error->code == MPK_ERROR_PEER_CLOSED || error->code == MPK_ERROR_CLOSED
             || error->code == MPK_ERROR_FAILED);
}

/* Receives one handshake frame of @type, or sets AUTH (whatever went wrong:
 * from an unauthenticated peer every fault is an authentication failure),
 * except that a client whose server vanished gets DISCONNECTED. */
static GVariant *
recv_step (MpkConnection *conn, const char *type, const char *step, gboolean client,
           GError **error)
{
  g_autoptr(GError) local = NULL;
  MpkWireHeader header;
  GVariant *msg = mpk__connection_recv_header (conn, MPK__MANAGER_AUTH_TIMEOUT_US, &header, &local);

  if (msg != NULL && !g_variant_is_of_type (msg, G_VARIANT_TYPE (type)))
    {
      g_set_error (&local, MPK_ERROR, MPK_ERROR_PROTOCOL, "got a %s message",
                   g_variant_get_type_string (msg));
      g_clear_pointer (&msg, g_variant_unref);
    }
  if (msg == NULL && client && g_error_matches (local, MPK_ERROR, MPK_ERROR_TIMED_OUT))
    g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                 "the manager did not complete authentication in time (at the %s)", step);
  else if (msg == NULL && client && peer_vanished (local))
    g_set_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED,
                 "the manager went away during authentication (at the %s: %s)", step,
                 local->message);
  else if (msg == NULL)
    g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH, "authentication failed at the %s: %s",
                 step, local->message);
  return msg;
}

/* The bytes of an "ay" child that must hold exactly one nonce or digest. */
static const guint8 *
fixed_bytes (GVariant *tuple, gsize index, GVariant **child)
{
  gsize len;
  const guint8 *data;

  *child = g_variant_get_child_value (tuple, index);
  data = g_variant_get_fixed_array (*child, &len, 1);
  return len == MPK__MANAGER_KEY_SIZE ? data : NULL;
}

static gboolean
send_step (MpkConnection *conn, GVariant *msg, gboolean client, GError **error)
{
  MpkWireHeader header;
  g_autoptr(GError) local = NULL;

  if (mpk__connection_send_header (conn, msg, MPK__MANAGER_AUTH_TIMEOUT_US, &header, &local))
    return TRUE;
  g_set_error (error, MPK_ERROR, client && peer_vanished (local) ? MPK_ERROR_DISCONNECTED
                                                                 : MPK_ERROR_AUTH,
               "authentication failed: %s", local->message);
  return FALSE;
}

/* The server's side works on bytes, not on an MpkConnection: a connection
 * reads whatever the socket holds (up to 64 KiB at a time), and before the
 * key is proven the server reads only the frame it expects, at most
 * MPK__MANAGER_PREAUTH_FRAME bytes. It is a state machine, so the server
 * can run every pending handshake from one thread without blocking. */

/* Appends @msg (sunk) to @out as one frame. */
static void
append_frame (GByteArray *out, GVariant *msg)
{
  MpkWireOutgoing frame;
  guint8 head[MPK__WIRE_HEADER_SIZE];

  if (!mpk__wire_outgoing_init (&frame, msg, NULL))
    g_assert_not_reached ();   /* our own handshake types are short */
  mpk__wire_encode_header (&frame.header, head);
  g_byte_array_append (out, head, sizeof head);
  g_byte_array_append (out, (const guint8 *) frame.type, frame.type_len);
  g_byte_array_append (out, frame.data, frame.size);
  mpk__wire_outgoing_clear (&frame);
}

void
mpk__manager_auth_begin (MpkManagerAuth *auth, GByteArray *out)
{
  auth->have = 0;
  append_frame (out, g_variant_new ("(s@ay)", AUTH_GREETING, nonce_variant (auth->nonce)));
}

gssize
mpk__manager_auth_need (MpkManagerAuth *auth, GError **error)
{
  g_autoptr(GError) local = NULL;
  MpkWireHeader header;

  if (auth->have < MPK__WIRE_HEADER_SIZE)
    return MPK__WIRE_HEADER_SIZE - auth->have;
  if (!mpk__wire_decode_header (auth->buf, MPK__MANAGER_PREAUTH_MAX, &header, &local))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH,
                   "authentication failed at the client's answer: %s", local->message);
      return -1;
    }
  return (gssize) (MPK__WIRE_HEADER_SIZE + header.length - auth->have);
}

gboolean
mpk__manager_auth_finish (MpkManagerAuth *auth, GBytes *key, GByteArray *out, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GVariant) answer = NULL, theirs = NULL, their_nonce = NULL;
  guint8 want[MPK__MANAGER_KEY_SIZE], mine[MPK__MANAGER_KEY_SIZE];
  const guint8 *their_proof, *nonce_c;
  MpkWireHeader header;

  if (mpk__manager_auth_need (auth, error) != 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, MPK_ERROR, MPK_ERROR_AUTH,
                             "authentication failed: the client's answer is incomplete");
      return FALSE;
    }
  mpk__wire_decode_header (auth->buf, MPK__MANAGER_PREAUTH_MAX, &header, NULL);
  if (header.kind == MPK__WIRE_KIND_VARIANT)
    {
      mpk__wire_clock_receive (header.clock);
      payload = g_bytes_new (auth->buf + MPK__WIRE_HEADER_SIZE, header.length);
      answer = mpk__wire_decode_variant (&header, payload, &local);
    }
  else
    g_set_error_literal (&local, MPK_ERROR, MPK_ERROR_PROTOCOL, "got raw bytes");
  if (answer != NULL && !g_variant_is_of_type (answer, G_VARIANT_TYPE ("(ayay)")))
    {
      g_set_error (&local, MPK_ERROR, MPK_ERROR_PROTOCOL, "got a %s message",
                   g_variant_get_type_string (answer));
      g_clear_pointer (&answer, g_variant_unref);
    }
  if (answer == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH,
                   "authentication failed at the client's answer: %s", local->message);
      return FALSE;
    }
  their_proof = fixed_bytes (answer, 0, &theirs);
  nonce_c = fixed_bytes (answer, 1, &their_nonce);
  proof (key, "client", auth->nonce, NULL, want);
  if (their_proof == NULL || nonce_c == NULL || !same_bytes (their_proof, want, sizeof want))
    {
      /* Say why, so the client's error is clear; the reason gives nothing away. */
      append_frame (out, g_variant_new ("(bs@ay)", FALSE, "wrong authentication key",
                                        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1)));
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_AUTH,
                           "a client failed to authenticate: wrong key");
      return FALSE;
    }
  proof (key, "server", nonce_c, auth->nonce, mine);
  append_frame (out, g_variant_new ("(bs@ay)", TRUE, "",
                                    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, mine,
                                                               sizeof mine, 1)));
  return TRUE;
}

/* Writes all of @data to the non-blocking or blocking @fd before @deadline. */
static gboolean
write_all (int fd, const guint8 *data, gsize len, gint64 deadline, GError **error)
{
  while (len > 0)
    {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n > 0)
        {
          data += n;
          len -= (gsize) n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN && g_get_monotonic_time () < deadline)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };

          poll (&p, 1, (int) MAX (1, (deadline - g_get_monotonic_time ()) / 1000));
          continue;
        }
      g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH, "authentication failed: %s",
                   n < 0 && errno != EAGAIN ? g_strerror (errno) : "the peer reads nothing");
      return FALSE;
    }
  return TRUE;
}

gboolean
mpk__manager_auth_server (int fd, GBytes *key, gint64 timeout_us, GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  gint64 deadline = mpk__deadline_from_timeout (timeout_us);
  MpkManagerAuth auth;
  gssize need;

  mpk__manager_auth_begin (&auth, out);
  if (!write_all (fd, out->data, out->len, deadline, error))
    return FALSE;
  g_byte_array_set_size (out, 0);
  while ((need = mpk__manager_auth_need (&auth, error)) > 0)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      gint64 left = deadline - g_get_monotonic_time ();
      ssize_t n;

      if (left <= 0)
        {
          g_set_error_literal (error, MPK_ERROR, MPK_ERROR_AUTH,
                               "authentication failed: the client did not answer in time");
          return FALSE;
        }
      if (poll (&p, 1, (int) MIN (left / 1000 + 1, G_MAXINT)) <= 0)
        continue;
      n = recv (fd, auth.buf + auth.have, (gsize) need, MSG_DONTWAIT);   /* only this frame */
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH,
                       "authentication failed: the client %s", n == 0 ? "hung up" : g_strerror (errno));
          return FALSE;
        }
      if (n > 0)
        auth.have += (gsize) n;
    }
  if (need < 0)
    return FALSE;
  if (!mpk__manager_auth_finish (&auth, key, out, error))
    {
      write_all (fd, out->data, out->len, deadline, NULL);
      return FALSE;
    }
  return write_all (fd, out->data, out->len, deadline, error);
}

gboolean
mpk__manager_auth_client (MpkConnection *conn, GBytes *key, GError **error)
{
  guint8 nonce_c[MPK__MANAGER_KEY_SIZE], mine[MPK__MANAGER_KEY_SIZE], want[MPK__MANAGER_KEY_SIZE];
  g_autoptr(GVariant) greeting = NULL, verdict = NULL, nonce_child = NULL, proof_child = NULL;
  g_autofree char *name = NULL;
  const guint8 *nonce_s, *their_proof;
  gboolean accepted;
  const char *reason;

  mpk_connection_set_max_message_size (conn, MPK__MANAGER_PREAUTH_MAX);
  greeting = recv_step (conn, "(say)", "manager's greeting", TRUE, error);
  if (greeting == NULL)
    return FALSE;
  g_variant_get_child (greeting, 0, "s", &name);
  nonce_s = fixed_bytes (greeting, 1, &nonce_child);
  if (strcmp (name, AUTH_GREETING) != 0 || nonce_s == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH,
                   "authentication failed: the server is not an mpkit manager of this version "
                   "(it greeted with \"%s\")", name);
      return FALSE;
    }
  proof (key, "client", nonce_s, NULL, mine);
  if (!send_step (conn, g_variant_new ("(@ay@ay)",
                                       g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, mine,
                                                                  sizeof mine, 1),
                                       nonce_variant (nonce_c)),
                  TRUE, error))
    return FALSE;
  verdict = recv_step (conn, "(bsay)", "manager's verdict", TRUE, error);
  if (verdict == NULL)
    return FALSE;
  g_variant_get_child (verdict, 0, "b", &accepted);
  g_variant_get_child (verdict, 1, "&s", &reason);
  if (!accepted)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_AUTH, "the manager refused us: %s", reason);
      return FALSE;
    }
  their_proof = fixed_bytes (verdict, 2, &proof_child);
  proof (key, "server", nonce_c, nonce_s, want);
  if (their_proof == NULL || !same_bytes (their_proof, want, sizeof want))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_AUTH,
                           "the server could not prove it knows the key: not our manager");
      return FALSE;
    }
  mpk_connection_set_max_message_size (conn, MPK_DEFAULT_MAX_MESSAGE_SIZE);
  return TRUE;
}

/* --- references and errors ------------------------------------------------------- */

GVariant *
mpk__manager_ref_new (guint64 generation, guint64 id)
{
  char path[64];

  g_snprintf (path, sizeof path, "/mpk/g%016" G_GINT64_MODIFIER "x/o%" G_GUINT64_FORMAT,
              generation, id);
  return g_variant_new_object_path (path);
}

gboolean
mpk__manager_ref_parse (GVariant *value, guint64 *generation, guint64 *id)
{
  const char *path;
  char *end;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH))
    return FALSE;
  path = g_variant_get_string (value, NULL);
  if (!g_str_has_prefix (path, "/mpk/g") || strlen (path) < 6 + 16 + 3)
    return FALSE;
  *generation = g_ascii_strtoull (path + 6, &end, 16);
  if (end != path + 6 + 16 || strncmp (end, "/o", 2) != 0)
    return FALSE;
  *id = g_ascii_strtoull (end + 2, &end, 10);
  return *end == '\0' && *id != 0;
}

GVariant *
mpk__manager_error_to_variant (const GError *error)
{
  return g_variant_new ("(sis)", g_quark_to_string (error->domain), error->code,
                        error->message);
}

void
mpk__manager_error_from_variant (GVariant *value, GError **error)
{
  const char *domain, *message;
  gint32 code;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(sis)")))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "the manager sent a malformed error reply (%s)",
                   g_variant_get_type_string (value));
      return;
    }
  g_variant_get (value, "(&si&s)", &domain, &code, &message);
  if (domain[0] == '\0')
    domain = "mpk-error-quark";
  g_set_error_literal (error, g_quark_from_string (domain), code, message);
}

/* --- tracing ------------------------------------------------------------------- */

void
mpk__manager_trace (const char            *ev,
                    MpkTraceDirection      dir,
                    gint64                 ts,
                    const MpkWireHeader   *header,
                    const MpkObjectHeader *manager,
                    const char            *type,
                    guint64                id,
                    const char            *method,
                    GVariant              *payload,
                    const GError          *error)
{
  g_autoptr(GVariant) shown = NULL;
  MpkTraceLine line;

  /* A call's arguments are a tuple: (('Jeff', 8),) reads better as ('Jeff', 8). */
  if (payload != NULL && g_variant_is_of_type (payload, G_VARIANT_TYPE_TUPLE)
      && g_variant_n_children (payload) == 1)
    shown = g_variant_get_child_value (payload, 0);
  else if (payload != NULL)
    shown = g_variant_ref (payload);
  mpk__trace_begin (&line, ev, ts, header->clock);
  mpk__trace_add_object (&line, manager);
  mpk__trace_add_message (&line, dir, header, shown);
  if (type != NULL)
    mpk__trace_add_str (&line, "otype", type);   /* "type" names a line kind */
  if (id != 0)
    mpk__trace_add_int (&line, "id", (gint64) id);
  if (method != NULL)
    mpk__trace_add_str (&line, "method", method);
  if (error != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%s: %s", mpk__error_code_name (error),
                                               error->message);

      mpk__trace_add_str (&line, "error", text);
    }
  mpk__trace_end (&line);
}
