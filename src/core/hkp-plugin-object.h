/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "hkp-health.h"
#include "hkp-stats.h"
#include "hkp-instance.h"
#include "hkp-manifest.h"
#include "hkp-plugin-state.h"
#include "hkp-slot.h"

G_BEGIN_DECLS

/*
 * What changed in a plugin, as the engine's "plugin-changed" signal says it:
 * front ends map each flag to what they show (D-Bus properties, HTTP
 * documents, the sd_notify status).
 */
typedef enum {
  HKP_PLUGIN_CHANGED_STATE = 1 << 0, /* state, and the module facts and reload count that come with it */
  HKP_PLUGIN_CHANGED_ERROR = 1 << 1, /* last error */
  HKP_PLUGIN_CHANGED_HEALTH = 1 << 2, /* health status, message or checks */
  HKP_PLUGIN_CHANGED_CONFIG = 1 << 3, /* config and config version */
  HKP_PLUGIN_CHANGED_MANAGER = 1 << 4, /* the manager's keys: priority, strategy, failure mode, timeouts */
  HKP_PLUGIN_CHANGED_DRAINING = 1 << 5, /* requests still running on draining instances (at most 4 a second) */
} HkpPluginChange;

/*
 * One declared plugin as the engine keeps it: its file, manifest, state,
 * last error and current instance.  Lives on the main thread; its changes
 * reach front ends through the engine's "plugin-changed" signal.
 */
#define HKP_TYPE_PLUGIN (hkp_plugin_get_type ())
G_DECLARE_FINAL_TYPE (HkpPlugin, hkp_plugin, HKP, PLUGIN, GObject)

/* Returns the plugin's name, owned by plugin. */
const char *hkp_plugin_get_name (HkpPlugin *plugin);

/* Returns the path of the plugin's file, owned by plugin. */
const char *hkp_plugin_get_file (HkpPlugin *plugin);

/* Returns the plugin's state. */
HkpPluginState hkp_plugin_get_state (HkpPlugin *plugin);

/* Returns the last error ("" if none), owned by plugin. */
const char *hkp_plugin_get_last_error (HkpPlugin *plugin);

/* Returns the current manifest (NULL if the file could not be parsed), owned by plugin. */
HkpManifest *hkp_plugin_get_manifest (HkpPlugin *plugin);

/* Returns the priority used for ordering (the manifest's, or after every valid one if none). */
gint hkp_plugin_get_priority (HkpPlugin *plugin);

/* Returns the loaded module's version ("" until loaded), owned by plugin. */
const char *hkp_plugin_get_version (HkpPlugin *plugin);

/* Returns the loaded module's description ("" until loaded), owned by plugin. */
const char *hkp_plugin_get_description (HkpPlugin *plugin);

/* Returns the canonical path of the loaded module ("" until loaded), owned by plugin. */
const char *hkp_plugin_get_module_path (HkpPlugin *plugin);

/* Returns the current instance (NULL unless loaded), owned by plugin. */
HkpInstance *hkp_plugin_get_instance (HkpPlugin *plugin);

/* Returns how many reloads have been applied. */
guint hkp_plugin_get_reload_count (HkpPlugin *plugin);

/* Returns the config version: 1 at load, one more at every applied change. */
guint hkp_plugin_get_config_version (HkpPlugin *plugin);

/* Returns the requests in flight in the plugin's current instance. */
guint64 hkp_plugin_get_active_requests (HkpPlugin *plugin);

/* Returns the last health check's result, owned by plugin. */
const HkpHealth *hkp_plugin_get_health (HkpPlugin *plugin);

/* Returns the health the plugin is shown with: its last check's, but unhealthy while it has failed. */
HkpHealthStatus hkp_plugin_get_shown_health (HkpPlugin *plugin);

/* Returns TRUE while a transition of the plugin runs (another one is refused as busy). */
gboolean hkp_plugin_is_busy (HkpPlugin *plugin);

/* Returns how many earlier instances are still draining. */
guint hkp_plugin_get_draining (HkpPlugin *plugin);

/* Returns how many requests still run on instances being drained. */
guint hkp_plugin_get_draining_requests (HkpPlugin *plugin);

/* Returns how many requests ended with outcome in this plugin. */
guint64 hkp_plugin_get_outcome_count (HkpPlugin *plugin, HkpOutcome outcome);

/* Returns how many times the health monitor restarted the plugin. */
guint hkp_plugin_get_restart_count (HkpPlugin *plugin);

/* Returns how many requests drains have cancelled in this plugin. */
guint64 hkp_plugin_get_cancelled_by_drain (HkpPlugin *plugin);

/* Returns how many reloads (and other changes that load an instance) ended with result. */
guint64 hkp_plugin_get_reload_results (HkpPlugin *plugin, HkpReloadResult result);

/* Returns how many health checks ended with status (healthy, degraded or unhealthy; a timeout is unhealthy). */
guint64 hkp_plugin_get_health_checks (HkpPlugin *plugin, HkpHealthStatus status);

/* Returns the drain timeout in force for the plugin: its own, or the engine's (seconds). */
gdouble hkp_plugin_get_drain_timeout (HkpPlugin *plugin);

/* Returns the health interval in force for the plugin: its own, or the engine's (seconds). */
gdouble hkp_plugin_get_health_interval (HkpPlugin *plugin);

/* Returns how many times the plugin's host ended on its own (and a new one was due). */
guint hkp_plugin_get_host_restarts (HkpPlugin *plugin);

/* Returns the process id of the host the current instance runs in, 0 when it runs in the daemon. */
guint hkp_plugin_get_host_pid (HkpPlugin *plugin);

/* Orders two plugins by priority, then name (a GCompareFunc over HkpPlugin **). */
gint hkp_plugin_compare (gconstpointer a, gconstpointer b);

G_END_DECLS
