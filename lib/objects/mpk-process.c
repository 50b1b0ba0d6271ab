/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-process.c: multiprocessing.Process with the fork start method. Names,
 * exit codes, daemons, sentinels, close() and the exit-time clean-up follow
 * Python (Lib/multiprocessing/process.py, popen_fork.py, util.py). */
#include "mpk-objects-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum
{
  STATE_INITIAL,
  STATE_STARTED,
  STATE_CLOSED,
} ProcessState;

struct _MpkProcess
{
  MpkObjectHeader object;
  gint            ref_count;       /* atomic */
  ProcessState    state;
  char           *name;
  char           *identity;        /* "1:2": the k-th child of the k-th child... */
  MpkProcessFunc  func;
  gpointer        user_data;
  GDestroyNotify  user_data_free;
  gboolean        daemon;
  pid_t           creator;         /* only this process may start/join it */
  GPid            pid;             /* 0 until started */
  int             sentinel;        /* pidfd, or the read end of a death pipe */
  int             exitcode;        /* MPK_EXITCODE_NONE until reaped */
  guint64         signal_event;    /* tracer: our last proc.signal to it, for its end */
};

/* What this process knows about itself. Reset in every forked child. */
static struct
{
  char      *name;            /* owned; NULL means "MainProcess" */
  char      *identity;        /* NULL in the main process */
  guint      counter;         /* children created so far, for default names */
  gboolean   daemon;
  pid_t      parent_pid;      /* 0 in the main process */
  int        death_fd;        /* write end of our death pipe (fallback sentinel) */
  GPtrArray *children;        /* started, not yet reaped; holds a ref each */
  GPtrArray *inherited;       /* in a child: the parent's children, never touched */
  gboolean   atexit_done;
} self = { NULL, NULL, 0, FALSE, 0, -1, NULL, NULL, FALSE };

gboolean mpk__process_fail_setup_for_testing = FALSE;

/* Python's name for the main process; children are "Process-N[:M...]". */
/**
 * mpk_current_process_get_name:
 *
 * The name of the calling process, Python's `current_process().name`:
 * "MainProcess" in a program's first process, and in a child started with
 * mpk_process_start() the name of its #MpkProcess (renamed with it by
 * mpk_process_set_name() called in the child).
 *
 * Returns: (transfer none): the name, valid until the process is renamed
 */
const char *
mpk_current_process_get_name (void)
{
  return self.name != NULL ? self.name : "MainProcess";
}

/**
 * mpk_current_process_get_daemon:
 *
 * Whether the calling process is daemonic, Python's
 * `current_process().daemon`: %FALSE in the main process, and in a child
 * the flag its #MpkProcess had when it was started. A daemonic process may
 * not start children (mpk_process_start() fails with %MPK_ERROR_INVALID).
 *
 * Returns: %TRUE in a daemonic process
 */
gboolean
mpk_current_process_get_daemon (void)
{
  return self.daemon;
}

/**
 * mpk_current_process_get_pid:
 *
 * The calling process's pid, Python's `current_process().pid` (with
 * mpk_current_process_get_name() and mpk_current_process_get_daemon(), the
 * handle Python's `current_process()` gives; mpk_cpu_count() is
 * `cpu_count()`).
 *
 * Returns: the pid, as getpid() gives it
 */
GPid
mpk_current_process_get_pid (void)
{
  return (GPid) mpk__wire_pid ();
}

/**
 * mpk_parent_process_get_pid:
 *
 * The pid of the calling process's parent, as Python's
 * `parent_process().pid`. It is the pid the parent had when it started
 * this process: if the parent has died since, it is not updated (see
 * mpk_process_set_daemon() for children that should end with their
 * parent).
 *
 * Returns: the pid of the process that started this one through
 *   mpk_process_start(), or 0 in a process mpkit did not start
 *   (Python's `parent_process()` is None there)
 */
GPid
mpk_parent_process_get_pid (void)
{
  return self.parent_pid;
}

/**
 * mpk_process_new:
 * @name: (transfer none) (nullable): the name, copied; %NULL gives
 *   Python's default "Process-N" (or "Process-N:M" in a child)
 * @func: the child's body; its return value is the exit code
 * @user_data: (transfer full) (nullable): passed to @func in the child;
 *   owned by the process object when @user_data_free is given
 * @user_data_free: (nullable): frees @user_data when the last reference
 *   to the process object is dropped
 *
 * Creates a process object, like `multiprocessing.Process(target=...)`.
 * Nothing runs until mpk_process_start(). The daemon flag starts as the
 * current process's own, as in Python.
 *
 * Returns: (transfer full): the process, free with mpk_process_unref()
 */
MpkProcess *
mpk_process_new (const char      *name,
                 MpkProcessFunc   func,
                 gpointer         user_data,
                 GDestroyNotify   user_data_free)
{
  MpkProcess *process;

  g_return_val_if_fail (func != NULL, NULL);

  process = g_new0 (MpkProcess, 1);
  mpk__trace_object_init (&process->object, MPK__OBJECT_PROCESS);
  process->ref_count = 1;
  process->state = STATE_INITIAL;
  process->identity = self.identity != NULL
                      ? g_strdup_printf ("%s:%u", self.identity, ++self.counter)
                      : g_strdup_printf ("%u", ++self.counter);
  process->name = name != NULL ? g_strdup (name) : g_strconcat ("Process-", process->identity, NULL);
  process->func = func;
  process->user_data = user_data;
  process->user_data_free = user_data_free;
  process->daemon = self.daemon;
  process->creator = getpid ();
  process->sentinel = -1;
  process->exitcode = MPK_EXITCODE_NONE;
  return process;
}

/**
 * mpk_process_ref:
 * @process: (transfer none): a #MpkProcess
 *
 * Takes a reference on @process. The list of running children (see
 * mpk_active_children()) holds one from mpk_process_start() until the
 * child is reaped, so dropping yours never loses a running child.
 *
 * Returns: (transfer full): @process
 */
MpkProcess *
mpk_process_ref (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, NULL);
  g_atomic_int_inc (&process->ref_count);
  return process;
}

/**
 * mpk_process_unref:
 * @process: (transfer full): a #MpkProcess
 *
 * Drops a reference. The last one closes the sentinel, frees the user data
 * with the #GDestroyNotify given to mpk_process_new(), and frees the
 * object. It neither waits for nor signals the child: a running child stays
 * referenced (and is reaped) by this process's list of children.
 */
void
mpk_process_unref (MpkProcess *process)
{
  g_return_if_fail (process != NULL);

  if (!g_atomic_int_dec_and_test (&process->ref_count))
    return;
  /* A started child is in self.children (with a ref) until it is reaped. */
  if (process->sentinel >= 0)
    close (process->sentinel);
  if (process->user_data_free != NULL)
    process->user_data_free (process->user_data);
  g_free (process->name);
  g_free (process->identity);
  g_free (process);
}

/* Records how the child ended: its exit status, or minus the signal. */
static void
set_exitcode (MpkProcess *process, int status)
{
  if (WIFSIGNALED (status))
    process->exitcode = -WTERMSIG (status);
  else
    process->exitcode = WEXITSTATUS (status);
  if (self.children != NULL)
    g_ptr_array_remove_fast (self.children, process);   /* may free @process */
}

/* Reaps @process if it has exited. Returns TRUE once it has an exit code. */
static gboolean
try_reap (MpkProcess *process, gboolean block)
{
  int status;
  pid_t rc;

  if (process->exitcode != MPK_EXITCODE_NONE)
    return TRUE;
  /* Only the creator can reap; to anyone else (the process itself, a
   * sibling) it is alive. waitpid (0) would reap a whole process group. */
  if (process->creator != getpid () || process->pid <= 0)
    return FALSE;
  do
    rc = waitpid (process->pid, &status, block ? 0 : WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return FALSE;
  if (rc < 0)
    {
      /* Someone else reaped it (waitpid(-1) elsewhere): it is gone, its
       * status is lost. Report 255 rather than pretend it still runs. */
      g_warning ("process %s (pid %d) was reaped by someone else: %s",
                 process->name, (int) process->pid, g_strerror (errno));
      status = 255 << 8;
    }
  if (MPK__TRACING (MPK__TRACE_PROC))
    mpk__trace_reaped (process->pid, status, rc < 0,
                       WIFSIGNALED (status) ? process->signal_event : 0);
  mpk_process_ref (process);
  set_exitcode (process, status);
  mpk_process_unref (process);
  return TRUE;
}

/* Reaps every finished child, so none stays a zombie (Python's _cleanup). */
static void
reap_finished (void)
{
  for (guint i = self.children != NULL ? self.children->len : 0; i > 0; i--)
    try_reap (g_ptr_array_index (self.children, i - 1), FALSE);
}

/* Python's util._exit_function: terminate daemonic children, join the rest. */
static void
exit_function (void)
{
  g_autoptr(GPtrArray) children = NULL;

  if (self.children == NULL || self.children->len == 0)
    return;         /* the common case in a child: nothing to allocate or touch */
  children = mpk_active_children ();

  for (guint i = 0; i < children->len; i++)
    {
      MpkProcess *child = g_ptr_array_index (children, i);
      if (child->daemon)
        mpk_process_terminate (child, NULL);
    }
  for (guint i = 0; i < children->len; i++)
    mpk_process_join (g_ptr_array_index (children, i), MPK_WAIT_FOREVER);
}

static int
pidfd_open (pid_t pid)
{
#ifdef SYS_pidfd_open
  return syscall (SYS_pidfd_open, pid, 0);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* Whether the kernel has pidfds (Linux 5.3; not under valgrind). Only the
 * kernel's answer is remembered: a probe that failed for want of a
 * descriptor or memory says nothing about the kernel, and remembering it
 * would leave every later start on the fallback pipe. */
static gboolean
have_pidfd (void)
{
  static int have = -1;

  if (have < 0)
    {
      int fd = pidfd_open (getpid ());

      if (fd >= 0)
        close (fd);
      else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
        return FALSE;      /* this start uses the pipe; the next one asks again */
      have = fd >= 0;
    }
  return have;
}

/* In any forked child, even one made by a plain fork(): the parent's
 * children are not ours. Kept, not freed: freeing would run their destroy
 * notifies in the wrong process. */
static void
process_after_fork_child (void)
{
  self.inherited = self.children;
  self.children = NULL;
  self.counter = 0;
}

__attribute__ ((constructor)) static void
process_init (void)
{
  pthread_atfork (NULL, NULL, process_after_fork_child);
}

/* The daemon's watch on its parent when PR_SET_PDEATHSIG cannot be used
 * (see watch_parent). Set once, in the child, before the thread starts. */
static struct
{
  pid_t parent;
  int   pidfd;     /* a pidfd of the parent, or -1: then getppid() once a second */
} parent_watch = { 0, -1 };

/* The watcher thread: sleeps until the parent has exited, then sends this
 * process the SIGTERM that PR_SET_PDEATHSIG would have sent. All signals
 * are blocked here, so the SIGTERM goes to the other threads, as a kill(1)
 * would. */
static void *
parent_watch_thread (void *data)
{
  struct pollfd pfd = { parent_watch.pidfd, POLLIN, 0 };

  for (;;)
    {
      if (pfd.fd >= 0)
        {
          int rc = poll (&pfd, 1, -1);

          if (rc > 0)
            break;
          if (rc < 0 && errno != EINTR)
            pfd.fd = -1;                /* cannot happen; fall back to polling */
        }
      else
        {
          if (getppid () != parent_watch.parent)
            break;
          g_usleep (G_USEC_PER_SEC);
        }
    }
  kill (getpid (), SIGTERM);
  return NULL;
}

/* In a daemonic child: arranges a SIGTERM for the moment @parent dies, even
 * by SIGKILL, like the SIGTERM its normal exit sends (exit_function).
 *
 * The kernel's PR_SET_PDEATHSIG fires when the *thread* that forked us
 * exits, not the process: set from a child of a helper thread, it would kill
 * the daemon as soon as that thread ended while the parent goes on. So it is
 * used only when the main thread forked (@forked_by_main_thread); otherwise a
 * small thread in the child waits on a pidfd of the parent instead.
 *
 * Closes the race with a parent that died before the watch was in place:
 * then getppid() has already changed. Returns FALSE with errno set if the
 * watch cannot be set up or the parent is gone. */
static gboolean
watch_parent (pid_t parent, gboolean forked_by_main_thread)
{
  if (forked_by_main_thread)
    {
      if (prctl (PR_SET_PDEATHSIG, SIGTERM) < 0)
        return FALSE;
    }
  else
    {
      sigset_t all, old;
      pthread_attr_t attr;
      pthread_t thread;
      int rc;

      parent_watch.parent = parent;
      parent_watch.pidfd = pidfd_open (parent);   /* close-on-exec; -1: poll getppid() */
      sigfillset (&all);
      pthread_sigmask (SIG_SETMASK, &all, &old);
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize (&attr, MAX (PTHREAD_STACK_MIN, 64 * 1024));
      rc = pthread_create (&thread, &attr, parent_watch_thread, NULL);
      pthread_attr_destroy (&attr);
      pthread_sigmask (SIG_SETMASK, &old, NULL);
      if (rc != 0)
        {
          errno = rc;
          return FALSE;
        }
    }
  /* The parent may have died before the watch began: no signal would come.
   * (A pidfd opened after that would name a dead or reused pid, so this
   * check comes after pidfd_open, too.) */
  if (getppid () != parent)
    {
      errno = ESRCH;
      return FALSE;
    }
  return TRUE;
}

/* The name ps and top show (the kernel's comm, at most 15 bytes): a
 * forked child would otherwise be called like its parent ("lab"), and a
 * hung lab's processes could not be told apart. */
static void
show_name (const char *name)
{
  char comm[16];

  g_strlcpy (comm, name, sizeof comm);
  prctl (PR_SET_NAME, (unsigned long) comm, 0, 0, 0);
}

/* Runs in the child: becomes @process, reports setup failures through
 * @status_fd (close-on-exec, closed on success), runs the body, and leaves
 * through _exit() so the parent's atexit handlers and stdio buffers are not
 * run or flushed a second time. */
G_GNUC_NORETURN static void
child_main (MpkProcess *process, int status_fd, int death_fd, pid_t parent,
            gboolean forked_by_main_thread)
{
  int saved_errno = 0;
  int devnull, rc;

  if (self.death_fd >= 0)
    close (self.death_fd);             /* our parent's sentinel is not ours */
  self.death_fd = death_fd;
  g_free (self.name);
  self.name = g_strdup (process->name);
  mpk__trace_set_process_name (self.name);
  show_name (self.name);
  self.identity = process->identity;
  self.daemon = process->daemon;
  self.parent_pid = parent;
  process->pid = getpid ();            /* our own object knows who we are */
  if (MPK__TRACING (~0u))
    mpk__trace_child_started ();       /* our own trace file, under our name */

  /* A daemon must not outlive its parent, even one killed by SIGKILL. */
  if (process->daemon && !watch_parent (parent, forked_by_main_thread))
    saved_errno = errno != 0 ? errno : ESRCH;
  /* Like Python, a child does not read the parent's stdin. Not close-on-exec:
   * if fd 0 was closed, /dev/null lands on 0 and must stay there. */
  devnull = open ("/dev/null", O_RDONLY);
  if (saved_errno == 0 && (devnull < 0 || dup2 (devnull, STDIN_FILENO) < 0))
    saved_errno = errno;
  if (devnull > STDIN_FILENO)
    close (devnull);
  if (mpk__process_fail_setup_for_testing)
    saved_errno = ECANCELED;
  if (saved_errno != 0)
    {
      while (write (status_fd, &saved_errno, sizeof saved_errno) < 0 && errno == EINTR)
        ;
      _exit (127);
    }
  close (status_fd);

  rc = process->func (process->user_data);
  exit_function ();
  fflush (NULL);
  if (MPK__TRACING (MPK__TRACE_PROC))
    mpk__trace_exiting (rc & 0xff);
  _exit (rc & 0xff);
}

/* Closes *@fd if it is open and marks it closed. */
static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Waits for the child's setup verdict: end of file means it is running. */
static gboolean
read_setup_status (MpkProcess *process, int status_fd, GError **error)
{
  int child_errno = 0;
  gssize n;

  do
    n = read (status_fd, &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return TRUE;
  try_reap (process, TRUE);
  g_set_error (error, MPK_ERROR, MPK_ERROR_SPAWN, "process %s failed to start: %s",
               process->name, n == sizeof child_errno ? g_strerror (child_errno) : "no status");
  return FALSE;
}

/**
 * mpk_process_start:
 * @process: (transfer none): a #MpkProcess that has not been started
 * @error: return location for a #GError, or %NULL
 *
 * Forks and runs the process's function in the child, like
 * `Process.start()`. stdio buffers are flushed first, so nothing printed
 * before the fork is printed twice. Returns once the child has finished its
 * own setup.
 *
 * Returns: %TRUE if the child is running; %FALSE with %MPK_ERROR_INVALID
 *   (started twice, or a daemonic process starting a child) or
 *   %MPK_ERROR_SPAWN (fork or the child's setup failed)
 */
gboolean
mpk_process_start (MpkProcess  *process,
                   GError     **error)
{
  int status_pipe[2] = { -1, -1 }, death_pipe[2] = { -1, -1 };
  pid_t parent = getpid (), pid;
  /* Asked here, in the parent: in the child every thread id is new. */
  gboolean main_thread = syscall (SYS_gettid) == parent;
  guint64 spawn_clock = 0;
  gboolean ok = FALSE;
  int saved_errno;

  g_return_val_if_fail (process != NULL, FALSE);
  g_return_val_if_fail (process->state != STATE_CLOSED, FALSE);
  g_return_val_if_fail (process->creator == parent, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (process->state != STATE_INITIAL)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID, "cannot start a process twice");
      return FALSE;
    }
  if (self.daemon)
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_INVALID,
                           "daemonic processes are not allowed to have children");
      return FALSE;
    }
  reap_finished ();
  /* From here every way out goes through `out`, which closes whichever
   * pipe ends this process still holds. */
  if (pipe2 (status_pipe, O_CLOEXEC) < 0
      || (!have_pidfd () && pipe2 (death_pipe, O_CLOEXEC) < 0))
    {
      mpk__set_error_from_errno (error, errno, "pipe");
      goto out;
    }

  /* Bookkeeping happens before fork(): writes after it would copy pages the
   * child still shares (page faults cost ~10 us each on a VM). */
  if (self.children == NULL)
    self.children = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);
  g_ptr_array_add (self.children, mpk_process_ref (process));
  if (!self.atexit_done)
    self.atexit_done = atexit (exit_function) == 0;
  process->state = STATE_STARTED;
  if (MPK__TRACING (MPK__TRACE_PROC))
    spawn_clock = mpk__trace_reserve_clock ();

  fflush (NULL);
  pid = fork ();
  saved_errno = errno;
  if (pid == 0)
    {
      close_fd (&status_pipe[0]);
      close_fd (&death_pipe[0]);
      child_main (process, status_pipe[1], death_pipe[1], parent, main_thread);
    }
  /* The write ends are the child's: its exit closes them. */
  close_fd (&status_pipe[1]);
  close_fd (&death_pipe[1]);
  if (pid < 0)
    {
      process->state = STATE_INITIAL;
      g_ptr_array_remove_fast (self.children, process);
      g_set_error (error, MPK_ERROR, MPK_ERROR_SPAWN, "fork: %s", g_strerror (saved_errno));
      goto out;
    }

  process->pid = pid;
  if (MPK__TRACING (MPK__TRACE_PROC))
    mpk__trace_spawned (pid, process->name, spawn_clock);
  if (death_pipe[0] >= 0)
    {
      process->sentinel = death_pipe[0];
      death_pipe[0] = -1;                /* the process owns it now */
    }
  else
    process->sentinel = pidfd_open (pid);
  if (process->sentinel < 0)
    {
      /* Without a sentinel, join(timeout) and mpk_wait() cannot work: undo
       * the start rather than hand out a process nobody can wait for. */
      saved_errno = errno;
      kill (pid, SIGKILL);
      try_reap (process, TRUE);
      g_set_error (error, MPK_ERROR, MPK_ERROR_SPAWN, "process %s: pidfd_open: %s",
                   process->name, g_strerror (saved_errno));
      goto out;
    }
  ok = read_setup_status (process, status_pipe[0], error);

out:
  close_fd (&status_pipe[0]);
  close_fd (&status_pipe[1]);
  close_fd (&death_pipe[0]);
  close_fd (&death_pipe[1]);
  return ok;
}

static gboolean
check_started (MpkProcess *process, const char *what)
{
  if (process->state == STATE_INITIAL)
    {
      g_critical ("%s: process %s has not been started", what, process->name);
      return FALSE;
    }
  return TRUE;
}

/* A successful join is where the program learns that the child ended: the
 * trace draws an arrow from the child's end to here. (The reap itself may
 * happen earlier, at a moment that depends on timing.) */
static gboolean
joined (MpkProcess *process)
{
  if (MPK__TRACING (MPK__TRACE_PROC))
    mpk__trace_joined (process->pid);
  return TRUE;
}

/* Waits for a started @process of ours; FALSE with TIMED_OUT or FAILED. */
static gboolean
join_waiting (MpkProcess *process, gint64 timeout_us, GError **error)
{
  struct pollfd pfd;
  int rc;

  /* A traced join that will block says so first (who is stuck). */
  if (timeout_us == MPK_WAIT_FOREVER && MPK__TRACING (MPK__TRACE_PROC))
    {
      if (try_reap (process, FALSE))
        return joined (process);
      mpk__trace_sleeping ();
    }
  /* Waiting forever needs no sentinel: waitpid() blocks (and retries EINTR). */
  if (try_reap (process, timeout_us == MPK_WAIT_FOREVER))
    return joined (process);
  pfd.fd = process->sentinel;
  pfd.events = POLLIN;
  rc = pfd.fd >= 0 ? mpk__poll (&pfd, 1, mpk__deadline_from_timeout (timeout_us)) : 0;
  if (rc < 0)
    return mpk__set_error_from_errno (error, errno, "poll");
  if (rc == 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_TIMED_OUT,
                   "process %s did not exit before the timeout", process->name);
      return FALSE;
    }
  return try_reap (process, TRUE) && joined (process);
}

static gboolean
join_started (MpkProcess *process, gint64 timeout_us, GError **error)
{
  MpkTraceWaiting waiting;
  gboolean ok;

  if (!MPK__TRACING (MPK__TRACE_PROC))
    return join_waiting (process, timeout_us, error);
  mpk__trace_wait_enter (&waiting, NULL, "join");
  waiting.child = process->pid;
  ok = join_waiting (process, timeout_us, error);
  mpk__trace_wait_leave (&waiting);
  return ok;
}

/**
 * mpk_process_join:
 * @process: (transfer none): a started #MpkProcess
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 *
 * Waits for the process to exit and reaps it, like `Process.join(timeout)`.
 * It may be called many times.
 *
 * Joining a process that was not started, is closed, or was created by
 * another process is a caller bug here: a critical, and %FALSE, the same
 * value as a timeout. mpk_process_join_full() tells them apart.
 *
 * Returns: %TRUE if the process has exited (see mpk_process_get_exitcode()),
 *   %FALSE if the timeout expired first
 */
gboolean
mpk_process_join (MpkProcess *process,
                  gint64      timeout_us)
{
  g_return_val_if_fail (process != NULL, FALSE);
  g_return_val_if_fail (process->state != STATE_CLOSED, FALSE);
  g_return_val_if_fail (process->creator == getpid (), FALSE);

  if (!check_started (process, "mpk_process_join"))
    return FALSE;
  return join_started (process, timeout_us, NULL);
}

/**
 * mpk_process_join_full:
 * @process: (transfer none): a #MpkProcess
 * @timeout_us: microseconds to wait, or %MPK_WAIT_FOREVER / %MPK_NO_WAIT
 * @error: return location for a #GError, or %NULL
 *
 * mpk_process_join() that says why it returned %FALSE. Where Python's
 * `join()` raises (a process not started, a closed one, or one this process
 * did not create: "can only join a child process"), this sets
 * %MPK_ERROR_INVALID without a critical; a timeout is %MPK_ERROR_TIMED_OUT.
 *
 * Returns: %TRUE if the process has exited; %FALSE with @error set:
 *   %MPK_ERROR_TIMED_OUT, %MPK_ERROR_INVALID, or %MPK_ERROR_FAILED if
 *   poll(2) failed
 */
gboolean
mpk_process_join_full (MpkProcess  *process,
                       gint64       timeout_us,
                       GError     **error)
{
  const char *why = NULL;

  g_return_val_if_fail (process != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (process->state == STATE_CLOSED)
    why = "it is closed";
  else if (process->creator != getpid ())
    why = "only the process that created it can join it";
  else if (process->state == STATE_INITIAL)
    why = "it has not been started";
  if (why != NULL)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "cannot join process %s: %s",
                   process->name, why);
      return FALSE;
    }
  return join_started (process, timeout_us, error);
}

/**
 * mpk_process_is_alive:
 * @process: (transfer none): a #MpkProcess
 *
 * Like `Process.is_alive()`; a process that has exited is reaped here.
 *
 * Returns: %TRUE from mpk_process_start() until the process exits
 */
gboolean
mpk_process_is_alive (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, FALSE);
  g_return_val_if_fail (process->state != STATE_CLOSED, FALSE);

  if (process->state == STATE_INITIAL)
    return FALSE;
  return !try_reap (process, FALSE);
}

/**
 * mpk_process_get_exitcode:
 * @process: (transfer none): a #MpkProcess
 *
 * Like `Process.exitcode`: the function's return value, or minus the
 * signal number that killed the process.
 *
 * Returns: the exit code, or %MPK_EXITCODE_NONE if it has not exited (or
 *   has not been reaped yet: mpk_process_join() or mpk_process_is_alive())
 */
int
mpk_process_get_exitcode (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, MPK_EXITCODE_NONE);
  g_return_val_if_fail (process->state != STATE_CLOSED, MPK_EXITCODE_NONE);

  if (process->state == STATE_STARTED)
    try_reap (process, FALSE);
  return process->exitcode;
}

static gboolean
send_signal (MpkProcess *process, int sig, GError **error)
{
  g_return_val_if_fail (process != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Python raises here too; a clean-up loop over processes of which some
   * never started meets it at run time, so it is an error, not a critical. */
  if (process->state != STATE_STARTED)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID, "cannot signal process %s: %s",
                   process->name, process->state == STATE_CLOSED ? "it is closed"
                                                                 : "it has not been started");
      return FALSE;
    }
  /* Until it is reaped the pid cannot be reused, so this is the right process.
   * pid 0 would signal our whole process group: never. */
  if (process->pid <= 0)
    return TRUE;
  if (process->exitcode != MPK_EXITCODE_NONE)
    return TRUE;
  /* Recorded first: the child's end, drawn from its reaping, follows it. */
  if (MPK__TRACING (MPK__TRACE_PROC))
    process->signal_event = mpk__trace_signal (process->pid, sig);
  if (kill (process->pid, sig) == 0 || errno == ESRCH)
    return TRUE;
  return mpk__set_error_from_errno (error, errno, "kill");
}

/**
 * mpk_process_terminate:
 * @process: (transfer none): a started #MpkProcess
 * @error: return location for a #GError, or %NULL
 *
 * Sends SIGTERM, like `Process.terminate()`; nothing happens if the process
 * has already exited. Its exit code becomes -SIGTERM unless it handles the
 * signal.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @process was not
 *   started or is closed, or %MPK_ERROR_FAILED if kill(2) failed
 */
gboolean
mpk_process_terminate (MpkProcess  *process,
                       GError     **error)
{
  return send_signal (process, SIGTERM, error);
}

/**
 * mpk_process_kill:
 * @process: (transfer none): a started #MpkProcess
 * @error: return location for a #GError, or %NULL
 *
 * Sends SIGKILL, like `Process.kill()`.
 *
 * Returns: %TRUE; %FALSE with %MPK_ERROR_INVALID if @process was not
 *   started or is closed, or %MPK_ERROR_FAILED if kill(2) failed
 */
gboolean
mpk_process_kill (MpkProcess  *process,
                  GError     **error)
{
  return send_signal (process, SIGKILL, error);
}

/**
 * mpk_process_get_pid:
 * @process: (transfer none): a #MpkProcess
 *
 * The child's process id, Python's `Process.pid`. It stays readable after
 * the child exited and was reaped (the kernel may by then have given it to
 * another process).
 *
 * Returns: the pid, or 0 before mpk_process_start()
 */
GPid
mpk_process_get_pid (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, 0);
  return process->pid;
}

/**
 * mpk_process_get_name:
 * @process: (transfer none): a #MpkProcess
 *
 * The process's name, Python's `Process.name`, used by the tracer to name
 * the child's lane.
 *
 * Returns: (transfer none): the name, owned by @process until it is
 *   renamed or freed
 */
const char *
mpk_process_get_name (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, NULL);
  return process->name;
}

/**
 * mpk_process_set_name:
 * @process: (transfer none): a #MpkProcess
 * @name: (transfer none): the new name, copied
 *
 * Renames the process object, `Process.name = name`. Called in the child
 * itself on its own object, it also renames the current process
 * (mpk_current_process_get_name() and the trace lane), as in Python; a
 * rename in the parent after the start is not seen by the child.
 */
void
mpk_process_set_name (MpkProcess *process,
                      const char *name)
{
  g_return_if_fail (process != NULL && name != NULL);
  g_free (process->name);
  process->name = g_strdup (name);
  /* In the child itself this renames the current process, as in Python. */
  if (process->pid == getpid ())
    {
      g_free (self.name);
      self.name = g_strdup (name);
      mpk__trace_set_process_name (self.name);
      show_name (self.name);
    }
}

/**
 * mpk_process_get_daemon:
 * @process: (transfer none): a #MpkProcess
 *
 * Python's `Process.daemon`; see mpk_process_set_daemon().
 *
 * Returns: %TRUE if the process is (or will start) daemonic
 */
gboolean
mpk_process_get_daemon (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, FALSE);
  return process->daemon;
}

/**
 * mpk_process_set_daemon:
 * @process: (transfer none): a #MpkProcess that has not been started
 * @daemon: whether the process is daemonic
 *
 * A daemonic process is terminated (SIGTERM) when its parent exits, and may
 * not start children of its own, as in Python. At a normal exit() the parent
 * sends the SIGTERM and reaps the daemon; if the parent dies any other way
 * (SIGKILL, a crash, SIGPIPE from `| head`), the daemon still gets a SIGTERM
 * the moment the parent is gone, so no daemon is left orphaned.
 *
 * Started from the main thread, the kernel sends it (PR_SET_PDEATHSIG; a
 * main thread that leaves by pthread_exit() while others run counts as the
 * parent's end there).
 * Started from another thread, it does not: the kernel would tie the signal
 * to that thread's end rather than the process's, killing the daemon while
 * its parent lives on. There the daemon runs one extra thread of its own
 * that waits on a pidfd of the parent (Linux 5.3; before that, it checks
 * getppid() once a second) and sends the SIGTERM. Either way, a daemon that
 * handles or blocks SIGTERM is not ended by it.
 */
void
mpk_process_set_daemon (MpkProcess *process,
                        gboolean    daemon)
{
  g_return_if_fail (process != NULL);
  g_return_if_fail (process->state == STATE_INITIAL);
  process->daemon = daemon;
}

/**
 * mpk_process_get_sentinel:
 * @process: (transfer none): a started #MpkProcess
 *
 * Like `Process.sentinel`: a descriptor that polls readable once the process
 * has exited (a pidfd on Linux 5.3 and later). Use it with poll(2) or
 * mpk_wait(); in a GLib main loop, mpk_process_create_source() wraps it.
 * It stays owned by @process.
 *
 * Returns: the descriptor, or -1 (with a critical) before start
 */
int
mpk_process_get_sentinel (MpkProcess *process)
{
  g_return_val_if_fail (process != NULL, -1);
  g_return_val_if_fail (process->state != STATE_CLOSED, -1);

  if (!check_started (process, "mpk_process_get_sentinel"))
    return -1;
  return process->sentinel;
}

int
mpk__process_wait_fd (MpkProcess *process)
{
  return process->state == STATE_STARTED ? process->sentinel : -1;
}

/* --- main-loop source ------------------------------------------------------
 *
 * The sentinel in a GSource. g_child_watch_source_new() is not the answer:
 * it reaps the child itself (waitpid), and then join() here would find the
 * pid gone and the exit code lost. This source only polls the sentinel and
 * leaves the reaping to join/is_alive/get_exitcode. */

typedef struct
{
  GSource     source;
  MpkProcess *process;    /* owned: a ref */
  gpointer    fd_tag;     /* the sentinel in the poll set; NULL once closed */
  gint        recheck_ms; /* > 0: the sentinel fired early, look again after this */
} ProcessSource;

/* Whether @process has ended as far as this process can tell: reaped, or a
 * zombie its creator can reap at once. A pidfd is readable only then; a
 * death pipe (the fallback sentinel) reads end of file when the child's
 * descriptors close, a moment before it becomes a zombie, and a callback
 * must not run in that moment: join (MPK_NO_WAIT) would still fail. Anyone
 * but the creator has only the sentinel's word. */
static gboolean
process_has_ended (MpkProcess *process)
{
  siginfo_t info;
  int rc;

  if (process->state != STATE_STARTED || process->exitcode != MPK_EXITCODE_NONE
      || process->creator != getpid () || process->pid <= 0)
    return TRUE;
  memset (&info, 0, sizeof info);
  do
    rc = waitid (P_PID, process->pid, &info, WEXITED | WNOHANG | WNOWAIT);
  while (rc < 0 && errno == EINTR);
  /* ECHILD: reaped behind our back; join will say so. */
  return rc < 0 ? errno == ECHILD : info.si_pid == process->pid;
}

/* Ready without a poll when the end is known already: reaped (an exit
 * code), or closed (which needs the end; its sentinel is gone, so it leaves
 * the poll set before its number can be reused). */
static gboolean
process_source_prepare (GSource *source, gint *timeout)
{
  ProcessSource *ps = (ProcessSource *) source;
  MpkProcess *process = ps->process;

  *timeout = -1;
  if (process->state != STATE_STARTED && ps->fd_tag != NULL)
    g_source_remove_unix_fd (source, g_steal_pointer (&ps->fd_tag));
  if (process->state != STATE_STARTED || process->exitcode != MPK_EXITCODE_NONE)
    return TRUE;
  if (ps->recheck_ms > 0)
    {
      if (process_has_ended (process))
        return TRUE;
      *timeout = ps->recheck_ms;
    }
  return FALSE;
}

/* After the poll: the sentinel fired. If the process is not a zombie yet
 * (a death pipe), the pipe leaves the poll set (GLib would dispatch on its
 * readiness whatever this returns, and its end of file would make every
 * iteration a busy one); the source looks again after a short sleep,
 * longer each time (a child that exec()ed closes the pipe long before it
 * ends). */
static gboolean
process_source_check (GSource *source)
{
  ProcessSource *ps = (ProcessSource *) source;

  if (ps->recheck_ms > 0)
    {
      if (process_has_ended (ps->process))
        return TRUE;
      ps->recheck_ms = MIN (ps->recheck_ms * 2, 100);
      return FALSE;
    }
  if (ps->fd_tag == NULL || g_source_query_unix_fd (source, ps->fd_tag) == 0)
    return FALSE;
  if (process_has_ended (ps->process))
    return TRUE;
  g_source_remove_unix_fd (source, g_steal_pointer (&ps->fd_tag));
  ps->recheck_ms = 1;
  return FALSE;
}

static gboolean
process_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ProcessSource *ps = (ProcessSource *) source;
  MpkProcessSourceFunc func = (MpkProcessSourceFunc) (void (*) (void)) callback;

  if (func == NULL)
    g_warning ("mpk_process_create_source: the source was dispatched without a callback; "
               "call g_source_set_callback()");
  else
    func (ps->process, user_data);
  /* An ended process stays ended: firing again would be a busy loop. */
  return G_SOURCE_REMOVE;
}

static void
process_source_finalize (GSource *source)
{
  ProcessSource *ps = (ProcessSource *) source;

  g_clear_pointer (&ps->process, mpk_process_unref);
}

static GSourceFuncs process_source_funcs =
{
  process_source_prepare,
  process_source_check,
  process_source_dispatch,
  process_source_finalize,
  NULL,
  NULL,
};

/**
 * mpk_process_create_source:
 * @process: (transfer none): a started #MpkProcess
 * @error: return location for a #GError, or %NULL
 *
 * Creates a #GSource that fires once, when @process ends, for a GLib main
 * loop: the process's sentinel (mpk_process_get_sentinel()) in a source.
 * Set its callback, an #MpkProcessSourceFunc, with g_source_set_callback()
 * (cast with G_SOURCE_FUNC()), then g_source_attach() it. After the
 * callback the source is destroyed.
 *
 * Unlike g_child_watch_source_new(), which reaps the child itself and so
 * takes its exit status from mpk_process_join(), this source does not
 * reap: in the callback (or later) mpk_process_join() and
 * mpk_process_get_exitcode() work as usual, and in the process that
 * started @process they return at once (the source waits for the exit to
 * be complete, even where the sentinel is a pipe that reads end of file a
 * moment before it is). A process that has already
 * ended (or been joined, or closed) fires at the first iteration. Any
 * process holding @process may watch it (a forked child can watch a
 * sibling), but only its creator can reap it.
 *
 * The source holds a reference on @process.
 *
 * Returns: (transfer full): the source, unref with g_source_unref(); %NULL
 *   with %MPK_ERROR_INVALID if @process has not been started or is closed
 *   (Python's `sentinel` raises there too)
 */
GSource *
mpk_process_create_source (MpkProcess  *process,
                           GError     **error)
{
  ProcessSource *ps;
  GSource *source;

  g_return_val_if_fail (process != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (process->state != STATE_STARTED || process->sentinel < 0)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "mpk_process_create_source: process %s %s", process->name,
                   process->state == STATE_CLOSED ? "is closed" : "has not been started");
      return NULL;
    }
  source = g_source_new (&process_source_funcs, sizeof (ProcessSource));
  g_source_set_static_name (source, "MpkProcess");
  ps = (ProcessSource *) source;
  ps->process = mpk_process_ref (process);
  ps->fd_tag = g_source_add_unix_fd (source, process->sentinel, G_IO_IN);
  return source;
}

/**
 * mpk_process_close:
 * @process: (transfer none): a #MpkProcess
 * @error: return location for a #GError, or %NULL
 *
 * Releases the process's resources, like `Process.close()`. It fails while
 * the process is running; calling it again does nothing. Afterwards only
 * mpk_process_close() and mpk_process_unref() may be called.
 *
 * Returns: %TRUE, or %FALSE with %MPK_ERROR_INVALID if the process runs
 */
gboolean
mpk_process_close (MpkProcess  *process,
                   GError     **error)
{
  g_return_val_if_fail (process != NULL, FALSE);

  if (process->state == STATE_CLOSED)
    return TRUE;
  if (process->state == STATE_STARTED && !try_reap (process, FALSE))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                   "cannot close process %s while it is still running", process->name);
      return FALSE;
    }
  if (process->sentinel >= 0)
    close (process->sentinel);
  process->sentinel = -1;
  process->state = STATE_CLOSED;
  return TRUE;
}

/**
 * mpk_active_children:
 *
 * Reaps the children that have exited, like Python's `active_children()`.
 *
 * Returns: (transfer full) (element-type MpkProcess): the children still
 *   running; the array holds a reference on each, dropped when it is freed
 *   with g_ptr_array_unref()
 */
GPtrArray *
mpk_active_children (void)
{
  GPtrArray *alive = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);

  reap_finished ();
  for (guint i = 0; self.children != NULL && i < self.children->len; i++)
    g_ptr_array_add (alive, mpk_process_ref (g_ptr_array_index (self.children, i)));
  return alive;
}
