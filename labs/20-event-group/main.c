/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 20, event group: events made before the fork, reserved by the
 * frontend, set by the backend by index; SyncIndex waits for the set.  The
 * EventGroup and SyncIndex examples of seeds/003_0b6f8d8a7a71e7b5.txt, with
 * the prints of ../shared/research/anchor-layers.md §3.4. */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_init */

#define TIMEOUT (10 * G_USEC_PER_SEC)

/* Prints "WHO: WHAT <EventGroup: ...>". */
static void
show (const char *what, gint index, MpkEventGroup *group)
{
  g_autofree char *state = mpk_event_group_to_string (group);

  printf ("frontend: %s %d %s\n", what, index, state);
}

/* --- the backend ------------------------------------------------------------- */

/* c__ping(event_index): do something, then set the event to say it is done. */
static gboolean
c_ping (MpkMessageProcess *mp, MpkCommand *command, gpointer user_data, GError **error)
{
  MpkEventGroup *group = user_data;   /* the backend's copy, made before the fork */
  g_autoptr(GVariant) index = mpk_command_lookup (command, "event_index", NULL);

  printf ("backend: c__ping event_index = %d\n", g_variant_get_int32 (index));
  return mpk_event_group_set (group, g_variant_get_int32 (index), error);
}

/* --- the frontend ------------------------------------------------------------- */

/* The seed's EventGroup example: reserve, send the index, wait, release. */
static void
ping_by_hand (MpkMessageProcess *p, MpkEventGroup *group)
{
  g_autoptr(GError) error = NULL;
  MpkEvent *event;
  gint i;

  LAB_CHECK ((i = mpk_event_group_reserve (group, TIMEOUT, &event, &error)) >= 0);
  show ("reserved", i, group);
  LAB_CHECK (mpk_message_process_send (p, mpk_command_new_with ("ping", "event_index",
                                       g_variant_new_int32 (i), NULL), TIMEOUT, &error));
  LAB_CHECK (mpk_event_wait (event, TIMEOUT));          /* event.wait() */
  LAB_CHECK (mpk_event_group_release_event (group, event, &error));
  show ("released", i, group);
}

/* The seed's SyncIndex example: `with SyncIndex(group) as i:` is a begin
 * and an end; the end waits (with a timeout) and always releases. */
static void
ping_sync_index (MpkMessageProcess *p, MpkEventGroup *group)
{
  g_autoptr(GError) error = NULL;
  gint i;

  LAB_CHECK ((i = mpk_event_group_sync_begin (group, TIMEOUT, &error)) >= 0);
  show ("reserved", i, group);
  LAB_CHECK (mpk_message_process_send (p, mpk_command_new_with ("ping", "event_index",
                                       g_variant_new_int32 (i), NULL), TIMEOUT, &error));
  LAB_CHECK (mpk_event_group_sync_end (group, i, mpk_message_process_get_process (p),
                                       TIMEOUT, &error));
  show ("released", i, group);
}

int
main (void)
{
  g_autoptr(MpkEventGroup) group = NULL;
  g_autoptr(MpkMessageProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *state = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* EventGroup(10): before the fork, or the backend would not share them. */
  LAB_CHECK (group = mpk_event_group_new (10, &error));
  LAB_CHECK (p = mpk_message_process_new ("YourProcess", "your-process", &error));
  LAB_CHECK (mpk_message_process_add_handler (p, "ping", "event_index:i", c_ping, group,
                                              NULL, &error));
  LAB_CHECK (mpk_message_process_start (p, &error));

  ping_by_hand (p, group);        /* gets index 0 */
  ping_sync_index (p, group);     /* gets 1: a released index goes to the back */
  /* The same pattern as one call: reserve, send with event_index, wait, release. */
  LAB_CHECK (mpk_message_process_send_sync (p, group, mpk_command_new ("ping", NULL),
                                            TIMEOUT, &error));
  state = mpk_event_group_to_string (group);
  printf ("frontend: send_sync returned %s\n", state);

  LAB_CHECK (mpk_message_process_stop (p, TIMEOUT, &error));
  return EXIT_SUCCESS;
}
