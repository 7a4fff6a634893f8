/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rescan with real files: added files load, removed ones unload, edits apply, bad edits keep the running instance. */
#include <string.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-test-engine.h"
#include "hkp-test-probe.h"

typedef EngineFixture Fixture;

static HkpRescanSummary
rescan (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  HkpRescanSummary summary = { 0 };

  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->engine, result, &summary, &error));
  g_assert_no_error (error);
  return summary;
}

static void
on_added (HkpEngine *engine, HkpPlugin *plugin, GString *events)
{
  g_string_append_printf (events, "+%s;", hkp_plugin_get_name (plugin));
}

static void
on_removed (HkpEngine *engine, HkpPlugin *plugin, GString *events)
{
  g_string_append_printf (events, "-%s;", hkp_plugin_get_name (plugin));
}

static void
test_add_remove_edit (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) events = g_string_new (NULL);
  g_autofree char *gone = g_build_filename (f->config_dir, "gone.json", NULL);
  g_autofree char *first = NULL, *second = NULL, *third = NULL;
  HkpRescanSummary summary;

  engine_fixture_write_plugin (
    f, "gone",
    "{\"module\": \"answer.so\", \"priority\": 1, \"config\": {\"verdict\": \"deny\", \"reason\": \"gone\"}}");
  engine_fixture_write_plugin (
    f, "edited",
    "{\"module\": \"answer.so\", \"priority\": 5, \"config\": {\"verdict\": \"deny\", \"reason\": \"before\"}}");
  engine_fixture_write_plugin (f, "same", "{\"module\": \"answer.so\", \"priority\": 9}");
  engine_fixture_start (f, NULL);
  first = engine_fixture_decider (f);
  g_assert_cmpstr (first, ==, "gone:gone");
  g_signal_connect (f->engine, "plugin-added", G_CALLBACK (on_added), events);
  g_signal_connect (f->engine, "plugin-removed", G_CALLBACK (on_removed), events);

  g_assert_cmpint (g_unlink (gone), ==, 0);
  engine_fixture_write_plugin (
    f, "edited",
    "{\"module\": \"answer.so\", \"priority\": 5, \"config\": {\"verdict\": \"deny\", \"reason\": \"after\"}}");
  engine_fixture_write_plugin (f, "fresh",
                               "{\"module\": \"answer.so\", \"priority\": 2, \"config\": {\"verdict\": \"continue\"}}");
  summary = rescan (f);
  engine_fixture_wait_idle (f);

  g_assert_cmpuint (summary.added, ==, 1);
  g_assert_cmpuint (summary.removed, ==, 1);
  g_assert_cmpuint (summary.changed, ==, 1);
  g_assert_cmpuint (summary.unchanged, ==, 1);
  g_assert_cmpuint (summary.errors, ==, 0);
  g_assert_cmpstr (events->str, ==, "+fresh;-gone;");
  g_assert_null (hkp_engine_lookup (f->engine, "gone"));
  g_assert_cmpint (hkp_plugin_get_state (engine_fixture_lookup (f, "fresh")), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_cmpuint (hkp_plugin_get_config_version (engine_fixture_lookup (f, "edited")), ==, 2);
  second = engine_fixture_decider (f);
  g_assert_cmpstr (second, ==, "edited:after");

  /* A priority edit reorders the chain. */
  engine_fixture_write_plugin (
    f, "same",
    "{\"module\": \"answer.so\", \"priority\": 0, \"config\": {\"verdict\": \"allow\", \"reason\": \"first now\"}}");
  summary = rescan (f);
  g_assert_cmpuint (summary.changed, ==, 1);
  third = engine_fixture_decider (f);
  g_assert_cmpstr (third, ==, "same:first now");
  g_signal_handlers_disconnect_by_data (f->engine, events);
  g_assert_cmpint (hkp_test_probe_violations (), ==, 0);
}

static void
test_bad_edit_keeps_instance (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL, *after = NULL;
  HkpRescanSummary summary;
  HkpPlugin *plugin;

  engine_fixture_write_plugin (
    f, "p", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\", \"reason\": \"running\"}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  before = engine_fixture_decider (f);

  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\", \"config\": {\"verdict\": ");
  summary = rescan (f);
  g_assert_cmpuint (summary.errors, ==, 1);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_nonnull (strstr (hkp_plugin_get_last_error (plugin), "p.json:1:"));
  g_assert_true (hkp_test_log_contains_for_plugin ("p", "plugin p keeps running with its previous file"));
  after = engine_fixture_decider (f);
  g_assert_cmpstr (after, ==, before);

  /* An edit the plugin refuses is rolled back the same way. */
  engine_fixture_write_plugin (
    f, "p", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\", \"fail_init\": \"no\"}}");
  summary = rescan (f);
  g_assert_cmpuint (summary.errors, ==, 1);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_free (after);
  after = engine_fixture_decider (f);
  g_assert_cmpstr (after, ==, before);
}

static void
test_edit_enables_and_disables (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_DISABLED);
  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\", \"config\": {\"enabled\": true}}");
  rescan (f);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  rescan (f);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_DISABLED);
  g_assert_null (hkp_plugin_get_instance (plugin));
}

static void
test_fixed_file (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "p", "[]");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_FAILED);
  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\"}");
  rescan (f);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/rescan/add-remove-edit", test_add_remove_edit);
  ADD ("/rescan/bad-edit-keeps-instance", test_bad_edit_keeps_instance);
  ADD ("/rescan/edit-enables-and-disables", test_edit_enables_and_disables);
  ADD ("/rescan/fixed-file", test_fixed_file);
#undef ADD
  return g_test_run ();
}
