/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* The structured-log field that names the plugin a message is about. */
#define HKP_LOG_FIELD_PLUGIN "PLUGIN"
/* The plugin's new state, on state changes. */
#define HKP_LOG_FIELD_PLUGIN_STATE "PLUGIN_STATE"
/* The outcome of a change or a decision: done, failed, allowed, denied, … */
#define HKP_LOG_FIELD_RESULT "RESULT"
/* Who asked for a change: "uid 1000 via D-Bus", "HTTP from 192.0.2.1 with the token". */
#define HKP_LOG_FIELD_WHO "WHO"

/* journald MESSAGE_IDs, one per kind of event (journalctl MESSAGE_ID=…). */
#define HKP_MESSAGE_ID_STATE_CHANGED "bfc8182636434ac6bfbe083511cb9243"
#define HKP_MESSAGE_ID_HEALTH_CHANGED "a14418147fa34e748903b9b0d011bea7"
#define HKP_MESSAGE_ID_CONFIG_CHANGED "6f6d20a02ce7432c9d8b27720ea83c71"
#define HKP_MESSAGE_ID_REQUEST_OUTCOME "0afeab9eef664377b2ab160ed18745f8"
#define HKP_MESSAGE_ID_AUTHORIZATION "0695d423522746cbab5cc291637d9d22"

/* Logs a printf-style message about plugin @name with a PLUGIN= field, at @level. */
#define hkp_log_plugin(level, name, ...) \
  g_log_structured (G_LOG_DOMAIN, (level), HKP_LOG_FIELD_PLUGIN, (name), "MESSAGE", __VA_ARGS__)
