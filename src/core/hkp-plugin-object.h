/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "hkp-instance.h"
#include "hkp-manifest.h"
#include "hkp-plugin-state.h"

G_BEGIN_DECLS

/*
 * One declared plugin as the engine keeps it: its file, manifest, state,
 * last error and current instance.  Lives on the main thread; signals are
 * emitted there.  Signals: "state-changed" (guint old_state, guint new_state).
 */
#define HKP_TYPE_PLUGIN (hkp_plugin_get_type ())
G_DECLARE_FINAL_TYPE (HkpPlugin, hkp_plugin, HKP, PLUGIN, GObject)

/* Returns the plugin's name, owned by plugin. */
const char *hkp_plugin_get_name (HkpPlugin *plugin);

/* Returns the path of the plugin's file, owned by plugin. */
const char *hkp_plugin_get_file (HkpPlugin *plugin);

/* Returns the plugin's state. */
HkpPluginState hkp_plugin_get_state (HkpPlugin *plugin);

/* Returns the last error ("" if none), owned by plugin. */
const char *hkp_plugin_get_last_error (HkpPlugin *plugin);

/* Returns the current manifest (NULL if the file could not be parsed), owned by plugin. */
HkpManifest *hkp_plugin_get_manifest (HkpPlugin *plugin);

/* Returns the priority used for ordering (the manifest's, or after every valid one if none). */
gint hkp_plugin_get_priority (HkpPlugin *plugin);

/* Returns the loaded module's version ("" until loaded), owned by plugin. */
const char *hkp_plugin_get_version (HkpPlugin *plugin);

/* Returns the loaded module's description ("" until loaded), owned by plugin. */
const char *hkp_plugin_get_description (HkpPlugin *plugin);

/* Returns the canonical path of the loaded module ("" until loaded), owned by plugin. */
const char *hkp_plugin_get_module_path (HkpPlugin *plugin);

/* Returns the current instance (NULL unless loaded), owned by plugin. */
HkpInstance *hkp_plugin_get_instance (HkpPlugin *plugin);

/* Orders two plugins by priority, then name (a GCompareFunc over HkpPlugin **). */
gint hkp_plugin_compare (gconstpointer a, gconstpointer b);

G_END_DECLS
