/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-types.h: the server's built-in types (never installed):
 * list, dict, value, queue, lock, event, semaphore, namespace, iterator.
 * Implemented in mpk-manager-types.c on top of mpk-manager-call.h. */
#ifndef MPK_MANAGER_TYPES_H
#define MPK_MANAGER_TYPES_H

#include "mpk-manager-call.h"

G_BEGIN_DECLS

/* For the server's built-in types (mpk-manager-types.c). */
G_GNUC_INTERNAL extern const MpkManagerType *const mpk__manager_builtin_types[];

/* The size of @data if @type is the built-in dict, else -1. */
G_GNUC_INTERNAL gint64   mpk__manager_dict_size (const MpkManagerType *type,
                                                 gpointer              data);

/* For tests: how many items one list, dict or namespace may hold (0: the
 * default, 16 Mi). Set it before mpk_manager_start(): the server is forked
 * and keeps the value it was forked with. */
G_GNUC_INTERNAL void mpk__manager_set_max_items_for_testing (guint limit);

G_END_DECLS

#endif /* MPK_MANAGER_TYPES_H */
