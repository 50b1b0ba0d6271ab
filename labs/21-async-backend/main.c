/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 21, async backend: the backend's handler starts background work on
 * the backend's GLib main loop (asyncio's create_task) and returns, so two
 * slow commands overlap.  The AsyncBackMessageProcess background-task
 * example of seeds/003_0b6f8d8a7a71e7b5.txt, with 0.5 s for its "blocking
 * io" (../shared/research/anchor-layers.md §3.4). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

#define TIMEOUT (10 * G_USEC_PER_SEC)

/* --- the backend ------------------------------------------------------------- */

/* One background task: the command it serves and its backend. */
typedef struct
{
  MpkMessageProcess *mp;
  MpkCommand        *command;
} Task;

/* The end of myStuff__: runs 0.5 s later in the backend's main loop. */
static gboolean
io_done (gpointer user_data)
{
  Task *task = user_data;
  g_autoptr(GVariant) parameter = mpk_command_lookup (task->command, "parameter", NULL);
  g_autoptr(MpkCommand) done = mpk_command_new_with ("done", "parameter",
                                                     g_variant_ref (parameter), NULL);

  printf ("Did that blocking io wait: %s\n", g_variant_get_string (parameter, NULL));
  mpk_trace_mark ("io %s ends", g_variant_get_string (parameter, NULL));
  mpk_message_process_reply (task->mp, task->command, done, TIMEOUT, NULL);
  mpk_message_process_release (task->mp);   /* the task is over */
  mpk_command_unref (task->command);
  g_free (task);
  return G_SOURCE_REMOVE;
}

/* c__myStuff: starts the task and returns at once, like
 * asyncio.get_event_loop().create_task(self.myStuff__(parameter)). */
static gboolean
c_my_stuff (MpkMessageProcess *mp, MpkCommand *command, gpointer user_data, GError **error)
{
  g_autoptr(GVariant) parameter = mpk_command_lookup (command, "parameter", NULL);
  Task *task = g_new0 (Task, 1);
  GSource *io = g_timeout_source_new (500);   /* stands for 0.5 s of blocking io */

  printf ("Regards from other side of the fork!  Got parameter %s\n",
          g_variant_get_string (parameter, NULL));
  mpk_trace_mark ("io %s begins", g_variant_get_string (parameter, NULL));
  task->mp = mp;
  task->command = mpk_command_ref (command);
  mpk_message_process_hold (mp);              /* a stop waits for the task */
  g_source_set_callback (io, io_done, task, NULL);
  g_source_attach (io, mpk_message_process_get_main_context (mp));
  g_source_unref (io);
  return TRUE;
}

/* --- the frontend ------------------------------------------------------------- */

static void
my_stuff (MpkMessageProcess *mp, const char *parameter)
{
  g_autoptr(GError) error = NULL;

  LAB_CHECK (mpk_message_process_send (mp, mpk_command_new_with ("myStuff", "parameter",
                                       g_variant_new_string (parameter), NULL),
                                       TIMEOUT, &error));
}

int
main (void)
{
  g_autoptr(MpkMessageProcess) p = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  LAB_CHECK (p = mpk_message_process_new ("MyProcess", "my-process", &error));
  LAB_CHECK (mpk_message_process_add_handler (p, "myStuff", "parameter:s", c_my_stuff,
                                              NULL, NULL, &error));
  LAB_CHECK (mpk_message_process_start (p, &error));

  my_stuff (p, "first");
  my_stuff (p, "second");
  printf ("main: sent both commands\n");

  for (int i = 0; i < 2; i++)
    {
      g_autoptr(MpkCommand) done = NULL;
      g_autoptr(GVariant) parameter = NULL;

      LAB_CHECK (done = mpk_message_process_receive (p, TIMEOUT, &error));
      LAB_CHECK (parameter = mpk_command_lookup (done, "parameter", G_VARIANT_TYPE_STRING));
      printf ("main: %s is done\n", g_variant_get_string (parameter, NULL));
    }

  /* valkka's async backend never says goodbye (VD12); this one does. */
  LAB_CHECK (mpk_message_process_stop (p, TIMEOUT, &error));
  printf ("main: the backend said goodbye: %s\n",
          mpk_message_process_said_goodbye (p) ? "yes" : "no");
  return EXIT_SUCCESS;
}
