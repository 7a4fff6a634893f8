/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The engine's side of HkpPlugin: only the engine changes a plugin. */

#include "hkp-plugin-object.h"

G_BEGIN_DECLS

/* Creates a plugin in state loading; returns a new reference. */
HkpPlugin *hkp_plugin_new (const char *name, const char *file);

/* Replaces the manifest (NULL allowed); takes a reference of its own. */
void hkp_plugin_set_manifest (HkpPlugin *plugin, HkpManifest *manifest);

/* Sets the state and last error (NULL keeps it, "" clears it), logs, and emits state-changed if the state changed. */
void hkp_plugin_set_state (HkpPlugin *plugin, HkpPluginState state, const char *error);

/* Installs instance (NULL allowed) and takes the module facts from it; returns the previous instance (transfer full). */
HkpInstance *hkp_plugin_swap_instance (HkpPlugin *plugin, HkpInstance *instance);

G_END_DECLS
