/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/* Loading: reading the config directory, and loading plugins a few at a time. */

#include "hkp-engine-private.h"

#include "hkp-config-store.h"
#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-util.h"

static void pump_load_queue (HkpEngine *engine);

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
} LoadContext;

static void
on_load_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadContext *ctx = user_data;
  g_autoptr (HkpEngine) engine = ctx->engine;
  g_autoptr (HkpPlugin) plugin = ctx->plugin;
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpInstance) instance = hkp_engine_start_instance_finish (engine, plugin->manifest, result, &error);

  g_free (ctx);
  engine->loads_running--;
  plugin->busy = FALSE;
  if (instance != NULL)
    {
      hkp_engine_set_instance (plugin, instance);
      hkp_slot_swap_gate (plugin->slot, hkp_gate_new (HKP_GATE_SERVE, instance), hkp_gate_free_drained, NULL);
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_ACTIVE, "");
    }
  else
    {
      hkp_engine_set_gate_mode (plugin, HKP_GATE_FAILED);
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, error->message);
    }
  pump_load_queue (engine);
  hkp_engine_check_idle (engine);
}

static void
start_load (HkpEngine *engine, HkpPlugin *plugin)
{
  LoadContext *ctx = g_new0 (LoadContext, 1);

  ctx->engine = g_object_ref (engine);
  ctx->plugin = plugin; /* the queue's reference moves here */
  engine->loads_running++;
  hkp_engine_start_instance_async (engine, plugin->manifest, NULL, on_load_done, ctx);
}

static void
pump_load_queue (HkpEngine *engine)
{
  while (!engine->stopping && engine->loads_running < engine->settings.max_parallel_loads &&
         !g_queue_is_empty (&engine->load_queue))
    start_load (engine, g_queue_pop_head (&engine->load_queue));
}

void
hkp_engine_queue_load (HkpEngine *engine, HkpPlugin *plugin)
{
  g_assert (plugin->state == HKP_PLUGIN_STATE_LOADING && plugin->manifest != NULL);
  plugin->busy = TRUE;
  g_queue_push_tail (&engine->load_queue, g_object_ref (plugin));
  pump_load_queue (engine);
}

/*
 * Gives plugin its config version: the newest in the history, or a new one
 * (by who) if the file is not the newest version kept, as after an edit
 * while the daemon was down.  A history that cannot be written does not
 * keep the file from loading: it is what the admin wrote.
 */
static void
record_loaded_version (HkpEngine *engine, HkpPlugin *plugin, const char *who, const char *what)
{
  guint newest = hkp_config_history_newest (engine->state_dir, plugin->name);
  g_autoptr (HkpConfigEntry) kept = newest > 0 ? hkp_config_history_read (engine->state_dir, plugin->name, newest, NULL)
                                               : NULL;
  g_autoptr (GError) error = NULL;
  HkpConfigEntry entry = {
    .version = newest + 1,
    .time_usec = g_get_real_time (),
    .who = (char *) who,
    .what = (char *) what,
    .text = plugin->file_text,
  };

  plugin->config_version = newest;
  if (kept != NULL && g_strcmp0 (kept->text, plugin->file_text) == 0)
    return;
  if (newest == G_MAXUINT)
    {
      /* A history file put there by hand: version 0 would come next, listed nowhere. */
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name,
                      "plugin %s: the history cannot keep its file: it holds version %u, the last there can be",
                      plugin->name, newest);
      return;
    }
  /* Not synced: a thousand plugins at first start would wait for a thousand fsyncs, and a lost entry is made again. */
  if (!hkp_config_history_add (engine->state_dir, plugin->name, &entry, FALSE, &error))
    {
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: the history cannot keep its file: %s",
                      plugin->name, error->message);
      return;
    }
  plugin->config_version = entry.version;
  hkp_config_history_prune (engine->state_dir, plugin->name, engine->settings.history_limit);
}

HkpPlugin *
hkp_engine_add_file_by (HkpEngine *engine, const char *path, const char *who, const char *what, GError **error)
{
  g_autofree char *name = hkp_manifest_name_from_filename (path);
  g_autoptr (HkpManifest) manifest = NULL;
  g_autoptr (HkpPlugin) plugin = NULL;
  g_autoptr (GError) local_error = NULL;
  HkpPlugin *existing;

  if (name == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_NAME, "%s: a plugin file must be named <name>.json", path);
      return NULL;
    }
  existing = hkp_engine_lookup (engine, name);
  if (existing != NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_DUPLICATE, "%s: a plugin named \"%s\" is already declared by %s", path,
                   name, hkp_plugin_get_file (existing));
      hkp_log_plugin (G_LOG_LEVEL_WARNING, name, "%s", (*error)->message);
      return NULL;
    }

  plugin = hkp_plugin_new (engine, name, path);
  manifest = hkp_manifest_new_from_file (path, &plugin->file_text, &local_error);
  if (manifest == NULL)
    {
      /* Only files that parse go to the history: there is nothing to return to in the others. */
      if (hkp_plugin_name_is_valid (name))
        plugin->config_version = hkp_config_history_newest (engine->state_dir, name);
      hkp_engine_set_gate_mode (plugin, HKP_GATE_FAILED);
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, local_error->message);
    }
  else
    {
      hkp_plugin_set_manifest (plugin, manifest);
      record_loaded_version (engine, plugin, who, what);
      if (!manifest->enabled)
        hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_DISABLED, "");
      else if (engine->stopping)
        {
          hkp_engine_set_gate_mode (plugin, HKP_GATE_FAILED);
          hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, "not loaded: the service is stopping");
        }
    }
  hkp_engine_register (engine, plugin);
  if (plugin->state == HKP_PLUGIN_STATE_LOADING)
    hkp_engine_queue_load (engine, plugin);
  return plugin;
}

HkpPlugin *
hkp_engine_add_file (HkpEngine *engine, const char *path, GError **error)
{
  return hkp_engine_add_file_by (engine, path, "file added", "add", error);
}

GPtrArray *
hkp_engine_list_plugin_files (HkpEngine *engine, GError **error)
{
  const char *dir = engine->config_dir;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) handle = g_dir_open (dir, 0, &local_error);
  const char *entry;

  if (handle == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "config directory %s does not exist", dir);
      else
        g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "config directory %s cannot be read (%s)", dir,
                     local_error->message);
      return NULL;
    }
  while ((entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *name = hkp_manifest_name_from_filename (entry);
      if (name != NULL)
        g_ptr_array_add (files, g_build_filename (dir, entry, NULL));
    }
  if (files->len == 0)
    g_warning ("config directory %s holds no plugin files (<name>.json): no plugins loaded", dir);
  hkp_strv_array_sort (files);
  return g_steal_pointer (&files);
}

static void
on_load_all_idle (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  HkpEngine *engine = HKP_ENGINE (source);
  guint counts[HKP_PLUGIN_N_STATES];

  hkp_engine_count_states (engine, counts);
  g_message ("%u plugins: %u active, %u disabled, %u failed", engine->plugins->len, counts[HKP_PLUGIN_STATE_ACTIVE],
             counts[HKP_PLUGIN_STATE_DISABLED], counts[HKP_PLUGIN_STATE_FAILED]);
  g_task_return_boolean (task, TRUE);
}

void
hkp_engine_load_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GError) list_error = NULL;

  g_task_set_source_tag (task, hkp_engine_load_async);
  if (engine->stopping)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "the engine is stopping");
      return;
    }
  files = hkp_engine_list_plugin_files (engine, &list_error);
  if (files == NULL)
    {
      g_warning ("%s: no plugins loaded", list_error->message);
      files = g_ptr_array_new ();
    }
  for (guint i = 0; i < files->len; i++)
    {
      /* A duplicate is logged by add_file and leaves the first declaration in place. */
      g_autoptr (GError) error = NULL;
      hkp_engine_add_file_by (engine, files->pdata[i], "file at start", "start", &error);
    }
  hkp_engine_wait_idle_async (engine, on_load_all_idle, g_steal_pointer (&task));
}

gboolean
hkp_engine_load_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
