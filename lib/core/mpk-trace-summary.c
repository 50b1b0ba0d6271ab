/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpk-trace-summary.c: the short payload text a trace line carries
 * ("int 42", "str 'hello'", "bytes[512]"), in the spirit of Python's repr()
 * cut short. Bounded work: a 1 GiB array costs as much as a 3-element one. */
#include "mpk-core-private.h"

#include <string.h>

#define SUMMARY_CHARS 48   /* characters shown before "…" */

static void print_value (GString *out, GVariant *value);

/* A string as Python shows one, cut once the summary is long enough. */
static void
print_quoted (GString *out, const char *text)
{
  /* GVariant strings are valid UTF-8: step whole characters. */
  g_string_append_c (out, '\'');
  for (const char *p = text; *p != '\0' && out->len < 4 * SUMMARY_CHARS; p = g_utf8_next_char (p))
    {
      if (*p == '\'' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  g_string_append_c (out, '\'');
}

/* Children of a container, "a, b, c", stopping once the text is long. */
static void
print_children (GString *out, GVariant *value, const char *open, const char *close)
{
  gsize n = g_variant_n_children (value);

  g_string_append (out, open);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = NULL;

      if (out->len > 2 * SUMMARY_CHARS)
        {
          g_string_append (out, "...");
          break;
        }
      if (i > 0)
        g_string_append (out, ", ");
      child = g_variant_get_child_value (value, i);
      print_value (out, child);
    }
  g_string_append (out, close);
}

static void
print_dict_entry (GString *out, GVariant *entry)
{
  g_autoptr(GVariant) key = g_variant_get_child_value (entry, 0);
  g_autoptr(GVariant) val = g_variant_get_child_value (entry, 1);

  print_value (out, key);
  g_string_append (out, ": ");
  print_value (out, val);
}

/* One value inside a summary, without its type word. */
static void
print_value (GString *out, GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)
      || g_variant_is_of_type (value, G_VARIANT_TYPE_SIGNATURE))
    print_quoted (out, g_variant_get_string (value, NULL));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    g_string_append (out, g_variant_get_boolean (value) ? "True" : "False");
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    g_string_append_printf (out, "bytes[%" G_GSIZE_FORMAT "]", g_variant_get_size (value));
  else if (g_variant_type_is_maybe (type))
    {
      g_autoptr(GVariant) inner = g_variant_get_maybe (value);
      if (inner == NULL)
        g_string_append (out, "None");
      else
        print_value (out, inner);
    }
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);
      print_value (out, inner);
    }
  else if (g_variant_type_is_dict_entry (type))
    print_dict_entry (out, value);
  else if (g_variant_type_is_array (type))
    print_children (out, value, g_variant_type_is_dict_entry (g_variant_type_element (type))
                                ? "{" : "[",
                    g_variant_type_is_dict_entry (g_variant_type_element (type)) ? "}" : "]");
  else if (g_variant_type_is_tuple (type))
    print_children (out, value, "(", ")");
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTE))
    g_string_append_printf (out, "%u", g_variant_get_byte (value));   /* not GLib's 0x05 */
  else
    {
      /* Numbers and handles: GLib's own text, which is short. */
      g_autofree char *text = g_variant_print (value, FALSE);
      g_string_append (out, text);
    }
}

/* The type word Python's type() would show for @value. */
static const char *
type_word (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);
  char c = *g_variant_get_type_string (value);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    return "";
  if (strchr ("ynqiuxth", c) != NULL)
    return "int ";
  if (c == 'd')
    return "float ";
  if (c == 'b')
    return "bool ";
  if (strchr ("sog", c) != NULL)
    return "str ";
  if (g_variant_type_is_array (type))
    return g_variant_type_is_dict_entry (g_variant_type_element (type)) ? "dict " : "array ";
  if (g_variant_type_is_tuple (type))
    return "tuple ";
  return "";
}

/* Cuts @text to SUMMARY_CHARS characters, ending in "…" if anything went. */
static void
shorten (GString *text)
{
  const char *end;

  if (g_utf8_strlen (text->str, -1) <= SUMMARY_CHARS)
    return;
  end = g_utf8_offset_to_pointer (text->str, SUMMARY_CHARS - 1);
  g_string_truncate (text, end - text->str);
  g_string_append (text, "\xe2\x80\xa6");
}

void
mpk__trace_summarize (GVariant *value, char *out, gsize size)
{
  g_autoptr(GString) text = g_string_new (NULL);
  const char *end;

  /* A variant wrapping a value is summarized as that value. */
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);
      mpk__trace_summarize (inner, out, size);
      return;
    }
  g_string_append (text, type_word (value));
  print_value (text, value);
  if (!g_utf8_validate (text->str, -1, NULL))
    {
      g_autofree char *valid = g_utf8_make_valid (text->str, -1);
      g_string_assign (text, valid);
    }
  shorten (text);
  g_strlcpy (out, text->str, size);
  /* g_strlcpy may cut a character in two: drop the partial one. */
  if (!g_utf8_validate (out, -1, &end))
    out[end - out] = '\0';
}
