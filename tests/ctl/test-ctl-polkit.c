/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl and polkit, against python3-dbusmock's polkitd template: on
 * a terminal a non-root caller gets polkit's text agent (pkttyagent, which
 * registers with polkit before the call) and the call allows interactive
 * authorization; --no-ask-password does neither; piped, no agent; root needs
 * none.  A refusal is said plainly, with exit 1.
 */
#include <signal.h>
#include <string.h>

#include "ctl-fixture.h"

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define AUTHORITY_PATH "/org/freedesktop/PolicyKit1/Authority"

typedef struct {
  CtlFixture ctl;
  GSubprocess *polkit;
  GDBusConnection *connection;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  ctl_fixture_setup (&f->ctl, data);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->connection);
  ctl_fixture_teardown (&f->ctl, data);
  if (f->polkit != NULL)
    {
      g_subprocess_send_signal (f->polkit, SIGTERM);
      g_subprocess_wait (f->polkit, NULL, NULL);
      g_clear_object (&f->polkit);
    }
}

static GVariant *
mock_call (Fixture *f, const char *member, GVariant *parameters)
{
  g_autoptr (GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_sync (f->connection, POLKIT_NAME, AUTHORITY_PATH,
                                                 "org.freedesktop.DBus.Mock", member, parameters, NULL,
                                                 G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error (error);
  return reply;
}

/* The bus, the polkitd mock owning its name, and the daemon with polkit on. */
static void
start (Fixture *f)
{
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  f->ctl.bus = hkp_test_bus_start (TRUE, NULL);
  f->connection = g_dbus_connection_new_for_address_sync (
    f->ctl.bus->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->ctl.bus->address, TRUE);
  f->polkit = g_subprocess_launcher_spawn (launcher, &error, "/usr/bin/python3", "-m", "dbusmock", "--system",
                                           "--template", "polkitd", NULL);
  g_assert_no_error (error);
  /* Wait until it owns its name: a call that activation cannot start fails until then. */
  for (;;)
    {
      g_autoptr (GVariant) owner = g_dbus_connection_call_sync (
        f->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
        g_variant_new ("(s)", POLKIT_NAME), G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      gboolean has;
      g_assert_no_error (error);
      g_variant_get (owner, "(b)", &has);
      if (has)
        break;
      g_usleep (20 * 1000); /* polling the bus: the mock sends no signal we could wait for before it owns the name */
    }
  /* pkttyagent --fallback registers with options; the template knows only the older call. */
  reply = mock_call (f, "AddMethod",
                     g_variant_new ("(sssss)", "org.freedesktop.PolicyKit1.Authority",
                                    "RegisterAuthenticationAgentWithOptions", "(sa{sv})ssa{sv}", "", ""));
  argv = hkp_test_tree_argv (&f->ctl.tree, f->ctl.bus->address, NULL);
  f->ctl.daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  hkp_test_daemon_wait_line (f->ctl.daemon, "ready");
  f->ctl.client = hkp_test_client_new (f->ctl.bus->address);
}

static guint
count_calls (Fixture *f, const char *method)
{
  g_autoptr (GVariant) reply = mock_call (f, "GetMethodCalls", g_variant_new ("(s)", method));
  g_autoptr (GVariant) calls = g_variant_get_child_value (reply, 0);

  return (guint) g_variant_n_children (calls);
}

/* The flags of the last CheckAuthorization (1: AllowUserInteraction). */
static guint32
last_check_flags (Fixture *f)
{
  g_autoptr (GVariant) reply = mock_call (f, "GetMethodCalls", g_variant_new ("(s)", "CheckAuthorization"));
  g_autoptr (GVariant) calls = g_variant_get_child_value (reply, 0);
  g_autoptr (GVariant) last = NULL;
  g_autoptr (GVariant) args = NULL;
  g_autoptr (GVariant) boxed = NULL;
  g_autoptr (GVariant) flags = NULL;

  g_assert_cmpuint (g_variant_n_children (calls), >, 0);
  last = g_variant_get_child_value (calls, g_variant_n_children (calls) - 1);
  args = g_variant_get_child_value (last, 1);
  boxed = g_variant_get_child_value (args, 3);
  flags = g_variant_get_variant (boxed);
  return g_variant_get_uint32 (flags);
}

static void
clear_calls (Fixture *f)
{
  g_autoptr (GVariant) reply = mock_call (f, "ClearCalls", NULL);
}

static void
test_agent (Fixture *f, gconstpointer data)
{
  g_auto (CtlRun) run = { 0 };
  gint nobody = ctl_nobody_uid ();

  start (f);
  g_variant_unref (mock_call (f, "SetAllowed", g_variant_new ("(as)", NULL)));

  /* nobody on a terminal: the agent registers first, and the call allows interaction. */
  clear_calls (f);
  ctl_fixture_run_pty (&f->ctl, &run, nobody, NULL, (const char *const[]){ "reload", "alpha", NULL });
  ctl_assert_run (&run, 1, NULL);
  g_assert_nonnull (strstr (run.out, "Failed to reload plugin alpha: Access denied"));
  g_assert_cmpuint (count_calls (f, "RegisterAuthenticationAgentWithOptions"), ==, 1);
  g_assert_cmpuint (count_calls (f, "CheckAuthorization"), ==, 1);
  g_assert_cmpuint (last_check_flags (f), ==, 1);

  /* --no-ask-password: no agent, no interaction. */
  clear_calls (f);
  ctl_fixture_run_pty (&f->ctl, &run, nobody, NULL,
                       (const char *const[]){ "--no-ask-password", "reload", "alpha", NULL });
  ctl_assert_run (&run, 1, NULL);
  g_assert_nonnull (strstr (run.out, "Failed to reload plugin alpha: Access denied"));
  g_assert_cmpuint (count_calls (f, "RegisterAuthenticationAgentWithOptions"), ==, 0);
  g_assert_cmpuint (last_check_flags (f), ==, 0);

  /* Piped: no agent (nobody could answer it). */
  clear_calls (f);
  ctl_fixture_run (&f->ctl, &run, nobody, NULL, NULL, "disable", "alpha", NULL);
  ctl_assert_run (&run, 1, "Failed to disable plugin alpha: Access denied");
  g_assert_cmpuint (count_calls (f, "RegisterAuthenticationAgentWithOptions"), ==, 0);
  g_assert_cmpuint (count_calls (f, "CheckAuthorization"), ==, 1);

  /* Allowed: done; root needs no agent. */
  g_variant_unref (mock_call (f, "SetAllowed",
                              g_variant_new ("(^as)", (const char *const[]){ "org.hkp.PluginManager1.reload", NULL })));
  clear_calls (f);
  ctl_fixture_run_pty (&f->ctl, &run, -1, NULL, (const char *const[]){ "reload", "alpha", NULL });
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpuint (count_calls (f, "RegisterAuthenticationAgentWithOptions"), ==, 0);
  ctl_fixture_run_pty (&f->ctl, &run, nobody, NULL, (const char *const[]){ "reload", "alpha", NULL });
  ctl_assert_run (&run, 0, NULL);
  g_assert_cmpuint (ctl_fixture_plugin_uint (&f->ctl, "alpha", "ReloadCount"), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ctl/polkit-agent", Fixture, NULL, fixture_setup, test_agent, fixture_teardown);
  return g_test_run ();
}
