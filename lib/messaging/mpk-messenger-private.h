/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-messenger-private.h: the messenger layer's internal header (never
 * installed): what mpk-worker.c, the tests and the fuzz target need of
 * mpk-messenger.c. It builds on the objects' internal header (and so the
 * core's) and never includes mpkit.h (lib/README.md draws the layers). */
#ifndef MPK_MESSENGER_PRIVATE_H
#define MPK_MESSENGER_PRIVATE_H

#include "mpk-objects-private.h"
#include "mpk-messenger.h"
#include "mpk-worker.h"

G_BEGIN_DECLS

/* The GVariant type of every messenger message on the wire: kind, channel
 * (Nothing for the default channel), priority, payload. */
#define MPK__MESSENGER_WIRE_TYPE "(ymvdv)"

/* The kinds of message on the wire. ERROR and CLOSE are the special
 * messages: they bypass the channels. */
typedef enum
{
  MPK__MESSENGER_NOREQUEST = 0,
  MPK__MESSENGER_REQUEST   = 1,
  MPK__MESSENGER_REPLY     = 2,
  MPK__MESSENGER_ERROR     = 3,
  MPK__MESSENGER_CLOSE     = 4,
} MpkMessengerWireKind;

/* Limits on a remote error's fields (longer ones are refused as PROTOCOL):
 * the domain becomes a GQuark in the receiver, which lives for good. */
#define MPK__MESSENGER_MAX_DOMAIN 128

/* A message decoded from the wire. */
typedef struct
{
  MpkMessengerWireKind kind;
  GVariant *channel;       /* owned; NULL: the default channel */
  gdouble   priority;      /* never NaN */
  GVariant *payload;       /* owned; data kinds only */
  char     *domain;        /* owned; ERROR only: the GError's domain, as a string */
  gint      code;          /* ERROR only */
  char     *message;       /* owned; ERROR only */
} MpkMessengerDecoded;

/* Checks and decodes @frame, a value received from the peer (untrusted):
 * its type, the kind, a priority that is a number (not NaN), the shape of
 * an error (a non-empty domain of at most MPK__MESSENGER_MAX_DOMAIN bytes)
 * and of a close request. FALSE with MPK_ERROR_PROTOCOL on any fault (then
 * @out holds nothing to clear). */
G_GNUC_INTERNAL gboolean mpk__messenger_decode (GVariant            *frame,
                                                MpkMessengerDecoded *out,
                                                GError             **error);
G_GNUC_INTERNAL void     mpk__messenger_decoded_clear (MpkMessengerDecoded *decoded);

/* The worker resource's hooks. The messenger watches @process (not owned;
 * NULL to stop): once it has ended, every blocking call reads what it left
 * in the pipe and then fails with PEER_CLOSED, even when another process
 * still holds the worker's end of the socket (no EOF would come). */
G_GNUC_INTERNAL void     mpk__messenger_watch_process (MpkMessenger *messenger,
                                                       MpkProcess   *process);
/* The watched process has ended and been reaped: reads what it left in
 * the pipe, then every receive with nothing to hand over fails with
 * PEER_CLOSED; stops watching it. */
G_GNUC_INTERNAL void     mpk__messenger_peer_ended (MpkMessenger *messenger);
/* Frees @messenger without writing anything: for a copy inherited by a
 * forked child, whose buffered output belongs to the parent. */
G_GNUC_INTERNAL void     mpk__messenger_discard (MpkMessenger *messenger);
/* Moves what the pipe holds into the queues and writes what it can of a
 * waiting frame, without blocking. Errors are kept for the receive calls. */
G_GNUC_INTERNAL void     mpk__messenger_pump (MpkMessenger *messenger);
/* Sleeps until the pipe has something to read (or room for a waiting
 * frame), the watched process ends, or @deadline: FALSE then, with
 * MPK_ERROR_TIMED_OUT. */
G_GNUC_INTERNAL gboolean mpk__messenger_wait (MpkMessenger *messenger,
                                              MpkDeadline   deadline,
                                              GError      **error);

G_END_DECLS

#endif /* MPK_MESSENGER_PRIVATE_H */
