/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-messenger.c: the messenger layer (issue 14) on the workloads of
 * bench/bench_messenger.py, which runs them with Python's Pipe the way
 * coproc does (a message object with a channel, per-channel deques or
 * heaps). bench/run.sh runs both and prints the ratios.
 *
 *   msg_rtt      request/reply round trip on one channel: the host sends a
 *                request (an int), the worker's echo replies; us per round trip
 *   msg_stream4  the worker streams 64 B payloads over 4 channels, priorities
 *                0..2 round-robin; the host takes each channel's waiting
 *                messages in turn (priority messengers); messages/s
 *
 * Output: "key<TAB>unit<TAB>v1,v2,..." per workload, "#" lines are notes. */
#include <mpkit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"

#define TIMEOUT (60 * G_USEC_PER_SEC)

/* --- msg_rtt ------------------------------------------------------------------ */

static int
echo_worker (MpkMessenger *m, gpointer data)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mpk_messenger_receive_blocking (m, NULL, TIMEOUT, &error);

      if (v == NULL)
        return g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED) ? 0 : 1;
      if (!mpk_messenger_send_reply (m, NULL, v, TIMEOUT, &error))
        return 2;
    }
}

static double
rtt_trial (gint64 count)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkWorker) w = mpk_worker_new ("echo", echo_worker, NULL, NULL,
                                           MPK_MESSENGER_FIFO, &error);
  MpkMessenger *m;
  gint64 t0 = 0;

  if (w == NULL || !mpk_worker_start (w, &error))
    bench_die ("start", error);
  m = mpk_worker_get_messenger (w);
  for (gint64 i = -500; i < count; i++)      /* 500 warm-up round trips */
    {
      g_autoptr(GVariant) v = NULL;

      if (i == 0)
        t0 = g_get_monotonic_time ();
      if (!mpk_messenger_send_request (m, NULL, g_variant_new_int32 ((gint32) i), TIMEOUT,
                                       &error)
          || (v = mpk_messenger_receive_blocking (m, NULL, TIMEOUT, &error)) == NULL)
        bench_die ("round trip", error);
      if (g_variant_get_int32 (v) != (gint32) i)
        bench_die ("round trip: wrong reply", NULL);
    }
  {
    double us = (double) (g_get_monotonic_time () - t0) / count;

    if (!mpk_worker_close (w, TIMEOUT, &error) || mpk_worker_get_exitcode (w) != 0)
      bench_die ("close", error);
    return us;
  }
}

/* --- msg_stream4 ---------------------------------------------------------- */

typedef struct
{
  gint64 count;
} StreamArgs;

static int
stream_worker (MpkMessenger *m, gpointer data)
{
  StreamArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) go = NULL;
  GVariant *channels[4];
  guint8 payload[64];

  memset (payload, 'x', sizeof payload);
  for (int c = 0; c < 4; c++)
    channels[c] = g_variant_ref_sink (g_variant_new_int32 (c));
  /* "ready", then wait for "go": the clock covers the messages only. */
  if (!mpk_messenger_send_norequest (m, NULL, g_variant_new_boolean (TRUE), TIMEOUT, &error)
      || (go = mpk_messenger_receive_blocking (m, NULL, TIMEOUT, &error)) == NULL)
    return 1;
  for (gint64 i = 0; i < args->count; i++)
    if (!mpk_messenger_send_full (m, MPK_MESSENGER_SEND_NOREQUEST, channels[i % 4],
                                  g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, payload,
                                                             sizeof payload, 1),
                                  (gdouble) ((i / 4) % 3), TIMEOUT, &error))
      return 2;
  for (int c = 0; c < 4; c++)
    g_variant_unref (channels[c]);
  if (!mpk_messenger_flush (m, TIMEOUT, &error))
    return 3;
  /* Stay until the host closes us. */
  g_clear_pointer (&go, g_variant_unref);
  go = mpk_messenger_receive_blocking (m, NULL, TIMEOUT, &error);
  return go == NULL && g_error_matches (error, MPK_ERROR, MPK_ERROR_CLOSE_REQUESTED) ? 0 : 4;
}

static double
stream_trial (gint64 count)
{
  g_autoptr(GError) error = NULL;
  StreamArgs args = { count };
  g_autoptr(MpkWorker) w = mpk_worker_new ("streamer", stream_worker, &args, NULL,
                                           MPK_MESSENGER_PRIORITY, &error);
  g_autoptr(GVariant) ready = NULL;
  GVariant *channels[4];
  MpkMessenger *m;
  gint64 got = 0, t0, t1;

  if (w == NULL || !mpk_worker_start (w, &error))
    bench_die ("start", error);
  m = mpk_worker_get_messenger (w);
  for (int c = 0; c < 4; c++)
    channels[c] = g_variant_ref_sink (g_variant_new_int32 (c));
  if ((ready = mpk_messenger_receive_blocking (m, NULL, TIMEOUT, &error)) == NULL)
    bench_die ("ready", error);
  t0 = g_get_monotonic_time ();
  if (!mpk_messenger_send_norequest (m, NULL, g_variant_new_boolean (TRUE), TIMEOUT, &error))
    bench_die ("go", error);
  while (got < count)
    {
      if (!mpk_messenger_await_available (m, TIMEOUT, &error))
        bench_die ("await", error);
      for (int c = 0; c < 4; c++)
        {
          g_autoptr(GPtrArray) batch = mpk_messenger_receive_available (m, channels[c],
                                                                        &error);
          if (batch == NULL)
            bench_die ("receive_available", error);
          got += batch->len;
        }
    }
  t1 = g_get_monotonic_time ();
  for (int c = 0; c < 4; c++)
    g_variant_unref (channels[c]);
  if (!mpk_worker_close (w, TIMEOUT, &error) || mpk_worker_get_exitcode (w) != 0)
    bench_die ("close", error);
  return count / ((t1 - t0) / 1e6);
}

static const BenchWorkload workloads[] = {
  { "msg_rtt",     "us/rt",  rtt_trial,    10000 },
  { "msg_stream4", "msgs/s", stream_trial, 100000 },
};

int
main (int argc, char **argv)
{
  static const BenchSpec spec = {
    "bench-messenger", "- the messenger layer's bench", 100, TRUE, FALSE,
    workloads, G_N_ELEMENTS (workloads)
  };

  return bench_main (argc, argv, &spec);
}
