/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A private dbus-daemon per test, started as the test's child and waited for. */

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  GSubprocess *process;
  char *dir; /* holds the config and the socket; readable by every uid */
  char *address;
} HkpTestBus;

/*
 * Starts a bus.  permissive: anyone may own and call anything.  Otherwise the
 * real system-bus defaults (deny own, deny method calls) plus every policy
 * file in the directories of policy_dirs (NULL-terminated; may be NULL).
 */
HkpTestBus *hkp_test_bus_start (gboolean permissive, const char *const *policy_dirs);

/* Stops the bus, waits for it, and removes its directory. */
void hkp_test_bus_stop (HkpTestBus *bus);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpTestBus, hkp_test_bus_stop)

G_END_DECLS
