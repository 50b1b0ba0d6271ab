/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-authkey.h: a manager's authentication key as hex text, the form in
 * which it travels between programs (an environment variable, a file). */
#ifndef MPK_AUTHKEY_H
#define MPK_AUTHKEY_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/* Decisions (Python passes the key as bytes and leaves the text form to the
 * program):
 *  - hex only, two digits a byte, upper or lower case, nothing else: no
 *    spaces, no "0x", no trailing newline;
 *  - an empty key is MPK_ERROR_INVALID, as mpk_manager_new() refuses one;
 *  - an error message never quotes the key's text, only where it is wrong. */

MPK_API char   *mpk_authkey_to_hex           (GBytes      *key);
MPK_API GBytes *mpk_authkey_from_hex         (const char  *hex,
                                              GError     **error);
MPK_API GBytes *mpk_authkey_from_environment (const char  *variable,
                                              GError     **error);

G_END_DECLS

#endif /* MPK_AUTHKEY_H */
