/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/*
 * The plugin objects /org/hkp/PluginManager1/plugin/<encoded name>, served
 * by a fallback vtable whose find callback decodes the path, a node
 * enumerator, and PropertiesChanged that follow the engine's plugin-changed.
 */

#include "bus-private.h"

#include "hkp-error.h"

/* ---- finding objects --------------------------------------------------- */

char *
bus_plugin_path (HkpPlugin *plugin)
{
  char *path = NULL;

  if (sd_bus_path_encode (BUS_PLUGIN_PREFIX, hkp_plugin_get_name (plugin), &path) < 0)
    g_error ("out of memory");
  return path;
}

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

/* Defines the getter func of a plugin property of D-Bus type type whose value is expr (of plugin). */
#define PLUGIN_PROPERTY(func, type, expr) \
  static int func (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply, \
                   void *userdata, sd_bus_error *ret_error) \
  { \
    HkpPlugin *plugin = userdata; \
    return sd_bus_message_append (reply, type, (expr)); \
  }

/* A plugin whose file does not parse has no config: "null". */
static const char *
config_json (HkpPlugin *plugin)
{
  HkpManifest *manifest = hkp_plugin_get_manifest (plugin);

  return manifest != NULL ? manifest->config_json : "null";
}

PLUGIN_PROPERTY (property_get_name, "s", hkp_plugin_get_name (plugin))
PLUGIN_PROPERTY (property_get_version, "s", hkp_plugin_get_version (plugin))
PLUGIN_PROPERTY (property_get_description, "s", hkp_plugin_get_description (plugin))
PLUGIN_PROPERTY (property_get_module_path, "s", hkp_plugin_get_module_path (plugin))
PLUGIN_PROPERTY (property_get_state, "s", hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)))
PLUGIN_PROPERTY (property_get_health, "s", hkp_health_status_to_string (hkp_plugin_get_shown_health (plugin)))
PLUGIN_PROPERTY (property_get_health_message, "s", hkp_plugin_get_health (plugin)->message)
PLUGIN_PROPERTY (property_get_last_health_check, "t", (uint64_t) hkp_plugin_get_health (plugin)->last_check_usec)
PLUGIN_PROPERTY (property_get_active_requests, "u",
                 (uint32_t) MIN (hkp_plugin_get_active_requests (plugin), G_MAXUINT32))
PLUGIN_PROPERTY (property_get_config, "s", config_json (plugin))
PLUGIN_PROPERTY (property_get_config_version, "u", hkp_plugin_get_config_version (plugin))
PLUGIN_PROPERTY (property_get_reload_count, "u", hkp_plugin_get_reload_count (plugin))
PLUGIN_PROPERTY (property_get_last_error, "s", hkp_plugin_get_last_error (plugin))

/* The properties each kind of change touches, for PropertiesChanged. */
static const struct {
  HkpPluginChange what;
  const char *const properties[6];
} emitted[] = {
  /* A new state may come with a new module or reload count. */
  { HKP_PLUGIN_CHANGED_STATE, { "State", "Version", "Description", "ModulePath", "ReloadCount", NULL } },
  { HKP_PLUGIN_CHANGED_ERROR, { "LastError", NULL } },
  { HKP_PLUGIN_CHANGED_HEALTH, { "Health", "HealthMessage", NULL } },
  { HKP_PLUGIN_CHANGED_CONFIG, { "Config", "ConfigVersion", NULL } },
};

void
bus_plugin_emit_changes (BusService *service, HkpPlugin *plugin, guint what)
{
  g_autofree char *path = bus_plugin_path (plugin);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  int r;

  for (guint i = 0; i < G_N_ELEMENTS (emitted); i++)
    if (what & emitted[i].what)
      for (guint j = 0; emitted[i].properties[j] != NULL; j++)
        g_ptr_array_add (names, (gpointer) emitted[i].properties[j]);
  if (names->len == 0)
    return;
  g_ptr_array_add (names, NULL);
  r = sd_bus_emit_properties_changed_strv (service->bus, path, BUS_PLUGIN_INTERFACE, (char **) names->pdata);
  if (r < 0)
    g_warning ("cannot announce changes of %s: %s", path, g_strerror (-r));
}

/* ---- methods ----------------------------------------------------------- */

/* The plugin's own methods: userdata is the plugin the find callback returned, the slot's the service. */
static int
start_plugin_change (sd_bus_message *message, HkpPlugin *plugin, BusChangeKind kind, const char *json,
                     sd_bus_error *ret_error)
{
  BusService *service = sd_bus_slot_get_userdata (sd_bus_get_current_slot (sd_bus_message_get_bus (message)));

  return bus_change_start (service, message, kind, hkp_plugin_get_name (plugin), json, ret_error);
}

static int
method_reload (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_plugin_change (message, userdata, BUS_CHANGE_RELOAD, NULL, ret_error);
}

static int
method_set_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  const char *json = NULL;
  int r;

  if ((r = sd_bus_message_read (message, "s", &json)) < 0)
    return r;
  return start_plugin_change (message, userdata, BUS_CHANGE_SET_CONFIG, json, ret_error);
}

static int
method_enable (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_plugin_change (message, userdata, BUS_CHANGE_ENABLE, NULL, ret_error);
}

static int
method_disable (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_plugin_change (message, userdata, BUS_CHANGE_DISABLE, NULL, ret_error);
}

static int
method_rollback_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_plugin_change (message, userdata, BUS_CHANGE_ROLLBACK, NULL, ret_error);
}

/* ---- vtable ------------------------------------------------------------ */

const sd_bus_vtable bus_plugin_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Description", "s", property_get_description, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ModulePath", "s", property_get_module_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Health", "s", property_get_health, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("HealthMessage", "s", property_get_health_message, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("LastHealthCheck", "t", property_get_last_health_check, 0, 0),
  SD_BUS_PROPERTY ("ActiveRequests", "u", property_get_active_requests, 0, 0),
  SD_BUS_PROPERTY ("Config", "s", property_get_config, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ConfigVersion", "u", property_get_config_version, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ReloadCount", "u", property_get_reload_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("LastError", "s", property_get_last_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

  SD_BUS_METHOD_WITH_ARGS ("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetConfig", SD_BUS_ARGS ("s", json), SD_BUS_NO_RESULT, method_set_config,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Enable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_enable, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Disable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_disable, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RollbackConfig", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_rollback_config,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END
};
