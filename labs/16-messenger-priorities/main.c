/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 16, messenger priorities: the host sends three low-priority and three
 * high-priority messages, alternating; the worker's priority messenger hands
 * it the high ones first.  The C version of the "Priority Interface"
 * example of seeds/001_c29a5796e6bd02c6.txt (coproc). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

/* Lower is more important, as in the seed. */
#define HIGH_PRIORITY 0
#define LOW_PRIORITY  1

/* The worker (the seed's print_process): print whatever waits, in the
 * order the messenger hands it over, until the host closes us. */
static int
print_process (MpkMessenger *messenger, gpointer user_data)
{
  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) messages = NULL;

      if (!mpk_messenger_await_available (messenger, MPK_WAIT_FOREVER, &error)
          && g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED))
        return 0;                       /* mpk_worker_close(): we are done */
      LAB_CHECK (error == NULL);
      LAB_CHECK (messages = mpk_messenger_receive_available (messenger, NULL, &error));
      for (guint i = 0; i < messages->len; i++)
        {
          const char *text;
          gint32 priority;

          /* A message is (text, priority), like the seed's dataclasses. */
          g_variant_get (g_ptr_array_index (messages, i), "(&si)", &text, &priority);
          printf ("%s (priority %d)\n", text, priority);
        }
    }
}

/* Python: w.messenger.send_norequest(LowPriorityMessage(f'low {i}')) */
static void
send_with_priority (MpkMessenger *messenger, const char *what, gint32 i, gint32 priority)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("%s %d", what, i);

  /* The priority travels beside the message: the receiver's queue sorts on it. */
  LAB_CHECK (mpk_messenger_send_full (messenger, MPK_MESSENGER_SEND_NOREQUEST, NULL,
                                      g_variant_new ("(si)", text, priority), priority,
                                      MPK_WAIT_FOREVER, &error));
}

int
main (void)
{
  g_autoptr(MpkWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  MpkMessenger *messenger;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* A priority messenger on both sides: the worker's sorts what it gets. */
  LAB_CHECK (worker = mpk_worker_new ("worker", print_process, NULL, NULL,
                                      MPK_MESSENGER_PRIORITY, &error));
  messenger = mpk_worker_get_messenger (worker);

  /* All six are in the pipe before the worker starts, so they all wait in
   * its queue together: only waiting messages can be sorted (handout). */
  for (gint32 i = 0; i < 3; i++)
    {
      send_with_priority (messenger, "low", i, LOW_PRIORITY);
      send_with_priority (messenger, "high", i, HIGH_PRIORITY);
    }
  LAB_CHECK (mpk_worker_start (worker, &error));

  /* "Should I use join here?"  Yes: close asks the worker to leave after
   * what we sent, and waits until it has (no sleep, no lost lines). */
  LAB_CHECK (mpk_worker_close (worker, 10 * G_USEC_PER_SEC, &error));
  lab_check_exitcode (mpk_worker_get_process (worker));
  return EXIT_SUCCESS;
}
