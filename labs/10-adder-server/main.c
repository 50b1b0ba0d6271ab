/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 10, adder server: a server process receives pairs over a duplex pipe and
 * sends back their sum; the parent is the client.  Request/response, the shape
 * of client/server and RPC.  The C version of the adder example in
 * seeds/002_f16e3013f11b5d65.txt. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start, lab_join, lab_init */
#include "add.h"      /* add (): the server's work, Python's "x + y" (add.c) */

/* Both ends of the pipe, as the seed passes (server_p, client_p) to the server. */
typedef struct
{
  MpkConnection *server_p;
  MpkConnection *client_p;
} PipeEnds;

/* The body of the server process. */
static int
adder (gpointer user_data)
{
  PipeEnds *ends = user_data;
  g_autoptr(GError) error = NULL;

  /* Not ours: kept open, the client's end would hide the EOF (lab 09). */
  mpk_connection_close (ends->client_p);

  while (TRUE)
    {
      g_autoptr(GVariant) request = mpk_connection_recv (ends->server_p,
                                                         MPK_WAIT_FOREVER, &error);
      GVariant *result;

      if (request == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
        break;                           /* the client closed its end: done */
      LAB_CHECK (request != NULL);
      /* Python: result = x + y (add.c).  Another type: Python's TypeError;
       * we die too (see the handout). */
      LAB_CHECK (result = add (request));
      LAB_CHECK (mpk_connection_send (ends->server_p, result, MPK_WAIT_FOREVER, &error));
    }
  printf ("Server done\n");
  return 0;
}

/* Client side: send REQUEST, wait for the reply and print it. */
static void
request_and_print (MpkConnection *client_p, GVariant *request)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *text = NULL;

  LAB_CHECK (mpk_connection_send (client_p, request, MPK_WAIT_FOREVER, &error));
  LAB_CHECK (reply = mpk_connection_recv (client_p, MPK_WAIT_FOREVER, &error));
  /* As Python's print(): 7 and HelloWorld, a string without its quotes. */
  text = g_variant_is_of_type (reply, G_VARIANT_TYPE_STRING)
         ? g_variant_dup_string (reply, NULL) : g_variant_print (reply, FALSE);
  printf ("%s\n", text);
}

int
main (void)
{
  PipeEnds ends = { NULL, NULL };
  g_autoptr(MpkProcess) adder_p = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* A duplex pipe: requests go one way, replies come back the other way. */
  LAB_CHECK (mpk_pipe_new (TRUE, &ends.server_p, &ends.client_p, &error));

  adder_p = lab_start ("adder", adder, &ends);

  /* The client never uses the server's end: close its copy. */
  mpk_connection_close (ends.server_p);

  /* Two requests; each waits for its reply, so the output order is fixed. */
  request_and_print (ends.client_p, g_variant_new ("(ii)", 3, 4));
  request_and_print (ends.client_p, g_variant_new ("(ss)", "Hello", "World"));

  /* Done: closing our end is the server's signal (EOF) to shut down. */
  mpk_connection_close (ends.client_p);

  lab_join (adder_p);
  mpk_connection_free (ends.server_p);
  mpk_connection_free (ends.client_p);
  return EXIT_SUCCESS;
}
