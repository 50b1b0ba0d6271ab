/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-program.c: valkka's MainContext (issue 15, seed 003): processes
 * first, then threads, one GLib main loop over every process's pipe and
 * SIGINT/SIGTERM, and one close, in order, that may be called any number
 * of times (valkka's tutorial closes twice, research §3.4). */

#include "mpk-msgproc-private.h"

#include <signal.h>
#include <glib-unix.h>

/**
 * SECTION:mpk-program
 * @title: Program
 * @short_description: the main program's context, valkka's MainContext:
 *   start processes then threads, multiplex their pipes, close in order
 *
 * An #MpkProgram organises a main program built from message processes,
 * as valkka's `MainContext` does (renamed so it is not mistaken for a
 * #GMainContext). Add the processes (mpk_program_add_process()) and the
 * threads (mpk_program_add_thread()), then mpk_program_run():
 *
 * 1. it starts every process, in the order added, then every thread:
 *    forking after threads exist would copy a process whose other threads
 *    vanished mid-step, so valkka insists on this order too;
 * 2. it runs a #GMainLoop on its own context, which watches every
 *    process's pipe (each message, handler error and end goes to the
 *    function of mpk_program_set_message_func()) and SIGINT and SIGTERM;
 * 3. when mpk_program_quit() is called, or a signal comes, it closes:
 *    cancels and joins the threads, then stops the processes in reverse
 *    order (each gets a stop request and a timeout before SIGTERM).
 *
 * mpk_program_close() can also be called by hand, and more than once.
 * Unlike valkka's `stopThread()` (VD15), nothing here waits on a pipe
 * nobody reads. Add timers and other sources of your own to
 * mpk_program_get_main_context().
 */

/**
 * MpkProgram:
 *
 * A main program's processes, threads and main loop. Free it with
 * mpk_program_free() (`g_autoptr(MpkProgram)` works), which closes it.
 */

typedef struct
{
  MpkProgram           *program;
  char                 *name;
  MpkProgramThreadFunc  func;
  gpointer              data;
  GThread              *thread;
} ProgramThread;

struct _MpkProgram
{
  char                  *name;
  GPtrArray             *processes;   /* MpkMessageProcess, owned */
  GPtrArray             *threads;     /* ProgramThread */
  GPtrArray             *sources;     /* GSource, owned */
  MpkProgramMessageFunc  message_func;
  gpointer               message_data;
  gint64                 stop_timeout;
  GMainContext          *context;
  GMainLoop             *loop;
  GCancellable          *cancellable;
  gboolean               started;
  gboolean               closed;
  int                    signal;
};

static void
program_thread_free (gpointer data)
{
  ProgramThread *pt = data;

  g_free (pt->name);
  g_free (pt);
}

/**
 * mpk_program_new:
 * @name: (transfer none) (nullable): the program's name, its log domain
 *   (valkka's class name), or %NULL for "MainContext"
 *
 * Makes a program, valkka's `MainContext()` before it starts anything.
 *
 * Returns: (transfer full): a program with no processes and no threads
 */
MpkProgram *
mpk_program_new (const char *name)
{
  MpkProgram *program = g_new0 (MpkProgram, 1);

  program->name = g_strdup (name != NULL ? name : "MainContext");
  program->processes = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_message_process_unref);
  program->threads = g_ptr_array_new_with_free_func (program_thread_free);
  program->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  program->stop_timeout = MPK_PROGRAM_STOP_TIMEOUT;
  program->context = g_main_context_new ();
  program->loop = g_main_loop_new (program->context, FALSE);
  program->cancellable = g_cancellable_new ();
  return program;
}

/**
 * mpk_program_free:
 * @program: (transfer full) (nullable): a program
 *
 * Closes @program (if that has not been done) and frees it.
 */
void
mpk_program_free (MpkProgram *program)
{
  if (program == NULL)
    return;
  mpk_program_close (program, NULL);
  g_ptr_array_unref (program->sources);
  g_ptr_array_unref (program->threads);
  g_ptr_array_unref (program->processes);
  g_main_loop_unref (program->loop);
  g_main_context_unref (program->context);
  g_object_unref (program->cancellable);
  g_free (program->name);
  g_free (program);
}

/**
 * mpk_program_add_process:
 * @program: (transfer none): a program, not started
 * @mp: (transfer none): a message process, not started; the program
 *   takes a reference
 *
 * valkka's `startProcesses()`, one process at a time: @mp will be started
 * by mpk_program_run() and stopped by mpk_program_close().
 */
void
mpk_program_add_process (MpkProgram        *program,
                         MpkMessageProcess *mp)
{
  g_return_if_fail (program != NULL);
  g_return_if_fail (mp != NULL);
  g_return_if_fail (!program->started);

  g_ptr_array_add (program->processes, mpk_message_process_ref (mp));
}

/**
 * mpk_program_add_thread:
 * @program: (transfer none): a program, not started
 * @name: (transfer none): the thread's name
 * @func: the thread's body
 * @user_data: (transfer none) (nullable): data for @func
 *
 * valkka's `startThreads()`, one thread at a time: started after every
 * process, cancelled and joined first when the program closes.
 */
void
mpk_program_add_thread (MpkProgram           *program,
                        const char           *name,
                        MpkProgramThreadFunc  func,
                        gpointer              user_data)
{
  ProgramThread *pt;

  g_return_if_fail (program != NULL);
  g_return_if_fail (name != NULL);
  g_return_if_fail (func != NULL);
  g_return_if_fail (!program->started);

  pt = g_new0 (ProgramThread, 1);
  pt->program = program;
  pt->name = g_strdup (name);
  pt->func = func;
  pt->data = user_data;
  g_ptr_array_add (program->threads, pt);
}

/**
 * mpk_program_set_message_func:
 * @program: (transfer none): a program
 * @func: (nullable): called for what the processes send
 * @user_data: (transfer none) (nullable): data for @func
 *
 * Sets what handles the messages of every process (without one they are
 * read and dropped).
 */
void
mpk_program_set_message_func (MpkProgram            *program,
                              MpkProgramMessageFunc  func,
                              gpointer               user_data)
{
  g_return_if_fail (program != NULL);

  program->message_func = func;
  program->message_data = user_data;
}

/**
 * mpk_program_set_stop_timeout:
 * @program: (transfer none): a program
 * @timeout_us: how long each process may take to stop when the program
 *   closes, or %MPK_WAIT_FOREVER
 *
 * The default is %MPK_PROGRAM_STOP_TIMEOUT.
 */
void
mpk_program_set_stop_timeout (MpkProgram *program,
                              gint64      timeout_us)
{
  g_return_if_fail (program != NULL);

  program->stop_timeout = timeout_us;
}

static gpointer
thread_main (gpointer data)
{
  ProgramThread *pt = data;

  pt->func (pt->program, pt->program->cancellable, pt->data);
  return NULL;
}

static gboolean
on_message (MpkMessageProcess *mp,
            MpkCommand        *message,
            const GError      *error,
            gpointer           user_data)
{
  MpkProgram *program = user_data;

  if (program->message_func != NULL)
    program->message_func (program, mp, message, error, program->message_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  MpkProgram *program = user_data;

  /* The source knows which signal only through its own data. */
  g_main_loop_quit (program->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer user_data)
{
  ((MpkProgram *) user_data)->signal = SIGINT;
  return on_signal (user_data);
}

static gboolean
on_sigterm (gpointer user_data)
{
  ((MpkProgram *) user_data)->signal = SIGTERM;
  return on_signal (user_data);
}

static void
attach (MpkProgram *program,
        GSource    *source)
{
  g_source_attach (source, program->context);
  g_ptr_array_add (program->sources, source);
}

/**
 * mpk_program_start:
 * @program: (transfer none): a program, not started
 * @error: return location for a #GError, or %NULL
 *
 * The first half of mpk_program_run(): starts the processes, in the order
 * added, then the threads, and sets up the watches (the processes' pipes,
 * SIGINT and SIGTERM, which from now on stop the loop instead of the
 * program). Called by mpk_program_run() if it has not been.
 *
 * Returns: %TRUE; %FALSE with the error of the process that could not
 *   start (those started before it are stopped again)
 */
gboolean
mpk_program_start (MpkProgram  *program,
                   GError     **error)
{
  g_return_val_if_fail (program != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (program->started)
    return TRUE;
  program->started = TRUE;
  for (guint i = 0; i < program->processes->len; i++)
    {
      MpkMessageProcess *mp = g_ptr_array_index (program->processes, i);
      GSource *source;

      if (!mpk_message_process_start (mp, error))
        {
          g_ptr_array_set_size (program->processes, i + 1);
          g_ptr_array_remove_index (program->processes, i);
          mpk_program_close (program, NULL);
          return FALSE;
        }
      source = mpk_message_process_create_source (mp, NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (on_message), program, NULL);
      attach (program, source);
    }
  for (guint i = 0; i < program->threads->len; i++)
    {
      ProgramThread *pt = g_ptr_array_index (program->threads, i);

      pt->thread = g_thread_new (pt->name, thread_main, pt);
    }
  {
    GSource *source = g_unix_signal_source_new (SIGINT);

    g_source_set_callback (source, on_sigint, program, NULL);
    attach (program, source);
    source = g_unix_signal_source_new (SIGTERM);
    g_source_set_callback (source, on_sigterm, program, NULL);
    attach (program, source);
  }
  return TRUE;
}

/**
 * mpk_program_run:
 * @program: (transfer none): a program
 * @error: return location for a #GError, or %NULL
 *
 * valkka's `MainContext()` then `__call__()` then `close()`: starts
 * everything (mpk_program_start()), runs the main loop until
 * mpk_program_quit() or SIGINT/SIGTERM (mpk_program_get_signal() says
 * which), then closes everything in order (mpk_program_close()).
 *
 * Returns: %TRUE if everything started and every process stopped by
 *   itself; %FALSE with the error of mpk_program_start() or
 *   mpk_program_close()
 */
gboolean
mpk_program_run (MpkProgram  *program,
                 GError     **error)
{
  g_return_val_if_fail (program != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mpk_program_start (program, error))
    return FALSE;
  if (!program->closed)
    {
      g_main_context_push_thread_default (program->context);
      g_main_loop_run (program->loop);
      g_main_context_pop_thread_default (program->context);
    }
  return mpk_program_close (program, error);
}

/**
 * mpk_program_quit:
 * @program: (transfer none): a program
 *
 * Ends mpk_program_run()'s loop, which then closes the program. Any
 * thread may call it.
 */
void
mpk_program_quit (MpkProgram *program)
{
  g_return_if_fail (program != NULL);

  g_main_loop_quit (program->loop);
}

/**
 * mpk_program_close:
 * @program: (transfer none): a program
 * @error: return location for a #GError, or %NULL
 *
 * valkka's `close()`: cancels the threads and joins them, then stops the
 * processes in the reverse order of their start
 * (mpk_message_process_stop() with the stop timeout). A second call does
 * nothing.
 *
 * Returns: %TRUE if every process stopped by itself; %FALSE with
 *   %MPK_ERROR_TIMED_OUT naming one that had to be terminated
 */
gboolean
mpk_program_close (MpkProgram  *program,
                   GError     **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (program != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (program->closed)
    return TRUE;
  program->closed = TRUE;
  g_cancellable_cancel (program->cancellable);
  for (guint i = 0; i < program->threads->len; i++)
    {
      ProgramThread *pt = g_ptr_array_index (program->threads, i);

      if (pt->thread != NULL)
        g_thread_join (g_steal_pointer (&pt->thread));
    }
  for (guint i = 0; i < program->sources->len; i++)
    g_source_destroy (g_ptr_array_index (program->sources, i));
  for (guint i = program->processes->len; i > 0; i--)
    {
      MpkMessageProcess *mp = g_ptr_array_index (program->processes, i - 1);
      g_autoptr(GError) local = NULL;

      if (mpk_message_process_get_process (mp) == NULL)
        continue;
      if (!mpk_message_process_stop (mp, program->stop_timeout, &local) && ok)
        {
          ok = FALSE;
          g_propagate_error (error, g_steal_pointer (&local));
        }
    }
  return ok;
}

/**
 * mpk_program_get_signal:
 * @program: (transfer none): a program
 *
 * Which signal ended mpk_program_run()'s loop.
 *
 * Returns: SIGINT or SIGTERM if one ended the loop, else 0
 */
int
mpk_program_get_signal (MpkProgram *program)
{
  g_return_val_if_fail (program != NULL, 0);

  return program->signal;
}

/**
 * mpk_program_get_main_context:
 * @program: (transfer none): a program
 *
 * The context mpk_program_run() iterates (its thread-default context
 * while it runs): attach timers and other sources here.
 *
 * Returns: (transfer none): the program's context
 */
GMainContext *
mpk_program_get_main_context (MpkProgram *program)
{
  g_return_val_if_fail (program != NULL, NULL);

  return program->context;
}

/**
 * mpk_program_get_name:
 * @program: (transfer none): a program
 *
 * The program's name, its log domain.
 *
 * Returns: (transfer none): the name given at creation
 */
const char *
mpk_program_get_name (MpkProgram *program)
{
  g_return_val_if_fail (program != NULL, NULL);

  return program->name;
}
