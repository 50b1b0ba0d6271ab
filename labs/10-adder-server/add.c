/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lab 10, adder server: the server's work, apart from the IPC (main.c).
 * C has no "+" that works on any type, so the GVariant type of the request
 * picks the operation (see the handout). */

#include "add.h"

GVariant *
add (GVariant *request)
{
  gint32 x, y;
  const char *s, *t;   /* "&s": borrowed from REQUEST */

  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(ii)")))
    {
      g_variant_get (request, "(ii)", &x, &y);
      return g_variant_new_int32 (x + y);            /* 3 + 4 -> 7 */
    }
  if (!g_variant_is_of_type (request, G_VARIANT_TYPE ("(ss)")))
    return NULL;
  g_variant_get (request, "(&s&s)", &s, &t);
  return g_variant_new_take_string (g_strconcat (s, t, NULL));
}
