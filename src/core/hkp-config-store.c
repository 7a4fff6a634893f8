/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * The config history: every version of every plugin file, one file per
 * version, <state-dir>/history/<name>/<version>.json, holding a small JSON
 * object with the version, the time, who made it and the plugin file's
 * text.  Zero-padded names sort by version.
 */

#include "hkp-config-store.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-json.h"

/* An entry holds a plugin file (at most 1 MiB) escaped as a JSON string: allow for the escaping. */
#define ENTRY_MAX_SIZE (8 * 1024 * 1024)
#define ENTRY_SUFFIX ".json"
/* Deeper than any plugin file may nest (HKP_MANIFEST_MAX_DEPTH), so stored files always parse. */
#define FILE_MAX_DEPTH 64

void
hkp_config_entry_free (HkpConfigEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->who);
  g_free (entry->what);
  g_free (entry->text);
  g_free (entry);
}

char *
hkp_config_replace_in_file (const char *file_text, JsonNode *config, GError **error)
{
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (JsonNode) root = hkp_json_parse_strict (file_text, strlen (file_text), FILE_MAX_DEPTH, &parse_error);
  g_autofree char *text = NULL;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "the plugin file is no longer a JSON object%s%s",
                   parse_error != NULL ? ": " : "", parse_error != NULL ? parse_error->message : "");
      return NULL;
    }
  json_object_set_member (json_node_get_object (root), "config", json_node_copy (config));
  text = hkp_json_to_pretty_string (root);
  return g_strconcat (text, "\n", NULL);
}

static char *
history_dir (const char *state_dir, const char *name)
{
  return g_build_filename (state_dir, "history", name, NULL);
}

static char *
entry_path (const char *state_dir, const char *name, guint version)
{
  g_autofree char *dir = history_dir (state_dir, name);

  return g_strdup_printf ("%s/%010u" ENTRY_SUFFIX, dir, version);
}

/* Returns the version an entry's file name says, or 0 if it is no entry. */
static guint
version_from_name (const char *entry)
{
  g_autofree char *stem = NULL;
  guint64 version = 0;

  if (!g_str_has_suffix (entry, ENTRY_SUFFIX) || !g_ascii_isdigit (entry[0]))
    return 0;
  stem = g_strndup (entry, strlen (entry) - strlen (ENTRY_SUFFIX));
  if (!g_ascii_string_to_unsigned (stem, 10, 1, G_MAXUINT, &version, NULL))
    return 0;
  return (guint) version;
}

static gint
compare_versions (gconstpointer a, gconstpointer b)
{
  guint va = *(const guint *) a, vb = *(const guint *) b;

  return va < vb ? -1 : va > vb;
}

GArray *
hkp_config_history_versions (const char *state_dir, const char *name)
{
  g_autofree char *dir = history_dir (state_dir, name);
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  GArray *versions = g_array_new (FALSE, FALSE, sizeof (guint));
  const char *entry;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    {
      guint version = version_from_name (entry);
      if (version > 0)
        g_array_append_val (versions, version);
    }
  g_array_sort (versions, compare_versions);
  return versions;
}

guint
hkp_config_history_newest (const char *state_dir, const char *name)
{
  g_autoptr (GArray) versions = hkp_config_history_versions (state_dir, name);

  return versions->len > 0 ? g_array_index (versions, guint, versions->len - 1) : 0;
}

static const char *
string_member (JsonObject *object, const char *key)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gint64
integer_member (JsonObject *object, const char *key)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return 0;
  return json_node_get_int (node);
}

HkpConfigEntry *
hkp_config_history_read (const char *state_dir, const char *name, guint version, GError **error)
{
  g_autofree char *path = entry_path (state_dir, name, version);
  g_autoptr (HkpConfigEntry) entry = g_new0 (HkpConfigEntry, 1);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *data = NULL;
  JsonObject *object;
  const char *text;
  gsize len = 0;

  data = hkp_file_read_regular (path, ENTRY_MAX_SIZE, &len, &local_error);
  if (data == NULL)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "version %u of plugin %s is not in the history", version,
                     name);
      else
        g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot read %s: %s", path, local_error->message);
      return NULL;
    }
  entry->version = version;
  root = hkp_json_parse_strict (data, len, 8, NULL);
  object = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  text = object != NULL ? string_member (object, "file") : NULL;
  if (text == NULL)
    {
      /* An entry of an earlier release: the file itself, with no time nor author but its own. */
      GStatBuf st;
      entry->time_usec = g_stat (path, &st) == 0 ? (gint64) st.st_mtime * G_USEC_PER_SEC : 0;
      entry->who = g_strdup ("an earlier release");
      entry->what = g_strdup ("");
      entry->text = g_steal_pointer (&data);
      return g_steal_pointer (&entry);
    }
  entry->time_usec = integer_member (object, "time_usec");
  entry->who = g_strdup (string_member (object, "who") != NULL ? string_member (object, "who") : "");
  entry->what = g_strdup (string_member (object, "what") != NULL ? string_member (object, "what") : "");
  entry->restored = (guint) CLAMP (integer_member (object, "restored"), 0, G_MAXUINT);
  entry->text = g_strdup (text);
  return g_steal_pointer (&entry);
}

/* Makes dir (and its parents below state_dir) 0700, also if they exist with another mode. */
static gboolean
make_private_dir (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0700) != 0 || g_chmod (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot make %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
hkp_config_history_add (const char *state_dir, const char *name, const HkpConfigEntry *entry, gboolean durable,
                        GError **error)
{
  g_autofree char *history = g_build_filename (state_dir, "history", NULL);
  g_autofree char *dir = history_dir (state_dir, name);
  g_autofree char *path = entry_path (state_dir, name, entry->version);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *data = NULL;

  if (!make_private_dir (history, error) || !make_private_dir (dir, error))
    return FALSE;
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "version %u of plugin %s is in the history already",
                   entry->version, name);
      return FALSE;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, entry->version);
  json_builder_set_member_name (builder, "time_usec");
  json_builder_add_int_value (builder, entry->time_usec);
  json_builder_set_member_name (builder, "who");
  json_builder_add_string_value (builder, entry->who != NULL ? entry->who : "");
  json_builder_set_member_name (builder, "what");
  json_builder_add_string_value (builder, entry->what != NULL ? entry->what : "");
  if (entry->restored > 0)
    {
      json_builder_set_member_name (builder, "restored");
      json_builder_add_int_value (builder, entry->restored);
    }
  json_builder_set_member_name (builder, "file");
  json_builder_add_string_value (builder, entry->text);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = hkp_json_to_string (root);
  data = g_strconcat (json, "\n", NULL);
  return hkp_file_write_atomic (path, data, strlen (data), 0600, durable, error);
}

void
hkp_config_history_remove (const char *state_dir, const char *name, guint version)
{
  g_autofree char *path = entry_path (state_dir, name, version);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("cannot remove %s: %s", path, g_strerror (errno));
}

void
hkp_config_history_prune (const char *state_dir, const char *name, guint limit)
{
  g_autoptr (GArray) versions = hkp_config_history_versions (state_dir, name);

  for (guint i = 0; i + limit < versions->len; i++)
    hkp_config_history_remove (state_dir, name, g_array_index (versions, guint, i));
}

void
hkp_config_history_tidy (const char *state_dir)
{
  g_autofree char *history = g_build_filename (state_dir, "history", NULL);
  g_autoptr (GDir) handle = g_dir_open (history, 0, NULL);
  const char *name;

  if (handle == NULL)
    return;
  g_chmod (history, 0700);
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *dir = g_build_filename (history, name, NULL);
      g_autoptr (GDir) entries = NULL;
      const char *entry;

      if (!g_file_test (dir, G_FILE_TEST_IS_DIR) || g_file_test (dir, G_FILE_TEST_IS_SYMLINK))
        continue;
      g_chmod (dir, 0700);
      hkp_file_remove_temporaries (dir, NULL);
      entries = g_dir_open (dir, 0, NULL);
      while (entries != NULL && (entry = g_dir_read_name (entries)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, entry, NULL);
          GStatBuf st;
          if (version_from_name (entry) > 0 && g_lstat (path, &st) == 0 && S_ISREG (st.st_mode) &&
              (st.st_mode & 07777) != 0600)
            g_chmod (path, 0600);
        }
    }
}
