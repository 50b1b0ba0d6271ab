/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-call.h: what a type's method may ask of the server while it
 * runs (never installed): wait for a change, wake the waiters, let other
 * calls run, count the object references a stored value holds. The
 * server (mpk-manager-server.c) implements it; the types
 * (mpk-manager-types.c) are written against it and never see the server's
 * state, so the types sit below the server and include nothing above this.
 *
 * Every method of an MpkManagerType runs with the server's lock held, and
 * so does every function here unless its comment says otherwise. */
#ifndef MPK_MANAGER_CALL_H
#define MPK_MANAGER_CALL_H

#include "mpk-manager-proto.h"

G_BEGIN_DECLS

/* Blocks the calling method (the manager's lock is released meanwhile) until
 * another call changes something, the request's deadline passes (FALSE with
 * @timeout_code and @timeout_message) or the client hangs up (FALSE with
 * DISCONNECTED). Callers loop: while (!condition) if (!wait) return error. */
G_GNUC_INTERNAL gboolean mpk__manager_call_wait    (MpkManagerCall *call,
                                                    gint            timeout_code,
                                                    const char     *timeout_message,
                                                    GError        **error);
/* Wakes every waiting call: the state it may be waiting for changed. */
G_GNUC_INTERNAL void     mpk__manager_call_changed (MpkManagerCall *call);
/* Lets other calls run while a method does long work that touches no
 * server state (unboxing its own arguments); its object stays alive (the
 * call counts), but may change meanwhile: read it only after _relock.
 * _unlock releases the server lock; _relock is called without it and
 * takes it again. */
G_GNUC_INTERNAL void     mpk__manager_call_unlock  (MpkManagerCall *call);
G_GNUC_INTERNAL void     mpk__manager_call_relock  (MpkManagerCall *call);

/* Stored values may hold references: the server counts them, so an object
 * stays alive while some container holds it (Python's nested proxies).
 * _hold checks every reference in @value names a live object (else
 * STALE_HANDLE) and counts them; _drop uncounts (and may free objects). */
G_GNUC_INTERNAL gboolean mpk__manager_hold_refs (MpkManagerCall *call,
                                                 GVariant       *value,
                                                 GError        **error);
G_GNUC_INTERNAL void     mpk__manager_drop_refs (GVariant       *value);
/* (_drop is also called without the lock by the types' free functions
 * while the server stops: server_free, once no client thread is left.) */
/* _release is _drop for a value that leaves its container to go to the
 * client (a pop, a queue get): an object it was the last holder of is kept
 * for a while (a minute), for the client to take a proxy of. */
G_GNUC_INTERNAL void     mpk__manager_release_refs (GVariant    *value);
/* The size of a held dict, by id, for its iterators; -1 once it is gone. */
G_GNUC_INTERNAL gint64   mpk__manager_object_size (guint64 id);
G_GNUC_INTERNAL guint64  mpk__manager_call_object_id (MpkManagerCall *call);

G_END_DECLS

#endif /* MPK_MANAGER_CALL_H */
