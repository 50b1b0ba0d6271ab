/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-wait.c: multiprocessing.connection.wait(): block until some of a mix of
 * connections and processes are ready. */
#include "mpk-objects-private.h"

#include <errno.h>

/* Finds what to poll for @objects[@i]: sets *@fd (or -1 with *@ready when
 * it is ready already). FALSE with @error set if it cannot be waited on;
 * FALSE with a critical for something that is no mpkit object. */
static gboolean
object_wait_fd (gpointer *objects, guint i, int *fd, gboolean *ready, GError **error)
{
  MpkObjectHeader *header = objects[i];

  *ready = FALSE;
  *fd = -1;
  switch (header->type)
    {
    case MPK__OBJECT_CONNECTION:
      /* Python's wait() raises here (fileno() of a closed handle); calling
       * it ready would send the caller into a receive that fails anyway,
       * and a loop that waits again would spin. */
      if (mpk_connection_is_closed (objects[i]))
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_CLOSED,
                       "mpk_wait: object %u is a connection this process closed", i);
          return FALSE;
        }
      *fd = mpk__connection_wait_fd (objects[i], ready);
      return TRUE;
    case MPK__OBJECT_PROCESS:
      /* Not started or closed: no sentinel, it could never become ready
       * (Python: ValueError from Process.sentinel). */
      *fd = mpk__process_wait_fd (objects[i]);
      if (*fd < 0)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "mpk_wait: object %u is a process that has not been started or "
                       "is closed", i);
          return FALSE;
        }
      return TRUE;
    default:
      g_critical ("mpk_wait: object %u (%p) is neither an MpkConnection nor an MpkProcess",
                  i, objects[i]);
      return FALSE;
    }
}

/**
 * mpk_wait:
 * @objects: (transfer none) (array length=n_objects) (nullable): the
 *   #MpkConnection and #MpkProcess pointers to wait on (%NULL only when
 *   @n_objects is 0)
 * @n_objects: the number of @objects
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits until at least one object is ready, like Python's
 * `multiprocessing.connection.wait(objects, timeout)`. A connection is ready
 * when a receive would not block (a message, the peer's end of file, or a
 * bad frame that the receive will report); a process is ready once it has
 * exited. Signals (EINTR) do not cut the wait short.
 *
 * A program built around a GLib main loop waits there instead, with
 * mpk_connection_create_source() and mpk_process_create_source(): a watch
 * on mpk_connection_fileno() misses messages already buffered.
 *
 * An object that can never become ready is an error, as Python raises for
 * it, rather than "ready" or a wait that never ends: a connection closed by
 * this process (mpk_connection_close()) gives %MPK_ERROR_CLOSED, a process
 * not started or closed gives %MPK_ERROR_INVALID. Nothing is waited for
 * then. A %NULL element, or a pointer to something else, is a caller bug: a
 * critical and %NULL.
 *
 * Returns: (transfer container) (element-type gpointer): the ready
 *   objects, in the order given (an empty array after the timeout); the
 *   array is the caller's, free it with g_ptr_array_unref(), its elements
 *   are the caller's own @objects, not new references; %NULL
 *   with @error set for %MPK_ERROR_CLOSED, %MPK_ERROR_INVALID, or
 *   %MPK_ERROR_FAILED if poll(2) fails
 */
GPtrArray *
mpk_wait (gpointer  *objects,
          guint      n_objects,
          gint64     timeout_us,
          GError   **error)
{
  g_autofree struct pollfd *fds = NULL;
  g_autofree gboolean *ready = NULL;
  GPtrArray *result;
  gboolean any_ready = FALSE;
  MpkTraceWaiting waiting;
  int rc;

  g_return_val_if_fail (objects != NULL || n_objects == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  for (guint i = 0; i < n_objects; i++)
    g_return_val_if_fail (objects[i] != NULL, NULL);

  fds = g_new0 (struct pollfd, MAX (n_objects, 1));
  ready = g_new0 (gboolean, MAX (n_objects, 1));
  for (guint i = 0; i < n_objects; i++)
    {
      if (!object_wait_fd (objects, i, &fds[i].fd, &ready[i], error))
        return NULL;
      fds[i].events = POLLIN;
      any_ready |= ready[i];
    }
  /* Something is ready already: only look at the others, do not wait. */
  if (MPK__TRACING (~0u))
    mpk__trace_wait_enter (&waiting, NULL, "wait");
  rc = mpk__poll (fds, n_objects, any_ready ? g_get_monotonic_time ()
                                            : mpk__deadline_from_timeout (timeout_us));
  if (MPK__TRACING (~0u))
    mpk__trace_wait_leave (&waiting);
  if (rc < 0)
    {
      mpk__set_error_from_errno (error, errno, "poll");
      return NULL;
    }
  result = g_ptr_array_new ();
  for (guint i = 0; i < n_objects; i++)
    if (ready[i] || (fds[i].fd >= 0 && fds[i].revents != 0))
      g_ptr_array_add (result, objects[i]);
  return result;
}
