/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * The health monitor and the restart policy.  A check enters the plugin's
 * current gate on the main thread, so the instance cannot be shut down under
 * it, and leaves it on the worker once health() has returned — even when that
 * is long after the check was reported as timed out.
 */

#include "hkp-health-monitor.h"

#include <math.h>
#include <string.h>

#include "hkp-engine-private.h"
#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-thread-call.h"
#include "hkp-util.h"

#define HEALTH_MESSAGE_MAX 1024
#define HEALTH_CHECKS_MAX 64

typedef struct {
  HkpEngine *engine; /* borrowed: the engine stops every watch before it goes */
  HkpPlugin *plugin; /* borrowed: the watch lives while the plugin is registered */
  GSource *timer;
  GSource *restart_timer;
  guint restart_for; /* the plugin's reload count when the restart was due: a change since makes it moot */
  gboolean checking;
  guint backoff_step; /* restarts since the backoff last reset */
  GArray *restart_times; /* gint64 monotonic µs, within the window */
  gint64 healthy_since; /* monotonic µs, 0 while not healthy */
  gboolean gave_up;
  guint host_stuck; /* checks in a row that found the host's health() still running */
} Watch;

/* An isolated instance whose health() is stuck this many checks in a row has its host killed (and restarted). */
#define HOST_HEALTH_STUCK_MAX 3

/* ---- running health() --------------------------------------------------- */

typedef struct {
  HkpSlot *slot;
  HkpGate *gate; /* entered on the main thread, left on the worker */
  HkpHealth health;
  gdouble timeout_sec;
  gboolean host_busy; /* isolated: the host's health() from an earlier check has not returned */
} HealthJob;

/* Waiting on a worker for a host's answer; the waiter and the host's callback each hold a reference. */
typedef struct {
  gint refs;
  GMutex lock;
  GCond cond;
  gboolean done;
  HkpHostOutcome outcome;
  HkpHealth health;
} HostHealthWait;

static void
host_health_wait_unref (HostHealthWait *wait)
{
  if (!g_atomic_int_dec_and_test (&wait->refs))
    return;
  hkp_health_clear (&wait->health);
  g_mutex_clear (&wait->lock);
  g_cond_clear (&wait->cond);
  g_free (wait);
}

/* The host's I/O thread. */
static void
on_host_health (HkpHostOutcome outcome, const HkpHealth *health, gpointer user_data)
{
  HostHealthWait *wait = user_data;

  g_mutex_lock (&wait->lock);
  wait->outcome = outcome;
  if (outcome == HKP_HOST_ANSWERED)
    hkp_health_copy (&wait->health, health);
  wait->done = TRUE;
  g_cond_signal (&wait->cond);
  g_mutex_unlock (&wait->lock);
  host_health_wait_unref (wait);
}

/* Worker thread: asks an isolated instance's host, which answers by the health timeout at the latest. */
static void
ask_host (HealthJob *job, HkpHost *host)
{
  HostHealthWait *wait = g_new0 (HostHealthWait, 1);
  g_autofree char *message = NULL;

  wait->refs = 2;
  g_mutex_init (&wait->lock);
  g_cond_init (&wait->cond);
  if (!hkp_host_health (host, g_get_monotonic_time () + (gint64) (job->timeout_sec * G_USEC_PER_SEC), on_host_health,
                        wait))
    {
      job->host_busy = TRUE;
      job->health.status = HKP_HEALTH_STATUS_UNHEALTHY;
      message = g_strdup ("health() has not returned since an earlier check timed out");
      wait->refs = 1;
    }
  else
    {
      g_mutex_lock (&wait->lock);
      while (!wait->done)
        g_cond_wait (&wait->cond, &wait->lock);
      g_mutex_unlock (&wait->lock);
      if (wait->outcome == HKP_HOST_ANSWERED)
        {
          hkp_health_clear (&job->health);
          hkp_health_copy (&job->health, &wait->health);
        }
      else
        {
          job->health.status = HKP_HEALTH_STATUS_UNHEALTHY;
          message = wait->outcome == HKP_HOST_TIMED_OUT
            ? g_strdup_printf ("health check timed out after %g s", job->timeout_sec)
            : g_strdup ("its host process ended");
        }
    }
  if (message != NULL)
    {
      g_free (job->health.message);
      job->health.message = g_steal_pointer (&message);
    }
  host_health_wait_unref (wait);
}

static void
health_job_free (HealthJob *job)
{
  hkp_slot_unref (job->slot);
  hkp_health_clear (&job->health);
  g_free (job);
}

static int
report_set_message (hkp_health_report *report, const char *message)
{
  HealthJob *job = report->host_private;

  if (message == NULL || !g_utf8_validate (message, -1, NULL))
    return -1;
  g_free (job->health.message);
  job->health.message = hkp_utf8_truncate (message, HEALTH_MESSAGE_MAX);
  return 0;
}

static HkpHealthCheck *
report_add (HealthJob *job, const char *key)
{
  HkpHealthCheck *check;

  if (key == NULL || key[0] == '\0' || !g_utf8_validate (key, -1, NULL) || job->health.checks->len >= HEALTH_CHECKS_MAX)
    return NULL;
  check = g_new0 (HkpHealthCheck, 1);
  check->key = hkp_utf8_truncate (key, 128);
  g_ptr_array_add (job->health.checks, check);
  return check;
}

static int
report_add_check (hkp_health_report *report, const char *key, const char *value)
{
  HkpHealthCheck *check;

  if (value == NULL || !g_utf8_validate (value, -1, NULL) || (check = report_add (report->host_private, key)) == NULL)
    return -1;
  check->text = hkp_utf8_truncate (value, HEALTH_MESSAGE_MAX);
  return 0;
}

static int
report_add_check_int (hkp_health_report *report, const char *key, int64_t value)
{
  HkpHealthCheck *check = report_add (report->host_private, key);

  if (check == NULL)
    return -1;
  check->is_int = TRUE;
  check->int_value = value;
  return 0;
}

/* Worker thread: a check that overran is dropped once health() returns. */
static void
health_job_late (gpointer result, gpointer data)
{
  health_job_free (data);
}

/* Worker thread: ask the instance, then leave its gate. */
static gpointer
health_job_run (gpointer data, GError **error)
{
  HealthJob *job = data;
  HkpHost *host = hkp_instance_get_host (job->gate->instance);
  const hkp_plugin_descriptor *d;
  hkp_health_report report = {
    .struct_size = sizeof (hkp_health_report),
    .set_message = report_set_message,
    .add_check = report_add_check,
    .add_check_int = report_add_check_int,
    .host_private = job,
  };
  int status;

  if (host != NULL)
    {
      ask_host (job, host);
      hkp_instance_end_health (job->gate->instance);
      hkp_guard_leave (&job->slot->gate, &job->gate->guard);
      g_atomic_int_dec_and_test (&job->slot->health_checks);
      return job;
    }
  d = hkp_module_get_descriptor (hkp_instance_get_module (job->gate->instance));
  status = d->health != NULL ? (int) d->health (hkp_instance_get_handle (job->gate->instance), &report)
                             : HKP_HEALTH_HEALTHY;

  /* Before the gate is left: the instance may go with it. */
  hkp_instance_end_health (job->gate->instance);
  hkp_guard_leave (&job->slot->gate, &job->gate->guard);
  g_atomic_int_dec_and_test (&job->slot->health_checks);
  switch (status)
    {
    case HKP_HEALTH_HEALTHY:
      job->health.status = HKP_HEALTH_STATUS_HEALTHY;
      break;
    case HKP_HEALTH_DEGRADED:
      job->health.status = HKP_HEALTH_STATUS_DEGRADED;
      break;
    default:
      job->health.status = HKP_HEALTH_STATUS_UNHEALTHY;
      break;
    }
  return job;
}

/* ---- the restart policy ------------------------------------------------ */

static void schedule_check (Watch *watch, gdouble seconds);

static void
on_restart_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (HkpPlugin) plugin = user_data;
  g_autoptr (GError) error = NULL;

  hkp_engine_release (HKP_ENGINE (source), plugin);
  if (!hkp_engine_apply_finish (HKP_ENGINE (source), result, &error))
    hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: restart failed: %s", plugin->name, error->message);
}

static gboolean
on_restart_due (gpointer user_data)
{
  Watch *watch = user_data;
  HkpPlugin *plugin = watch->plugin;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&watch->restart_timer, g_source_unref);
  /* A change since has put another instance in: it was never found unhealthy. */
  if (plugin->manifest == NULL || plugin->state != HKP_PLUGIN_STATE_ACTIVE ||
      plugin->reload_count != watch->restart_for || !hkp_engine_claim_change (watch->engine, plugin, &error))
    return G_SOURCE_REMOVE;
  g_array_append_val (watch->restart_times, now);
  plugin->restart_count++;
  plugin->health.consecutive_failures = 0;
  hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: restarting (restart %u)", plugin->name,
                  plugin->restart_count);
  hkp_engine_apply_async (watch->engine, plugin, plugin->manifest, on_restart_applied, g_object_ref (plugin));
  return G_SOURCE_REMOVE;
}

static void
on_given_up (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (HkpPlugin) plugin = user_data;

  hkp_engine_release (HKP_ENGINE (source), plugin);
}

static void
give_up (Watch *watch)
{
  HkpPlugin *plugin = watch->plugin;
  const HkpRestartPolicy *policy = &watch->engine->settings.restart;
  g_autofree char *message = NULL;
  g_autoptr (GError) error = NULL;

  if (!hkp_engine_claim (watch->engine, plugin, &error))
    return;
  watch->gave_up = TRUE;
  message = g_strdup_printf ("restarted %u times within %g s without recovering; giving up (last check: %s)",
                             watch->restart_times->len, policy->window_sec,
                             plugin->health.message[0] != '\0' ? plugin->health.message : "unhealthy");
  hkp_engine_set_instance (plugin, NULL);
  hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, message);
  hkp_engine_retire_serving_gate (watch->engine, plugin, hkp_gate_new (HKP_GATE_FAILED, NULL), on_given_up,
                                  g_object_ref (plugin));
}

/* Decides, after a check, whether the plugin is restarted, given up on, or its backoff reset. */
static void
apply_policy (Watch *watch)
{
  HkpPlugin *plugin = watch->plugin;
  const HkpRestartPolicy *policy = &watch->engine->settings.restart;
  gint64 now = g_get_monotonic_time ();
  gdouble delay;
  guint kept = 0;

  if (plugin->health.status == HKP_HEALTH_STATUS_HEALTHY)
    {
      if (watch->healthy_since == 0)
        watch->healthy_since = now;
      else if (watch->backoff_step > 0 && now - watch->healthy_since >= policy->reset_after_sec * G_USEC_PER_SEC)
        {
          watch->backoff_step = 0;
          hkp_log_plugin (G_LOG_LEVEL_MESSAGE, plugin->name, "plugin %s: healthy for %g s; restart backoff reset",
                          plugin->name, policy->reset_after_sec);
        }
      return;
    }
  watch->healthy_since = 0;
  if (plugin->health.status != HKP_HEALTH_STATUS_UNHEALTHY ||
      plugin->health.consecutive_failures < policy->after_failures || watch->restart_timer != NULL || watch->gave_up ||
      plugin->busy || plugin->state != HKP_PLUGIN_STATE_ACTIVE)
    return;

  for (guint i = 0; i < watch->restart_times->len; i++)
    if (now - g_array_index (watch->restart_times, gint64, i) < policy->window_sec * G_USEC_PER_SEC)
      g_array_index (watch->restart_times, gint64, kept++) = g_array_index (watch->restart_times, gint64, i);
  g_array_set_size (watch->restart_times, kept);
  if (watch->restart_times->len >= policy->max_in_window)
    {
      give_up (watch);
      return;
    }
  delay = MIN (policy->backoff_initial_sec * ldexp (1.0, (int) MIN (watch->backoff_step, 30u)),
               policy->backoff_max_sec);
  watch->backoff_step++;
  hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: unhealthy %u checks in a row; restart in %g s",
                  plugin->name, plugin->health.consecutive_failures, delay);
  watch->restart_for = plugin->reload_count;
  watch->restart_timer = g_timeout_source_new ((guint) (delay * 1000));
  g_source_set_callback (watch->restart_timer, on_restart_due, watch, NULL);
  g_source_attach (watch->restart_timer, watch->engine->context);
}

/* ---- checks ------------------------------------------------------------ */

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  gdouble timeout_sec;
} CheckContext;

static void
on_check_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CheckContext *ctx = user_data;
  g_autoptr (HkpEngine) engine = ctx->engine;
  g_autoptr (HkpPlugin) plugin = ctx->plugin;
  Watch *watch = plugin->watch;
  g_autoptr (GError) error = NULL;
  HealthJob *job = hkp_thread_call_finish (result, &error);
  HkpHealth health = { 0 };
  guint failures = plugin->health.consecutive_failures;
  gboolean host_busy = job != NULL && job->host_busy;

  if (job != NULL)
    {
      health = job->health;
      memset (&job->health, 0, sizeof job->health);
      health_job_free (job);
    }
  else
    {
      hkp_health_init (&health);
      health.status = HKP_HEALTH_STATUS_UNHEALTHY;
      g_free (health.message);
      health.message = g_error_matches (error, HKP_ERROR, HKP_ERROR_TIMED_OUT)
        ? g_strdup_printf ("health check timed out after %g s", ctx->timeout_sec)
        : g_strdup_printf ("health check could not run: %s", error->message);
    }
  g_free (ctx);
  hkp_engine_op_end (engine);
  if (watch != NULL)
    watch->checking = FALSE;
  if (watch == NULL || plugin->state != HKP_PLUGIN_STATE_ACTIVE)
    {
      hkp_health_clear (&health);
      return; /* stopped, or the plugin changed state meanwhile: this result is stale */
    }
  health.last_check_usec = g_get_real_time ();
  health.consecutive_failures = health.status == HKP_HEALTH_STATUS_UNHEALTHY ? failures + 1 : 0;
  plugin->health_checks[health.status]++;
  hkp_plugin_set_health (plugin, &health);
  watch->host_stuck = host_busy ? watch->host_stuck + 1 : 0;
  if (watch->host_stuck >= HOST_HEALTH_STUCK_MAX && plugin->instance != NULL &&
      hkp_instance_get_host (plugin->instance) != NULL)
    {
      /* Its host is restarted as after any crash. */
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: health() stuck for %u checks; killing its host",
                      plugin->name, watch->host_stuck);
      watch->host_stuck = 0;
      hkp_host_kill (hkp_instance_get_host (plugin->instance));
      return;
    }
  apply_policy (watch);
}

/* The last health() has not returned yet: unhealthy again, and no new call while it runs. */
static void
report_still_running (Watch *watch)
{
  HkpPlugin *plugin = watch->plugin;
  HkpHealth health = { 0 };

  hkp_health_init (&health);
  health.status = HKP_HEALTH_STATUS_UNHEALTHY;
  g_free (health.message);
  health.message = g_strdup ("health() has not returned since an earlier check timed out");
  health.last_check_usec = g_get_real_time ();
  health.consecutive_failures = plugin->health.consecutive_failures + 1;
  plugin->health_checks[health.status]++;
  hkp_plugin_set_health (plugin, &health);
  apply_policy (watch);
}

static void
run_check (Watch *watch)
{
  HkpPlugin *plugin = watch->plugin;
  HealthJob *job;
  CheckContext *ctx;
  HkpGate *gate;
  g_autofree char *thread_name = NULL;

  if (watch->checking || plugin->state != HKP_PLUGIN_STATE_ACTIVE)
    return;
  /* Counted before the gate is entered, so that ActiveRequests never counts the check as a request. */
  g_atomic_int_inc (&plugin->slot->health_checks);
  gate = (HkpGate *) hkp_guard_enter (&plugin->slot->gate);
  if (gate->mode != HKP_GATE_SERVE || !hkp_instance_begin_health (gate->instance))
    {
      gboolean running = gate->mode == HKP_GATE_SERVE;

      hkp_guard_leave (&plugin->slot->gate, &gate->guard);
      g_atomic_int_dec_and_test (&plugin->slot->health_checks);
      /* At most one health() per instance at a time (the ABI promises it): one that overran is waited for.  An
       * earlier instance's stuck call holds up none of a later one's. */
      if (running)
        report_still_running (watch);
      return;
    }
  job = g_new0 (HealthJob, 1);
  job->slot = hkp_slot_ref (plugin->slot);
  job->gate = gate;
  job->timeout_sec = watch->engine->settings.health_timeout_sec;
  hkp_health_init (&job->health);
  ctx = g_new0 (CheckContext, 1);
  ctx->engine = g_object_ref (watch->engine);
  ctx->plugin = g_object_ref (plugin);
  ctx->timeout_sec = watch->engine->settings.health_timeout_sec;
  watch->checking = TRUE;
  hkp_engine_op_begin (watch->engine);
  thread_name = g_strdup_printf ("health:%.8s", plugin->name);
  /* A check that overruns still owns the job: the worker frees it when health() returns. */
  /* A host answers at the health timeout itself: the thread's own bound comes a second later. */
  hkp_thread_call_async (
    thread_name, (guint) (ctx->timeout_sec * 1000) + (hkp_instance_get_host (gate->instance) != NULL ? 1000 : 0),
    health_job_run, health_job_late, job, NULL, on_check_done, ctx);
}

static gboolean
on_timer (gpointer user_data)
{
  Watch *watch = user_data;
  HkpPlugin *plugin = watch->plugin;
  gdouble interval = plugin->manifest != NULL && plugin->manifest->health_interval_sec > 0
    ? plugin->manifest->health_interval_sec
    : watch->engine->settings.health_interval_sec;

  g_clear_pointer (&watch->timer, g_source_unref);
  run_check (watch);
  schedule_check (watch, interval);
  return G_SOURCE_REMOVE;
}

static void
schedule_check (Watch *watch, gdouble seconds)
{
  if (watch->timer != NULL)
    {
      g_source_destroy (watch->timer);
      g_source_unref (watch->timer);
    }
  watch->timer = g_timeout_source_new ((guint) (seconds * 1000));
  g_source_set_callback (watch->timer, on_timer, watch, NULL);
  g_source_attach (watch->timer, watch->engine->context);
}

void
hkp_health_watch_state_changed (HkpPlugin *plugin)
{
  Watch *watch = plugin->watch;
  HkpHealth health = { 0 };

  if (watch == NULL)
    return;
  hkp_health_init (&health);
  switch (plugin->state)
    {
    case HKP_PLUGIN_STATE_ACTIVE:
      /* Check the new instance right away. */
      watch->gave_up = FALSE;
      hkp_health_clear (&health);
      schedule_check (watch, 0);
      return;
    case HKP_PLUGIN_STATE_LOADING:
    case HKP_PLUGIN_STATE_RELOADING:
      health.status = HKP_HEALTH_STATUS_TRANSITIONING;
      break;
    case HKP_PLUGIN_STATE_FAILED:
      health.status = HKP_HEALTH_STATUS_UNHEALTHY;
      g_free (health.message);
      health.message = g_strdup (plugin->last_error);
      break;
    default:
      health.status = HKP_HEALTH_STATUS_UNKNOWN;
      break;
    }
  health.last_check_usec = g_get_real_time ();
  health.consecutive_failures = plugin->health.consecutive_failures;
  hkp_plugin_set_health (plugin, &health);
}

static void
watch_free (Watch *watch)
{
  if (watch->timer != NULL)
    {
      g_source_destroy (watch->timer);
      g_source_unref (watch->timer);
    }
  if (watch->restart_timer != NULL)
    {
      g_source_destroy (watch->restart_timer);
      g_source_unref (watch->restart_timer);
    }
  g_array_unref (watch->restart_times);
  g_free (watch);
}

void
hkp_health_watch_start (HkpEngine *engine, HkpPlugin *plugin)
{
  Watch *watch = g_new0 (Watch, 1);

  g_assert (plugin->watch == NULL);
  watch->engine = engine;
  watch->plugin = plugin;
  watch->restart_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  plugin->watch = watch;
  hkp_health_watch_state_changed (plugin);
}

void
hkp_health_watch_stop (HkpPlugin *plugin)
{
  if (plugin->watch == NULL)
    return;
  watch_free (plugin->watch);
  plugin->watch = NULL;
}
