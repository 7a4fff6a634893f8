/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-config-store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-json.h"
#include "hkp-util.h"

struct _HkpPendingFile {
  char *path;
  char *tmp_path;
  gboolean committed;
};

static gboolean
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
  g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot %s %s: %s", what, path, g_strerror (saved));
  return FALSE;
}

static gboolean
fsync_directory_of (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd < 0)
    return set_errno_error (error, errno, "open directory", dir);
  if (fsync (fd) != 0)
    {
      saved = errno;
      close (fd);
      return set_errno_error (error, saved, "sync directory", dir);
    }
  close (fd);
  return TRUE;
}

HkpPendingFile *
hkp_pending_file_new (const char *path, const char *data, gsize len, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp_path = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  HkpPendingFile *pending;
  mode_t mode = 0644;
  gsize written = 0;
  struct stat st;
  int fd;

  if (stat (path, &st) == 0)
    mode = st.st_mode & 07777;
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, (int) mode);
  if (fd < 0)
    {
      set_errno_error (error, errno, "create a temporary file in", dir);
      return NULL;
    }
  while (written < len)
    {
      ssize_t n = write (fd, data + written, len - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : ENOSPC;
          close (fd);
          g_unlink (tmp_path);
          set_errno_error (error, saved, "write", tmp_path);
          return NULL;
        }
      written += (gsize) n;
    }
  /* mkstemp applies the umask; keep the target's mode exactly. */
  if (fchmod (fd, mode) != 0 || fsync (fd) != 0)
    {
      int saved = errno;
      close (fd);
      g_unlink (tmp_path);
      set_errno_error (error, saved, "sync", tmp_path);
      return NULL;
    }
  close (fd);
  pending = g_new0 (HkpPendingFile, 1);
  pending->path = g_strdup (path);
  pending->tmp_path = g_steal_pointer (&tmp_path);
  return pending;
}

gboolean
hkp_pending_file_commit (HkpPendingFile *pending, HkpWriteHook hook, gpointer hook_data, GError **error)
{
  if (hook != NULL && !hook (pending->path, hook_data, error))
    return FALSE;
  if (g_rename (pending->tmp_path, pending->path) != 0)
    return set_errno_error (error, errno, "replace", pending->path);
  pending->committed = TRUE;
  return fsync_directory_of (pending->path, error);
}

void
hkp_pending_file_free (HkpPendingFile *pending)
{
  if (pending == NULL)
    return;
  if (!pending->committed)
    g_unlink (pending->tmp_path);
  g_free (pending->path);
  g_free (pending->tmp_path);
  g_free (pending);
}

gboolean
hkp_file_write_atomic (const char *path, const char *data, gsize len, GError **error)
{
  g_autoptr (HkpPendingFile) pending = hkp_pending_file_new (path, data, len, error);

  return pending != NULL && hkp_pending_file_commit (pending, NULL, NULL, error);
}

char *
hkp_config_replace_in_file (const char *file_text, JsonNode *config, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root;
  g_autofree char *text = NULL;

  if (!json_parser_load_from_data (parser, file_text, -1, &parse_error) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_MANIFEST, "the plugin file is no longer a JSON object%s%s",
                   parse_error != NULL ? ": " : "", parse_error != NULL ? parse_error->message : "");
      return NULL;
    }
  json_object_set_member (json_node_get_object (root), "config", json_node_copy (config));
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  return g_strconcat (text, "\n", NULL);
}

static char *
history_dir (const char *state_dir, const char *name)
{
  return g_build_filename (state_dir, "history", name, NULL);
}

GPtrArray *
hkp_config_history_list (const char *state_dir, const char *name)
{
  g_autofree char *dir = history_dir (state_dir, name);
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    if (g_str_has_suffix (entry, ".json") && entry[0] != '.')
      g_ptr_array_add (paths, g_build_filename (dir, entry, NULL));
  /* Names are zero-padded sequence numbers, so text order is age order. */
  hkp_strv_array_sort (paths);
  return paths;
}

gboolean
hkp_config_history_push (const char *state_dir, const char *name, const char *file_text, GError **error)
{
  g_autofree char *dir = history_dir (state_dir, name);
  g_autoptr (GPtrArray) existing = hkp_config_history_list (state_dir, name);
  g_autofree char *path = NULL;
  guint64 next = 1;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    return set_errno_error (error, errno, "make", dir);
  if (existing->len > 0)
    {
      g_autofree char *newest = g_path_get_basename (existing->pdata[existing->len - 1]);
      next = g_ascii_strtoull (newest, NULL, 10) + 1;
    }
  path = g_strdup_printf ("%s/%010" G_GUINT64_FORMAT ".json", dir, next);
  if (!hkp_file_write_atomic (path, file_text, strlen (file_text), error))
    return FALSE;
  for (guint i = 0; i + HKP_CONFIG_HISTORY_KEEP < existing->len + 1; i++)
    g_unlink (existing->pdata[i]);
  return TRUE;
}
