/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-error.h"

G_DEFINE_QUARK (hkp - error - quark, hkp_error)

#define DBUS_ERROR_PREFIX "org.hkp.PluginManager1.Error."

/* The one table: each code's nick, D-Bus error name and HTTP status. */
static const struct {
  const char *nick;
  const char *dbus_name;
  guint http_status;
} error_table[] = {
  [HKP_ERROR_FAILED] = { "failed", DBUS_ERROR_PREFIX "Failed", 500 },
  [HKP_ERROR_NO_SUCH_PLUGIN] = { "no-such-plugin", DBUS_ERROR_PREFIX "NoSuchPlugin", 404 },
  [HKP_ERROR_INVALID_NAME] = { "invalid-name", "org.freedesktop.DBus.Error.InvalidArgs", 400 },
  [HKP_ERROR_INVALID_MANIFEST] = { "invalid-manifest", DBUS_ERROR_PREFIX "Failed", 500 },
  [HKP_ERROR_INVALID_CONFIG] = { "invalid-config", DBUS_ERROR_PREFIX "InvalidConfig", 422 },
  [HKP_ERROR_DUPLICATE] = { "duplicate", DBUS_ERROR_PREFIX "Failed", 409 },
  [HKP_ERROR_MODULE] = { "module", DBUS_ERROR_PREFIX "Failed", 500 },
  [HKP_ERROR_ABI_MISMATCH] = { "abi-mismatch", DBUS_ERROR_PREFIX "Failed", 500 },
  [HKP_ERROR_INIT_FAILED] = { "init-failed", DBUS_ERROR_PREFIX "Failed", 500 },
  [HKP_ERROR_TIMED_OUT] = { "timed-out", DBUS_ERROR_PREFIX "Failed", 504 },
  [HKP_ERROR_BUSY] = { "busy", DBUS_ERROR_PREFIX "Busy", 409 },
  [HKP_ERROR_RELOAD_FAILED] = { "reload-failed", DBUS_ERROR_PREFIX "ReloadFailed", 500 },
  [HKP_ERROR_DISABLED] = { "disabled", DBUS_ERROR_PREFIX "Disabled", 409 },
};
G_STATIC_ASSERT (G_N_ELEMENTS (error_table) == HKP_ERROR_N_CODES);

static HkpErrorCode
known (HkpErrorCode code)
{
  return (guint) code < HKP_ERROR_N_CODES && error_table[code].nick != NULL ? code : HKP_ERROR_FAILED;
}

const char *
hkp_error_code_to_nick (HkpErrorCode code)
{
  return error_table[known (code)].nick;
}

const char *
hkp_error_code_to_dbus_name (HkpErrorCode code)
{
  return error_table[known (code)].dbus_name;
}

guint
hkp_error_code_to_http_status (HkpErrorCode code)
{
  return error_table[known (code)].http_status;
}
