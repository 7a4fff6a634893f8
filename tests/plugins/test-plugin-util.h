/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the test plugins: parse the config object and report errors. */

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "hkp-plugin.h"

/* Parses config_json into a new object reference, or NULL with a message in error. */
static inline JsonObject *
test_plugin_parse_config (const char *config_json, char *error, size_t error_size)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, config_json, -1, &parse_error))
    {
      snprintf (error, error_size, "config is not JSON: %s", parse_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      snprintf (error, error_size, "config is not an object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* Returns a string member or fallback. */
static inline const char *
test_plugin_string (JsonObject *object, const char *key, const char *fallback)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return fallback;
  return json_node_get_string (node);
}

/* Returns an integer member or fallback. */
static inline gint64
test_plugin_int (JsonObject *object, const char *key, gint64 fallback)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (node);
}
