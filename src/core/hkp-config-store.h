/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "hkp-file.h"

G_BEGIN_DECLS

/* How many versions of each plugin file the history keeps unless told otherwise (history-limit). */
#define HKP_CONFIG_HISTORY_LIMIT_DEFAULT 100

/*
 * One version of a plugin file in the history, <state-dir>/history/<name>/:
 * the newest one is the file in force.  Versions only grow, across
 * restarts too.
 */
typedef struct {
  guint version;
  gint64 time_usec; /* real time it was made */
  char *who; /* "uid 1000 via D-Bus", "HTTP from 127.0.0.1 with the token", "file edited, rescan", … */
  char *what; /* "config change", "enable", "disable", "rollback", "restore", "rescan", "add", "start" */
  guint restored; /* rollback and restore: the version whose file this one is again; else 0 */
  char *text; /* the plugin file */
} HkpConfigEntry;

/* Frees entry and what it holds. */
void hkp_config_entry_free (HkpConfigEntry *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpConfigEntry, hkp_config_entry_free)

/*
 * Returns the text of a plugin file with its "config" replaced by config
 * and every other key kept as written (caller frees), or NULL with an error
 * if file_text is not a JSON object.
 */
char *hkp_config_replace_in_file (const char *file_text, JsonNode *config, GError **error);

/* Returns the versions kept of plugin name, oldest first (a GArray of guint; caller frees). */
GArray *hkp_config_history_versions (const char *state_dir, const char *name);

/* Returns the newest version kept of plugin name, or 0 if none. */
guint hkp_config_history_newest (const char *state_dir, const char *name);

/* Reads one version of plugin name; NULL with an error if it is not kept or cannot be read. Caller frees. */
HkpConfigEntry *hkp_config_history_read (const char *state_dir, const char *name, guint version, GError **error);

/*
 * Saves entry (whose version is newer than any kept), directories 0700 and
 * file 0600; durable: synced to disk before it returns (for a change that
 * depends on it; a version recorded at load can be recorded again).  FALSE
 * with an error (a full disk, say) leaves nothing behind.
 */
gboolean hkp_config_history_add (const char *state_dir, const char *name, const HkpConfigEntry *entry, gboolean durable,
                                 GError **error);

/* Removes one version of plugin name (one saved for a change that did not happen). */
void hkp_config_history_remove (const char *state_dir, const char *name, guint version);

/* Removes all but the newest limit versions of plugin name. */
void hkp_config_history_prune (const char *state_dir, const char *name, guint limit);

/*
 * Start-up care of the whole history under state_dir: directories made
 * 0700 and entries 0600 (earlier releases made them 0644), temporary files
 * a killed daemon left removed.
 */
void hkp_config_history_tidy (const char *state_dir);

G_END_DECLS
