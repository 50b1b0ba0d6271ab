/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 19, ping-pong: the backend answers a ping; the frontend waits for the
 * answer on its pipe with mpk_wait(), valkka's safe_select.  valkka's
 * docs/snippets/ping_pong.py (../shared/research/anchor-layers.md §3.4),
 * built on the MessageProcess of seeds/003_0b6f8d8a7a71e7b5.txt. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

/* valkka's logger format: "MyProcess.my-process - INFO - ...". */
static void
log_info (MpkMessageProcess *mp, const char *text)
{
  printf ("%s - INFO - %s\n", mpk_message_process_get_log_domain (mp), text);
}

/* --- the backend ------------------------------------------------------------ */

/* c__ping: do some work, then answer the frontend with a pong. */
static gboolean
c_ping (MpkMessageProcess *mp, MpkCommand *command, gpointer user_data, GError **error)
{
  g_autoptr(GVariant) parameter = mpk_command_lookup (command, "parameter", NULL);
  g_autofree char *line = g_strdup_printf ("c__ping: got parameter %s - will do some",
                                           g_variant_get_string (parameter, NULL));
  g_autoptr(MpkCommand) pong = NULL;

  log_info (mp, line);
  log_info (mp, "c__ping: ..did that!");
  pong = mpk_command_new_with ("pong", "parameter", g_variant_new_string ("some pudding"),
                               NULL);
  /* valkka's send_out__; a reply also tells the diagram which call it answers. */
  return mpk_message_process_reply (mp, command, pong, 10 * G_USEC_PER_SEC, error);
}

/* --- the frontend ------------------------------------------------------------ */

/* ping(): the frontend method. */
static void
ping (MpkMessageProcess *mp, const char *parameter)
{
  g_autoptr(GError) error = NULL;

  log_info (mp, "ping: sending ping to backend");
  LAB_CHECK (mpk_message_process_send (mp, mpk_command_new_with ("ping", "parameter",
                                       g_variant_new_string (parameter), NULL),
                                       10 * G_USEC_PER_SEC, &error));
}

int
main (void)
{
  g_autoptr(MpkMessageProcess) p = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(MpkCommand) pong = NULL;
  g_autoptr(GVariant) what = NULL;
  g_autoptr(GError) error = NULL;
  gpointer pipes[1];

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  LAB_CHECK (p = mpk_message_process_new ("MyProcess", "my-process", &error));
  /* Replaces the built-in ping (which echoes its parameters as a pong). */
  LAB_CHECK (mpk_message_process_add_handler (p, "ping", "parameter:s", c_ping, NULL, NULL,
                                              &error));
  LAB_CHECK (mpk_message_process_start (p, &error));

  ping (p, "gotcha!");
  printf ("main: waiting reply from multiprocessing backend\n");

  /* select.select([pipe], [], [], timeout): here mpk_wait(), which a signal
   * does not cut short and which takes any descriptor number. */
  pipes[0] = mpk_message_process_get_connection (p);
  LAB_CHECK (ready = mpk_wait (pipes, 1, 10 * G_USEC_PER_SEC, &error));
  LAB_CHECK (ready->len == 1);            /* not the timeout */
  LAB_CHECK (pong = mpk_message_process_receive (p, MPK_NO_WAIT, &error));
  LAB_CHECK (what = mpk_command_lookup (pong, "parameter", G_VARIANT_TYPE_STRING));
  printf ("main: got %s with %s\n", mpk_command_get_name (pong),
          g_variant_get_string (what, NULL));

  LAB_CHECK (mpk_message_process_stop (p, 10 * G_USEC_PER_SEC, &error));
  return EXIT_SUCCESS;
}
