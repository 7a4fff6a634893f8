/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LeakSanitizer on the daemon and its plugin hosts together: isolated
 * plugins are checked, reloaded (each reload stops a host cleanly) and
 * reconfigured, then the daemon is stopped, which stops the last hosts.
 * Under ASan every process stopped cleanly runs LeakSanitizer, and a host's
 * report reaches the daemon's log: the daemon must exit 0 and no report may
 * name a plugin that does not leak, while one that does (misbehave with
 * "leak": true, the control) must be named.  Without ASan only the exit
 * statuses are checked.
 */
#include <string.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-http.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED TRUE
#else
#define SANITIZED FALSE
#endif

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  hkp_test_tree_write_plugin (&f->tree, "clean",
                              "{\"module\": \"answer.so\", \"isolation\": \"process\", \"priority\": 1, "
                              "\"config\": {\"verdict\": \"continue\", \"headers\": {\"X-A\": \"1\"}}}");
  hkp_test_tree_write_plugin (&f->tree, "busy",
                              "{\"module\": \"misbehave.so\", \"isolation\": \"process\", \"priority\": 2, "
                              "\"health_interval_sec\": 0.2, \"config\": {\"mode\": \"none\"}}");
  hkp_test_tree_write_plugin (&f->tree, "leaky",
                              "{\"module\": \"misbehave.so\", \"isolation\": \"process\", \"priority\": 3, "
                              "\"config\": {\"leak\": true}}");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_unref);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  hkp_test_tree_clear (&f->tree);
}

static void
call_ok (Fixture *f, const char *plugin, const char *member, const char *arg)
{
  g_autofree char *path = hkp_test_plugin_path (plugin);
  g_autofree char *error = hkp_test_call (f->client, path, HKP_TEST_PLUGIN, member, arg, NULL, NULL);

  if (error != NULL)
    g_error ("%s of %s: %s", member, plugin, error);
}

/* Lines of the daemon's log from plugin's host (its stderr goes there as "[plugin] …") holding needle. */
static guint
count_plugin_lines (Fixture *f, const char *plugin, const char *needle)
{
  g_autofree char *tag = g_strdup_printf ("[%s]", plugin);
  guint n = 0;

  for (guint i = 0; i < f->daemon->lines->len; i++)
    {
      const char *line = f->daemon->lines->pdata[i];
      if (strstr (line, tag) != NULL && strstr (line, needle) != NULL)
        n++;
    }
  return n;
}

static void
test_hosts_leak_checked (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) argv = NULL;
  g_autofree char *check = NULL;
  g_autofree char *clean_path = hkp_test_plugin_path ("clean");

  f->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&f->tree, f->bus->address, "--no-polkit", NULL);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  check = hkp_test_daemon_wait_listening (f->daemon, "check endpoint");
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);
  if (hkp_test_get_uint (f->client, clean_path, HKP_TEST_PLUGIN, "HostPID", 'u') == 0)
    {
      /* Not stopped cleanly: in the daemon, the leaky plugin's leak would be the daemon's. */
      g_test_skip ("plugins with isolation \"process\" do not run in hkp-plugin-host in this build yet");
      return;
    }

  /* Requests through every host, then each host replaced a few times (each old one stops cleanly). */
  for (guint round = 0; round < 3; round++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (HkpTestHttp) http = hkp_test_http_connect (check, NULL, &error);
      g_auto (HkpTestHttpResponse) answer = { 0 };
      const char *const headers[] = { "X-Original-Method: GET", "X-Original-URI: /pks/lookup?op=get",
                                      "X-Real-IP: 192.0.2.1", NULL };

      g_assert_no_error (error);
      g_assert_true (hkp_test_http_request (http, "GET", "/check", headers, NULL, &answer, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (answer.status, ==, 200);
      call_ok (f, "clean", "Reload", NULL);
      call_ok (f, "busy", "Reload", NULL);
    }
  call_ok (f, "clean", "SetConfig", "{\"verdict\": \"continue\", \"headers\": {\"X-B\": \"2\"}}");
  call_ok (f, "leaky", "Reload", NULL);

  /* The last hosts stop with the daemon; everything that stopped cleanly was leak-checked. */
  hkp_test_daemon_stop (f->daemon);
  g_assert_cmpuint (count_plugin_lines (f, "clean", "LeakSanitizer"), ==, 0);
  g_assert_cmpuint (count_plugin_lines (f, "busy", "LeakSanitizer"), ==, 0);
  /* The control: the leak a plugin makes is found in its host, and said in the daemon's log. */
  if (SANITIZED)
    {
      g_assert_cmpuint (count_plugin_lines (f, "leaky", "LeakSanitizer: detected memory leaks"), >=, 1);
      g_assert_cmpuint (count_plugin_lines (f, "leaky", "misbehave_init"), >=, 1);
    }
  else
    g_assert_cmpuint (count_plugin_lines (f, "leaky", "LeakSanitizer"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/leaks/hosts-leak-checked", Fixture, NULL, setup, test_hosts_leak_checked, teardown);
  return g_test_run ();
}
