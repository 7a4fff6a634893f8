/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hkp-plugind binary as an admin runs it: --version and --help, exit 2
 * for bad options and config values (named), exit 1 when it cannot start,
 * and an orderly stop on SIGTERM and SIGINT that shuts plugins down in
 * reverse priority order and exits 0 once the running checks have finished.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <string.h>

#include "daemon-log.h"
#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"
#include "hkp-test-util.h"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  hkp_test_tree_clear (&f->tree);
}

/* Runs the daemon to completion with args; returns its exit status and output. */
static int
run_sync (const char *const *args, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) hkp_test_daemon_path ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_newv ((const char *const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

#define RUN(out, err, ...) run_sync ((const char *const[]){ __VA_ARGS__, NULL }, (out), (err))

static void
assert_contains (const char *haystack, const char *needle)
{
  if (haystack == NULL || strstr (haystack, needle) == NULL)
    g_error ("output lacks \"%s\":\n%s", needle, haystack ? haystack : "(none)");
}

/* Starts the daemon on a private bus with the fixture's tree, --no-polkit, plus extra arguments. */
static void
start_daemon (Fixture *f, const char *const *extra)
{
  if (f->bus == NULL)
    f->bus = hkp_test_bus_start (TRUE, NULL);
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, extra);
}

static gint
find_line (Fixture *f, const char *needle)
{
  return hkp_test_daemon_find (f->daemon, needle);
}

static gint
wait_line (Fixture *f, const char *needle)
{
  return hkp_test_daemon_wait_line (f->daemon, needle);
}

static int
wait_exit (Fixture *f)
{
  return hkp_test_daemon_wait_exit (f->daemon);
}

static void
test_version (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (RUN (&out, &err, "--version"), ==, 0);
  assert_contains (out, "hkp-plugind " PACKAGE_VERSION " (plugin ABI 1)");
}

static void
test_help (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *options[] = { "--config=FILE",
                            "--plugin-dir=DIR",
                            "--config-dir=DIR",
                            "--state-dir=DIR",
                            "--bus=BUS",
                            "--no-polkit",
                            "--http-listen=ADDR",
                            "--http-token-file=FILE",
                            "--check-listen=ADDR",
                            "--drain-timeout=SECONDS",
                            "--health-interval=SECONDS",
                            "--history-limit=N",
                            "--check-config",
                            "--version" };

  g_assert_cmpint (RUN (&out, &err, "--help"), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    assert_contains (out, options[i]);
}

static void
test_usage_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *bad_conf = hkp_test_write_file_path (f->tree.root, "bad.conf",
                                                        "[hkp-plugind]\nhealth-interval=often\n");
  g_autofree char *bad_conf_arg = g_strdup_printf ("--config=%s", bad_conf);
  g_autofree char *bad_conf_needle = g_strdup_printf ("%s: key \"health-interval\": invalid value \"often\"", bad_conf);
  struct {
    const char *arg;
    const char *needle;
  } cases[] = {
    { "--bogus", "Unknown option --bogus" },
    { "--drain-timeout=abc", "--drain-timeout: invalid value \"abc\"" },
    { "--http-listen=nowhere", "--http-listen: invalid value \"nowhere\"" },
    { "--bus=sytem", "--bus: invalid value \"sytem\"" },
    { bad_conf_arg, bad_conf_needle },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_assert_cmpint (RUN (&out, &err, cases[i].arg, "--state-dir=/nonexistent/never"), ==, 2);
      assert_contains (err, cases[i].needle);
      assert_contains (err, "Try \"hkp-plugind --help\"");
      /* Nothing started: no plugin was looked at. */
      g_assert_null (strstr (err, "starting"));
    }
}

static void
test_cannot_start (Fixture *f, gconstpointer data)
{
  g_autofree char *file = hkp_test_write_file_path (f->tree.root, "plain-file", "");
  g_autofree char *state = g_strdup_printf ("--state-dir=%s/below", file);
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (RUN (&out, &err, "--config-dir=/nonexistent", state, "--http-listen=none", "--check-listen=none"),
                   ==, 1);
  assert_contains (err, "cannot start: state directory");
}

static void
run_and_stop (Fixture *f, int signal_number)
{
  gint first, second;

  hkp_test_write_file (f->tree.config_dir, "a.json", "{\"module\": \"answer.so\", \"priority\": 10}");
  hkp_test_write_file (f->tree.config_dir, "b.json", "{\"module\": \"health.so\", \"priority\": 20}");
  hkp_test_write_file (f->tree.config_dir, "broken.json",
                       "{\"module\": \"failinit.so\", \"config\": {\"message\": \"no database\"}}");
  g_free (f->tree.main_config);
  f->tree.main_config = hkp_test_write_file_path (f->tree.root, "hkp-plugind.conf", "[hkp-plugind]\nfrobnicate=yes\n");

  start_daemon (f, (const char *const[]){ "--http-listen=none", NULL });
  wait_line (f, "ready");
  g_assert_cmpint (find_line (f, "unknown key \"frobnicate\" in [hkp-plugind] ignored"), >=, 0);
  g_assert_cmpint (find_line (f, "[broken] plugin broken failed: "), >=, 0);
  g_assert_cmpint (find_line (f, "init failed: no database"), >=, 0);
  g_assert_cmpint (find_line (f, "[a] plugin a active"), >=, 0);
  g_assert_cmpint (find_line (f, "3 plugins: 2 active, 0 disabled, 1 failed"), >=, 0);

  hkp_test_daemon_signal (f->daemon, signal_number);
  g_assert_cmpint (wait_exit (f), ==, 0);
  /* Reverse priority order: b (20) goes before a (10). */
  first = find_line (f, "[b] plugin b shut down");
  second = find_line (f, "[a] plugin a shut down");
  g_assert_cmpint (first, >=, 0);
  g_assert_cmpint (second, >, first);
  g_assert_cmpint (find_line (f, "all plugins shut down"), >, second);
  g_assert_cmpint (find_line (f, "stopped"), >, second);
}

static void
test_sigterm (Fixture *f, gconstpointer data)
{
  run_and_stop (f, SIGTERM);
}

static void
test_sigint (Fixture *f, gconstpointer data)
{
  run_and_stop (f, SIGINT);
}

static void
test_sighup_rescans (Fixture *f, gconstpointer data)
{
  hkp_test_write_file (f->tree.config_dir, "a.json", "{\"module\": \"answer.so\"}");
  start_daemon (f, NULL);
  wait_line (f, "ready");
  hkp_test_write_file (f->tree.config_dir, "b.json", "{\"module\": \"health.so\"}");
  hkp_test_daemon_signal (f->daemon, SIGHUP);
  wait_line (f, "rescan: added 1, removed 0, changed 0, unchanged 1, errors 0");
  wait_line (f, "[b] plugin b active");
  hkp_test_daemon_signal (f->daemon, SIGTERM);
  g_assert_cmpint (wait_exit (f), ==, 0);
  g_assert_cmpint (find_line (f, "[b] plugin b shut down"), >=, 0);
}

typedef struct {
  GPtrArray *messages;
  guint watchdogs;
} Notifications;

static gboolean
on_notification (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Notifications *n = user_data;
  char buffer[4096];
  gssize len = g_socket_receive (socket, buffer, sizeof buffer - 1, NULL, NULL);

  if (len > 0)
    {
      buffer[len] = '\0';
      if (g_str_equal (buffer, "WATCHDOG=1"))
        n->watchdogs++;
      else
        {
          g_test_message ("notify: %s", buffer);
          g_ptr_array_add (n->messages, g_strdup (buffer));
        }
    }
  return G_SOURCE_CONTINUE;
}

/* Index of the first notification at or after from holding needle, waiting for it to come. */
static guint
wait_notification (Notifications *n, guint from, const char *needle)
{
  for (;;)
    {
      for (guint i = from; i < n->messages->len; i++)
        if (strstr (n->messages->pdata[i], needle) != NULL)
          return i;
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
test_sd_notify (Fixture *f, gconstpointer data)
{
  Notifications n = { .messages = g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *socket_path = g_build_filename (f->tree.root, "notify.sock", NULL);
  g_autofree char *notify_env = g_strdup_printf ("NOTIFY_SOCKET=%s", socket_path);
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, 0, NULL);
  g_autoptr (GSource) source = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (sd_bus) client = NULL;
  g_autoptr (sd_bus_message) owner = NULL;
  guint ready, reloading, reready, stopping;

  g_assert_true (g_socket_bind (socket, address, TRUE, &error));
  source = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) on_notification, &n, NULL);
  g_source_attach (source, NULL);

  hkp_test_write_file (f->tree.config_dir, "a.json", "{\"module\": \"answer.so\"}");
  hkp_test_write_file (f->tree.config_dir, "broken.json", "{\"module\": \"failinit.so\"}");
  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", NULL);
  f->daemon = hkp_test_daemon_start_env ((const char *const *) argv->pdata, -1,
                                         (const char *const[]){ notify_env, "WATCHDOG_USEC=100000", NULL });

  /* READY comes with a status line, once the name is owned. */
  ready = wait_notification (&n, 0, "READY=1");
  g_assert_nonnull (strstr (n.messages->pdata[ready], "STATUS=2 plugins: 1 active, 1 failed, 0 disabled"));
  client = hkp_test_client_new (f->bus->address);
  g_assert_cmpint (sd_bus_call_method (client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetNameOwner", NULL, &owner, "s", "org.hkp.PluginManager1"),
                   >=, 0);

  /* The watchdog is pinged from the main loop, again and again. */
  while (n.watchdogs < 3)
    g_main_context_iteration (NULL, TRUE);

  /* A rescan is announced, and the status follows a newly failed plugin. */
  hkp_test_write_file (f->tree.config_dir, "worse.json", "[]");
  hkp_test_daemon_signal (f->daemon, SIGHUP);
  reloading = wait_notification (&n, ready + 1, "RELOADING=1");
  g_assert_nonnull (strstr (n.messages->pdata[reloading], "MONOTONIC_USEC="));
  reready = wait_notification (&n, reloading + 1, "READY=1");
  wait_notification (&n, reloading + 1, "3 plugins: 1 active, 2 failed, 0 disabled");
  g_assert_cmpuint (reready, >, reloading);
  /* The file the rescan refused is logged with why, and named in the status until a rescan takes it. */
  g_assert_nonnull (strstr (n.messages->pdata[reready],
                            "STATUS=3 plugins: 1 active, 2 failed, 0 disabled; rescan refused 1 file: worse.json"));
  {
    g_autofree char *line = g_strdup_printf (
      "SIGHUP: %s/worse.json refused: the top level must be a JSON object, not array", f->tree.config_dir);
    wait_line (f, line);
  }
  hkp_test_write_file (f->tree.config_dir, "worse.json", "{\"module\": \"answer.so\"}");
  hkp_test_daemon_signal (f->daemon, SIGHUP);
  reready = wait_notification (&n, reready + 1, "READY=1");
  g_assert_cmpstr (n.messages->pdata[reready], ==, "READY=1\nSTATUS=3 plugins: 2 active, 1 failed, 0 disabled");

  hkp_test_daemon_signal (f->daemon, SIGTERM);
  stopping = wait_notification (&n, reready + 1, "STOPPING=1");
  wait_notification (&n, stopping, "EXTEND_TIMEOUT_USEC=");
  g_assert_cmpint (wait_exit (f), ==, 0);
  g_source_destroy (source);
  g_ptr_array_unref (n.messages);
}

typedef struct {
  char *address;
  HkpTestHttpResponse response;
  GError *error;
} SlowCheck;

static gpointer
slow_check_thread (gpointer data)
{
  SlowCheck *slow = data;
  const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get&search=x",
                                  "X-Real-IP: 192.0.2.1", NULL };
  g_autoptr (HkpTestHttp) http = hkp_test_http_connect (slow->address, NULL, &slow->error);

  if (http != NULL)
    hkp_test_http_request (http, "GET", "/check", headers, NULL, &slow->response, &slow->error);
  return NULL;
}

static void
test_sigterm_drains_checks (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->tree.root, "entered.fifo", NULL);
  g_autofree char *sleeper = NULL;
  SlowCheck slow = { 0 };
  GThread *thread;
  char byte;
  int fd;

  /* The sleeper allows after a second, or continues if cancelled: then the denier below would answer.  It runs in
   * the daemon: it writes to the FIFO, which a plugin host may not open for writing. */
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  sleeper = g_strdup_printf ("{\"module\": \"sleeper.so\", \"isolation\": \"none\", \"priority\": 1, \"config\": "
                             "{\"enabled\": true, \"sleep_ms\": 1000, \"signal_fifo\": \"%s\"}}",
                             fifo);
  hkp_test_tree_write_plugin (&f->tree, "slow", sleeper);
  hkp_test_tree_write_plugin (&f->tree, "denier",
                              "{\"module\": \"answer.so\", \"priority\": 2, \"config\": "
                              "{\"enabled\": true, \"verdict\": \"deny\", \"reason\": \"cut short\"}}");
  start_daemon (f, NULL);
  slow.address = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  wait_line (f, "ready");

  thread = g_thread_new ("slow-check", slow_check_thread, &slow);
  /* Opening the FIFO returns once the plugin has opened its end: the check is in flight. */
  fd = open (fifo, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (read (fd, &byte, 1), ==, 1);
  close (fd);

  hkp_test_daemon_signal (f->daemon, SIGTERM);
  wait_line (f, "no longer taking checks; 1 in flight");
  {
    g_autoptr (GError) refused = NULL;
    g_autoptr (HkpTestHttp) late = hkp_test_http_connect (slow.address, NULL, &refused);
    g_assert_null (late);
    g_assert_error (refused, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  }
  g_thread_join (thread);
  g_assert_no_error (slow.error);
  /* Finished by the plugin, not cut short. */
  g_assert_cmpuint (slow.response.status, ==, 200);
  g_assert_cmpint (wait_exit (f), ==, 0);
  /* Plugins shut down only after the check finished. */
  g_assert_cmpint (find_line (f, "no longer taking checks"), <, find_line (f, "plugin slow shut down"));
  hkp_test_http_response_clear (&slow.response);
  g_free (slow.address);
}

static void
test_empty_config_dir (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (g_rmdir (f->tree.config_dir), ==, 0);
  start_daemon (f, NULL);
  wait_line (f, "ready");
  g_assert_cmpint (find_line (f, "does not exist: no plugins loaded"), >=, 0);
  hkp_test_daemon_signal (f->daemon, SIGTERM);
  g_assert_cmpint (wait_exit (f), ==, 0);
}

static void
test_log_line (Fixture *f, gconstpointer data)
{
  const GLogField fields[] = {
    { "MESSAGE", "plugin ratelimit failed: boom", -1 },
    { "PLUGIN", "ratelimit", -1 },
    { "GLIB_DOMAIN", "hkp-core", -1 },
  };
  const GLogField plain[] = { { "MESSAGE", "ready", -1 } };
  g_autofree char *line = daemon_log_format_line (G_LOG_LEVEL_WARNING, fields, G_N_ELEMENTS (fields));
  g_autofree char *plain_line = daemon_log_format_line (G_LOG_LEVEL_MESSAGE, plain, G_N_ELEMENTS (plain));

  assert_contains (line, "warning  [ratelimit] plugin ratelimit failed: boom\n");
  assert_contains (plain_line, "notice   ready\n");
  g_assert_null (strchr (plain_line, '['));

  /* One entry, one line: no control character of a message reaches the output as itself. */
  {
    const GLogField forging[] = {
      { "MESSAGE",
        "a\n12:00:00.000 critical [other] b\r\x1b[2Jc\td\x7f\xc2\x85"
        "e\\n",
        -1 },
      { "PLUGIN", "forger", -1 },
    };
    g_autofree char *one = daemon_log_format_line (G_LOG_LEVEL_WARNING, forging, G_N_ELEMENTS (forging));

    /* A backslash of the message is doubled: its "\\n" is not a line break escaped. */
    assert_contains (one, "warning  [forger] a\\n12:00:00.000 critical [other] b\\r\\x1b[2Jc\td\\x7f\\u0085e\\\\n\n");
    g_assert_true (strchr (one, '\n') == one + strlen (one) - 1);
  }
  /* Nor of the plugin's name: a refused file's name is one, and whoever can write the directory chooses it. */
  {
    const GLogField named[] = {
      { "MESSAGE", "refused", -1 },
      { "PLUGIN", "z\n12:00:00.000 notice   [deny] plugin deny disabled\x1b]0;t\x07", -1 },
    };
    g_autofree char *one = daemon_log_format_line (G_LOG_LEVEL_WARNING, named, G_N_ELEMENTS (named));

    assert_contains (one, "warning  [z\\n12:00:00.000 notice   [deny] plugin deny disabled\\x1b]0;t\\x07] refused\n");
    g_assert_true (strchr (one, '\n') == one + strlen (one) - 1);
  }
}

/* A plugin's log line that holds a line break cannot pass for a line of another plugin. */
static void
test_log_line_of_a_plugin (Fixture *f, gconstpointer data)
{
  hkp_test_tree_write_plugin (
    &f->tree, "forger",
    "{\"module\": \"misbehave.so\", \"priority\": 1, \"config\": {\"enabled\": true, \"log\": "
    "\"innocent\\n12:00:00.000 critical [victim] plugin victim: forged\"}}");
  start_daemon (f, NULL);
  wait_line (f, "[forger] innocent\\n12:00:00.000 critical [victim] plugin victim: forged");
  g_assert_cmpint (hkp_test_daemon_count (f->daemon, "plugin victim: forged"), ==, 1);
  hkp_test_daemon_signal (f->daemon, SIGTERM);
  g_assert_cmpint (wait_exit (f), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)
  ADD ("/daemon/version", test_version);
  ADD ("/daemon/help", test_help);
  ADD ("/daemon/usage-errors", test_usage_errors);
  ADD ("/daemon/cannot-start", test_cannot_start);
  ADD ("/daemon/sigterm", test_sigterm);
  ADD ("/daemon/sigint", test_sigint);
  ADD ("/daemon/sigterm-drains-checks", test_sigterm_drains_checks);
  ADD ("/daemon/empty-config-dir", test_empty_config_dir);
  ADD ("/daemon/sighup-rescans", test_sighup_rescans);
  ADD ("/daemon/sd-notify", test_sd_notify);
  ADD ("/daemon/log-line", test_log_line);
  ADD ("/daemon/log-line-of-a-plugin", test_log_line_of_a_plugin);
#undef ADD
  return g_test_run ();
}
