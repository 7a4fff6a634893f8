/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-fixture.h"

#include <pwd.h>
#include <string.h>

void
ctl_run_clear (CtlRun *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}

void
ctl_fixture_setup (CtlFixture *f, gconstpointer data)
{
  g_autofree char *shipped = g_build_filename (HKP_SHIPPED_PLUGIN_DIR, "ratelimit.so", NULL);
  g_autofree char *example = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "data", "examples", "plugins.d",
                                               "ratelimit.json", NULL);

  hkp_test_tree_init (&f->tree);
  hkp_test_copy_file (shipped, f->tree.plugin_dir, "ratelimit.so");
  /* ratelimit as the shipped example declares it (priority 20, every key of its config). */
  hkp_test_copy_file (example, f->tree.config_dir, "ratelimit.json");
  hkp_test_tree_write_plugin (&f->tree, "alpha",
                              "{\"module\": \"answer.so\", \"priority\": 10, \"config\": {\"verdict\": \"continue\"}}");
  hkp_test_tree_write_plugin (&f->tree, "broken",
                              "{\"module\": \"failinit.so\", \"config\": {\"message\": \"no database\"}}");
  hkp_test_tree_write_plugin (&f->tree, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
}

void
ctl_fixture_teardown (CtlFixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_flush_close_unref);
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  hkp_test_tree_clear (&f->tree);
}

void
ctl_fixture_start (CtlFixture *f, ...)
{
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_autofree char *policy_dir = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "dbus", NULL);

  f->bus = hkp_test_bus_start (!f->strict_bus, f->strict_bus ? (const char *const[]){ policy_dir, NULL } : NULL);
  va_start (ap, f);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (extra, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (extra, NULL);
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, (const char *const *) extra->pdata);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);
}

const char *
ctl_fixture_program (void)
{
  const char *path = g_getenv ("HKP_PLUGINCTL");

  g_assert_nonnull (path);
  return path;
}

static GSubprocessLauncher *
launcher_for (CtlFixture *f, const char *const *env, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = hkp_test_launcher_new (flags);

  if (f->bus != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  /* What the user's environment might hold must not change what we assert. */
  g_subprocess_launcher_unsetenv (launcher, "NO_COLOR");
  g_subprocess_launcher_unsetenv (launcher, "HKP_PAGER");
  g_subprocess_launcher_unsetenv (launcher, "PAGER");
  g_subprocess_launcher_setenv (launcher, "TERM", "xterm", TRUE);
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto (GStrv) pair = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }
  return launcher;
}

static void
add_user (GPtrArray *argv, gint uid)
{
  if (uid < 0)
    return;
  g_ptr_array_add (argv, g_strdup ("setpriv"));
  g_ptr_array_add (argv, g_strdup_printf ("--reuid=%d", uid));
  g_ptr_array_add (argv, g_strdup_printf ("--regid=%d", uid));
  g_ptr_array_add (argv, g_strdup ("--clear-groups"));
}

static void
finish (GSubprocess *process, CtlRun *run, const char *input, const char *const *args)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_strjoinv (" ", (char **) args);

  ctl_run_clear (run);
  g_subprocess_communicate_utf8 (process, input != NULL ? input : "", NULL, &run->out, &run->err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_if_exited (process))
    run->status = g_subprocess_get_exit_status (process);
  else
    run->status = 128 + g_subprocess_get_term_sig (process);
  if (run->err == NULL)
    run->err = g_strdup ("");
  g_test_message ("hkp-pluginctl %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", line, run->status, run->out, run->err);
}

void
ctl_fixture_runv (CtlFixture *f, CtlRun *run, gint uid, const char *const *env, const char *input,
                  const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = launcher_for (
    f, env, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;

  add_user (argv, uid);
  g_ptr_array_add (argv, g_strdup (ctl_fixture_program ()));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  finish (process, run, input, args);
}

void
ctl_fixture_run (CtlFixture *f, CtlRun *run, gint uid, const char *const *env, const char *input, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  va_start (ap, input);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  ctl_fixture_runv (f, run, uid, env, input, (const char *const *) args->pdata);
}

GSubprocess *
ctl_fixture_spawn_pty (CtlFixture *f, gint uid, const char *const *env, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher = launcher_for (
    f, env, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) command = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *quoted = g_shell_quote (ctl_fixture_program ());
  GSubprocess *process;

  g_string_append (command, quoted);
  for (guint i = 0; args[i] != NULL; i++)
    {
      g_autofree char *arg = g_shell_quote (args[i]);
      g_string_append_printf (command, " %s", arg);
    }
  g_test_message ("on a terminal: %s", command->str);
  add_user (argv, uid);
  /* script(1) gives the command a pty for stdin, stdout and stderr, and copies what it prints to our pipe. */
  g_ptr_array_add (argv, g_strdup ("script"));
  g_ptr_array_add (argv, g_strdup ("-qec"));
  g_ptr_array_add (argv, g_strdup (command->str));
  g_ptr_array_add (argv, g_strdup ("/dev/null"));
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  return process;
}

void
ctl_fixture_finish (GSubprocess *process, CtlRun *run)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  ctl_run_clear (run);
  g_subprocess_communicate_utf8_async (process, "", NULL, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_subprocess_communicate_utf8_finish (process, result, &run->out, &run->err, &error);
  g_assert_no_error (error);
  run->status = g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process)
                                                     : 128 + g_subprocess_get_term_sig (process);
  if (run->err == NULL)
    run->err = g_strdup ("");
  g_test_message ("exit %d\n--- terminal:\n%s", run->status, run->out);
}

void
ctl_fixture_run_pty (CtlFixture *f, CtlRun *run, gint uid, const char *const *env, const char *const *args)
{
  g_autoptr (GSubprocess) process = ctl_fixture_spawn_pty (f, uid, env, args);

  ctl_fixture_finish (process, run);
}

JsonNode *
ctl_parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

char *
ctl_fixture_plugin_string (CtlFixture *f, const char *name, const char *property)
{
  g_autofree char *path = hkp_test_plugin_path (name);

  return hkp_test_get_string (f->client, path, HKP_TEST_PLUGIN, property);
}

guint32
ctl_fixture_plugin_uint (CtlFixture *f, const char *name, const char *property)
{
  g_autofree char *path = hkp_test_plugin_path (name);

  return (guint32) hkp_test_get_uint (f->client, path, HKP_TEST_PLUGIN, property, 'u');
}

void
ctl_assert_run (const CtlRun *run, int status, const char *err_needle)
{
  if (run->status != status)
    g_error ("hkp-pluginctl exited %d, not %d; stderr: %s", run->status, status, run->err);
  if (err_needle != NULL && strstr (run->err, err_needle) == NULL)
    g_error ("hkp-pluginctl's stderr lacks \"%s\": %s", err_needle, run->err);
}

gint
ctl_nobody_uid (void)
{
  struct passwd *nobody = getpwnam ("nobody");

  g_assert_nonnull (nobody);
  return (gint) nobody->pw_uid;
}
