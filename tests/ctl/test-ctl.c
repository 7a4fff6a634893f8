/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl against the real hkp-plugind on a private dbus-daemon: every
 * command and option, what it prints (tables, Key=Value, JSON compared with
 * the D-Bus properties), its exit status, colour and pager only on a
 * terminal, reads as nobody and changes refused to nobody, config edit with
 * a scripted editor, history and rollback, monitor seeing another client's
 * change, rescan, check-config, the bash completion and the man page's examples.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

#define ACCESS_DENIED "Access denied"

static const char *const plugin_names[] = { "alpha", "broken", "off", "ratelimit", NULL };

/* ---- reading ------------------------------------------------------------ */

static void
test_status (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };

  ctl_fixture_start (f, NULL);
  /* status is the default command. */
  ctl_fixture_run (f, &run, -1, NULL, NULL, NULL);
  ctl_assert_run (&run, 0, NULL);
  g_assert_true (g_str_has_prefix (run.out, "hkp-plugind " PACKAGE_VERSION "\n"));
  g_assert_nonnull (strstr (run.out, "Plugins: 2 active of 4\n"));
  g_assert_nonnull (strstr (run.out, "Health: unhealthy\n"));
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
  g_assert_cmpstr (json_object_get_string_member (object, "overall_health"), ==, "unhealthy");
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

/* ---- monitor ------------------------------------------------------------ */

typedef struct {
  GDataInputStream *stream;
  GPtrArray *lines;
  gboolean eof;
} Reader;

static void read_next (Reader *reader);

static void
on_read_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reader *reader = user_data;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL)
    {
      reader->eof = TRUE;
      return;
    }
  g_test_message ("monitor: %s", line);
  g_ptr_array_add (reader->lines, line);
  read_next (reader);
}

static void
read_next (Reader *reader)
{
  g_data_input_stream_read_line_async (reader->stream, G_PRIORITY_DEFAULT, NULL, on_read_line, reader);
}

/* Waits until reader has a line holding needle after index from; returns its index. */
static guint
wait_for_line (Reader *reader, const char *needle, guint from)
{
  for (guint i = from;; i++)
    {
      while (i >= reader->lines->len)
        {
          g_assert_false (reader->eof);
          g_main_context_iteration (NULL, TRUE);
        }
      if (strstr (reader->lines->pdata[i], needle) != NULL)
        return i;
    }
}

/* Starts hkp-pluginctl monitor (more args, NULL-terminated) as uid; its stdout and stderr are read into out and err. */
static GSubprocess *
start_monitor (CtlFixture *f, gint uid, Reader *out, Reader *err, ...)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                    G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  GSubprocess *monitor;
  const char *arg;
  va_list ap;

  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  if (uid >= 0)
    {
      g_ptr_array_add (argv, g_strdup ("setpriv"));
      g_ptr_array_add (argv, g_strdup_printf ("--reuid=%d", uid));
      g_ptr_array_add (argv, g_strdup_printf ("--regid=%d", uid));
      g_ptr_array_add (argv, g_strdup ("--clear-groups"));
    }
  g_ptr_array_add (argv, g_strdup (ctl_fixture_program ()));
  g_ptr_array_add (argv, g_strdup ("monitor"));
  va_start (ap, err);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  monitor = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  *out = (Reader){ g_data_input_stream_new (g_subprocess_get_stdout_pipe (monitor)),
                   g_ptr_array_new_with_free_func (g_free) };
  *err = (Reader){ g_data_input_stream_new (g_subprocess_get_stderr_pipe (monitor)),
                   g_ptr_array_new_with_free_func (g_free) };
  read_next (out);
  read_next (err);
  /* Once it says so, it follows every change. */
  wait_for_line (err, "Monitoring hkp-plugind", 0);
  return monitor;
}

/* Stops monitor with SIGTERM, asserts a clean exit 0, and frees its readers. */
static void
stop_monitor (GSubprocess *monitor, Reader *out, Reader *err)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_send_signal (monitor, SIGTERM);
  g_assert_true (g_subprocess_wait (monitor, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (monitor));
  g_assert_cmpint (g_subprocess_get_exit_status (monitor), ==, 0);
  while (!out->eof || !err->eof)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (out->stream);
  g_object_unref (err->stream);
  g_ptr_array_unref (out->lines);
  g_ptr_array_unref (err->lines);
  g_object_unref (monitor);
}

static void
test_monitor_nobody (CtlFixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  Reader out, err;
  GSubprocess *monitor;

  /* Any local user may watch, on the shipped bus policy. */
  f->strict_bus = TRUE;
  ctl_fixture_start (f, NULL);
  monitor = start_monitor (f, ctl_nobody_uid (), &out, &err, NULL);
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "Disable", NULL, NULL, NULL));
  wait_for_line (&out, "alpha: State=disabled", 0);
  stop_monitor (monitor, &out, &err);
}

static void
test_monitor (CtlFixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  Reader out, err, json_out, json_err;
  GSubprocess *monitor, *json_monitor;
  guint at;

  ctl_fixture_start (f, NULL);
  monitor = start_monitor (f, -1, &out, &err, NULL);
  json_monitor = start_monitor (f, -1, &json_out, &json_err, "--json", NULL);

  /* Changes made by another client: state, config and a new plugin. */
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "Disable", NULL, NULL, NULL));
  at = wait_for_line (&out, "alpha: ", 0);
  at = wait_for_line (&out, "State=disabled", at);
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "Enable", NULL, NULL, NULL));
  at = wait_for_line (&out, "State=active", at);
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "SetConfig", "{\"verdict\": \"deny\"}", NULL, NULL));
  at = wait_for_line (&out, "ConfigVersion=4", at);
  hkp_test_tree_write_plugin (&f->tree, "newcomer", "{\"module\": \"answer.so\"}");
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "Rescan", NULL, NULL, NULL));
  at = wait_for_line (&out, "newcomer: added", at);
  /* Only what changed is printed: a reload does not repeat the module path. */
  for (guint i = 0; i < out.lines->len; i++)
    if (strstr (out.lines->pdata[i], " alpha: ") != NULL)
      g_assert_null (strstr (out.lines->pdata[i], "ModulePath="));

  /* --json: one object a line, with the plugin, the event and the new values. */
  at = wait_for_line (&json_out, "\"ConfigVersion\":4", 0);
  {
    g_autoptr (JsonNode) event = ctl_parse_json (json_out.lines->pdata[at]);
    JsonObject *object = json_node_get_object (event);
    g_assert_cmpstr (json_object_get_string_member (object, "plugin"), ==, "alpha");
    g_assert_cmpstr (json_object_get_string_member (object, "event"), ==, "changed");
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "properties"), "ConfigVersion"),
                     ==, 4);
  }
  wait_for_line (&json_out, "\"event\":\"added\"", 0);

  /* SIGTERM ends them cleanly. */
  stop_monitor (monitor, &out, &err);
  stop_monitor (json_monitor, &json_out, &json_err);
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

/* ---- completion and the man page ---------------------------------------- */

static char *
complete (CtlFixture *f, const char *words, int cword)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *script = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "data", "completion", "hkp-pluginctl",
                                              NULL);
  g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
  g_autofree char *path = g_strdup_printf ("PATH=%s:%s", dir, g_getenv ("PATH"));
  g_autofree char *program = g_strdup_printf ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hkp_pluginctl; "
                                              "printf '%%s\\n' \"${COMPREPLY[@]}\"",
                                              script, words, cword);
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  char *out = NULL;

  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  g_subprocess_launcher_setenv (launcher, "PATH", path + strlen ("PATH="), TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, "bash", "--norc", "--noprofile", "-c", program, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  g_test_message ("completion of %s: %s", words, out);
  return out;
}

static void
test_completion (CtlFixture *f, gconstpointer data)
{
  g_autofree char *verbs = NULL;
  g_autofree char *names = NULL;
  g_autofree char *some = NULL;
  g_autofree char *options = NULL;
  g_autofree char *sub = NULL;

  ctl_fixture_start (f, NULL);
  verbs = complete (f, "hkp-pluginctl ''", 1);
  g_assert_nonnull (strstr (verbs, "reload\n"));
  g_assert_nonnull (strstr (verbs, "check-config\n"));
  /* Plugin names come from the running daemon. */
  names = complete (f, "hkp-pluginctl reload ''", 2);
  g_assert_cmpstr (names, ==, "alpha\nratelimit\nbroken\noff\n");
  some = complete (f, "hkp-pluginctl show r", 2);
  g_assert_cmpstr (some, ==, "ratelimit\n");
  sub = complete (f, "hkp-pluginctl config ''", 2);
  g_assert_cmpstr (sub, ==, "edit\nget\nset\n");
  g_free (names);
  names = complete (f, "hkp-pluginctl config edit a", 3);
  g_assert_cmpstr (names, ==, "alpha\n");
  options = complete (f, "hkp-pluginctl --no-", 1);
  g_assert_nonnull (strstr (options, "--no-pager\n"));
  g_assert_nonnull (strstr (options, "--no-ask-password\n"));
}

static void
test_man_examples (CtlFixture *f, gconstpointer data)
{
  g_autofree char *examples = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "hkp-pluginctl-examples.sh", NULL);
  g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
  g_autofree char *text = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *config = NULL;

  ctl_fixture_start (f, NULL);
  g_assert_true (g_file_get_contents (examples, &text, NULL, NULL));
  /* Every command of the page's EXAMPLES, run as printed, in order, stopping at the first failure. */
  g_assert_nonnull (strstr (text, "hkp-pluginctl"));
  launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  path = g_strdup_printf ("%s:%s", dir, g_getenv ("PATH"));
  g_subprocess_launcher_setenv (launcher, "PATH", path, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  /* config edit in the examples: an editor that halves max_clients. */
  g_subprocess_launcher_setenv (launcher, "EDITOR", "sed -i s/100000/50000/", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "VISUAL");
  g_subprocess_launcher_set_cwd (launcher, f->tree.root);
  process = g_subprocess_launcher_spawn (launcher, &error, "bash", "-e", "-x", examples, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("examples:\n%s\n%s", out, err);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  /* They did what they say: ratelimit is there and active at the end. */
  g_assert_nonnull (strstr (out, "ratelimit"));
  config = ctl_fixture_plugin_string (f, "ratelimit", "State");
  g_assert_cmpstr (config, ==, "active");
}

static void
test_readme_examples (CtlFixture *f, gconstpointer data)
{
  g_autofree char *readme = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "README.md", NULL);
  g_autofree char *text = NULL;
  g_autofree char *address = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GString) script = g_string_new ("set -e -x\n");
  g_auto (CtlRun) run = { 0 };
  gboolean inside = FALSE;
  guint commands = 0;

  /* The tour's plugin, beside the fixture's. */
  hkp_test_tree_write_plugin (&f->tree, "allow-all",
                              "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"allow\"}}");
  ctl_fixture_start (f, NULL);
  g_assert_true (g_file_get_contents (readme, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  /* Every hkp-pluginctl command of the README's code blocks, but monitor (which runs until stopped: see /ctl/monitor). */
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *command = NULL;
      char *comment;
      if (g_str_has_prefix (lines[i], "```"))
        {
          inside = !inside;
          continue;
        }
      if (!inside ||
          !(g_str_has_prefix (lines[i], "hkp-pluginctl") || g_str_has_prefix (lines[i], "build/src/ctl/hkp-pluginctl")))
        continue;
      command = g_strdup (lines[i] + (g_str_has_prefix (lines[i], "build/") ? strlen ("build/src/ctl/") : 0));
      if ((comment = strstr (command, "  #")) != NULL)
        *comment = '\0';
      g_strchomp (command);
      if (strstr (command, " monitor") != NULL)
        continue;
      g_string_append_printf (script, "%s\n", command);
      commands++;
    }
  g_assert_cmpuint (commands, >=, 10);
  /* What the commands expect around them: a new config in new.json, an editor, the demo's $A. */
  hkp_test_write_file (f->tree.root, "new.json", "{\"enabled\": true, \"max_clients\": 1000}");
  hkp_test_write_file (f->tree.root, "readme.sh", script->str);
  address = g_strdup_printf ("A=%s", f->bus->address);
  {
    g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
    g_autofree char *path = g_strdup_printf ("PATH=%s:%s", dir, g_getenv ("PATH"));
    g_autofree char *file = g_build_filename (f->tree.root, "readme.sh", NULL);
    g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                      G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_autoptr (GSubprocess) process = NULL;
    g_autoptr (GError) error = NULL;
    g_subprocess_launcher_setenv (launcher, "PATH", path + strlen ("PATH="), TRUE);
    g_subprocess_launcher_setenv (launcher, "A", address + strlen ("A="), TRUE);
    g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
    g_subprocess_launcher_setenv (launcher, "EDITOR", "true", TRUE);
    g_subprocess_launcher_unsetenv (launcher, "VISUAL");
    g_subprocess_launcher_set_cwd (launcher, f->tree.root);
    process = g_subprocess_launcher_spawn (launcher, &error, "bash", file, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, &run.out, NULL, &error);
    g_assert_no_error (error);
    g_test_message ("%s", run.out);
    g_assert_true (g_subprocess_get_successful (process));
  }
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "ratelimit", "ReloadCount"), >=, 1);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "allow-all", "ReloadCount"), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/ctl/" path, CtlFixture, NULL, ctl_fixture_setup, fn, ctl_fixture_teardown)
  ADD ("status", test_status);
  ADD ("list", test_list);
  ADD ("show", test_show);
  ADD ("json", test_json);
  ADD ("errors", test_errors);
  ADD ("no-daemon", test_no_daemon);
  ADD ("address", test_address);
  ADD ("terminal", test_terminal);
  ADD ("nobody", test_nobody);
  ADD ("changes", test_changes);
  ADD ("config", test_config);
  ADD ("config-edit", test_config_edit);
  ADD ("secrets", test_secrets);
  ADD ("history", test_history);
  ADD ("monitor", test_monitor);
  ADD ("monitor-nobody", test_monitor_nobody);
  ADD ("rescan", test_rescan);
  ADD ("check-config", test_check_config);
  ADD ("completion", test_completion);
  ADD ("man-examples", test_man_examples);
  ADD ("readme-examples", test_readme_examples);
#undef ADD
  return g_test_run ();
}
