/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * File safety: reading only regular files and never blocking on one, writing
 * atomically through temporary files that are private until they take the
 * target's place, and removing what a killed daemon left behind.  A file in
 * progress (temporary file, module-copy directory) is held with flock(), so
 * a daemon starting beside a running one removes only what nobody holds.
 */

#include "hkp-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-read-file.h"

#define MODULE_COPY_PREFIX "modules."
#define RANDOM_SUFFIX_LEN 6

static gboolean
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
  g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot %s %s: %s", what, path, g_strerror (saved));
  return FALSE;
}

char *
hkp_file_read_regular (const char *path, gsize max_size, gsize *len, GError **error)
{
  HkpReadProblem problem;
  char *data = hkp_read_regular_file (path, max_size, len, &problem);

  if (data != NULL)
    return data;
  if (problem.mode != 0)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "not a regular file but %s: only regular files (or symlinks to them) are read",
                 hkp_file_type_name (problem.mode));
  else if (problem.size != 0)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "file is %" G_GUINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT " allowed", problem.size,
                 max_size);
  else
    g_set_error_literal (error, G_FILE_ERROR, g_file_error_from_errno (problem.errno_value),
                         g_strerror (problem.errno_value));
  return NULL;
}

/* ---- atomic writes ---------------------------------------------------- */

struct _HkpPendingFile {
  char *path; /* the target: path itself, or where its symlink points */
  char *tmp_path;
  int fd; /* open and locked until committed or dropped */
  mode_t mode; /* what the file gets just before the rename */
  gboolean chown; /* the target exists: keep its owner */
  uid_t uid;
  gid_t gid;
  gboolean durable; /* fsync the file and its directory */
  gboolean committed;
};

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

/* Returns where a write to path must go: path, or the file its symlink (chain) names. */
static char *
write_target (const char *path, GError **error)
{
  struct stat st;
  char *real;

  if (lstat (path, &st) != 0 || !S_ISLNK (st.st_mode))
    return g_strdup (path);
  real = realpath (path, NULL);
  if (real == NULL)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot follow the symlink %s: %s", path, g_strerror (saved));
    }
  return real;
}

static void
pending_free (HkpPendingFile *pending)
{
  if (pending->fd >= 0)
    close (pending->fd);
  g_free (pending->path);
  g_free (pending->tmp_path);
  g_free (pending);
}

HkpPendingFile *
hkp_pending_file_new (const char *path, const char *data, gsize len, mode_t new_mode, gboolean durable, GError **error)
{
  HkpPendingFile *pending = g_new0 (HkpPendingFile, 1);
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  gsize written = 0;
  struct stat st;
  int saved;

  pending->fd = -1;
  pending->path = write_target (path, error);
  if (pending->path == NULL)
    {
      pending_free (pending);
      return NULL;
    }
  pending->mode = new_mode;
  pending->durable = durable;
  if (stat (pending->path, &st) == 0)
    {
      pending->mode = st.st_mode & 07777;
      pending->chown = TRUE;
      pending->uid = st.st_uid;
      pending->gid = st.st_gid;
    }
  dir = g_path_get_dirname (pending->path);
  base = g_path_get_basename (pending->path);
  pending->tmp_path = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  /* 0600 until it is in place: the new text may hold secrets the target's mode would not show. */
  pending->fd = g_mkstemp_full (pending->tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (pending->fd < 0)
    {
      saved = errno;
      pending_free (pending);
      set_errno_error (error, saved, "create a temporary file in", dir);
      return NULL;
    }
  /* Held until it is renamed or removed, so a daemon starting meanwhile leaves it alone. */
  flock (pending->fd, LOCK_EX | LOCK_NB);
  while (written < len)
    {
      ssize_t n = write (pending->fd, data + written, len - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          saved = n < 0 ? errno : ENOSPC;
          set_errno_error (error, saved, "write", pending->tmp_path);
          hkp_pending_file_free (pending);
          return NULL;
        }
      written += (gsize) n;
    }
  /* A full disk often shows only here (delayed allocation): before anything depends on the file. */
  if (durable && fsync (pending->fd) != 0)
    {
      saved = errno;
      set_errno_error (error, saved, "sync", pending->tmp_path);
      hkp_pending_file_free (pending);
      return NULL;
    }
  return pending;
}

gboolean
hkp_pending_file_commit (HkpPendingFile *pending, HkpWriteHook hook, gpointer hook_data, GError **error)
{
  if (hook != NULL && !hook (pending->path, hook_data, error))
    return FALSE;
  /* Keep the owner where we may (root editing a file of another user); otherwise it is ours. */
  if (pending->chown && fchown (pending->fd, pending->uid, pending->gid) != 0 && errno != EPERM)
    return set_errno_error (error, errno, "set the owner of", pending->tmp_path);
  if (fchmod (pending->fd, pending->mode) != 0)
    return set_errno_error (error, errno, "set the mode of", pending->tmp_path);
  if (g_rename (pending->tmp_path, pending->path) != 0)
    return set_errno_error (error, errno, "replace", pending->path);
  pending->committed = TRUE;
  close (pending->fd);
  pending->fd = -1;
  return !pending->durable || fsync_directory_of (pending->path, error);
}

void
hkp_pending_file_free (HkpPendingFile *pending)
{
  if (pending == NULL)
    return;
  if (!pending->committed && pending->tmp_path != NULL)
    g_unlink (pending->tmp_path);
  pending_free (pending);
}

gboolean
hkp_file_write_atomic (const char *path, const char *data, gsize len, mode_t new_mode, gboolean durable, GError **error)
{
  g_autoptr (HkpPendingFile) pending = hkp_pending_file_new (path, data, len, new_mode, durable, error);

  return pending != NULL && hkp_pending_file_commit (pending, NULL, NULL, error);
}

/* ---- what a killed daemon leaves -------------------------------------- */

static gboolean
is_random_suffix (const char *text)
{
  if (strlen (text) != RANDOM_SUFFIX_LEN)
    return FALSE;
  for (guint i = 0; i < RANDOM_SUFFIX_LEN; i++)
    if (!g_ascii_isalnum (text[i]))
      return FALSE;
  return TRUE;
}

gboolean
hkp_file_is_temporary (const char *name)
{
  gsize len = strlen (name);

  /* ".NAME.json.XXXXXX" */
  return name[0] == '.' && len >= strlen (".a.json.XXXXXX") && is_random_suffix (name + len - RANDOM_SUFFIX_LEN) &&
    strncmp (name + len - RANDOM_SUFFIX_LEN - strlen (".json."), ".json.", strlen (".json.")) == 0;
}

/*
 * Opens path (without following a symlink) and takes its lock if nobody
 * holds it; returns the fd (close it to let go), or -1 if it is held or
 * cannot be opened.
 */
static int
take_if_unheld (const char *path, int flags)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | flags);

  if (fd < 0)
    return -1;
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

guint
hkp_file_remove_temporaries (const char *dir, const char *target_base)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  g_autofree char *prefix = target_base != NULL ? g_strdup_printf (".%s.", target_base) : NULL;
  const char *entry;
  guint removed = 0;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = NULL;
      struct stat st;
      int fd;

      if (!hkp_file_is_temporary (entry))
        continue;
      if (prefix != NULL &&
          !(g_str_has_prefix (entry, prefix) && strlen (entry) == strlen (prefix) + RANDOM_SUFFIX_LEN))
        continue;
      path = g_build_filename (dir, entry, NULL);
      fd = take_if_unheld (path, 0);
      if (fd < 0)
        continue;
      if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && g_unlink (path) == 0)
        {
          g_message ("removed %s, a temporary file left by a daemon that did not finish", path);
          removed++;
        }
      close (fd);
    }
  return removed;
}

/* Removes the files in dir (module copies hold no subdirectories), then dir. */
static guint
remove_flat_directory (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  const char *entry;
  guint removed = 0;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      if (g_unlink (path) == 0)
        removed++;
    }
  g_rmdir (dir);
  return removed;
}

guint
hkp_file_remove_module_copies (const char *state_dir)
{
  g_autoptr (GDir) handle = g_dir_open (state_dir, 0, NULL);
  const char *entry;
  guint removed = 0;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = NULL;
      guint files;
      int fd;

      if (!g_str_has_prefix (entry, MODULE_COPY_PREFIX) || !is_random_suffix (entry + strlen (MODULE_COPY_PREFIX)))
        continue;
      path = g_build_filename (state_dir, entry, NULL);
      fd = take_if_unheld (path, O_DIRECTORY);
      if (fd < 0)
        continue;
      files = remove_flat_directory (path);
      close (fd);
      g_message ("removed %s (%u module cop%s), left by a daemon that did not finish", path, files,
                 files == 1 ? "y" : "ies");
      removed++;
    }
  return removed;
}

char *
hkp_file_make_module_copy_dir (const char *state_dir, int *lock_fd, GError **error)
{
  g_autofree char *template = g_build_filename (state_dir, MODULE_COPY_PREFIX "XXXXXX", NULL);
  int fd;

  if (g_mkdtemp_full (template, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot make a module directory in %s: %s", state_dir,
                   g_strerror (saved));
      return NULL;
    }
  fd = open (template, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      g_rmdir (template);
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "cannot lock the module directory %s: %s", template,
                   g_strerror (saved));
      return NULL;
    }
  *lock_fd = fd;
  return g_steal_pointer (&template);
}

void
hkp_file_remove_module_copy_dir (const char *dir, int lock_fd)
{
  remove_flat_directory (dir);
  if (lock_fd >= 0)
    close (lock_fd);
}
