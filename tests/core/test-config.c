/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Config changes with real modules and real files: applied through a reload
 * and saved atomically with the manager keys kept; every refusal leaves the
 * old instance, config and file; a fault between write and rename leaves the
 * old file; the history holds every version and RollbackConfig walks it back;
 * enable and disable under load.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-test-engine.h"
#include "hkp-test-probe.h"

typedef EngineFixture Fixture;

#define ORIGINAL \
  "{\n  \"module\": \"answer.so\",\n  \"priority\": 7,\n  \"failure_mode\": \"open\",\n" \
  "  \"config\": {\"verdict\": \"deny\", \"reason\": \"v1\"}\n}\n"

static void
setup (Fixture *f, gconstpointer data)
{
  engine_fixture_setup (f, data);
  engine_fixture_write_plugin (f, "p", ORIGINAL);
}

static char *
file_text (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->config_dir, "p.json", NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* Returns the reason of the verdict, or "(no plugin decided)"; caller frees. */
static char *
answer_reason (Fixture *f)
{
  g_auto (HkpCheckResult) result = { 0 };

  engine_fixture_check (f, &result);
  return g_strdup (result.plugin != NULL ? result.reason : "(no plugin decided)");
}

static gboolean
set_config (Fixture *f, const char *json, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_set_config_async (f->engine, "p", json, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  return hkp_engine_change_finish (f->engine, result, error);
}

static gboolean
rollback (Fixture *f, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_rollback_config_async (f->engine, "p", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  return hkp_engine_change_finish (f->engine, result, error);
}

static gboolean
set_enabled (Fixture *f, gboolean enabled, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_set_enabled_async (f->engine, "p", enabled, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  return hkp_engine_change_finish (f->engine, result, error);
}

static void
on_config_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, GString *events)
{
  if (what & HKP_PLUGIN_CHANGED_CONFIG)
    g_string_append_printf (events, "%s:%u;", hkp_plugin_get_name (plugin), hkp_plugin_get_config_version (plugin));
}

/* No temporary file is left beside the plugin files. */
static void
assert_no_temporaries (Fixture *f)
{
  g_autoptr (GDir) dir = g_dir_open (f->config_dir, 0, NULL);
  const char *entry;

  while ((entry = g_dir_read_name (dir)) != NULL)
    g_assert_false (entry[0] == '.');
}

static void
test_set_config (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) events = g_string_new (NULL);
  g_autofree char *before = NULL, *after = NULL, *reason = NULL, *config = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autofree char *saved = NULL;
  HkpPlugin *plugin;

  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  g_signal_connect (f->engine, "plugin-changed", G_CALLBACK (on_config_changed), events);
  before = answer_reason (f);
  g_assert_cmpstr (before, ==, "v1");

  g_assert_true (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v2\"}", &error));
  g_assert_no_error (error);
  g_signal_handlers_disconnect_by_data (f->engine, events);

  /* The plugin runs with it, */
  reason = answer_reason (f);
  g_assert_cmpstr (reason, ==, "v2");
  config = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (config, ==, "{\"verdict\":\"deny\",\"reason\":\"v2\"}");
  g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 2);
  g_assert_cmpstr (events->str, ==, "p:2;");
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, 1);
  /* the file holds it with the manager keys kept, */
  after = file_text (f);
  g_assert_nonnull (strstr (after, "\"reason\" : \"v2\""));
  g_assert_nonnull (strstr (after, "\"priority\" : 7"));
  g_assert_nonnull (strstr (after, "\"failure_mode\" : \"open\""));
  g_assert_nonnull (strstr (after, "\"module\" : \"answer.so\""));
  /* and the history holds the file as it was. */
  history = hkp_config_history_list (f->state_dir, "p");
  g_assert_cmpuint (history->len, ==, 1);
  g_assert_true (g_file_get_contents (history->pdata[0], &saved, NULL, NULL));
  g_assert_cmpstr (saved, ==, ORIGINAL);
  assert_no_temporaries (f);
  g_assert_true (hkp_test_log_has_fields (
    (const char *const[]){ "PLUGIN=p", "RESULT=applied", "MESSAGE_ID=" HKP_MESSAGE_ID_CONFIG_CHANGED, NULL }));
}

/* Asserts that nothing changed: file, config, version, and the answering instance. */
static void
assert_unchanged (Fixture *f)
{
  g_autofree char *text = file_text (f);
  g_autofree char *reason = answer_reason (f);
  g_autoptr (GPtrArray) history = hkp_config_history_list (f->state_dir, "p");
  HkpPlugin *plugin = engine_fixture_lookup (f, "p");

  g_assert_cmpstr (text, ==, ORIGINAL);
  g_assert_cmpstr (reason, ==, "v1");
  g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 1);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_cmpuint (history->len, ==, 0);
  assert_no_temporaries (f);
}

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  const struct {
    const char *json;
    const char *message;
  } cases[] = {
    { "{\"verdict\": ", "the config is not valid JSON: 1:12: Parse error" },
    { "[1, 2]", "the config must be a JSON object, not array" },
    { "\"allow\"", "the config must be a JSON object, not string" },
    { "", "the config must be a JSON object, not empty" },
    { "{\"enabled\": \"yes\"}", "key \"enabled\" must be true or false, not string" },
    { "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
      "nests deeper than 31 levels" },
    { "{\"verdict\": \"\xff\"}", "not valid UTF-8" },
  };
  g_autoptr (GError) missing = NULL;
  g_autoptr (GAsyncResult) result = NULL;

  engine_fixture_start (f, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (set_config (f, cases[i].json, &error));
      g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("\"%s\" lacks \"%s\"", error->message, cases[i].message);
    }
  hkp_engine_set_config_async (f->engine, "nope", "{}", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_false (hkp_engine_change_finish (f->engine, result, &missing));
  g_assert_error (missing, HKP_ERROR, HKP_ERROR_NO_SUCH_PLUGIN);
  assert_unchanged (f);
}

static void
test_refused_by_plugin (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  engine_fixture_start (f, NULL);
  g_assert_false (set_config (f, "{\"verdict\": \"maybe\"}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (error->message, "config rejected: key \"verdict\" must be"));
  assert_unchanged (f);
}

static void
test_init_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  engine_fixture_start (f, NULL);
  g_assert_false (
    set_config (f, "{\"verdict\": \"allow\", \"fail_init\": \"cannot open /var/lib/geoip.mmdb\"}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_RELOAD_FAILED);
  g_assert_nonnull (strstr (error->message, "rolled back"));
  g_assert_nonnull (strstr (error->message, "init failed: cannot open /var/lib/geoip.mmdb"));
  assert_unchanged (f);
  g_assert_nonnull (
    strstr (hkp_plugin_get_last_error (engine_fixture_lookup (f, "p")), "cannot open /var/lib/geoip.mmdb"));
}

static gboolean
fail_before_rename (const char *path, gpointer user_data, GError **error)
{
  g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "injected fault before renaming %s", path);
  return FALSE;
}

static void
test_fault_before_rename (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .write_hook = fail_before_rename };
  g_autoptr (GError) error = NULL;

  engine_fixture_start (f, &settings);
  g_assert_false (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v2\"}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_nonnull (
    strstr (error->message, "config change of plugin p not saved, previous config restored: injected fault"));
  /* The old file is intact, and the old config serves again. */
  assert_unchanged (f);
}

static void
test_history_and_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) empty = NULL;
  HkpPlugin *plugin;

  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  g_ptr_array_add (texts, file_text (f));
  for (guint v = 2; v <= 4; v++)
    {
      g_autofree char *json = g_strdup_printf ("{\"verdict\": \"deny\", \"reason\": \"v%u\"}", v);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) history = NULL;
      g_assert_true (set_config (f, json, &error));
      history = hkp_config_history_list (f->state_dir, "p");
      g_assert_cmpuint (history->len, ==, v - 1);
      g_ptr_array_add (texts, file_text (f));
    }
  /* Walk back: v3, v2, v1, each file exactly as it was, each instance answering with its config. */
  for (guint v = 3; v > 0; v--)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = NULL, *reason = NULL, *expected = g_strdup_printf ("v%u", v);
      g_assert_true (rollback (f, &error));
      g_assert_no_error (error);
      text = file_text (f);
      g_assert_cmpstr (text, ==, texts->pdata[v - 1]);
      reason = answer_reason (f);
      g_assert_cmpstr (reason, ==, expected);
    }
  g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 7);
  g_assert_false (rollback (f, &empty));
  g_assert_error (empty, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_cmpstr (empty->message, ==, "plugin p has no earlier config to return to");
}

typedef struct {
  Fixture *f;
  gint stop;
  gint64 requests;
  gint64 unavailable;
} Load;

static gpointer
load_thread (gpointer data)
{
  Load *load = data;
  HkpCheckRequest request = { .method = "GET", .path = "/", .client_address = "192.0.2.1" };

  while (!g_atomic_int_get (&load->stop))
    {
      g_auto (HkpCheckResult) result = { 0 };
      hkp_engine_check (load->f->engine, &request, &result);
      __atomic_fetch_add (&load->requests, 1, __ATOMIC_RELAXED);
      if (result.status >= 500)
        __atomic_fetch_add (&load->unavailable, 1, __ATOMIC_RELAXED);
    }
  return NULL;
}

static void
test_disable_enable_under_load (Fixture *f, gconstpointer data)
{
  Load load = { .f = f };
  GThread *threads[4];
  g_autoptr (GError) error = NULL;
  g_autofree char *off_text = NULL, *reason_off = NULL, *reason_on = NULL;
  HkpPlugin *plugin;

  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("load", load_thread, &load);

  g_assert_true (set_enabled (f, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_DISABLED);
  g_assert_null (hkp_plugin_get_instance (plugin));
  off_text = file_text (f);
  g_assert_nonnull (strstr (off_text, "\"enabled\" : false"));
  reason_off = answer_reason (f);
  g_assert_cmpstr (reason_off, ==, "(no plugin decided)");
  /* Disabling again changes nothing and succeeds at once. */
  g_assert_true (set_enabled (f, FALSE, &error));
  g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 2);

  g_assert_true (set_enabled (f, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  reason_on = answer_reason (f);
  g_assert_cmpstr (reason_on, ==, "v1");

  g_atomic_int_set (&load.stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_test_message ("%" G_GINT64_FORMAT " requests during disable and enable", load.requests);
  g_assert_cmpint (load.requests, >, 0);
  g_assert_cmpint (load.unavailable, ==, 0);
  g_assert_cmpint (hkp_test_probe_violations (), ==, 0);
}

static void
test_busy (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) reload = NULL;
  g_autoptr (GError) error = NULL;

  engine_fixture_write_plugin (f, "p", "{\"module\": \"sleeper.so\", \"config\": {\"init_delay_ms\": 100}}");
  engine_fixture_start (f, NULL);
  hkp_engine_reload_async (f->engine, "p", hkp_test_store_result, &reload);
  g_assert_false (set_config (f, "{\"init_delay_ms\": 0}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_BUSY);
  hkp_test_wait_result (&reload);
  g_assert_true (hkp_engine_reload_finish (f->engine, reload, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), engine_fixture_teardown)
  ADD ("/config/set", test_set_config);
  ADD ("/config/bad-input", test_bad_input);
  ADD ("/config/refused-by-plugin", test_refused_by_plugin);
  ADD ("/config/init-fails", test_init_fails);
  ADD ("/config/fault-before-rename", test_fault_before_rename);
  ADD ("/config/history-and-rollback", test_history_and_rollback);
  ADD ("/config/disable-enable-under-load", test_disable_enable_under_load);
  ADD ("/config/busy", test_busy);
#undef ADD
  return g_test_run ();
}
