/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "hkp-host.h"
#include "hkp-module.h"
#include "hkp-watchdog.h"

G_BEGIN_DECLS

/*
 * One initialised plugin instance: in the daemon, the module it runs from
 * and the handle init() returned; isolated, the plugin host it runs in.  Atomically reference-counted.  shutdown() is called by
 * hkp_instance_shutdown() only, exactly once; dropping the last reference
 * of an instance that was not shut down leaks the plugin's handle on purpose
 * rather than calling plugin code from an arbitrary thread.
 */
typedef struct _HkpInstance HkpInstance;

/*
 * Creates an instance: validate_config (if the module has it), then init,
 * with config_json.  Runs plugin code: call it off the main thread.  Returns
 * a new instance or NULL with HKP_ERROR_INVALID_CONFIG or
 * HKP_ERROR_INIT_FAILED carrying the plugin's own message.
 */
HkpInstance *hkp_instance_new (HkpModule *module, const char *plugin_name, const char *config_json, GError **error);

/*
 * Makes an instance of the plugin host (its reference taken) that runs it,
 * loaded from copy_path, a private copy of the module the instance deletes
 * when it goes; display_path is the file the admin named.  Returns a new
 * instance.
 */
HkpInstance *hkp_instance_new_isolated (HkpHost *host, const char *plugin_name, const char *copy_path,
                                        const char *display_path);

/* Returns the host an isolated instance runs in (owned by instance), or NULL for one in the daemon. */
HkpHost *hkp_instance_get_host (HkpInstance *instance);

/* Returns the private module copy an isolated instance was loaded from (to start it again), or NULL. */
const char *hkp_instance_get_copy_path (HkpInstance *instance);

/* Return the module's version, description and the path it was loaded from (valid UTF-8), owned by instance. */
const char *hkp_instance_get_version (HkpInstance *instance);
const char *hkp_instance_get_description (HkpInstance *instance);
const char *hkp_instance_get_module_path (HkpInstance *instance);

/*
 * Calls the plugin's shutdown() once (an isolated instance: stops its host,
 * timeout_ms at most); later calls do nothing.  Blocks: call it off the main
 * thread.
 */
void hkp_instance_shutdown_within (HkpInstance *instance, guint timeout_ms);

/* Calls the plugin's shutdown() once; later calls do nothing.  Runs plugin code: call it off the main thread. */
void hkp_instance_shutdown (HkpInstance *instance);

/* Returns a new reference to instance. */
HkpInstance *hkp_instance_ref (HkpInstance *instance);

/* Drops a reference; the last one releases the module reference. */
void hkp_instance_unref (HkpInstance *instance);

/* Returns the module the instance runs from (NULL if isolated), owned by instance. */
HkpModule *hkp_instance_get_module (HkpInstance *instance);

/* Returns the plugin's own handle from init(), for calls into the plugin. */
void *hkp_instance_get_handle (HkpInstance *instance);

/* Returns TRUE once hkp_instance_shutdown() has begun. */
gboolean hkp_instance_is_shut_down (HkpInstance *instance);

/* Returns the queue that times the calls into instance, made on first use, watched by watchdog (any thread). */
HkpTimedQueue *hkp_instance_get_call_deadlines (HkpInstance *instance, HkpWatchdog *watchdog);

/* Adds delta (+1 or -1) to the calls stuck in instance (past their deadline and its grace); returns the count now. */
guint hkp_instance_add_stuck (HkpInstance *instance, gint delta);

/* Returns how many calls are stuck in instance now. */
guint hkp_instance_get_stuck (HkpInstance *instance);

/* Marks a health() call of instance as begun: FALSE if one is in flight already (the ABI allows one at a time). */
gboolean hkp_instance_begin_health (HkpInstance *instance);

/* Marks instance's health() call as over (any thread). */
void hkp_instance_end_health (HkpInstance *instance);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpInstance, hkp_instance_unref)

G_END_DECLS
