/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the bus files share: the service struct, the change table and its calls, and error mapping. */

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
  GHashTable *pending_calls; /* BusCall not answered yet (freed with the service) */
  gulong engine_handlers[3];
  guint last_active; /* manager properties last announced */
  const char *last_overall;
  BusServiceLost lost;
  gpointer lost_data;
  gint64 backlog_warned; /* when calls were last said to be refused for a backlog (monotonic µs), or 0 */
};

/*
 * The most one reply carries of what grows with the plugins (their
 * properties in GetManagedObjects, the health JSON): dbus-daemon drops a
 * connection that sends a message past its max_message_size (32 MiB unless
 * configured otherwise), and the daemon goes with it.
 */
#define BUS_REPLY_MAX (24u << 20)

typedef struct _BusCall BusCall;

/*
 * One mutating call, whichever D-Bus member asks for it: its name in the
 * journal, the polkit action that guards it, and the engine operation that
 * runs it once the caller is allowed (start calls the engine with
 * bus_call_done as its callback; finish is the engine's finish function;
 * a call answered at once, with no finish, replies from start itself).
 */
typedef struct {
  const char *verb;
  const char *action;
  void (*start) (BusCall *call);
  gboolean (*finish) (HkpEngine *engine, GAsyncResult *result, GError **error);
} BusChange;

/* The change table: one entry per mutating call (bus-change.c). */
typedef enum {
  BUS_CHANGE_RELOAD,
  BUS_CHANGE_SET_CONFIG,
  BUS_CHANGE_ENABLE,
  BUS_CHANGE_DISABLE,
  BUS_CHANGE_ROLLBACK,
  BUS_CHANGE_RESCAN,
  BUS_CHANGE_RESTORE,
  BUS_CHANGE_GET_SECRET,
  BUS_N_CHANGES,
} BusChangeKind;

extern const BusChange bus_changes[BUS_N_CHANGES];

/* A mutating method call that replies once the engine knows the outcome. */
struct _BusCall {
  BusService *service;
  sd_bus_message *message;
  const BusChange *change;
  char *plugin; /* the plugin concerned, or NULL (Rescan) */
  char *json; /* SetConfig's argument */
  guint version; /* RestoreConfig's argument */
  uid_t uid; /* the caller, once the bus said */
  char *who; /* "uid 1000 via D-Bus", once the uid is known */
  gboolean interactive; /* the caller allows interactive authorization */
};

/*
 * Starts the change kind asked by message about plugin name (NULL for none),
 * with json for SetConfig: checks the name, authorizes the caller, runs the
 * change in the engine and replies when the outcome is known.  Returns what a
 * method handler returns.
 */
int bus_change_start (BusService *service, sd_bus_message *message, BusChangeKind kind, const char *name,
                      const char *json, sd_bus_error *ret_error);

/* Like bus_change_start(), with RestoreConfig's version. */
int bus_change_start_version (BusService *service, sd_bus_message *message, BusChangeKind kind, const char *name,
                              const char *json, guint version, sd_bus_error *ret_error);

/* Replies to call with value (or error), logs who asked and the outcome, and frees the call. */
void bus_call_reply_string (BusCall *call, const char *value, const GError *error);

/* The engine callback of every change: finishes it, replies, logs who asked and the outcome, frees the call. */
void bus_call_done (GObject *source, GAsyncResult *result, gpointer user_data);

/* Refuses call with the D-Bus error name and message, logs the refusal with why, and frees it. */
void bus_call_refuse (BusCall *call, const char *error_name, const char *why);

/* Runs call's change: the caller is allowed. */
void bus_call_run (BusCall *call);

/* Frees every call still waiting for the bus or polkit (at exit: nothing will call back). */
void bus_calls_drop (BusService *service);

/* Sets ret_error from a GError (names from the error table) and returns the negative errno sd-bus wants. */
int bus_error_from_gerror (sd_bus_error *ret_error, const GError *error);

/* Returns the object path of plugin (caller frees). */
char *bus_plugin_path (HkpPlugin *plugin);

/* The vtables and their registration. */
extern const sd_bus_vtable bus_manager_vtable[];
extern const sd_bus_vtable bus_plugin_vtable[];
int bus_plugin_find (sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *ret_error);
int bus_plugin_enumerate (sd_bus *bus, const char *prefix, void *userdata, char ***nodes, sd_bus_error *ret_error);

/*
 * Sets error to LimitsExceeded: the reply of what (its size in bytes) would
 * pass BUS_REPLY_MAX.  Returns the negative errno sd-bus wants.
 */
int bus_error_too_large (sd_bus_error *error, const char *what, gsize size);

/* Returns about how many bytes plugin's properties take in a message (at least as many as they do). */
gsize bus_plugin_properties_size (HkpPlugin *plugin);

/* Announces the plugin properties that what (HkpPluginChange flags) says changed. */
void bus_plugin_emit_changes (BusService *service, HkpPlugin *plugin, guint what);

/* Announces manager properties whose values changed since last time. */
void bus_manager_emit_changes (BusService *service);

G_END_DECLS
