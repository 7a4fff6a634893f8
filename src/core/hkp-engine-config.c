/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Config changes: SetConfig, RollbackConfig, RestoreConfig, Enable, Disable
 * and rescan edits all take one path.  The new file is checked and, if the
 * plugin is to run, put to the plugin's validate_config; then the new
 * version is saved to the history, the new file written aside, the change
 * applied through a reload, and only when the new instance serves is the
 * file renamed into place.  A failure anywhere leaves the old instance, the
 * old config, the old file and the old history.
 */

#include "hkp-engine-private.h"

#include <string.h>

#include "hkp-config-store.h"
#include "hkp-error.h"
#include "hkp-json.h"
#include "hkp-log.h"
#include "hkp-redact.h"

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  char *new_text;
  char *who;
  char *what;
  guint restored;
  gboolean write_file;
  HkpManifest *manifest; /* what new_text declares */
  HkpManifest *previous; /* what was in force */
  guint version; /* the history version saved for this change, 0 until then */
  HkpPendingFile *pending;
  char *disk_text; /* the file as the change began (NULL: unreadable), to tell an edit made meanwhile */
  GError *error; /* why the file could not be committed */
} Change;

static void
change_free (Change *change)
{
  g_object_unref (change->engine);
  g_object_unref (change->plugin);
  g_free (change->new_text);
  g_free (change->who);
  g_free (change->what);
  g_clear_pointer (&change->manifest, hkp_manifest_unref);
  g_clear_pointer (&change->previous, hkp_manifest_unref);
  g_clear_pointer (&change->pending, hkp_pending_file_free);
  g_free (change->disk_text);
  g_clear_error (&change->error);
  g_free (change);
}

static guint
history_limit (HkpEngine *engine)
{
  return engine->settings.history_limit;
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

/* ---- the one path ------------------------------------------------------ */

/* Ends the change with error (taken; NULL: success), releasing the plugin and undoing the history entry on failure. */
static void
change_return (GTask *task, GError *error)
{
  Change *change = g_task_get_task_data (task);

  if (error != NULL && change->version > 0)
    hkp_config_history_remove (change->engine->state_dir, change->plugin->name, change->version);
  hkp_engine_release (change->engine, change->plugin);
  if (error != NULL)
    {
      /* The one line a refused change logs. */
      hkp_log_plugin (G_LOG_LEVEL_WARNING, change->plugin->name, "plugin %s: %s refused: %s", change->plugin->name,
                      change->what, error->message);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

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
  change_return (task,
                 g_error_new (HKP_ERROR, HKP_ERROR_FAILED, "%s of plugin %s not saved, previous config restored: %s",
                              change->what, change->plugin->name, change->error->message));
}

/* Reads plugin's file now: its text, or NULL (with *gone, if given, TRUE if there is no file). */
static char *
read_plugin_file (HkpPlugin *plugin, gboolean *gone)
{
  g_autoptr (GError) error = NULL;
  char *text = hkp_file_read_regular (plugin->file, HKP_MANIFEST_MAX_SIZE, NULL, &error);

  if (gone != NULL)
    *gone = text == NULL && g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  return text;
}

/* Whether change's file was edited or removed since the change began; a file that cannot be read tells nothing. */
static gboolean
file_edited_meanwhile (Change *change)
{
  g_autofree char *now = NULL;
  gboolean gone;

  if (change->disk_text == NULL)
    return FALSE;
  now = read_plugin_file (change->plugin, &gone);
  return now != NULL ? strcmp (now, change->disk_text) != 0 : gone;
}

static void
on_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Change *change = g_task_get_task_data (task);
  HkpPlugin *plugin = change->plugin;
  GError *error = NULL;
  gboolean saved = TRUE;

  if (!hkp_engine_apply_finish (change->engine, result, &error))
    {
      change_return (task, error);
      return;
    }

  /*
   * Someone edited the file while the change ran: the edit is kept, never
   * written over.  The engine holds the change's text as the file's, so the
   * next rescan finds the edit and applies it.
   */
  if (change->pending != NULL && file_edited_meanwhile (change))
    {
      saved = FALSE;
      g_clear_pointer (&change->pending, hkp_pending_file_free);
    }
  /* The new instance serves: now make the file durable. */
  if (change->pending != NULL &&
      !hkp_pending_file_commit (change->pending, change->engine->settings.write_hook,
                                change->engine->settings.write_hook_data, &change->error))
    {
      hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name,
                      "plugin %s: %s applied but not saved (%s); restoring the previous config", plugin->name,
                      change->what, change->error->message);
      hkp_engine_apply_async (change->engine, plugin, change->previous, on_restored, task);
      return;
    }
  hkp_config_history_prune (change->engine->state_dir, plugin->name, history_limit (change->engine));
  g_free (plugin->file_text);
  plugin->file_text = g_steal_pointer (&change->new_text);
  plugin->file_refused = FALSE;
  if (change->previous == NULL || change->previous->priority != change->manifest->priority)
    hkp_engine_reorder (change->engine, plugin);
  hkp_plugin_set_config_version (plugin, change->version);
  g_autofree char *unsaved = saved ? g_strdup ("")
                                   : g_strdup_printf (", not saved: %s was edited meanwhile; the edit "
                                                      "is kept and applies at the next rescan",
                                                      plugin->file);
  g_log_structured (G_LOG_DOMAIN, saved ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, plugin->name,
                    "MESSAGE_ID", HKP_MESSAGE_ID_CONFIG_CHANGED, HKP_LOG_FIELD_RESULT, "applied", HKP_LOG_FIELD_WHO,
                    change->who, "MESSAGE", "plugin %s: %s applied %sas config version %u (%s)%s", plugin->name,
                    change->what, saved ? "and saved " : "", plugin->config_version, change->who, unsaved);
  change_return (task, NULL);
}

/* Saves the new version to the history: before anything else changes, so a full disk changes nothing. */
static gboolean
save_to_history (Change *change, GError **error)
{
  HkpEngine *engine = change->engine;
  HkpPlugin *plugin = change->plugin;
  g_autoptr (GError) local_error = NULL;
  guint newest = MAX (plugin->config_version, hkp_config_history_newest (engine->state_dir, plugin->name));
  HkpConfigEntry entry = {
    .version = newest + 1,
    .time_usec = g_get_real_time (),
    .who = change->who,
    .what = change->what,
    .restored = change->restored,
    .text = change->new_text,
  };

  /* Only a history file put there by hand gets this far: version 0 would come next, and every change after fail. */
  if (newest == G_MAXUINT)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED,
                   "the history of plugin %s holds version %u, the last there can be: nothing changed (remove that "
                   "file from %s)",
                   plugin->name, newest, engine->state_dir);
      return FALSE;
    }
  if (!hkp_config_history_add (engine->state_dir, plugin->name, &entry, TRUE, &local_error))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED,
                   "the history could not keep the new version, nothing changed: %s", local_error->message);
      return FALSE;
    }
  change->version = entry.version;
  return TRUE;
}

static void
on_validated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Change *change = g_task_get_task_data (task);
  GError *error = NULL;

  if (result != NULL && !hkp_engine_validate_finish (change->engine, result, &error))
    {
      change_return (task, error);
      return;
    }
  if (!save_to_history (change, &error))
    {
      change_return (task, error);
      return;
    }
  if (change->write_file)
    {
      g_autoptr (GError) write_error = NULL;
      change->pending = hkp_pending_file_new (change->plugin->file, change->new_text, strlen (change->new_text), 0644,
                                              TRUE, &write_error);
      if (change->pending == NULL)
        {
          change_return (task, g_error_new (HKP_ERROR, HKP_ERROR_FAILED, "nothing changed: %s", write_error->message));
          return;
        }
    }
  hkp_engine_apply_async (change->engine, change->plugin, change->manifest, on_applied, task);
}

void
hkp_engine_change_file (HkpEngine *engine, HkpPlugin *plugin, char *new_text, const HkpChangeInfo *info, GTask *task)
{
  Change *change = g_new0 (Change, 1);
  g_autoptr (GError) error = NULL;

  change->engine = g_object_ref (engine);
  change->plugin = g_object_ref (plugin);
  change->new_text = new_text;
  change->who = g_strdup (info->who != NULL && info->who[0] != '\0' ? info->who : "an unnamed caller");
  change->what = g_strdup (info->what);
  change->restored = info->restored;
  change->write_file = info->write_file;
  change->previous = plugin->manifest != NULL ? hkp_manifest_ref (plugin->manifest) : NULL;
  g_task_set_task_data (task, change, (GDestroyNotify) change_free);

  change->manifest = hkp_manifest_new_from_data (plugin->name, plugin->file, new_text, strlen (new_text), &error);
  if (change->manifest == NULL)
    {
      g_task_return_new_error (task, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "%s", error->message);
      g_object_unref (task);
      return;
    }
  /* Disabling loads nothing new: it is never held off by old instances still loaded. */
  if (change->manifest->enabled ? !hkp_engine_claim_change (engine, plugin, &error)
                                : !hkp_engine_claim (engine, plugin, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (change->write_file)
    change->disk_text = read_plugin_file (plugin, NULL);
  /* A config the plugin refuses is refused here, before anything starts: no reload, nothing counted. */
  if (change->manifest->enabled)
    hkp_engine_validate_async (engine, plugin, change->manifest, on_validated, task);
  else
    on_validated (NULL, NULL, task);
}

/* ---- SetConfig, Enable, Disable ---------------------------------------- */

/* Parses config text: a strict JSON object within the bounds; NULL with HKP_ERROR_INVALID_CONFIG otherwise. */
static JsonNode *
parse_config (const char *json, GError **error)
{
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonNode *enabled;
  gsize len;

  if (json == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config must be a JSON object, not empty");
      return NULL;
    }
  len = strlen (json);
  if (!hkp_manifest_check_config_size (len, error))
    return NULL;
  /* One level less than a plugin file, which holds the config one level down. */
  root = hkp_json_parse_strict (json, len, HKP_MANIFEST_MAX_DEPTH - 1, &parse_error);
  if (root == NULL)
    {
      if (g_error_matches (parse_error, HKP_JSON_ERROR, HKP_JSON_ERROR_EMPTY))
        g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config must be a JSON object, not empty");
      else
        g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config is not valid JSON: %s",
                     parse_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "the config must be a JSON object, not %s",
                   hkp_json_type_name (root));
      return NULL;
    }
  enabled = json_object_get_member (json_node_get_object (root), "enabled");
  if (enabled != NULL && (!JSON_NODE_HOLDS_VALUE (enabled) || json_node_get_value_type (enabled) != G_TYPE_BOOLEAN))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "key \"enabled\" must be true or false, not %s",
                   hkp_json_type_name (enabled));
      return NULL;
    }
  return g_steal_pointer (&root);
}

/* Fails task with error (taken) and drops it. */
static void
task_fail (GTask *task, GError *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

void
hkp_engine_set_config_async (HkpEngine *engine, const char *name, const char *json, const char *who,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  HkpChangeInfo info = { .who = who, .what = "config change", .write_file = TRUE };
  g_autoptr (JsonNode) config = NULL;
  g_autofree char *missing = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;
  char *text;

  g_task_set_source_tag (task, hkp_engine_set_config_async);
  if ((plugin = find_configurable (engine, name, &error)) == NULL || (config = parse_config (json, &error)) == NULL)
    {
      task_fail (task, error);
      return;
    }
  /* A read shows secrets as "[redacted]": sent back so, they keep what is stored. */
  if (!hkp_redact_restore (config, plugin->manifest->config, &missing))
    {
      g_autofree char *shown = g_utf8_make_valid (missing, -1);
      task_fail (task,
                 g_error_new (HKP_ERROR, HKP_ERROR_INVALID_CONFIG,
                              "key \"%s\" is \"%s\", but plugin %s has no stored value for it to keep", shown,
                              HKP_REDACTED, name));
      return;
    }
  if ((text = hkp_config_replace_in_file (plugin->file_text, config, &error)) == NULL)
    {
      task_fail (task, error);
      return;
    }
  hkp_engine_change_file (engine, plugin, text, &info, task);
}

void
hkp_engine_set_enabled_async (HkpEngine *engine, const char *name, gboolean enabled, const char *who,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  HkpChangeInfo info = { .who = who, .what = enabled ? "enable" : "disable", .write_file = TRUE };
  g_autoptr (JsonNode) config = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;
  char *text;

  g_task_set_source_tag (task, hkp_engine_set_enabled_async);
  if ((plugin = find_configurable (engine, name, &error)) == NULL)
    {
      task_fail (task, error);
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
      task_fail (task, error);
      return;
    }
  hkp_engine_change_file (engine, plugin, text, &info, task);
}

/* ---- the history: RollbackConfig, RestoreConfig, GetConfigHistory ------ */

/* Describes the versions kept, for messages: "versions 3 to 9", "version 1", "no version". */
static char *
describe_kept (GArray *versions)
{
  if (versions->len == 0)
    return g_strdup ("no version");
  if (versions->len == 1)
    return g_strdup_printf ("version %u", g_array_index (versions, guint, 0));
  return g_strdup_printf ("versions %u to %u", g_array_index (versions, guint, 0),
                          g_array_index (versions, guint, versions->len - 1));
}

/* Applies kept version of plugin as a new version; takes task. */
static void
bring_back (HkpEngine *engine, HkpPlugin *plugin, guint version, const char *who, const char *what, GTask *task)
{
  HkpChangeInfo info = { .who = who, .what = what, .restored = version, .write_file = TRUE };
  g_autoptr (HkpConfigEntry) entry = NULL;
  GError *error = NULL;

  entry = hkp_config_history_read (engine->state_dir, plugin->name, version, &error);
  if (entry == NULL)
    {
      task_fail (task, error);
      return;
    }
  /* A damaged entry is the history's fault: said so, not as if the plugin's file were broken. */
  {
    g_autoptr (GError) parse_error = NULL;
    g_autoptr (JsonNode) parsed = hkp_json_parse_strict (entry->text, strlen (entry->text), HKP_MANIFEST_MAX_DEPTH,
                                                         &parse_error);

    if (parsed == NULL)
      {
        task_fail (task,
                   g_error_new (HKP_ERROR, HKP_ERROR_FAILED,
                                "version %u of plugin %s in the history (%s) is damaged: %s", version, plugin->name,
                                engine->state_dir, parse_error->message));
        return;
      }
  }
  hkp_engine_change_file (engine, plugin, g_steal_pointer (&entry->text), &info, task);
}

void
hkp_engine_rollback_config_async (HkpEngine *engine, const char *name, const char *who, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr (GArray) versions = NULL;
  g_autoptr (HkpConfigEntry) current = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;
  guint base, target = 0;

  g_task_set_source_tag (task, hkp_engine_rollback_config_async);
  /* Busy first: a change running has its version in the history already, but not in force. */
  if ((plugin = find_configurable (engine, name, &error)) == NULL || !hkp_engine_can_claim (engine, plugin, &error))
    {
      task_fail (task, error);
      return;
    }
  /* The version in force may itself bring back an older one: then go before that one, so rollbacks walk back. */
  base = plugin->config_version;
  current = base > 0 ? hkp_config_history_read (engine->state_dir, plugin->name, base, NULL) : NULL;
  if (current != NULL && current->restored > 0)
    base = current->restored;
  versions = hkp_config_history_versions (engine->state_dir, plugin->name);
  for (guint i = 0; i < versions->len; i++)
    if (g_array_index (versions, guint, i) < base)
      target = g_array_index (versions, guint, i);
  if (target == 0)
    {
      g_autofree char *kept = describe_kept (versions);
      task_fail (task,
                 g_error_new (HKP_ERROR, HKP_ERROR_FAILED,
                              "plugin %s has no version before version %u to return to (the history keeps %s)", name,
                              base, kept));
      return;
    }
  bring_back (engine, plugin, target, who, "rollback", task);
}

void
hkp_engine_restore_config_async (HkpEngine *engine, const char *name, guint version, const char *who,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  g_autoptr (GArray) versions = NULL;
  GError *error = NULL;
  HkpPlugin *plugin;

  g_task_set_source_tag (task, hkp_engine_restore_config_async);
  if ((plugin = find_configurable (engine, name, &error)) == NULL)
    {
      task_fail (task, error);
      return;
    }
  versions = hkp_config_history_versions (engine->state_dir, plugin->name);
  for (guint i = 0; i < versions->len; i++)
    if (g_array_index (versions, guint, i) == version)
      {
        bring_back (engine, plugin, version, who, "restore", task);
        return;
      }
  {
    g_autofree char *kept = describe_kept (versions);
    task_fail (task,
               g_error_new (HKP_ERROR, HKP_ERROR_FAILED, "version %u of plugin %s is not in the history (it keeps %s)",
                            version, name, kept));
  }
}

gboolean
hkp_engine_change_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
hkp_config_version_free (HkpConfigVersion *version)
{
  if (version == NULL)
    return;
  g_free (version->who);
  g_free (version->what);
  g_free (version->config);
  g_free (version);
}

/* Returns the config of a stored plugin file, redacted (caller frees); "null" if the file is not an object. */
static char *
redacted_config_of (const char *file_text)
{
  g_autoptr (JsonNode) root = hkp_json_parse_strict (file_text, strlen (file_text), HKP_MANIFEST_MAX_DEPTH, NULL);
  JsonNode *config;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return g_strdup ("null");
  config = json_object_get_member (json_node_get_object (root), "config");
  if (config == NULL)
    return g_strdup ("{}");
  hkp_redact_node (config);
  return hkp_json_to_string (config);
}

GPtrArray *
hkp_engine_get_config_history (HkpEngine *engine, const char *name, GError **error)
{
  HkpPlugin *plugin = hkp_engine_find (engine, name, error);
  g_autoptr (GArray) versions = NULL;
  GPtrArray *list;
  gsize listed = 0;

  if (plugin == NULL)
    return NULL;
  versions = hkp_config_history_versions (engine->state_dir, plugin->name);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) hkp_config_version_free);
  for (guint i = versions->len; i-- > 0;)
    {
      g_autoptr (GError) read_error = NULL;
      g_autoptr (HkpConfigEntry) entry = hkp_config_history_read (engine->state_dir, plugin->name,
                                                                  g_array_index (versions, guint, i), &read_error);
      HkpConfigVersion *version;

      if (entry == NULL)
        {
          hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: %s", plugin->name, read_error->message);
          continue;
        }
      version = g_new0 (HkpConfigVersion, 1);
      version->version = entry->version;
      version->time_usec = entry->time_usec;
      version->who = g_utf8_make_valid (entry->who, -1);
      version->what = g_utf8_make_valid (entry->what, -1);
      version->restored = entry->restored;
      version->config = redacted_config_of (entry->text);
      /*
       * Any local user may ask, and a hundred versions of a megabyte would
       * be a reply past what the bus carries (it would drop the daemon) and
       * a second's work each time: older versions stay out of the list.
       */
      listed += strlen (version->config);
      if (list->len > 0 && listed > HKP_CONFIG_HISTORY_LISTED_MAX)
        {
          hkp_config_version_free (version);
          break;
        }
      g_ptr_array_add (list, version);
    }
  return list;
}
