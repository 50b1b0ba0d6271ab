/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 09, pipe EOF: a producer sends 1, 2, 3, 4 over a pipe and closes its end;
 * the consumer stops when recv() reports end-of-file.  Each process closes the
 * end it does not use.  The C version of the pipe producer/consumer example in
 * seeds/002_f16e3013f11b5d65.txt.  Run with --forget-close to see the classic hang. */

#include <string.h>
#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

/* Both ends, as the seed passes the pair (output_p, input_p) to the consumer.
 * The consumer reads output_p; the producer (the parent) writes input_p. */
typedef struct
{
  MpkConnection *output_p;
  MpkConnection *input_p;
  gboolean       forget_close;   /* --forget-close: the bug, on purpose */
} PipeEnds;

/* The body of the consumer process. */
static int
consumer (gpointer user_data)
{
  PipeEnds *ends = user_data;
  /* The normal run waits forever.  The demonstration of the bug waits 2 s,
   * so that it ends instead of hanging. */
  gint64 timeout_us = ends->forget_close ? 2 * G_USEC_PER_SEC : MPK_WAIT_FOREVER;
  g_autoptr(GError) error = NULL;

  /* fork() copied *both* ends into this process.  Close the one we never
   * write to: otherwise this process itself keeps a write end open, and the
   * kernel can never tell us "no writer is left" (EOF). */
  if (!ends->forget_close)
    mpk_connection_close (ends->input_p);

  while (TRUE)
    {
      g_autoptr(GVariant) item = mpk_connection_recv (ends->output_p, timeout_us, &error);

      /* EOF: every copy of the other end is closed and the pipe is empty
       * (Python raises EOFError).  This is the normal way out. */
      if (item == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
        break;
      if (item == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_TIMED_OUT))
        {
          g_printerr ("Consumer: no EOF after 2 s: a write end is still open"
                      " (this process's own copy)\n");
          return 1;
        }
      LAB_CHECK (item != NULL);
      LAB_CHECK (g_variant_is_of_type (item, G_VARIANT_TYPE_INT32));
      printf ("%d\n", g_variant_get_int32 (item));   /* "process" the item */
    }
  printf ("Consumer done\n");
  return 0;
}

int
main (int argc, char **argv)
{
  static const int sequence[] = { 1, 2, 3, 4 };
  PipeEnds ends = { NULL, NULL, FALSE };
  g_autoptr(MpkProcess) cons_p = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */
  ends.forget_close = argc > 1 && strcmp (argv[1], "--forget-close") == 0;

  /* Python's Pipe() is duplex by default, so is this one; each side will use
   * only one direction. */
  LAB_CHECK (mpk_pipe_new (TRUE, &ends.output_p, &ends.input_p, &error));

  cons_p = mpk_process_new ("consumer", consumer, &ends, NULL);
  LAB_CHECK (mpk_process_start (cons_p, &error));

  /* The producer (this process) never reads: close its copy of the output end. */
  mpk_connection_close (ends.output_p);

  for (guint i = 0; i < G_N_ELEMENTS (sequence); i++)
    LAB_CHECK (mpk_connection_send (ends.input_p, g_variant_new_int32 (sequence[i]),
                                    MPK_WAIT_FOREVER, &error));

  /* Signal "no more items" by closing the input end.  The consumer sees EOF
   * once this copy *and* the consumer's own copy are closed. */
  mpk_connection_close (ends.input_p);

  lab_join (cons_p);
  mpk_connection_free (ends.output_p);
  mpk_connection_free (ends.input_p);
  return EXIT_SUCCESS;
}
