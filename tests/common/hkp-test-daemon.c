/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-daemon.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "hkp-test-util.h"

void
hkp_test_tree_init (HkpTestTree *tree)
{
  tree->root = hkp_test_make_tmpdir ();
  g_assert_cmpint (g_chmod (tree->root, 0755), ==, 0);
  tree->plugin_dir = g_build_filename (tree->root, "plugins", NULL);
  tree->config_dir = g_build_filename (tree->root, "plugins.d", NULL);
  tree->state_dir = g_build_filename (tree->root, "state", NULL);
  tree->main_config = hkp_test_write_file_path (tree->root, "hkp-plugind.conf", "[hkp-plugind]\n");
  hkp_test_install_plugins (tree->plugin_dir);
  g_assert_cmpint (g_mkdir_with_parents (tree->config_dir, 0755), ==, 0);
}

void
hkp_test_tree_clear (HkpTestTree *tree)
{
  if (tree->root != NULL)
    hkp_test_rm_rf (tree->root);
  g_clear_pointer (&tree->root, g_free);
  g_clear_pointer (&tree->plugin_dir, g_free);
  g_clear_pointer (&tree->config_dir, g_free);
  g_clear_pointer (&tree->state_dir, g_free);
  g_clear_pointer (&tree->main_config, g_free);
}

void
hkp_test_tree_write_plugin (HkpTestTree *tree, const char *name, const char *json)
{
  g_autofree char *file = g_strdup_printf ("%s.json", name);
  g_autofree char *placed = hkp_test_with_isolation (json);

  hkp_test_write_file (tree->config_dir, file, placed);
}

void
hkp_test_tree_write_large_plugins (HkpTestTree *tree, const char *prefix, guint n, gsize padding_bytes)
{
  g_autofree char *padding = g_strnfill (padding_bytes, 'x');
  g_autofree char *json = g_strdup_printf ("{\"module\": \"answer.so\", \"isolation\": \"none\", "
                                           "\"config\": {\"verdict\": \"continue\", \"padding\": \"%s\"}}",
                                           padding);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s%02u", prefix, i);
      hkp_test_tree_write_plugin (tree, name, json);
    }
}

GPtrArray *
hkp_test_tree_argv_v (HkpTestTree *tree, const char *bus_address, const char *const *extra)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", tree->main_config));
  g_ptr_array_add (argv, g_strdup_printf ("--plugin-dir=%s", tree->plugin_dir));
  g_ptr_array_add (argv, g_strdup_printf ("--config-dir=%s", tree->config_dir));
  g_ptr_array_add (argv, g_strdup_printf ("--state-dir=%s", tree->state_dir));
  if (bus_address != NULL)
    g_ptr_array_add (argv, g_strdup_printf ("--bus=%s", bus_address));
  /* Tests run side by side: no fixed ports (a later option wins). */
  g_ptr_array_add (argv, g_strdup ("--check-listen=127.0.0.1:0"));
  g_ptr_array_add (argv, g_strdup ("--http-listen=none"));
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  g_ptr_array_add (argv, NULL);
  return argv;
}

GPtrArray *
hkp_test_tree_argv (HkpTestTree *tree, const char *bus_address, ...)
{
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  va_start (ap, bus_address);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (extra, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (extra, NULL);
  return hkp_test_tree_argv_v (tree, bus_address, (const char *const *) extra->pdata);
}

HkpTestDaemon *
hkp_test_tree_start_daemon (HkpTestTree *tree, const char *bus_address, const char *const *extra)
{
  g_autoptr (GPtrArray) with_polkit_off = g_ptr_array_new ();
  g_autoptr (GPtrArray) argv = NULL;

  g_ptr_array_add (with_polkit_off, (gpointer) "--no-polkit");
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (with_polkit_off, (gpointer) extra[i]);
  g_ptr_array_add (with_polkit_off, NULL);
  argv = hkp_test_tree_argv_v (tree, bus_address, (const char *const *) with_polkit_off->pdata);
  return hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
}

const char *
hkp_test_daemon_path (void)
{
  const char *path = g_getenv ("HKP_PLUGIND");

  g_assert_nonnull (path);
  return path;
}

static void on_line (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_next_line (HkpTestDaemon *daemon)
{
  g_data_input_stream_read_line_async (daemon->err, G_PRIORITY_DEFAULT, NULL, on_line, daemon);
}

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  HkpTestDaemon *daemon = user_data;
  g_autoptr (GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);

  if (line == NULL)
    {
      daemon->eof = TRUE;
      return;
    }
  g_printerr ("# daemon: %s\n", line);
  g_ptr_array_add (daemon->lines, line);
  read_next_line (daemon);
}

/* Fails unless argv names where each listener goes: the defaults (11380, 11381) may be a running service's. */
static void
assert_own_addresses (const char *const *argv)
{
  const char *options[] = { "--http-listen=", "--check-listen=" };

  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    {
      const char *value = NULL;
      for (guint j = 0; argv[j] != NULL; j++)
        if (g_str_has_prefix (argv[j], options[i]))
          value = argv[j] + strlen (options[i]);
      if (value == NULL || g_str_has_suffix (value, ":11380") || g_str_has_suffix (value, ":11381"))
        g_error ("a test daemon needs %s with a port of its own (port 0, unix:PATH or none)", options[i]);
    }
}

static HkpTestDaemon *
daemon_start (const char *const *prefix, const char *const *argv, gint uid, const char *const *env)
{
  HkpTestDaemon *daemon = g_new0 (HkpTestDaemon, 1);
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);

  assert_own_addresses (argv);
  for (guint i = 0; prefix != NULL && prefix[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (prefix[i]));

  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto (GStrv) pair = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }

  if (uid >= 0)
    {
      g_ptr_array_add (args, g_strdup ("setpriv"));
      g_ptr_array_add (args, g_strdup_printf ("--reuid=%d", uid));
      g_ptr_array_add (args, g_strdup_printf ("--regid=%d", uid));
      g_ptr_array_add (args, g_strdup ("--clear-groups"));
    }
  g_ptr_array_add (args, g_strdup (hkp_test_daemon_path ()));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, g_strdup (argv[i]));
  g_ptr_array_add (args, NULL);
  daemon->lines = g_ptr_array_new_with_free_func (g_free);
  daemon->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata, &error);
  g_assert_no_error (error);
  daemon->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (daemon->process));
  read_next_line (daemon);
  return daemon;
}

HkpTestDaemon *
hkp_test_daemon_start (const char *const *argv, gint uid)
{
  return daemon_start (NULL, argv, uid, NULL);
}

HkpTestDaemon *
hkp_test_daemon_start_env (const char *const *argv, gint uid, const char *const *env)
{
  return daemon_start (NULL, argv, uid, env);
}

HkpTestDaemon *
hkp_test_daemon_start_under (const char *const *prefix, const char *const *argv)
{
  return daemon_start (prefix, argv, -1, NULL);
}

GPid
hkp_test_daemon_get_pid (HkpTestDaemon *daemon)
{
  const char *id = g_subprocess_get_identifier (daemon->process);

  g_assert_nonnull (id);
  return (GPid) g_ascii_strtoll (id, NULL, 10);
}

gint
hkp_test_daemon_find (HkpTestDaemon *daemon, const char *needle)
{
  for (guint i = 0; i < daemon->lines->len; i++)
    if (strstr (daemon->lines->pdata[i], needle) != NULL)
      return (gint) i;
  return -1;
}

guint
hkp_test_daemon_count (HkpTestDaemon *daemon, const char *needle)
{
  guint count = 0;

  for (guint i = 0; i < daemon->lines->len; i++)
    count += strstr (daemon->lines->pdata[i], needle) != NULL;
  return count;
}

gint
hkp_test_daemon_wait_line (HkpTestDaemon *daemon, const char *needle)
{
  return hkp_test_daemon_wait_line_after (daemon, needle, -1);
}

static gboolean
on_wait_expired (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gint
hkp_test_daemon_wait_line_after (HkpTestDaemon *daemon, const char *needle, gint after)
{
  gboolean expired = FALSE;
  guint timeout = g_timeout_add_seconds (HKP_TEST_DAEMON_WAIT_SEC, on_wait_expired, &expired);

  for (guint i = (guint) (after + 1);; i++)
    {
      while (i >= daemon->lines->len)
        {
          if (daemon->eof)
            g_error ("the daemon's output ended without \"%s\"", needle);
          if (expired)
            g_error ("the daemon did not say \"%s\" within %d s", needle, HKP_TEST_DAEMON_WAIT_SEC);
          g_main_context_iteration (NULL, TRUE);
        }
      if (strstr (daemon->lines->pdata[i], needle) != NULL)
        {
          if (!expired)
            g_source_remove (timeout);
          return (gint) i;
        }
    }
}

int
hkp_test_daemon_wait_exit (HkpTestDaemon *daemon)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  g_subprocess_wait_async (daemon->process, NULL, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (g_subprocess_wait_finish (daemon->process, result, &error));
  while (!daemon->eof)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_subprocess_get_if_exited (daemon->process));
  return g_subprocess_get_exit_status (daemon->process);
}

void
hkp_test_daemon_stop (HkpTestDaemon *daemon)
{
  hkp_test_daemon_signal (daemon, SIGTERM);
  g_assert_cmpint (hkp_test_daemon_wait_exit (daemon), ==, 0);
}

void
hkp_test_daemon_signal (HkpTestDaemon *daemon, int signal_number)
{
  g_subprocess_send_signal (daemon->process, signal_number);
}

void
hkp_test_daemon_free (HkpTestDaemon *daemon)
{
  if (daemon == NULL)
    return;
  if (g_subprocess_get_identifier (daemon->process) != NULL)
    {
      g_subprocess_force_exit (daemon->process);
      g_subprocess_wait (daemon->process, NULL, NULL);
    }
  /* Let the pending read finish before the stream goes. */
  while (!daemon->eof)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&daemon->err);
  g_clear_object (&daemon->process);
  g_ptr_array_unref (daemon->lines);
  g_free (daemon);
}

char *
hkp_test_daemon_wait_listening (HkpTestDaemon *daemon, const char *what)
{
  g_autofree char *needle = g_strdup_printf ("%s listening on ", what);
  gint index = hkp_test_daemon_wait_line (daemon, needle);
  const char *line = strstr (daemon->lines->pdata[index], needle) + strlen (needle);

  return g_strndup (line, strcspn (line, " "));
}
