/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Config helpers shared by the shipped plugins (each is its own module, so these are static). */

#include <stdarg.h>
#include <stdio.h>

#include <json-glib/json-glib.h>

#include "hkp-read-file.h"

/* Writes a message to error and returns FALSE, for validate_config and init. */
static gboolean plugin_fail (char *error, size_t error_size, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
plugin_fail (char *error, size_t error_size, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  vsnprintf (error, error_size, format, ap);
  va_end (ap);
  return FALSE;
}

/* Parses config_json into *config; returns the parser that owns it (caller unrefs), or NULL with a message. */
static inline JsonParser *
plugin_config_parse (const char *config_json, JsonObject **config, char *error, size_t error_size)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, config_json, -1, NULL) || json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      plugin_fail (error, error_size, "the config must be a JSON object");
      return NULL;
    }
  *config = json_node_get_object (json_parser_get_root (parser));
  return g_steal_pointer (&parser);
}

/* FALSE, with a message naming it (as prefix + key) and listing the known ones, if object has a key not in known. */
static inline gboolean
plugin_config_known_keys (JsonObject *object, const char *prefix, const char *const *known, char *error,
                          size_t error_size)
{
  g_autoptr (GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_autoptr (GString) list = g_string_new (NULL);
        for (guint i = 0; known[i] != NULL; i++)
          if (!g_str_equal (known[i], "enabled"))
            g_string_append_printf (list, "%s%s", list->len > 0 ? ", " : "", known[i]);
        return plugin_fail (error, error_size, "unknown key \"%s%s\" (known: %s)", prefix, (const char *) l->data,
                            list->str);
      }
  return TRUE;
}

/*
 * Reads the regular file at path (or a symlink to one), of at most max_size
 * bytes, without ever blocking or reading without end: a FIFO, device or
 * directory is refused before anything is read.  Returns the contents,
 * NUL-terminated (caller frees), or NULL with a message naming path.
 */
static inline char *
plugin_read_regular_file (const char *path, gsize max_size, char *error, size_t error_size)
{
  HkpReadProblem problem;
  char *data = hkp_read_regular_file (path, max_size, NULL, &problem);

  if (data != NULL)
    return data;
  if (problem.mode != 0)
    plugin_fail (error, error_size, "%s is %s, not a regular file", path, hkp_file_type_name (problem.mode));
  else if (problem.size != 0)
    plugin_fail (error, error_size, "%s is larger than %" G_GSIZE_FORMAT " bytes", path, max_size);
  else
    plugin_fail (error, error_size, "cannot read %s: %s", path, g_strerror (problem.errno_value));
  return NULL;
}
