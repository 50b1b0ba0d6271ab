/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-wait.h: multiprocessing.connection.wait() over connections and process sentinels. */
#ifndef MPK_WAIT_H
#define MPK_WAIT_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

MPK_API GPtrArray *mpk_wait (gpointer  *objects,
                             guint      n_objects,
                             gint64     timeout_us,
                             GError   **error);

G_END_DECLS

#endif /* MPK_WAIT_H */
