/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Returns TRUE if the JSON text nests arrays and objects at most max_depth deep (strings are skipped). */
gboolean hkp_json_depth_within (const char *data, gsize len, guint max_depth);

/* Serialises node compactly; returns a newly allocated string owned by the caller. */
char *hkp_json_to_string (JsonNode *node);

/* Returns the JSON type name of node ("object", "string", "integer", …) for messages; static string. */
const char *hkp_json_type_name (JsonNode *node);

G_END_DECLS
