/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-engine.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-plugin-object-private.h"
#include "hkp-thread-call.h"

struct _HkpEngine {
  GObject parent_instance;
  HkpEngineSettings settings;   /* string fields point at the copies below */
  char *plugin_dir;
  char *config_dir;
  char *state_dir;
  char *copy_dir;               /* private copies of loaded modules */
  GPtrArray *plugins;           /* HkpPlugin, priority order, owned */
  GHashTable *by_name;          /* name → HkpPlugin, borrowed from plugins */
  GQueue load_queue;            /* HkpPlugin waiting for a load slot, owned */
  guint loads_running;
  guint64 module_serial;        /* makes every module copy's name unique */
  GPtrArray *idle_waiters;      /* GTask waiting for no load to be pending */
  gboolean stopping;
};

enum {
  SIGNAL_PLUGIN_ADDED,
  SIGNAL_PLUGIN_REMOVED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (HkpEngine, hkp_engine, G_TYPE_OBJECT)

static void
remove_copy_dir (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *entry;

  if (handle == NULL)
    return;
  while ((entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
hkp_engine_finalize (GObject *object)
{
  HkpEngine *engine = HKP_ENGINE (object);

  g_queue_clear_full (&engine->load_queue, g_object_unref);
  g_clear_pointer (&engine->by_name, g_hash_table_unref);
  g_clear_pointer (&engine->plugins, g_ptr_array_unref);
  g_clear_pointer (&engine->idle_waiters, g_ptr_array_unref);
  if (engine->copy_dir != NULL)
    remove_copy_dir (engine->copy_dir);
  g_free (engine->copy_dir);
  g_free (engine->plugin_dir);
  g_free (engine->config_dir);
  g_free (engine->state_dir);
  G_OBJECT_CLASS (hkp_engine_parent_class)->finalize (object);
}

static void
hkp_engine_class_init (HkpEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = hkp_engine_finalize;
  signals[SIGNAL_PLUGIN_ADDED] =
    g_signal_new ("plugin-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, HKP_TYPE_PLUGIN);
  signals[SIGNAL_PLUGIN_REMOVED] =
    g_signal_new ("plugin-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, HKP_TYPE_PLUGIN);
}

static void
hkp_engine_init (HkpEngine *engine)
{
  engine->plugins = g_ptr_array_new_with_free_func (g_object_unref);
  engine->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  engine->idle_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  g_queue_init (&engine->load_queue);
}

HkpEngine *
hkp_engine_new (const HkpEngineSettings *settings, GError **error)
{
  g_autoptr(HkpEngine) engine = NULL;
  g_autofree char *template = NULL;

  g_return_val_if_fail (settings->plugin_dir != NULL, NULL);
  g_return_val_if_fail (settings->config_dir != NULL, NULL);
  g_return_val_if_fail (settings->state_dir != NULL, NULL);

  engine = g_object_new (HKP_TYPE_ENGINE, NULL);
  engine->settings = *settings;
  engine->plugin_dir = g_strdup (settings->plugin_dir);
  engine->config_dir = g_strdup (settings->config_dir);
  engine->state_dir = g_strdup (settings->state_dir);
  engine->settings.plugin_dir = engine->plugin_dir;
  engine->settings.config_dir = engine->config_dir;
  engine->settings.state_dir = engine->state_dir;
  if (engine->settings.drain_timeout_sec <= 0)
    engine->settings.drain_timeout_sec = HKP_DRAIN_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.health_interval_sec <= 0)
    engine->settings.health_interval_sec = HKP_HEALTH_INTERVAL_DEFAULT_SEC;
  if (engine->settings.init_timeout_sec <= 0)
    engine->settings.init_timeout_sec = HKP_INIT_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.shutdown_timeout_sec <= 0)
    engine->settings.shutdown_timeout_sec = HKP_SHUTDOWN_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.max_parallel_loads == 0)
    engine->settings.max_parallel_loads = HKP_PARALLEL_LOADS_DEFAULT;

  if (g_mkdir_with_parents (engine->state_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "state directory %s: %s",
                   engine->state_dir, g_strerror (saved));
      return NULL;
    }
  /* Module copies live under the state directory: /tmp and /run are often mounted noexec. */
  template = g_build_filename (engine->state_dir, "modules.XXXXXX", NULL);
  if (g_mkdtemp_full (template, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot make a module directory in %s: %s",
                   engine->state_dir, g_strerror (saved));
      return NULL;
    }
  engine->copy_dir = g_steal_pointer (&template);
  return g_steal_pointer (&engine);
}

const HkpEngineSettings *
hkp_engine_get_settings (HkpEngine *engine)
{
  return &engine->settings;
}

HkpPlugin *
hkp_engine_lookup (HkpEngine *engine, const char *name)
{
  return g_hash_table_lookup (engine->by_name, name);
}

GPtrArray *
hkp_engine_list_plugins (HkpEngine *engine)
{
  GPtrArray *list = g_ptr_array_sized_new (engine->plugins->len);

  for (guint i = 0; i < engine->plugins->len; i++)
    g_ptr_array_add (list, engine->plugins->pdata[i]);
  return list;
}

/* Inserts plugin in priority order and announces it. */
static void
register_plugin (HkpEngine *engine, HkpPlugin *plugin)
{
  guint low = 0, high = engine->plugins->len;

  while (low < high)
    {
      guint mid = low + (high - low) / 2;
      if (hkp_plugin_compare (&engine->plugins->pdata[mid], &plugin) <= 0)
        low = mid + 1;
      else
        high = mid;
    }
  g_ptr_array_insert (engine->plugins, (gint) low, g_object_ref (plugin));
  g_hash_table_insert (engine->by_name, (gpointer) hkp_plugin_get_name (plugin), plugin);
  g_signal_emit (engine, signals[SIGNAL_PLUGIN_ADDED], 0, plugin);
}

/* Announces plugin's removal and drops it; the caller has shut its instance down. */
static void
unregister_plugin (HkpEngine *engine, HkpPlugin *plugin)
{
  g_autoptr(HkpPlugin) keep = g_object_ref (plugin);

  g_hash_table_remove (engine->by_name, hkp_plugin_get_name (plugin));
  g_ptr_array_remove (engine->plugins, plugin);
  g_signal_emit (engine, signals[SIGNAL_PLUGIN_REMOVED], 0, plugin);
}

/* ---- loading ---------------------------------------------------------- */

typedef struct {
  char *plugin_dir;
  char *copy_dir;
  guint64 serial;
  HkpManifest *manifest;
} LoadJob;

static void
load_job_free (LoadJob *job)
{
  g_free (job->plugin_dir);
  g_free (job->copy_dir);
  hkp_manifest_unref (job->manifest);
  g_free (job);
}

/* Worker thread: resolve, copy and open the module, then validate and init. */
static gpointer
load_job_run (gpointer data, GError **error)
{
  LoadJob *job = data;
  g_autofree char *path = hkp_module_resolve (job->plugin_dir, job->manifest->module, error);
  g_autoptr(HkpModule) module = NULL;

  if (path == NULL)
    return NULL;
  module = hkp_module_open (path, job->copy_dir, job->serial, error);
  if (module == NULL)
    return NULL;
  return hkp_instance_new (module, job->manifest->name, job->manifest->config_json, error);
}

/* Worker thread: an init that finished after its deadline is shut down at once. */
static void
load_job_late (gpointer result, gpointer data)
{
  LoadJob *job = data;
  HkpInstance *instance = result;

  if (instance == NULL)
    return;
  hkp_log_plugin (G_LOG_LEVEL_WARNING, job->manifest->name,
                  "plugin %s finished init after its deadline; shutting that instance down",
                  job->manifest->name);
  hkp_instance_shutdown (instance);
  hkp_instance_unref (instance);
}

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  gdouble timeout_sec;
} LoadContext;

static void pump_load_queue (HkpEngine *engine);
static void check_idle (HkpEngine *engine);

static void
on_load_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadContext *ctx = user_data;
  g_autoptr(HkpEngine) engine = ctx->engine;
  g_autoptr(HkpPlugin) plugin = ctx->plugin;
  g_autoptr(GError) error = NULL;
  g_autoptr(HkpInstance) instance = hkp_thread_call_finish (result, &error);
  const char *file = hkp_plugin_get_file (plugin);

  engine->loads_running--;
  if (instance != NULL)
    {
      g_autoptr(HkpInstance) previous = hkp_plugin_swap_instance (plugin, instance);
      g_assert (previous == NULL);
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_ACTIVE, "");
    }
  else
    {
      g_autofree char *message = NULL;
      if (g_error_matches (error, HKP_ERROR, HKP_ERROR_TIMED_OUT))
        message = g_strdup_printf ("%s: loading and init did not finish within %g s (init_timeout_sec)",
                                   file, ctx->timeout_sec);
      else
        message = g_strdup_printf ("%s: %s", file, error->message);
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, message);
    }
  g_free (ctx);
  pump_load_queue (engine);
  check_idle (engine);
}

static void
start_load (HkpEngine *engine, HkpPlugin *plugin)
{
  HkpManifest *manifest = hkp_plugin_get_manifest (plugin);
  LoadJob *job = g_new0 (LoadJob, 1);
  LoadContext *ctx = g_new0 (LoadContext, 1);
  g_autofree char *thread_name = g_strdup_printf ("load:%.10s", manifest->name);

  job->plugin_dir = g_strdup (engine->plugin_dir);
  job->copy_dir = g_strdup (engine->copy_dir);
  job->serial = ++engine->module_serial;
  job->manifest = hkp_manifest_ref (manifest);
  ctx->engine = g_object_ref (engine);
  ctx->plugin = plugin; /* the queue's reference moves here */
  ctx->timeout_sec = manifest->init_timeout_sec > 0 ? manifest->init_timeout_sec
                                                    : engine->settings.init_timeout_sec;
  engine->loads_running++;
  hkp_thread_call_async (thread_name, (guint) (ctx->timeout_sec * 1000),
                         load_job_run, load_job_late, job, (GDestroyNotify) load_job_free,
                         on_load_done, ctx);
}

static void
pump_load_queue (HkpEngine *engine)
{
  while (!engine->stopping && engine->loads_running < engine->settings.max_parallel_loads &&
         !g_queue_is_empty (&engine->load_queue))
    start_load (engine, g_queue_pop_head (&engine->load_queue));
}

static void
check_idle (HkpEngine *engine)
{
  g_autoptr(GPtrArray) waiters = NULL;

  if (engine->loads_running > 0 || !g_queue_is_empty (&engine->load_queue))
    return;
  waiters = g_steal_pointer (&engine->idle_waiters);
  engine->idle_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_boolean (waiters->pdata[i], TRUE);
}

HkpPlugin *
hkp_engine_add_file (HkpEngine *engine, const char *path, GError **error)
{
  g_autofree char *name = hkp_manifest_name_from_filename (path);
  g_autoptr(HkpManifest) manifest = NULL;
  g_autoptr(HkpPlugin) plugin = NULL;
  g_autoptr(GError) local_error = NULL;
  HkpPlugin *existing;

  if (name == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_NAME,
                   "%s: a plugin file must be named <name>.json", path);
      return NULL;
    }
  existing = hkp_engine_lookup (engine, name);
  if (existing != NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_DUPLICATE,
                   "%s: a plugin named \"%s\" is already declared by %s",
                   path, name, hkp_plugin_get_file (existing));
      hkp_log_plugin (G_LOG_LEVEL_WARNING, name, "%s", (*error)->message);
      return NULL;
    }

  plugin = hkp_plugin_new (name, path);
  manifest = hkp_manifest_new_from_file (path, &local_error);
  if (manifest == NULL)
    hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, local_error->message);
  else
    {
      hkp_plugin_set_manifest (plugin, manifest);
      if (!manifest->enabled)
        hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_DISABLED, "");
      else if (engine->stopping)
        hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, "not loaded: the service is stopping");
    }
  register_plugin (engine, plugin);
  if (hkp_plugin_get_state (plugin) == HKP_PLUGIN_STATE_LOADING)
    {
      g_queue_push_tail (&engine->load_queue, g_object_ref (plugin));
      pump_load_queue (engine);
    }
  return plugin;
}

void
hkp_engine_wait_idle_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);

  g_task_set_source_tag (task, hkp_engine_wait_idle_async);
  g_ptr_array_add (engine->idle_waiters, task);
  check_idle (engine);
}

gboolean
hkp_engine_wait_idle_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Returns the sorted paths of the plugin files in dir, logging a warning when there are none. */
static GPtrArray *
list_plugin_files (const char *dir)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) handle = g_dir_open (dir, 0, &error);
  const char *entry;

  if (handle == NULL)
    {
      if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("config directory %s does not exist: no plugins loaded", dir);
      else
        g_warning ("config directory %s cannot be read: %s: no plugins loaded", dir, error->message);
      return g_steal_pointer (&files);
    }
  while ((entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *name = hkp_manifest_name_from_filename (entry);
      if (name != NULL)
        g_ptr_array_add (files, g_build_filename (dir, entry, NULL));
    }
  if (files->len == 0)
    g_warning ("config directory %s holds no plugin files (<name>.json): no plugins loaded", dir);
  g_ptr_array_sort (files, (GCompareFunc) (void (*) (void)) g_strcmp0);
  return g_steal_pointer (&files);
}

static void
on_load_all_idle (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  HkpEngine *engine = HKP_ENGINE (source);
  guint counts[HKP_PLUGIN_N_STATES] = { 0 };

  for (guint i = 0; i < engine->plugins->len; i++)
    counts[hkp_plugin_get_state (engine->plugins->pdata[i])]++;
  g_message ("%u plugins: %u active, %u disabled, %u failed", engine->plugins->len,
             counts[HKP_PLUGIN_STATE_ACTIVE], counts[HKP_PLUGIN_STATE_DISABLED],
             counts[HKP_PLUGIN_STATE_FAILED]);
  g_task_return_boolean (task, TRUE);
}

void
hkp_engine_load_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr(GPtrArray) files = NULL;

  g_task_set_source_tag (task, hkp_engine_load_async);
  if (engine->stopping)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "the engine is stopping");
      return;
    }
  files = list_plugin_files (engine->config_dir);
  for (guint i = 0; i < files->len; i++)
    {
      /* A duplicate is logged by add_file and leaves the first declaration in place. */
      g_autoptr(GError) error = NULL;
      hkp_engine_add_file (engine, files->pdata[i], &error);
    }
  hkp_engine_wait_idle_async (engine, on_load_all_idle, g_steal_pointer (&task));
}

gboolean
hkp_engine_load_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- shutdown --------------------------------------------------------- */

/* Worker thread: shut the instance down and drop it, so the module closes off the main thread. */
static gpointer
shutdown_job_run (gpointer data, GError **error)
{
  HkpInstance *instance = data;

  hkp_instance_shutdown (instance);
  hkp_instance_unref (instance);
  return GINT_TO_POINTER (1);
}

typedef struct {
  GTask *task;
  HkpPlugin *current;
} ShutdownContext;

static void shutdown_next (ShutdownContext *ctx);

static void
on_instance_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ShutdownContext *ctx = user_data;
  HkpEngine *engine = g_task_get_source_object (ctx->task);
  g_autoptr(HkpPlugin) plugin = g_steal_pointer (&ctx->current);
  g_autoptr(GError) error = NULL;

  if (hkp_thread_call_finish (result, &error) == NULL)
    hkp_log_plugin (G_LOG_LEVEL_WARNING, hkp_plugin_get_name (plugin),
                    "plugin %s: shutdown %s; leaving it behind", hkp_plugin_get_name (plugin),
                    error->message);
  else
    hkp_log_plugin (G_LOG_LEVEL_MESSAGE, hkp_plugin_get_name (plugin), "plugin %s shut down",
                    hkp_plugin_get_name (plugin));
  unregister_plugin (engine, plugin);
  shutdown_next (ctx);
}

/* Shuts down the last plugin in priority order, then the one before, until none is left. */
static void
shutdown_next (ShutdownContext *ctx)
{
  HkpEngine *engine = g_task_get_source_object (ctx->task);

  while (engine->plugins->len > 0)
    {
      HkpPlugin *plugin = engine->plugins->pdata[engine->plugins->len - 1];
      HkpInstance *instance = hkp_plugin_swap_instance (plugin, NULL);
      g_autofree char *thread_name = NULL;

      if (instance == NULL)
        {
          unregister_plugin (engine, plugin);
          continue;
        }
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_UNLOADING, NULL);
      ctx->current = g_object_ref (plugin);
      thread_name = g_strdup_printf ("stop:%.10s", hkp_plugin_get_name (plugin));
      hkp_thread_call_async (thread_name, (guint) (engine->settings.shutdown_timeout_sec * 1000),
                             shutdown_job_run, NULL, instance, NULL, on_instance_shut_down, ctx);
      return;
    }
  g_message ("all plugins shut down");
  g_task_return_boolean (ctx->task, TRUE);
  g_object_unref (ctx->task);
  g_free (ctx);
}

static void
on_shutdown_idle (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ShutdownContext *ctx = user_data;

  shutdown_next (ctx);
}

void
hkp_engine_shutdown_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  ShutdownContext *ctx = g_new0 (ShutdownContext, 1);
  HkpPlugin *queued;

  ctx->task = g_task_new (engine, NULL, callback, user_data);
  g_task_set_source_tag (ctx->task, hkp_engine_shutdown_async);
  engine->stopping = TRUE;
  while ((queued = g_queue_pop_head (&engine->load_queue)) != NULL)
    {
      hkp_plugin_set_state (queued, HKP_PLUGIN_STATE_FAILED, "not loaded: the service is stopping");
      g_object_unref (queued);
    }
  /* Loads in flight finish (or time out) first, so their instances are shut down too. */
  hkp_engine_wait_idle_async (engine, on_shutdown_idle, ctx);
}

gboolean
hkp_engine_shutdown_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
