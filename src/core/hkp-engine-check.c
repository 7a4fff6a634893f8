/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * The engine's request path: what checks run on (the chain, the call pool,
 * the watchdog), asynchronous checks for front ends, and a synchronous
 * one for embedding and tests.  Calls stuck in an in-process plugin make it
 * fail once there are too many of them.
 */

#include "hkp-engine-private.h"

#include <string.h>

#include "hkp-error.h"
#include "hkp-log.h"

/* An in-process plugin with this many calls stuck in handle() fails and is no longer called. */
#define STUCK_CALLS_MAX 4

/* How long the engine waits, when it goes, for pool threads still in plugin code. */
#define POOL_STOP_WAIT_USEC (2 * G_USEC_PER_SEC)

typedef struct {
  HkpEngine *engine; /* a reference */
  HkpSlot *slot; /* a reference */
  HkpInstance *instance; /* a reference */
  guint stuck;
} StuckReport;

static void
stuck_report_free (StuckReport *report)
{
  g_object_unref (report->engine);
  hkp_slot_unref (report->slot);
  hkp_instance_unref (report->instance);
  g_free (report);
}

static void
on_given_up (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (HkpPlugin) plugin = user_data;

  hkp_engine_release (HKP_ENGINE (source), plugin);
}

/* Main thread: an in-process instance holds STUCK_CALLS_MAX stuck calls; if it still serves, the plugin fails. */
static gboolean
fail_stuck_plugin (gpointer data)
{
  StuckReport *report = data;
  HkpEngine *engine = report->engine;
  HkpPlugin *plugin = hkp_engine_lookup (engine, report->slot->name);
  g_autofree char *message = NULL;
  g_autoptr (GError) error = NULL;

  if (plugin == NULL || plugin->slot != report->slot || plugin->instance != report->instance ||
      !hkp_engine_claim (engine, plugin, &error))
    return G_SOURCE_REMOVE; /* another instance serves by now, or a change runs: it decides */
  message = g_strdup_printf ("%u calls stuck in handle(): the plugin is no longer called until it is reloaded",
                             report->stuck);
  hkp_engine_set_instance (plugin, NULL);
  hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, message);
  /* The stuck calls keep the old instance; it is shut down if they ever return. */
  hkp_engine_retire_serving_gate (engine, plugin, hkp_gate_new (HKP_GATE_FAILED, NULL), on_given_up,
                                  g_object_ref (plugin));
  return G_SOURCE_REMOVE;
}

/* Watchdog thread. */
static void
on_calls_stuck (HkpSlot *slot, HkpInstance *instance, guint stuck, gpointer user_data)
{
  HkpEngine *engine = user_data;
  StuckReport *report;

  hkp_log_plugin (G_LOG_LEVEL_WARNING, slot->name,
                  "plugin %s: a call to handle() has not returned long after its deadline (%u stuck now)", slot->name,
                  stuck);
  if (stuck != STUCK_CALLS_MAX)
    return;
  report = g_new0 (StuckReport, 1);
  report->engine = g_object_ref (engine);
  report->slot = hkp_slot_ref (slot);
  report->instance = hkp_instance_ref (instance);
  report->stuck = stuck;
  g_main_context_invoke_full (engine->context, G_PRIORITY_DEFAULT, fail_stuck_plugin, report,
                              (GDestroyNotify) stuck_report_free);
}

void
hkp_engine_check_env_init (HkpEngine *engine)
{
  HkpCheckEnv *env = g_new0 (HkpCheckEnv, 1);

  env->chain = &engine->chain;
  /* A few more threads than CPUs: a plugin that waits on I/O does not hold up the others. */
  env->pool = hkp_call_pool_new (MAX (4, 2 * g_get_num_processors ()));
  env->watchdog = hkp_watchdog_new ();
  env->late_calls = hkp_timed_queue_new (env->watchdog);
  env->stuck = on_calls_stuck;
  env->stuck_data = engine;
  engine->check_env = env;
}

guint
hkp_engine_check_env_clear (HkpEngine *engine)
{
  HkpCheckEnv *env = g_steal_pointer (&engine->check_env);
  guint left;

  if (env == NULL)
    return 0;
  left = hkp_call_pool_free (env->pool, g_get_monotonic_time () + POOL_STOP_WAIT_USEC);
  if (left > 0)
    {
      /* Threads still in plugin code read env when (if ever) they return: it stays. */
      g_warning ("%u plugin calls never returned; leaving them behind", left);
      return left;
    }
  hkp_timed_queue_free (env->late_calls);
  hkp_watchdog_free (env->watchdog);
  g_free (env);
  return 0;
}

guint
hkp_engine_get_late_calls (HkpEngine *engine)
{
  return engine->check_env != NULL ? hkp_call_pool_get_late (engine->check_env->pool) : 0;
}

gboolean
hkp_engine_check_start (HkpEngine *engine, HkpCheckRequest *request, HkpCheckResult *result, HkpCheckDone done,
                        gpointer user_data)
{
  return hkp_check_start (engine->check_env, request, result, done, user_data);
}

/* ---- synchronous ---------------------------------------------------------- */

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
} Waiter;

static void
on_waited (gpointer user_data)
{
  Waiter *waiter = user_data;

  g_mutex_lock (&waiter->lock);
  waiter->done = TRUE;
  g_cond_signal (&waiter->cond);
  g_mutex_unlock (&waiter->lock);
}

void
hkp_engine_check (HkpEngine *engine, const HkpCheckRequest *request, HkpCheckResult *result)
{
  g_autoptr (HkpCheckRequest) copy = hkp_check_request_new (request->method, request->path, request->query,
                                                            request->client_address, request->headers);
  Waiter waiter = { 0 };

  g_mutex_init (&waiter.lock);
  g_cond_init (&waiter.cond);
  if (!hkp_engine_check_start (engine, copy, result, on_waited, &waiter))
    {
      g_mutex_lock (&waiter.lock);
      while (!waiter.done)
        g_cond_wait (&waiter.cond, &waiter.lock);
      g_mutex_unlock (&waiter.lock);
    }
  g_mutex_clear (&waiter.lock);
  g_cond_clear (&waiter.cond);
}

/* ---- as a GTask ------------------------------------------------------------- */

typedef struct {
  HkpCheckRequest *request;
  GCancellable *cancellable;
  gulong cancelled_id;
  HkpCheckResult result;
} CheckJob;

static void
check_job_free (CheckJob *job)
{
  if (job->cancellable != NULL)
    {
      g_cancellable_disconnect (job->cancellable, job->cancelled_id);
      g_object_unref (job->cancellable);
    }
  hkp_check_request_unref (job->request);
  hkp_check_result_clear (&job->result);
  g_free (job);
}

static void
on_job_cancelled (GCancellable *cancellable, gpointer user_data)
{
  hkp_check_request_cancel (user_data);
}

/* Any thread: the check is decided; the task returns in its own context. */
static void
on_job_done (gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  CheckJob *job = g_task_get_task_data (task);

  if (job->result.cancelled)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the check was cancelled");
  else
    g_task_return_boolean (task, TRUE);
}

void
hkp_engine_check_async (HkpEngine *engine, const char *method, const char *path, const char *query,
                        const char *client_address, const char *const *headers, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  CheckJob *job = g_new0 (CheckJob, 1);

  g_task_set_source_tag (task, hkp_engine_check_async);
  job->request = hkp_check_request_new (method, path, query, client_address, headers);
  if (cancellable != NULL)
    {
      job->cancellable = g_object_ref (cancellable);
      job->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_job_cancelled), job->request, NULL);
    }
  g_task_set_task_data (task, job, (GDestroyNotify) check_job_free);
  if (hkp_engine_check_start (engine, job->request, &job->result, on_job_done, task))
    on_job_done (task);
}

gboolean
hkp_engine_check_finish (HkpEngine *engine, GAsyncResult *result, HkpCheckResult *out, GError **error)
{
  CheckJob *job;

  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  job = g_task_get_task_data (G_TASK (result));
  *out = job->result;
  memset (&job->result, 0, sizeof job->result);
  return TRUE;
}
