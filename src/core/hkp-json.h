/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Why strict parsing refused a text (hkp_json_parse_strict()). */
#define HKP_JSON_ERROR (hkp_json_error_quark ())

typedef enum {
  HKP_JSON_ERROR_EMPTY, /* nothing but white space */
  HKP_JSON_ERROR_UTF8, /* not valid UTF-8 */
  HKP_JSON_ERROR_SYNTAX, /* not JSON */
  HKP_JSON_ERROR_DEPTH, /* arrays and objects nested deeper than allowed */
  HKP_JSON_ERROR_TRAILING, /* more after the first value */
  HKP_JSON_ERROR_NUL, /* \u0000 in a string or key */
  HKP_JSON_ERROR_DUPLICATE_KEY, /* a key twice in one object */
} HkpJsonError;

/* Returns the quark of the HKP_JSON_ERROR domain. */
GQuark hkp_json_error_quark (void);

/*
 * Parses data (len bytes, not necessarily NUL-terminated) as exactly one
 * strict JSON value (RFC 8259): valid UTF-8, nesting at most max_depth
 * arrays and objects deep, nothing but white space after the value, no
 * \u0000 in strings and no key twice in one object.  Every parser of text
 * that comes from outside (plugin files, SetConfig, PUT bodies, history)
 * goes through here.  Returns the root node (caller frees) or NULL with an
 * HKP_JSON_ERROR whose message starts with "LINE:COLUMN: " where it has one
 * and names the problem (and the key).  The tree is mutable.
 */
JsonNode *hkp_json_parse_strict (const char *data, gsize len, guint max_depth, GError **error);

/* Returns TRUE if the JSON text nests arrays and objects at most max_depth deep (strings are skipped). */
gboolean hkp_json_depth_within (const char *data, gsize len, guint max_depth);

/*
 * Serialises node compactly ({"a":[1,2.5]}); returns a newly allocated
 * string owned by the caller.  Always valid JSON that hkp_json_parse_strict()
 * reads back to the same values (json-glib 1.6's generator writes 1e-73 as
 * "1e-73.0"), a double always with a '.' or an exponent.
 */
char *hkp_json_to_string (JsonNode *node);

/* Like hkp_json_to_string(), indented by two spaces a level, with "key" : value (plugin files); no final newline. */
char *hkp_json_to_pretty_string (JsonNode *node);

/* Returns the JSON type name of node ("object", "string", "integer", …) for messages; static string. */
const char *hkp_json_type_name (JsonNode *node);

G_END_DECLS
