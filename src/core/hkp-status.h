/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"

G_BEGIN_DECLS

/*
 * The reference's JSON documents, built from the engine on its main thread.
 * The D-Bus GetStatus and GetHealth and the HTTP plugins endpoints serialise
 * with these, so the two can never disagree.  now_usec is the real time
 * (g_get_real_time()) the documents are stamped with.  Each returns a newly
 * allocated UTF-8 string owned by the caller.
 */

/* GET /plugins/status: plugin_system, health_status, uptime ("2h15m30s"), timestamp. */
char *hkp_status_json (HkpEngine *engine, gint64 now_usec);

/* GET /plugins/list: plugins (name, status, health), total_count, timestamp. */
char *hkp_status_list_json (HkpEngine *engine, gint64 now_usec);

/* GET /plugins/health: overall_status, plugins (name → health object), timestamp. */
char *hkp_status_health_json (HkpEngine *engine, gint64 now_usec);

/* Returns the overall health: "unhealthy" if a plugin that is not disabled is unhealthy or failed,
 * "degraded" if one is degraded or transitioning, else "healthy"; static string. */
const char *hkp_status_overall_health (HkpEngine *engine);

/* Formats a duration in Go's time.Duration form, to the second ("2h15m30s", "45s", "0s"); caller frees. */
char *hkp_status_format_duration (gint64 usec);

G_END_DECLS
