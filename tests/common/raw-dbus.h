/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * D-Bus messages written byte by byte, for what no client library will
 * send: invalid object paths, member and interface names, a body that is
 * not what its signature says.
 */

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RAW_DBUS_BAD_PATH, /* "/org//hkp" */
  RAW_DBUS_PATH_TRAILING_SLASH, /* "/org/hkp/PluginManager1/" */
  RAW_DBUS_PATH_BAD_CHARACTER, /* "/org/hkp-plugin" */
  RAW_DBUS_BAD_MEMBER, /* "1Reload" */
  RAW_DBUS_BAD_INTERFACE, /* "org..hkp" */
  RAW_DBUS_SHORT_BODY, /* signature "ss", one string */
  RAW_DBUS_BAD_UTF8, /* a string argument that is not UTF-8 */
  RAW_DBUS_N_PROBLEMS,
} RawDbusProblem;

/*
 * Connects to the bus at address (unix:path=…), authenticates, says Hello,
 * and sends destination a method call with problem; then waits (at most 2 s)
 * for the bus to hang up, as it does on a message it cannot accept.
 * Returns TRUE once sent, FALSE with an error if the bus could not be
 * reached or refused us before.  *hung_up says whether the bus hung up.
 */
gboolean raw_dbus_send_invalid (const char *address, const char *destination, RawDbusProblem problem, gboolean *hung_up,
                                GError **error);

G_END_DECLS
