/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-messenger.c: the messenger layer (issue 14, seed 001, coproc).
 * coproc's own tests ported (test_messenger, test_priority_messenger,
 * test_priorityqueue, test_multi, test_workerresource_basic), then what
 * coproc gets wrong (../shared/research/anchor-layers.md §2.5): counting
 * per channel, special messages in their place, a reply nobody asked for,
 * the peer's death inside every blocking call, the batch that deadlocked
 * coproc, timeouts, malformed frames, and worker shutdown. */
#include "mpk-private.h"
#include "mpk-messenger-private.h"
#include "test-util.h"

#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bounded waits: a test that would hang fails instead. */
#define WAIT_US MPK_TEST_CHILD_TIMEOUT_US

#define INT(i) g_variant_new_int32 (i)
#define STR(s) g_variant_new_string (s)

static gint32
take_int (GVariant *v)
{
  gint32 i;

  g_assert_nonnull (v);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "i");
  i = g_variant_get_int32 (v);
  g_variant_unref (v);
  return i;
}

static void
send_ok (MpkMessenger *m, MpkMessengerSend what, GVariant *channel, GVariant *payload,
         gdouble priority)
{
  g_autoptr(GError) error = NULL;

  ASSERT_OK (mpk_messenger_send_full (m, what, channel, payload, priority, WAIT_US, &error),
             error);
}

static gssize
available_ok (MpkMessenger *m, GVariant *channel)
{
  g_autoptr(GError) error = NULL;
  gssize n = mpk_messenger_available (m, channel, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 0);
  return n;
}

/* Receives on @channel and checks the int32 that comes. */
static void
expect_int (MpkMessenger *m, GVariant *channel, gint32 expected)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = mpk_messenger_receive_blocking (m, channel, WAIT_US, &error);

  g_assert_no_error (error);
  g_assert_cmpint (take_int (v), ==, expected);
}

/* The ints of @array, as "1 2 3", for messages that say what came. */
static char *
ints_text (GPtrArray *array)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < array->len; i++)
    g_string_append_printf (s, "%s%d", i > 0 ? " " : "",
                            g_variant_get_int32 (g_ptr_array_index (array, i)));
  return g_string_free (s, FALSE);
}

static void
assert_array_ints (GPtrArray *array, const char *expected)
{
  g_autofree char *got = NULL;

  g_assert_nonnull (array);
  got = ints_text (array);
  g_assert_cmpstr (got, ==, expected);
}

/* --- coproc's test_messenger ------------------------------------------------ */

static void
test_coproc_messenger (void)
{
  g_autoptr(MpkMessenger) p = NULL;   /* coproc: the process's side */
  g_autoptr(MpkMessenger) r = NULL;   /* the resource's side */
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;
  g_autoptr(GVariant) v = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &p, &r, &error), error);
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 0);
  g_assert_cmpint (available_ok (p, NULL), ==, 0);
  g_assert_cmpint (available_ok (r, NULL), ==, 0);

  send_ok (r, MPK_MESSENGER_SEND_REQUEST, NULL, STR ("hi"), MPK_PRIORITY_NONE);
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 1);
  v = mpk_messenger_receive_blocking (p, NULL, WAIT_US, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "hi");
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 1);

  send_ok (p, MPK_MESSENGER_SEND_REPLY, NULL, v, MPK_PRIORITY_NONE);
  g_assert_cmpint (available_ok (r, NULL), ==, 1);
  /* A reply waiting in the queue is still outstanding, as in coproc. */
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 1);
  g_clear_pointer (&v, g_variant_unref);
  v = mpk_messenger_receive_blocking (r, NULL, WAIT_US, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "hi");
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 0);

  /* A close request: the peer's available() fails with CLOSE_REQUESTED. */
  ASSERT_OK (mpk_messenger_send_close_request (r, WAIT_US, &error), error);
  g_assert_cmpint (mpk_messenger_available (p, NULL, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED);
  g_clear_error (&error);
  /* Reported once. */
  g_assert_cmpint (available_ok (p, NULL), ==, 0);

  /* An error: raised by the requester's available(). */
  {
    g_autoptr(GError) sent = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                                  "test error");
    ASSERT_OK (mpk_messenger_send_error (p, sent, WAIT_US, &error), error);
  }
  g_assert_cmpint (mpk_messenger_available (r, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpstr (error->message, ==, "test error");
  g_clear_error (&error);

  /* send_request_multiple([1, 2, 3]) */
  for (int i = 1; i <= 3; i++)
    send_ok (r, MPK_MESSENGER_SEND_REQUEST, NULL, INT (i), MPK_PRIORITY_NONE);
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 3);
  for (int i = 1; i <= 3; i++)
    {
      GVariant *req = mpk_messenger_receive_blocking (p, NULL, WAIT_US, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (req), ==, i);
      send_ok (p, MPK_MESSENGER_SEND_REPLY, NULL, req, MPK_PRIORITY_NONE);
      g_variant_unref (req);
    }
  got = mpk_messenger_receive_remaining (r, NULL, WAIT_US, &error);
  g_assert_no_error (error);
  assert_array_ints (got, "1 2 3");
  g_assert_cmpint (available_ok (r, NULL), ==, 0);
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 0);
  g_assert_cmpuint (mpk_messenger_get_requests_sent (r, NULL), ==, 4);
  g_assert_cmpuint (mpk_messenger_get_replies_received (r, NULL), ==, 4);
  g_assert_cmpuint (mpk_messenger_get_messages_sent (r, NULL), ==, 4);
  g_assert_cmpuint (mpk_messenger_get_messages_received (p, NULL), ==, 4);
}

/* --- coproc's test_priority_messenger --------------------------------------- */

/* (process available, resource available, process remaining, resource remaining) */
static void
assert_state (MpkMessenger *p, MpkMessenger *r, gssize pa, gssize ra, guint64 pr, guint64 rr)
{
  gssize got_pa = available_ok (p, NULL), got_ra = available_ok (r, NULL);

  g_test_message ("state (%" G_GSSIZE_FORMAT ", %" G_GSSIZE_FORMAT ", %" G_GUINT64_FORMAT
                  ", %" G_GUINT64_FORMAT ")", got_pa, got_ra,
                  mpk_messenger_remaining (p, NULL), mpk_messenger_remaining (r, NULL));
  g_assert_cmpint (got_pa, ==, pa);
  g_assert_cmpint (got_ra, ==, ra);
  g_assert_cmpuint (mpk_messenger_remaining (p, NULL), ==, pr);
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, rr);
}

static void
test_coproc_priority_messenger (void)
{
  g_autoptr(MpkMessenger) p = NULL;
  g_autoptr(MpkMessenger) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &p, &r, &error), error);
  send_ok (r, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  assert_state (p, r, 1, 0, 0, 0);
  expect_int (p, NULL, 1);
  assert_state (p, r, 0, 0, 0, 0);

  send_ok (r, MPK_MESSENGER_SEND_REQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  assert_state (p, r, 1, 0, 0, 1);
  got = mpk_messenger_receive_available (p, NULL, &error);
  g_assert_no_error (error);
  assert_array_ints (got, "1");
  assert_state (p, r, 0, 0, 0, 1);
  send_ok (p, MPK_MESSENGER_SEND_REPLY, NULL, INT (1), MPK_PRIORITY_NONE);
  assert_state (p, r, 0, 1, 0, 1);
  expect_int (r, NULL, 1);
  assert_state (p, r, 0, 0, 0, 0);

  for (int i = 1; i <= 3; i++)
    send_ok (r, MPK_MESSENGER_SEND_REQUEST, NULL, INT (i), MPK_PRIORITY_NONE);
  assert_state (p, r, 3, 0, 0, 3);
  g_clear_pointer (&got, g_ptr_array_unref);
  got = mpk_messenger_receive_available (p, NULL, &error);
  g_assert_no_error (error);
  assert_array_ints (got, "1 2 3");
  for (guint i = 0; i < got->len; i++)
    send_ok (p, MPK_MESSENGER_SEND_REPLY, NULL, g_ptr_array_index (got, i), MPK_PRIORITY_NONE);
  g_assert_cmpuint (mpk_messenger_remaining (r, NULL), ==, 3);
  g_clear_pointer (&got, g_ptr_array_unref);
  got = mpk_messenger_receive_available (r, NULL, &error);
  g_assert_no_error (error);
  assert_array_ints (got, "1 2 3");
  assert_state (p, r, 0, 0, 0, 0);

  ASSERT_OK (mpk_messenger_send_close_request (r, WAIT_US, &error), error);
  g_assert_cmpint (mpk_messenger_available (p, NULL, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED);
  g_clear_error (&error);

  {
    g_autoptr(GError) sent = g_error_new_literal (g_quark_from_static_string ("TestError"), 7,
                                                  "test error was successful");
    g_autoptr(GVariant) none = NULL;

    ASSERT_OK (mpk_messenger_send_error (r, sent, WAIT_US, &error), error);
    none = mpk_messenger_receive_blocking (p, NULL, WAIT_US, &error);
    g_assert_null (none);
    g_assert_error (error, g_quark_from_static_string ("TestError"), 7);
    g_assert_cmpstr (error->message, ==, "test error was successful");
  }
}

/* --- coproc's test_priorityqueue and test_multi ------------------------------ */

typedef struct
{
  gdouble priority;
  gint32  id;        /* the send order */
} Tagged;

static int
tagged_cmp (gconstpointer a, gconstpointer b, gpointer unused)
{
  const Tagged *x = a, *y = b;

  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  return x->id - y->id;
}

/* Sends @n (priority, id) pairs on @channel and checks that they come out
 * sorted by priority, equal ones in send order (a stable sort). */
static void
check_priority_order (MpkMessenger *tx, MpkMessenger *rx, GVariant *channel, Tagged *items,
                      guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;

  for (guint i = 0; i < n; i++)
    {
      items[i].id = i;
      send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, channel,
               INT (i), items[i].priority);
      /* One process plays both sides: read as we go, or the pipe fills. */
      mpk__messenger_pump (rx);
    }
  while (mpk_messenger_queue_size (rx, channel) < n)
    g_assert_cmpint (available_ok (rx, channel), >=, 0);
  g_qsort_with_data (items, n, sizeof *items, tagged_cmp, NULL);
  /* The first by receive_blocking, the rest by receive_available. */
  g_assert_cmpint (take_int (mpk_messenger_receive_blocking (rx, channel, WAIT_US, &error)), ==,
                   items[0].id);
  got = mpk_messenger_receive_available (rx, channel, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, n - 1);
  for (guint i = 1; i < n; i++)
    g_assert_cmpint (g_variant_get_int32 (g_ptr_array_index (got, i - 1)), ==, items[i].id);
}

static void
test_priority_queue_order (void)
{
  g_autoptr(MpkMessenger) tx = NULL;
  g_autoptr(MpkMessenger) rx = NULL;
  g_autoptr(GError) error = NULL;
  Tagged items[1000];
  guint n;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &tx, &rx, &error), error);
  /* 100 x priority 1: all equal, so send order. */
  for (n = 0; n < 100; n++)
    items[n].priority = 1;
  check_priority_order (tx, rx, NULL, items, n);
  /* priorities 99..0 */
  for (n = 0; n < 100; n++)
    items[n].priority = 99 - n;
  check_priority_order (tx, rx, NULL, items, n);
  /* 10 x each of 0..99, shuffled by a fixed step */
  for (n = 0; n < 1000; n++)
    items[n].priority = (n * 37) % 100;
  check_priority_order (tx, rx, NULL, items, n);
}

/* coproc's captured case: (a,1) (b,0) (c,1) (d,0) (e,none) (f,-1) -> f b d a c e. */
static void
test_priority_fbdace (void)
{
  static const char *const names[] = { "a", "b", "c", "d", "e", "f" };
  const gdouble prio[] = { 1, 0, 1, 0, MPK_PRIORITY_NONE, -1 };
  g_autoptr(MpkMessenger) tx = NULL;
  g_autoptr(MpkMessenger) rx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;
  GString *order = g_string_new (NULL);

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &tx, &rx, &error), error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, NULL, STR (names[i]), prio[i]);
  g_assert_true (mpk_messenger_await_available (rx, WAIT_US, &error));
  /* All six must be in before we take any: wait for the sixth. */
  while (mpk_messenger_queue_size (rx, NULL) < 6)
    g_assert_true (mpk_messenger_available (rx, NULL, &error) >= 0);
  got = mpk_messenger_receive_available (rx, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < got->len; i++)
    g_string_append (order, g_variant_get_string (g_ptr_array_index (got, i), NULL));
  g_assert_cmpstr (order->str, ==, "fbdace");
  g_string_free (order, TRUE);
}

/* A FIFO messenger ignores priorities. */
static void
test_fifo_ignores_priority (void)
{
  g_autoptr(MpkMessenger) tx = NULL;
  g_autoptr(MpkMessenger) rx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_FIFO, &tx, &rx, &error), error);
  g_assert_cmpint (mpk_messenger_get_kind (rx), ==, MPK_MESSENGER_FIFO);
  for (int i = 0; i < 5; i++)
    send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (i), 10 - i);
  expect_int (rx, NULL, 0);
  while (mpk_messenger_queue_size (rx, NULL) < 4)
    g_assert_true (mpk_messenger_available (rx, NULL, &error) >= 0);
  got = mpk_messenger_receive_available (rx, NULL, &error);
  assert_array_ints (got, "1 2 3 4");
}

/* test_multi: three channels drain independently, each in its own order. */
static void
test_channels_independent (void)
{
  g_autoptr(MpkMessenger) tx = NULL;
  g_autoptr(MpkMessenger) rx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) b = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &tx, &rx, &error), error);
  for (int i = 0; i < 30; i++)
    {
      const char *ch = (i % 3 == 0) ? "a" : (i % 3 == 1) ? "b" : NULL;

      send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, ch ? STR (ch) : NULL, INT (i), 30 - i);
    }
  /* The default channel, "a" and "b", each sorted by its priorities. */
  expect_int (rx, STR ("b"), 28);
  expect_int (rx, NULL, 29);
  expect_int (rx, STR ("a"), 27);
  while (mpk_messenger_queue_size (rx, STR ("b")) < 9)
    g_assert_true (mpk_messenger_available (rx, STR ("b"), &error) >= 0);
  b = mpk_messenger_receive_available (rx, STR ("b"), &error);
  assert_array_ints (b, "25 22 19 16 13 10 7 4 1");
  /* Channels are values: the string "1" and the int32 1 are different. */
  send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, STR ("1"), INT (100), MPK_PRIORITY_NONE);
  send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, INT (1), INT (101), MPK_PRIORITY_NONE);
  expect_int (rx, INT (1), 101);
  expect_int (rx, STR ("1"), 100);
  /* available() with no channel counts the default channel only (seed 001's 0). */
  send_ok (tx, MPK_MESSENGER_SEND_NOREQUEST, STR ("a"), INT (102), MPK_PRIORITY_NONE);
  while (mpk_messenger_queue_size (rx, STR ("a")) < 10)
    g_assert_true (mpk_messenger_available (rx, STR ("a"), &error) >= 0);
  g_assert_cmpint (available_ok (rx, NULL), ==, 9);
  g_assert_cmpint (mpk_messenger_available_total (rx, &error), ==, 19);
}

/* --- counting ---------------------------------------------------------------- */

/* Requests on interleaved channels are counted per channel, and a reply
 * only lowers its own channel's count. */
static void
test_request_counting_channels (void)
{
  g_autoptr(MpkMessenger) h = NULL;
  g_autoptr(MpkMessenger) w = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *chans[3];

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_FIFO, &h, &w, &error), error);
  chans[0] = g_variant_ref_sink (STR ("x"));
  chans[1] = g_variant_ref_sink (g_variant_new ("(ii)", 1, 2));
  chans[2] = NULL;
  for (int i = 0; i < 30; i++)
    send_ok (h, MPK_MESSENGER_SEND_REQUEST, chans[i % 3],
             INT (i), MPK_PRIORITY_NONE);
  for (int c = 0; c < 3; c++)
    g_assert_cmpuint (mpk_messenger_remaining (h, chans[c]), ==, 10);
  /* The worker answers channel 1 only. */
  for (int k = 0; k < 10; k++)
    {
      g_autoptr(GVariant) req = mpk_messenger_receive_blocking (w, chans[1],
                                                                WAIT_US, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (req), ==, 3 * k + 1);
      send_ok (w, MPK_MESSENGER_SEND_REPLY, chans[1], req, MPK_PRIORITY_NONE);
    }
  {
    g_autoptr(GPtrArray) got = mpk_messenger_receive_remaining (h, chans[1], WAIT_US, &error);
    g_assert_no_error (error);
    assert_array_ints (got, "1 4 7 10 13 16 19 22 25 28");
  }
  g_assert_cmpuint (mpk_messenger_remaining (h, chans[0]), ==, 10);
  g_assert_cmpuint (mpk_messenger_remaining (h, chans[1]), ==, 0);
  g_assert_cmpuint (mpk_messenger_remaining (h, NULL), ==, 10);
  /* Nothing outstanding: receive_remaining returns at once, empty. */
  {
    g_autoptr(GPtrArray) none = mpk_messenger_receive_remaining (h, chans[1], MPK_NO_WAIT,
                                                                  &error);
    g_assert_no_error (error);
    g_assert_cmpuint (none->len, ==, 0);
  }
  /* Not all replies there: NO_WAIT times out and takes nothing. */
  send_ok (w, MPK_MESSENGER_SEND_REPLY, chans[0], INT (0), MPK_PRIORITY_NONE);
  g_assert_null (mpk_messenger_receive_remaining (h, chans[0], MPK_NO_WAIT, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (mpk_messenger_remaining (h, chans[0]), ==, 10);
  g_assert_cmpuint (mpk_messenger_queue_size (h, chans[0]), ==, 1);
  g_variant_unref (chans[0]);
  g_variant_unref (chans[1]);
}

/* A reply to no request is reported in its place and dropped: remaining
 * never goes negative (coproc: -1). */
static void
test_unsolicited_reply (void)
{
  g_autoptr(MpkMessenger) h = NULL;
  g_autoptr(MpkMessenger) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &h, &w, &error), error);
  send_ok (w, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  send_ok (w, MPK_MESSENGER_SEND_REPLY, NULL, INT (2), MPK_PRIORITY_NONE);
  send_ok (w, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (3), MPK_PRIORITY_NONE);
  expect_int (h, NULL, 1);
  g_assert_null (mpk_messenger_receive_blocking (h, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpuint (mpk_messenger_remaining (h, NULL), ==, 0);
  expect_int (h, NULL, 3);
  /* One request, two replies: the second is refused. */
  send_ok (h, MPK_MESSENGER_SEND_REQUEST, NULL, INT (4), MPK_PRIORITY_NONE);
  send_ok (w, MPK_MESSENGER_SEND_REPLY, NULL, INT (4), MPK_PRIORITY_NONE);
  send_ok (w, MPK_MESSENGER_SEND_REPLY, NULL, INT (5), MPK_PRIORITY_NONE);
  got = mpk_messenger_receive_remaining (h, NULL, WAIT_US, &error);
  g_assert_no_error (error);
  assert_array_ints (got, "4");
  g_assert_cmpint (mpk_messenger_available (h, NULL, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_cmpuint (mpk_messenger_remaining (h, NULL), ==, 0);
  g_assert_cmpuint (mpk_messenger_get_replies_received (h, NULL), ==, 1);
}

/* --- special messages ------------------------------------------------------------ */

/* Errors and close requests interleaved with data: each acts after what was
 * sent before it, on every channel, and before what was sent after it. */
static void
test_special_in_order (void)
{
  g_autoptr(MpkMessenger) h = NULL;
  g_autoptr(MpkMessenger) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) e1 = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "first");
  g_autoptr(GPtrArray) got = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &h, &w, &error), error);
  send_ok (h, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  send_ok (h, MPK_MESSENGER_SEND_NOREQUEST, STR ("b"), INT (2), 5);
  ASSERT_OK (mpk_messenger_send_error (h, e1, WAIT_US, &error), error);
  send_ok (h, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (3), 0);   /* more important, later */
  ASSERT_OK (mpk_messenger_send_close_request (h, WAIT_US, &error), error);
  send_ok (h, MPK_MESSENGER_SEND_NOREQUEST, STR ("b"), INT (4), MPK_PRIORITY_NONE);

  /* Wait until everything is in: the last message is on "b", behind two
   * specials, so count the arrivals by what is queued for "b"... it is not
   * queued yet: its turn comes after both specials. So read in order. */
  g_assert_true (mpk_messenger_await_available (w, WAIT_US, &error));
  expect_int (w, NULL, 1);                 /* before the error: 3 is not there yet */
  g_assert_null (mpk_messenger_receive_blocking (w, NULL, WAIT_US, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "first");
  g_clear_error (&error);
  /* "b" still has 2, sent before the error: the error did not wait for it,
   * because the call was on the default channel; 2 is not lost either. */
  expect_int (w, STR ("b"), 2);
  expect_int (w, NULL, 3);
  g_assert_false (mpk_messenger_await_available (w, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED);
  g_clear_error (&error);
  got = mpk_messenger_receive_available (w, STR ("b"), &error);
  g_assert_no_error (error);
  assert_array_ints (got, "4");
}

/* A remote error crosses as data: any domain, code and message; one of a
 * domain this process never used still matches by name. */
static void
test_error_as_data (void)
{
  g_autoptr(MpkMessenger) h = NULL;
  g_autoptr(MpkMessenger) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) sent = NULL;
  g_autofree char *long_domain = g_strnfill (200, 'd');

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_FIFO, &h, &w, &error), error);
  sent = g_error_new (MPK_ERROR, MPK_ERROR_TIMED_OUT, "remote %s", "timeout ✓");
  ASSERT_OK (mpk_messenger_send_error (w, sent, WAIT_US, &error), error);
  g_assert_false (mpk_messenger_await_available (h, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, "remote timeout ✓");
  g_clear_error (&error);
  /* A domain name too long for the wire is the sender's error. */
  g_clear_error (&sent);
  sent = g_error_new_literal (g_quark_from_string (long_domain), 1, "x");
  ASSERT_FAILS (mpk_messenger_send_error (w, sent, WAIT_US, &error), error, MPK_ERROR_INVALID);
  g_clear_error (&sent);
  sent = g_error_new_literal (g_quark_from_static_string ("test-messenger-fresh-domain"), -3, "");
  ASSERT_OK (mpk_messenger_send_error (w, sent, WAIT_US, &error), error);
  g_assert_cmpint (mpk_messenger_available_total (h, &error), ==, -1);
  g_assert_error (error, g_quark_from_string ("test-messenger-fresh-domain"), -3);
}

/* Hand-made frames that are not messenger messages: each is a PROTOCOL
 * error in its place, and the messenger carries on. */
static void
test_malformed (void)
{
  g_autoptr(MpkMessenger) h = NULL;
  g_autoptr(GError) error = NULL;
  MpkConnection *raw, *conn;
  GVariant *bad[] = {
    g_variant_new_int32 (5),
    g_variant_new ("(ymvdv)", 9, NULL, 0.0, INT (1)),
    g_variant_new ("(ymvdv)", 0, NULL, NAN, INT (1)),
    g_variant_new ("(ymvdv)", 3, NULL, 0.0, INT (1)),
    g_variant_new ("(ymvdv)", 3, NULL, 0.0, g_variant_new ("(sis)", "", 1, "m")),
    g_variant_new ("(ymvdv)", 4, NULL, 0.0, INT (1)),
    g_variant_new ("(ymvdv)", 4, STR ("ch"), 0.0, g_variant_new ("()")),
  };

  mpk_test_pipe (TRUE, &raw, &conn);
  h = mpk_messenger_new (conn, MPK_MESSENGER_PRIORITY, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      mpk_test_send (raw, bad[i]);
      mpk_test_send (raw, g_variant_new ("(ymvdv)", 0, NULL, 0.0, INT (i)));
    }
  mpk_test_send_bytes (raw, "raw", 3);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (mpk_messenger_receive_blocking (h, NULL, WAIT_US, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
      g_test_message ("bad %u: %s", i, error->message);
      g_clear_error (&error);
      expect_int (h, NULL, i);
    }
  g_assert_null (mpk_messenger_receive_blocking (h, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_clear_error (&error);
  /* A broken frame header: the stream is unusable, which is reported, and
   * stays so. */
  g_assert_cmpint (send (mpk_connection_fileno (raw, NULL), "garbage-garbage-garbage-garbage-garbage-garbage",
                         46, MSG_NOSIGNAL), ==, 46);
  g_assert_null (mpk_messenger_receive_blocking (h, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_null (mpk_messenger_receive_blocking (h, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL);
  g_clear_error (&error);
  mpk_connection_free (raw);
}

/* A messenger needs a duplex socket. */
static void
test_new_refuses (void)
{
  g_autoptr(GError) error = NULL;
  MpkConnection *r, *w;

  mpk_test_pipe (FALSE, &r, &w);
  g_assert_null (mpk_messenger_new (r, MPK_MESSENGER_FIFO, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  mpk_connection_free (w);
}

/* --- timeouts and the peer's end ------------------------------------------------ */

static void
test_timeouts (void)
{
  g_autoptr(MpkMessenger) h = NULL;
  g_autoptr(MpkMessenger) w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) none = NULL;
  g_autoptr(GPtrArray) empty = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &h, &w, &error), error);
  ASSERT_FAILS_IN (mpk_messenger_receive_blocking (h, NULL, 50000, &error) != NULL, error,
                   MPK_ERROR_TIMED_OUT, 50000, 30 * G_USEC_PER_SEC);
  ASSERT_FAILS_IN (mpk_messenger_await_available (h, 50000, &error), error,
                   MPK_ERROR_TIMED_OUT, 50000, 30 * G_USEC_PER_SEC);
  send_ok (h, MPK_MESSENGER_SEND_REQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  ASSERT_FAILS_IN (mpk_messenger_receive_remaining (h, NULL, 50000, &error) != NULL, error,
                   MPK_ERROR_TIMED_OUT, 50000, 30 * G_USEC_PER_SEC);
  empty = mpk_messenger_receive_available (h, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);
  none = mpk_messenger_receive_blocking (h, NULL, MPK_NO_WAIT, &error);
  g_assert_null (none);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
}

/* The peer closes its end: what it sent is still handed over, then every
 * call says PEER_CLOSED, whether or not the peer read what we sent
 * (coproc: BrokenPipeError or ConnectionResetError). */
static void
test_peer_closed (gconstpointer data)
{
  gboolean unread = GPOINTER_TO_INT (data);
  g_autoptr(MpkMessenger) h = NULL;
  MpkMessenger *w = NULL;
  g_autoptr(GError) error = NULL;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_PRIORITY, &h, &w, &error), error);
  send_ok (h, MPK_MESSENGER_SEND_REQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  send_ok (w, MPK_MESSENGER_SEND_NOREQUEST, STR ("a"), INT (7), MPK_PRIORITY_NONE);
  if (!unread)
    expect_int (w, NULL, 1);
  mpk_messenger_free (w);
  expect_int (h, STR ("a"), 7);
  g_assert_null (mpk_messenger_receive_remaining (h, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_null (mpk_messenger_receive_blocking (h, STR ("a"), WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_clear_error (&error);
  g_assert_false (mpk_messenger_await_available (h, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (mpk_messenger_available (h, NULL, &error), ==, -1);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_clear_error (&error);
  g_assert_false (mpk_messenger_send_norequest (h, NULL, INT (1), WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
}

/* --- workers --------------------------------------------------------------------- */

/* coproc's echo worker: every message back on its channel, as a reply for
 * a request; ends at the close request. */
static int
echo_worker (MpkMessenger *m, gpointer data)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) got = NULL;

      if (!mpk_messenger_await_available (m, MPK_WAIT_FOREVER, &error))
        return g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED) ? 0 : 3;
      got = mpk_messenger_receive_available (m, NULL, &error);
      if (got == NULL)
        return 4;
      for (guint i = 0; i < got->len; i++)
        if (!mpk_messenger_send_full (m, data ? MPK_MESSENGER_SEND_REPLY
                                              : MPK_MESSENGER_SEND_NOREQUEST,
                                      NULL, g_ptr_array_index (got, i), MPK_PRIORITY_NONE,
                                      MPK_WAIT_FOREVER, &error))
          return 5;
    }
}

/* A request echo on every channel: receive_blocking on any, reply there. */
static int
request_echo_worker (MpkMessenger *m, gpointer data)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) req = mpk_messenger_receive_blocking (m, NULL, MPK_WAIT_FOREVER,
                                                                &error);

      if (req == NULL)
        return g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED) ? 0 : 3;
      if (!mpk_messenger_send_reply (m, NULL, req, MPK_WAIT_FOREVER, &error))
        return 5;
    }
}

static MpkWorker *
start_worker (MpkWorkerFunc func, gpointer data, MpkMessengerKind kind)
{
  g_autoptr(GError) error = NULL;
  MpkWorker *worker = mpk_worker_new ("worker", func, data, NULL, kind, &error);

  g_assert_no_error (error);
  ASSERT_OK (mpk_worker_start (worker, &error), error);
  return worker;
}

static void
close_worker (MpkWorker *worker, int expected_exitcode)
{
  g_autoptr(GError) error = NULL;

  ASSERT_OK (mpk_worker_close (worker, WAIT_US, &error), error);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, expected_exitcode);
  g_assert_false (mpk_worker_is_alive (worker));
}

/* coproc's test_workerresource_basic, with waits instead of sleeps. */
static void
test_worker_basic (void)
{
  g_autoptr(MpkWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  MpkMessenger *m;

  worker = start_worker (echo_worker, NULL, MPK_MESSENGER_PRIORITY);
  m = mpk_worker_get_messenger (worker);
  g_assert_nonnull (mpk_worker_get_process (worker));
  send_ok (m, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (42), MPK_PRIORITY_NONE);
  expect_int (m, NULL, 42);
  for (int i = 0; i < 10; i++)
    send_ok (m, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (i), MPK_PRIORITY_NONE);
  g_assert_cmpuint (mpk_messenger_remaining (m, NULL), ==, 0);
  for (int i = 0; i < 10; i++)
    expect_int (m, NULL, i);
  close_worker (worker, 0);
  g_clear_pointer (&worker, mpk_worker_free);

  worker = start_worker (echo_worker, GINT_TO_POINTER (1), MPK_MESSENGER_PRIORITY);
  m = mpk_worker_get_messenger (worker);
  for (int i = 0; i < 10; i++)
    {
      send_ok (m, MPK_MESSENGER_SEND_REQUEST, NULL, INT (i), MPK_PRIORITY_NONE);
      g_assert_cmpuint (mpk_messenger_remaining (m, NULL), ==, i + 1);
    }
  {
    g_autoptr(GPtrArray) got = mpk_messenger_receive_remaining (m, NULL, WAIT_US, &error);
    g_assert_no_error (error);
    assert_array_ints (got, "0 1 2 3 4 5 6 7 8 9");
  }
  close_worker (worker, 0);
  /* Closing again only says it is done. */
  close_worker (worker, 0);
}

/* 100 000 requests in one batch to an echo worker, then every reply:
 * coproc deadlocked on the full pipes. Then 300 x 64 KiB the same way. */
/* AddressSanitizer slows each message down several times, and the test must
 * stay well inside the per-test watchdog on a loaded machine: 10 000 small
 * requests (as under valgrind) still fill both directions of the pipe
 * several times over. */
#if defined (__SANITIZE_ADDRESS__)
#define SANITIZED TRUE
#elif defined (__has_feature)
#if __has_feature (address_sanitizer)
#define SANITIZED TRUE
#endif
#endif
#ifndef SANITIZED
#define SANITIZED FALSE
#endif

static void
test_batch_no_deadlock (gconstpointer data)
{
  gboolean large = GPOINTER_TO_INT (data);
  gboolean slow = under_valgrind () || SANITIZED;
  guint n = large ? (slow ? 100 : 300) : (under_valgrind () || SANITIZED ? 10000 : 100000);
  g_autoptr(MpkWorker) worker = start_worker (request_echo_worker, NULL, MPK_MESSENGER_FIFO);
  MpkMessenger *m = mpk_worker_get_messenger (worker);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;
  g_autofree guint8 *blob = g_malloc0 (64 * 1024);
  gint64 t0 = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    {
      GVariant *payload;

      memcpy (blob, &i, sizeof i);
      payload = large ? g_variant_new ("(i@ay)", i,
                                       g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob,
                                                                  64 * 1024, 1))
                      : INT (i);
      ASSERT_OK (mpk_messenger_send_request (m, NULL, payload, WAIT_US, &error), error);
    }
  got = mpk_messenger_receive_remaining (m, NULL, WAIT_US * 6, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      GVariant *v = g_ptr_array_index (got, i);
      gint32 id;

      if (large)
        g_variant_get_child (v, 0, "i", &id);
      else
        id = g_variant_get_int32 (v);
      g_assert_cmpint (id, ==, (gint32) i);
    }
  g_test_message ("%u requests%s and replies: %.0f ms", n, large ? " of 64 KiB" : "",
                  (g_get_monotonic_time () - t0) / 1000.0);
  close_worker (worker, 0);
}

/* A worker that streams @n messages round-robin over 4 channels, with
 * priorities, then waits for the close request. */
static int
stream_worker (MpkMessenger *m, gpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    if (!mpk_messenger_send_full (m, MPK_MESSENGER_SEND_NOREQUEST, INT (i % 4), INT (i),
                                  (i / 4) % 3, MPK_WAIT_FOREVER, &error))
      return 5;
  if (mpk_messenger_receive_blocking (m, NULL, MPK_WAIT_FOREVER, &error) != NULL)
    return 6;
  return g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED) ? 0 : 3;
}

/* 100 000 messages over 4 channels: each channel gets exactly its own, and
 * a FIFO messenger keeps their order. */
static void
test_stream_four_channels (void)
{
  guint n = under_valgrind () || SANITIZED ? 10000 : 100000;
  g_autoptr(MpkWorker) worker = start_worker (stream_worker, GUINT_TO_POINTER (n),
                                              MPK_MESSENGER_FIFO);
  MpkMessenger *m = mpk_worker_get_messenger (worker);
  g_autoptr(GError) error = NULL;
  guint next[4] = { 0, 1, 2, 3 };
  guint taken = 0;

  while (taken < n)
    {
      /* Take from the channels in turn, whatever is there. */
      for (gint32 c = 0; c < 4; c++)
        {
          g_autoptr(GPtrArray) got = mpk_messenger_receive_available (m, INT (c), &error);

          g_assert_no_error (error);
          for (guint i = 0; i < got->len; i++)
            {
              g_assert_cmpint (g_variant_get_int32 (g_ptr_array_index (got, i)), ==, next[c]);
              next[c] += 4;
            }
          taken += got->len;
        }
      if (taken < n)
        g_assert_true (mpk_messenger_await_available (m, WAIT_US, &error));
      g_assert_no_error (error);
    }
  for (gint32 c = 0; c < 4; c++)
    g_assert_cmpuint (mpk_messenger_get_messages_received (m, INT (c)), ==, n / 4);
  close_worker (worker, 0);
}

/* The same stream into a priority messenger, read only once it has all
 * arrived: each channel in priority order, equal ones in send order. */
static void
test_stream_priorities (void)
{
  guint n = under_valgrind () || SANITIZED ? 4000 : 40000;
  g_autoptr(MpkWorker) worker = start_worker (stream_worker, GUINT_TO_POINTER (n),
                                              MPK_MESSENGER_PRIORITY);
  MpkMessenger *m = mpk_worker_get_messenger (worker);
  g_autoptr(GError) error = NULL;

  for (;;)
    {
      gssize k = mpk_messenger_available_total (m, &error);

      g_assert_no_error (error);
      if (k >= (gssize) n)
        break;
      g_assert_true (mpk__messenger_wait (m, mpk__deadline_from_timeout (WAIT_US), &error));
    }
  for (gint32 c = 0; c < 4; c++)
    {
      g_autoptr(GPtrArray) got = mpk_messenger_receive_available (m, INT (c), &error);
      gint last_prio = -1;
      gint32 last_id = -1;

      g_assert_no_error (error);
      g_assert_cmpuint (got->len, ==, n / 4);
      for (guint i = 0; i < got->len; i++)
        {
          gint32 id = g_variant_get_int32 (g_ptr_array_index (got, i));
          gint prio = (id / 4) % 3;

          g_assert_cmpint (id % 4, ==, c);
          g_assert_cmpint (prio, >=, last_prio);
          if (prio == last_prio)
            g_assert_cmpint (id, >, last_id);
          last_prio = prio;
          last_id = id;
        }
    }
  close_worker (worker, 0);
}

/* Workers whose process dies: SIGKILL while the host waits in
 * receive_blocking or receive_remaining, and one whose end of the socket
 * lives on in a child of its own (no EOF ever comes; the process's end
 * must be enough). */
typedef enum
{
  DIE_IN_BLOCKING,
  DIE_IN_REMAINING,
} DieMode;

/* Waits (at most about 10 s) until the parent sleeps in a poll: the
 * host is then inside the blocking call under test, not before it. Reads
 * /proc/PPID/wchan (Linux); if that never names a poll, it goes on anyway
 * (the call must fail the same way, only "during" is then not certain). */
static void
wait_parent_in_poll (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/wchan", (int) getppid ());

  for (int tries = 0; tries < 10000; tries++)
    {
      g_autofree char *wchan = NULL;

      if (g_file_get_contents (path, &wchan, NULL, NULL) && strstr (wchan, "poll") != NULL)
        return;
      g_usleep (1000);
    }
}

static int
dying_worker (MpkMessenger *m, gpointer data)
{
  DieMode mode = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) req = NULL;

  child_guard ();
  req = mpk_messenger_receive_blocking (m, NULL, MPK_WAIT_FOREVER, &error);
  if (req == NULL)
    return 3;
  if (mode == DIE_IN_REMAINING)
    mpk_messenger_send_reply (m, NULL, req, MPK_WAIT_FOREVER, NULL);
  mpk_messenger_flush (m, MPK_WAIT_FOREVER, NULL);
  if (mode == DIE_IN_REMAINING)
    g_usleep (0);            /* the reply is out; the host reads it, then polls again */
  wait_parent_in_poll ();
  raise (SIGKILL);
  return 4;
}

static void
test_peer_killed (gconstpointer data)
{
  DieMode mode = GPOINTER_TO_INT (data);
  g_autoptr(MpkWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  MpkMessenger *m;
  gint64 t0;

  worker = mpk_worker_new ("worker", dying_worker, GINT_TO_POINTER (mode), NULL,
                           MPK_MESSENGER_PRIORITY, &error);
  g_assert_no_error (error);
  m = mpk_worker_get_messenger (worker);
  /* Sent before the start: the worker cannot be dead yet. */
  for (int i = 0; i < 3; i++)
    send_ok (m, MPK_MESSENGER_SEND_REQUEST, NULL, INT (i), MPK_PRIORITY_NONE);
  ASSERT_OK (mpk_worker_start (worker, &error), error);
  t0 = g_get_monotonic_time ();
  if (mode == DIE_IN_BLOCKING)
    g_assert_null (mpk_messenger_receive_blocking (m, NULL, WAIT_US, &error));
  else
    g_assert_null (mpk_messenger_receive_remaining (m, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_test_message ("%s after %.1f ms", error->message, (g_get_monotonic_time () - t0) / 1000.0);
  g_clear_error (&error);
  if (mode == DIE_IN_REMAINING)
    {
      /* The one reply it sent before dying is still there. */
      g_assert_cmpuint (mpk_messenger_queue_size (m, NULL), ==, 1);
      expect_int (m, NULL, 0);
    }
  g_assert_false (mpk_worker_close (worker, WAIT_US, &error) && FALSE);
  g_clear_error (&error);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, -SIGKILL);
}

/* The worker's end of the socket outlives the worker (this process holds
 * a copy, as a grandchild of the worker could): no EOF comes, and only the
 * watch on the worker's process can end the wait. */
static int
quick_death (gpointer data)
{
  MpkMessenger *side = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) req = NULL;

  child_guard ();
  req = mpk_messenger_receive_blocking (side, NULL, MPK_WAIT_FOREVER, &error);
  raise (SIGKILL);
  return 4;
}

static void
test_peer_end_held (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkMessenger) host = NULL;
  MpkMessenger *side = NULL;
  MpkProcess *process;
  int held;

  ASSERT_OK (mpk_messenger_new_pair (MPK_MESSENGER_FIFO, &side, &host, &error), error);
  held = dup (mpk_connection_fileno (mpk_messenger_get_connection (side), NULL));
  g_assert_cmpint (held, >=, 0);
  process = mpk_test_start (quick_death, side);
  mpk__messenger_discard (side);
  mpk__messenger_watch_process (host, process);
  send_ok (host, MPK_MESSENGER_SEND_REQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  g_assert_null (mpk_messenger_receive_blocking (host, NULL, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* Sticky, and the sends fail too once the pipe is full. */
  g_assert_false (mpk_messenger_await_available (host, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
  g_clear_error (&error);
  mpk__messenger_watch_process (host, NULL);
  g_assert_true (mpk_process_join (process, WAIT_US));
  g_assert_cmpint (mpk_process_get_exitcode (process), ==, -SIGKILL);
  mpk_process_unref (process);
  close (held);
}

/* Closing a worker waits for it: what it prints and sends after the close
 * request is not lost (coproc SIGTERMs at once). */
static int
slow_leaver (MpkMessenger *m, gpointer data)
{
  g_autoptr(GError) error = NULL;

  while (mpk_messenger_receive_blocking (m, NULL, MPK_WAIT_FOREVER, &error) != NULL)
    ;
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED))
    return 3;
  g_clear_error (&error);
  /* Say goodbye with a lot: 1500 x 256 B, more than the pipe holds. */
  for (int i = 0; i < 1500; i++)
    {
      static const guint8 zeros[256];

      if (!mpk_messenger_send_norequest (m, STR ("bye"), g_variant_new_fixed_array (
                                           G_VARIANT_TYPE_BYTE, zeros, sizeof zeros, 1),
                                         MPK_WAIT_FOREVER, &error))
        return 5;
    }
  {
    g_autoptr(GError) e = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "closed cleanly");
    mpk_messenger_send_error (m, e, MPK_WAIT_FOREVER, NULL);
  }
  return 7;
}

static void
test_worker_close_waits (void)
{
  g_autoptr(MpkWorker) worker = start_worker (slow_leaver, NULL, MPK_MESSENGER_FIFO);
  MpkMessenger *m = mpk_worker_get_messenger (worker);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) bye = NULL;

  send_ok (m, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (1), MPK_PRIORITY_NONE);
  /* A bound that only catches a hang: the worker has 384 KiB to send. */
  ASSERT_OK (mpk_worker_close (worker, 4 * WAIT_US, &error), error);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, 7);
  /* Everything it sent is in the host's messenger, then its error, then
   * the end. */
  bye = mpk_messenger_receive_available (m, STR ("bye"), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (bye->len, ==, 1500);
  g_assert_false (mpk_messenger_await_available (m, WAIT_US, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (mpk_messenger_await_available (m, WAIT_US, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_PEER_CLOSED);
}

/* A worker that ignores the close request is terminated when the timeout
 * expires; close says so. */
static int
stubborn_worker (MpkMessenger *m, gpointer data)
{
  child_guard ();
  for (;;)
    pause ();
  return 0;
}

static void
test_worker_close_terminates (void)
{
  g_autoptr(MpkWorker) worker = start_worker (stubborn_worker, NULL, MPK_MESSENGER_FIFO);
  g_autoptr(GError) error = NULL;

  g_assert_true (mpk_worker_is_alive (worker));
  g_assert_false (mpk_worker_join (worker, 10000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (mpk_worker_close (worker, 100000, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, -SIGTERM);
  g_assert_false (mpk_worker_is_alive (worker));
}

/* Messages sent before the start wait in the pipe; join without a close
 * request waits for a worker that leaves by itself. */
static int
count_worker (MpkMessenger *m, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) got = NULL;

  if (!mpk_messenger_await_available (m, MPK_WAIT_FOREVER, &error))
    return 3;
  while (mpk_messenger_queue_size (m, NULL) < 3)
    if (mpk_messenger_available (m, NULL, &error) < 0)
      return 4;
  got = mpk_messenger_receive_available (m, NULL, &error);
  return got != NULL ? (int) got->len : 5;
}

static void
test_worker_send_before_start (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkWorker) worker = mpk_worker_new (NULL, count_worker, NULL, NULL,
                                                MPK_MESSENGER_PRIORITY, &error);
  MpkMessenger *m = mpk_worker_get_messenger (worker);

  g_assert_no_error (error);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, MPK_EXITCODE_NONE);
  ASSERT_FAILS (mpk_worker_join (worker, 0, &error), error, MPK_ERROR_INVALID);
  for (int i = 0; i < 3; i++)
    send_ok (m, MPK_MESSENGER_SEND_NOREQUEST, NULL, INT (i), MPK_PRIORITY_NONE);
  ASSERT_OK (mpk_worker_start (worker, &error), error);
  ASSERT_FAILS (mpk_worker_start (worker, &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_worker_join (worker, WAIT_US, &error), error);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, 3);
}

/* A sender blocked on a full pipe still reads: both sides send 64 KiB
 * messages to each other at once, neither receiving until it is done. */
static int
flood_worker (MpkMessenger *m, gpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  g_autofree guint8 *blob = g_malloc0 (64 * 1024);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    if (!mpk_messenger_send_norequest (m, NULL, g_variant_new_fixed_array (
                                         G_VARIANT_TYPE_BYTE, blob, 64 * 1024, 1),
                                       MPK_WAIT_FOREVER, &error))
      return 5;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = mpk_messenger_receive_blocking (m, NULL, MPK_WAIT_FOREVER, &error);
      if (v == NULL)
        return 6;
    }
  return mpk_messenger_flush (m, MPK_WAIT_FOREVER, &error) ? 0 : 7;
}

static void
test_both_send_at_once (void)
{
  guint n = under_valgrind () ? 50 : 200;
  g_autoptr(MpkWorker) worker = start_worker (flood_worker, GUINT_TO_POINTER (n),
                                              MPK_MESSENGER_FIFO);
  MpkMessenger *m = mpk_worker_get_messenger (worker);
  g_autofree guint8 *blob = g_malloc0 (64 * 1024);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n; i++)
    ASSERT_OK (mpk_messenger_send_norequest (m, NULL, g_variant_new_fixed_array (
                                               G_VARIANT_TYPE_BYTE, blob, 64 * 1024, 1),
                                             WAIT_US, &error), error);
  ASSERT_OK (mpk_messenger_flush (m, WAIT_US, &error), error);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = mpk_messenger_receive_blocking (m, NULL, WAIT_US, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_get_size (v), ==, 64 * 1024);
    }
  ASSERT_OK (mpk_worker_join (worker, WAIT_US, &error), error);
  g_assert_cmpint (mpk_worker_get_exitcode (worker), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  mpk_test_add_func ("/messenger/coproc/messenger", test_coproc_messenger);
  mpk_test_add_func ("/messenger/coproc/priority-messenger", test_coproc_priority_messenger);
  mpk_test_add_func ("/messenger/coproc/priority-queue", test_priority_queue_order);
  mpk_test_add_func ("/messenger/coproc/multi", test_channels_independent);
  mpk_test_add_func ("/messenger/coproc/worker-resource", test_worker_basic);
  mpk_test_add_func ("/messenger/priority/fbdace", test_priority_fbdace);
  mpk_test_add_func ("/messenger/fifo/ignores-priority", test_fifo_ignores_priority);
  mpk_test_add_func ("/messenger/requests/per-channel", test_request_counting_channels);
  mpk_test_add_func ("/messenger/requests/unsolicited-reply", test_unsolicited_reply);
  mpk_test_add_func ("/messenger/special/in-order", test_special_in_order);
  mpk_test_add_func ("/messenger/special/error-as-data", test_error_as_data);
  mpk_test_add_func ("/messenger/hostile/malformed", test_malformed);
  mpk_test_add_func ("/messenger/new/refuses-simplex", test_new_refuses);
  mpk_test_add_func ("/messenger/timeouts", test_timeouts);
  mpk_test_add_data_func ("/messenger/peer/closed-after-reading", GINT_TO_POINTER (FALSE),
                          test_peer_closed);
  mpk_test_add_data_func ("/messenger/peer/closed-unread", GINT_TO_POINTER (TRUE),
                          test_peer_closed);
  mpk_test_add_data_func ("/messenger/peer/killed-in-receive-blocking",
                          GINT_TO_POINTER (DIE_IN_BLOCKING), test_peer_killed);
  mpk_test_add_data_func ("/messenger/peer/killed-in-receive-remaining",
                          GINT_TO_POINTER (DIE_IN_REMAINING), test_peer_killed);
  mpk_test_add_func ("/messenger/worker/peer-end-held", test_peer_end_held);
  mpk_test_add_data_func ("/messenger/batch/100000-requests", GINT_TO_POINTER (FALSE),
                          test_batch_no_deadlock);
  mpk_test_add_data_func ("/messenger/batch/64k-requests", GINT_TO_POINTER (TRUE),
                          test_batch_no_deadlock);
  mpk_test_add_func ("/messenger/batch/both-send-at-once", test_both_send_at_once);
  mpk_test_add_func ("/messenger/stream/four-channels", test_stream_four_channels);
  mpk_test_add_func ("/messenger/stream/priorities", test_stream_priorities);
  mpk_test_add_func ("/messenger/worker/close-waits", test_worker_close_waits);
  mpk_test_add_func ("/messenger/worker/close-terminates", test_worker_close_terminates);
  mpk_test_add_func ("/messenger/worker/send-before-start", test_worker_send_before_start);

  return g_test_run ();
}
