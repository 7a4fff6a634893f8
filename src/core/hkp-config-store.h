/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* How many earlier versions of each plugin file the history keeps. */
#define HKP_CONFIG_HISTORY_KEEP 32

/* Called between writing the temporary file and renaming it (fault injection in tests); FALSE with error aborts. */
typedef gboolean (*HkpWriteHook) (const char *path, gpointer user_data, GError **error);

/* A file written but not yet in place: commit it with hkp_pending_file_commit() or drop it with hkp_pending_file_free(). */
typedef struct _HkpPendingFile HkpPendingFile;

/*
 * Writes data to a temporary file beside path (same directory, same mode as
 * path if it exists, else 0644) and fsyncs it.  Returns the pending file, or
 * NULL with an error; path is untouched either way.
 */
HkpPendingFile *hkp_pending_file_new (const char *path, const char *data, gsize len, GError **error);

/* Renames the pending file over its target and fsyncs the directory; hook (may be NULL) runs first. */
gboolean hkp_pending_file_commit (HkpPendingFile *pending, HkpWriteHook hook, gpointer hook_data, GError **error);

/* Removes the temporary file if it was not committed, and frees pending. */
void hkp_pending_file_free (HkpPendingFile *pending);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpPendingFile, hkp_pending_file_free)

/* Writes data to path atomically (temporary file, fsync, rename, fsync of the directory). */
gboolean hkp_file_write_atomic (const char *path, const char *data, gsize len, GError **error);

/*
 * Returns the text of a plugin file with its "config" replaced by config
 * and every other key kept as written (caller frees), or NULL with an error
 * if file_text is not a JSON object.
 */
char *hkp_config_replace_in_file (const char *file_text, JsonNode *config, GError **error);

/* Saves file_text as the newest earlier version of plugin name under state_dir, keeping the newest HKP_CONFIG_HISTORY_KEEP. */
gboolean hkp_config_history_push (const char *state_dir, const char *name, const char *file_text, GError **error);

/* Returns the paths of plugin name's earlier versions, oldest first (caller frees). */
GPtrArray *hkp_config_history_list (const char *state_dir, const char *name);

G_END_DECLS
