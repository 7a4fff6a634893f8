/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A reload that waits on a draining request: hkp-pluginctl waits for the
 * outcome with no client timeout, well past the 25 s after which busctl's
 * default gives up, and shows "draining 1 request…" on a terminal; another
 * change of the plugin meanwhile is refused as busy.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl-fixture.h"

/* Longer than sd-bus's and busctl's 25 s default timeout: the point of the test. */
#define SLEEP_MS 27000

static void
test_drain (CtlFixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  g_auto (CtlRun) busy = { 0 };
  g_autoptr (GSubprocess) reload = NULL;
  g_autofree char *fifo = g_build_filename (f->tree.root, "in-flight", NULL);
  g_autofree char *json = NULL;
  g_autofree char *check = NULL;
  g_autofree char *url = NULL;
  g_autofree char *code = NULL;
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) curl = NULL;
  g_autoptr (GError) error = NULL;
  gint64 started, elapsed;
  char byte;
  int fd;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  /* exclusive: the reply waits until the old instance has drained (its request sleeps SLEEP_MS, within its
   * call deadline).  In the daemon's process: the test is about the wait, not where the plugin runs. */
  json = g_strdup_printf (
    "{\"module\": \"sleeper.so\", \"priority\": 1, \"reload_strategy\": \"exclusive\", \"drain_timeout_sec\": 90,"
    " \"call_timeout_ms\": 60000, \"isolation\": \"none\","
    " \"config\": {\"sleep_ms\": %d, \"sleep_instances\": 1, \"signal_fifo\": \"%s\"}}",
    SLEEP_MS, fifo);
  hkp_test_tree_write_plugin (&f->tree, "slow", json);
  ctl_fixture_start (f, "--drain-timeout=90", NULL);
  check = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");

  /* One request in flight on the old instance. */
  url = g_strdup_printf ("http://%s/check", check);
  curl = g_subprocess_launcher_spawn (launcher, &error, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                                      "X-Original-Method: GET", "-H", "X-Original-URI: /pks/lookup?op=get&search=0x1",
                                      "-H", "X-Real-IP: 192.0.2.1", url, NULL);
  g_assert_no_error (error);
  fd = open (fifo, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (read (fd, &byte, 1), ==, 1);
  close (fd);

  /* The reload, on a terminal: it waits as long as the drain takes, showing progress. */
  started = g_get_monotonic_time ();
  reload = ctl_fixture_spawn_pty (f, -1, NULL, (const char *const[]){ "reload", "slow", NULL });
  /* Meanwhile another change of the plugin is refused as busy, plainly. */
  hkp_test_daemon_wait_line (f->daemon, "plugin slow active -> reloading");
  ctl_fixture_run (f, &busy, -1, NULL, NULL, "disable", "slow", NULL);
  ctl_assert_run (&busy, 1, "Failed to disable plugin slow: Another change of this plugin is running");
  g_assert_nonnull (strstr (busy.err, "Try again once it is done."));
  ctl_fixture_finish (reload, &run);
  elapsed = g_get_monotonic_time () - started;
  ctl_assert_run (&run, 0, NULL);
  g_test_message ("the reload took %.1f s", elapsed / 1e6);
  g_assert_cmpint (elapsed, >, 25 * G_USEC_PER_SEC);
  g_assert_cmpuint (ctl_fixture_plugin_uint (f, "slow", "ReloadCount"), ==, 1);
  g_assert_nonnull (strstr (run.out, "Reloading slow: draining 1 request…"));
  /* The progress line is gone once the outcome is known. */
  g_assert_nonnull (strstr (run.out, "\r\033[K"));

  /* The request that was draining was answered, not dropped. */
  g_subprocess_communicate_utf8 (curl, NULL, NULL, &code, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (code, ==, "200");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ctl/drain", CtlFixture, NULL, ctl_fixture_setup, test_drain, ctl_fixture_teardown);
  return g_test_run ();
}
