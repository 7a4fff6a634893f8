/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkp-pluginctl and polkit, against python3-dbusmock's polkitd template: on
 * a terminal a non-root caller gets polkit's text agent (pkttyagent, which
 * registers with polkit before the call) and the call allows interactive
 * authorization; --no-ask-password does neither; piped, no agent; root needs
 * none.  A refusal is said plainly, with exit 1.  With the real polkitd and
 * a rule that wants a password: --no-ask-password is told "Interactive
 * authentication required".
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ctl-fixture.h"

#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define AUTHORITY_PATH "/org/freedesktop/PolicyKit1/Authority"

typedef struct {
  CtlFixture ctl;
  GSubprocess *polkit;
  GDBusConnection *connection;
  char *policy; /* real polkitd: files installed for the test, removed at teardown */
  char *rules;
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
  if (f->policy != NULL)
    g_unlink (f->policy);
  if (f->rules != NULL)
    g_unlink (f->rules);
  g_free (f->policy);
  g_free (f->rules);
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

static void
on_owner_changed (GDBusConnection *connection, const char *sender, const char *path, const char *interface,
                  const char *signal, GVariant *parameters, gpointer user_data)
{
  const char *new_owner;

  g_variant_get (parameters, "(&s&s&s)", NULL, NULL, &new_owner);
  if (new_owner[0] != '\0')
    *(gboolean *) user_data = TRUE;
}

/* Waits until name has an owner on the fixture's bus. */
static void
wait_for_name (Fixture *f, const char *name)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  gboolean owned = FALSE;
  guint id = g_dbus_connection_signal_subscribe (f->connection, "org.freedesktop.DBus", "org.freedesktop.DBus",
                                                 "NameOwnerChanged", "/org/freedesktop/DBus", name,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, on_owner_changed, &owned, NULL);

  /* Subscribed first, then asked: an owner that came in between is not missed. */
  reply = g_dbus_connection_call_sync (f->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", name),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(b)", &owned);
  while (!owned)
    g_main_context_iteration (NULL, TRUE);
  g_dbus_connection_signal_unsubscribe (f->connection, id);
}

static GDBusConnection *
connect_to (const char *address)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL,
    &error);

  g_assert_no_error (error);
  return connection;
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
  f->connection = connect_to (f->ctl.bus->address);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->ctl.bus->address, TRUE);
  f->polkit = g_subprocess_launcher_spawn (launcher, &error, "/usr/bin/python3", "-m", "dbusmock", "--system",
                                           "--template", "polkitd", NULL);
  g_assert_no_error (error);
  wait_for_name (f, POLKIT_NAME);
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

/* ---- the real polkitd ----------------------------------------------------- */

static void
test_real_polkitd (Fixture *f, gconstpointer data)
{
  g_autofree char *policy_source = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "polkit",
                                                     "org.hkp.PluginManager1.policy", NULL);
  g_autofree char *our_bus_policy = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "dbus", NULL);
  g_autofree char *policy_name = g_strdup_printf ("hkp-pluginctl-test-%d.policy", (int) getpid ());
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr (GPtrArray) argv = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (CtlRun) run = { 0 };
  gint www_data = 33;

  if (getuid () != 0 || !g_file_test ("/usr/lib/polkit-1/polkitd", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs root and the real polkitd (Debian package polkitd)");
      return;
    }
  /* Our actions, and a rule that www-data must authenticate to manage plugins; removed at teardown. */
  f->policy = g_build_filename ("/usr/share/polkit-1/actions", policy_name, NULL);
  f->rules = g_strdup_printf ("/etc/polkit-1/rules.d/10-hkp-pluginctl-test-%d.rules", (int) getpid ());
  hkp_test_copy_file (policy_source, "/usr/share/polkit-1/actions", policy_name);
  g_assert_true (
    g_file_set_contents (f->rules,
                         "polkit.addRule(function(action, subject) {\n"
                         "  if (action.id == \"org.hkp.PluginManager1.manage\" && subject.user == \"www-data\")\n"
                         "    return polkit.Result.AUTH_ADMIN;\n"
                         "});\n",
                         -1, &error));
  f->ctl.bus = hkp_test_bus_start (FALSE, (const char *const[]){ our_bus_policy, "/usr/share/dbus-1/system.d", NULL });
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->ctl.bus->address, TRUE);
  f->connection = connect_to (f->ctl.bus->address);
  f->polkit = g_subprocess_launcher_spawn (launcher, &error, "/usr/lib/polkit-1/polkitd", "--no-debug", NULL);
  g_assert_no_error (error);
  wait_for_name (f, POLKIT_NAME);
  argv = hkp_test_tree_argv (&f->ctl.tree, f->ctl.bus->address, NULL);
  f->ctl.daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  hkp_test_daemon_wait_line (f->ctl.daemon, "ready");
  f->ctl.client = hkp_test_client_new (f->ctl.bus->address);

  /* Without a password prompt allowed: told so, with what to do. */
  ctl_fixture_run (&f->ctl, &run, www_data, NULL, NULL, "--no-ask-password", "enable", "off", NULL);
  ctl_assert_run (&run, 1, "Failed to enable plugin off: Interactive authentication required");
  g_assert_nonnull (strstr (run.err, "without --no-ask-password"));
  /* On a terminal the call allows interaction: polkit's answer is then its own (no one typed a
   * password here), not "interaction required". */
  ctl_fixture_run_pty (&f->ctl, &run, www_data, NULL, (const char *const[]){ "enable", "off", NULL });
  ctl_assert_run (&run, 1, NULL);
  g_assert_nonnull (strstr (run.out, "Failed to enable plugin off: Access denied"));
  /* Nothing changed either way. */
  {
    g_autofree char *state = ctl_fixture_plugin_string (&f->ctl, "off", "State");
    g_assert_cmpstr (state, ==, "disabled");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ctl/polkit-agent", Fixture, NULL, fixture_setup, test_agent, fixture_teardown);
  g_test_add ("/ctl/polkit-real", Fixture, NULL, fixture_setup, test_real_polkitd, fixture_teardown);
  return g_test_run ();
}
