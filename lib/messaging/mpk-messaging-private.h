/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-messaging-private.h: the internal header of the messaging layers
 * (never installed). It builds on the objects' internal header (and so the
 * core's) and the messaging layers' public headers; it never includes
 * mpkit.h (lib/README.md draws the layers). */
#ifndef MPK_MESSAGING_PRIVATE_H
#define MPK_MESSAGING_PRIVATE_H

#include "mpk-objects-private.h"
#include "mpk-message.h"
#include "mpk-protocol.h"

G_BEGIN_DECLS

/* --- the message (mpk-message.c) ------------------------------------------ */

/* Decodes a message from untrusted bytes: @data is the serialized form of
 * MPK_MESSAGE_TYPE_STRING (no type string in front). Checks the shape, the
 * normal form and the fields (a non-empty request, pids > 0). Returns
 * (transfer full) the message, or NULL with MPK_ERROR_PROTOCOL. */
G_GNUC_INTERNAL MpkMessage *mpk__message_decode (gconstpointer  data,
                                                 gsize          size,
                                                 GError       **error);

/* The words the tracer records for @message: "req" and, unless it is for
 * everybody, "to"; then "sum", a summary of the data ("None" without). */
G_GNUC_INTERNAL void mpk__message_trace_fields (MpkTraceLine     *line,
                                                const MpkMessage *message);

/* --- the mailbox: the protocol queue in shared memory (mpk-mailbox.c) ------
 *
 * Messages in arrival order, each taken at most once, by the first receiver
 * whose filter accepts it; a refused message stays in its place. All state
 * is in one shared mapping guarded by a robust mutex; waiting is on futex
 * signals. */
typedef struct _MpkMailbox MpkMailbox;

/* A new mailbox of @capacity messages of at most @max_message_size bytes
 * each, or NULL with MPK_ERROR_INVALID (sizes out of range) or FAILED. */
G_GNUC_INTERNAL MpkMailbox *mpk__mailbox_new  (guint    capacity,
                                               gsize    max_message_size,
                                               GError **error);
/* Unmaps it in this process. */
G_GNUC_INTERNAL void        mpk__mailbox_free (MpkMailbox *box);

/* Appends @message (encoded, @size bytes, already validated by the caller)
 * with the trace ids of @header. Waits for a free slot until @deadline:
 * MPK_ERROR_FULL then. TOO_BIG for a message over the slot size. */
G_GNUC_INTERNAL gboolean    mpk__mailbox_put  (MpkMailbox          *box,
                                               const MpkMessage    *message,
                                               gconstpointer        data,
                                               gsize                size,
                                               const MpkWireHeader *header,
                                               MpkDeadline          deadline,
                                               GError             **error);

/* Removes and returns the first message @filter accepts (for the receiving
 * process @me), waiting until @deadline for one: MPK_ERROR_TIMED_OUT then.
 * A corrupt message it meets is removed and reported as PROTOCOL. Fills
 * @header with the message's trace ids. Records msg.left for each message
 * it passes over, once per call, when tracing. */
G_GNUC_INTERNAL MpkMessage *mpk__mailbox_take (MpkMailbox             *box,
                                               const MpkMessageFilter *filter,
                                               GPid                    me,
                                               MpkWireHeader          *header,
                                               MpkDeadline             deadline,
                                               GError                **error);

G_GNUC_INTERNAL guint       mpk__mailbox_count     (MpkMailbox *box,
                                                    gboolean    any,
                                                    GPid        recipient);
/* Waits until the mailbox is empty. With @watch, fails PEER_DIED as soon
 * as a watched process has ended while messages for it wait. */
G_GNUC_INTERNAL gboolean    mpk__mailbox_join      (MpkMailbox  *box,
                                                    MpkProcess **watch,
                                                    guint        n_watch,
                                                    MpkDeadline  deadline,
                                                    GError     **error);
/* Removes every message for @recipient; returns them in order (element
 * type MpkMessage). Corrupt ones are dropped and not returned. */
G_GNUC_INTERNAL GPtrArray  *mpk__mailbox_collect   (MpkMailbox  *box,
                                                    GPid         recipient,
                                                    GError     **error);
G_GNUC_INTERNAL guint       mpk__mailbox_get_n_recoveries (MpkMailbox *box);
G_GNUC_INTERNAL const MpkObjectHeader *mpk__mailbox_get_object (MpkMailbox *box);

/* For tests, to corrupt a message in place: slot @index's message bytes,
 * and in *@size where its length is kept. */
G_GNUC_INTERNAL guint8     *mpk__mailbox_slot_for_testing (MpkMailbox  *box,
                                                           guint        index,
                                                           guint32    **size);

/* --- the handle (mpk-protocol.c), for tests -------------------------------- */

/* The pipe end under a pipe handle (NULL for a queue): to send it raw
 * values. The mailbox under a queue handle (NULL for a pipe). */
G_GNUC_INTERNAL MpkConnection *mpk__protocol_get_connection_for_testing (MpkProtocol *proto);
G_GNUC_INTERNAL MpkMailbox    *mpk__protocol_get_mailbox_for_testing    (MpkProtocol *proto);

G_END_DECLS

#endif /* MPK_MESSAGING_PRIVATE_H */
