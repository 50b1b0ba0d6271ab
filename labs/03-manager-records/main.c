/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 03, manager records: a server process (a Manager) holds a list of
 * (name, score) records; process p1 appends one record, then process p2
 * prints them all.  Neither child holds the list: both call the server
 * through a proxy.  The C version of the server-process example in
 * seeds/004_cbef035b4a535284.txt (Python's multiprocessing.Manager). */

#include "../lab.h"   /* <mpkit.h>, LAB_CHECK, lab_start, lab_join, lab_init */

/* What p1 needs: the record to add and the list, as Python passes
 * args=(new_record, records).  `records` is a proxy: a small handle that
 * names an object living in the manager's process, not the list itself.
 * Its type says it names a list: only mpk_list_proxy_* calls take it. */
typedef struct
{
  const char   *name;
  gint32        score;
  MpkListProxy *records;
} InsertArgs;

/* The body of p1 (Python's insert_record). */
static int
insert_record (gpointer user_data)
{
  const InsertArgs *args = user_data;
  g_autoptr(GError) error = NULL;

  /* Python: records.append(record).  A record is a GVariant tuple "(si)".
   * append() sends the call to the server and waits for its answer, so when
   * it returns the record is in the server's list (the floating reference
   * from g_variant_new() is consumed). */
  LAB_CHECK (mpk_list_proxy_append (args->records,
                                    g_variant_new ("(si)", args->name, args->score), &error));
  printf ("New record added!\n\n");   /* Python's print() adds one more "\n" */
  return 0;
}

/* The body of p2 (Python's print_records). */
static int
print_records (gpointer user_data)
{
  MpkListProxy *records = user_data;
  g_autoptr(GError) error = NULL;
  gint64 n;

  /* Python's `for record in records` asks for records[0], records[1], ...
   * until IndexError; we ask for the length, then each item: one request
   * and one reply per call. */
  LAB_CHECK ((n = mpk_list_proxy_len (records, &error)) >= 0);
  for (gint64 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = NULL;
      const char *name;
      gint32 score;

      LAB_CHECK (record = mpk_list_proxy_get (records, i, &error));
      LAB_CHECK (g_variant_is_of_type (record, G_VARIANT_TYPE ("(si)")));
      /* The record is a copy made from the server's reply: "&s" borrows its
       * string, which lives as long as `record`. */
      g_variant_get (record, "(&si)", &name, &score);
      printf ("Name: %s\nScore: %d\n\n", name, score);
    }
  return 0;
}

int
main (void)
{
  g_autoptr(MpkManager) manager = NULL;
  g_autoptr(MpkListProxy) records = NULL;
  g_autoptr(MpkProcess) p1 = NULL;
  g_autoptr(MpkProcess) p2 = NULL;
  g_autoptr(GError) error = NULL;
  InsertArgs args = { "Jeff", 8, NULL };   /* Python's new_record = ('Jeff', 8) */

  lab_init ();   /* stdout line by line, even into a pipe (see ../lab.h) */

  /* Python: with multiprocessing.Manager() as manager.  This forks the
   * server process (its lane in the diagram is "manager") and returns once
   * it listens on a private Unix socket. */
  LAB_CHECK (manager = mpk_manager_new_started (&error));

  /* Python: records = manager.list([('Sam', 10), ('Adam', 9), ('Kevin', 9)]).
   * The list is created in the server's memory; we get back a proxy. */
  LAB_CHECK (records = mpk_manager_list (
               manager, g_variant_new_parsed ("[('Sam', 10), ('Adam', 9), ('Kevin', 9)]"),
               &error));

  /* The children are forked after the proxy exists, so they inherit it; each
   * opens its own connection to the server on its first call.  p1 first,
   * joined before p2 starts: p2 sees Jeff (Python: p1.start(); p1.join();
   * p2.start(); p2.join()). */
  args.records = records;
  p1 = lab_start ("p1", insert_record, &args);
  lab_join (p1);
  p2 = lab_start ("p2", print_records, records);
  lab_join (p2);

  /* The end of Python's `with` block: stop the server.  Our proxy must go
   * first (it asks the server to drop the list), then the manager. */
  g_clear_pointer (&records, mpk_list_proxy_unref);
  LAB_CHECK (mpk_manager_shutdown (manager, 5 * G_USEC_PER_SEC, &error));
  LAB_CHECK (mpk_manager_get_exitcode (manager) == 0);
  return EXIT_SUCCESS;
}
