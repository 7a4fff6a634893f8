/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hiding secret-looking config values from every read over D-Bus and HTTP, and keeping them when a read is sent back. */

#include "hkp-redact.h"

#include <string.h>

#include "hkp-json.h"

/* Deeper than any config may nest, so a config we hold always parses. */
#define CONFIG_MAX_DEPTH 64

gboolean
hkp_redact_key_is_secret (const char *key)
{
  static const char *const words[] = { "password", "passwd", "secret",  "token", "credential",
                                       "auth",     "bearer", "private", "dsn",   "key" };
  g_autofree char *lower = g_ascii_strdown (key, -1);

  /* Where a secret lives is not a secret: private_key_file, token_path. */
  if (g_str_has_suffix (lower, "_path") || g_str_has_suffix (lower, "_file"))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (strstr (lower, words[i]) != NULL)
      return TRUE;
  return FALSE;
}

void
hkp_redact_node (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        {
          if (hkp_redact_key_is_secret (l->data))
            json_object_set_string_member (object, l->data, HKP_REDACTED);
          else
            hkp_redact_node (json_object_get_member (object, l->data));
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        hkp_redact_node (json_array_get_element (array, i));
    }
}

char *
hkp_redact_config_json (const char *json)
{
  g_autoptr (JsonNode) node = json != NULL ? hkp_json_parse_strict (json, strlen (json), CONFIG_MAX_DEPTH, NULL) : NULL;

  if (node == NULL)
    return g_strdup ("null");
  hkp_redact_node (node);
  return hkp_json_to_string (node);
}

/* TRUE if node is the string a read shows for a secret. */
static gboolean
is_redacted (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING &&
    g_str_equal (json_node_get_string (node), HKP_REDACTED);
}

gboolean
hkp_redact_restore (JsonNode *node, JsonNode *stored, char **missing)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      JsonObject *old = stored != NULL && JSON_NODE_HOLDS_OBJECT (stored) ? json_node_get_object (stored) : NULL;
      g_autoptr (GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        {
          JsonNode *value = json_object_get_member (object, l->data);
          JsonNode *old_value = old != NULL ? json_object_get_member (old, l->data) : NULL;

          if (hkp_redact_key_is_secret (l->data) && is_redacted (value))
            {
              if (old_value == NULL)
                {
                  *missing = g_strdup (l->data);
                  return FALSE;
                }
              json_object_set_member (object, l->data, json_node_copy (old_value));
            }
          else if (!hkp_redact_restore (value, old_value, missing))
            return FALSE;
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      JsonArray *old = stored != NULL && JSON_NODE_HOLDS_ARRAY (stored) ? json_node_get_array (stored) : NULL;

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *old_element = old != NULL && i < json_array_get_length (old) ? json_array_get_element (old, i)
                                                                                 : NULL;
          if (!hkp_redact_restore (json_array_get_element (array, i), old_element, missing))
            return FALSE;
        }
    }
  return TRUE;
}
