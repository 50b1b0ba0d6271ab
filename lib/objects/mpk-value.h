/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-value.h: multiprocessing.Value and Array (and RawValue, RawArray):
 * fixed-width C numbers in shared memory made before fork, guarded by a
 * recursive lock unless you ask for none. */
#ifndef MPK_VALUE_H
#define MPK_VALUE_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"
#include "mpk-lock.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-value
 * @title: Value and Array
 * @short_description: numbers in shared memory, like multiprocessing.Value,
 *   Array, RawValue and RawArray
 *
 * An #MpkValue holds one C number, an #MpkArray a fixed number of them, in
 * memory shared with every process forked after it was made. The number's
 * type is one of Python's typecodes: `c` (a char, one byte), `b`/`B`
 * (8-bit signed/unsigned), `h`/`H` (16-bit), `i`/`I` (32-bit), `l`/`L` and
 * `q`/`Q` (64-bit), `f` (float) and `d` (double).
 *
 * As with Python's synchronized wrappers, each get and set takes the
 * object's lock: a new #MpkLock made by mpk_rlock_new(), one you give
 * (mpk_value_new_with_lock(), to guard several objects with one lock), or
 * none (mpk_raw_value_new(), mpk_raw_array_new()). A get followed by a set
 * is still two steps another process can come between: hold
 * mpk_value_get_lock() around both, or use mpk_value_add() /
 * mpk_array_add(), which add in one step (lab 25 shows the lost update).
 *
 * An index at or past an array's length, Python's IndexError, is
 * %MPK_ERROR_INVALID from every call that takes a #GError: the setters,
 * the range calls, and the _checked getters and add. The plain getters
 * and mpk_array_add() cannot report it: for them it is a caller bug, a
 * critical, and 0.
 *
 * |[<!-- language="C" -->
 * static int
 * deposit (gpointer user_data)
 * {
 *   MpkValue *balance = user_data;
 *
 *   for (int i = 0; i < 1000; i++)
 *     mpk_value_add (balance, 1);       // never loses an update
 *   return 0;
 * }
 *
 * g_autoptr(MpkValue) balance = mpk_value_new ('q', &error);
 * g_autoptr(MpkProcess) p = mpk_process_new (NULL, deposit, balance, NULL);
 *
 * mpk_value_set_int (balance, 100, &error);
 * mpk_process_start (p, &error);
 * mpk_process_join (p, MPK_WAIT_FOREVER);
 * g_assert_cmpint (mpk_value_get_int (balance), ==, 1100);
 * ]|
 */

/**
 * MpkValue:
 *
 * One shared number and its lock (if any). Each process frees its handle
 * with mpk_value_free() (`g_autoptr(MpkValue)` works).
 */
typedef struct _MpkValue MpkValue;

/**
 * MpkArray:
 *
 * A fixed-length array of shared numbers and its lock (if any). Each
 * process frees its handle with mpk_array_free().
 */
typedef struct _MpkArray MpkArray;

MPK_API MpkValue *mpk_value_new            (char            typecode,
                                            GError        **error);
MPK_API MpkValue *mpk_value_new_with_lock  (char            typecode,
                                            MpkLock        *lock,
                                            GError        **error);
MPK_API MpkValue *mpk_raw_value_new        (char            typecode,
                                            GError        **error);
MPK_API void      mpk_value_free           (MpkValue       *value);
MPK_API char      mpk_value_get_typecode   (MpkValue       *value);
MPK_API MpkLock  *mpk_value_get_lock       (MpkValue       *value);
MPK_API gpointer  mpk_value_get_pointer    (MpkValue       *value);

MPK_API gint64    mpk_value_get_int        (MpkValue       *value);
MPK_API guint64   mpk_value_get_uint       (MpkValue       *value);
MPK_API double    mpk_value_get_double     (MpkValue       *value);
MPK_API gboolean  mpk_value_set_int        (MpkValue       *value,
                                            gint64          v,
                                            GError        **error);
MPK_API gboolean  mpk_value_set_uint       (MpkValue       *value,
                                            guint64         v,
                                            GError        **error);
MPK_API gboolean  mpk_value_set_double     (MpkValue       *value,
                                            double          v,
                                            GError        **error);
MPK_API gint64    mpk_value_add            (MpkValue       *value,
                                            gint64          delta);

MPK_API MpkArray *mpk_array_new            (char            typecode,
                                            gsize           length,
                                            GError        **error);
MPK_API MpkArray *mpk_array_new_with_lock  (char            typecode,
                                            gsize           length,
                                            MpkLock        *lock,
                                            GError        **error);
MPK_API MpkArray *mpk_raw_array_new        (char            typecode,
                                            gsize           length,
                                            GError        **error);
MPK_API void      mpk_array_free           (MpkArray       *array);
MPK_API char      mpk_array_get_typecode   (MpkArray       *array);
MPK_API gsize     mpk_array_get_length     (MpkArray       *array);
MPK_API gsize     mpk_array_get_item_size  (MpkArray       *array);
MPK_API MpkLock  *mpk_array_get_lock       (MpkArray       *array);
MPK_API gpointer  mpk_array_get_pointer    (MpkArray       *array);

MPK_API gint64    mpk_array_get_int        (MpkArray       *array,
                                            gsize           index);
MPK_API guint64   mpk_array_get_uint       (MpkArray       *array,
                                            gsize           index);
MPK_API double    mpk_array_get_double     (MpkArray       *array,
                                            gsize           index);
MPK_API gboolean  mpk_array_get_int_checked    (MpkArray   *array,
                                                gsize       index,
                                                gint64     *out_value,
                                                GError    **error);
MPK_API gboolean  mpk_array_get_uint_checked   (MpkArray   *array,
                                                gsize       index,
                                                guint64    *out_value,
                                                GError    **error);
MPK_API gboolean  mpk_array_get_double_checked (MpkArray   *array,
                                                gsize       index,
                                                double     *out_value,
                                                GError    **error);
MPK_API gboolean  mpk_array_set_int        (MpkArray       *array,
                                            gsize           index,
                                            gint64          v,
                                            GError        **error);
MPK_API gboolean  mpk_array_set_uint       (MpkArray       *array,
                                            gsize           index,
                                            guint64         v,
                                            GError        **error);
MPK_API gboolean  mpk_array_set_double     (MpkArray       *array,
                                            gsize           index,
                                            double          v,
                                            GError        **error);
MPK_API gint64    mpk_array_add            (MpkArray       *array,
                                            gsize           index,
                                            gint64          delta);
MPK_API gboolean  mpk_array_add_checked    (MpkArray       *array,
                                            gsize           index,
                                            gint64          delta,
                                            gint64         *out_new_value,
                                            GError        **error);
MPK_API gboolean  mpk_array_get_range      (MpkArray       *array,
                                            gsize           start,
                                            gsize           n,
                                            gpointer        out,
                                            GError        **error);
MPK_API gboolean  mpk_array_set_range      (MpkArray       *array,
                                            gsize           start,
                                            gsize           n,
                                            gconstpointer   in,
                                            GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkValue, mpk_value_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkArray, mpk_array_free)

G_END_DECLS

#endif /* MPK_VALUE_H */
