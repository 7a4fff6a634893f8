/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Config changes: SetConfig, RollbackConfig, Enable and Disable.  Each one
 * writes the new plugin file to a temporary file first, applies it through a
 * reload, and only when the new instance serves saves the old file in the
 * history and renames the new one into place.  A failure anywhere leaves the
 * old instance, the old config and the old file.
 */

#include "hkp-engine-private.h"

#include <string.h>

#include <glib/gstdio.h>

#include "hkp-config-store.h"
#include "hkp-error.h"
#include "hkp-json.h"
#include "hkp-log.h"

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  char *old_text;
  char *new_text;
  char *what; /* "config change", "rollback", "enable", "disable" */
  char *history_entry; /* rollback: the history file that becomes current */
  HkpManifest *previous;
  HkpPendingFile *pending;
  GError *error; /* why the file could not be committed */
} Change;

static void
change_free (Change *change)
{
  g_object_unref (change->engine);
  g_object_unref (change->plugin);
  g_free (change->old_text);
  g_free (change->new_text);
  g_free (change->what);
  g_free (change->history_entry);
  g_clear_pointer (&change->previous, hkp_manifest_unref);
  g_clear_pointer (&change->pending, hkp_pending_file_free);
  g_clear_error (&change->error);
  g_free (change);
}

static HkpPlugin *
find_configurable (HkpEngine *engine, const char *name, GError **error)
{
  HkpPlugin *plugin = hkp_engine_find (engine, name, error);

  if (plugin != NULL && plugin->manifest == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "plugin %s has no valid file to change; fix it and rescan: %s",
                   name, plugin->last_error);
      return NULL;
    }
  return plugin;
}

char *
hkp_engine_get_config (HkpEngine *engine, const char *name, GError **error)
{
  HkpPlugin *plugin = find_configurable (engine, name, error);

  return plugin != NULL ? g_strdup (plugin->manifest->config_json) : NULL;
}

/* ---- the common path -------------------------------------------------- */

static void
on_restored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Change *change = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!hkp_engine_apply_finish (change->engine, result, &error))
    hkp_log_plugin (G_LOG_LEVEL_CRITICAL, change->plugin->name,
                    "plugin %s: restoring the previous config after a failed write failed too: %s",
                    change->plugin->name, error->message);
  hkp_engine_release (change->engine, change->plugin);
  g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "%s of plugin %s not saved, previous config restored: %s",
                           change->what, change->plugin->name, change->error->message);
  g_object_unref (task);
}

static void
on_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Change *change = g_task_get_task_data (task);
  HkpPlugin *plugin = change->plugin;
  GError *error = NULL;
  g_autoptr (GError) history_error = NULL;

  if (!hkp_engine_apply_finish (change->engine, result, &error))
    {
      hkp_engine_release (change->engine, plugin);
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: %s refused: %s", plugin->name, change->what,
                      error->message);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  /* The new instance serves: now make it durable, then keep the old file in the history. */
  if (!hkp_pending_file_commit (change->pending, change->engine->settings.write_hook,
                                change->engine->settings.write_hook_data, &change->error))
    {
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name,
                      "plugin %s: %s applied but not saved (%s); restoring the previous config", plugin->name,
                      change->what, change->error->message);
      hkp_engine_apply_async (change->engine, plugin, change->previous, on_restored, task);
      return;
    }
  if (change->history_entry != NULL)
    g_remove (change->history_entry);
  else if (!hkp_config_history_push (change->engine->state_dir, plugin->name, change->old_text, &history_error))
    hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: the previous config was not kept in the history: %s",
                    plugin->name, history_error->message);
  g_free (plugin->file_text);
  plugin->file_text = g_steal_pointer (&change->new_text);
  hkp_plugin_set_config_version (plugin, plugin->config_version + 1);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, HKP_LOG_FIELD_PLUGIN, plugin->name, "MESSAGE_ID",
                    HKP_MESSAGE_ID_CONFIG_CHANGED, HKP_LOG_FIELD_RESULT, "applied", "MESSAGE",
                    "plugin %s: %s applied and saved (config version %u)", plugin->name, change->what,
                    plugin->config_version);
  hkp_engine_release (change->engine, plugin);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Applies new_text as plugin's file: validates, writes it aside, reloads, then saves.  Takes task. */
static void
change_file (HkpEngine *engine, HkpPlugin *plugin, char *new_text, const char *what, char *history_entry, GTask *task)
{
  Change *change = g_new0 (Change, 1);
  g_autoptr (HkpManifest) manifest = NULL;
  g_autoptr (GError) error = NULL;

  change->engine = g_object_ref (engine);
  change->plugin = g_object_ref (plugin);
  change->new_text = new_text;
  change->old_text = g_strdup (plugin->file_text);
  change->what = g_strdup (what);
  change->history_entry = history_entry;
  change->previous = hkp_manifest_ref (plugin->manifest);
  g_task_set_task_data (task, change, (GDestroyNotify) change_free);

  manifest = hkp_manifest_new_from_data (plugin->name, plugin->file, new_text, strlen (new_text), &error);
  if (manifest == NULL)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "%s", error->message);
      g_object_unref (task);
      return;
    }
  if (!hkp_engine_claim (engine, plugin, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  change->pending = hkp_pending_file_new (plugin->file, new_text, strlen (new_text), &error);
  if (change->pending == NULL)
    {
      hkp_engine_release (engine, plugin);
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "%s of plugin %s: %s", what, plugin->name,
                               error->message);
      g_object_unref (task);
      return;
    }
  hkp_engine_apply_async (engine, plugin, manifest, on_applied, task);
}

/* Parses config text: a JSON object, bounded in size and depth; NULL with HKP_ERROR_INVALID_CONFIG otherwise. */
static JsonNode *
parse_config (const char *json, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root;
  JsonNode *enabled;
  gsize len;

  if (json == NULL || !g_utf8_validate (json, -1, NULL))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config is not valid UTF-8");
      return NULL;
    }
  len = strlen (json);
  if (len > HKP_MANIFEST_MAX_SIZE)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG,
                   "the config is %" G_GSIZE_FORMAT " bytes, more than the %d allowed", len, HKP_MANIFEST_MAX_SIZE);
      return NULL;
    }
  if (!hkp_json_depth_within (json, len, HKP_MANIFEST_MAX_DEPTH - 1))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config nests deeper than %d levels",
                   HKP_MANIFEST_MAX_DEPTH - 1);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, json, (gssize) len, &parse_error))
    {
      const char *detail = parse_error->message;
      if (g_str_has_prefix (detail, "<data>:"))
        detail += strlen ("<data>:");
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config is not valid JSON: %s", detail);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config must be a JSON object, not %s",
                   root == NULL ? "empty" : hkp_json_type_name (root));
      return NULL;
    }
  enabled = json_object_get_member (json_node_get_object (root), "enabled");
  if (enabled != NULL && (!JSON_NODE_HOLDS_VALUE (enabled) || json_node_get_value_type (enabled) != G_TYPE_BOOLEAN))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "key \"enabled\" must be true or false, not %s",
                   hkp_json_type_name (enabled));
      return NULL;
    }
  return json_node_copy (root);
}

/* ---- entry points ----------------------------------------------------- */

void
hkp_engine_set_config_async (HkpEngine *engine, const char *name, const char *json, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr (JsonNode) config = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;
  char *text;

  g_task_set_source_tag (task, hkp_engine_set_config_async);
  if ((plugin = find_configurable (engine, name, &error)) == NULL || (config = parse_config (json, &error)) == NULL ||
      (text = hkp_config_replace_in_file (plugin->file_text, config, &error)) == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  change_file (engine, plugin, text, "config change", NULL, task);
}

void
hkp_engine_set_enabled_async (HkpEngine *engine, const char *name, gboolean enabled, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr (JsonNode) config = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;
  char *text;

  g_task_set_source_tag (task, hkp_engine_set_enabled_async);
  if ((plugin = find_configurable (engine, name, &error)) == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* Nothing would change: answer at once. */
  if (plugin->manifest->enabled == enabled &&
      (enabled ? plugin->state == HKP_PLUGIN_STATE_ACTIVE : plugin->state == HKP_PLUGIN_STATE_DISABLED))
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  config = json_node_copy (plugin->manifest->config);
  json_object_set_boolean_member (json_node_get_object (config), "enabled", enabled);
  text = hkp_config_replace_in_file (plugin->file_text, config, &error);
  if (text == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  change_file (engine, plugin, text, enabled ? "enable" : "disable", NULL, task);
}

void
hkp_engine_rollback_config_async (HkpEngine *engine, const char *name, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr (GPtrArray) history = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;
  char *text = NULL;

  g_task_set_source_tag (task, hkp_engine_rollback_config_async);
  if ((plugin = find_configurable (engine, name, &error)) == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  history = hkp_config_history_list (engine->state_dir, plugin->name);
  if (history->len == 0)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "plugin %s has no earlier config to return to", name);
      g_object_unref (task);
      return;
    }
  if (!g_file_get_contents (history->pdata[history->len - 1], &text, NULL, &error))
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_FAILED, "cannot read the earlier config of plugin %s: %s",
                               name, error->message);
      g_error_free (error);
      g_object_unref (task);
      return;
    }
  change_file (engine, plugin, text, "rollback", g_strdup (history->pdata[history->len - 1]), task);
}

gboolean
hkp_engine_change_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
