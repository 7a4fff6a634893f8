/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The structured-log field that names the plugin a message is about. */
#define HKP_LOG_FIELD_PLUGIN "PLUGIN"

/* Logs a printf-style message about plugin @name with a PLUGIN= field, at @level. */
#define hkp_log_plugin(level, name, ...) \
  g_log_structured (G_LOG_DOMAIN, (level), HKP_LOG_FIELD_PLUGIN, (name), "MESSAGE", __VA_ARGS__)
