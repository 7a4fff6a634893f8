/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The engine's side of HkpPlugin: only the engine changes a plugin. */

#include "hkp-engine.h"
#include "hkp-plugin-object.h"
#include "hkp-stats.h"
#include "hkp-slot.h"

G_BEGIN_DECLS

struct _HkpPlugin {
  GObject parent_instance;
  HkpEngine *engine; /* borrowed: the engine outlives its plugins' registration */
  gboolean registered; /* changes are announced only while the engine lists the plugin */
  char *name;
  char *file;
  char *file_text; /* the file as last loaded or saved */
  gboolean file_refused; /* a rescan did not apply the file on disk; last_error says why */
  HkpPluginState state;
  char *last_error;
  HkpManifest *manifest;
  HkpInstance *instance; /* the instance the slot's gate serves, if any */
  HkpSlot *slot; /* the request path's view, shared with the chain */
  char *version;
  char *description;
  char *module_path;
  gboolean busy; /* a transition (load, reload, config, enable, disable) is running */
  GPtrArray *draining; /* HkpGate of earlier instances still draining (borrowed) */
  guint draining_announced; /* the DrainingRequests last announced */
  GSource *draining_poll; /* follows DrainingRequests while instances drain */
  guint host_restarts; /* hosts that ended on their own */
  guint crash_backoff; /* hosts in a row that ended soon after they started */
  gint64 last_restart_usec; /* when the last new host was started after one ended */
  gdouble crash_delay; /* before the next new host; negative: given up */
  GSource *crash_restart; /* starts the new host */
  HkpInstance *restart_from; /* the dead host's instance: the new host loads its module copy, not the file anew */
  guint reload_count;
  guint config_version;
  guint64 cancelled_by_drain;
  HkpHealth health;
  HkpHealthStatus counted_health; /* what the overall health counts; see hkp_plugin_get_counted_health() */
  guint restart_count; /* restarts by the health monitor */
  guint64 reloads[HKP_RELOAD_N_RESULTS];
  guint64 health_checks[HKP_HEALTH_N_STATUSES]; /* completed health checks by result */
  gpointer watch; /* the health monitor's per-plugin state */
};

/* Creates a plugin of engine in state loading; returns a new reference. */
HkpPlugin *hkp_plugin_new (HkpEngine *engine, const char *name, const char *file);

/* Adds gate (retired, draining) to the plugin's draining instances and follows their requests. */
void hkp_plugin_add_draining (HkpPlugin *plugin, HkpGate *gate);

/* Removes gate from the plugin's draining instances. */
void hkp_plugin_remove_draining (HkpPlugin *plugin, HkpGate *gate);

/* Stops following DrainingRequests (the plugin leaves the engine). */
void hkp_plugin_stop_draining_poll (HkpPlugin *plugin);

/* Cancels a pending start of a new host (the plugin leaves the engine, or a new start is planned). */
void hkp_plugin_stop_crash_restart (HkpPlugin *plugin);

/* Announces what changed in plugin through its engine's "plugin-changed" signal (while registered). */
void hkp_plugin_changed (HkpPlugin *plugin, HkpPluginChange what);

/* Replaces the manifest (NULL allowed), taking a reference of its own; announces changed manager keys. */
void hkp_plugin_set_manifest (HkpPlugin *plugin, HkpManifest *manifest);

/* Sets the state and last error (NULL keeps it, "" clears it), logs, and announces what changed. */
void hkp_plugin_set_state (HkpPlugin *plugin, HkpPluginState state, const char *error);

/* Installs instance (NULL allowed) and takes the module facts from it; returns the previous instance (transfer full). */
HkpInstance *hkp_plugin_swap_instance (HkpPlugin *plugin, HkpInstance *instance);

/* Sets the config version and announces a config change. */
void hkp_plugin_set_config_version (HkpPlugin *plugin, guint version);

/* Takes over health (zeroed afterwards), logs if the status or message changed, and announces it. */
void hkp_plugin_set_health (HkpPlugin *plugin, HkpHealth *health);

G_END_DECLS
