/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 08, pipe messages: process p1 sends four strings down a duplex pipe and
 * process p2 prints them until it receives "END".  The C version of the Pipe
 * example in seeds/004_cbef035b4a535284.txt (Python's Pipe(), send() and recv()). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

/* The messages, Python's `msgs`.  "END" is a sentinel: it tells the receiver
 * to stop, and the receiver never prints it. */
static const char *const msgs[] = { "hello", "hey", "hru?", "END" };

/* The body of p1: send every message, then close this process's end. */
static int
sender (gpointer user_data)
{
  MpkConnection *conn = user_data;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (msgs); i++)
    {
      /* A message is a GVariant; g_variant_new_string() makes a floating one,
       * which mpk_connection_send() sinks and releases, so no unref here.
       * send() returns once the whole message is in the pipe. */
      LAB_CHECK (mpk_connection_send (conn, g_variant_new_string (msgs[i]),
                                      MPK_WAIT_FOREVER, &error));
      /* Printed *after* the send: by now p2 may already have printed it. */
      printf ("Sent the message: %s\n", msgs[i]);
    }
  /* Closes the child's copy of the end; the parent still holds its own. */
  mpk_connection_close (conn);
  return 0;
}

/* The body of p2: receive and print until the "END" message arrives. */
static int
receiver (gpointer user_data)
{
  MpkConnection *conn = user_data;
  g_autoptr(GError) error = NULL;

  while (TRUE)
    {
      g_autoptr(GVariant) msg = NULL;
      const char *text;

      /* Blocks until a whole message has arrived (Python: conn.recv()). */
      LAB_CHECK (msg = mpk_connection_recv (conn, MPK_WAIT_FOREVER, &error));
      /* Python would accept any object; C checks what it got. */
      LAB_CHECK (g_variant_is_of_type (msg, G_VARIANT_TYPE_STRING));
      text = g_variant_get_string (msg, NULL);
      if (g_strcmp0 (text, "END") == 0)
        break;
      printf ("Received the message: %s\n", text);
    }
  return 0;
}

int
main (void)
{
  g_autoptr(MpkConnection) parent_conn = NULL;
  g_autoptr(MpkConnection) child_conn = NULL;
  g_autoptr(MpkProcess) p1 = NULL;
  g_autoptr(MpkProcess) p2 = NULL;
  g_autoptr(GError) error = NULL;

  /* Line-buffered stdout: lines from the two processes interleave as they
   * would on a terminal, even when stdout is a pipe to a grader. */
  lab_init ();

  /* A duplex pipe: two connected ends, each can send and receive
   * (Python: parent_conn, child_conn = Pipe()).  It must exist before the
   * processes start, so that fork() copies both ends into them. */
  LAB_CHECK (mpk_pipe_new (TRUE, &parent_conn, &child_conn, &error));

  /* p1 writes into one end, p2 reads from the other. */
  p1 = mpk_process_new ("p1", sender, parent_conn, NULL);
  p2 = mpk_process_new ("p2", receiver, child_conn, NULL);

  /* From here on three processes run at once: the order of their output
   * lines is up to the scheduler (see the handout). */
  LAB_CHECK (mpk_process_start (p1, &error));
  LAB_CHECK (mpk_process_start (p2, &error));

  /* Wait for both (Python: p1.join(); p2.join()). */
  lab_join (p1);
  lab_join (p2);

  /* g_autoptr closes the parent's copies of both ends here. */
  return EXIT_SUCCESS;
}
