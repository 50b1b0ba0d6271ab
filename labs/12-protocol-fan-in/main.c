/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 12, protocol fan-in: five children each send FINISHED with the data 3
 * through one shared protocol queue; the parent, after joining them, sums
 * the data while the queue is not empty (15), then queue_join returns.  The
 * C version of the 1:N QUEUE example of pymulproc
 * (seeds/000_e5b8d12692e23dfd.txt). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start_many, lab_join_all */

#define N_CHILDREN 5
#define VALUE      3

/* The child's body (pymulproc's ChildProcess.run): one FINISHED with the
 * data, for nobody in particular: the parent takes everything. */
static int
call_child (gpointer user_data)
{
  MpkProtocol *queue = user_data;
  g_autoptr(GError) error = NULL;

  LAB_CHECK (mpk_protocol_send (queue, MPK_REQ_FINISHED, 0, MPK_PID_NONE,
                                g_variant_new_int32 (VALUE), MPK_WAIT_FOREVER, &error));
  return 0;
}

/* "child 3" for a child's pid: pids change from run to run, names do not. */
static const char *
child_name (GPtrArray *children, GPid pid)
{
  for (guint i = 0; i < children->len; i++)
    if (mpk_process_get_pid (g_ptr_array_index (children, i)) == pid)
      return mpk_process_get_name (g_ptr_array_index (children, i));
  return "a stranger";
}

int
main (void)
{
  g_autoptr(MpkProtocol) queue = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(GError) error = NULL;
  gint32 counter = 0;

  lab_init ();

  /* queue_factory = factory.QueueCommunication(): one queue in shared
   * memory, made before the children so that they all inherit it.  One
   * handle serves the parent and every child (0: the default capacity). */
  LAB_CHECK (queue = mpk_protocol_queue_new (0, &error));

  /* Start five children, then wait for all of them. */
  children = lab_start_many ("child", N_CHILDREN, call_child, queue);
  lab_join_all (children);

  /* while not parent.queue_empty(): counter += parent.receive()[data].
   * Safe here: every child has been joined, so all five messages are in
   * the queue (a send that returned has put its message in shared memory;
   * pymulproc's tests sleep 0.1 s after each send for its feeder thread). */
  while (!mpk_protocol_queue_empty (queue))
    {
      g_autoptr(MpkMessage) message = NULL;

      LAB_CHECK (message = mpk_protocol_receive (queue, NULL, MPK_NO_WAIT, &error));
      LAB_CHECK (mpk_message_is_request (message, MPK_REQ_FINISHED));
      LAB_CHECK (message->data != NULL
                 && g_variant_is_of_type (message->data, G_VARIANT_TYPE_INT32));
      printf ("received ['FINISHED', %s, None, %d]\n",
              child_name (children, message->sender_pid), g_variant_get_int32 (message->data));
      counter += g_variant_get_int32 (message->data);
    }

  /* parent.queue_join(): every message sent has been received. */
  LAB_CHECK (mpk_protocol_queue_join (queue, 5 * G_USEC_PER_SEC, &error));
  printf ("counter = %d (%d children x %d)\n", counter, N_CHILDREN, VALUE);
  printf ("queue_join returned: no message left\n");
  LAB_CHECK (counter == VALUE * N_CHILDREN);
  return EXIT_SUCCESS;
}
