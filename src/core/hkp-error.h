/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The one error domain of the engine; front ends map these codes to D-Bus names and HTTP statuses. */
#define HKP_ERROR (hkp_error_quark ())

typedef enum {
  HKP_ERROR_FAILED, /* anything not listed below */
  HKP_ERROR_NO_SUCH_PLUGIN, /* no plugin of that name */
  HKP_ERROR_INVALID_NAME, /* not a valid plugin name */
  HKP_ERROR_INVALID_MANIFEST, /* the plugin's file is unreadable, not JSON or has bad keys */
  HKP_ERROR_INVALID_CONFIG, /* the "config" object was refused */
  HKP_ERROR_DUPLICATE, /* a plugin of that name exists already */
  HKP_ERROR_MODULE, /* the module is missing, outside the plugin directory or not loadable */
  HKP_ERROR_ABI_MISMATCH, /* the module was built for another plugin ABI */
  HKP_ERROR_INIT_FAILED, /* the plugin's init() refused */
  HKP_ERROR_TIMED_OUT, /* a plugin call overran its time bound */
  HKP_ERROR_BUSY, /* another transition of that plugin is running */
  HKP_ERROR_RELOAD_FAILED, /* a reload failed; the previous instance keeps serving */
  HKP_ERROR_DISABLED, /* the plugin is disabled (reload): enable it */
  HKP_ERROR_N_CODES,
} HkpErrorCode;

/* Returns the quark of the HKP_ERROR domain. */
GQuark hkp_error_quark (void);

/* Returns the stable lowercase nick of code ("no-such-plugin"); static string. */
const char *hkp_error_code_to_nick (HkpErrorCode code);

/* Returns the D-Bus error name for code (org.hkp.PluginManager1.Error.*); static string. */
const char *hkp_error_code_to_dbus_name (HkpErrorCode code);

/* Returns the HTTP status for code (404 for no-such-plugin, 409 busy, …). */
guint hkp_error_code_to_http_status (HkpErrorCode code);

G_END_DECLS
