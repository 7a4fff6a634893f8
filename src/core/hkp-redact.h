/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What every read over D-Bus and HTTP shows instead of a secret-looking value. */
#define HKP_REDACTED "[redacted]"

/*
 * Returns TRUE if a config key looks secret: it contains password, passwd,
 * secret, token, credential, auth, bearer, private, dsn or key (in any
 * case), and does not end in _path or _file.  The one rule for D-Bus and HTTP.
 */
gboolean hkp_redact_key_is_secret (const char *key);

/* Replaces, in place and at any depth, the value of every secret-looking key of node with HKP_REDACTED. */
void hkp_redact_node (JsonNode *node);

/*
 * Returns json (a config) serialised compactly with every secret-looking
 * value redacted (caller frees); "null" if json is NULL or not JSON.
 */
char *hkp_redact_config_json (const char *json);

/*
 * Undoes what a read showed: every secret-looking key of node (at any depth)
 * whose value is HKP_REDACTED gets, in place, a copy of the value at the
 * same place in stored (may be NULL).  Returns FALSE, with *missing the key
 * (caller frees), if one has no stored value to keep.
 */
gboolean hkp_redact_restore (JsonNode *node, JsonNode *stored, char **missing);

G_END_DECLS
