/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 10, adder server: a server process receives pairs over a duplex pipe and
 * sends back their sum; the parent is the client.  Request/response, the shape
 * of client/server and RPC.  The C version of the adder example in
 * seeds/002_f16e3013f11b5d65.txt. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

/* Both ends of the pipe, as the seed passes (server_p, client_p) to the server. */
typedef struct
{
  MpkConnection *server_p;
  MpkConnection *client_p;
} PipeEnds;

/* "x + y" for a request.  Python's + works on any two objects that support
 * it; in C the server looks at the GVariant type and picks the operation.
 * Returns a new floating GVariant, or NULL if the type is not supported. */
static GVariant *
add (GVariant *request)
{
  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(ii)")))
    {
      gint32 x, y;
      g_variant_get (request, "(ii)", &x, &y);
      return g_variant_new_int32 (x + y);            /* 3 + 4 -> 7 */
    }
  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(ss)")))
    {
      const char *x, *y;
      g_variant_get (request, "(&s&s)", &x, &y);     /* borrowed strings */
      return g_variant_new_take_string (g_strconcat (x, y, NULL));
    }
  return NULL;
}

/* The body of the server process. */
static int
adder (gpointer user_data)
{
  PipeEnds *ends = user_data;
  g_autoptr(GError) error = NULL;

  /* The server never uses the client's end: close its copy of it, or the
   * server would keep the pipe open and never see EOF. */
  mpk_connection_close (ends->client_p);

  while (TRUE)
    {
      g_autoptr(GVariant) request = mpk_connection_recv (ends->server_p,
                                                         MPK_WAIT_FOREVER, &error);
      GVariant *result;

      if (request == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
        break;                           /* the client closed its end: done */
      LAB_CHECK (request != NULL);
      /* Python's + would raise TypeError and the server would die; so do
       * we, and closing our end on exit gives the client an EOF. */
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

  LAB_CHECK (mpk_connection_send (client_p, request, MPK_WAIT_FOREVER, &error));
  LAB_CHECK (reply = mpk_connection_recv (client_p, MPK_WAIT_FOREVER, &error));
  /* print() in Python shows 7 and HelloWorld; print the C values the same way. */
  if (g_variant_is_of_type (reply, G_VARIANT_TYPE_INT32))
    printf ("%d\n", g_variant_get_int32 (reply));
  else
    {
      LAB_CHECK (g_variant_is_of_type (reply, G_VARIANT_TYPE_STRING));
      printf ("%s\n", g_variant_get_string (reply, NULL));
    }
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

  adder_p = mpk_process_new ("adder", adder, &ends, NULL);
  LAB_CHECK (mpk_process_start (adder_p, &error));

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
