/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/* The D-Bus connection, its objects and name, and the glue shared by the manager and plugin objects. */

#include "bus-private.h"

#include <errno.h>
#include <unistd.h>

#include "bus-polkit.h"
#include "bus-source.h"
#include "hkp-error.h"
#include "hkp-log.h"

/* ---- errors and lookups ------------------------------------------------- */

int
bus_error_from_gerror (sd_bus_error *ret_error, const GError *error)
{
  const char *name = error->domain == HKP_ERROR ? hkp_error_code_to_dbus_name ((HkpErrorCode) error->code)
                                                : "org.hkp.PluginManager1.Error.Failed";

  return sd_bus_error_set (ret_error, name, error->message);
}

HkpPlugin *
bus_find_plugin (BusService *service, const char *name, sd_bus_error *ret_error)
{
  HkpPlugin *plugin = hkp_engine_lookup (service->engine, name);

  if (plugin != NULL)
    return plugin;
  if (!hkp_plugin_name_is_valid (name))
    sd_bus_error_setf (ret_error, SD_BUS_ERROR_INVALID_ARGS,
                       "\"%s\" is not a plugin name: names are 1 to 64 of a-z, 0-9, '_' and '-'", name);
  else
    sd_bus_error_setf (ret_error, "org.hkp.PluginManager1.Error.NoSuchPlugin", "no plugin named \"%s\"", name);
  return NULL;
}

char *
bus_plugin_path (HkpPlugin *plugin)
{
  char *path = NULL;

  if (sd_bus_path_encode (BUS_PLUGIN_PREFIX, hkp_plugin_get_name (plugin), &path) < 0)
    g_error ("out of memory");
  return path;
}

/* ---- calls that reply late --------------------------------------------- */

BusCall *
bus_call_new (BusService *service, sd_bus_message *message, const char *verb, const char *plugin)
{
  BusCall *call = g_new0 (BusCall, 1);

  call->service = service;
  call->message = sd_bus_message_ref (message);
  call->verb = verb;
  call->plugin = g_strdup (plugin);
  call->uid = (uid_t) -1;
  g_hash_table_add (service->pending_calls, call);
  return call;
}

static void
call_free (BusCall *call)
{
  sd_bus_message_unref (call->message);
  g_free (call->plugin);
  g_free (call->json);
  g_free (call);
}

void
bus_call_free (BusCall *call)
{
  g_hash_table_remove (call->service->pending_calls, call);
  call_free (call);
}

void
bus_call_finish (BusCall *call, const GError *error)
{
  const char *sender = sd_bus_message_get_sender (call->message);
  int r;

  if (error == NULL)
    r = sd_bus_reply_method_return (call->message, NULL);
  else
    {
      __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error bus_error = SD_BUS_ERROR_NULL;
      bus_error_from_gerror (&bus_error, error);
      r = sd_bus_reply_method_error (call->message, &bus_error);
    }
  if (r < 0 && r != -ENOTCONN)
    g_warning ("cannot reply to %s: %s", sender, g_strerror (-r));
  g_log_structured (
    G_LOG_DOMAIN, error == NULL ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN,
    call->plugin != NULL ? call->plugin : "", "MESSAGE_ID", HKP_MESSAGE_ID_REQUEST_OUTCOME, HKP_LOG_FIELD_RESULT,
    error == NULL ? "done"
                  : hkp_error_code_to_nick (error->domain == HKP_ERROR ? (HkpErrorCode) error->code : HKP_ERROR_FAILED),
    "MESSAGE", "D-Bus %s%s%s by %s (uid %d): %s", call->verb, call->plugin != NULL ? " of " : "",
    call->plugin != NULL ? call->plugin : "", sender != NULL ? sender : "?", (int) call->uid,
    error == NULL ? "done" : error->message);
  bus_call_free (call);
}

static int
on_caller_uid (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  BusCall *call = userdata;
  uint32_t uid = 0;

  if (sd_bus_message_is_method_error (reply, NULL) || sd_bus_message_read (reply, "u", &uid) < 0)
    {
      g_autoptr (GError) error = g_error_new (HKP_ERROR, HKP_ERROR_FAILED, "could not identify the caller");
      bus_call_finish (call, error);
      return 0;
    }
  call->uid = uid;
  if (call->service->use_polkit)
    {
      bus_polkit_check (call);
      return 0;
    }
  if (uid != call->service->own_uid)
    {
      int r = sd_bus_reply_method_errorf (call->message, SD_BUS_ERROR_ACCESS_DENIED,
                                          "only uid %u may change plugins (running with --no-polkit)",
                                          (unsigned) call->service->own_uid);
      if (r < 0)
        g_warning ("cannot reply: %s", g_strerror (-r));
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, call->plugin ? call->plugin : "",
                        "MESSAGE_ID", HKP_MESSAGE_ID_AUTHORIZATION, HKP_LOG_FIELD_RESULT, "denied", "MESSAGE",
                        "D-Bus %s%s%s by uid %u refused: only uid %u may change plugins (--no-polkit)", call->verb,
                        call->plugin ? " of " : "", call->plugin ? call->plugin : "", uid,
                        (unsigned) call->service->own_uid);
      bus_call_free (call);
      return 0;
    }
  call->allowed (call);
  return 0;
}

void
bus_call_authorize (BusCall *call, void (*allowed) (BusCall *call))
{
  int r;

  call->allowed = allowed;
  /* Ask the bus who the sender is without blocking the loop; nothing has changed yet.  The call
   * itself is the callback's data: if the service goes first, it frees the pending calls. */
  r = sd_bus_call_method_async (call->service->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "GetConnectionUnixUser", on_caller_uid, call, "s",
                                sd_bus_message_get_sender (call->message));
  if (r < 0)
    {
      g_autoptr (GError) error = g_error_new (HKP_ERROR, HKP_ERROR_FAILED, "could not identify the caller: %s",
                                              g_strerror (-r));
      bus_call_finish (call, error);
    }
}

/* ---- engine events ----------------------------------------------------- */

static void
on_plugin_added (HkpEngine *engine, HkpPlugin *plugin, BusService *service)
{
  g_autofree char *path = bus_plugin_path (plugin);
  int r;

  bus_plugin_watch (service, plugin);
  r = sd_bus_emit_interfaces_added (service->bus, path, BUS_PLUGIN_INTERFACE, NULL);
  if (r < 0)
    g_warning ("cannot announce %s: %s", path, g_strerror (-r));
  sd_bus_emit_properties_changed (service->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "TotalPlugins", NULL);
  bus_manager_emit_changes (service);
}

static void
on_plugin_removed (HkpEngine *engine, HkpPlugin *plugin, BusService *service)
{
  g_autofree char *path = bus_plugin_path (plugin);

  bus_plugin_unwatch (service, plugin);
  sd_bus_emit_interfaces_removed (service->bus, path, BUS_PLUGIN_INTERFACE, NULL);
  sd_bus_emit_properties_changed (service->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "TotalPlugins", NULL);
  bus_manager_emit_changes (service);
}

/* ---- connection -------------------------------------------------------- */

static void
on_bus_failed (int error, gpointer user_data)
{
  BusService *service = user_data;
  g_autofree char *message = g_strdup_printf ("lost the connection to %s: %s", service->bus_label, g_strerror (error));

  if (service->lost != NULL)
    service->lost (message, service->lost_data);
}

/* Opens the connection: returns 0 or a negative errno; label names the bus and the address tried. */
static int
open_bus (const char *bus, sd_bus **ret, char **label)
{
  g_autoptr (sd_bus) connection = NULL;
  const char *env;
  int r;

  if (g_str_equal (bus, "system"))
    {
      env = g_getenv ("DBUS_SYSTEM_BUS_ADDRESS");
      *label = g_strdup_printf ("the system bus (%s)", env != NULL ? env : "unix:path=/run/dbus/system_bus_socket");
      r = sd_bus_open_system (&connection);
    }
  else if (g_str_equal (bus, "session"))
    {
      env = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
      *label = g_strdup_printf ("the session bus (%s)", env != NULL ? env : "$XDG_RUNTIME_DIR/bus");
      r = sd_bus_open_user (&connection);
    }
  else
    {
      *label = g_strdup_printf ("the bus at %s", bus);
      r = sd_bus_new (&connection);
      if (r >= 0)
        r = sd_bus_set_address (connection, bus);
      /* Without this there is no Hello, no unique name and no way to own a name. */
      if (r >= 0)
        r = sd_bus_set_bus_client (connection, 1);
      if (r >= 0)
        r = sd_bus_start (connection);
    }
  if (r >= 0)
    *ret = g_steal_pointer (&connection);
  return r;
}

BusService *
bus_service_new (HkpEngine *engine, const char *bus, gboolean use_polkit, BusServiceLost lost, gpointer user_data,
                 GError **error)
{
  g_autoptr (BusService) service = g_new0 (BusService, 1);
  int r;

  service->engine = g_object_ref (engine);
  service->use_polkit = use_polkit;
  service->own_uid = getuid ();
  service->lost = lost;
  service->lost_data = user_data;
  service->plugin_handlers = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  service->pending_calls = g_hash_table_new (g_direct_hash, g_direct_equal);
  service->last_overall = "";

  r = open_bus (bus, &service->bus, &service->bus_label);
  if (r < 0)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot connect to %s: %s", service->bus_label, g_strerror (-r));
      return NULL;
    }
  if ((r = sd_bus_add_object_vtable (service->bus, &service->slots[0], BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE,
                                     bus_manager_vtable, service)) < 0 ||
      (r = sd_bus_add_fallback_vtable (service->bus, &service->slots[1], BUS_PLUGIN_PREFIX, BUS_PLUGIN_INTERFACE,
                                       bus_plugin_vtable, bus_plugin_find, service)) < 0 ||
      (r = sd_bus_add_node_enumerator (service->bus, &service->slots[2], BUS_PLUGIN_PREFIX, bus_plugin_enumerate,
                                       service)) < 0 ||
      (r = sd_bus_add_object_manager (service->bus, &service->slots[3], BUS_MANAGER_PATH)) < 0)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot publish objects on %s: %s", service->bus_label,
                   g_strerror (-r));
      return NULL;
    }
  r = sd_bus_request_name (service->bus, BUS_SERVICE_NAME, 0);
  if (r < 0)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot own the name %s on %s: %s", BUS_SERVICE_NAME,
                   service->bus_label, r == -EEXIST ? "another process owns it" : g_strerror (-r));
      return NULL;
    }

  service->engine_handlers[0] = g_signal_connect (engine, "plugin-added", G_CALLBACK (on_plugin_added), service);
  service->engine_handlers[1] = g_signal_connect (engine, "plugin-removed", G_CALLBACK (on_plugin_removed), service);
  {
    g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
    for (guint i = 0; i < plugins->len; i++)
      bus_plugin_watch (service, plugins->pdata[i]);
  }
  service->source = bus_source_new (service->bus, on_bus_failed, service);
  g_source_attach (service->source, NULL);
  g_message ("serving %s on %s as %s", BUS_SERVICE_NAME, service->bus_label, bus_service_get_unique_name (service));
  return g_steal_pointer (&service);
}

const char *
bus_service_get_unique_name (BusService *service)
{
  const char *name = NULL;

  sd_bus_get_unique_name (service->bus, &name);
  return name;
}

void
bus_service_free (BusService *service)
{
  if (service == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (service->engine_handlers); i++)
    if (service->engine_handlers[i] != 0)
      g_signal_handler_disconnect (service->engine, service->engine_handlers[i]);
  if (service->plugin_handlers != NULL)
    {
      g_autoptr (GList) plugins = g_hash_table_get_keys (service->plugin_handlers);
      for (GList *l = plugins; l != NULL; l = l->next)
        bus_plugin_unwatch (service, l->data);
      g_hash_table_unref (service->plugin_handlers);
    }
  if (service->source != NULL)
    {
      g_source_destroy (service->source);
      g_source_unref (service->source);
    }
  for (guint i = 0; i < G_N_ELEMENTS (service->slots); i++)
    sd_bus_slot_unref (service->slots[i]);
  if (service->bus != NULL)
    {
      sd_bus_flush (service->bus);
      sd_bus_close_unref (service->bus);
    }
  /* Calls still waiting for polkit or the bus: with the connection gone, nothing will call back. */
  if (service->pending_calls != NULL)
    {
      g_autoptr (GList) calls = g_hash_table_get_keys (service->pending_calls);
      if (calls != NULL)
        g_info ("dropping %u unanswered D-Bus calls at exit", g_list_length (calls));
      for (GList *l = calls; l != NULL; l = l->next)
        call_free (l->data);
      g_hash_table_unref (service->pending_calls);
    }
  g_clear_object (&service->engine);
  g_free (service->bus_label);
  g_free (service);
}
