/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writing JSON: our own writer rather than json-glib's generator, which
 * writes a double such as 1e-73 as "1e-73.0", invalid JSON that would end
 * up in a plugin file, a plugin's config or a reply.
 */

#include "hkp-json.h"

#include <math.h>
#include <string.h>

static void write_node (GString *out, JsonNode *node, guint indent);

static void
write_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) text; *p != '\0'; p++)
    switch (*p)
      {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\b':
        g_string_append (out, "\\b");
        break;
      case '\f':
        g_string_append (out, "\\f");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\r':
        g_string_append (out, "\\r");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      default:
        if (*p < 0x20 || *p == 0x7F)
          g_string_append_printf (out, "\\u%04x", *p);
        else
          g_string_append_c (out, (char) *p);
        break;
      }
  g_string_append_c (out, '"');
}

static void
write_double (GString *out, gdouble value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  g_ascii_dtostr (buffer, sizeof buffer, value);
  g_string_append (out, buffer);
  /* A double stays a double when read back ("3.0", not "3"); "1e-73" is one already. */
  if (strpbrk (buffer, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
write_value (GString *out, JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      write_string (out, json_node_get_string (node));
      break;
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      write_double (out, json_node_get_double (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    default:
      g_string_append (out, "null");
      break;
    }
}

/* Starts a member or element: a comma after the first, then with indent (pretty) a new line and the indentation. */
static void
next_item (GString *out, gboolean first, guint indent)
{
  if (!first)
    g_string_append_c (out, ',');
  if (indent > 0)
    {
      g_string_append_c (out, '\n');
      for (guint i = 0; i < indent; i++)
        g_string_append (out, "  ");
    }
}

static void
close_container (GString *out, gboolean empty, guint indent, char close)
{
  if (!empty && indent > 0)
    {
      g_string_append_c (out, '\n');
      for (guint i = 1; i < indent; i++)
        g_string_append (out, "  ");
    }
  g_string_append_c (out, close);
}

/* indent: 0 for compact output, else the depth (1 at the top) of pretty output. */
static void
write_node (GString *out, JsonNode *node, guint indent)
{
  guint inner = indent > 0 ? indent + 1 : 0;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    g_string_append (out, "null");
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (object);

      g_string_append_c (out, '{');
      for (GList *l = members; l != NULL; l = l->next)
        {
          next_item (out, l == members, indent);
          write_string (out, l->data);
          g_string_append (out, indent > 0 ? " : " : ":");
          write_node (out, json_object_get_member (object, l->data), inner);
        }
      close_container (out, members == NULL, indent, '}');
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint length = json_array_get_length (array);

      g_string_append_c (out, '[');
      for (guint i = 0; i < length; i++)
        {
          next_item (out, i == 0, indent);
          write_node (out, json_array_get_element (array, i), inner);
        }
      close_container (out, length == 0, indent, ']');
    }
  else
    write_value (out, node);
}

char *
hkp_json_to_string (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  write_node (out, node, 0);
  return g_string_free (out, FALSE);
}

char *
hkp_json_to_pretty_string (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  write_node (out, node, 1);
  return g_string_free (out, FALSE);
}
