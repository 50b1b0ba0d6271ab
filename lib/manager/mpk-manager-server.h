/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-server.h: the Manager's server (never installed): the loop
 * that accepts, authenticates and serves clients, holding the objects of
 * the built-in and registered types. The client side (mpk-manager.c)
 * forks it or runs it in place through mpk__manager_serve(). */
#ifndef MPK_MANAGER_SERVER_H
#define MPK_MANAGER_SERVER_H

#include "mpk-manager-types.h"

G_BEGIN_DECLS

/* Runs the server on @listener (bound) until a shutdown request, SIGTERM
 * / SIGINT when @handle_signals, or @stop_fd (if >= 0) becomes readable
 * (it is not read). Returns FALSE with @error if it could not start.
 * @types: the registered MpkManagerType pointers. */
G_GNUC_INTERNAL gboolean mpk__manager_serve (GSocket    *listener,
                                             GBytes     *key,
                                             GPtrArray  *types,
                                             const MpkObjectHeader *trace_object,
                                             gboolean    handle_signals,
                                             int         stop_fd,
                                             gboolean    verbose,
                                             GError    **error);

/* For tests and the fuzz target: a server in this process, without a
 * socket (start, then dispatch requests "(ttxsv)" as a client's thread
 * would, then stop, which frees every object). Its generation is
 * MPK__MANAGER_TESTING_GENERATION, so a request can name its objects, and
 * no call waits (a queue get on an empty queue is EMPTY at once).
 * _dispatch returns the reply's result (transfer full) or NULL with the
 * error a client would get. */
#define MPK__MANAGER_TESTING_GENERATION 1
G_GNUC_INTERNAL void      mpk__manager_start_in_process_for_testing (void);
G_GNUC_INTERNAL GVariant *mpk__manager_dispatch_for_testing (GVariant  *request,
                                                             GError   **error);
G_GNUC_INTERNAL guint     mpk__manager_objects_for_testing  (void);
G_GNUC_INTERNAL void      mpk__manager_stop_in_process_for_testing  (void);

/* For tests: how many threads serve authenticated connections at once (0:
 * the default, 256); more wait in the pool's queue. Set it before the
 * server starts (a forked server keeps the value it was forked with). */
G_GNUC_INTERNAL void mpk__manager_set_max_threads_for_testing (guint threads);
/* For tests: the counters of the server that ran last in this process
 * (mpk_manager_serve_forever), as it left them; objects is 0. */
G_GNUC_INTERNAL void mpk__manager_last_stats_for_testing (MpkManagerStats *stats);

G_END_DECLS

#endif /* MPK_MANAGER_SERVER_H */
