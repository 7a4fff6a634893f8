/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/*
 * The plugin objects /org/hkp/PluginManager1/plugin/<encoded name>, served
 * by a fallback vtable whose find callback decodes the path, a node
 * enumerator, and PropertiesChanged that follow the engine's plugin-changed.
 */

#include "bus-private.h"

#include <string.h>

#include "hkp-error.h"
#include "hkp-redact.h"

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

/* The config as any local user may read it: secrets redacted; "null" while the file does not parse. */
static int
property_get_config (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                     void *userdata, sd_bus_error *ret_error)
{
  HkpManifest *manifest = hkp_plugin_get_manifest (userdata);

  return sd_bus_message_append (reply, "s", manifest != NULL ? hkp_manifest_get_shown_config (manifest) : "null");
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
PLUGIN_PROPERTY (property_get_config_version, "u", hkp_plugin_get_config_version (plugin))
PLUGIN_PROPERTY (property_get_reload_count, "u", hkp_plugin_get_reload_count (plugin))
PLUGIN_PROPERTY (property_get_last_error, "s", hkp_plugin_get_last_error (plugin))
PLUGIN_PROPERTY (property_get_draining_requests, "u", hkp_plugin_get_draining_requests (plugin))
PLUGIN_PROPERTY (property_get_host_pid, "u", (uint32_t) hkp_plugin_get_host_pid (plugin))

/* The manager's keys as the plugin file sets them, or their defaults while the file does not parse. */
static const HkpManifest *
manifest_or_defaults (HkpPlugin *plugin)
{
  static const HkpManifest defaults = {
    .priority = HKP_PRIORITY_DEFAULT,
    .reload_strategy = HKP_RELOAD_OVERLAP,
    .failure_mode = HKP_FAILURE_CLOSED,
    .isolation = HKP_ISOLATION_PROCESS,
    .call_timeout_ms = HKP_CALL_TIMEOUT_DEFAULT_MS,
  };
  HkpManifest *manifest = hkp_plugin_get_manifest (plugin);

  return manifest != NULL ? manifest : &defaults;
}

PLUGIN_PROPERTY (property_get_priority, "i", (int32_t) manifest_or_defaults (plugin)->priority)
PLUGIN_PROPERTY (property_get_reload_strategy, "s",
                 hkp_reload_strategy_to_string (manifest_or_defaults (plugin)->reload_strategy))
PLUGIN_PROPERTY (property_get_failure_mode, "s",
                 hkp_failure_mode_to_string (manifest_or_defaults (plugin)->failure_mode))
PLUGIN_PROPERTY (property_get_isolation, "s", hkp_isolation_to_string (manifest_or_defaults (plugin)->isolation))
PLUGIN_PROPERTY (property_get_required, "b", (int) manifest_or_defaults (plugin)->required)
PLUGIN_PROPERTY (property_get_drain_timeout, "t", (uint64_t) (hkp_plugin_get_drain_timeout (plugin) * G_USEC_PER_SEC))
PLUGIN_PROPERTY (property_get_call_timeout, "t", (uint64_t) manifest_or_defaults (plugin)->call_timeout_ms * 1000)
PLUGIN_PROPERTY (property_get_health_interval, "t",
                 (uint64_t) (hkp_plugin_get_health_interval (plugin) * G_USEC_PER_SEC))

/* The properties each kind of change touches, for PropertiesChanged. */
static const struct {
  HkpPluginChange what;
  const char *const properties[9];
} emitted[] = {
  /* A new state may come with a new module or reload count. */
  { HKP_PLUGIN_CHANGED_STATE, { "State", "Version", "Description", "ModulePath", "ReloadCount", "HostPID", NULL } },
  { HKP_PLUGIN_CHANGED_ERROR, { "LastError", NULL } },
  { HKP_PLUGIN_CHANGED_HEALTH, { "Health", "HealthMessage", NULL } },
  { HKP_PLUGIN_CHANGED_CONFIG, { "Config", "ConfigVersion", NULL } },
  { HKP_PLUGIN_CHANGED_MANAGER,
    { "Priority", "ReloadStrategy", "FailureMode", "Isolation", "Required", "DrainTimeoutUSec", "CallTimeoutUSec",
      "HealthIntervalUSec", NULL } },
  { HKP_PLUGIN_CHANGED_DRAINING, { "DrainingRequests", NULL } },
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

/* What a plugin's properties take in a message, beyond their strings: names, signatures, numbers, padding. */
#define PROPERTIES_FIXED_SIZE 4096

static gsize
text_size (const char *text)
{
  return text != NULL ? strlen (text) + 1 : 0;
}

gsize
bus_plugin_properties_size (HkpPlugin *plugin)
{
  HkpManifest *manifest = hkp_plugin_get_manifest (plugin);

  return PROPERTIES_FIXED_SIZE + text_size (hkp_plugin_get_name (plugin)) +
    text_size (hkp_plugin_get_version (plugin)) + text_size (hkp_plugin_get_description (plugin)) +
    text_size (hkp_plugin_get_module_path (plugin)) + text_size (hkp_plugin_get_health (plugin)->message) +
    text_size (hkp_plugin_get_last_error (plugin)) +
    text_size (manifest != NULL ? hkp_manifest_get_shown_config (manifest) : NULL);
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

static int
method_restore_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = sd_bus_slot_get_userdata (sd_bus_get_current_slot (sd_bus_message_get_bus (message)));
  uint32_t version = 0;
  int r;

  if ((r = sd_bus_message_read (message, "u", &version)) < 0)
    return r;
  return bus_change_start_version (service, message, BUS_CHANGE_RESTORE, hkp_plugin_get_name (userdata), NULL, version,
                                   ret_error);
}

static int
method_get_secret_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_plugin_change (message, userdata, BUS_CHANGE_GET_SECRET, NULL, ret_error);
}

/* Every kept version, newest first: when, which, who, and the config (redacted). */
static int
method_get_config_history (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = sd_bus_slot_get_userdata (sd_bus_get_current_slot (sd_bus_message_get_bus (message)));
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autoptr (GError) error = NULL;
  int r;

  history = hkp_engine_get_config_history (service->engine, hkp_plugin_get_name (userdata), &error);
  if (history == NULL)
    return bus_error_from_gerror (ret_error, error);
  if ((r = sd_bus_message_new_method_return (message, &reply)) < 0 ||
      (r = sd_bus_message_open_container (reply, 'a', "(tuss)")) < 0)
    return r;
  for (guint i = 0; i < history->len; i++)
    {
      const HkpConfigVersion *version = history->pdata[i];
      if ((r = sd_bus_message_append (reply, "(tuss)", (uint64_t) version->time_usec, (uint32_t) version->version,
                                      version->who, version->config)) < 0)
        return r;
    }
  if ((r = sd_bus_message_close_container (reply)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
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
  SD_BUS_PROPERTY ("Priority", "i", property_get_priority, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ReloadStrategy", "s", property_get_reload_strategy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("FailureMode", "s", property_get_failure_mode, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Isolation", "s", property_get_isolation, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Required", "b", property_get_required, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DrainTimeoutUSec", "t", property_get_drain_timeout, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("CallTimeoutUSec", "t", property_get_call_timeout, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("HealthIntervalUSec", "t", property_get_health_interval, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("HostPID", "u", property_get_host_pid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DrainingRequests", "u", property_get_draining_requests, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

  SD_BUS_METHOD_WITH_ARGS ("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetConfig", SD_BUS_ARGS ("s", json), SD_BUS_NO_RESULT, method_set_config,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Enable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_enable, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Disable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_disable, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RollbackConfig", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_rollback_config,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("RestoreConfig", SD_BUS_ARGS ("u", version), SD_BUS_NO_RESULT, method_restore_config,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetConfigHistory", SD_BUS_NO_ARGS, SD_BUS_RESULT ("a(tuss)", history),
                           method_get_config_history, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetSecretConfig", SD_BUS_NO_ARGS, SD_BUS_RESULT ("s", json), method_get_secret_config,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END
};
