/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Largest plugin file accepted, and deepest JSON nesting inside it. */
#define HKP_MANIFEST_MAX_SIZE (1024 * 1024)
#define HKP_MANIFEST_MAX_DEPTH 32

#define HKP_PRIORITY_MIN 0
#define HKP_PRIORITY_MAX 10000
#define HKP_PRIORITY_DEFAULT 100
#define HKP_INIT_TIMEOUT_DEFAULT_SEC 30.0
#define HKP_TIMEOUT_MAX_SEC 86400.0
#define HKP_CALL_TIMEOUT_DEFAULT_MS 5000

typedef enum {
  HKP_RELOAD_OVERLAP,
  HKP_RELOAD_EXCLUSIVE,
} HkpReloadStrategy;

typedef enum {
  HKP_FAILURE_CLOSED,
  HKP_FAILURE_OPEN,
} HkpFailureMode;

/* Where an instance runs: in a confined host process of its own, or in the daemon. */
typedef enum {
  HKP_ISOLATION_PROCESS,
  HKP_ISOLATION_NONE,
} HkpIsolation;

#define HKP_CALL_TIMEOUT_MAX_MS 86400000
#define HKP_MEMORY_MAX_DEFAULT_MB 512
#define HKP_MEMORY_MAX_MAX_MB (1024 * 1024)

/*
 * One plugin's declaration, parsed from <config-dir>/<name>.json.  Immutable
 * once built (but for a cache filled on first use) and atomically
 * reference-counted, so threads may share it.
 * Timeouts are 0 where the file leaves them to the engine's defaults.
 */
typedef struct {
  char *name; /* the file's stem */
  char *path; /* the file it came from */
  char *module; /* "module" as written */
  gint priority; /* lower runs first */
  HkpReloadStrategy reload_strategy;
  HkpFailureMode failure_mode;
  gdouble drain_timeout_sec;
  gdouble init_timeout_sec;
  gdouble health_interval_sec;
  gboolean required; /* /readyz fails while this plugin is down */
  HkpIsolation isolation;
  guint call_timeout_ms; /* how long one handle() may take */
  guint memory_max_mb; /* isolated: the host's memory limit */
  gboolean enabled; /* config.enabled, TRUE when absent */
  JsonNode *config; /* the "config" object (sealed) */
  char *config_json; /* the same, serialised for the plugin */
  char *shown_config_json; /* hkp_manifest_get_shown_config()'s, once asked for (atomic) */
} HkpManifest;

/* TRUE if a config of len bytes is within HKP_MANIFEST_MAX_SIZE; FALSE with HKP_ERROR_INVALID_CONFIG otherwise. */
gboolean hkp_manifest_check_config_size (gsize len, GError **error);

/* Returns TRUE if name matches [a-z0-9][a-z0-9_-]{0,63}. */
gboolean hkp_plugin_name_is_valid (const char *name);

/*
 * Returns why name (NULL: none given) names no plugin, for an error:
 * "no plugin named …" if it is a plugin name, else that it is not one,
 * quoting at most 80 bytes of it.  Caller frees.
 */
char *hkp_plugin_name_describe_unknown (const char *name);

/* Returns the plugin name a file name declares ("a.json" → "a"), or NULL if it is no plugin file; caller frees. */
char *hkp_manifest_name_from_filename (const char *filename);

/*
 * Parses the plugin file at path; returns a new reference or NULL with an
 * HKP_ERROR naming path and the problem.  If text is not NULL it receives the
 * file's contents when they could be read (caller frees), even if invalid.
 */
HkpManifest *hkp_manifest_new_from_file (const char *path, char **text, GError **error);

/* Parses a plugin declaration from memory, as if read from path; returns a new reference or NULL with an error. */
HkpManifest *hkp_manifest_new_from_data (const char *name, const char *path, const char *data, gsize len,
                                         GError **error);

/* Returns a new reference to manifest. */
HkpManifest *hkp_manifest_ref (HkpManifest *manifest);

/* Drops a reference to manifest. */
void hkp_manifest_unref (HkpManifest *manifest);

/* Returns the config as every reader sees it, secrets redacted (see hkp_redact_config_json()); owned by manifest. */
const char *hkp_manifest_get_shown_config (HkpManifest *manifest);

/* Returns TRUE if a and b (either may be NULL) agree on every key the manager reads (all but "config"). */
gboolean hkp_manifest_manager_keys_equal (const HkpManifest *a, const HkpManifest *b);

/* Returns the static lowercase name of a reload strategy ("overlap"). */
const char *hkp_reload_strategy_to_string (HkpReloadStrategy strategy);

/* Returns the static lowercase name of a failure mode ("closed"). */
const char *hkp_failure_mode_to_string (HkpFailureMode mode);

/* Returns the static lowercase name of an isolation ("process"). */
const char *hkp_isolation_to_string (HkpIsolation isolation);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpManifest, hkp_manifest_unref)

G_END_DECLS
