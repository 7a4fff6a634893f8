/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "hkp-check.h"
#include "hkp-config-store.h"
#include "hkp-plugin-object.h"
#include "hkp-stats.h"

G_BEGIN_DECLS

#define HKP_DRAIN_TIMEOUT_DEFAULT_SEC 60.0
#define HKP_HEALTH_INTERVAL_DEFAULT_SEC 30.0
#define HKP_SHUTDOWN_TIMEOUT_DEFAULT_SEC 10.0
#define HKP_PARALLEL_LOADS_DEFAULT 4
#define HKP_HEALTH_TIMEOUT_DEFAULT_SEC 5.0

/* When an unhealthy plugin is restarted (reloaded), and when the engine gives up on it. */
typedef struct {
  guint after_failures; /* consecutive unhealthy checks before a restart (default 3) */
  gdouble backoff_initial_sec; /* delay before the first restart, doubled each time (default 1) */
  gdouble backoff_max_sec; /* longest delay (default 300) */
  gdouble reset_after_sec; /* healthy this long: the delay starts again from the first (default 600) */
  gdouble window_sec; /* at most max_in_window restarts within this window (default 3600) */
  guint max_in_window; /* then the plugin is marked failed (default 5) */
} HkpRestartPolicy;

/* What the engine is built from; zero fields take the defaults above. */
typedef struct {
  const char *plugin_dir;
  const char *config_dir;
  const char *state_dir;
  gdouble drain_timeout_sec;
  gdouble health_interval_sec;
  gdouble init_timeout_sec;
  gdouble shutdown_timeout_sec;
  guint max_parallel_loads;
  gdouble health_timeout_sec; /* a health() call that overruns counts as unhealthy */
  HkpRestartPolicy restart;
  guint history_limit; /* versions of each plugin file the history keeps (default HKP_CONFIG_HISTORY_LIMIT_DEFAULT) */
  const char *const *required_plugins; /* required besides those whose file says so (--required-plugins); may be NULL */
  const char *host_program; /* the hkp-plugin-host isolated instances run in (NULL: $HKP_PLUGIN_HOST, else the
                               installed one) */
  const char *const *host_environment; /* KEY=VALUE for hosts (NULL: the sanitizers' options only); tests */
  HkpWriteHook write_hook; /* tests: runs before a plugin file is renamed into place */
  gpointer write_hook_data;
} HkpEngineSettings;

/*
 * The plugin engine: the registry of declared plugins and their loading and
 * unloading.  Lives on the thread-default main context it was created in;
 * plugin code runs on worker threads.  Signals, on that context:
 * "plugin-added" (HkpPlugin), "plugin-removed" (HkpPlugin), and
 * "plugin-changed" (HkpPlugin, guint: HkpPluginChange flags saying what
 * changed), the one event every front end follows.
 */
#define HKP_TYPE_ENGINE (hkp_engine_get_type ())
G_DECLARE_FINAL_TYPE (HkpEngine, hkp_engine, HKP, ENGINE, GObject)

/*
 * Creates an engine, making the state directory and a private module-copy
 * directory inside it, after removing what a killed daemon left there and
 * in the config directory (module copies, temporary files; each logged).
 * Returns a new reference or NULL.
 */
HkpEngine *hkp_engine_new (const HkpEngineSettings *settings, GError **error);

/* Returns the real time (µs since the epoch) the engine was created. */
gint64 hkp_engine_get_start_time (HkpEngine *engine);

/* Returns the durations of reloads (every change that loads an instance), owned by engine; main thread. */
const HkpHistogram *hkp_engine_get_reload_durations (HkpEngine *engine);

/* Returns the durations of drains of retired instances, owned by engine; main thread. */
const HkpHistogram *hkp_engine_get_drain_durations (HkpEngine *engine);

/* Returns the check endpoint's figures, owned by engine; any thread records into them. */
HkpCheckStats *hkp_engine_get_check_stats (HkpEngine *engine);

/* Returns the settings in force (defaults filled in), owned by engine. */
const HkpEngineSettings *hkp_engine_get_settings (HkpEngine *engine);

/*
 * Reads every <name>.json in the config directory and loads each plugin;
 * completes when every one has an outcome (active, disabled or failed).  A
 * missing or empty directory is logged as a warning.
 */
void hkp_engine_load_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data);

/* Finishes hkp_engine_load_async(); FALSE with an error only if the engine is stopping. */
gboolean hkp_engine_load_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

/*
 * Declares the plugin of the file at path and starts loading it; returns the
 * plugin (owned by engine) in state loading, disabled or failed, or NULL with
 * HKP_ERROR_DUPLICATE if a plugin of that name exists.
 */
HkpPlugin *hkp_engine_add_file (HkpEngine *engine, const char *path, GError **error);

/* Completes once no plugin is loading. */
void hkp_engine_wait_idle_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data);

/* Finishes hkp_engine_wait_idle_async(). */
gboolean hkp_engine_wait_idle_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

/* Returns the plugin called name (owned by engine) or NULL. */
HkpPlugin *hkp_engine_lookup (HkpEngine *engine, const char *name);

/* Returns the plugin called name (owned by engine), or NULL with HKP_ERROR_INVALID_NAME or NO_SUCH_PLUGIN. */
HkpPlugin *hkp_engine_find (HkpEngine *engine, const char *name, GError **error);

/* Fills counts with how many plugins are in each state. */
void hkp_engine_count_states (HkpEngine *engine, guint counts[HKP_PLUGIN_N_STATES]);

/* Returns the plugins in priority order; the array is the caller's, its elements are owned by engine. */
GPtrArray *hkp_engine_list_plugins (HkpEngine *engine);

/* ---- the request path (any thread but the main one) ---- */

/*
 * Starts request through the enabled plugins in priority order (see
 * hkp_check_start()): TRUE with result filled if decided at once, else FALSE
 * and done(user_data) is called from another thread once result is filled.
 * Any thread; the calling thread never runs plugin code or waits for it.
 */
gboolean hkp_engine_check_start (HkpEngine *engine, HkpCheckRequest *request, HkpCheckResult *result, HkpCheckDone done,
                                 gpointer user_data);

/*
 * Runs request (copied) through the enabled plugins and waits for the
 * verdict, filling result (the caller clears it).  For embedding and tests:
 * blocks the calling thread, which must not be the engine's main thread.
 */
void hkp_engine_check (HkpEngine *engine, const HkpCheckRequest *request, HkpCheckResult *result);

/* Returns how many in-process plugin calls are past their deadline and have not returned. */
guint hkp_engine_get_late_calls (HkpEngine *engine);

/*
 * Runs a request through the plugins; callback runs in the caller's
 * thread-default main context.  headers is NULL or a
 * NULL-terminated list of name, value, name, value…; everything is copied.
 * Cancelling cancellable makes request->cancelled true for the plugins.
 */
void hkp_engine_check_async (HkpEngine *engine, const char *method, const char *path, const char *query,
                             const char *client_address, const char *const *headers, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);

/* Finishes hkp_engine_check_async(): fills result (caller clears it); FALSE with an error if cancelled. */
gboolean hkp_engine_check_finish (HkpEngine *engine, GAsyncResult *result, HkpCheckResult *out, GError **error);

/* ---- transitions (main thread) ---- */

/*
 * Reloads plugin name from a fresh copy of its module with its current
 * config, by its reload strategy.  Completes when the outcome is known:
 * TRUE once the new instance serves; FALSE with HKP_ERROR_RELOAD_FAILED
 * (the previous instance keeps serving: rolled back, the plugin's error in
 * the message), HKP_ERROR_DISABLED (enable it instead), HKP_ERROR_BUSY,
 * HKP_ERROR_NO_SUCH_PLUGIN or HKP_ERROR_FAILED.
 */
void hkp_engine_reload_async (HkpEngine *engine, const char *name, GAsyncReadyCallback callback, gpointer user_data);

/* Finishes hkp_engine_reload_async(). */
gboolean hkp_engine_reload_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

/* Returns plugin name's config object as JSON text, secrets and all (caller frees), or NULL with an error. */
char *hkp_engine_get_config (HkpEngine *engine, const char *name, GError **error);

/*
 * Every change below follows one path, so that on any failure nothing
 * changes, in memory or on disk: the new file is checked (strict JSON,
 * manager keys) and, if the plugin is to run, its config is put to the
 * plugin's validate_config (a refusal is HKP_ERROR_INVALID_CONFIG, before
 * any reload); the new version is saved to the history first (a full disk
 * refuses the change with HKP_ERROR_FAILED); the new file is written aside;
 * the change is applied through a reload; then the file is renamed into
 * place (a symlink's target is replaced, the link kept).  who says who asked
 * ("uid 1000 via D-Bus", "HTTP from 127.0.0.1 with the token"); it goes to
 * the history with the version.  Errors: HKP_ERROR_INVALID_CONFIG,
 * HKP_ERROR_RELOAD_FAILED (rolled back), BUSY, NO_SUCH_PLUGIN or FAILED.
 * Finish each with hkp_engine_change_finish().
 */

/*
 * Replaces plugin name's config with json (a JSON object).  A secret-looking
 * key whose value is "[redacted]" (what reads show) keeps its stored value;
 * with no stored value to keep, the change is refused (InvalidConfig,
 * naming the key).
 */
void hkp_engine_set_config_async (HkpEngine *engine, const char *name, const char *json, const char *who,
                                  GAsyncReadyCallback callback, gpointer user_data);

/*
 * Returns plugin name to the version before the one in force: after a
 * rollback or restore, the one before the version that brought back, so
 * repeated rollbacks walk back.  A new version in the history.
 */
void hkp_engine_rollback_config_async (HkpEngine *engine, const char *name, const char *who,
                                       GAsyncReadyCallback callback, gpointer user_data);

/* Returns plugin name to version (any kept in its history); a new version in the history. */
void hkp_engine_restore_config_async (HkpEngine *engine, const char *name, guint version, const char *who,
                                      GAsyncReadyCallback callback, gpointer user_data);

/* Sets config.enabled of plugin name (disable drains and unloads; enable loads), saved like a config change. */
void hkp_engine_set_enabled_async (HkpEngine *engine, const char *name, gboolean enabled, const char *who,
                                   GAsyncReadyCallback callback, gpointer user_data);

/* Finishes a set-config, rollback, restore or set-enabled call. */
gboolean hkp_engine_change_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

/* One version of a plugin's config, as hkp_engine_get_config_history() tells it. */
typedef struct {
  guint version;
  gint64 time_usec; /* real time, µs since the epoch */
  char *who; /* who made it: "uid 1000 via D-Bus", "file edited, rescan", "file at start", … */
  char *what; /* "config change", "enable", "disable", "rollback", "restore", "rescan", "add", "start" */
  guint restored; /* rollback and restore: the version brought back; else 0 */
  char *config; /* the plugin's config object as JSON, secrets redacted */
} HkpConfigVersion;

/* Frees version and what it holds. */
void hkp_config_version_free (HkpConfigVersion *version);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpConfigVersion, hkp_config_version_free)

/* What the configs of one history listing may come to together, at most (the newest one always comes). */
#define HKP_CONFIG_HISTORY_LISTED_MAX (8 * 1024 * 1024)

/*
 * Returns the versions of plugin name's config the history keeps, newest
 * (the one in force) first, as many as fit HKP_CONFIG_HISTORY_LISTED_MAX:
 * a GPtrArray of HkpConfigVersion (caller frees), or NULL with
 * HKP_ERROR_NO_SUCH_PLUGIN / INVALID_NAME.
 */
GPtrArray *hkp_engine_get_config_history (HkpEngine *engine, const char *name, GError **error);

/* A plugin file a rescan did not apply, and why. */
typedef struct {
  char *file;
  char *reason; /* without the file's name in front */
} HkpRescanRefusal;

/* What a rescan did. */
typedef struct {
  guint added;
  guint removed;
  guint changed;
  guint unchanged;
  guint errors; /* files not applied: as many as refused holds */
  GPtrArray *refused; /* HkpRescanRefusal, by file name; owned by the summary */
} HkpRescanSummary;

/* Frees what summary holds (not summary itself). */
void hkp_rescan_summary_clear (HkpRescanSummary *summary);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HkpRescanSummary, hkp_rescan_summary_clear)

/* Returns "FILE: REASON; FILE: REASON" for the refused files of summary (caller frees); "" if none. */
char *hkp_rescan_summary_describe_refused (const HkpRescanSummary *summary);

/*
 * Picks up added, removed and edited plugin files: added ones load, removed
 * ones drain and unload, edited ones are applied like a config change (who
 * "file edited, rescan").  A file that is not applied (not JSON, bad keys,
 * refused by the plugin, failed to load, busy) leaves a running instance
 * serving, sets the plugin's last error and is listed in the summary's
 * refused; the good files are applied all the same.  Completes when every
 * change has an outcome, the loads of added files included.
 */
void hkp_engine_rescan_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data);

/*
 * Finishes hkp_engine_rescan_async(), filling summary (may be NULL; clear it
 * with hkp_rescan_summary_clear()).  FALSE with an error only if the engine
 * is stopping: refused files are in summary->refused.
 */
gboolean hkp_engine_rescan_finish (HkpEngine *engine, GAsyncResult *result, HkpRescanSummary *summary, GError **error);

/*
 * Stops loading, then shuts down and unloads every plugin in reverse
 * priority order, each shutdown on a worker thread with a time bound, and
 * removes them; completes when all are gone.
 */
void hkp_engine_shutdown_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data);

/* Finishes hkp_engine_shutdown_async(). */
gboolean hkp_engine_shutdown_finish (HkpEngine *engine, GAsyncResult *result, GError **error);

/* Returns the plugins whose load, change or shutdown has not finished, as "NAME (STATE)" joined by ", ", or NULL if
 * there are none (free with g_free()). */
char *hkp_engine_describe_unfinished (HkpEngine *engine);

G_END_DECLS
