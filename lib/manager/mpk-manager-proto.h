/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-proto.h: what the Manager's client and server both speak
 * (never installed): the request and reply frames, addresses, the key
 * handshake, object references and errors as values, trace events. The
 * bottom of the Manager layer: it builds on the objects (a connection
 * carries the frames) and knows nothing of the server or its types. */
#ifndef MPK_MANAGER_PROTO_H
#define MPK_MANAGER_PROTO_H

#include "mpk-objects-private.h"
#include "mpk-manager.h"
#include "mpk-authkey.h"
#include <gio/gio.h>

G_BEGIN_DECLS

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

G_END_DECLS

#endif /* MPK_MANAGER_PROTO_H */
