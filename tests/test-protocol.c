/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-protocol.c: the request protocol (seed 000, pymulproc): its own ten
 * tests ported (research anchor-layers.md §1.3), then what pymulproc
 * cannot promise (§1.5, §1.6): filtered receive that never reorders, no busy
 * loop while waiting, malformed messages refused, a recipient killed while
 * its messages wait, a process killed inside the queue's lock, many
 * messages with exact counts, and timeouts. */

#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include "test-util.h"
#include "mpk-private.h"
#include "mpk-messaging-private.h"

extern int   mpk__crash_countdown;
extern char *mpk__crash_note;

#define CHILD_TIMEOUT_US MPK_TEST_CHILD_TIMEOUT_US

/* --- helpers ------------------------------------------------------------------ */

static MpkProtocol *
new_queue (guint capacity)
{
  g_autoptr(GError) error = NULL;
  MpkProtocol *proto = mpk_protocol_queue_new (capacity, &error);

  g_assert_no_error (error);
  g_assert_nonnull (proto);
  return proto;
}

static void
send_ok (MpkProtocol *proto,
         const char  *request,
         GPid         recipient,
         GVariant    *data)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = mpk_protocol_send (proto, request, 0, recipient, data, CHILD_TIMEOUT_US, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

static MpkMessage *
receive_ok (MpkProtocol            *proto,
            const MpkMessageFilter *filter)
{
  g_autoptr(GError) error = NULL;
  MpkMessage *message = mpk_protocol_receive (proto, filter, CHILD_TIMEOUT_US, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

static void
assert_message (const MpkMessage *message,
                const char       *request,
                GPid              sender,
                GPid              recipient,
                const char       *data_text)
{
  g_assert_cmpstr (message->request, ==, request);
  g_assert_cmpint (message->sender_pid, ==, sender);
  g_assert_cmpint (message->recipient_pid, ==, recipient);
  if (data_text == NULL)
    g_assert_null (message->data);
  else
    {
      g_autofree char *text = NULL;

      g_assert_nonnull (message->data);
      text = g_variant_print (message->data, FALSE);
      g_assert_cmpstr (text, ==, data_text);
    }
}

static gboolean
refuse_all (const MpkMessage *message,
            gpointer          user_data)
{
  return FALSE;
}

static MpkProcess *
start_child (const char     *name,
             MpkProcessFunc  func,
             gpointer        data)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *process = mpk_process_new (name, func, data, NULL);

  g_assert_true (mpk_process_start (process, &error));
  g_assert_no_error (error);
  return process;
}

/* This process's CPU time (user + system), in microseconds. */
static gint64
cpu_time_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC
         + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* --- the message ---------------------------------------------------------------- */

static void
test_message_roundtrip (void)
{
  g_autoptr(MpkMessage) message = NULL;
  g_autoptr(MpkMessage) back = NULL;
  g_autoptr(MpkMessage) bare = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *bare_text = NULL;

  g_test_summary ("The seed's example messages: 4 fields, printed as a list, and back");
  message = mpk_message_new (MPK_REQ_DO, 1234, 12345,
                             g_variant_new_parsed ("{'value': <20>}"));
  value = mpk_message_to_variant (message);
  g_assert_cmpstr (g_variant_get_type_string (value), ==, MPK_MESSAGE_TYPE_STRING);
  g_assert_cmpuint (g_variant_n_children (value), ==, 4);
  back = mpk_message_new_from_variant (value, &error);
  g_assert_no_error (error);
  assert_message (back, "DO", 1234, 12345, "{'value': <20>}");
  text = mpk_message_to_string (back);
  g_assert_cmpstr (text, ==, "['DO', 1234, 12345, {'value': <20>}]");

  bare = mpk_message_new (MPK_REQ_DIE, 1234, MPK_PID_NONE, NULL);
  bare_text = mpk_message_to_string (bare);
  g_assert_cmpstr (bare_text, ==, "['DIE', 1234, None, None]");
  g_assert_true (mpk_message_is_request (bare, MPK_REQ_DIE));
  g_assert_false (mpk_message_is_request (bare, MPK_REQ_DO));
}

static void
test_message_filters (void)
{
  g_autoptr(MpkMessage) to_7 = mpk_message_new (MPK_REQ_DO, 5, 7, NULL);
  g_autoptr(MpkMessage) to_all = mpk_message_new (MPK_REQ_DIE, 5, MPK_PID_NONE, NULL);
  MpkMessageFilter from_5 = { MPK_MATCH_SENDER, 5, NULL, NULL, NULL };
  MpkMessageFilter from_6 = { MPK_MATCH_SENDER, 6, NULL, NULL, NULL };
  MpkMessageFilter die = { MPK_MATCH_REQUEST, 0, MPK_REQ_DIE, NULL, NULL };
  MpkMessageFilter mine_and_die = { MPK_MATCH_FOR_ME | MPK_MATCH_REQUEST, 0, MPK_REQ_DIE,
                                    NULL, NULL };
  MpkMessageFilter func = { MPK_MATCH_ALL, 0, NULL, refuse_all, NULL };

  g_test_summary ("The common filters: for me or everybody, to me only, sender, request, a callback");
  g_assert_true (mpk_message_filter_accepts (NULL, to_7, 1));
  g_assert_true (mpk_message_filter_accepts (MPK_MESSAGE_FILTER_FOR_ME, to_7, 7));
  g_assert_false (mpk_message_filter_accepts (MPK_MESSAGE_FILTER_FOR_ME, to_7, 8));
  g_assert_true (mpk_message_filter_accepts (MPK_MESSAGE_FILTER_FOR_ME, to_all, 8));
  g_assert_true (mpk_message_filter_accepts (MPK_MESSAGE_FILTER_TO_ME, to_7, 7));
  g_assert_false (mpk_message_filter_accepts (MPK_MESSAGE_FILTER_TO_ME, to_all, 7));
  g_assert_true (mpk_message_filter_accepts (&from_5, to_7, 1));
  g_assert_false (mpk_message_filter_accepts (&from_6, to_7, 1));
  g_assert_true (mpk_message_filter_accepts (&die, to_all, 1));
  g_assert_false (mpk_message_filter_accepts (&die, to_7, 7));
  g_assert_true (mpk_message_filter_accepts (&mine_and_die, to_all, 9));
  g_assert_false (mpk_message_filter_accepts (&func, to_all, 9));
}

typedef struct
{
  const char *text;    /* a GVariant in text form */
  const char *why;
} Malformed;

static const Malformed malformed[] = {
  { "('DO', 5, @mi nothing)", "3 fields" },
  { "('DO', 5, @mi nothing, @mv nothing, 1)", "5 fields" },
  { "(5, 5, @mi nothing, @mv nothing)", "request not a string" },
  { "('DO', '5', @mi nothing, @mv nothing)", "sender not an int" },
  { "('DO', int64 5, @mi nothing, @mv nothing)", "sender an int64" },
  { "('DO', 5, @ms nothing, @mv nothing)", "recipient a maybe string" },
  { "('DO', 5, @mi nothing, <1>)", "data not a maybe" },
  { "['DO', 'x', 'y', 'z']", "a list of strings, as Python would send" },
  { "'DO'", "a bare string" },
  { "('', 5, @mi nothing, @mv nothing)", "an empty request" },
  { "('DO', 0, @mi nothing, @mv nothing)", "sender pid 0" },
  { "('DO', -3, @mi nothing, @mv nothing)", "a negative sender pid" },
  { "('DO', 5, @mi just -1, @mv nothing)", "a negative recipient" },
  { "('DO', 5, @mi just 0, @mv nothing)", "recipient 0 spelled out" },
};

static void
test_message_malformed (void)
{
  g_test_summary ("A value that is not exactly (request, sender, recipient, data) is PROTOCOL");
  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) parse_error = NULL;
      g_autoptr(GVariant) value = g_variant_parse (NULL, malformed[i].text, NULL, NULL,
                                                   &parse_error);
      g_autoptr(MpkMessage) message = NULL;

      g_assert_no_error (parse_error);
      g_test_message ("%s: %s", malformed[i].why, malformed[i].text);
      message = mpk_message_new_from_variant (value, &error);
      g_assert_null (message);
      g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
    }
}

static void
test_message_decode_bytes (void)
{
  static const guint8 junk[][12] = {
    { 0 }, { 3, 0, 0, 0, 0, 0, 0, 0, 'D', 'O', 0, 0 },              /* a NUL in the request */
    { 2, 0, 0, 0, 1, 0, 0, 0, 'D', 'O', 'i', 0 },                /* an int32 of 1 byte */
    { 2, 0, 0, 0, 1, 0, 0, 0, 'D', 0, 'i', 0 },                  /* the same, with data */
    { 2, 0, 0, 0, 1, 0, 0, 0, 'D', 'O', 'm', 0 },                /* "m" is no type */
    { 2, 0, 0, 0, 1, 0, 0, 0, 'D', 'O', '*', 0 },                /* nor a definite one */
    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
  };
  g_autoptr(GVariant) data = g_variant_ref_sink (g_variant_new_int32 (7));
  gsize size = mpk__message_encoded_size ("DO", data);
  g_autofree guint8 *bytes = g_malloc (size);
  g_autoptr(MpkMessage) back = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A protocol queue slot's untrusted bytes decode to a message or to "
                  "PROTOCOL, never a crash");
  mpk__message_encode (bytes, "DO", data);
  back = mpk__message_decode (bytes, size, 42, 43, &error);
  g_assert_no_error (error);
  assert_message (back, "DO", 42, 43, "7");
  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    for (gsize len = 0; len <= sizeof junk[i]; len++)
      {
        g_autoptr(GError) e = NULL;
        g_autoptr(MpkMessage) m = mpk__message_decode (junk[i], len, 42, 0, &e);

        g_assert_null (m);
        g_assert_error (e, MPK_ERROR, MPK_ERROR_PROTOCOL);
      }
  /* Every truncation of a good message, and bad pids. */
  for (gsize len = 0; len < size; len++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(MpkMessage) m = mpk__message_decode (bytes, len, 42, 43, &e);

      g_assert_null (m);
      g_assert_error (e, MPK_ERROR, MPK_ERROR_PROTOCOL);
    }
  {
    g_autoptr(GError) e = NULL;
    g_autoptr(MpkMessage) m = mpk__message_decode (bytes, size, 0, 43, &e);

    g_assert_null (m);
    g_assert_error (e, MPK_ERROR, MPK_ERROR_PROTOCOL);
  }
}

/* --- pymulproc's tests: the pipe -------------------------------------------------- */

typedef struct
{
  MpkProtocol *parent;
  MpkProtocol *child;
} PipePair;

static int
pipe_child (gpointer data)
{
  PipePair *pair = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) reply = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_protocol_send (pair->child, MPK_REQ_TEST_PARENT, 0, MPK_PID_NONE, NULL,
                                      CHILD_TIMEOUT_US, &error));
  reply = mpk_protocol_receive (pair->child, NULL, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (g_strcmp0 (reply->request, MPK_REQ_TEST_CHILD) == 0);
  MPK_CHILD_CHECK (reply->sender_pid == mpk_parent_process_get_pid ());
  return 0;
}

static void
test_pipe_local (void)
{
  PipePair pair;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) message = NULL;
  MpkProcess *child;

  g_test_summary ("pymulproc test_local_pipe_communication: the child sends TEST_PARENT, "
                  "the parent checks the 4 fields and replies TEST_CHILD; the sender pid "
                  "is the child's (pymulproc's would be the parent's, D8)");
  g_assert_true (mpk_protocol_pipe_new (&pair.parent, &pair.child, &error));
  g_assert_no_error (error);
  g_assert_false (mpk_protocol_is_queue (pair.parent));
  child = start_child ("pipe-child", pipe_child, &pair);
  message = receive_ok (pair.parent, NULL);
  assert_message (message, MPK_REQ_TEST_PARENT, mpk_process_get_pid (child), MPK_PID_NONE, NULL);
  send_ok (pair.parent, MPK_REQ_TEST_CHILD, MPK_PID_NONE, NULL);
  join_child (child, 0);
  mpk_protocol_free (pair.parent);
  mpk_protocol_free (pair.child);
}

static int
pipe_sender_pid_child (gpointer data)
{
  PipePair *pair = data;

  child_guard ();
  MPK_CHILD_CHECK (mpk_protocol_send (pair->child, "X", 4242, MPK_PID_NONE, NULL,
                                      CHILD_TIMEOUT_US, NULL));
  MPK_CHILD_CHECK (mpk_protocol_send (pair->child, "Y", 0, MPK_PID_NONE, NULL,
                                      CHILD_TIMEOUT_US, NULL));
  return 0;
}

static void
test_pipe_sender_pid (void)
{
  PipePair pair;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) x = NULL;
  g_autoptr(MpkMessage) y = NULL;
  MpkProcess *child;

  g_test_summary ("D8: an explicit sender pid is honoured, the default is the sending process's");
  g_assert_true (mpk_protocol_pipe_new (&pair.parent, &pair.child, &error));
  child = start_child ("sender", pipe_sender_pid_child, &pair);
  x = receive_ok (pair.parent, NULL);
  y = receive_ok (pair.parent, NULL);
  assert_message (x, "X", 4242, MPK_PID_NONE, NULL);
  assert_message (y, "Y", mpk_process_get_pid (child), MPK_PID_NONE, NULL);
  join_child (child, 0);
  mpk_protocol_free (pair.parent);
  mpk_protocol_free (pair.child);
}

static void
test_pipe_filter_keeps_order (void)
{
  PipePair pair;
  g_autoptr(GError) error = NULL;
  MpkMessageFilter want_b = { MPK_MATCH_REQUEST, 0, "B", NULL, NULL };
  const char *const order[] = { "A1", "A2", "C" };

  g_test_summary ("On a pipe a refused message stays in the handle, in order, for a later receive");
  g_assert_true (mpk_protocol_pipe_new (&pair.parent, &pair.child, &error));
  send_ok (pair.parent, "A1", MPK_PID_NONE, NULL);
  send_ok (pair.parent, "A2", MPK_PID_NONE, NULL);
  send_ok (pair.parent, "B", MPK_PID_NONE, NULL);
  send_ok (pair.parent, "C", MPK_PID_NONE, NULL);
  {
    g_autoptr(MpkMessage) b = receive_ok (pair.child, &want_b);

    g_assert_cmpstr (b->request, ==, "B");
  }
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autoptr(MpkMessage) m = receive_ok (pair.child, NULL);

      g_assert_cmpstr (m->request, ==, order[i]);
    }
  mpk_protocol_free (pair.parent);
  mpk_protocol_free (pair.child);
}

static void
test_pipe_malformed (void)
{
  PipePair pair;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) none = NULL;
  g_autoptr(MpkMessage) good = NULL;
  MpkConnection *raw;

  g_test_summary ("A value of another shape on the pipe is PROTOCOL; the next message is fine");
  g_assert_true (mpk_protocol_pipe_new (&pair.parent, &pair.child, &error));
  raw = mpk__protocol_get_connection_for_testing (pair.parent);
  g_assert_true (mpk_connection_send (raw, g_variant_new_parsed ("('DO', 5, 6)"),
                                      CHILD_TIMEOUT_US, &error));
  g_assert_true (mpk_connection_send (raw, g_variant_new_parsed ("['DO', '1', '2', '3']"),
                                      CHILD_TIMEOUT_US, &error));
  g_assert_no_error (error);
  send_ok (pair.parent, MPK_REQ_DO, MPK_PID_NONE, g_variant_new_int32 (1));
  for (int i = 0; i < 2; i++)
    {
      none = mpk_protocol_receive (pair.child, NULL, CHILD_TIMEOUT_US, &error);
      g_assert_null (none);
      g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
      g_clear_error (&error);
    }
  good = receive_ok (pair.child, NULL);
  assert_message (good, MPK_REQ_DO, getpid (), MPK_PID_NONE, "1");
  mpk_protocol_free (pair.parent);
  mpk_protocol_free (pair.child);
}

static void
test_pipe_timeout_and_eof (void)
{
  PipePair pair;
  g_autoptr(GError) error = NULL;
  MpkMessage *none;
  gint64 start;

  g_test_summary ("A pipe receive times out (not before its deadline), and sees EOF once the "
                  "other end is gone; a pipe has no queue operations");
  g_assert_true (mpk_protocol_pipe_new (&pair.parent, &pair.child, &error));
  start = g_get_monotonic_time ();
  none = mpk_protocol_receive (pair.child, NULL, 100 * 1000, &error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (mpk_protocol_queue_join (pair.child, 0, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  mpk_protocol_free (pair.parent);
  none = mpk_protocol_receive (pair.child, NULL, CHILD_TIMEOUT_US, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EOF);
  mpk_protocol_free (pair.child);
}

/* --- pymulproc's tests: the queue ------------------------------------------------- */

static int
fan_in_child (gpointer data)
{
  MpkProtocol *proto = data;

  child_guard ();
  MPK_CHILD_CHECK (mpk_protocol_send (proto, MPK_REQ_FINISHED, 0, MPK_PID_NONE,
                                      g_variant_new_int32 (3), CHILD_TIMEOUT_US, NULL));
  return 0;
}

static void
test_queue_children_to_parent (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  MpkProcess *children[5];
  gint32 counter = 0;
  guint received = 0;

  g_test_summary ("pymulproc test_children_to_parent_communication: five children send "
                  "FINISHED with 3, the parent sums 15 while the queue is not empty, "
                  "then queue_join returns");
  g_assert_true (mpk_protocol_is_queue (proto));
  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    children[i] = start_child (NULL, fan_in_child, proto);
  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    join_child (children[i], 0);
  while (!mpk_protocol_queue_empty (proto))
    {
      g_autoptr(MpkMessage) message = receive_ok (proto, NULL);

      g_assert_cmpstr (message->request, ==, MPK_REQ_FINISHED);
      counter += g_variant_get_int32 (message->data);
      received++;
    }
  g_assert_true (mpk_protocol_queue_join (proto, CHILD_TIMEOUT_US, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (received, ==, 5);
  g_assert_cmpint (counter, ==, 3 * 5);
}

typedef struct
{
  MpkProtocol *proto;
  GPid         parent;
  gint32       number;
} DuplexChild;

/* The stress test's child: receive what is for it or for everybody; DIE
 * ends it, anything else is answered with FINISHED and its number. No
 * sleep: it blocks in receive. */
static int
duplex_child (gpointer data)
{
  DuplexChild *me = data;

  child_guard ();
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkMessage) message = mpk_protocol_receive (me->proto, MPK_MESSAGE_FILTER_FOR_ME,
                                                            CHILD_TIMEOUT_US, &error);

      MPK_CHILD_NO_ERROR (error);
      if (mpk_message_is_request (message, MPK_REQ_DIE))
        return 0;
      MPK_CHILD_CHECK (mpk_protocol_send (me->proto, MPK_REQ_FINISHED, 0, me->parent,
                                          g_variant_new_int32 (me->number),
                                          CHILD_TIMEOUT_US, NULL));
    }
}

static void
test_queue_full_duplex_stress (void)
{
  gint64 cpu_before = cpu_time_us ();

  g_test_summary ("pymulproc's full-duplex stress test, without its sleeps: 10 rounds of "
                  "1-10 children on one queue, a DO to one, its FINISHED back, a DIE for "
                  "each child, queue_join");
  for (int round = 0; round < 10; round++)
    {
      g_autoptr(MpkProtocol) proto = new_queue (0);
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkMessage) reply = NULL;
      int min_p = g_test_rand_int_range (1, 6);
      int max_p = g_test_rand_int_range (min_p, 11);
      MpkProcess *children[10];
      DuplexChild args[10];

      for (int i = 0; i < max_p; i++)
        {
          args[i] = (DuplexChild) { proto, getpid (), i + 1 };
          children[i] = start_child (NULL, duplex_child, &args[i]);
        }
      send_ok (proto, MPK_REQ_DO, mpk_process_get_pid (children[min_p - 1]), NULL);
      reply = receive_ok (proto, MPK_MESSAGE_FILTER_TO_ME);
      g_assert_cmpstr (reply->request, ==, MPK_REQ_FINISHED);
      g_assert_cmpint (g_variant_get_int32 (reply->data), ==, min_p);
      g_assert_cmpint (reply->sender_pid, ==, mpk_process_get_pid (children[min_p - 1]));
      g_assert_true (mpk_protocol_queue_empty (proto));
      for (int i = 0; i < max_p; i++)
        send_ok (proto, MPK_REQ_DIE, MPK_PID_NONE, NULL);
      for (int i = 0; i < max_p; i++)
        join_child (children[i], 0);
      g_assert_true (mpk_protocol_queue_join (proto, CHILD_TIMEOUT_US, &error));
      g_assert_no_error (error);
      g_test_message ("round %d: %d children, target child %d", round, max_p, min_p);
    }
  g_test_message ("parent CPU for 10 rounds: %.3f s", (cpu_time_us () - cpu_before) / 1e6);
}

static void
test_queue_api_params (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(MpkMessage) message = NULL;

  g_test_summary ("pymulproc test_queue_api_params: a send puts [TEST_PARENT, own pid, None, None]");
  send_ok (proto, MPK_REQ_TEST_PARENT, MPK_PID_NONE, NULL);
  message = receive_ok (proto, NULL);
  assert_message (message, MPK_REQ_TEST_PARENT, getpid (), MPK_PID_NONE, NULL);
}

static void
test_queue_receive_nothing (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  MpkMessage *message;

  g_test_summary ("pymulproc test_receive_nothing: an empty queue gives nothing (TIMED_OUT)");
  message = mpk_protocol_receive (proto, NULL, MPK_NO_WAIT, &error);
  g_assert_null (message);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
}

static void
test_queue_send_and_receive (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(MpkMessage) message = NULL;

  g_test_summary ("pymulproc test_send_and_receive_successfully, without its sleeps: "
                  "not empty right after send (D5), empty right after receive");
  g_assert_true (mpk_protocol_queue_empty (proto));
  send_ok (proto, MPK_REQ_FINISHED, MPK_PID_NONE, NULL);
  g_assert_false (mpk_protocol_queue_empty (proto));
  g_assert_cmpuint (mpk_protocol_queue_size (proto), ==, 1);
  message = receive_ok (proto, NULL);
  g_assert_cmpstr (message->request, ==, MPK_REQ_FINISHED);
  g_assert_true (mpk_protocol_queue_empty (proto));
}

static void
test_queue_not_for_us_stays (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) message = NULL;
  MpkMessageFilter never = { MPK_MATCH_ALL, 0, NULL, refuse_all, NULL };
  MpkMessage *none;

  g_test_summary ("pymulproc test_receive_do_not_remove_message_not_targeted_to_us: "
                  "a refused message stays, unchanged");
  send_ok (proto, MPK_REQ_FINISHED, 1122, NULL);
  none = mpk_protocol_receive (proto, &never, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (mpk_protocol_queue_empty (proto));
  g_assert_cmpuint (mpk_protocol_queue_count_for (proto, 1122), ==, 1);
  message = receive_ok (proto, NULL);
  assert_message (message, MPK_REQ_FINISHED, getpid (), 1122, NULL);
  g_assert_true (mpk_protocol_queue_empty (proto));
}

static void
test_queue_full (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (1);
  g_autoptr(GError) error = NULL;

  g_test_summary ("pymulproc test_send_thows_exception_queue_full: capacity 1, the second "
                  "send fails FULL at its timeout (pymulproc's retries)");
  send_ok (proto, MPK_REQ_FINISHED, MPK_PID_NONE, NULL);
  g_assert_false (mpk_protocol_send (proto, MPK_REQ_FINISHED, 0, MPK_PID_NONE, NULL,
                                     50 * 1000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_FULL);
  g_clear_error (&error);
  g_assert_false (mpk_protocol_send (proto, MPK_REQ_FINISHED, 0, MPK_PID_NONE, NULL,
                                     MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_FULL);
  g_assert_cmpuint (mpk_protocol_queue_size (proto), ==, 1);
}

static void
test_queue_count_tasks (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) message = NULL;
  MpkMessageFilter never = { MPK_MATCH_ALL, 0, NULL, refuse_all, NULL };
  MpkMessage *none;

  g_test_summary ("pymulproc test_receive_count_tasks_done_properly: reject then accept "
                  "leaves the queue empty and join returns");
  send_ok (proto, MPK_REQ_FINISHED, MPK_PID_NONE, NULL);
  none = mpk_protocol_receive (proto, &never, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_clear_error (&error);
  g_assert_false (mpk_protocol_queue_join (proto, MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  message = receive_ok (proto, NULL);
  g_assert_true (mpk_protocol_queue_empty (proto));
  g_assert_true (mpk_protocol_queue_join (proto, MPK_NO_WAIT, &error));
  g_assert_no_error (error);
}

static int
late_sender (gpointer data)
{
  MpkProtocol *proto = data;

  child_guard ();
  g_usleep (100 * 1000);   /* pymulproc's child waits 1 s; any delay will do */
  MPK_CHILD_CHECK (mpk_protocol_send (proto, MPK_REQ_FINISHED, 0, MPK_PID_NONE, NULL,
                                      CHILD_TIMEOUT_US, NULL));
  return 0;
}

static void
test_queue_blocking_receive (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) message = NULL;
  MpkMessage *none;
  MpkProcess *child;

  g_test_summary ("pymulproc test_receive_blocking_when_block_false: a non-blocking receive "
                  "gives nothing, a blocking one waits for the child's message");
  none = mpk_protocol_receive (proto, NULL, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  child = start_child ("late", late_sender, proto);
  message = receive_ok (proto, NULL);
  g_assert_cmpint (message->sender_pid, ==, mpk_process_get_pid (child));
  g_assert_true (mpk_protocol_queue_join (proto, CHILD_TIMEOUT_US, &error));
  join_child (child, 0);
}

/* --- what pymulproc cannot promise ------------------------------------------------- */

static void
test_queue_putback_order (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) m1 = NULL;
  g_autoptr(MpkMessage) m2 = NULL;
  MpkMessageFilter never = { MPK_MATCH_ALL, 0, NULL, refuse_all, NULL };
  MpkMessageFilter from_other = { MPK_MATCH_SENDER, 1, NULL, NULL, NULL };
  MpkMessage *none;

  g_test_summary ("D1: M1, M2 sent, one refusal, then receive gives M1 then M2 "
                  "(pymulproc: M2 then M1); a blocking filtered receive waits its whole timeout");
  send_ok (proto, "M1", MPK_PID_NONE, NULL);
  send_ok (proto, "M2", MPK_PID_NONE, NULL);
  none = mpk_protocol_receive (proto, &never, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_clear_error (&error);
  {
    gint64 start = g_get_monotonic_time ();

    none = mpk_protocol_receive (proto, &from_other, 200 * 1000, &error);
    g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * 1000);   /* D6 */
    g_assert_null (none);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
    g_clear_error (&error);
  }
  m1 = receive_ok (proto, NULL);
  m2 = receive_ok (proto, NULL);
  g_assert_cmpstr (m1->request, ==, "M1");
  g_assert_cmpstr (m2->request, ==, "M2");
}

#define ORDER_CHILDREN 4
#define ORDER_PER_CHILD 500

typedef struct
{
  MpkProtocol *proto;
  GPid         parent;
} OrderArgs;

/* Receives ORDER_PER_CHILD messages for it; each one's data must be the
 * next number (the parent numbers each child's messages 0, 1, 2, ...);
 * the broadcast DIE may come only after all of them. */
static int
order_child (gpointer data)
{
  OrderArgs *args = data;
  gint32 expected = 0;

  child_guard ();
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkMessage) m = mpk_protocol_receive (args->proto, MPK_MESSAGE_FILTER_FOR_ME,
                                                      CHILD_TIMEOUT_US, &error);

      MPK_CHILD_NO_ERROR (error);
      if (mpk_message_is_request (m, MPK_REQ_DIE))
        break;
      MPK_CHILD_CHECK (m->recipient_pid == getpid ());
      if (g_variant_get_int32 (m->data) != expected)
        {
          g_printerr ("child %d: message %d arrived where %d was due\n", (int) getpid (),
                      g_variant_get_int32 (m->data), expected);
          return 1;
        }
      expected++;
    }
  MPK_CHILD_CHECK (expected == ORDER_PER_CHILD);
  MPK_CHILD_CHECK (mpk_protocol_send (args->proto, MPK_REQ_FINISHED, 0, args->parent,
                                      g_variant_new_int32 (expected), CHILD_TIMEOUT_US, NULL));
  return 0;
}

static void
test_queue_no_reorder (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (64);
  g_autoptr(GError) error = NULL;
  MpkProcess *children[ORDER_CHILDREN];
  OrderArgs args = { proto, getpid () };
  gint32 next[ORDER_CHILDREN] = { 0 };
  guint sent = 0;
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  g_test_summary ("Filtered receive never reorders: 4 children on one small queue, their "
                  "messages interleaved at random, each sees its own in send order");
  for (int i = 0; i < ORDER_CHILDREN; i++)
    children[i] = start_child (NULL, order_child, &args);
  while (sent < ORDER_CHILDREN * ORDER_PER_CHILD)
    {
      int k = g_rand_int_range (rand, 0, ORDER_CHILDREN);

      if (next[k] == ORDER_PER_CHILD)
        continue;
      send_ok (proto, MPK_REQ_DO, mpk_process_get_pid (children[k]),
               g_variant_new_int32 (next[k]++));
      sent++;
    }
  for (int i = 0; i < ORDER_CHILDREN; i++)
    send_ok (proto, MPK_REQ_DIE, MPK_PID_NONE, NULL);
  for (int i = 0; i < ORDER_CHILDREN; i++)
    {
      g_autoptr(MpkMessage) done = receive_ok (proto, MPK_MESSAGE_FILTER_TO_ME);

      g_assert_cmpint (g_variant_get_int32 (done->data), ==, ORDER_PER_CHILD);
    }
  for (int i = 0; i < ORDER_CHILDREN; i++)
    join_child (children[i], 0);
  g_assert_true (mpk_protocol_queue_join (proto, CHILD_TIMEOUT_US, &error));
  g_rand_free (rand);
}

typedef struct
{
  MpkProtocol *proto;
  gboolean     with_traffic;
} IdleArgs;

/* Keeps one message for somebody else in the queue, and with_traffic
 * sends 200 more, while the parent waits. */
static int
traffic_child (gpointer data)
{
  IdleArgs *args = data;

  child_guard ();
  for (int i = 0; i < 200; i++)
    {
      MPK_CHILD_CHECK (mpk_protocol_send (args->proto, MPK_REQ_DO, 0, 1, NULL,
                                          CHILD_TIMEOUT_US, NULL));
      g_usleep (2000);
    }
  return 0;
}

static void
idle_receive (gboolean with_traffic)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  IdleArgs args = { proto, with_traffic };
  MpkProcess *child = NULL;
  MpkMessage *none;
  gint64 start, cpu, wall;

  send_ok (proto, MPK_REQ_DO, 1, NULL);   /* for pid 1: never this process */
  if (with_traffic)
    child = start_child ("traffic", traffic_child, &args);
  start = g_get_monotonic_time ();
  cpu = cpu_time_us ();
  none = mpk_protocol_receive (proto, MPK_MESSAGE_FILTER_TO_ME, G_USEC_PER_SEC, &error);
  cpu = cpu_time_us () - cpu;
  wall = g_get_monotonic_time () - start;
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_cmpint (wall, >=, G_USEC_PER_SEC);
  g_test_message ("a receive blocked %.3f s used %.4f s of CPU", wall / 1e6, cpu / 1e6);
  /* A busy loop would use about the whole second; sleeping uses next to
   * nothing (a look every 20 ms, and one per message that arrives). */
  g_assert_cmpint (cpu, <, 200 * 1000);
  if (child != NULL)
    join_child (child, 0);
}

static void
test_queue_no_busy_loop (void)
{
  g_test_summary ("A receive that waits 1 s, a refused message at the head, sleeps: its "
                  "CPU time stays near zero (< 0.2 s, which only a busy loop exceeds)");
  idle_receive (FALSE);
}

static void
test_queue_no_busy_loop_traffic (void)
{
  g_test_summary ("The same while another process sends 200 messages it refuses: each costs "
                  "one look, not a spin");
  idle_receive (TRUE);
}

static void
test_queue_malformed_slot (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (4);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) good = NULL;
  MpkMailbox *box = mpk__protocol_get_mailbox_for_testing (proto);
  MpkMessage *none;
  guint32 *size;
  guint8 *bytes;

  g_test_summary ("Corrupt bytes in the shared queue: that message is PROTOCOL and removed, "
                  "the next one arrives intact");
  send_ok (proto, MPK_REQ_DO, MPK_PID_NONE, g_variant_new_int32 (1));
  send_ok (proto, MPK_REQ_DO, MPK_PID_NONE, g_variant_new_int32 (2));
  /* The first send took slot 0. */
  bytes = mpk__mailbox_slot_for_testing (box, 0, &size);
  memset (bytes, 0xff, *size);
  none = mpk_protocol_receive (proto, NULL, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_clear_error (&error);
  good = receive_ok (proto, NULL);
  assert_message (good, MPK_REQ_DO, getpid (), MPK_PID_NONE, "2");
  /* A size past the slot. */
  send_ok (proto, MPK_REQ_DO, MPK_PID_NONE, NULL);
  bytes = mpk__mailbox_slot_for_testing (box, 1, &size);
  *size = G_MAXUINT32;
  none = mpk_protocol_receive (proto, NULL, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_assert_true (mpk_protocol_queue_empty (proto));
}

static void
test_queue_too_big (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkProtocol) proto = mpk_protocol_queue_new_full (2, 64, &error);
  g_autofree char *big = g_strnfill (100, 'x');

  g_test_summary ("A message over the slot size is TOO_BIG at send; bad sizes are INVALID");
  g_assert_no_error (error);
  g_assert_false (mpk_protocol_send (proto, MPK_REQ_DO, 0, MPK_PID_NONE,
                                     g_variant_new_string (big), MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TOO_BIG);
  g_clear_error (&error);
  g_assert_true (mpk_protocol_queue_empty (proto));
  g_assert_null (mpk_protocol_queue_new_full (1u << 30, 0, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
}

static void
test_queue_broadcast_once (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessage) first = NULL;
  MpkMessage *none;

  g_test_summary ("A message for everybody is taken once, by the first receiver that accepts it");
  send_ok (proto, MPK_REQ_DIE, MPK_PID_NONE, NULL);
  first = receive_ok (proto, MPK_MESSAGE_FILTER_FOR_ME);
  none = mpk_protocol_receive (proto, MPK_MESSAGE_FILTER_FOR_ME, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
}

typedef struct
{
  MpkProtocol *proto;
  int          n;
} CountArgs;

/* Receives exactly n messages for it, then says so. */
static int
count_child (gpointer data)
{
  CountArgs *args = data;

  child_guard ();
  for (int i = 0; i < args->n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkMessage) m = mpk_protocol_receive (args->proto, MPK_MESSAGE_FILTER_TO_ME,
                                                      CHILD_TIMEOUT_US, &error);

      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (g_variant_get_int32 (m->data) == i);
    }
  return 0;
}

/* Waits for a message that never comes (request NEVER) until killed. */
static int
deaf_child (gpointer data)
{
  CountArgs *args = data;
  MpkMessageFilter never = { MPK_MATCH_REQUEST, 0, "NEVER", NULL, NULL };
  g_autoptr(MpkMessage) m = NULL;

  child_guard ();
  m = mpk_protocol_receive (args->proto, &never, CHILD_TIMEOUT_US, NULL);
  return 1;
}

static void
test_queue_dead_recipient (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lost = NULL;
  CountArgs args = { proto, 5 };
  MpkProcess *deaf, *alive;
  GPid deaf_pid;

  g_test_summary ("A child SIGKILLed while messages for it wait: the others still get theirs, "
                  "join_full reports PEER_DIED, collect returns the dead child's messages "
                  "in order, then join returns");
  deaf = start_child ("deaf", deaf_child, &args);
  deaf_pid = mpk_process_get_pid (deaf);
  for (int i = 0; i < 3; i++)
    send_ok (proto, MPK_REQ_DO, deaf_pid, g_variant_new_int32 (100 + i));
  g_assert_true (mpk_process_kill (deaf, &error));
  g_assert_true (mpk_process_join (deaf, CHILD_TIMEOUT_US));
  alive = start_child ("alive", count_child, &args);
  for (int i = 0; i < args.n; i++)
    send_ok (proto, MPK_REQ_DO, mpk_process_get_pid (alive), g_variant_new_int32 (i));
  join_child (alive, 0);
  g_assert_cmpuint (mpk_protocol_queue_count_for (proto, deaf_pid), ==, 3);
  g_assert_false (mpk_protocol_queue_join_full (proto, &deaf, 1, CHILD_TIMEOUT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_DIED);
  g_clear_error (&error);
  lost = mpk_protocol_queue_collect (proto, deaf_pid, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lost->len, ==, 3);
  for (guint i = 0; i < lost->len; i++)
    assert_message (g_ptr_array_index (lost, i), MPK_REQ_DO, getpid (), deaf_pid,
                    i == 0 ? "100" : i == 1 ? "101" : "102");
  g_assert_true (mpk_protocol_queue_join_full (proto, &deaf, 1, CHILD_TIMEOUT_US, &error));
  g_assert_no_error (error);
  mpk_process_unref (deaf);
}

typedef struct
{
  MpkProtocol *proto;
  int          countdown;
  char        *note;     /* shared: where the child died */
  gboolean     take;     /* die inside a receive, not a send */
} CrashArgs;

static int
crash_child (gpointer data)
{
  CrashArgs *args = data;
  g_autoptr(MpkMessage) m = NULL;

  child_guard ();
  mpk__crash_note = args->note;
  mpk__crash_countdown = args->countdown;
  if (args->take)
    m = mpk_protocol_receive (args->proto, NULL, CHILD_TIMEOUT_US, NULL);
  else
    mpk_protocol_send (args->proto, "CRASH", 0, MPK_PID_NONE, NULL, CHILD_TIMEOUT_US, NULL);
  return 3;   /* the countdown ran out after the last crash point */
}

static void
crash_in_lock (gboolean take)
{
  /* Every crash point of the call, one run each, until the call finishes. */
  char *note = mmap (NULL, MPK__CRASH_NOTE_SIZE, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  for (int countdown = 1;; countdown++)
    {
      g_autoptr(MpkProtocol) proto = new_queue (4);
      g_autoptr(GError) error = NULL;
      CrashArgs args = { proto, countdown, note, take };
      MpkProcess *child;
      int code;
      guint before;

      memset (note, 0, MPK__CRASH_NOTE_SIZE);
      send_ok (proto, "FIRST", MPK_PID_NONE, NULL);
      child = start_child ("victim", crash_child, &args);
      g_assert_true (mpk_process_join (child, CHILD_TIMEOUT_US));
      code = mpk_process_get_exitcode (child);
      mpk_process_unref (child);
      before = mpk_protocol_queue_size (proto);
      g_test_message ("countdown %d: exit %d at '%s', %u queued", countdown, code, note, before);
      /* The others carry on: a send and a receive work, the repair counted. */
      send_ok (proto, "AFTER", MPK_PID_NONE, NULL);
      {
        g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_message_unref);

        while (!mpk_protocol_queue_empty (proto))
          g_ptr_array_add (all, receive_ok (proto, NULL));
        /* In order, each message whole or not there at all. */
        g_assert_cmpuint (all->len, >=, 1);
        g_assert_cmpstr (((MpkMessage *) g_ptr_array_index (all, all->len - 1))->request, ==, "AFTER");
        if (take)
          g_assert_cmpuint (all->len, <=, 2);
        else
          {
            g_assert_cmpuint (all->len, >=, 2);
            g_assert_cmpstr (((MpkMessage *) g_ptr_array_index (all, 0))->request, ==, "FIRST");
            if (all->len == 3)
              g_assert_cmpstr (((MpkMessage *) g_ptr_array_index (all, 1))->request, ==, "CRASH");
          }
      }
      g_assert_true (mpk_protocol_queue_join (proto, CHILD_TIMEOUT_US, &error));
      if (code != -SIGKILL)
        {
          g_assert_cmpint (code, ==, 3);
          break;
        }
      g_assert_cmpuint (mpk_protocol_queue_get_n_recoveries (proto), ==, 1);
    }
  munmap (note, MPK__CRASH_NOTE_SIZE);
}

static void
test_queue_crash_in_send (void)
{
  g_test_summary ("A sender SIGKILLed at each point inside the queue's lock: the next locker "
                  "repairs it; the message is there whole or not at all, nobody is blocked");
  crash_in_lock (FALSE);
}

static void
test_queue_crash_in_receive (void)
{
  g_test_summary ("A receiver SIGKILLed at each point inside the queue's lock: repaired, "
                  "nobody is blocked");
  crash_in_lock (TRUE);
}

#define MANY_CHILDREN 8

typedef struct
{
  MpkProtocol *proto;
  GPid         parent;
  gint32       n;
} ManyArgs;

static int
many_child (gpointer data)
{
  ManyArgs *args = data;

  child_guard ();
  for (gint32 i = 0; i < args->n; i++)
    MPK_CHILD_CHECK (mpk_protocol_send (args->proto, MPK_REQ_FINISHED, 0, args->parent,
                                        g_variant_new_int32 (i), CHILD_TIMEOUT_US, NULL));
  return 0;
}

static void
test_queue_many (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) next = g_hash_table_new (g_direct_hash, g_direct_equal);
  ManyArgs args = { proto, getpid (), under_valgrind () ? 1000 : 10000 };
  MpkProcess *children[MANY_CHILDREN];
  gint64 start = g_get_monotonic_time ();
  guint total = 0;

  g_test_summary ("8 children × 10 000 messages to the parent (1 000 under valgrind): "
                  "exact counts, each child's in its order, then empty and joined");
  for (int i = 0; i < MANY_CHILDREN; i++)
    {
      children[i] = start_child (NULL, many_child, &args);
      g_hash_table_insert (next, GINT_TO_POINTER (mpk_process_get_pid (children[i])),
                           GINT_TO_POINTER (0));
    }
  while (total < (guint) (MANY_CHILDREN * args.n))
    {
      g_autoptr(MpkMessage) m = receive_ok (proto, MPK_MESSAGE_FILTER_TO_ME);
      gpointer key = GINT_TO_POINTER (m->sender_pid);
      gpointer expected;

      g_assert_true (g_hash_table_lookup_extended (next, key, NULL, &expected));
      g_assert_cmpint (g_variant_get_int32 (m->data), ==, GPOINTER_TO_INT (expected));
      g_hash_table_insert (next, key, GINT_TO_POINTER (GPOINTER_TO_INT (expected) + 1));
      total++;
    }
  for (int i = 0; i < MANY_CHILDREN; i++)
    {
      g_assert_cmpint (GPOINTER_TO_INT (g_hash_table_lookup (
                         next, GINT_TO_POINTER (mpk_process_get_pid (children[i])))), ==, args.n);
      join_child (children[i], 0);
    }
  g_assert_true (mpk_protocol_queue_empty (proto));
  g_assert_true (mpk_protocol_queue_join (proto, CHILD_TIMEOUT_US, &error));
  g_test_message ("%u messages in %.3f s", total, (g_get_monotonic_time () - start) / 1e6);
}

static void
test_queue_timeouts (void)
{
  g_autoptr(MpkProtocol) proto = new_queue (1);
  g_autoptr(GError) error = NULL;
  MpkMessage *none;
  gint64 start;

  g_test_summary ("Every wait has a timeout and none ends before it: receive, send on a full "
                  "queue, join");
  start = g_get_monotonic_time ();
  none = mpk_protocol_receive (proto, NULL, 100 * 1000, &error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  send_ok (proto, MPK_REQ_DO, 1, NULL);
  start = g_get_monotonic_time ();
  g_assert_false (mpk_protocol_send (proto, MPK_REQ_DO, 0, 1, NULL, 100 * 1000, &error));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_FULL);
  g_clear_error (&error);
  start = g_get_monotonic_time ();
  g_assert_false (mpk_protocol_queue_join (proto, 100 * 1000, &error));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  mpk_test_add_func ("/protocol/message/roundtrip", test_message_roundtrip);
  mpk_test_add_func ("/protocol/message/filters", test_message_filters);
  mpk_test_add_func ("/protocol/message/malformed", test_message_malformed);
  mpk_test_add_func ("/protocol/message/decode-bytes", test_message_decode_bytes);
  mpk_test_add_func ("/protocol/pipe/local", test_pipe_local);
  mpk_test_add_func ("/protocol/pipe/sender-pid", test_pipe_sender_pid);
  mpk_test_add_func ("/protocol/pipe/filter-keeps-order", test_pipe_filter_keeps_order);
  mpk_test_add_func ("/protocol/pipe/malformed", test_pipe_malformed);
  mpk_test_add_func ("/protocol/pipe/timeout-and-eof", test_pipe_timeout_and_eof);
  mpk_test_add_func ("/protocol/queue/children-to-parent", test_queue_children_to_parent);
  mpk_test_add_func ("/protocol/queue/full-duplex-stress", test_queue_full_duplex_stress);
  mpk_test_add_func ("/protocol/queue/api-params", test_queue_api_params);
  mpk_test_add_func ("/protocol/queue/receive-nothing", test_queue_receive_nothing);
  mpk_test_add_func ("/protocol/queue/send-and-receive", test_queue_send_and_receive);
  mpk_test_add_func ("/protocol/queue/not-for-us-stays", test_queue_not_for_us_stays);
  mpk_test_add_func ("/protocol/queue/full", test_queue_full);
  mpk_test_add_func ("/protocol/queue/count-tasks", test_queue_count_tasks);
  mpk_test_add_func ("/protocol/queue/blocking-receive", test_queue_blocking_receive);
  mpk_test_add_func ("/protocol/queue/putback-order", test_queue_putback_order);
  mpk_test_add_func ("/protocol/queue/no-reorder", test_queue_no_reorder);
  mpk_test_add_func ("/protocol/queue/no-busy-loop", test_queue_no_busy_loop);
  mpk_test_add_func ("/protocol/queue/no-busy-loop-traffic", test_queue_no_busy_loop_traffic);
  mpk_test_add_func ("/protocol/queue/malformed-slot", test_queue_malformed_slot);
  mpk_test_add_func ("/protocol/queue/too-big", test_queue_too_big);
  mpk_test_add_func ("/protocol/queue/broadcast-once", test_queue_broadcast_once);
  mpk_test_add_func ("/protocol/queue/dead-recipient", test_queue_dead_recipient);
  mpk_test_add_func ("/protocol/queue/crash-in-send", test_queue_crash_in_send);
  mpk_test_add_func ("/protocol/queue/crash-in-receive", test_queue_crash_in_receive);
  mpk_test_add_func ("/protocol/queue/many", test_queue_many);
  mpk_test_add_func ("/protocol/queue/timeouts", test_queue_timeouts);
  return g_test_run ();
}
