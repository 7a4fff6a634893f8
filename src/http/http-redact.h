/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HTTP_REDACTED "[redacted]"

/* Replaces, in place and at any depth, the value of every secret-looking key of node with HTTP_REDACTED. */
void http_redact_node (JsonNode *node);

/*
 * Undoes what a read showed: every secret-looking key of node (at any depth)
 * whose value is HTTP_REDACTED gets, in place, a copy of the value at the
 * same place in stored (may be NULL).  Returns FALSE, with *missing the key
 * (caller frees), if one has no stored value to keep.
 */
gboolean http_redact_restore (JsonNode *node, JsonNode *stored, char **missing);

G_END_DECLS
