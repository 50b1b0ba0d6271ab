/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-message.c: the request protocol's message, pymulproc's 4-element list
 * [request, sender pid, recipient pid, data] (mpq_protocol.py), as a
 * GVariant "(simimv)" on the wire, and the filters receivers use.
 *
 * Messages arrive from other processes (a pipe, shared memory), so decoding
 * trusts nothing: a value of any other shape, an empty request or a pid
 * that is not positive is MPK_ERROR_PROTOCOL, never a crash. */
#include "mpk-messaging-private.h"

#include <string.h>

/**
 * SECTION:mpk-message
 * @title: MpkMessage
 * @short_description: the request protocol's 4-field message and filters
 *
 * A message of the request protocol (seed 000, pymulproc) has exactly four
 * fields: a request (a string: %MPK_REQ_DO, %MPK_REQ_FINISHED,
 * %MPK_REQ_DIE or your own), the sender's pid, the recipient's pid
 * (%MPK_PID_NONE: for everybody) and optional data (any #GVariant).
 * mpk_protocol_send() builds one, mpk_protocol_receive() returns one.
 *
 * A #MpkMessageFilter says which messages a receiver takes: the common
 * cases are flags (%MPK_MATCH_FOR_ME, %MPK_MATCH_SENDER, ...), anything else
 * a #MpkMessageFilterFunc.
 */

/**
 * mpk_message_new:
 * @request: (transfer none): the request, a non-empty UTF-8 string
 * @sender_pid: the sender's pid (> 0)
 * @recipient_pid: the recipient's pid, or %MPK_PID_NONE for everybody
 * @data: (transfer none) (nullable): the data; a floating reference is sunk
 *
 * Builds a message. mpk_protocol_send() does this for you; this is for
 * tests and for programs that pass messages around.
 *
 * Returns: (transfer full): the message, free with mpk_message_unref()
 */
MpkMessage *
mpk_message_new (const char *request,
                 GPid        sender_pid,
                 GPid        recipient_pid,
                 GVariant   *data)
{
  MpkMessage *message;

  g_return_val_if_fail (request != NULL && *request != '\0', NULL);
  g_return_val_if_fail (g_utf8_validate (request, -1, NULL), NULL);
  g_return_val_if_fail (sender_pid > 0, NULL);
  g_return_val_if_fail (recipient_pid >= 0, NULL);

  message = g_new0 (MpkMessage, 1);
  message->ref_count = 1;
  message->request = g_strdup (request);
  message->sender_pid = sender_pid;
  message->recipient_pid = recipient_pid;
  message->data = data != NULL ? g_variant_ref_sink (data) : NULL;
  return message;
}

/**
 * mpk_message_ref:
 * @message: (transfer none): a message
 *
 * Takes one more reference on @message.
 *
 * Returns: (transfer full): @message, with one more reference
 */
MpkMessage *
mpk_message_ref (MpkMessage *message)
{
  g_return_val_if_fail (message != NULL, NULL);
  g_atomic_int_inc (&message->ref_count);
  return message;
}

/**
 * mpk_message_unref:
 * @message: (nullable) (transfer full): a message
 *
 * Drops a reference; the last one frees the message.
 */
void
mpk_message_unref (MpkMessage *message)
{
  if (message == NULL || !g_atomic_int_dec_and_test (&message->ref_count))
    return;
  g_free (message->request);
  g_clear_pointer (&message->data, g_variant_unref);
  g_free (message);
}

/**
 * mpk_message_is_request:
 * @message: (transfer none): a message
 * @request: (transfer none): a request
 *
 * Compares the request field, pymulproc's
 * `message[request_offset] == REQ_...`.
 *
 * Returns: %TRUE if @message's request is @request
 */
gboolean
mpk_message_is_request (const MpkMessage *message,
                        const char       *request)
{
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (request != NULL, FALSE);
  return strcmp (message->request, request) == 0;
}

/**
 * mpk_message_to_variant:
 * @message: (transfer none): a message
 *
 * The message as it travels: a #GVariant of type
 * %MPK_MESSAGE_TYPE_STRING.
 *
 * Returns: (transfer full): a new, non-floating value
 */
GVariant *
mpk_message_to_variant (const MpkMessage *message)
{
  g_return_val_if_fail (message != NULL, NULL);

  return g_variant_ref_sink (
    g_variant_new ("(si@mi@mv)", message->request, (gint32) message->sender_pid,
                   g_variant_new_maybe (G_VARIANT_TYPE_INT32,
                                        message->recipient_pid != MPK_PID_NONE
                                        ? g_variant_new_int32 (message->recipient_pid) : NULL),
                   g_variant_new_maybe (G_VARIANT_TYPE_VARIANT,
                                        message->data != NULL
                                        ? g_variant_new_variant (message->data) : NULL)));
}

static gboolean
protocol_error (GError **error, const char *what)
{
  g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "protocol message: %s", what);
  return FALSE;
}

/**
 * mpk_message_new_from_variant:
 * @value: (transfer none): a value received from another process; a
 *   floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Checks that @value is a message and builds it: of type
 * %MPK_MESSAGE_TYPE_STRING, a non-empty request, a sender pid > 0, a
 * recipient pid > 0 or nothing. pymulproc would index whatever list came
 * and fail somewhere later; here the check is at the door.
 *
 * Returns: (transfer full): the message; %NULL with %MPK_ERROR_PROTOCOL
 *   when @value is not one (another type, a field out of range)
 */
MpkMessage *
mpk_message_new_from_variant (GVariant  *value,
                              GError   **error)
{
  g_autoptr(GVariant) owned = NULL;
  g_autoptr(GVariant) recipient = NULL;
  g_autoptr(GVariant) data = NULL;
  g_autoptr(GVariant) inner = NULL;
  const char *request;
  gint32 sender_pid = 0, recipient_pid = 0;

  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  owned = g_variant_ref_sink (value);
  if (!g_variant_is_of_type (owned, G_VARIANT_TYPE (MPK_MESSAGE_TYPE_STRING)))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "protocol message: of type %s, not %s",
                   g_variant_get_type_string (owned), MPK_MESSAGE_TYPE_STRING);
      return NULL;
    }
  /* A value made from bytes may not be in normal form; its getters would
   * then read defaults, so a message must be exactly what it says. */
  if (!g_variant_is_normal_form (owned))
    {
      protocol_error (error, "not in normal form");
      return NULL;
    }
  g_variant_get (owned, "(&si@mi@mv)", &request, &sender_pid, &recipient, &data);
  if (*request == '\0')
    {
      protocol_error (error, "the request is empty");
      return NULL;
    }
  if (sender_pid <= 0)
    {
      protocol_error (error, "the sender pid is not positive");
      return NULL;
    }
  if ((inner = g_variant_get_maybe (recipient)) != NULL
      && (recipient_pid = g_variant_get_int32 (inner)) <= 0)
    {
      protocol_error (error, "the recipient pid is not positive");
      return NULL;
    }
  g_clear_pointer (&inner, g_variant_unref);
  if ((inner = g_variant_get_maybe (data)) != NULL)
    {
      g_autoptr(GVariant) payload = g_variant_get_variant (inner);

      return mpk_message_new (request, sender_pid, recipient_pid, payload);
    }
  return mpk_message_new (request, sender_pid, recipient_pid, NULL);
}

gsize
mpk__message_encoded_size (const char *request,
                           GVariant   *data)
{
  if (data == NULL)
    return MPK__MESSAGE_SLOT_HEAD + strlen (request);
  return MPK__MESSAGE_SLOT_HEAD + strlen (request) + strlen (g_variant_get_type_string (data))
         + g_variant_get_size (data);
}

void
mpk__message_encode (guint8     *out,
                     const char *request,
                     GVariant   *data)
{
  guint32 request_len = strlen (request);
  guint32 type_len = data != NULL ? strlen (g_variant_get_type_string (data)) : 0;

  memcpy (out, &request_len, 4);
  memcpy (out + 4, &type_len, 4);
  out += MPK__MESSAGE_SLOT_HEAD;
  memcpy (out, request, request_len);
  out += request_len;
  if (data != NULL)
    {
      memcpy (out, g_variant_get_type_string (data), type_len);
      g_variant_store (data, out + type_len);
    }
}

MpkMessage *
mpk__message_decode (gconstpointer  data,
                     gsize          size,
                     GPid           sender_pid,
                     GPid           recipient_pid,
                     GError       **error)
{
  const guint8 *in = data;
  guint32 request_len, type_len;
  gsize rest;
  MpkMessage *message;

  if (size < MPK__MESSAGE_SLOT_HEAD)
    {
      protocol_error (error, "shorter than its header");
      return NULL;
    }
  memcpy (&request_len, in, 4);
  memcpy (&type_len, in + 4, 4);
  rest = size - MPK__MESSAGE_SLOT_HEAD;
  in += MPK__MESSAGE_SLOT_HEAD;
  if (request_len == 0 || request_len > rest || type_len > rest - request_len
      || (type_len == 0 && rest != request_len))
    {
      protocol_error (error, "lengths that do not fit");
      return NULL;
    }
  /* g_utf8_validate_len() also refuses a NUL inside. */
  if (!g_utf8_validate_len ((const char *) in, request_len, NULL))
    {
      protocol_error (error, "the request is not UTF-8");
      return NULL;
    }
  if (sender_pid <= 0 || recipient_pid < 0)
    {
      protocol_error (error, "a pid out of range");
      return NULL;
    }
  message = g_new0 (MpkMessage, 1);
  message->ref_count = 1;
  message->request = g_strndup ((const char *) in, request_len);
  message->sender_pid = sender_pid;
  message->recipient_pid = recipient_pid;
  if (type_len > 0)
    {
      char small[64];
      g_autofree char *large = NULL;
      char *type = type_len < sizeof small ? small : (large = g_malloc (type_len + 1));
      g_autoptr(GBytes) bytes = NULL;
      GVariant *value;

      memcpy (type, in + request_len, type_len);
      type[type_len] = '\0';

      if (!g_variant_type_string_is_valid (type)
          || !g_variant_type_is_definite (G_VARIANT_TYPE (type)))
        {
          mpk_message_unref (message);
          protocol_error (error, "the data's type is not a type");
          return NULL;
        }
      /* A copy: the bytes may be in shared memory that others write. */
      bytes = g_bytes_new (in + request_len + type_len, rest - request_len - type_len);
      value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));
      if (!g_variant_is_normal_form (value))
        {
          g_variant_unref (value);
          mpk_message_unref (message);
          protocol_error (error, "the data is not in normal form");
          return NULL;
        }
      message->data = value;
    }
  return message;
}

/* ['DO', 1234, 5678, {'value': <20>}]: Python's print of the list, with
 * the data as GVariant text. */
static void
append_pid (GString *s, GPid pid)
{
  if (pid == MPK_PID_NONE)
    g_string_append (s, "None");
  else
    g_string_append_printf (s, "%d", (int) pid);
}

/**
 * mpk_message_to_string:
 * @message: (transfer none): a message
 *
 * The message as pymulproc's examples print it, a list:
 * `['FINISHED', 4312, None, 3]` (the data in GVariant text format,
 * `None` for a missing recipient or data).
 *
 * Returns: (transfer full): the text, free with g_free()
 */
char *
mpk_message_to_string (const MpkMessage *message)
{
  GString *s;
  g_autoptr(GVariant) request = NULL;

  g_return_val_if_fail (message != NULL, NULL);

  /* GVariant text quotes the request as Python would: 'DO', "I'M PARENT PROCESS". */
  s = g_string_new ("[");
  request = g_variant_ref_sink (g_variant_new_string (message->request));
  g_variant_print_string (request, s, FALSE);
  g_string_append (s, ", ");
  append_pid (s, message->sender_pid);
  g_string_append (s, ", ");
  append_pid (s, message->recipient_pid);
  g_string_append (s, ", ");
  if (message->data != NULL)
    g_variant_print_string (message->data, s, FALSE);
  else
    g_string_append (s, "None");
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/**
 * mpk_message_filter_accepts:
 * @filter: (transfer none) (nullable): a filter; %NULL accepts every message
 * @message: (transfer none): a message
 * @receiver_pid: the receiving process (for %MPK_MATCH_FOR_ME and
 *   %MPK_MATCH_TO_ME)
 *
 * Applies @filter as mpk_protocol_receive() does.
 *
 * Returns: %TRUE if @filter accepts @message
 */
gboolean
mpk_message_filter_accepts (const MpkMessageFilter *filter,
                            const MpkMessage       *message,
                            GPid                    receiver_pid)
{
  g_return_val_if_fail (message != NULL, FALSE);

  if (filter == NULL)
    return TRUE;
  if ((filter->match & MPK_MATCH_FOR_ME)
      && message->recipient_pid != MPK_PID_NONE && message->recipient_pid != receiver_pid)
    return FALSE;
  if ((filter->match & MPK_MATCH_TO_ME) && message->recipient_pid != receiver_pid)
    return FALSE;
  if ((filter->match & MPK_MATCH_SENDER) && message->sender_pid != filter->sender_pid)
    return FALSE;
  if ((filter->match & MPK_MATCH_REQUEST) && g_strcmp0 (message->request, filter->request) != 0)
    return FALSE;
  return filter->func == NULL || filter->func (message, filter->user_data);
}

void
mpk__message_trace_fields (MpkTraceLine     *line,
                           const MpkMessage *message)
{
  char sum[4 * 64];

  mpk__trace_add_str (line, "req", message->request);
  if (message->recipient_pid != MPK_PID_NONE)
    mpk__trace_add_int (line, "to", message->recipient_pid);
  if (message->data != NULL)
    mpk__trace_summarize (message->data, sum, sizeof sum);
  else
    g_strlcpy (sum, "None", sizeof sum);
  mpk__trace_add_str (line, "sum", sum);
}
