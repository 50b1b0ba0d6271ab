/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 15, messenger requests: the host sends requests, an echo worker
 * answers each with a reply, and the host's messenger counts what is still
 * outstanding (remaining) and collects every missing reply at once
 * (receive_remaining).  The C version of the "Request Interface" example of
 * seeds/001_c29a5796e6bd02c6.txt (coproc). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

/* The worker (the seed's echo_process_2): each request comes back as a
 * reply, on the default channel, until the host closes us. */
static int
echo_process (MpkMessenger *messenger, gpointer user_data)
{
  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) data = mpk_messenger_receive_blocking (messenger, NULL,
                                                                 MPK_WAIT_FOREVER, &error);

      if (data == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED))
        return 0;                       /* mpk_worker_close(): we are done */
      LAB_CHECK (data != NULL);
      /* The same message goes back (send_reply takes its own reference). */
      LAB_CHECK (mpk_messenger_send_reply (messenger, NULL, data, MPK_WAIT_FOREVER, &error));
    }
}

/* Python: print(f'{w.messenger.remaining()=}') */
static void
print_remaining (MpkMessenger *messenger)
{
  printf ("remaining () = %" G_GUINT64_FORMAT "\n", mpk_messenger_remaining (messenger, NULL));
}

int
main (void)
{
  g_autoptr(MpkWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GPtrArray) replies = NULL;
  g_autofree char *text = NULL;
  MpkMessenger *messenger;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  LAB_CHECK (worker = mpk_worker_new ("worker", echo_process, NULL, NULL,
                                      MPK_MESSENGER_PRIORITY, &error));
  LAB_CHECK (mpk_worker_start (worker, &error));
  messenger = mpk_worker_get_messenger (worker);

  /* One request: counted when sent, answered when its reply is taken. */
  print_remaining (messenger);
  LAB_CHECK (mpk_messenger_send_request (messenger, NULL, g_variant_new_string ("hello"),
                                         MPK_WAIT_FOREVER, &error));
  printf ("send_request ('hello') = TRUE\n");
  print_remaining (messenger);
  /* No sleep: receive_blocking waits for the reply itself. */
  LAB_CHECK (reply = mpk_messenger_receive_blocking (messenger, NULL, MPK_WAIT_FOREVER,
                                                     &error));
  text = g_variant_print (reply, FALSE);
  printf ("receive_blocking () = %s\n", text);
  print_remaining (messenger);

  /* Three requests in a row, then every reply at once. */
  for (gint32 i = 0; i < 3; i++)
    LAB_CHECK (mpk_messenger_send_request (messenger, NULL, g_variant_new_int32 (i),
                                           MPK_WAIT_FOREVER, &error));
  printf ("sending [TRUE, TRUE, TRUE]\n");
  print_remaining (messenger);
  /* Python: for d in w.messenger.receive_remaining(): print(d).  C gets
   * them all in an array once they are all there, within the timeout. */
  LAB_CHECK (replies = mpk_messenger_receive_remaining (messenger, NULL, 10 * G_USEC_PER_SEC,
                                                        &error));
  for (guint i = 0; i < replies->len; i++)
    printf ("%d\n", g_variant_get_int32 (g_ptr_array_index (replies, i)));

  /* A close request, then wait for the worker to leave (coproc kills it). */
  LAB_CHECK (mpk_worker_close (worker, 10 * G_USEC_PER_SEC, &error));
  lab_check_exitcode (mpk_worker_get_process (worker));
  return EXIT_SUCCESS;
}
