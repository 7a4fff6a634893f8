/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-module.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gmodule.h>

#include "hkp-descriptor.h"
#include "hkp-elf.h"
#include "hkp-error.h"
#include "hkp-file.h"

/* Larger than any plugin module we expect; the copy is read whole into memory. */
#define MODULE_MAX_SIZE (1024 * 1024 * 1024)

struct _HkpModule {
  GModule *gmodule;
  const hkp_plugin_descriptor *descriptor;
  char *path; /* where it was loaded from */
  char *copy_path; /* the private copy that is mapped */
  char *name;
  char *version;
  char *description;
};

/* Returns TRUE if any component of path is "..". */
static gboolean
path_has_dotdot (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return TRUE;
  return FALSE;
}

/* Returns TRUE if path equals dir or lies below it; both canonical. */
static gboolean
path_is_inside (const char *path, const char *dir)
{
  gsize len = strlen (dir);

  if (len == 1 && dir[0] == '/')
    return TRUE;
  return strncmp (path, dir, len) == 0 && path[len] == '/';
}

char *
hkp_module_resolve (const char *plugin_dir, const char *module, GError **error)
{
  g_autofree char *real_dir = NULL;
  g_autofree char *candidate = NULL;
  g_autofree char *real = NULL;
  GStatBuf st;

  if (module == NULL || module[0] == '\0')
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "no module named");
      return NULL;
    }
  if (path_has_dotdot (module))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE,
                   "module \"%s\" must not contain \"..\": modules are loaded only from the plugin directory %s",
                   module, plugin_dir);
      return NULL;
    }
  real_dir = realpath (plugin_dir, NULL);
  if (real_dir == NULL)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "plugin directory %s: %s", plugin_dir, g_strerror (saved));
      return NULL;
    }
  if (g_path_is_absolute (module))
    {
      g_autofree char *canonical = g_canonicalize_filename (module, NULL);
      g_autofree char *canonical_dir = g_canonicalize_filename (plugin_dir, NULL);
      if (!path_is_inside (canonical, canonical_dir) && !path_is_inside (canonical, real_dir))
        {
          g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module %s is outside the plugin directory %s", module,
                       plugin_dir);
          return NULL;
        }
      candidate = g_strdup (module);
    }
  else
    candidate = g_build_filename (real_dir, module, NULL);

  real = realpath (candidate, NULL);
  if (real == NULL)
    {
      int saved = errno;
      if (saved == ENOENT)
        g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module \"%s\" not found in the plugin directory %s", module,
                     plugin_dir);
      else
        g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module \"%s\": %s", module, g_strerror (saved));
      return NULL;
    }
  if (!path_is_inside (real, real_dir))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module \"%s\" resolves to %s, outside the plugin directory %s",
                   module, real, plugin_dir);
      return NULL;
    }
  if (g_stat (real, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module \"%s\" (%s) is not a regular file", module, real);
      return NULL;
    }
  return g_steal_pointer (&real);
}

/*
 * Reads module path, a regular file, whole into memory (never blocking:
 * resolve saw a regular file, but it may have been swapped since) and
 * checks it is a whole ELF file (see hkp_elf_is_whole()); returns its
 * bytes (caller frees) and their count in *len, or NULL with HKP_ERROR_MODULE.
 */
static char *
read_whole_module (const char *path, gsize *len, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *data = hkp_file_read_regular (path, MODULE_MAX_SIZE, len, &local_error);
  g_autofree char *why = NULL;

  if (data == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "cannot read module %s: %s", path, local_error->message);
      return NULL;
    }
  if (!hkp_elf_is_whole ((const guint8 *) data, *len, &why))
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module %s is not a loadable shared object: %s", path, why);
      return NULL;
    }
  return g_steal_pointer (&data);
}

/*
 * Makes an empty file in copy_dir under a name never used before (the
 * dynamic loader caches by path: a new name guarantees a fresh load), open
 * in *fd; returns its path (caller frees), or NULL with errno set.
 */
static char *
new_copy_name (const char *copy_dir, guint64 serial, const char *base, int *fd)
{
  g_autofree char *name = g_strdup_printf ("%s/%" G_GUINT64_FORMAT "-XXXXXX-%s", copy_dir, serial, base);

  *fd = g_mkstemp_full (name, O_RDWR | O_CLOEXEC, 0500);
  return *fd >= 0 ? g_steal_pointer (&name) : NULL;
}

char *
hkp_module_link_copy (const char *copy, const char *copy_dir, guint64 serial, GError **error)
{
  g_autofree char *base = g_path_get_basename (copy);
  g_autofree char *name = NULL;
  g_autofree char *linked = NULL;
  int fd;

  /* The copy's name is "SERIAL-XXXXXX-BASE": keep its BASE. */
  {
    const char *dash = strchr (base, '-');
    const char *second = dash != NULL ? strchr (dash + 1, '-') : NULL;
    if (second != NULL)
      memmove (base, second + 1, strlen (second + 1) + 1);
  }
  name = new_copy_name (copy_dir, serial, base, &fd);
  if (name != NULL)
    {
      close (fd);
      /* A second name for the same file, put over the empty one: no disk space needed (a full disk is no reason
       * for a rollback to fail). */
      linked = g_strconcat (name, ".link", NULL);
      if (link (copy, linked) == 0 && rename (linked, name) == 0)
        return g_steal_pointer (&name);
      g_unlink (linked);
      g_unlink (name);
    }
  return hkp_module_copy_file (copy, copy_dir, serial, error);
}

char *
hkp_module_copy_file (const char *path, const char *copy_dir, guint64 serial, GError **error)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *copy_path = NULL;
  g_autofree char *data = NULL;
  gsize len = 0, written = 0;
  int fd;

  data = read_whole_module (path, &len, error);
  if (data == NULL)
    return NULL;
  copy_path = new_copy_name (copy_dir, serial, base, &fd);
  if (copy_path == NULL)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "cannot copy module %s into %s: %s", path, copy_dir,
                   g_strerror (saved));
      return NULL;
    }
  while (written < len)
    {
      ssize_t n = write (fd, data + written, len - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;
          close (fd);
          g_unlink (copy_path);
          g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "cannot copy module %s into %s: %s", path, copy_dir,
                       g_strerror (saved));
          return NULL;
        }
      written += (gsize) n;
    }
  close (fd);
  return g_steal_pointer (&copy_path);
}

static char *
descriptor_string (const char *value)
{
  return g_utf8_make_valid (value, -1);
}

/* Checks the descriptor, ABI version and size first; sets error and returns FALSE if unusable. */
static gboolean
check_descriptor (const hkp_plugin_descriptor *d, const char *path, GError **error)
{
  char message[HKP_PLUGIN_ERROR_SIZE];

  switch (hkp_descriptor_check (d, path, message, sizeof message))
    {
    case HKP_DESCRIPTOR_OK:
      return TRUE;
    case HKP_DESCRIPTOR_ABI_MISMATCH:
      g_set_error_literal (error, HKP_ERROR, HKP_ERROR_ABI_MISMATCH, message);
      return FALSE;
    case HKP_DESCRIPTOR_BAD:
    default:
      g_set_error_literal (error, HKP_ERROR, HKP_ERROR_MODULE, message);
      return FALSE;
    }
}

static void
module_clear (HkpModule *module)
{
  if (module->gmodule != NULL && !g_module_close (module->gmodule))
    g_warning ("closing module %s: %s", module->path, g_module_error ());
  if (module->copy_path != NULL)
    g_unlink (module->copy_path);
  g_free (module->path);
  g_free (module->copy_path);
  g_free (module->name);
  g_free (module->version);
  g_free (module->description);
}

HkpModule *
hkp_module_open (const char *path, const char *copy_dir, guint64 serial, GError **error)
{
  g_autoptr (HkpModule) module = g_atomic_rc_box_new0 (HkpModule);
  hkp_plugin_entry_func entry = NULL;

  module->path = g_strdup (path);
  if (copy_dir != NULL)
    {
      module->copy_path = hkp_module_copy_file (path, copy_dir, serial, error);
      if (module->copy_path == NULL)
        return NULL;
    }
  else
    {
      /* Loaded where it lies (hkp-plugind --check-config): at least not while it is cut short. */
      gsize len = 0;
      g_autofree char *data = read_whole_module (path, &len, error);

      if (data == NULL)
        return NULL;
    }

  module->gmodule = g_module_open (copy_dir != NULL ? module->copy_path : path, G_MODULE_BIND_LOCAL);
  if (module->gmodule == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE, "module %s is not a loadable shared object: %s", path,
                   g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module->gmodule, HKP_PLUGIN_ENTRY_SYMBOL, (gpointer *) &entry) || entry == NULL)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_MODULE,
                   "module %s has no entry symbol %s(): it is not an hkp-plugind plugin", path,
                   HKP_PLUGIN_ENTRY_SYMBOL);
      return NULL;
    }
  module->descriptor = entry ();
  if (!check_descriptor (module->descriptor, path, error))
    return NULL;
  module->name = descriptor_string (module->descriptor->name);
  module->version = descriptor_string (module->descriptor->version);
  module->description = descriptor_string (module->descriptor->description);
  return g_steal_pointer (&module);
}

gboolean
hkp_module_validate_config (HkpModule *module, const char *config_json, GError **error)
{
  char message[HKP_PLUGIN_ERROR_SIZE] = "";
  g_autofree char *text = NULL;

  if (module->descriptor->validate_config == NULL ||
      module->descriptor->validate_config (config_json, message, sizeof message) == 0)
    return TRUE;
  message[sizeof message - 1] = '\0';
  text = g_utf8_make_valid (message[0] != '\0' ? message : "no reason given", -1);
  g_set_error (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG, "config rejected: %s", text);
  return FALSE;
}

HkpModule *
hkp_module_ref (HkpModule *module)
{
  return g_atomic_rc_box_acquire (module);
}

void
hkp_module_unref (HkpModule *module)
{
  g_atomic_rc_box_release_full (module, (GDestroyNotify) module_clear);
}

const hkp_plugin_descriptor *
hkp_module_get_descriptor (HkpModule *module)
{
  return module->descriptor;
}

const char *
hkp_module_get_path (HkpModule *module)
{
  return module->path;
}

const char *
hkp_module_get_version (HkpModule *module)
{
  return module->version;
}

const char *
hkp_module_get_description (HkpModule *module)
{
  return module->description;
}

const char *
hkp_module_get_name (HkpModule *module)
{
  return module->name;
}
