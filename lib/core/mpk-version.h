/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-version.h: version numbers and the MPK_API export marker. */
#ifndef MPK_VERSION_H
#define MPK_VERSION_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

/**
 * SECTION:mpk-version
 * @title: Version
 * @short_description: the version of the headers, and what marks a symbol
 *   public
 *
 * The version numbers are those of the headers a program was compiled
 * with; the Makefile's `VERSION` and `mpkit.pc` carry the same number.
 * mpkit is at 0.x: the API may still change between minor versions.
 *
 * |[<!-- language="C" -->
 * #if MPK_MAJOR_VERSION == 0 && MPK_MINOR_VERSION < 1
 * #error "this lab needs mpkit 0.1 or newer"
 * #endif
 * ]|
 */

/**
 * MPK_MAJOR_VERSION:
 *
 * The major version of the mpkit headers (0 in mpkit 0.1.0).
 */
#define MPK_MAJOR_VERSION 0

/**
 * MPK_MINOR_VERSION:
 *
 * The minor version of the mpkit headers (1 in mpkit 0.1.0).
 */
#define MPK_MINOR_VERSION 1

/**
 * MPK_MICRO_VERSION:
 *
 * The micro version of the mpkit headers (0 in mpkit 0.1.0).
 */
#define MPK_MICRO_VERSION 0

/**
 * MPK_API:
 *
 * Marks a declaration as part of the library's interface. libmpkit is
 * built with `-fvisibility=hidden`, so only the functions declared with
 * it are exported from `libmpkit.so`; everything else, the `mpk__`
 * internals included, stays inside. Programs never need it.
 */
#define MPK_API __attribute__ ((visibility ("default"))) extern

#endif /* MPK_VERSION_H */
