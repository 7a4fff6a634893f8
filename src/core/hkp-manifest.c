/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-manifest.h"

#include <string.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-file.h"
#include "hkp-json.h"
#include "hkp-redact.h"
#include "hkp-util.h"

#define MANIFEST_SUFFIX ".json"

gboolean
hkp_plugin_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > 64)
    return FALSE;
  if (!g_ascii_islower (name[0]) && !g_ascii_isdigit (name[0]))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

gboolean
hkp_manifest_check_config_size (gsize len, GError **error)
{
  if (len <= HKP_MANIFEST_MAX_SIZE)
    return TRUE;
  g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG,
               "the config is %" G_GSIZE_FORMAT " bytes, more than the %d allowed", len, HKP_MANIFEST_MAX_SIZE);
  return FALSE;
}

/* How much of a name that is not a plugin name an error quotes, in bytes. */
#define NAME_SHOWN_MAX 80

char *
hkp_plugin_name_describe_unknown (const char *name)
{
  g_autofree char *valid = NULL, *shown = NULL;

  if (hkp_plugin_name_is_valid (name))
    return g_strdup_printf ("no plugin named \"%s\"", name);
  /* A client's input: never more than a little of it (a D-Bus reply over the bus's limit costs the daemon its bus). */
  valid = name != NULL ? g_utf8_make_valid (name, -1) : g_strdup ("");
  shown = hkp_utf8_truncate (valid, NAME_SHOWN_MAX);
  return g_strdup_printf ("\"%s%s\" is not a plugin name: names are 1 to 64 of a-z, 0-9, '_' and '-'", shown,
                          strlen (shown) < strlen (valid) ? "…" : "");
}

char *
hkp_manifest_name_from_filename (const char *filename)
{
  g_autofree char *base = g_path_get_basename (filename);

  if (base[0] == '.' || !g_str_has_suffix (base, MANIFEST_SUFFIX) || strlen (base) == strlen (MANIFEST_SUFFIX))
    return NULL;
  return g_strndup (base, strlen (base) - strlen (MANIFEST_SUFFIX));
}

static void
manifest_clear (HkpManifest *manifest)
{
  g_free (manifest->name);
  g_free (manifest->path);
  g_free (manifest->module);
  g_clear_pointer (&manifest->config, json_node_unref);
  g_free (manifest->config_json);
  g_free (manifest->shown_config_json);
}

const char *
hkp_manifest_get_shown_config (HkpManifest *manifest)
{
  char *shown = g_atomic_pointer_get (&manifest->shown_config_json);

  if (shown != NULL)
    return shown;
  shown = hkp_redact_config_json (manifest->config_json);
  if (!g_atomic_pointer_compare_and_exchange (&manifest->shown_config_json, NULL, shown))
    {
      g_free (shown);
      shown = g_atomic_pointer_get (&manifest->shown_config_json);
    }
  return shown;
}

HkpManifest *
hkp_manifest_ref (HkpManifest *manifest)
{
  return g_atomic_rc_box_acquire (manifest);
}

void
hkp_manifest_unref (HkpManifest *manifest)
{
  g_atomic_rc_box_release_full (manifest, (GDestroyNotify) manifest_clear);
}

gboolean
hkp_manifest_manager_keys_equal (const HkpManifest *a, const HkpManifest *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strcmp0 (a->module, b->module) == 0 && a->priority == b->priority &&
    a->reload_strategy == b->reload_strategy && a->failure_mode == b->failure_mode &&
    a->drain_timeout_sec == b->drain_timeout_sec && a->init_timeout_sec == b->init_timeout_sec &&
    a->health_interval_sec == b->health_interval_sec && a->required == b->required;
}

const char *
hkp_reload_strategy_to_string (HkpReloadStrategy strategy)
{
  return strategy == HKP_RELOAD_EXCLUSIVE ? "exclusive" : "overlap";
}

const char *
hkp_failure_mode_to_string (HkpFailureMode mode)
{
  return mode == HKP_FAILURE_OPEN ? "open" : "closed";
}

const char *
hkp_isolation_to_string (HkpIsolation isolation)
{
  return isolation == HKP_ISOLATION_NONE ? "none" : "process";
}

/* Each reader checks one key's type and range and stores it; FALSE with error otherwise. */

static gboolean
wrong_type (const char *path, const char *key, const char *expected, JsonNode *node, GError **error)
{
  g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "%s: key \"%s\" must be %s, not %s", path, key, expected,
               hkp_json_type_name (node));
  return FALSE;
}

static gboolean
read_string (const char *path, const char *key, JsonNode *node, char **out, GError **error)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return wrong_type (path, key, "a string", node, error);
  g_free (*out);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
read_boolean (const char *path, const char *key, JsonNode *node, gboolean *out, GError **error)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return wrong_type (path, key, "true or false", node, error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
read_priority (const char *path, const char *key, JsonNode *node, gint *out, GError **error)
{
  gint64 value;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_type (path, key, "an integer", node, error);
  value = json_node_get_int (node);
  if (value < HKP_PRIORITY_MIN || value > HKP_PRIORITY_MAX)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST,
                   "%s: key \"%s\" must be between %d and %d, not %" G_GINT64_FORMAT, path, key, HKP_PRIORITY_MIN,
                   HKP_PRIORITY_MAX, value);
      return FALSE;
    }
  *out = (gint) value;
  return TRUE;
}

static gboolean
read_count (const char *path, const char *key, JsonNode *node, guint min, guint max, const char *unit, guint *out,
            GError **error)
{
  gint64 value;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_type (path, key, "an integer", node, error);
  value = json_node_get_int (node);
  if (value < min || value > max)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST,
                   "%s: key \"%s\" must be between %u and %u %s, not %" G_GINT64_FORMAT, path, key, min, max, unit,
                   value);
      return FALSE;
    }
  *out = (guint) value;
  return TRUE;
}

static gboolean
read_seconds (const char *path, const char *key, JsonNode *node, gdouble *out, GError **error)
{
  gdouble value;
  GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;

  if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
    return wrong_type (path, key, "a number of seconds", node, error);
  value = json_node_get_double (node);
  if (!(value > 0 && value <= HKP_TIMEOUT_MAX_SEC))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST,
                   "%s: key \"%s\" must be more than 0 and at most %.0f seconds, not %g", path, key,
                   HKP_TIMEOUT_MAX_SEC, value);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
read_choice (const char *path, const char *key, JsonNode *node, const char *first, const char *second, gint *out,
             GError **error)
{
  g_autofree char *value = NULL;

  if (!read_string (path, key, node, &value, error))
    return FALSE;
  if (g_str_equal (value, first))
    *out = 0;
  else if (g_str_equal (value, second))
    *out = 1;
  else
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "%s: key \"%s\" must be \"%s\" or \"%s\", not \"%s\"",
                   path, key, first, second, value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_config (const char *path, JsonNode *node, HkpManifest *manifest, GError **error)
{
  JsonNode *enabled;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return wrong_type (path, "config", "an object", node, error);
  enabled = json_object_get_member (json_node_get_object (node), "enabled");
  if (enabled != NULL && !read_boolean (path, "config.enabled", enabled, &manifest->enabled, error))
    return FALSE;
  g_clear_pointer (&manifest->config, json_node_unref);
  manifest->config = json_node_copy (node);
  json_node_seal (manifest->config);
  return TRUE;
}

static gboolean
read_member (const char *path, const char *key, JsonNode *node, HkpManifest *manifest, GError **error)
{
  if (g_str_equal (key, "module"))
    return read_string (path, key, node, &manifest->module, error);
  if (g_str_equal (key, "priority"))
    return read_priority (path, key, node, &manifest->priority, error);
  if (g_str_equal (key, "reload_strategy"))
    return read_choice (path, key, node, "overlap", "exclusive", (gint *) &manifest->reload_strategy, error);
  if (g_str_equal (key, "failure_mode"))
    return read_choice (path, key, node, "closed", "open", (gint *) &manifest->failure_mode, error);
  if (g_str_equal (key, "drain_timeout_sec"))
    return read_seconds (path, key, node, &manifest->drain_timeout_sec, error);
  if (g_str_equal (key, "init_timeout_sec"))
    return read_seconds (path, key, node, &manifest->init_timeout_sec, error);
  if (g_str_equal (key, "health_interval_sec"))
    return read_seconds (path, key, node, &manifest->health_interval_sec, error);
  if (g_str_equal (key, "required"))
    return read_boolean (path, key, node, &manifest->required, error);
  if (g_str_equal (key, "isolation"))
    return read_choice (path, key, node, "process", "none", (gint *) &manifest->isolation, error);
  if (g_str_equal (key, "call_timeout_ms"))
    return read_count (path, key, node, 1, HKP_CALL_TIMEOUT_MAX_MS, "ms", &manifest->call_timeout_ms, error);
  if (g_str_equal (key, "memory_max_mb"))
    return read_count (path, key, node, 16, HKP_MEMORY_MAX_MAX_MB, "MiB", &manifest->memory_max_mb, error);
  if (g_str_equal (key, "config"))
    return read_config (path, node, manifest, error);

  g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST,
               "%s: unknown key \"%s\" (known: module, priority, reload_strategy, failure_mode, "
               "drain_timeout_sec, init_timeout_sec, health_interval_sec, required, isolation, call_timeout_ms, "
               "memory_max_mb, config)",
               path, key);
  return FALSE;
}

HkpManifest *
hkp_manifest_new_from_data (const char *name, const char *path, const char *data, gsize len, GError **error)
{
  g_autoptr (HkpManifest) manifest = NULL;
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (GList) members = NULL;
  g_autoptr (JsonNode) root_node = NULL;
  JsonObject *root;

  if (!hkp_plugin_name_is_valid (name))
    {
      g_autofree char *shown = g_utf8_make_valid (name, -1);
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_NAME,
                   "%s: invalid plugin name \"%s\": names are 1 to 64 of a-z, 0-9, '_' and '-', "
                   "starting with a letter or digit",
                   path, shown);
      return NULL;
    }
  if (len > HKP_MANIFEST_MAX_SIZE)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST,
                   "%s: file is %" G_GSIZE_FORMAT " bytes, more than the %d allowed", path, len, HKP_MANIFEST_MAX_SIZE);
      return NULL;
    }
  root_node = hkp_json_parse_strict (data, len, HKP_MANIFEST_MAX_DEPTH, &parse_error);
  if (root_node == NULL)
    {
      if (g_error_matches (parse_error, HKP_JSON_ERROR, HKP_JSON_ERROR_EMPTY))
        g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "%s: file is empty", path);
      else /* "LINE:COL: problem": keep the position, name the file, as compilers do */
        g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "%s:%s", path, parse_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root_node))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "%s: the top level must be a JSON object, not %s",
                   path, hkp_json_type_name (root_node));
      return NULL;
    }

  manifest = g_atomic_rc_box_new0 (HkpManifest);
  manifest->name = g_strdup (name);
  manifest->path = g_strdup (path);
  manifest->priority = HKP_PRIORITY_DEFAULT;
  manifest->enabled = TRUE;
  manifest->isolation = HKP_ISOLATION_PROCESS;
  manifest->call_timeout_ms = HKP_CALL_TIMEOUT_DEFAULT_MS;
  manifest->memory_max_mb = HKP_MEMORY_MAX_DEFAULT_MB;

  root = json_node_get_object (root_node);
  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    if (!read_member (path, l->data, json_object_get_member (root, l->data), manifest, error))
      return NULL;

  if (manifest->module == NULL || manifest->module[0] == '\0')
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST,
                   "%s: key \"module\" is missing (the module file in the plugin directory, e.g. \"%s.so\")", path,
                   name);
      return NULL;
    }
  if (manifest->config == NULL)
    {
      manifest->config = json_node_init_object (json_node_alloc (), json_object_new ());
      json_node_seal (manifest->config);
    }
  manifest->config_json = hkp_json_to_string (manifest->config);
  return g_steal_pointer (&manifest);
}

HkpManifest *
hkp_manifest_new_from_file (const char *path, char **text, GError **error)
{
  g_autofree char *name = hkp_manifest_name_from_filename (path);
  g_autofree char *data = NULL;
  g_autoptr (GError) read_error = NULL;
  gsize len = 0;

  if (name == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_NAME, "%s: a plugin file must be named <name>.json", path);
      return NULL;
    }
  /* Never blocks: a FIFO or device named like a plugin file fails that plugin alone. */
  data = hkp_file_read_regular (path, HKP_MANIFEST_MAX_SIZE, &len, &read_error);
  if (data == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "%s: cannot read: %s", path, read_error->message);
      return NULL;
    }
  if (text != NULL)
    *text = g_strdup (data);
  return hkp_manifest_new_from_data (name, path, data, len, error);
}
