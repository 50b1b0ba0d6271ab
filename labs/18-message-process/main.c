/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 18, message process: a frontend method sends a command; the backend
 * process's handler for that command runs it.  The C version of the
 * MyProcess example of seeds/003_0b6f8d8a7a71e7b5.txt (valkka's
 * MessageProcess): "myStuff" with parameter "gotcha!", then one thing
 * valkka cannot do, a mistyped command that the backend survives. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

/* --- the backend: runs in the forked process ------------------------------ */

/* valkka's c__myStuff: the handler the backend's loop runs for "myStuff".
 * Its parameter list, "parameter:s", was checked before it was called. */
static gboolean
c_my_stuff (MpkMessageProcess *mp, MpkCommand *command, gpointer user_data,
            GError **error)
{
  g_autoptr(GVariant) parameter = mpk_command_lookup (command, "parameter", NULL);

  printf ("Regards from other side of the fork!  Got parameter %s\n",
          g_variant_get_string (parameter, NULL));
  return TRUE;
}

/* --- the frontend: runs in the main program -------------------------------- */

/* valkka's myStuff: a frontend method turns a call into a command. */
static void
my_stuff (MpkMessageProcess *mp, const char *command_name, const char *parameter)
{
  g_autoptr(GError) error = NULL;

  LAB_CHECK (mpk_message_process_send (mp, mpk_command_new_with (command_name,
                                       "parameter", g_variant_new_string (parameter),
                                       NULL),
                                       MPK_WAIT_FOREVER, &error));
}

int
main (void)
{
  g_autoptr(MpkMessageProcess) p = NULL;
  g_autoptr(MpkCommand) answer = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* p = MyProcess(name="my-process"); its logger is MyProcess.my-process */
  LAB_CHECK (p = mpk_message_process_new ("MyProcess", "my-process", &error));
  /* Where Python finds c__myStuff by name, we register it. */
  LAB_CHECK (mpk_message_process_add_handler (p, "myStuff", "parameter:s", c_my_stuff,
                                              NULL, NULL, &error));
  LAB_CHECK (mpk_message_process_start (p, &error));        /* p.start() */

  my_stuff (p, "myStuff", "gotcha!");                       /* p.myStuff(parameter="gotcha!") */

  /* A typo: valkka only logs "no such method"; here the frontend hears it. */
  my_stuff (p, "myStuf", "gotcha!");
  answer = mpk_message_process_receive (p, 10 * G_USEC_PER_SEC, &error);
  LAB_CHECK (answer == NULL && error != NULL);
  printf ("main: the backend answered: %s\n", error->message);
  g_clear_error (&error);

  /* p.stop(): the stop request, then a join, with a timeout. */
  LAB_CHECK (mpk_message_process_stop (p, 10 * G_USEC_PER_SEC, &error));
  printf ("main: the backend said goodbye (exit code %d)\n",
          mpk_process_get_exitcode (mpk_message_process_get_process (p)));
  return EXIT_SUCCESS;
}
