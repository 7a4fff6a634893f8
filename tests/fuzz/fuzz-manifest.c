/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the plugin file parser and its checks of every manager key
 * (hkp_manifest_new_from_data()).  It never crashes or leaks; its
 * refusals are valid UTF-8; what it accepts keeps every key within its
 * bounds; and a file whose config is
 * written back (as SetConfig writes it, hkp_config_replace_in_file())
 * reads again as the same manifest, manager keys and config alike.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz-common.h"
#include "hkp-config-store.h"
#include "hkp-manifest.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
assert_timeout (gdouble seconds)
{
  g_assert_true (seconds >= 0 && seconds <= HKP_TIMEOUT_MAX_SEC);
}

static void
assert_sane (const HkpManifest *manifest)
{
  g_assert_nonnull (manifest->module);
  g_assert_true (manifest->module[0] != '\0');
  g_assert_nonnull (manifest->config);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (manifest->config));
  g_assert_nonnull (manifest->config_json);
  g_assert_cmpint (manifest->priority, >=, HKP_PRIORITY_MIN);
  g_assert_cmpint (manifest->priority, <=, HKP_PRIORITY_MAX);
  g_assert_true (manifest->reload_strategy == HKP_RELOAD_OVERLAP || manifest->reload_strategy == HKP_RELOAD_EXCLUSIVE);
  g_assert_true (manifest->failure_mode == HKP_FAILURE_CLOSED || manifest->failure_mode == HKP_FAILURE_OPEN);
  g_assert_true (manifest->isolation == HKP_ISOLATION_PROCESS || manifest->isolation == HKP_ISOLATION_NONE);
  assert_timeout (manifest->drain_timeout_sec);
  assert_timeout (manifest->init_timeout_sec);
  assert_timeout (manifest->health_interval_sec);
  g_assert_cmpuint (manifest->call_timeout_ms, <=, HKP_CALL_TIMEOUT_MAX_MS);
  g_assert_cmpuint (manifest->memory_max_mb, <=, HKP_MEMORY_MAX_MAX_MB);
  g_assert_true (hkp_manifest_manager_keys_equal (manifest, manifest));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) manifest = NULL;
  g_autoptr (HkpManifest) again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *rewritten = NULL;

  fuzz_quiet_logs ();
  manifest = hkp_manifest_new_from_data ("fuzz", "/fuzz/fuzz.json", (const char *) data, size, &error);
  if (manifest == NULL)
    {
      g_assert_nonnull (error);
      /* It becomes a plugin's LastError, a D-Bus property: UTF-8 only. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  g_assert_no_error (error);
  assert_sane (manifest);

  /* The file with its config put back as SetConfig writes it means what it meant. */
  text = g_strndup ((const char *) data, size);
  g_assert_cmpuint (strlen (text), ==, size); /* strict JSON holds no raw NUL */
  rewritten = hkp_config_replace_in_file (text, manifest->config, &error);
  g_assert_no_error (error);
  again = hkp_manifest_new_from_data ("fuzz", "/fuzz/fuzz.json", rewritten, strlen (rewritten), &error);
  g_assert_no_error (error);
  g_assert_true (hkp_manifest_manager_keys_equal (manifest, again));
  g_assert_cmpstr (manifest->config_json, ==, again->config_json);
  g_assert_cmpint (manifest->enabled, ==, again->enabled);
  return 0;
}
