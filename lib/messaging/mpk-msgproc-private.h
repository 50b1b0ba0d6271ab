/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-msgproc-private.h: the message-process layer's internal header
 * (issue 15; never installed): the wire form of commands, the parameter
 * lists handlers declare, and what the tests and the fuzz target need. It
 * builds on the objects' internal header (and so the core's) and never
 * includes mpkit.h (lib/README.md draws the layers). */
#ifndef MPK_MSGPROC_PRIVATE_H
#define MPK_MSGPROC_PRIVATE_H

#include "mpk-objects-private.h"
#include "mpk-command.h"
#include "mpk-event-group.h"
#include "mpk-message-process.h"
#include "mpk-program.h"

G_BEGIN_DECLS

/* Every frame on a message process's pipe is one GVariant of this type:
 * kind, id, command name, parameters. */
#define MPK__COMMAND_WIRE_TYPE "(ytsa{sv})"

/* The kinds of frame. COMMAND and STOP go to the backend, the others come
 * back. A REPLY and an ERROR carry the id of the command they answer (0 for
 * an error no command caused: a malformed frame, a failed pre-run hook). */
typedef enum
{
  MPK__COMMAND_KIND_COMMAND = 1,
  MPK__COMMAND_KIND_STOP    = 2,
  MPK__COMMAND_KIND_MESSAGE = 3,   /* send_out: not an answer to anything */
  MPK__COMMAND_KIND_REPLY   = 4,
  MPK__COMMAND_KIND_ERROR   = 5,   /* params: domain s, code i, message s */
  MPK__COMMAND_KIND_BYE     = 6,   /* the backend leaves its loop */
} MpkCommandKind;

#define MPK__COMMAND_KIND_LAST MPK__COMMAND_KIND_BYE

/* Limits on an error message's domain (a GQuark in the receiver, which
 * lives for good) and text. */
#define MPK__COMMAND_MAX_DOMAIN 128

/* The frame for @command: (transfer floating). */
G_GNUC_INTERNAL GVariant   *mpk__command_to_wire   (MpkCommand      *command,
                                                    MpkCommandKind   kind,
                                                    guint64          id);

/* The id of a command received from the wire (what a reply names), 0 for
 * one made in this process. */
G_GNUC_INTERNAL guint64     mpk__command_get_id    (MpkCommand      *command);

/* Checks and decodes @frame, received from the peer (untrusted): its type,
 * the kind, a name that is non-empty UTF-8 of at most MPK_COMMAND_MAX_NAME
 * bytes, parameter keys that are unique, and the shape of an ERROR.
 * Returns (transfer full) the command, with *@kind and *@id; NULL with
 * MPK_ERROR_PROTOCOL. */
G_GNUC_INTERNAL MpkCommand *mpk__command_from_wire (GVariant        *frame,
                                                    MpkCommandKind  *kind,
                                                    guint64         *id,
                                                    GError         **error);

/* The same from the serialized bytes of a frame (the fuzz target's way in):
 * the bytes are checked to be in normal form first. */
G_GNUC_INTERNAL MpkCommand *mpk__command_decode    (gconstpointer    data,
                                                    gsize            size,
                                                    MpkCommandKind  *kind,
                                                    guint64         *id,
                                                    GError         **error);

/* An ERROR frame's content made into a GError: the domain's quark, the
 * code, "@command_name: message". FALSE (and nothing set) if @command is
 * not a well-formed error. */
G_GNUC_INTERNAL gboolean    mpk__command_error_to_gerror (MpkCommand  *command,
                                                          GError     **error);
/* An error message's parameters for @failure. (transfer floating) */
G_GNUC_INTERNAL GVariant   *mpk__command_error_params   (const GError *failure);

/* --- parameter lists ------------------------------------------------------ *
 * A handler declares its parameters as "name:type,name?:type": each a key,
 * '?' when it may be missing, and a GVariant type string. A command must
 * have every key without '?', no key the list lacks, and each value of its
 * type. NULL accepts anything. */
typedef struct _MpkParamSpec MpkParamSpec;

/* Parses @text. NULL with MPK_ERROR_INVALID (saying what is wrong). */
G_GNUC_INTERNAL MpkParamSpec *mpk__param_spec_parse (const char    *text,
                                                     GError       **error);
G_GNUC_INTERNAL void          mpk__param_spec_free  (MpkParamSpec  *spec);
/* Checks @params (a{sv}) against @spec. FALSE with MPK_ERROR_INVALID
 * naming the first fault. */
G_GNUC_INTERNAL gboolean      mpk__param_spec_check (const MpkParamSpec *spec,
                                                     GVariant           *params,
                                                     GError            **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpkParamSpec, mpk__param_spec_free)

/* "ping (lis=[1, 2])": the command as the tracer records it, at most
 * @size - 1 bytes. */
G_GNUC_INTERNAL void          mpk__command_summarize (MpkCommand *command,
                                                      char       *out,
                                                      gsize       size);

G_END_DECLS

#endif /* MPK_MSGPROC_PRIVATE_H */
