/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HTTP_REDACTED "[redacted]"

/* Replaces, in place and at any depth, the value of every secret-looking key of node with HTTP_REDACTED. */
void http_redact_node (JsonNode *node);

G_END_DECLS
