/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 10, adder server: a server process receives pairs over a duplex pipe and
 * sends back their sum; the parent is the client.  Request/response, the shape
 * of client/server and RPC.  The C version of the adder example in
 * seeds/002_f16e3013f11b5d65.txt. */

#include <stdio.h>
#include <stdlib.h>
#include <mpkit.h>

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

  /* The server never uses the client's end: close its copy of it, or the
   * server would keep the pipe open and never see EOF. */
  mpk_connection_close (ends->client_p);

  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) request = NULL;
      GVariant *result;

      request = mpk_connection_recv (ends->server_p, MPK_WAIT_FOREVER, &error);
      if (request == NULL)
        {
          if (g_error_matches (error, MPK_ERROR, MPK_ERROR_EOF))
            break;                       /* the client closed its end: done */
          g_printerr ("Server: recv failed: %s\n", error->message);
          return 1;
        }
      result = add (request);
      if (result == NULL)
        {
          /* Python's + would raise TypeError and the server would die; so do
           * we, and closing our end on exit gives the client an EOF. */
          g_printerr ("Server: cannot add a %s\n",
                      g_variant_get_type_string (request));
          return 1;
        }
      if (!mpk_connection_send (ends->server_p, result, MPK_WAIT_FOREVER, &error))
        {
          g_printerr ("Server: send failed: %s\n", error->message);
          return 1;
        }
    }
  printf ("Server done\n");
  return 0;
}

/* Client side: send REQUEST, wait for the reply and print it. */
static gboolean
request_and_print (MpkConnection *client_p, GVariant *request)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  if (!mpk_connection_send (client_p, request, MPK_WAIT_FOREVER, &error)
      || !(reply = mpk_connection_recv (client_p, MPK_WAIT_FOREVER, &error)))
    {
      g_printerr ("lab10: request failed: %s\n", error->message);
      return FALSE;
    }
  /* print() in Python shows 7 and HelloWorld; print the C values the same way. */
  if (g_variant_is_of_type (reply, G_VARIANT_TYPE_INT32))
    printf ("%d\n", g_variant_get_int32 (reply));
  else if (g_variant_is_of_type (reply, G_VARIANT_TYPE_STRING))
    printf ("%s\n", g_variant_get_string (reply, NULL));
  else
    {
      g_printerr ("lab10: unexpected reply type %s\n",
                  g_variant_get_type_string (reply));
      return FALSE;
    }
  return TRUE;
}

int
main (void)
{
  PipeEnds ends = { NULL, NULL };
  g_autoptr(MpkProcess) adder_p = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  /* A duplex pipe: requests go one way, replies come back the other way. */
  if (!mpk_pipe_new (TRUE, &ends.server_p, &ends.client_p, &error))
    {
      g_printerr ("lab10: cannot create the pipe: %s\n", error->message);
      return EXIT_FAILURE;
    }

  adder_p = mpk_process_new ("adder", adder, &ends, NULL);
  if (!mpk_process_start (adder_p, &error))
    {
      g_printerr ("lab10: cannot start the server: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* The client never uses the server's end: close its copy. */
  mpk_connection_close (ends.server_p);

  /* Two requests; each waits for its reply, so the output order is fixed. */
  ok = request_and_print (ends.client_p, g_variant_new ("(ii)", 3, 4))
       && request_and_print (ends.client_p, g_variant_new ("(ss)", "Hello", "World"));

  /* Done: closing our end is the server's signal (EOF) to shut down. */
  mpk_connection_close (ends.client_p);

  mpk_process_join (adder_p, MPK_WAIT_FOREVER);
  if (mpk_process_get_exitcode (adder_p) != 0)
    {
      g_printerr ("lab10: the server failed with exit code %d\n",
                  mpk_process_get_exitcode (adder_p));
      ok = FALSE;
    }
  mpk_connection_free (ends.server_p);
  mpk_connection_free (ends.client_p);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
