/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-version.h: version numbers and the MPK_API export marker. */
#ifndef MPK_VERSION_H
#define MPK_VERSION_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#define MPK_MAJOR_VERSION 0
#define MPK_MINOR_VERSION 1
#define MPK_MICRO_VERSION 0

/* The library is built with -fvisibility=hidden: only MPK_API symbols are exported. */
#define MPK_API __attribute__ ((visibility ("default"))) extern

#endif /* MPK_VERSION_H */
