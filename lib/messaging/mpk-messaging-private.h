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

/* The form a message takes in a protocol queue's slot (shared memory on
 * one machine, so native byte order). The pids are kept beside it, in the
 * slot's bookkeeping; the bytes are
 *   guint32 request_len, guint32 type_len (0: no data),
 *   the request (request_len bytes, no NUL), the data's type string
 *   (type_len bytes), the data serialized (the rest).
 * Cheaper to write and check than the whole "(simimv)" tuple: no tuple, no
 * maybes, one copy of the data. */
#define MPK__MESSAGE_SLOT_HEAD 8

/* The bytes mpk__message_encode() writes for @request and @data. */
G_GNUC_INTERNAL gsize       mpk__message_encoded_size (const char *request,
                                                       GVariant   *data);
/* Writes them to @out (mpk__message_encoded_size() bytes). */
G_GNUC_INTERNAL void        mpk__message_encode       (guint8     *out,
                                                       const char *request,
                                                       GVariant   *data);
/* Decodes a slot's bytes (untrusted: every length, the request's UTF-8, the
 * type string and the data's normal form are checked) with the slot's pids.
 * Returns (transfer full) the message, or NULL with MPK_ERROR_PROTOCOL. */
G_GNUC_INTERNAL MpkMessage *mpk__message_decode       (gconstpointer  data,
                                                       gsize          size,
                                                       GPid           sender_pid,
                                                       GPid           recipient_pid,
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

/* Appends the message (@request, @sender, @recipient, @data; checked by
 * the caller), encoded into a free slot, and fills @header with its trace
 * ids. Waits for a free slot until @deadline: MPK_ERROR_FULL then. TOO_BIG
 * for a message over the slot size. */
G_GNUC_INTERNAL gboolean    mpk__mailbox_put  (MpkMailbox          *box,
                                               const char          *request,
                                               GPid                 sender,
                                               GPid                 recipient,
                                               GVariant            *data,
                                               MpkWireHeader       *header,
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
