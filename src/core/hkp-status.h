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

/*
 * How the plugins add up, by the one rule every front end shows (the HTTP
 * documents, D-Bus ActivePlugins and OverallHealth, the metrics).  A plugin
 * counts with hkp_plugin_get_counted_health(), so an overlap reload changes
 * nothing here.
 */
typedef struct {
  guint total;
  guint active; /* serving: active, or reloading while the previous instance serves */
  guint healthy;
  guint unhealthy; /* total - healthy: failed, disabled and not yet checked ones included */
  guint64 active_requests;
  /* "healthy" when every enabled plugin is healthy; "unhealthy" when a required plugin is not,
   * or no enabled plugin is; "degraded" otherwise (static) */
  const char *overall;
} HkpStatusSummary;

/* Fills summary from the engine's plugins now (main thread). */
void hkp_status_summarize (HkpEngine *engine, HkpStatusSummary *summary);

/* Returns the overall health of hkp_status_summarize(): "healthy", "degraded" or "unhealthy"; static string. */
const char *hkp_status_overall_health (HkpEngine *engine);

/* Formats a duration in Go's time.Duration form, to the second ("2h15m30s", "45s", "0s"); caller frees. */
char *hkp_status_format_duration (gint64 usec);

G_END_DECLS
