/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/* The configuration test (hkp-plugind --check-config, like nginx -t): every plugin file as the engine would take it. */

#include "hkp-config-check.h"

#include <string.h>

#include "hkp-manifest.h"
#include "hkp-module.h"
#include "hkp-util.h"

/* Appends "FILE: message" to problems, unless message names the file already. */
static void
add_problem (GPtrArray *problems, const char *path, const char *message)
{
  if (g_str_has_prefix (message, path) && message[strlen (path)] == ':')
    g_ptr_array_add (problems, g_strdup (message));
  else
    g_ptr_array_add (problems, g_strdup_printf ("%s: %s", path, message));
}

gboolean
hkp_config_check_file (const char *plugin_dir, const char *path, GPtrArray *problems)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpManifest) manifest = hkp_manifest_new_from_file (path, NULL, &error);
  g_autoptr (HkpModule) module = NULL;
  g_autofree char *module_path = NULL;

  if (manifest == NULL)
    {
      add_problem (problems, path, error->message);
      return FALSE;
    }
  /* A disabled plugin's module is not loaded, nor asked: it may not even be installed yet. */
  if (!manifest->enabled)
    return TRUE;
  module_path = hkp_module_resolve (plugin_dir, manifest->module, &error);
  if (module_path != NULL)
    module = hkp_module_open (module_path, NULL, 0, &error);
  if (module == NULL)
    {
      g_autofree char *message = g_strdup_printf ("key \"module\": %s", error->message);
      add_problem (problems, path, message);
      return FALSE;
    }
  if (!hkp_module_validate_config (module, manifest->config_json, &error))
    {
      g_autofree char *message = g_strdup_printf ("key \"config\" refused by %s %s: %s", hkp_module_get_name (module),
                                                  hkp_module_get_version (module), error->message);
      add_problem (problems, path, message);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
hkp_config_check_dir (const char *plugin_dir, const char *config_dir, guint *n_files)
{
  GPtrArray *problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) handle = g_dir_open (config_dir, 0, &error);
  const char *entry;

  if (n_files != NULL)
    *n_files = 0;
  if (handle == NULL)
    {
      g_ptr_array_add (problems,
                       g_strdup_printf ("%s: cannot read the config directory: %s", config_dir, error->message));
      return problems;
    }
  while ((entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *name = hkp_manifest_name_from_filename (entry);
      if (name != NULL)
        g_ptr_array_add (files, g_build_filename (config_dir, entry, NULL));
    }
  hkp_strv_array_sort (files);
  for (guint i = 0; i < files->len; i++)
    hkp_config_check_file (plugin_dir, files->pdata[i], problems);
  if (n_files != NULL)
    *n_files = files->len;
  return problems;
}
