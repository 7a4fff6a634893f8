/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the documentation promises: the bash completion, and every example of the man page and the README, run. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

/* ---- completion and the man page ---------------------------------------- */

static char *
complete (CtlFixture *f, const char *words, int cword)
{
  g_auto (CtlRun) run = { 0 };
  g_autofree char *script = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "data", "completion", "hkp-pluginctl",
                                              NULL);
  g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
  g_autofree char *path = g_strdup_printf ("PATH=%s:%s", dir, g_getenv ("PATH"));
  g_autofree char *program = g_strdup_printf ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hkp_pluginctl; "
                                              "printf '%%s\\n' \"${COMPREPLY[@]}\"",
                                              script, words, cword);
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  char *out = NULL;

  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  g_subprocess_launcher_setenv (launcher, "PATH", path + strlen ("PATH="), TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, "bash", "--norc", "--noprofile", "-c", program, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  g_test_message ("completion of %s: %s", words, out);
  return out;
}

static void
test_completion (CtlFixture *f, gconstpointer data)
{
  g_autofree char *verbs = NULL;
  g_autofree char *names = NULL;
  g_autofree char *some = NULL;
  g_autofree char *options = NULL;
  g_autofree char *sub = NULL;

  ctl_fixture_start (f, NULL);
  verbs = complete (f, "hkp-pluginctl ''", 1);
  g_assert_nonnull (strstr (verbs, "reload\n"));
  g_assert_nonnull (strstr (verbs, "check-config\n"));
  /* Plugin names come from the running daemon. */
  names = complete (f, "hkp-pluginctl reload ''", 2);
  g_assert_cmpstr (names, ==, "alpha\nratelimit\nbroken\noff\n");
  some = complete (f, "hkp-pluginctl show r", 2);
  g_assert_cmpstr (some, ==, "ratelimit\n");
  sub = complete (f, "hkp-pluginctl config ''", 2);
  g_assert_cmpstr (sub, ==, "edit\nget\nset\n");
  g_free (names);
  names = complete (f, "hkp-pluginctl config edit a", 3);
  g_assert_cmpstr (names, ==, "alpha\n");
  options = complete (f, "hkp-pluginctl --no-", 1);
  g_assert_nonnull (strstr (options, "--no-pager\n"));
  g_assert_nonnull (strstr (options, "--no-ask-password\n"));
}

static void
test_man_examples (CtlFixture *f, gconstpointer data)
{
  g_autofree char *examples = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "hkp-pluginctl-examples.sh", NULL);
  g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
  g_autofree char *text = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *config = NULL;

  ctl_fixture_start (f, NULL);
  g_assert_true (g_file_get_contents (examples, &text, NULL, NULL));
  /* Every command of the page's EXAMPLES, run as printed, in order, stopping at the first failure. */
  g_assert_nonnull (strstr (text, "hkp-pluginctl"));
  launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  path = g_strdup_printf ("%s:%s", dir, g_getenv ("PATH"));
  g_subprocess_launcher_setenv (launcher, "PATH", path, TRUE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  /* config edit in the examples: an editor that halves max_clients. */
  g_subprocess_launcher_setenv (launcher, "EDITOR", "sed -i s/100000/50000/", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "VISUAL");
  g_subprocess_launcher_set_cwd (launcher, f->tree.root);
  process = g_subprocess_launcher_spawn (launcher, &error, "bash", "-e", "-x", examples, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("examples:\n%s\n%s", out, err);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  /* They did what they say: ratelimit is there and active at the end. */
  g_assert_nonnull (strstr (out, "ratelimit"));
  config = ctl_fixture_plugin_string (f, "ratelimit", "State");
  g_assert_cmpstr (config, ==, "active");
}

/* org.hkp.PluginManager1(5)'s examples, busctl and gdbus on the system bus as printed. */
static void
test_dbus_man_examples (CtlFixture *f, gconstpointer data)
{
  g_autofree char *examples = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "dbus-api-examples.sh", NULL);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL, *history = NULL;

  ctl_fixture_start (f, NULL);
  launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, "bash", "-e", "-x", examples, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("examples:\n%s\n%s", out, err);
  g_assert_true (g_subprocess_get_successful (process));
  /* What they did: a reload, a config change, and the restore of version 1 (a version of its own). */
  g_assert_nonnull (strstr (out, "\"ratelimit\""));
  g_assert_nonnull (strstr (out, "\"overall_status\""));
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "ratelimit", "ReloadCount"), >=, 1);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "ratelimit", "ConfigVersion"), ==, 3);
}

static void
test_readme_examples (CtlFixture *f, gconstpointer data)
{
  g_autofree char *readme = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "README.md", NULL);
  g_autofree char *text = NULL;
  g_autofree char *address = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GString) script = g_string_new ("set -e -x\n");
  g_auto (CtlRun) run = { 0 };
  gboolean inside = FALSE;
  guint commands = 0;

  /* The tour's plugin, beside the fixture's. */
  hkp_test_tree_write_plugin (&f->tree, "allow-all",
                              "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"allow\"}}");
  ctl_fixture_start (f, NULL);
  g_assert_true (g_file_get_contents (readme, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  /* Every hkp-pluginctl command of the README's code blocks, but monitor (which runs until stopped: see /ctl/monitor). */
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *command = NULL;
      char *comment;
      if (g_str_has_prefix (lines[i], "```"))
        {
          inside = !inside;
          continue;
        }
      if (!inside ||
          !(g_str_has_prefix (lines[i], "hkp-pluginctl") || g_str_has_prefix (lines[i], "build/src/ctl/hkp-pluginctl")))
        continue;
      command = g_strdup (lines[i] + (g_str_has_prefix (lines[i], "build/") ? strlen ("build/src/ctl/") : 0));
      if ((comment = strstr (command, "  #")) != NULL)
        *comment = '\0';
      g_strchomp (command);
      if (strstr (command, " monitor") != NULL)
        continue;
      g_string_append_printf (script, "%s\n", command);
      commands++;
    }
  g_assert_cmpuint (commands, >=, 10);
  /* What the commands expect around them: a new config in new.json, an editor, the demo's $A. */
  hkp_test_write_file (f->tree.root, "new.json", "{\"enabled\": true, \"max_clients\": 1000}");
  hkp_test_write_file (f->tree.root, "readme.sh", script->str);
  address = g_strdup_printf ("A=%s", f->bus->address);
  {
    g_autofree char *dir = g_path_get_dirname (ctl_fixture_program ());
    g_autofree char *path = g_strdup_printf ("PATH=%s:%s", dir, g_getenv ("PATH"));
    g_autofree char *file = g_build_filename (f->tree.root, "readme.sh", NULL);
    g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                      G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_autoptr (GSubprocess) process = NULL;
    g_autoptr (GError) error = NULL;
    g_subprocess_launcher_setenv (launcher, "PATH", path + strlen ("PATH="), TRUE);
    g_subprocess_launcher_setenv (launcher, "A", address + strlen ("A="), TRUE);
    g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
    g_subprocess_launcher_setenv (launcher, "EDITOR", "true", TRUE);
    g_subprocess_launcher_unsetenv (launcher, "VISUAL");
    g_subprocess_launcher_set_cwd (launcher, f->tree.root);
    process = g_subprocess_launcher_spawn (launcher, &error, "bash", file, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, &run.out, NULL, &error);
    g_assert_no_error (error);
    g_test_message ("%s", run.out);
    g_assert_true (g_subprocess_get_successful (process));
  }
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "ratelimit", "ReloadCount"), >=, 1);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "allow-all", "ReloadCount"), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/ctl/" path, CtlFixture, NULL, ctl_fixture_setup, fn, ctl_fixture_teardown)
  ADD ("completion", test_completion);
  ADD ("man-examples", test_man_examples);
  ADD ("dbus-man-examples", test_dbus_man_examples);
  ADD ("readme-examples", test_readme_examples);
#undef ADD
  return g_test_run ();
}
