/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-error.c: the MPK_ERROR domain and the one place errno becomes a GError. */
#include "mpk-core-private.h"

#include <errno.h>

/**
 * mpk_error_quark:
 *
 * The quark behind %MPK_ERROR; use the macro.
 *
 * Returns: the #GQuark of the "mpk-error-quark" domain
 */
G_DEFINE_QUARK (mpk-error-quark, mpk_error)

gboolean
mpk__set_error_from_errno (GError     **error,
                           int          saved_errno,
                           const char  *what)
{
  MpkError code;

  switch (saved_errno)
    {
    case EPIPE:
    case ECONNRESET:
      code = MPK_ERROR_PEER_CLOSED;
      break;
    case EBADF:
      code = MPK_ERROR_CLOSED;
      break;
    default:
      code = MPK_ERROR_FAILED;
      break;
    }
  g_set_error (error, MPK_ERROR, code, "%s: %s", what, g_strerror (saved_errno));
  return FALSE;
}

const char *
mpk__error_code_name (const GError *error)
{
  static const char *const names[] = {
    "FAILED", "CLOSED", "TIMED_OUT", "EOF", "TRUNCATED", "PROTOCOL", "TOO_BIG",
    "BUFFER_TOO_SHORT", "SPAWN", "INVALID", "PEER_CLOSED", "EMPTY", "FULL",
    "OWNER_DIED", "PEER_DIED", "TOO_MANY_TASK_DONE", "AUTH", "REFUSED",
    "DISCONNECTED", "INDEX", "KEY", "REMOTE", "STALE_HANDLE",
    "CLOSE_REQUESTED", "BROKEN",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == MPK_ERROR_BROKEN + 1);
  if (error->domain != MPK_ERROR)
    return g_quark_to_string (error->domain);
  if (error->code < 0 || (gsize) error->code >= G_N_ELEMENTS (names))
    return "UNKNOWN";
  return names[error->code];
}
