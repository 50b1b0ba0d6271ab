/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-error.h: the MPK_ERROR domain, the one GError domain of libmpkit
 * (Python raises EOFError, BufferTooShort, queue.Empty, ...; we set codes). */
#ifndef MPK_ERROR_H
#define MPK_ERROR_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-error
 * @title: Errors and timeouts
 * @short_description: the MPK_ERROR domain, its codes, and the timeout
 *   values every blocking call takes
 *
 * Where Python raises an exception (EOFError, queue.Empty,
 * BufferTooShort, AuthenticationError, ...), an mpkit call returns %FALSE,
 * %NULL or -1 and sets a #GError whose domain is %MPK_ERROR and whose code
 * is an #MpkError. The error is set exactly when the call fails, never
 * when it succeeds; pass %NULL to ignore it. A caller bug (a %NULL object,
 * a call the object's state forbids by contract) is a critical instead, as
 * in GLib. The "Error codes" page lists, for each code, when it happens,
 * which calls set it and what Python raises there.
 *
 * Every call that may block takes `gint64 timeout_us`, microseconds:
 * %MPK_WAIT_FOREVER for Python's `None`, %MPK_NO_WAIT for `block=False`,
 * or a positive number. Deadlines are taken on the monotonic clock, and a
 * signal (EINTR) never cuts a wait short.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GVariant) item = NULL;
 *
 * item = mpk_queue_get (queue, 2 * G_USEC_PER_SEC, &error);
 *
 * if (item == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_EMPTY))
 *   printf ("nothing came in two seconds\n");   // Python: except queue.Empty
 * else if (item == NULL)
 *   g_printerr ("get failed: %s\n", error->message);
 * ]|
 */

/**
 * MPK_ERROR:
 *
 * The error domain of libmpkit: every #GError an mpkit call sets is in it,
 * with a code from #MpkError.
 */
#define MPK_ERROR (mpk_error_quark ())

/**
 * MpkError:
 * @MPK_ERROR_FAILED: an operating-system call failed; the message names it
 * @MPK_ERROR_CLOSED: the object was closed by this process (Python: "handle is closed")
 * @MPK_ERROR_TIMED_OUT: the timeout expired before the operation could finish
 * @MPK_ERROR_EOF: the peer closed its end at a message boundary (Python: EOFError)
 * @MPK_ERROR_TRUNCATED: the peer closed its end in the middle of a message
 * @MPK_ERROR_PROTOCOL: a frame from the peer is malformed (bad magic, bad type, ...)
 * @MPK_ERROR_TOO_BIG: a message is larger than the limit that applies to it
 * @MPK_ERROR_BUFFER_TOO_SHORT: the caller's buffer cannot hold the message (Python: BufferTooShort)
 * @MPK_ERROR_SPAWN: a child process could not be started
 * @MPK_ERROR_INVALID: an argument or call is invalid in the object's current state
 *   (Python: ValueError, or OSError for a read-only/write-only end)
 * @MPK_ERROR_PEER_CLOSED: the peer closed its end while we were sending (EPIPE)
 * @MPK_ERROR_EMPTY: a queue had no item before the timeout (Python: queue.Empty)
 * @MPK_ERROR_FULL: a queue had no free slot before the timeout (Python: queue.Full)
 * @MPK_ERROR_OWNER_DIED: a process died holding a lock; the state it guarded
 *   may be half-updated (pthread's EOWNERDEAD; Python's locks stay held forever)
 * @MPK_ERROR_PEER_DIED: a process this call depends on died (a JoinableQueue
 *   consumer that took an item and never called task_done)
 * @MPK_ERROR_TOO_MANY_TASK_DONE: task_done() was called more times than items
 *   were put (Python: ValueError "task_done() called too many times")
 * @MPK_ERROR_AUTH: authentication with a manager failed: a wrong key on
 *   either side, or a malformed handshake (Python: AuthenticationError)
 * @MPK_ERROR_REFUSED: nothing listens at the manager's address
 *   (Python: ConnectionRefusedError / FileNotFoundError)
 * @MPK_ERROR_DISCONNECTED: the manager went away during or between calls
 *   (Python raises EOFError, BrokenPipeError or ConnectionResetError)
 * @MPK_ERROR_INDEX: a manager list index is out of range (Python: IndexError)
 * @MPK_ERROR_KEY: a manager dict has no such key, or a namespace no such
 *   name (Python: KeyError / AttributeError)
 * @MPK_ERROR_REMOTE: the manager could not run the call: no such type or
 *   method, or arguments of the wrong type (Python: RemoteError)
 * @MPK_ERROR_STALE_HANDLE: a proxy names an object the manager no longer
 *   holds, or one from an earlier run of a restarted manager
 * @MPK_ERROR_CLOSE_REQUESTED: the peer messenger asked this side to close
 *   (mpk_messenger_send_close_request(); coproc's ResourceRequestedClose):
 *   a worker's loop tests for it and returns
 * @MPK_ERROR_BROKEN: a barrier is broken: aborted, reset while this
 *   process waited, timed out, its action failed, or a party died
 *   (Python: threading.BrokenBarrierError)
 *
 * Error codes in the %MPK_ERROR domain.
 */
typedef enum
{
  MPK_ERROR_FAILED,
  MPK_ERROR_CLOSED,
  MPK_ERROR_TIMED_OUT,
  MPK_ERROR_EOF,
  MPK_ERROR_TRUNCATED,
  MPK_ERROR_PROTOCOL,
  MPK_ERROR_TOO_BIG,
  MPK_ERROR_BUFFER_TOO_SHORT,
  MPK_ERROR_SPAWN,
  MPK_ERROR_INVALID,
  MPK_ERROR_PEER_CLOSED,
  MPK_ERROR_EMPTY,
  MPK_ERROR_FULL,
  MPK_ERROR_OWNER_DIED,
  MPK_ERROR_PEER_DIED,
  MPK_ERROR_TOO_MANY_TASK_DONE,
  MPK_ERROR_AUTH,
  MPK_ERROR_REFUSED,
  MPK_ERROR_DISCONNECTED,
  MPK_ERROR_INDEX,
  MPK_ERROR_KEY,
  MPK_ERROR_REMOTE,
  MPK_ERROR_STALE_HANDLE,
  MPK_ERROR_CLOSE_REQUESTED,
  MPK_ERROR_BROKEN,
} MpkError;

/**
 * MPK_WAIT_FOREVER:
 *
 * A timeout (in microseconds) meaning "block until the operation completes".
 * Other negative timeouts count as %MPK_NO_WAIT, as Python treats them.
 */
#define MPK_WAIT_FOREVER ((gint64) -1)

/**
 * MPK_NO_WAIT:
 *
 * A timeout meaning "do not block": succeed only if the operation can finish now.
 */
#define MPK_NO_WAIT ((gint64) 0)

MPK_API GQuark mpk_error_quark (void);

G_END_DECLS

#endif /* MPK_ERROR_H */
