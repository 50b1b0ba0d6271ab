/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-authkey.c: mpk_authkey_*, a manager's key as hex text (Python's
 * bytes.hex() and bytes.fromhex()), the way lab 23 hands it to a client. */

#include "test-util.h"

#define VARIABLE "MPK_TEST_AUTHKEY"

/* Every byte value survives the trip, and the text is two lower-case
 * digits a byte, in order. */
static void
test_hex_round_trip (void)
{
  guint8 all[256];
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GBytes) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *hex = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    all[i] = (guint8) i;
  key = g_bytes_new (all, sizeof all);
  hex = mpk_authkey_to_hex (key);
  g_assert_cmpuint (strlen (hex), ==, 2 * sizeof all);
  g_assert_cmpstr (hex + 2 * 0xfc, ==, "fcfdfeff");
  hex[8] = '\0';
  g_assert_cmpstr (hex, ==, "00010203");
  hex[8] = '0';

  back = mpk_authkey_from_hex (hex, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_true (g_bytes_equal (key, back));
}

/* Upper case reads as well as lower case; the text written is lower case. */
static void
test_hex_upper_case (void)
{
  static const guint8 expected[] = { 0xde, 0xad, 0xbe, 0xef };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = mpk_authkey_from_hex ("DEADbeef", &error);
  g_autofree char *hex = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (key);
  g_assert_cmpmem (g_bytes_get_data (key, NULL), g_bytes_get_size (key),
                   expected, sizeof expected);
  hex = mpk_authkey_to_hex (key);
  g_assert_cmpstr (hex, ==, "deadbeef");
}

/* Anything but pairs of hex digits is INVALID, and the message says where,
 * never the key's text (here "c0ffee", which must not leak). */
static void
test_hex_invalid (void)
{
  static const char *const bad[] = {
    "", "c0ffee0", "c0ffeeg1", "0xc0ffee", " c0ffee", "c0ffee\n", "c0 ffee",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) key = mpk_authkey_from_hex (bad[i], &error);
      g_autofree char *shown = g_strescape (bad[i], NULL);

      g_test_message ("\"%s\": %s", shown,
                      error != NULL ? error->message : "(no error)");
      g_assert_null (key);
      g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
      g_assert_null (strstr (error->message, "c0ffee"));
    }
}

/* The environment: set, the key; unset or bad, INVALID naming the variable. */
static void
test_environment (void)
{
  static const guint8 expected[] = { 0x01, 0x23, 0xab };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = NULL;

  g_assert_true (g_setenv (VARIABLE, "0123AB", TRUE));
  key = mpk_authkey_from_environment (VARIABLE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (key);
  g_assert_cmpmem (g_bytes_get_data (key, NULL), g_bytes_get_size (key),
                   expected, sizeof expected);
  g_clear_pointer (&key, g_bytes_unref);

  g_unsetenv (VARIABLE);
  key = mpk_authkey_from_environment (VARIABLE, &error);
  g_assert_null (key);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, VARIABLE));
  g_clear_error (&error);

  g_assert_true (g_setenv (VARIABLE, "", TRUE));
  key = mpk_authkey_from_environment (VARIABLE, &error);
  g_assert_null (key);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, VARIABLE));
  g_clear_error (&error);

  g_assert_true (g_setenv (VARIABLE, "0123abz", TRUE));
  key = mpk_authkey_from_environment (VARIABLE, &error);
  g_assert_null (key);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, VARIABLE));
  g_unsetenv (VARIABLE);
}

/* What lab 23 does: a manager's random key, written as hex and read back,
 * opens the manager; the same key with one bit flipped is refused. */
static void
test_manager_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkManager) server = NULL;
  g_autoptr(MpkManager) client = NULL;
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GBytes) wrong = NULL;
  g_autofree char *hex = NULL;
  gsize len;
  guint8 *bytes;

  server = mpk_manager_new ("tcp:127.0.0.1:0", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mpk_manager_start (server, &error));
  g_assert_no_error (error);

  hex = mpk_authkey_to_hex (mpk_manager_get_authkey (server));
  key = mpk_authkey_from_hex (hex, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (key, mpk_manager_get_authkey (server)));
  client = mpk_manager_connect (mpk_manager_get_address (server), key,
                                10 * G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_nonnull (client);
  g_clear_pointer (&client, mpk_manager_free);

  bytes = g_bytes_unref_to_data (g_bytes_ref (key), &len);
  bytes[0] ^= 0x01;
  wrong = g_bytes_new_take (bytes, len);
  client = mpk_manager_connect (mpk_manager_get_address (server), wrong,
                                10 * G_USEC_PER_SEC, &error);
  g_assert_error (error, MPK_ERROR, MPK_ERROR_AUTH);
  g_assert_null (client);
  g_clear_error (&error);

  g_assert_true (mpk_manager_shutdown (server, 10 * G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/authkey/hex/round-trip", test_hex_round_trip);
  g_test_add_func ("/authkey/hex/upper-case", test_hex_upper_case);
  g_test_add_func ("/authkey/hex/invalid", test_hex_invalid);
  g_test_add_func ("/authkey/environment", test_environment);
  g_test_add_func ("/authkey/manager", test_manager_key);

  return g_test_run ();
}
