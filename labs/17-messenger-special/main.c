/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 17, special messages: the host sends 'message 1' and then a close
 * request; the worker prints the message, then learns of the close request,
 * sends an error back and leaves; the host receives that error as its own.
 * The C version of the "Special Messages" example of
 * seeds/001_c29a5796e6bd02c6.txt (coproc). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

/* Python's ValueError as a GError domain.  Only its name crosses the pipe,
 * so both processes must spell it the same way. */
#define VALUE_ERROR g_quark_from_static_string ("ValueError")

/* The worker (the seed's print_process_2). */
static int
print_process (MpkMessenger *messenger, gpointer user_data)
{
  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) results = NULL;

      if (!mpk_messenger_await_available (messenger, MPK_WAIT_FOREVER, &error)
          || !(results = mpk_messenger_receive_available (messenger, NULL, &error)))
        {
          /* Python: except coproc.ResourceRequestedClose */
          g_autoptr(GError) value_error = NULL;

          LAB_CHECK (g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED));
          g_clear_error (&error);
          value_error = g_error_new_literal (VALUE_ERROR, 0, "process was closed successfully");
          LAB_CHECK (mpk_messenger_send_error (messenger, value_error, MPK_WAIT_FOREVER,
                                               &error));
          return 0;                     /* leaves the process naturally */
        }
      for (guint i = 0; i < results->len; i++)
        printf ("%s\n", g_variant_get_string (g_ptr_array_index (results, i), NULL));
    }
}

int
main (void)
{
  g_autoptr(MpkWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  MpkMessenger *messenger;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  LAB_CHECK (worker = mpk_worker_new ("worker", print_process, NULL, NULL,
                                      MPK_MESSENGER_PRIORITY, &error));
  LAB_CHECK (mpk_worker_start (worker, &error));
  messenger = mpk_worker_get_messenger (worker);

  LAB_CHECK (mpk_messenger_send_norequest (messenger, NULL, g_variant_new_string ("message 1"),
                                           MPK_WAIT_FOREVER, &error));
  LAB_CHECK (mpk_messenger_send_close_request (messenger, MPK_WAIT_FOREVER, &error));

  /* Python: try: w.messenger.await_available() except ValueError: ...
   * The worker's error comes back as this call's error. */
  if (!mpk_messenger_await_available (messenger, 10 * G_USEC_PER_SEC, &error)
      && g_error_matches (error, VALUE_ERROR, 0))
    printf ("successfully caught value error sent from process\n");
  else
    LAB_CHECK (!"the worker's ValueError");

  /* "Should I use join here?"  Yes: the worker leaves by itself after its
   * error, so we wait for that (no second close request, no sleep). */
  g_clear_error (&error);
  LAB_CHECK (mpk_worker_join (worker, 10 * G_USEC_PER_SEC, &error));
  lab_check_exitcode (mpk_worker_get_process (worker));
  return EXIT_SUCCESS;
}
