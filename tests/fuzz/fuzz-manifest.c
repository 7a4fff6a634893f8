/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the plugin file parser must never crash, leak or accept a manifest that breaks its invariants. */
#include <stdint.h>

#include "hkp-manifest.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) manifest = hkp_manifest_new_from_data ("fuzz", "/fuzz/fuzz.json", (const char *) data, size,
                                                                 &error);

  if (manifest != NULL)
    {
      g_assert_no_error (error);
      g_assert_nonnull (manifest->module);
      g_assert_true (manifest->module[0] != '\0');
      g_assert_nonnull (manifest->config_json);
      g_assert_cmpint (manifest->priority, >=, HKP_PRIORITY_MIN);
      g_assert_cmpint (manifest->priority, <=, HKP_PRIORITY_MAX);
    }
  else
    g_assert_nonnull (error);
  return 0;
}
