/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-protocol.c: libFuzzer target for the request protocol's message
 * decoders (lib/messaging/mpk-message.c), which read what other processes
 * wrote: a protocol queue's shared slots (mpk__message_decode), a pipe's
 * GVariant frames (mpk_message_new_from_variant).
 *
 * What must hold: every input gives a message or MPK_ERROR_PROTOCOL, never
 * a crash; a message that decodes has a non-empty UTF-8 request, a sender
 * pid > 0 and a recipient >= 0, prints, and survives encode + decode
 * unchanged; a protocol queue whose slot holds the bytes hands out the
 * message or PROTOCOL, and is empty afterwards (a bad message blocks
 * nobody).
 *
 * Input: byte 0 picks the path. Even: the rest is a slot's content
 * (request and data lengths, request, type string, data; its sender and
 * recipient pids come from byte 0's other bits); then the same bytes go
 * through a real queue's slot. Odd: the rest is a type string, a NUL, then the value's
 * bytes, as a pipe frame carries them (mpk_message_new_from_variant). */

#include "mpk-private.h"
#include "mpk-messaging-private.h"
#include "fuzz-util.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_message (const MpkMessage *message)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(MpkMessage) back = NULL;
  g_autoptr(MpkMessage) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree guint8 *bytes = NULL;
  gsize size;

  if (message->request == NULL || *message->request == '\0'
      || !g_utf8_validate (message->request, -1, NULL)
      || message->sender_pid <= 0 || message->recipient_pid < 0)
    g_error ("a decoded message has a bad field");
  text = mpk_message_to_string (message);
  value = mpk_message_to_variant (message);
  back = mpk_message_new_from_variant (value, &error);
  check ("re-decode", back == NULL, error, 0);
  size = mpk__message_encoded_size (message->request, message->data);
  bytes = g_malloc (size);
  mpk__message_encode (bytes, message->request, message->data);
  again = mpk__message_decode (bytes, size, message->sender_pid, message->recipient_pid, &error);
  check ("slot re-decode", again == NULL, error, 0);
  if (strcmp (again->request, message->request) != 0
      || (again->data == NULL) != (message->data == NULL)
      || (again->data != NULL && !g_variant_equal (again->data, message->data)))
    g_error ("slot encode + decode changed the message %s", text);
  if (strcmp (back->request, message->request) != 0 || back->sender_pid != message->sender_pid
      || back->recipient_pid != message->recipient_pid
      || (back->data == NULL) != (message->data == NULL)
      || (back->data != NULL && !g_variant_equal (back->data, message->data)))
    g_error ("encode + decode changed the message %s", text);
}

/* One queue for the whole run: its slot 0 gets the fuzzer's bytes. */
static void
through_queue (const guint8 *bytes, gsize len)
{
  static MpkProtocol *proto;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) message = NULL;
  guint32 *slot_size;
  guint8 *slot;

  if (proto == NULL)
    proto = mpk_protocol_queue_new_full (1, 16384, NULL);
  if (!mpk_protocol_send (proto, "X", 0, MPK_PID_NONE, NULL, MPK_NO_WAIT, &error))
    g_error ("send to an empty queue: %s", error->message);
  slot = mpk__mailbox_slot_for_testing (mpk__protocol_get_mailbox_for_testing (proto), 0,
                                        &slot_size);
  memcpy (slot, bytes, len);
  *slot_size = len;
  message = mpk_protocol_receive (proto, NULL, MPK_NO_WAIT, &error);
  check ("queue receive", message == NULL, error, CODE (MPK_ERROR_PROTOCOL));
  /* The slot's pids (this process, for everybody) are the message's. */
  if (message != NULL)
    {
      check_message (message);
      if (message->sender_pid != getpid () || message->recipient_pid != MPK_PID_NONE)
        g_error ("the queue handed out a message whose pids differ from its slot's");
    }
  if (!mpk_protocol_queue_empty (proto))
    g_error ("a bad message stayed in the queue");
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) message = NULL;

  if (size < 1)
    return 0;
  if ((data[0] & 1) == 0)
    {
      GPid sender = (data[0] >> 1) & 7, recipient = (data[0] >> 4) & 7;

      message = mpk__message_decode (data + 1, size - 1, sender, recipient, &error);
      check ("decode", message == NULL, error, CODE (MPK_ERROR_PROTOCOL));
      if (message != NULL)
        check_message (message);
      through_queue (data + 1, size - 1);
    }
  else
    {
      const guint8 *nul = memchr (data + 1, '\0', size - 1);
      g_autofree char *type = NULL;
      g_autoptr(GBytes) bytes = NULL;
      GVariant *value;

      if (nul == NULL)
        return 0;
      type = g_strndup ((const char *) data + 1, nul - (data + 1));
      /* What a pipe's frame decoder lets through: a definite type. */
      if (!g_variant_type_string_is_valid (type) || !g_variant_type_is_definite (G_VARIANT_TYPE (type)))
        return 0;
      bytes = g_bytes_new (nul + 1, size - (nul + 1 - data));
      value = g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE);
      message = mpk_message_new_from_variant (value, &error);
      check ("from variant", message == NULL, error, CODE (MPK_ERROR_PROTOCOL));
      if (message != NULL)
        check_message (message);
    }
  return 0;
}
