/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-bus.h"

#include <glib/gstdio.h>

#include "hkp-test-util.h"

static const char permissive_policy[] = "  <policy context=\"default\">\n"
                                        "    <allow user=\"*\"/>\n"
                                        "    <allow own=\"*\"/>\n"
                                        "    <allow send_destination=\"*\"/>\n"
                                        "    <allow receive_sender=\"*\"/>\n"
                                        "  </policy>\n";

/* The defaults of Debian's /usr/share/dbus-1/system.conf. */
static const char system_policy[] =
  "  <policy context=\"default\">\n"
  "    <allow user=\"*\"/>\n"
  "    <deny own=\"*\"/>\n"
  "    <deny send_type=\"method_call\"/>\n"
  "    <allow send_type=\"signal\"/>\n"
  "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
  "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
  "    <allow receive_type=\"method_call\"/>\n"
  "    <allow receive_type=\"method_return\"/>\n"
  "    <allow receive_type=\"error\"/>\n"
  "    <allow receive_type=\"signal\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
  "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\" "
  "send_member=\"UpdateActivationEnvironment\"/>\n"
  "  </policy>\n";

HkpTestBus *
hkp_test_bus_start (gboolean permissive, const char *const *policy_dirs)
{
  g_autoptr (GString) includes = g_string_new (NULL);
  HkpTestBus *bus = g_new0 (HkpTestBus, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config_arg = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;

  for (guint i = 0; policy_dirs != NULL && policy_dirs[i] != NULL; i++)
    g_string_append_printf (includes, "  <includedir>%s</includedir>\n", policy_dirs[i]);
  bus->dir = hkp_test_make_tmpdir ();
  /* Clients of other uids (nobody, www-data) must reach the socket. */
  g_assert_cmpint (g_chmod (bus->dir, 0755), ==, 0);
  config = g_strdup_printf ("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                            "<busconfig>\n"
                            "  <type>system</type>\n"
                            "  <listen>unix:path=%s/bus.sock</listen>\n"
                            "  <auth>EXTERNAL</auth>\n"
                            "%s%s"
                            "</busconfig>\n",
                            bus->dir, permissive ? permissive_policy : system_policy, includes->str);
  config_path = hkp_test_write_file_path (bus->dir, "bus.conf", config);
  config_arg = g_strdup_printf ("--config-file=%s", config_path);
  launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  bus->process = g_subprocess_launcher_spawn (launcher, &error, "dbus-daemon", config_arg, "--nofork", "--nopidfile",
                                              "--print-address=1", NULL);
  g_assert_no_error (error);
  /* The daemon prints its address once it listens. */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bus->process));
  bus->address = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bus->address);
  return bus;
}

void
hkp_test_bus_stop (HkpTestBus *bus)
{
  if (bus == NULL)
    return;
  g_subprocess_send_signal (bus->process, SIGTERM);
  g_subprocess_wait (bus->process, NULL, NULL);
  g_object_unref (bus->process);
  hkp_test_rm_rf (bus->dir);
  g_free (bus->dir);
  g_free (bus->address);
  g_free (bus);
}
