/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 14, messenger channels: a worker echoes what it gets on channels A
 * and B; the host sends "hello" on A and "hi" on B over the same pipe and
 * receives each echo on its own channel.  The C version of the "Send/receive
 * and Channels" example of seeds/001_c29a5796e6bd02c6.txt (coproc). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

/* A channel is any GVariant; these two are strings (the seed's 1 and 2). */
#define CHANNEL_A g_variant_new_string ("A")
#define CHANNEL_B g_variant_new_string ("B")

/* Sends every message of MESSAGES back on CHANNEL. */
static void
echo (MpkMessenger *messenger, GPtrArray *messages, GVariant *channel)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ch = g_variant_ref_sink (channel);

  for (guint i = 0; i < messages->len; i++)
    LAB_CHECK (mpk_messenger_send_norequest (messenger, ch,
                                             g_ptr_array_index (messages, i),
                                             MPK_WAIT_FOREVER, &error));
}

/* The worker (the seed's echo_process_1): wait for anything, then echo
 * what came on A and on B, until the host closes us. */
static int
echo_process (MpkMessenger *messenger, gpointer user_data)
{
  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) on_a = NULL;
      g_autoptr(GPtrArray) on_b = NULL;

      printf ("awaiting messages\n");
      if (!mpk_messenger_await_available (messenger, MPK_WAIT_FOREVER, &error)
          && g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED))
        return 0;                       /* mpk_worker_close(): we are done */
      LAB_CHECK (error == NULL);
      printf ("some messages were found\n");
      LAB_CHECK (on_a = mpk_messenger_receive_available (messenger, CHANNEL_A, &error));
      echo (messenger, on_a, CHANNEL_A);
      LAB_CHECK (on_b = mpk_messenger_receive_available (messenger, CHANNEL_B, &error));
      echo (messenger, on_b, CHANNEL_B);
    }
}

/* Python: print(f'{w.messenger.receive_blocking(channel)=}') */
static void
print_received (MpkMessenger *messenger, GVariant *channel, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) msg = NULL;
  g_autofree char *text = NULL;
  LAB_CHECK (msg = mpk_messenger_receive_blocking (messenger, channel, MPK_WAIT_FOREVER,
                                                   &error));
  text = g_variant_print (msg, FALSE);        /* 'hello', quoted as Python's repr */
  printf ("receive_blocking (%s) = %s\n", name, text);
}

int
main (void)
{
  g_autoptr(MpkWorker) worker = NULL;
  g_autoptr(GError) error = NULL;
  MpkMessenger *messenger;
  gssize n;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* The worker resource and its two messengers; ours is the host's side. */
  LAB_CHECK (worker = mpk_worker_new ("worker", echo_process, NULL, NULL,
                                      MPK_MESSENGER_PRIORITY, &error));
  messenger = mpk_worker_get_messenger (worker);
  LAB_CHECK ((n = mpk_messenger_available (messenger, NULL, &error)) >= 0);
  printf ("available () = %zd\n", n);
  /* Sent before the worker starts: both wait in the pipe, so the worker's
   * first look finds both (the handout says why that matters). */
  LAB_CHECK (mpk_messenger_send_norequest (messenger, CHANNEL_A, g_variant_new_string ("hello"),
                                           MPK_WAIT_FOREVER, &error));
  printf ("send_norequest ('hello', A) = TRUE\n");
  LAB_CHECK (mpk_messenger_send_norequest (messenger, CHANNEL_B, g_variant_new_string ("hi"),
                                           MPK_WAIT_FOREVER, &error));
  printf ("send_norequest ('hi', B) = TRUE\n");
  LAB_CHECK (mpk_worker_start (worker, &error));
  /* No sleep: the default channel (NULL) gets nothing, echoes or not. */
  LAB_CHECK ((n = mpk_messenger_available (messenger, NULL, &error)) >= 0);
  printf ("available () = %zd\n", n);
  /* Each waits for the echo on its own channel. */
  print_received (messenger, CHANNEL_A, "A");
  print_received (messenger, CHANNEL_B, "B");

  /* A close request, then wait for the worker to leave (coproc kills it). */
  LAB_CHECK (mpk_worker_close (worker, 10 * G_USEC_PER_SEC, &error));
  lab_check_exitcode (mpk_worker_get_process (worker));
  return EXIT_SUCCESS;
}
