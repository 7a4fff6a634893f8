/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl's changes against the real hkp-plugind on a private
 * dbus-daemon: reads as nobody and changes refused to nobody on the shipped
 * bus policy, reload/enable/disable, config get/set/edit (a scripted editor),
 * secrets, history and rollback, rescan and check-config.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

#define ACCESS_DENIED "Access denied"

/* ---- changes ------------------------------------------------------------ */

static void
test_nobody (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  gint nobody = ctl_nobody_uid ();

  /* The shipped bus policy on the system bus's defaults: what a real admin's machine allows. */
  f->strict_bus = TRUE;
  ctl_fixture_start (f, NULL);
  /* Any local user may read. */
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "status", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "Plugins: 2 active of 4"));
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "list", "--json=short", NULL);
  ctl_assert_run (&run, 0, NULL);
  json_node_unref (ctl_parse_json (run.out));
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "show", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "config", "get", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);

  /* Changes are refused, plainly, with exit 1, and nothing changes. */
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "reload", "alpha", NULL);
  ctl_assert_run (&run, 1, "Failed to reload plugin alpha: " ACCESS_DENIED);
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "disable", "alpha", NULL);
  ctl_assert_run (&run, 1, "Failed to disable plugin alpha: " ACCESS_DENIED);
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "enable", "off", NULL);
  ctl_assert_run (&run, 1, "Failed to enable plugin off: " ACCESS_DENIED);
  ctl_fixture_run (f, &run, nobody, NULL, "{\"verdict\": \"deny\"}", "config", "set", "alpha", "-", NULL);
  ctl_assert_run (&run, 1, "Failed to set the config of plugin alpha: " ACCESS_DENIED);
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "rollback", "alpha", NULL);
  ctl_assert_run (&run, 1, "Failed to roll back the config of plugin alpha: " ACCESS_DENIED);
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "rescan", NULL);
  ctl_assert_run (&run, 1, "Failed to rescan the config directory: " ACCESS_DENIED);
  ctl_fixture_run (f, &run, nobody, NULL, NULL, "config", "get", "alpha", "--show-secrets", NULL);
  ctl_assert_run (&run, 1, "Failed to read the secret config of plugin alpha: " ACCESS_DENIED);
  {
    g_autofree char *state = ctl_fixture_plugin_string (f, "alpha", "State");
    g_assert_cmpstr (state, ==, "active");
    g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ReloadCount"), ==, 0);
    g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 1);
  }
}

static void
test_changes (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *state = NULL;

  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "alpha", "ratelimit", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpstr (run.out, ==, "");
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ReloadCount"), ==, 1);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "ratelimit", "ReloadCount"), ==, 1);

  ctl_fixture_run (f, &run, -1, NULL, NULL, "disable", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  state = ctl_fixture_plugin_string (f, "alpha", "State");
  g_assert_cmpstr (state, ==, "disabled");
  /* One unknown plugin among others: the others are done, and the exit status says 4. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "enable", "alpha", "nope", "off", NULL);
  ctl_assert_run (&run, 4, "Failed to enable plugin nope: No such plugin");
  g_free (state);
  state = ctl_fixture_plugin_string (f, "alpha", "State");
  g_assert_cmpstr (state, ==, "active");
  g_free (state);
  state = ctl_fixture_plugin_string (f, "off", "State");
  g_assert_cmpstr (state, ==, "active");

  /* Reloading a disabled plugin says what to do. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "disable", "off", NULL);
  ctl_assert_run (&run, 0, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "off", NULL);
  ctl_assert_run (&run, 1, "Failed to reload plugin off: The plugin is disabled\n");
  g_assert_nonnull (strstr (run.err, "Enable it first: hkp-pluginctl enable off\n"));
}

static void
test_config (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *file = NULL;
  g_autofree char *config = NULL;

  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  node = ctl_parse_json (run.out);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "verdict"), ==, "continue");
  g_clear_pointer (&node, json_node_unref);

  /* From a file, then from stdin. */
  file = hkp_test_write_file_path (f->tree.root, "new.json", "{\"verdict\": \"deny\", \"reason\": \"from a file\"}");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "set", "alpha", file, NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 2);
  config = ctl_fixture_plugin_string (f, "alpha", "Config");
  g_assert_nonnull (strstr (config, "from a file"));
  ctl_fixture_run (f, &run, -1, NULL, "{\"verdict\": \"allow\", \"reason\": \"from stdin\"}", "config", "set", "alpha",
                   "-", NULL);
  ctl_assert_run (&run, 0, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "alpha", "--json=short", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpstr (run.out, ==, "{\"verdict\":\"allow\",\"reason\":\"from stdin\"}\n");

  /* Refused by the plugin: its message, exit 1, the config unchanged. */
  ctl_fixture_run (f, &run, -1, NULL, "{\"verdict\": \"maybe\"}", "config", "set", "alpha", "-", NULL);
  ctl_assert_run (&run, 1, "Failed to set the config of plugin alpha: Invalid config: ");
  g_assert_nonnull (strstr (run.err, "key \"verdict\" must be"));
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 3);
  ctl_fixture_run (f, &run, -1, NULL, "not json", "config", "set", "alpha", "-", NULL);
  ctl_assert_run (&run, 1, "Invalid config");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "set", "alpha", "/nonexistent.json", NULL);
  ctl_assert_run (&run, 1, "Failed to read the config: ");
}

static void
test_config_edit (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *editor = NULL;
  g_autofree char *editor_env = NULL;
  g_autofree char *seen = g_build_filename (f->tree.root, "seen", NULL);
  g_autofree char *seen_env = g_strdup_printf ("SEEN=%s", seen);
  g_autofree char *config = NULL;
  g_autofree char *log = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *bad_editor = NULL;

  ctl_fixture_start (f, NULL);
  /* First a config the plugin refuses; then, reopened with the refusal in the file, a good one. */
  editor = hkp_test_write_file_path (
    f->tree.root, "editor.sh",
    "#!/bin/sh\n"
    "n=$(grep -c '^--- run' \"$SEEN\" 2>/dev/null || echo 0)\n"
    "{ echo \"--- run $n\"; cat \"$1\"; } >> \"$SEEN\"\n"
    "if [ \"$n\" = 0 ]; then\n"
    "  printf '{\"verdict\": \"maybe\"}\\n' > \"$1\"\n"
    "else\n"
    "  printf '# a note\\n{\"verdict\": \"deny\", \"reason\": \"edited\"}\\n' > \"$1\"\n"
    "fi\n");
  g_assert_cmpint (g_chmod (editor, 0755), ==, 0);
  editor_env = g_strdup_printf ("EDITOR=%s", editor);
  ctl_fixture_run (f, &run, -1, (const char *const[]){ editor_env, seen_env, "VISUAL=", NULL }, NULL, "config", "edit",
                   "alpha", NULL);
  ctl_assert_run (&run, 0, "hkp-plugind refused the config of plugin alpha: ");
  g_assert_true (g_file_get_contents (seen, &log, NULL, NULL));
  /* The first opening shows the config; the second the refusal and the refused text. */
  g_assert_nonnull (strstr (log, "--- run 0\n# Config of plugin alpha (version 1)"));
  g_assert_nonnull (strstr (log, "\"verdict\" : \"continue\""));
  g_assert_nonnull (strstr (log, "--- run 1\n"));
  g_assert_nonnull (strstr (strstr (log, "--- run 1\n"), "# hkp-plugind refused the last attempt:\n#   "));
  g_assert_nonnull (strstr (strstr (log, "--- run 1\n"), "key \"verdict\" must be"));
  g_assert_nonnull (strstr (strstr (log, "--- run 1\n"), "{\"verdict\": \"maybe\"}"));
  g_assert_null (strstr (log, "--- run 2"));
  config = ctl_fixture_plugin_string (f, "alpha", "Config");
  g_assert_nonnull (strstr (config, "edited"));
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 2);

  /* An editor that changes nothing: nothing is sent. */
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "EDITOR=true", "VISUAL=", NULL }, NULL, "config", "edit",
                   "alpha", NULL);
  ctl_assert_run (&run, 0, "unchanged");
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 2);
  /* -q: the note goes. */
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "EDITOR=true", "VISUAL=", NULL }, NULL, "-q", "config", "edit",
                   "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpstr (run.err, ==, "");
  /* An emptied file cancels. */
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "EDITOR=truncate -s 0", "VISUAL=", NULL }, NULL, "config",
                   "edit", "alpha", NULL);
  ctl_assert_run (&run, 0, "cancelled");
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 2);
  /* An editor that fails: nothing is sent. */
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "EDITOR=false", "VISUAL=", NULL }, NULL, "config", "edit",
                   "alpha", NULL);
  ctl_assert_run (&run, 1, "The editor failed");
  /* The same refused config saved again: give up, keep the edit. */
  bad = hkp_test_write_file_path (f->tree.root, "bad.json", "{\"verdict\": \"never\"}\n");
  bad_editor = g_strdup_printf ("EDITOR=cp %s", bad);
  ctl_fixture_run (f, &run, -1, (const char *const[]){ bad_editor, "VISUAL=", NULL }, NULL, "config", "edit", "alpha",
                   NULL);
  ctl_assert_run (&run, 1, "refused again. Your edit is kept in ");
  {
    const char *kept = strstr (run.err, "kept in ") + strlen ("kept in ");
    g_autofree char *name = g_strndup (kept, strcspn (kept, "\n"));
    g_assert_true (g_file_test (name, G_FILE_TEST_IS_REGULAR));
    g_unlink (name);
  }
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 2);
}

static void
test_secrets (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *seen = g_build_filename (f->tree.root, "seen", NULL);
  g_autofree char *editor = NULL;
  g_autofree char *editor_env = NULL;
  g_autofree char *log = NULL;

  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, -1, NULL, "{\"verdict\": \"continue\", \"api_token\": \"s3cret\"}", "config", "set",
                   "alpha", "-", NULL);
  ctl_assert_run (&run, 0, NULL);
  /* Redacted unless asked for. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "\"api_token\" : \"[redacted]\""));
  g_assert_null (strstr (run.out, "s3cret"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "show", "alpha", NULL);
  g_assert_null (strstr (run.out, "s3cret"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "alpha", "--show-secrets", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "\"api_token\" : \"s3cret\""));

  /* An edit of the redacted config keeps the secret. */
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "EDITOR=sed -i s/continue/deny/", "VISUAL=", NULL }, NULL,
                   "config", "edit", "alpha", NULL);
  ctl_assert_run (&run, 0, "Applied");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "alpha", "--show-secrets", "--json=short", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpstr (run.out, ==, "{\"verdict\":\"deny\",\"api_token\":\"s3cret\"}\n");

  /* --show-secrets edits the real values, in a file only we may read. */
  editor = hkp_test_write_file_path (f->tree.root, "editor.sh",
                                     "#!/bin/sh\n"
                                     "{ stat -c 'mode %a' \"$1\"; cat \"$1\"; } > \"$SEEN\"\n"
                                     "sed -i s/s3cret/n3w/ \"$1\"\n");
  g_assert_cmpint (g_chmod (editor, 0755), ==, 0);
  editor_env = g_strdup_printf ("EDITOR=%s", editor);
  {
    g_autofree char *seen_env = g_strdup_printf ("SEEN=%s", seen);
    ctl_fixture_run (f, &run, -1, (const char *const[]){ editor_env, seen_env, "VISUAL=", NULL }, NULL, "config",
                     "edit", "alpha", "--show-secrets", NULL);
  }
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_file_get_contents (seen, &log, NULL, NULL));
  g_assert_true (g_str_has_prefix (log, "mode 600\n"));
  g_assert_nonnull (strstr (log, "s3cret"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "alpha", "--show-secrets", "--json=short", NULL);
  g_assert_cmpstr (run.out, ==, "{\"verdict\":\"deny\",\"api_token\":\"n3w\"}\n");
}

static void
test_history (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autoptr (JsonNode) history = NULL;
  g_autofree char *config = NULL;
  JsonArray *entries;

  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, -1, NULL, "{\"verdict\": \"deny\", \"reason\": \"two\"}", "config", "set", "alpha", "-",
                   NULL);
  ctl_assert_run (&run, 0, NULL);
  ctl_fixture_run (f, &run, -1, NULL, "{\"verdict\": \"deny\", \"reason\": \"three\"}", "config", "set", "alpha", "-",
                   NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"), ==, 3);

  /* rollback: the previous version comes back (as a new version). */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rollback", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  config = ctl_fixture_plugin_string (f, "alpha", "Config");
  g_assert_nonnull (strstr (config, "two"));

  ctl_fixture_run (f, &run, -1, NULL, NULL, "history", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "VERSION "));
  g_assert_nonnull (strstr (run.out, "(current)"));
  g_assert_nonnull (strstr (run.out, "uid 0"));
  g_assert_nonnull (strstr (run.out, " versions kept.\n"));

  ctl_fixture_run (f, &run, -1, NULL, NULL, "history", "alpha", "--json=short", NULL);
  ctl_assert_run (&run, 0, NULL);
  history = ctl_parse_json (run.out);
  entries = json_node_get_array (history);
  g_assert_cmpint (json_array_get_length (entries), >=, 3);
  /* Newest first, the current one marked, each with its config. */
  {
    JsonObject *newest = json_array_get_object_element (entries, 0);
    g_assert_cmpint (json_object_get_int_member (newest, "version"), ==,
                     ctl_fixture_plugin_uint (f, "alpha", "ConfigVersion"));
    g_assert_true (json_object_get_boolean_member (newest, "current"));
    g_assert_cmpint (json_object_get_int_member (newest, "time"), >, 0);
    g_assert_true (json_object_has_member (newest, "who"));
    g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (newest, "config")));
  }

  /* rollback --to: any kept version, there and back. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rollback", "alpha", "--to=1", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_free (config);
  config = ctl_fixture_plugin_string (f, "alpha", "Config");
  g_assert_nonnull (strstr (config, "continue"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rollback", "alpha", "--to=3", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_free (config);
  config = ctl_fixture_plugin_string (f, "alpha", "Config");
  g_assert_nonnull (strstr (config, "three"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rollback", "alpha", "--to=999", NULL);
  ctl_assert_run (&run, 1, "Failed to restore version 999 of the config of plugin alpha: ");
}

/* With configs near the size limit, the daemon lists only the newest 8 MiB of them: the legend says older ones may be left out. */
static void
test_history_of_large_configs (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *padding = g_strnfill (950 * 1024, 'x');

  ctl_fixture_start (f, NULL);
  for (guint i = 0; i < 9; i++)
    {
      g_autofree char *config = g_strdup_printf ("{\"verdict\": \"deny\", \"n\": %u, \"padding\": \"%s\"}", i, padding);
      ctl_fixture_run (f, &run, -1, NULL, config, "config", "set", "alpha", "-", NULL);
      ctl_assert_run (&run, 0, NULL);
    }
  ctl_fixture_run (f, &run, -1, NULL, NULL, "history", "alpha", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out,
                            " versions listed; older ones may be left out, as at most 8 MiB of configs are "
                            "listed (\"hkp-pluginctl rollback alpha --to VERSION\" still takes them).\n"));
  g_assert_null (strstr (run.out, "versions kept"));
}

/* ---- rescan and check-config ---------------------------------------------- */

static void
test_rescan (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *state = NULL;

  ctl_fixture_start (f, NULL);
  hkp_test_tree_write_plugin (&f->tree, "newcomer", "{\"module\": \"answer.so\"}");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rescan", NULL);
  ctl_assert_run (&run, 0, NULL);
  /* Picked up (its module loads on, off the main loop). */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", "--no-legend", NULL);
  g_assert_nonnull (strstr (run.out, "newcomer "));
  hkp_test_daemon_wait_line (f->daemon, "plugin newcomer active");

  /* A refused file: the good ones are applied, the refused one named, exit 1 (DESIGN section 4 Rescan). */
  hkp_test_tree_write_plugin (&f->tree, "second", "{\"module\": \"answer.so\"}");
  hkp_test_tree_write_plugin (&f->tree, "alpha", "{\"module\": \"answer.so\", \"priority\": \"high\"}");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rescan", NULL);
  hkp_test_daemon_wait_line (f->daemon, "plugin second active");
  state = ctl_fixture_plugin_string (f, "alpha", "State");
  g_assert_cmpstr (state, ==, "active");
  ctl_assert_run (&run, 1, "alpha.json");
  g_assert_nonnull (strstr (run.err, "priority"));
}

static void
test_check_config (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *config = g_strdup_printf ("--config=%s", f->tree.main_config);
  g_autofree char *plugin_dir = g_strdup_printf ("--plugin-dir=%s", f->tree.plugin_dir);
  g_autofree char *config_dir = g_strdup_printf ("--config-dir=%s", f->tree.config_dir);
  g_autofree char *daemon = g_strdup_printf ("HKP_PLUGIND=%s", hkp_test_daemon_path ());
  g_autofree char *broken = g_build_filename (f->tree.config_dir, "broken.json", NULL);
  const char *env[] = { daemon, NULL };

  /* Remote: refused, it reads local files. */
  ctl_fixture_run (f, &run, -1, env, NULL, "-H", "somewhere", "check-config", NULL);
  ctl_assert_run (&run, 2, "this machine's files");
  /* failinit.so's init fails at run time; its file is fine, but keep the check about one file. */
  g_unlink (broken);
  ctl_fixture_run (f, &run, -1, env, NULL, "check-config", "--", config, plugin_dir, config_dir, NULL);
  ctl_assert_run (&run, 0, NULL);
  hkp_test_tree_write_plugin (&f->tree, "alpha", "{\"module\": \"answer.so\", \"priority\": \"high\"}");
  ctl_fixture_run (f, &run, -1, env, NULL, "check-config", "--", config, plugin_dir, config_dir, NULL);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_nonnull (strstr (run.out, "alpha.json") != NULL ? run.out : run.err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/ctl/" path, CtlFixture, NULL, ctl_fixture_setup, fn, ctl_fixture_teardown)
  ADD ("nobody", test_nobody);
  ADD ("changes", test_changes);
  ADD ("config", test_config);
  ADD ("config-edit", test_config_edit);
  ADD ("secrets", test_secrets);
  ADD ("history", test_history);
  ADD ("history-of-large-configs", test_history_of_large_configs);
  ADD ("rescan", test_rescan);
  ADD ("check-config", test_check_config);
#undef ADD
  return g_test_run ();
}
