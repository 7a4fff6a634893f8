/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Instances in and out of service: starting one on a worker with the init
 * bound, and retiring one (drain, then shutdown and unload on a worker).
 */

#include "hkp-engine-private.h"

#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-thread-call.h"

typedef struct {
  char *plugin_dir;
  char *copy_dir;
  guint64 serial;
  HkpManifest *manifest;
  HkpModule *module; /* reuse this module instead of loading the file */
  gdouble timeout_sec;
} StartJob;

static void
start_job_free (StartJob *job)
{
  g_free (job->plugin_dir);
  g_free (job->copy_dir);
  hkp_manifest_unref (job->manifest);
  g_clear_pointer (&job->module, hkp_module_unref);
  g_free (job);
}

/* Worker thread: resolve, copy and open the module (unless reused), then validate and init. */
static gpointer
start_job_run (gpointer data, GError **error)
{
  StartJob *job = data;
  g_autofree char *path = NULL;
  g_autoptr (HkpModule) module = NULL;

  if (job->module != NULL)
    module = hkp_module_ref (job->module);
  else
    {
      path = hkp_module_resolve (job->plugin_dir, job->manifest->module, error);
      if (path == NULL)
        return NULL;
      module = hkp_module_open (path, job->copy_dir, job->serial, error);
      if (module == NULL)
        return NULL;
    }
  return hkp_instance_new (module, job->manifest->name, job->manifest->config_json, error);
}

/* Worker thread: an init that finished after its deadline is shut down at once. */
static void
start_job_late (gpointer result, gpointer data)
{
  StartJob *job = data;
  HkpInstance *instance = result;

  if (instance == NULL)
    return;
  hkp_log_plugin (G_LOG_LEVEL_WARNING, job->manifest->name,
                  "plugin %s finished init after its deadline; shutting that instance down", job->manifest->name);
  hkp_instance_shutdown (instance);
  hkp_instance_unref (instance);
}

void
hkp_engine_start_instance_async (HkpEngine *engine, HkpManifest *manifest, HkpModule *module,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  StartJob *job = g_new0 (StartJob, 1);
  g_autofree char *thread_name = g_strdup_printf ("init:%.10s", manifest->name);

  job->plugin_dir = g_strdup (engine->plugin_dir);
  job->copy_dir = g_strdup (engine->copy_dir);
  job->serial = ++engine->module_serial;
  job->manifest = hkp_manifest_ref (manifest);
  job->module = module != NULL ? hkp_module_ref (module) : NULL;
  job->timeout_sec = manifest->init_timeout_sec > 0 ? manifest->init_timeout_sec : engine->settings.init_timeout_sec;
  hkp_thread_call_async (thread_name, (guint) (job->timeout_sec * 1000), start_job_run, start_job_late, job,
                         (GDestroyNotify) start_job_free, callback, user_data);
}

HkpInstance *
hkp_engine_start_instance_finish (HkpEngine *engine, HkpManifest *manifest, GAsyncResult *result, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  HkpInstance *instance = hkp_thread_call_finish (result, &local_error);
  gdouble timeout = manifest->init_timeout_sec > 0 ? manifest->init_timeout_sec : engine->settings.init_timeout_sec;

  if (instance != NULL)
    return instance;
  if (g_error_matches (local_error, HKP_ERROR, HKP_ERROR_TIMED_OUT))
    g_set_error (error, HKP_ERROR, HKP_ERROR_TIMED_OUT,
                 "%s: loading and init did not finish within %g s (init_timeout_sec)", manifest->path, timeout);
  else
    g_set_error (error, local_error->domain, local_error->code, "%s: %s", manifest->path, local_error->message);
  return NULL;
}

void
hkp_engine_set_instance (HkpPlugin *plugin, HkpInstance *instance)
{
  g_autoptr (HkpInstance) previous = hkp_plugin_swap_instance (plugin, instance);
}

void
hkp_engine_set_gate_mode (HkpPlugin *plugin, HkpGateMode mode)
{
  HkpGate *current = hkp_slot_peek_gate (plugin->slot);

  g_assert (current->mode != HKP_GATE_SERVE);
  if (current->mode == mode)
    return;
  hkp_slot_swap_gate (plugin->slot, hkp_gate_new (mode, NULL), hkp_gate_free_drained, NULL);
}

/* Worker thread: shut the gate's instance down and free the gate, so the module closes off the main thread. */
static gpointer
shutdown_job_run (gpointer data, GError **error)
{
  HkpGate *gate = data;

  if (gate->instance != NULL && !gate->keep_instance)
    hkp_instance_shutdown (gate->instance);
  hkp_gate_free (gate);
  return GINT_TO_POINTER (1);
}

void
hkp_engine_shutdown_gate_async (HkpEngine *engine, const char *plugin_name, HkpGate *gate, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autofree char *thread_name = g_strdup_printf ("stop:%.10s", plugin_name);

  hkp_thread_call_async (thread_name, (guint) (engine->settings.shutdown_timeout_sec * 1000), shutdown_job_run, NULL,
                         gate, NULL, callback, user_data);
}

void
hkp_engine_shutdown_late (HkpGate *gate, const char *plugin_name)
{
  g_autofree char *thread_name = g_strdup_printf ("stop:%.10s", plugin_name);

  hkp_thread_call_async (thread_name, 0, shutdown_job_run, NULL, gate, NULL, NULL, NULL);
}

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  HkpGate *gate; /* the gate being drained */
  GTask *task;
} Retire;

static void
retire_free (Retire *retire)
{
  g_object_unref (retire->plugin);
  g_object_unref (retire->engine);
  g_clear_object (&retire->task);
  g_free (retire);
}

static void
on_retired_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Retire *retire = user_data;
  g_autoptr (GError) error = NULL;

  if (hkp_thread_call_finish (result, &error) == NULL)
    hkp_log_plugin (G_LOG_LEVEL_WARNING, retire->plugin->name,
                    "plugin %s: shutdown of the previous instance %s; leaving it behind", retire->plugin->name,
                    error->message);
  else
    hkp_log_plugin (G_LOG_LEVEL_INFO, retire->plugin->name, "plugin %s: previous instance shut down",
                    retire->plugin->name);
  if (retire->task != NULL)
    g_task_return_boolean (retire->task, TRUE);
  hkp_engine_op_end (retire->engine);
  retire_free (retire);
}

static void
on_retired_drained (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Retire *retire = user_data;
  HkpDrainResult outcome;
  HkpGate *gate = hkp_drain_swap_finish (result, &outcome);

  hkp_engine_observe_drain (retire->engine, &outcome);
  hkp_plugin_remove_draining (retire->plugin, retire->gate);
  retire->plugin->cancelled_by_drain += outcome.cancelled;
  if (outcome.cancelled > 0)
    hkp_log_plugin (G_LOG_LEVEL_WARNING, retire->plugin->name,
                    "plugin %s: drain of the previous instance cancelled %u requests after %g s", retire->plugin->name,
                    outcome.cancelled, hkp_engine_drain_timeout (retire->engine, retire->plugin));
  if (gate == NULL)
    {
      /* Stuck: shutdown_late finishes the instance when its calls return. */
      if (retire->task != NULL)
        g_task_return_boolean (retire->task, FALSE);
      hkp_engine_op_end (retire->engine);
      retire_free (retire);
      return;
    }
  hkp_engine_shutdown_gate_async (retire->engine, retire->plugin->name, gate, on_retired_shut_down, retire);
}

void
hkp_engine_retire_serving_gate (HkpEngine *engine, HkpPlugin *plugin, HkpGate *new_gate, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  Retire *retire = g_new0 (Retire, 1);
  gdouble timeout = hkp_engine_drain_timeout (engine, plugin);

  retire->engine = g_object_ref (engine);
  retire->plugin = g_object_ref (plugin);
  retire->gate = hkp_slot_peek_gate (plugin->slot);
  if (callback != NULL)
    retire->task = g_task_new (engine, NULL, callback, user_data);
  g_assert (retire->gate->mode == HKP_GATE_SERVE);
  hkp_engine_op_begin (engine);
  hkp_drain_swap_async (plugin->slot, new_gate, timeout, MAX (timeout, 1.0), hkp_engine_shutdown_late,
                        on_retired_drained, retire);
  /* After the swap, so the requests it holds are counted at once (its drain completes on the loop, later). */
  hkp_plugin_add_draining (plugin, retire->gate);
}
