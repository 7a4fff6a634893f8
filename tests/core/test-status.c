/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How plugins add up (DESIGN §5), with real modules: the counts of
 * /plugins/status add up with failed, disabled, degraded and reloading
 * plugins; overall_status is healthy, degraded or unhealthy by the one rule;
 * a reload with overlap changes neither the overall health nor the active
 * count at any moment; every entry of /plugins/list and /plugins/health says
 * why (message, last_error).
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "hkp-status.h"
#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

/* Iterates the loop until plugin has been checked (its counted health is no longer transitioning or unknown). */
static void
wait_checked (Fixture *f, const char *name)
{
  HkpPlugin *plugin = engine_fixture_lookup (f, name);

  for (;;)
    {
      HkpHealthStatus status = hkp_plugin_get_counted_health (plugin);
      if (status != HKP_HEALTH_STATUS_TRANSITIONING && status != HKP_HEALTH_STATUS_UNKNOWN)
        return;
      g_main_context_iteration (NULL, TRUE);
    }
}

static JsonObject *
parse (char *text)
{
  g_autofree char *owned = text;
  g_autoptr (JsonNode) node = json_from_string (owned, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static void
write_mixed (Fixture *f)
{
  engine_fixture_write_plugin (f, "fine", "{\"module\": \"health.so\", \"priority\": 1}");
  engine_fixture_write_plugin (f, "meh",
                               "{\"module\": \"health.so\", \"priority\": 2, \"config\": {\"health\": \"degraded\", "
                               "\"message\": \"cache cold\"}}");
  engine_fixture_write_plugin (f, "broken",
                               "{\"module\": \"failinit.so\", \"priority\": 3, \"failure_mode\": \"open\", \"config\": "
                               "{\"message\": \"no key\"}}");
  engine_fixture_write_plugin (f, "off",
                               "{\"module\": \"answer.so\", \"priority\": 4, \"config\": {\"enabled\": false}}");
}

/* A failed plugin with failure_mode open, a degraded one, a disabled one: degraded, and the counts add up. */
static void
test_counts_add_up (Fixture *f, gconstpointer data)
{
  HkpStatusSummary summary;
  g_autoptr (JsonObject) status = NULL;
  JsonObject *counts, *system;

  write_mixed (f);
  engine_fixture_start (f, NULL);
  wait_checked (f, "fine");
  wait_checked (f, "meh");

  hkp_status_summarize (f->engine, &summary);
  g_assert_cmpuint (summary.total, ==, 4);
  g_assert_cmpuint (summary.healthy, ==, 1);
  g_assert_cmpuint (summary.unhealthy, ==, 3);
  g_assert_cmpuint (summary.active, ==, 2);
  /* Traffic flows (broken is skipped), one plugin is only degraded: that is degraded, not unhealthy. */
  g_assert_cmpstr (summary.overall, ==, "degraded");

  status = parse (hkp_status_json (f->engine, g_get_real_time ()));
  counts = json_object_get_object_member (status, "health_status");
  system = json_object_get_object_member (status, "plugin_system");
  g_assert_cmpint (json_object_get_int_member (counts, "healthy_count"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (counts, "unhealthy_count"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (counts, "total_count"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (counts, "healthy_count") +
                     json_object_get_int_member (counts, "unhealthy_count"),
                   ==, json_object_get_int_member (counts, "total_count"));
  g_assert_cmpstr (json_object_get_string_member (counts, "overall_status"), ==, "degraded");
  g_assert_cmpint (json_object_get_int_member (system, "total_plugins"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (system, "active_plugins"), ==, 2);
}

/* Every enabled plugin healthy: healthy, whatever the disabled ones are. */
static void
test_healthy_despite_disabled (Fixture *f, gconstpointer data)
{
  engine_fixture_write_plugin (f, "fine", "{\"module\": \"health.so\"}");
  engine_fixture_write_plugin (f, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  engine_fixture_start (f, NULL);
  wait_checked (f, "fine");
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "healthy");
}

/* No enabled plugin healthy (or none at all), or a required one down: unhealthy. */
static void
test_unhealthy (Fixture *f, gconstpointer data)
{
  static const char *const required_broken[] = { "broken", NULL };
  static const char *const required_missing[] = { "nowhere", NULL };
  HkpEngineSettings settings = { 0 };

  engine_fixture_start (f, NULL);
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "unhealthy");
  engine_fixture_stop (f);

  engine_fixture_write_plugin (
    f, "meh", "{\"module\": \"health.so\", \"config\": {\"health\": \"degraded\", \"message\": \"cache cold\"}}");
  engine_fixture_start (f, NULL);
  wait_checked (f, "meh");
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "unhealthy");
  engine_fixture_stop (f);

  /* Required in its file, or on the command line; or named there and not configured at all. */
  write_mixed (f);
  engine_fixture_write_plugin (f, "broken", "{\"module\": \"failinit.so\", \"required\": true}");
  engine_fixture_start (f, NULL);
  wait_checked (f, "fine");
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "unhealthy");
  g_assert_true (hkp_plugin_is_required (engine_fixture_lookup (f, "broken")));
  engine_fixture_stop (f);

  write_mixed (f);
  settings.required_plugins = required_broken;
  engine_fixture_start (f, &settings);
  wait_checked (f, "fine");
  g_assert_true (hkp_plugin_is_required (engine_fixture_lookup (f, "broken")));
  g_assert_false (hkp_plugin_is_required (engine_fixture_lookup (f, "fine")));
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "unhealthy");
  engine_fixture_stop (f);

  engine_fixture_write_plugin (f, "broken", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  engine_fixture_write_plugin (f, "meh", "{\"module\": \"health.so\"}");
  settings.required_plugins = required_missing;
  engine_fixture_start (f, &settings);
  wait_checked (f, "fine");
  wait_checked (f, "meh");
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "unhealthy");
}

typedef struct {
  HkpEngine *engine;
  GPtrArray *seen; /* "overall/active" at every change */
} Watch;

static void
on_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, Watch *watch)
{
  HkpStatusSummary summary;

  hkp_status_summarize (engine, &summary);
  g_ptr_array_add (watch->seen, g_strdup_printf ("%s/%u/%u", summary.overall, summary.active, summary.healthy));
}

/*
 * An overlap reload: the previous instance serves until the new one does,
 * so neither the overall health, the active count nor the healthy count
 * change at any moment of it; an exclusive one holds requests, so they do.
 */
static void
test_reload_counts_as_it_was (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  Watch watch = { NULL, seen };
  gboolean reloading_seen = FALSE;
  HkpPlugin *slow;

  engine_fixture_write_plugin (f, "fine", "{\"module\": \"health.so\", \"priority\": 1}");
  /* Its second instance takes a while to start: the reload is seen in state reloading. */
  engine_fixture_write_plugin (
    f, "slow",
    "{\"module\": \"sleeper.so\", \"priority\": 2, \"config\": {\"init_delay_ms\": 100, \"init_delay_from\": 2}}");
  engine_fixture_start (f, NULL);
  wait_checked (f, "fine");
  wait_checked (f, "slow");
  slow = engine_fixture_lookup (f, "slow");
  g_assert_cmpstr (hkp_status_overall_health (f->engine), ==, "healthy");

  g_signal_connect (f->engine, "plugin-changed", G_CALLBACK (on_changed), &watch);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GAsyncResult) result = NULL;
      hkp_engine_reload_async (f->engine, "slow", hkp_test_store_result, &result);
      reloading_seen |= hkp_plugin_get_state (slow) == HKP_PLUGIN_STATE_RELOADING;
      g_assert_true (hkp_plugin_is_serving (slow));
      hkp_test_wait_result (&result);
      g_assert_true (hkp_engine_reload_finish (f->engine, result, NULL));
      /* And until the new instance has been checked. */
      g_assert_cmpint (hkp_plugin_get_counted_health (slow), ==, HKP_HEALTH_STATUS_HEALTHY);
      while (hkp_plugin_get_health (slow)->status != HKP_HEALTH_STATUS_HEALTHY)
        g_main_context_iteration (NULL, TRUE);
    }
  g_signal_handlers_disconnect_by_data (f->engine, &watch);
  g_assert_true (reloading_seen);
  g_assert_cmpuint (hkp_plugin_get_reload_count (slow), ==, 3);
  g_assert_cmpuint (seen->len, >=, 6);
  for (guint i = 0; i < seen->len; i++)
    g_assert_cmpstr (seen->pdata[i], ==, "healthy/2/2");

  /* An exclusive reload holds the plugin's requests: it is not active meanwhile, nor counted healthy. */
  engine_fixture_write_plugin (f, "slow",
                               "{\"module\": \"sleeper.so\", \"priority\": 2, \"reload_strategy\": \"exclusive\"}");
  {
    g_autoptr (GAsyncResult) result = NULL;
    g_auto (HkpRescanSummary) rescan = { 0 };
    hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
    hkp_test_wait_result (&result);
    g_assert_true (hkp_engine_rescan_finish (f->engine, result, &rescan, NULL));
    g_assert_cmpuint (rescan.changed, ==, 1);
  }
  g_ptr_array_set_size (seen, 0);
  g_signal_connect (f->engine, "plugin-changed", G_CALLBACK (on_changed), &watch);
  {
    g_autoptr (GAsyncResult) result = NULL;
    hkp_engine_reload_async (f->engine, "slow", hkp_test_store_result, &result);
    g_assert_false (hkp_plugin_is_serving (slow));
    hkp_test_wait_result (&result);
    g_assert_true (hkp_engine_reload_finish (f->engine, result, NULL));
  }
  g_signal_handlers_disconnect_by_data (f->engine, &watch);
  g_assert_true (g_ptr_array_find_with_equal_func (seen, "degraded/1/1", g_str_equal, NULL));
}

static JsonObject *
list_entry (JsonObject *list, const char *name)
{
  JsonArray *plugins = json_object_get_array_member (list, "plugins");

  for (guint i = 0; i < json_array_get_length (plugins); i++)
    {
      JsonObject *entry = json_array_get_object_element (plugins, i);
      if (g_str_equal (json_object_get_string_member (entry, "name"), name))
        return entry;
    }
  g_error ("no plugin %s in the list", name);
}

/* Every entry says why: the health message, and the last error when there is one. */
static void
test_entries_say_why (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) list = NULL;
  g_autoptr (JsonObject) health = NULL;
  JsonObject *plugins, *entry;

  write_mixed (f);
  engine_fixture_start (f, NULL);
  wait_checked (f, "fine");
  wait_checked (f, "meh");
  list = parse (hkp_status_list_json (f->engine, g_get_real_time ()));
  health = parse (hkp_status_health_json (f->engine, g_get_real_time ()));
  plugins = json_object_get_object_member (health, "plugins");

  entry = list_entry (list, "meh");
  g_assert_cmpstr (json_object_get_string_member (entry, "message"), ==, "cache cold");
  g_assert_false (json_object_has_member (entry, "last_error"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (entry, "health"), "message"), ==,
                   "cache cold");
  entry = json_object_get_object_member (plugins, "meh");
  g_assert_cmpstr (json_object_get_string_member (entry, "status"), ==, "degraded");
  g_assert_cmpstr (json_object_get_string_member (entry, "message"), ==, "cache cold");

  entry = list_entry (list, "broken");
  g_assert_nonnull (strstr (json_object_get_string_member (entry, "last_error"), "init failed: no key"));
  g_assert_nonnull (strstr (json_object_get_string_member (entry, "message"), "init failed: no key"));
  entry = json_object_get_object_member (plugins, "broken");
  g_assert_cmpstr (json_object_get_string_member (entry, "status"), ==, "unhealthy");
  g_assert_nonnull (strstr (json_object_get_string_member (entry, "last_error"), "init failed: no key"));

  entry = json_object_get_object_member (plugins, "fine");
  g_assert_cmpstr (json_object_get_string_member (entry, "message"), ==, "");
  g_assert_false (json_object_has_member (entry, "last_error"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/status/counts-add-up", test_counts_add_up);
  ADD ("/status/healthy-despite-disabled", test_healthy_despite_disabled);
  ADD ("/status/unhealthy", test_unhealthy);
  ADD ("/status/reload-counts-as-it-was", test_reload_counts_as_it_was);
  ADD ("/status/entries-say-why", test_entries_say_why);
#undef ADD
  return g_test_run ();
}
