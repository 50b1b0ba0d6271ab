/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 02, shared value and array: a child process writes the squares of a list
 * into a shared Array('i', 4) and their sum into a shared Value('i'), and this
 * time the parent sees both.  The C version of the shared-memory example in
 * seeds/004_cbef035b4a535284.txt (Python's multiprocessing.Array and Value). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start, lab_join, lab_format_ints */

#define N_SQUARES 4   /* the length of the list, and of the shared array */

/* What p1 needs: the list to square (Python's `mylist`) and the two shared
 * objects.  The struct itself is copied into the child by fork(); the Array
 * and Value it points to are not copies: they live in shared memory. */
typedef struct
{
  const int *items;
  MpkArray  *result;       /* Python's `result = Array('i', 4)` */
  MpkValue  *square_sum;   /* Python's `square_sum = Value('i')` */
} SquareArgs;

/* The seed's two print() calls, in WHERE: result[:] as a list, then square_sum. */
static void
print_shared (const SquareArgs *args, const char *where)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *list = NULL;
  gint32 squares[N_SQUARES];
  gint64 sum;

  /* Python's result[:]: copy the whole shared array in one step, under its lock. */
  LAB_CHECK (mpk_array_get_range (args->result, 0, N_SQUARES, squares, &error));
  sum = mpk_value_get_int (args->square_sum);   /* Python: square_sum.value */

  list = lab_format_ints (squares, N_SQUARES);
  printf ("Result(in %s): %s\n", where, list);
  printf ("Sum of squares(in %s): %" G_GINT64_FORMAT "\n", where, sum);
  /* With MPK_TRACE set, a note in this process's lane of the diagram. */
  mpk_trace_mark ("result: %s, sum: %" G_GINT64_FORMAT, list, sum);
}

/* The body of p1 (Python's `target`): it runs in the child only. */
static int
square_list (gpointer user_data)
{
  const SquareArgs *args = user_data;
  g_autoptr(GError) error = NULL;
  gint32 squares[N_SQUARES];
  gint64 sum = 0;

  /* Python: for idx, num in enumerate(mylist): result[idx] = num * num.
   * Each set writes into the shared mapping, under the array's lock. */
  for (guint i = 0; i < N_SQUARES; i++)
    LAB_CHECK (mpk_array_set_int (args->result, i, args->items[i] * args->items[i],
                                  &error));

  /* Python: square_sum.value = sum(result).  Like Python, add up what is in
   * the shared array, not the local list. */
  LAB_CHECK (mpk_array_get_range (args->result, 0, N_SQUARES, squares, &error));
  for (guint i = 0; i < N_SQUARES; i++)
    sum += squares[i];
  LAB_CHECK (mpk_value_set_int (args->square_sum, sum, &error));

  print_shared (args, "process p1");
  return 0;
}

int
main (void)
{
  static const int mylist[N_SQUARES] = { 1, 2, 3, 4 };
  g_autoptr(MpkArray) result = NULL;
  g_autoptr(MpkValue) square_sum = NULL;
  g_autoptr(MpkProcess) p1 = NULL;
  g_autoptr(GError) error = NULL;
  SquareArgs args;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* Both objects are made in shared memory *before* the child is started, so
   * that fork() gives the child the same mapping, not a copy.  They start at
   * zero.  'i' is Python's typecode for a C int (32 bits). */
  LAB_CHECK (result = mpk_array_new ('i', N_SQUARES, &error));
  LAB_CHECK (square_sum = mpk_value_new ('i', &error));

  args = (SquareArgs) { mylist, result, square_sum };
  p1 = lab_start ("p1", square_list, &args);

  /* Wait for p1 to exit (Python: p1.join()).  After the join, everything p1
   * wrote is there to read: the parent only reads once the writer is gone. */
  lab_join (p1);

  /* Compare lab 01: the parent now prints the child's squares and sum. */
  print_shared (&args, "main program");

  /* g_autoptr unmaps the parent's handles here (and frees their locks). */
  return EXIT_SUCCESS;
}
