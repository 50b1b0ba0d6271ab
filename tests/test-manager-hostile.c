/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-hostile.c: a Manager server under a hostile or careless peer: raw
 * protocol abuse before and after the key is proven, unbalanced decrefs, floods of idle
 * connections, growth past the server's limits, a server out of file descriptors, and
 * random requests beside a good client, who must keep getting right answers (issue 11
 * section 1).
 *
 * What each test covers:
 *   /manager/raw/oversized-handshake, /manager/raw/junk-handshake
 *                           the AUTH side: the server closes, auth_failures counted
 *   /manager/raw/junk-request after auth: bad bytes -> error reply or close,
 *                           bad_requests counted
 *   /manager/raw/wrong-shape after auth: well-formed frames of the wrong type
 *   /manager/decref/unbalanced a decref beyond the proxies' counts is INVALID; a
 *                           published or stored object stays alive (it was a
 *                           use-after-free)
 *   /manager/flood/unauthenticated 400 idle unauthenticated connections, re-opened as
 *                           dropped: a key holder still connects and is served
 *                           (latency reported)
 *   /manager/limits/growth  with the server's item limit lowered to 4, every call
 *                           that would grow a full list, dict or namespace is INVALID
 *                           and changes nothing
 *   /manager/emfile/no-spin a server at its file limit with a connection waiting and
 *                           no handshake to drop sleeps (it spun on accept()); the
 *                           connection is accepted once a client leaves
 *   /manager/emfile/evict-oldest at the limit, an idle handshake from earlier makes room
 *                           for a key holder, who authenticates, not counted in
 *                           auth_failures
 *   /manager/preauth/read-bound the handshake reads only its one frame before the key is
 *                           proven (socket pair, FIONREAD)
 *   /manager/preauth/read-bound-server the same through a running server: it closes with
 *                           the rest unread (ECONNRESET on a Unix socket)
 *   /manager/hostile-client random bytes, mutated requests and unbalanced decrefs on
 *                           raw connections; a good client keeps getting right answers
 *
 * Contract points: M1-M17 are the Manager rows of
 * ../shared/research/anchor-multiprocessing.md section 1.4; the numbers 34-44 are
 * the CPython test cases of its section 2.
 * Shared helpers and assertions: test-manager-util.h. The managers the tests
 * start are shut down with exit code 0 unless killed on purpose.
 */

/* prlimit(), to bring a running server to its file limit. */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/un.h>
#include "test-manager-util.h"

/* --- raw protocol abuse ------------------------------------------------------------------------------------------ */

/* Writes @len bytes of @buf, stopping quietly if the server hangs up first
 * (MSG_NOSIGNAL: no SIGPIPE). */
static void
send_lenient (int           fd,
              gconstpointer buf,
              gsize         len)
{
  const guint8 *p = buf;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };

          g_assert_cmpint (poll (&pfd, 1, CHILD_TIMEOUT_US / 1000), >, 0);
          continue;
        }
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
        return;
      g_assert_cmpint (n, >, 0);
      p += n;
      len -= n;
    }
}

typedef enum
{
  RAW_CLOSED,     /* the server closed the connection (EOF or reset) */
  RAW_ANSWERED,   /* the server sent something back */
  RAW_SILENT,     /* neither within CHILD_TIMEOUT_US */
} RawOutcome;

static const char *
raw_outcome_name (RawOutcome outcome)
{
  return outcome == RAW_CLOSED ? "closed" : outcome == RAW_ANSWERED ? "answered" : "silent";
}

/* Reads what the server sends on @fd until it closes; with @stop_at_data,
 * the first bytes count as an answer. */
static RawOutcome
raw_wait (int      fd,
          gboolean stop_at_data)
{
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  guint8 buf[4096];

  for (;;)
    {
      gint64 left = end - g_get_monotonic_time ();
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t n;
      int r;

      if (left <= 0)
        return RAW_SILENT;
      r = poll (&pfd, 1, (int) (left / 1000) + 1);
      if (r < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        return RAW_SILENT;
      n = recv (fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
        return RAW_CLOSED;
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      g_assert_cmpint (n, >, 0);
      if (stop_at_data)
        return RAW_ANSWERED;
    }
}

static void
test_manager_raw_preauth (gconstpointer data)
{
  gboolean framed = GPOINTER_TO_INT (data);
  g_autofree guint8 *junk = g_malloc (10240);
  MpkManager *manager;
  guint64 failures_before;
  RawOutcome outcome;
  GRand *rand;
  gsize i;
  int fd;

  g_test_summary ("Before authentication, 10 KiB (a well-formed 40-byte frame header claiming "
                  "10240 bytes and the bytes, or plain random junk) makes the server close the "
                  "connection and count an auth failure; it serves normal clients afterwards");
  manager = new_started ();
  failures_before = stats_of (manager).auth_failures;
  rand = g_rand_new_with_seed (framed ? 5 : 6);
  for (i = 0; i < 10240; i++)
    junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);

  fd = open_raw (manager, FALSE);
  if (framed)
    {
      MpkWireHeader header = { 0 };
      guint8 head[MPK__WIRE_HEADER_SIZE];

      mpk__wire_stamp (&header, MPK__WIRE_KIND_BYTES, 10240);
      mpk__wire_encode_header (&header, head);
      send_lenient (fd, head, sizeof head);
    }
  send_lenient (fd, junk, 10240);
  outcome = raw_wait (fd, FALSE);
  g_assert_cmpstr (raw_outcome_name (outcome), ==, raw_outcome_name (RAW_CLOSED));
  close (fd);

  WAIT_FOR_STAT (manager, auth_failures, >=, failures_before + 1);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

static void
test_manager_raw_junk_request (void)
{
  guint8 junk[4096];
  MpkManager *manager;
  guint64 bad_before;
  RawOutcome outcome;
  GRand *rand;
  gsize i;
  int fd;

  g_test_summary ("After authentication, 4 KiB of random bytes: the server answers with an "
                  "error or closes the connection, counts a bad request, and serves normal clients "
                  "afterwards");
  manager = new_started ();
  bad_before = stats_of (manager).bad_requests;
  rand = g_rand_new_with_seed (7);
  for (i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);

  fd = open_raw (manager, TRUE);
  send_lenient (fd, junk, sizeof junk);
  outcome = raw_wait (fd, TRUE);
  g_test_message ("observed: the server %s", raw_outcome_name (outcome));
  g_assert_cmpstr (raw_outcome_name (outcome), !=, raw_outcome_name (RAW_SILENT));
  close (fd);

  WAIT_FOR_STAT (manager, bad_requests, >=, bad_before + 1);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

static void
test_manager_raw_wrong_shape (void)
{
  /* Well-formed frames whose GVariant is not a request (ttxsv). */
  const char *shapes[] = {
    "('list', 'append')",
    "'just a string'",
    "(uint64 1, uint64 0, int64 -1, 'len')",
    "(uint64 1, uint64 0, int64 -1, 'len', <()>, 'extra')",
    "(uint64 12345, uint64 99999, int64 -1, 'len', <()>)",
    "(uint64 0, uint64 0, int64 -1, '', <(1, 2)>)",
  };
  MpkManager *manager;
  guint64 bad_before;
  gsize i;

  g_test_summary ("After authentication, well-formed frames of the wrong shape (\"(ss)\", a "
                  "string, a short or long tuple, an unknown object, an empty method): each gets "
                  "an error reply or a close; the server counts bad requests and serves normal "
                  "clients afterwards");
  manager = new_started ();
  bad_before = stats_of (manager).bad_requests;

  for (i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpkConnection) conn = NULL;
      g_autoptr(GVariant) reply = NULL;
      int fd = open_raw (manager, TRUE);

      conn = mpk_connection_new_from_fd (fd, TRUE, TRUE, &error);
      g_assert_no_error (error);
      g_assert_nonnull (conn);
      if (!mpk_connection_send (conn, g_variant_new_parsed (shapes[i]), CHILD_TIMEOUT_US, &error))
        {
          g_test_message ("%s: send failed: %s", shapes[i], error->message);
          g_assert_false (g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT));
          continue;
        }
      reply = mpk_connection_recv (conn, CHILD_TIMEOUT_US, &error);
      if (reply != NULL)
        {
          g_autofree char *text = g_variant_print (reply, TRUE);

          g_test_message ("%s: answered %s", shapes[i], text);
          /* A reply (bv) must say FALSE: the request was not served. */
          if (g_variant_is_of_type (reply, G_VARIANT_TYPE ("(bv)")))
            {
              gboolean ok;
              g_autoptr(GVariant) payload = NULL;

              g_variant_get (reply, "(bv)", &ok, &payload);
              g_assert_false (ok);
            }
        }
      else
        {
          g_test_message ("%s: closed (%s)", shapes[i], error->message);
          g_assert_false (g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT));
        }
    }
  WAIT_FOR_STAT (manager, bad_requests, >=, bad_before + 1);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

/* --- issue 11 §1: the server under a hostile or careless client ------------------------------- */

/* One decref on @conn for the object (@generation, @id); NULL or the server's error. */
static gboolean
raw_decref (MpkConnection *conn,
            guint64        generation,
            guint64        id,
            GError       **error)
{
  g_autoptr(GVariant) reply = raw_request (conn, 0, 0, "decref",
                                           g_variant_new ("(tt)", generation, id), error);

  return reply != NULL;
}

/* The use-after-free of issue 11: create → publish → decref twice freed the object
 * while the published name still pointed at it; lookup then touched freed memory
 * (and the server's exit touched it again). A decref may drop only a count some
 * proxy took (create, lookup, incref): the name's and a container's are not a
 * client's to drop. */
static void
test_decref_unbalanced (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkConnection) conn = NULL;
  g_autoptr(MpkListProxy) found = NULL;
  MpkListProxy *list;
  MpkListProxy *inner;
  MpkListProxy *holder;
  guint64 generation, id, inner_id;
  MpkManager *manager;

  g_test_summary ("A decref beyond the counts proxies took (create, lookup, incref) is an "
                  "INVALID error reply: a published object and an object stored in a list stay "
                  "alive and usable; the server exits 0");
  manager = new_started ();
  list = new_list (manager, NULL);
  ASSERT_OK (mpk_list_proxy_append (list, S ("kept"), &error), error);
  ASSERT_OK (mpk_manager_publish (manager, "shared", MPK_PROXY (list), &error), error);
  proxy_ids (list, &generation, &id);
  conn = raw_connection (manager);

  g_assert_true (raw_decref (conn, generation, id, &error));   /* the create's count */
  g_assert_no_error (error);
  for (int i = 0; i < 4; i++)
    {
      g_assert_false (raw_decref (conn, generation, id, &error));
      g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);
    }
  found = as_list (mpk_manager_lookup (manager, "shared", &error));
  g_assert_no_error (error);
  g_assert_nonnull (found);
  ASSERT_GOT (mpk_list_proxy_get (found, 0, &error), error, "'kept'");

  /* The same for an object only a container holds. */
  inner = new_list (manager, NULL);
  ASSERT_OK (mpk_list_proxy_append (inner, S ("inside"), &error), error);
  holder = new_list (manager, NULL);
  {
    g_autoptr(GVariant) ref = ref_of (inner);

    ASSERT_OK (mpk_list_proxy_append (holder, ref, &error), error);
  }
  proxy_ids (inner, &generation, &inner_id);
  g_assert_true (raw_decref (conn, generation, inner_id, &error));
  g_assert_no_error (error);
  g_assert_false (raw_decref (conn, generation, inner_id, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autoptr(MpkListProxy) again = as_list (list_at (holder, 0));

    ASSERT_GOT (mpk_list_proxy_get (again, 0, &error), error, "'inside'");
  }
  mpk_list_proxy_unref (holder);
  /* These two counts went with the raw decrefs: their own decrefs are refused. */
  mpk_list_proxy_unref (inner);
  mpk_list_proxy_unref (list);
  g_clear_pointer (&found, mpk_list_proxy_unref);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

/* --- a flood of unauthenticated connections --- */

#define FLOOD_CONNECTIONS 400   /* more than the old server's 256 client threads */
#define FLOOD_CLIENT_ROUNDS 20

typedef struct
{
  struct sockaddr_in address;
  gint               stop;
  gint               opened;    /* connections made, re-opens included */
  gint               held;      /* open right now */
  GMutex             lock;
  GCond              ready;     /* full changed */
  gboolean           full;      /* every slot was tried once */
} Flood;

static int
flood_open (Flood *flood)
{
  struct timeval tv = { 1, 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect (fd, (struct sockaddr *) &flood->address, sizeof flood->address) < 0)
    {
      close (fd);
      return -1;
    }
  g_atomic_int_inc (&flood->opened);
  return fd;
}

/* Holds FLOOD_CONNECTIONS idle unauthenticated connections open, re-opening each
 * one the server drops, until told to stop. Never sends a byte. */
static gpointer
flood_thread (gpointer data)
{
  Flood *flood = data;
  struct pollfd fds[FLOOD_CONNECTIONS];
  gint64 end = g_get_monotonic_time () + 6 * CHILD_TIMEOUT_US;

  for (int i = 0; i < FLOOD_CONNECTIONS; i++)
    fds[i] = (struct pollfd) { -1, POLLIN, 0 };
  while (!g_atomic_int_get (&flood->stop) && g_get_monotonic_time () < end)
    {
      int held = 0;

      for (int i = 0; i < FLOOD_CONNECTIONS; i++)
        {
          if (fds[i].fd < 0)
            fds[i].fd = flood_open (flood);
          held += fds[i].fd >= 0;
        }
      g_atomic_int_set (&flood->held, held);
      if (!flood->full)
        {
          g_mutex_lock (&flood->lock);
          flood->full = TRUE;
          g_cond_broadcast (&flood->ready);
          g_mutex_unlock (&flood->lock);
        }
      if (poll (fds, FLOOD_CONNECTIONS, 50) <= 0)
        continue;
      for (int i = 0; i < FLOOD_CONNECTIONS; i++)
        if (fds[i].fd >= 0 && fds[i].revents != 0)
          {
            guint8 buf[512];
            ssize_t n = recv (fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);

            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
              {
                close (fds[i].fd);
                fds[i].fd = -1;
              }
          }
    }
  for (int i = 0; i < FLOOD_CONNECTIONS; i++)
    if (fds[i].fd >= 0)
      close (fds[i].fd);
  g_mutex_lock (&flood->lock);
  flood->full = TRUE;     /* releases a waiter even if the flood never filled */
  g_cond_broadcast (&flood->ready);
  g_mutex_unlock (&flood->lock);
  return NULL;
}

/* Idle unauthenticated connections held a client thread each for 5 s, so 300 of
 * them (re-opened as they dropped) locked key-holding clients out. */
static void
test_flood_unauthenticated (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GThread) thread = NULL;
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  gint64 worst = 0, total = 0, bound, flood_start;
  guint16 port;
  Flood flood;
  int rounds;

  g_test_summary ("400 idle unauthenticated TCP connections, re-opened as the server drops "
                  "them: a key-holding client still connects and gets answers, 20 times at once "
                  "and then until the server has aged idle connections and 200 were re-opened "
                  "(only a generous hang bound; the latency is reported)");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  port = (guint16) atoi (strrchr (mpk_manager_get_address (manager), ':') + 1);
  memset (&flood, 0, sizeof flood);
  flood.address.sin_family = AF_INET;
  flood.address.sin_port = htons (port);
  flood.address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_mutex_init (&flood.lock);
  g_cond_init (&flood.ready);
  thread = g_thread_new ("flood", flood_thread, &flood);
  /* Until every slot was tried once (the old server's backlog filled up first). */
  g_mutex_lock (&flood.lock);
  while (!flood.full && g_cond_wait_until (&flood.ready, &flood.lock,
                                           g_get_monotonic_time () + 3 * CHILD_TIMEOUT_US))
    ;
  g_mutex_unlock (&flood.lock);
  g_test_message ("flood: %d connections held", g_atomic_int_get (&flood.held));

  bound = 3 * CHILD_TIMEOUT_US;   /* a lock-out, not a speed limit */
  flood_start = g_get_monotonic_time ();
  /* The first rounds at once; then on, paced, until the server has dropped
   * (aged) idle connections and the flood has re-opened them. */
  for (rounds = 0; rounds < FLOOD_CLIENT_ROUNDS
                   || g_atomic_int_get (&flood.opened) < FLOOD_CONNECTIONS * 3 / 2; rounds++)
    {
      gint64 start = g_get_monotonic_time (), took;

      if (start - flood_start > bound)
        break;
      if (rounds >= FLOOD_CLIENT_ROUNDS)
        g_usleep (10000);
      start = g_get_monotonic_time ();
      MpkManager *client = mpk_manager_connect (mpk_manager_get_address (manager), key, bound,
                                                &error);

      if (client == NULL)
        g_test_message ("round %d: connect failed after %.0f ms: %s", rounds,
                        (g_get_monotonic_time () - start) / 1000.0, error->message);
      g_assert_no_error (error);
      g_assert_nonnull (client);
      mpk_manager_set_timeout (client, bound);
      {
        g_autoptr(MpkListProxy) list = new_list (client, NULL);

        ASSERT_OK (mpk_list_proxy_append (list, I64 (rounds), &error), error);
        ASSERT_NUMBER (mpk_list_proxy_len (list, &error), error, 1);
      }
      took = g_get_monotonic_time () - start;
      worst = MAX (worst, took);
      total += took;
      mpk_manager_free (client);
    }
  g_test_message ("under a flood of %d (%d opened in all over %.1f s): %d rounds of connect + "
                  "create + 2 calls took %.1f ms on average, %.1f ms at worst", FLOOD_CONNECTIONS,
                  g_atomic_int_get (&flood.opened),
                  (g_get_monotonic_time () - flood_start) / (double) G_USEC_PER_SEC, rounds,
                  total / 1000.0 / rounds, worst / 1000.0);
  /* The server ages handshakes that never answer: the flood had to re-open. */
  g_assert_cmpint (g_atomic_int_get (&flood.opened), >=, FLOOD_CONNECTIONS * 3 / 2);
  g_atomic_int_set (&flood.stop, TRUE);
  g_thread_join (g_steal_pointer (&thread));
  g_mutex_clear (&flood.lock);
  g_cond_clear (&flood.ready);
  shutdown_clean (manager);
}

/* --- growth limits --- */

/* The number of items the limits test lets one container hold. */
#define GROWTH_LIMIT 4

/* Only set_slice and repeat checked the list limit: append, insert and extend
 * (a client can repeat them for ever), a list or dict made with too many
 * items, and every way a dict or namespace grows had none. The server is
 * forked with its limit lowered to GROWTH_LIMIT, so the test needs no
 * 16 Mi items. */
static void
test_limits_growth (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkDictProxy) dict = NULL;
  g_autoptr(MpkProxy) too_big = NULL;     /* a list, then a dict: never made */
  g_autoptr(MpkListProxy) list = NULL;
  g_autoptr(MpkNamespaceProxy) ns = NULL;
  MpkManager *manager;

  g_test_summary ("With the server's item limit lowered to 4: a list, dict or namespace holding "
                  "4 items refuses every call that would make a fifth (append, insert, extend, "
                  "set_slice, repeat; set, setdefault, update; set) with INVALID and is left as it "
                  "was; create with 5 items is INVALID; calls that do not grow it (replace, empty "
                  "extend) still work");
  mpk__manager_set_max_items_for_testing (GROWTH_LIMIT);
  manager = new_started ();
  mpk__manager_set_max_items_for_testing (0);   /* the server keeps its copy */

  list = new_list (manager, g_variant_new_parsed ("[<0>, <1>, <2>, <3>]"));
  ASSERT_FAILS (mpk_list_proxy_append (list, I64 (4), &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_proxy_insert (list, 0, I64 (4), &error), error, MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_proxy_extend (list, av_of (I64 (4), NULL), &error), error,
                MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_proxy_set_slice (list, 1, 1, av_of (I64 (4), NULL), &error), error,
                MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_proxy_repeat (list, 2, &error), error, MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "[0, 1, 2, 3]");
  ASSERT_OK (mpk_list_proxy_extend (list, av_of (NULL), &error), error);
  ASSERT_OK (mpk_list_proxy_set_slice (list, 0, 1, av_of (I64 (9), NULL), &error), error);
  ASSERT_OK (mpk_list_proxy_set (list, 1, I64 (8), &error), error);
  ASSERT_ITEMS (mpk_list_proxy_copy (list, &error), error, "[int64 9, int64 8, 2, 3]");
  too_big = MPK_PROXY (mpk_manager_list (manager,
                                         g_variant_new_parsed ("[<0>, <1>, <2>, <3>, <4>]"),
                                         &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (too_big);
  g_clear_error (&error);

  dict = mpk_manager_dict (manager, g_variant_new_parsed ("{'a': <1>, 'b': <2>, 'c': <3>, "
                                                          "'d': <4>}"), &error);
  g_assert_no_error (error);
  g_assert_nonnull (dict);
  ASSERT_FAILS (mpk_dict_proxy_set (dict, S ("e"), I64 (5), &error), error, MPK_ERROR_INVALID);
  ASSERT_NO_VARIANT (mpk_dict_proxy_setdefault (dict, S ("e"), I64 (5), &error), error,
                     MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_dict_proxy_update (dict, asv_of ("a", I64 (10), "e", I64 (5), NULL), &error),
                error, MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_dict_proxy_items (dict, &error), error,
                "[('a', 1), ('b', 2), ('c', 3), ('d', 4)]");
  ASSERT_OK (mpk_dict_proxy_set (dict, S ("a"), I64 (10), &error), error);
  ASSERT_OK (mpk_dict_proxy_update (dict, asv_of ("b", I64 (20), "b", I64 (21), NULL), &error),
             error);
  ASSERT_GOT (mpk_dict_proxy_setdefault (dict, S ("c"), I64 (30), &error), error, "3");
  ASSERT_ITEMS (mpk_dict_proxy_items (dict, &error), error,
                "[('a', int64 10), ('b', int64 21), ('c', 3), ('d', 4)]");
  too_big = MPK_PROXY (mpk_manager_dict (manager,
                                         g_variant_new_parsed ("{'a': <1>, 'b': <2>, 'c': <3>, "
                                                               "'d': <4>, 'e': <5>}"),
                                         &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (too_big);
  g_clear_error (&error);

  ns = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  for (int i = 0; i < GROWTH_LIMIT; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%d", i);

      ASSERT_OK (mpk_namespace_proxy_set (ns, name, I64 (i), &error), error);
    }
  ASSERT_FAILS (mpk_namespace_proxy_set (ns, "n4", I64 (4), &error), error, MPK_ERROR_INVALID);
  ASSERT_OK (mpk_namespace_proxy_set (ns, "n0", I64 (100), &error), error);
  ASSERT_GOT (mpk_namespace_proxy_get (ns, "n0", &error), error, "int64 100");
  ASSERT_NO_VARIANT (mpk_namespace_proxy_get (ns, "n4", &error), error, MPK_ERROR_KEY);

  assert_still_serving (manager);
  g_clear_pointer (&list, mpk_list_proxy_unref);
  g_clear_pointer (&dict, mpk_dict_proxy_unref);
  g_clear_pointer (&ns, mpk_namespace_proxy_unref);
  shutdown_clean (manager);
}

/* --- a server out of file descriptors --- */

#define EMFILE_HOLDERS 4

/* How many descriptors @pid has open, and the highest. */
static int
open_fds (GPid pid, int *highest)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  DIR *dir = opendir (path);
  struct dirent *e;
  int n = 0;

  g_assert_nonnull (dir);
  *highest = -1;
  while ((e = readdir (dir)) != NULL)
    if (e->d_name[0] != '.')
      {
        n++;
        *highest = MAX (*highest, atoi (e->d_name));
      }
  closedir (dir);
  return n;
}

/* Waits (bounded) until @pid has @count descriptors open. */
static void
wait_for_fds (GPid pid, int count)
{
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  int highest, n;

  while ((n = open_fds (pid, &highest)) != count && g_get_monotonic_time () < end)
    g_usleep (2000);
  g_assert_cmpint (n, ==, count);
}

/* The state letter of @pid's main thread (R running or runnable, S asleep...). */
static char
main_thread_state (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *paren;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  paren = strrchr (text, ')');
  g_assert_nonnull (paren);
  return paren[2];
}

/* A plain connection to @manager's Unix socket: nothing sent or read. */
static int
unix_connect (MpkManager *manager)
{
  const char *address = mpk_manager_get_address (manager);
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_true (g_str_has_prefix (address, "unix:"));
  g_strlcpy (sun.sun_path, address + 5, sizeof sun.sun_path);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  return fd;
}

/* Whether the server's greeting (any byte) arrives on @fd within @timeout_us. */
static gboolean
greeted (int fd, gint64 timeout_us)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  guint8 byte;

  return poll (&p, 1, (int) (timeout_us / 1000)) > 0
         && recv (fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/* Brings @manager's server to its file limit: every descriptor it may
 * have is open, EMFILE_HOLDERS and more of them authenticated connections
 * the test holds (@holders; closing one frees one of the server's). */
static GPtrArray *
emfile_setup (MpkManager *manager)
{
  GPid pid = mpk_manager_get_pid (manager);
  GPtrArray *holders = g_ptr_array_new ();
  struct rlimit limit;
  int highest, count, limit_check;

  for (int i = 0; i < EMFILE_HOLDERS; i++)
    {
      int fd = mpk__manager_open_raw_for_testing (manager, TRUE, NULL);

      g_assert_cmpint (fd, >=, 0);
      g_ptr_array_add (holders, GINT_TO_POINTER (fd));
    }
  /* The holes below the highest descriptor: one connection each, before
   * the limit is lowered (at the limit, accepting needs a free slot). */
  count = open_fds (pid, &highest);
  for (int i = count; i < highest + 1; i++)
    {
      g_autoptr(GError) error = NULL;
      int fd = mpk__manager_open_raw_for_testing (manager, TRUE, &error);

      g_assert_no_error (error);
      g_assert_cmpint (fd, >=, 0);
      g_ptr_array_add (holders, GINT_TO_POINTER (fd));
    }
  wait_for_fds (pid, highest + 1);
  count = open_fds (pid, &limit_check);
  g_assert_cmpint (limit_check, ==, highest);
  g_assert_cmpint (prlimit (pid, RLIMIT_NOFILE, NULL, &limit), ==, 0);
  limit.rlim_cur = (rlim_t) highest + 1;
  g_assert_cmpint (prlimit (pid, RLIMIT_NOFILE, &limit, NULL), ==, 0);
  g_test_message ("server %d: file limit %d, all open (%u held by the test)", (int) pid,
                  highest + 1, holders->len);
  return holders;
}

static void
emfile_teardown (MpkManager *manager, GPtrArray *holders)
{
  for (guint i = 0; i < holders->len; i++)
    if (GPOINTER_TO_INT (holders->pdata[i]) >= 0)
      close (GPOINTER_TO_INT (holders->pdata[i]));
  g_ptr_array_unref (holders);
  shutdown_clean (manager);
}

/* Frees one of the server's descriptors: closes a held connection (its
 * thread sees end of file and closes its end). */
static void
emfile_free_one (MpkManager *manager, GPtrArray *holders, guint i)
{
  int highest, count = open_fds (mpk_manager_get_pid (manager), &highest);

  close (GPOINTER_TO_INT (holders->pdata[i]));
  holders->pdata[i] = GINT_TO_POINTER (-1);
  wait_for_fds (mpk_manager_get_pid (manager), count - 1);
}

#define STATE_SAMPLES 25

/* Out of descriptors with no handshake to drop, the server's main loop found
 * the listening socket readable at every turn and spun on accept(), a CPU
 * busy until a descriptor came free. */
static void
test_emfile_no_spin (void)
{
  MpkManager *manager;
  GPtrArray *holders;
  GPid pid;
  guint64 failures_before;
  int waiting, running = 0;
  double cpu_ms = 0;

  g_test_summary ("A server at its file limit, all descriptors held by authenticated clients, "
                  "and a connection waiting to be accepted: its main thread sleeps (was runnable "
                  "in every sample: a busy loop on accept); once a client leaves, the waiting "
                  "connection is accepted (greeted)");
  if (under_valgrind ())
    {
      g_test_skip ("valgrind keeps descriptors of its own under the file limit");
      return;
    }
  manager = new_started ();
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US);
  failures_before = stats_of (manager).auth_failures;   /* the pool keeps this connection */
  pid = mpk_manager_get_pid (manager);
  holders = emfile_setup (manager);
  waiting = unix_connect (manager);
  {
    g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
    g_autofree char *t0 = NULL, *t1 = NULL;
    unsigned long u0 = 0, s0 = 0, u1 = 0, s1 = 0;

    g_assert_true (g_file_get_contents (path, &t0, NULL, NULL));
    for (int i = 0; i < STATE_SAMPLES; i++)
      {
        g_usleep (20000);
        running += main_thread_state (pid) == 'R';
      }
    g_assert_true (g_file_get_contents (path, &t1, NULL, NULL));
    sscanf (strrchr (t0, ')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &u0, &s0);
    sscanf (strrchr (t1, ')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &u1, &s1);
    cpu_ms = (double) (u1 + s1 - u0 - s0) * 1000.0 / sysconf (_SC_CLK_TCK);
  }
  g_test_message ("with a connection waiting and no descriptor free: the server's main thread "
                  "was running in %d of %d samples; the server used %.0f ms of CPU in about "
                  "%d ms", running, STATE_SAMPLES, cpu_ms, STATE_SAMPLES * 20);
  g_assert_cmpint (running, <, STATE_SAMPLES / 2);
  /* A client leaves: its descriptor goes to the connection waiting. */
  emfile_free_one (manager, holders, 0);
  g_assert_true (greeted (waiting, CHILD_TIMEOUT_US));
  close (waiting);
  g_assert_cmpuint (stats_of (manager).auth_failures, <=, failures_before + 1);   /* it hung up */
  emfile_teardown (manager, holders);
}

/* Out of descriptors, the server dropped the oldest handshake for each
 * connection waiting, counted as a failed authentication (the client had
 * done nothing wrong). */
static void
test_emfile_evict_oldest (void)
{
  MpkManager *manager;
  GPtrArray *holders;
  guint64 failures_before;
  int idle, holder;

  g_test_summary ("A server at its file limit with one idle handshake (accepted earlier) and a "
                  "key holder connecting: the idle handshake is closed to make room, the key "
                  "holder authenticates, and auth_failures does not change (it counted one)");
  if (under_valgrind ())
    {
      g_test_skip ("valgrind keeps descriptors of its own under the file limit");
      return;
    }
  manager = new_started ();
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US);
  (void) stats_of (manager);   /* the pool keeps this connection */
  holders = emfile_setup (manager);
  emfile_free_one (manager, holders, 0);
  idle = unix_connect (manager);
  g_assert_true (greeted (idle, CHILD_TIMEOUT_US));   /* accepted: the last descriptor */
  failures_before = stats_of (manager).auth_failures;
  /* Waits in the backlog until the idle handshake is dropped for it. */
  holder = mpk__manager_open_raw_for_testing (manager, TRUE, NULL);
  g_assert_cmpint (holder, >=, 0);
  g_assert_true (peer_closed (idle, (int) (CHILD_TIMEOUT_US / 1000)));
  g_assert_cmpuint (stats_of (manager).auth_failures, ==, failures_before);
  close (idle);
  close (holder);
  emfile_teardown (manager, holders);
}

/* --- what the server reads before the key is proven --- */

/* The serialized frame of @msg (sunk), as a peer would send it. */
static GByteArray *
frame_of (GVariant *msg)
{
  GByteArray *bytes = g_byte_array_new ();
  guint8 head[MPK__WIRE_HEADER_SIZE];
  MpkWireOutgoing out;

  g_assert_true (mpk__wire_outgoing_init (&out, msg, NULL));
  mpk__wire_encode_header (&out.header, head);
  g_byte_array_append (bytes, head, sizeof head);
  g_byte_array_append (bytes, (const guint8 *) out.type, out.type_len);
  g_byte_array_append (bytes, out.data, out.size);
  mpk__wire_outgoing_clear (&out);
  return bytes;
}

/* Runs the server's handshake on one end of a socket pair whose other end
 * already holds @sent; returns how many of those bytes the server read. */
static gsize
preauth_consumed (GByteArray *sent)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  int sv[2], unread = -1;
  gboolean ok;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  send_lenient (sv[1], sent->data, sent->len);
  ok = mpk__manager_auth_server (sv[0], key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_AUTH);
  g_assert_false (ok);
  g_assert_cmpint (ioctl (sv[0], FIONREAD, &unread), ==, 0);
  close (sv[0]);
  close (sv[1]);
  g_assert_cmpint (unread, >=, 0);
  return sent->len - (gsize) unread;
}

/* The README promises nothing over 256 bytes is read before authentication,
 * but the server's connection read whatever the socket held (up to 64 KiB). */
static void
test_preauth_read_bound (void)
{
  g_autoptr(GByteArray) answer = NULL, claim = NULL;
  guint8 zeros[32] = { 0 }, junk[16384];
  gsize frame_len, consumed;

  g_test_summary ("Before the key is proven the server reads only the frame it expects: a "
                  "wrong-key answer followed by 16 KiB, and a header claiming 10 KiB followed by "
                  "16 KiB, leave everything after the answer (or the header) unread");
  memset (junk, 'j', sizeof junk);
  answer = frame_of (g_variant_new ("(@ay@ay)",
                                    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, zeros, 32, 1),
                                    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, zeros, 32, 1)));
  frame_len = answer->len;
  g_byte_array_append (answer, junk, sizeof junk);
  consumed = preauth_consumed (answer);
  g_test_message ("wrong-key answer (%" G_GSIZE_FORMAT " bytes) + 16 KiB: the server read %"
                  G_GSIZE_FORMAT, frame_len, consumed);
  g_assert_cmpuint (consumed, <=, 256);
  g_assert_cmpuint (consumed, ==, frame_len);

  {
    MpkWireHeader header = { 0 };
    guint8 head[MPK__WIRE_HEADER_SIZE];

    mpk__wire_stamp (&header, MPK__WIRE_KIND_VARIANT, 10240);
    header.type_len = 6;
    mpk__wire_encode_header (&header, head);
    claim = g_byte_array_new ();
    g_byte_array_append (claim, head, sizeof head);
    g_byte_array_append (claim, junk, sizeof junk);
  }
  consumed = preauth_consumed (claim);
  g_test_message ("a header claiming 10 KiB + 16 KiB: the server read %" G_GSIZE_FORMAT, consumed);
  g_assert_cmpuint (consumed, ==, MPK__WIRE_HEADER_SIZE);
}

/* --- a hostile client beside a good one --- */

#define HOSTILE_ROUNDS (under_valgrind () ? 200 : 1500)

typedef struct
{
  MpkManager *manager;
  guint64     generation;
  guint64     good_id;     /* the good client's list: decref'd on purpose */
  guint64     counter_id;  /* and its value */
  gint        done;
  guint       junk, mutated, decrefs, valid, replies, closed;
} Hostile;

/* A valid request frame of one of a few kinds (never shutdown). */
static GByteArray *
hostile_request (Hostile *h, GRand *rand)
{
  guint64 id = g_rand_boolean (rand) ? h->good_id : (guint64) g_rand_int_range (rand, 0, 64);
  /* Changing the good client's objects would be a key holder's right, not a
   * server bug: only counts are aimed at them. */
  guint64 other = (guint64) g_rand_int_range (rand, 0, 64);

  if (other == h->good_id || other == h->counter_id)
    other = 0;

  switch (g_rand_int_range (rand, 0, 7))
    {
    case 0:
      h->decrefs++;
      return frame_of (g_variant_new ("(ttxsv)", h->generation, (guint64) 0, (gint64) 0, "decref",
                                      g_variant_new ("(tt)", h->generation, id)));
    case 1:
      return frame_of (g_variant_new ("(ttxsv)", h->generation, (guint64) 0, (gint64) 0, "incref",
                                      g_variant_new ("(tt)", h->generation, other)));
    case 2:
      return frame_of (g_variant_new ("(ttxsv)", h->generation, (guint64) 0, (gint64) 0, "create",
                                      g_variant_new ("(sv)", "list", g_variant_new ("()"))));
    case 3:
      return frame_of (g_variant_new ("(ttxsv)", h->generation, (guint64) 0, (gint64) 0, "lookup",
                                      g_variant_new ("(s)", "good")));
    case 4:
      return frame_of (g_variant_new ("(ttxsv)", h->generation, other, (gint64) 0, "pop",
                                      g_variant_new ("(x)", (gint64) -1)));
    case 5:
      return frame_of (g_variant_new ("(ttxsv)", h->generation, other, (gint64) 0, "clear",
                                      g_variant_new ("()")));
    default:
      return frame_of (g_variant_new ("(ttxsv)", h->generation, other, (gint64) 0, "set_slice",
                                      g_variant_new_parsed ("(int64 0, int64 -1, [<'h'>])")));
    }
}

/* Reads until the server closes or @want_reply bytes came; FALSE on close. */
static gboolean
hostile_read (int fd, gboolean until_close)
{
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  guint8 buf[4096];

  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      gint64 left = end - g_get_monotonic_time ();
      ssize_t n;

      g_assert_cmpint (left, >, 0);   /* the server must answer or close: never hang */
      if (poll (&pfd, 1, (int) (left / 1000) + 1) <= 0)
        continue;
      n = recv (fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        return FALSE;
      if (n > 0 && !until_close)
        return TRUE;
    }
}

/* Sends random bytes, mutated requests and (unbalanced) decrefs of every
 * object, the good client's included, on raw authenticated connections. */
static gpointer
hostile_thread (gpointer data)
{
  Hostile *h = data;
  GRand *rand = g_rand_new_with_seed (1111);
  int fd = -1;

  /* First the decrefs that freed a published object (issue 11): more
   * than the good client's proxies ever took. */
  fd = open_raw (h->manager, TRUE);
  for (int i = 0; i < 8; i++)
    {
      g_autoptr(GByteArray) bytes = NULL;

      bytes = frame_of (g_variant_new ("(ttxsv)", h->generation, (guint64) 0, (gint64) 0, "decref",
                                       g_variant_new ("(tt)", h->generation,
                                                      i % 2 ? h->good_id : h->counter_id)));
      send_lenient (fd, bytes->data, bytes->len);
      g_assert_true (hostile_read (fd, FALSE));
      h->decrefs++;
      h->replies++;
    }
  for (int round = 0; round < HOSTILE_ROUNDS; round++)
    {
      g_autoptr(GByteArray) bytes = NULL;
      guint kind = g_rand_int_range (rand, 0, 4);

      if (fd < 0)
        fd = open_raw (h->manager, TRUE);
      if (kind == 0)
        {
          guint n = g_rand_int_range (rand, 1, 600);

          bytes = g_byte_array_sized_new (n);
          for (guint i = 0; i < n; i++)
            {
              guint8 b = (guint8) g_rand_int_range (rand, 0, 256);

              g_byte_array_append (bytes, &b, 1);
            }
          h->junk++;
        }
      else
        {
          bytes = hostile_request (h, rand);
          if (kind == 1)
            {
              for (int flips = g_rand_int_range (rand, 1, 5); flips > 0; flips--)
                bytes->data[g_rand_int_range (rand, 0, bytes->len)] ^= (guint8) g_rand_int_range (rand, 1, 256);
              h->mutated++;
            }
          else
            h->valid++;
        }
      send_lenient (fd, bytes->data, bytes->len);
      if (kind >= 2)
        {
          /* A well-formed request gets its answer. */
          g_assert_true (hostile_read (fd, FALSE));
          h->replies++;
          continue;
        }
      /* After garbage: hang up our side; the server must close too. */
      shutdown (fd, SHUT_WR);
      hostile_read (fd, TRUE);
      h->closed++;
      close (fd);
      fd = -1;
    }
  if (fd >= 0)
    close (fd);
  g_rand_free (rand);
  g_atomic_int_set (&h->done, TRUE);
  return NULL;
}

/* The server survives a key-holding client that sends random frames,
 * mutated requests and unbalanced decrefs, and keeps answering a
 * well-behaved client correctly all the while. */
static void
test_hostile_client (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GThread) thread = NULL;
  g_autoptr(MpkListProxy) good = NULL;
  g_autoptr(MpkValueProxy) counter = NULL;
  MpkManager *manager;
  Hostile h = { 0 };
  gint64 n = 0;

  g_test_summary ("A key-holding client sends random bytes, mutated requests and unbalanced "
                  "decrefs (of the good client's published list too) on raw connections: every "
                  "well-formed request gets an answer, and a good client appending and reading "
                  "meanwhile always gets the right answers; the server exits 0");
  manager = new_started ();
  good = new_list (manager, NULL);
  counter = new_value (manager, I64 (0));
  /* Published, so the server holds them whatever decrefs arrive. */
  ASSERT_OK (mpk_manager_publish (manager, "good", MPK_PROXY (good), &error), error);
  ASSERT_OK (mpk_manager_publish (manager, "good-counter", MPK_PROXY (counter), &error), error);
  proxy_ids (good, &h.generation, &h.good_id);
  proxy_ids (counter, &h.generation, &h.counter_id);
  h.manager = manager;
  thread = g_thread_new ("hostile", hostile_thread, &h);
  while (!g_atomic_int_get (&h.done) || n < 20)
    {
      g_autoptr(GVariant) item = NULL;
      gint64 len;

      ASSERT_OK (mpk_list_proxy_append (good, I64 (n), &error), error);
      len = mpk_list_proxy_len (good, &error);
      g_assert_no_error (error);
      g_assert_cmpint (len, ==, n + 1);
      item = mpk_list_proxy_get (good, n, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (item), ==, n);
      {
        gint64 total = 0;

        ASSERT_OK (mpk_value_proxy_add (counter, 1, &total, &error), error);
        g_assert_cmpint (total, ==, n + 1);
      }
      n++;
    }
  g_thread_join (g_steal_pointer (&thread));
  g_test_message ("hostile: %u junk, %u mutated, %u valid (%u decrefs), %u replies, %u closes; "
                  "good client: %" G_GINT64_FORMAT " rounds of 4 calls, all right",
                  h.junk, h.mutated, h.valid, h.decrefs, h.replies, h.closed, n);
  assert_still_serving (manager);
  g_clear_pointer (&good, mpk_list_proxy_unref);
  g_clear_pointer (&counter, mpk_value_proxy_unref);
  shutdown_clean (manager);
}

/* Reads exactly @len bytes from @fd (bounded); FALSE if it closed first. */
static gboolean
hostile_read_exact (int fd, guint8 *buf, gsize len)
{
  gsize have = 0;

  while (have < len)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t n;

      g_assert_cmpint (poll (&pfd, 1, CHILD_TIMEOUT_US / 1000), >, 0);
      n = recv (fd, buf + have, len - have, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      have += (gsize) n;
    }
  return TRUE;
}

/* The same through a running server: a Unix socket closed with bytes still
 * unread makes the peer's next read fail with ECONNRESET; one closed after
 * reading everything gives end of file. */
static void
test_preauth_read_bound_server (void)
{
  g_autoptr(GByteArray) answer = NULL;
  guint8 zeros[32] = { 0 }, junk[16384], head[MPK__WIRE_HEADER_SIZE], buf[4096];
  MpkWireHeader header;
  MpkManager *manager;
  gsize got = 0;
  ssize_t n;
  int fd, last_errno = 0;

  g_test_summary ("Through a running server on its Unix socket: after the greeting, a wrong-key "
                  "answer and 16 KiB in one write; the server refuses and closes with the 16 KiB "
                  "unread (the client's read after the verdict fails ECONNRESET, not end of file)");
  manager = new_started ();
  fd = open_raw (manager, FALSE);
  /* The greeting: a header, then its payload. */
  g_assert_true (hostile_read_exact (fd, head, sizeof head));
  g_assert_true (mpk__wire_decode_header (head, MPK__MANAGER_PREAUTH_MAX, &header, NULL));
  g_assert_true (hostile_read_exact (fd, buf, header.length));
  memset (junk, 'j', sizeof junk);
  answer = frame_of (g_variant_new ("(@ay@ay)",
                                    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, zeros, 32, 1),
                                    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, zeros, 32, 1)));
  g_byte_array_append (answer, junk, sizeof junk);
  send_lenient (fd, answer->data, answer->len);
  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };

      g_assert_cmpint (poll (&pfd, 1, CHILD_TIMEOUT_US / 1000), >, 0);
      n = recv (fd, buf, sizeof buf, 0);
      if (n > 0)
        {
          got += (gsize) n;
          continue;
        }
      last_errno = n < 0 ? errno : 0;
      if (n < 0 && errno == EINTR)
        continue;
      break;
    }
  g_test_message ("verdict: %" G_GSIZE_FORMAT " bytes; then %s", got,
                  last_errno != 0 ? g_strerror (last_errno) : "end of file");
  g_assert_cmpuint (got, >, 0);
  g_assert_cmpstr (last_errno != 0 ? g_strerror (last_errno) : "end of file", ==,
                   g_strerror (ECONNRESET));
  close (fd);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  arm_watchdog ();

  mpk_test_add_data_func ("/manager/raw/oversized-handshake", GINT_TO_POINTER (TRUE),
                         test_manager_raw_preauth);
  mpk_test_add_data_func ("/manager/raw/junk-handshake", GINT_TO_POINTER (FALSE),
                         test_manager_raw_preauth);
  mpk_test_add_func ("/manager/raw/junk-request", test_manager_raw_junk_request);
  mpk_test_add_func ("/manager/raw/wrong-shape", test_manager_raw_wrong_shape);
  mpk_test_add_func ("/manager/decref/unbalanced", test_decref_unbalanced);
  mpk_test_add_func ("/manager/flood/unauthenticated", test_flood_unauthenticated);
  mpk_test_add_func ("/manager/limits/growth", test_limits_growth);
  mpk_test_add_func ("/manager/emfile/no-spin", test_emfile_no_spin);
  mpk_test_add_func ("/manager/emfile/evict-oldest", test_emfile_evict_oldest);
  mpk_test_add_func ("/manager/preauth/read-bound", test_preauth_read_bound);
  mpk_test_add_func ("/manager/preauth/read-bound-server", test_preauth_read_bound_server);
  mpk_test_add_func ("/manager/hostile-client", test_hostile_client);

  return g_test_run ();
}
