/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Logs, once per change and whatever front end it came through, who asked
 * for it and how it ended: "reload of plugin alpha by uid 0 via D-Bus: done".
 * verb names the change ("reload", "config change", "rescan"), plugin may be
 * NULL, who says who asked ("uid 1000 via D-Bus", "HTTP from 192.0.2.1 with
 * the token"); error is NULL when the change was done.
 */
void hkp_audit_change (const char *verb, const char *plugin, const char *who, const GError *error);

G_END_DECLS
