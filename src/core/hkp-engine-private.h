/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the engine's own files share; nothing outside src/core includes this. */

#include "hkp-check.h"
#include "hkp-drain.h"
#include "hkp-engine.h"
#include "hkp-stats.h"
#include "hkp-plugin-object-private.h"

G_BEGIN_DECLS

struct _HkpEngine {
  GObject parent_instance;
  HkpEngineSettings settings; /* string fields point at the copies below */
  char *plugin_dir;
  char *config_dir;
  char *state_dir;
  char *copy_dir; /* private copies of loaded modules */
  int copy_dir_lock; /* holds copy_dir, so another daemon's start leaves it alone */
  GMainContext *context; /* where the engine lives */
  gint64 start_time; /* real time of creation, µs */
  GPtrArray *plugins; /* HkpPlugin, priority order, owned */
  GHashTable *by_name; /* name → HkpPlugin, borrowed from plugins */
  GQueue load_queue; /* HkpPlugin waiting for a load slot, owned */
  guint loads_running;
  guint pending; /* transitions and drains in progress */
  guint64 module_serial; /* makes every module copy's name unique */
  GPtrArray *idle_waiters; /* GTask waiting for nothing to be pending */
  gboolean stopping;
  HkpGuardBox chain; /* HkpChain: what the request path runs through */
  HkpCheckEnv *check_env; /* the chain, call pool and watchdog checks run on */
  char *host_program; /* what isolated instances run in */
  char **host_environment; /* their environment */
  gpointer host_events; /* HostEvents: how hosts that end reach the engine */
  HkpHistogram reload_duration; /* every change that loads an instance, start to outcome */
  HkpHistogram drain_duration; /* every drain of a retired instance */
  char **required_plugins; /* the settings' copy */
  HkpCheckStats check_stats;
};

/* Makes the engine's check environment: the call pool and the watchdog (engine->check_env). */
void hkp_engine_check_env_init (HkpEngine *engine);

/* Stops the call pool and watchdog; returns how many calls were stuck in plugins and left behind (with the env). */
guint hkp_engine_check_env_clear (HkpEngine *engine);

/* Records a finished drain in the engine's statistics. */
void hkp_engine_observe_drain (HkpEngine *engine, const HkpDrainResult *outcome);

/* Publishes a new chain of the plugins' slots in priority order; the old one is freed once unread. */
void hkp_engine_publish_chain (HkpEngine *engine);

/* Completes the idle waiters if no load, transition or drain is pending. */
void hkp_engine_check_idle (HkpEngine *engine);

/* Counts an operation in progress (idle waiters and shutdown wait for it). */
void hkp_engine_op_begin (HkpEngine *engine);

/* Ends an operation counted by hkp_engine_op_begin(). */
void hkp_engine_op_end (HkpEngine *engine);

/* Returns the drain timeout of plugin: its own, or the engine's. */
gdouble hkp_engine_drain_timeout (HkpEngine *engine, HkpPlugin *plugin);

/*
 * Starts an instance for manifest on a worker thread with the init time
 * bound, in the daemon or in a plugin host as manifest says: from the module
 * of previous if given (starting an earlier instance's module again),
 * otherwise from a fresh private copy of the module file.
 */
void hkp_engine_start_instance_async (HkpEngine *engine, HkpManifest *manifest, HkpInstance *previous,
                                      GAsyncReadyCallback callback, gpointer user_data);

/* Follows the hosts of the engine's isolated instances: makes what their exit handlers report to. */
void hkp_engine_host_events_init (HkpEngine *engine);

/* Lets go of it (hosts still running keep their reference). */
void hkp_engine_host_events_clear (HkpEngine *engine);

/* A plugin host ended on its own (main thread): its plugin fails, saying why, and a new host is due. */
void hkp_engine_host_ended (HkpEngine *engine, HkpHost *host, const char *why, guint in_flight);

/*
 * After a change of plugin (main thread): if the instance it left serving
 * runs in a host that ended meanwhile (a rollback to it), the plugin fails
 * and gets a new host, soon after, as if the host had ended just now.
 */
void hkp_engine_check_serving_host (HkpEngine *engine, HkpPlugin *plugin);

/* Finishes hkp_engine_start_instance_async(): a new instance, or NULL with an error that names the file. */
HkpInstance *hkp_engine_start_instance_finish (HkpEngine *engine, HkpManifest *manifest, GAsyncResult *result,
                                               GError **error);

/* Makes instance the plugin's current one (or none), taking the module facts from it; the gate is not touched. */
void hkp_engine_set_instance (HkpPlugin *plugin, HkpInstance *instance);

/* Replaces the plugin's gate by a gate of mode without an instance; the old one must not serve. */
void hkp_engine_set_gate_mode (HkpPlugin *plugin, HkpGateMode mode);

/*
 * Replaces the plugin's serving gate by new_gate and, in the background,
 * drains the old one and shuts its instance down (counted as draining and
 * pending).  callback (may be NULL) runs when the old instance is gone.
 */
void hkp_engine_retire_serving_gate (HkpEngine *engine, HkpPlugin *plugin, HkpGate *new_gate,
                                     GAsyncReadyCallback callback, gpointer user_data);

/* Shuts down the instance of gate on a worker and frees the gate there; callback (may be NULL) when done. */
void hkp_engine_shutdown_gate_async (HkpEngine *engine, const char *plugin_name, HkpGate *gate,
                                     GAsyncReadyCallback callback, gpointer user_data);

/* The late handler of drains reported stuck: finishes the gate off the main thread when it empties. */
void hkp_engine_shutdown_late (HkpGate *gate, const char *plugin_name);

/*
 * Applies manifest to a claimed plugin: reload by its strategy when it
 * serves, start it when it does not, disable it when manifest says so.
 * Completes when the outcome is known; on failure the previous manifest is
 * back in force.  The plugin stays claimed: the caller releases it.
 */
void hkp_engine_apply_async (HkpEngine *engine, HkpPlugin *plugin, HkpManifest *manifest, GAsyncReadyCallback callback,
                             gpointer user_data);

/*
 * Starts a failed plugin's new host after its host ended, as
 * hkp_engine_apply_async() with its own manifest would, but loading the
 * module copy the dead host had (plugin->restart_from, if set): a crash
 * brings back what ran, not whatever the module file holds now.  Finish
 * with hkp_engine_apply_finish().
 */
void hkp_engine_restart_async (HkpEngine *engine, HkpPlugin *plugin, GAsyncReadyCallback callback, gpointer user_data);

/*
 * Returns the directory module copies go to (owned by the engine; main
 * thread), made anew (and locked) first if it was removed while running.
 */
const char *hkp_engine_get_copy_dir (HkpEngine *engine);

/* Finishes hkp_engine_apply_async(). */
gboolean hkp_engine_apply_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

/* Whether a transition of plugin could start now: FALSE with HKP_ERROR_BUSY (or stopping) if not. */
gboolean hkp_engine_can_claim (HkpEngine *engine, HkpPlugin *plugin, GError **error);

/* Claims plugin for a transition: FALSE with HKP_ERROR_BUSY (or stopping) if it cannot start now. */
gboolean hkp_engine_claim (HkpEngine *engine, HkpPlugin *plugin, GError **error);

/*
 * Claims plugin for a change that loads a new instance in place of a
 * serving one (reload, config, enable, rollback, restore, an edited file, a
 * restart of an unhealthy plugin): as hkp_engine_claim(), and Busy too while
 * two earlier instances of it are still loaded, draining or stuck.
 */
gboolean hkp_engine_claim_change (HkpEngine *engine, HkpPlugin *plugin, GError **error);

/* Releases a claim taken with hkp_engine_claim(). */
void hkp_engine_release (HkpEngine *engine, HkpPlugin *plugin);

/* Runs the engine's own followers of a change (the health monitor), then emits plugin-changed. */
void hkp_engine_emit_plugin_changed (HkpEngine *engine, HkpPlugin *plugin, HkpPluginChange what);

/* Registers plugin in priority order, publishes the chain, emits plugin-added. */
void hkp_engine_register (HkpEngine *engine, HkpPlugin *plugin);

/* Unregisters plugin (its instance already gone), publishes the chain, emits plugin-removed. */
void hkp_engine_unregister (HkpEngine *engine, HkpPlugin *plugin);

/* Moves plugin to its place in priority order (after its priority changed) and publishes the chain. */
void hkp_engine_reorder (HkpEngine *engine, HkpPlugin *plugin);

/*
 * Returns the sorted paths of the plugin files in the config directory
 * (warns when there are none), or NULL with HKP_ERROR_FAILED if the
 * directory cannot be read: that is not "every file removed".
 */
GPtrArray *hkp_engine_list_plugin_files (HkpEngine *engine, GError **error);

/* Queues plugin (in state loading, with a manifest) for loading. */
void hkp_engine_queue_load (HkpEngine *engine, HkpPlugin *plugin);

/* Like hkp_engine_add_file(); who and what ("file at start", "start") go to the history with a new version. */
HkpPlugin *hkp_engine_add_file_by (HkpEngine *engine, const char *path, const char *who, const char *what,
                                   GError **error);

/* What a change is, for the history and the messages. */
typedef struct {
  const char *who; /* who asked */
  const char *what; /* "config change", "enable", "disable", "rollback", "restore", "rescan" */
  guint restored; /* rollback and restore: the version brought back */
  gboolean write_file; /* FALSE: the file holds the new text already (rescan) */
} HkpChangeInfo;

/*
 * Makes new_text (taken) plugin's file by the one path every change takes
 * (see hkp_engine_set_config_async()): check, claim, validate, history
 * first, write aside, apply, rename.  task (taken, its source the engine)
 * returns TRUE or the error; finish it with hkp_engine_change_finish().
 */
void hkp_engine_change_file (HkpEngine *engine, HkpPlugin *plugin, char *new_text, const HkpChangeInfo *info,
                             GTask *task);

/*
 * Puts manifest's config to the plugin's validate_config on a worker thread
 * (with the init time bound): through the loaded module when the plugin
 * runs that module, else a fresh copy loaded for the purpose.  Plugins
 * without validate_config accept everything.
 */
void hkp_engine_validate_async (HkpEngine *engine, HkpPlugin *plugin, HkpManifest *manifest,
                                GAsyncReadyCallback callback, gpointer user_data);

/* Finishes hkp_engine_validate_async(): FALSE with the plugin's refusal (HKP_ERROR_INVALID_CONFIG) or why it could not ask. */
gboolean hkp_engine_validate_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

G_END_DECLS
