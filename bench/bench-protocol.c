/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-protocol.c: the mpkit side of `make bench` for the request
 * protocol (lib/messaging/mpk-protocol.c, issue 13). The same workloads as
 * bench/bench_protocol.py runs the way pymulproc does it (a Pipe of lists;
 * a JoinableQueue, with a refused message put back at the tail):
 *
 *   proto_rtt      pipe pair: the parent sends DO (data: an int), the child
 *                  answers FINISHED with it                         us/rt
 *   proto_fanin    queue: 4 children send FINISHED to the parent, which
 *                  receives them all (no filter)                     msg/s
 *   proto_filter4  queue: the parent sends DO round-robin to 4 children,
 *                  each receives only its own (filter: for me); then a
 *                  DIE each                                          msg/s
 *
 * Output: one line per measurement, '#' lines are comments:
 *   key <TAB> unit <TAB> v1,v2,...   (one value per trial)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpkit.h>

#include "bench-util.h"

#define N_CHILDREN 4
#define TIMEOUT_US (60 * G_USEC_PER_SEC)

/* Benchmark code has no recovery path: any failure ends the run. */
static void
check (gboolean ok, const char *what, GError *error)
{
  if (!ok)
    bench_die (what, error);
}

typedef struct
{
  MpkProtocol *proto;   /* the child's handle (pipe end, or the queue) */
  gint64       count;   /* messages to echo, send or receive */
  GPid         parent;
} Args;

static MpkProcess *
start (MpkProcessFunc func, Args *args)
{
  GError *error = NULL;
  MpkProcess *p = mpk_process_new (NULL, func, args, NULL);

  check (mpk_process_start (p, &error), "start", error);
  return p;
}

static void
join (MpkProcess *p)
{
  check (mpk_process_join (p, TIMEOUT_US) && mpk_process_get_exitcode (p) == 0,
         "child", NULL);
  mpk_process_unref (p);
}

/* --- proto_rtt ------------------------------------------------------------------- */

static int
echo_child (gpointer data)
{
  Args *args = data;

  for (gint64 i = 0; i < args->count; i++)
    {
      g_autoptr(MpkMessage) m = mpk_protocol_receive (args->proto, NULL, TIMEOUT_US, NULL);

      if (m == NULL || !mpk_protocol_send (args->proto, MPK_REQ_FINISHED, 0, MPK_PID_NONE,
                                           m->data, TIMEOUT_US, NULL))
        return 1;
    }
  return 0;
}

/* Microseconds per round trip. */
static double
trial_rtt (gint64 count)
{
  MpkProtocol *parent = NULL, *child = NULL;
  GError *error = NULL;
  Args args;
  MpkProcess *p;
  gint64 warm = 200, start_us = 0;

  check (mpk_protocol_pipe_new (&parent, &child, &error), "pipe", error);
  args = (Args) { child, warm + count, getpid () };
  p = start (echo_child, &args);
  for (gint64 i = 0; i < warm + count; i++)
    {
      g_autoptr(MpkMessage) m = NULL;

      if (i == warm)
        start_us = g_get_monotonic_time ();
      check (mpk_protocol_send (parent, MPK_REQ_DO, 0, MPK_PID_NONE,
                                g_variant_new_int32 ((gint32) i), TIMEOUT_US, &error),
             "send", error);
      m = mpk_protocol_receive (parent, NULL, TIMEOUT_US, &error);
      check (m != NULL, "receive", error);
    }
  {
    double us = (double) (g_get_monotonic_time () - start_us) / count;

    join (p);
    mpk_protocol_free (parent);
    mpk_protocol_free (child);
    return us;
  }
}

/* --- proto_fanin ------------------------------------------------------------------- */

static int
fanin_child (gpointer data)
{
  Args *args = data;

  for (gint64 i = 0; i < args->count; i++)
    if (!mpk_protocol_send (args->proto, MPK_REQ_FINISHED, 0, args->parent,
                            g_variant_new_int32 (3), TIMEOUT_US, NULL))
      return 1;
  return 0;
}

/* Messages per second received by the parent. */
static double
trial_fanin (gint64 count)
{
  static MpkProtocol *queue;   /* one for every trial: warm, as Python's is */
  GError *error = NULL;
  MpkProcess *children[N_CHILDREN];
  Args args;
  gint64 per_child = MAX (count / N_CHILDREN, 1), start_us;
  double rate;

  /* Python's JoinableQueue is unbounded: room for 128 Ki small messages
   * (256 B slots, committed as they are first used), so that producers
   * seldom wait for room here either. */
  if (queue == NULL)
    queue = mpk_protocol_queue_new_full (1 << 17, 256, &error);
  check (queue != NULL, "queue", error);
  args = (Args) { queue, per_child, getpid () };
  start_us = g_get_monotonic_time ();
  for (int i = 0; i < N_CHILDREN; i++)
    children[i] = start (fanin_child, &args);
  for (gint64 i = 0; i < per_child * N_CHILDREN; i++)
    {
      g_autoptr(MpkMessage) m = mpk_protocol_receive (queue, NULL, TIMEOUT_US, &error);

      check (m != NULL, "receive", error);
    }
  rate = per_child * N_CHILDREN / ((g_get_monotonic_time () - start_us) / 1e6);
  for (int i = 0; i < N_CHILDREN; i++)
    join (children[i]);
  check (mpk_protocol_queue_join (queue, TIMEOUT_US, &error), "join", error);
  return rate;
}

/* --- proto_filter4 ------------------------------------------------------------------ */

static int
filter_child (gpointer data)
{
  Args *args = data;

  for (;;)
    {
      g_autoptr(MpkMessage) m = mpk_protocol_receive (args->proto, MPK_MESSAGE_FILTER_FOR_ME,
                                                      TIMEOUT_US, NULL);

      if (m == NULL)
        return 1;
      if (mpk_message_is_request (m, MPK_REQ_DIE))
        return 0;
    }
}

/* Messages per second taken by their recipients, until the queue is joined. */
static double
trial_filter4 (gint64 count)
{
  GError *error = NULL;
  MpkProtocol *queue = mpk_protocol_queue_new (0, &error);
  MpkProcess *children[N_CHILDREN];
  Args args;
  gint64 start_us;
  double rate;

  check (queue != NULL, "queue", error);
  args = (Args) { queue, count, getpid () };
  for (int i = 0; i < N_CHILDREN; i++)
    children[i] = start (filter_child, &args);
  start_us = g_get_monotonic_time ();
  for (gint64 i = 0; i < count; i++)
    check (mpk_protocol_send (queue, MPK_REQ_DO, 0,
                              mpk_process_get_pid (children[i % N_CHILDREN]),
                              g_variant_new_int32 ((gint32) i), TIMEOUT_US, &error),
           "send", error);
  check (mpk_protocol_queue_join (queue, TIMEOUT_US, &error), "join", error);
  rate = count / ((g_get_monotonic_time () - start_us) / 1e6);
  for (int i = 0; i < N_CHILDREN; i++)
    check (mpk_protocol_send (queue, MPK_REQ_DIE, 0, MPK_PID_NONE, NULL, TIMEOUT_US, &error),
           "send", error);
  for (int i = 0; i < N_CHILDREN; i++)
    join (children[i]);
  mpk_protocol_free (queue);
  return rate;
}

static const BenchWorkload workloads[] = {
  { "proto_rtt", "us/rt", trial_rtt, 20000 },
  { "proto_fanin", "msg/s", trial_fanin, 200000 },
  { "proto_filter4", "msg/s", trial_filter4, 100000 },
};

int
main (int argc, char *argv[])
{
  /* No header note, and a warm-up trial before each workload's. */
  static const BenchSpec spec = {
    "bench-protocol", "- the request protocol against pymulproc's way", 1, FALSE, TRUE,
    workloads, G_N_ELEMENTS (workloads)
  };

  return bench_main (argc, argv, &spec);
}
