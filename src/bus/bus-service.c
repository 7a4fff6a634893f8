/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-bus"

/* The D-Bus connection, its objects and name, and the glue shared by the manager and plugin objects. */

#include "bus-private.h"

#include <errno.h>
#include <unistd.h>

#include "bus-source.h"
#include "hkp-error.h"

/* ---- engine events ----------------------------------------------------- */

static void
on_plugin_added (HkpEngine *engine, HkpPlugin *plugin, BusService *service)
{
  g_autofree char *path = bus_plugin_path (plugin);
  int r;

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

  sd_bus_emit_interfaces_removed (service->bus, path, BUS_PLUGIN_INTERFACE, NULL);
  sd_bus_emit_properties_changed (service->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "TotalPlugins", NULL);
  bus_manager_emit_changes (service);
}

static void
on_plugin_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, BusService *service)
{
  bus_plugin_emit_changes (service, plugin, what);
  if (what & (HKP_PLUGIN_CHANGED_STATE | HKP_PLUGIN_CHANGED_HEALTH))
    bus_manager_emit_changes (service);
}

/* ---- replies the bus would not carry --------------------------------------- */

/*
 * Messages queued for the bus past which calls are refused.  dbus-daemon
 * counts the replies a client has not read against the daemon, and stops
 * reading from the daemon once they pass its max_incoming_bytes: a local
 * user who asks and never reads freezes the daemon's side of the bus (not
 * its checks), and each call answered meanwhile would wait in memory.
 */
#define WRITE_BACKLOG_MAX 64

/* How often the daemon says that it refuses calls for that, at most. */
#define BACKLOG_WARNING_USEC (10 * G_USEC_PER_SEC)

/* Refuses a method call while the bus is not taking what the daemon sends; TRUE if it did (r set). */
static gboolean
refuse_while_backlogged (BusService *service, sd_bus_message *message, int *r)
{
  uint64_t queued = 0;
  gint64 now;

  if (!sd_bus_message_is_method_call (message, NULL, NULL) || sd_bus_get_n_queued_write (service->bus, &queued) < 0 ||
      queued <= WRITE_BACKLOG_MAX)
    return FALSE;
  now = g_get_monotonic_time ();
  if (service->backlog_warned == 0 || now - service->backlog_warned >= BACKLOG_WARNING_USEC)
    {
      service->backlog_warned = now;
      g_warning ("%" G_GUINT64_FORMAT " messages wait for the bus to take them: calls are refused until it does "
                 "(a client that does not read its replies can hold up the daemon's)",
                 queued);
    }
  *r = sd_bus_reply_method_errorf (
    message, SD_BUS_ERROR_LIMITS_EXCEEDED,
    "the bus is not taking the daemon's replies (%" G_GUINT64_FORMAT " wait): try again later", queued);
  return TRUE;
}

/* Refuses a GetManagedObjects whose reply would be too large for the bus; TRUE if it did (r set). */
static gboolean
refuse_objects_too_large (BusService *service, sd_bus_message *message, int *r)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (GPtrArray) plugins = NULL;
  g_autofree char *what = NULL;
  gsize size = 0;

  if (!sd_bus_message_is_method_call (message, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"))
    return FALSE;
  plugins = hkp_engine_list_plugins (service->engine);
  for (guint i = 0; i < plugins->len; i++)
    size += bus_plugin_properties_size (plugins->pdata[i]);
  if (size <= BUS_REPLY_MAX)
    return FALSE;
  what = g_strdup_printf ("the properties of the %u plugins", plugins->len);
  bus_error_too_large (&error, what, size);
  *r = sd_bus_reply_method_error (message, &error);
  return TRUE;
}

int
bus_error_too_large (sd_bus_error *error, const char *what, gsize size)
{
  return sd_bus_error_setf (error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                            "the reply would be too large for the bus: %s (about %zu MiB, more than %u MiB); "
                            "read each plugin's properties with Get or GetAll (ListPlugins names their objects)",
                            what, (size + (1u << 20) - 1) >> 20, BUS_REPLY_MAX >> 20);
}

/*
 * Every incoming message, before sd-bus dispatches it, from any local user:
 * refuses what the bus would not carry, or not take now.  Returns 1 when it
 * answered, 0 to let sd-bus go on.
 */
static int
on_incoming (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  BusService *service = userdata;
  int r = 0;

  if (!refuse_while_backlogged (service, message, &r) && !refuse_objects_too_large (service, message, &r))
    return 0;
  return r < 0 ? r : 1;
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
      (r = sd_bus_add_object_manager (service->bus, &service->slots[3], BUS_MANAGER_PATH)) < 0 ||
      (r = sd_bus_add_filter (service->bus, &service->slots[4], on_incoming, service)) < 0)
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
  service->engine_handlers[2] = g_signal_connect (engine, "plugin-changed", G_CALLBACK (on_plugin_changed), service);
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
      bus_calls_drop (service);
      g_hash_table_unref (service->pending_calls);
    }
  g_clear_object (&service->engine);
  g_free (service->bus_label);
  g_free (service);
}
