/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hkp-plugind binary run as a child of the test, its stderr followed line by line. */

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  GSubprocess *process;
  GDataInputStream *err;
  GPtrArray *lines;
  gboolean eof;
} HkpTestDaemon;

/* A temporary tree for a daemon: plugins/ (the test modules), plugins.d/, state/ and an empty main config. */
typedef struct {
  char *root;
  char *plugin_dir;
  char *config_dir;
  char *state_dir;
  char *main_config;
} HkpTestTree;

/* Makes the tree (root readable by every uid, for tests that run clients as other users). */
void hkp_test_tree_init (HkpTestTree *tree);

/* Removes the tree and frees its names. */
void hkp_test_tree_clear (HkpTestTree *tree);

/* Writes plugins.d/<name>.json (with the suite's isolation, see hkp_test_with_isolation()). */
void hkp_test_tree_write_plugin (HkpTestTree *tree, const char *name, const char *json);

/*
 * Writes n plugin files, named prefix and a two-digit number from 00, of
 * answer.so in process answering "continue", each config padded with
 * padding_bytes bytes: a setup whose configs are large together.
 */
void hkp_test_tree_write_large_plugins (HkpTestTree *tree, const char *prefix, guint n, gsize padding_bytes);

/*
 * Returns the daemon's arguments for the tree (--config, --plugin-dir,
 * --config-dir, --state-dir), --bus=bus_address if not NULL,
 * --check-listen=127.0.0.1:0 and --http-listen=none, then the
 * NULL-terminated extra ones (which win); pdata is NULL-terminated.  Caller frees.
 */
GPtrArray *hkp_test_tree_argv (HkpTestTree *tree, const char *bus_address, ...) G_GNUC_NULL_TERMINATED;

/* Like hkp_test_tree_argv(), with the extra arguments as an array (NULL-terminated, may be NULL).  Caller frees. */
GPtrArray *hkp_test_tree_argv_v (HkpTestTree *tree, const char *bus_address, const char *const *extra);

/* Waits for the daemon's "<what> listening on ADDRESS" line and returns ADDRESS; caller frees. */
char *hkp_test_daemon_wait_listening (HkpTestDaemon *daemon, const char *what);

/* Returns the path of the hkp-plugind binary under test (static string). */
const char *hkp_test_daemon_path (void);

/*
 * Starts hkp-plugind with argv (NULL-terminated, without the program),
 * optionally as another uid (-1: as we are).  argv must give --http-listen
 * and --check-listen (as hkp_test_tree_argv() does), never a default port.
 */
HkpTestDaemon *hkp_test_daemon_start (const char *const *argv, gint uid);

/* Starts hkp-plugind on the tree and bus with --no-polkit and the extra arguments (NULL-terminated, may be NULL). */
HkpTestDaemon *hkp_test_tree_start_daemon (HkpTestTree *tree, const char *bus_address, const char *const *extra);

/* Like hkp_test_daemon_start(), with extra environment variables env (NULL-terminated KEY=VALUE, may be NULL). */
HkpTestDaemon *hkp_test_daemon_start_env (const char *const *argv, gint uid, const char *const *env);

/* Starts hkp-plugind with argv under the command prefix (NULL-terminated, e.g. setpriv and its options). */
HkpTestDaemon *hkp_test_daemon_start_under (const char *const *prefix, const char *const *argv);

/* Returns the daemon's process id (it must still be running, or not yet reaped). */
GPid hkp_test_daemon_get_pid (HkpTestDaemon *daemon);

/* Returns the index of the first line holding needle, or -1. */
gint hkp_test_daemon_find (HkpTestDaemon *daemon, const char *needle);

/* Returns how many lines read so far hold needle. */
guint hkp_test_daemon_count (HkpTestDaemon *daemon, const char *needle);

/* How long a wait for a line may take before the test fails naming the line (no test waits on one longer). */
#define HKP_TEST_DAEMON_WAIT_SEC 90

/* Waits until the daemon printed a line holding needle and returns its index; fails if the output ends first. */
gint hkp_test_daemon_wait_line (HkpTestDaemon *daemon, const char *needle);

/* Like hkp_test_daemon_wait_line(), for a line after line index after. */
gint hkp_test_daemon_wait_line_after (HkpTestDaemon *daemon, const char *needle, gint after);

/* Waits for the daemon to exit and its output to end; returns its exit status. */
int hkp_test_daemon_wait_exit (HkpTestDaemon *daemon);

/* Stops the daemon with SIGTERM and asserts an orderly exit 0 (under ASan, also that it leaked nothing). */
void hkp_test_daemon_stop (HkpTestDaemon *daemon);

/* Sends signal_number to the daemon. */
void hkp_test_daemon_signal (HkpTestDaemon *daemon, int signal_number);

/* Kills the daemon if still running, waits for it, frees everything. */
void hkp_test_daemon_free (HkpTestDaemon *daemon);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpTestDaemon, hkp_test_daemon_free)

G_END_DECLS
