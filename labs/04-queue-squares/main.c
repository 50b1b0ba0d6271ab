/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 04, queue squares: process p1 puts the squares of a list on a Queue,
 * then process p2 takes them off and prints them until the queue is empty.
 * The C version of the Queue example in seeds/004_cbef035b4a535284.txt
 * (Python's multiprocessing.Queue, put(), get() and empty()). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

/* What p1 needs: the list to square (Python's `mylist`) and the queue. */
typedef struct
{
  const int *items;
  guint      n_items;
  MpkQueue  *q;
} SquareArgs;

/* The body of p1: put the square of every number on the queue. */
static int
square_list (gpointer user_data)
{
  SquareArgs *args = user_data;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < args->n_items; i++)
    {
      int num = args->items[i];

      /* An item is a GVariant, here a 32-bit integer.  The floating
       * reference from g_variant_new_int32() is consumed by put().  put()
       * returns once the item is in the queue's shared memory: this process
       * could exit right away and the item would still be there. */
      LAB_CHECK (mpk_queue_put (args->q, g_variant_new_int32 (num * num),
                                MPK_WAIT_FOREVER, &error));
    }
  return 0;
}

/* The body of p2: print every item until the queue is empty. */
static int
print_queue (gpointer user_data)
{
  MpkQueue *q = user_data;
  g_autoptr(GError) error = NULL;

  printf ("Queue elements:\n");
  /* Python: while not q.empty(): print(q.get()).  This is safe here only
   * because nobody else uses the queue while p2 runs: p1 has finished.  With
   * a producer still running, "empty" can be wrong a moment later. */
  while (!mpk_queue_empty (q))
    {
      g_autoptr(GVariant) item = NULL;

      LAB_CHECK (item = mpk_queue_get (q, MPK_WAIT_FOREVER, &error));
      /* Python's queue takes any object; C checks what it got. */
      LAB_CHECK (g_variant_is_of_type (item, G_VARIANT_TYPE_INT32));
      printf ("%d\n", g_variant_get_int32 (item));
    }
  printf ("Queue is now empty!\n");
  return 0;
}

int
main (void)
{
  static const int mylist[] = { 1, 2, 3, 4 };
  g_autoptr(MpkQueue) q = NULL;
  g_autoptr(MpkProcess) p1 = NULL;
  g_autoptr(MpkProcess) p2 = NULL;
  g_autoptr(GError) error = NULL;
  SquareArgs args;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* The queue lives in shared memory.  Create it *before* starting the
   * processes, so that fork() gives both of them the same queue
   * (Python: q = multiprocessing.Queue()).  0 = no size limit. */
  LAB_CHECK (q = mpk_queue_new (0, &error));

  args = (SquareArgs) { mylist, G_N_ELEMENTS (mylist), q };
  p1 = mpk_process_new ("p1", square_list, &args, NULL);
  p2 = mpk_process_new ("p2", print_queue, q, NULL);

  /* As in the seed: run p1 to the end, *then* p2.  Only one process uses
   * the queue at a time, so the output is always the same. */
  LAB_CHECK (mpk_process_start (p1, &error));
  lab_join (p1);
  LAB_CHECK (mpk_process_start (p2, &error));
  lab_join (p2);

  /* g_autoptr frees the parent's mapping of the queue here; the children
   * freed theirs when they exited. */
  return EXIT_SUCCESS;
}
