/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hkp-pluginctl monitor: it sees changes made by another client, as root and as nobody, as text and JSON. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

/* ---- monitor ------------------------------------------------------------ */

typedef struct {
  GDataInputStream *stream;
  GPtrArray *lines;
  gboolean eof;
} Reader;

static void read_next (Reader *reader);

static void
on_read_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reader *reader = user_data;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL)
    {
      reader->eof = TRUE;
      return;
    }
  g_test_message ("monitor: %s", line);
  g_ptr_array_add (reader->lines, line);
  read_next (reader);
}

static void
read_next (Reader *reader)
{
  g_data_input_stream_read_line_async (reader->stream, G_PRIORITY_DEFAULT, NULL, on_read_line, reader);
}

/* Waits until reader has a line holding needle after index from; returns its index. */
static guint
wait_for_line (Reader *reader, const char *needle, guint from)
{
  for (guint i = from;; i++)
    {
      while (i >= reader->lines->len)
        {
          g_assert_false (reader->eof);
          g_main_context_iteration (NULL, TRUE);
        }
      if (strstr (reader->lines->pdata[i], needle) != NULL)
        return i;
    }
}

/* Starts hkp-pluginctl monitor (more args, NULL-terminated) as uid; its stdout and stderr are read into out and err. */
static GSubprocess *
start_monitor (CtlFixture *f, gint uid, Reader *out, Reader *err, ...)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                    G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  GSubprocess *monitor;
  const char *arg;
  va_list ap;

  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  if (uid >= 0)
    {
      g_ptr_array_add (argv, g_strdup ("setpriv"));
      g_ptr_array_add (argv, g_strdup_printf ("--reuid=%d", uid));
      g_ptr_array_add (argv, g_strdup_printf ("--regid=%d", uid));
      g_ptr_array_add (argv, g_strdup ("--clear-groups"));
    }
  g_ptr_array_add (argv, g_strdup (ctl_fixture_program ()));
  g_ptr_array_add (argv, g_strdup ("monitor"));
  va_start (ap, err);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  monitor = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  *out = (Reader){ g_data_input_stream_new (g_subprocess_get_stdout_pipe (monitor)),
                   g_ptr_array_new_with_free_func (g_free) };
  *err = (Reader){ g_data_input_stream_new (g_subprocess_get_stderr_pipe (monitor)),
                   g_ptr_array_new_with_free_func (g_free) };
  read_next (out);
  read_next (err);
  /* Once it says so, it follows every change. */
  wait_for_line (err, "Monitoring hkp-plugind", 0);
  return monitor;
}

/* Stops monitor with SIGTERM, asserts a clean exit 0, and frees its readers. */
static void
stop_monitor (GSubprocess *monitor, Reader *out, Reader *err)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_send_signal (monitor, SIGTERM);
  g_assert_true (g_subprocess_wait (monitor, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (monitor));
  g_assert_cmpint (g_subprocess_get_exit_status (monitor), ==, 0);
  while (!out->eof || !err->eof)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (out->stream);
  g_object_unref (err->stream);
  g_ptr_array_unref (out->lines);
  g_ptr_array_unref (err->lines);
  g_object_unref (monitor);
}

static void
test_monitor_nobody (CtlFixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  Reader out, err;
  GSubprocess *monitor;

  /* Any local user may watch, on the shipped bus policy. */
  f->strict_bus = TRUE;
  ctl_fixture_start (f, NULL);
  monitor = start_monitor (f, ctl_nobody_uid (), &out, &err, NULL);
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "Disable", NULL, NULL, NULL));
  wait_for_line (&out, "alpha: State=disabled", 0);
  stop_monitor (monitor, &out, &err);
}

static void
test_monitor (CtlFixture *f, gconstpointer data)
{
  g_autofree char *alpha = hkp_test_plugin_path ("alpha");
  Reader out, err, json_out, json_err;
  GSubprocess *monitor, *json_monitor;
  guint at;

  ctl_fixture_start (f, NULL);
  monitor = start_monitor (f, -1, &out, &err, NULL);
  json_monitor = start_monitor (f, -1, &json_out, &json_err, "--json", NULL);

  /* Changes made by another client: state, config and a new plugin. */
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "Disable", NULL, NULL, NULL));
  at = wait_for_line (&out, "alpha: ", 0);
  at = wait_for_line (&out, "State=disabled", at);
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "Enable", NULL, NULL, NULL));
  at = wait_for_line (&out, "State=active", at);
  g_assert_null (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "SetConfig", "{\"verdict\": \"deny\"}", NULL, NULL));
  at = wait_for_line (&out, "ConfigVersion=4", at);
  hkp_test_tree_write_plugin (&f->tree, "newcomer", "{\"module\": \"answer.so\"}");
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "Rescan", NULL, NULL, NULL));
  at = wait_for_line (&out, "newcomer: added", at);
  /* Only what changed is printed: a reload does not repeat the module path. */
  for (guint i = 0; i < out.lines->len; i++)
    if (strstr (out.lines->pdata[i], " alpha: ") != NULL)
      g_assert_null (strstr (out.lines->pdata[i], "ModulePath="));

  /* --json: one object a line, with the plugin, the event and the new values. */
  at = wait_for_line (&json_out, "\"ConfigVersion\":4", 0);
  {
    g_autoptr (JsonNode) event = ctl_parse_json (json_out.lines->pdata[at]);
    JsonObject *object = json_node_get_object (event);
    g_assert_cmpstr (json_object_get_string_member (object, "plugin"), ==, "alpha");
    g_assert_cmpstr (json_object_get_string_member (object, "event"), ==, "changed");
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "properties"), "ConfigVersion"),
                     ==, 4);
  }
  wait_for_line (&json_out, "\"event\":\"added\"", 0);

  /* SIGTERM ends them cleanly. */
  stop_monitor (monitor, &out, &err);
  stop_monitor (json_monitor, &json_out, &json_err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/ctl/" path, CtlFixture, NULL, ctl_fixture_setup, fn, ctl_fixture_teardown)
  ADD ("monitor", test_monitor);
  ADD ("monitor-nobody", test_monitor_nobody);
#undef ADD
  return g_test_run ();
}
