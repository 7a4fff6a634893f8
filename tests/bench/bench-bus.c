/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * D-Bus figures through a real dbus-daemon (printed, not pass/fail):
 *   Property Get and GetStatus calls/s beside Peer.Ping to the daemon in the
 *   same run (target: Get >= 0.9x Ping), sequential and pipelined (128 in flight);
 *   ReloadPlugin round trip of an idle plugin, median (target <= 2 ms);
 *   GetManagedObjects with 1000 plugins.
 * Run: meson configure build -Dbenchmarks=true && ninja -C build && build/tests/bench/bench-bus
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-bus.h>

#include "hkp-test-bus.h"
#include "hkp-test-daemon.h"
#include "hkp-test-util.h"

#define SERVICE "org.hkp.PluginManager1"
#define CALLS 20000
#define IN_FLIGHT 128

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
} Setup;

static void
setup_start (Setup *s, guint n_plugins)
{
  g_autoptr (GPtrArray) argv = NULL;

  hkp_test_tree_init (&s->tree);
  for (guint i = 0; i < n_plugins; i++)
    {
      g_autofree char *name = g_strdup_printf ("p%04u", i);
      hkp_test_tree_write_plugin (&s->tree, name, "{\"module\": \"answer.so\"}");
    }
  s->bus = hkp_test_bus_start (TRUE, NULL);
  argv = hkp_test_tree_argv (&s->tree, s->bus->address, "--no-polkit", "--health-interval=86400", NULL);
  s->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  hkp_test_daemon_wait_line (s->daemon, "ready");
  g_assert_cmpint (sd_bus_new (&s->client), >=, 0);
  sd_bus_set_address (s->client, s->bus->address);
  sd_bus_set_bus_client (s->client, 1);
  g_assert_cmpint (sd_bus_start (s->client), >=, 0);
}

static void
setup_stop (Setup *s)
{
  sd_bus_flush_close_unref (s->client);
  hkp_test_daemon_stop (s->daemon);
  hkp_test_daemon_free (s->daemon);
  hkp_test_bus_stop (s->bus);
  hkp_test_tree_clear (&s->tree);
}

typedef enum { CALL_PING, CALL_GET, CALL_STATUS } CallKind;

static int
send_call (Setup *s, CallKind kind, sd_bus_message_handler_t callback, void *data, sd_bus_message **reply)
{
  const char *plugin = "/org/hkp/PluginManager1/plugin/p0000";

  switch (kind)
    {
    case CALL_PING:
      return callback ? sd_bus_call_method_async (s->client, NULL, SERVICE, "/org/hkp/PluginManager1",
                                                  "org.freedesktop.DBus.Peer", "Ping", callback, data, "")
                      : sd_bus_call_method (s->client, SERVICE, "/org/hkp/PluginManager1", "org.freedesktop.DBus.Peer",
                                            "Ping", NULL, reply, "");
    case CALL_GET:
      return callback ? sd_bus_call_method_async (s->client, NULL, SERVICE, plugin, "org.freedesktop.DBus.Properties",
                                                  "Get", callback, data, "ss", "org.hkp.PluginManager1.Plugin", "State")
                      : sd_bus_call_method (s->client, SERVICE, plugin, "org.freedesktop.DBus.Properties", "Get", NULL,
                                            reply, "ss", "org.hkp.PluginManager1.Plugin", "State");
    case CALL_STATUS:
    default:
      return callback ? sd_bus_call_method_async (s->client, NULL, SERVICE, "/org/hkp/PluginManager1",
                                                  "org.hkp.PluginManager1.Manager", "GetStatus", callback, data, "")
                      : sd_bus_call_method (s->client, SERVICE, "/org/hkp/PluginManager1",
                                            "org.hkp.PluginManager1.Manager", "GetStatus", NULL, reply, "");
    }
}

static double
sequential (Setup *s, CallKind kind)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < CALLS; i++)
    {
      sd_bus_message *reply = NULL;
      g_assert_cmpint (send_call (s, kind, NULL, NULL, &reply), >=, 0);
      sd_bus_message_unref (reply);
    }
  return CALLS / ((g_get_monotonic_time () - start) / 1e6);
}

typedef struct {
  guint in_flight;
  guint done;
} Pipeline;

static int
on_done (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Pipeline *p = userdata;

  g_assert_false (sd_bus_message_is_method_error (reply, NULL));
  p->in_flight--;
  p->done++;
  return 0;
}

static double
pipelined (Setup *s, CallKind kind)
{
  Pipeline p = { 0 };
  guint sent = 0;
  gint64 start = g_get_monotonic_time ();

  while (p.done < CALLS)
    {
      while (sent < CALLS && p.in_flight < IN_FLIGHT)
        {
          g_assert_cmpint (send_call (s, kind, on_done, &p, NULL), >=, 0);
          sent++;
          p.in_flight++;
        }
      if (sd_bus_process (s->client, NULL) == 0)
        sd_bus_wait (s->client, UINT64_MAX);
    }
  return CALLS / ((g_get_monotonic_time () - start) / 1e6);
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  Setup s = { 0 };
  gint64 times[200];
  double ping, get, status;

  g_setenv ("HKP_TEST_QUIET", "1", TRUE);
  hkp_test_log_capture_install ();
  if (g_getenv ("HKP_PLUGIND") == NULL)
    g_setenv ("HKP_PLUGIND", HKP_PLUGIND_BUILD_PATH, TRUE);

  setup_start (&s, 3);
  ping = sequential (&s, CALL_PING);
  get = sequential (&s, CALL_GET);
  status = sequential (&s, CALL_STATUS);
  printf ("sequential: Ping %.0f/s, Property Get %.0f/s (%.2fx Ping), GetStatus %.0f/s (%.2fx Ping)\n", ping, get,
          get / ping, status, status / ping);
  ping = pipelined (&s, CALL_PING);
  get = pipelined (&s, CALL_GET);
  status = pipelined (&s, CALL_STATUS);
  printf ("pipelined (%d in flight): Ping %.0f/s, Property Get %.0f/s (%.2fx Ping), GetStatus %.0f/s (%.2fx Ping)\n",
          IN_FLIGHT, ping, get, get / ping, status, status / ping);
  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    {
      sd_bus_message *reply = NULL;
      gint64 start = g_get_monotonic_time ();
      g_assert_cmpint (sd_bus_call_method (s.client, SERVICE, "/org/hkp/PluginManager1",
                                           "org.hkp.PluginManager1.Manager", "ReloadPlugin", NULL, &reply, "s",
                                           "p0001"),
                       >=, 0);
      times[i] = g_get_monotonic_time () - start;
      sd_bus_message_unref (reply);
    }
  qsort (times, G_N_ELEMENTS (times), sizeof times[0], (int (*) (const void *, const void *)) compare_gint64);
  printf ("ReloadPlugin round trip of an idle plugin: median %" G_GINT64_FORMAT " µs, p90 %" G_GINT64_FORMAT " µs\n",
          times[G_N_ELEMENTS (times) / 2], times[G_N_ELEMENTS (times) * 9 / 10]);
  setup_stop (&s);

  setup_start (&s, 1000);
  for (guint i = 0; i < 5; i++)
    {
      sd_bus_message *reply = NULL;
      gint64 start = g_get_monotonic_time ();
      g_assert_cmpint (sd_bus_call_method (s.client, SERVICE, "/org/hkp/PluginManager1",
                                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, &reply, ""),
                       >=, 0);
      times[i] = g_get_monotonic_time () - start;
      sd_bus_message_unref (reply);
    }
  qsort (times, 5, sizeof times[0], (int (*) (const void *, const void *)) compare_gint64);
  printf ("GetManagedObjects with 1000 plugins: median %.1f ms of 5\n", times[2] / 1000.0);
  setup_stop (&s);
  return 0;
}
