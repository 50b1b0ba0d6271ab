/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-deadline.c: monotonic deadlines and the one poll loop every blocking
 * call uses, so a signal (EINTR) never shortens or lengthens a timeout. */
#include "mpk-core-private.h"

#include <errno.h>
#include <time.h>

MpkDeadline
mpk__deadline_from_timeout (gint64 timeout_us)
{
  if (timeout_us == MPK_WAIT_FOREVER)
    return MPK__DEADLINE_NEVER;
  if (timeout_us <= 0)
    return g_get_monotonic_time ();
  if (timeout_us > MPK__DEADLINE_NEVER - g_get_monotonic_time ())
    return MPK__DEADLINE_NEVER;
  return g_get_monotonic_time () + timeout_us;
}

int
mpk__poll (struct pollfd *fds,
           nfds_t         n_fds,
           MpkDeadline    deadline)
{
  /* A traced call about to sleep says so (who is stuck): a first look
   * without waiting tells whether it will. */
  if (MPK__TRACING (~0u) && mpk__trace_wait_pending () && deadline > g_get_monotonic_time ())
    {
      struct timespec zero = { 0, 0 };
      int rc = ppoll (fds, n_fds, &zero, NULL);

      if (rc > 0 || (rc < 0 && errno != EINTR))
        return rc;
      mpk__trace_sleeping ();
    }
  for (;;)
    {
      struct timespec ts, *tsp = NULL;
      int rc;

      if (deadline != MPK__DEADLINE_NEVER)
        {
          /* Recomputed on every pass: after EINTR we wait only what is left. */
          gint64 left = MAX (deadline - g_get_monotonic_time (), 0);

          ts.tv_sec = left / G_USEC_PER_SEC;
          ts.tv_nsec = (left % G_USEC_PER_SEC) * 1000;
          tsp = &ts;
        }
      rc = ppoll (fds, n_fds, tsp, NULL);
      if (rc >= 0 || errno != EINTR)
        return rc;
    }
}

gboolean
mpk__wait_fd (int           fd,
              short         events,
              MpkDeadline   deadline,
              const char   *what,
              GError      **error)
{
  struct pollfd pfd = { .fd = fd, .events = events };
  int rc = mpk__poll (&pfd, 1, deadline);

  if (rc < 0)
    return mpk__set_error_from_errno (error, errno, what);
  if (rc == 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT, "%s: timed out", what);
      return FALSE;
    }
  if (pfd.revents & POLLNVAL)
    return mpk__set_error_from_errno (error, EBADF, what);
  return TRUE;
}
