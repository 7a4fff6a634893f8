/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The connection to hkp-plugind, calls that wait for their outcome, and errors said plainly. */

#include "ctl.h"

G_BEGIN_DECLS

/* Returns the bus (owned by ctl), opening it on first use: system bus, --address or -H; NULL after a message. */
sd_bus *ctl_bus_get (Ctl *ctl);

/* Returns the object path of plugin name (caller frees). */
char *ctl_plugin_path (const char *name);

/* Makes a call of member on plugin name's object (interface Plugin); NULL after a message if it cannot. */
sd_bus_message *ctl_plugin_call_new (Ctl *ctl, const char *name, const char *member);

/*
 * Sends call and waits for the reply with no time limit, starting the polkit
 * agent first if it may be needed (change: TRUE).  For a change of plugin
 * (may be NULL) on a terminal, shows "doing: draining N requests…" from its
 * DrainingRequests and State while it waits.  Returns the reply (caller
 * unrefs), or NULL with error set (an error reply, or a local failure).
 */
sd_bus_message *ctl_call (Ctl *ctl, sd_bus_message *call, gboolean change, const char *plugin, const char *doing,
                          sd_bus_error *error);

/*
 * Prints "Failed to <what>: <explanation>" for error (with a hint where one
 * helps; plugin may be NULL) and returns the exit status it means:
 * CTL_EXIT_NO_SUCH_PLUGIN for an unknown plugin, else CTL_EXIT_FAILURE.
 */
int ctl_report_error (Ctl *ctl, const char *what, const char *plugin, const sd_bus_error *error);

G_END_DECLS
