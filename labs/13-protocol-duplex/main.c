/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 13, protocol duplex: pymulproc's full-duplex stress test, which
 * seeds/000_e5b8d12692e23dfd.txt points to (the handout tells it).  Every
 * process waits in a filtered receive: no sleep, no put-back.
 * Usage: lab [--seed N] [--rounds N] */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start, lab_join_all */

#define TIMEOUT_US (10 * G_USEC_PER_SEC)   /* a lost message fails the lab, never hangs it */

typedef struct
{
  MpkProtocol *queue;
  GPid         parent;
  gint32       number;   /* 1..max_p */
} ChildArgs;

/* A child: take what is for me or for everybody, in order; DIE ends me,
 * anything else (the DO) is answered with FINISHED and my number. */
static int
child_body (gpointer user_data)
{
  ChildArgs *me = user_data;
  g_autoptr(GError) error = NULL;

  for (;;)
    {
      g_autoptr(MpkMessage) message = NULL;

      /* Sleeps until a message this filter accepts arrives: the others
       * stay in the queue, in place, for their recipients. */
      LAB_CHECK (message = mpk_protocol_receive (me->queue, MPK_MESSAGE_FILTER_FOR_ME,
                                                 TIMEOUT_US, &error));
      if (mpk_message_is_request (message, MPK_REQ_DIE))
        return 0;
      LAB_CHECK (mpk_protocol_send (me->queue, MPK_REQ_FINISHED, 0, me->parent,
                                    g_variant_new_int32 (me->number), TIMEOUT_US, &error));
    }
}

static void
play_round (int round, int min_p, int max_p)
{
  g_autoptr(MpkProtocol) queue = NULL;
  g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) mpk_process_unref);
  g_autoptr(MpkMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  ChildArgs args[10];
  GPid target;
  gboolean empty;
  gint64 start = g_get_monotonic_time ();   /* stderr: times vary, the lab test ignores them */

  /* 1. One queue per round, then max_p children, numbered 1..max_p. */
  LAB_CHECK (queue = mpk_protocol_queue_new (0, &error));
  for (int i = 0; i < max_p; i++)
    {
      g_autofree char *name = g_strdup_printf ("child %d", i + 1);

      args[i] = (ChildArgs) { queue, getpid (), i + 1 };
      g_ptr_array_add (children, lab_start (name, child_body, &args[i]));
    }
  /* 2. One task, for child number min_p only. */
  target = mpk_process_get_pid (g_ptr_array_index (children, min_p - 1));
  LAB_CHECK (mpk_protocol_send (queue, MPK_REQ_DO, 0, target, NULL, TIMEOUT_US, &error));
  /* 3. Its answer: a message addressed to me (pymulproc busy-polls here). */
  LAB_CHECK (reply = mpk_protocol_receive (queue, MPK_MESSAGE_FILTER_TO_ME, TIMEOUT_US, &error));
  LAB_CHECK (mpk_message_is_request (reply, MPK_REQ_FINISHED) && reply->sender_pid == target);
  empty = mpk_protocol_queue_empty (queue);
  /* 4. The poison pill, once per child: each child takes exactly one. */
  for (int i = 0; i < max_p; i++)
    LAB_CHECK (mpk_protocol_send (queue, MPK_REQ_DIE, 0, MPK_PID_NONE, NULL, TIMEOUT_US, &error));
  lab_join_all (children);   /* every child took its pill and exited 0 */
  LAB_CHECK (mpk_protocol_queue_join (queue, TIMEOUT_US, &error));
  printf ("round %2d: children %2d, DO -> child %d, FINISHED <- child %d (data %d), "
          "DIE taken %d, queue empty: %s\n", round, max_p, min_p, min_p,
          g_variant_get_int32 (reply->data), max_p, empty ? "yes" : "no");
  g_printerr ("round %2d: %.1f ms\n", round, (g_get_monotonic_time () - start) / 1e3);
}

int
main (int argc, char **argv)
{
  /* Seed 20 draws first the round the research captured from pymulproc:
   * 3 children, the DO for child 2.  One round fits a diagram; --rounds 10
   * plays the whole stress test. */
  gint64 seed = 20, rounds = 1;
  g_autoptr(GRand) rand = NULL;

  lab_init ();
  for (int i = 1; i + 1 < argc; i += 2)
    if (strcmp (argv[i], "--seed") == 0)
      seed = g_ascii_strtoll (argv[i + 1], NULL, 10);
    else if (strcmp (argv[i], "--rounds") == 0)
      rounds = CLAMP (g_ascii_strtoll (argv[i + 1], NULL, 10), 1, 1000);
  /* The same seed draws the same rounds: a run can be repeated. */
  rand = g_rand_new_with_seed ((guint32) seed);
  printf ("seed %" G_GINT64_FORMAT " (repeat this run with --seed %" G_GINT64_FORMAT ")\n",
          seed, seed);
  for (int round = 1; round <= rounds; round++)
    {
      int min_p = g_rand_int_range (rand, 1, 6);         /* randint(1, 5) */
      int max_p = g_rand_int_range (rand, min_p, 11);    /* randint(min_p, 10) */

      play_round (round, min_p, max_p);
    }
  printf ("%" G_GINT64_FORMAT " round(s): no sleep, no put-back\n", rounds);
  return EXIT_SUCCESS;
}
