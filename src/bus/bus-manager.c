/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/* The manager object /org/hkp/PluginManager1: properties, then methods, then the vtable. */

#include "config.h"

#include "bus-private.h"

#include "hkp-error.h"
#include "hkp-status.h"

/* ---- properties -------------------------------------------------------- */

static guint
count_active (HkpEngine *engine)
{
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  guint active = 0;

  for (guint i = 0; i < plugins->len; i++)
    active += hkp_plugin_get_state (plugins->pdata[i]) == HKP_PLUGIN_STATE_ACTIVE;
  return active;
}

static int
property_get_version (sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                      void *userdata, sd_bus_error *ret_error)
{
  return sd_bus_message_append (reply, "s", PACKAGE_VERSION);
}

static int
property_get_directory (sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  const HkpEngineSettings *settings = hkp_engine_get_settings (service->engine);

  return sd_bus_message_append (
    reply, "s", g_str_equal (property, "PluginDirectory") ? settings->plugin_dir : settings->config_dir);
}

static int
property_get_start_timestamp (sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;

  return sd_bus_message_append (reply, "t", (uint64_t) hkp_engine_get_start_time (service->engine));
}

static int
property_get_total_plugins (sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (service->engine);

  return sd_bus_message_append (reply, "u", plugins->len);
}

static int
property_get_active_plugins (sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;

  return sd_bus_message_append (reply, "u", count_active (service->engine));
}

static int
property_get_active_requests (sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (service->engine);
  uint64_t total = 0;

  for (guint i = 0; i < plugins->len; i++)
    total += hkp_plugin_get_active_requests (plugins->pdata[i]);
  return sd_bus_message_append (reply, "t", total);
}

static int
property_get_overall_health (sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;

  return sd_bus_message_append (reply, "s", hkp_status_overall_health (service->engine));
}

static int
property_get_drain_timeout (sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;

  return sd_bus_message_append (
    reply, "t", (uint64_t) (hkp_engine_get_settings (service->engine)->drain_timeout_sec * G_USEC_PER_SEC));
}

void
bus_manager_emit_changes (BusService *service)
{
  guint active = count_active (service->engine);
  const char *overall = hkp_status_overall_health (service->engine);
  const char *changed[3] = { NULL };
  guint n = 0;

  if (active != service->last_active)
    changed[n++] = "ActivePlugins";
  if (overall != service->last_overall)
    changed[n++] = "OverallHealth";
  service->last_active = active;
  service->last_overall = overall;
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

static int
method_get_plugin (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autofree char *path = NULL;
  const char *name;
  HkpPlugin *plugin;
  int r;

  if ((r = sd_bus_message_read (message, "s", &name)) < 0)
    return r;
  if ((plugin = bus_find_plugin (service, name, ret_error)) == NULL)
    return -EINVAL;
  path = bus_plugin_path (plugin);
  return sd_bus_reply_method_return (message, "o", path);
}

static int
method_get_document (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autofree char *json = g_str_equal (sd_bus_message_get_member (message), "GetStatus")
    ? hkp_status_json (service->engine, g_get_real_time ())
    : hkp_status_health_json (service->engine, g_get_real_time ());

  return sd_bus_reply_method_return (message, "s", json);
}

static int
method_get_plugin_config (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  const char *name;
  int r;

  if ((r = sd_bus_message_read (message, "s", &name)) < 0)
    return r;
  if (bus_find_plugin (service, name, ret_error) == NULL)
    return -EINVAL;
  if ((json = hkp_engine_get_config (service->engine, name, &error)) == NULL)
    return bus_error_from_gerror (ret_error, error);
  return sd_bus_reply_method_return (message, "s", json);
}

/* The mutating methods: read and check arguments, then authorize, then ask the engine, then reply. */

static void
on_change_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BusCall *call = user_data;
  g_autoptr (GError) error = NULL;

  hkp_engine_change_finish (HKP_ENGINE (source), result, &error);
  bus_call_finish (call, error);
}

static void
on_reload_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BusCall *call = user_data;
  g_autoptr (GError) error = NULL;

  hkp_engine_reload_finish (HKP_ENGINE (source), result, &error);
  bus_call_finish (call, error);
}

static void
on_rescan_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BusCall *call = user_data;
  g_autoptr (GError) error = NULL;

  hkp_engine_rescan_finish (HKP_ENGINE (source), result, NULL, &error);
  bus_call_finish (call, error);
}

static void
do_reload (BusCall *call)
{
  hkp_engine_reload_async (call->service->engine, call->plugin, on_reload_done, call);
}

/* Who made a change, for the config history. */
static char *
call_who (BusCall *call)
{
  return g_strdup_printf ("uid %u via D-Bus", (unsigned) call->uid);
}

static void
do_set_config (BusCall *call)
{
  g_autofree char *who = call_who (call);

  hkp_engine_set_config_async (call->service->engine, call->plugin, call->json, who, on_change_done, call);
}

static void
do_enable (BusCall *call)
{
  g_autofree char *who = call_who (call);

  hkp_engine_set_enabled_async (call->service->engine, call->plugin, TRUE, who, on_change_done, call);
}

static void
do_disable (BusCall *call)
{
  g_autofree char *who = call_who (call);

  hkp_engine_set_enabled_async (call->service->engine, call->plugin, FALSE, who, on_change_done, call);
}

static void
do_rollback (BusCall *call)
{
  g_autofree char *who = call_who (call);

  hkp_engine_rollback_config_async (call->service->engine, call->plugin, who, on_change_done, call);
}

static void
do_rescan (BusCall *call)
{
  hkp_engine_rescan_async (call->service->engine, on_rescan_done, call);
}

int
bus_start_change (BusService *service, sd_bus_message *message, const char *verb, const char *name, const char *json,
                  sd_bus_error *ret_error)
{
  BusCall *call;

  if (name != NULL && bus_find_plugin (service, name, ret_error) == NULL)
    return -EINVAL;
  call = bus_call_new (service, message, verb, name);
  call->json = g_strdup (json);
  if (g_str_equal (verb, "reload"))
    bus_call_authorize (call, do_reload);
  else if (g_str_equal (verb, "set-config"))
    bus_call_authorize (call, do_set_config);
  else if (g_str_equal (verb, "enable"))
    bus_call_authorize (call, do_enable);
  else if (g_str_equal (verb, "disable"))
    bus_call_authorize (call, do_disable);
  else if (g_str_equal (verb, "rollback-config"))
    bus_call_authorize (call, do_rollback);
  else
    bus_call_authorize (call, do_rescan);
  /* Replied to later, once the outcome is known. */
  return 1;
}

static int
method_plugin_change (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  const char *member = sd_bus_message_get_member (message);
  const char *name = NULL;
  const char *json = NULL;
  int r;

  if (g_str_equal (member, "SetPluginConfig"))
    r = sd_bus_message_read (message, "ss", &name, &json);
  else
    r = sd_bus_message_read (message, "s", &name);
  if (r < 0)
    return r;
  return bus_start_change (userdata, message,
                           g_str_equal (member, "ReloadPlugin")        ? "reload"
                             : g_str_equal (member, "SetPluginConfig") ? "set-config"
                             : g_str_equal (member, "EnablePlugin")    ? "enable"
                                                                       : "disable",
                           name, json, ret_error);
}

static int
method_rescan (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  return bus_start_change (userdata, message, "rescan", NULL, NULL, ret_error);
}

/* ---- vtable ------------------------------------------------------------ */

const sd_bus_vtable bus_manager_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("PluginDirectory", "s", property_get_directory, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ConfigDirectory", "s", property_get_directory, 0, SD_BUS_VTABLE_PROPERTY_CONST),
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
  SD_BUS_METHOD_WITH_ARGS ("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT ("s", json), method_get_document,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetHealth", SD_BUS_NO_ARGS, SD_BUS_RESULT ("s", json), method_get_document,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("ReloadPlugin", SD_BUS_ARGS ("s", name), SD_BUS_NO_RESULT, method_plugin_change,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("GetPluginConfig", SD_BUS_ARGS ("s", name), SD_BUS_RESULT ("s", json),
                           method_get_plugin_config, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("SetPluginConfig", SD_BUS_ARGS ("s", name, "s", json), SD_BUS_NO_RESULT,
                           method_plugin_change, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("EnablePlugin", SD_BUS_ARGS ("s", name), SD_BUS_NO_RESULT, method_plugin_change,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("DisablePlugin", SD_BUS_ARGS ("s", name), SD_BUS_NO_RESULT, method_plugin_change,
                           SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS ("Rescan", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_rescan, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END
};
