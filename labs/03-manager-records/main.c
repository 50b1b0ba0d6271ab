/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 03, manager records: a server process (a Manager) holds a list of
 * (name, score) records; process p1 appends one record, then process p2
 * prints them all.  Neither child holds the list: both call the server
 * through a proxy.  The C version of the server-process example in
 * seeds/004_cbef035b4a535284.txt (Python's multiprocessing.Manager). */

#include <stdio.h>
#include <stdlib.h>
#include <mpkit.h>

/* What p1 needs: the record to add and the list, as Python passes
 * args=(new_record, records).  `records` is a proxy: a small handle that
 * names an object living in the manager's process, not the list itself. */
typedef struct
{
  const char *name;
  gint32      score;
  MpkProxy   *records;
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
  if (!mpk_list_append (args->records,
                        g_variant_new ("(si)", args->name, args->score),
                        &error))
    {
      g_printerr ("p1: cannot append: %s\n", error->message);
      return 1;
    }
  printf ("New record added!\n\n");   /* Python's print() adds one more "\n" */
  return 0;
}

/* The body of p2 (Python's print_records). */
static int
print_records (gpointer user_data)
{
  MpkProxy *records = user_data;
  g_autoptr(GError) error = NULL;
  gint64 n;

  /* Python's `for record in records` asks the server for one item at a time
   * (records[0], records[1], ... until IndexError).  We ask for the length
   * once, then for each item: every call is one request and one reply. */
  n = mpk_list_len (records, &error);
  if (n < 0)
    {
      g_printerr ("p2: cannot get the length: %s\n", error->message);
      return 1;
    }
  for (gint64 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = mpk_list_get (records, i, &error);
      const char *name;
      gint32 score;

      if (record == NULL || !g_variant_is_of_type (record, G_VARIANT_TYPE ("(si)")))
        {
          g_printerr ("p2: bad record %" G_GINT64_FORMAT ": %s\n", i,
                      record == NULL ? error->message : g_variant_get_type_string (record));
          return 1;
        }
      /* The record is a copy made from the server's reply: "&s" borrows its
       * string, which lives as long as `record`. */
      g_variant_get (record, "(&si)", &name, &score);
      printf ("Name: %s\nScore: %d\n\n", name, score);
    }
  return 0;
}

/* Starts one child, waits for it and says whether it exited with 0. */
static gboolean
run_and_join (MpkProcess *p)
{
  g_autoptr(GError) error = NULL;

  if (!mpk_process_start (p, &error))
    {
      g_printerr ("lab03: cannot start %s: %s\n", mpk_process_get_name (p),
                  error->message);
      return FALSE;
    }
  mpk_process_join (p, MPK_WAIT_FOREVER);
  if (mpk_process_get_exitcode (p) != 0)
    {
      g_printerr ("lab03: %s failed with exit code %d\n", mpk_process_get_name (p),
                  mpk_process_get_exitcode (p));
      return FALSE;
    }
  return TRUE;
}

int
main (void)
{
  g_autoptr(MpkManager) manager = NULL;
  g_autoptr(MpkProxy) records = NULL;
  g_autoptr(MpkProcess) p1 = NULL;
  g_autoptr(MpkProcess) p2 = NULL;
  g_autoptr(GError) error = NULL;
  InsertArgs args = { "Jeff", 8, NULL };   /* Python's new_record = ('Jeff', 8) */
  gboolean ok;

  setvbuf (stdout, NULL, _IOLBF, 0);   /* one line at a time, even into a pipe */

  /* Python: with multiprocessing.Manager() as manager.  This forks the
   * server process (its lane in the diagram is "manager") and returns once
   * it listens on a private Unix socket. */
  manager = mpk_manager_new_started (&error);
  if (manager == NULL)
    {
      g_printerr ("lab03: cannot start the manager: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* Python: records = manager.list([('Sam', 10), ('Adam', 9), ('Kevin', 9)]).
   * The list is created in the server's memory; we get back a proxy. */
  records = mpk_manager_list (manager,
                              g_variant_new_parsed ("[('Sam', 10), ('Adam', 9), ('Kevin', 9)]"),
                              &error);
  if (records == NULL)
    {
      g_printerr ("lab03: cannot create the list: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* The children are forked after the proxy exists, so they inherit it; each
   * opens its own connection to the server on its first call. */
  args.records = records;
  p1 = mpk_process_new ("p1", insert_record, &args, NULL);
  p2 = mpk_process_new ("p2", print_records, records, NULL);

  /* p1 first, joined before p2 starts: p2 sees Jeff (Python: p1.start();
   * p1.join(); p2.start(); p2.join()). */
  ok = run_and_join (p1) && run_and_join (p2);

  /* The end of Python's `with` block: stop the server.  Our proxy must go
   * first (it asks the server to drop the list), then the manager. */
  g_clear_pointer (&records, mpk_proxy_unref);
  if (!mpk_manager_shutdown (manager, 5 * G_USEC_PER_SEC, &error))
    {
      g_printerr ("lab03: shutdown failed: %s\n", error->message);
      ok = FALSE;
    }
  else if (mpk_manager_get_exitcode (manager) != 0)
    {
      g_printerr ("lab03: the manager exited with %d\n",
                  mpk_manager_get_exitcode (manager));
      ok = FALSE;
    }
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
