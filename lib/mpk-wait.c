/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-wait.c: multiprocessing.connection.wait(): block until some of a mix of
 * connections and processes are ready. */
#include "mpk-private.h"

#include <errno.h>

/* The fd to poll for @object, or -1 when it is ready already (@ready set)
 * or has nothing to wait on. */
static int
object_wait_fd (gpointer object, gboolean *ready)
{
  MpkObjectHeader *header = object;

  *ready = FALSE;
  switch (header->type)
    {
    case MPK__OBJECT_CONNECTION:
      return mpk__connection_wait_fd (object, ready);
    case MPK__OBJECT_PROCESS:
      return mpk__process_wait_fd (object);
    default:
      g_critical ("mpk_wait: object %p is neither an MpkConnection nor an MpkProcess", object);
      return -1;
    }
}

/**
 * mpk_wait:
 * @objects: (array length=n_objects): #MpkConnection and #MpkProcess pointers
 * @n_objects: the number of @objects
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits until at least one object is ready, like Python's
 * `multiprocessing.connection.wait(objects, timeout)`. A connection is ready
 * when a receive would not block (a message, or the peer's end of file); a
 * process is ready once it has exited. Signals (EINTR) do not cut the wait
 * short.
 *
 * Returns: (transfer container): the ready objects in the order given (an
 *   empty array after the timeout), free with g_ptr_array_unref(); %NULL
 *   with @error set if poll(2) fails
 */
GPtrArray *
mpk_wait (gpointer  *objects,
          guint      n_objects,
          gint64     timeout_us,
          GError   **error)
{
  g_autofree struct pollfd *fds = g_new0 (struct pollfd, MAX (n_objects, 1));
  g_autofree gboolean *ready = g_new0 (gboolean, MAX (n_objects, 1));
  GPtrArray *result = g_ptr_array_new ();
  gboolean any_ready = FALSE;

  g_return_val_if_fail (objects != NULL || n_objects == 0, NULL);

  for (guint i = 0; i < n_objects; i++)
    {
      fds[i].fd = object_wait_fd (objects[i], &ready[i]);
      fds[i].events = POLLIN;
      any_ready |= ready[i];
    }
  /* Something is ready already: only look at the others, do not wait. */
  if (mpk__poll (fds, n_objects, any_ready ? g_get_monotonic_time ()
                                           : mpk__deadline_from_timeout (timeout_us)) < 0)
    {
      mpk__set_error_from_errno (error, errno, "poll");
      g_ptr_array_unref (result);
      return NULL;
    }
  for (guint i = 0; i < n_objects; i++)
    if (ready[i] || (fds[i].fd >= 0 && fds[i].revents != 0))
      g_ptr_array_add (result, objects[i]);
  return result;
}
