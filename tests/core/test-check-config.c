/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configuration test the daemon's --check-config runs, with real
 * modules: every plugin file as the engine would take it, every problem
 * named with its file and key, each enabled plugin's validate_config asked,
 * a module that cannot load a problem too; disabled plugins are not loaded.
 */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "hkp-config-check.h"
#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

/* Asserts problems holds exactly the expected lines, each "FILE: ..." with FILE in the config directory; @P stands for the plugin directory. */
static void
assert_problems (Fixture *f, GPtrArray *problems, const char *const *expected)
{
  guint n = g_strv_length ((char **) expected);

  for (guint i = 0; i < problems->len; i++)
    g_test_message ("problem: %s", (const char *) problems->pdata[i]);
  g_assert_cmpuint (problems->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_auto (GStrv) parts = g_strsplit (expected[i], "@P", -1);
      g_autofree char *joined = g_strjoinv (f->plugin_dir, parts);
      g_autofree char *line = g_strdup_printf ("%s/%s", f->config_dir, joined);
      if (!g_str_equal (problems->pdata[i], line))
        g_error ("problem %u is \"%s\", expected \"%s\"", i, (const char *) problems->pdata[i], line);
    }
}

static void
test_good (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) problems = NULL;
  guint n_files = 0;

  engine_fixture_write_plugin (f, "a", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"allow\"}}");
  engine_fixture_write_plugin (f, "b", "{\"module\": \"health.so\", \"priority\": 5}");
  /* Disabled: its module is neither loaded nor asked, and need not exist yet. */
  engine_fixture_write_plugin (f, "later", "{\"module\": \"not-installed.so\", \"config\": {\"enabled\": false}}");
  hkp_test_write_file (f->config_dir, "README", "not a plugin file");
  problems = hkp_config_check_dir (f->plugin_dir, f->config_dir, &n_files);
  assert_problems (f, problems, (const char *const[]){ NULL });
  g_assert_cmpuint (n_files, ==, 3);
}

static void
test_problems (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->config_dir, "g-fifo.json", NULL);
  g_autoptr (GPtrArray) problems = NULL;
  guint n_files = 0;

  engine_fixture_write_plugin (f, "a-syntax", "{\"module\": \"answer.so\"} {\"module\": \"x.so\"}");
  engine_fixture_write_plugin (f, "b-key", "{\"module\": \"answer.so\", \"priority\": \"high\"}");
  engine_fixture_write_plugin (f, "c-refused", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"maybe\"}}");
  engine_fixture_write_plugin (f, "d-missing", "{\"module\": \"nowhere.so\"}");
  engine_fixture_write_plugin (f, "e-abi", "{\"module\": \"badabi.so\"}");
  engine_fixture_write_plugin (f, "f-dup", "{\"module\": \"answer.so\", \"config\": {\"a\": 1, \"a\": 2}}");
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  hkp_test_write_file (f->config_dir, "Bad Name.json", "{\"module\": \"answer.so\"}");
  engine_fixture_write_plugin (f, "ok", "{\"module\": \"answer.so\"}");

  problems = hkp_config_check_dir (f->plugin_dir, f->config_dir, &n_files);
  g_assert_cmpuint (n_files, ==, 9);
  assert_problems (
    f, problems,
    (const char *const[]){
      "Bad Name.json: invalid plugin name \"Bad Name\": names are 1 to 64 of a-z, 0-9, '_' and '-', starting with a "
      "letter or digit",
      "a-syntax.json:1:25: unexpected data after the JSON value",
      "b-key.json: key \"priority\" must be an integer, not string",
      "c-refused.json: key \"config\" refused by answer 1.0: config rejected: key \"verdict\" must be \"continue\", "
      "\"allow\" or \"deny\"",
      "d-missing.json: key \"module\": module \"nowhere.so\" not found in the plugin directory @P",
      "e-abi.json: key \"module\": module @P/badabi.so was built for plugin ABI version 999; this hkp-plugind "
      "supports version 1",
      "f-dup.json:1:44: duplicate key \"a\" in an object",
      "g-fifo.json: cannot read: not a regular file but a FIFO: only regular files (or symlinks to them) are read",
      NULL,
    });
}

/* A module cut short is a problem of its file, not a crash of the check (it would be mapped past its end). */
static void
test_module_cut_short (Fixture *f, gconstpointer data)
{
  g_autofree char *whole = g_build_filename (f->plugin_dir, "answer.so", NULL);
  g_autofree char *cut = g_build_filename (f->plugin_dir, "cut.so", NULL);
  g_autofree char *module = NULL;
  g_autoptr (GPtrArray) problems = NULL;
  gsize size = 0;
  guint n_files = 0;

  g_assert_true (g_file_get_contents (whole, &module, &size, NULL));
  g_assert_true (g_file_set_contents (cut, module, 1000, NULL));
  engine_fixture_write_plugin (f, "cut", "{\"module\": \"cut.so\"}");
  problems = hkp_config_check_dir (f->plugin_dir, f->config_dir, &n_files);
  g_assert_cmpuint (problems->len, ==, 1);
  g_assert_nonnull (strstr (problems->pdata[0], "/cut.json: key \"module\": module "));
  g_assert_nonnull (strstr (problems->pdata[0], "cut short (still being copied?)"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/check-config/good", test_good);
  ADD ("/check-config/problems", test_problems);
  ADD ("/check-config/module-cut-short", test_module_cut_short);
#undef ADD
  return g_test_run ();
}
