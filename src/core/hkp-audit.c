/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-audit.h"

#include "hkp-error.h"
#include "hkp-log.h"

void
hkp_audit_change (const char *verb, const char *plugin, const char *who, const GError *error)
{
  g_autofree char *what = plugin != NULL ? g_strdup_printf ("%s of plugin %s", verb, plugin) : g_strdup (verb);
  g_autofree char *message = error == NULL ? g_strdup_printf ("%s by %s: done", what, who)
                                           : g_strdup_printf ("%s by %s failed: %s", what, who, error->message);
  HkpErrorCode code = error == NULL || error->domain != HKP_ERROR ? HKP_ERROR_FAILED : (HkpErrorCode) error->code;
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", error == NULL ? "5" : "4", -1 },
    { "MESSAGE", message, -1 },
    { "MESSAGE_ID", HKP_MESSAGE_ID_REQUEST_OUTCOME, -1 },
    { HKP_LOG_FIELD_RESULT, error == NULL ? "done" : hkp_error_code_to_nick (code), -1 },
    { HKP_LOG_FIELD_WHO, who, -1 },
    { HKP_LOG_FIELD_PLUGIN, plugin, -1 }, /* last: left out when there is no plugin */
  };

  g_log_structured_array (error == NULL ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING, fields,
                          G_N_ELEMENTS (fields) - (plugin == NULL));
}
