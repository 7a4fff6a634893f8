/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The example plugin files we install (data/examples/plugins.d) load and serve with the shipped plugins. */
#include <string.h>

#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

static void
test_examples_load (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "data", "examples", "plugins.d", NULL);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *file;

  g_assert_nonnull (listing);
  engine_fixture_install_shipped (f, "ipfilter.so");
  engine_fixture_install_shipped (f, "ratelimit.so");
  while ((file = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *source = g_build_filename (dir, file, NULL);
      hkp_test_copy_file (source, f->config_dir, file);
      g_ptr_array_add (names, g_strndup (file, strlen (file) - strlen (".json")));
    }
  g_assert_cmpuint (names->len, >=, 2);
  engine_fixture_start (f, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      HkpPlugin *plugin = engine_fixture_lookup (f, names->pdata[i]);
      g_assert_cmpstr (hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)), ==, "active");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
  g_test_add ("/examples/load", Fixture, NULL, engine_fixture_setup, test_examples_load, engine_fixture_teardown);
  return g_test_run ();
}
