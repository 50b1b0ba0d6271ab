/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-command.c: libFuzzer target for what a message process receives
 * (issue 15): a command frame from a hostile or broken peer, and the
 * parameter lists handlers declare.
 *
 * Byte 0 picks the mode:
 * - even: the rest is the serialized data of a "(ytsa{sv})" frame, normal
 *   form or not; mpk__command_decode() must accept it or say PROTOCOL, and
 *   what it accepts must hold what the decoder promises (a kind in range, a
 *   name of 1 to MPK_COMMAND_MAX_NAME bytes of UTF-8, unique keys, an error
 *   frame that makes a GError). The accepted command is then printed,
 *   summarized for the tracer, and checked against a parameter list, as
 *   the backend's dispatch does: TRUE or INVALID.
 * - odd: the rest is a parameter list's text; mpk__param_spec_parse()
 *   must accept it or say INVALID, and a list it accepts must check a
 *   fixed set of parameters without crashing (TRUE or INVALID). */

#include "mpk-private.h"
#include "mpk-msgproc-private.h"
#include "fuzz-util.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static GVariant *
fixed_params (void)
{
  return g_variant_ref_sink (g_variant_new_parsed (
    "{'lis': <[1, 2]>, 'n': <3>, 'parameter': <'gotcha!'>, 'event_index': <@i 0>}"));
}

static void
fuzz_frame (const guint8 *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkCommand) command = NULL;
  g_autoptr(MpkParamSpec) spec = NULL;
  MpkCommandKind kind = 0;
  guint64 id = 0;
  const char *name;

  command = mpk__command_decode (data, size, &kind, &id, &error);
  check ("decode", command == NULL, error, CODE (MPK_ERROR_PROTOCOL));
  if (command == NULL)
    return;
  name = mpk_command_get_name (command);
  if (kind < MPK__COMMAND_KIND_COMMAND || kind > MPK__COMMAND_KIND_LAST
      || name == NULL || *name == '\0' || strlen (name) > MPK_COMMAND_MAX_NAME
      || !g_utf8_validate (name, -1, NULL)
      || !g_variant_is_of_type (mpk_command_get_params (command), G_VARIANT_TYPE_VARDICT)
      || mpk__command_get_id (command) != id)
    g_error ("decode accepted a bad command (kind %d)", kind);
  if (kind == MPK__COMMAND_KIND_ERROR)
    {
      g_autoptr(GError) remote = NULL;

      if (!mpk__command_error_to_gerror (command, &remote) || remote == NULL)
        g_error ("decode accepted an error frame that makes no GError");
    }
  {
    g_autofree char *text = mpk_command_to_string (command);
    char sum[64];

    mpk__command_summarize (command, sum, sizeof sum);
    if (!g_utf8_validate (sum, -1, NULL) || strlen (sum) >= sizeof sum || text == NULL)
      g_error ("summary is not bounded UTF-8");
  }
  spec = mpk__param_spec_parse ("lis:ai,n?:i,parameter?:s", &error);
  check ("parse", spec == NULL, error, 0);
  check ("check", !mpk__param_spec_check (spec, mpk_command_get_params (command), &error),
         error, CODE (MPK_ERROR_INVALID));
}

static void
fuzz_spec (const guint8 *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpkParamSpec) spec = NULL;
  g_autoptr(GVariant) params = NULL;

  spec = mpk__param_spec_parse (text, &error);
  check ("parse", spec == NULL, error, CODE (MPK_ERROR_INVALID));
  if (spec == NULL)
    return;
  params = fixed_params ();
  check ("check", !mpk__param_spec_check (spec, params, &error), error,
         CODE (MPK_ERROR_INVALID));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  if (size < 1)
    return 0;
  if ((data[0] & 1) == 0)
    fuzz_frame (data + 1, size - 1);
  else
    fuzz_spec (data + 1, size - 1);
  return 0;
}
