/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 01, separate memory: a child process squares a list into a global array,
 * yet the parent's copy of that global stays empty, because each process has its
 * own memory. The C version of the first example in seeds/004_cbef035b4a535284.txt. */

#include <string.h>
#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_join, lab_init */

/* The "global list".  main() creates it empty before starting the child.  fork()
 * gives the child a *copy* of the parent's whole memory, this array included, so
 * from then on there are two arrays at the same address in two processes: what
 * the child appends goes into its copy only. */
static GArray *result = NULL;

/* Prints "Result(in WHERE): [a, b, c]" the way Python prints a list. */
static void
print_result (const char *where)
{
  g_autoptr(GString) line = g_string_new (NULL);

  g_string_append_printf (line, "Result(in %s): [", where);
  for (guint i = 0; i < result->len; i++)
    g_string_append_printf (line, "%s%d", i > 0 ? ", " : "",
                            g_array_index (result, int, i));
  g_string_append (line, "]");
  printf ("%s\n", line->str);
  /* With MPK_TRACE set, the list becomes a note in this process's lane of
   * the diagram (diagrams/01-separate-memory.svg); otherwise nothing happens. */
  mpk_trace_mark ("result: %s", strchr (line->str, '['));
}

/* The list to square, Python's `mylist`.  The child gets it through user_data. */
typedef struct
{
  const int *items;
  guint      n_items;
} SquareArgs;

/* The body of process p1 (Python's `target`).  It runs in the child only;
 * its return value becomes the child's exit code. */
static int
square_list (gpointer user_data)
{
  const SquareArgs *args = user_data;

  for (guint i = 0; i < args->n_items; i++)
    {
      int square = args->items[i] * args->items[i];
      g_array_append_val (result, square);   /* changes the child's copy only */
    }
  print_result ("process p1");
  return 0;
}

int
main (void)
{
  static const int mylist[] = { 1, 2, 3, 4 };
  SquareArgs args = { mylist, G_N_ELEMENTS (mylist) };
  g_autoptr(MpkProcess) p1 = NULL;
  g_autoptr(GError) error = NULL;

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */
  result = g_array_new (FALSE, FALSE, sizeof (int));

  /* Describe the child: its name, its body and the argument for the body.
   * Nothing runs yet (Python: multiprocessing.Process(target=..., args=...)). */
  p1 = mpk_process_new ("p1", square_list, &args, NULL);

  /* fork() happens here; the child runs square_list() and exits with its
   * return value.  The parent carries on at once. */
  LAB_CHECK (mpk_process_start (p1, &error));

  /* Wait until p1 has exited (Python: p1.join()). */
  lab_join (p1);

  /* The parent's array was never touched: this prints []. */
  print_result ("main program");

  g_array_unref (result);
  return EXIT_SUCCESS;
}
