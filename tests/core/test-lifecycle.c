/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The request path and reloads with real modules and real threads: verdicts
 * in priority order, failure modes, no request lost while a plugin is
 * reloaded hundreds of times, drain timeouts that cancel, rollbacks that keep
 * the old instance serving, and busy refusals.
 */
#include <string.h>

#include "hkp-error.h"
#include "hkp-test-engine.h"
#include "hkp-test-probe.h"

typedef EngineFixture Fixture;

/* Runs one check of GET /pks/lookup from 192.0.2.1 on the calling thread. */
static void
check (Fixture *f, HkpCheckResult *result)
{
  HkpCheckRequest request = {
    .method = "GET", .path = "/pks/lookup", .query = "op=get", .client_address = "192.0.2.1"
  };

  hkp_engine_check (f->engine, &request, result);
}

static void
reload (Fixture *f, const char *name, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_reload_async (f->engine, name, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  hkp_engine_reload_finish (f->engine, result, error);
}

static void
test_chain_order (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) result = { 0 };

  engine_fixture_write_plugin (f, "first",
                               "{\"module\": \"answer.so\", \"priority\": 1, \"config\": {\"verdict\": \"continue\"}}");
  engine_fixture_write_plugin (f, "second",
                               "{\"module\": \"answer.so\", \"priority\": 2, \"config\": "
                               "{\"verdict\": \"deny\", \"status\": 429, \"reason\": \"slow down\", "
                               "\"headers\": {\"Retry-After\": \"7\"}}}");
  engine_fixture_write_plugin (f, "third",
                               "{\"module\": \"answer.so\", \"priority\": 3, \"config\": {\"verdict\": \"allow\"}}");
  engine_fixture_start (f, NULL);

  engine_fixture_check (f, &result);
  g_assert_false (result.allowed);
  g_assert_cmpuint (result.status, ==, 429);
  g_assert_cmpstr (result.plugin, ==, "second");
  g_assert_cmpstr (result.reason, ==, "slow down");
  g_assert_cmpuint (result.headers->len, ==, 2);
  g_assert_cmpstr (result.headers->pdata[0], ==, "Retry-After");
  g_assert_cmpstr (result.headers->pdata[1], ==, "7");
  g_assert_cmpuint (hkp_plugin_get_outcome_count (engine_fixture_lookup (f, "first"), HKP_OUTCOME_CONTINUE), ==, 1);
  g_assert_cmpuint (hkp_plugin_get_outcome_count (engine_fixture_lookup (f, "second"), HKP_OUTCOME_DENY), ==, 1);
  g_assert_cmpuint (hkp_plugin_get_outcome_count (engine_fixture_lookup (f, "third"), HKP_OUTCOME_ALLOW), ==, 0);
}

static void
test_all_continue (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) result = { 0 };

  engine_fixture_write_plugin (f, "a", "{\"module\": \"answer.so\"}");
  engine_fixture_write_plugin (f, "off",
                               "{\"module\": \"answer.so\", \"config\": {\"enabled\": false, \"verdict\": \"deny\"}}");
  engine_fixture_start (f, NULL);
  engine_fixture_check (f, &result);
  g_assert_true (result.allowed);
  g_assert_cmpuint (result.status, ==, 200);
  g_assert_null (result.plugin);
}

static void
test_failure_modes (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) closed = { 0 };
  g_auto (HkpCheckResult) open = { 0 };

  engine_fixture_write_plugin (f, "broken", "{\"module\": \"failinit.so\", \"priority\": 1}");
  engine_fixture_write_plugin (f, "last",
                               "{\"module\": \"answer.so\", \"priority\": 2, \"config\": {\"verdict\": \"allow\"}}");
  engine_fixture_start (f, NULL);
  engine_fixture_check (f, &closed);
  g_assert_false (closed.allowed);
  g_assert_cmpuint (closed.status, ==, 503);
  g_assert_cmpstr (closed.plugin, ==, "broken");
  g_assert_cmpstr (closed.reason, ==, "plugin broken is unavailable: it has failed");
  engine_fixture_stop (f);

  engine_fixture_write_plugin (f, "broken",
                               "{\"module\": \"failinit.so\", \"priority\": 1, \"failure_mode\": \"open\"}");
  engine_fixture_start (f, NULL);
  engine_fixture_check (f, &open);
  g_assert_true (open.allowed);
  g_assert_cmpstr (open.plugin, ==, "last");
}

static void
test_response_limits (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) result = { 0 };
  g_autoptr (GString) json = g_string_new (
    "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\", \"status\": 99, \"reason\": \"");

  /* 1023 ASCII bytes then a 2-byte character: the reason is cut before it, at 1023 bytes. */
  for (guint i = 0; i < 1023; i++)
    g_string_append_c (json, 'r');
  g_string_append (json,
                   "\u00e9tail\", \"headers\": {\"Retry-After\": \"5\", \"Bad Name\": \"x\", "
                   "\"X-Split\": \"a\\r\\nInjected: yes\"");
  for (guint i = 0; i < 40; i++)
    g_string_append_printf (json, ", \"X-H%u\": \"%u\"", i, i);
  g_string_append (json, "}}}");
  engine_fixture_write_plugin (f, "p", json->str);
  engine_fixture_start (f, NULL);
  engine_fixture_check (f, &result);

  /* An out-of-range status falls back to 403 for a denial. */
  g_assert_cmpuint (result.status, ==, 403);
  g_assert_cmpuint (strlen (result.reason), ==, 1023);
  g_assert_true (g_utf8_validate (result.reason, -1, NULL));
  /* Only valid headers are kept, 32 at most. */
  g_assert_cmpuint (result.headers->len, ==, 64);
  g_assert_cmpstr (result.headers->pdata[0], ==, "Retry-After");
  for (guint i = 0; i < result.headers->len; i += 2)
    {
      g_assert_cmpstr (result.headers->pdata[i], !=, "Bad Name");
      g_assert_cmpstr (result.headers->pdata[i], !=, "X-Split");
    }
}

/* ---- no request lost ---------------------------------------------------- */

typedef struct {
  Fixture *f;
  gint stop;
  gint64 requests;
  gint64 allowed;
  gint64 other;
  GPtrArray *threads;
} Load;

static gpointer
load_thread (gpointer data)
{
  Load *load = data;

  while (!g_atomic_int_get (&load->stop))
    {
      g_auto (HkpCheckResult) result = { 0 };
      check (load->f, &result);
      __atomic_fetch_add (&load->requests, 1, __ATOMIC_RELAXED);
      if (result.allowed && result.status == 200 && g_strcmp0 (result.plugin, "busy") == 0)
        __atomic_fetch_add (&load->allowed, 1, __ATOMIC_RELAXED);
      else
        {
          if (__atomic_fetch_add (&load->other, 1, __ATOMIC_RELAXED) == 0)
            g_printerr ("# unexpected answer: %u %s (%s)\n", result.status, result.reason, result.plugin);
        }
    }
  return NULL;
}

static void
no_request_lost (Fixture *f, const char *strategy, guint reloads)
{
  g_autofree char *json = g_strdup_printf ("{\"module\": \"answer.so\", \"reload_strategy\": \"%s\", "
                                           "\"config\": {\"verdict\": \"allow\"}}",
                                           strategy);
  Load load = { .f = f, .threads = g_ptr_array_new () };
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "busy", json);
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "busy");

  for (guint i = 0; i < 8; i++)
    g_ptr_array_add (load.threads, g_thread_new ("load", load_thread, &load));
  for (guint i = 0; i < reloads; i++)
    {
      g_autoptr (GError) error = NULL;
      reload (f, "busy", &error);
      g_assert_no_error (error);
      /* Overlap returns once the new instance serves; let drains catch up so at most two pile up. */
      if (hkp_plugin_get_draining (plugin) >= 2)
        engine_fixture_wait_idle (f);
    }
  g_atomic_int_set (&load.stop, 1);
  for (guint i = 0; i < load.threads->len; i++)
    g_thread_join (load.threads->pdata[i]);
  g_ptr_array_unref (load.threads);
  engine_fixture_wait_idle (f);

  g_test_message ("%s: %" G_GINT64_FORMAT " requests across %u reloads", strategy, load.requests, reloads);
  g_assert_cmpint (load.requests, >, 0);
  g_assert_cmpint (load.allowed, ==, load.requests);
  g_assert_cmpint (load.other, ==, 0);
  g_assert_cmpint (hkp_test_probe_violations (), ==, 0);
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, reloads);
  g_assert_cmpuint (hkp_plugin_get_outcome_count (plugin, HKP_OUTCOME_ALLOW), ==, (guint64) load.requests);
  g_assert_cmpuint (hkp_plugin_get_active_requests (plugin), ==, 0);
}

static void
test_no_loss_overlap (Fixture *f, gconstpointer data)
{
  no_request_lost (f, "overlap", 200);
}

static void
test_no_loss_exclusive (Fixture *f, gconstpointer data)
{
  no_request_lost (f, "exclusive", 50);
}

/* ---- drain timeout ---------------------------------------------------- */

typedef struct {
  GPtrArray *events;
  Fixture *f;
} Recorder;

static void
on_check_done (GObject *source, GAsyncResult *async, gpointer user_data)
{
  Recorder *recorder = user_data;
  g_auto (HkpCheckResult) result = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_engine_check_finish (HKP_ENGINE (source), async, &result, &error));
  g_ptr_array_add (recorder->events,
                   g_strdup_printf ("check %s by %s", result.allowed ? "allowed" : "denied", result.plugin));
}

static void
on_reload_done (GObject *source, GAsyncResult *async, gpointer user_data)
{
  Recorder *recorder = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_true (hkp_engine_reload_finish (HKP_ENGINE (source), async, &error));
  g_ptr_array_add (recorder->events, g_strdup ("reload applied"));
}

static void
on_draining_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, GArray *seen)
{
  guint now;

  if (!(what & HKP_PLUGIN_CHANGED_DRAINING))
    return;
  now = hkp_plugin_get_draining_requests (plugin);
  g_array_append_val (seen, now);
}

static void
test_drain_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) draining = g_array_new (FALSE, FALSE, sizeof (guint));
  Recorder recorder = { .events = g_ptr_array_new_with_free_func (g_free), .f = f };
  HkpPlugin *plugin;
  guint checks_done = 0;

  /* The first instance takes 10 s per request; the reload's instance answers at once. */
  engine_fixture_write_plugin (f, "slow",
                               "{\"module\": \"sleeper.so\", \"drain_timeout_sec\": 0.2, \"call_timeout_ms\": 60000, "
                               "\"config\": {\"sleep_ms\": 10000, \"sleep_instances\": 1}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "slow");
  for (guint i = 0; i < 4; i++)
    hkp_engine_check_async (f->engine, "GET", "/", "", "192.0.2.1", NULL, NULL, on_check_done, &recorder);
  hkp_test_probe_wait_entered (4);
  g_assert_cmpuint (hkp_plugin_get_active_requests (plugin), ==, 4);

  g_signal_connect (f->engine, "plugin-changed", G_CALLBACK (on_draining_changed), draining);
  hkp_engine_reload_async (f->engine, "slow", on_reload_done, &recorder);
  engine_fixture_wait_idle (f);
  while (recorder.events->len < 5 || draining->len == 0 || g_array_index (draining, guint, draining->len - 1) != 0)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handlers_disconnect_by_data (f->engine, draining);
  /* DrainingRequests followed the old instance: its 4 requests, then none. */
  g_assert_cmpuint (g_array_index (draining, guint, 0), ==, 4);

  /* The reload applied first; the drain then cancelled the 4 calls, which the new instance answered. */
  g_assert_cmpstr (recorder.events->pdata[0], ==, "reload applied");
  for (guint i = 1; i < 5; i++)
    if (g_str_equal (recorder.events->pdata[i], "check allowed by slow"))
      checks_done++;
  g_assert_cmpuint (checks_done, ==, 4);
  g_assert_cmpint (hkp_test_probe_cancelled_count (), ==, 4);
  g_assert_cmpuint (hkp_plugin_get_cancelled_by_drain (plugin), ==, 4);
  g_assert_cmpuint (hkp_plugin_get_outcome_count (plugin, HKP_OUTCOME_CANCELLED), ==, 4);
  g_assert_true (
    hkp_test_log_contains_for_plugin ("slow", "drain timeout passed with 4 requests in flight; cancelling them"));
  g_assert_true (hkp_test_log_contains_for_plugin ("slow", "drain of the previous instance cancelled 4 requests"));
  g_assert_cmpint (hkp_test_probe_violations (), ==, 0);
  g_ptr_array_unref (recorder.events);
}

/*
 * Twice: a check that the plugin "slow" holds, then a reload, so that two
 * earlier instances each hold one; after each, waits for the log line
 * wait_line (if any) to have come that often.
 */
static void
leave_two_draining (Fixture *f, HkpPlugin *plugin, const char *wait_line)
{
  for (guint round = 1; round <= 2; round++)
    {
      g_autoptr (GError) error = NULL;
      hkp_engine_check_async (f->engine, "GET", "/", "", "192.0.2.1", NULL, NULL, NULL, NULL);
      hkp_test_probe_wait_entered (round);
      reload (f, "slow", &error);
      g_assert_no_error (error);
      while (wait_line != NULL && hkp_test_log_count (wait_line) < round)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpuint (hkp_plugin_get_draining (plugin), ==, round);
    }
}

static void
test_two_draining_at_most (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) third = NULL;
  HkpPlugin *plugin;

  /* Instances 1 and 2 hold their requests for 10 s; instance 3 answers at once. */
  engine_fixture_write_plugin (f, "slow",
                               "{\"module\": \"sleeper.so\", \"drain_timeout_sec\": 2, \"call_timeout_ms\": 60000, "
                               "\"config\": {\"sleep_ms\": 10000, \"sleep_instances\": 2}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "slow");
  leave_two_draining (f, plugin, NULL);
  reload (f, "slow", &third);
  g_assert_error (third, HKP_ERROR, HKP_ERROR_BUSY);
  g_assert_cmpstr (third->message, ==, "two earlier instances of plugin slow are still draining");
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, 2);
  /* Teardown's shutdown drains them: their calls are cancelled and answered, nothing is lost. */
}

static gboolean
set_enabled (Fixture *f, const char *name, gboolean enabled, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_set_enabled_async (f->engine, name, enabled, "test", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  return hkp_engine_change_finish (f->engine, result, error);
}

/*
 * Instances whose calls ignore cancellation outlive their drain: they stay
 * loaded, count among the two, and hold off every change, not only reloads.
 */
static void
test_two_draining_counts_stuck (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) change = NULL;
  g_autoptr (GError) third = NULL, fourth = NULL;
  HkpPlugin *plugin;

  /* Instances 1 and 2 hold their requests for 12 s, cancelled or not; the drain gives up after 0.1 + 1 s. */
  engine_fixture_write_plugin (f, "slow",
                               "{\"module\": \"sleeper.so\", \"drain_timeout_sec\": 0.1, \"call_timeout_ms\": 60000, "
                               "\"config\": {\"sleep_ms\": 12000, \"sleep_instances\": 2, \"ignore_cancel\": true}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "slow");
  leave_two_draining (f, plugin, "the old instance stays loaded until they do");
  g_assert_cmpuint (hkp_plugin_get_draining_requests (plugin), ==, 2);
  reload (f, "slow", &third);
  g_assert_error (third, HKP_ERROR, HKP_ERROR_BUSY);
  g_assert_cmpstr (third->message, ==, "two earlier instances of plugin slow are still draining");
  hkp_engine_set_config_async (f->engine, "slow", "{\"sleep_ms\": 0}", "test", hkp_test_store_result, &change);
  hkp_test_wait_result (&change);
  g_assert_false (hkp_engine_change_finish (f->engine, change, &fourth));
  g_assert_error (fourth, HKP_ERROR, HKP_ERROR_BUSY);
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, 2);
  /* Disabling loads nothing: it is never held off. */
  g_assert_true (set_enabled (f, "slow", FALSE, NULL));
  /* Once their calls return they go, and changes go on. */
  while (hkp_plugin_get_draining (plugin) > 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (set_enabled (f, "slow", TRUE, NULL));
  g_clear_error (&third);
  reload (f, "slow", &third);
  g_assert_no_error (third);
}

static void
on_cancelled_check (GObject *source, GAsyncResult *async, gpointer user_data)
{
  GError **error = user_data;
  g_auto (HkpCheckResult) result = { 0 };

  g_assert_false (hkp_engine_check_finish (HKP_ENGINE (source), async, &result, error));
}

static void
test_caller_cancels (Fixture *f, gconstpointer data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  HkpPlugin *plugin;

  engine_fixture_write_plugin (
    f, "slow", "{\"module\": \"sleeper.so\", \"call_timeout_ms\": 60000, \"config\": {\"sleep_ms\": 10000}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "slow");
  hkp_engine_check_async (f->engine, "GET", "/", "", "192.0.2.1", NULL, cancellable, on_cancelled_check, &error);
  hkp_test_probe_wait_entered (1);
  g_cancellable_cancel (cancellable);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (hkp_test_probe_cancelled_count (), ==, 1);
  g_assert_cmpuint (hkp_plugin_get_outcome_count (plugin, HKP_OUTCOME_CANCELLED), ==, 1);
}

/* ---- deadlines ---------------------------------------------------------- */

typedef struct {
  guint done;
  guint denied_503;
  guint allowed;
  gint64 slowest_usec;
  gint64 started;
} Tally;

static void
on_tallied (GObject *source, GAsyncResult *async, gpointer user_data)
{
  Tally *tally = user_data;
  g_auto (HkpCheckResult) result = { 0 };

  g_assert_true (hkp_engine_check_finish (HKP_ENGINE (source), async, &result, NULL));
  tally->done++;
  tally->denied_503 += !result.allowed && result.status == 503;
  tally->allowed += result.allowed;
  tally->slowest_usec = MAX (tally->slowest_usec, g_get_monotonic_time () - tally->started);
  if (!result.allowed)
    g_assert_cmpstr (result.reason, ==, "plugin slow is unavailable: it did not answer within 200 ms");
}

/* Twelve calls that would take 10 s each are answered at their 200 ms deadline by the failure mode. */
static void
deadline (Fixture *f, const char *failure_mode)
{
  g_autofree char *json = g_strdup_printf ("{\"module\": \"sleeper.so\", \"call_timeout_ms\": 200, "
                                           "\"failure_mode\": \"%s\", \"config\": {\"sleep_ms\": 10000}}",
                                           failure_mode);
  Tally tally = { 0 };
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "slow", json);
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "slow");
  tally.started = g_get_monotonic_time ();
  for (guint i = 0; i < 12; i++)
    hkp_engine_check_async (f->engine, "GET", "/", "", "192.0.2.1", NULL, NULL, on_tallied, &tally);
  while (tally.done < 12)
    g_main_context_iteration (NULL, TRUE);
  if (g_str_equal (failure_mode, "closed"))
    g_assert_cmpuint (tally.denied_503, ==, 12);
  else
    g_assert_cmpuint (tally.allowed, ==, 12);
  /* Answered at the deadline, not after the 10 s call: a generous bound for a loaded machine. */
  g_assert_cmpint (tally.slowest_usec, <, 5 * G_USEC_PER_SEC);
  /* The plugin was told (its calls see cancelled() and return early), so none is stuck. */
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_cmpuint (hkp_plugin_get_outcome_count (plugin, HKP_OUTCOME_ERROR), ==,
                    g_str_equal (failure_mode, "closed") ? 12 : 0);
}

static void
test_deadline_closed (Fixture *f, gconstpointer data)
{
  deadline (f, "closed");
}

static void
test_deadline_open (Fixture *f, gconstpointer data)
{
  deadline (f, "open");
}

/* ---- rollback --------------------------------------------------------- */

static void
rollback (Fixture *f, const char *strategy)
{
  g_autofree char *json = g_strdup_printf ("{\"module\": \"mod.so\", \"reload_strategy\": \"%s\", "
                                           "\"config\": {\"verdict\": \"deny\", \"reason\": \"v1\"}}",
                                           strategy);
  g_autofree char *v1 = g_build_filename (hkp_test_plugin_build_dir (), "answer.so", NULL);
  g_autofree char *broken = g_build_filename (hkp_test_plugin_build_dir (), "failinit.so", NULL);
  g_auto (HkpCheckResult) result = { 0 };
  g_autoptr (GError) error = NULL;
  HkpPlugin *plugin;

  engine_fixture_replace_file (v1, f->plugin_dir, "mod.so");
  engine_fixture_write_plugin (f, "p", json);
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");

  /* An upgrade installs a module that cannot start. */
  engine_fixture_replace_file (broken, f->plugin_dir, "mod.so");
  reload (f, "p", &error);
  g_assert_error (error, HKP_ERROR, HKP_ERROR_RELOAD_FAILED);
  g_assert_nonnull (strstr (error->message, "reload of plugin p failed and was rolled back"));
  g_assert_nonnull (strstr (error->message, "init failed: failinit refuses to start"));

  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_nonnull (strstr (hkp_plugin_get_last_error (plugin), "init failed: failinit refuses to start"));
  g_assert_cmpstr (hkp_plugin_get_version (plugin), ==, "1.0");
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, 0);
  engine_fixture_check (f, &result);
  g_assert_false (result.allowed);
  g_assert_cmpstr (result.reason, ==, "v1");
}

static void
test_rollback_overlap (Fixture *f, gconstpointer data)
{
  rollback (f, "overlap");
  g_assert_true (hkp_test_log_contains_for_plugin ("p", "reload failed, the previous instance keeps serving"));
}

static void
test_rollback_exclusive (Fixture *f, gconstpointer data)
{
  rollback (f, "exclusive");
  /* The previous instance was shut down and the previous module started again with the previous config. */
  g_assert_true (hkp_test_log_contains_for_plugin ("p", "the previous module and config were started again"));
}

/* ---- busy ------------------------------------------------------------- */

static void
test_busy (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) first = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) second_error = NULL;
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "slow", "{\"module\": \"sleeper.so\", \"config\": {\"init_delay_ms\": 200}}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "slow");

  hkp_engine_reload_async (f->engine, "slow", hkp_test_store_result, &first);
  g_assert_true (hkp_plugin_is_busy (plugin));
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_RELOADING);
  reload (f, "slow", &second_error);
  g_assert_error (second_error, HKP_ERROR, HKP_ERROR_BUSY);
  g_assert_cmpstr (second_error->message, ==, "another change of plugin slow is in progress");

  hkp_test_wait_result (&first);
  g_assert_true (hkp_engine_reload_finish (f->engine, first, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hkp_plugin_get_reload_count (plugin), ==, 1);
}

static void
test_reload_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) missing = NULL;
  g_autoptr (GError) disabled = NULL;

  engine_fixture_write_plugin (f, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  engine_fixture_start (f, NULL);
  reload (f, "nope", &missing);
  g_assert_error (missing, HKP_ERROR, HKP_ERROR_NO_SUCH_PLUGIN);
  g_assert_cmpstr (missing->message, ==, "no plugin named \"nope\"");
  reload (f, "off", &disabled);
  g_assert_error (disabled, HKP_ERROR, HKP_ERROR_DISABLED);
  g_assert_cmpstr (disabled->message, ==, "plugin off is disabled; enable it instead");
  g_assert_cmpstr (hkp_error_code_to_dbus_name (HKP_ERROR_DISABLED), ==, "org.hkp.PluginManager1.Error.Disabled");
  g_assert_cmpuint (hkp_error_code_to_http_status (HKP_ERROR_DISABLED), ==, 409);
}

static void
on_state_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, GPtrArray *events)
{
  if (what & HKP_PLUGIN_CHANGED_STATE)
    g_ptr_array_add (events,
                     g_strdup_printf ("%s %s", hkp_plugin_get_name (plugin),
                                      hkp_plugin_state_to_string (hkp_plugin_get_state (plugin))));
}

static void
test_reload_events (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  HkpPlugin *plugin;

  engine_fixture_write_plugin (f, "p", "{\"module\": \"answer.so\"}");
  engine_fixture_start (f, NULL);
  plugin = engine_fixture_lookup (f, "p");
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_signal_connect (f->engine, "plugin-changed", G_CALLBACK (on_state_changed), events);
  reload (f, "p", &error);
  g_assert_no_error (error);
  g_signal_handlers_disconnect_by_data (f->engine, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (events->pdata[0], ==, "p reloading");
  g_assert_cmpstr (events->pdata[1], ==, "p active");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/lifecycle/check/chain-order", test_chain_order);
  ADD ("/lifecycle/check/all-continue", test_all_continue);
  ADD ("/lifecycle/check/failure-modes", test_failure_modes);
  ADD ("/lifecycle/check/response-limits", test_response_limits);
  ADD ("/lifecycle/reload/no-request-lost/overlap", test_no_loss_overlap);
  ADD ("/lifecycle/reload/no-request-lost/exclusive", test_no_loss_exclusive);
  ADD ("/lifecycle/reload/drain-timeout", test_drain_timeout);
  ADD ("/lifecycle/reload/rollback/overlap", test_rollback_overlap);
  ADD ("/lifecycle/reload/rollback/exclusive", test_rollback_exclusive);
  ADD ("/lifecycle/reload/busy", test_busy);
  ADD ("/lifecycle/reload/two-draining-at-most", test_two_draining_at_most);
  ADD ("/lifecycle/reload/two-draining-counts-stuck", test_two_draining_counts_stuck);
  ADD ("/lifecycle/check/caller-cancels", test_caller_cancels);
  ADD ("/lifecycle/check/deadline/closed", test_deadline_closed);
  ADD ("/lifecycle/check/deadline/open", test_deadline_open);
  ADD ("/lifecycle/reload/errors", test_reload_errors);
  ADD ("/lifecycle/reload/events", test_reload_events);
#undef ADD
  return g_test_run ();
}
