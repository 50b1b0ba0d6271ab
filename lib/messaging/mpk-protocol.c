/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-protocol.c: pymulproc's communication API (pipeapi.py, queuepi.py,
 * factory.py) in C: one handle type, MpkProtocol, with send and receive
 * over two transports, a pipe (1:1) and a shared mailbox (mpk-mailbox.c,
 * 1:N, N:1, N:M). What differs from pymulproc, on purpose:
 *   - the sender pid is taken when a message is sent, not when the handle
 *     is made (pymulproc's pipe example sends the parent's pid from the
 *     child; research §1.2, D8), and an explicit one is honoured;
 *   - a filtered receive never reorders: refused messages stay in place
 *     (the mailbox's list; a pipe handle's local backlog), and a receive
 *     sleeps until a message it accepts arrives or its timeout passes;
 *   - every wait has a timeout, and queue_empty() is exact once send()
 *     has returned (no feeder thread). */
#include "mpk-messaging-private.h"

#include <string.h>
#include <unistd.h>

/**
 * SECTION:mpk-protocol
 * @title: MpkProtocol
 * @short_description: the request protocol over a pipe or a shared queue
 *
 * The first messaging layer (seed 000, pymulproc): a parent and its
 * children exchange #MpkMessage<!-- -->s, four fields each (request, sender
 * pid, recipient pid, data), through one interface whatever carries them:
 *
 * - mpk_protocol_pipe_new() gives a `parent` and a `child` handle on the
 *   two ends of a duplex pipe, for a 1:1 conversation;
 * - mpk_protocol_queue_new() gives one handle on a queue in shared memory,
 *   which the parent and every child started after it use (1:N, N:1, N:M).
 *
 * mpk_protocol_send() sends, mpk_protocol_receive() takes the first message
 * its #MpkMessageFilter accepts. On a queue the other messages stay where
 * they are, for their recipients, in their order: unlike pymulproc, which
 * takes the head and puts a refused message back at the tail, a process
 * never sees its messages out of order, and nobody spins. A message for
 * everybody (%MPK_PID_NONE) is taken by one receiver, the first that
 * accepts it: to reach N processes, send it N times (the poison pill).
 *
 * Messages for a process that died stay queued: they do not block the
 * others (receivers pass over them), but queue_empty() stays %FALSE and
 * queue_join() waits. mpk_protocol_queue_join_full() fails with
 * %MPK_ERROR_PEER_DIED when a watched child has ended while messages for
 * it wait, and mpk_protocol_queue_collect() takes them out, so the parent
 * learns what was never delivered.
 */

typedef enum
{
  TRANSPORT_PIPE,
  TRANSPORT_QUEUE,
} Transport;

/* A message a pipe handle has read and its filter refused, kept in order. */
typedef struct
{
  MpkMessage    *message;
  MpkWireHeader  header;
} Pending;

struct _MpkProtocol
{
  MpkObjectHeader  object;     /* the tracer's id: both ends of a pipe share it */
  Transport        transport;
  MpkConnection   *conn;       /* pipe */
  GQueue           backlog;    /* pipe: Pending, oldest first */
  MpkMailbox      *box;        /* queue */
};

/**
 * mpk_protocol_pipe_new:
 * @parent: (out) (transfer full): the parent's handle
 * @child: (out) (transfer full): the child's handle
 * @error: return location for a #GError, or %NULL
 *
 * A 1:1 channel over a duplex pipe, pymulproc's
 * `PipeCommunication().parent()` and `.child()`. Make it before starting the
 * child; the child uses @child, the parent @parent. Each handle may send and
 * receive. A filter on a pipe handle keeps what it refuses in this handle,
 * in order, for a later receive.
 *
 * Returns: %TRUE; %FALSE with @error set if the pipe cannot be made
 */
gboolean
mpk_protocol_pipe_new (MpkProtocol **parent,
                       MpkProtocol **child,
                       GError      **error)
{
  MpkConnection *a = NULL, *b = NULL;
  MpkProtocol *ends[2];

  g_return_val_if_fail (parent != NULL && child != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mpk_pipe_new (TRUE, &a, &b, error))
    return FALSE;
  for (int k = 0; k < 2; k++)
    {
      ends[k] = g_new0 (MpkProtocol, 1);
      ends[k]->transport = TRANSPORT_PIPE;
      ends[k]->conn = k == 0 ? a : b;
      g_queue_init (&ends[k]->backlog);
      /* The protocol records its own events (msg.send, msg.receive) with
       * the protocol's words; the pipe's would draw each message twice. */
      mpk__connection_set_request_reply (ends[k]->conn);
    }
  mpk__trace_object_init (&ends[0]->object, MPK__OBJECT_CONNECTION);
  ends[1]->object = ends[0]->object;
  *parent = ends[0];
  *child = ends[1];
  return TRUE;
}

/**
 * mpk_protocol_queue_new_full:
 * @capacity: the most messages queued at once; 0 for
 *   %MPK_PROTOCOL_DEFAULT_CAPACITY
 * @max_message_size: the largest message in bytes (serialized: request and
 *   data together); 0 for %MPK_PROTOCOL_DEFAULT_MESSAGE_SIZE
 * @error: return location for a #GError, or %NULL
 *
 * A queue in shared memory for a parent and its children, pymulproc's
 * `QueueCommunication(max_size)`: one handle, which every process started
 * after this call inherits and uses (there is no separate parent and child
 * handle: the sender's pid is taken at each send). The memory is
 * @capacity slots of @max_message_size bytes, reserved as address space and
 * committed as slots are first used. pymulproc's queue is unbounded by
 * default; this one is bounded, and a send waits for room up to its timeout
 * (pymulproc's retries), then fails %MPK_ERROR_FULL.
 *
 * Returns: (transfer full): the handle, free with mpk_protocol_free() in
 *   each process; %NULL with %MPK_ERROR_INVALID (sizes out of range) or
 *   %MPK_ERROR_FAILED
 */
MpkProtocol *
mpk_protocol_queue_new_full (guint    capacity,
                             gsize    max_message_size,
                             GError **error)
{
  MpkProtocol *proto;
  MpkMailbox *box;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  box = mpk__mailbox_new (capacity != 0 ? capacity : MPK_PROTOCOL_DEFAULT_CAPACITY,
                          max_message_size != 0 ? max_message_size
                                                : MPK_PROTOCOL_DEFAULT_MESSAGE_SIZE,
                          error);
  if (box == NULL)
    return NULL;
  proto = g_new0 (MpkProtocol, 1);
  proto->transport = TRANSPORT_QUEUE;
  proto->box = box;
  proto->object = *mpk__mailbox_get_object (box);
  g_queue_init (&proto->backlog);
  return proto;
}

/**
 * mpk_protocol_queue_new:
 * @capacity: the most messages queued at once; 0 for
 *   %MPK_PROTOCOL_DEFAULT_CAPACITY
 * @error: return location for a #GError, or %NULL
 *
 * mpk_protocol_queue_new_full() with messages of up to
 * %MPK_PROTOCOL_DEFAULT_MESSAGE_SIZE bytes.
 *
 * Returns: (transfer full): the handle, or %NULL with @error set
 */
MpkProtocol *
mpk_protocol_queue_new (guint    capacity,
                        GError **error)
{
  return mpk_protocol_queue_new_full (capacity, 0, error);
}

static void
pending_free (gpointer data)
{
  Pending *p = data;

  mpk_message_unref (p->message);
  g_free (p);
}

/**
 * mpk_protocol_free:
 * @proto: (nullable) (transfer full): a handle
 *
 * Frees this process's handle: closes its pipe end, or unmaps the queue in
 * this process (others keep using it). Messages a pipe handle held back
 * for a later receive are dropped.
 */
void
mpk_protocol_free (MpkProtocol *proto)
{
  if (proto == NULL)
    return;
  g_queue_clear_full (&proto->backlog, pending_free);
  g_clear_pointer (&proto->conn, mpk_connection_free);
  g_clear_pointer (&proto->box, mpk__mailbox_free);
  g_free (proto);
}

/**
 * mpk_protocol_is_queue:
 * @proto: (transfer none): a handle
 *
 * Tells the two transports apart.
 *
 * Returns: %TRUE for a queue handle, %FALSE for a pipe end
 */
gboolean
mpk_protocol_is_queue (MpkProtocol *proto)
{
  g_return_val_if_fail (proto != NULL, FALSE);
  return proto->transport == TRANSPORT_QUEUE;
}

static void
trace_message (MpkProtocol         *proto,
               const char          *ev,
               MpkTraceDirection    dir,
               gint64               ts,
               const MpkWireHeader *header,
               const MpkMessage    *message)
{
  MpkTraceLine line;
  char id[48];

  mpk__trace_begin (&line, ev, ts,
                    dir == MPK__TRACE_OUT ? header->clock
                                          : mpk__wire_clock_receive (header->clock));
  mpk__trace_add_object (&line, &proto->object);
  mpk__trace_add_str (&line, "dir", dir == MPK__TRACE_OUT ? "out" : "in");
  g_snprintf (id, sizeof id, "%u.%" G_GUINT64_FORMAT, header->pid, header->seq);
  mpk__trace_add_str (&line, "msg", id);
  mpk__trace_add_int (&line, "bytes", (gint64) header->length);
  mpk__message_trace_fields (&line, message);
  mpk__trace_end (&line);
}

/**
 * mpk_protocol_send:
 * @proto: (transfer none): a handle
 * @request: (transfer none): the request (%MPK_REQ_DO, ...), a non-empty UTF-8 string
 * @sender_pid: the sender pid to write, or 0 for the calling process's own
 *   (taken now, in the process that sends)
 * @recipient_pid: the process the message is for, or %MPK_PID_NONE for
 *   everybody
 * @data: (transfer none) (nullable): the data; a floating reference is sunk
 * @timeout_us: how long a queue send waits for room, or %MPK_WAIT_FOREVER /
 *   %MPK_NO_WAIT (pymulproc: `timeout` × `loops`); on a pipe, how long it
 *   waits for the pipe to take the message
 * @error: return location for a #GError, or %NULL
 *
 * Sends one message, pymulproc's `send(request, sender_pid, recipient_pid,
 * data)`. On a queue it is in the queue when this returns %TRUE:
 * mpk_protocol_queue_empty() is then %FALSE, with no delay.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_FULL (a queue with no room before
 *   the timeout: pymulproc's QueuesCommunicationError), %MPK_ERROR_TOO_BIG
 *   (over the queue's message size), %MPK_ERROR_TIMED_OUT, or a pipe's
 *   errors (%MPK_ERROR_PEER_CLOSED, ...)
 */
gboolean
mpk_protocol_send (MpkProtocol  *proto,
                   const char   *request,
                   GPid          sender_pid,
                   GPid          recipient_pid,
                   GVariant     *data,
                   gint64        timeout_us,
                   GError      **error)
{
  g_autoptr(MpkMessage) message = NULL;
  g_autoptr(GVariant) value = NULL;
  MpkWireHeader header;
  gint64 ts = 0;
  gboolean ok;

  g_return_val_if_fail (proto != NULL, FALSE);
  g_return_val_if_fail (request != NULL && *request != '\0', FALSE);
  g_return_val_if_fail (g_utf8_validate (request, -1, NULL), FALSE);
  g_return_val_if_fail (sender_pid >= 0 && recipient_pid >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (sender_pid == 0)
    sender_pid = (GPid) mpk__wire_pid ();
  if (data != NULL)
    g_variant_ref_sink (data);
  if (MPK__TRACING (MPK__TRACE_MSG))
    ts = mpk__trace_now ();
  if (proto->transport == TRANSPORT_PIPE)
    {
      message = mpk_message_new (request, sender_pid, recipient_pid, data);
      value = mpk_message_to_variant (message);
      ok = mpk__connection_send_header (proto->conn, value, timeout_us, &header, error);
    }
  else
    ok = mpk__mailbox_put (proto->box, request, sender_pid, recipient_pid, data, &header,
                           mpk__deadline_from_timeout (timeout_us), error);
  if (ok && MPK__TRACING (MPK__TRACE_MSG))
    {
      if (message == NULL)
        message = mpk_message_new (request, sender_pid, recipient_pid, data);
      trace_message (proto, "msg.send", MPK__TRACE_OUT, ts, &header, message);
    }
  if (data != NULL)
    g_variant_unref (data);
  return ok;
}

static MpkMessage *
received (MpkProtocol         *proto,
          MpkMessage          *message,
          const MpkWireHeader *header)
{
  if (MPK__TRACING (MPK__TRACE_MSG))
    trace_message (proto, "msg.receive", MPK__TRACE_IN, mpk__trace_now (), header, message);
  else if (MPK__TRACING (~0u))
    mpk__wire_clock_receive (header->clock);
  return message;
}

static void
trace_pipe_left (MpkProtocol *proto, const Pending *p)
{
  MpkTraceLine line;
  char id[48];

  mpk__trace_begin (&line, "msg.left", 0, 0);
  mpk__trace_add_object (&line, &proto->object);
  g_snprintf (id, sizeof id, "%u.%" G_GUINT64_FORMAT, p->header.pid, p->header.seq);
  mpk__trace_add_str (&line, "ref", id);
  mpk__message_trace_fields (&line, p->message);
  mpk__trace_end (&line);
}

static MpkMessage *
pipe_receive (MpkProtocol            *proto,
              const MpkMessageFilter *filter,
              GPid                    me,
              MpkDeadline             deadline,
              GError                **error)
{
  /* First what earlier receives left here, oldest first. */
  for (GList *l = proto->backlog.head; l != NULL; l = l->next)
    {
      Pending *p = l->data;

      if (mpk_message_filter_accepts (filter, p->message, me))
        {
          MpkMessage *message = p->message;

          g_queue_delete_link (&proto->backlog, l);
          received (proto, message, &p->header);
          g_free (p);
          return message;
        }
    }
  for (;;)
    {
      g_autoptr(GVariant) value = NULL;
      Pending *p;
      gint64 timeout_us = MPK_WAIT_FOREVER;

      if (deadline != MPK__DEADLINE_NEVER)
        timeout_us = MAX (0, deadline - g_get_monotonic_time ());
      p = g_new0 (Pending, 1);
      value = mpk__connection_recv_header (proto->conn, timeout_us, &p->header, error);
      if (value == NULL
          || (p->message = mpk_message_new_from_variant (value, error)) == NULL)
        {
          g_free (p);
          return NULL;
        }
      if (mpk_message_filter_accepts (filter, p->message, me))
        {
          MpkMessage *message = p->message;

          received (proto, message, &p->header);
          g_free (p);
          return message;
        }
      if (MPK__TRACING (MPK__TRACE_MSG))
        trace_pipe_left (proto, p);
      g_queue_push_tail (&proto->backlog, p);
    }
}

/**
 * mpk_protocol_receive:
 * @proto: (transfer none): a handle
 * @filter: (transfer none) (nullable): which messages to take; %NULL takes any
 * @timeout_us: how long to wait for a message @filter accepts, or
 *   %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Takes the first message @filter accepts, pymulproc's `receive(func,
 * block)`, waiting for one until the timeout. The others stay where they
 * are, in their order, for whoever they are for: a process sees the
 * messages it takes in the order they were sent (from one sender; in
 * arrival order from several). While nothing it accepts is there the
 * caller sleeps: a refused message costs one look per receive, however
 * long it waits. pymulproc's `block=False` is %MPK_NO_WAIT (a
 * %MPK_ERROR_TIMED_OUT where it returns `False`); its "tries a few times"
 * is the timeout. The filter's "me" is the caller's pid.
 *
 * Returns: (transfer full): the message; %NULL with %MPK_ERROR_TIMED_OUT
 *   (nothing accepted before the timeout), %MPK_ERROR_PROTOCOL (a
 *   malformed message, which is dropped: not 4 fields of the right types,
 *   see mpk_message_new_from_variant()), or a pipe's errors (%MPK_ERROR_EOF
 *   when the other end closed, ...)
 */
MpkMessage *
mpk_protocol_receive (MpkProtocol            *proto,
                      const MpkMessageFilter *filter,
                      gint64                  timeout_us,
                      GError                **error)
{
  MpkDeadline deadline;
  MpkWireHeader header;
  MpkMessage *message;
  GPid me = (GPid) mpk__wire_pid ();

  g_return_val_if_fail (proto != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  g_return_val_if_fail (filter == NULL || !(filter->match & MPK_MATCH_REQUEST)
                        || filter->request != NULL, NULL);

  deadline = mpk__deadline_from_timeout (timeout_us);
  if (proto->transport == TRANSPORT_PIPE)
    return pipe_receive (proto, filter, me, deadline, error);
  message = mpk__mailbox_take (proto->box, filter, me, &header, deadline, error);
  return message != NULL ? received (proto, message, &header) : NULL;
}

static gboolean
check_queue (MpkProtocol *proto, GError **error)
{
  if (proto->transport == TRANSPORT_QUEUE)
    return TRUE;
  g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "a protocol pipe has no queue operations");
  return FALSE;
}

/**
 * mpk_protocol_queue_empty:
 * @proto: (transfer none): a queue handle
 *
 * pymulproc's `queue_empty()`, exact: %TRUE when no message is queued,
 * whoever it is for. A message whose send returned is counted at once.
 *
 * Returns: %TRUE if the queue holds no message
 */
gboolean
mpk_protocol_queue_empty (MpkProtocol *proto)
{
  g_return_val_if_fail (proto != NULL, TRUE);
  g_return_val_if_fail (proto->transport == TRANSPORT_QUEUE, TRUE);
  return mpk__mailbox_count (proto->box, TRUE, 0) == 0;
}

/**
 * mpk_protocol_queue_size:
 * @proto: (transfer none): a queue handle
 *
 * Counts the messages queued, like `JoinableQueue.qsize()`, exactly.
 *
 * Returns: the messages queued now, for anybody
 */
guint
mpk_protocol_queue_size (MpkProtocol *proto)
{
  g_return_val_if_fail (proto != NULL, 0);
  g_return_val_if_fail (proto->transport == TRANSPORT_QUEUE, 0);
  return mpk__mailbox_count (proto->box, TRUE, 0);
}

/**
 * mpk_protocol_queue_count_for:
 * @proto: (transfer none): a queue handle
 * @recipient_pid: a pid, or %MPK_PID_NONE
 *
 * Counts the messages queued for one process: what a parent looks at
 * before it collects a dead child's mail (mpk_protocol_queue_collect()).
 *
 * Returns: the messages queued now whose recipient is @recipient_pid
 *   (with %MPK_PID_NONE: those for everybody)
 */
guint
mpk_protocol_queue_count_for (MpkProtocol *proto,
                              GPid         recipient_pid)
{
  g_return_val_if_fail (proto != NULL, 0);
  g_return_val_if_fail (proto->transport == TRANSPORT_QUEUE, 0);
  return mpk__mailbox_count (proto->box, FALSE, recipient_pid);
}

/**
 * mpk_protocol_queue_join_full:
 * @proto: (transfer none): a queue handle
 * @watch: (array length=n_watch) (transfer none) (nullable): processes whose death ends the
 *   wait while messages for them are queued
 * @n_watch: the length of @watch
 * @timeout_us: how long to wait, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Waits until every message sent has been received, pymulproc's
 * `queue_join()` (its JoinableQueue counts a task done when receive takes
 * a message, so "all done" means "all taken"). With @watch, a child that
 * ended while messages for it are still queued ends the wait with
 * %MPK_ERROR_PEER_DIED, instead of a wait that could never end;
 * mpk_protocol_queue_collect() then takes those messages out.
 *
 * Returns: %TRUE once the queue is empty; %FALSE with %MPK_ERROR_TIMED_OUT,
 *   %MPK_ERROR_PEER_DIED or %MPK_ERROR_INVALID (a pipe handle)
 */
gboolean
mpk_protocol_queue_join_full (MpkProtocol  *proto,
                              MpkProcess  **watch,
                              guint         n_watch,
                              gint64        timeout_us,
                              GError      **error)
{
  g_return_val_if_fail (proto != NULL, FALSE);
  g_return_val_if_fail (watch != NULL || n_watch == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_queue (proto, error))
    return FALSE;
  if (!mpk__mailbox_join (proto->box, watch, n_watch,
                          mpk__deadline_from_timeout (timeout_us), error))
    return FALSE;
  if (MPK__TRACING (MPK__TRACE_MSG))
    {
      MpkTraceLine line;

      /* Drawn "join queue#1": where the program learnt that all was taken. */
      mpk__trace_begin (&line, "msg.join", 0, 0);
      mpk__trace_add_object (&line, &proto->object);
      mpk__trace_end (&line);
    }
  return TRUE;
}

/**
 * mpk_protocol_queue_join:
 * @proto: (transfer none): a queue handle
 * @timeout_us: how long to wait, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * mpk_protocol_queue_join_full() without processes to watch.
 *
 * Returns: %TRUE once the queue is empty; %FALSE with @error set
 */
gboolean
mpk_protocol_queue_join (MpkProtocol  *proto,
                         gint64        timeout_us,
                         GError      **error)
{
  return mpk_protocol_queue_join_full (proto, NULL, 0, timeout_us, error);
}

/**
 * mpk_protocol_queue_collect:
 * @proto: (transfer none): a queue handle
 * @recipient_pid: the process whose messages to take (a child that died),
 *   or %MPK_PID_NONE for the messages for everybody
 * @error: return location for a #GError, or %NULL
 *
 * Takes every queued message for @recipient_pid out of the queue, in
 * order: what a parent does with the mail of a child that died, so that
 * queue_join() can return and it knows what was never delivered. Corrupt
 * messages are dropped.
 *
 * Returns: (transfer full) (element-type MpkMessage): the messages, maybe
 *   none; %NULL with %MPK_ERROR_INVALID (a pipe handle) or
 *   %MPK_ERROR_PROTOCOL (the queue is corrupt)
 */
GPtrArray *
mpk_protocol_queue_collect (MpkProtocol  *proto,
                            GPid          recipient_pid,
                            GError      **error)
{
  g_return_val_if_fail (proto != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_queue (proto, error))
    return NULL;
  return mpk__mailbox_collect (proto->box, recipient_pid, error);
}

/**
 * mpk_protocol_queue_get_n_recoveries:
 * @proto: (transfer none): a queue handle
 *
 * Counts the repairs of the queue's shared state: a process killed while it
 * held the queue's lock leaves it to the next one, which rebuilds the
 * queue from its slots (a message is there whole, or not at all).
 *
 * Returns: how many times the queue was repaired after a process died
 *   while it held the queue's lock
 */
guint
mpk_protocol_queue_get_n_recoveries (MpkProtocol *proto)
{
  g_return_val_if_fail (proto != NULL, 0);
  g_return_val_if_fail (proto->transport == TRANSPORT_QUEUE, 0);
  return mpk__mailbox_get_n_recoveries (proto->box);
}

MpkConnection *
mpk__protocol_get_connection_for_testing (MpkProtocol *proto)
{
  return proto->conn;
}

MpkMailbox *
mpk__protocol_get_mailbox_for_testing (MpkProtocol *proto)
{
  return proto->box;
}
