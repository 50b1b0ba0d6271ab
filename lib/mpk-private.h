/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-private.h: every layer's internal header at once, for the unit tests
 * and the fuzz targets, which call mpk__ internals (never installed, never
 * included by the library itself: each file of lib/ includes only the
 * internal header of its own layer, so a lower layer cannot see a higher
 * one; lib/README.md draws the layers). */
#ifndef MPK_PRIVATE_H
#define MPK_PRIVATE_H

#include "mpkit.h"               /* a test is outside the library: public API first */
#include "mpk-core-private.h"
#include "mpk-ring.h"
#include "mpk-objects-private.h"
#include "mpk-manager-private.h"

#endif /* MPK_PRIVATE_H */
