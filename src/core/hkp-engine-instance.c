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

#include <glib/gstdio.h>

/* ---- hosts that end ------------------------------------------------------- */

/* What a host's exit handler reports to: the engine (weakly) and its context.  Every host holds a reference. */
typedef struct {
  gint refs;
  GWeakRef engine;
  GMainContext *context;
} HostEvents;

static gpointer
host_events_ref (gpointer data)
{
  HostEvents *events = data;

  g_atomic_int_inc (&events->refs);
  return events;
}

static void
host_events_unref (gpointer data)
{
  HostEvents *events = data;

  if (!g_atomic_int_dec_and_test (&events->refs))
    return;
  g_weak_ref_clear (&events->engine);
  g_main_context_unref (events->context);
  g_free (events);
}

void
hkp_engine_host_events_init (HkpEngine *engine)
{
  HostEvents *events = g_new0 (HostEvents, 1);

  events->refs = 1;
  g_weak_ref_init (&events->engine, engine);
  events->context = g_main_context_ref (engine->context);
  engine->host_events = events;
}

void
hkp_engine_host_events_clear (HkpEngine *engine)
{
  g_clear_pointer (&engine->host_events, host_events_unref);
}

typedef struct {
  HostEvents *events;
  HkpHost *host;
  char *why;
  guint in_flight;
} HostEnd;

static void
host_end_free (HostEnd *end)
{
  host_events_unref (end->events);
  hkp_host_unref (end->host);
  g_free (end->why);
  g_free (end);
}

/* Main thread. */
static gboolean
report_host_end (gpointer data)
{
  HostEnd *end = data;
  g_autoptr (HkpEngine) engine = g_weak_ref_get (&end->events->engine);

  if (engine != NULL)
    hkp_engine_host_ended (engine, end->host, end->why, end->in_flight);
  return G_SOURCE_REMOVE;
}

/* The host's I/O thread: the host ended, not by our stop; the engine hears of it on its own thread. */
static void
on_host_exit (HkpHost *host, const char *why, guint in_flight, gpointer user_data)
{
  HostEnd *end = g_new0 (HostEnd, 1);
  HostEvents *events = user_data;

  end->events = host_events_ref (events);
  end->host = hkp_host_ref (host);
  end->why = g_strdup (why);
  end->in_flight = in_flight;
  g_main_context_invoke_full (events->context, G_PRIORITY_DEFAULT, report_host_end, end,
                              (GDestroyNotify) host_end_free);
}

static void
host_events_watch (gpointer events, HkpHost *host)
{
  hkp_host_set_exit_handler_full (host, on_host_exit, host_events_ref (events), host_events_unref);
}

typedef struct {
  char *plugin_dir;
  char *copy_dir;
  guint64 serial;
  HkpManifest *manifest;
  HkpInstance *previous; /* start its module again instead of loading the file */
  gdouble timeout_sec;
  char *host_program;
  char **host_environment;
  gpointer host_events; /* a reference */
} StartJob;

static void
start_job_free (StartJob *job)
{
  g_free (job->plugin_dir);
  g_free (job->copy_dir);
  hkp_manifest_unref (job->manifest);
  g_clear_pointer (&job->previous, hkp_instance_unref);
  g_free (job->host_program);
  g_strfreev (job->host_environment);
  g_clear_pointer (&job->host_events, host_events_unref);
  g_free (job);
}

/* Worker thread: a host of its own, loading a fresh copy of the module (of the file, or the previous copy). */
static HkpInstance *
start_isolated (StartJob *job, GError **error)
{
  const char *previous_copy = job->previous != NULL ? hkp_instance_get_copy_path (job->previous) : NULL;
  g_autofree char *path = NULL;
  g_autofree char *copy = NULL;
  g_autoptr (HkpHost) host = NULL;
  HkpHostSettings settings = { 0 };

  if (previous_copy != NULL)
    path = g_strdup (hkp_instance_get_module_path (job->previous));
  else if ((path = hkp_module_resolve (job->plugin_dir, job->manifest->module, error)) == NULL)
    return NULL;
  if (previous_copy != NULL)
    {
      g_autoptr (GError) reuse_error = NULL;

      copy = hkp_module_link_copy (previous_copy, job->copy_dir, job->serial, &reuse_error);
      if (copy == NULL)
        {
          /* Its copy is gone (the state directory emptied by hand): the module file it came from is the next best. */
          hkp_log_plugin (G_LOG_LEVEL_WARNING, job->manifest->name, "plugin %s: %s; loading %s again",
                          job->manifest->name, reuse_error->message, path);
          copy = hkp_module_copy_file (path, job->copy_dir, job->serial, error);
        }
    }
  else
    copy = hkp_module_copy_file (path, job->copy_dir, job->serial, error);
  if (copy == NULL)
    return NULL;
  settings.program = job->host_program;
  settings.plugin_name = job->manifest->name;
  settings.module_path = copy;
  settings.display_path = path;
  settings.config_json = job->manifest->config_json;
  settings.memory_max_mb = job->manifest->memory_max_mb;
  settings.init_timeout_ms = (guint) (job->timeout_sec * 1000);
  settings.environment = (const char *const *) job->host_environment;
  host = hkp_host_start (&settings, error);
  if (host == NULL)
    {
      g_unlink (copy);
      return NULL;
    }
  host_events_watch (job->host_events, host);
  return hkp_instance_new_isolated (host, job->manifest->name, copy, path);
}

/* Worker thread: resolve, copy and open the module (unless reused), then validate and init, here or in a host. */
static gpointer
start_job_run (gpointer data, GError **error)
{
  StartJob *job = data;
  g_autofree char *path = NULL;
  g_autoptr (HkpModule) module = NULL;

  if (job->manifest->isolation == HKP_ISOLATION_PROCESS)
    return start_isolated (job, error);
  if (job->previous != NULL && hkp_instance_get_module (job->previous) != NULL)
    module = hkp_module_ref (hkp_instance_get_module (job->previous));
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
hkp_engine_start_instance_async (HkpEngine *engine, HkpManifest *manifest, HkpInstance *previous,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  StartJob *job = g_new0 (StartJob, 1);
  g_autofree char *thread_name = g_strdup_printf ("init:%.10s", manifest->name);

  job->plugin_dir = g_strdup (engine->plugin_dir);
  job->copy_dir = g_strdup (hkp_engine_get_copy_dir (engine));
  job->serial = ++engine->module_serial;
  job->manifest = hkp_manifest_ref (manifest);
  /* The previous instance's module serves only if it is where this one runs: in the daemon, or in a host. */
  if (previous != NULL && (hkp_instance_get_host (previous) != NULL) == (manifest->isolation == HKP_ISOLATION_PROCESS))
    job->previous = hkp_instance_ref (previous);
  job->host_program = g_strdup (engine->host_program);
  job->host_environment = g_strdupv (engine->host_environment);
  job->host_events = host_events_ref (engine->host_events);
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
  HkpInstance *previous = hkp_plugin_swap_instance (plugin, instance);

  g_clear_pointer (&previous, hkp_instance_unref); /* the plugin's hold; a gate may keep it longer */
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
