/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-engine.h"

#include <string.h>

#include <glib/gstdio.h>

#include "hkp-test-probe.h"

/* One probe file for the whole test program, shared with the plugin hosts it starts. */
static void
share_probe (void)
{
  static gsize once;

  if (g_once_init_enter (&once))
    {
      g_autofree char *dir = hkp_test_make_tmpdir ();
      g_autofree char *path = g_build_filename (dir, "probe", NULL);
      g_setenv ("HKP_TEST_PROBE_FILE", path, TRUE);
      hkp_test_probe_share (path);
      g_once_init_leave (&once, 1);
    }
}

void
engine_fixture_setup (EngineFixture *f, gconstpointer data)
{
  share_probe ();
  f->root = hkp_test_make_tmpdir ();
  f->plugin_dir = g_build_filename (f->root, "plugins", NULL);
  f->config_dir = g_build_filename (f->root, "plugins.d", NULL);
  f->state_dir = g_build_filename (f->root, "state", NULL);
  hkp_test_install_plugins (f->plugin_dir);
  g_assert_cmpint (g_mkdir_with_parents (f->config_dir, 0755), ==, 0);
  hkp_test_log_clear ();
  hkp_test_probe_reset ();
}

void
engine_fixture_stop (EngineFixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) left = NULL;

  hkp_engine_shutdown_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_shutdown_finish (f->engine, result, &error));
  g_assert_no_error (error);
  left = hkp_engine_list_plugins (f->engine);
  g_assert_cmpuint (left->len, ==, 0);
  g_clear_object (&f->engine);
}

void
engine_fixture_teardown (EngineFixture *f, gconstpointer data)
{
  if (f->engine != NULL)
    engine_fixture_stop (f);
  hkp_test_rm_rf (f->root);
  g_free (f->root);
  g_free (f->plugin_dir);
  g_free (f->config_dir);
  g_free (f->state_dir);
}

const char *
engine_fixture_isolation (void)
{
  return hkp_test_isolation ();
}

char *
engine_fixture_with_isolation (const char *json)
{
  return hkp_test_with_isolation (json);
}

char *
engine_fixture_write_plugin_path (EngineFixture *f, const char *name, const char *json)
{
  g_autofree char *file = g_strdup_printf ("%s.json", name);
  g_autofree char *placed = engine_fixture_with_isolation (json);

  return hkp_test_write_file_path (f->config_dir, file, placed);
}

/*
 * The environment of the engine's plugin hosts: the probe's shared counters,
 * and the sanitizers' options.  The probe library is preloaded, so that it
 * opens its file for writing before the host's system-call filter forbids it
 * (the filter is in force before the module, and its libraries, load).
 */
static char **
host_environment (void)
{
  static const char *const passed[] = { "HKP_TEST_PROBE_FILE", "LSAN_OPTIONS", "UBSAN_OPTIONS" };
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *probe = g_build_filename (hkp_test_plugin_build_dir (), "libhkp-test-probe.so", NULL);
  g_autofree char *preload = g_strconcat ("LD_PRELOAD=", probe, NULL);
  /* Under ASan, a library preloaded ahead of its runtime is fine here: the probe has no interceptor. */
  g_autofree char *asan = g_strdup_printf ("ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                                           g_getenv ("ASAN_OPTIONS") != NULL ? g_getenv ("ASAN_OPTIONS") : "",
                                           g_getenv ("ASAN_OPTIONS") != NULL ? ":" : "");

  /* ld.so splits LD_PRELOAD at both: the hosts would load the probe late, and die of their filter. */
  if (strpbrk (probe, " :") != NULL)
    g_error ("%s: a space or colon in its path, which LD_PRELOAD cannot name; build elsewhere", probe);
  for (guint i = 0; i < G_N_ELEMENTS (passed); i++)
    if (g_getenv (passed[i]) != NULL)
      {
        g_autofree char *entry = g_strdup_printf ("%s=%s", passed[i], g_getenv (passed[i]));
        g_strv_builder_add (builder, entry);
      }
  g_strv_builder_add (builder, preload);
  g_strv_builder_add (builder, asan);
  return g_strv_builder_end (builder);
}

void
engine_fixture_write_plugin (EngineFixture *f, const char *name, const char *json)
{
  g_free (engine_fixture_write_plugin_path (f, name, json));
}

void
engine_fixture_write_module (EngineFixture *f, const char *name, const char *module, const char *config)
{
  g_autofree char *json = g_strdup_printf ("{\"module\": \"%s\", \"config\": %s}", module, config);

  engine_fixture_write_plugin (f, name, json);
}

void
engine_fixture_assert_refused (EngineFixture *f, const char *module, const EngineRefusedConfig *cases, gsize n_cases)
{
  for (gsize i = 0; i < n_cases; i++)
    {
      g_autofree char *name = g_strdup_printf ("bad%" G_GSIZE_FORMAT, i);
      engine_fixture_write_module (f, name, module, cases[i].config);
    }
  engine_fixture_start (f, NULL);
  for (gsize i = 0; i < n_cases; i++)
    {
      g_autofree char *name = g_strdup_printf ("bad%" G_GSIZE_FORMAT, i);
      HkpPlugin *plugin = engine_fixture_lookup (f, name);
      const char *error = hkp_plugin_get_last_error (plugin);

      g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_FAILED);
      if (strstr (error, "config rejected: ") == NULL || strstr (error, cases[i].message) == NULL)
        g_error ("%s: LastError \"%s\" lacks \"%s\"", cases[i].config, error, cases[i].message);
    }
}

void
engine_fixture_start (EngineFixture *f, const HkpEngineSettings *settings)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  HkpEngineSettings defaults = { 0 };
  g_auto (GStrv) environment = host_environment ();

  if (settings != NULL)
    defaults = *settings;
  if (defaults.host_environment == NULL)
    defaults.host_environment = (const char *const *) environment;
  defaults.plugin_dir = f->plugin_dir;
  defaults.config_dir = f->config_dir;
  defaults.state_dir = f->state_dir;
  f->engine = hkp_engine_new (&defaults, &error);
  g_assert_no_error (error);
  hkp_engine_load_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_load_finish (f->engine, result, &error));
  g_assert_no_error (error);
}

HkpPlugin *
engine_fixture_lookup (EngineFixture *f, const char *name)
{
  HkpPlugin *plugin = hkp_engine_lookup (f->engine, name);

  if (plugin == NULL)
    g_error ("no plugin %s", name);
  return plugin;
}

void
engine_fixture_wait_idle (EngineFixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_wait_idle_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_wait_idle_finish (f->engine, result, NULL));
}

void
engine_fixture_replace_file (const char *source, const char *dir, const char *name)
{
  g_autofree char *tmp = g_strdup_printf (".%s.new", name);
  g_autofree char *tmp_path = g_build_filename (dir, tmp, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  hkp_test_copy_file (source, dir, tmp);
  g_assert_cmpint (g_rename (tmp_path, path), ==, 0);
}

void
engine_fixture_check (EngineFixture *f, HkpCheckResult *result)
{
  g_autoptr (GAsyncResult) async = NULL;
  g_autoptr (GError) error = NULL;
  const char *headers[] = { "X-Test", "yes", NULL };

  hkp_engine_check_async (f->engine, "GET", "/pks/lookup", "op=get", "192.0.2.1", headers, NULL, hkp_test_store_result,
                          &async);
  hkp_test_wait_result (&async);
  g_assert_true (hkp_engine_check_finish (f->engine, async, result, &error));
  g_assert_no_error (error);
}

char *
engine_fixture_decider (EngineFixture *f)
{
  g_auto (HkpCheckResult) result = { 0 };

  engine_fixture_check (f, &result);
  return g_strdup_printf ("%s:%s", result.plugin != NULL ? result.plugin : "-", result.reason);
}

void
engine_fixture_install_shipped (EngineFixture *f, const char *module)
{
  g_autofree char *source = g_build_filename (HKP_SHIPPED_PLUGIN_DIR, module, NULL);

  hkp_test_copy_file (source, f->plugin_dir, module);
}
