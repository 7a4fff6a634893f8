/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An sd-bus client for tests against hkp-plugind on a private bus. */

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define HKP_TEST_SERVICE "org.hkp.PluginManager1"
#define HKP_TEST_MANAGER_PATH "/org/hkp/PluginManager1"
#define HKP_TEST_MANAGER "org.hkp.PluginManager1.Manager"
#define HKP_TEST_PLUGIN "org.hkp.PluginManager1.Plugin"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

/* Connects a client to the bus at address (fails the test otherwise). */
sd_bus *hkp_test_client_new (const char *address);

/* Returns the object path of plugin name (caller frees). */
char *hkp_test_plugin_path (const char *name);

/* Reads a string property (fails the test on error); caller frees. */
char *hkp_test_get_string (sd_bus *client, const char *path, const char *interface, const char *property);

/* Reads a 'u' or 't' property (fails the test on error). */
guint64 hkp_test_get_uint (sd_bus *client, const char *path, const char *interface, const char *property, char type);

/*
 * Calls member with no argument, one string, or two strings (arg, arg2 NULL
 * as needed).  Returns NULL on success (the reply in *reply_out if given), or
 * "ErrorName: message" (caller frees).
 */
char *hkp_test_call (sd_bus *client, const char *path, const char *interface, const char *member, const char *arg,
                     const char *arg2, sd_bus_message **reply_out);

/* Asserts error (freed) is the D-Bus error name with message_part in its message. */
void hkp_test_assert_error (char *error, const char *name, const char *message_part);

/* Reads one string from reply (caller frees). */
char *hkp_test_reply_string (sd_bus_message *reply);

/*
 * Runs busctl --address=address args… as uid (also its gid, no other groups), through setpriv.
 * Returns TRUE if it succeeded; its output goes to *out and *err (freed first, caller frees).
 */
gboolean hkp_test_busctl_as (const char *address, gint uid, const char *const *args, char **out, char **err);

G_END_DECLS
