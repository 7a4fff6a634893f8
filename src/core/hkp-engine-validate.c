/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Asking a plugin's validate_config before a change starts, so a config the
 * plugin refuses is refused honestly (no reload, nothing rolled back, one
 * log line).  Plugin code runs on a worker thread with the init bound.
 */

#include "hkp-engine-private.h"

#include "hkp-error.h"
#include "hkp-thread-call.h"

typedef struct {
  char *plugin_dir;
  char *copy_dir;
  guint64 serial;
  HkpManifest *manifest;
  HkpModule *module; /* the plugin's loaded module, or NULL: load a copy */
  HkpHost *host; /* isolated: the host of the running instance to ask */
  gdouble timeout_sec;
} ValidateJob;

static void
validate_job_free (ValidateJob *job)
{
  g_free (job->plugin_dir);
  g_free (job->copy_dir);
  hkp_manifest_unref (job->manifest);
  g_clear_pointer (&job->module, hkp_module_unref);
  g_clear_pointer (&job->host, hkp_host_unref);
  g_free (job);
}

/* Worker thread: the module is let go here too, so a copy loaded for the purpose closes off the main thread. */
static gpointer
validate_job_run (gpointer data, GError **error)
{
  ValidateJob *job = data;
  g_autoptr (HkpModule) module = g_steal_pointer (&job->module);

  if (job->host != NULL)
    return hkp_host_validate_config (job->host, job->manifest->config_json, (guint) (job->timeout_sec * 1000), error)
      ? GINT_TO_POINTER (1)
      : NULL;
  if (module == NULL)
    {
      g_autofree char *path = hkp_module_resolve (job->plugin_dir, job->manifest->module, error);
      if (path == NULL)
        return NULL;
      module = hkp_module_open (path, job->copy_dir, job->serial, error);
      if (module == NULL)
        return NULL;
    }
  if (!hkp_module_validate_config (module, job->manifest->config_json, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

static void
on_validate_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  gdouble *timeout_sec = g_task_get_task_data (task);
  GError *error = NULL;

  if (hkp_thread_call_finish (result, &error) != NULL)
    g_task_return_boolean (task, TRUE);
  else if (g_error_matches (error, HKP_ERROR, HKP_ERROR_TIMED_OUT))
    {
      g_error_free (error);
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_TIMED_OUT,
                               "the plugin's validate_config did not answer within %g s (init_timeout_sec)",
                               *timeout_sec);
    }
  else
    g_task_return_error (task, error);
}

void
hkp_engine_validate_async (HkpEngine *engine, HkpPlugin *plugin, HkpManifest *manifest, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  ValidateJob *job = g_new0 (ValidateJob, 1);
  g_autofree char *thread_name = g_strdup_printf ("check:%.10s", manifest->name);

  g_task_set_source_tag (task, hkp_engine_validate_async);
  job->plugin_dir = g_strdup (engine->plugin_dir);
  job->copy_dir = g_strdup (hkp_engine_get_copy_dir (engine));
  job->serial = ++engine->module_serial;
  job->manifest = hkp_manifest_ref (manifest);
  /* The module that runs is the one to ask, unless the change names another module. */
  if (plugin->instance != NULL && plugin->manifest != NULL && g_str_equal (plugin->manifest->module, manifest->module))
    {
      if (hkp_instance_get_host (plugin->instance) != NULL)
        job->host = hkp_host_ref (hkp_instance_get_host (plugin->instance));
      else
        job->module = hkp_module_ref (hkp_instance_get_module (plugin->instance));
    }
  else if (manifest->isolation == HKP_ISOLATION_PROCESS)
    {
      /* No host runs this module: its new host asks validate_config before init, never the daemon. */
      validate_job_free (job);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  job->timeout_sec = manifest->init_timeout_sec > 0 ? manifest->init_timeout_sec : engine->settings.init_timeout_sec;
  g_task_set_task_data (task, g_memdup2 (&job->timeout_sec, sizeof job->timeout_sec), g_free);
  hkp_thread_call_async (thread_name, (guint) (job->timeout_sec * 1000), validate_job_run, NULL, job,
                         (GDestroyNotify) validate_job_free, on_validate_call_done, task);
}

gboolean
hkp_engine_validate_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
