/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hiding secret-looking config values from every read over HTTP. */

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
      g_autoptr(GList) members = json_object_get_members (object);

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
