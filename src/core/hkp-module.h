/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "hkp-plugin.h"

G_BEGIN_DECLS

/*
 * A loaded plugin module: a private copy of the module file, opened with
 * RTLD_LOCAL, whose descriptor has passed the ABI checks.  Atomically
 * reference-counted; the last unref closes the module and deletes the copy,
 * so it must not happen while a call into the module is running.
 */
typedef struct _HkpModule HkpModule;

/*
 * Resolves module (as written in a plugin file) against plugin_dir and
 * returns the canonical path of a regular file inside plugin_dir (caller
 * frees), or NULL with HKP_ERROR_MODULE if it is missing, names '..', or
 * lies (or links) outside the directory.
 */
char *hkp_module_resolve (const char *plugin_dir, const char *module, GError **error);

/*
 * Copies the module file at path into copy_dir under a fresh name (serial
 * makes it unique within the process), opens the copy and checks its
 * descriptor: ABI version and size first, then the required fields.  Runs
 * the module's constructors, so call it off the main thread.  Returns a new
 * module or NULL with HKP_ERROR_MODULE or HKP_ERROR_ABI_MISMATCH.  With
 * copy_dir NULL the file is opened where it is (a process that loads each
 * module once, such as --check-config).
 */
HkpModule *hkp_module_open (const char *path, const char *copy_dir, guint64 serial, GError **error);

/*
 * Puts config_json to the module's validate_config, if it has one.  Runs
 * plugin code: call it off the main thread.  FALSE with
 * HKP_ERROR_INVALID_CONFIG "config rejected: <the plugin's reason>".
 */
gboolean hkp_module_validate_config (HkpModule *module, const char *config_json, GError **error);

/*
 * Copies the module file at path into copy_dir under a name never used
 * before (serial makes it unique within the process), for a loader that
 * caches by path; returns the copy's path (caller frees and deletes the
 * file), or NULL with HKP_ERROR_MODULE.
 */
char *hkp_module_copy_file (const char *path, const char *copy_dir, guint64 serial, GError **error);

/*
 * Gives copy, a module copy made by hkp_module_copy_file() in copy_dir,
 * another name there never used before: a hard link, which needs no disk
 * space, or a copy where linking fails.  Returns the new path (caller
 * frees and deletes the file), or NULL with HKP_ERROR_MODULE.
 */
char *hkp_module_link_copy (const char *copy, const char *copy_dir, guint64 serial, GError **error);

/* Returns a new reference to module. */
HkpModule *hkp_module_ref (HkpModule *module);

/* Drops a reference; the last one closes the module and deletes its copy. */
void hkp_module_unref (HkpModule *module);

/* Returns the module's descriptor, valid while module is referenced. */
const hkp_plugin_descriptor *hkp_module_get_descriptor (HkpModule *module);

/* Returns the path the module was loaded from (not the copy), owned by module. */
const char *hkp_module_get_path (HkpModule *module);

/* Returns the descriptor's version as valid UTF-8, owned by module. */
const char *hkp_module_get_version (HkpModule *module);

/* Returns the descriptor's description as valid UTF-8, owned by module. */
const char *hkp_module_get_description (HkpModule *module);

/* Returns the descriptor's module name as valid UTF-8, owned by module. */
const char *hkp_module_get_name (HkpModule *module);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpModule, hkp_module_unref)

G_END_DECLS
