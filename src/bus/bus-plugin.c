/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/*
 * The plugin objects /org/hkp/PluginManager1/plugin/<encoded name>, served
 * by a fallback vtable whose find callback decodes the path, a node
 * enumerator, and PropertiesChanged that follow the engine's events.
 */

#include "bus-private.h"

#include "hkp-error.h"

/* ---- finding objects --------------------------------------------------- */

int
bus_plugin_find (sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                 sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autofree char *name = NULL;
  HkpPlugin *plugin;

  if (sd_bus_path_decode (path, BUS_PLUGIN_PREFIX, &name) <= 0)
    return 0;
  plugin = hkp_engine_lookup (service->engine, name);
  if (plugin == NULL)
    return 0;
  *found = plugin;
  return 1;
}

int
bus_plugin_enumerate (sd_bus *bus, const char *prefix, void *userdata, char ***nodes, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (service->engine);
  /* sd-bus frees the list with free(): build it with malloc-compatible memory. */
  char **list = calloc (plugins->len + 1, sizeof (char *));

  if (list == NULL)
    return -ENOMEM;
  for (guint i = 0; i < plugins->len; i++)
    if (sd_bus_path_encode (BUS_PLUGIN_PREFIX, hkp_plugin_get_name (plugins->pdata[i]), &list[i]) < 0)
      {
        for (guint j = 0; j < i; j++)
          free (list[j]);
        free (list);
        return -ENOMEM;
      }
  *nodes = list;
  return 0;
}

/* ---- properties -------------------------------------------------------- */

static int
property_get_string (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                     void *userdata, sd_bus_error *ret_error)
{
  HkpPlugin *plugin = userdata;
  const HkpHealth *health = hkp_plugin_get_health (plugin);
  const char *value;

  if (g_str_equal (property, "Name"))
    value = hkp_plugin_get_name (plugin);
  else if (g_str_equal (property, "Version"))
    value = hkp_plugin_get_version (plugin);
  else if (g_str_equal (property, "Description"))
    value = hkp_plugin_get_description (plugin);
  else if (g_str_equal (property, "ModulePath"))
    value = hkp_plugin_get_module_path (plugin);
  else if (g_str_equal (property, "State"))
    value = hkp_plugin_state_to_string (hkp_plugin_get_state (plugin));
  else if (g_str_equal (property, "Health"))
    value = hkp_health_status_to_string (
      hkp_plugin_get_state (plugin) == HKP_PLUGIN_STATE_FAILED ? HKP_HEALTH_STATUS_UNHEALTHY : health->status);
  else if (g_str_equal (property, "HealthMessage"))
    value = health->message;
  else
    value = hkp_plugin_get_last_error (plugin);
  return sd_bus_message_append (reply, "s", value);
}

static int
property_get_config (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                     void *userdata, sd_bus_error *ret_error)
{
  HkpManifest *manifest = hkp_plugin_get_manifest (userdata);

  /* A plugin whose file does not parse has no config: "null". */
  return sd_bus_message_append (reply, "s", manifest != NULL ? manifest->config_json : "null");
}

static int
property_get_uint (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                   void *userdata, sd_bus_error *ret_error)
{
  HkpPlugin *plugin = userdata;
  guint64 value;

  if (g_str_equal (property, "ActiveRequests"))
    value = hkp_plugin_get_active_requests (plugin);
  else if (g_str_equal (property, "ConfigVersion"))
    value = hkp_plugin_get_config_version (plugin);
  else
    value = hkp_plugin_get_reload_count (plugin);
  return sd_bus_message_append (reply, "u", (uint32_t) MIN (value, G_MAXUINT32));
}

static int
property_get_last_health_check (sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "t", (uint64_t) hkp_plugin_get_health (userdata)->last_check_usec);
}

/* ---- methods ----------------------------------------------------------- */

static int
method_change (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  HkpPlugin *plugin = userdata;
  /* userdata is the plugin the find callback returned; the registration slot holds the service. */
  BusService *service = sd_bus_slot_get_userdata (sd_bus_get_current_slot (sd_bus_message_get_bus (message)));
  const char *member = sd_bus_message_get_member (message);
  const char *json = NULL;
  int r;

  if (g_str_equal (member, "SetConfig") && (r = sd_bus_message_read (message, "s", &json)) < 0)
    return r;
  return bus_start_change (service, message,
                           g_str_equal (member, "Reload")        ? "reload"
                             : g_str_equal (member, "SetConfig") ? "set-config"
                             : g_str_equal (member, "Enable")    ? "enable"
                             : g_str_equal (member, "Disable")   ? "disable"
                                                                 : "rollback-config",
                           hkp_plugin_get_name (plugin), json, ret_error);
}

/* ---- vtable ------------------------------------------------------------ */

const sd_bus_vtable bus_plugin_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Name", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Version", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Description", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ModulePath", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Health", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("HealthMessage", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("LastHealthCheck", "t", property_get_last_health_check, 0, 0),
  SD_BUS_PROPERTY ("ActiveRequests", "u", property_get_uint, 0, 0),
  SD_BUS_PROPERTY ("Config", "s", property_get_config, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ConfigVersion", "u", property_get_uint, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ReloadCount", "u", property_get_uint, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("LastError", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

  SD_BUS_METHOD_WITH_ARGS ("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_change, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetConfig", SD_BUS_ARGS ("s", json), SD_BUS_NO_RESULT, method_change,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Enable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_change, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Disable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_change, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RollbackConfig", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_change,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END
};

/* ---- following the engine ---------------------------------------------- */

typedef struct {
  BusService *service;
  HkpPlugin *plugin;
  gulong ids[4];
} PluginHandlers;

static void
emit (PluginHandlers *handlers, char **properties)
{
  g_autofree char *path = bus_plugin_path (handlers->plugin);
  int r = sd_bus_emit_properties_changed_strv (handlers->service->bus, path, BUS_PLUGIN_INTERFACE, properties);

  if (r < 0)
    g_warning ("cannot announce changes of %s: %s", path, g_strerror (-r));
}

static void
on_state_changed (HkpPlugin *plugin, guint old_state, guint new_state, PluginHandlers *handlers)
{
  /* A new state may come with a new module, reload count or error: announce them together. */
  char *properties[] = { "State", "Version", "Description", "ModulePath", "ReloadCount", "LastError", NULL };

  emit (handlers, properties);
  bus_manager_emit_changes (handlers->service);
}

static void
on_error_changed (HkpPlugin *plugin, PluginHandlers *handlers)
{
  char *properties[] = { "LastError", NULL };

  emit (handlers, properties);
}

static void
on_health_changed (HkpPlugin *plugin, guint old_status, guint new_status, PluginHandlers *handlers)
{
  char *properties[] = { "Health", "HealthMessage", NULL };

  emit (handlers, properties);
  bus_manager_emit_changes (handlers->service);
}

static void
on_config_changed (HkpPlugin *plugin, guint old_version, guint new_version, PluginHandlers *handlers)
{
  char *properties[] = { "Config", "ConfigVersion", NULL };

  emit (handlers, properties);
}

void
bus_plugin_watch (BusService *service, HkpPlugin *plugin)
{
  PluginHandlers *handlers = g_new0 (PluginHandlers, 1);

  handlers->service = service;
  handlers->plugin = plugin;
  handlers->ids[0] = g_signal_connect (plugin, "state-changed", G_CALLBACK (on_state_changed), handlers);
  handlers->ids[1] = g_signal_connect (plugin, "error-changed", G_CALLBACK (on_error_changed), handlers);
  handlers->ids[2] = g_signal_connect (plugin, "health-changed", G_CALLBACK (on_health_changed), handlers);
  handlers->ids[3] = g_signal_connect (plugin, "config-changed", G_CALLBACK (on_config_changed), handlers);
  g_hash_table_insert (service->plugin_handlers, plugin, handlers);
}

void
bus_plugin_unwatch (BusService *service, HkpPlugin *plugin)
{
  PluginHandlers *handlers = g_hash_table_lookup (service->plugin_handlers, plugin);

  if (handlers == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (handlers->ids); i++)
    g_signal_handler_disconnect (plugin, handlers->ids[i]);
  g_hash_table_remove (service->plugin_handlers, plugin);
}
