/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 11, protocol over a pipe: a child sends the protocol's test request
 * to its parent over a pipe; the parent receives the 4-field message and
 * checks its request field.  The C version of the PIPE example of
 * pymulproc (seeds/000_e5b8d12692e23dfd.txt). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start, lab_join, lab_init */

/* The child's body (pymulproc's call_child): one send.  The sender pid is
 * left 0, "my own": mpkit takes it now, in the child, so the parent will
 * see the child's pid (pymulproc writes the pid of the process that built
 * the handle, which the seed does before the fork: the parent's). */
static int
call_child (gpointer user_data)
{
  MpkProtocol *child = user_data;
  g_autoptr(GError) error = NULL;

  LAB_CHECK (mpk_protocol_send (child, MPK_REQ_TEST_CHILD, 0, MPK_PID_NONE, NULL,
                                MPK_WAIT_FOREVER, &error));
  return 0;
}

int
main (void)
{
  g_autoptr(MpkProtocol) parent = NULL;
  g_autoptr(MpkProtocol) child = NULL;
  g_autoptr(MpkProcess) child_process = NULL;
  g_autoptr(MpkMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();

  /* pipe_factory = factory.PipeCommunication(); parent = pipe_factory.parent();
   * child = pipe_factory.child(): both handles, before the fork. */
  LAB_CHECK (mpk_protocol_pipe_new (&parent, &child, &error));

  child_process = lab_start ("child_process_", call_child, child);
  lab_join (child_process);
  printf ("The child sent its request and exited with code %d.\n",
          mpk_process_get_exitcode (child_process));

  /* message = parent.receive(): the message waits in the pipe although its
   * sender is gone.  pymulproc's pipe receive never waits; this one waits
   * up to 5 s, and then fails (TIMED_OUT) instead of returning False. */
  LAB_CHECK (message = mpk_protocol_receive (parent, NULL, 5 * G_USEC_PER_SEC, &error));

  /* Four fields, each checked: a message of any other shape would have
   * been refused by receive() with MPK_ERROR_PROTOCOL. */
  printf ("The parent received a message of 4 fields:\n");
  printf ("  request:       %s\n", message->request);
  printf ("  sender pid:    %s\n",
          message->sender_pid == mpk_process_get_pid (child_process) ? "the child's"
          : message->sender_pid == getpid () ? "the parent's" : "someone else's");
  printf ("  recipient pid: %s\n", message->recipient_pid == MPK_PID_NONE ? "None" : "a pid");
  printf ("  data:          %s\n", message->data == NULL ? "None" : "some data");

  /* assert message[request_offset] == mpq_protocol.REQ_TEST_CHILD */
  LAB_CHECK (mpk_message_is_request (message, MPK_REQ_TEST_CHILD));
  printf ("request == MPK_REQ_TEST_CHILD: OK\n");
  return EXIT_SUCCESS;
}
