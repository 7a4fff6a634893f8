/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus API against a real dbus-daemon and the real hkp-plugind binary,
 * with an sd-bus client in C and the busctl and gdbus tools: introspection
 * equal to the installed XML, ObjectManager, every property and method and
 * error, signals before replies, InterfacesAdded/Removed, a responsive loop
 * during a slow reload, the own-uid rule, the shipped bus policy, and what
 * happens when the bus is unreachable or goes away.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-util.h"

#define SERVICE HKP_TEST_SERVICE
#define MANAGER_PATH HKP_TEST_MANAGER_PATH
#define MANAGER HKP_TEST_MANAGER
#define PLUGIN HKP_TEST_PLUGIN

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
} Fixture;

static void
write_plugin (Fixture *f, const char *name, const char *json)
{
  hkp_test_tree_write_plugin (&f->tree, name, json);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  write_plugin (f, "alpha", "{\"module\": \"answer.so\", \"priority\": 10, \"config\": {\"verdict\": \"continue\"}}");
  write_plugin (f, "broken", "{\"module\": \"failinit.so\", \"config\": {\"message\": \"no database\"}}");
  write_plugin (f, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  write_plugin (f, "slow-one",
                "{\"module\": \"sleeper.so\", \"config\": {\"init_delay_ms\": 2000, \"init_delay_from\": 2}}");
}

/* Starts a bus (permissive, or the strict system policy with our dbus/ files) and the daemon on it. */
static void
start (Fixture *f, gboolean permissive)
{
  g_autofree char *policy_dir = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "dbus", NULL);

  f->bus = hkp_test_bus_start (permissive, permissive ? NULL : (const char *const[]){ policy_dir, NULL });
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, NULL);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_flush_close_unref);
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  hkp_test_tree_clear (&f->tree);
}

/* ---- introspection ------------------------------------------------------ */

static void
assert_same_interface (GDBusInterfaceInfo *live, GDBusInterfaceInfo *file)
{
  g_assert_nonnull (live);
  g_assert_nonnull (file);
  for (guint i = 0; file->methods[i] != NULL || live->methods[i] != NULL; i++)
    {
      GDBusMethodInfo *a = live->methods[i], *b = file->methods[i];
      g_assert_nonnull (a);
      g_assert_nonnull (b);
      g_assert_cmpstr (a->name, ==, b->name);
      for (guint j = 0; a->in_args[j] != NULL || b->in_args[j] != NULL; j++)
        {
          g_assert_nonnull (a->in_args[j]);
          g_assert_nonnull (b->in_args[j]);
          g_assert_cmpstr (a->in_args[j]->name, ==, b->in_args[j]->name);
          g_assert_cmpstr (a->in_args[j]->signature, ==, b->in_args[j]->signature);
        }
      for (guint j = 0; a->out_args[j] != NULL || b->out_args[j] != NULL; j++)
        {
          g_assert_nonnull (a->out_args[j]);
          g_assert_nonnull (b->out_args[j]);
          g_assert_cmpstr (a->out_args[j]->name, ==, b->out_args[j]->name);
          g_assert_cmpstr (a->out_args[j]->signature, ==, b->out_args[j]->signature);
        }
    }
  for (guint i = 0; file->properties[i] != NULL || live->properties[i] != NULL; i++)
    {
      GDBusPropertyInfo *a = live->properties[i], *b = file->properties[i];
      g_assert_nonnull (a);
      g_assert_nonnull (b);
      g_assert_cmpstr (a->name, ==, b->name);
      g_assert_cmpstr (a->signature, ==, b->signature);
      g_assert_cmpint (a->flags, ==, b->flags);
      g_assert_cmpstr (
        g_dbus_annotation_info_lookup (a->annotations, "org.freedesktop.DBus.Property.EmitsChangedSignal"), ==,
        g_dbus_annotation_info_lookup (b->annotations, "org.freedesktop.DBus.Property.EmitsChangedSignal"));
    }
  g_assert_null (live->signals[0]);
  g_assert_null (file->signals[0]);
}

static GDBusNodeInfo *
introspect (Fixture *f, const char *path)
{
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *xml = NULL;
  GDBusNodeInfo *node;

  g_assert_null (
    hkp_test_call (f->client, path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL, &reply));
  xml = hkp_test_reply_string (reply);
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  return node;
}

static void
test_introspection (Fixture *f, gconstpointer data)
{
  g_autofree char *file = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "dbus", "org.hkp.PluginManager1.xml",
                                            NULL);
  g_autofree char *xml = NULL;
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  g_autoptr (GDBusNodeInfo) installed = NULL;
  g_autoptr (GDBusNodeInfo) manager = NULL;
  g_autoptr (GDBusNodeInfo) plugin = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *address = NULL;
  int status;

  start (f, TRUE);
  g_assert_true (g_file_get_contents (file, &xml, NULL, NULL));
  installed = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  manager = introspect (f, MANAGER_PATH);
  plugin = introspect (f, alpha);
  assert_same_interface (g_dbus_node_info_lookup_interface (manager, MANAGER),
                         g_dbus_node_info_lookup_interface (installed, MANAGER));
  assert_same_interface (g_dbus_node_info_lookup_interface (plugin, PLUGIN),
                         g_dbus_node_info_lookup_interface (installed, PLUGIN));
  g_assert_nonnull (g_dbus_node_info_lookup_interface (manager, "org.freedesktop.DBus.ObjectManager"));

  /* busctl sees the same tree. */
  address = g_strdup_printf ("--address=%s", f->bus->address);
  g_assert_true (g_spawn_sync (NULL, (char *[]){ "busctl", address, "tree", "--list", SERVICE, NULL }, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (out, "/org/hkp/PluginManager1/plugin/alpha\n"));
  g_assert_nonnull (strstr (out, "/org/hkp/PluginManager1/plugin/slow_2done\n"));
}

/* ---- properties and objects -------------------------------------------- */

static void
test_managed_objects (Fixture *f, gconstpointer data)
{
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *path;
  int r;

  start (f, TRUE);
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                NULL, NULL, &reply));
  g_assert_cmpint (sd_bus_message_enter_container (reply, 'a', "{oa{sa{sv}}}"), >, 0);
  while ((r = sd_bus_message_enter_container (reply, 'e', "oa{sa{sv}}")) > 0)
    {
      const char *interface;
      g_assert_cmpint (sd_bus_message_read (reply, "o", &path), >, 0);
      g_assert_cmpint (sd_bus_message_enter_container (reply, 'a', "{sa{sv}}"), >, 0);
      while (sd_bus_message_enter_container (reply, 'e', "sa{sv}") > 0)
        {
          guint properties = 0;
          g_assert_cmpint (sd_bus_message_read (reply, "s", &interface), >, 0);
          g_assert_cmpint (sd_bus_message_enter_container (reply, 'a', "{sv}"), >, 0);
          while (sd_bus_message_enter_container (reply, 'e', "sv") > 0)
            {
              const char *name;
              g_assert_cmpint (sd_bus_message_read (reply, "s", &name), >, 0);
              g_assert_cmpint (sd_bus_message_skip (reply, "v"), >=, 0);
              g_assert_cmpint (sd_bus_message_exit_container (reply), >=, 0);
              properties++;
            }
          g_assert_cmpint (sd_bus_message_exit_container (reply), >=, 0);
          g_assert_cmpint (sd_bus_message_exit_container (reply), >=, 0);
          if (g_str_equal (interface, PLUGIN))
            {
              g_assert_cmpuint (properties, ==, 23);
              g_hash_table_add (seen, g_strdup (path));
            }
        }
      g_assert_cmpint (sd_bus_message_exit_container (reply), >=, 0);
      g_assert_cmpint (sd_bus_message_exit_container (reply), >=, 0);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 4);
  g_assert_true (g_hash_table_contains (seen, "/org/hkp/PluginManager1/plugin/off"));
  g_assert_true (g_hash_table_contains (seen, "/org/hkp/PluginManager1/plugin/slow_2done"));
}

static void
test_properties (Fixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  g_autofree char *broken = hkp_test_plugin_path ("broken");
  g_autofree char *off = hkp_test_plugin_path ("off");
  g_autofree char *version = NULL, *plugin_dir = NULL, *config_dir = NULL, *overall = NULL;
  g_autofree char *name = NULL, *state = NULL, *config = NULL, *module = NULL, *description = NULL;
  g_autofree char *broken_state = NULL, *broken_error = NULL, *broken_health = NULL, *off_state = NULL, *health = NULL;
  g_autofree char *plugin_version = NULL, *health_message = NULL;
  g_autofree char *reload_strategy = NULL, *failure_mode = NULL, *isolation = NULL;
  gint64 before = g_get_real_time ();

  start (f, TRUE);
  version = hkp_test_get_string (f->client, MANAGER_PATH, MANAGER, "Version");
  g_assert_cmpstr (version, ==, "0.1.0");
  plugin_dir = hkp_test_get_string (f->client, MANAGER_PATH, MANAGER, "PluginDirectory");
  g_assert_cmpstr (plugin_dir, ==, f->tree.plugin_dir);
  config_dir = hkp_test_get_string (f->client, MANAGER_PATH, MANAGER, "ConfigDirectory");
  g_assert_cmpstr (config_dir, ==, f->tree.config_dir);
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "StartTimestamp", 't'), >=, (guint64) before);
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "StartTimestamp", 't'), <=,
                    (guint64) g_get_real_time ());
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "TotalPlugins", 'u'), ==, 4);
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "ActivePlugins", 'u'), ==, 2);
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "ActiveRequests", 't'), ==, 0);
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "DrainTimeoutUSec", 't'), ==,
                    60 * G_USEC_PER_SEC);

  name = hkp_test_get_string (f->client, alpha, PLUGIN, "Name");
  g_assert_cmpstr (name, ==, "alpha");
  state = hkp_test_get_string (f->client, alpha, PLUGIN, "State");
  g_assert_cmpstr (state, ==, "active");
  module = hkp_test_get_string (f->client, alpha, PLUGIN, "ModulePath");
  g_assert_true (g_str_has_suffix (module, "/plugins/answer.so"));
  plugin_version = hkp_test_get_string (f->client, alpha, PLUGIN, "Version");
  g_assert_cmpstr (plugin_version, ==, "1.0");
  health_message = hkp_test_get_string (f->client, broken, PLUGIN, "HealthMessage");
  g_assert_nonnull (strstr (health_message, "init failed: no database"));
  description = hkp_test_get_string (f->client, alpha, PLUGIN, "Description");
  g_assert_cmpstr (description, ==, "Test plugin: answers every request as its config says");
  config = hkp_test_get_string (f->client, alpha, PLUGIN, "Config");
  g_assert_cmpstr (config, ==, "{\"verdict\":\"continue\"}");
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ConfigVersion", 'u'), ==, 1);
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ReloadCount", 'u'), ==, 0);
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ActiveRequests", 'u'), ==, 0);
  /* The first health check runs when the plugin becomes active. */
  hkp_test_daemon_wait_line (f->daemon, "plugin alpha health transitioning -> healthy");
  health = hkp_test_get_string (f->client, alpha, PLUGIN, "Health");
  g_assert_cmpstr (health, ==, "healthy");
  /* Both enabled plugins that run are healthy, broken has failed (and is not required): degraded. */
  hkp_test_daemon_wait_line (f->daemon, "plugin slow-one health transitioning -> healthy");
  overall = hkp_test_get_string (f->client, MANAGER_PATH, MANAGER, "OverallHealth");
  g_assert_cmpstr (overall, ==, "degraded");
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "LastHealthCheck", 't'), >, 0);

  broken_state = hkp_test_get_string (f->client, broken, PLUGIN, "State");
  g_assert_cmpstr (broken_state, ==, "failed");
  broken_error = hkp_test_get_string (f->client, broken, PLUGIN, "LastError");
  g_assert_nonnull (strstr (broken_error, "broken.json: init failed: no database"));
  broken_health = hkp_test_get_string (f->client, broken, PLUGIN, "Health");
  g_assert_cmpstr (broken_health, ==, "unhealthy");
  off_state = hkp_test_get_string (f->client, off, PLUGIN, "State");
  g_assert_cmpstr (off_state, ==, "disabled");

  /* The manager's keys: alpha's own priority, every other key's default. */
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "Priority", 'i'), ==, 10);
  g_assert_cmpuint (hkp_test_get_uint (f->client, off, PLUGIN, "Priority", 'i'), ==, 100);
  reload_strategy = hkp_test_get_string (f->client, alpha, PLUGIN, "ReloadStrategy");
  g_assert_cmpstr (reload_strategy, ==, "overlap");
  failure_mode = hkp_test_get_string (f->client, alpha, PLUGIN, "FailureMode");
  g_assert_cmpstr (failure_mode, ==, "closed");
  isolation = hkp_test_get_string (f->client, alpha, PLUGIN, "Isolation");
  g_assert_true (g_str_equal (isolation, "process") || g_str_equal (isolation, "none"));
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "Required", 'b'), ==, 0);
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "DrainTimeoutUSec", 't'), ==, 60 * G_USEC_PER_SEC);
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "CallTimeoutUSec", 't'), ==, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "HealthIntervalUSec", 't'), ==, 30 * G_USEC_PER_SEC);
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "DrainingRequests", 'u'), ==, 0);
  g_assert_cmpuint (hkp_test_get_uint (f->client, off, PLUGIN, "HostPID", 'u'), ==, 0);
}

/* ---- methods and errors ------------------------------------------------ */

static void
test_methods (Fixture *f, gconstpointer data)
{
  g_autoptr (sd_bus_message) list = NULL, path_reply = NULL, status = NULL, health = NULL, config = NULL;
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  g_autofree char *off = hkp_test_plugin_path ("off");
  g_autofree char *status_json = NULL, *health_json = NULL, *config_json = NULL, *new_config = NULL, *off_state = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *name, *state, *object;
  JsonObject *root;
  guint listed = 0;

  start (f, TRUE);
  hkp_test_daemon_wait_line (f->daemon, "plugin alpha health transitioning -> healthy");
  hkp_test_daemon_wait_line (f->daemon, "plugin slow-one health transitioning -> healthy");
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "ListPlugins", NULL, NULL, &list));
  g_assert_cmpint (sd_bus_message_enter_container (list, 'a', "(sso)"), >, 0);
  while (sd_bus_message_read (list, "(sso)", &name, &state, &object) > 0)
    {
      g_autofree char *expected = hkp_test_plugin_path (name);
      g_assert_cmpstr (object, ==, expected);
      listed++;
    }
  g_assert_cmpuint (listed, ==, 4);

  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetPlugin", "alpha", NULL, &path_reply));
  g_assert_cmpint (sd_bus_message_read (path_reply, "o", &object), >, 0);
  g_assert_cmpstr (object, ==, alpha);
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetPlugin", "nope", NULL, NULL),
                         "org.hkp.PluginManager1.Error.NoSuchPlugin", "no plugin named \"nope\"");
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetPlugin", "Not A Name", NULL, NULL),
                         "org.freedesktop.DBus.Error.InvalidArgs", "is not a plugin name");
  /* Quoted, a name near the bus's message limit would make a reply over it, and cost the daemon its bus: an error
   * quotes a little of the name, whatever its length. */
  {
    g_autofree char *huge = g_strnfill (4 * 1024 * 1024, 'x');
    g_autofree char *error = hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetPlugin", huge, NULL, NULL);

    g_assert_nonnull (error);
    g_assert_cmpuint (strlen (error), <, 300);
    hkp_test_assert_error (g_steal_pointer (&error), "org.freedesktop.DBus.Error.InvalidArgs",
                           "…\" is not a plugin name");
  }

  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetStatus", NULL, NULL, &status));
  status_json = hkp_test_reply_string (status);
  g_assert_true (json_parser_load_from_data (parser, status_json, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (root, "plugin_system"), "total_plugins"),
                   ==, 4);
  g_assert_cmpstr (
    json_object_get_string_member (
      json_object_get_object_member (json_object_get_object_member (root, "plugin_system"), "plugin_states"), "broken"),
    ==, "failed");
  g_assert_true (json_object_has_member (root, "uptime"));
  g_assert_true (json_object_has_member (root, "timestamp"));
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetHealth", NULL, NULL, &health));
  health_json = hkp_test_reply_string (health);
  g_assert_true (json_parser_load_from_data (parser, health_json, -1, NULL));
  root = json_node_get_object (json_parser_get_root (parser));
  /* Once the plugins that run have been checked: broken failed, the others are healthy. */
  g_assert_cmpstr (json_object_get_string_member (root, "overall_status"), ==, "degraded");
  g_assert_true (json_object_has_member (json_object_get_object_member (root, "plugins"), "alpha"));

  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetPluginConfig", "alpha", NULL, &config));
  config_json = hkp_test_reply_string (config);
  g_assert_cmpstr (config_json, ==, "{\"verdict\":\"continue\"}");
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetPluginConfig", "nope", NULL, NULL),
                         "org.hkp.PluginManager1.Error.NoSuchPlugin", "nope");

  /* Changes through the manager, */
  g_assert_null (
    hkp_test_call (f->client, MANAGER_PATH, MANAGER, "SetPluginConfig", "alpha", "{\"verdict\": \"allow\"}", NULL));
  new_config = hkp_test_get_string (f->client, alpha, PLUGIN, "Config");
  g_assert_cmpstr (new_config, ==, "{\"verdict\":\"allow\"}");
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ConfigVersion", 'u'), ==, 2);
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "SetPluginConfig", "alpha", "[1]", NULL),
                         "org.hkp.PluginManager1.Error.InvalidConfig", "must be a JSON object, not array");
  hkp_test_assert_error (
    hkp_test_call (f->client, MANAGER_PATH, MANAGER, "SetPluginConfig", "alpha", "{\"verdict\": \"maybe\"}", NULL),
    "org.hkp.PluginManager1.Error.InvalidConfig", "config rejected");
  hkp_test_assert_error (
    hkp_test_call (f->client, MANAGER_PATH, MANAGER, "SetPluginConfig", "alpha", "{\"fail_init\": \"boom\"}", NULL),
    "org.hkp.PluginManager1.Error.ReloadFailed", "boom");
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "ReloadPlugin", "alpha", NULL, NULL));
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ReloadCount", 'u'), ==, 2);
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "ReloadPlugin", "nope", NULL, NULL),
                         "org.hkp.PluginManager1.Error.NoSuchPlugin", "nope");
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "ReloadPlugin", "broken", NULL, NULL),
                         "org.hkp.PluginManager1.Error.Failed", "no database");
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "EnablePlugin", "off", NULL, NULL));
  off_state = hkp_test_get_string (f->client, off, PLUGIN, "State");
  g_assert_cmpstr (off_state, ==, "active");
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "DisablePlugin", "off", NULL, NULL));
  g_free (off_state);
  off_state = hkp_test_get_string (f->client, off, PLUGIN, "State");
  g_assert_cmpstr (off_state, ==, "disabled");
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "Rescan", NULL, NULL, NULL));

  /* and through the plugin object. */
  g_assert_null (hkp_test_call (f->client, alpha, PLUGIN, "Reload", NULL, NULL, NULL));
  g_assert_null (hkp_test_call (f->client, alpha, PLUGIN, "SetConfig", "{\"verdict\": \"deny\"}", NULL, NULL));
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ConfigVersion", 'u'), ==, 3);
  g_assert_null (hkp_test_call (f->client, alpha, PLUGIN, "RollbackConfig", NULL, NULL, NULL));
  g_free (new_config);
  new_config = hkp_test_get_string (f->client, alpha, PLUGIN, "Config");
  g_assert_cmpstr (new_config, ==, "{\"verdict\":\"allow\"}");
  g_assert_null (hkp_test_call (f->client, off, PLUGIN, "Enable", NULL, NULL, NULL));
  g_assert_null (hkp_test_call (f->client, off, PLUGIN, "Disable", NULL, NULL, NULL));
  hkp_test_assert_error (hkp_test_call (f->client, alpha, PLUGIN, "SetConfig", "not json", NULL, NULL),
                         "org.hkp.PluginManager1.Error.InvalidConfig", "not valid JSON");
}

/* ---- signals before replies -------------------------------------------- */

typedef struct {
  GPtrArray *events;
  gboolean replied;
} Order;

static int
on_properties_changed (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Order *order = userdata;
  const char *interface;

  if (sd_bus_message_read (message, "s", &interface) < 0)
    return 0;
  sd_bus_message_enter_container (message, 'a', "{sv}");
  while (sd_bus_message_enter_container (message, 'e', "sv") > 0)
    {
      const char *name, *value = NULL;
      uint32_t number = 0;
      char type;
      const char *contents;
      sd_bus_message_read (message, "s", &name);
      sd_bus_message_peek_type (message, &type, &contents);
      sd_bus_message_enter_container (message, 'v', contents);
      if (g_str_equal (contents, "s"))
        sd_bus_message_read (message, "s", &value);
      else if (g_str_equal (contents, "u"))
        sd_bus_message_read (message, "u", &number);
      else
        sd_bus_message_skip (message, contents);
      sd_bus_message_exit_container (message);
      sd_bus_message_exit_container (message);
      if (g_str_equal (name, "State"))
        g_ptr_array_add (order->events, g_strdup_printf ("State=%s", value));
      else if (g_str_equal (name, "ConfigVersion"))
        g_ptr_array_add (order->events, g_strdup_printf ("ConfigVersion=%u", number));
      else if (g_str_equal (name, "Config"))
        g_ptr_array_add (order->events, g_strdup_printf ("Config=%s", value));
    }
  return 0;
}

static int
on_reply (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Order *order = userdata;

  g_assert_false (sd_bus_message_is_method_error (message, NULL));
  g_ptr_array_add (order->events, g_strdup ("reply"));
  order->replied = TRUE;
  return 0;
}

static void
run_until_replied (Fixture *f, Order *order)
{
  while (!order->replied)
    {
      int r = sd_bus_process (f->client, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (f->client, 10 * G_USEC_PER_SEC), >, 0);
    }
}

static void
test_signals_before_reply (Fixture *f, gconstpointer data)
{
  Order order = { .events = g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  const char *expected[] = { "State=reloading", "State=active", "Config={\"verdict\":\"allow\"}", "ConfigVersion=2",
                             "reply" };

  start (f, TRUE);
  g_assert_cmpint (sd_bus_match_signal (f->client, NULL, SERVICE, alpha, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, &order),
                   >=, 0);
  g_assert_cmpint (sd_bus_call_method_async (f->client, NULL, SERVICE, alpha, PLUGIN, "SetConfig", on_reply, &order,
                                             "s", "{\"verdict\": \"allow\"}"),
                   >=, 0);
  run_until_replied (f, &order);
  for (guint i = 0; i < order.events->len; i++)
    g_test_message ("event %u: %s", i, (char *) order.events->pdata[i]);
  g_assert_cmpuint (order.events->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (order.events->pdata[i], ==, expected[i]);
  g_ptr_array_unref (order.events);
}

static void
test_changes_from_elsewhere (Fixture *f, gconstpointer data)
{
  Order order = { .events = g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  gboolean seen = FALSE;

  start (f, TRUE);
  g_assert_cmpint (sd_bus_match_signal (f->client, NULL, SERVICE, alpha, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, &order),
                   >=, 0);
  /* Make sure the match is in place before the change happens. */
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, NULL));
  write_plugin (f, "alpha", "{\"module\": \"answer.so\", \"priority\": 10, \"config\": {\"verdict\": \"allow\"}}");
  hkp_test_daemon_signal (f->daemon, SIGHUP);
  while (!seen)
    {
      int r = sd_bus_process (f->client, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (f->client, 10 * G_USEC_PER_SEC), >, 0);
      for (guint i = 0; i < order.events->len && !seen; i++)
        seen = g_str_equal (order.events->pdata[i], "ConfigVersion=2");
    }
  g_assert_cmpstr (order.events->pdata[0], ==, "State=reloading");
  g_ptr_array_unref (order.events);
}

static int
on_interfaces (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Order *order = userdata;
  const char *path;

  g_assert_cmpint (sd_bus_message_read (message, "o", &path), >, 0);
  g_ptr_array_add (order->events, g_strdup_printf ("%s %s", sd_bus_message_get_member (message), path));
  return 0;
}

static void
test_interfaces_added_removed (Fixture *f, gconstpointer data)
{
  Order order = { .events = g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *gone = g_build_filename (f->tree.config_dir, "off.json", NULL);

  start (f, TRUE);
  g_assert_cmpint (sd_bus_match_signal (f->client, NULL, SERVICE, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesAdded", on_interfaces, &order),
                   >=, 0);
  g_assert_cmpint (sd_bus_match_signal (f->client, NULL, SERVICE, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", on_interfaces, &order),
                   >=, 0);
  write_plugin (f, "new-one", "{\"module\": \"answer.so\"}");
  g_assert_cmpint (g_unlink (gone), ==, 0);
  g_assert_cmpint (
    sd_bus_call_method_async (f->client, NULL, SERVICE, MANAGER_PATH, MANAGER, "Rescan", on_reply, &order, ""), >=, 0);
  run_until_replied (f, &order);
  g_assert_cmpuint (order.events->len, ==, 3);
  g_assert_cmpstr (order.events->pdata[0], ==, "InterfacesAdded /org/hkp/PluginManager1/plugin/new_2done");
  g_assert_cmpstr (order.events->pdata[1], ==, "InterfacesRemoved /org/hkp/PluginManager1/plugin/off");
  g_assert_cmpstr (order.events->pdata[2], ==, "reply");
  g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "TotalPlugins", 'u'), ==, 4);
  g_ptr_array_unref (order.events);
}

/* ---- a slow reload does not stall the loop ------------------------------ */

static int
on_reload_reply (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  Order *order = userdata;

  g_assert_false (sd_bus_message_is_method_error (message, NULL));
  order->replied = TRUE;
  return 0;
}

static void
test_responsive_during_reload (Fixture *f, gconstpointer data)
{
  Order order = { 0 };
  g_autoptr (sd_bus) second = NULL;
  gint64 slowest = 0;

  start (f, TRUE);
  second = hkp_test_client_new (f->bus->address);
  hkp_test_daemon_wait_line (f->daemon, "plugin alpha health transitioning -> healthy");
  hkp_test_daemon_wait_line (f->daemon, "plugin slow-one health transitioning -> healthy");
  /* slow-one's next instance takes 2 s to start. */
  g_assert_cmpint (sd_bus_call_method_async (second, NULL, SERVICE, MANAGER_PATH, MANAGER, "ReloadPlugin",
                                             on_reload_reply, &order, "s", "slow-one"),
                   >=, 0);
  g_assert_cmpint (sd_bus_flush (second), >=, 0);
  hkp_test_assert_error (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "ReloadPlugin", "slow-one", NULL, NULL),
                         "org.hkp.PluginManager1.Error.Busy", "another change of plugin slow-one is in progress");
  /* Its previous instance serves meanwhile (overlap): it counts as it was, active and healthy. */
  {
    g_autofree char *path = hkp_test_plugin_path ("slow-one");
    g_autofree char *state = hkp_test_get_string (f->client, path, PLUGIN, "State");
    g_autofree char *overall = hkp_test_get_string (f->client, MANAGER_PATH, MANAGER, "OverallHealth");
    g_assert_cmpstr (state, ==, "reloading");
    g_assert_cmpuint (hkp_test_get_uint (f->client, MANAGER_PATH, MANAGER, "ActivePlugins", 'u'), ==, 2);
    g_assert_cmpstr (overall, ==, "degraded");
  }
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr (sd_bus_message) reply = NULL;
      gint64 start_time = g_get_monotonic_time ();
      g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetStatus", NULL, NULL, &reply));
      slowest = MAX (slowest, g_get_monotonic_time () - start_time);
    }
  g_test_message ("slowest of 100 GetStatus during the reload: %" G_GINT64_FORMAT " µs", slowest);
  /* All 100 were answered while the reload was still running. */
  g_assert_cmpint (sd_bus_process (second, NULL), >=, 0);
  g_assert_false (order.replied);
  while (!order.replied)
    {
      int r = sd_bus_process (second, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (second, 10 * G_USEC_PER_SEC), >, 0);
    }
}

/* ---- who may change things ---------------------------------------------- */

static void
test_other_uid (Fixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  g_autofree char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
  gint line;

  if (getuid () != 0)
    {
      g_test_skip ("needs root: runs clients as nobody with setpriv");
      return;
    }
  start (f, TRUE);
  g_assert_true (hkp_test_busctl_as (f->bus->address, 65534,
                                     (const char *const[]){ "get-property", SERVICE, alpha, PLUGIN, "State", NULL },
                                     &out, &err));
  g_assert_cmpstr (out, ==, "s \"active\"\n");
  g_assert_false (hkp_test_busctl_as (
    f->bus->address, 65534,
    (const char *const[]){ "call", SERVICE, MANAGER_PATH, MANAGER, "ReloadPlugin", "s", "alpha", NULL }, &out2, &err2));
  g_assert_nonnull (strstr (err2, "Access denied"));
  g_assert_cmpuint (hkp_test_get_uint (f->client, alpha, PLUGIN, "ReloadCount", 'u'), ==, 0);
  line = hkp_test_daemon_wait_line (f->daemon, "reload of plugin alpha by uid 65534 via D-Bus (");
  g_assert_nonnull (strstr (f->daemon->lines->pdata[line], ") refused: only uid 0 may change plugins"));
}

static void
test_gdbus (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  start (f, TRUE);
  g_assert_true (
    g_spawn_sync (NULL,
                  (char *[]){ "gdbus", "call", "--address", f->bus->address, "--dest", SERVICE, "--object-path",
                              MANAGER_PATH, "--method", MANAGER ".GetPlugin", "broken", NULL },
                  NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (out, ==, "(objectpath '/org/hkp/PluginManager1/plugin/broken',)\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (
    g_spawn_sync (NULL,
                  (char *[]){ "gdbus", "call", "--address", f->bus->address, "--dest", SERVICE, "--object-path",
                              MANAGER_PATH, "--method", MANAGER ".ReloadPlugin", "ghost", NULL },
                  NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "GDBus.Error:org.hkp.PluginManager1.Error.NoSuchPlugin: no plugin named \"ghost\""));
}

/* ---- the shipped policy, and bus failures ------------------------------- */

static void
test_strict_policy (Fixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (HkpTestDaemon) intruder = NULL;
  g_autofree char *state = NULL;
  g_autoptr (GPtrArray) argv = NULL;

  if (getuid () != 0)
    {
      g_test_skip ("needs root: the shipped policy lets only root own the name");
      return;
    }
  /* Root owns the name under the real system-bus defaults plus our policy, and anyone may read. */
  start (f, FALSE);
  g_assert_true (hkp_test_busctl_as (f->bus->address, 65534,
                                     (const char *const[]){ "get-property", SERVICE, alpha, PLUGIN, "State", NULL },
                                     &out, &err));
  g_assert_cmpstr (out, ==, "s \"active\"\n");

  /* A non-root process may not own it: the daemon says so, naming the bus, and exits 1. */
  g_assert_cmpint (g_chmod (f->bus->dir, 0777), ==, 0);
  state = g_strdup_printf ("--state-dir=%s/intruder-state", f->bus->dir);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", state, NULL);
  intruder = hkp_test_daemon_start ((const char *const *) argv->pdata, 65534);
  g_assert_cmpint (hkp_test_daemon_wait_exit (intruder), ==, 1);
  g_assert_cmpint (
    hkp_test_daemon_find (intruder, "cannot own the name org.hkp.PluginManager1 on the bus at unix:path="), >=, 0);
}

static void
test_unreachable_bus (Fixture *f, gconstpointer data)
{
  /* The tree's own ports: the check endpoint and the bridge start before the bus is tried. */
  g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, "unix:path=/nonexistent/bus.sock", NULL);
  g_autoptr (HkpTestDaemon) daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);

  g_assert_cmpint (hkp_test_daemon_wait_exit (daemon), ==, 1);
  g_assert_cmpint (hkp_test_daemon_find (
                     daemon, "cannot connect to the bus at unix:path=/nonexistent/bus.sock: No such file or directory"),
                   >=, 0);
}

static void
test_bus_lost (Fixture *f, gconstpointer data)
{
  start (f, TRUE);
  g_subprocess_send_signal (f->bus->process, SIGKILL);
  g_assert_cmpint (hkp_test_daemon_wait_exit (f->daemon), ==, 1);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "lost the connection to the bus at unix:path="), >=, 0);
  g_assert_cmpint (hkp_test_daemon_find (f->daemon, "all plugins shut down"), >=, 0);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
}

static gboolean
on_idle_timer (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Returns the CPU time (user + system, in clock ticks) the process pid has used. */
static guint64
cpu_ticks (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *stat = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after_name;

  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  after_name = strrchr (stat, ')') + 2;
  fields = g_strsplit (after_name, " ", -1);
  /* Fields 14 and 15 of the line; counted from field 3, after the name. */
  return g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
}

static void
test_idle_without_busy_loop (Fixture *f, gconstpointer data)
{
  const char *pid;
  guint64 before;
  gboolean done = FALSE;

  start (f, TRUE);
  pid = g_subprocess_get_identifier (f->daemon->process);
  before = cpu_ticks (pid);
  /* Measuring idleness takes wall time: one second with nothing to do. */
  g_timeout_add (1000, on_idle_timer, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (cpu_ticks (pid) - before, <=, 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)
  ADD ("/bus/introspection", test_introspection);
  ADD ("/bus/managed-objects", test_managed_objects);
  ADD ("/bus/properties", test_properties);
  ADD ("/bus/methods", test_methods);
  ADD ("/bus/signals-before-reply", test_signals_before_reply);
  ADD ("/bus/interfaces-added-removed", test_interfaces_added_removed);
  ADD ("/bus/changes-from-elsewhere", test_changes_from_elsewhere);
  ADD ("/bus/responsive-during-reload", test_responsive_during_reload);
  ADD ("/bus/other-uid", test_other_uid);
  ADD ("/bus/gdbus", test_gdbus);
  ADD ("/bus/strict-policy", test_strict_policy);
  ADD ("/bus/unreachable-bus", test_unreachable_bus);
  ADD ("/bus/bus-lost", test_bus_lost);
  ADD ("/bus/idle-without-busy-loop", test_idle_without_busy_loop);
#undef ADD
  return g_test_run ();
}
