/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Rescan: compare the config directory with the registry.  New files load,
 * removed files drain and unload, edited files are applied like a config
 * change (reload, enable or disable).  A file that is not applied leaves
 * the running instance serving, says why in the plugin's last error, and is
 * listed among the refused files; once the file on disk is the one in force
 * again, the error goes.
 */

#include "hkp-engine-private.h"

#include <string.h>

#include "hkp-error.h"
#include "hkp-file.h"
#include "hkp-log.h"

#define RESCAN_WHO "file edited, rescan"

typedef struct {
  HkpEngine *engine;
  HkpRescanSummary summary;
  guint outstanding; /* plugin operations still running, plus one while starting */
} Rescan;

static void
refusal_free (HkpRescanRefusal *refusal)
{
  g_free (refusal->file);
  g_free (refusal->reason);
  g_free (refusal);
}

static void
rescan_free (Rescan *rescan)
{
  hkp_rescan_summary_clear (&rescan->summary);
  g_free (rescan);
}

void
hkp_rescan_summary_clear (HkpRescanSummary *summary)
{
  g_clear_pointer (&summary->refused, g_ptr_array_unref);
}

char *
hkp_rescan_summary_describe_refused (const HkpRescanSummary *summary)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint i = 0; summary->refused != NULL && i < summary->refused->len; i++)
    {
      HkpRescanRefusal *refusal = summary->refused->pdata[i];
      g_string_append_printf (text, "%s%s: %s", i > 0 ? "; " : "", refusal->file, refusal->reason);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* Lists file as refused for reason; a reason that begins with the file's name loses it. */
static void
refuse (Rescan *rescan, const char *file, const char *reason)
{
  HkpRescanRefusal *refusal = g_new0 (HkpRescanRefusal, 1);

  if (g_str_has_prefix (reason, file) && reason[strlen (file)] == ':')
    {
      reason += strlen (file) + 1;
      while (*reason == ' ')
        reason++;
    }
  refusal->file = g_strdup (file);
  refusal->reason = g_strdup (reason);
  g_ptr_array_add (rescan->summary.refused, refusal);
  rescan->summary.errors++;
}

static gint
compare_refusals (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(HkpRescanRefusal *const *) a)->file, (*(HkpRescanRefusal *const *) b)->file);
}

static void
rescan_step_done (GTask *task)
{
  Rescan *rescan = g_task_get_task_data (task);

  if (--rescan->outstanding > 0)
    return;
  g_ptr_array_sort (rescan->summary.refused, compare_refusals);
  g_message ("rescan: added %u, removed %u, changed %u, unchanged %u, errors %u", rescan->summary.added,
             rescan->summary.removed, rescan->summary.changed, rescan->summary.unchanged, rescan->summary.errors);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* The file on disk is not the one in force: say so in the plugin's last error until it is. */
static void
mark_file_refused (HkpPlugin *plugin, const char *message)
{
  plugin->file_refused = TRUE;
  hkp_plugin_set_state (plugin, plugin->state, message);
}

/* ---- edited files ------------------------------------------------------ */

typedef struct {
  GTask *task;
  HkpPlugin *plugin;
} Edit;

static void
on_edit_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Edit *edit = user_data;
  Rescan *rescan = g_task_get_task_data (edit->task);
  g_autoptr (GError) error = NULL;

  if (hkp_engine_change_finish (rescan->engine, result, &error))
    rescan->summary.changed++;
  else
    {
      refuse (rescan, edit->plugin->file, error->message);
      /* Busy is no fault of the file: it waits for the next rescan. */
      if (!g_error_matches (error, HKP_ERROR, HKP_ERROR_BUSY))
        mark_file_refused (edit->plugin, error->message);
      else
        hkp_log_plugin (G_LOG_LEVEL_WARNING, edit->plugin->name, "rescan: the edit of %s waits for the next rescan: %s",
                        edit->plugin->file, error->message);
    }
  rescan_step_done (edit->task);
  g_object_unref (edit->plugin);
  g_free (edit);
}

/* An edited file: applied like a config change; one that does not parse leaves the running instance. */
static void
rescan_edited (GTask *task, HkpPlugin *plugin, char *text)
{
  Rescan *rescan = g_task_get_task_data (task);
  HkpChangeInfo info = { .who = RESCAN_WHO, .what = "rescan", .write_file = FALSE };
  g_autoptr (HkpManifest) manifest = NULL;
  g_autoptr (GError) error = NULL;
  Edit *edit;

  manifest = hkp_manifest_new_from_data (plugin->name, plugin->file, text, strlen (text), &error);
  if (manifest == NULL)
    {
      refuse (rescan, plugin->file, error->message);
      if (hkp_slot_peek_gate (plugin->slot)->mode == HKP_GATE_SERVE)
        {
          /* Keep file_text: the next rescan reports the same bad edit again until it is fixed. */
          mark_file_refused (plugin, error->message);
          hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name,
                          "rescan: %s; plugin %s keeps running with its previous file", error->message, plugin->name);
        }
      else
        {
          g_free (plugin->file_text);
          plugin->file_text = g_strdup (text);
          plugin->file_refused = FALSE;
          hkp_plugin_set_manifest (plugin, NULL);
          hkp_engine_set_gate_mode (plugin, HKP_GATE_FAILED);
          hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, error->message);
        }
      g_free (text);
      return;
    }
  edit = g_new0 (Edit, 1);
  edit->task = task;
  edit->plugin = g_object_ref (plugin);
  rescan->outstanding++;
  hkp_engine_change_file (rescan->engine, plugin, text, &info,
                          g_task_new (rescan->engine, NULL, on_edit_applied, edit));
}

/* ---- added files ------------------------------------------------------- */

typedef struct {
  GTask *task;
  HkpPlugin *plugin;
  gulong handler;
} Addition;

static void
addition_done (Addition *addition)
{
  Rescan *rescan = g_task_get_task_data (addition->task);

  if (hkp_plugin_get_state (addition->plugin) == HKP_PLUGIN_STATE_FAILED)
    refuse (rescan, addition->plugin->file, addition->plugin->last_error);
  g_signal_handler_disconnect (rescan->engine, addition->handler);
  rescan_step_done (addition->task);
  g_object_unref (addition->plugin);
  g_free (addition);
}

static void
on_added_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, Addition *addition)
{
  if (plugin == addition->plugin && (what & HKP_PLUGIN_CHANGED_STATE) != 0 &&
      hkp_plugin_get_state (plugin) != HKP_PLUGIN_STATE_LOADING)
    addition_done (addition);
}

/* A new file: declare its plugin and wait for its load's outcome. */
static void
rescan_added (GTask *task, const char *path)
{
  Rescan *rescan = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  HkpPlugin *plugin = hkp_engine_add_file_by (rescan->engine, path, "file added, rescan", "add", &error);
  Addition *addition;

  if (plugin == NULL)
    {
      refuse (rescan, path, error->message);
      return;
    }
  rescan->summary.added++;
  if (hkp_plugin_get_state (plugin) == HKP_PLUGIN_STATE_FAILED)
    refuse (rescan, path, plugin->last_error);
  if (hkp_plugin_get_state (plugin) != HKP_PLUGIN_STATE_LOADING)
    return;
  addition = g_new0 (Addition, 1);
  addition->task = task;
  addition->plugin = g_object_ref (plugin);
  addition->handler = g_signal_connect (rescan->engine, "plugin-changed", G_CALLBACK (on_added_changed), addition);
  rescan->outstanding++;
}

/* ---- removed files ----------------------------------------------------- */

typedef struct {
  GTask *task;
  HkpPlugin *plugin;
} Removal;

static void rescan_added (GTask *task, const char *path);

static void
on_removed_drained (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Removal *removal = user_data;
  Rescan *rescan = g_task_get_task_data (removal->task);
  g_autofree char *path = g_strdup (removal->plugin->file);

  hkp_engine_release (rescan->engine, removal->plugin);
  hkp_engine_unregister (rescan->engine, removal->plugin);
  hkp_log_plugin (G_LOG_LEVEL_MESSAGE, removal->plugin->name, "plugin %s removed: its file is gone",
                  removal->plugin->name);
  /* Put back while the plugin drained (another rescan found it "unchanged"): it is loaded again, from the file now. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      hkp_log_plugin (G_LOG_LEVEL_MESSAGE, removal->plugin->name,
                      "rescan: %s came back while plugin %s was removed; loading it again", path,
                      removal->plugin->name);
      rescan_added (removal->task, path);
    }
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
      refuse (rescan, plugin->file, error->message);
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

/* ---- the scan ---------------------------------------------------------- */

/* A file as it was when last applied (or refused at load). */
static void
rescan_unchanged (Rescan *rescan, HkpPlugin *plugin)
{
  rescan->summary.unchanged++;
  if (plugin->manifest == NULL)
    {
      /* Still the file that did not parse: still refused. */
      refuse (rescan, plugin->file, plugin->last_error);
      return;
    }
  /* The edit that was refused is gone: so is its error. */
  if (plugin->file_refused)
    {
      plugin->file_refused = FALSE;
      hkp_plugin_set_state (plugin, plugin->state, "");
    }
}

void
hkp_engine_rescan_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  Rescan *rescan = g_new0 (Rescan, 1);
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GHashTable) present = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) known = NULL;
  g_autoptr (GError) list_error = NULL;

  g_task_set_source_tag (task, hkp_engine_rescan_async);
  rescan->engine = engine;
  rescan->outstanding = 1;
  rescan->summary.refused = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_task_set_task_data (task, rescan, (GDestroyNotify) rescan_free);
  if (engine->stopping)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "the service is stopping");
      g_object_unref (task);
      return;
    }

  files = hkp_engine_list_plugin_files (engine, &list_error);
  if (files == NULL)
    {
      /* A directory moved away or unreadable says nothing of the files in it: every plugin stays as it is. */
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "%s: nothing changed", list_error->message);
      g_object_unref (task);
      return;
    }
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
          rescan_added (task, path);
          continue;
        }
      if (!g_str_equal (plugin->file, path))
        continue;
      text = hkp_file_read_regular (path, HKP_MANIFEST_MAX_SIZE, NULL, &error);
      if (text == NULL)
        {
          g_autofree char *message = g_strdup_printf ("%s: cannot read: %s", path, error->message);
          hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "rescan: %s", message);
          refuse (rescan, path, message);
          mark_file_refused (plugin, message);
          continue;
        }
      if (g_strcmp0 (text, plugin->file_text) == 0)
        {
          rescan_unchanged (rescan, plugin);
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
  Rescan *rescan;

  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  rescan = g_task_get_task_data (G_TASK (result));
  if (summary != NULL)
    {
      *summary = rescan->summary;
      rescan->summary.refused = NULL;
    }
  return g_task_propagate_boolean (G_TASK (result), error);
}
