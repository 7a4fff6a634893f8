/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Checks the plugin file at path as the engine would load it: a regular
 * file, strict JSON, the manager keys; and, if the plugin is enabled, its
 * module (inside plugin_dir, loadable, the right ABI) and its config put to
 * the module's validate_config.  Loads the module into this process where
 * it lies (no copy): for a process that checks and exits, such as
 * hkp-plugind --check-config.  Appends each problem to problems as
 * "FILE: problem" (the problem names the key where there is one); returns
 * TRUE if there was none.
 */
gboolean hkp_config_check_file (const char *plugin_dir, const char *path, GPtrArray *problems);

/*
 * Checks every plugin file (<name>.json) in config_dir with
 * hkp_config_check_file(); a directory that cannot be read is a problem
 * too.  Returns the problems (caller frees; empty if none) and how many
 * files were checked in *n_files (may be NULL).
 */
GPtrArray *hkp_config_check_dir (const char *plugin_dir, const char *config_dir, guint *n_files);

G_END_DECLS
