/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-manager-util.h: what the tests/test-manager-*.c binaries share: assertions
 * on a proxy call's result, values and containers built in one line, starting and
 * stopping managers, the arguments of forked children, CPython's Foo type, and raw
 * connections to a server. Functions are static inline: each binary uses a part. */
#ifndef MPK_TEST_MANAGER_UTIL_H
#define MPK_TEST_MANAGER_UTIL_H

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include "test-util.h"
#include "mpk-private.h"

#define CHILD_TIMEOUT_US MPK_TEST_CHILD_TIMEOUT_US

/* appender_child: how many children append, and how many items each. */
#define N_APPENDERS     4
#define APPENDS         100

/* --- assertions ------------------------------------------------------------- */

/* These add to test-util.h's ASSERT_OK and ASSERT_FAILS, and work the same way:
 * @call reports through &@error, a GError * the test declares (usually
 * g_autoptr(GError) error = NULL); the macro checks both, and leaves @error NULL
 * so that the next call can use it again. */

/* @call returns a @Type pointer (a GVariant or a proxy) that must be NULL, with
 * MPK_ERROR @code and a message in @error. */
#define ASSERT_NULL_FAILS_(Type, call, error, code) \
  G_STMT_START \
    { \
      g_autoptr(Type) got_ = (call); \
      g_assert_error ((error), MPK_ERROR, (code)); \
      g_assert_null (got_); \
      g_assert_cmpstr ((error)->message, !=, ""); \
      g_clear_error (&(error)); \
    } \
  G_STMT_END
#define ASSERT_NO_VARIANT(call, error, code) ASSERT_NULL_FAILS_ (GVariant, call, error, code)
#define ASSERT_NO_PROXY(call, error, code) \
  ASSERT_NULL_FAILS_ (MpkProxy, MPK_PROXY (call), error, code)

/* @call returns a number and must fail with MPK_ERROR @code and a message (the
 * number it returns then is not checked). */
#define ASSERT_NUMBER_FAILS(call, error, code) \
  G_STMT_START \
    { \
      (void) (call); \
      g_assert_error ((error), MPK_ERROR, (code)); \
      g_assert_cmpstr ((error)->message, !=, ""); \
      g_clear_error (&(error)); \
    } \
  G_STMT_END

/* @call returns a number (or a gboolean answer) that must equal @expected, with
 * no error. */
#define ASSERT_NUMBER(call, error, expected) \
  G_STMT_START \
    { \
      gint64 got_ = (call); \
      g_assert_no_error (error); \
      g_assert_cmpint (got_, ==, (expected)); \
    } \
  G_STMT_END

/* @call returns a GVariant (transfer full, not floating) whose GVariant text,
 * with types, is @expected ("5" for int32 5, "int64 5", "'Bob'"). A "v" box
 * would print as "<5>": no box is opened here. */
#define ASSERT_GOT(call, error, expected) \
  G_STMT_START \
    { \
      g_autoptr(GVariant) got_ = (call); \
      g_autofree char *got_text_ = NULL; \
      g_assert_no_error (error); \
      g_assert_nonnull (got_); \
      g_assert_false (g_variant_is_floating (got_)); \
      got_text_ = g_variant_print (got_, TRUE); \
      g_assert_cmpstr (got_text_, ==, (expected)); \
    } \
  G_STMT_END

/* @call returns an array of items (av, ai, a(vv), ...): each item printed as in
 * ASSERT_GOT after one "v" box is opened (the box is how an item travels in an
 * "av"), "[a, b]"; a dict entry prints "(key, value)". */
#define ASSERT_ITEMS_(call, error, expected, sorted) \
  G_STMT_START \
    { \
      g_autoptr(GVariant) got_ = (call); \
      g_autofree char *got_text_ = NULL; \
      g_assert_no_error (error); \
      g_assert_nonnull (got_); \
      g_assert_false (g_variant_is_floating (got_)); \
      got_text_ = items_text (got_, (sorted)); \
      g_assert_cmpstr (got_text_, ==, (expected)); \
    } \
  G_STMT_END
#define ASSERT_ITEMS(call, error, expected)        ASSERT_ITEMS_ (call, error, expected, FALSE)
#define ASSERT_SORTED_ITEMS(call, error, expected) ASSERT_ITEMS_ (call, error, expected, TRUE)

/* "MPK_ERROR 17: message" or "no error", for messages from children. */
static inline char *
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
static inline char *
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

/* "[a, b, c]": the items of the container @items, in order or sorted. */
static inline char *
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

static inline GVariant *
I32 (gint32 i)
{
  return g_variant_new_int32 (i);
}

static inline GVariant *
I64 (gint64 i)
{
  return g_variant_new_int64 (i);
}

static inline GVariant *
S (const char *s)
{
  return g_variant_new_string (s);
}

/* An "av" of the NULL-terminated values (floating ones are consumed;
 * references from ref_of() are not). */
static inline GVariant *
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
static inline GVariant *
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

static inline MpkManager *
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

static inline MpkManager *
new_started (void)
{
  g_autoptr(GError) error = NULL;
  MpkManager *manager = mpk_manager_new_started (&error);

  g_assert_no_error (error);
  g_assert_nonnull (manager);
  return manager;
}

/* Shuts @manager down, expects a clean exit (code 0) and frees it. */
static inline void
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

static inline MpkManagerStats
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

static inline MpkListProxy *
new_list (MpkManager *manager,
          GVariant   *items)
{
  g_autoptr(GError) error = NULL;
  MpkListProxy *list = mpk_manager_list (manager, items, &error);

  g_assert_no_error (error);
  g_assert_nonnull (list);
  g_assert_cmpstr (mpk_proxy_get_type_name (MPK_PROXY (list)), ==, "list");
  return list;
}

static inline MpkDictProxy *
new_dict (MpkManager *manager,
          GVariant   *items)
{
  g_autoptr(GError) error = NULL;
  MpkDictProxy *dict = mpk_manager_dict (manager, items, &error);

  g_assert_no_error (error);
  g_assert_nonnull (dict);
  g_assert_cmpstr (mpk_proxy_get_type_name (MPK_PROXY (dict)), ==, "dict");
  return dict;
}

static inline MpkQueueProxy *
new_queue (MpkManager *manager,
           gint64      maxsize,
           gboolean    joinable)
{
  g_autoptr(GError) error = NULL;
  MpkQueueProxy *queue = joinable ? mpk_manager_joinable_queue (manager, maxsize, &error)
                                  : mpk_manager_queue (manager, maxsize, &error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}

static inline MpkValueProxy *
new_value (MpkManager *manager,
           GVariant   *initial)
{
  g_autoptr(GError) error = NULL;
  MpkValueProxy *value = mpk_manager_value (manager, initial, &error);

  g_assert_no_error (error);
  g_assert_nonnull (value);
  return value;
}

/* The reference to @proxy, to store in a container; ours to unref (the
 * library documents it as floating, the contract's rule for results says
 * not: g_variant_take_ref() is right either way). ref_of() takes any
 * proxy, typed or generic. */
#define ref_of(proxy) ref_of_ (MPK_PROXY (proxy))
static inline GVariant *
ref_of_ (MpkProxy *proxy)
{
  GVariant *ref = mpk_proxy_to_value (proxy);

  g_assert_nonnull (ref);
  ref = g_variant_take_ref (ref);
  g_assert_true (mpk_proxy_is_reference (ref));
  return ref;
}

/* A proxy for the reference stored at @index of @list: a generic one, as
 * any proxy made from a reference is (as_list() and the others check its
 * kind). */
static inline MpkProxy *
list_at (MpkListProxy *list,
         gint64        index)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = mpk_list_proxy_get (list, index, &error);
  MpkProxy *proxy;

  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_assert_true (mpk_proxy_is_reference (ref));
  proxy = mpk_proxy_from_value (mpk_proxy_get_manager (MPK_PROXY (list)), ref, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proxy);
  return proxy;
}

/* A generic proxy for the reference stored under @key (consumed) in @dict. */
static inline MpkProxy *
dict_at (MpkDictProxy *dict,
         GVariant     *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = mpk_dict_proxy_get (dict, key, &error);
  MpkProxy *proxy;

  g_assert_no_error (error);
  g_assert_nonnull (ref);
  g_assert_true (mpk_proxy_is_reference (ref));
  proxy = mpk_proxy_from_value (mpk_proxy_get_manager (MPK_PROXY (dict)), ref, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proxy);
  return proxy;
}

/* @proxy (consumed) as a typed proxy: the run-time check a proxy made from
 * a reference must pass, asserted. as_list (list_at (outer, 0)) is the
 * list stored in outer[0]. */
#define DEFINE_AS(Kind, kind)                                           \
  static inline Mpk##Kind##Proxy *                                      \
  as_##kind (MpkProxy *proxy)                                           \
  {                                                                     \
    g_autoptr(GError) error = NULL;                                     \
    Mpk##Kind##Proxy *typed;                                            \
                                                                        \
    g_assert_nonnull (proxy);                                           \
    typed = mpk_proxy_as_##kind (proxy, &error);                        \
                                                                        \
    g_assert_no_error (error);                                          \
    g_assert_nonnull (typed);                                           \
    mpk_proxy_unref (proxy);                                            \
    return typed;                                                       \
  }
DEFINE_AS (List, list)
DEFINE_AS (Dict, dict)
DEFINE_AS (Value, value)
DEFINE_AS (Queue, queue)
DEFINE_AS (Lock, lock)
DEFINE_AS (Namespace, namespace)
DEFINE_AS (Iterator, iterator)

/* Each checked conversion as a function of generic proxies, for
 * assert_conversions(). */
#define DEFINE_AS_GENERIC(kind)                                         \
  static inline MpkProxy *                                              \
  generic_as_##kind (MpkProxy *proxy, GError **error)                   \
  {                                                                     \
    return MPK_PROXY (mpk_proxy_as_##kind (proxy, error));              \
  }
DEFINE_AS_GENERIC (list)
DEFINE_AS_GENERIC (dict)
DEFINE_AS_GENERIC (value)
DEFINE_AS_GENERIC (queue)
DEFINE_AS_GENERIC (lock)
DEFINE_AS_GENERIC (namespace)
DEFINE_AS_GENERIC (iterator)

/* Tries all seven mpk_proxy_as_<kind>() on the generic @proxy: the one for
 * @kind (NULL: none) must give @proxy itself with a reference of its own;
 * every other must give NULL and MPK_ERROR_INVALID, its message naming the
 * server's type of @proxy and the kind asked for. */
static inline void
assert_conversions (MpkProxy   *proxy,
                    const char *kind)
{
  static const struct
  {
    const char *kind;
    MpkProxy *(*as) (MpkProxy *proxy, GError **error);
  } conversions[] = {
    { "list", generic_as_list }, { "dict", generic_as_dict }, { "value", generic_as_value },
    { "queue", generic_as_queue }, { "lock", generic_as_lock },
    { "namespace", generic_as_namespace }, { "iterator", generic_as_iterator },
  };
  const char *type = mpk_proxy_get_type_name (proxy);

  for (gsize i = 0; i < G_N_ELEMENTS (conversions); i++)
    {
      g_autoptr(GError) error = NULL;
      MpkProxy *got = conversions[i].as (proxy, &error);

      g_test_message ("mpk_proxy_as_%s() of a proxy of type '%s': %s", conversions[i].kind, type,
                      error != NULL ? error->message : "converted");
      if (kind != NULL && strcmp (conversions[i].kind, kind) == 0)
        {
          g_assert_no_error (error);
          g_assert_true (got == proxy);
          mpk_proxy_unref (got);
        }
      else
        {
          g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
          g_assert_null (got);
          g_assert_nonnull (strstr (error->message, type));
          g_assert_nonnull (strstr (error->message, conversions[i].kind));
        }
    }
}

/* Every item left in @iterator, as ASSERT_GOT prints each, "[a, b]". */
static inline char *
drain_iterator (MpkIteratorProxy *iterator,
                gboolean          sorted)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new ("[");
  guint i;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) item = NULL;
      gboolean more = mpk_iterator_proxy_next (iterator, &item, &error);

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
static inline GBytes *
random_key (void)
{
  guint8 key[32];

  mpk__random_bytes (key, sizeof key);
  return g_bytes_new (key, sizeof key);
}

/* Starts a manager at @address; one retry after 1 s if the address is still
 * taken (CPython's test_rapid_restart does the same on EADDRINUSE). */
static inline MpkManager *
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
  MpkQueueProxy  *queue;
  MpkListProxy   *list;
  MpkValueProxy  *value;
  MpkLockProxy   *lock;
  MpkTestChannel  channel;
  const char     *address;
  GBytes         *authkey;
  int             index;      /* which of several children this is */
} ChildArgs;

/* Starts a child running @func on a copy of @args with index @index (the
 * copy lives until the test frees it with g_free). */
static inline MpkProcess *
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

/* --- CPython's Foo (test_mymanager): a registered type, used by more than one file --- */

/* The user type's own error domain: it must arrive as the same quark. */
#define FOO_ERROR (foo_error_quark ())
enum { FOO_ERROR_VALUE = 7 };

static inline GQuark
foo_error_quark (void)
{
  return g_quark_from_static_string ("mpk-test-foo-error-quark");
}

typedef struct
{
  int calls;
} Foo;

static inline gpointer
foo_create (GVariant  *args,
            GError   **error)
{
  return g_new0 (Foo, 1);
}

static inline GVariant *
foo_f (gpointer         self,
       GVariant        *args,
       MpkManagerCall  *call,
       GError         **error)
{
  ((Foo *) self)->calls++;
  return g_variant_new_string ("f()");
}

static inline GVariant *
foo_g (gpointer         self,
       GVariant        *args,
       MpkManagerCall  *call,
       GError         **error)
{
  g_set_error (error, FOO_ERROR, FOO_ERROR_VALUE, "g() fails on purpose");
  return NULL;
}

/* Python's baz(): a generator of i*i for i in range(10), as an iterator proxy. */
static inline GVariant *
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

/* --- a child that appends APPENDS copies of its index to args->list ---------- */

static inline int
appender_child (gpointer data)
{
  ChildArgs *args = data;
  GError *error = NULL;
  int i;

  child_guard ();
  for (i = 0; i < APPENDS; i++)
    {
      MPK_CHILD_CHECK (mpk_list_proxy_append (args->list, I32 (args->index), &error));
      MPK_CHILD_NO_ERROR (error);
    }
  return 0;
}

/* --- raw connections to a server ------------------------------------------------ */

static inline int
open_raw (MpkManager *manager,
          gboolean    authenticate)
{
  g_autoptr(GError) error = NULL;
  int fd = mpk__manager_open_raw_for_testing (manager, authenticate, &error);

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

/* The server still serves a normal client, and a new connection authenticates. */
static inline void
assert_still_serving (MpkManager *manager)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkListProxy) list = new_list (manager, NULL);
  MpkManager *client;

  ASSERT_OK (mpk_list_proxy_append (list, S ("still here"), &error), error);
  ASSERT_GOT (mpk_list_proxy_get (list, 0, &error), error, "'still here'");
  client = mpk_manager_connect (mpk_manager_get_address (manager),
                                mpk_manager_get_authkey (manager), CHILD_TIMEOUT_US, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  {
    g_autoptr(MpkListProxy) other = new_list (client, NULL);

    ASSERT_NUMBER (mpk_list_proxy_len (other, &error), error, 0);
  }
  mpk_manager_free (client);
}

/* A raw connection, authenticated, speaking requests "(ttxsv)". */
static inline MpkConnection *
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
static inline GVariant *
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

/* The generation and id the reference to @proxy (any proxy) carries. */
#define proxy_ids(proxy, generation, id) proxy_ids_ (MPK_PROXY (proxy), generation, id)
static inline void
proxy_ids_ (MpkProxy *proxy,
            guint64  *generation,
            guint64  *id)
{
  g_autoptr(GVariant) ref = ref_of (proxy);

  g_assert_true (mpk__manager_ref_parse (ref, generation, id));
}

/* Waits (bounded) until the process @pid is dead: gone, or a zombie nobody reaped yet. */
static inline void
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

/* Whether the server closed its end of @fd within @timeout_ms: end of file
 * or a reset, after whatever it had sent (a greeting) is read. */
static inline gboolean
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

#endif /* MPK_TEST_MANAGER_UTIL_H */
