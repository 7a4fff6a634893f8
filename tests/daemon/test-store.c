/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The config store and file safety as an admin meets them in the running
 * daemon: versions and who made them over D-Bus and HTTP, kept across a
 * restart and bounded by --history-limit; a full disk for the state
 * directory (a small tmpfs) refuses SetConfig and changes nothing; a FIFO
 * named like a plugin file blocks nothing; what a SIGKILLed daemon leaves is
 * removed at the next start; and --check-config, like nginx -t.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "bridge-fixture.h"
#include "hkp-config-store.h"
#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

#define PLUGIN_IFACE HKP_TEST_PLUGIN

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
  gboolean mounted;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  hkp_test_tree_write_plugin (&f->tree, "p",
                              "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\", \"reason\": \"v1\"}}");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_unref);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  if (f->mounted)
    g_assert_cmpint (umount (f->tree.state_dir), ==, 0);
  hkp_test_tree_clear (&f->tree);
}

/* Starts the daemon on a private bus (made once) with --no-polkit and extra arguments; waits for ready. */
static void
start_daemon (Fixture *f, const char *const *extra)
{
  if (f->bus == NULL)
    f->bus = hkp_test_bus_start (TRUE, NULL);
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, extra);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  if (f->client == NULL)
    f->client = hkp_test_client_new (f->bus->address);
}

static void
stop_daemon (Fixture *f)
{
  hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
}

static char *
set_config (Fixture *f, const char *json)
{
  g_autofree char *path = hkp_test_plugin_path ("p");

  return hkp_test_call (f->client, path, PLUGIN_IFACE, "SetConfig", json, NULL, NULL);
}

static char *
call (Fixture *f, const char *member)
{
  g_autofree char *path = hkp_test_plugin_path ("p");

  return hkp_test_call (f->client, path, PLUGIN_IFACE, member, NULL, NULL, NULL);
}

static guint64
config_version (Fixture *f)
{
  g_autofree char *path = hkp_test_plugin_path ("p");

  return hkp_test_get_uint (f->client, path, PLUGIN_IFACE, "ConfigVersion", 'u');
}

static void
assert_config (Fixture *f, const char *expected)
{
  g_autofree char *path = hkp_test_plugin_path ("p");
  g_autofree char *config = hkp_test_get_string (f->client, path, PLUGIN_IFACE, "Config");

  g_assert_cmpstr (config, ==, expected);
}

static char *
plugin_file (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->tree.config_dir, "p.json", NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static void
test_history_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpConfigEntry) entry = NULL;
  g_autoptr (GArray) kept = NULL;
  g_autofree char *who = g_strdup_printf ("uid %u via D-Bus", (unsigned) getuid ());

  start_daemon (f, NULL);
  g_assert_cmpuint (config_version (f), ==, 1);
  g_assert_null (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v2\"}"));
  g_assert_cmpuint (config_version (f), ==, 2);
  entry = hkp_config_history_read (f->tree.state_dir, "p", 2, NULL);
  g_assert_cmpstr (entry->who, ==, who);
  g_assert_cmpstr (entry->what, ==, "config change");
  stop_daemon (f);

  /* After a restart the versions go on; --history-limit bounds what is kept. */
  start_daemon (f, (const char *const[]){ "--history-limit=4", NULL });
  g_assert_cmpuint (config_version (f), ==, 2);
  g_assert_null (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v3\"}"));
  g_assert_cmpuint (config_version (f), ==, 3);
  g_assert_null (call (f, "RollbackConfig"));
  g_assert_cmpuint (config_version (f), ==, 4);
  assert_config (f, "{\"verdict\":\"deny\",\"reason\":\"v2\"}");
  g_assert_null (call (f, "RollbackConfig"));
  assert_config (f, "{\"verdict\":\"deny\",\"reason\":\"v1\"}");
  kept = hkp_config_history_versions (f->tree.state_dir, "p");
  g_assert_cmpuint (kept->len, ==, 4);
  g_assert_cmpuint (g_array_index (kept, guint, 0), ==, 2);
  hkp_test_assert_error (call (f, "RollbackConfig"), "org.hkp.PluginManager1.Error.Failed",
                         "no version before version 1");
  stop_daemon (f);
}

/* Reloading a disabled plugin is a conflict of its own: Error.Disabled. */
static void
test_reload_disabled (Fixture *f, gconstpointer data)
{
  start_daemon (f, NULL);
  g_assert_null (call (f, "Disable"));
  hkp_test_assert_error (call (f, "Reload"), "org.hkp.PluginManager1.Error.Disabled",
                         "plugin p is disabled; enable it instead");
  stop_daemon (f);
}

static guint
count_entries (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (handle != NULL && g_dir_read_name (handle) != NULL)
    n++;
  return n;
}

static gboolean
on_wait_limit (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
on_dir_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event, gpointer user_data)
{
}

/* Waits, on inotify events, until the daemon's module-copy directory holds n copies. */
static void
wait_module_copies (Fixture *f, guint n)
{
  g_autoptr (GDir) handle = g_dir_open (f->tree.state_dir, 0, NULL);
  g_autofree char *dir = NULL;
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileMonitor) monitor = NULL;
  gboolean too_late = FALSE;
  guint limit;
  const char *entry;

  while ((entry = g_dir_read_name (handle)) != NULL)
    if (g_str_has_prefix (entry, "modules."))
      dir = g_build_filename (f->tree.state_dir, entry, NULL);
  g_assert_nonnull (dir);
  file = g_file_new_for_path (dir);
  monitor = g_file_monitor_directory (file, G_FILE_MONITOR_NONE, NULL, NULL);
  g_signal_connect (monitor, "changed", G_CALLBACK (on_dir_changed), NULL);
  limit = g_timeout_add_seconds (60, on_wait_limit, &too_late);
  while (count_entries (dir) != n)
    {
      g_assert_false (too_late);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (limit);
}

static void
test_full_disk (Fixture *f, gconstpointer data)
{
  g_autofree char *module = g_build_filename (f->tree.plugin_dir, "answer.so", NULL);
  g_autofree char *options = NULL;
  g_autofree char *filler = g_build_filename (f->tree.state_dir, "filler", NULL);
  g_autofree char *before = NULL, *after = NULL;
  static const char block[4096];
  GStatBuf st;
  int fd;

  g_assert_cmpint (g_mkdir_with_parents (f->tree.state_dir, 0700), ==, 0);
  g_assert_cmpint (g_stat (module, &st), ==, 0);
  /* 256 KiB as TESTING.md has it, or room for two module copies where sanitizers make them big. */
  options = g_strdup_printf ("size=%" G_GUINT64_FORMAT, MAX ((guint64) 256 * 1024, 4 * (guint64) st.st_size));
  /* In a mount namespace of the test's own, so the tmpfs goes with the test even if it aborts. */
  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount ("tmpfs", f->tree.state_dir, "tmpfs", 0, options) != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs (root only): %s", g_strerror (errno));
      return;
    }
  f->mounted = TRUE;
  start_daemon (f, NULL);
  for (guint v = 2; v <= 8; v++)
    {
      g_autofree char *json = g_strdup_printf ("{\"verdict\": \"deny\", \"reason\": \"v%u\"}", v);
      g_assert_null (set_config (f, json));
    }
  /* Old instances (and their module copies) go after the replies: fill the disk once they are gone. */
  wait_module_copies (f, 1);

  fd = open (filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  while (write (fd, block, sizeof block) > 0)
    ;
  g_assert_cmpint (errno, ==, ENOSPC);
  close (fd);

  before = plugin_file (f);
  /* The history is written first; if a page was left for it, the module copy of the new instance is what finds the
   * disk full.  Either way the change is refused for want of space, and nothing changes. */
  {
    g_autofree char *error = set_config (f, "{\"verdict\": \"deny\", \"reason\": \"lost\"}");
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error, g_strerror (ENOSPC)));
    g_assert_true (g_str_has_prefix (error, "org.hkp.PluginManager1.Error.Failed: ") ||
                   g_str_has_prefix (error, "org.hkp.PluginManager1.Error.ReloadFailed: "));
  }
  {
    g_autofree char *error = call (f, "RollbackConfig");
    g_assert_nonnull (error);
    g_assert_true (strstr (error, "nothing changed") != NULL || strstr (error, g_strerror (ENOSPC)) != NULL);
  }
  after = plugin_file (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (config_version (f), ==, 8);
  assert_config (f, "{\"verdict\":\"deny\",\"reason\":\"v8\"}");
  g_assert_cmpuint (hkp_config_history_newest (f->tree.state_dir, "p"), ==, 8);

  /* With room again: the next version is 9, and a rollback after it goes to 8. */
  g_assert_cmpint (g_unlink (filler), ==, 0);
  g_assert_null (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v9\"}"));
  g_assert_cmpuint (config_version (f), ==, 9);
  g_assert_null (call (f, "RollbackConfig"));
  assert_config (f, "{\"verdict\":\"deny\",\"reason\":\"v8\"}");
  stop_daemon (f);
}

static void
test_fifo (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->tree.config_dir, "fifo.json", NULL);
  g_autofree char *check = NULL;
  g_autofree char *fifo_path = hkp_test_plugin_path ("fifo");
  g_autofree char *state = NULL, *error = NULL;
  g_autoptr (GPtrArray) argv = NULL;
  const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get&search=x",
                                  "X-Real-IP: 192.0.2.1", NULL };
  g_auto (HkpTestHttpResponse) r = { 0 };
  g_autoptr (HkpTestHttp) http = NULL;
  g_autoptr (GError) http_error = NULL;
  g_autoptr (sd_bus_message) status = NULL;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  check = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);

  /* The daemon answers D-Bus, and the check endpoint opened and answers. */
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "GetStatus", NULL, NULL, &status));
  state = hkp_test_get_string (f->client, fifo_path, PLUGIN_IFACE, "State");
  g_assert_cmpstr (state, ==, "failed");
  error = hkp_test_get_string (f->client, fifo_path, PLUGIN_IFACE, "LastError");
  g_assert_nonnull (strstr (error, "fifo.json: cannot read: not a regular file but a FIFO"));
  http = hkp_test_http_connect (check, NULL, &http_error);
  g_assert_no_error (http_error);
  g_assert_true (hkp_test_http_request (http, "GET", "/check", headers, NULL, &r, &http_error));
  /* Answered by p's deny (a plugin whose file cannot be read has no priority and comes last). */
  g_assert_cmpuint (r.status, ==, 403);
  /* A rescan does not block on it either; it names the file among those it refused. */
  g_free (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "Rescan", NULL, NULL, NULL));
  hkp_test_daemon_wait_line (f->daemon, "rescan: added 0, removed 0, changed 0, unchanged 1, errors 1");
  stop_daemon (f);
}

/* Names in dir that a killed daemon may leave: module-copy directories and temporary files. */
static char *
leftovers (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    if (entry[0] == '.' || g_str_has_prefix (entry, "modules."))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static int
on_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  return 0;
}

static void
test_sigkill_cleanup (Fixture *f, gconstpointer data)
{
  g_autofree char *path = hkp_test_plugin_path ("p");
  g_autofree char *state_left = NULL, *config_left = NULL;
  g_autofree char *state_after = NULL, *config_after = NULL;
  g_autofree char *copies = NULL;
  g_autofree char *temporary = NULL;
  g_auto (GStrv) state_names = NULL;

  hkp_test_tree_write_plugin (&f->tree, "p", "{\"module\": \"sleeper.so\", \"config\": {}}");
  start_daemon (f, NULL);
  /* A change whose new instance takes a minute to start: the daemon is killed in the middle of it. */
  g_assert_cmpint (sd_bus_call_method_async (f->client, NULL, HKP_TEST_SERVICE, path, PLUGIN_IFACE, "SetConfig",
                                             on_reply, NULL, "s", "{\"init_delay_ms\": 60000}"),
                   >=, 0);
  g_assert_cmpint (sd_bus_flush (f->client), >=, 0);
  hkp_test_daemon_wait_line (f->daemon, "plugin p active -> reloading");
  hkp_test_daemon_signal (f->daemon, SIGKILL);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free); /* waits for it */

  state_left = leftovers (f->tree.state_dir);
  config_left = leftovers (f->tree.config_dir);
  g_test_message ("left by the killed daemon: state: %s; config: %s", state_left, config_left);
  state_names = g_strsplit (state_left, " ", -1);
  g_assert_cmpuint (g_strv_length (state_names), ==, 1);
  g_assert_true (g_str_has_prefix (state_left, "modules."));
  g_assert_true (g_str_has_prefix (config_left, ".p.json."));

  start_daemon (f, NULL);
  copies = g_strdup_printf ("removed %s/%s (", f->tree.state_dir, state_left);
  temporary = g_strdup_printf ("removed %s/%s, a temporary file left by a daemon that did not finish",
                               f->tree.config_dir, config_left);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, copies), >=, 0);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, temporary), >=, 0);
  /* Nothing left over: the running daemon's own copy directory only. */
  state_after = leftovers (f->tree.state_dir);
  config_after = leftovers (f->tree.config_dir);
  g_assert_true (g_str_has_prefix (state_after, "modules."));
  g_assert_cmpstr (state_after, !=, state_left);
  g_assert_null (strchr (state_after, ' '));
  g_assert_cmpstr (config_after, ==, "");
  stop_daemon (f);
}

/* ---- --check-config ----------------------------------------------------- */

/* Runs hkp-plugind --check-config with the tree and extra arguments; returns the exit status and stdout. */
static int
check_config (Fixture *f, const char *extra, char **out)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;

  g_ptr_array_add (argv, g_strdup (hkp_test_daemon_path ()));
  g_ptr_array_add (argv, g_strdup ("--check-config"));
  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", f->tree.main_config));
  g_ptr_array_add (argv, g_strdup_printf ("--plugin-dir=%s", f->tree.plugin_dir));
  g_ptr_array_add (argv, g_strdup_printf ("--config-dir=%s", f->tree.config_dir));
  g_ptr_array_add (argv, g_strdup_printf ("--state-dir=%s", f->tree.state_dir));
  if (extra != NULL)
    g_ptr_array_add (argv, g_strdup (extra));
  g_ptr_array_add (argv, NULL);
  /* No bus at all: --check-config needs none. */
  process = g_subprocess_newv ((const char *const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("stdout:\n%s\nstderr:\n%s", *out, err);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

static void
assert_line (const char *out, const char *line)
{
  g_autofree char *needle = g_strdup_printf ("%s\n", line);

  if (strstr (out, needle) == NULL)
    g_error ("the output lacks the line \"%s\":\n%s", line, out);
}

/*
 * A problem quotes the file (a key, a value) and the plugin's refusal: as
 * text, one line each.  A control character in them must not drive the
 * admin's terminal, nor a line break forge a problem line.
 */
static void
test_check_config_shows_text (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;

  hkp_test_tree_write_plugin (&f->tree, "keys",
                              "{\"module\": \"answer.so\", \"\\u001b[2Jbogus\\r\\nFAKE: forged\": 1}");
  hkp_test_tree_write_plugin (&f->tree, "refused",
                              "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"maybe\\u001b]0;t\\u0007\"}}");
  g_assert_cmpint (check_config (f, NULL, &out), ==, 1);
  for (const char *p = out; *p != '\0'; p++)
    if ((guchar) *p < 0x20 && *p != '\n')
      g_error ("control character 0x%02x in output: %s", (guchar) *p, out);
  g_assert_nonnull (strstr (out, "\\x1b[2Jbogus\\r\\nFAKE: forged"));
  g_assert_null (strstr (out, "\nFAKE: forged"));
}

static void
test_check_config (Fixture *f, gconstpointer data)
{
  g_autofree char *good = NULL, *broken = NULL, *refused = NULL, *main_bad = NULL, *usage = NULL;
  g_autofree char *line = NULL;

  hkp_test_tree_write_plugin (&f->tree, "q", "{\"module\": \"health.so\", \"priority\": 3}");
  g_assert_cmpint (check_config (f, NULL, &good), ==, 0);
  line = g_strdup_printf ("hkp-plugind: configuration OK: %s and 2 plugin files in %s", f->tree.main_config,
                          f->tree.config_dir);
  assert_line (good, line);
  /* It started nothing: not even the state directory was made. */
  g_assert_false (g_file_test (f->tree.state_dir, G_FILE_TEST_EXISTS));

  /* Every problem, each naming its file and key. */
  hkp_test_tree_write_plugin (&f->tree, "broken", "{\"module\": \"answer.so\", \"priority\": \"high\"}");
  hkp_test_tree_write_plugin (&f->tree, "refused", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"maybe\"}}");
  g_assert_cmpint (check_config (f, NULL, &broken), ==, 1);
  g_free (line);
  line = g_strdup_printf ("%s/broken.json: key \"priority\" must be an integer, not string", f->tree.config_dir);
  assert_line (broken, line);
  g_free (line);
  line = g_strdup_printf ("%s/refused.json: key \"config\" refused by answer 1.0: config rejected: key \"verdict\" "
                          "must be \"continue\", \"allow\" or \"deny\"",
                          f->tree.config_dir);
  assert_line (broken, line);
  g_free (line);
  line = g_strdup_printf ("hkp-plugind: 2 problems in %s and 4 plugin files in %s", f->tree.main_config,
                          f->tree.config_dir);
  assert_line (broken, line);

  /* The main config's problems count too: a bad value, an unknown key. */
  g_free (f->tree.main_config);
  f->tree.main_config = hkp_test_write_file_path (f->tree.root, "hkp-plugind.conf", "[hkp-plugind]\nfrobnicate=1\n");
  g_assert_cmpint (check_config (f, NULL, &refused), ==, 1);
  g_free (line);
  line = g_strdup_printf ("%s: unknown key \"frobnicate\" in [hkp-plugind] ignored", f->tree.main_config);
  assert_line (refused, line);
  g_free (f->tree.main_config);
  f->tree.main_config = hkp_test_write_file_path (f->tree.root, "hkp-plugind.conf", "[hkp-plugind]\nhistory-limit=0\n");
  g_assert_cmpint (check_config (f, NULL, &main_bad), ==, 1);
  g_free (line);
  line = g_strdup_printf ("%s: key \"history-limit\": invalid value \"0\": expected 1 to 1000000 versions",
                          f->tree.main_config);
  assert_line (main_bad, line);
  /* A command line it cannot read is a usage error, as always. */
  g_assert_cmpint (check_config (f, "--bogus", &usage), ==, 2);
  g_assert_false (g_file_test (f->tree.state_dir, G_FILE_TEST_EXISTS));
}

/* ---- who over HTTP ------------------------------------------------------ */

static void
test_http_who (BridgeFixture *f, gconstpointer data)
{
  g_auto (BridgeReply) r = { 0 };
  g_autoptr (HkpConfigEntry) entry = NULL;
  guint newest;

  bridge_start (f);
  bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN,
               "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"second\"}", &r);
  g_assert_cmpuint (r.status, ==, 200);
  newest = hkp_config_history_newest (f->tree.state_dir, "beta");
  g_assert_cmpuint (newest, ==, 2);
  entry = hkp_config_history_read (f->tree.state_dir, "beta", newest, NULL);
  {
    g_autofree char *who = g_strdup_printf ("HTTP from 127.0.0.1 (uid %u) with the token", getuid ());
    g_assert_cmpstr (entry->who, ==, who);
  }
  {
    g_auto (BridgeReply) strict = { 0 };
    bridge_call (f, "PUT", "/plugins/config?plugin=beta", TOKEN, "{\"enabled\": true} {\"verdict\": \"allow\"}",
                 &strict);
    bridge_assert_error (&strict, 400, "unexpected data after the JSON value");
  }
  g_assert_cmpuint (hkp_config_history_newest (f->tree.state_dir, "beta"), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)
  ADD ("/store/history-restart", test_history_restart);
  ADD ("/store/reload-disabled", test_reload_disabled);
  ADD ("/store/full-disk", test_full_disk);
  ADD ("/store/fifo", test_fifo);
  ADD ("/store/sigkill-cleanup", test_sigkill_cleanup);
  ADD ("/store/check-config", test_check_config);
  ADD ("/store/check-config-shows-text", test_check_config_shows_text);
#undef ADD
  g_test_add ("/store/http-who", BridgeFixture, NULL, bridge_fixture_setup, test_http_who, bridge_fixture_teardown);
  return g_test_run ();
}
