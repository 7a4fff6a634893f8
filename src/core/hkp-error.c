/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-error.h"

G_DEFINE_QUARK (hkp-error-quark, hkp_error)

static const char *const error_nicks[] = {
  [HKP_ERROR_FAILED] = "failed",
  [HKP_ERROR_NO_SUCH_PLUGIN] = "no-such-plugin",
  [HKP_ERROR_INVALID_NAME] = "invalid-name",
  [HKP_ERROR_INVALID_MANIFEST] = "invalid-manifest",
  [HKP_ERROR_INVALID_CONFIG] = "invalid-config",
  [HKP_ERROR_DUPLICATE] = "duplicate",
  [HKP_ERROR_MODULE] = "module",
  [HKP_ERROR_ABI_MISMATCH] = "abi-mismatch",
  [HKP_ERROR_INIT_FAILED] = "init-failed",
  [HKP_ERROR_TIMED_OUT] = "timed-out",
  [HKP_ERROR_BUSY] = "busy",
  [HKP_ERROR_RELOAD_FAILED] = "reload-failed",
};
G_STATIC_ASSERT (G_N_ELEMENTS (error_nicks) == HKP_ERROR_N_CODES);

const char *
hkp_error_code_to_nick (HkpErrorCode code)
{
  if ((guint) code >= HKP_ERROR_N_CODES || error_nicks[code] == NULL)
    return "failed";
  return error_nicks[code];
}
