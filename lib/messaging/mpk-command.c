/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-command.c: the command object (valkka's MessageObject), its wire form
 * and the parameter lists handlers declare (issue 15, seed 003).
 *
 * A command is a name and an a{sv} of parameters. On the pipe it is one
 * GVariant frame "(ytsa{sv})": the kind of frame (command, stop, message,
 * reply, error, goodbye), the id of the command it belongs to, the name and
 * the parameters. Everything decoded here comes from another process and is
 * checked before it is believed (tests/fuzz/fuzz-command.c). */

#include "mpk-msgproc-private.h"

#include <string.h>

struct _MpkCommand
{
  gatomicrefcount  ref_count;
  guint64          id;        /* the sender's number for it (0: none); see the wire */
  char            *name;
  GVariant        *params;    /* a{sv}, never NULL, not floating */
};

static gboolean
name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  return len > 0 && len <= MPK_COMMAND_MAX_NAME && g_utf8_validate (name, len, NULL);
}

/* @params: a{sv}, a floating reference (sunk) or a full one the command
 * takes over (g_variant_take_ref); NULL: none. */
static MpkCommand *
command_new_take (const char *name,
                  GVariant   *params)
{
  MpkCommand *command = g_new0 (MpkCommand, 1);

  g_atomic_ref_count_init (&command->ref_count);
  command->name = g_strdup (name);
  command->params = g_variant_take_ref (params != NULL ? params : g_variant_new ("a{sv}", NULL));
  return command;
}

/**
 * mpk_command_new:
 * @name: (transfer none): the command, 1 to %MPK_COMMAND_MAX_NAME bytes of UTF-8
 * @params: (transfer none) (nullable): the parameters, an `a{sv}`
 *   dictionary (a floating reference is sunk, and so consumed), or %NULL
 *   for none
 *
 * Makes a command, valkka's `MessageObject(command, **kwargs)`. Each key
 * of @params should appear once; a receiver refuses a command with a key
 * twice.
 *
 * Returns: (transfer full): the command, unref with mpk_command_unref()
 */
MpkCommand *
mpk_command_new (const char *name,
                 GVariant   *params)
{
  g_return_val_if_fail (name_is_valid (name), NULL);
  g_return_val_if_fail (params == NULL || g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT),
                        NULL);

  /* A full reference stays the caller's: take one of our own. */
  if (params != NULL && !g_variant_is_floating (params))
    g_variant_ref (params);
  return command_new_take (name, params);
}

/**
 * mpk_command_new_with:
 * @name: (transfer none): the command, 1 to %MPK_COMMAND_MAX_NAME bytes of UTF-8
 * @first_key: (transfer none) (nullable): the first parameter's name, or
 *   %NULL for none
 * @...: the first parameter's value, a #GVariant (floating references are
 *   consumed), then more name and value pairs, then %NULL
 *
 * Makes a command from name and value pairs, as valkka writes
 * `MessageObject("ping", lis=[1, 2])`:
 * `mpk_command_new_with ("ping", "lis", lis_variant, NULL)`.
 *
 * Returns: (transfer full): the command, unref with mpk_command_unref()
 */
MpkCommand *
mpk_command_new_with (const char *name,
                      const char *first_key,
                      ...)
{
  GVariantBuilder builder;
  const char *key;
  va_list args;

  g_return_val_if_fail (name_is_valid (name), NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  va_start (args, first_key);
  for (key = first_key; key != NULL; key = va_arg (args, const char *))
    {
      GVariant *value = va_arg (args, GVariant *);

      if (value == NULL)
        {
          g_critical ("mpk_command_new_with: parameter '%s' has no value", key);
          continue;
        }
      g_variant_builder_add (&builder, "{sv}", key, value);
    }
  va_end (args);
  return command_new_take (name, g_variant_builder_end (&builder));
}

/**
 * mpk_command_ref:
 * @command: (transfer none): a command
 *
 * Takes a reference on @command.
 *
 * Returns: (transfer full): @command, with one more reference
 */
MpkCommand *
mpk_command_ref (MpkCommand *command)
{
  g_return_val_if_fail (command != NULL, NULL);

  g_atomic_ref_count_inc (&command->ref_count);
  return command;
}

/**
 * mpk_command_unref:
 * @command: (transfer full) (nullable): a command
 *
 * Drops a reference; the last one frees the command.
 */
void
mpk_command_unref (MpkCommand *command)
{
  if (command == NULL || !g_atomic_ref_count_dec (&command->ref_count))
    return;
  g_free (command->name);
  g_variant_unref (command->params);
  g_free (command);
}

/**
 * mpk_command_get_name:
 * @command: (transfer none): a command
 *
 * valkka's `msg()`.
 *
 * Returns: (transfer none): the command's name
 */
const char *
mpk_command_get_name (MpkCommand *command)
{
  g_return_val_if_fail (command != NULL, NULL);

  return command->name;
}

/**
 * mpk_command_is:
 * @command: (transfer none): a command
 * @name: (transfer none): a name
 *
 * Compares @command's name with @name, as valkka's `msg() == name`.
 *
 * Returns: %TRUE if @command is called @name
 */
gboolean
mpk_command_is (MpkCommand *command,
                const char *name)
{
  g_return_val_if_fail (command != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return strcmp (command->name, name) == 0;
}

/**
 * mpk_command_get_params:
 * @command: (transfer none): a command
 *
 * All of @command's parameters at once, Python's `kwargs`.
 *
 * Returns: (transfer none): the parameters, an `a{sv}` dictionary (empty
 *   when there are none), valid as long as @command
 */
GVariant *
mpk_command_get_params (MpkCommand *command)
{
  g_return_val_if_fail (command != NULL, NULL);

  return command->params;
}

/**
 * mpk_command_lookup:
 * @command: (transfer none): a command
 * @key: (transfer none): a parameter's name
 * @expected_type: (transfer none) (nullable): the type the value must
 *   have, or %NULL for any
 *
 * valkka's `msg[key]`, without the KeyError: like g_variant_lookup_value().
 *
 * Returns: (transfer full) (nullable): the value, or %NULL when @command
 *   has no parameter @key (or one of another type)
 */
GVariant *
mpk_command_lookup (MpkCommand         *command,
                    const char         *key,
                    const GVariantType *expected_type)
{
  g_return_val_if_fail (command != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_variant_lookup_value (command->params, key, expected_type);
}

/* Appends "name (k=v, ...)"; values over @max_value bytes serialized are
 * shown by type and size only, so a 4 MiB parameter costs nothing. */
static void
append_text (GString    *text,
             MpkCommand *command,
             gsize       max_value)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gboolean first = TRUE;

  g_string_append (text, command->name);
  g_string_append (text, " (");
  g_variant_iter_init (&iter, command->params);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      g_string_append_printf (text, "%s%s=", first ? "" : ", ", key);
      first = FALSE;
      if (max_value > 0 && g_variant_get_size (value) > max_value)
        g_string_append_printf (text, "%s[%" G_GSIZE_FORMAT " bytes]",
                                g_variant_get_type_string (value), g_variant_get_size (value));
      else
        g_variant_print_string (value, text, FALSE);
    }
  g_string_append (text, ")");
}

/**
 * mpk_command_to_string:
 * @command: (transfer none): a command
 *
 * The command as text, the way diagrams show it:
 * `ping (lis=[1, 2])`, `myStuff (parameter='gotcha!')`, `stop ()`.
 *
 * Returns: (transfer full): the text, free with g_free()
 */
char *
mpk_command_to_string (MpkCommand *command)
{
  GString *text = g_string_new (NULL);

  g_return_val_if_fail (command != NULL, NULL);

  append_text (text, command, 0);
  return g_string_free (text, FALSE);
}

void
mpk__command_summarize (MpkCommand *command,
                        char       *out,
                        gsize       size)
{
  g_autoptr(GString) text = g_string_new (NULL);
  const char *end;

  append_text (text, command, 256);
  if (text->len >= size && size > 4)
    {
      g_string_truncate (text, size - 4);
      g_string_append (text, "…");
    }
  g_strlcpy (out, text->str, size);
  if (!g_utf8_validate (out, -1, &end))
    out[end - out] = '\0';
}

guint64
mpk__command_get_id (MpkCommand *command)
{
  return command->id;
}

/* --- the wire ------------------------------------------------------------------ */

GVariant *
mpk__command_to_wire (MpkCommand     *command,
                      MpkCommandKind  kind,
                      guint64         id)
{
  return g_variant_new ("(yts@a{sv})", (guint8) kind, id, command->name, command->params);
}

MpkCommand *
mpk__command_from_wire (GVariant        *frame,
                        MpkCommandKind  *kind,
                        guint64         *id,
                        GError         **error)
{
  g_autoptr(GVariant) params = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(MpkCommand) command = NULL;
  const char *name;
  guint8 k;
  gsize n;

  if (!g_variant_is_of_type (frame, G_VARIANT_TYPE (MPK__COMMAND_WIRE_TYPE)))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "not a message process frame: type %s, expected %s",
                   g_variant_get_type_string (frame), MPK__COMMAND_WIRE_TYPE);
      return NULL;
    }
  g_variant_get (frame, "(yt&s@a{sv})", &k, id, &name, &params);
  if (k < MPK__COMMAND_KIND_COMMAND || k > MPK__COMMAND_KIND_LAST)
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL, "unknown kind of frame %u", k);
      return NULL;
    }
  if (!name_is_valid (name))
    {
      g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                   "bad command name (empty, over %d bytes, or not UTF-8)",
                   MPK_COMMAND_MAX_NAME);
      return NULL;
    }
  /* Python's kwargs cannot repeat a key; a dictionary on the wire can.
   * A few keys are compared pairwise (no table to allocate per command). */
  n = g_variant_n_children (params);
  if (n > 1)
    {
      g_autofree const char **keys = g_new (const char *, n);

      if (n > 16)
        seen = g_hash_table_new (g_str_hash, g_str_equal);
      for (gsize i = 0; i < n; i++)
        {
          gboolean twice = FALSE;

          g_variant_get_child (params, i, "{&s*}", &keys[i], NULL);
          if (seen != NULL)
            twice = !g_hash_table_add (seen, (gpointer) keys[i]);
          else
            for (gsize j = 0; j < i && !twice; j++)
              twice = strcmp (keys[i], keys[j]) == 0;
          if (twice)
            {
              g_set_error (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "command %s has the parameter '%s' twice", name, keys[i]);
              return NULL;
            }
        }
    }
  command = command_new_take (name, g_steal_pointer (&params));
  command->id = *id;
  if (k == MPK__COMMAND_KIND_ERROR && !mpk__command_error_to_gerror (command, NULL))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "malformed error message (needs domain s, code i, message s)");
      return NULL;
    }
  *kind = k;
  return g_steal_pointer (&command);
}

MpkCommand *
mpk__command_decode (gconstpointer    data,
                     gsize            size,
                     MpkCommandKind  *kind,
                     guint64         *id,
                     GError         **error)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GVariant) frame = NULL;

  frame = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (MPK__COMMAND_WIRE_TYPE),
                                                        bytes, FALSE));
  if (!g_variant_is_normal_form (frame))
    {
      g_set_error_literal (error, MPK_ERROR, MPK_ERROR_PROTOCOL,
                           "frame is not in normal form");
      return NULL;
    }
  return mpk__command_from_wire (frame, kind, id, error);
}

GVariant *
mpk__command_error_params (const GError *failure)
{
  GVariantBuilder builder;
  const char *domain = g_quark_to_string (failure->domain);

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "domain",
                         g_variant_new_string (domain != NULL ? domain : "unknown"));
  g_variant_builder_add (&builder, "{sv}", "code", g_variant_new_int32 (failure->code));
  g_variant_builder_add (&builder, "{sv}", "message",
                         g_variant_new_take_string (g_utf8_make_valid (failure->message, -1)));
  return g_variant_builder_end (&builder);
}

gboolean
mpk__command_error_to_gerror (MpkCommand  *command,
                              GError     **error)
{
  const char *domain, *message;
  gint32 code;

  if (!g_variant_lookup (command->params, "domain", "&s", &domain)
      || !g_variant_lookup (command->params, "code", "i", &code)
      || !g_variant_lookup (command->params, "message", "&s", &message)
      || *domain == '\0' || strlen (domain) > MPK__COMMAND_MAX_DOMAIN)
    return FALSE;
  g_set_error (error, g_quark_from_string (domain), code, "%s: %s", command->name, message);
  return TRUE;
}

/* --- parameter lists ------------------------------------------------------------ */

typedef struct
{
  char         *key;
  GVariantType *type;
  gboolean      optional;
} ParamEntry;

struct _MpkParamSpec
{
  GArray *entries;   /* ParamEntry */
};

static void
param_entry_clear (gpointer data)
{
  ParamEntry *entry = data;

  g_free (entry->key);
  g_variant_type_free (entry->type);
}

void
mpk__param_spec_free (MpkParamSpec *spec)
{
  if (spec == NULL)
    return;
  g_array_unref (spec->entries);
  g_free (spec);
}

MpkParamSpec *
mpk__param_spec_parse (const char  *text,
                       GError     **error)
{
  MpkParamSpec *spec = g_new0 (MpkParamSpec, 1);
  g_auto(GStrv) items = NULL;

  spec->entries = g_array_new (FALSE, TRUE, sizeof (ParamEntry));
  g_array_set_clear_func (spec->entries, param_entry_clear);
  if (*text == '\0')
    return spec;
  items = g_strsplit (text, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      char *colon = strchr (item, ':');
      ParamEntry entry = { NULL, NULL, FALSE };
      const char *type;
      gsize key_len;

      if (colon == NULL || colon == item)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "parameter list '%s': '%s' is not name:type", text, item);
          mpk__param_spec_free (spec);
          return NULL;
        }
      key_len = colon - item;
      if (item[key_len - 1] == '?')
        {
          entry.optional = TRUE;
          key_len--;
        }
      type = colon + 1;
      if (key_len == 0 || !g_variant_type_string_is_valid (type))
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "parameter list '%s': '%s' has no name or a bad type", text, item);
          mpk__param_spec_free (spec);
          return NULL;
        }
      entry.key = g_strndup (item, key_len);
      entry.type = g_variant_type_new (type);
      for (guint j = 0; j < spec->entries->len; j++)
        if (strcmp (g_array_index (spec->entries, ParamEntry, j).key, entry.key) == 0)
          {
            g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                         "parameter list '%s' names '%s' twice", text, entry.key);
            param_entry_clear (&entry);
            mpk__param_spec_free (spec);
            return NULL;
          }
      g_array_append_val (spec->entries, entry);
    }
  return spec;
}

gboolean
mpk__param_spec_check (const MpkParamSpec *spec,
                       GVariant           *params,
                       GError            **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (spec == NULL)
    return TRUE;
  /* Python's TypeError cases, in the order Python reports them: an
   * unexpected keyword, then a missing one. */
  g_variant_iter_init (&iter, params);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      const ParamEntry *found = NULL;

      for (guint j = 0; j < spec->entries->len && found == NULL; j++)
        if (strcmp (g_array_index (spec->entries, ParamEntry, j).key, key) == 0)
          found = &g_array_index (spec->entries, ParamEntry, j);
      if (found == NULL)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "unexpected parameter '%s'", key);
          g_variant_unref (value);
          return FALSE;
        }
      if (!g_variant_is_of_type (value, found->type))
        {
          g_autofree char *want = g_variant_type_dup_string (found->type);

          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "parameter '%s' has type %s, expected %s", key,
                       g_variant_get_type_string (value), want);
          g_variant_unref (value);
          return FALSE;
        }
      g_variant_unref (value);
    }
  for (guint j = 0; j < spec->entries->len; j++)
    {
      const ParamEntry *entry = &g_array_index (spec->entries, ParamEntry, j);
      g_autoptr(GVariant) got = NULL;

      if (entry->optional)
        continue;
      got = g_variant_lookup_value (params, entry->key, NULL);
      if (got == NULL)
        {
          g_set_error (error, MPK_ERROR, MPK_ERROR_INVALID,
                       "missing parameter '%s'", entry->key);
          return FALSE;
        }
    }
  return TRUE;
}
