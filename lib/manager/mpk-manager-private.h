/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-manager-private.h: the top of the Manager layer (never installed),
 * for the client side (mpk-manager.c, mpk-manager-proxies.c): everything
 * below it, and the client's own test hooks. */
#ifndef MPK_MANAGER_PRIVATE_H
#define MPK_MANAGER_PRIVATE_H

#include "mpk-manager-server.h"

G_BEGIN_DECLS

/* For tests: a socket connected to @manager's server, authenticated when
 * @authenticate (then it speaks the request protocol). Close it yourself. */
G_GNUC_INTERNAL int mpk__manager_open_raw_for_testing (MpkManager *manager,
                                                      gboolean    authenticate,
                                                      GError    **error);

G_END_DECLS

#endif /* MPK_MANAGER_PRIVATE_H */
