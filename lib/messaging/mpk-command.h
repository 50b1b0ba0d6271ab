/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-command.h: valkka's MessageObject: a command name and named
 * parameters, the unit every message process sends and receives. */
#ifndef MPK_COMMAND_H
#define MPK_COMMAND_H

#if !defined (MPK_INSIDE) && !defined (MPK_COMPILATION)
#error "Only <mpkit.h> can be included directly."
#endif

#include <glib.h>
#include "mpk-version.h"

G_BEGIN_DECLS

/**
 * SECTION:mpk-command
 * @title: Command
 * @short_description: a command name with named parameters, valkka's
 *   MessageObject
 *
 * An #MpkCommand is what the two sides of a message process
 * (#MpkMessageProcess) send each other: a name ("ping", "myStuff") and
 * named parameters, a #GVariant dictionary of type `a{sv}` standing in for
 * Python's keyword arguments. valkka writes
 * `MessageObject("a-command", par1=1, par2=2)`; here it is
 *
 * |[<!-- language="C" -->
 * g_autoptr(MpkCommand) cmd =
 *   mpk_command_new_with ("a-command",
 *                         "par1", g_variant_new_int32 (1),
 *                         "par2", g_variant_new_int32 (2),
 *                         NULL);
 *
 * mpk_command_get_name (cmd);                    // "a-command": msg()
 * g_autoptr(GVariant) p1 = mpk_command_lookup (cmd, "par1", NULL);  // msg["par1"]
 * g_autofree char *text = mpk_command_to_string (cmd);  // "a-command (par1=1, par2=2)"
 * ]|
 *
 * A command is immutable once made and reference counted; it travels as
 * one ordinary frame on the process's pipe. Its text form is also what the
 * tracer records, so diagrams show commands as calls.
 */

/**
 * MpkCommand:
 *
 * A command name and its named parameters: an opaque, immutable,
 * reference-counted object (`g_autoptr(MpkCommand)` works).
 */
typedef struct _MpkCommand MpkCommand;

/**
 * MPK_COMMAND_MAX_NAME:
 *
 * The longest command name, in bytes: 255. Names are not empty and are
 * valid UTF-8.
 */
#define MPK_COMMAND_MAX_NAME 255

MPK_API MpkCommand *mpk_command_new        (const char  *name,
                                            GVariant    *params);
MPK_API MpkCommand *mpk_command_new_with   (const char  *name,
                                            const char  *first_key,
                                            ...) G_GNUC_NULL_TERMINATED;
MPK_API MpkCommand *mpk_command_ref        (MpkCommand  *command);
MPK_API void        mpk_command_unref      (MpkCommand  *command);
MPK_API const char *mpk_command_get_name   (MpkCommand  *command);
MPK_API gboolean    mpk_command_is         (MpkCommand  *command,
                                            const char  *name);
MPK_API GVariant   *mpk_command_get_params (MpkCommand  *command);
MPK_API GVariant   *mpk_command_lookup     (MpkCommand  *command,
                                            const char  *key,
                                            const GVariantType *expected_type);
MPK_API char       *mpk_command_to_string  (MpkCommand  *command);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkCommand, mpk_command_unref)

G_END_DECLS

#endif /* MPK_COMMAND_H */
