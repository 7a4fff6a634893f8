/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/*
 * Reads the file at path if it is a regular file (or a symlink to one) of
 * at most max_size bytes, without ever blocking: a FIFO, socket, device or
 * directory of that name is refused before anything is read.  Returns the
 * contents, NUL-terminated, with their length in *len (may be NULL); or
 * NULL with a G_FILE_ERROR whose message does not repeat path.  Caller frees.
 */
char *hkp_file_read_regular (const char *path, gsize max_size, gsize *len, GError **error);

/* Called between writing the temporary file and renaming it (fault injection in tests); FALSE with error aborts. */
typedef gboolean (*HkpWriteHook) (const char *path, gpointer user_data, GError **error);

/* A file written but not yet in place: commit it with hkp_pending_file_commit() or drop it with hkp_pending_file_free(). */
typedef struct _HkpPendingFile HkpPendingFile;

/*
 * Writes data to a temporary file .NAME.XXXXXX beside the file path names
 * (beside the target when path is a symlink, so the link stays a link),
 * created 0600 and locked while it exists, and (durable) fsyncs it: a full
 * disk fails here.  Returns the pending file, or NULL with an error; path
 * is untouched either way.  The target keeps its mode and owner; a new
 * file gets new_mode.  Without durable, nothing is synced: for what may be
 * lost in a crash and written again.
 */
HkpPendingFile *hkp_pending_file_new (const char *path, const char *data, gsize len, mode_t new_mode, gboolean durable,
                                      GError **error);

/* Gives the temporary file the target's mode, renames it over the target and (durable) fsyncs the directory; hook (may be NULL) runs first. */
gboolean hkp_pending_file_commit (HkpPendingFile *pending, HkpWriteHook hook, gpointer hook_data, GError **error);

/* Removes the temporary file if it was not committed, and frees pending. */
void hkp_pending_file_free (HkpPendingFile *pending);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpPendingFile, hkp_pending_file_free)

/* Writes data to path atomically (temporary file, fsync, rename, fsync of the directory: those two if durable); a new file gets new_mode. */
gboolean hkp_file_write_atomic (const char *path, const char *data, gsize len, mode_t new_mode, gboolean durable,
                                GError **error);

/* Returns TRUE if name (a base name) looks like a temporary file of hkp_pending_file_new() for a .json file. */
gboolean hkp_file_is_temporary (const char *name);

/*
 * Removes the temporary files (.NAME.json.XXXXXX) in dir that no running
 * process holds, as a killed daemon leaves them; only those of target_base
 * if it is not NULL.  Logs each one removed; returns how many.
 */
guint hkp_file_remove_temporaries (const char *dir, const char *target_base);

/*
 * Removes the module-copy directories (modules.XXXXXX) in state_dir that no
 * running engine holds, with what is in them; logs each.  Returns how many.
 */
guint hkp_file_remove_module_copies (const char *state_dir);

/*
 * Makes a fresh module-copy directory modules.XXXXXX (0700) in state_dir
 * and locks it for as long as *lock_fd stays open (other engines' start
 * leaves it alone).  Returns its path (caller frees) or NULL with an error.
 */
char *hkp_file_make_module_copy_dir (const char *state_dir, int *lock_fd, GError **error);

/* Removes a module-copy directory of our own with its files, then lets go of its lock. */
void hkp_file_remove_module_copy_dir (const char *dir, int lock_fd);

G_END_DECLS
