/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-authkey.c: a manager's authentication key (raw bytes, as
 * mpk_manager_new() and mpk_manager_connect() take it) to and from hex text.
 * Python's `authkey` is bytes; a program that hands it to another program
 * (lab 23's client) needs a text form, and that form is this one. */
#include "mpk-core-private.h"
#include "mpk-authkey.h"

/**
 * SECTION:mpk-authkey
 * @title: Authentication keys
 * @short_description: a manager's key as hex text, to hand it to another
 *   program
 * @include: mpkit.h
 *
 * A manager's clients prove they know its key (mpk_manager_new(),
 * mpk_manager_connect()), which is raw bytes, Python's `authkey`. A
 * program that starts a client as a separate program, or a client started
 * by hand on another host, needs the key as text: these functions write it
 * as hex and read it back, from a string or an environment variable.
 *
 * |[<!-- language="C" -->
 * // the server's side
 * g_autofree char *hex = mpk_authkey_to_hex (mpk_manager_get_authkey (manager));
 * g_setenv ("MPK_AUTHKEY", hex, TRUE);   // then start the client program
 *
 * // the client's side
 * g_autoptr(GBytes) key = mpk_authkey_from_environment ("MPK_AUTHKEY", &error);
 * g_autoptr(MpkManager) m = mpk_manager_connect (address, key, G_USEC_PER_SEC, &error);
 * ]|
 *
 * The text is as secret as the key: pass it in the environment or in a
 * file only the user can read, never on a command line (any user can read
 * another's with ps). Lab 23 does this.
 */

/**
 * mpk_authkey_to_hex:
 * @key: (transfer none): a key, for example mpk_manager_get_authkey()
 *
 * Writes @key as lower-case hex, two digits a byte: the text
 * mpk_authkey_from_hex() reads back.  Python: `key.hex()`.
 *
 * The string is as secret as the key: pass it in an environment variable
 * or a file only the user can read, never on a command line (any user on
 * the machine can read another's command line with ps).
 *
 * Returns: (transfer full): the hex text; free with g_free()
 */
char *
mpk_authkey_to_hex (GBytes *key)
{
  static const char digits[] = "0123456789abcdef";
  const guint8 *data;
  gsize len;
  char *hex;

  g_return_val_if_fail (key != NULL, NULL);

  data = g_bytes_get_data (key, &len);
  hex = g_malloc (2 * len + 1);
  for (gsize i = 0; i < len; i++)
    {
      hex[2 * i] = digits[data[i] >> 4];
      hex[2 * i + 1] = digits[data[i] & 0x0f];
    }
  hex[2 * len] = '\0';
  return hex;
}

/**
 * mpk_authkey_from_hex:
 * @hex: (transfer none): the key as hex text, two digits a byte (upper or
 *   lower case)
 * @error: return location for a #GError, or %NULL
 *
 * Reads a key written by mpk_authkey_to_hex() (or by
 * `od -An -tx1 -N16 /dev/urandom | tr -d ' \n'`).  Python:
 * `bytes.fromhex(hex)`, without its tolerance for spaces.
 *
 * Returns: (transfer full) (nullable): the key's bytes, or %NULL with
 *   %MPK_ERROR_INVALID if @hex is empty, has an odd number of characters or
 *   a character that is not a hex digit (the message says where, never
 *   what: the text is a secret)
 */
GBytes *
mpk_authkey_from_hex (const char  *hex,
                      GError     **error)
{
  gsize len, i;
  guint8 *key;

  g_return_val_if_fail (hex != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = strlen (hex);
  if (len == 0)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "the authentication key is empty");
      return NULL;
    }
  for (i = 0; i < len; i++)
    if (!g_ascii_isxdigit (hex[i]))
      {
        g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                     "the authentication key's character %" G_GSIZE_FORMAT
                     " is not a hex digit", i + 1);
        return NULL;
      }
  if (len % 2 != 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "the authentication key has %" G_GSIZE_FORMAT
                   " hex digits, an odd number", len);
      return NULL;
    }

  key = g_malloc (len / 2);
  for (i = 0; i < len / 2; i++)
    key[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4
                       | g_ascii_xdigit_value (hex[2 * i + 1]));
  return g_bytes_new_take (key, len / 2);
}

/**
 * mpk_authkey_from_environment:
 * @variable: (transfer none): the name of an environment variable, e.g.
 *   `"MPK_AUTHKEY"`
 * @error: return location for a #GError, or %NULL
 *
 * Reads a key, in hex, from the environment variable @variable: the way a
 * separate program (a client started by hand, or on another host) learns
 * its manager's key.  The environment, because another user can read a
 * process's command line but not its environment.
 *
 * Returns: (transfer full) (nullable): the key's bytes, or %NULL with
 *   %MPK_ERROR_INVALID if @variable is not set, is empty or is not a key in
 *   hex (see mpk_authkey_from_hex(); the message names @variable)
 */
GBytes *
mpk_authkey_from_environment (const char  *variable,
                              GError     **error)
{
  const char *hex;
  GBytes *key;

  g_return_val_if_fail (variable != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  hex = g_getenv (variable);
  if (hex == NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "%s is not set: set it to the manager's key, in hex", variable);
      return NULL;
    }
  key = mpk_authkey_from_hex (hex, error);
  if (key == NULL)
    g_prefix_error (error, "%s: ", variable);
  return key;
}
