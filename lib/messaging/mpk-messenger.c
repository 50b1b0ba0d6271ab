/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-messenger.c: coproc's MultiMessenger and PriorityMessenger (seed 001):
 * channels, priorities, request/reply counting and the two special messages
 * (an error, a close request) over one duplex MpkConnection.
 *
 * Every message is one GVariant frame "(ymvdv)" (kind, channel, priority,
 * payload). Receiving moves whole frames from the pipe into per-channel
 * queues; what arrives behind a special message waits in a backlog until
 * that special has been reported, so a close request acts after the
 * messages sent before it. Sending never blocks while the peer is blocked
 * too: a frame that does not fit in the pipe keeps its tail here, and the
 * next call finishes it while reading what the peer sends. */
#include "mpk-messenger-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

/**
 * SECTION:mpk-messenger
 * @title: MpkMessenger
 * @short_description: channels, priorities, requests and replies over a pipe
 *
 * A messenger wraps one end of a duplex pipe, like coproc's messengers
 * (seed 001). Messengers come in pairs, one per process:
 * mpk_messenger_new_pair(), or a worker resource (#MpkWorker), which starts
 * a process with one side and keeps the other.
 *
 * **Channels.** Every data message travels on a channel: any #GVariant
 * (Python allows any hashable), or %NULL for the default channel, itself a
 * valid channel (Python's `None`). Two channels are the same when their
 * values are equal (g_variant_equal()), so `"A"` and `1` are different
 * channels, and so are the int32 1 and the int64 1.
 *
 * **Requests and replies.** mpk_messenger_send_request() counts a request on
 * its channel; the peer answers with mpk_messenger_send_reply(), and this
 * side counts the reply when a receive call hands it over, as coproc does.
 * mpk_messenger_remaining() is the difference, never negative: a reply that
 * answers no request is reported (%MPK_ERROR_PROTOCOL) and dropped.
 *
 * **Priorities.** A %MPK_MESSENGER_PRIORITY messenger hands over each
 * channel's messages lowest priority value first, equal priorities in the
 * order they were sent; a message sent without a priority
 * (%MPK_PRIORITY_NONE) comes last. A %MPK_MESSENGER_FIFO messenger keeps
 * the order of arrival.
 *
 * **Special messages.** mpk_messenger_send_error() and
 * mpk_messenger_send_close_request() bypass the channels. The peer's next
 * receive call that has nothing to hand over from before them fails with
 * the error that was sent (its domain, code and message) or with
 * %MPK_ERROR_CLOSE_REQUESTED; each is reported once. Messages sent before a
 * special message are never lost behind it: a receive on their channel
 * still hands them over first (coproc drops them).
 *
 * **The peer's end.** When the peer closes its end or dies (or, for a
 * worker's host side, when the worker process ends), every receive call
 * hands over what had arrived and then fails with %MPK_ERROR_PEER_CLOSED.
 * Every call that can block takes a timeout.
 *
 * **Never deadlocked by full pipes.** Two processes that send to each other
 * at once can fill both directions of a pipe and block for ever, each in
 * its send (coproc does, with a batch of large requests to an echo worker).
 * A messenger's send never waits for room without reading: while the pipe
 * is full it moves what the peer sent into its queues, and a frame that did
 * not fit keeps its tail in the messenger, written by the next call. So a
 * send returns once its message is in the pipe or (the rest of it) waiting
 * here; mpk_messenger_flush() waits until it has left.
 *
 * A messenger is used by one thread at a time.
 */

/* A message waiting in a channel's queue. */
typedef struct
{
  GVariant *payload;
  gdouble   priority;
  guint64   order;       /* arrival number: equal priorities keep their order */
  guint8    kind;        /* MpkMessengerWireKind: a data kind */
  guint32   pid;         /* the frame's id and size, for the tracer */
  guint64   seq;
  guint64   bytes;
  guint64   number;      /* a request's number on its channel, for the tracer */
} Item;

/* A channel: its queue and its counters (coproc's RequestCtr). */
typedef struct
{
  GVariant  *key;              /* NULL for the default channel */
  GQueue     fifo;             /* Item*: a FIFO messenger's queue */
  GPtrArray *heap;             /* Item*: a priority messenger's binary heap */
  guint64    requests_sent;
  guint64    replies_received;  /* replies handed to the caller */
  guint64    messages_sent;
  guint64    messages_received; /* data messages handed to the caller */
  guint64    replies_arrived;   /* replies read from the pipe (the check for unsolicited ones) */
  guint64    replies_queued;    /* replies in this channel's queue now */
  guint64    requests_arrived;  /* numbers received requests in the trace */
} Channel;

/* What arrived behind a special message: data for a channel, or a special
 * message (an error to report). The backlog's head is always a special. */
typedef struct
{
  Channel *channel;   /* data: the channel of @item */
  Item    *item;
  GError  *special;   /* a special message's error */
  gboolean traced;    /* @special came from the peer as a message: record its receipt */
  guint32  pid;
  guint64  seq;
  guint64  bytes;
} Pending;

struct _MpkMessenger
{
  MpkObjectHeader  object;     /* the tracer's id, shared by both sides of a pair */
  MpkConnection   *conn;
  int              fd;
  MpkMessengerKind kind;
  Channel         *default_channel;
  GHashTable      *channels;   /* GVariant* (normal form) -> Channel*, not the default */
  GQueue           backlog;    /* Pending*, in arrival order */
  gsize            n_queued;   /* items in every channel's queue */
  guint64          arrivals;   /* messages received so far: Item.order */
  guint8          *out;        /* the unsent tail of the last frame: [out_pos, out_len) */
  gsize            out_pos;
  gsize            out_len;
  gsize            out_alloc;
  GError          *gone;       /* set once the peer's end is gone: every receive reports it */
  MpkProcess      *peer;       /* not owned: a worker's process, watched for its end */
  gboolean         peer_ended;
  gboolean         readable;   /* the last wait saw the descriptor readable */
};

#define TRACING_MSG() MPK__TRACING (MPK__TRACE_MSG)

/* --- channels ------------------------------------------------------------ */

static guint
channel_hash (gconstpointer key)
{
  GVariant *value = (GVariant *) key;
  const guint8 *data = g_variant_get_data (value);
  gsize size = g_variant_get_size (value);
  guint hash = g_str_hash (g_variant_get_type_string (value));

  for (gsize i = 0; i < size; i++)
    hash = hash * 31 + data[i];
  return hash;
}

static Item *
item_new (GVariant *payload, gdouble priority, guint8 kind)
{
  Item *item = g_slice_new0 (Item);

  item->payload = payload;
  item->priority = priority;
  item->kind = kind;
  return item;
}

static void
item_free (Item *item)
{
  g_clear_pointer (&item->payload, g_variant_unref);
  g_slice_free (Item, item);
}

static Channel *
channel_new (GVariant *key, MpkMessengerKind kind)
{
  Channel *ch = g_new0 (Channel, 1);

  ch->key = key;
  g_queue_init (&ch->fifo);
  if (kind == MPK_MESSENGER_PRIORITY)
    ch->heap = g_ptr_array_new ();
  return ch;
}

static void
channel_free (gpointer data)
{
  Channel *ch = data;

  g_queue_clear_full (&ch->fifo, (GDestroyNotify) item_free);
  if (ch->heap != NULL)
    {
      for (guint i = 0; i < ch->heap->len; i++)
        item_free (g_ptr_array_index (ch->heap, i));
      g_ptr_array_unref (ch->heap);
    }
  g_clear_pointer (&ch->key, g_variant_unref);
  g_free (ch);
}

static gsize
channel_len (const Channel *ch)
{
  return ch->heap != NULL ? ch->heap->len : ch->fifo.length;
}

/* Whether @a goes before @b: the lower priority, then the earlier arrival. */
static inline gboolean
item_before (const Item *a, const Item *b)
{
  return a->priority < b->priority || (a->priority == b->priority && a->order < b->order);
}

static void
heap_push (GPtrArray *heap, Item *item)
{
  guint i = heap->len;

  g_ptr_array_add (heap, item);
  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (!item_before (item, heap->pdata[parent]))
        break;
      heap->pdata[i] = heap->pdata[parent];
      i = parent;
    }
  heap->pdata[i] = item;
}

static Item *
heap_pop (GPtrArray *heap)
{
  Item *top = heap->pdata[0];
  Item *last = heap->pdata[heap->len - 1];
  guint n = heap->len - 1, i = 0;

  g_ptr_array_set_size (heap, n);
  if (n == 0)
    return top;
  for (;;)
    {
      guint child = 2 * i + 1;

      if (child >= n)
        break;
      if (child + 1 < n && item_before (heap->pdata[child + 1], heap->pdata[child]))
        child++;
      if (!item_before (heap->pdata[child], last))
        break;
      heap->pdata[i] = heap->pdata[child];
      i = child;
    }
  heap->pdata[i] = last;
  return top;
}

/* The channel named @key (NULL: the default one), created when @create. A
 * floating @key is not sunk here: the public calls do that. */
static Channel *
channel_lookup (MpkMessenger *m, GVariant *key, gboolean create)
{
  g_autoptr(GVariant) normal = NULL;
  Channel *ch;

  if (key == NULL)
    return m->default_channel;
  /* Equal values have equal bytes only in normal form; GLib's own values
   * and every received one are, so this costs nothing for them. */
  normal = g_variant_is_normal_form (key) ? g_variant_ref (key)
                                          : g_variant_ref_sink (g_variant_get_normal_form (key));
  ch = g_hash_table_lookup (m->channels, normal);
  if (ch == NULL && create)
    {
      ch = channel_new (g_variant_ref (normal), m->kind);
      g_hash_table_insert (m->channels, ch->key, ch);
    }
  return ch;
}

/* Puts @item in @ch's queue. */
static void
channel_put (MpkMessenger *m, Channel *ch, Item *item)
{
  if (ch->heap != NULL)
    heap_push (ch->heap, item);
  else
    g_queue_push_tail (&ch->fifo, item);
  if (item->kind == MPK__MESSENGER_REPLY)
    ch->replies_queued++;
  m->n_queued++;
}

/* --- the tracer's words ---------------------------------------------------- */

/* The type words of the library's summaries, dropped from a payload's:
 * the diagram reads "A: 'hello'", not "A: str 'hello'". */
static const char *
summary_without_type (const char *sum)
{
  static const char *const words[] = {
    "tuple ", "int ", "float ", "bool ", "str ", "array ", "dict ",
  };

  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (g_str_has_prefix (sum, words[i]))
      return sum + strlen (words[i]);
  return sum;
}

/* What a message is, in the diagram's words: "A: 'hello'", "request #2: 1",
 * "reply: 1", "p0 'high 0'" (sent with priority 0). */
static char *
describe_data (guint8 kind, GVariant *channel, GVariant *payload, gdouble priority,
               guint64 number)
{
  GString *text = g_string_new (NULL);
  char sum[256];

  if (channel != NULL)
    {
      if (g_variant_is_of_type (channel, G_VARIANT_TYPE_STRING))
        g_string_append_printf (text, "%.24s: ", g_variant_get_string (channel, NULL));
      else
        {
          mpk__trace_summarize (channel, sum, sizeof sum);
          g_string_append_printf (text, "%s: ", summary_without_type (sum));
        }
    }
  /* First, so that a diagram's shortened label still shows it. */
  if (!isinf (priority) || priority < 0)
    g_string_append_printf (text, "p%g ", priority);
  if (kind == MPK__MESSENGER_REQUEST)
    g_string_append_printf (text, "request #%" G_GUINT64_FORMAT ": ", number);
  else if (kind == MPK__MESSENGER_REPLY)
    g_string_append (text, "reply: ");
  mpk__trace_summarize (payload, sum, sizeof sum);
  g_string_append (text, summary_without_type (sum));
  return g_string_free (text, FALSE);
}

static char *
describe_special (const GError *error)
{
  if (g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED))
    return g_strdup ("close request");
  return g_strdup_printf ("error: %s", error->message);
}

/* Records "messenger.send" or "messenger.recv": a message like a pipe's,
 * whose arrow the diagram labels with @sum. A receipt is recorded when the
 * message is handed to the caller, so a priority messenger's arrows cross:
 * the order they leave in is the lesson. */
static void
trace_message (MpkMessenger *m, MpkTraceDirection dir, guint32 pid, guint64 seq,
               guint64 bytes, gint64 ts, guint64 lc, const char *sum)
{
  MpkTraceLine line;
  char id[48];

  g_snprintf (id, sizeof id, "%u.%" G_GUINT64_FORMAT, pid, seq);
  mpk__trace_begin (&line, dir == MPK__TRACE_OUT ? "messenger.send" : "messenger.recv", ts, lc);
  mpk__trace_add_object (&line, &m->object);
  mpk__trace_add_str (&line, "dir", dir == MPK__TRACE_OUT ? "out" : "in");
  mpk__trace_add_str (&line, "msg", id);
  mpk__trace_add_int (&line, "bytes", (gint64) bytes);
  mpk__trace_add_str (&line, "sum", sum);
  mpk__trace_end (&line);
}

/* --- the wire form ------------------------------------------------------------ */

/* A message as it travels: (kind, channel or Nothing, priority, payload),
 * built child by child (no format string to parse on every send).
 * @channel and @payload: a floating reference is sunk. */
static GVariant *
wire_message (guint8 kind, GVariant *channel, gdouble priority, GVariant *payload)
{
  GVariant *children[4];

  children[0] = g_variant_new_byte (kind);
  children[1] = g_variant_new_maybe (G_VARIANT_TYPE_VARIANT,
                                     channel != NULL ? g_variant_new_variant (channel) : NULL);
  children[2] = g_variant_new_double (priority);
  children[3] = g_variant_new_variant (payload);
  return g_variant_new_tuple (children, 4);
}

/* --- decoding ---------------------------------------------------------------- */

void
mpk__messenger_decoded_clear (MpkMessengerDecoded *decoded)
{
  g_clear_pointer (&decoded->channel, g_variant_unref);
  g_clear_pointer (&decoded->payload, g_variant_unref);
  g_clear_pointer (&decoded->domain, g_free);
  g_clear_pointer (&decoded->message, g_free);
}

static gboolean
protocol_error (GError **error, const char *why)
{
  g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "bad messenger message: %s", why);
  return FALSE;
}

gboolean
mpk__messenger_decode (GVariant            *frame,
                       MpkMessengerDecoded *out,
                       GError             **error)
{
  g_autoptr(GVariant) maybe = NULL;
  g_autoptr(GVariant) payload = NULL;
  g_autoptr(GVariant) kind_v = NULL;
  g_autoptr(GVariant) priority_v = NULL;
  guint8 kind;
  gdouble priority;

  memset (out, 0, sizeof *out);
  if (!g_variant_is_of_type (frame, G_VARIANT_TYPE (MPK__MESSENGER_WIRE_TYPE)))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad messenger message: type %s, not " MPK__MESSENGER_WIRE_TYPE,
                   g_variant_get_type_string (frame));
      return FALSE;
    }
  /* Child by child: cheaper than parsing a format string per message. */
  kind_v = g_variant_get_child_value (frame, 0);
  maybe = g_variant_get_child_value (frame, 1);
  priority_v = g_variant_get_child_value (frame, 2);
  payload = g_variant_get_child_value (frame, 3);
  kind = g_variant_get_byte (kind_v);
  priority = g_variant_get_double (priority_v);
  if (kind > MPK__MESSENGER_CLOSE)
    return protocol_error (error, "unknown kind");
  if (isnan (priority))
    return protocol_error (error, "the priority is not a number");
  if (kind == MPK__MESSENGER_ERROR || kind == MPK__MESSENGER_CLOSE)
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (payload);

      if (g_variant_n_children (maybe) != 0)
        return protocol_error (error, "a special message on a channel");
      if (kind == MPK__MESSENGER_CLOSE)
        {
          if (!g_variant_is_of_type (inner, G_VARIANT_TYPE_UNIT))
            return protocol_error (error, "a close request with a payload");
        }
      else
        {
          const char *domain, *message;
          gint32 code;

          if (!g_variant_is_of_type (inner, G_VARIANT_TYPE ("(sis)")))
            return protocol_error (error, "an error that is not (domain, code, message)");
          g_variant_get (inner, "(&si&s)", &domain, &code, &message);
          if (*domain == '\0' || strlen (domain) > MPK__MESSENGER_MAX_DOMAIN)
            return protocol_error (error, "an error domain that is empty or too long");
          out->domain = g_strdup (domain);
          out->code = code;
          out->message = g_strdup (message);
        }
    }
  else
    {
      if (g_variant_n_children (maybe) == 1)
        {
          g_autoptr(GVariant) boxed = g_variant_get_child_value (maybe, 0);
          out->channel = g_variant_get_variant (boxed);
        }
      out->payload = g_variant_get_variant (payload);
    }
  out->kind = kind;
  out->priority = priority;
  return TRUE;
}

/* --- receiving: from the pipe into the queues ----------------------------- */

/* Appends @pending to the backlog (a special, or data behind one). */
static void
backlog_push (MpkMessenger *m, Pending *pending)
{
  g_queue_push_tail (&m->backlog, pending);
}

static void
push_special (MpkMessenger *m, GError *special, const MpkWireHeader *header, gboolean traced)
{
  Pending *p = g_new0 (Pending, 1);

  p->special = special;
  p->traced = traced && header != NULL;
  if (header != NULL)
    {
      p->pid = header->pid;
      p->seq = header->seq;
      p->bytes = header->length;
    }
  backlog_push (m, p);
}

/* One frame from the pipe: into its channel's queue, or behind a pending
 * special message, or a special itself. */
static void
arrive (MpkMessenger *m, GVariant *frame, const MpkWireHeader *header)
{
  MpkMessengerDecoded d;
  GError *local = NULL;
  Channel *ch;
  Item *item;

  if (!mpk__messenger_decode (frame, &d, &local))
    {
      push_special (m, local, header, FALSE);
      return;
    }
  if (d.kind == MPK__MESSENGER_ERROR)
    {
      /* The domain may be one this process has not registered yet (GLib's
       * error quarks are made on first use): make it, so it matches. */
      push_special (m, g_error_new_literal (g_quark_from_string (d.domain), d.code, d.message),
                    header, TRUE);
      mpk__messenger_decoded_clear (&d);
      return;
    }
  if (d.kind == MPK__MESSENGER_CLOSE)
    {
      push_special (m, g_error_new_literal (MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED,
                                            "the peer requested that this side close"),
                    header, TRUE);
      return;
    }
  ch = channel_lookup (m, d.channel, TRUE);
  if (d.kind == MPK__MESSENGER_REPLY)
    {
      if (ch->replies_arrived >= ch->requests_sent)
        {
          g_autofree char *label = d.channel != NULL ? g_variant_print (d.channel, FALSE)
                                                     : g_strdup ("the default channel");

          push_special (m, g_error_new (MPK_ERROR, MPK_ERROR_PROTOCOL,
                                        "a reply on %.64s answers no request (%" G_GUINT64_FORMAT
                                        " sent, all answered): it was discarded", label,
                                        ch->requests_sent),
                        header, FALSE);
          mpk__messenger_decoded_clear (&d);
          return;
        }
      ch->replies_arrived++;
    }
  item = item_new (g_steal_pointer (&d.payload), m->kind == MPK_MESSENGER_PRIORITY ? d.priority : 0,
                   d.kind);
  item->order = m->arrivals++;
  item->pid = header->pid;
  item->seq = header->seq;
  item->bytes = header->length;
  if (d.kind == MPK__MESSENGER_REQUEST)
    item->number = ++ch->requests_arrived;
  mpk__messenger_decoded_clear (&d);
  if (g_queue_is_empty (&m->backlog))
    channel_put (m, ch, item);
  else
    {
      Pending *p = g_new0 (Pending, 1);

      p->channel = ch;
      p->item = item;
      backlog_push (m, p);
    }
}

/* The peer's end is gone (or the stream cannot be read any more): from now
 * on every receive with nothing to hand over reports @why. */
static void
set_gone (MpkMessenger *m, GError *why)
{
  if (m->gone == NULL)
    m->gone = why;
  else
    g_error_free (why);
}

static void
set_gone_from_recv (MpkMessenger *m, GError *local)
{
  if (mpk_connection_is_closed (m->conn))
    set_gone (m, g_error_new_literal (MPK_ERROR, MPK_ERROR_CLOSED,
                                      "the messenger's connection was closed by this process"));
  else if (g_error_matches (local, MPK_ERROR, MPK_ERROR_CLOSED))
    set_gone (m, g_error_new (MPK_ERROR, MPK_ERROR_PROTOCOL,
                              "the pipe cannot be read after a bad frame (%s)", local->message));
  else
    set_gone (m, g_error_new (MPK_ERROR, MPK_ERROR_PEER_CLOSED,
                              "the peer closed its end (%s)", local->message));
  g_error_free (local);
}

/* Reads every whole frame the pipe holds, without blocking. @readable: the
 * caller has just seen the descriptor readable (a poll), so the first read
 * needs no poll of its own. */
static void
pump_in (MpkMessenger *m, gboolean readable)
{
  /* Called after a wait that saw the descriptor readable: one read (it
   * takes up to 64 KiB, normally all there is), then the whole frames it
   * buffered; the next wait sees anything more. Otherwise: read until the
   * pipe has nothing, asking it first each time. */
  gboolean drain = !readable;

  while (m->gone == NULL)
    {
      GError *local = NULL;
      MpkWireHeader header;
      GVariant *frame;
      gboolean buffered;
      int fd = mpk__connection_wait_fd (m->conn, &buffered);

      /* A whole frame in the connection's buffer is taken without a
       * syscall; otherwise ask the descriptor first (no error to make and
       * free when nothing is there, the common case). */
      if (!buffered && fd >= 0 && !readable)
        {
          struct pollfd pfd = { .fd = fd, .events = POLLIN };

          if (!drain || mpk__poll (&pfd, 1, g_get_monotonic_time ()) <= 0)
            return;
        }
      if (!buffered)
        readable = FALSE;
      frame = mpk__connection_recv_header (m->conn, MPK_NO_WAIT, &header, &local);
      if (frame == NULL)
        {
          if (g_error_matches (local, MPK_ERROR, MPK_ERROR_TIMED_OUT))
            {
              g_error_free (local);    /* part of a frame: the rest comes later */
              return;
            }
          if (g_error_matches (local, MPK_ERROR, MPK_ERROR_PROTOCOL)
              || g_error_matches (local, MPK_ERROR, MPK_ERROR_TOO_BIG))
            {
              /* A bad message is reported in its place; a bad frame header
               * also shuts the connection for reading, which the next
               * receive turns into the end of the stream. */
              push_special (m, local, NULL, FALSE);
              continue;
            }
          set_gone_from_recv (m, local);
          return;
        }
      arrive (m, frame, &header);
      g_variant_unref (frame);
    }
}

/* --- sending: frames that never wait for room without reading ----------- */

static gboolean
send_failed (MpkMessenger *m, int saved_errno, GError **error)
{
  /* The tail can never go out now. */
  m->out_pos = m->out_len = 0;
  if (saved_errno == EPIPE || saved_errno == ECONNRESET)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED,
                           "send: the peer closed its end of the messenger's pipe");
      return FALSE;
    }
  return mpk__set_error_from_errno (error, saved_errno, "send");
}

/* Writes what the pipe takes of the waiting tail, without blocking. */
static gboolean
out_try (MpkMessenger *m, GError **error)
{
  while (m->out_pos < m->out_len)
    {
      gssize n = send (m->fd, m->out + m->out_pos, m->out_len - m->out_pos,
                       MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n > 0)
        {
          m->out_pos += n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      return send_failed (m, n < 0 ? errno : EPIPE, error);
    }
  m->out_pos = m->out_len = 0;
  return TRUE;
}

static gboolean
peer_ended_error (MpkMessenger *m, GError **error)
{
  g_set_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED, "the peer process %s ended",
               m->peer != NULL ? mpk_process_get_name (m->peer) : "");
  return FALSE;
}

/* After a wait: the watched process's end makes the peer gone, once what it
 * left in the pipe has been read. */
static void
after_wait (MpkMessenger *m)
{
  GError *local = NULL;
  gboolean readable = m->readable;

  /* The wait may have been for room: write what waits, then read. */
  if (!out_try (m, &local))
    g_error_free (local);   /* the pipe's end shows on the reading side too */
  m->readable = FALSE;
  pump_in (m, readable);
  if (m->peer_ended && m->gone == NULL)
    {
      GError *why = NULL;

      peer_ended_error (m, &why);
      set_gone (m, why);
    }
}

gboolean
mpk__messenger_wait (MpkMessenger *m,
                     MpkDeadline   deadline,
                     GError      **error)
{
  struct pollfd fds[2];
  nfds_t n = 0;
  gboolean ready;
  int fd, rc;

  fd = mpk__connection_wait_fd (m->conn, &ready);
  if (ready || fd < 0)
    return TRUE;     /* a frame is buffered, or the connection is shut: the receive says */
  fds[n].fd = fd;
  fds[n].events = POLLIN | (m->out_pos < m->out_len ? POLLOUT : 0);
  fds[n++].revents = 0;
  if (m->peer != NULL && !m->peer_ended)
    {
      int sfd = mpk__process_wait_fd (m->peer);

      if (sfd >= 0)
        {
          fds[n].fd = sfd;
          fds[n].events = POLLIN;
          fds[n++].revents = 0;
        }
    }
  rc = mpk__poll (fds, n, deadline);
  if (rc < 0)
    return mpk__set_error_from_errno (error, errno, "poll");
  if (rc == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT, "messenger: timed out");
      return FALSE;
    }
  if (n == 2 && fds[1].revents != 0)
    m->peer_ended = TRUE;
  m->readable = (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  return TRUE;
}

/* Writes the waiting tail by @deadline, reading meanwhile what the peer
 * sends, so that two messengers sending to each other both progress. */
static gboolean
flush_until (MpkMessenger *m, MpkDeadline deadline, GError **error)
{
  for (;;)
    {
      if (!out_try (m, error))
        return FALSE;
      if (m->out_pos == m->out_len)
        return TRUE;
      pump_in (m, FALSE);
      if (m->peer_ended)
        return peer_ended_error (m, error);
      if (!mpk__messenger_wait (m, deadline, error))
        return FALSE;
    }
}

/* Sends one frame: as much as the pipe takes now, the rest kept as the
 * tail (the caller has flushed the previous one). */
static gboolean
write_frame (MpkMessenger *m, MpkWireOutgoing *out, GError **error)
{
  guint8 head[MPK__WIRE_HEADER_SIZE];
  struct iovec iov[3] = {
    { head, sizeof head },
    { (gpointer) out->type, out->type_len },
    { (gpointer) out->data, out->size },
  };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
  gsize total = sizeof head + out->type_len + out->size, done;
  gssize n;

  mpk__wire_encode_header (&out->header, head);
  do
    n = sendmsg (m->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return send_failed (m, errno, error);
  done = MAX (n, 0);
  if (done == total)
    return TRUE;
  /* Keep the rest: the next call on this messenger writes it. */
  if (m->out_alloc < total - done)
    {
      m->out_alloc = total - done;
      g_free (m->out);
      m->out = g_malloc (m->out_alloc);
    }
  m->out_pos = 0;
  m->out_len = 0;
  for (guint i = 0; i < 3; i++)
    {
      gsize skip = MIN (done, iov[i].iov_len);

      memcpy (m->out + m->out_len, (guint8 *) iov[i].iov_base + skip, iov[i].iov_len - skip);
      m->out_len += iov[i].iov_len - skip;
      done -= skip;
    }
  return TRUE;
}

/* Sends one message: @frame (sunk) with @sum for the tracer (built only
 * when tracing, by @describe). */
static gboolean
send_frame (MpkMessenger *m, GVariant *frame, MpkDeadline deadline, char *(*describe) (gpointer),
            gpointer describe_data_, GError **error)
{
  MpkWireOutgoing out;
  gint64 ts = 0;
  gboolean ok;

  if (!mpk__wire_outgoing_init (&out, frame, error))
    return FALSE;
  ok = flush_until (m, deadline, error);
  if (ok && TRACING_MSG ())
    ts = mpk__trace_now ();   /* before the write: the receiver reads after it */
  ok = ok && write_frame (m, &out, error);
  if (ok && TRACING_MSG ())
    {
      g_autofree char *sum = describe (describe_data_);

      trace_message (m, MPK__TRACE_OUT, out.header.pid, out.header.seq, out.header.length, ts,
                     out.header.clock, sum);
    }
  mpk__wire_outgoing_clear (&out);
  return ok;
}

/* --- creating and freeing ----------------------------------------------- */

static MpkMessenger *
messenger_new (MpkConnection *conn, MpkMessengerKind kind)
{
  MpkMessenger *m = g_new0 (MpkMessenger, 1);

  mpk__trace_object_init (&m->object, MPK__OBJECT_CONNECTION);
  m->conn = conn;
  m->fd = mpk_connection_fileno (conn, NULL);
  m->kind = kind;
  m->default_channel = channel_new (NULL, kind);
  m->channels = g_hash_table_new_full (channel_hash, g_variant_equal, NULL, channel_free);
  g_queue_init (&m->backlog);
  /* The messenger records its own events (messenger.send/recv); the pipe's
   * would repeat them with the same message ids. */
  mpk__connection_set_request_reply (conn);
  return m;
}

/**
 * mpk_messenger_new:
 * @conn: (transfer full): one end of a duplex pipe (mpk_pipe_new() with
 *   @duplex %TRUE); the messenger owns it from now on, even on failure
 * @kind: %MPK_MESSENGER_FIFO or %MPK_MESSENGER_PRIORITY
 * @error: return location for a #GError, or %NULL
 *
 * Wraps @conn, like coproc's `PriorityMessenger(pipe)`. The peer needs a
 * messenger on the other end. Use only the messenger from now on: what it
 * sends and reads would be mixed up with the connection's own calls.
 *
 * Returns: (transfer full) (nullable): the messenger, free with
 *   mpk_messenger_free(); %NULL with %MPK_ERROR_INVALID when @conn is not
 *   an open, readable and writable socket, or %MPK_ERROR_CLOSED
 */
MpkMessenger *
mpk_messenger_new (MpkConnection     *conn,
                   MpkMessengerKind   kind,
                   GError           **error)
{
  struct stat st;
  int fd;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (kind == MPK_MESSENGER_FIFO || kind == MPK_MESSENGER_PRIORITY, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fd = mpk_connection_fileno (conn, error);
  if (fd < 0)
    {
      mpk_connection_free (conn);
      return NULL;
    }
  if (!mpk_connection_is_readable (conn) || !mpk_connection_is_writable (conn)
      || fstat (fd, &st) < 0 || !S_ISSOCK (st.st_mode))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "a messenger needs a duplex connection over a socket "
                           "(mpk_pipe_new (TRUE, ...))");
      mpk_connection_free (conn);
      return NULL;
    }
  return messenger_new (conn, kind);
}

/**
 * mpk_messenger_new_pair:
 * @kind: %MPK_MESSENGER_FIFO or %MPK_MESSENGER_PRIORITY, for both sides
 * @side1: (out) (transfer full): one side (coproc: the process's)
 * @side2: (out) (transfer full): the other side (coproc: the resource's)
 * @error: return location for a #GError, or %NULL
 *
 * Creates two messengers over one new duplex pipe, like coproc's
 * `PriorityMessenger.new_pair()`. Create them before starting the process
 * that uses one side; each process then frees the side it does not use
 * (#MpkWorker does all of this).
 *
 * Returns: %TRUE on success; %FALSE with @error set (the pipe could not be
 *   made)
 */
gboolean
mpk_messenger_new_pair (MpkMessengerKind   kind,
                        MpkMessenger     **side1,
                        MpkMessenger     **side2,
                        GError           **error)
{
  MpkConnection *a, *b;

  g_return_val_if_fail (kind == MPK_MESSENGER_FIFO || kind == MPK_MESSENGER_PRIORITY, FALSE);
  g_return_val_if_fail (side1 != NULL && side2 != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mpk_pipe_new (TRUE, &a, &b, error))
    return FALSE;
  *side1 = messenger_new (a, kind);
  *side2 = messenger_new (b, kind);
  (*side2)->object = (*side1)->object;   /* one pipe, one name in the trace */
  return TRUE;
}

static void
messenger_destroy (MpkMessenger *m)
{
  Pending *p;

  while ((p = g_queue_pop_head (&m->backlog)) != NULL)
    {
      if (p->item != NULL)
        item_free (p->item);
      g_clear_error (&p->special);
      g_free (p);
    }
  channel_free (m->default_channel);
  g_hash_table_unref (m->channels);
  g_clear_error (&m->gone);
  g_free (m->out);
  mpk_connection_free (m->conn);
  g_free (m);
}

/**
 * mpk_messenger_free:
 * @messenger: (nullable) (transfer full): a #MpkMessenger
 *
 * Closes the messenger's end of the pipe and frees it, with every message
 * it still holds. The tail of a message that did not fit into the pipe is
 * written if the pipe takes it at once, else dropped (the peer then sees a
 * truncated message): call mpk_messenger_flush() first to be sure.
 */
void
mpk_messenger_free (MpkMessenger *messenger)
{
  if (messenger == NULL)
    return;
  out_try (messenger, NULL);
  messenger_destroy (messenger);
}

void
mpk__messenger_discard (MpkMessenger *messenger)
{
  if (messenger != NULL)
    messenger_destroy (messenger);
}

void
mpk__messenger_watch_process (MpkMessenger *messenger,
                              MpkProcess   *process)
{
  messenger->peer = process;
  messenger->peer_ended = FALSE;
}

void
mpk__messenger_peer_ended (MpkMessenger *messenger)
{
  messenger->peer_ended = TRUE;
  after_wait (messenger);
  messenger->peer = NULL;
}

void
mpk__messenger_pump (MpkMessenger *messenger)
{
  GError *local = NULL;

  if (!out_try (messenger, &local))
    g_error_free (local);     /* the receive side learns of it from the pipe */
  pump_in (messenger, FALSE);
}

/**
 * mpk_messenger_get_kind:
 * @messenger: (transfer none): a #MpkMessenger
 *
 * The kind @messenger was made with: whether each channel hands over its
 * messages in arrival order or by priority. The receiving side's kind
 * decides; mpk_messenger_new_pair() gives both sides the same kind.
 *
 * Returns: how @messenger orders each channel's messages
 */
MpkMessengerKind
mpk_messenger_get_kind (MpkMessenger *messenger)
{
  g_return_val_if_fail (messenger != NULL, MPK_MESSENGER_FIFO);
  return messenger->kind;
}

/**
 * mpk_messenger_get_connection:
 * @messenger: (transfer none): a #MpkMessenger
 *
 * The connection under @messenger, coproc's `messenger.pipe`: to look at
 * (mpk_connection_fileno() for a main loop), not to send or receive on.
 *
 * Returns: (transfer none): the connection, owned by @messenger
 */
MpkConnection *
mpk_messenger_get_connection (MpkMessenger *messenger)
{
  g_return_val_if_fail (messenger != NULL, NULL);
  return messenger->conn;
}

/* --- sending ------------------------------------------------------------- */

typedef struct
{
  guint8    kind;
  GVariant *channel;
  GVariant *payload;
  gdouble   priority;
  guint64   number;
} DataWords;

static char *
describe_sent_data (gpointer data)
{
  DataWords *w = data;

  return describe_data (w->kind, w->channel, w->payload, w->priority, w->number);
}

/**
 * mpk_messenger_send_full:
 * @messenger: (transfer none): a #MpkMessenger
 * @what: a plain message, a request or a reply
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @payload: (transfer none): the message; a floating reference is sunk
 * @priority: where the message goes in a priority messenger's queue (lower
 *   values first), or %MPK_PRIORITY_NONE (last); never NaN
 * @timeout_us: how long to wait while the pipe is full: microseconds, or
 *   %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Sends @payload on @channel, coproc's `send_norequest`, `send_request` or
 * `send_reply` with a message that has a `priority` attribute. A request
 * counts towards mpk_messenger_remaining() on @channel.
 *
 * The call returns once the message is in the pipe, or the part that did
 * not fit waits in @messenger (see the section's "Never deadlocked"). It
 * waits only while an earlier message's tail has not left, reading what
 * the peer sends meanwhile.
 *
 * Returns: %TRUE on success; %FALSE with %MPK_ERROR_TIMED_OUT (nothing of
 *   this message was sent), %MPK_ERROR_PEER_CLOSED (the peer's end is
 *   gone), %MPK_ERROR_INVALID (a type string over 255 characters), ...
 */
gboolean
mpk_messenger_send_full (MpkMessenger      *messenger,
                         MpkMessengerSend   what,
                         GVariant          *channel,
                         GVariant          *payload,
                         gdouble            priority,
                         gint64             timeout_us,
                         GError           **error)
{
  g_autoptr(GVariant) ch_key = NULL;
  g_autoptr(GVariant) data = NULL;
  MpkDeadline deadline = mpk__deadline_from_timeout (timeout_us);
  DataWords words;
  Channel *ch;
  guint8 kind;

  g_return_val_if_fail (messenger != NULL, FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);
  g_return_val_if_fail (what <= MPK_MESSENGER_SEND_REPLY, FALSE);
  g_return_val_if_fail (!isnan (priority), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ch_key = channel != NULL ? g_variant_ref_sink (channel) : NULL;
  data = g_variant_ref_sink (payload);
  kind = what == MPK_MESSENGER_SEND_REQUEST ? MPK__MESSENGER_REQUEST
         : what == MPK_MESSENGER_SEND_REPLY ? MPK__MESSENGER_REPLY : MPK__MESSENGER_NOREQUEST;
  ch = channel_lookup (messenger, ch_key, TRUE);
  words = (DataWords) { kind, ch_key, data, priority, ch->requests_sent + 1 };
  if (!send_frame (messenger, wire_message (kind, ch_key, priority, data), deadline,
                   describe_sent_data, &words, error))
    return FALSE;
  if (kind == MPK__MESSENGER_REQUEST)
    ch->requests_sent++;
  ch->messages_sent++;
  return TRUE;
}

/**
 * mpk_messenger_send_norequest:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @payload: (transfer none): the message; a floating reference is sunk
 * @timeout_us: how long to wait while the pipe is full
 * @error: return location for a #GError, or %NULL
 *
 * Sends @payload without expecting a reply, coproc's `send_norequest()`:
 * mpk_messenger_send_full() without a priority.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
mpk_messenger_send_norequest (MpkMessenger  *messenger,
                              GVariant      *channel,
                              GVariant      *payload,
                              gint64         timeout_us,
                              GError       **error)
{
  return mpk_messenger_send_full (messenger, MPK_MESSENGER_SEND_NOREQUEST, channel, payload,
                                  MPK_PRIORITY_NONE, timeout_us, error);
}

/**
 * mpk_messenger_send_request:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @payload: (transfer none): the request; a floating reference is sunk
 * @timeout_us: how long to wait while the pipe is full
 * @error: return location for a #GError, or %NULL
 *
 * Sends a request and counts it on @channel, coproc's `send_request()`: the
 * peer answers with mpk_messenger_send_reply() on the same channel, and
 * mpk_messenger_receive_remaining() collects the answers.
 *
 * Returns: %TRUE on success, %FALSE with @error set (nothing is counted)
 */
gboolean
mpk_messenger_send_request (MpkMessenger  *messenger,
                            GVariant      *channel,
                            GVariant      *payload,
                            gint64         timeout_us,
                            GError       **error)
{
  return mpk_messenger_send_full (messenger, MPK_MESSENGER_SEND_REQUEST, channel, payload,
                                  MPK_PRIORITY_NONE, timeout_us, error);
}

/**
 * mpk_messenger_send_reply:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel of the request
 *   answered; %NULL for the default one; a floating reference is sunk
 * @payload: (transfer none): the reply; a floating reference is sunk
 * @timeout_us: how long to wait while the pipe is full
 * @error: return location for a #GError, or %NULL
 *
 * Answers a request, coproc's `send_reply()`: the peer counts the reply on
 * @channel when a receive hands it over. A reply the peer never asked for
 * is reported to the peer as %MPK_ERROR_PROTOCOL and dropped there.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
mpk_messenger_send_reply (MpkMessenger  *messenger,
                          GVariant      *channel,
                          GVariant      *payload,
                          gint64         timeout_us,
                          GError       **error)
{
  return mpk_messenger_send_full (messenger, MPK_MESSENGER_SEND_REPLY, channel, payload,
                                  MPK_PRIORITY_NONE, timeout_us, error);
}

static char *
describe_sent_special (gpointer data)
{
  return describe_special (data);
}

/**
 * mpk_messenger_send_error:
 * @messenger: (transfer none): a #MpkMessenger
 * @remote_error: (transfer none): the error to raise on the other side:
 *   its domain (sent as its name, at most 128 bytes), code and message
 *   travel as data; the caller still owns and frees it
 * @timeout_us: how long to wait while the pipe is full
 * @error: return location for a #GError, or %NULL
 *
 * Sends an error that the peer's next receive call returns as its own,
 * coproc's `send_error(exception)`: the same domain, code and message, so
 * the peer tests it with g_error_matches(). Unlike coproc's pickled
 * exception, nothing but these three fields crosses, and nothing of it is
 * run: an error of a domain the peer never heard of still arrives.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
mpk_messenger_send_error (MpkMessenger  *messenger,
                          const GError  *remote_error,
                          gint64         timeout_us,
                          GError       **error)
{
  const char *domain;

  g_return_val_if_fail (messenger != NULL, FALSE);
  g_return_val_if_fail (remote_error != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  domain = g_quark_to_string (remote_error->domain);
  if (domain == NULL || *domain == '\0' || strlen (domain) > MPK__MESSENGER_MAX_DOMAIN)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "an error domain must have a name of 1 to %d bytes",
                   MPK__MESSENGER_MAX_DOMAIN);
      return FALSE;
    }
  return send_frame (messenger,
                     wire_message (MPK__MESSENGER_ERROR, NULL, -INFINITY,
                                   g_variant_new ("(sis)", domain, remote_error->code,
                                                  remote_error->message != NULL
                                                  ? remote_error->message : "")),
                     mpk__deadline_from_timeout (timeout_us), describe_sent_special,
                     (gpointer) remote_error, error);
}

/**
 * mpk_messenger_send_close_request:
 * @messenger: (transfer none): a #MpkMessenger
 * @timeout_us: how long to wait while the pipe is full
 * @error: return location for a #GError, or %NULL
 *
 * Asks the peer to close, coproc's `send_close_request()`: once the peer
 * has received what was sent before, its next receive call fails with
 * %MPK_ERROR_CLOSE_REQUESTED. mpk_worker_close() sends it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
mpk_messenger_send_close_request (MpkMessenger  *messenger,
                                  gint64         timeout_us,
                                  GError       **error)
{
  g_autoptr(GError) close = NULL;

  g_return_val_if_fail (messenger != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  close = g_error_new_literal (MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED, "close requested");
  return send_frame (messenger,
                     wire_message (MPK__MESSENGER_CLOSE, NULL, -INFINITY,
                                   g_variant_new_tuple (NULL, 0)),
                     mpk__deadline_from_timeout (timeout_us), describe_sent_special, close,
                     error);
}

/**
 * mpk_messenger_flush:
 * @messenger: (transfer none): a #MpkMessenger
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits until every message sent has left @messenger for the pipe, reading
 * meanwhile what the peer sends. Only a message that did not fit into a
 * full pipe waits in the messenger; a process that is about to end, or to
 * free the messenger, calls this first (#MpkWorker does in the worker).
 *
 * Returns: %TRUE when nothing waits; %FALSE with %MPK_ERROR_TIMED_OUT or
 *   %MPK_ERROR_PEER_CLOSED
 */
gboolean
mpk_messenger_flush (MpkMessenger  *messenger,
                     gint64         timeout_us,
                     GError       **error)
{
  g_return_val_if_fail (messenger != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return flush_until (messenger, mpk__deadline_from_timeout (timeout_us), error);
}

/* --- receiving: from the queues to the caller --------------------------- */

/* Hands the next message of @ch to the caller, counting it. */
static GVariant *
deliver (MpkMessenger *m, Channel *ch)
{
  Item *item = ch->heap != NULL ? heap_pop (ch->heap) : g_queue_pop_head (&ch->fifo);
  GVariant *payload;

  m->n_queued--;
  ch->messages_received++;
  if (item->kind == MPK__MESSENGER_REPLY)
    {
      ch->replies_received++;
      ch->replies_queued--;
    }
  if (TRACING_MSG ())
    {
      g_autofree char *sum = describe_data (item->kind, ch->key, item->payload,
                                            m->kind == MPK_MESSENGER_PRIORITY
                                            ? item->priority : MPK_PRIORITY_NONE,
                                            item->number);
      trace_message (m, MPK__TRACE_IN, item->pid, item->seq, item->bytes, 0, 0, sum);
    }
  payload = g_steal_pointer (&item->payload);
  item_free (item);
  return payload;
}

/* Reports the pending special message (the backlog's head) as the call's
 * error, once, and moves what arrived behind it into the channels, up to
 * the next special. */
static void
raise_special (MpkMessenger *m, GError **error)
{
  Pending *head = g_queue_pop_head (&m->backlog);
  Pending *p;

  if (head->traced && TRACING_MSG ())
    {
      g_autofree char *sum = describe_special (head->special);
      trace_message (m, MPK__TRACE_IN, head->pid, head->seq, head->bytes, 0, 0, sum);
    }
  g_propagate_error (error, g_steal_pointer (&head->special));
  g_free (head);
  while ((p = g_queue_peek_head (&m->backlog)) != NULL && p->special == NULL)
    {
      g_queue_pop_head (&m->backlog);
      channel_put (m, p->channel, p->item);
      g_free (p);
    }
}

/* For a receive with nothing to hand over: TRUE with @error set when it
 * must fail now (a pending special, or the peer's end); FALSE when it may
 * wait for more. */
static gboolean
must_fail (MpkMessenger *m, GError **error)
{
  if (!g_queue_is_empty (&m->backlog))
    {
      raise_special (m, error);
      return TRUE;
    }
  if (m->gone != NULL)
    {
      g_propagate_error (error, g_error_copy (m->gone));
      return TRUE;
    }
  return FALSE;
}

/* One step of every blocking receive: wait, then read what came. */
static gboolean
wait_and_read (MpkMessenger *m, MpkDeadline deadline, GError **error)
{
  if (!mpk__messenger_wait (m, deadline, error))
    return FALSE;
  after_wait (m);
  return TRUE;
}

/**
 * mpk_messenger_available:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Moves what the pipe holds into the channels' queues, without blocking,
 * and counts the messages waiting on @channel, coproc's `available()`. Only
 * that channel: coproc's seed example printed 0 after its echoes had come
 * back, on channels 1 and 2, because `available()` means the default
 * channel (mpk_messenger_available_total() counts them all).
 *
 * Returns: the number of messages a receive on @channel can take now; -1
 *   with @error set when there are none and a special message is due (the
 *   peer's error, %MPK_ERROR_CLOSE_REQUESTED) or the peer's end is gone
 *   (%MPK_ERROR_PEER_CLOSED)
 */
gssize
mpk_messenger_available (MpkMessenger  *messenger,
                         GVariant      *channel,
                         GError       **error)
{
  g_autoptr(GVariant) key = NULL;
  Channel *ch;
  gsize n;

  g_return_val_if_fail (messenger != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  key = channel != NULL ? g_variant_ref_sink (channel) : NULL;
  mpk__messenger_pump (messenger);
  ch = channel_lookup (messenger, key, FALSE);
  n = ch != NULL ? channel_len (ch) : 0;
  if (n == 0 && must_fail (messenger, error))
    return -1;
  return n;
}

/**
 * mpk_messenger_available_total:
 * @messenger: (transfer none): a #MpkMessenger
 * @error: return location for a #GError, or %NULL
 *
 * mpk_messenger_available() for every channel at once.
 *
 * Returns: the number of messages waiting on all channels; -1 with @error
 *   set as for mpk_messenger_available()
 */
gssize
mpk_messenger_available_total (MpkMessenger  *messenger,
                               GError       **error)
{
  g_return_val_if_fail (messenger != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  mpk__messenger_pump (messenger);
  if (messenger->n_queued == 0 && must_fail (messenger, error))
    return -1;
  return messenger->n_queued;
}

/**
 * mpk_messenger_receive_available:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @error: return location for a #GError, or %NULL
 *
 * Takes every message waiting on @channel, without blocking, coproc's
 * `receive_available()`: in the channel's order (priority, then arrival).
 *
 * Returns: (transfer full) (element-type GVariant) (nullable): the messages,
 *   possibly none; %NULL with @error set as for mpk_messenger_available()
 *   when there were none. Free with g_ptr_array_unref().
 */
GPtrArray *
mpk_messenger_receive_available (MpkMessenger  *messenger,
                                 GVariant      *channel,
                                 GError       **error)
{
  g_autoptr(GVariant) key = NULL;
  GPtrArray *out;
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  key = channel != NULL ? g_variant_ref_sink (channel) : NULL;
  mpk__messenger_pump (messenger);
  ch = channel_lookup (messenger, key, FALSE);
  if ((ch == NULL || channel_len (ch) == 0) && must_fail (messenger, error))
    return NULL;
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  while (ch != NULL && channel_len (ch) > 0)
    g_ptr_array_add (out, deliver (messenger, ch));
  return out;
}

/**
 * mpk_messenger_receive_blocking:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits for a message on @channel and takes it, coproc's
 * `receive_blocking()` (which has no timeout and hangs for ever on a
 * silent peer). Messages on other channels that arrive meanwhile are
 * queued for them.
 *
 * Returns: (transfer full) (nullable): the message, free with
 *   g_variant_unref(); %NULL with %MPK_ERROR_TIMED_OUT, the peer's error or
 *   %MPK_ERROR_CLOSE_REQUESTED (when nothing sent before it is left for
 *   @channel), %MPK_ERROR_PEER_CLOSED (the peer's end is gone),
 *   %MPK_ERROR_PROTOCOL (the peer sent something malformed, or a reply to
 *   no request), or %MPK_ERROR_TOO_BIG (a frame over the connection's
 *   message limit: after it, and after a malformed frame header, the pipe
 *   cannot be read and every receive says %MPK_ERROR_PROTOCOL)
 */
GVariant *
mpk_messenger_receive_blocking (MpkMessenger  *messenger,
                                GVariant      *channel,
                                gint64         timeout_us,
                                GError       **error)
{
  g_autoptr(GVariant) key = NULL;
  MpkDeadline deadline = mpk__deadline_from_timeout (timeout_us);

  g_return_val_if_fail (messenger != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  key = channel != NULL ? g_variant_ref_sink (channel) : NULL;
  /* A priority messenger reads first: a more important message may wait in
   * the pipe. A FIFO channel's next message is its next whatever came since. */
  if (messenger->kind == MPK_MESSENGER_PRIORITY)
    mpk__messenger_pump (messenger);
  for (;;)
    {
      Channel *ch = channel_lookup (messenger, key, FALSE);

      if (ch != NULL && channel_len (ch) > 0)
        return deliver (messenger, ch);
      if (must_fail (messenger, error) || !wait_and_read (messenger, deadline, error))
        return NULL;
    }
}

/**
 * mpk_messenger_await_available:
 * @messenger: (transfer none): a #MpkMessenger
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits until a message waits on any channel, coproc's `await_available()`,
 * and takes nothing.
 *
 * Returns: %TRUE when a receive can take a message now; %FALSE with
 *   @error set as for mpk_messenger_receive_blocking()
 */
gboolean
mpk_messenger_await_available (MpkMessenger  *messenger,
                               gint64         timeout_us,
                               GError       **error)
{
  MpkDeadline deadline = mpk__deadline_from_timeout (timeout_us);

  g_return_val_if_fail (messenger != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  mpk__messenger_pump (messenger);
  for (;;)
    {
      if (messenger->n_queued > 0)
        return TRUE;
      if (must_fail (messenger, error) || !wait_and_read (messenger, deadline, error))
        return FALSE;
    }
}

/**
 * mpk_messenger_receive_remaining:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 * @timeout_us: microseconds to wait for all of them, or %MPK_WAIT_FOREVER /
 *   %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits until every request sent on @channel has its reply, then takes
 * them, coproc's `receive_remaining()` (a generator there). Other messages
 * waiting on @channel ahead of the last reply come too, in the channel's
 * order, as coproc's generator yields them. Nothing is taken unless all
 * the replies are there: after a failure they all still wait on @channel.
 *
 * Returns: (transfer full) (element-type GVariant) (nullable): the
 *   messages (none when nothing was outstanding), free with
 *   g_ptr_array_unref(); %NULL with @error set as for
 *   mpk_messenger_receive_blocking()
 */
GPtrArray *
mpk_messenger_receive_remaining (MpkMessenger  *messenger,
                                 GVariant      *channel,
                                 gint64         timeout_us,
                                 GError       **error)
{
  g_autoptr(GVariant) key = NULL;
  MpkDeadline deadline = mpk__deadline_from_timeout (timeout_us);
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  key = channel != NULL ? g_variant_ref_sink (channel) : NULL;
  ch = channel_lookup (messenger, key, TRUE);
  mpk__messenger_pump (messenger);
  for (;;)
    {
      guint64 remaining = ch->requests_sent - ch->replies_received;

      if (ch->replies_queued >= remaining)
        {
          GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

          while (ch->replies_received < ch->requests_sent)
            g_ptr_array_add (out, deliver (messenger, ch));
          return out;
        }
      if (must_fail (messenger, error) || !wait_and_read (messenger, deadline, error))
        return NULL;
    }
}

/* --- counters ------------------------------------------------------------------- */

/* A counter of @channel's, 0 for a channel never used. */
static Channel *
counted_channel (MpkMessenger *m, GVariant *channel)
{
  g_autoptr(GVariant) key = channel != NULL ? g_variant_ref_sink (channel) : NULL;

  return channel_lookup (m, key, FALSE);
}

/**
 * mpk_messenger_remaining:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 *
 * Requests sent on @channel whose replies have not been taken yet,
 * coproc's `remaining()`. A reply waiting in the queue still counts as
 * outstanding until a receive hands it over, as in coproc. Never negative.
 *
 * Returns: the number of outstanding requests
 */
guint64
mpk_messenger_remaining (MpkMessenger *messenger,
                         GVariant     *channel)
{
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, 0);
  ch = counted_channel (messenger, channel);
  return ch != NULL ? ch->requests_sent - ch->replies_received : 0;
}

/**
 * mpk_messenger_get_requests_sent:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 *
 * How many requests mpk_messenger_send_request() (or
 * mpk_messenger_send_full() with %MPK_MESSENGER_SEND_REQUEST) has sent on
 * @channel; a send that failed is not counted. Reading it neither reads
 * the pipe nor creates the channel: a channel never used counts 0.
 *
 * Returns: the requests sent on @channel (coproc's `requests_sent`)
 */
guint64
mpk_messenger_get_requests_sent (MpkMessenger *messenger,
                                 GVariant     *channel)
{
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, 0);
  ch = counted_channel (messenger, channel);
  return ch != NULL ? ch->requests_sent : 0;
}

/**
 * mpk_messenger_get_replies_received:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 *
 * How many replies a receive call has handed over on @channel. A reply
 * that waits in the channel's queue is not counted yet (as in coproc), so
 * mpk_messenger_remaining() is the requests sent minus this. Does not read
 * the pipe; a channel never used counts 0.
 *
 * Returns: the replies a receive has handed over on @channel
 */
guint64
mpk_messenger_get_replies_received (MpkMessenger *messenger,
                                    GVariant     *channel)
{
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, 0);
  ch = counted_channel (messenger, channel);
  return ch != NULL ? ch->replies_received : 0;
}

/**
 * mpk_messenger_get_messages_sent:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 *
 * How many data messages (plain ones, requests and replies) were sent on
 * @channel; errors and close requests, which bypass the channels, and
 * failed sends are not counted. A channel never used counts 0.
 *
 * Returns: the data messages (of any kind) sent on @channel
 */
guint64
mpk_messenger_get_messages_sent (MpkMessenger *messenger,
                                 GVariant     *channel)
{
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, 0);
  ch = counted_channel (messenger, channel);
  return ch != NULL ? ch->messages_sent : 0;
}

/**
 * mpk_messenger_get_messages_received:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 *
 * How many data messages (replies included) a receive call has handed
 * over on @channel. Messages still in the channel's queue are not counted
 * (mpk_messenger_queue_size() counts those). Does not read the pipe; a
 * channel never used counts 0.
 *
 * Returns: the data messages a receive has handed over on @channel
 */
guint64
mpk_messenger_get_messages_received (MpkMessenger *messenger,
                                     GVariant     *channel)
{
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, 0);
  ch = counted_channel (messenger, channel);
  return ch != NULL ? ch->messages_received : 0;
}

/**
 * mpk_messenger_queue_size:
 * @messenger: (transfer none): a #MpkMessenger
 * @channel: (transfer none) (nullable): the channel; %NULL for the default
 *   one; a floating reference is sunk
 *
 * The messages waiting on @channel, without reading the pipe (coproc's
 * `queue_size()`; mpk_messenger_available() reads first).
 *
 * Returns: the number of messages in @channel's queue
 */
gsize
mpk_messenger_queue_size (MpkMessenger *messenger,
                          GVariant     *channel)
{
  Channel *ch;

  g_return_val_if_fail (messenger != NULL, 0);
  ch = counted_channel (messenger, channel);
  return ch != NULL ? channel_len (ch) : 0;
}
