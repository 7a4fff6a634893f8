/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/* The engine's request path: synchronous for embedding, asynchronous on the engine's workers. */

#include "hkp-engine-private.h"

#include <string.h>

#include "hkp-error.h"

#define CHECK_WORKERS_MAX 16

void
hkp_engine_check (HkpEngine *engine, const HkpCheckRequest *request, HkpCheckResult *result)
{
  hkp_check_run (&engine->chain, request, result);
}

typedef struct {
  char *method;
  char *path;
  char *query;
  char *client_address;
  GHashTable *headers; /* lowercased name → value */
  gint cancelled;
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
  g_free (job->method);
  g_free (job->path);
  g_free (job->query);
  g_free (job->client_address);
  g_clear_pointer (&job->headers, g_hash_table_unref);
  hkp_check_result_clear (&job->result);
  g_free (job);
}

static const char *
job_header (gpointer data, const char *name)
{
  CheckJob *job = data;
  g_autofree char *key = g_ascii_strdown (name, -1);

  return g_hash_table_lookup (job->headers, key);
}

static void
on_job_cancelled (GCancellable *cancellable, gpointer user_data)
{
  CheckJob *job = user_data;

  g_atomic_int_set (&job->cancelled, 1);
}

/* Worker thread. */
static void
run_check_job (gpointer data, gpointer user_data)
{
  g_autoptr (GTask) task = data;
  HkpEngine *engine = g_task_get_source_object (task);
  CheckJob *job = g_task_get_task_data (task);
  HkpCheckRequest request = {
    .method = job->method,
    .path = job->path,
    .query = job->query,
    .client_address = job->client_address,
    .header = job_header,
    .header_data = job,
    .cancelled = &job->cancelled,
  };

  hkp_engine_check (engine, &request, &job->result);
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
  g_autoptr (GError) error = NULL;

  g_task_set_source_tag (task, hkp_engine_check_async);
  job->method = g_strdup (method);
  job->path = g_strdup (path);
  job->query = g_strdup (query);
  job->client_address = g_strdup (client_address);
  job->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2)
    {
      char *key = g_ascii_strdown (headers[i], -1);
      if (!g_hash_table_contains (job->headers, key))
        g_hash_table_insert (job->headers, key, g_strdup (headers[i + 1]));
      else
        g_free (key);
    }
  if (cancellable != NULL)
    {
      job->cancellable = g_object_ref (cancellable);
      job->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_job_cancelled), job, NULL);
    }
  g_task_set_task_data (task, job, (GDestroyNotify) check_job_free);

  if (engine->check_pool == NULL)
    engine->check_pool = g_thread_pool_new (run_check_job, NULL, CHECK_WORKERS_MAX, FALSE, NULL);
  if (!g_thread_pool_push (engine->check_pool, task, &error))
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "cannot queue the check: %s", error->message);
      g_object_unref (task);
    }
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
