/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-util.h: what the libFuzzer targets share: the check that a call
 * either succeeded cleanly or failed with one of the MPK_ERROR codes it is
 * allowed to give. A violation ends in g_error(), which tools/fuzz.sh
 * reports as a crash with the input that caused it. */
#ifndef MPK_FUZZ_UTIL_H
#define MPK_FUZZ_UTIL_H

#include <glib.h>
#include "mpk-error.h"

/* A set of allowed MpkError codes, as a bit mask. */
#define CODE(c) (1u << (c))

static inline void
check (const char   *op,
       gboolean      failed,
       const GError *error,
       guint         allowed)
{
  if (failed != (error != NULL))
    g_error ("%s %s", op, failed ? "failed without an error" : "succeeded with an error set");
  if (error != NULL && (error->domain != MPK_ERROR || error->code < 0 || error->code >= 32
                        || (allowed & CODE (error->code)) == 0))
    g_error ("%s: unexpected error %s %d: %s", op, g_quark_to_string (error->domain),
             error->code, error->message);
}

#endif /* MPK_FUZZ_UTIL_H */
