/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the bus files share: the service struct, calls that reply late, and error mapping. */

#include <systemd/sd-bus.h>

#include "bus-service.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)

struct _BusService {
  sd_bus *bus;
  char *bus_label; /* "the system bus (unix:path=…)", for messages */
  HkpEngine *engine;
  gboolean use_polkit;
  uid_t own_uid;
  GSource *source;
  sd_bus_slot *slots[5];
  GHashTable *plugin_handlers; /* HkpPlugin → PluginHandlers */
  GHashTable *pending_calls; /* BusCall not answered yet (freed with the service) */
  gulong engine_handlers[2];
  guint last_active; /* manager properties last announced */
  const char *last_overall;
  BusServiceLost lost;
  gpointer lost_data;
};

/* A method call that replies once the engine knows the outcome. */
typedef struct _BusCall {
  BusService *service;
  sd_bus_message *message;
  char *plugin; /* the plugin concerned, or NULL (Rescan) */
  char *json; /* SetConfig's argument */
  const char *verb; /* "reload", "set-config", … for the journal */
  uid_t uid;
  void (*allowed) (struct _BusCall *call); /* what to run once authorized */
  const char *action; /* the polkit action asked about */
  gboolean interactive; /* the caller allows interactive authorization */
} BusCall;

/* Starts a call for message (referenced) about plugin (may be NULL). */
BusCall *bus_call_new (BusService *service, sd_bus_message *message, const char *verb, const char *plugin);

/* Replies with success, or with error mapped to our D-Bus error names, logs who asked and the outcome, and frees call. */
void bus_call_finish (BusCall *call, const GError *error);

/* Frees call without replying (the message was answered already). */
void bus_call_free (BusCall *call);

/* Runs the engine operation of call once the caller is allowed to change things (replies AccessDenied otherwise). */
void bus_call_authorize (BusCall *call, void (*allowed) (BusCall *call));

/* Sets ret_error from a GError (HKP_ERROR codes to our names) and returns the negative errno sd-bus wants. */
int bus_error_from_gerror (sd_bus_error *ret_error, const GError *error);

/* Looks up a plugin by name for a method call: NULL with InvalidArgs or NoSuchPlugin set in ret_error. */
HkpPlugin *bus_find_plugin (BusService *service, const char *name, sd_bus_error *ret_error);

/* Returns the object path of plugin (caller frees). */
char *bus_plugin_path (HkpPlugin *plugin);

/* The vtables and their registration. */
extern const sd_bus_vtable bus_manager_vtable[];
extern const sd_bus_vtable bus_plugin_vtable[];
int bus_plugin_find (sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *ret_error);
int bus_plugin_enumerate (sd_bus *bus, const char *prefix, void *userdata, char ***nodes, sd_bus_error *ret_error);

/* Follows a plugin's events with PropertiesChanged; stops when it is removed. */
void bus_plugin_watch (BusService *service, HkpPlugin *plugin);
void bus_plugin_unwatch (BusService *service, HkpPlugin *plugin);

/*
 * Starts a mutating call (verb: reload, set-config, enable, disable,
 * rollback-config, rescan) about plugin name (NULL for rescan): checks the
 * name, authorizes the caller, runs it in the engine and replies when the
 * outcome is known.  Returns what a method handler returns.
 */
int bus_start_change (BusService *service, sd_bus_message *message, const char *verb, const char *name,
                      const char *json, sd_bus_error *ret_error);

/* Announces manager properties whose values changed since last time. */
void bus_manager_emit_changes (BusService *service);

G_END_DECLS
