/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Health monitoring with real modules: statuses and checks, a hanging
 * health() reported as timed out, transitioning during reloads, and the
 * restart policy backing off, giving up, and resetting after a healthy period.
 */
#include <string.h>

#include "hkp-error.h"
#include "hkp-test-engine.h"
#include "hkp-test-probe.h"

typedef EngineFixture Fixture;

static void
on_health_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, GPtrArray *events)
{
  if (what & HKP_PLUGIN_CHANGED_HEALTH)
    g_ptr_array_add (events, g_strdup (hkp_health_status_to_string (hkp_plugin_get_health (plugin)->status)));
}

/* Iterates the loop until plugin's health is status. */
static void
wait_health (HkpPlugin *plugin, HkpHealthStatus status)
{
  while (hkp_plugin_get_health (plugin)->status != status)
    g_main_context_iteration (NULL, TRUE);
}

static const HkpHealthCheck *
find_check (const HkpHealth *health, const char *key)
{
  for (guint i = 0; i < health->checks->len; i++)
    if (g_str_equal (((HkpHealthCheck *) health->checks->pdata[i])->key, key))
      return health->checks->pdata[i];
  return NULL;
}

static void
test_statuses (Fixture *f, gconstpointer data)
{
  const HkpHealth *health;
  const HkpHealthCheck *check;
  gint64 before = g_get_real_time ();

  engine_fixture_write_plugin (f, "fine", "{\"module\": \"health.so\"}");
  engine_fixture_write_plugin (
    f, "meh", "{\"module\": \"health.so\", \"config\": {\"health\": \"degraded\", \"message\": \"cache cold\"}}");
  engine_fixture_write_plugin (
    f, "bad", "{\"module\": \"health.so\", \"config\": {\"health\": \"unhealthy\", \"message\": \"db down\"}}");
  engine_fixture_write_plugin (f, "plain", "{\"module\": \"answer.so\"}");
  engine_fixture_write_plugin (f, "broken", "{\"module\": \"failinit.so\", \"config\": {\"message\": \"no key\"}}");
  engine_fixture_write_plugin (f, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  engine_fixture_start (f, NULL);

  wait_health (engine_fixture_lookup (f, "fine"), HKP_HEALTH_STATUS_HEALTHY);
  health = hkp_plugin_get_health (engine_fixture_lookup (f, "fine"));
  check = find_check (health, "checks");
  g_assert_nonnull (check);
  g_assert_true (check->is_int);
  g_assert_cmpint (check->int_value, ==, 1);
  g_assert_cmpint (health->last_check_usec, >=, before);
  g_assert_cmpuint (health->consecutive_failures, ==, 0);

  wait_health (engine_fixture_lookup (f, "meh"), HKP_HEALTH_STATUS_DEGRADED);
  g_assert_cmpstr (hkp_plugin_get_health (engine_fixture_lookup (f, "meh"))->message, ==, "cache cold");
  wait_health (engine_fixture_lookup (f, "bad"), HKP_HEALTH_STATUS_UNHEALTHY);
  g_assert_cmpstr (hkp_plugin_get_health (engine_fixture_lookup (f, "bad"))->message, ==, "db down");
  g_assert_cmpuint (hkp_plugin_get_health (engine_fixture_lookup (f, "bad"))->consecutive_failures, ==, 1);
  /* A plugin without health() is healthy while active. */
  wait_health (engine_fixture_lookup (f, "plain"), HKP_HEALTH_STATUS_HEALTHY);
  health = hkp_plugin_get_health (engine_fixture_lookup (f, "broken"));
  g_assert_cmpint (health->status, ==, HKP_HEALTH_STATUS_UNHEALTHY);
  g_assert_nonnull (strstr (health->message, "init failed: no key"));
  g_assert_cmpint (hkp_plugin_get_health (engine_fixture_lookup (f, "off"))->status, ==, HKP_HEALTH_STATUS_UNKNOWN);
}

static void
test_hang_times_out (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .health_timeout_sec = 0.1 };
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "stuck",
                               "{\"module\": \"health.so\", \"config\": {\"health\": \"hang\", \"hang_ms\": 400}}");
  engine_fixture_start (f, &settings);
  plugin = engine_fixture_lookup (f, "stuck");
  wait_health (plugin, HKP_HEALTH_STATUS_UNHEALTHY);
  g_assert_cmpstr (hkp_plugin_get_health (plugin)->message, ==, "health check timed out after 0.1 s");
  /* The hung call is not a request. */
  g_assert_cmpuint (hkp_plugin_get_active_requests (plugin), ==, 0);
  /* Stopping waits for the hung health() to return before the instance is shut down (teardown). */
}

/*
 * An in-process health() that never returns while the engine stops: the
 * instance is abandoned with the call, and the engine's watchdog, whose
 * queue the instance keeps, outlives the engine without a complaint.
 */
static void
test_hang_outlives_engine (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .health_timeout_sec = 0.05, .shutdown_timeout_sec = 0.2 };
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "stuck",
                               "{\"module\": \"health.so\", \"isolation\": \"none\", \"drain_timeout_sec\": 0.1, "
                               "\"config\": {\"health\": \"hang\", \"hang_ms\": 60000}}");
  engine_fixture_start (f, &settings);
  plugin = engine_fixture_lookup (f, "stuck");
  /* A request first: the instance's queue of call deadlines is made on its first call. */
  {
    g_auto (HkpCheckResult) result = { 0 };
    engine_fixture_check (f, &result);
  }
  wait_health (plugin, HKP_HEALTH_STATUS_UNHEALTHY);
  /* The process outlives the engine (and the call): no warning, fatal here, about the watchdog's queues. */
  engine_fixture_stop (f);
}

/* Threads of this process, from /proc. */
static guint
thread_count (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

/* A health() that never returns is asked once: later checks report it still running, none piles up. */
static void
test_hang_one_at_a_time (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .health_interval_sec = 0.02, .health_timeout_sec = 0.05 };
  HkpPlugin *plugin;
  guint threads_before, threads_after;

  settings.restart.after_failures = 1000; /* no restart here: the same instance is checked again and again */
  /* In the daemon: no host to restart, so the same instance is asked again and again. */
  engine_fixture_write_plugin (f, "stuck",
                               "{\"module\": \"health.so\", \"isolation\": \"none\", \"drain_timeout_sec\": 0.2, "
                               "\"config\": {\"health\": \"hang\", \"hang_ms\": 3000}}");
  engine_fixture_start (f, &settings);
  plugin = engine_fixture_lookup (f, "stuck");
  while (hkp_plugin_get_health (plugin)->consecutive_failures < 3)
    g_main_context_iteration (NULL, TRUE);
  threads_before = thread_count ();
  while (hkp_plugin_get_health (plugin)->consecutive_failures < 30)
    g_main_context_iteration (NULL, TRUE);
  threads_after = thread_count ();
  g_assert_cmpint (hkp_plugin_get_health (plugin)->status, ==, HKP_HEALTH_STATUS_UNHEALTHY);
  g_assert_cmpstr (hkp_plugin_get_health (plugin)->message, ==,
                   "health() has not returned since an earlier check timed out");
  /* One call entered health() (each hang counts as an entry); 27 more intervals started no thread. */
  g_assert_cmpint (hkp_test_probe_entered_count (), ==, 1);
  g_assert_cmpuint (threads_after, <=, threads_before);
}

static gboolean
on_time_up (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/*
 * A health() stuck in an instance holds up no other instance: after a
 * change, the new one is checked at once, not held until the old call
 * returns (and restarted, and failed, meanwhile).
 */
static void
test_hang_stays_with_its_instance (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .health_interval_sec = 0.05, .health_timeout_sec = 0.05 };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gboolean time_up = FALSE;
  HkpPlugin *plugin;
  guint timer;

  settings.restart.after_failures = 1000;
  /* In the daemon, where a stuck call stays in the instance; 3 s, so the old call is surely still stuck below. */
  engine_fixture_write_plugin (f, "stuck",
                               "{\"module\": \"health.so\", \"isolation\": \"none\", \"drain_timeout_sec\": 0.2, "
                               "\"config\": {\"health\": \"hang\", \"hang_ms\": 3000}}");
  engine_fixture_start (f, &settings);
  plugin = engine_fixture_lookup (f, "stuck");
  wait_health (plugin, HKP_HEALTH_STATUS_UNHEALTHY);
  hkp_engine_set_config_async (f->engine, "stuck", "{}", "test", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_change_finish (f->engine, result, &error));
  g_assert_no_error (error);
  /* Healthy well before the old call returns. */
  timer = g_timeout_add (1500, on_time_up, &time_up);
  while (hkp_plugin_get_health (plugin)->status != HKP_HEALTH_STATUS_HEALTHY && !time_up)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (time_up);
  g_source_remove (timer);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
}

/* An isolated instance whose health() stays stuck for 3 checks has its host killed, and a new one started. */
static void
test_hang_host_restarted (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .health_interval_sec = 0.05, .health_timeout_sec = 0.05 };
  HkpPlugin *plugin;
  guint first_pid;

  settings.restart.after_failures = 1000; /* the host's restart, not the unhealthy plugin's */
  engine_fixture_write_plugin (f, "stuck",
                               "{\"module\": \"health.so\", \"isolation\": \"process\", "
                               "\"config\": {\"health\": \"hang\", \"hang_ms\": 60000}}");
  engine_fixture_start (f, &settings);
  plugin = engine_fixture_lookup (f, "stuck");
  first_pid = hkp_plugin_get_host_pid (plugin);
  g_assert_cmpuint (first_pid, >, 0);
  hkp_test_wait_log ("plugin stuck: health() stuck for 3 checks; killing its host");
  while (hkp_plugin_get_host_restarts (plugin) < 1 || hkp_plugin_get_state (plugin) != HKP_PLUGIN_STATE_ACTIVE)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (hkp_plugin_get_host_pid (plugin), >, 0);
  g_assert_cmpuint (hkp_plugin_get_host_pid (plugin), !=, first_pid);
  /* Back to active: the problem is gone from LastError. */
  g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==, "");
}

static void
test_transitioning (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GAsyncResult) result = NULL;
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "p", "{\"module\": \"health.so\"}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  wait_health (plugin, HKP_HEALTH_STATUS_HEALTHY);
  g_signal_connect (f->engine, "plugin-changed", G_CALLBACK (on_health_changed), events);
  hkp_engine_reload_async (f->engine, "p", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_reload_finish (f->engine, result, NULL));
  wait_health (plugin, HKP_HEALTH_STATUS_HEALTHY);
  g_signal_handlers_disconnect_by_data (f->engine, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (events->pdata[0], ==, "transitioning");
  g_assert_cmpstr (events->pdata[1], ==, "healthy");
}

static void
test_check_in_flight_during_reload (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .health_interval_sec = 0.05 };
  g_autoptr (GAsyncResult) result = NULL;

  /* Every check takes 300 ms; reload while the first one runs.  An exclusive reload drains the old
   * instance, which waits for that check: so it ends while the plugin is still reloading. */
  engine_fixture_write_plugin (f, "p",
                               "{\"module\": \"health.so\", \"reload_strategy\": \"exclusive\", "
                               "\"config\": {\"health\": \"hang\", \"hang_ms\": 300}}");
  engine_fixture_start (f, &settings);
  /* The check is started by the engine's timer on this thread's loop: iterate it while waiting. */
  while (hkp_test_probe_entered_count () < 1)
    g_main_context_iteration (NULL, TRUE);
  hkp_engine_reload_async (f->engine, "p", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_reload_finish (f->engine, result, NULL));
  /* The stale result is dropped, and the monitor goes on checking the new instance. */
  hkp_test_wait_log ("plugin p health transitioning -> healthy");
}

static const HkpEngineSettings restart_settings = {
  .health_interval_sec = 0.02,
  .restart = {
    .after_failures = 2,
    .backoff_initial_sec = 0.05,
    .backoff_max_sec = 1,
    .reset_after_sec = 0.3,
    .window_sec = 60,
    .max_in_window = 3,
  },
};

static void
test_restart_backs_off_then_gives_up (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;
  g_auto (HkpCheckResult) check = { 0 };

  engine_fixture_write_plugin (
    f, "sick", "{\"module\": \"health.so\", \"config\": {\"health\": \"unhealthy\", \"message\": \"db down\"}}");
  engine_fixture_start (f, &restart_settings);
  plugin = engine_fixture_lookup (f, "sick");

  hkp_test_wait_log ("giving up");
  wait_health (plugin, HKP_HEALTH_STATUS_UNHEALTHY);
  g_assert_true (hkp_test_log_contains_for_plugin ("sick", "unhealthy 2 checks in a row; restart in 0.05 s"));
  g_assert_true (hkp_test_log_contains_for_plugin ("sick", "unhealthy 2 checks in a row; restart in 0.1 s"));
  g_assert_true (hkp_test_log_contains_for_plugin ("sick", "unhealthy 2 checks in a row; restart in 0.2 s"));
  g_assert_false (hkp_test_log_contains_for_plugin ("sick", "restart in 0.4 s"));
  g_assert_cmpuint (hkp_plugin_get_restart_count (plugin), ==, 3);
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_FAILED);
  g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==,
                   "restarted 3 times within 60 s without recovering; giving up (last check: db down)");
  /* Failed means its requests follow the failure mode. */
  engine_fixture_check (f, &check);
  g_assert_cmpuint (check.status, ==, 503);
}

static void
set_health (Fixture *f, const char *json)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  hkp_engine_set_config_async (f->engine, "sick", json, "test", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_change_finish (f->engine, result, &error));
  g_assert_no_error (error);
}

/* A restart due for an unhealthy instance is dropped when a change replaces that instance first. */
static void
test_restart_dropped_after_change (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = restart_settings;
  gboolean time_up = FALSE;
  HkpPlugin *plugin;
  gint64 due;

  /* Well past the change below, even a slow one (under ASan, with a plugin host to start). */
  settings.restart.backoff_initial_sec = 2;
  settings.restart.backoff_max_sec = 2;
  engine_fixture_write_plugin (
    f, "sick", "{\"module\": \"health.so\", \"config\": {\"health\": \"unhealthy\", \"message\": \"db down\"}}");
  engine_fixture_start (f, &settings);
  plugin = engine_fixture_lookup (f, "sick");
  hkp_test_wait_log ("unhealthy 2 checks in a row; restart in 2 s");
  due = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  set_health (f, "{}");
  /* The change was over before the restart was due: only the fix keeps it from restarting the new instance. */
  g_assert_cmpint (g_get_monotonic_time (), <, due);
  /* Past the time the restart was due, with a margin: nothing says "no restart" but its absence. */
  g_timeout_add (2500, on_time_up, &time_up);
  while (!time_up)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (hkp_plugin_get_restart_count (plugin), ==, 0);
  g_assert_false (hkp_test_log_contains_for_plugin ("sick", "restarting (restart 1)"));
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
}

static void
test_restart_backoff_resets (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "sick", "{\"module\": \"health.so\", \"config\": {\"health\": \"unhealthy\"}}");
  engine_fixture_start (f, &restart_settings);
  plugin = engine_fixture_lookup (f, "sick");
  hkp_test_wait_log ("restart in 0.1 s");
  /* Recover: healthy long enough and the backoff starts again from the first delay. */
  set_health (f, "{\"health\": \"healthy\"}");
  hkp_test_wait_log ("healthy for 0.3 s; restart backoff reset");
  hkp_test_log_clear ();
  set_health (f, "{\"health\": \"unhealthy\"}");
  hkp_test_wait_log ("restart in");
  g_assert_true (hkp_test_log_contains_for_plugin ("sick", "restart in 0.05 s"));
  g_assert_cmpint (hkp_plugin_get_state (plugin), !=, HKP_PLUGIN_STATE_FAILED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/health/statuses", test_statuses);
  ADD ("/health/hang-times-out", test_hang_times_out);
  ADD ("/health/hang-one-at-a-time", test_hang_one_at_a_time);
  ADD ("/health/hang-host-restarted", test_hang_host_restarted);
  ADD ("/health/hang-stays-with-its-instance", test_hang_stays_with_its_instance);
  ADD ("/health/hang-outlives-engine", test_hang_outlives_engine);
  ADD ("/health/transitioning", test_transitioning);
  ADD ("/health/check-in-flight-during-reload", test_check_in_flight_during_reload);
  ADD ("/health/restart/backs-off-then-gives-up", test_restart_backs_off_then_gives_up);
  ADD ("/health/restart/backoff-resets", test_restart_backoff_resets);
  ADD ("/health/restart/dropped-after-change", test_restart_dropped_after_change);
#undef ADD
  return g_test_run ();
}
