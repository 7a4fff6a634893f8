/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the test programs: temporary trees, captured logs, waiting on the main context. */

#include <gio/gio.h>

G_BEGIN_DECLS

/* Makes a new temporary directory; caller frees the name and removes it with hkp_test_rm_rf(). */
char *hkp_test_make_tmpdir (void);

/* Removes path and everything below it. */
void hkp_test_rm_rf (const char *path);

/* Removes everything in directory dir (as an admin emptying it by hand would), leaving dir itself. */
void hkp_test_empty_dir (const char *dir);

/* Writes contents to dir/name (creating dir), failing the test on error. */
void hkp_test_write_file (const char *dir, const char *name, const char *contents);

/* Like hkp_test_write_file(), and returns the file's path (caller frees). */
G_GNUC_WARN_UNUSED_RESULT char *hkp_test_write_file_path (const char *dir, const char *name, const char *contents);

/* Copies the file at source to dir/name, failing the test on error. */
void hkp_test_copy_file (const char *source, const char *dir, const char *name);

/* Returns a launcher whose children get SIGTERM when the test process dies, so none outlives a failed test. */
GSubprocessLauncher *hkp_test_launcher_new (GSubprocessFlags flags);

/* Returns the build directory of the test plugins (static string). */
const char *hkp_test_plugin_build_dir (void);

/* Copies every test plugin module from the build directory into dir. */
void hkp_test_install_plugins (const char *dir);

/* Installs a log writer that prints every message and keeps it for hkp_test_log_*(); call once in main(). */
void hkp_test_log_capture_install (void);

/* Returns TRUE if a captured message contains needle (thread-safe). */
gboolean hkp_test_log_contains (const char *needle);

/* Returns how many captured messages contain needle. */
guint hkp_test_log_count (const char *needle);

/* Returns TRUE if a captured message with PLUGIN=plugin contains needle. */
gboolean hkp_test_log_contains_for_plugin (const char *plugin, const char *needle);

/* Returns TRUE if one captured entry has every field of key_values (NULL-terminated "KEY=VALUE"). */
gboolean hkp_test_log_has_fields (const char *const *key_values);

/* Forgets every captured message. */
void hkp_test_log_clear (void);

/* Iterates the default main context until *result is set by hkp_test_store_result (fails after 60 s). */
void hkp_test_wait_result (GAsyncResult **result);

/* A GAsyncReadyCallback that stores a reference to the result in *(GAsyncResult **) user_data. */
void hkp_test_store_result (GObject *source, GAsyncResult *result, gpointer user_data);

/* Iterates the default main context until the log holds needle (fails after 60 s). */
void hkp_test_wait_log (const char *needle);

/* Returns where the suite runs plugins: $HKP_TEST_ISOLATION ("process" or "none"), "process" by default. */
const char *hkp_test_isolation (void);

/*
 * Returns json (a plugin file) with "isolation" set as $HKP_TEST_ISOLATION
 * says, added last, unless the file sets it or the variable is unset; caller
 * frees.  The suites run twice, in plugin hosts and in the daemon, this way.
 */
char *hkp_test_with_isolation (const char *json);

/* Raises this process's soft limit on open files to the hard limit; returns the new limit. */
guint hkp_test_raise_fd_limit (void);

/* Returns how many file descriptors process pid holds (from /proc). */
guint hkp_test_count_fds (GPid pid);

/* Returns how many threads process pid has. */
guint hkp_test_count_threads (GPid pid);

/* Returns an IPv4 address of this machine's that is not loopback, as text (caller frees), or NULL if it has none. */
char *hkp_test_own_address (void);

G_END_DECLS
