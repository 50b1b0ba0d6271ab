/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-error.c: the MPK_ERROR domain and the one place errno becomes a GError. */
#include "mpk-private.h"

#include <errno.h>

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
