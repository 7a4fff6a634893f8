/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rescan with real files: added files load, removed ones unload, edits apply, bad edits keep the running instance. */
#include <string.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-test-engine.h"
#include "hkp-test-probe.h"

typedef EngineFixture Fixture;

/* Rescans; the summary's list of refused files stays valid until the next rescan (or the test's end). */
static HkpRescanSummary
rescan (Fixture *f)
{
  static HkpRescanSummary last;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  hkp_rescan_summary_clear (&last);
  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->engine, result, &last, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (last.refused->len, ==, last.errors);
  return last;
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

static const char *
refused_reason (HkpRescanSummary *summary, Fixture *f, const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s/%s.json", f->config_dir, name);

  for (guint i = 0; i < summary->refused->len; i++)
    {
      HkpRescanRefusal *refusal = summary->refused->pdata[i];
      if (g_str_equal (refusal->file, file))
        return refusal->reason;
    }
  return NULL;
}

/* Every file a rescan does not apply is listed with why; the good ones are applied all the same. */
static void
test_refused_listed (Fixture *f, gconstpointer data)
{
  HkpRescanSummary summary;
  HkpPlugin *syntax, *refused, *initfail;
  g_autofree char *description = NULL;

  engine_fixture_write_plugin (f, "good", "{\"module\": \"answer.so\", \"config\": {\"reason\": \"before\"}}");
  engine_fixture_write_plugin (f, "syntax", "{\"module\": \"answer.so\"}");
  engine_fixture_write_plugin (f, "refused", "{\"module\": \"answer.so\"}");
  engine_fixture_write_plugin (f, "initfail", "{\"module\": \"answer.so\"}");
  engine_fixture_start (f, NULL);
  syntax = engine_fixture_lookup (f, "syntax");
  refused = engine_fixture_lookup (f, "refused");
  initfail = engine_fixture_lookup (f, "initfail");

  engine_fixture_write_plugin (f, "good", "{\"module\": \"answer.so\", \"config\": {\"reason\": \"after\"}}");
  /* Written as it is: the syntax error is the point. */
  hkp_test_write_file (f->config_dir, "syntax.json", "{\"module\": \"answer.so\",}");
  engine_fixture_write_plugin (f, "refused", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"maybe\"}}");
  engine_fixture_write_plugin (f, "initfail", "{\"module\": \"answer.so\", \"config\": {\"fail_init\": \"no db\"}}");
  engine_fixture_write_plugin (f, "newbad", "{\"module\": \"answer.so\", \"priority\": \"high\"}");
  engine_fixture_write_plugin (f, "newfail", "{\"module\": \"failinit.so\", \"config\": {\"message\": \"nope\"}}");
  hkp_test_log_clear ();
  summary = rescan (f);
  g_assert_cmpuint (summary.changed, ==, 1);
  g_assert_cmpuint (summary.added, ==, 2);
  g_assert_cmpuint (summary.errors, ==, 5);
  g_assert_cmpstr (refused_reason (&summary, f, "syntax"), ==, "1:24: unexpected '}', expected a key (a string)");
  g_assert_cmpstr (refused_reason (&summary, f, "refused"), ==,
                   "config rejected: key \"verdict\" must be \"continue\", \"allow\" or \"deny\"");
  g_assert_nonnull (strstr (refused_reason (&summary, f, "initfail"), "init failed: no db"));
  g_assert_cmpstr (refused_reason (&summary, f, "newbad"), ==, "key \"priority\" must be an integer, not string");
  g_assert_nonnull (strstr (refused_reason (&summary, f, "newfail"), "init failed: nope"));
  g_assert_null (refused_reason (&summary, f, "good"));
  description = hkp_rescan_summary_describe_refused (&summary);
  g_assert_nonnull (strstr (description, "/initfail.json: "));
  g_assert_nonnull (strstr (description, "; "));

  /* Each keeps running with what it had, and says why in its last error. */
  for (guint i = 0; i < 3; i++)
    {
      HkpPlugin *plugin = i == 0 ? syntax : i == 1 ? refused : initfail;
      g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
      g_assert_cmpstr (hkp_plugin_get_last_error (plugin), !=, "");
      g_assert_cmpuint (hkp_plugin_get_config_version (plugin), ==, 1);
    }
  /* The plugin's refusal is no reload: nothing counted, nothing rolled back. */
  for (guint r = 0; r < HKP_RELOAD_N_RESULTS; r++)
    g_assert_cmpuint (hkp_plugin_get_reload_results (refused, r), ==, 0);
  g_assert_cmpuint (hkp_test_log_count ("key \"verdict\" must be"), ==, 1);

  /* Fixed (or put back), the files are taken and the errors go. */
  engine_fixture_write_plugin (f, "syntax", "{\"module\": \"answer.so\"}");
  engine_fixture_write_plugin (f, "refused", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\"}}");
  engine_fixture_write_plugin (f, "initfail", "{\"module\": \"answer.so\"}");
  summary = rescan (f);
  g_assert_cmpuint (summary.changed, ==, 1);
  g_assert_cmpuint (summary.unchanged, ==, 5);
  /* newbad's file still does not parse: still refused; newfail's loads but fails: a failed plugin, not a refused file. */
  g_assert_cmpuint (summary.errors, ==, 1);
  g_assert_nonnull (refused_reason (&summary, f, "newbad"));
  g_assert_cmpstr (hkp_plugin_get_last_error (syntax), ==, "");
  g_assert_cmpstr (hkp_plugin_get_last_error (refused), ==, "");
  g_assert_cmpstr (hkp_plugin_get_last_error (initfail), ==, "");
  g_assert_cmpuint (hkp_plugin_get_config_version (refused), ==, 2);
}

/* A file removed and put back while its plugin drains away: the plugin is loaded again, not left gone. */
static void
test_removed_and_back (Fixture *f, gconstpointer data)
{
  static const char text[] = "{\"module\": \"sleeper.so\", \"config\": {\"sleep_ms\": 800}}";
  g_autoptr (GAsyncResult) removing = NULL;
  g_autofree char *path = NULL;
  HkpRescanSummary back;
  HkpPlugin *plugin;

  path = engine_fixture_write_plugin_path (f, "p", text);
  engine_fixture_start (f, NULL);
  /* A request holds the old instance while its drain runs. */
  hkp_engine_check_async (f->engine, "GET", "/", "", "192.0.2.1", NULL, NULL, NULL, NULL);
  hkp_test_probe_wait_entered (1);
  g_assert_cmpint (g_unlink (path), ==, 0);
  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &removing);
  g_assert_cmpint (hkp_plugin_get_state (engine_fixture_lookup (f, "p")), ==, HKP_PLUGIN_STATE_UNLOADING);
  g_free (engine_fixture_write_plugin_path (f, "p", text));
  back = rescan (f);
  g_assert_cmpuint (back.removed + back.added, ==, 0);
  hkp_test_wait_result (&removing);
  g_assert_true (hkp_engine_rescan_finish (f->engine, removing, NULL, NULL));
  plugin = engine_fixture_lookup (f, "p");
  while (hkp_plugin_get_state (plugin) == HKP_PLUGIN_STATE_LOADING)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_true (hkp_test_log_contains ("came back while plugin p was removed; loading it again"));
}

/*
 * The config directory moved away (or unreadable) is not "every file
 * removed": the rescan fails saying so, and every plugin keeps serving.
 * Put back, the next rescan finds nothing changed.
 */
static void
test_directory_gone (Fixture *f, gconstpointer data)
{
  g_autofree char *moved = g_strconcat (f->config_dir, ".moved", NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *decider = NULL;
  HkpRescanSummary summary = { 0 };

  engine_fixture_write_plugin (
    f, "gate", "{\"module\": \"answer.so\", \"priority\": 1, \"config\": {\"verdict\": \"deny\", \"reason\": \"no\"}}");
  engine_fixture_start (f, NULL);
  g_assert_cmpint (g_rename (f->config_dir, moved), ==, 0);
  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_false (hkp_engine_rescan_finish (f->engine, result, &summary, &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "does not exist: nothing changed"));
  hkp_rescan_summary_clear (&summary);
  decider = engine_fixture_decider (f);
  g_assert_cmpstr (decider, ==, "gate:no");
  g_assert_nonnull (hkp_engine_lookup (f->engine, "gate"));

  g_assert_cmpint (g_rename (moved, f->config_dir), ==, 0);
  summary = rescan (f);
  g_assert_cmpuint (summary.removed, ==, 0);
  g_assert_cmpuint (summary.unchanged, ==, 1);
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
  ADD ("/rescan/refused-listed", test_refused_listed);
  ADD ("/rescan/removed-and-back", test_removed_and_back);
  ADD ("/rescan/directory-gone", test_directory_gone);
#undef ADD
  return g_test_run ();
}
