/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-worker.c: coproc's WorkerResource (seed 001): a process started with
 * one side of a messenger pair while the host keeps the other. Closing it
 * asks the worker to leave (a close request), waits for it while reading
 * what it still sends, and only then terminates one that stays. */
#include "mpk-messenger-private.h"

#include <errno.h>

/**
 * SECTION:mpk-worker
 * @title: MpkWorker
 * @short_description: a worker process with a messenger (coproc's WorkerResource)
 *
 * mpk_worker_new() makes the messenger pair; mpk_worker_start() forks the
 * worker, which runs its #MpkWorkerFunc with its side; the host talks to it
 * through mpk_worker_get_messenger(). The pair exists before the start, so
 * the host may send before the worker runs: the messages wait in the pipe.
 *
 * mpk_worker_close() is how a worker normally ends: a close request (which
 * the worker's next receive reports as %MPK_ERROR_CLOSE_REQUESTED once it
 * has had what was sent before), then a wait for the worker to return,
 * reading what it sends meanwhile into the host's messenger, where it can
 * still be received afterwards. coproc sends SIGTERM right after its close
 * request, which kills a worker before it can answer or flush its output;
 * here the signal comes only if the worker has not left when the timeout
 * expires. While the worker runs, the host's blocking receives also watch
 * its process: once it has ended, they hand over what it left in the pipe
 * and fail with %MPK_ERROR_PEER_CLOSED instead of waiting for ever.
 */

/* How long a terminated worker gets to die of SIGTERM before SIGKILL. */
#define TERMINATE_GRACE_US (2 * G_USEC_PER_SEC)
/* How long the worker waits, after its function returned, for the tail of
 * a message that did not fit into a full pipe to leave. */
#define WORKER_FLUSH_US (30 * G_USEC_PER_SEC)

struct _MpkWorker
{
  char            *name;
  MpkWorkerFunc    func;
  gpointer         user_data;
  GDestroyNotify   user_data_free;
  MpkMessenger    *host;      /* the host's side */
  MpkMessenger    *side;      /* the worker's side: freed in the host after the start */
  MpkProcess      *process;   /* NULL before the start */
  gboolean         joined;
};

/**
 * mpk_worker_new:
 * @name: (transfer none) (nullable): the worker process's name, copied
 *   (%NULL: Python's "Process-N")
 * @func: (scope notified): the worker's body
 * @user_data: (closure) (transfer full) (nullable): data for @func; owned
 *   by the worker when @user_data_free is given (but still the caller's
 *   if this call fails)
 * @user_data_free: (nullable): frees @user_data in mpk_worker_free()
 * @kind: the kind of both messengers
 * @error: return location for a #GError, or %NULL
 *
 * Creates a worker resource and its messenger pair, like coproc's
 * `WorkerResource(target, messenger_type)`; start it with
 * mpk_worker_start().
 *
 * Returns: (transfer full) (nullable): the worker, free with
 *   mpk_worker_free(); %NULL with @error set when the pipe cannot be made
 */
MpkWorker *
mpk_worker_new (const char       *name,
                MpkWorkerFunc     func,
                gpointer          user_data,
                GDestroyNotify    user_data_free,
                MpkMessengerKind  kind,
                GError          **error)
{
  MpkWorker *worker;
  MpkMessenger *side, *host;

  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mpk_messenger_new_pair (kind, &side, &host, error))
    return NULL;
  worker = g_new0 (MpkWorker, 1);
  worker->name = g_strdup (name);
  worker->func = func;
  worker->user_data = user_data;
  worker->user_data_free = user_data_free;
  worker->side = side;
  worker->host = host;
  return worker;
}

/* The worker process: its side only, then the body, then what is left of
 * its output. */
static int
worker_main (gpointer data)
{
  MpkWorker *worker = data;
  int rc;

  /* The host's copy belongs to the host: drop it unread and unwritten. */
  mpk__messenger_discard (g_steal_pointer (&worker->host));
  rc = worker->func (worker->side, worker->user_data);
  mpk_messenger_flush (worker->side, WORKER_FLUSH_US, NULL);
  mpk_messenger_free (g_steal_pointer (&worker->side));
  return rc;
}

/**
 * mpk_worker_start:
 * @worker: (transfer none): a #MpkWorker not started yet
 * @error: return location for a #GError, or %NULL
 *
 * Forks the worker process, which runs the worker function with its side
 * of the pair, coproc's `start()`. The host's side stays here.
 *
 * Returns: %TRUE on success; %FALSE with %MPK_ERROR_SPAWN or
 *   %MPK_ERROR_INVALID (started already)
 */
gboolean
mpk_worker_start (MpkWorker  *worker,
                  GError    **error)
{
  g_return_val_if_fail (worker != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (worker->process != NULL)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID, "the worker was started already");
      return FALSE;
    }
  worker->process = mpk_process_new (worker->name, worker_main, worker, NULL);
  if (!mpk_process_start (worker->process, error))
    {
      g_clear_pointer (&worker->process, mpk_process_unref);
      return FALSE;
    }
  /* Our copy of the worker's end would hide its EOF from us. */
  mpk__messenger_discard (g_steal_pointer (&worker->side));
  mpk__messenger_watch_process (worker->host, worker->process);
  return TRUE;
}

/**
 * mpk_worker_get_messenger:
 * @worker: (transfer none): a #MpkWorker
 *
 * The host's side of the pair, coproc's `messenger`: usable before the
 * start (messages wait in the pipe) and after the worker ended (what it
 * sent can still be received).
 *
 * Returns: (transfer none): the messenger, owned by @worker
 */
MpkMessenger *
mpk_worker_get_messenger (MpkWorker *worker)
{
  g_return_val_if_fail (worker != NULL, NULL);
  return worker->host;
}

/**
 * mpk_worker_get_process:
 * @worker: (transfer none): a #MpkWorker
 *
 * The worker's process object, to look at: its pid, name or exit code.
 * @worker owns it and drops its reference in mpk_worker_free(): take one
 * with mpk_process_ref() to keep it longer. End the worker with
 * mpk_worker_join() or mpk_worker_close(), not through the process: they
 * also read what the worker sends and tell the host's messenger that its
 * peer is gone.
 *
 * Returns: (transfer none) (nullable): the worker process (its pid, name,
 *   exit code), or %NULL before the start
 */
MpkProcess *
mpk_worker_get_process (MpkWorker *worker)
{
  g_return_val_if_fail (worker != NULL, NULL);
  return worker->process;
}

/**
 * mpk_worker_is_alive:
 * @worker: (transfer none): a #MpkWorker
 *
 * Whether the worker process has been started and has not ended yet:
 * mpk_process_is_alive() on its process. It reads nothing from the pipe:
 * mpk_worker_join() waits for the end, reading what the worker sends.
 *
 * Returns: %TRUE while the worker process runs
 */
gboolean
mpk_worker_is_alive (MpkWorker *worker)
{
  g_return_val_if_fail (worker != NULL, FALSE);
  return worker->process != NULL && mpk_process_is_alive (worker->process);
}

/* Waits until the worker has ended or @deadline, reading what it sends. */
static gboolean
wait_for_end (MpkWorker *worker, MpkDeadline deadline)
{
  while (mpk_process_is_alive (worker->process))
    {
      GError *local = NULL;

      mpk__messenger_pump (worker->host);
      if (!mpk__messenger_wait (worker->host, deadline, &local))
        {
          gboolean timed_out = g_error_matches (local, MPK_ERROR, MPK_ERROR_TIMED_OUT);

          g_error_free (local);
          if (timed_out)
            return !mpk_process_is_alive (worker->process);
          /* poll failed: fall back to joining without reading */
          return mpk_process_join (worker->process, MAX (deadline - g_get_monotonic_time (), 0));
        }
    }
  mpk__messenger_pump (worker->host);
  return TRUE;
}

static void
reap (MpkWorker *worker)
{
  mpk_process_join (worker->process, MPK_WAIT_FOREVER);
  /* What it sent is in the pipe: the host may still receive it, then
   * PEER_CLOSED (even if a process of its own still holds its end). */
  mpk__messenger_peer_ended (worker->host);
  worker->joined = TRUE;
}

/**
 * mpk_worker_join:
 * @worker: (transfer none): a started #MpkWorker
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * Waits for the worker to end on its own (no close request), reading what
 * it sends meanwhile into the host's messenger.
 *
 * Returns: %TRUE once it has ended (mpk_worker_get_exitcode()); %FALSE with
 *   %MPK_ERROR_TIMED_OUT (it still runs), or %MPK_ERROR_INVALID (not
 *   started)
 */
gboolean
mpk_worker_join (MpkWorker  *worker,
                 gint64      timeout_us,
                 GError    **error)
{
  g_return_val_if_fail (worker != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (worker->process == NULL)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID, "the worker was not started");
      return FALSE;
    }
  if (!worker->joined && !wait_for_end (worker, mpk__deadline_from_timeout (timeout_us)))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_TIMED_OUT, "the worker is still running");
      return FALSE;
    }
  if (!worker->joined)
    reap (worker);
  return TRUE;
}

/**
 * mpk_worker_close:
 * @worker: (transfer none): a #MpkWorker
 * @timeout_us: how long the worker may take to leave after the close
 *   request: microseconds, or %MPK_WAIT_FOREVER
 * @error: return location for a #GError, or %NULL
 *
 * Ends the worker: sends a close request, waits for the worker to return
 * (reading what it sends into the host's messenger), and terminates it
 * (SIGTERM, then SIGKILL) only if it has not left within @timeout_us.
 * coproc's `__exit__`/`terminate()` signal at once. Calling it again, or
 * on a worker that ended already, only reaps it; on a worker never
 * started it does nothing.
 *
 * Returns: %TRUE if the worker left on its own; %FALSE with
 *   %MPK_ERROR_TIMED_OUT if it had to be terminated (it has ended either way)
 */
gboolean
mpk_worker_close (MpkWorker  *worker,
                  gint64      timeout_us,
                  GError    **error)
{
  MpkDeadline deadline;

  g_return_val_if_fail (worker != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (worker->process == NULL || worker->joined)
    return TRUE;
  deadline = mpk__deadline_from_timeout (timeout_us);
  if (mpk_process_is_alive (worker->process))
    {
      GError *local = NULL;

      /* A worker that is gone, or a pipe that stays full, is for the wait
       * below to find out. */
      if (!mpk_messenger_send_close_request (worker->host, timeout_us, &local))
        g_error_free (local);
    }
  if (!wait_for_end (worker, deadline))
    {
      mpk_process_terminate (worker->process, NULL);
      if (!mpk_process_join (worker->process, TERMINATE_GRACE_US))
        mpk_process_kill (worker->process, NULL);
      reap (worker);
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                   "the worker %s did not leave after the close request: it was terminated",
                   mpk_process_get_name (worker->process));
      return FALSE;
    }
  reap (worker);
  return TRUE;
}

/**
 * mpk_worker_get_exitcode:
 * @worker: (transfer none): a #MpkWorker
 *
 * The worker's exit code, like Python's `Process.exitcode`: what its
 * #MpkWorkerFunc returned, once the process has ended (this call reaps an
 * ended process, as mpk_process_get_exitcode() does).
 *
 * Returns: the worker's exit code as mpk_process_get_exitcode() gives it
 *   (minus the signal number if one ended it), or %MPK_EXITCODE_NONE while
 *   it runs or before the start
 */
int
mpk_worker_get_exitcode (MpkWorker *worker)
{
  g_return_val_if_fail (worker != NULL, MPK_EXITCODE_NONE);
  return worker->process != NULL ? mpk_process_get_exitcode (worker->process)
                                 : MPK_EXITCODE_NONE;
}

/**
 * mpk_worker_free:
 * @worker: (nullable) (transfer full): a #MpkWorker
 *
 * Closes a worker still running (mpk_worker_close() with
 * %MPK_WORKER_CLOSE_TIMEOUT), then frees it and the host's messenger.
 */
void
mpk_worker_free (MpkWorker *worker)
{
  if (worker == NULL)
    return;
  if (worker->process != NULL && !worker->joined)
    mpk_worker_close (worker, MPK_WORKER_CLOSE_TIMEOUT, NULL);
  g_clear_pointer (&worker->process, mpk_process_unref);
  mpk__messenger_discard (g_steal_pointer (&worker->side));
  mpk_messenger_free (g_steal_pointer (&worker->host));
  if (worker->user_data_free != NULL)
    worker->user_data_free (worker->user_data);
  g_free (worker->name);
  g_free (worker);
}
