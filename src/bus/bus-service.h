/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hkp-engine.h"

G_BEGIN_DECLS

#define BUS_SERVICE_NAME "org.hkp.PluginManager1"
#define BUS_MANAGER_PATH "/org/hkp/PluginManager1"
#define BUS_MANAGER_INTERFACE "org.hkp.PluginManager1.Manager"
#define BUS_PLUGIN_PREFIX "/org/hkp/PluginManager1/plugin"
#define BUS_PLUGIN_INTERFACE "org.hkp.PluginManager1.Plugin"

/* The D-Bus front end of one engine. */
typedef struct _BusService BusService;

/* Called on the main context when the bus connection is lost; message names the bus. */
typedef void (*BusServiceLost) (const char *message, gpointer user_data);

/*
 * Connects to bus ("system", "session" or a D-Bus address), publishes the
 * manager and plugin objects of engine on the calling thread's main context,
 * and owns org.hkp.PluginManager1.  With use_polkit every mutating call is
 * authorized by polkit; without it, only the daemon's own uid may make one.
 * Returns the service, or NULL with an error naming the bus.
 */
BusService *bus_service_new (HkpEngine *engine, const char *bus, gboolean use_polkit, BusServiceLost lost,
                             gpointer user_data, GError **error);

/* Releases the name, removes the objects and closes the connection. */
void bus_service_free (BusService *service);

/* Returns the unique name of the service's connection, owned by service. */
const char *bus_service_get_unique_name (BusService *service);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BusService, bus_service_free)

G_END_DECLS
