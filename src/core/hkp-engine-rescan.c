/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Rescan: compare the config directory with the registry.  New files load,
 * removed files drain and unload, edited files are applied like a config
 * change (reload, enable or disable); an edit that does not parse leaves the
 * running instance serving and says why.
 */

#include "hkp-engine-private.h"

#include <string.h>

#include "hkp-error.h"
#include "hkp-log.h"

typedef struct {
  HkpEngine *engine;
  HkpRescanSummary summary;
  guint outstanding; /* plugin operations still running, plus one while starting */
} Rescan;

static void
rescan_step_done (GTask *task)
{
  Rescan *rescan = g_task_get_task_data (task);

  if (--rescan->outstanding > 0)
    return;
  g_message ("rescan: added %u, removed %u, changed %u, unchanged %u, errors %u", rescan->summary.added,
             rescan->summary.removed, rescan->summary.changed, rescan->summary.unchanged, rescan->summary.errors);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

typedef struct {
  GTask *task;
  HkpPlugin *plugin;
  char *text;
  gint old_priority;
} Edit;

static void
edit_free (Edit *edit)
{
  g_object_unref (edit->plugin);
  g_free (edit->text);
  g_free (edit);
}

static void
on_edit_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Edit *edit = user_data;
  Rescan *rescan = g_task_get_task_data (edit->task);
  g_autoptr (GError) error = NULL;

  hkp_engine_release (rescan->engine, edit->plugin);
  if (hkp_engine_apply_finish (rescan->engine, result, &error))
    {
      g_free (edit->plugin->file_text);
      edit->plugin->file_text = g_steal_pointer (&edit->text);
      if (hkp_plugin_get_priority (edit->plugin) != edit->old_priority)
        hkp_engine_reorder (rescan->engine, edit->plugin);
      hkp_plugin_set_config_version (edit->plugin, edit->plugin->config_version + 1);
      rescan->summary.changed++;
    }
  else
    {
      hkp_log_plugin (G_LOG_LEVEL_WARNING, edit->plugin->name, "rescan: the edit of %s was not applied: %s",
                      edit->plugin->file, error->message);
      rescan->summary.errors++;
    }
  rescan_step_done (edit->task);
  edit_free (edit);
}

/* An edited file: parse it, then apply it; a file that does not parse leaves the running instance. */
static void
rescan_edited (GTask *task, HkpPlugin *plugin, char *text)
{
  Rescan *rescan = g_task_get_task_data (task);
  g_autoptr (HkpManifest) manifest = NULL;
  g_autoptr (GError) error = NULL;
  Edit *edit;

  manifest = hkp_manifest_new_from_data (plugin->name, plugin->file, text, strlen (text), &error);
  if (manifest == NULL)
    {
      rescan->summary.errors++;
      if (hkp_slot_peek_gate (plugin->slot)->mode == HKP_GATE_SERVE)
        {
          /* Keep file_text: the next rescan reports the same bad edit again until it is fixed. */
          hkp_plugin_set_state (plugin, plugin->state, error->message);
          hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name,
                          "rescan: %s; plugin %s keeps running with its previous file", error->message, plugin->name);
        }
      else
        {
          g_free (plugin->file_text);
          plugin->file_text = g_strdup (text);
          hkp_plugin_set_manifest (plugin, NULL);
          hkp_engine_set_gate_mode (plugin, HKP_GATE_FAILED);
          hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, error->message);
        }
      g_free (text);
      return;
    }
  if (!hkp_engine_claim (rescan->engine, plugin, &error))
    {
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "rescan: the edit of %s waits for the next rescan: %s",
                      plugin->file, error->message);
      rescan->summary.errors++;
      g_free (text);
      return;
    }
  edit = g_new0 (Edit, 1);
  edit->task = task;
  edit->plugin = g_object_ref (plugin);
  edit->text = text;
  edit->old_priority = hkp_plugin_get_priority (plugin);
  rescan->outstanding++;
  hkp_engine_apply_async (rescan->engine, plugin, manifest, on_edit_applied, edit);
}

typedef struct {
  GTask *task;
  HkpPlugin *plugin;
} Removal;

static void
on_removed_drained (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Removal *removal = user_data;
  Rescan *rescan = g_task_get_task_data (removal->task);

  hkp_engine_release (rescan->engine, removal->plugin);
  hkp_engine_unregister (rescan->engine, removal->plugin);
  hkp_log_plugin (G_LOG_LEVEL_MESSAGE, removal->plugin->name, "plugin %s removed: its file is gone",
                  removal->plugin->name);
  rescan_step_done (removal->task);
  g_object_unref (removal->plugin);
  g_free (removal);
}

/* A removed file: drain and unload its plugin, then forget it. */
static void
rescan_removed (GTask *task, HkpPlugin *plugin)
{
  Rescan *rescan = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  Removal *removal;

  if (!hkp_engine_claim (rescan->engine, plugin, &error))
    {
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "rescan: plugin %s stays until the next rescan: %s",
                      plugin->name, error->message);
      rescan->summary.errors++;
      return;
    }
  rescan->summary.removed++;
  if (hkp_slot_peek_gate (plugin->slot)->mode != HKP_GATE_SERVE)
    {
      /* Log first: the engine's reference, the last one, goes with the registration. */
      hkp_log_plugin (G_LOG_LEVEL_MESSAGE, plugin->name, "plugin %s removed: its file is gone", plugin->name);
      hkp_engine_release (rescan->engine, plugin);
      hkp_engine_unregister (rescan->engine, plugin);
      return;
    }
  removal = g_new0 (Removal, 1);
  removal->task = task;
  removal->plugin = g_object_ref (plugin);
  rescan->outstanding++;
  hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_UNLOADING, NULL);
  hkp_engine_set_instance (plugin, NULL);
  hkp_engine_retire_serving_gate (rescan->engine, plugin, hkp_gate_new (HKP_GATE_SKIP, NULL), on_removed_drained,
                                  removal);
}

void
hkp_engine_rescan_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  Rescan *rescan = g_new0 (Rescan, 1);
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GHashTable) present = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) known = NULL;

  g_task_set_source_tag (task, hkp_engine_rescan_async);
  rescan->engine = engine;
  rescan->outstanding = 1;
  g_task_set_task_data (task, rescan, g_free);
  if (engine->stopping)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "the service is stopping");
      g_object_unref (task);
      return;
    }

  files = hkp_engine_list_plugin_files (engine);
  known = hkp_engine_list_plugins (engine);
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = files->pdata[i];
      g_autofree char *name = hkp_manifest_name_from_filename (path);
      HkpPlugin *plugin = hkp_engine_lookup (engine, name);
      g_autoptr (GError) error = NULL;
      char *text = NULL;

      g_hash_table_add (present, g_strdup (path));
      if (plugin == NULL)
        {
          if (hkp_engine_add_file (engine, path, &error) != NULL)
            rescan->summary.added++;
          else
            rescan->summary.errors++;
          continue;
        }
      if (!g_str_equal (plugin->file, path))
        continue;
      if (!g_file_get_contents (path, &text, NULL, &error))
        {
          hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "rescan: cannot read %s: %s", path, error->message);
          rescan->summary.errors++;
          continue;
        }
      if (g_strcmp0 (text, plugin->file_text) == 0)
        {
          rescan->summary.unchanged++;
          g_free (text);
          continue;
        }
      rescan_edited (task, plugin, text);
    }
  for (guint i = 0; i < known->len; i++)
    {
      HkpPlugin *plugin = known->pdata[i];
      g_autofree char *dir = g_path_get_dirname (plugin->file);
      if (g_str_equal (dir, engine->config_dir) && !g_hash_table_contains (present, plugin->file))
        rescan_removed (task, plugin);
    }
  rescan_step_done (task);
}

gboolean
hkp_engine_rescan_finish (HkpEngine *engine, GAsyncResult *result, HkpRescanSummary *summary, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  if (summary != NULL)
    *summary = ((Rescan *) g_task_get_task_data (G_TASK (result)))->summary;
  return g_task_propagate_boolean (G_TASK (result), error);
}
