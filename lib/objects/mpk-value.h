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

/* Python's typecodes: 'c' char (one byte), 'b'/'B' 8-bit, 'h'/'H' 16-bit,
 * 'i'/'I' 32-bit, 'l'/'L' and 'q'/'Q' 64-bit (signed/unsigned),
 * 'f' float, 'd' double.
 *
 * An index at or past an array's length (Python's IndexError) is
 * %MPK_ERROR_INVALID from every call that takes a GError: the setters, the
 * range calls, and the _checked getters and add. The plain getters and
 * mpk_array_add() have no way to report it: for them it is a caller bug, a
 * critical, and 0. */

typedef struct _MpkValue MpkValue;
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
