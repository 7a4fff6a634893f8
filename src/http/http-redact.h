/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HTTP_REDACTED "[redacted]"

/* TRUE if a config key looks secret: it contains password, secret, token or key, and does not end in _path. */
gboolean http_redact_key_is_secret (const char *key);

/* Replaces, in place and at any depth, the value of every secret-looking key of node with HTTP_REDACTED. */
void http_redact_node (JsonNode *node);

G_END_DECLS
