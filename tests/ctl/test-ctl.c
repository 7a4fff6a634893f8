/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl's reading commands and options against the real hkp-plugind
 * on a private dbus-daemon: status, list and show (tables, Key=Value, JSON
 * compared with the D-Bus properties), exit statuses, --address, and colour
 * and pager only on a terminal.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

static const char *const plugin_names[] = { "alpha", "broken", "off", "ratelimit", NULL };

/* ---- reading ------------------------------------------------------------ */

static void
test_status (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };

  ctl_fixture_start (f, NULL);
  /* Once the plugins that run have had their first health check. */
  hkp_test_daemon_wait_line (f->daemon, "plugin alpha health transitioning -> healthy");
  hkp_test_daemon_wait_line (f->daemon, "plugin ratelimit health transitioning -> healthy");
  /* status is the default command. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "hkp-plugind " PACKAGE_VERSION "\n"));
  g_assert_nonnull (strstr (run.out, "Plugins: 2 active of 4\n"));
  /* broken has failed, the others are healthy and none is required: degraded (DESIGN §5). */
  g_assert_nonnull (strstr (run.out, "Health: degraded\n"));
  g_assert_nonnull (strstr (run.out, f->tree.config_dir));
  g_assert_nonnull (strstr (run.out, "\nNAME "));
  g_assert_nonnull (strstr (run.out, "broken "));
  g_assert_nonnull (strstr (run.out, "no database"));
  /* Piped: no colour. */
  g_assert_null (strchr (run.out, '\033'));

  ctl_fixture_run (f, &run, -1, NULL, NULL, "status", "--no-legend", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_null (strstr (run.out, "NAME "));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "status", "extra", NULL);
  ctl_assert_run (&run, 2, "too many arguments");
}

static void
test_list (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) columns = NULL;

  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", NULL);
  ctl_assert_run (&run, 0, NULL);
  lines = g_strsplit (run.out, "\n", -1);
  g_assert_true (g_str_has_prefix (lines[0], "NAME "));
  g_assert_nonnull (strstr (lines[0], "STATE"));
  g_assert_nonnull (strstr (run.out, "\n4 plugins listed.\n"));
  /* The order requests take: priority (alpha 10, ratelimit 20, the others 100), then name. */
  g_assert_true (g_str_has_prefix (lines[1], "alpha "));
  g_assert_true (g_str_has_prefix (lines[2], "ratelimit "));
  g_assert_true (g_str_has_prefix (lines[3], "broken "));
  g_assert_true (g_str_has_prefix (lines[4], "off "));
  /* Columns line up under their headers. */
  g_assert_cmpint (strstr (lines[0], "STATE") - lines[0], ==, strstr (lines[1], "active") - lines[1]);
  for (guint i = 1; i <= 4; i++)
    if (g_str_has_prefix (lines[i], "broken "))
      g_assert_cmpint (strstr (lines[0], "STATE") - lines[0], ==, strstr (lines[i], "failed") - lines[i]);

  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", "--no-legend", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_strfreev (lines);
  lines = g_strsplit (g_strchomp (run.out), "\n", -1);
  g_assert_cmpint (g_strv_length (lines), ==, 4);
  columns = g_strsplit_set (lines[0], " ", -1);
  g_assert_cmpstr (columns[0], ==, "alpha");
  g_assert_null (strstr (run.out, "listed"));
}

/*
 * Plugins whose properties together are too large for one D-Bus message: the
 * daemon refuses GetManagedObjects, and list and status read each plugin
 * with a call of its own instead.
 */
static void
test_list_of_large_configs (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };

  hkp_test_tree_write_large_plugins (&f->tree, "large", 30, 900 * 1024);
  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, 65534, NULL, NULL, "list", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "\nlarge29 "));
  g_assert_nonnull (strstr (run.out, "\n34 plugins listed.\n"));
  ctl_fixture_run (f, &run, 65534, NULL, NULL, "status", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "large29"));
}

static void
test_show (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *state = NULL;

  ctl_fixture_start (f, NULL);
  state = ctl_fixture_plugin_string (f, "ratelimit", "State");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "show", "ratelimit", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "Name=ratelimit\n"));
  {
    g_autofree char *line = g_strdup_printf ("\nState=%s\n", state);
    g_autofree char *module = ctl_fixture_plugin_string (f, "ratelimit", "ModulePath");
    g_autofree char *module_line = g_strdup_printf ("\nModulePath=%s\n", module);
    g_autofree char *version_line = g_strdup_printf ("\nConfigVersion=%u\n",
                                                     ctl_fixture_plugin_uint (f, "ratelimit", "ConfigVersion"));
    g_assert_nonnull (strstr (run.out, line));
    g_assert_nonnull (strstr (run.out, module_line));
    g_assert_nonnull (strstr (run.out, version_line));
    g_assert_nonnull (strstr (run.out, "\nLastError=\n"));
    g_assert_nonnull (strstr (run.out, "\nConfig={"));
  }
  /* Every line is Key=Value. */
  {
    g_auto (GStrv) lines = g_strsplit (g_strchomp (run.out), "\n", -1);
    g_assert_cmpint (g_strv_length (lines), >=, 13);
    for (guint i = 0; lines[i] != NULL; i++)
      g_assert_true (g_regex_match_simple ("^[A-Z][A-Za-z]*=", lines[i], 0, 0));
  }

  /* Without a name: the daemon's own properties. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "show", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "Version=" PACKAGE_VERSION "\n"));
  g_assert_nonnull (strstr (run.out, "\nTotalPlugins=4\n"));

  ctl_fixture_run (f, &run, -1, NULL, NULL, "show", "nope", NULL);
  ctl_assert_run (&run, 4, "Failed to show plugin nope: No such plugin");
}

/* Asserts member key of object equals property name of plugin over D-Bus (string or 'u'). */
static void
assert_member_is_property (CtlFixture *f, JsonObject *object, const char *key, const char *plugin, const char *property,
                           gboolean is_string)
{
  g_assert_true (json_object_has_member (object, key));
  if (is_string)
    {
      g_autofree char *value = ctl_fixture_plugin_string (f, plugin, property);
      g_assert_cmpstr (json_object_get_string_member (object, key), ==, value);
    }
  else
    g_assert_cmpint (json_object_get_int_member (object, key), ==, ctl_fixture_plugin_uint (f, plugin, property));
}

static void
test_json (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autoptr (JsonNode) list = NULL;
  g_autoptr (JsonNode) show = NULL;
  g_autoptr (JsonNode) status = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autofree char *path = hkp_test_plugin_path ("broken");
  JsonArray *rows;
  JsonObject *object;

  ctl_fixture_start (f, NULL);
  hkp_test_daemon_wait_line (f->daemon, "plugin alpha health transitioning -> healthy");
  hkp_test_daemon_wait_line (f->daemon, "plugin ratelimit health transitioning -> healthy");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", "--json=short", NULL);
  ctl_assert_run (&run, 0, NULL);
  /* short: one line. */
  g_assert_cmpint (strchr (run.out, '\n') - run.out, ==, strlen (run.out) - 1);
  list = ctl_parse_json (run.out);
  rows = json_node_get_array (list);
  g_assert_cmpint (json_array_get_length (rows), ==, 4);
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      const char *name;
      object = json_array_get_object_element (rows, i);
      name = json_object_get_string_member (object, "name");
      g_assert_true (g_strv_contains (plugin_names, name));
      assert_member_is_property (f, object, "state", name, "State", TRUE);
      assert_member_is_property (f, object, "health", name, "Health", TRUE);
      assert_member_is_property (f, object, "version", name, "Version", TRUE);
      assert_member_is_property (f, object, "config_version", name, "ConfigVersion", FALSE);
      g_assert_true (json_object_has_member (object, "priority"));
      g_assert_true (json_object_has_member (object, "message"));
    }

  /* show --json: every property, by its D-Bus name, with the D-Bus value. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "--json=pretty", "show", "broken", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "\n  \"Name\" : \"broken\""));
  show = ctl_parse_json (run.out);
  object = json_node_get_object (show);
  g_assert_null (
    hkp_test_call (f->client, path, "org.freedesktop.DBus.Properties", "GetAll", HKP_TEST_PLUGIN, NULL, &reply));
  g_assert_cmpint (sd_bus_message_enter_container (reply, 'a', "{sv}"), >, 0);
  while (sd_bus_message_enter_container (reply, 'e', "sv") > 0)
    {
      const char *name, *contents;
      char type;
      g_assert_cmpint (sd_bus_message_read (reply, "s", &name), >, 0);
      g_assert_true (json_object_has_member (object, name));
      g_assert_cmpint (sd_bus_message_peek_type (reply, &type, &contents), >, 0);
      if (g_str_equal (contents, "s"))
        {
          const char *value;
          g_assert_cmpint (sd_bus_message_read (reply, "v", "s", &value), >, 0);
          g_assert_cmpstr (json_object_get_string_member (object, name), ==, value);
        }
      else if (g_str_equal (contents, "u"))
        {
          uint32_t value;
          g_assert_cmpint (sd_bus_message_read (reply, "v", "u", &value), >, 0);
          g_assert_cmpint (json_object_get_int_member (object, name), ==, value);
        }
      else if (g_str_equal (contents, "b"))
        {
          int value;
          g_assert_cmpint (sd_bus_message_read (reply, "v", "b", &value), >, 0);
          g_assert_cmpint (json_object_get_boolean_member (object, name), ==, value);
        }
      else
        {
          g_assert_cmpint (sd_bus_message_skip (reply, "v"), >=, 0);
          g_assert_cmpint (json_node_get_value_type (json_object_get_member (object, name)), ==, G_TYPE_INT64);
        }
      g_assert_cmpint (sd_bus_message_exit_container (reply), >=, 0);
    }

  ctl_fixture_run (f, &run, -1, NULL, NULL, "status", "--json", NULL);
  ctl_assert_run (&run, 0, NULL);
  status = ctl_parse_json (run.out);
  object = json_node_get_object (status);
  g_assert_cmpstr (json_object_get_string_member (object, "version"), ==, PACKAGE_VERSION);
  g_assert_cmpint (json_object_get_int_member (object, "total_plugins"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (object, "active_plugins"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (object, "overall_health"), ==, "degraded");
  g_assert_cmpint (json_object_get_int_member (object, "start_timestamp"), ==,
                   hkp_test_get_uint (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "StartTimestamp", 't'));
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (object, "plugins")), ==, 4);

  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", "--json=long", NULL);
  ctl_assert_run (&run, 2, "--json=long");
}

static void
test_errors (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };

  ctl_fixture_start (f, NULL);
  /* 4: no such plugin, for every command that names one. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "nope", NULL);
  ctl_assert_run (&run, 4, "Failed to reload plugin nope: No such plugin");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "enable", "nope", NULL);
  ctl_assert_run (&run, 4, "Failed to enable plugin nope: No such plugin");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "get", "nope", NULL);
  ctl_assert_run (&run, 4, "No such plugin");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "history", "nope", NULL);
  ctl_assert_run (&run, 4, "No such plugin");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rollback", "nope", NULL);
  ctl_assert_run (&run, 4, "No such plugin");
  ctl_fixture_run (f, &run, -1, NULL, "{}", "config", "set", "nope", "-", NULL);
  ctl_assert_run (&run, 4, "No such plugin");

  /* 2: usage. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "frobnicate", NULL);
  ctl_assert_run (&run, 2, "unknown command \"frobnicate\"");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "--frobnicate", "list", NULL);
  ctl_assert_run (&run, 2, "unknown option --frobnicate");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", NULL);
  ctl_assert_run (&run, 2, "too few arguments");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "Alpha!", NULL);
  ctl_assert_run (&run, 2, "\"Alpha!\" is not a plugin name");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", "--to=3", NULL);
  ctl_assert_run (&run, 2, "--to= is an option of rollback only");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "rollback", "alpha", "--to=zero", NULL);
  ctl_assert_run (&run, 2, "--to=zero");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", "--show-secrets", NULL);
  ctl_assert_run (&run, 2, "--show-secrets");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "config", "frob", "alpha", NULL);
  ctl_assert_run (&run, 2, "unknown command \"frob\"");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "--address", NULL);
  ctl_assert_run (&run, 2, "needs a value");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "-H", "x", "--address=unix:path=/x", "list", NULL);
  ctl_assert_run (&run, 2, "cannot be used together");

  /* 0: help and version print and touch nothing. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "--help", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "config edit NAME"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "--version", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpstr (run.out, ==, "hkp-pluginctl " PACKAGE_VERSION "\n");

  /* 1: a failed change, with the plugin's own reason. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "broken", NULL);
  ctl_assert_run (&run, 1, "Failed to reload plugin broken: ");
}

static void
test_no_daemon (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *address = NULL;
  g_autofree char *missing = NULL;

  /* A bus with no hkp-plugind on it. */
  f->bus = hkp_test_bus_start (TRUE, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", NULL);
  ctl_assert_run (&run, 1, "hkp-plugind is not running");
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "alpha", NULL);
  ctl_assert_run (&run, 1, "Failed to reload plugin alpha: hkp-plugind is not running");

  /* No bus at all, named with --address. */
  missing = g_build_filename (f->tree.root, "no-such.sock", NULL);
  address = g_strdup_printf ("--address=unix:path=%s", missing);
  ctl_fixture_run (f, &run, -1, NULL, NULL, address, "list", NULL);
  ctl_assert_run (&run, 1, "Failed to connect to the bus at unix:path=");
}

static void
test_address (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *address = NULL;

  ctl_fixture_start (f, NULL);
  address = g_strdup_printf ("--address=%s", f->bus->address);
  /* The system bus variable points nowhere: --address alone finds the daemon. */
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent", NULL }, NULL,
                   address, "list", "--no-legend", NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "alpha "));
  ctl_fixture_run (f, &run, -1, (const char *const[]){ "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent", NULL }, NULL,
                   "list", NULL);
  ctl_assert_run (&run, 1, "Failed to connect to the system bus");
}

static void
test_terminal (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  const char *pager[] = { "HKP_PAGER=sed s/^/paged:/", NULL };

  ctl_fixture_start (f, NULL);
  /* On a terminal: state and health in colour (active green, failed red). */
  ctl_fixture_run_pty (f, &run, -1, NULL, (const char *const[]){ "list", "--no-pager", NULL });
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "\033[0;32mactive\033[0m"));
  g_assert_nonnull (strstr (run.out, "\033[0;31mfailed\033[0m"));
  g_assert_nonnull (strstr (run.out, "\033[0;31munhealthy\033[0m"));
  /* NO_COLOR, or a pipe: none. */
  ctl_fixture_run_pty (f, &run, -1, (const char *const[]){ "NO_COLOR=1", NULL },
                       (const char *const[]){ "list", "--no-pager", NULL });
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "active"));
  g_assert_null (strchr (run.out, '\033'));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", NULL);
  g_assert_null (strchr (run.out, '\033'));

  /* A pager on a terminal (through the shell, so it may carry arguments); not with --no-pager, not piped. */
  ctl_fixture_run_pty (f, &run, -1, pager, (const char *const[]){ "list", NULL });
  ctl_assert_run (&run, 0, NULL);
  g_assert_nonnull (strstr (run.out, "paged:"));
  g_assert_nonnull (strstr (run.out, "paged:4 plugins listed."));
  ctl_fixture_run_pty (f, &run, -1, pager, (const char *const[]){ "list", "--no-pager", NULL });
  ctl_assert_run (&run, 0, NULL);
  g_assert_null (strstr (run.out, "paged:"));
  ctl_fixture_run (f, &run, -1, pager, NULL, "list", NULL);
  g_assert_null (strstr (run.out, "paged:"));
  /* --json is for programs: no pager, no colour. */
  ctl_fixture_run_pty (f, &run, -1, pager, (const char *const[]){ "show", "alpha", "--json=short", NULL });
  g_assert_null (strstr (run.out, "paged:"));
  g_assert_null (strchr (run.out, '\033'));
}

/* Asserts text holds no control character but newlines, and shows the plugin's escape sequence as text. */
static void
assert_shown_not_obeyed (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 && *p != '\n')
      g_error ("control character 0x%02x in output: %s", (guchar) *p, text);
  g_assert_nonnull (strstr (text, "\\x1b[2J"));
}

/*
 * Much of what hkp-pluginctl shows comes from plugins and files: a plugin's
 * LastError with escape sequences must not clear the admin's screen, retitle
 * the window or forge lines, in tables, in show, or in an error message.
 */
static void
test_plugin_text_shown_not_obeyed (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };

  hkp_test_tree_write_plugin (&f->tree, "broken",
                              "{\"module\": \"failinit.so\", \"config\": {\"message\": "
                              "\"no \\u001b[2J\\u001b]0;pwned\\u0007 database\\r\\nFAKE\\u009b1A\"}}");
  ctl_fixture_start (f, NULL);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "list", NULL);
  ctl_assert_run (&run, 0, NULL);
  assert_shown_not_obeyed (run.out);
  ctl_fixture_run (f, &run, -1, NULL, NULL, "show", "broken", NULL);
  ctl_assert_run (&run, 0, NULL);
  assert_shown_not_obeyed (run.out);
  g_assert_nonnull (strstr (run.out, "database  FAKE\\x9b1A"));
  ctl_fixture_run (f, &run, -1, NULL, NULL, "reload", "broken", NULL);
  g_assert_cmpint (run.status, !=, 0);
  assert_shown_not_obeyed (run.err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/ctl/" path, CtlFixture, NULL, ctl_fixture_setup, fn, ctl_fixture_teardown)
  ADD ("status", test_status);
  ADD ("list", test_list);
  ADD ("list-of-large-configs", test_list_of_large_configs);
  ADD ("show", test_show);
  ADD ("json", test_json);
  ADD ("errors", test_errors);
  ADD ("no-daemon", test_no_daemon);
  ADD ("address", test_address);
  ADD ("terminal", test_terminal);
  ADD ("plugin-text-shown-not-obeyed", test_plugin_text_shown_not_obeyed);
#undef ADD
  return g_test_run ();
}
