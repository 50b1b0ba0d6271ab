/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager.c: the Manager (multiprocessing.managers): a server process
 * holding lists, dicts, values, queues, locks, namespaces and registered
 * types for other processes. Ported from CPython's _TestContainers,
 * _TestMyManager, _TestRemoteManager, _TestManagerRestart,
 * TestSyncManagerTypes and TestManagerExceptions, plus what a C kit must
 * promise on top: distinct AUTH / REFUSED / DISCONNECTED errors, exact
 * server-side adds, a dead manager or a dead client never hangs anyone,
 * proxies from threads, and a server that survives a hostile peer.
 *
 * Which contract points (/tmp/q5/contract.md, anchor §1.4 M1–M17) each test covers:
 *   /manager/lifecycle         M1 M2 M3 M6: default unix address (0600 file in a
 *                              0700 dir, removed at shutdown), "tcp:0", 32-byte key, start
 *                              twice / after shutdown → INVALID, register after
 *                              start → INVALID, shutdown idempotent, exit code 0
 *   /manager/shutdown-escalates M6: a server that cannot answer is SIGTERMed, then
 *                              SIGKILLed; exit code -15 or -9; reaped
 *   /manager/serve-forever     M4 M5 M6: serve_forever in a child, connect(),
 *                              shutdown() from the connected handle → TRUE, child exits 0
 *   /manager/list              34, M10: slices (clamped), extend, repeat, copy +
 *                              local concatenation, list of references, f = [ref a]
 *   /manager/list/methods      M10: insert set pop remove index count reverse clear
 *                              set_slice negative indexes; stored types kept
 *   /manager/list/proxy-in-list 34 (test_list_proxy_in_list), M12
 *   /manager/dict              35, M11: keys values items ("copy") len contains
 *                              get_default setdefault pop update
 *   /manager/dict/iter         35, M11: one pass, then exhausted; clear during
 *                              iteration → INVALID
 *   /manager/dict/nested       36, M12 M17: stored references keep objects alive,
 *                              clear keeps from_value proxies usable, a plain inner
 *                              list is a plain value, objects freed at the end
 *   /manager/namespace         37, M13: '_name' → INVALID, set/delete, str,
 *                              missing → KEY
 *   /manager/nested-queue      38: a queue referenced from a list and a dict works
 *   /manager/refs-elsewhere    M12 M17: references in a namespace or a value keep
 *                              objects alive; freed when the last reference goes
 *   /manager/refs-taken-out    M12 M17: a reference taken out of its only holder (queue
 *                              get, list pop, dict pop) still works for the receiver
 *   /manager/mymanager         39, M7 M8: registered type, user GError domain and
 *                              code arrive unchanged, unexposed method → REMOTE,
 *                              call_new_object ("iterator") yields squares, exit 0
 *   /manager/remote            40, M2 M5: tcp port 0, random key, a forked child
 *                              that connect()s and looks up a published queue;
 *                              unicode strings, bytes, nothing, bool, double
 *   /manager/restart           41: a new manager binds the same tcp address
 *   /manager/queue             42, M15: Queue(2) seen from a child
 *   /manager/joinable-queue    42, M15: task_done / join, join timeout
 *   /manager/value             43, M14: child sees 1, sets 2
 *   /manager/lock              43, M16: a lock acquired by a child that exits is
 *                              released by the parent; second release → INVALID
 *   /manager/queue-empty       44, M15: get(NO_WAIT) → EMPTY with the server's
 *                              message; a call's own timeout gives EMPTY / FULL /
 *                              TIMED_OUT (lock), not the round trip's
 *   /manager/free-in-child     life cycle: free() in a forked child leaves the server
 *                              running; free() in the starter stops and reaps it
 *   /manager/publish           publish/lookup keep an object alive; unknown → KEY
 *   /manager/auth              M5: wrong key → AUTH, counted, right key still served,
 *                              refused and freed connections are closed on the server
 *   /manager/refused           M5: nothing listening (unix, tcp) → REFUSED
 *   /manager/value-add         M14: 8 processes × 2000 server-side adds, exact;
 *                              compare_and_set; the stored type is kept
 *   /manager/many-clients      one client blocked in get while others work
 *   /manager/errors            INDEX KEY REMOTE INVALID, messages non-empty
 *   /manager/manager-killed    M17: DISCONNECTED for the parent, a child, a blocked
 *                              get (not TIMED_OUT: the round-trip allowance is cut to
 *                              5 s); REFUSED for a fresh connection; exit code -9
 *   /manager/client-killed     a client killed inside a blocking get does not
 *                              hurt the server; clients count goes back down
 *   /manager/stale-handle      STALE_HANDLE: another run's reference, a freed object,
 *                              a proxy across a restart (STALE or DISCONNECTED)
 *   /manager/threads           M17: proxies used from 4 threads at once
 *   /manager/raw/oversized-handshake, /manager/raw/junk-handshake:
 *                              AUTH side: the server closes, auth_failures counted
 *   /manager/raw/junk-request  after auth: bad bytes → error reply or close,
 *                              bad_requests counted
 *   /manager/raw/wrong-shape   after auth: well-formed frames of the wrong type
 *   /manager/regress/...       one test per bug of the review fixed in 927e9a0 (each fails
 *                              on the code before it; the comment above each names its bug):
 *     call-outlives-last-ref   1: last reference dropped while a get waits on it → the get
 *                              ends EMPTY, no use-after-free, server exits 0
 *     dict-ref-key             2: a reference as a dict key (set, setdefault, update) →
 *                              INVALID, the list stays alive
 *     dict-create-ref-key      2 at create: a failed dict create ({'/plain': ref B, ref A: 1})
 *                              leaves A and B alive
 *     user-create-fails        3: a registered type's failed create with a reference in its
 *                              arguments leaves the list alive
 *     list-repeat-huge         4: repeat × G_MAXINT64 / 2^62 / 2^31 returns at once
 *     iterator-foreign-source  5: a client-made iterator whose source is a list or a user
 *                              object: the server survives next()
 *     new-object-used-unclaimed 6: call_new_object's object survives calls before a claim
 *     value-add-overflow       7: add() overflow is INVALID, value unchanged
 *     publish-wrong-generation 8: publish of another run's or manager's object → STALE_HANDLE
 *     boxed-values             9a: g_variant_new_variant (x) is stored as x
 *     connect-host-name        9c: connect() takes a host name
 *     disconnected             9d: every call after a SIGKILL or a shutdown → DISCONNECTED
 *     duplicate-type           9f: a second type of the same name → INVALID
 *   (/manager/refs-taken-out pins the review's "taken out of its only container" fix.)
 *   issue 11 §1 (each fails on the code before its fix):
 *     decref/unbalanced        a decref beyond the proxies' counts is INVALID; a published
 *                              or stored object stays alive (was a use-after-free)
 *     exit/without-free        a program returning from main with a started manager exits,
 *                              its socket folder gone (hung in the exit handler)
 *     owner-killed/sigkill, owner-killed/sigterm
 *                              the server removes its $TMPDIR folder when its owner dies
 *     authkey/empty            an empty key is INVALID for new() and connect()
 *     flood/unauthenticated    400 idle unauthenticated connections, re-opened as dropped:
 *                              a key holder still connects and is served (latency reported)
 *     list/set-slice-large     set_slice of 800 000 items finishes (was quadratic)
 *     limits/growth            with the server's item limit lowered to 4, every call that
 *                              would grow a full list, dict or namespace is INVALID and
 *                              changes nothing (append, insert, extend, dict set... had
 *                              no limit)
 *     stats/clients-unserved   serve_forever in this process with 2 client threads, both
 *                              busy, 3 more authenticated connections waiting: after the
 *                              shutdown stats.clients is 0 (it kept the 3) and they are closed
 *     shutdown/queued-closed   the same with both threads stalled past the shutdown's
 *                              second (SIGTERM): the waiting connections are closed when
 *                              serve_forever returns (they were dropped open)
 *     emfile/no-spin           a server at its file limit with a connection waiting and no
 *                              handshake to drop sleeps (it spun on accept()); the
 *                              connection is accepted once a client leaves
 *     emfile/evict-oldest      at the limit, an idle handshake from earlier makes room for
 *                              a key holder, who authenticates (the one just accepted was
 *                              dropped for the next), not counted in auth_failures
 *     preauth/read-bound       the handshake reads only its one frame before the key
 *                              is proven (socket pair, FIONREAD)
 *     preauth/read-bound-server the same through a running server: it closes with the
 *                              rest unread (ECONNRESET on a Unix socket, not end of file)
 *     hostile-client           random bytes, mutated requests and unbalanced decrefs on raw
 *                              connections; a good client keeps getting right answers
 *   Every test checks the server still serves afterwards; the managers the
 *   tests start are shut down with exit code 0 unless killed on purpose. */

/* prlimit(), to bring a running server to its file limit. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include "test-util.h"
#include "mpk-private.h"

#define CHILD_TIMEOUT_US MPK_TEST_CHILD_TIMEOUT_US

#define N_ADDERS        8
#define ADDS_PER_CHILD  2000
#define N_APPENDERS     4
#define APPENDS         100
#define N_THREADS       4
#define THREAD_CALLS    250

/* Starts a test: its own watchdog (arm_watchdog re-arms the alarm), and its summary. */
#define TEST_BEGIN(summary) \
  G_STMT_START \
    { \
      arm_watchdog (); \
      g_test_summary (summary); \
    } \
  G_STMT_END

/* --- assertions ------------------------------------------------------------- */

/* @call (a gboolean, using err_) must fail with MPK_ERROR @code and a message. */
#define ASSERT_FAILS(call, code) \
  G_STMT_START \
    { \
      GError *err_ = NULL; \
      gboolean ok_ = (call); \
      g_assert_error (err_, MPK_ERROR, (code)); \
      g_assert_false (ok_); \
      g_assert_cmpstr (err_->message, !=, ""); \
      g_clear_error (&err_); \
    } \
  G_STMT_END

/* The same for a call returning a @Type pointer (a GVariant or a proxy),
 * which must be NULL. */
#define ASSERT_NULL_FAILS_(Type, call, code) \
  G_STMT_START \
    { \
      GError *err_ = NULL; \
      g_autoptr(Type) got_ = (call); \
      g_assert_error (err_, MPK_ERROR, (code)); \
      g_assert_null (got_); \
      g_assert_cmpstr (err_->message, !=, ""); \
      g_clear_error (&err_); \
    } \
  G_STMT_END
#define ASSERT_NO_VARIANT(call, code) ASSERT_NULL_FAILS_ (GVariant, call, code)
#define ASSERT_NO_PROXY(call, code)   ASSERT_NULL_FAILS_ (MpkProxy, call, code)

/* The same for a call returning a number (its value on failure is not checked). */
#define ASSERT_NUMBER_FAILS(call, code) \
  G_STMT_START \
    { \
      GError *err_ = NULL; \
      (void) (call); \
      g_assert_error (err_, MPK_ERROR, (code)); \
      g_assert_cmpstr (err_->message, !=, ""); \
      g_clear_error (&err_); \
    } \
  G_STMT_END

/* @call (using err_) returns a number that must equal @expected. */
#define ASSERT_NUMBER(call, expected) \
  G_STMT_START \
    { \
      GError *err_ = NULL; \
      gint64 got_ = (call); \
      g_assert_no_error (err_); \
      g_assert_cmpint (got_, ==, (expected)); \
    } \
  G_STMT_END

/* @call (using err_) returns a GVariant (transfer full, not floating) whose
 * GVariant text, with types, is @expected ("5" for int32 5, "int64 5",
 * "'Bob'"). A "v" box would print as "<5>": no box is opened here. */
#define ASSERT_GOT(call, expected) \
  G_STMT_START \
    { \
      GError *err_ = NULL; \
      g_autoptr(GVariant) got_ = (call); \
      g_autofree char *got_text_ = NULL; \
      g_assert_no_error (err_); \
      g_assert_nonnull (got_); \
      g_assert_false (g_variant_is_floating (got_)); \
      got_text_ = g_variant_print (got_, TRUE); \
      g_assert_cmpstr (got_text_, ==, (expected)); \
    } \
  G_STMT_END

/* @call (using err_) returns an array of items (av, ai, a(vv), ...): each
 * item printed as in ASSERT_GOT after one "v" box is opened (the box is how
 * an item travels in an "av"), "[a, b]"; a dict entry prints "(key, value)". */
#define ASSERT_ITEMS_(call, expected, sorted) \
  G_STMT_START \
    { \
      GError *err_ = NULL; \
      g_autoptr(GVariant) got_ = (call); \
      g_autofree char *got_text_ = NULL; \
      g_assert_no_error (err_); \
      g_assert_nonnull (got_); \
      g_assert_false (g_variant_is_floating (got_)); \
      got_text_ = items_text (got_, (sorted)); \
      g_assert_cmpstr (got_text_, ==, (expected)); \
    } \
  G_STMT_END
#define ASSERT_ITEMS(call, expected)        ASSERT_ITEMS_ (call, expected, FALSE)
#define ASSERT_SORTED_ITEMS(call, expected) ASSERT_ITEMS_ (call, expected, TRUE)

/* "MPK_ERROR 17: message" or "no error", for messages from children. */
static char *
error_text (const GError *error)
{
  if (error == NULL)
    return g_strdup ("no error");
  return g_strdup_printf ("%s %d: %s", g_quark_to_string (error->domain), error->code,
                          error->message);
}

/* In a child: @error must be MPK_ERROR @code (then it is cleared); otherwise
 * says what was expected and what came, and leaves the child with 1. */
#define CHILD_EXPECT_ERROR(error, code) \
  G_STMT_START \
    { \
      if (!g_error_matches ((error), MPK_ERROR, (code))) \
        { \
          g_autofree char *got_ = error_text (error); \
          g_printerr ("child %d: %s:%d: expected MPK_ERROR %s (%d), got %s\n", \
                      (int) getpid (), __FILE__, __LINE__, #code, (int) (code), got_); \
          return 1; \
        } \
      g_clear_error (&(error)); \
    } \
  G_STMT_END

/* In a child: @v (consumed) must print as @expected; see ASSERT_GOT. */
#define CHILD_EXPECT_VALUE(v, error, expected) \
  G_STMT_START \
    { \
      g_autoptr(GVariant) v_ = (v); \
      g_autofree char *text_ = NULL; \
      MPK_CHILD_NO_ERROR (error); \
      MPK_CHILD_CHECK (v_ != NULL); \
      text_ = g_variant_print (v_, TRUE); \
      if (strcmp (text_, (expected)) != 0) \
        { \
          g_printerr ("child %d: %s:%d: expected %s, got %s\n", (int) getpid (), \
                      __FILE__, __LINE__, (expected), text_); \
          return 1; \
        } \
    } \
  G_STMT_END

/* One item of a returned array as ASSERT_ITEMS prints it. */
static char *
item_text (GVariant *item)
{
  g_autoptr(GVariant) inner = NULL;

  if (g_variant_is_of_type (item, G_VARIANT_TYPE_VARIANT))
    {
      inner = g_variant_get_variant (item);
      return g_variant_print (inner, TRUE);
    }
  /* A dict entry, or an items() pair "(vv)". */
  if (g_variant_is_of_type (item, G_VARIANT_TYPE_DICT_ENTRY)
      || g_variant_is_of_type (item, G_VARIANT_TYPE ("(vv)")))
    {
      g_autoptr(GVariant) key = g_variant_get_child_value (item, 0);
      g_autoptr(GVariant) value = g_variant_get_child_value (item, 1);
      g_autofree char *key_text = item_text (key);
      g_autofree char *value_text = item_text (value);

      return g_strdup_printf ("(%s, %s)", key_text, value_text);
    }
  return g_variant_print (item, TRUE);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* "[a, b, c]": the items of the container @items, in order or sorted. */
static char *
items_text (GVariant *items,
            gboolean  sorted)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new ("[");
  gsize i;

  g_assert_true (g_variant_is_container (items));
  for (i = 0; i < g_variant_n_children (items); i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (items, i);

      g_ptr_array_add (texts, item_text (child));
    }
  if (sorted)
    g_ptr_array_sort (texts, compare_strings);
  for (i = 0; i < texts->len; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", (char *) texts->pdata[i]);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/* --- values ------------------------------------------------------------------ */

static GVariant *
I32 (gint32 i)
{
  return g_variant_new_int32 (i);
}

static GVariant *
I64 (gint64 i)
{
  return g_variant_new_int64 (i);
}

static GVariant *
S (const char *s)
{
  return g_variant_new_string (s);
}

/* An "av" of the NULL-terminated values (floating ones are consumed;
 * references from ref_of() are not). */
static GVariant *
av_of (GVariant *first,
       ...)
{
  GVariantBuilder builder;
  GVariant *v;
  va_list ap;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  va_start (ap, first);
  for (v = first; v != NULL; v = va_arg (ap, GVariant *))
    g_variant_builder_add (&builder, "v", v);
  va_end (ap);
  return g_variant_builder_end (&builder);
}

/* An "a{sv}" of the NULL-terminated key, value pairs (values as in av_of). */
static GVariant *
asv_of (const char *first_key,
        ...)
{
  GVariantBuilder builder;
  const char *key;
  va_list ap;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sv}"));
  va_start (ap, first_key);
  for (key = first_key; key != NULL; key = va_arg (ap, const char *))
    g_variant_builder_add (&builder, "{sv}", key, va_arg (ap, GVariant *));
  va_end (ap);
  return g_variant_builder_end (&builder);
}

/* --- managers and proxies ---------------------------------------------------- */

static MpkManager *
start_manager (const char *address,
               GBytes     *authkey)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  gboolean ok;

  manager = mpk_manager_new (address, authkey, &error);
  g_assert_no_error (error);
  g_assert_nonnull (manager);
  ok = mpk_manager_start (manager, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_manager_get_pid (manager), >, 0);
  return manager;
}

static MpkManager *
new_started (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager = mpk_manager_new_started (&error);

  g_assert_no_error (error);
  g_assert_nonnull (manager);
  return manager;
}

/* Shuts @manager down, expects a clean exit (code 0) and frees it. */
static void
shutdown_clean (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);
  mpk_manager_free (manager);
}

static MpkManagerStats
stats_of (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  MpkManagerStats stats;
  gboolean ok;

  memset (&stats, 0, sizeof stats);
  ok = mpk_manager_get_stats (manager, &stats, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return stats;
}

/* The server updates its counters on its own time (a closed connection is
 * noticed when its thread sees EOF): polls them until @field @op @target or
 * CHILD_TIMEOUT_US passed, then asserts, printing both numbers. */
#define WAIT_FOR_STAT(manager, field, op, target) \
  G_STMT_START \
    { \
      gint64 end_ = g_get_monotonic_time () + CHILD_TIMEOUT_US; \
      MpkManagerStats s_; \
      for (;;) \
        { \
          s_ = stats_of (manager); \
          if (s_.field op (target) || g_get_monotonic_time () > end_) \
            break; \
          g_usleep (2000); \
        } \
      g_assert_cmpuint (s_.field, op, (target)); \
    } \
  G_STMT_END

static MpkProxy *
new_list (MpkManager *manager,
          GVariant   *items)
{
  g_autoptr(GError) error = NULL;
  MpkProxy *list = mpk_manager_list (manager, items, &error);

  g_assert_no_error (error);
  g_assert_nonnull (list);
  g_assert_cmpstr (mpk_proxy_get_type_name (list), ==, "list");
  return list;
}

static MpkProxy *
new_dict (MpkManager *manager,
          GVariant   *items)
{
  g_autoptr(GError) error = NULL;
  MpkProxy *dict = mpk_manager_dict (manager, items, &error);

  g_assert_no_error (error);
  g_assert_nonnull (dict);
  g_assert_cmpstr (mpk_proxy_get_type_name (dict), ==, "dict");
  return dict;
}

static MpkProxy *
new_queue (MpkManager *manager,
           gint64      maxsize,
           gboolean    joinable)
{
  g_autoptr(GError) error = NULL;
  MpkProxy *queue = joinable ? mpk_manager_joinable_queue (manager, maxsize, &error)
                             : mpk_manager_queue (manager, maxsize, &error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}

static MpkProxy *
new_value (MpkManager *manager,
           GVariant   *initial)
{
  g_autoptr(GError) error = NULL;
  MpkProxy *value = mpk_manager_value (manager, initial, &error);

  g_assert_no_error (error);
  g_assert_nonnull (value);
  return value;
}

/* The reference to @proxy, to store in a container; ours to unref (the
 * library documents it as floating, the contract's rule for results says
 * not: g_variant_take_ref() is right either way). */
static GVariant *
ref_of (MpkProxy *proxy)
{
  GVariant *ref = mpk_proxy_to_value (proxy);

  g_assert_nonnull (ref);
  ref = g_variant_take_ref (ref);
  g_assert_true (mpk_proxy_is_reference (ref));
  return ref;
}

/* A proxy for the reference stored at @index of @list. */
static MpkProxy *
list_at (MpkProxy *list,
         gint64    index)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = mpk_list_get (list, index, &error);
  MpkProxy *proxy;

  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_assert_true (mpk_proxy_is_reference (ref));
  proxy = mpk_proxy_from_value (mpk_proxy_get_manager (list), ref, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proxy);
  return proxy;
}

/* A proxy for the reference stored under @key (consumed) in @dict. */
static MpkProxy *
dict_at (MpkProxy *dict,
         GVariant *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = mpk_dict_get (dict, key, &error);
  MpkProxy *proxy;

  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_assert_true (mpk_proxy_is_reference (ref));
  proxy = mpk_proxy_from_value (mpk_proxy_get_manager (dict), ref, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proxy);
  return proxy;
}

/* Every item left in @iterator, as ASSERT_GOT prints each, "[a, b]". */
static char *
drain_iterator (MpkProxy *iterator,
                gboolean  sorted)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new ("[");
  guint i;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = NULL;
      gboolean more = mpk_iterator_next (iterator, &item, &error);

      g_assert_no_error (error);
      if (!more)
        break;
      g_assert_nonnull (item);
      g_ptr_array_add (texts, g_variant_print (item, TRUE));
    }
  if (sorted)
    g_ptr_array_sort (texts, compare_strings);
  for (i = 0; i < texts->len; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", (char *) texts->pdata[i]);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/* 32 bytes from the kernel's CSPRNG (Python: os.urandom(32)). */
static GBytes *
random_key (void)
{
  guint8 key[32];

  mpk__random_bytes (key, sizeof key);
  return g_bytes_new (key, sizeof key);
}

/* Starts a manager at @address; one retry after 1 s if the address is still
 * taken (CPython's test_rapid_restart does the same on EADDRINUSE). */
static MpkManager *
start_manager_retry_once (const char *address,
                          GBytes     *authkey)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager = mpk_manager_new (address, authkey, &error);

  g_assert_no_error (error);
  g_assert_nonnull (manager);
  if (!mpk_manager_start (manager, &error))
    {
      g_test_message ("restart at %s failed (%s); retrying once after 1 s",
                      address, error->message);
      g_clear_error (&error);
      mpk_manager_free (manager);
      g_usleep (G_USEC_PER_SEC);
      return start_manager (address, authkey);
    }
  return manager;
}

/* What every forking test hands its children. */
typedef struct
{
  MpkManager     *manager;
  MpkProxy       *queue;
  MpkProxy       *list;
  MpkProxy       *value;
  MpkProxy       *lock;
  MpkTestChannel  channel;
  const char     *address;
  GBytes         *authkey;
  int             index;      /* which of several children this is */
} ChildArgs;

/* Starts a child running @func on a copy of @args with index @index (the
 * copy lives until the test frees it with g_free). */
static MpkProcess *
start_child_indexed (MpkProcessFunc  func,
                     const ChildArgs *args,
                     int              index,
                     ChildArgs      **copy_out)
{
  ChildArgs *copy = g_memdup2 (args, sizeof *args);

  copy->index = index;
  *copy_out = copy;
  return mpk_test_start (func, copy);
}

/* The registered type of /manager/mymanager (defined there). */
static const MpkManagerType foo_type;

/* --- lifecycle (M1 M2 M3 M6) ------------------------------------------------------ */

static void
test_manager_lifecycle (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *message = NULL;
  MpkManager *manager;
  GBytes *key;
  GStatBuf st;

  TEST_BEGIN ("M1-M3, M6: a default manager listens on a unix socket (0600) in a "
              "private dir (0700) with a 32-byte random key; start twice and start "
              "after shutdown are INVALID; shutdown is idempotent, exit code 0, the "
              "socket is removed");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (manager);
  key = mpk_manager_get_authkey (manager);
  g_assert_nonnull (key);
  g_assert_cmpuint (g_bytes_get_size (key), ==, 32);

  ASSERT_OK (mpk_manager_start (manager, &err_));
  g_assert_true (g_str_has_prefix (mpk_manager_get_address (manager), "unix:"));
  path = g_strdup (mpk_manager_get_address (manager) + strlen ("unix:"));
  dir = g_path_get_dirname (path);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_true (g_str_has_prefix (dir, g_get_tmp_dir ()));

  g_assert_false (mpk_manager_start (manager, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  message = g_ascii_strdown (error->message, -1);
  g_assert_nonnull (strstr (message, "already started"));
  g_clear_error (&error);
  g_clear_pointer (&message, g_free);

  /* Registration is only possible before start. */
  ASSERT_FAILS (mpk_manager_register (manager, &foo_type, &err_), MPK_ERROR_INVALID);

  /* The server works. */
  {
    g_autoptr(MpkProxy) list = new_list (manager, NULL);

    ASSERT_OK (mpk_list_append (list, I32 (1), &err_));
    ASSERT_NUMBER (mpk_list_len (list, &err_), 1);
  }

  ASSERT_OK (mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &err_));
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    g_test_message ("observed: the private dir %s is left behind at shutdown", dir);
  ASSERT_OK (mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &err_));
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);

  g_assert_false (mpk_manager_start (manager, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  message = g_ascii_strdown (error->message, -1);
  g_assert_nonnull (strstr (message, "manager has shut down"));
  g_clear_error (&error);
  mpk_manager_free (manager);

  /* mpk_manager_new_started(): Python's Manager(). */
  manager = new_started ();
  g_assert_true (g_str_has_prefix (mpk_manager_get_address (manager), "unix:"));
  shutdown_clean (manager);

  /* "tcp:PORT" means 127.0.0.1:PORT; port 0 is resolved after start. */
  manager = start_manager ("tcp:0", NULL);
  g_assert_true (g_str_has_prefix (mpk_manager_get_address (manager), "tcp:127.0.0.1:"));
  g_assert_cmpstr (mpk_manager_get_address (manager), !=, "tcp:127.0.0.1:0");
  shutdown_clean (manager);
}

static void
test_manager_shutdown_escalates (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  int exitcode;
  GPid pid;

  TEST_BEGIN ("M6: a server that cannot answer (SIGSTOPped) is stopped anyway: shutdown "
              "with a 0.2 s timeout escalates to SIGTERM, then SIGKILL; the exit code "
              "says so (-15 or -9)");
  manager = new_started ();
  pid = mpk_manager_get_pid (manager);
  {
    g_autoptr(MpkProxy) list = new_list (manager, NULL);

    ASSERT_OK (mpk_list_append (list, I32 (1), &err_));
  }
  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  mpk_manager_shutdown (manager, 200 * 1000, &error);
  if (error != NULL)
    g_test_message ("shutdown of a stopped server: %s", error->message);
  g_clear_error (&error);
  exitcode = mpk_manager_get_exitcode (manager);
  g_test_message ("observed: exit code %d", exitcode);
  if (exitcode != -SIGKILL)
    g_assert_cmpint (exitcode, ==, -SIGTERM);
  g_assert_cmpint (kill (pid, 0), ==, -1);   /* reaped */
  mpk_manager_free (manager);
}

/* --- serve_forever (M4) ------------------------------------------------------------- */

static int
serve_forever_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  MpkManager *manager;

  child_guard ();
  manager = mpk_manager_new (args->address, args->authkey, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (manager != NULL);
  MPK_CHILD_CHECK (mpk_manager_serve_forever (manager, &error));
  MPK_CHILD_NO_ERROR (error);
  mpk_manager_free (manager);
  return 0;
}

static void
test_manager_serve_forever (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = random_key ();
  g_autofree char *dir = g_dir_make_tmp ("mpk-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "server.sock", NULL);
  g_autofree char *address = g_strconcat ("unix:", path, NULL);
  ChildArgs args = { 0 };
  MpkManager *client = NULL;
  MpkProcess *child;

  TEST_BEGIN ("M4: mpk_manager_serve_forever() in a child serves a client that "
              "connect()s; the client's shutdown() is acknowledged (TRUE) and the "
              "server's process exits 0");
  g_assert_nonnull (dir);
  args.address = address;
  args.authkey = key;
  child = mpk_test_start (serve_forever_child, &args);

  /* The child cannot say when it listens (serve_forever blocks): poll with
   * connect() until it stops being REFUSED (bounded by CHILD_TIMEOUT_US). */
  {
    gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;

    while (client == NULL)
      {
        client = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
        if (client != NULL)
          break;
        g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
        g_clear_error (&error);
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        g_usleep (2000);
      }
  }
  g_assert_no_error (error);

  {
    g_autoptr(MpkProxy) list = new_list (client, g_variant_new_parsed ("[1, 2]"));
    MpkManagerStats stats;

    ASSERT_OK (mpk_list_append (list, I32 (3), &err_));
    ASSERT_ITEMS (mpk_list_copy (list, &err_), "[1, 2, 3]");
    stats = stats_of (client);
    g_assert_cmpuint (stats.connections, >=, 1);
    g_assert_cmpuint (stats.clients, >=, 1);
    g_assert_cmpuint (stats.calls, >=, 3);
    g_assert_cmpuint (stats.objects, >=, 1);
  }
  ASSERT_OK (mpk_manager_shutdown (client, CHILD_TIMEOUT_US, &err_));
  join_child (child, 0);
  mpk_manager_free (client);
  /* The contract promises removal for the default address only. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    g_test_message ("observed: serve_forever leaves its socket %s behind", path);
  g_unlink (path);
  g_rmdir (dir);
}

/* --- 34: lists ------------------------------------------------------------------------ */

static void
test_manager_list (void)
{
  MpkManager *manager;
  MpkProxy *a, *b, *e, *f;

  TEST_BEGIN ("CPython test_list: slices, extend, b *= 2, b + [5, 6] (copy, then a "
              "local concatenation); a list of two list references round-trips their "
              "values; f = list([a]); a.append('hello') shows through f[0]");
  manager = new_started ();

  a = new_list (manager, g_variant_new_parsed ("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"));
  ASSERT_ITEMS (mpk_list_slice (a, 0, G_MAXINT64, &err_), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");

  b = new_list (manager, NULL);
  ASSERT_ITEMS (mpk_list_slice (b, 0, G_MAXINT64, &err_), "[]");
  ASSERT_OK (mpk_list_extend (b, g_variant_new_parsed ("[0, 1, 2, 3, 4]"), &err_));
  ASSERT_ITEMS (mpk_list_slice (b, 0, G_MAXINT64, &err_), "[0, 1, 2, 3, 4]");
  ASSERT_GOT (mpk_list_get (b, 2, &err_), "2");
  ASSERT_ITEMS (mpk_list_slice (b, 2, 10, &err_), "[2, 3, 4]");
  ASSERT_ITEMS (mpk_list_slice (b, -2, G_MAXINT64, &err_), "[3, 4]");
  ASSERT_ITEMS (mpk_list_slice (b, -100, 2, &err_), "[0, 1]");
  ASSERT_ITEMS (mpk_list_slice (b, 4, 2, &err_), "[]");

  ASSERT_OK (mpk_list_repeat (b, 2, &err_));
  ASSERT_ITEMS (mpk_list_slice (b, 0, G_MAXINT64, &err_), "[0, 1, 2, 3, 4, 0, 1, 2, 3, 4]");

  /* b + [5, 6]: a plain list made here from b's copy; b does not change. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) copy = mpk_list_copy (b, &error);
    g_autoptr(GVariant) sum = NULL;
    g_autofree char *text = NULL;
    GVariantBuilder builder;
    GVariantIter iter;
    GVariant *child;

    g_assert_no_error (error);
    g_assert_nonnull (copy);
    g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
    g_variant_iter_init (&iter, copy);
    while ((child = g_variant_iter_next_value (&iter)) != NULL)
      {
        if (g_variant_is_of_type (child, G_VARIANT_TYPE_VARIANT))
          g_variant_builder_add_value (&builder, child);
        else
          g_variant_builder_add (&builder, "v", child);
        g_variant_unref (child);
      }
    g_variant_builder_add (&builder, "v", I32 (5));
    g_variant_builder_add (&builder, "v", I32 (6));
    sum = g_variant_ref_sink (g_variant_builder_end (&builder));
    text = items_text (sum, FALSE);
    g_assert_cmpstr (text, ==, "[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6]");
    ASSERT_NUMBER (mpk_list_len (b, &err_), 10);
  }
  ASSERT_ITEMS (mpk_list_slice (a, 0, G_MAXINT64, &err_), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");

  /* e = list([a, b]): each element is a reference that round-trips its list. */
  {
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(GVariant) rb = ref_of (b);
    g_autoptr(MpkProxy) e0 = NULL;
    g_autoptr(MpkProxy) e1 = NULL;

    e = new_list (manager, av_of (ra, rb, NULL));
    ASSERT_NUMBER (mpk_list_len (e, &err_), 2);
    e0 = list_at (e, 0);
    e1 = list_at (e, 1);
    g_assert_cmpstr (mpk_proxy_get_type_name (e0), ==, "list");
    ASSERT_ITEMS (mpk_list_slice (e0, 0, G_MAXINT64, &err_), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
    ASSERT_ITEMS (mpk_list_slice (e1, 0, G_MAXINT64, &err_), "[0, 1, 2, 3, 4, 0, 1, 2, 3, 4]");
  }

  /* f = list([a]); a.append('hello'); f[0][:] shows it. */
  {
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(MpkProxy) f0 = NULL;

    f = new_list (manager, av_of (ra, NULL));
    ASSERT_OK (mpk_list_append (a, S ("hello"), &err_));
    f0 = list_at (f, 0);
    ASSERT_ITEMS (mpk_list_slice (f0, 0, G_MAXINT64, &err_),
                  "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'hello']");
  }

  mpk_proxy_unref (f);
  mpk_proxy_unref (e);
  mpk_proxy_unref (b);
  mpk_proxy_unref (a);
  shutdown_clean (manager);
}

static void
test_manager_list_methods (void)
{
  MpkManager *manager;
  g_autoptr(MpkProxy) l = NULL;
  g_autoptr(GError) error = NULL;
  char *text;

  TEST_BEGIN ("M10: insert, set, pop (default -1 and by index), remove, index, count, "
              "reverse, set_slice, clear, negative indexes; items keep their "
              "GVariant type (int32 stays int32, int64 stays int64); to_string works");
  manager = new_started ();
  l = new_list (manager, NULL);

  ASSERT_OK (mpk_list_append (l, I32 (5), &err_));
  ASSERT_OK (mpk_list_append (l, I64 (5), &err_));
  ASSERT_OK (mpk_list_append (l, S ("x"), &err_));
  ASSERT_GOT (mpk_list_get (l, 0, &err_), "5");
  ASSERT_GOT (mpk_list_get (l, 1, &err_), "int64 5");
  ASSERT_GOT (mpk_list_get (l, -1, &err_), "'x'");

  ASSERT_OK (mpk_list_insert (l, 0, S ("first"), &err_));
  ASSERT_OK (mpk_list_insert (l, 100, S ("last"), &err_));       /* clamps, like Python */
  ASSERT_ITEMS (mpk_list_copy (l, &err_), "['first', 5, int64 5, 'x', 'last']");
  ASSERT_OK (mpk_list_set (l, -2, S ("y"), &err_));
  ASSERT_GOT (mpk_list_get (l, 3, &err_), "'y'");

  ASSERT_GOT (mpk_list_pop (l, -1, &err_), "'last'");
  ASSERT_GOT (mpk_list_pop (l, 0, &err_), "'first'");
  ASSERT_ITEMS (mpk_list_copy (l, &err_), "[5, int64 5, 'y']");

  /* int32 5 and int64 5 are different values: count/index/remove see the type. */
  ASSERT_NUMBER (mpk_list_count (l, I32 (5), &err_), 1);
  ASSERT_NUMBER (mpk_list_index (l, I64 (5), &err_), 1);
  ASSERT_NUMBER (mpk_list_index (l, S ("y"), &err_), 2);
  ASSERT_OK (mpk_list_remove (l, I64 (5), &err_));
  ASSERT_ITEMS (mpk_list_copy (l, &err_), "[5, 'y']");

  ASSERT_OK (mpk_list_extend (l, g_variant_new_parsed ("[1, 2, 3]"), &err_));
  ASSERT_OK (mpk_list_reverse (l, &err_));
  ASSERT_ITEMS (mpk_list_copy (l, &err_), "[3, 2, 1, 'y', 5]");
  ASSERT_OK (mpk_list_set_slice (l, 1, 3, g_variant_new_parsed ("['a', 'b', 'c']"), &err_));
  ASSERT_ITEMS (mpk_list_copy (l, &err_), "[3, 'a', 'b', 'c', 'y', 5]");
  ASSERT_OK (mpk_list_set_slice (l, 0, 4, g_variant_new_parsed ("@ai []"), &err_));
  ASSERT_ITEMS (mpk_list_copy (l, &err_), "['y', 5]");

  text = mpk_proxy_to_string (l, &error);
  g_assert_no_error (error);
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "'y'"));
  g_free (text);

  /* The generic _callmethod reaches the same methods. */
  ASSERT_GOT (mpk_proxy_call (l, "len", NULL, &err_), "int64 2");

  ASSERT_OK (mpk_list_clear (l, &err_));
  ASSERT_NUMBER (mpk_list_len (l, &err_), 0);
  g_clear_pointer (&l, mpk_proxy_unref);
  shutdown_clean (manager);
}

static void
test_manager_list_proxy_in_list (void)
{
  MpkManager *manager;
  g_autoptr(MpkProxy) a = NULL;
  MpkProxy *inner[3];
  guint i;

  TEST_BEGIN ("CPython test_list_proxy_in_list: a list of three list references; "
              "a[0][-1] = 55 changes only a[0]; a[1].pop() == 2, len(a[1]) == 2; the "
              "inner lists live on after the local proxies are dropped");
  manager = new_started ();
  for (i = 0; i < 3; i++)
    inner[i] = new_list (manager, g_variant_new_parsed ("[0, 1, 2]"));
  {
    g_autoptr(GVariant) r0 = ref_of (inner[0]);
    g_autoptr(GVariant) r1 = ref_of (inner[1]);
    g_autoptr(GVariant) r2 = ref_of (inner[2]);

    a = new_list (manager, av_of (r0, r1, r2, NULL));
  }
  for (i = 0; i < 3; i++)
    mpk_proxy_unref (inner[i]);

  for (i = 0; i < 3; i++)
    {
      g_autoptr(MpkProxy) x = list_at (a, i);

      ASSERT_ITEMS (mpk_list_copy (x, &err_), "[0, 1, 2]");
    }
  {
    g_autoptr(MpkProxy) x = list_at (a, 0);

    ASSERT_OK (mpk_list_set (x, -1, I32 (55), &err_));
  }
  {
    g_autoptr(MpkProxy) x0 = list_at (a, 0);
    g_autoptr(MpkProxy) x1 = list_at (a, 1);
    g_autoptr(MpkProxy) x2 = list_at (a, 2);

    ASSERT_ITEMS (mpk_list_copy (x0, &err_), "[0, 1, 55]");
    ASSERT_ITEMS (mpk_list_copy (x1, &err_), "[0, 1, 2]");
    ASSERT_ITEMS (mpk_list_copy (x2, &err_), "[0, 1, 2]");
    ASSERT_GOT (mpk_list_pop (x1, -1, &err_), "2");
    ASSERT_NUMBER (mpk_list_len (x1, &err_), 2);
    ASSERT_NUMBER (mpk_list_len (x0, &err_), 3);
    ASSERT_NUMBER (mpk_list_len (x2, &err_), 3);
  }
  g_clear_pointer (&a, mpk_proxy_unref);
  shutdown_clean (manager);
}

/* --- 35: dicts ------------------------------------------------------------------------- */

/* d[i] = chr(i) for i in 65..69. */
static MpkProxy *
letters_dict (MpkManager *manager)
{
  MpkProxy *d = new_dict (manager, NULL);
  int i;

  for (i = 65; i < 70; i++)
    {
      char s[2] = { (char) i, 0 };

      ASSERT_OK (mpk_dict_set (d, I32 (i), S (s), &err_));
    }
  return d;
}

static void
test_manager_dict (void)
{
  MpkManager *manager;
  g_autoptr(MpkProxy) d = NULL;

  TEST_BEGIN ("CPython test_dict: d[i] = chr(i) for 65..69; items (the contract has "
              "no copy(): items is the copy), keys and values hold exactly those; len, "
              "contains, get_default, setdefault, pop, update");
  manager = new_started ();
  d = letters_dict (manager);

  ASSERT_SORTED_ITEMS (mpk_dict_keys (d, &err_), "[65, 66, 67, 68, 69]");
  ASSERT_SORTED_ITEMS (mpk_dict_values (d, &err_), "['A', 'B', 'C', 'D', 'E']");
  ASSERT_NUMBER (mpk_dict_len (d, &err_), 5);
  ASSERT_GOT (mpk_dict_get (d, I32 (66), &err_), "'B'");

  ASSERT_OK (mpk_dict_contains (d, I32 (65), &err_));
  {
    GError *err_ = NULL;

    g_assert_false (mpk_dict_contains (d, I32 (70), &err_));
    g_assert_no_error (err_);
    /* int64 65 is another key than int32 65. */
    g_assert_false (mpk_dict_contains (d, I64 (65), &err_));
    g_assert_no_error (err_);
  }
  ASSERT_GOT (mpk_dict_get_default (d, I32 (70), S ("z"), &err_), "'z'");
  ASSERT_GOT (mpk_dict_get_default (d, I32 (65), S ("z"), &err_), "'A'");
  ASSERT_GOT (mpk_dict_setdefault (d, I32 (70), S ("F"), &err_), "'F'");
  ASSERT_GOT (mpk_dict_setdefault (d, I32 (70), S ("G"), &err_), "'F'");
  ASSERT_NUMBER (mpk_dict_len (d, &err_), 6);
  ASSERT_GOT (mpk_dict_pop (d, I32 (70), &err_), "'F'");
  ASSERT_NUMBER (mpk_dict_len (d, &err_), 5);

  ASSERT_OK (mpk_dict_update (d, g_variant_new_parsed ("{71: <'G'>, 65: <'a'>}"), &err_));
  ASSERT_GOT (mpk_dict_get (d, I32 (71), &err_), "'G'");
  ASSERT_GOT (mpk_dict_get (d, I32 (65), &err_), "'a'");
  ASSERT_NUMBER (mpk_dict_len (d, &err_), 6);

  /* A dict made from a{sv} holds string keys and the boxed values. */
  {
    g_autoptr(MpkProxy) e = new_dict (manager, g_variant_new_parsed ("{'x': <1>, 'y': <'two'>}"));

    ASSERT_GOT (mpk_dict_get (e, S ("x"), &err_), "1");
    ASSERT_GOT (mpk_dict_get (e, S ("y"), &err_), "'two'");
  }

  /* items() is the copy: "a(vv)" (a dict entry's key must be a basic type,
   * so "a{vv}" does not exist), one pair per key. */
  ASSERT_GOT (mpk_dict_pop (d, I32 (71), &err_), "'G'");
  ASSERT_OK (mpk_dict_set (d, I32 (65), S ("A"), &err_));
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) items = mpk_dict_items (d, &error);

    g_assert_no_error (error);
    g_assert_nonnull (items);
    g_assert_cmpstr (g_variant_get_type_string (items), ==, "a(vv)");
  }
  ASSERT_SORTED_ITEMS (mpk_dict_items (d, &err_),
                       "[(65, 'A'), (66, 'B'), (67, 'C'), (68, 'D'), (69, 'E')]");

  ASSERT_OK (mpk_dict_clear (d, &err_));
  ASSERT_NUMBER (mpk_dict_len (d, &err_), 0);
  g_clear_pointer (&d, mpk_proxy_unref);
  shutdown_clean (manager);
}

static void
test_manager_dict_iter (void)
{
  MpkManager *manager;
  g_autoptr(MpkProxy) d = NULL;
  g_autoptr(GError) error = NULL;

  TEST_BEGIN ("CPython test_dict_iter: iter(d) yields the keys once; the iterator is "
              "then exhausted; an iterator made before d.clear() fails INVALID "
              "(\"dictionary changed size during iteration\")");
  manager = new_started ();
  d = letters_dict (manager);

  {
    g_autoptr(MpkProxy) it = mpk_dict_iter (d, &error);
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (it);
    g_assert_cmpstr (mpk_proxy_get_type_name (it), ==, "iterator");
    first = drain_iterator (it, TRUE);
    g_assert_cmpstr (first, ==, "[65, 66, 67, 68, 69]");
    second = drain_iterator (it, FALSE);
    g_assert_cmpstr (second, ==, "[]");
  }
  {
    g_autoptr(MpkProxy) it = mpk_dict_iter (d, &error);
    g_autoptr(GVariant) item = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (it);
    ASSERT_OK (mpk_dict_clear (d, &err_));
    g_assert_false (mpk_iterator_next (it, &item, &error));
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_assert_null (item);
    g_clear_error (&error);
  }
  g_clear_pointer (&d, mpk_proxy_unref);
  shutdown_clean (manager);
}

/* --- 36: nested proxies ---------------------------------------------------------------- */

static void
test_manager_dict_nested (void)
{
  MpkManager *manager;
  MpkProxy *pets, *supplies, *d, *l, *outer;
  guint objects_before;

  TEST_BEGIN ("CPython test_dict_proxy_nested: dicts stored (as references) in a dict "
              "stay live after the local proxies are dropped; d.clear() keeps the inner "
              "proxies usable; a list of them works; a plain inner list comes back as a "
              "plain value; every object is freed when nothing refers to it any more");
  manager = new_started ();
  objects_before = stats_of (manager).objects;

  pets = new_dict (manager, g_variant_new_parsed ("{'ferrets': <2>, 'hamsters': <4>}"));
  supplies = new_dict (manager, g_variant_new_parsed ("{'water': <10>, 'feed': <3>}"));
  {
    g_autoptr(GVariant) rp = ref_of (pets);
    g_autoptr(GVariant) rs = ref_of (supplies);

    d = new_dict (manager, asv_of ("pets", rp, "supplies", rs, NULL));
  }
  ASSERT_GOT (mpk_dict_get (supplies, S ("water"), &err_), "10");
  {
    g_autoptr(MpkProxy) ds = dict_at (d, S ("supplies"));

    ASSERT_GOT (mpk_dict_get (ds, S ("water"), &err_), "10");
    ASSERT_OK (mpk_dict_set (ds, S ("blankets"), I32 (5), &err_));
    ASSERT_GOT (mpk_dict_get (supplies, S ("blankets"), &err_), "5");
    ASSERT_GOT (mpk_dict_get (ds, S ("blankets"), &err_), "5");
    ASSERT_OK (mpk_dict_set (ds, S ("water"), I32 (7), &err_));
    ASSERT_GOT (mpk_dict_get (supplies, S ("water"), &err_), "7");
    ASSERT_GOT (mpk_dict_get (ds, S ("water"), &err_), "7");
  }

  /* del pets; del supplies: d's references keep them alive. */
  mpk_proxy_unref (pets);
  mpk_proxy_unref (supplies);
  {
    g_autoptr(MpkProxy) dp = dict_at (d, S ("pets"));
    g_autoptr(MpkProxy) ds = dict_at (d, S ("supplies"));

    ASSERT_GOT (mpk_dict_get (dp, S ("ferrets"), &err_), "2");
    ASSERT_OK (mpk_dict_set (ds, S ("blankets"), I32 (11), &err_));
  }
  {
    g_autoptr(MpkProxy) ds = dict_at (d, S ("supplies"));

    ASSERT_GOT (mpk_dict_get (ds, S ("blankets"), &err_), "11");
  }

  /* pets = d['pets']; supplies = d['supplies']; d.clear(): they stay usable. */
  pets = dict_at (d, S ("pets"));
  supplies = dict_at (d, S ("supplies"));
  ASSERT_OK (mpk_dict_clear (d, &err_));
  ASSERT_NUMBER (mpk_dict_len (d, &err_), 0);
  ASSERT_GOT (mpk_dict_get (supplies, S ("water"), &err_), "7");
  ASSERT_GOT (mpk_dict_get (pets, S ("hamsters"), &err_), "4");

  /* l = list([pets, supplies]); l[0]['marmots'] = 1. */
  {
    g_autoptr(GVariant) rp = ref_of (pets);
    g_autoptr(GVariant) rs = ref_of (supplies);

    l = new_list (manager, av_of (rp, rs, NULL));
  }
  {
    g_autoptr(MpkProxy) l0 = list_at (l, 0);

    ASSERT_OK (mpk_dict_set (l0, S ("marmots"), I32 (1), &err_));
    ASSERT_GOT (mpk_dict_get (pets, S ("marmots"), &err_), "1");
    ASSERT_GOT (mpk_dict_get (l0, S ("marmots"), &err_), "1");
  }
  mpk_proxy_unref (pets);
  mpk_proxy_unref (supplies);
  {
    g_autoptr(MpkProxy) l0 = list_at (l, 0);

    ASSERT_GOT (mpk_dict_get (l0, S ("marmots"), &err_), "1");
  }

  /* outer = list([[88, 99], l]): outer[0] is a plain value, outer[-1][-1]['feed'] == 3. */
  {
    g_autoptr(GVariant) rl = ref_of (l);

    outer = new_list (manager, av_of (g_variant_new_parsed ("[88, 99]"), rl, NULL));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) plain = mpk_list_get (outer, 0, &error);
    g_autoptr(MpkProxy) last = NULL;
    g_autoptr(MpkProxy) last_last = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (plain);
    g_assert_false (mpk_proxy_is_reference (plain));
    g_assert_cmpstr (g_variant_get_type_string (plain), ==, "ai");
    last = list_at (outer, -1);
    last_last = list_at (last, -1);
    ASSERT_GOT (mpk_dict_get (last_last, S ("feed"), &err_), "3");
  }

  /* d, l, outer are the last holders: dropping them frees all five objects. */
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 5);
  mpk_proxy_unref (outer);
  mpk_proxy_unref (l);
  mpk_proxy_unref (d);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* --- 37: namespace ----------------------------------------------------------------------- */

static void
test_manager_namespace (void)
{
  MpkManager *manager;
  g_autoptr(MpkProxy) n = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  TEST_BEGIN ("CPython test_namespace: name and job set and read back; '_hidden' is "
              "refused (INVALID); after deleting job, str(n) == \"Namespace(name='Bob')\" "
              "and job is missing (KEY)");
  manager = new_started ();
  n = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  g_assert_nonnull (n);

  ASSERT_OK (mpk_namespace_set (n, "name", S ("Bob"), &err_));
  ASSERT_OK (mpk_namespace_set (n, "job", S ("Builder"), &err_));
  ASSERT_FAILS (mpk_namespace_set (n, "_hidden", S ("hidden"), &err_), MPK_ERROR_INVALID);
  ASSERT_NO_VARIANT (mpk_namespace_get (n, "_hidden", &err_), MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_namespace_get (n, "name", &err_), "'Bob'");
  ASSERT_GOT (mpk_namespace_get (n, "job", &err_), "'Builder'");

  ASSERT_OK (mpk_namespace_delete (n, "job", &err_));
  text = mpk_proxy_to_string (n, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "Namespace(name='Bob')");
  ASSERT_GOT (mpk_namespace_get (n, "name", &err_), "'Bob'");
  ASSERT_NO_VARIANT (mpk_namespace_get (n, "job", &err_), MPK_ERROR_KEY);
  ASSERT_FAILS (mpk_namespace_delete (n, "job", &err_), MPK_ERROR_KEY);

  g_clear_pointer (&n, mpk_proxy_unref);
  shutdown_clean (manager);
}

/* --- 38: a queue inside containers -------------------------------------------------------- */

static void
test_manager_nested_queue (void)
{
  MpkManager *manager;
  g_autoptr(MpkProxy) a = NULL;
  g_autoptr(MpkProxy) b = NULL;

  TEST_BEGIN ("CPython test_nested_queue: a queue whose only holder is a list (then a "
              "dict) still works through a[0] / b[0]: put 123, get 123");
  manager = new_started ();

  a = new_list (manager, NULL);
  {
    g_autoptr(MpkProxy) q = new_queue (manager, 0, FALSE);
    g_autoptr(GVariant) rq = ref_of (q);

    ASSERT_OK (mpk_list_append (a, rq, &err_));
  }
  {
    g_autoptr(MpkProxy) q = list_at (a, 0);

    ASSERT_OK (mpk_queue_proxy_put (q, I32 (123), CHILD_TIMEOUT_US, &err_));
  }
  {
    g_autoptr(MpkProxy) q = list_at (a, 0);

    ASSERT_GOT (mpk_queue_proxy_get (q, CHILD_TIMEOUT_US, &err_), "123");
  }

  b = new_dict (manager, NULL);
  {
    g_autoptr(MpkProxy) q = new_queue (manager, 0, FALSE);
    g_autoptr(GVariant) rq = ref_of (q);

    ASSERT_OK (mpk_dict_set (b, I32 (0), rq, &err_));
  }
  {
    g_autoptr(MpkProxy) q = dict_at (b, I32 (0));

    ASSERT_OK (mpk_queue_proxy_put (q, I32 (123), CHILD_TIMEOUT_US, &err_));
  }
  {
    g_autoptr(MpkProxy) q = dict_at (b, I32 (0));

    ASSERT_GOT (mpk_queue_proxy_get (q, CHILD_TIMEOUT_US, &err_), "123");
  }
  g_clear_pointer (&a, mpk_proxy_unref);
  g_clear_pointer (&b, mpk_proxy_unref);
  shutdown_clean (manager);
}

static void
test_manager_refs_elsewhere (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *ns, *value;
  guint objects_before;

  TEST_BEGIN ("A reference stored in a namespace or a value keeps its object alive "
              "after the local proxy is dropped, and comes back usable; the objects are "
              "freed once nothing refers to them");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  ns = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  value = new_value (manager, I32 (0));
  {
    g_autoptr(MpkProxy) a = new_list (manager, g_variant_new_parsed ("['in ns']"));
    g_autoptr(MpkProxy) c = new_list (manager, g_variant_new_parsed ("['in value']"));
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(GVariant) rc = ref_of (c);

    ASSERT_OK (mpk_namespace_set (ns, "list", ra, &err_));
    ASSERT_OK (mpk_value_proxy_set (value, rc, &err_));
  }
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 4);
  {
    g_autoptr(GVariant) ra = mpk_namespace_get (ns, "list", &error);
    g_autoptr(GVariant) rc = NULL;
    g_autoptr(MpkProxy) a = NULL;
    g_autoptr(MpkProxy) c = NULL;

    g_assert_no_error (error);
    a = mpk_proxy_from_value (manager, ra, &error);
    g_assert_no_error (error);
    ASSERT_ITEMS (mpk_list_copy (a, &err_), "['in ns']");
    rc = mpk_value_proxy_get (value, &error);
    g_assert_no_error (error);
    c = mpk_proxy_from_value (manager, rc, &error);
    g_assert_no_error (error);
    ASSERT_ITEMS (mpk_list_copy (c, &err_), "['in value']");
  }
  /* The namespace and the value let go when the name is deleted or the
   * value replaced. */
  ASSERT_OK (mpk_namespace_delete (ns, "list", &err_));
  ASSERT_OK (mpk_value_proxy_set (value, I32 (1), &err_));
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 2);
  mpk_proxy_unref (ns);
  mpk_proxy_unref (value);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Takes the reference to a one-item list ['@name'] out of a container with
 * @take (whose only holder it was) and checks it still works. */
#define ASSERT_TAKEN_REF_WORKS(manager, take, name) \
  G_STMT_START \
    { \
      GError *err2_ = NULL; \
      g_autoptr(GVariant) ref_ = (take); \
      g_autoptr(MpkProxy) p_ = NULL; \
      g_assert_no_error (err2_); \
      g_assert_nonnull (ref_); \
      g_assert_true (mpk_proxy_is_reference (ref_)); \
      p_ = mpk_proxy_from_value ((manager), ref_, &err2_); \
      g_assert_no_error (err2_); \
      g_assert_nonnull (p_); \
      ASSERT_ITEMS (mpk_list_copy (p_, &err_), "['" name "']"); \
    } \
  G_STMT_END

static void
test_manager_refs_taken_out (void)
{
  MpkManager *manager;
  MpkProxy *queue, *list, *dict;
  guint objects_before;

  TEST_BEGIN ("A reference taken out of a container that was its only holder (queue "
              "get, list pop, dict pop) still names a live object when it reaches the "
              "client: Python's test_nested_queue pattern with the item handed on; the "
              "objects are freed once the new proxies are dropped");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  queue = new_queue (manager, 0, FALSE);
  list = new_list (manager, NULL);
  dict = new_dict (manager, NULL);
  {
    g_autoptr(MpkProxy) a = new_list (manager, g_variant_new_parsed ("['queued']"));
    g_autoptr(MpkProxy) b = new_list (manager, g_variant_new_parsed ("['listed']"));
    g_autoptr(MpkProxy) c = new_list (manager, g_variant_new_parsed ("['keyed']"));
    g_autoptr(GVariant) ra = ref_of (a);
    g_autoptr(GVariant) rb = ref_of (b);
    g_autoptr(GVariant) rc = ref_of (c);

    ASSERT_OK (mpk_queue_proxy_put (queue, ra, MPK_NO_WAIT, &err_));
    ASSERT_OK (mpk_list_append (list, rb, &err_));
    ASSERT_OK (mpk_dict_set (dict, S ("k"), rc, &err_));
  }
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 6);

  ASSERT_TAKEN_REF_WORKS (manager, mpk_queue_proxy_get (queue, MPK_NO_WAIT, &err2_), "queued");
  ASSERT_TAKEN_REF_WORKS (manager, mpk_list_pop (list, -1, &err2_), "listed");
  ASSERT_TAKEN_REF_WORKS (manager, mpk_dict_pop (dict, S ("k"), &err2_), "keyed");
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 3);

  mpk_proxy_unref (queue);
  mpk_proxy_unref (list);
  mpk_proxy_unref (dict);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* --- 39: a registered type ------------------------------------------------------------------ */

/* The user type's own error domain: it must arrive as the same quark. */
#define FOO_ERROR (foo_error_quark ())
enum { FOO_ERROR_VALUE = 7 };

static GQuark
foo_error_quark (void)
{
  return g_quark_from_static_string ("mpk-test-foo-error-quark");
}

typedef struct
{
  int calls;
} Foo;

static gpointer
foo_create (GVariant  *args,
            GError   **error)
{
  return g_new0 (Foo, 1);
}

static GVariant *
foo_f (gpointer         self,
       GVariant        *args,
       MpkManagerCall  *call,
       GError         **error)
{
  ((Foo *) self)->calls++;
  return g_variant_new_string ("f()");
}

static GVariant *
foo_g (gpointer         self,
       GVariant        *args,
       MpkManagerCall  *call,
       GError         **error)
{
  g_set_error (error, FOO_ERROR, FOO_ERROR_VALUE, "g() fails on purpose");
  return NULL;
}

/* Python's baz(): a generator of i*i for i in range(10), as an iterator proxy. */
static GVariant *
foo_baz (gpointer         self,
         GVariant        *args,
         MpkManagerCall  *call,
         GError         **error)
{
  GVariantBuilder builder;
  int i;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (i = 0; i < 10; i++)
    g_variant_builder_add (&builder, "v", g_variant_new_int32 (i * i));
  /* The iterator's arguments are a tuple, like every create's: "(av)". */
  return mpk_manager_call_new_object (call, "iterator",
                                      g_variant_new ("(@av)", g_variant_builder_end (&builder)),
                                      error);
}

static const MpkManagerMethod foo_methods[] = {
  { "f", foo_f },
  { "g", foo_g },
  { "baz", foo_baz },
  { NULL, NULL },
};

static const MpkManagerType foo_type = { "Foo", foo_create, g_free, foo_methods };

static void
test_manager_mymanager (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *foo;
  guint objects_before;

  TEST_BEGIN ("CPython test_mymanager: a registered type exposes its method table "
              "only (f works, '_h' → REMOTE); g's GError arrives with the same domain "
              "quark, code and message; baz returns an iterator proxy yielding the "
              "squares; the server's exit code is 0");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &foo_type, &err_));
  ASSERT_OK (mpk_manager_start (manager, &err_));
  objects_before = stats_of (manager).objects;

  foo = mpk_manager_create (manager, "Foo", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (foo);
  g_assert_cmpstr (mpk_proxy_get_type_name (foo), ==, "Foo");

  ASSERT_GOT (mpk_proxy_call (foo, "f", NULL, &err_), "'f()'");
  ASSERT_GOT (mpk_proxy_call (foo, "f", g_variant_new ("()"), &err_), "'f()'");

  {
    g_autoptr(GVariant) got = mpk_proxy_call (foo, "g", NULL, &error);

    g_assert_null (got);
    g_assert_error (error, FOO_ERROR, FOO_ERROR_VALUE);
    g_assert_cmpstr (error->message, ==, "g() fails on purpose");
    g_clear_error (&error);
  }
  ASSERT_NO_VARIANT (mpk_proxy_call (foo, "_h", NULL, &err_), MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (foo, "append", NULL, &err_), MPK_ERROR_REMOTE);

  {
    g_autoptr(GVariant) ref = mpk_proxy_call (foo, "baz", NULL, &error);
    g_autoptr(MpkProxy) it = NULL;
    g_autofree char *squares = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (ref);
    g_assert_true (mpk_proxy_is_reference (ref));
    it = mpk_proxy_from_value (manager, ref, &error);
    g_assert_no_error (error);
    g_assert_nonnull (it);
    g_assert_cmpstr (mpk_proxy_get_type_name (it), ==, "iterator");
    squares = drain_iterator (it, FALSE);
    g_assert_cmpstr (squares, ==, "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]");
  }

  ASSERT_NO_PROXY (mpk_manager_create (manager, "Bar", NULL, &err_), MPK_ERROR_REMOTE);

  mpk_proxy_unref (foo);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* --- 40: a remote manager --------------------------------------------------------------------- */

/* CPython's values: 'hello world', None, True, 2.25, two unicode strings, bytes. */
static GVariant *
remote_values (void)
{
  static const guint8 bytes[] = { 'h', 'a', 'l', 'l', 0xe5, ' ', 'v', 0xe4, 'r', 'l', 'd', 'e', 'n' };

  return av_of (S ("hello world"),
                g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL),
                g_variant_new_boolean (TRUE),
                g_variant_new_double (2.25),
                S ("hall\u00e5 v\u00e4rlden"),
                S ("\u043f\u0440\u0438\u0432\u0456\u0442 \u0441\u0432\u0456\u0442"),
                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, sizeof bytes, 1),
                NULL);
}

/* Does not touch the inherited manager: connects by address and key. */
static int
remote_putter_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  MpkManager *remote;
  MpkProxy *queue;

  child_guard ();
  remote = mpk_manager_connect (args->address, args->authkey, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (remote != NULL);
  queue = mpk_manager_lookup (remote, "queue", &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (queue != NULL);
  MPK_CHILD_CHECK (mpk_queue_proxy_put (queue, remote_values (), CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (mpk_queue_proxy_put (queue, S ("hello world"), CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  mpk_proxy_unref (queue);
  mpk_manager_free (remote);
  return 0;
}

static void
test_manager_remote (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) expected = g_variant_ref_sink (remote_values ());
  g_autofree char *expected_text = g_variant_print (expected, TRUE);
  ChildArgs args = { 0 };
  MpkManager *manager, *remote;
  MpkProxy *queue, *remote_queue;
  MpkProcess *child;
  const char *address;

  TEST_BEGIN ("CPython test_remote: a manager on tcp:127.0.0.1:0 with a random 32-byte "
              "key; a child that connect()s by address and key and looks up the "
              "published queue puts CPython's values (unicode strings, bytes, None, "
              "True, 2.25); a second connected handle gets them unchanged");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  address = mpk_manager_get_address (manager);
  g_assert_true (g_str_has_prefix (address, "tcp:127.0.0.1:"));
  g_assert_cmpstr (address, !=, "tcp:127.0.0.1:0");
  g_assert_true (g_bytes_equal (mpk_manager_get_authkey (manager), key));

  queue = new_queue (manager, 0, FALSE);
  ASSERT_OK (mpk_manager_publish (manager, "queue", queue, &err_));

  args.address = address;
  args.authkey = key;
  child = mpk_test_start (remote_putter_child, &args);

  remote = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (remote);
  remote_queue = mpk_manager_lookup (remote, "queue", &error);
  g_assert_no_error (error);
  g_assert_nonnull (remote_queue);
  ASSERT_GOT (mpk_queue_proxy_get (remote_queue, CHILD_TIMEOUT_US, &err_), expected_text);
  ASSERT_GOT (mpk_queue_proxy_get (queue, CHILD_TIMEOUT_US, &err_), "'hello world'");
  join_child (child, 0);

  mpk_proxy_unref (remote_queue);
  mpk_manager_free (remote);
  mpk_proxy_unref (queue);
  shutdown_clean (manager);
}

/* --- 41: rapid restart -------------------------------------------------------------------------- */

static void
test_manager_restart (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autofree char *address = NULL;
  MpkManager *manager;
  MpkProxy *queue;

  TEST_BEGIN ("CPython test_rapid_restart: after a shutdown a new manager binds the "
              "same tcp address (one retry allowed) and serves");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  address = g_strdup (mpk_manager_get_address (manager));
  queue = new_queue (manager, 0, FALSE);
  ASSERT_OK (mpk_queue_proxy_put (queue, S ("hello world"), CHILD_TIMEOUT_US, &err_));
  ASSERT_GOT (mpk_queue_proxy_get (queue, CHILD_TIMEOUT_US, &err_), "'hello world'");
  mpk_proxy_unref (queue);
  shutdown_clean (manager);

  manager = start_manager_retry_once (address, key);
  g_assert_cmpstr (mpk_manager_get_address (manager), ==, address);
  queue = new_queue (manager, 0, FALSE);
  ASSERT_OK (mpk_queue_proxy_put (queue, S ("again"), CHILD_TIMEOUT_US, &err_));
  ASSERT_GOT (mpk_queue_proxy_get (queue, CHILD_TIMEOUT_US, &err_), "'again'");
  mpk_proxy_unref (queue);
  shutdown_clean (manager);
}

/* --- 42: queues seen from a child ---------------------------------------------------------------- */

static int
queue_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  gboolean b;

  child_guard ();
  MPK_CHILD_CHECK (mpk_queue_proxy_qsize (args->queue, &error) == 2);
  MPK_CHILD_NO_ERROR (error);
  b = mpk_queue_proxy_full (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (b);
  b = mpk_queue_proxy_empty (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (!b);
  CHILD_EXPECT_VALUE (mpk_queue_proxy_get (args->queue, CHILD_TIMEOUT_US, &error), error, "5");
  b = mpk_queue_proxy_empty (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (!b);
  CHILD_EXPECT_VALUE (mpk_queue_proxy_get (args->queue, CHILD_TIMEOUT_US, &error), error, "6");
  b = mpk_queue_proxy_empty (args->queue, &error);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (b);
  if (args->index == 1)   /* joinable */
    {
      MPK_CHILD_CHECK (mpk_queue_proxy_task_done (args->queue, &error));
      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (mpk_queue_proxy_task_done (args->queue, &error));
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

static void
test_manager_queue (gconstpointer data)
{
  gboolean joinable = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;

  TEST_BEGIN ("CPython TestSyncManagerTypes.test_queue / test_joinable_queue: Queue(2) "
              "with 5 and 6 put; a put on the full queue fails FULL; the child sees "
              "qsize 2, full, get 5, get 6, empty, exits 0; the parent then sees empty, "
              "not full; a joinable queue's join() times out while tasks are open, "
              "returns after the child's two task_done()s, and a third task_done fails");
  manager = new_started ();
  args.manager = manager;
  args.queue = new_queue (manager, 2, joinable);
  args.index = joinable ? 1 : 0;
  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (5), CHILD_TIMEOUT_US, &err_));
  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (6), CHILD_TIMEOUT_US, &err_));
  ASSERT_FAILS (mpk_queue_proxy_put (args.queue, I32 (7), MPK_NO_WAIT, &err_), MPK_ERROR_FULL);
  if (joinable)
    ASSERT_FAILS (mpk_queue_proxy_join (args.queue, MPK_NO_WAIT, &err_), MPK_ERROR_TIMED_OUT);

  join_child (mpk_test_start (queue_child, &args), 0);

  ASSERT_OK (mpk_queue_proxy_empty (args.queue, &err_));
  {
    GError *err_ = NULL;

    g_assert_false (mpk_queue_proxy_full (args.queue, &err_));
    g_assert_no_error (err_);
  }
  ASSERT_NUMBER (mpk_queue_proxy_qsize (args.queue, &err_), 0);
  if (joinable)
    {
      ASSERT_OK (mpk_queue_proxy_join (args.queue, CHILD_TIMEOUT_US, &err_));
      /* Python: ValueError "task_done() called too many times"; the contract
       * names no code, so either of the two that fit is accepted. */
      g_assert_false (mpk_queue_proxy_task_done (args.queue, &error));
      g_assert_nonnull (error);
      if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_TOO_MANY_TASK_DONE))
        g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_clear_error (&error);
    }
  mpk_proxy_unref (args.queue);
  shutdown_clean (manager);
}

/* --- 43: value and lock ---------------------------------------------------------------------------- */

static int
value_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  CHILD_EXPECT_VALUE (mpk_value_proxy_get (args->value, &error), error, "1");
  MPK_CHILD_CHECK (mpk_value_proxy_set (args->value, I32 (2), &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_manager_value (void)
{
  ChildArgs args = { 0 };
  MpkManager *manager;

  TEST_BEGIN ("CPython TestSyncManagerTypes.test_value: Value(1); the child sees 1 and "
              "sets 2; the parent sees 2");
  manager = new_started ();
  args.value = new_value (manager, I32 (1));
  join_child (mpk_test_start (value_child, &args), 0);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &err_), "2");
  mpk_proxy_unref (args.value);
  shutdown_clean (manager);
}

static int
lock_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_lock_proxy_acquire (args->lock, CHILD_TIMEOUT_US, &error));
  MPK_CHILD_NO_ERROR (error);
  return 0;
}

static void
test_manager_lock (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;

  TEST_BEGIN ("CPython TestSyncManagerTypes.test_lock: the child acquires the lock and "
              "exits; it stays held (acquire NO_WAIT → TIMED_OUT); the parent's release "
              "succeeds; a second release fails INVALID");
  manager = new_started ();
  args.lock = mpk_manager_lock (manager, &error);
  g_assert_no_error (error);
  g_assert_nonnull (args.lock);
  join_child (mpk_test_start (lock_child, &args), 0);
  ASSERT_FAILS (mpk_lock_proxy_acquire (args.lock, MPK_NO_WAIT, &err_), MPK_ERROR_TIMED_OUT);
  ASSERT_OK (mpk_lock_proxy_release (args.lock, &err_));
  ASSERT_FAILS (mpk_lock_proxy_release (args.lock, &err_), MPK_ERROR_INVALID);
  ASSERT_OK (mpk_lock_proxy_acquire (args.lock, MPK_NO_WAIT, &err_));
  ASSERT_OK (mpk_lock_proxy_release (args.lock, &err_));
  mpk_proxy_unref (args.lock);
  shutdown_clean (manager);
}

/* --- 44: queue.Empty ----------------------------------------------------------------------------------- */

static void
test_manager_queue_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) got = NULL;
  MpkManager *manager;
  MpkProxy *queue;

  TEST_BEGIN ("CPython TestManagerExceptions.test_queue_get: get(NO_WAIT) on an empty "
              "queue fails EMPTY with the server's message; then the queue still works; "
              "get/put/acquire with a 0.1 s timeout fail EMPTY/FULL/TIMED_OUT");
  manager = new_started ();
  queue = new_queue (manager, 0, FALSE);
  got = mpk_queue_proxy_get (queue, MPK_NO_WAIT, &error);
  g_assert_null (got);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  g_test_message ("server's message: %s", error->message);
  g_clear_error (&error);
  ASSERT_OK (mpk_queue_proxy_put (queue, I32 (1), MPK_NO_WAIT, &err_));
  ASSERT_GOT (mpk_queue_proxy_get (queue, MPK_NO_WAIT, &err_), "1");

  /* A blocking call's own timeout runs out on the server: its own code
   * (EMPTY, FULL, TIMED_OUT for a lock), not the round trip's. */
  ASSERT_NO_VARIANT (mpk_queue_proxy_get (queue, 100 * 1000, &err_), MPK_ERROR_EMPTY);
  mpk_proxy_unref (queue);
  queue = new_queue (manager, 1, FALSE);
  ASSERT_OK (mpk_queue_proxy_put (queue, I32 (1), MPK_NO_WAIT, &err_));
  ASSERT_FAILS (mpk_queue_proxy_put (queue, I32 (2), MPK_NO_WAIT, &err_), MPK_ERROR_FULL);
  ASSERT_FAILS (mpk_queue_proxy_put (queue, I32 (2), 100 * 1000, &err_), MPK_ERROR_FULL);
  mpk_proxy_unref (queue);
  {
    g_autoptr(MpkProxy) lock = mpk_manager_lock (manager, &error);

    g_assert_no_error (error);
    ASSERT_OK (mpk_lock_proxy_acquire (lock, MPK_NO_WAIT, &err_));
    ASSERT_FAILS (mpk_lock_proxy_acquire (lock, MPK_NO_WAIT, &err_), MPK_ERROR_TIMED_OUT);
    ASSERT_FAILS (mpk_lock_proxy_acquire (lock, 100 * 1000, &err_), MPK_ERROR_TIMED_OUT);
    ASSERT_OK (mpk_lock_proxy_release (lock, &err_));
  }
  shutdown_clean (manager);
}

/* --- handles in children, names ------------------------------------------------------------------- */

/* Uses the inherited manager, then frees it: in a child that only drops
 * local state, the server keeps running. */
static int
free_inherited_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  MPK_CHILD_CHECK (mpk_list_append (args->list, S ("from the child"), &error));
  MPK_CHILD_NO_ERROR (error);
  mpk_proxy_unref (args->list);
  mpk_manager_free (args->manager);
  return 0;
}

static void
test_manager_free_in_child (void)
{
  ChildArgs args = { 0 };
  MpkManager *manager;
  GPid pid;

  TEST_BEGIN ("mpk_manager_free() in a forked child frees only local state: the server "
              "and the parent's proxies keep working; in the starting process it stops "
              "the server (the process is gone afterwards)");
  manager = new_started ();
  pid = mpk_manager_get_pid (manager);
  args.manager = manager;
  args.list = new_list (manager, NULL);
  join_child (mpk_test_start (free_inherited_child, &args), 0);
  ASSERT_GOT (mpk_list_get (args.list, 0, &err_), "'from the child'");
  ASSERT_NUMBER (mpk_list_len (args.list, &err_), 1);
  g_assert_cmpint (kill (pid, 0), ==, 0);
  mpk_proxy_unref (args.list);

  /* No explicit shutdown: free() stops and reaps the server. */
  mpk_manager_free (manager);
  g_assert_cmpint (kill (pid, 0), ==, -1);
  g_assert_cmpint (errno, ==, ESRCH);
}

static void
test_manager_publish (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *list, *found;
  guint objects_before;

  TEST_BEGIN ("publish/lookup: a published object outlives its creator's proxy (the "
              "server holds it while named); lookup gives a working proxy; an unknown "
              "name is KEY");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  list = new_list (manager, g_variant_new_parsed ("['kept']"));
  ASSERT_OK (mpk_manager_publish (manager, "shared-list", list, &err_));
  mpk_proxy_unref (list);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 1);

  found = mpk_manager_lookup (manager, "shared-list", &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_cmpstr (mpk_proxy_get_type_name (found), ==, "list");
  ASSERT_ITEMS (mpk_list_copy (found, &err_), "['kept']");
  ASSERT_OK (mpk_list_append (found, S ("more"), &err_));
  mpk_proxy_unref (found);

  found = mpk_manager_lookup (manager, "shared-list", &error);
  g_assert_no_error (error);
  ASSERT_ITEMS (mpk_list_copy (found, &err_), "['kept', 'more']");
  mpk_proxy_unref (found);
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "never-published", &err_), MPK_ERROR_KEY);
  shutdown_clean (manager);
}

/* --- gaps: authentication and addresses ------------------------------------------------------------- */

static void
test_manager_auth (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GBytes) wrong = random_key ();
  g_autoptr(GBytes) short_key = g_bytes_new_static ("short", 5);
  g_autoptr(GError) error = NULL;
  MpkManager *manager, *client;
  const char *address;
  guint clients_before;

  TEST_BEGIN ("M5: connect() with a wrong key (same length, and shorter) fails AUTH; "
              "the server counts the failures and still serves the right key");
  manager = start_manager (NULL, key);
  address = mpk_manager_get_address (manager);
  clients_before = stats_of (manager).clients;   /* the parent's own connection */

  client = mpk_manager_connect (address, wrong, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_AUTH);
  g_assert_null (client);
  g_clear_error (&error);
  client = mpk_manager_connect (address, short_key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_AUTH);
  g_assert_null (client);
  g_clear_error (&error);

  WAIT_FOR_STAT (manager, auth_failures, >=, 2);

  client = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  {
    g_autoptr(MpkProxy) list = new_list (client, NULL);

    ASSERT_OK (mpk_list_append (list, S ("ok"), &err_));
    ASSERT_NUMBER (mpk_list_len (list, &err_), 1);
  }
  mpk_manager_free (client);
  WAIT_FOR_STAT (manager, clients, ==, clients_before);   /* refused and freed: closed */
  shutdown_clean (manager);
}

/* A TCP port on 127.0.0.1 that is bound but not listening: a connect() to it
 * is refused for as long as the returned socket stays open. */
static int
bound_port (guint16 *port)
{
  struct sockaddr_in sin = { 0 };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

static void
test_manager_refused (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mpk-test-XXXXXX", NULL);
  g_autofree char *unix_address = g_strconcat ("unix:", dir, "/nobody.sock", NULL);
  g_autofree char *tcp_address = NULL;
  MpkManager *client;
  guint16 port;
  int fd;

  TEST_BEGIN ("M5: connect() where nothing listens fails REFUSED: a unix path that "
              "does not exist, a tcp port bound but not listening");
  client = mpk_manager_connect (unix_address, key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
  g_assert_null (client);
  g_clear_error (&error);

  fd = bound_port (&port);
  tcp_address = g_strdup_printf ("tcp:127.0.0.1:%u", port);
  client = mpk_manager_connect (tcp_address, key, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
  g_assert_null (client);
  g_clear_error (&error);
  close (fd);
  g_rmdir (dir);
}

/* join_child() with a longer allowance, for children whose work is thousands
 * of round trips (on a loaded two-CPU machine, or under valgrind, that can
 * take longer than the usual allowance); still well inside the watchdog. */
static void
join_busy_child (MpkProcess *process,
                 int         expected_exitcode)
{
  gboolean exited = mpk_process_join (process, 4 * CHILD_TIMEOUT_US);
  int exitcode;

  if (!exited)
    {
      g_printerr ("%s did not exit in time: killing it\n", mpk_process_get_name (process));
      mpk_process_kill (process, NULL);
      mpk_process_join (process, MPK_WAIT_FOREVER);
    }
  exitcode = mpk_process_get_exitcode (process);
  mpk_process_unref (process);
  g_assert_true (exited);
  g_assert_cmpint (exitcode, ==, expected_exitcode);
}

/* --- gaps: server-side add ---------------------------------------------------------------------------- */

static int
adder_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  gint64 last = G_MININT64;
  int i;

  child_guard ();
  for (i = 0; i < ADDS_PER_CHILD; i++)
    {
      gint64 result = 0;

      MPK_CHILD_CHECK (mpk_value_proxy_add (args->value, 1, &result, &error));
      MPK_CHILD_NO_ERROR (error);
      MPK_CHILD_CHECK (result > last);   /* the adds this child saw happen in order */
      last = result;
    }
  return 0;
}

static void
test_manager_value_add (void)
{
  g_autoptr(GError) error = NULL;
  MpkProcess *children[N_ADDERS];
  ChildArgs args = { 0 };
  MpkManager *manager;
  gboolean swapped;
  gint64 result;
  int i;

  TEST_BEGIN ("M14: 8 processes × 2000 server-side adds of 1 make exactly 16000 (no "
              "update lost); compare_and_set swaps only on a match; add keeps the "
              "stored type (int32 stays int32) and fails on a non-integer");
  manager = new_started ();
  args.value = new_value (manager, I64 (0));
  for (i = 0; i < N_ADDERS; i++)
    children[i] = mpk_test_start (adder_child, &args);
  for (i = 0; i < N_ADDERS; i++)
    join_busy_child (children[i], 0);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &err_), "int64 16000");

  ASSERT_OK (mpk_value_proxy_compare_and_set (args.value, I64 (16000), I64 (-1), &swapped, &err_));
  g_assert_true (swapped);
  ASSERT_OK (mpk_value_proxy_compare_and_set (args.value, I64 (16000), I64 (5), &swapped, &err_));
  g_assert_false (swapped);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &err_), "int64 -1");
  ASSERT_OK (mpk_value_proxy_add (args.value, 10, &result, &err_));
  g_assert_cmpint (result, ==, 9);
  mpk_proxy_unref (args.value);

  args.value = new_value (manager, I32 (7));
  ASSERT_OK (mpk_value_proxy_add (args.value, 3, &result, &err_));
  g_assert_cmpint (result, ==, 10);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &err_), "10");
  mpk_proxy_unref (args.value);

  /* The contract names no code for "not an integer": any error will do. */
  args.value = new_value (manager, S ("text"));
  g_assert_false (mpk_value_proxy_add (args.value, 1, &result, &error));
  g_assert_nonnull (error);
  g_test_message ("add on a string value: %s (code %d)", error->message, error->code);
  g_clear_error (&error);
  ASSERT_GOT (mpk_value_proxy_get (args.value, &err_), "'text'");
  mpk_proxy_unref (args.value);
  shutdown_clean (manager);
}

/* --- gaps: many clients, one of them blocked ------------------------------------------------------------- */

/* Says "waiting", then blocks in get() until the parent puts 99. */
static int
blocked_getter_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  gint64 n;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  n = mpk_queue_proxy_qsize (args->queue, &error);   /* opens this process's connection */
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (n == 0);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  CHILD_EXPECT_VALUE (mpk_queue_proxy_get (args->queue, MPK_WAIT_FOREVER, &error), error, "99");
  return 0;
}

static int
appender_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  int i;

  child_guard ();
  for (i = 0; i < APPENDS; i++)
    {
      MPK_CHILD_CHECK (mpk_list_append (args->list, I32 (args->index), &error));
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

static void
test_manager_many_clients (void)
{
  MpkProcess *appenders[N_APPENDERS];
  ChildArgs *copies[N_APPENDERS];
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProcess *getter;
  int i;

  TEST_BEGIN ("Many clients at once: one child blocks in a queue get (WAIT_FOREVER) "
              "while four children and the parent append to a list (none is held up); "
              "then the parent puts 99 and the blocked child gets it");
  manager = new_started ();
  args.queue = new_queue (manager, 0, FALSE);
  args.list = new_list (manager, NULL);
  mpk_test_channel_init (&args.channel);
  getter = mpk_test_start (blocked_getter_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "waiting");

  /* The getter said "waiting" just before its get: it is (almost surely)
   * blocked in the server by now; if not, the test still passes. */
  for (i = 0; i < N_APPENDERS; i++)
    appenders[i] = start_child_indexed (appender_child, &args, i + 1, &copies[i]);
  for (i = 0; i < APPENDS; i++)
    ASSERT_OK (mpk_list_append (args.list, I32 (0), &err_));
  for (i = 0; i < N_APPENDERS; i++)
    {
      join_busy_child (appenders[i], 0);
      g_free (copies[i]);
    }
  ASSERT_NUMBER (mpk_list_len (args.list, &err_), (N_APPENDERS + 1) * APPENDS);
  for (i = 0; i <= N_APPENDERS; i++)
    ASSERT_NUMBER (mpk_list_count (args.list, I32 (i), &err_), APPENDS);
  g_assert_cmpuint (stats_of (manager).clients, >=, 2);   /* the parent and the getter */

  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (99), CHILD_TIMEOUT_US, &err_));
  join_child (getter, 0);
  ASSERT_NUMBER (mpk_queue_proxy_qsize (args.queue, &err_), 0);

  mpk_test_channel_clear (&args.channel);
  mpk_proxy_unref (args.list);
  mpk_proxy_unref (args.queue);
  shutdown_clean (manager);
}

/* --- gaps: errors ------------------------------------------------------------------------------------------- */

static void
test_manager_errors (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *l, *d, *empty, *n;

  TEST_BEGIN ("Python's IndexError / KeyError / RemoteError: an index out of range → "
              "INDEX, a missing key or name → KEY, an unknown method or type or wrong "
              "argument types → REMOTE, a non-basic dict key → INVALID; every message is "
              "non-empty; the proxies work afterwards");
  manager = new_started ();
  l = new_list (manager, g_variant_new_parsed ("[1, 2, 3]"));
  empty = new_list (manager, NULL);
  d = new_dict (manager, g_variant_new_parsed ("{'a': <1>}"));
  n = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);

  ASSERT_NO_VARIANT (mpk_list_get (l, 3, &err_), MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_get (l, -4, &err_), MPK_ERROR_INDEX);
  ASSERT_FAILS (mpk_list_set (l, 10, I32 (0), &err_), MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_pop (l, 5, &err_), MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_pop (empty, -1, &err_), MPK_ERROR_INDEX);
  ASSERT_NO_VARIANT (mpk_list_get (empty, 0, &err_), MPK_ERROR_INDEX);

  ASSERT_NO_VARIANT (mpk_dict_get (d, S ("b"), &err_), MPK_ERROR_KEY);
  ASSERT_NO_VARIANT (mpk_dict_pop (d, S ("b"), &err_), MPK_ERROR_KEY);
  ASSERT_NO_VARIANT (mpk_dict_get (d, I32 (1), &err_), MPK_ERROR_KEY);
  ASSERT_NO_VARIANT (mpk_namespace_get (n, "nobody", &err_), MPK_ERROR_KEY);
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "nothing-published", &err_), MPK_ERROR_KEY);

  ASSERT_FAILS (mpk_dict_set (d, g_variant_new_parsed ("[1, 2]"), I32 (0), &err_),
                MPK_ERROR_INVALID);

  ASSERT_NO_VARIANT (mpk_proxy_call (l, "no_such_method", NULL, &err_), MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (l, "get", g_variant_new ("(s)", "zero"), &err_),
                     MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (l, "append", g_variant_new ("(ii)", 1, 2), &err_),
                     MPK_ERROR_REMOTE);
  ASSERT_NO_VARIANT (mpk_proxy_call (d, "get", NULL, &err_), MPK_ERROR_REMOTE);
  ASSERT_NO_PROXY (mpk_manager_create (manager, "no_such_type", NULL, &err_), MPK_ERROR_REMOTE);

  ASSERT_ITEMS (mpk_list_copy (l, &err_), "[1, 2, 3]");
  ASSERT_GOT (mpk_dict_get (d, S ("a"), &err_), "1");

  mpk_proxy_unref (n);
  mpk_proxy_unref (d);
  mpk_proxy_unref (empty);
  mpk_proxy_unref (l);
  shutdown_clean (manager);
}

/* --- gaps: the manager dies ---------------------------------------------------------------------------------- */

/* Blocks in get(WAIT_FOREVER): the manager's death must end it with DISCONNECTED. */
static int
get_until_disconnected_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GVariant) got = NULL;
  GError *error = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (mpk_queue_proxy_qsize (args->queue, &error) == 0);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  got = mpk_queue_proxy_get (args->queue, MPK_WAIT_FOREVER, &error);
  MPK_CHILD_CHECK (got == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  return 0;
}

/* Connected before the kill, calls after it: DISCONNECTED; a fresh connect: REFUSED. */
static int
call_after_death_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  MpkManager *fresh;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (mpk_list_len (args->list, &error) == 1);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (child_say (&args->channel, "ready"));
  MPK_CHILD_CHECK (child_wait (&args->channel));
  mpk_list_len (args->list, &error);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  fresh = mpk_manager_connect (args->address, args->authkey, CHILD_TIMEOUT_US, &error);
  MPK_CHILD_CHECK (fresh == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_REFUSED);
  return 0;
}

static void
test_manager_manager_killed (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs getter_args = { 0 }, caller_args = { 0 };
  MpkProcess *getter, *caller;
  MpkManager *manager;
  GPid pid;

  TEST_BEGIN ("M17: the manager SIGKILLed: the parent's next call and a child's next "
              "call fail DISCONNECTED (not TIMED_OUT), a child blocked in get "
              "(WAIT_FOREVER) gets DISCONNECTED, a fresh connect() is REFUSED; "
              "shutdown() afterwards reports exit code -9");
  manager = new_started ();
  /* A client that missed the EOF would wait for this allowance and fail
   * TIMED_OUT; the children inherit it. */
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US / 2);
  g_assert_cmpint (mpk_manager_get_timeout (manager), ==, CHILD_TIMEOUT_US / 2);
  getter_args.manager = caller_args.manager = manager;
  getter_args.queue = new_queue (manager, 0, FALSE);
  caller_args.list = new_list (manager, g_variant_new_parsed ("[1]"));
  caller_args.address = mpk_manager_get_address (manager);
  caller_args.authkey = mpk_manager_get_authkey (manager);
  mpk_test_channel_init (&getter_args.channel);
  mpk_test_channel_init (&caller_args.channel);

  getter = mpk_test_start (get_until_disconnected_child, &getter_args);
  mpk_connection_close (getter_args.channel.child);
  caller = mpk_test_start (call_after_death_child, &caller_args);
  mpk_connection_close (caller_args.channel.child);
  parent_expect (&getter_args.channel, "waiting");
  parent_expect (&caller_args.channel, "ready");
  ASSERT_NUMBER (mpk_list_len (caller_args.list, &err_), 1);   /* the parent is connected too */

  pid = mpk_manager_get_pid (manager);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);

  ASSERT_NUMBER_FAILS (mpk_list_len (caller_args.list, &err_), MPK_ERROR_DISCONNECTED);
  /* The broken connection is gone now: the next call may find nobody listening. */
  mpk_list_len (caller_args.list, &error);
  g_assert_nonnull (error);
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_REFUSED))
    g_assert_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED);
  g_clear_error (&error);
  parent_say (&caller_args.channel, "dead");
  join_child (getter, 0);
  join_child (caller, 0);

  /* Shutting a dead server down only reaps it; whether that counts as success
   * is not in the contract, the exit code is. */
  mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error);
  g_clear_error (&error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, -SIGKILL);

  mpk_test_channel_clear (&getter_args.channel);
  mpk_test_channel_clear (&caller_args.channel);
  mpk_proxy_unref (getter_args.queue);
  mpk_proxy_unref (caller_args.list);
  mpk_manager_free (manager);
}

/* --- gaps: a client dies mid-request ------------------------------------------------------------------------- */

/* Blocks in get() for ever: the parent kills it there. */
static int
victim_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GVariant) got = NULL;
  GError *error = NULL;

  child_guard ();
  mpk_connection_close (args->channel.parent);
  MPK_CHILD_CHECK (mpk_queue_proxy_qsize (args->queue, &error) == 0);
  MPK_CHILD_NO_ERROR (error);
  MPK_CHILD_CHECK (child_say (&args->channel, "waiting"));
  got = mpk_queue_proxy_get (args->queue, MPK_WAIT_FOREVER, &error);
  return 1;   /* not reached: the parent kills it first */
}

static void
test_manager_client_killed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) left = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProcess *victim;
  guint clients_before;

  TEST_BEGIN ("A client SIGKILLed while blocked in a queue get does not hurt the "
              "server: the parent and a new child keep working, the open-connection "
              "count goes back down");
  manager = new_started ();
  args.queue = new_queue (manager, 0, FALSE);
  args.list = new_list (manager, NULL);
  clients_before = stats_of (manager).clients;   /* the parent's own connection */

  mpk_test_channel_init (&args.channel);
  victim = mpk_test_start (victim_child, &args);
  mpk_connection_close (args.channel.child);
  parent_expect (&args.channel, "waiting");
  g_assert_cmpuint (stats_of (manager).clients, >=, clients_before + 1);

  g_assert_true (mpk_process_kill (victim, NULL));
  g_assert_true (mpk_process_join (victim, CHILD_TIMEOUT_US));
  g_assert_cmpint (mpk_process_get_exitcode (victim), ==, -SIGKILL);
  mpk_process_unref (victim);

  ASSERT_OK (mpk_list_append (args.list, I32 (1), &err_));
  args.index = 2;
  join_child (mpk_test_start (appender_child, &args), 0);
  ASSERT_NUMBER (mpk_list_len (args.list, &err_), 1 + APPENDS);

  /* If the server's thread still waits in the dead client's get, this item
   * ends it; either way the count must come back down. */
  ASSERT_OK (mpk_queue_proxy_put (args.queue, I32 (42), CHILD_TIMEOUT_US, &err_));
  WAIT_FOR_STAT (manager, clients, ==, clients_before);
  left = mpk_queue_proxy_get (args.queue, MPK_NO_WAIT, &error);
  if (left != NULL)
    g_test_message ("observed: the item put after the waiter died stayed in the queue");
  else
    {
      g_assert_error (error, MPK_ERROR, MPK_ERROR_EMPTY);
      g_test_message ("observed: the item put after the waiter died was handed to the "
                      "dead client's get and is lost");
      g_clear_error (&error);
    }

  mpk_test_channel_clear (&args.channel);
  mpk_proxy_unref (args.list);
  mpk_proxy_unref (args.queue);
  shutdown_clean (manager);
}

/* --- gaps: stale handles ------------------------------------------------------------------------------------- */

/* @error must be STALE_HANDLE or DISCONNECTED; returns which. */
static gint
stale_or_disconnected (GError *error)
{
  g_assert_nonnull (error);
  if (!g_error_matches (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE))
    g_assert_error (error, MPK_ERROR, MPK_ERROR_DISCONNECTED);
  return error->code;
}

static void
test_manager_stale_handle (void)
{
  g_autoptr(GBytes) key = random_key ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) old_ref = NULL;
  g_autofree char *address = NULL;
  MpkManager *first, *second, *client;
  MpkProxy *list;
  gint first_code, second_code;

  TEST_BEGIN ("STALE_HANDLE: a proxy held across a restart of the manager on the same "
              "address fails STALE_HANDLE or DISCONNECTED (which one is logged); a "
              "reference from the old run given to the new one, and a reference to a "
              "freed object, fail STALE_HANDLE");
  first = start_manager ("tcp:127.0.0.1:0", key);
  address = g_strdup (mpk_manager_get_address (first));
  client = mpk_manager_connect (address, key, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  list = new_list (client, g_variant_new_parsed ("[1]"));
  ASSERT_NUMBER (mpk_list_len (list, &err_), 1);
  old_ref = ref_of (list);
  shutdown_clean (first);

  second = start_manager_retry_once (address, key);
  mpk_list_len (list, &error);
  first_code = stale_or_disconnected (error);
  g_clear_error (&error);
  mpk_list_len (list, &error);
  second_code = stale_or_disconnected (error);
  g_clear_error (&error);
  g_test_message ("observed: a proxy across a restart fails %s, then %s",
                  first_code == MPK_ERROR_STALE_HANDLE ? "STALE_HANDLE" : "DISCONNECTED",
                  second_code == MPK_ERROR_STALE_HANDLE ? "STALE_HANDLE" : "DISCONNECTED");
  mpk_proxy_unref (list);
  mpk_manager_free (client);

  /* The old run's reference, given to the new run: from_value or the first call refuses it. */
  {
    g_autoptr(MpkProxy) p = mpk_proxy_from_value (second, old_ref, &error);

    if (p != NULL)
      {
        g_assert_no_error (error);
        ASSERT_NUMBER_FAILS (mpk_list_len (p, &err_), MPK_ERROR_STALE_HANDLE);
      }
    else
      {
        g_assert_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE);
        g_clear_error (&error);
      }
  }
  /* ... and storing it in a container is refused too. */
  {
    g_autoptr(MpkProxy) holder = new_list (second, NULL);

    ASSERT_FAILS (mpk_list_append (holder, old_ref, &err_), MPK_ERROR_STALE_HANDLE);
  }

  /* A freed object: nothing holds the list once its only proxy is dropped. */
  {
    g_autoptr(MpkProxy) gone = new_list (second, NULL);
    g_autoptr(GVariant) gone_ref = ref_of (gone);
    g_autoptr(MpkProxy) p = NULL;

    g_clear_pointer (&gone, mpk_proxy_unref);
    p = mpk_proxy_from_value (second, gone_ref, &error);
    if (p != NULL)
      {
        g_assert_no_error (error);
        ASSERT_NUMBER_FAILS (mpk_list_len (p, &err_), MPK_ERROR_STALE_HANDLE);
      }
    else
      {
        g_assert_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE);
        g_clear_error (&error);
      }
  }
  shutdown_clean (second);
}

/* --- gaps: threads ------------------------------------------------------------------------------------------- */

typedef struct
{
  MpkProxy *list;
  MpkProxy *value;
  MpkManager *manager;
  int index;
} ThreadArgs;

/* Returns the number of failed calls (each is printed). */
static gpointer
proxy_thread (gpointer data)
{
  ThreadArgs *args = data;
  guint failures = 0;
  int i;

  for (i = 0; i < THREAD_CALLS; i++)
    {
      GError *error = NULL;
      gint64 result = 0;
      MpkProxy *mine;

      if (!mpk_list_append (args->list, I32 (args->index), &error)
          || !mpk_value_proxy_add (args->value, 1, &result, &error)
          || mpk_list_len (args->list, &error) < 1
          || (mine = mpk_manager_list (args->manager, NULL, &error)) == NULL)
        {
          g_autofree char *text = error_text (error);

          g_printerr ("thread %d, call %d: %s\n", args->index, i, text);
          g_clear_error (&error);
          failures++;
          continue;
        }
      mpk_proxy_unref (mine);
    }
  return GUINT_TO_POINTER (failures);
}

static void
test_manager_threads (void)
{
  GThread *threads[N_THREADS];
  ThreadArgs args[N_THREADS];
  MpkManager *manager;
  MpkProxy *list, *value;
  guint objects_before;
  int i;

  TEST_BEGIN ("M17: 4 threads of one process use the same proxies at once (append, "
              "add, len, create and drop a list): no call fails, every append and add "
              "counts, no object leaks");
  manager = new_started ();
  list = new_list (manager, NULL);
  value = new_value (manager, I64 (0));
  objects_before = stats_of (manager).objects;
  for (i = 0; i < N_THREADS; i++)
    {
      args[i] = (ThreadArgs) { list, value, manager, i };
      threads[i] = g_thread_new ("proxy-user", proxy_thread, &args[i]);
    }
  for (i = 0; i < N_THREADS; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_thread_join (threads[i])), ==, 0);

  ASSERT_NUMBER (mpk_list_len (list, &err_), N_THREADS * THREAD_CALLS);
  for (i = 0; i < N_THREADS; i++)
    ASSERT_NUMBER (mpk_list_count (list, I32 (i), &err_), THREAD_CALLS);
  ASSERT_GOT (mpk_value_proxy_get (value, &err_), "int64 1000");
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  mpk_proxy_unref (list);
  mpk_proxy_unref (value);
  shutdown_clean (manager);
}

/* --- raw protocol abuse ------------------------------------------------------------------------------------------ */

static int
open_raw (MpkManager *manager,
          gboolean    authenticate)
{
  g_autoptr(GError) error = NULL;
  int fd = mpk__manager_open_raw_for_testing (manager, authenticate, &error);

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

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

/* The server still serves a normal client, and a new connection authenticates. */
static void
assert_still_serving (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkProxy) list = new_list (manager, NULL);
  MpkManager *client;

  ASSERT_OK (mpk_list_append (list, S ("still here"), &err_));
  ASSERT_GOT (mpk_list_get (list, 0, &err_), "'still here'");
  client = mpk_manager_connect (mpk_manager_get_address (manager),
                                mpk_manager_get_authkey (manager), CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  {
    g_autoptr(MpkProxy) other = new_list (client, NULL);

    ASSERT_NUMBER (mpk_list_len (other, &err_), 0);
  }
  mpk_manager_free (client);
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

  TEST_BEGIN ("Before authentication, 10 KiB (a well-formed 40-byte frame header "
              "claiming 10240 bytes and the bytes, or plain random junk) makes the "
              "server close the connection and count an auth failure; it serves normal "
              "clients afterwards");
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

  TEST_BEGIN ("After authentication, 4 KiB of random bytes: the server answers with an "
              "error or closes the connection, counts a bad request, and serves normal "
              "clients afterwards");
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

  TEST_BEGIN ("After authentication, well-formed frames of the wrong shape (\"(ss)\", a "
              "string, a short or long tuple, an unknown object, an empty method): each "
              "gets an error reply or a close; the server counts bad requests and serves "
              "normal clients afterwards");
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


/* --- regressions: the review's bugs (fixed in 927e9a0) -------------------------------------------- */

/* A raw connection, authenticated, speaking requests "(ttxsv)". */
static MpkConnection *
raw_connection (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  MpkConnection *conn = mpk_connection_new_from_fd (open_raw (manager, TRUE), TRUE, TRUE, &error);

  g_assert_no_error (error);
  g_assert_nonnull (conn);
  return conn;
}

/* One request on @conn (no wait): (transfer full) the reply's payload, or
 * NULL with the server's error in @error. */
static GVariant *
raw_request (MpkConnection *conn,
             guint64        generation,
             guint64        id,
             const char    *method,
             GVariant      *args,
             GError       **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *payload = NULL;
  gboolean ok = FALSE;

  g_assert_true (mpk_connection_send (conn,
                                      g_variant_new ("(ttxsv)", generation, id, (gint64) 0,
                                                     method, args != NULL ? args : g_variant_new ("()")),
                                      CHILD_TIMEOUT_US, &local));
  g_assert_no_error (local);
  reply = mpk_connection_recv (conn, CHILD_TIMEOUT_US, &local);
  g_assert_no_error (local);
  g_assert_nonnull (reply);
  g_assert_cmpstr (g_variant_get_type_string (reply), ==, "(bv)");
  g_variant_get (reply, "(bv)", &ok, &payload);
  if (ok)
    return payload;
  mpk__manager_error_from_variant (payload, error);
  g_variant_unref (payload);
  g_assert (error == NULL || *error != NULL);
  return NULL;
}

/* The generation and id the reference to @proxy carries. */
static void
proxy_ids (MpkProxy *proxy,
           guint64  *generation,
           guint64  *id)
{
  g_autoptr(GVariant) ref = ref_of (proxy);

  g_assert_true (mpk__manager_ref_parse (ref, generation, id));
}

/* Waits (bounded) until the process @pid is dead: gone, or a zombie nobody reaped yet. */
static void
wait_until_dead (GPid pid)
{
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);

  for (;;)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      if (!g_file_get_contents (path, &stat, NULL, NULL)
          || (paren = strrchr (stat, ')')) == NULL
          || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X')
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (1000);
    }
}

/* A registered type for the regressions: create wants "(i)" and fails on
 * anything else; len() trusts @args to be a tuple, as the header promises. */
static gpointer
picky_create (GVariant  *args,
              GError   **error)
{
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(i)")))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "Picky wants (i), not %s",
                   g_variant_get_type_string (args));
      return NULL;
    }
  return g_new0 (int, 1);
}

static GVariant *
picky_len (gpointer         self,
           GVariant        *args,
           MpkManagerCall  *call,
           GError         **error)
{
  return g_variant_new_int64 ((gint64) g_variant_n_children (args));
}

static const MpkManagerMethod picky_methods[] = {
  { "len", picky_len },
  { NULL, NULL },
};

static const MpkManagerType picky_type = { "Picky", picky_create, g_free, picky_methods };
/* Another type under the same name. */
static const MpkManagerType picky_twin_type = { "Picky", foo_create, g_free, foo_methods };

static MpkManager *
start_with_picky (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager = mpk_manager_new (NULL, NULL, &error);

  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &picky_type, &err_));
  ASSERT_OK (mpk_manager_start (manager, &err_));
  return manager;
}

/* Review bug 1: the last reference of an object went while a method on it
 * waited (a queue get): the server freed the object inside the call and
 * then read it, and crashed. */
static int
get_on_dropped_queue_child (gpointer data)
{
  ChildArgs *args = data;
  g_autoptr(GVariant) got = NULL;
  GError *error = NULL;

  child_guard ();
  got = mpk_queue_proxy_get (args->queue, G_USEC_PER_SEC, &error);
  MPK_CHILD_CHECK (got == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_EMPTY);
  return 0;
}

static void
test_regress_call_outlives_last_ref (void)
{
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProcess *child;
  guint objects_before;
  guint64 calls_before;
  gint64 end;
  guint polls;

  TEST_BEGIN ("Review bug 1 (use-after-free): a child blocks in get (1 s) on its "
              "borrowed queue proxy while the parent drops the last reference: the get "
              "ends EMPTY, the queue is freed afterwards, the server keeps serving and "
              "exits 0");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  args.queue = new_queue (manager, 0, FALSE);
  calls_before = stats_of (manager).calls;   /* counts this stats call too */
  child = mpk_test_start (get_on_dropped_queue_child, &args);

  /* The child's get is the only call besides our own polls: once counted,
   * it is waiting in the server (the count and the method share the lock). */
  end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  for (polls = 1;; polls++)
    {
      if (stats_of (manager).calls > calls_before + polls)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (1000);
    }
  mpk_proxy_unref (args.queue);
  args.queue = NULL;

  join_child (child, 0);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

/* Review bug 2: a reference as a dict key was dropped when the entry was
 * replaced or removed but never counted, so the list it named was freed
 * under its owner. Keys may not be references now. */
static void
test_regress_dict_ref_key (void)
{
  MpkManager *manager;
  MpkProxy *list, *dict;
  g_autoptr(GVariant) ref = NULL;
  guint objects_before;

  TEST_BEGIN ("Review bug 2: a proxy reference as a dict key (set twice, setdefault, "
              "update) is refused with INVALID; the list it names stays alive and the "
              "dict stays empty; a reference as a value still works");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  list = new_list (manager, g_variant_new_parsed ("['kept']"));
  dict = new_dict (manager, NULL);
  ref = ref_of (list);

  ASSERT_FAILS (mpk_dict_set (dict, ref, I32 (1), &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_dict_set (dict, ref, I32 (2), &err_), MPK_ERROR_INVALID);
  ASSERT_NO_VARIANT (mpk_dict_setdefault (dict, ref, I32 (3), &err_), MPK_ERROR_INVALID);
  {
    GVariantBuilder builder;

    g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ov}"));
    g_variant_builder_add (&builder, "{@ov}", ref, I32 (4));
    ASSERT_FAILS (mpk_dict_update (dict, g_variant_builder_end (&builder), &err_),
                  MPK_ERROR_INVALID);
  }
  ASSERT_ITEMS (mpk_list_copy (list, &err_), "['kept']");
  ASSERT_NUMBER (mpk_dict_len (dict, &err_), 0);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 2);

  ASSERT_OK (mpk_dict_set (dict, S ("k"), ref, &err_));
  ASSERT_OK (mpk_dict_set (dict, S ("k"), I32 (0), &err_));
  ASSERT_NUMBER (mpk_list_len (list, &err_), 1);

  mpk_proxy_unref (dict);
  mpk_proxy_unref (list);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 2, at create (the reviewer's t1.c part 2): a dict made from
 * items whose values hold a reference and whose later key is refused. The
 * failed create must leave every count as it was. */
static void
test_regress_dict_create_ref_key (void)
{
  g_autoptr(GVariant) key_ref = NULL;
  g_autoptr(GVariant) value_ref = NULL;
  GVariantBuilder builder;
  MpkManager *manager;
  MpkProxy *keyed, *valued;
  guint objects_before;

  TEST_BEGIN ("Review bug 2 at create: dict items {'/plain': <ref B>, ref A: <1>} are "
              "refused with INVALID (a reference key), and both lists A and B stay "
              "alive: the failed create drops nothing it did not hold");
  manager = new_started ();
  objects_before = stats_of (manager).objects;
  keyed = new_list (manager, g_variant_new_parsed ("['key']"));
  valued = new_list (manager, g_variant_new_parsed ("['value']"));
  key_ref = ref_of (keyed);
  value_ref = ref_of (valued);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ov}"));
  g_variant_builder_add (&builder, "{o@v}", "/plain", g_variant_new_variant (value_ref));
  g_variant_builder_add (&builder, "{@ov}", key_ref, I32 (1));
  ASSERT_NO_PROXY (mpk_manager_dict (manager, g_variant_builder_end (&builder), &err_),
                   MPK_ERROR_INVALID);

  ASSERT_ITEMS (mpk_list_copy (keyed, &err_), "['key']");
  ASSERT_ITEMS (mpk_list_copy (valued, &err_), "['value']");
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 2);
  mpk_proxy_unref (keyed);
  mpk_proxy_unref (valued);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 3: a registered type's create failing with arguments that hold
 * a reference dropped a count the server never took (user types' arguments
 * are not counted), freeing the list under its owner. */
static void
test_regress_user_create_fails (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = NULL;
  MpkManager *manager;
  MpkProxy *list;
  guint objects_before;

  TEST_BEGIN ("Review bug 3: a registered type whose create fails, given arguments "
              "holding a reference ((o) and (av)), reports its error and leaves the "
              "referenced list alive");
  manager = start_with_picky ();
  objects_before = stats_of (manager).objects;
  list = new_list (manager, g_variant_new_parsed ("['kept']"));
  ref = ref_of (list);

  {
    g_autoptr(MpkProxy) bad = mpk_manager_create (manager, "Picky",
                                                  g_variant_new ("(@o)", ref), &error);

    g_assert_null (bad);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_clear_error (&error);
  }
  ASSERT_ITEMS (mpk_list_copy (list, &err_), "['kept']");
  {
    g_autoptr(MpkProxy) bad = mpk_manager_create (manager, "Picky",
                                                  g_variant_new ("(@av)", av_of (ref, NULL)),
                                                  &error);

    g_assert_null (bad);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
    g_clear_error (&error);
  }
  ASSERT_ITEMS (mpk_list_copy (list, &err_), "['kept']");
  ASSERT_OK (mpk_list_append (list, S ("more"), &err_));
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before + 1);
  mpk_proxy_unref (list);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 4: list repeat looped (times - 1) × len under the server's lock
 * (an empty list × G_MAXINT64 for ever) and its size check overflowed
 * (4 items × 2^62), so the server hung. */
static void
test_regress_list_repeat_huge (void)
{
  MpkManager *manager;
  MpkProxy *empty, *four, *one;

  TEST_BEGIN ("Review bug 4: repeat(G_MAXINT64) of an empty list succeeds and leaves it "
              "empty; 4 items × 2^62 and 1 item × 2^31 are INVALID and leave the lists "
              "as they were; each returns at once and the server keeps serving");
  manager = new_started ();
  /* A server stuck in the loop fails the call TIMED_OUT instead of hanging the test. */
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US / 2);
  empty = new_list (manager, NULL);
  four = new_list (manager, g_variant_new_parsed ("[0, 1, 2, 3]"));
  one = new_list (manager, g_variant_new_parsed ("['x']"));

  ASSERT_OK (mpk_list_repeat (empty, G_MAXINT64, &err_));
  ASSERT_NUMBER (mpk_list_len (empty, &err_), 0);
  ASSERT_FAILS (mpk_list_repeat (four, (gint64) 1 << 62, &err_), MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_list_copy (four, &err_), "[0, 1, 2, 3]");
  ASSERT_FAILS (mpk_list_repeat (one, (gint64) 1 << 31, &err_), MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_list_copy (one, &err_), "['x']");
  /* Ordinary repeats still work. */
  ASSERT_OK (mpk_list_repeat (four, 2, &err_));
  ASSERT_ITEMS (mpk_list_copy (four, &err_), "[0, 1, 2, 3, 0, 1, 2, 3]");
  ASSERT_OK (mpk_list_repeat (one, 0, &err_));
  ASSERT_NUMBER (mpk_list_len (one, &err_), 0);

  assert_still_serving (manager);
  mpk_proxy_unref (empty);
  mpk_proxy_unref (four);
  mpk_proxy_unref (one);
  shutdown_clean (manager);
}

/* Review bug 5: an iterator made by a client with a "source" (avtx) naming
 * a list or a user object: next() called the source's len() with NULL
 * arguments, and the server crashed. */
static void
test_regress_iterator_foreign_source (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *list, *picky;
  guint64 ids[2], generation;
  gsize i;

  TEST_BEGIN ("Review bug 5: an iterator a client makes with create (\"(avtx)\") whose "
              "source id is a list or a user object: next() may give an item or an "
              "error, but the server keeps serving and exits 0");
  manager = start_with_picky ();
  list = new_list (manager, NULL);
  picky = mpk_manager_create (manager, "Picky", g_variant_new ("(i)", 1), &error);
  g_assert_no_error (error);
  g_assert_nonnull (picky);
  proxy_ids (list, &generation, &ids[0]);
  proxy_ids (picky, &generation, &ids[1]);

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(MpkProxy) it = NULL;
      g_autoptr(GVariant) item = NULL;
      gboolean more;

      it = mpk_manager_create (manager, "iterator",
                               g_variant_new ("(@avtx)", av_of (I32 (1), NULL), ids[i],
                                              (gint64) 0),
                               &error);
      if (it == NULL)
        {
          g_assert_nonnull (error);
          g_test_message ("observed: iterator over object %" G_GUINT64_FORMAT
                          " refused at create: %s", ids[i], error->message);
          g_clear_error (&error);
          continue;
        }
      more = mpk_iterator_next (it, &item, &error);
      g_test_message ("observed: next() of an iterator over object %" G_GUINT64_FORMAT
                      ": %s%s%s", ids[i], more ? "an item" : "no item",
                      error != NULL ? ", " : "", error != NULL ? error->message : "");
      if (error != NULL)
        g_assert_false (g_error_matches (error, MPK_ERROR, MPK_ERROR_DISCONNECTED));
      g_clear_error (&error);
      assert_still_serving (manager);
    }
  ASSERT_NUMBER (mpk_list_len (list, &err_), 0);
  ASSERT_GOT (mpk_proxy_call (picky, "len", NULL, &err_), "int64 0");
  mpk_proxy_unref (list);
  mpk_proxy_unref (picky);
  shutdown_clean (manager);
}

/* Review bug 6: an object a user method made with
 * mpk_manager_call_new_object() had no count, so the first method called on
 * it before anyone claimed it (took a proxy) freed it. */
static void
test_regress_new_object_used_unclaimed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkConnection) conn = NULL;
  g_autoptr(GVariant) ref = NULL;
  MpkManager *manager;
  MpkProxy *foo;
  guint64 generation, foo_id, it_generation, it_id;
  guint objects_before;
  int i;

  TEST_BEGIN ("Review bug 6: the iterator Foo.baz() makes (call_new_object) survives "
              "next() called on its bare reference before any proxy claims it: two raw "
              "next() calls give 0 and 1, then a proxy from the reference gives the rest; "
              "freed once that proxy goes");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &foo_type, &err_));
  ASSERT_OK (mpk_manager_start (manager, &err_));
  objects_before = stats_of (manager).objects;
  foo = mpk_manager_create (manager, "Foo", NULL, &error);
  g_assert_no_error (error);
  proxy_ids (foo, &generation, &foo_id);

  conn = raw_connection (manager);
  ref = raw_request (conn, generation, foo_id, "baz", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_assert_true (mpk__manager_ref_parse (ref, &it_generation, &it_id));
  g_assert_cmpuint (it_generation, ==, generation);
  for (i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) step = raw_request (conn, generation, it_id, "next", NULL, &error);
      g_autofree char *text = NULL;
      g_autofree char *expected = g_strdup_printf ("(true, <%d>)", i * i);

      g_assert_no_error (error);
      g_assert_nonnull (step);
      text = g_variant_print (step, TRUE);
      g_assert_cmpstr (text, ==, expected);
    }
  {
    g_autoptr(MpkProxy) it = mpk_proxy_from_value (manager, ref, &error);
    g_autofree char *rest = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (it);
    rest = drain_iterator (it, FALSE);
    g_assert_cmpstr (rest, ==, "[4, 9, 16, 25, 36, 49, 64, 81]");
  }
  mpk_proxy_unref (foo);
  g_assert_cmpuint (stats_of (manager).objects, ==, objects_before);
  shutdown_clean (manager);
}

/* Review bug 7: value add's overflow check itself overflowed (lo - delta
 * with delta = G_MININT64), so 5 + G_MININT64 "fitted" in a byte. */
static void
test_regress_value_add_overflow (void)
{
  MpkManager *manager;
  MpkProxy *byte, *big, *small;
  gint64 result = 0;

  TEST_BEGIN ("Review bug 7: add() that does not fit is INVALID and changes nothing: "
              "byte 5 + G_MININT64, byte 5 - 6, int64 G_MAXINT64 + 1, int64 G_MININT64 - 1 "
              "and + G_MININT64; adds that fit still work");
  manager = new_started ();
  byte = new_value (manager, g_variant_new_byte (5));
  big = new_value (manager, I64 (G_MAXINT64));
  small = new_value (manager, I64 (G_MININT64));

  ASSERT_FAILS (mpk_value_proxy_add (byte, G_MININT64, &result, &err_), MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (byte, &err_), "byte 0x05");
  ASSERT_FAILS (mpk_value_proxy_add (byte, -6, &result, &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_proxy_add (byte, G_MAXINT64, &result, &err_), MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (byte, &err_), "byte 0x05");
  ASSERT_OK (mpk_value_proxy_add (byte, 250, &result, &err_));
  g_assert_cmpint (result, ==, 255);

  ASSERT_FAILS (mpk_value_proxy_add (big, 1, &result, &err_), MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (big, &err_), "int64 9223372036854775807");
  ASSERT_FAILS (mpk_value_proxy_add (small, -1, &result, &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_value_proxy_add (small, G_MININT64, &result, &err_), MPK_ERROR_INVALID);
  ASSERT_GOT (mpk_value_proxy_get (small, &err_), "int64 -9223372036854775808");
  ASSERT_OK (mpk_value_proxy_add (small, G_MAXINT64, &result, &err_));
  g_assert_cmpint (result, ==, -1);

  mpk_proxy_unref (byte);
  mpk_proxy_unref (big);
  mpk_proxy_unref (small);
  shutdown_clean (manager);
}

/* Review bug 8: publish sent the object id alone, so a proxy of another run
 * (or another manager) published whatever object had that id here. */
static void
test_regress_publish_wrong_generation (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkConnection) conn = NULL;
  MpkManager *manager, *other;
  MpkProxy *list, *foreign;
  guint64 generation, id, foreign_generation, foreign_id;

  TEST_BEGIN ("Review bug 8: publish checks the generation: a raw publish (stt) with a "
              "wrong generation is STALE_HANDLE and publishes nothing, the right one "
              "works; publishing another manager's proxy is STALE_HANDLE");
  manager = new_started ();
  list = new_list (manager, g_variant_new_parsed ("['mine']"));
  proxy_ids (list, &generation, &id);

  conn = raw_connection (manager);
  {
    g_autoptr(GVariant) got = raw_request (conn, 0, 0, "publish",
                                           g_variant_new ("(stt)", "wrong-run", generation + 1, id),
                                           &error);

    g_assert_null (got);
    g_assert_error (error, MPK_ERROR, MPK_ERROR_STALE_HANDLE);
    g_clear_error (&error);
  }
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "wrong-run", &err_), MPK_ERROR_KEY);
  {
    g_autoptr(GVariant) got = raw_request (conn, 0, 0, "publish",
                                           g_variant_new ("(stt)", "right-run", generation, id),
                                           &error);
    g_autoptr(MpkProxy) found = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (got);
    found = mpk_manager_lookup (manager, "right-run", &error);
    g_assert_no_error (error);
    g_assert_nonnull (found);
    ASSERT_ITEMS (mpk_list_copy (found, &err_), "['mine']");
  }

  /* Another manager's proxy: its id may well name an object here too. */
  other = new_started ();
  foreign = new_list (other, g_variant_new_parsed ("['theirs']"));
  proxy_ids (foreign, &foreign_generation, &foreign_id);
  if (foreign_id != id)
    g_test_message ("observed: the other manager's list has id %" G_GUINT64_FORMAT
                    ", ours %" G_GUINT64_FORMAT, foreign_id, id);
  ASSERT_FAILS (mpk_manager_publish (manager, "foreign", foreign, &err_),
                MPK_ERROR_STALE_HANDLE);
  ASSERT_NO_PROXY (mpk_manager_lookup (manager, "foreign", &err_), MPK_ERROR_KEY);
  mpk_proxy_unref (foreign);
  shutdown_clean (other);

  mpk_proxy_unref (list);
  shutdown_clean (manager);
}

/* Review bug 9a: a value that is a "v" already was boxed again, so
 * g_variant_new_variant (x) was stored as <x>, not x. */
static void
test_regress_boxed_values (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *list, *dict, *ns, *value, *queue;

  TEST_BEGIN ("Review bug 9a: g_variant_new_variant (int32 7) given to list append / "
              "insert / set, dict set (value and key), namespace set, value set and queue "
              "put is stored as int32 7 (read back with type \"i\")");
  manager = new_started ();
  list = new_list (manager, NULL);
  dict = new_dict (manager, NULL);
  ns = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  value = new_value (manager, I32 (0));
  queue = new_queue (manager, 0, FALSE);

  ASSERT_OK (mpk_list_append (list, g_variant_new_variant (I32 (7)), &err_));
  ASSERT_GOT (mpk_list_get (list, 0, &err_), "7");
  ASSERT_OK (mpk_list_insert (list, 0, g_variant_new_variant (I32 (6)), &err_));
  ASSERT_OK (mpk_list_set (list, 1, g_variant_new_variant (I32 (8)), &err_));
  ASSERT_ITEMS (mpk_list_copy (list, &err_), "[6, 8]");
  ASSERT_NUMBER (mpk_list_count (list, g_variant_new_variant (I32 (8)), &err_), 1);
  ASSERT_NUMBER (mpk_list_count (list, I32 (8), &err_), 1);

  ASSERT_OK (mpk_dict_set (dict, S ("k"), g_variant_new_variant (I32 (7)), &err_));
  ASSERT_GOT (mpk_dict_get (dict, S ("k"), &err_), "7");
  ASSERT_OK (mpk_dict_set (dict, g_variant_new_variant (S ("boxed")), I32 (1), &err_));
  ASSERT_GOT (mpk_dict_get (dict, S ("boxed"), &err_), "1");

  ASSERT_OK (mpk_namespace_set (ns, "x", g_variant_new_variant (I32 (7)), &err_));
  ASSERT_GOT (mpk_namespace_get (ns, "x", &err_), "7");

  ASSERT_OK (mpk_value_proxy_set (value, g_variant_new_variant (I32 (7)), &err_));
  ASSERT_GOT (mpk_value_proxy_get (value, &err_), "7");

  ASSERT_OK (mpk_queue_proxy_put (queue, g_variant_new_variant (I32 (7)), MPK_NO_WAIT, &err_));
  ASSERT_GOT (mpk_queue_proxy_get (queue, MPK_NO_WAIT, &err_), "7");

  mpk_proxy_unref (list);
  mpk_proxy_unref (dict);
  mpk_proxy_unref (ns);
  mpk_proxy_unref (value);
  mpk_proxy_unref (queue);
  shutdown_clean (manager);
}

/* Whether @host resolves (through the system's resolver) to 127.0.0.1. */
static gboolean
resolves_to_loopback (const char *host)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  GList *found = g_resolver_lookup_by_name (resolver, host, NULL, NULL);
  gboolean loopback = FALSE;

  for (GList *l = found; l != NULL; l = l->next)
    {
      g_autofree char *text = g_inet_address_to_string (l->data);

      loopback = loopback || strcmp (text, "127.0.0.1") == 0;
    }
  g_resolver_free_addresses (found);
  return loopback;
}

/* Review bug 9c: connect() parsed its address as a server's, which takes
 * numeric hosts only ("localhost" was mapped by hand), so a host name such
 * as "LOCALHOST" was INVALID. */
static void
test_regress_connect_host_name (void)
{
  static const char *const hosts[] = { "localhost", "LOCALHOST" };
  g_autoptr(GBytes) key = random_key ();
  MpkManager *manager;
  const char *address, *port;
  gsize i;

  TEST_BEGIN ("Review bug 9c: mpk_manager_connect (\"tcp:HOST:PORT\", key) with a host "
              "name (localhost, and LOCALHOST, which the resolver maps but no special "
              "case does) reaches a manager listening on tcp:127.0.0.1:0; its proxies work");
  manager = start_manager ("tcp:127.0.0.1:0", key);
  address = mpk_manager_get_address (manager);
  port = strrchr (address, ':');
  g_assert_nonnull (port);

  for (i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *by_name = g_strdup_printf ("tcp:%s:%s", hosts[i], port + 1);
      g_autofree char *name = g_strdup_printf ("by-name-%" G_GSIZE_FORMAT, i);
      MpkManager *client;

      if (i > 0 && !resolves_to_loopback (hosts[i]))
        {
          g_test_message ("%s does not resolve to 127.0.0.1 here: not tried", hosts[i]);
          continue;
        }
      client = mpk_manager_connect (by_name, key, CHILD_TIMEOUT_US, &error);
      g_assert_no_error (error);
      g_assert_nonnull (client);
      {
        g_autoptr(MpkProxy) list = new_list (client, NULL);

        ASSERT_OK (mpk_list_append (list, S (hosts[i]), &err_));
        ASSERT_NUMBER (mpk_list_len (list, &err_), 1);
        ASSERT_OK (mpk_manager_publish (client, name, list, &err_));
      }
      mpk_manager_free (client);
      {
        g_autoptr(MpkProxy) found = mpk_manager_lookup (manager, name, &error);
        g_autofree char *expected = g_strdup_printf ("'%s'", hosts[i]);

        g_assert_no_error (error);
        ASSERT_GOT (mpk_list_get (found, 0, &err_), expected);
      }
    }
  shutdown_clean (manager);
}

/* Review bug 9d: after the manager died, the first call saw EOF
 * (DISCONNECTED) but later ones, and a child's, found nobody listening
 * (REFUSED); after shutdown a call was REFUSED too. */
static int
call_dead_manager_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;

  child_guard ();
  mpk_list_len (args->list, &error);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  MPK_CHILD_CHECK (mpk_manager_list (args->manager, NULL, &error) == NULL);
  CHILD_EXPECT_ERROR (error, MPK_ERROR_DISCONNECTED);
  return 0;
}

static void
test_regress_disconnected (void)
{
  g_autoptr(GError) error = NULL;
  ChildArgs args = { 0 };
  MpkManager *manager;
  MpkProxy *list;
  GPid pid;
  int i;

  TEST_BEGIN ("Review bug 9d: once the manager is SIGKILLed, three calls in a row, a "
              "create, stats, and a call from a child forked afterwards all fail "
              "DISCONNECTED (not REFUSED); after mpk_manager_shutdown() a call on a proxy "
              "and a create fail DISCONNECTED");
  manager = new_started ();
  mpk_manager_set_timeout (manager, CHILD_TIMEOUT_US / 2);
  list = new_list (manager, g_variant_new_parsed ("[1]"));
  ASSERT_NUMBER (mpk_list_len (list, &err_), 1);

  pid = mpk_manager_get_pid (manager);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  wait_until_dead (pid);
  for (i = 0; i < 3; i++)
    ASSERT_NUMBER_FAILS (mpk_list_len (list, &err_), MPK_ERROR_DISCONNECTED);
  ASSERT_NO_PROXY (mpk_manager_list (manager, NULL, &err_), MPK_ERROR_DISCONNECTED);
  {
    MpkManagerStats stats;

    ASSERT_FAILS (mpk_manager_get_stats (manager, &stats, &err_), MPK_ERROR_DISCONNECTED);
  }
  args.manager = manager;
  args.list = list;
  join_child (mpk_test_start (call_dead_manager_child, &args), 0);
  ASSERT_NUMBER_FAILS (mpk_list_len (list, &err_), MPK_ERROR_DISCONNECTED);

  mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &error);
  g_clear_error (&error);
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, -SIGKILL);
  mpk_proxy_unref (list);
  mpk_manager_free (manager);

  /* A manager shut down in order. */
  manager = new_started ();
  list = new_list (manager, NULL);
  ASSERT_OK (mpk_manager_shutdown (manager, CHILD_TIMEOUT_US, &err_));
  g_assert_cmpint (mpk_manager_get_exitcode (manager), ==, 0);
  ASSERT_NUMBER_FAILS (mpk_list_len (list, &err_), MPK_ERROR_DISCONNECTED);
  ASSERT_NUMBER_FAILS (mpk_list_len (list, &err_), MPK_ERROR_DISCONNECTED);
  ASSERT_NO_PROXY (mpk_manager_list (manager, NULL, &err_), MPK_ERROR_DISCONNECTED);
  mpk_proxy_unref (list);
  mpk_manager_free (manager);
}

/* Review bug 9f: a second type under a name already registered was taken
 * (and one of the two silently won). */
static void
test_regress_duplicate_type (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager;
  MpkProxy *picky;

  TEST_BEGIN ("Review bug 9f: registering a second type named like one already "
              "registered (the same struct or another) is INVALID; the first stays in "
              "force");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &picky_type, &err_));
  ASSERT_FAILS (mpk_manager_register (manager, &picky_twin_type, &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_manager_register (manager, &picky_type, &err_), MPK_ERROR_INVALID);
  ASSERT_OK (mpk_manager_start (manager, &err_));

  picky = mpk_manager_create (manager, "Picky", g_variant_new ("(i)", 1), &error);
  g_assert_no_error (error);
  g_assert_nonnull (picky);
  ASSERT_GOT (mpk_proxy_call (picky, "len", NULL, &err_), "int64 0");
  ASSERT_NO_VARIANT (mpk_proxy_call (picky, "f", NULL, &err_), MPK_ERROR_REMOTE);
  ASSERT_NO_PROXY (mpk_manager_create (manager, "Picky", NULL, &err_), MPK_ERROR_INVALID);
  mpk_proxy_unref (picky);
  shutdown_clean (manager);
}

/* A type whose one method builds, in the server, a chain of @n nested lists,
 * each holding only the reference to the one before, and returns the last:
 * a deep chain in one call. */
static gpointer
chain_create (GVariant  *args,
              GError   **error)
{
  return g_new0 (int, 1);
}

static GVariant *
chain_build (gpointer         self,
             GVariant        *args,
             MpkManagerCall  *call,
             GError         **error)
{
  g_autoptr(GVariant) last = NULL;
  guint32 n;

  g_variant_get (args, "(u)", &n);
  last = g_variant_ref_sink (mpk_manager_call_new_object (call, "list", NULL, error));
  for (guint32 i = 1; i < n && last != NULL; i++)
    {
      GVariant *boxed = g_variant_new_variant (last);
      GVariant *items = g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1);
      GVariant *next;

      next = mpk_manager_call_new_object (call, "list", g_variant_new_tuple (&items, 1), error);
      g_clear_pointer (&last, g_variant_unref);
      last = next != NULL ? g_variant_ref_sink (next) : NULL;
    }
  return last != NULL ? g_variant_ref (last) : NULL;
}

static const MpkManagerMethod chain_methods[] = {
  { "build", chain_build },
  { NULL, NULL },
};

static const MpkManagerType chain_type = { "Chain", chain_create, g_free, chain_methods };

/* Freeing a container drops what it holds, which may free more: a chain
 * of nested lists used to be freed by recursion, a few stack frames per
 * level, so a client could crash the server with a deep enough chain
 * (120 000 levels did). */
static void
test_regress_deep_chain (void)
{
  g_autoptr(GError) error = NULL;
#ifdef __SANITIZE_ADDRESS__
  guint32 depth = 20000;   /* tools/run-tests.sh makes ASan unwind the stack at every malloc */
#else
  guint32 depth = under_valgrind () ? 5000 : 300000;
#endif
  g_autoptr(GVariant) ref = NULL;
  MpkManager *manager;
  MpkProxy *chain, *head;
  guint start_objects;

  TEST_BEGIN ("A chain of 300000 nested lists, each holding the previous one's reference, "
              "is freed when its head is dropped: the server stays up and holds none of it "
              "afterwards");
  manager = mpk_manager_new (NULL, NULL, &error);
  g_assert_no_error (error);
  ASSERT_OK (mpk_manager_register (manager, &chain_type, &err_));
  ASSERT_OK (mpk_manager_start (manager, &err_));
  chain = mpk_manager_create (manager, "Chain", NULL, &error);
  g_assert_no_error (error);
  start_objects = stats_of (manager).objects;
  ref = mpk_proxy_call (chain, "build", g_variant_new ("(u)", depth), &error);
  g_assert_no_error (error);
  head = mpk_proxy_from_value (manager, ref, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stats_of (manager).objects, ==, start_objects + depth);
  mpk_proxy_unref (head);        /* the whole chain goes */
  g_assert_cmpuint (stats_of (manager).objects, ==, start_objects);
  mpk_proxy_unref (chain);
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
  g_autoptr(MpkProxy) found = NULL;
  MpkProxy *list, *inner, *holder;
  guint64 generation, id, inner_id;
  MpkManager *manager;

  TEST_BEGIN ("A decref beyond the counts proxies took (create, lookup, incref) is an "
              "INVALID error reply: a published object and an object stored in a list stay "
              "alive and usable; the server exits 0");
  manager = new_started ();
  list = new_list (manager, NULL);
  ASSERT_OK (mpk_list_append (list, S ("kept"), &err_));
  ASSERT_OK (mpk_manager_publish (manager, "shared", list, &err_));
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
  found = mpk_manager_lookup (manager, "shared", &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  ASSERT_GOT (mpk_list_get (found, 0, &err_), "'kept'");

  /* The same for an object only a container holds. */
  inner = new_list (manager, NULL);
  ASSERT_OK (mpk_list_append (inner, S ("inside"), &err_));
  holder = new_list (manager, NULL);
  {
    g_autoptr(GVariant) ref = ref_of (inner);

    ASSERT_OK (mpk_list_append (holder, ref, &err_));
  }
  proxy_ids (inner, &generation, &inner_id);
  g_assert_true (raw_decref (conn, generation, inner_id, &error));
  g_assert_no_error (error);
  g_assert_false (raw_decref (conn, generation, inner_id, &error));
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autoptr(MpkProxy) again = list_at (holder, 0);

    ASSERT_GOT (mpk_list_get (again, 0, &err_), "'inside'");
  }
  mpk_proxy_unref (holder);
  /* These two counts went with the raw decrefs: their own decrefs are refused. */
  mpk_proxy_unref (inner);
  mpk_proxy_unref (list);
  g_clear_pointer (&found, mpk_proxy_unref);
  assert_still_serving (manager);
  shutdown_clean (manager);
}

/* A program that returns from main with a started manager (never freed) must
 * exit: it hung in the exit handler joining the server process. */
static void
test_exit_without_free (void)
{
  const char *note = g_getenv ("MPK_TEST_EXIT_NOTE");
  g_autofree char *note_path = NULL, *address = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  if (g_test_subprocess ())
    {
      /* Never freed, on purpose; static, so LeakSanitizer sees them reachable. */
      static MpkManager *manager;
      static MpkProxy *list;

      manager = new_started ();
      list = new_list (manager, NULL);
      ASSERT_OK (mpk_list_append (list, S ("left behind"), &err_));
      g_assert_true (g_file_set_contents (note, mpk_manager_get_address (manager), -1, NULL));
      return;   /* g_test_run returns, main returns, the exit handlers run */
    }
  TEST_BEGIN ("A program that starts a manager and returns from main without freeing it "
              "exits (the manager is shut down at exit, like Python's), well within a "
              "generous bound, and its socket folder is gone");
  note_path = g_build_filename (g_get_tmp_dir (), "mpk-exit-note-XXXXXX", NULL);
  close (g_mkstemp (note_path));
  g_setenv ("MPK_TEST_EXIT_NOTE", note_path, TRUE);
  start = g_get_monotonic_time ();
  g_test_trap_subprocess (NULL, 4 * CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_message ("the program ended after %.1f ms", (g_get_monotonic_time () - start) / 1000.0);
  g_unsetenv ("MPK_TEST_EXIT_NOTE");
  g_assert_true (g_file_get_contents (note_path, &address, NULL, &error));
  g_assert_no_error (error);
  g_unlink (note_path);
  g_test_trap_assert_passed ();
  g_assert_true (g_str_has_prefix (address, "unix:"));
  {
    g_autofree char *dir = g_path_get_dirname (address + 5);

    g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  }
}

/* The owner of a started manager, killed by the test. */
static int
owner_child (gpointer data)
{
  MpkTestChannel *channel = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) never = NULL;
  MpkManager *manager;

  mpk_connection_close (channel->parent);
  manager = mpk_manager_new_started (&error);
  MPK_CHILD_NO_ERROR (error);
  if (!mpk_connection_send (channel->child,
                            g_variant_new ("(si)", mpk_manager_get_address (manager),
                                           (gint32) mpk_manager_get_pid (manager)),
                            CHILD_TIMEOUT_US, &error))
    return 1;
  never = mpk_connection_recv (channel->child, 4 * CHILD_TIMEOUT_US, NULL);
  return 0;
}

/* A Manager's owner killed by @data (SIGKILL, or SIGTERM as a timeout sends): the
 * server, told by the parent-death signal, ends and removes its socket folder. */
static void
test_owner_killed_cleanup (gconstpointer data)
{
  int sig = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) hello = NULL;
  g_autofree char *dir = NULL;
  MpkTestChannel channel;
  MpkProcess *owner;
  const char *address;
  gint32 server_pid;
  gint64 end;

  TEST_BEGIN ("A process that started a manager is killed (SIGKILL, SIGTERM): the server "
              "ends and its $TMPDIR/mpk-manager-* folder is removed (bounded wait)");
  mpk_test_channel_init (&channel);
  owner = mpk_test_start (owner_child, &channel);
  mpk_connection_close (channel.child);
  hello = mpk_connection_recv (channel.parent, CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_variant_get (hello, "(&si)", &address, &server_pid);
  g_assert_true (g_str_has_prefix (address, "unix:"));
  dir = g_path_get_dirname (address + 5);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));

  g_assert_cmpint (kill (mpk_process_get_pid (owner), sig), ==, 0);
  g_assert_true (mpk_process_join (owner, CHILD_TIMEOUT_US));
  g_assert_cmpint (mpk_process_get_exitcode (owner), ==, -sig);
  mpk_process_unref (owner);
  wait_until_dead (server_pid);
  end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
  while (g_file_test (dir, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < end)
    g_usleep (10000);
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    g_test_message ("left behind: %s", dir);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  mpk_test_channel_clear (&channel);
}

/* An empty key would let anyone in (an HMAC under an empty key is public knowledge). */
static void
test_authkey_empty (void)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  MpkManager *manager;

  TEST_BEGIN ("An empty authkey is refused with INVALID by mpk_manager_new() and "
              "mpk_manager_connect()");
  manager = mpk_manager_new (NULL, empty, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (manager);
  g_clear_error (&error);
  manager = mpk_manager_new ("tcp:0", empty, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (manager);
  g_clear_error (&error);
  manager = mpk_manager_connect ("tcp:127.0.0.1:1", empty, CHILD_TIMEOUT_US, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (manager);
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

  TEST_BEGIN ("400 idle unauthenticated TCP connections, re-opened as the server drops "
              "them: a key-holding client still connects and gets answers, 20 times at "
              "once and then until the server has aged idle connections and 200 were "
              "re-opened (only a generous hang bound; the latency is reported)");
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
        g_autoptr(MpkProxy) list = new_list (client, NULL);

        ASSERT_OK (mpk_list_append (list, I64 (rounds), &err_));
        ASSERT_NUMBER (mpk_list_len (list, &err_), 1);
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

/* --- work under the server's lock --- */

/* Quadratic work at this size took minutes; linear work takes a few seconds.
 * Under a sanitizer or valgrind (everything many times slower) the size only
 * checks the contents: the plain build is the regression test. */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_SLICE_SANITIZED TRUE
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_SLICE_SANITIZED TRUE
#endif
#endif
#ifndef BIG_SLICE_SANITIZED
#define BIG_SLICE_SANITIZED FALSE
#endif
#define BIG_SLICE (under_valgrind () || BIG_SLICE_SANITIZED ? 100000 : 800000)

typedef struct
{
  MpkManager *manager;
  gint        stop;
  gint64      worst_us;
  guint       calls;
} Pinger;

static gpointer
pinger_thread (gpointer data)
{
  Pinger *p = data;
  g_autoptr(MpkProxy) other = new_list (p->manager, NULL);

  while (!g_atomic_int_get (&p->stop))
    {
      gint64 start = g_get_monotonic_time ();
      GError *error = NULL;
      gint64 len = mpk_list_len (other, &error);

      if (error != NULL)
        {
          g_clear_error (&error);
          break;
        }
      g_assert_cmpint (len, ==, 0);
      p->worst_us = MAX (p->worst_us, g_get_monotonic_time () - start);
      p->calls++;
    }
  return NULL;
}

/* The int64 at @index of @list. */
static gint64
get_int (MpkProxy *list,
         gint64    index)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) item = mpk_list_get (list, index, &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (item, G_VARIANT_TYPE_INT64));
  return g_variant_get_int64 (item);
}

/* set_slice inserted its items one at a time (a memmove of the tail each):
 * 100 000 items held the one server lock for 851 ms, 400 000 into the middle
 * of 400 000 for 9 s, and 800 000 into 800 000 for longer than the bound. */
static void
test_list_set_slice_large (void)
{
  g_autoptr(GThread) thread = NULL;
  g_autoptr(MpkProxy) list = NULL;
  GVariantBuilder b;
  MpkManager *manager;
  Pinger pinger = { 0 };
  gint64 start;

  TEST_BEGIN ("set_slice of 800 000 items into the middle of an 800 000-item list ends "
              "within a generous hang bound with the right contents; another client's "
              "calls meanwhile are timed and reported");
  manager = new_started ();
  mpk_manager_set_timeout (manager, 3 * CHILD_TIMEOUT_US);
  list = new_list (manager, NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < BIG_SLICE; i++)
    g_variant_builder_add (&b, "v", g_variant_new_int64 (i));
  ASSERT_OK (mpk_list_extend (list, g_variant_builder_end (&b), &err_));
  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < BIG_SLICE; i++)
    g_variant_builder_add (&b, "v", g_variant_new_int64 (-i));
  pinger.manager = manager;
  thread = g_thread_new ("pinger", pinger_thread, &pinger);
  start = g_get_monotonic_time ();
  ASSERT_OK (mpk_list_set_slice (list, BIG_SLICE / 2, BIG_SLICE / 2 + 1,
                                 g_variant_builder_end (&b), &err_));
  g_test_message ("set_slice of %d items took %.1f ms", (int) BIG_SLICE,
                  (g_get_monotonic_time () - start) / 1000.0);
  g_atomic_int_set (&pinger.stop, TRUE);
  g_thread_join (g_steal_pointer (&thread));
  g_test_message ("another client: %u calls, the slowest %.1f ms", pinger.calls,
                  pinger.worst_us / 1000.0);
  ASSERT_NUMBER (mpk_list_len (list, &err_), 2 * BIG_SLICE - 1);
  ASSERT_NUMBER (get_int (list, BIG_SLICE / 2 - 1), BIG_SLICE / 2 - 1);
  ASSERT_NUMBER (get_int (list, BIG_SLICE / 2), 0);
  ASSERT_NUMBER (get_int (list, BIG_SLICE / 2 + 1), -1);
  ASSERT_NUMBER (get_int (list, BIG_SLICE / 2 + BIG_SLICE - 1), -(BIG_SLICE - 1));
  ASSERT_NUMBER (get_int (list, BIG_SLICE / 2 + BIG_SLICE), BIG_SLICE / 2 + 1);
  g_clear_pointer (&list, mpk_proxy_unref);
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
  g_autoptr(MpkProxy) list = NULL, dict = NULL, ns = NULL, too_big = NULL;
  MpkManager *manager;

  TEST_BEGIN ("With the server's item limit lowered to 4: a list, dict or namespace "
              "holding 4 items refuses every call that would make a fifth (append, insert, "
              "extend, set_slice, repeat; set, setdefault, update; set) with INVALID and "
              "is left as it was; create with 5 items is INVALID; calls that do not grow "
              "it (replace, empty extend) still work");
  mpk__manager_set_max_items_for_testing (GROWTH_LIMIT);
  manager = new_started ();
  mpk__manager_set_max_items_for_testing (0);   /* the server keeps its copy */

  list = new_list (manager, g_variant_new_parsed ("[<0>, <1>, <2>, <3>]"));
  ASSERT_FAILS (mpk_list_append (list, I64 (4), &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_insert (list, 0, I64 (4), &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_extend (list, av_of (I64 (4), NULL), &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_set_slice (list, 1, 1, av_of (I64 (4), NULL), &err_),
                MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_list_repeat (list, 2, &err_), MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_list_copy (list, &err_), "[0, 1, 2, 3]");
  ASSERT_OK (mpk_list_extend (list, av_of (NULL), &err_));
  ASSERT_OK (mpk_list_set_slice (list, 0, 1, av_of (I64 (9), NULL), &err_));
  ASSERT_OK (mpk_list_set (list, 1, I64 (8), &err_));
  ASSERT_ITEMS (mpk_list_copy (list, &err_), "[int64 9, int64 8, 2, 3]");
  too_big = mpk_manager_list (manager, g_variant_new_parsed ("[<0>, <1>, <2>, <3>, <4>]"),
                              &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (too_big);
  g_clear_error (&error);

  dict = mpk_manager_dict (manager, g_variant_new_parsed ("{'a': <1>, 'b': <2>, 'c': <3>, "
                                                          "'d': <4>}"), &error);
  g_assert_no_error (error);
  g_assert_nonnull (dict);
  ASSERT_FAILS (mpk_dict_set (dict, S ("e"), I64 (5), &err_), MPK_ERROR_INVALID);
  ASSERT_NO_VARIANT (mpk_dict_setdefault (dict, S ("e"), I64 (5), &err_), MPK_ERROR_INVALID);
  ASSERT_FAILS (mpk_dict_update (dict, asv_of ("a", I64 (10), "e", I64 (5), NULL), &err_),
                MPK_ERROR_INVALID);
  ASSERT_ITEMS (mpk_dict_items (dict, &err_), "[('a', 1), ('b', 2), ('c', 3), ('d', 4)]");
  ASSERT_OK (mpk_dict_set (dict, S ("a"), I64 (10), &err_));
  ASSERT_OK (mpk_dict_update (dict, asv_of ("b", I64 (20), "b", I64 (21), NULL), &err_));
  ASSERT_GOT (mpk_dict_setdefault (dict, S ("c"), I64 (30), &err_), "3");
  ASSERT_ITEMS (mpk_dict_items (dict, &err_),
                "[('a', int64 10), ('b', int64 21), ('c', 3), ('d', 4)]");
  too_big = mpk_manager_dict (manager, g_variant_new_parsed ("{'a': <1>, 'b': <2>, 'c': <3>, "
                                                             "'d': <4>, 'e': <5>}"), &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_null (too_big);
  g_clear_error (&error);

  ns = mpk_manager_namespace (manager, &error);
  g_assert_no_error (error);
  for (int i = 0; i < GROWTH_LIMIT; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%d", i);

      ASSERT_OK (mpk_namespace_set (ns, name, I64 (i), &err_));
    }
  ASSERT_FAILS (mpk_namespace_set (ns, "n4", I64 (4), &err_), MPK_ERROR_INVALID);
  ASSERT_OK (mpk_namespace_set (ns, "n0", I64 (100), &err_));
  ASSERT_GOT (mpk_namespace_get (ns, "n0", &err_), "int64 100");
  ASSERT_NO_VARIANT (mpk_namespace_get (ns, "n4", &err_), MPK_ERROR_KEY);

  assert_still_serving (manager);
  g_clear_pointer (&list, mpk_proxy_unref);
  g_clear_pointer (&dict, mpk_proxy_unref);
  g_clear_pointer (&ns, mpk_proxy_unref);
  shutdown_clean (manager);
}

/* --- connections waiting for a thread when the server stops --- */

/* A server run by mpk_manager_serve_forever() in a thread of this process,
 * so the test can look at what it leaves behind. */
typedef struct
{
  MpkManager *server;
  GThread    *thread;
  char       *dir;
  char       *address;
  GBytes     *key;
} InProcess;

static gpointer
in_process_serve (gpointer data)
{
  InProcess *ip = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = mpk_manager_serve_forever (ip->server, &error);

  g_assert_no_error (error);
  return GINT_TO_POINTER (ok);
}

/* Starts serving with at most @threads client threads (and @type registered
 * if not NULL); returns a connected client. */
static MpkManager *
in_process_start (InProcess *ip, guint threads, const MpkManagerType *type)
{
  g_autoptr(GError) error = NULL;
  MpkManager *client = NULL;
  gint64 end = g_get_monotonic_time () + CHILD_TIMEOUT_US;

  ip->dir = g_dir_make_tmp ("mpk-test-XXXXXX", NULL);
  g_assert_nonnull (ip->dir);
  ip->address = g_strconcat ("unix:", ip->dir, "/server.sock", NULL);
  ip->key = random_key ();
  ip->server = mpk_manager_new (ip->address, ip->key, &error);
  g_assert_no_error (error);
  if (type != NULL)
    ASSERT_OK (mpk_manager_register (ip->server, type, &err_));
  mpk__manager_set_max_threads_for_testing (threads);
  ip->thread = g_thread_new ("serve-forever", in_process_serve, ip);
  while (client == NULL)
    {
      client = mpk_manager_connect (ip->address, ip->key, CHILD_TIMEOUT_US, &error);
      if (client != NULL)
        break;
      g_assert_error (error, MPK_ERROR, MPK_ERROR_REFUSED);
      g_clear_error (&error);
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (2000);
    }
  mpk_manager_set_timeout (client, CHILD_TIMEOUT_US);
  return client;
}

/* Shuts the server down through @client and waits for serve_forever to return TRUE. */
static void
in_process_stop (InProcess *ip, MpkManager *client)
{
  ASSERT_OK (mpk_manager_shutdown (client, CHILD_TIMEOUT_US, &err_));
  mpk_manager_free (client);
  g_assert_true (GPOINTER_TO_INT (g_thread_join (ip->thread)));
  mpk__manager_set_max_threads_for_testing (0);
  mpk_manager_free (ip->server);
  g_unlink (ip->address + 5);
  g_rmdir (ip->dir);
  g_free (ip->dir);
  g_free (ip->address);
  g_bytes_unref (ip->key);
}

/* Whether the server closed its end of @fd within @timeout_ms: end of file
 * or a reset, after whatever it had sent (a greeting) is read. */
static gboolean
peer_closed (int fd, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      int left = (int) MAX (0, (end - g_get_monotonic_time ()) / 1000);
      guint8 buf[512];
      ssize_t n;

      if (poll (&p, 1, left) <= 0)
        return FALSE;
      n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return TRUE;
    }
}

#define QUEUED_CONNECTIONS 3

/* Connections that authenticated while every client thread was busy wait in
 * the thread pool's queue. At a shutdown they were closed unserved, but
 * stats.clients, which counted them from their accept, kept them: a server
 * that stopped had clients left. */
static void
test_stats_clients_unserved (void)
{
  if (g_test_subprocess ())
    {
      InProcess ip = { 0 };
      MpkManager *client = in_process_start (&ip, 2, NULL);
      int busy, queued[QUEUED_CONNECTIONS];
      MpkManagerStats stats;

      /* Thread 1 serves @client, thread 2 this idle connection. */
      busy = mpk__manager_open_raw_for_testing (client, TRUE, NULL);
      g_assert_cmpint (busy, >=, 0);
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          queued[i] = mpk__manager_open_raw_for_testing (client, TRUE, NULL);
          g_assert_cmpint (queued[i], >=, 0);
        }
      stats = stats_of (client);
      g_test_message ("before the shutdown: %u clients", stats.clients);
      g_assert_cmpuint (stats.clients, ==, 2 + QUEUED_CONNECTIONS);
      in_process_stop (&ip, client);
      mpk__manager_last_stats_for_testing (&stats);
      g_test_message ("after the server stopped: %u clients counted", stats.clients);
      g_assert_cmpuint (stats.clients, ==, 0);
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          g_assert_true (peer_closed (queued[i], 1000));
          close (queued[i]);
        }
      close (busy);
      return;
    }
  TEST_BEGIN ("A server with 2 client threads, both busy, and 3 more authenticated "
              "connections waiting for one: after a shutdown the waiting connections are "
              "closed and stats.clients is back to 0 (it kept counting them)");
  g_test_trap_subprocess (NULL, 4 * CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* A method that lets the server's lock go and waits until the test lets it
 * return: a client thread the server cannot end at a shutdown. */
static GMutex stall_lock;
static GCond  stall_changed;
static guint  stall_entered;
static gboolean stall_released;

static gpointer
stall_create (GVariant *args, GError **error)
{
  return g_new0 (int, 1);
}

static GVariant *
stall_wait (gpointer self, GVariant *args, MpkManagerCall *call, GError **error)
{
  gint64 end = g_get_monotonic_time () + 4 * CHILD_TIMEOUT_US;   /* never for ever */

  mpk__manager_call_unlock (call);
  g_mutex_lock (&stall_lock);
  stall_entered++;
  g_cond_broadcast (&stall_changed);
  while (!stall_released && g_cond_wait_until (&stall_changed, &stall_lock, end))
    ;
  g_mutex_unlock (&stall_lock);
  mpk__manager_call_relock (call);
  return NULL;
}

static const MpkManagerMethod stall_methods[] = { { "wait", stall_wait }, { NULL, NULL } };
static const MpkManagerType stall_type = { "Stall", stall_create, g_free, stall_methods };

/* Calls Stall.wait on a connection of its own (the client's pool opens one
 * per thread that needs it). */
static gpointer
stall_client (gpointer data)
{
  MpkProxy *stall = data;
  g_autoptr(GError) error = NULL;
  GVariant *reply = mpk_proxy_call (stall, "wait", NULL, &error);

  /* Hung up at the shutdown: no reply (or, released late, any answer). */
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_error (&error);
  return NULL;
}

#define STALLED 2

/* When a client thread did not end within its second at a shutdown, the
 * pool was freed at once: the authenticated connections still waiting in
 * its queue were dropped without being closed, so their clients waited for
 * ever and a serve_forever process kept the descriptors. */
static void
test_shutdown_queued_closed (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      InProcess ip = { 0 };
      MpkManager *client = in_process_start (&ip, STALLED, &stall_type);
      static MpkProxy *stall;   /* kept (reachable) past the _exit below */
      GThread *stallers[STALLED];
      int queued[QUEUED_CONNECTIONS];
      MpkManagerStats stats;
      gint64 end;

      stall = mpk_manager_create (client, "Stall", NULL, &error);
      g_assert_no_error (error);
      /* Every client thread stalls in a call. */
      for (int i = 0; i < STALLED; i++)
        stallers[i] = g_thread_new ("stall", stall_client, stall);
      g_mutex_lock (&stall_lock);
      end = g_get_monotonic_time () + CHILD_TIMEOUT_US;
      while (stall_entered < STALLED && g_cond_wait_until (&stall_changed, &stall_lock, end))
        ;
      g_assert_cmpuint (stall_entered, ==, STALLED);
      g_mutex_unlock (&stall_lock);
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          queued[i] = mpk__manager_open_raw_for_testing (client, TRUE, NULL);
          g_assert_cmpint (queued[i], >=, 0);
        }
      /* No thread is free for a shutdown request: SIGTERM stops serve_forever,
       * which gives up on the stalled threads after a second. */
      g_assert_cmpint (kill (getpid (), SIGTERM), ==, 0);
      g_assert_true (GPOINTER_TO_INT (g_thread_join (ip.thread)));
      for (int i = 0; i < QUEUED_CONNECTIONS; i++)
        {
          gboolean closed = peer_closed (queued[i], 1000);

          if (!closed)
            g_test_message ("queued connection %d: still open after serve_forever returned", i);
          g_assert_true (closed);
          close (queued[i]);
        }
      mpk__manager_last_stats_for_testing (&stats);
      g_test_message ("after serve_forever returned: %u clients counted", stats.clients);
      g_assert_cmpuint (stats.clients, ==, STALLED);
      g_mutex_lock (&stall_lock);
      stall_released = TRUE;
      g_cond_broadcast (&stall_changed);
      g_mutex_unlock (&stall_lock);
      for (int i = 0; i < STALLED; i++)
        g_thread_join (stallers[i]);
      g_unlink (ip.address + 5);
      g_rmdir (ip.dir);
      _exit (0);   /* the server's state stays (stalled threads may use it): no other cleanup */
    }
  TEST_BEGIN ("serve_forever with 2 client threads, both stalled in a method past the "
              "shutdown's second, and 3 authenticated connections waiting for a thread: "
              "stopped by SIGTERM, it closes the waiting connections before it returns "
              "(they were left open) and counts only the 2 stalled clients");
  g_test_trap_subprocess (NULL, 4 * CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
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

  TEST_BEGIN ("A server at its file limit, all descriptors held by authenticated clients, "
              "and a connection waiting to be accepted: its main thread sleeps (was "
              "runnable in every sample: a busy loop on accept); once a client leaves, the "
              "waiting connection is accepted (greeted)");
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

  TEST_BEGIN ("A server at its file limit with one idle handshake (accepted earlier) and "
              "a key holder connecting: the idle handshake is closed to make room, the key "
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

  TEST_BEGIN ("Before the key is proven the server reads only the frame it expects: a "
              "wrong-key answer followed by 16 KiB, and a header claiming 10 KiB followed "
              "by 16 KiB, leave everything after the answer (or the header) unread");
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
  g_autoptr(GThread) thread = NULL;
  g_autoptr(MpkProxy) good = NULL, counter = NULL;
  MpkManager *manager;
  Hostile h = { 0 };
  gint64 n = 0;

  TEST_BEGIN ("A key-holding client sends random bytes, mutated requests and unbalanced "
              "decrefs (of the good client's published list too) on raw connections: "
              "every well-formed request gets an answer, and a good client appending "
              "and reading meanwhile always gets the right answers; the server exits 0");
  manager = new_started ();
  good = new_list (manager, NULL);
  counter = new_value (manager, I64 (0));
  /* Published, so the server holds them whatever decrefs arrive. */
  ASSERT_OK (mpk_manager_publish (manager, "good", good, &err_));
  ASSERT_OK (mpk_manager_publish (manager, "good-counter", counter, &err_));
  proxy_ids (good, &h.generation, &h.good_id);
  proxy_ids (counter, &h.generation, &h.counter_id);
  h.manager = manager;
  thread = g_thread_new ("hostile", hostile_thread, &h);
  while (!g_atomic_int_get (&h.done) || n < 20)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = NULL;
      gint64 len;

      ASSERT_OK (mpk_list_append (good, I64 (n), &err_));
      len = mpk_list_len (good, &error);
      g_assert_no_error (error);
      g_assert_cmpint (len, ==, n + 1);
      item = mpk_list_get (good, n, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (item), ==, n);
      {
        gint64 total = 0;

        ASSERT_OK (mpk_value_proxy_add (counter, 1, &total, &err_));
        g_assert_cmpint (total, ==, n + 1);
      }
      n++;
    }
  g_thread_join (g_steal_pointer (&thread));
  g_test_message ("hostile: %u junk, %u mutated, %u valid (%u decrefs), %u replies, %u closes; "
                  "good client: %" G_GINT64_FORMAT " rounds of 4 calls, all right",
                  h.junk, h.mutated, h.valid, h.decrefs, h.replies, h.closed, n);
  assert_still_serving (manager);
  g_clear_pointer (&good, mpk_proxy_unref);
  g_clear_pointer (&counter, mpk_proxy_unref);
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

  TEST_BEGIN ("Through a running server on its Unix socket: after the greeting, a wrong-key "
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

  g_test_add_func ("/manager/lifecycle", test_manager_lifecycle);
  g_test_add_func ("/manager/shutdown-escalates", test_manager_shutdown_escalates);
  g_test_add_func ("/manager/serve-forever", test_manager_serve_forever);
  g_test_add_func ("/manager/list", test_manager_list);
  g_test_add_func ("/manager/list/methods", test_manager_list_methods);
  g_test_add_func ("/manager/list/proxy-in-list", test_manager_list_proxy_in_list);
  g_test_add_func ("/manager/dict", test_manager_dict);
  g_test_add_func ("/manager/dict/iter", test_manager_dict_iter);
  g_test_add_func ("/manager/dict/nested", test_manager_dict_nested);
  g_test_add_func ("/manager/namespace", test_manager_namespace);
  g_test_add_func ("/manager/nested-queue", test_manager_nested_queue);
  g_test_add_func ("/manager/refs-elsewhere", test_manager_refs_elsewhere);
  g_test_add_func ("/manager/refs-taken-out", test_manager_refs_taken_out);
  g_test_add_func ("/manager/mymanager", test_manager_mymanager);
  g_test_add_func ("/manager/remote", test_manager_remote);
  g_test_add_func ("/manager/restart", test_manager_restart);
  g_test_add_data_func ("/manager/queue", GINT_TO_POINTER (FALSE), test_manager_queue);
  g_test_add_data_func ("/manager/joinable-queue", GINT_TO_POINTER (TRUE), test_manager_queue);
  g_test_add_func ("/manager/value", test_manager_value);
  g_test_add_func ("/manager/lock", test_manager_lock);
  g_test_add_func ("/manager/queue-empty", test_manager_queue_empty);
  g_test_add_func ("/manager/free-in-child", test_manager_free_in_child);
  g_test_add_func ("/manager/publish", test_manager_publish);
  g_test_add_func ("/manager/auth", test_manager_auth);
  g_test_add_func ("/manager/refused", test_manager_refused);
  g_test_add_func ("/manager/value-add", test_manager_value_add);
  g_test_add_func ("/manager/many-clients", test_manager_many_clients);
  g_test_add_func ("/manager/errors", test_manager_errors);
  g_test_add_func ("/manager/manager-killed", test_manager_manager_killed);
  g_test_add_func ("/manager/client-killed", test_manager_client_killed);
  g_test_add_func ("/manager/stale-handle", test_manager_stale_handle);
  g_test_add_func ("/manager/threads", test_manager_threads);
  g_test_add_data_func ("/manager/raw/oversized-handshake", GINT_TO_POINTER (TRUE),
                        test_manager_raw_preauth);
  g_test_add_data_func ("/manager/raw/junk-handshake", GINT_TO_POINTER (FALSE),
                        test_manager_raw_preauth);
  g_test_add_func ("/manager/raw/junk-request", test_manager_raw_junk_request);
  g_test_add_func ("/manager/raw/wrong-shape", test_manager_raw_wrong_shape);

  g_test_add_func ("/manager/regress/call-outlives-last-ref", test_regress_call_outlives_last_ref);
  g_test_add_func ("/manager/regress/dict-ref-key", test_regress_dict_ref_key);
  g_test_add_func ("/manager/regress/dict-create-ref-key", test_regress_dict_create_ref_key);
  g_test_add_func ("/manager/regress/user-create-fails", test_regress_user_create_fails);
  g_test_add_func ("/manager/regress/list-repeat-huge", test_regress_list_repeat_huge);
  g_test_add_func ("/manager/regress/iterator-foreign-source", test_regress_iterator_foreign_source);
  g_test_add_func ("/manager/regress/new-object-used-unclaimed", test_regress_new_object_used_unclaimed);
  g_test_add_func ("/manager/regress/value-add-overflow", test_regress_value_add_overflow);
  g_test_add_func ("/manager/regress/publish-wrong-generation", test_regress_publish_wrong_generation);
  g_test_add_func ("/manager/regress/boxed-values", test_regress_boxed_values);
  g_test_add_func ("/manager/regress/connect-host-name", test_regress_connect_host_name);
  g_test_add_func ("/manager/regress/disconnected", test_regress_disconnected);
  g_test_add_func ("/manager/regress/duplicate-type", test_regress_duplicate_type);
  g_test_add_func ("/manager/regress/deep-chain", test_regress_deep_chain);

  g_test_add_func ("/manager/decref/unbalanced", test_decref_unbalanced);
  g_test_add_func ("/manager/exit/without-free", test_exit_without_free);
  g_test_add_data_func ("/manager/owner-killed/sigkill", GINT_TO_POINTER (SIGKILL),
                        test_owner_killed_cleanup);
  g_test_add_data_func ("/manager/owner-killed/sigterm", GINT_TO_POINTER (SIGTERM),
                        test_owner_killed_cleanup);
  g_test_add_func ("/manager/authkey/empty", test_authkey_empty);
  g_test_add_func ("/manager/flood/unauthenticated", test_flood_unauthenticated);
  g_test_add_func ("/manager/list/set-slice-large", test_list_set_slice_large);
  g_test_add_func ("/manager/limits/growth", test_limits_growth);
  g_test_add_func ("/manager/stats/clients-unserved", test_stats_clients_unserved);
  g_test_add_func ("/manager/shutdown/queued-closed", test_shutdown_queued_closed);
  g_test_add_func ("/manager/emfile/no-spin", test_emfile_no_spin);
  g_test_add_func ("/manager/emfile/evict-oldest", test_emfile_evict_oldest);
  g_test_add_func ("/manager/preauth/read-bound", test_preauth_read_bound);
  g_test_add_func ("/manager/preauth/read-bound-server", test_preauth_read_bound_server);
  g_test_add_func ("/manager/hostile-client", test_hostile_client);

  return g_test_run ();
}
