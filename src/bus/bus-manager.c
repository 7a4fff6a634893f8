/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/* The manager object /org/hkp/PluginManager1: properties, then methods, then the vtable. */

#include "config.h"

#include "bus-private.h"

#include "hkp-redact.h"
#include "hkp-status.h"

/* ---- properties -------------------------------------------------------- */

/* Defines the getter func of a manager property of D-Bus type type whose value is expr (of engine). */
#define MANAGER_PROPERTY(func, type, expr) \
  static int func (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply, \
                   void *userdata, sd_bus_error *ret_error) \
  { \
    HkpEngine *engine = ((BusService *) userdata)->engine; \
    return sd_bus_message_append (reply, type, (expr)); \
  }

/* Plugins that serve, by the rule of GET /plugins/status: a plugin in an overlap reload serves on. */
static guint
active_plugins (HkpEngine *engine)
{
  HkpStatusSummary summary;

  hkp_status_summarize (engine, &summary);
  return summary.active;
}

static guint
total_plugins (HkpEngine *engine)
{
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);

  return plugins->len;
}

static uint64_t
active_requests (HkpEngine *engine)
{
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  uint64_t total = 0;

  for (guint i = 0; i < plugins->len; i++)
    total += hkp_plugin_get_active_requests (plugins->pdata[i]);
  return total;
}

static int
property_get_version (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                      void *userdata, sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "s", PACKAGE_VERSION);
}

MANAGER_PROPERTY (property_get_plugin_directory, "s", hkp_engine_get_settings (engine)->plugin_dir)
MANAGER_PROPERTY (property_get_config_directory, "s", hkp_engine_get_settings (engine)->config_dir)
MANAGER_PROPERTY (property_get_start_timestamp, "t", (uint64_t) hkp_engine_get_start_time (engine))
MANAGER_PROPERTY (property_get_total_plugins, "u", total_plugins (engine))
MANAGER_PROPERTY (property_get_active_plugins, "u", active_plugins (engine))
MANAGER_PROPERTY (property_get_active_requests, "t", active_requests (engine))
MANAGER_PROPERTY (property_get_overall_health, "s", hkp_status_overall_health (engine))
MANAGER_PROPERTY (property_get_drain_timeout, "t",
                  (uint64_t) (hkp_engine_get_settings (engine)->drain_timeout_sec *G_USEC_PER_SEC))

void
bus_manager_emit_changes (BusService *service)
{
  HkpStatusSummary summary;
  const char *changed[3] = { NULL };
  guint n = 0;

  hkp_status_summarize (service->engine, &summary);
  if (summary.active != service->last_active)
    changed[n++] = "ActivePlugins";
  if (summary.overall != service->last_overall)
    changed[n++] = "OverallHealth";
  service->last_active = summary.active;
  service->last_overall = summary.overall;
  if (n > 0)
    sd_bus_emit_properties_changed_strv (service->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, (char **) changed);
}

/* ---- methods ----------------------------------------------------------- */

static int
method_list_plugins (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (service->engine);
  int r;

  if ((r = sd_bus_message_new_method_return (message, &reply)) < 0 ||
      (r = sd_bus_message_open_container (reply, 'a', "(sso)")) < 0)
    return r;
  for (guint i = 0; i < plugins->len; i++)
    {
      HkpPlugin *plugin = plugins->pdata[i];
      g_autofree char *path = bus_plugin_path (plugin);
      if ((r = sd_bus_message_append (reply, "(sso)", hkp_plugin_get_name (plugin),
                                      hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)), path)) < 0)
        return r;
    }
  if ((r = sd_bus_message_close_container (reply)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

/* Reads the one plugin name argument of message and finds the plugin; NULL with ret_error set otherwise. */
static HkpPlugin *
read_plugin (BusService *service, sd_bus_message *message, sd_bus_error *ret_error, int *r)
{
  g_autoptr (GError) error = NULL;
  const char *name = NULL;
  HkpPlugin *plugin;

  if ((*r = sd_bus_message_read (message, "s", &name)) < 0)
    return NULL;
  plugin = hkp_engine_find (service->engine, name, &error);
  if (plugin == NULL)
    *r = bus_error_from_gerror (ret_error, error);
  return plugin;
}

static int
method_get_plugin (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  g_autofree char *path = NULL;
  HkpPlugin *plugin;
  int r;

  if ((plugin = read_plugin (userdata, message, ret_error, &r)) == NULL)
    return r;
  path = bus_plugin_path (plugin);
  return sd_bus_reply_method_return (message, "o", path);
}

/*
 * Replies with the JSON of a call any local user may make, or refuses it with
 * LimitsExceeded when the bus would not carry it (a plugin's message and
 * error can each be as long as its file, and there may be many plugins).
 */
static int
reply_json (sd_bus_message *message, const char *json, sd_bus_error *ret_error)
{
  gsize size = strlen (json);

  if (size > BUS_REPLY_MAX)
    {
      g_autofree char *what = g_strdup_printf ("the JSON of %s", sd_bus_message_get_member (message));
      return bus_error_too_large (ret_error, what, size);
    }
  return sd_bus_reply_method_return (message, "s", json);
}

static int
method_get_status (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  g_autofree char *json = hkp_status_json (((BusService *) userdata)->engine, g_get_real_time ());

  return reply_json (message, json, ret_error);
}

static int
method_get_health (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  g_autofree char *json = hkp_status_health_json (((BusService *) userdata)->engine, g_get_real_time ());

  return reply_json (message, json, ret_error);
}

static int
method_get_plugin_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL, *redacted = NULL;
  HkpPlugin *plugin;
  int r;

  if ((plugin = read_plugin (service, message, ret_error, &r)) == NULL)
    return r;
  if ((json = hkp_engine_get_config (service->engine, hkp_plugin_get_name (plugin), &error)) == NULL)
    return bus_error_from_gerror (ret_error, error);
  redacted = hkp_redact_config_json (json);
  return sd_bus_reply_method_return (message, "s", redacted);
}

/* The manager's mutating methods take the plugin's name first; the change table does the rest. */
static int
start_named_change (sd_bus_message *message, BusService *service, BusChangeKind kind, sd_bus_error *ret_error)
{
  const char *name = NULL;
  int r;

  if ((r = sd_bus_message_read (message, "s", &name)) < 0)
    return r;
  return bus_change_start (service, message, kind, name, NULL, ret_error);
}

static int
method_reload_plugin (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_named_change (message, userdata, BUS_CHANGE_RELOAD, ret_error);
}

static int
method_set_plugin_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  const char *name = NULL, *json = NULL;
  int r;

  if ((r = sd_bus_message_read (message, "ss", &name, &json)) < 0)
    return r;
  return bus_change_start (userdata, message, BUS_CHANGE_SET_CONFIG, name, json, ret_error);
}

static int
method_enable_plugin (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_named_change (message, userdata, BUS_CHANGE_ENABLE, ret_error);
}

static int
method_disable_plugin (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return start_named_change (message, userdata, BUS_CHANGE_DISABLE, ret_error);
}

static int
method_rescan (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return bus_change_start (userdata, message, BUS_CHANGE_RESCAN, NULL, NULL, ret_error);
}

/* ---- vtable ------------------------------------------------------------ */

const sd_bus_vtable bus_manager_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("PluginDirectory", "s", property_get_plugin_directory, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ConfigDirectory", "s", property_get_config_directory, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("StartTimestamp", "t", property_get_start_timestamp, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("TotalPlugins", "u", property_get_total_plugins, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ActivePlugins", "u", property_get_active_plugins, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ActiveRequests", "t", property_get_active_requests, 0, 0),
  SD_BUS_PROPERTY ("OverallHealth", "s", property_get_overall_health, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DrainTimeoutUSec", "t", property_get_drain_timeout, 0, SD_BUS_VTABLE_PROPERTY_CONST),

  SD_BUS_METHOD_WITH_ARGS ("ListPlugins", SD_BUS_NO_ARGS, SD_BUS_RESULT ("a(sso)", plugins), method_list_plugins,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetPlugin", SD_BUS_ARGS ("s", name), SD_BUS_RESULT ("o", path), method_get_plugin,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT ("s", json), method_get_status,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetHealth", SD_BUS_NO_ARGS, SD_BUS_RESULT ("s", json), method_get_health,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ReloadPlugin", SD_BUS_ARGS ("s", name), SD_BUS_NO_RESULT, method_reload_plugin,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetPluginConfig", SD_BUS_ARGS ("s", name), SD_BUS_RESULT ("s", json),
                           method_get_plugin_config, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetPluginConfig", SD_BUS_ARGS ("s", name, "s", json), SD_BUS_NO_RESULT,
                           method_set_plugin_config, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("EnablePlugin", SD_BUS_ARGS ("s", name), SD_BUS_NO_RESULT, method_enable_plugin,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("DisablePlugin", SD_BUS_ARGS ("s", name), SD_BUS_NO_RESULT, method_disable_plugin,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Rescan", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_rescan, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END
};
