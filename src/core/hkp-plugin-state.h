/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The six plugin states of the reference. */
typedef enum {
  HKP_PLUGIN_STATE_LOADING,
  HKP_PLUGIN_STATE_ACTIVE,
  HKP_PLUGIN_STATE_RELOADING,
  HKP_PLUGIN_STATE_UNLOADING,
  HKP_PLUGIN_STATE_FAILED,
  HKP_PLUGIN_STATE_DISABLED,
  HKP_PLUGIN_N_STATES,
} HkpPluginState;

/* Returns the lowercase name of state ("active"); static string. */
const char *hkp_plugin_state_to_string (HkpPluginState state);

G_END_DECLS
