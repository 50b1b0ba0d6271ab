/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trace-merge.c: `mpk-trace merge`: the run's lines as one JSON Lines
 * stream, headers first (lane order), then the events in causal or time
 * order, each with "lane" (its lane's name) and "rank" (the recomputed
 * causal clock) appended. The rest of each line is kept byte for byte. */

#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "trace-render.h"

static char *
json_string (const char *text)
{
  g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), text);

  return json_to_string (node, FALSE);
}

/* @line is a JSON object (the loader checked): the new members go before
 * its closing brace. */
static void
print_with_members (const char *line,
                    const char *members)
{
  const char *end = strrchr (line, '}');

  fwrite (line, 1, end - line, stdout);
  printf ("%s}\n", members);
}

gboolean
trace_merge_print (TraceRun   *run,
                   TraceOrder  order,
                   GError    **error)
{
  g_autoptr(GPtrArray) events = trace_run_sorted (run, order, FALSE);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; i < run->lanes->len; i++)
    {
      TraceLane *lane = g_ptr_array_index (run->lanes, i);
      g_autofree char *members = NULL;

      g_ptr_array_add (names, json_string (lane->name));
      members = g_strdup_printf (",\"lane\":%s", (char *) g_ptr_array_index (names, i));
      print_with_members (lane->header_line, members);
    }
  for (i = 0; i < events->len; i++)
    {
      TraceEvent *e = g_ptr_array_index (events, i);
      g_autofree char *members = g_strdup_printf (",\"lane\":%s,\"rank\":%u",
                                                  (char *) g_ptr_array_index (names,
                                                                              e->lane->index),
                                                  e->rank);

      print_with_members (e->line, members);
    }
  return TRUE;
}
