/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lab.h: the few lines the labs share, so that a lab's main.c shows the IPC
 * and not the plumbing.  One way to handle an error in every lab:
 * LAB_CHECK (call) prints who failed, the call and the GError, and ends the
 * process (see labs/README.md).  Included as "../lab.h" from
 * labs/NN-slug/main.c; not installed, not part of libmpkit. */
#ifndef LAB_H
#define LAB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <mpkit.h>

/* Prints "WHO: WHAT failed: MESSAGE" on stderr and ends this process with
 * status 1.  WHO is the process's name ("MainProcess", "p1", ...), so a
 * failure in a child says which child.
 *
 * A child leaves through _exit(), as a child that returns from its body
 * does: exit() would run the parent's atexit handlers a second time, in the
 * child.  The main process first stops its children (SIGTERM): exit() waits
 * for every child that is not a daemon, and one still waiting for a message
 * that will now never come would keep it waiting forever. */
G_GNUC_NORETURN G_GNUC_UNUSED static void
lab_fail (const char   *what,
          const GError *error)
{
  GPtrArray *children;

  g_printerr ("%s: %s failed%s%s\n", mpk_current_process_get_name (), what,
              error != NULL ? ": " : "", error != NULL ? error->message : "");
  if (mpk_parent_process_get_pid () != 0)
    {
      fflush (NULL);
      _exit (EXIT_FAILURE);
    }
  children = mpk_active_children ();
  for (guint i = 0; i < children->len; i++)
    mpk_process_terminate (g_ptr_array_index (children, i), NULL);
  g_ptr_array_unref (children);
  exit (EXIT_FAILURE);
}

/* LAB_CHECK (CALL): CALL must be true (TRUE, or a non-NULL pointer); if it
 * is not, the lab ends with the GError the call set in the variable `error`,
 * which the calling function declares:
 *
 *   g_autoptr(GError) error = NULL;
 *   LAB_CHECK (q = mpk_queue_new (0, &error));
 *
 * A check that takes no GError (a GVariant's type) prints no message. */
#define LAB_CHECK(call) \
  G_STMT_START { if (!(call)) lab_fail (#call, error); } G_STMT_END

/* A joined child that failed (exit code not 0) ends the lab. */
G_GNUC_UNUSED static void
lab_check_exitcode (MpkProcess *process)
{
  if (mpk_process_get_exitcode (process) != 0)
    {
      g_autofree char *what = g_strdup_printf ("%s (exit code %d)",
                                               mpk_process_get_name (process),
                                               mpk_process_get_exitcode (process));
      lab_fail (what, NULL);
    }
}

/* Python: p.join(), then a child that failed ends the lab. */
G_GNUC_UNUSED static void
lab_join (MpkProcess *process)
{
  mpk_process_join (process, MPK_WAIT_FOREVER);
  lab_check_exitcode (process);
}

/* Python: p = Process(name=NAME, target=BODY, args=(ARGS,)); p.start().
 * A start that fails ends the lab.  Returns the started process (unref it). */
G_GNUC_UNUSED static MpkProcess *
lab_start (const char     *name,
           MpkProcessFunc  body,
           gpointer        args)
{
  MpkProcess *process = mpk_process_new (name, body, args, NULL);
  g_autoptr(GError) error = NULL;

  LAB_CHECK (mpk_process_start (process, &error));
  return process;
}

/* Python: processes = [Process(name=..., target=BODY, args=(ARGS,)) for
 * each of N]; then p.start() for each, in order.  One process is named NAME,
 * several "NAME 1" to "NAME N".  Every process gets the same ARGS (fork()
 * copies what it points to into each).  A start that fails ends the lab.
 * Returns the started processes, for lab_join_all() (unref the array). */
G_GNUC_UNUSED static GPtrArray *
lab_start_many (const char     *name,
                guint           n,
                MpkProcessFunc  body,
                gpointer        args)
{
  GPtrArray *processes = g_ptr_array_new_with_free_func (
    (GDestroyNotify) mpk_process_unref);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name_i = n == 1 ? g_strdup (name)
                                       : g_strdup_printf ("%s %u", name, i + 1);
      g_ptr_array_add (processes, lab_start (name_i, body, args));
    }
  return processes;
}

/* Python: for p in processes: p.join().  Then a child that failed ends the
 * lab; only then, so that every child that failed has said why first. */
G_GNUC_UNUSED static void
lab_join_all (GPtrArray *processes)
{
  for (guint i = 0; i < processes->len; i++)
    mpk_process_join (g_ptr_array_index (processes, i), MPK_WAIT_FOREVER);
  for (guint i = 0; i < processes->len; i++)
    lab_check_exitcode (g_ptr_array_index (processes, i));
}

/* Python's None as a sentinel on a queue of int32 items ("no more work";
 * labs 07 and 24).  A GVariant always has a type, so this is the empty
 * maybe of int32 (type "mi"): "an int32 could be here, and there is none",
 * which no real item (type "i") can be mistaken for, whatever its value.
 * Lab 07's handout says why not a magic number.  Floating, as a new GVariant
 * is: put() consumes it. */
G_GNUC_UNUSED static GVariant *
lab_sentinel_new (void)
{
  return g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL);
}

/* Python: `item is None`, for the sentinel of lab_sentinel_new(). */
G_GNUC_UNUSED static gboolean
lab_is_sentinel (GVariant *item)
{
  return g_variant_is_of_type (item, G_VARIANT_TYPE ("mi"))
         && g_variant_n_children (item) == 0;
}

/* ITEMS as Python prints a list of ints: "[1, 4, 9, 16]" ("[]" for none).
 * Free the string with g_free(). */
G_GNUC_UNUSED static char *
lab_format_ints (const gint32 *items,
                 guint         n_items)
{
  GString *list = g_string_new ("[");

  for (guint i = 0; i < n_items; i++)
    g_string_append_printf (list, "%s%d", i > 0 ? ", " : "", items[i]);
  g_string_append (list, "]");
  return g_string_free (list, FALSE);
}

/* Runs this program again, as a new program (exec), with ARGS (its argv[1],
 * argv[2], ..., NULL-terminated) and NAME=VALUE added to its environment;
 * it shares our stdout and stderr.  Waits for it and returns its exit
 * status (-1 if a signal ended it).  How a lab shows a separate program that
 * inherits nothing from us but what we pass: a forked child would inherit
 * all our objects (lab 23's client).  The environment, not ARGS, is for
 * secrets: any user can read a process's arguments (ps).
 *
 * The tracer cannot see an exec, so we tell it: the note BEGIN in our lane
 * right before it, and "END: exit N" once it has ended.  The new program's
 * lane is drawn from the first and its end before the second, by cause,
 * not by the clock (mpk_trace_exec_begin() in lib/core/mpk-trace.c). */
G_GNUC_UNUSED static int
lab_spawn_self (const char *const *args,
                const char        *name,
                const char        *value,
                const char        *begin,
                const char        *end)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_auto(GStrv) env = g_environ_setenv (g_get_environ (), name, value, TRUE);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  guint64 exec_id;
  int status, code;

  LAB_CHECK (self != NULL);
  g_strv_builder_add (builder, self);
  g_strv_builder_addv (builder, (const char **) args);
  argv = g_strv_builder_end (builder);
  env = mpk_trace_exec_begin (g_steal_pointer (&env), &exec_id, "%s", begin);
  LAB_CHECK (g_spawn_sync (NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                           NULL, NULL, &status, &error));
  code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  mpk_trace_exec_end (exec_id, "%s: exit %d", end, code);
  return code;
}

/* Waits until the kernel reports PROCESS asleep (state S in /proc/PID/stat,
 * the field after "(name)"), at most about 10 s; FALSE if it never was.
 * How a lab knows that a child is blocked inside a call before it does
 * something to it (lab 24 kills a worker waiting in get()).  Linux only; a
 * real program would not need to know. */
G_GNUC_UNUSED static gboolean
lab_wait_until_asleep (MpkProcess *process)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat",
                                           (int) mpk_process_get_pid (process));

  for (int tries = 0; tries < 10000; tries++)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      if (g_file_get_contents (path, &stat, NULL, NULL)
          && (paren = strrchr (stat, ')')) != NULL && strncmp (paren, ") S", 3) == 0)
        return TRUE;
      g_usleep (1000);
    }
  return FALSE;
}

/* Call first in main().  Line-buffered stdout: each line leaves the process
 * as soon as it is printed, even into a pipe (a grader, `| cat`), so lines
 * from several processes interleave as they happen, and a child that leaves
 * with _exit() loses none. */
G_GNUC_UNUSED static void
lab_init (void)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
}

#endif /* LAB_H */
