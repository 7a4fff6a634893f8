/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Config changes with real modules and real files: applied through a reload
 * and saved atomically with the manager keys kept; every refusal (bad or
 * non-strict JSON, the plugin's validate_config, a failing init, a fault
 * between write and rename) leaves the old instance, config, file and
 * history; a config the plugin refuses is refused before any reload, logged
 * once and not counted; secrets sent back as "[redacted]" keep their stored
 * value; enable and disable under load.  (The history itself: test-history.)
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

  hkp_engine_set_config_async (f->engine, "p", json, "test", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  return hkp_engine_change_finish (f->engine, result, error);
}

static gboolean
set_enabled (Fixture *f, gboolean enabled, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_set_enabled_async (f->engine, "p", enabled, "test", hkp_test_store_result, &result);
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
  g_autoptr (GArray) history = NULL;
  g_autoptr (HkpConfigEntry) saved = NULL;
  g_autofree char *written = engine_fixture_with_isolation (ORIGINAL);
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
  /* and the history holds the file as it was, and as it is now, with who made each. */
  history = hkp_config_history_versions (f->state_dir, "p");
  g_assert_cmpuint (history->len, ==, 2);
  saved = hkp_config_history_read (f->state_dir, "p", 1, NULL);
  g_assert_cmpstr (saved->text, ==, written);
  g_assert_cmpstr (saved->who, ==, "file at start");
  hkp_config_entry_free (g_steal_pointer (&saved));
  saved = hkp_config_history_read (f->state_dir, "p", 2, NULL);
  g_assert_cmpstr (saved->text, ==, after);
  g_assert_cmpstr (saved->who, ==, "test");
  g_assert_cmpstr (saved->what, ==, "config change");
  assert_no_temporaries (f);
  g_assert_true (hkp_test_log_has_fields (
    (const char *const[]){ "PLUGIN=p", "RESULT=applied", "MESSAGE_ID=" HKP_MESSAGE_ID_CONFIG_CHANGED, NULL }));
}

/* Asserts that nothing changed: file, config, version, and the answering instance. */
static void
assert_unchanged (Fixture *f)
{
  g_autofree char *text = file_text (f);
  g_autofree char *written = engine_fixture_with_isolation (ORIGINAL);
  g_autofree char *reason = answer_reason (f);
  g_autoptr (GArray) history = hkp_config_history_versions (f->state_dir, "p");
  HkpPlugin *plugin = engine_fixture_lookup (f, "p");

  g_assert_cmpstr (text, ==, written);
  g_assert_cmpstr (reason, ==, "v1");
  g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 1);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  /* Only the version the engine started with. */
  g_assert_cmpuint (history->len, ==, 1);
  g_assert_cmpuint (g_array_index (history, guint, 0), ==, 1);
  assert_no_temporaries (f);
}

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  const struct {
    const char *json;
    const char *message;
  } cases[] = {
    { "{\"verdict\": ", "the config is not valid JSON: 1:13: unexpected end of the data, expected a value" },
    /* Strict JSON: what json-glib alone would accept and half-apply. */
    { "{\"enabled\": true} {\"x\": 1}", "the config is not valid JSON: 1:19: unexpected data after the JSON value" },
    { "{\"verdict\": \"a\\u0000b\"}", "the config is not valid JSON: 1:15: NUL character (\\u0000) in a string" },
    { "{\"verdict\": \"deny\",\n \"verdict\": \"allow\"}",
      "the config is not valid JSON: 2:2: duplicate key \"verdict\" in an object" },
    { "[1, 2]", "the config must be a JSON object, not array" },
    { "\"allow\"", "the config must be a JSON object, not string" },
    { "", "the config must be a JSON object, not empty" },
    { "{\"enabled\": \"yes\"}", "key \"enabled\" must be true or false, not string" },
    { "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
      "nested deeper than 31 levels" },
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
  hkp_engine_set_config_async (f->engine, "nope", "{}", "test", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_false (hkp_engine_change_finish (f->engine, result, &missing));
  g_assert_error (missing, HKP_ERROR, HKP_ERROR_NO_SUCH_PLUGIN);
  assert_unchanged (f);
}

/* Honest refusals: no reload starts, nothing is counted, one line is logged, no last error. */
static void
test_refused_by_plugin (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  HkpPlugin *plugin;

  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  hkp_test_log_clear ();
  g_assert_false (set_config (f, "{\"verdict\": \"maybe\"}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
  g_assert_cmpstr (error->message, ==, "config rejected: key \"verdict\" must be \"continue\", \"allow\" or \"deny\"");
  assert_unchanged (f);
  for (guint r = 0; r < HKP_RELOAD_N_RESULTS; r++)
    g_assert_cmpuint (hkp_plugin_get_reload_results (plugin, r), ==, 0);
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, 0);
  g_assert_cmpuint (hkp_test_log_count ("key \"verdict\" must be"), ==, 1);
  g_assert_cmpuint (hkp_test_log_count ("reload"), ==, 0);
  g_assert_cmpuint (hkp_test_log_count ("reloading"), ==, 0);
  g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==, "");

  /* A disabled plugin is asked too when a change enables it: through a copy of its module, and refused alike. */
  g_assert_true (set_enabled (f, FALSE, NULL));
  g_clear_error (&error);
  g_assert_false (set_config (f, "{\"enabled\": true, \"verdict\": \"maybe\"}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_DISABLED);
  /* Disabled, its config is not asked: it runs nowhere. */
  g_assert_true (set_config (f, "{\"enabled\": false, \"verdict\": \"maybe\"}", NULL));
  g_assert_cmpuint (hkp_test_probe_violations (), ==, 0);
}

/* A config read shows secrets as "[redacted]"; sent back so, they keep their stored values, over every front end. */
static void
test_redacted_kept (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;

  engine_fixture_write_plugin (f, "p",
                               "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\", \"reason\": \"v1\", "
                               "\"api_Token\": \"s3cret\", \"db\": {\"Password\": \"hunter2\"}, "
                               "\"list\": [{\"dsn\": \"pg://u:p@h\"}]}}");
  engine_fixture_start (f, NULL);
  g_assert_true (set_config (f,
                             "{\"verdict\": \"deny\", \"reason\": \"v2\", \"api_Token\": \"[redacted]\", "
                             "\"db\": {\"Password\": \"[redacted]\"}, \"list\": [{\"dsn\": \"[redacted]\"}]}",
                             &error));
  g_assert_no_error (error);
  config = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (config, ==,
                   "{\"verdict\":\"deny\",\"reason\":\"v2\",\"api_Token\":\"s3cret\",\"db\":{\"Password\":"
                   "\"hunter2\"},\"list\":[{\"dsn\":\"pg://u:p@h\"}]}");

  /* A redacted secret with nothing stored to keep is refused, naming it. */
  g_assert_false (set_config (f, "{\"verdict\": \"deny\", \"new_secret\": \"[redacted]\"}", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "key \"new_secret\" is \"[redacted]\", but plugin p has no stored value for it to keep");
  /* "[redacted]" under a key that does not look secret is an ordinary value. */
  g_assert_true (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"[redacted]\"}", NULL));
  g_free (config);
  config = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (config, ==, "{\"verdict\":\"deny\",\"reason\":\"[redacted]\"}");
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

static guint rescan_changed (Fixture *f);

/*
 * An operator edits the plugin's file while a config change over the API
 * runs: the change is applied, the edit is not written over, and the next
 * rescan applies it.
 */
static void
test_file_edited_during_change (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) change = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL, *edited = NULL, *on_disk = NULL, *config = NULL;

  /* Instances from the second on take 300 ms to start: the edit lands while the change's one does. */
  engine_fixture_write_plugin (
    f, "p", "{\"module\": \"sleeper.so\", \"config\": {\"init_delay_ms\": 300, \"init_delay_from\": 2}}");
  engine_fixture_start (f, NULL);
  hkp_engine_set_config_async (f->engine, "p", "{\"init_delay_ms\": 300, \"init_delay_from\": 2, \"sleep_ms\": 1}",
                               "test", hkp_test_store_result, &change);
  path = engine_fixture_write_plugin_path (f, "p", "{\"module\": \"sleeper.so\", \"config\": {\"sleep_ms\": 2}}");
  g_assert_true (g_file_get_contents (path, &edited, NULL, NULL));
  hkp_test_wait_result (&change);
  g_assert_true (hkp_engine_change_finish (f->engine, change, &error));
  g_assert_no_error (error);
  g_assert_true (hkp_test_log_contains ("not saved: "));
  g_assert_true (hkp_test_log_contains ("was edited meanwhile; the edit is kept and applies at the next rescan"));
  g_assert_true (g_file_get_contents (path, &on_disk, NULL, NULL));
  g_assert_cmpstr (on_disk, ==, edited);
  config = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (config, ==, "{\"init_delay_ms\":300,\"init_delay_from\":2,\"sleep_ms\":1}");

  g_assert_cmpuint (rescan_changed (f), ==, 1);
  g_free (config);
  config = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (config, ==, "{\"sleep_ms\":2}");
}

/* Rescans the config directory; returns how many files changed. */
static guint
rescan_changed (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_auto (HkpRescanSummary) summary = { 0 };
  g_autoptr (GError) error = NULL;

  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->engine, result, &summary, &error));
  g_assert_no_error (error);
  return summary.changed;
}

/* A file a rescan refused is written over by the next change through the API, which builds on the good one. */
static void
test_refused_file_replaced_by_change (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  engine_fixture_start (f, NULL);
  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\", \"priority\": \"high\", \"config\": {}}");
  g_assert_cmpuint (rescan_changed (f), ==, 0);
  g_assert_nonnull (strstr (hkp_plugin_get_last_error (engine_fixture_lookup (f, "p")), "\"priority\""));
  hkp_test_log_clear ();
  g_assert_true (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v2\"}", &error));
  g_assert_no_error (error);
  g_assert_false (hkp_test_log_contains ("edited meanwhile"));
  text = file_text (f);
  g_assert_nonnull (strstr (text, "\"priority\" : 7"));
  g_assert_nonnull (strstr (text, "\"reason\" : \"v2\""));
  g_assert_cmpstr (hkp_plugin_get_last_error (engine_fixture_lookup (f, "p")), ==, "");
}

/* A change that would start a disabled plugin, and cannot, leaves it disabled: its requests still pass it by. */
static void
test_init_fails_when_disabled (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL, *reason = NULL;
  HkpPlugin *plugin;

  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  /* Disabled, its config is not asked: init fails only once the plugin is enabled. */
  g_assert_true (set_config (f, "{\"enabled\": false, \"verdict\": \"deny\", \"fail_init\": \"no key\"}", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 2; i++)
    {
      /* By enabling it, then by a config that enables it. */
      if (i == 0)
        g_assert_false (set_enabled (f, TRUE, &error));
      else
        g_assert_false (
          set_config (f, "{\"enabled\": true, \"verdict\": \"deny\", \"fail_init\": \"no key\"}", &error));
      g_assert_error (error, HKP_ERROR, HKP_ERROR_RELOAD_FAILED);
      g_test_message ("%s", error->message);
      g_assert_true (
        g_str_has_prefix (error->message, "reload of plugin p failed and was rolled back; it stays disabled: "));
      g_assert_true (g_str_has_suffix (error->message, "init failed: no key"));
      g_clear_error (&error);
      g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_DISABLED);
      g_assert_nonnull (strstr (hkp_plugin_get_last_error (plugin), "init failed: no key"));
      g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 2);
      g_clear_pointer (&text, g_free);
      text = file_text (f);
      g_assert_nonnull (strstr (text, "\"enabled\" : false"));
      g_clear_pointer (&reason, g_free);
      reason = answer_reason (f);
      g_assert_cmpstr (reason, ==, "(no plugin decided)");
    }
  /* A good config starts it, and clears the error. */
  g_assert_true (set_config (f, "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"v3\"}", &error));
  g_assert_no_error (error);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==, "");
  g_free (reason);
  reason = answer_reason (f);
  g_assert_cmpstr (reason, ==, "v3");
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

/* A saved file reads back: numbers json-glib would write wrongly ("1e-73.0") are written as JSON. */
static void
test_numbers_saved (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL, *after = NULL;

  engine_fixture_start (f, NULL);
  g_assert_true (set_config (f, "{\"verdict\": \"deny\", \"reason\": \"v2\", \"tiny\": 1e-73, \"huge\": 2e22}", NULL));
  before = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (before, ==, "{\"verdict\":\"deny\",\"reason\":\"v2\",\"tiny\":1e-73,\"huge\":2e+22}");
  engine_fixture_stop (f);
  engine_fixture_start (f, NULL);
  g_assert_cmpint (hkp_plugin_get_state (engine_fixture_lookup (f, "p")), ==, HKP_PLUGIN_STATE_ACTIVE);
  after = hkp_engine_get_config (f->engine, "p", NULL);
  g_assert_cmpstr (after, ==, before);
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

  /* A rollback while a config change runs is busy too: not "no version before" the one in force. */
  {
    g_autoptr (GAsyncResult) change = NULL, rollback = NULL;

    g_clear_error (&error);
    hkp_engine_set_config_async (f->engine, "p", "{\"init_delay_ms\": 200}", "test", hkp_test_store_result, &change);
    hkp_engine_rollback_config_async (f->engine, "p", "test", hkp_test_store_result, &rollback);
    hkp_test_wait_result (&rollback);
    g_assert_false (hkp_engine_change_finish (f->engine, rollback, &error));
    g_assert_error (error, HKP_ERROR, HKP_ERROR_BUSY);
    hkp_test_wait_result (&change);
    g_assert_true (hkp_engine_change_finish (f->engine, change, NULL));
  }
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
  ADD ("/config/init-fails-when-disabled", test_init_fails_when_disabled);
  ADD ("/config/file-edited-during-change", test_file_edited_during_change);
  ADD ("/config/refused-file-replaced-by-change", test_refused_file_replaced_by_change);
  ADD ("/config/fault-before-rename", test_fault_before_rename);
  ADD ("/config/redacted-kept", test_redacted_kept);
  ADD ("/config/numbers-saved", test_numbers_saved);
  ADD ("/config/disable-enable-under-load", test_disable_enable_under_load);
  ADD ("/config/busy", test_busy);
#undef ADD
  return g_test_run ();
}
