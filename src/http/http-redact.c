/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hiding secret-looking config values from every read over HTTP, and keeping them when a read is sent back. */

#include "http-redact.h"

#include <string.h>

/* TRUE if a config key looks secret: it contains password, secret, token or key, and does not end in _path. */
static gboolean
key_is_secret (const char *key)
{
  static const char *const words[] = { "password", "secret", "token", "key" };
  g_autofree char *lower = g_ascii_strdown (key, -1);

  if (g_str_has_suffix (lower, "_path"))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (strstr (lower, words[i]) != NULL)
      return TRUE;
  return FALSE;
}

void
http_redact_node (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        {
          if (key_is_secret (l->data))
            json_object_set_string_member (object, l->data, HTTP_REDACTED);
          else
            http_redact_node (json_object_get_member (object, l->data));
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        http_redact_node (json_array_get_element (array, i));
    }
}

/* TRUE if node is the string a read shows for a secret. */
static gboolean
is_redacted (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING &&
    g_str_equal (json_node_get_string (node), HTTP_REDACTED);
}

gboolean
http_redact_restore (JsonNode *node, JsonNode *stored, char **missing)
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

          if (key_is_secret (l->data) && is_redacted (value))
            {
              if (old_value == NULL)
                {
                  *missing = g_strdup (l->data);
                  return FALSE;
                }
              json_object_set_member (object, l->data, json_node_copy (old_value));
            }
          else if (!http_redact_restore (value, old_value, missing))
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
          if (!http_redact_restore (json_array_get_element (array, i), old_element, missing))
            return FALSE;
        }
    }
  return TRUE;
}
