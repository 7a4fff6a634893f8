/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: SetConfig's whole text path in a real engine,
 * hkp_engine_set_config_async(): the strict JSON of the new config, its
 * "enabled", a "[redacted]" secret kept from the stored config, the config
 * put back into the plugin file, that file read again as a manifest, and
 * the plugin's own validate_config.  The input is the plugin's name (a
 * line: "rl" runs the shipped ratelimit, "ans" a test plugin holding
 * secrets; anything else is refused) and the config, up to a NUL as over
 * D-Bus.  The engine's state directory cannot keep a history, so a change
 * that passes every check stops there ("nothing changed") and the same
 * engine serves every input.  Nothing crashes or leaks; every refusal is
 * valid UTF-8 (it is a D-Bus reply); text the strict parser refuses is
 * refused as InvalidConfig; and nothing changes.
 */
#define _GNU_SOURCE /* nftw flags */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "hkp-engine.h"
#include "hkp-error.h"
#include "hkp-json.h"
#include "hkp-manifest.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *const plugin_files[][2] = {
  { "rl",
    "{\"module\": \"ratelimit.so\", \"isolation\": \"none\", \"config\": "
    "{\"enabled\": true, \"lookup\": {\"requests_per_second\": 10, \"burst\": 20}}}" },
  { "ans",
    "{\"module\": \"answer.so\", \"isolation\": \"none\", \"priority\": 5, \"config\": "
    "{\"verdict\": \"allow\", \"password\": \"hunter2\", \"nested\": {\"api_key\": \"k\", \"n\": [1, 2.5]}}}" },
};

/* What the engine holds, made once for the whole run: a fuzzer calls the target millions of times. */
typedef struct {
  char *root;
  HkpEngine *engine;
  char *files[G_N_ELEMENTS (plugin_files)];
  char *texts[G_N_ELEMENTS (plugin_files)];
} Bench;

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static Bench *bench_get (void);

static void
copy_module (const char *from_dir, const char *name, const char *to_dir)
{
  g_autofree char *from = g_build_filename (from_dir, name, NULL);
  g_autofree char *to = g_build_filename (to_dir, name, NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (from, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (to, contents, (gssize) length, NULL));
}

static int
remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

/* At exit: the engine's tree goes (its module copies are mapped still, which unlinking does not mind). */
static void
remove_root (void)
{
  Bench *bench = bench_get ();

  nftw (bench->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static Bench *
bench_get (void)
{
  static Bench *bench = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *plugin_dir = NULL, *config_dir = NULL, *state_dir = NULL, *history = NULL;
  HkpEngineSettings settings = { 0 };

  if (bench != NULL)
    return bench;
  bench = g_new0 (Bench, 1);
  bench->root = g_dir_make_tmp ("hkp-fuzz-XXXXXX", &error);
  g_assert_no_error (error);
  atexit (remove_root);
  plugin_dir = g_build_filename (bench->root, "plugins", NULL);
  config_dir = g_build_filename (bench->root, "plugins.d", NULL);
  state_dir = g_build_filename (bench->root, "state", NULL);
  history = g_build_filename (state_dir, "history", NULL);
  g_assert_cmpint (g_mkdir (plugin_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (config_dir, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (state_dir, 0700), ==, 0);
  /* A file where the history's directory would go: no version can be saved, so no change goes further. */
  g_assert_true (g_file_set_contents (history, "", 0, NULL));
  copy_module (FUZZ_SHIPPED_PLUGIN_DIR, "ratelimit.so", plugin_dir);
  copy_module (FUZZ_TEST_PLUGIN_DIR, "answer.so", plugin_dir);
  for (guint i = 0; i < G_N_ELEMENTS (plugin_files); i++)
    {
      g_autofree char *file = g_strdup_printf ("%s.json", plugin_files[i][0]);
      bench->files[i] = g_build_filename (config_dir, file, NULL);
      bench->texts[i] = g_strdup (plugin_files[i][1]);
      g_assert_true (g_file_set_contents (bench->files[i], plugin_files[i][1], -1, NULL));
    }

  settings.plugin_dir = plugin_dir;
  settings.config_dir = config_dir;
  settings.state_dir = state_dir;
  settings.health_interval_sec = HKP_TIMEOUT_MAX_SEC;
  bench->engine = hkp_engine_new (&settings, &error);
  g_assert_no_error (error);
  hkp_engine_load_async (bench->engine, store_result, &result);
  wait_for (&result);
  g_assert_true (hkp_engine_load_finish (bench->engine, result, &error));
  for (guint i = 0; i < G_N_ELEMENTS (plugin_files); i++)
    g_assert_cmpint (hkp_plugin_get_state (hkp_engine_lookup (bench->engine, plugin_files[i][0])), ==,
                     HKP_PLUGIN_STATE_ACTIVE);
  return bench;
}

/* Nothing changed: each plugin is active with its first config, version and file. */
static void
assert_unchanged (Bench *bench, const guint *versions, char **configs)
{
  for (guint i = 0; i < G_N_ELEMENTS (plugin_files); i++)
    {
      HkpPlugin *plugin = hkp_engine_lookup (bench->engine, plugin_files[i][0]);
      g_autofree char *config = hkp_engine_get_config (bench->engine, plugin_files[i][0], NULL);
      g_autofree char *text = NULL;

      g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
      g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, versions[i]);
      g_assert_cmpstr (config, ==, configs[i]);
      g_assert_true (g_file_get_contents (bench->files[i], &text, NULL, NULL));
      g_assert_cmpstr (text, ==, bench->texts[i]);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Bench *bench;
  FuzzFields fields;
  g_autofree char *name = NULL;
  g_autofree char *json = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) strict_error = NULL;
  g_autoptr (JsonNode) strict = NULL;
  guint versions[G_N_ELEMENTS (plugin_files)];
  char *configs[G_N_ELEMENTS (plugin_files)] = { NULL };
  const char *rest;
  gsize rest_length;

  fuzz_quiet_logs ();
  bench = bench_get ();
  fuzz_fields_init (&fields, data, size);
  name = fuzz_fields_take (&fields);
  rest = fuzz_fields_rest (&fields, &rest_length);
  if (name == NULL)
    return 0;
  /* A D-Bus string ends at the first NUL. */
  json = g_strndup (rest, rest_length);
  for (guint i = 0; i < G_N_ELEMENTS (plugin_files); i++)
    {
      versions[i] = hkp_plugin_get_config_version (hkp_engine_lookup (bench->engine, plugin_files[i][0]));
      configs[i] = hkp_engine_get_config (bench->engine, plugin_files[i][0], NULL);
    }

  hkp_engine_set_config_async (bench->engine, name, json, "fuzz", store_result, &result);
  wait_for (&result);
  g_assert_false (hkp_engine_change_finish (bench->engine, result, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == HKP_ERROR);
  /* The answer to a D-Bus call: sd-bus sends no reply at all with a message that is not UTF-8. */
  g_assert_true (g_utf8_validate (error->message, -1, NULL));

  strict = hkp_json_parse_strict (json, strlen (json), HKP_MANIFEST_MAX_DEPTH - 1, &strict_error);
  if (hkp_engine_lookup (bench->engine, name) != NULL && (strict == NULL || !JSON_NODE_HOLDS_OBJECT (strict)))
    g_assert_cmpint (error->code, ==, HKP_ERROR_INVALID_CONFIG);
  if (error->code != HKP_ERROR_INVALID_CONFIG && error->code != HKP_ERROR_NO_SUCH_PLUGIN &&
      error->code != HKP_ERROR_INVALID_NAME)
    {
      /* Past every check: stopped where the history is written, before anything changed. */
      g_assert_cmpint (error->code, ==, HKP_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "the history could not keep the new version, nothing changed"));
      g_assert_nonnull (strict);
    }
  assert_unchanged (bench, versions, configs);
  for (guint i = 0; i < G_N_ELEMENTS (plugin_files); i++)
    g_free (configs[i]);
  return 0;
}
