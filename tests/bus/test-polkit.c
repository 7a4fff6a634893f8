/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit authorization of every change over D-Bus, against python3-dbusmock's
 * polkitd template (allowed, denied, challenge with and without interactive
 * authorization, absent, hanging, many pending, caller gone; the subject,
 * action, detail and flags we send) and against the real polkitd with a
 * rules file (nobody may reload, www-data may not, root may do anything).
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-util.h"

#define AUTHORITY_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define INTERACTIVE_REQUIRED "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  GSubprocess *polkit;
  HkpTestDaemon *daemon;
  sd_bus *client;
  char *alpha;
  char *rules_file; /* real polkitd: removed at teardown */
  char *installed_policy; /* real polkitd: removed at teardown */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  hkp_test_tree_write_plugin (&f->tree, "alpha", "{\"module\": \"answer.so\"}");
  hkp_test_tree_write_plugin (&f->tree, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  f->alpha = hkp_test_plugin_path ("alpha");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_flush_close_unref);
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  if (f->polkit != NULL)
    {
      g_subprocess_send_signal (f->polkit, SIGTERM);
      g_subprocess_wait (f->polkit, NULL, NULL);
      g_clear_object (&f->polkit);
    }
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  if (f->rules_file != NULL)
    g_unlink (f->rules_file);
  if (f->installed_policy != NULL)
    g_unlink (f->installed_policy);
  hkp_test_tree_clear (&f->tree);
  g_free (f->alpha);
  g_free (f->rules_file);
  g_free (f->installed_policy);
}

static int
on_name_owner_changed (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read (message, "sss", &name, &old_owner, &new_owner) > 0 && new_owner[0] != '\0')
    *(gboolean *) userdata = TRUE;
  return 0;
}

/* Starts argv on the bus (as the bus's system bus) and waits until it owns POLKIT_NAME. */
static GSubprocess *
start_polkit (Fixture *f, const char *const *argv)
{
  g_autoptr (sd_bus) watcher = hkp_test_client_new (f->bus->address);
  g_autoptr (GSubprocessLauncher) launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr (GError) error = NULL;
  gboolean owned = FALSE;
  GSubprocess *process;

  g_assert_cmpint (sd_bus_match_signal (watcher, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, &owned),
                   >=, 0);
  g_assert_cmpint (sd_bus_flush (watcher), >=, 0);
  g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->bus->address, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  while (!owned)
    {
      int r = sd_bus_process (watcher, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (watcher, 30 * G_USEC_PER_SEC), >, 0);
    }
  return process;
}

static void
start_mock (Fixture *f)
{
  f->polkit = start_polkit (
    f, (const char *const[]){ "/usr/bin/python3", "-m", "dbusmock", "--system", "--template", "polkitd", NULL });
}

/* Starts the daemon with polkit on (no --no-polkit), giving polkit timeout_sec to answer. */
static void
start_daemon_with_timeout (Fixture *f, const char *timeout_sec)
{
  g_autoptr (GPtrArray) argv = hkp_test_tree_argv (&f->tree, f->bus->address, NULL);

  /* The daemon reads this at each check; the child inherits it. */
  g_setenv ("HKP_PLUGIND_POLKIT_TIMEOUT_SEC", timeout_sec, TRUE);
  f->daemon = hkp_test_daemon_start ((const char *const *) argv->pdata, -1);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);
}

static void
start_daemon (Fixture *f)
{
  start_daemon_with_timeout (f, "60");
}

static void
mock_call (Fixture *f, const char *member, const char *types, ...)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) request = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  va_list ap;

  g_assert_cmpint (sd_bus_message_new_method_call (f->client, &request, POLKIT_NAME, AUTHORITY_PATH,
                                                   "org.freedesktop.DBus.Mock", member),
                   >=, 0);
  va_start (ap, types);
  g_assert_cmpint (sd_bus_message_appendv (request, types, ap), >=, 0);
  va_end (ap);
  if (sd_bus_call (f->client, request, 0, &error, &reply) < 0)
    g_error ("%s: %s", member, error.message);
}

/* Returns what the mock recorded of CheckAuthorization calls, as gdbus prints it (caller frees). */
static char *
recorded_checks (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL,
                               (char *[]){ "gdbus", "call", "--address", f->bus->address, "--dest", POLKIT_NAME,
                                           "--object-path", AUTHORITY_PATH, "--method",
                                           "org.freedesktop.DBus.Mock.GetMethodCalls", "CheckAuthorization", NULL },
                               NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &status, &error));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("\"%s\" lacks \"%s\"", haystack, needle);
}

/* ---- the mock ----------------------------------------------------------- */

static void
test_allowed (Fixture *f, gconstpointer data)
{
  g_autofree char *checks = NULL, *expected = NULL;
  const char *unique = NULL;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_mock (f);
  start_daemon (f);
  mock_call (f, "SetAllowed", "as", 1, "org.hkp.PluginManager1.reload");
  g_assert_null (
    hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "alpha", NULL, NULL));
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ReloadCount", 'u'), ==, 1);

  /* We asked about the caller's bus name, the reload action and the plugin, without interaction. */
  g_assert_cmpint (sd_bus_get_unique_name (f->client, &unique), >=, 0);
  checks = recorded_checks (f);
  expected = g_strdup_printf ("[<('system-bus-name', {'name': <'%s'>})>, <'org.hkp.PluginManager1.reload'>, "
                              "<{'plugin': 'alpha'}>, <uint32 0>, <''>]",
                              unique);
  assert_contains (checks, expected);

  /* The caller's allow-interactive-authorization flag is passed on. */
  g_assert_cmpint (sd_bus_set_allow_interactive_authorization (f->client, 1), >=, 0);
  g_assert_null (hkp_test_call (f->client, f->alpha, HKP_TEST_PLUGIN, "Reload", NULL, NULL, NULL));
  g_free (checks);
  checks = recorded_checks (f);
  assert_contains (checks, "<{'plugin': 'alpha'}>, <uint32 1>, <''>]");
  hkp_test_daemon_wait_line (f->daemon, "polkit: reload of plugin alpha by");
}

static void
test_denied (Fixture *f, gconstpointer data)
{
  g_autofree char *checks = NULL;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_mock (f);
  start_daemon (f);
  /* Only reload is allowed: configure and manage are not. */
  mock_call (f, "SetAllowed", "as", 1, "org.hkp.PluginManager1.reload");
  hkp_test_assert_error (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "SetPluginConfig", "alpha",
                                        "{\"verdict\": \"deny\"}", NULL),
                         ACCESS_DENIED, "not authorized for org.hkp.PluginManager1.configure");
  hkp_test_assert_error (
    hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "EnablePlugin", "off", NULL, NULL),
    ACCESS_DENIED, "not authorized for org.hkp.PluginManager1.manage");
  hkp_test_assert_error (hkp_test_call (f->client, f->alpha, HKP_TEST_PLUGIN, "RollbackConfig", NULL, NULL, NULL),
                         ACCESS_DENIED, "org.hkp.PluginManager1.configure");
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ConfigVersion", 'u'), ==, 1);
  /* Rescan is a reload action and has no plugin detail. */
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "Rescan", NULL, NULL, NULL));
  checks = recorded_checks (f);
  assert_contains (checks, "<'org.hkp.PluginManager1.reload'>, <@a{ss} {}>");
  assert_contains (checks, "<'org.hkp.PluginManager1.manage'>, <{'plugin': 'off'}>");
  hkp_test_daemon_wait_line (f->daemon, "enable of plugin off by uid 0 via D-Bus (");
  g_assert_cmpint (
    hkp_test_daemon_find (f->daemon, ") refused: polkit: not authorized for org.hkp.PluginManager1.manage"), >=, 0);
}

static void
test_challenge (Fixture *f, gconstpointer data)
{
  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_mock (f);
  start_daemon (f);
  /* polkit would authorize after authentication. */
  mock_call (f, "AddMethod", "sssss", "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", "(sa{sv})sa{ss}us",
             "(bba{ss})", "ret = (False, True, {})");
  hkp_test_assert_error (
    hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "alpha", NULL, NULL),
    INTERACTIVE_REQUIRED, "needs interactive authorization");
  /* Interaction was allowed and still no authorization came: no. */
  g_assert_cmpint (sd_bus_set_allow_interactive_authorization (f->client, 1), >=, 0);
  hkp_test_assert_error (
    hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "alpha", NULL, NULL),
    ACCESS_DENIED, "not authorized for org.hkp.PluginManager1.reload");
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ReloadCount", 'u'), ==, 0);
}

static void
test_absent (Fixture *f, gconstpointer data)
{
  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_daemon (f);
  hkp_test_assert_error (
    hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "alpha", NULL, NULL),
    ACCESS_DENIED, "polkit could not be asked (org.freedesktop.DBus.Error.ServiceUnknown");
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ReloadCount", 'u'), ==, 0);
}

static void
test_hang (Fixture *f, gconstpointer data)
{
  g_autoptr (sd_bus_message) reply = NULL;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_mock (f);
  start_daemon_with_timeout (f, "1");
  mock_call (f, "SetAllowed", "as", 1, "org.hkp.PluginManager1.reload");
  mock_call (f, "SimulateHang", "b", TRUE);
  /* The daemon gives polkit 1 s in this test. */
  hkp_test_assert_error (
    hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "alpha", NULL, NULL),
    ACCESS_DENIED, "polkit could not be asked");
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ReloadCount", 'u'), ==, 0);
  mock_call (f, "ReleaseHangingCalls", "");
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "GetStatus", NULL, NULL, &reply));
}

typedef struct {
  guint replies;
  guint ok;
} Tally;

static int
on_tally (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Tally *tally = userdata;

  tally->replies++;
  tally->ok += !sd_bus_message_is_method_error (reply, NULL);
  return 0;
}

static void
test_many_pending_and_caller_gone (Fixture *f, gconstpointer data)
{
  Tally tally = { 0 };
  g_autoptr (sd_bus) leaver = NULL;
  g_autoptr (sd_bus_message) status = NULL;

  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_mock (f);
  start_daemon (f);
  mock_call (f, "SetAllowed", "as", 1, "org.hkp.PluginManager1.reload");
  mock_call (f, "SimulateHang", "b", TRUE);
  for (guint i = 0; i < 20; i++)
    g_assert_cmpint (sd_bus_call_method_async (f->client, NULL, HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH,
                                               HKP_TEST_MANAGER, "Rescan", on_tally, &tally, ""),
                     >=, 0);
  /* A caller that leaves while its check is pending. */
  leaver = hkp_test_client_new (f->bus->address);
  g_assert_cmpint (sd_bus_call_method_async (leaver, NULL, HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER,
                                             "ReloadPlugin", NULL, NULL, "s", "alpha"),
                   >=, 0);
  g_assert_cmpint (sd_bus_flush (leaver), >=, 0);
  g_assert_cmpint (sd_bus_flush (f->client), >=, 0);
  /* The daemon keeps answering while 21 checks wait. */
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "GetStatus", NULL, NULL, &status));
  g_clear_pointer (&leaver, sd_bus_flush_close_unref);
  /* Checks still on their way get answered at once; those waiting are released. */
  mock_call (f, "SimulateHang", "b", FALSE);
  mock_call (f, "ReleaseHangingCalls", "");
  while (tally.replies < 20)
    {
      int r = sd_bus_process (f->client, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (f->client, 10 * G_USEC_PER_SEC), >, 0);
    }
  g_assert_cmpuint (tally.ok, ==, 20);
  hkp_test_daemon_wait_line (f->daemon, "reload of plugin alpha by uid 0 via D-Bus: done");
}

/* Runs busctl as uid (65534 nobody, 33 www-data) on the test bus. */
#define BUSCTL_AS(uid, ...) \
  hkp_test_busctl_as (f->bus->address, (uid), (const char *const[]){ __VA_ARGS__, NULL }, &out, &err)

static int
on_mock_counted (sd_bus_message *message, void *userdata, sd_bus_error *ret_error)
{
  const char *method = NULL;

  if (sd_bus_message_read (message, "s", &method) > 0 && g_str_equal (method, "CheckAuthorization"))
    (*(guint *) userdata)++;
  return 0;
}

/* Processes f->client's messages until *count reaches n (bounded). */
static void
wait_count (Fixture *f, const guint *count, guint n)
{
  while (*count < n)
    {
      int r = sd_bus_process (f->client, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (f->client, 30 * G_USEC_PER_SEC), >, 0);
    }
}

/* Starts the bus, a polkit that never answers, and the daemon; counts the checks polkit is asked in *asked. */
static void
start_hanging (Fixture *f, guint *asked)
{
  f->bus = hkp_test_bus_start (TRUE, NULL);
  start_mock (f);
  start_daemon (f);
  mock_call (f, "SimulateHang", "b", TRUE);
  g_assert_cmpint (sd_bus_match_signal (f->client, NULL, POLKIT_NAME, AUTHORITY_PATH, "org.freedesktop.DBus.Mock",
                                        "MethodCalled", on_mock_counted, asked),
                   >=, 0);
}

/*
 * An unprivileged user's changes waiting for polkit are few: more are
 * refused at once, so that no local user fills the daemon's outstanding
 * polkit calls (dbus-daemon allows it 128) and locks the admins out; root's
 * still reach polkit.
 */
static void
test_unprivileged_waits_bounded (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  GPid waiting[4];
  guint asked = 0;

  if (getuid () != 0)
    {
      g_test_skip ("needs root: runs clients as nobody");
      return;
    }
  start_hanging (f, &asked);
  for (guint i = 0; i < G_N_ELEMENTS (waiting); i++)
    {
      g_autofree char *address = g_strdup_printf ("--address=%s", f->bus->address);
      const char *argv[] = {
        "setpriv", "--reuid=65534",  "--regid=65534",       "--clear-groups", "busctl",       address, "--timeout=120",
        "call",    HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "s",     "alpha",
        NULL
      };
      g_autoptr (GError) error = NULL;

      g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                      G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &waiting[i], &error));
      g_assert_no_error (error);
    }
  wait_count (f, &asked, G_N_ELEMENTS (waiting));
  /* A fifth is refused at once, never asked of polkit. */
  g_assert_false (
    BUSCTL_AS (65534, "call", HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "s", "alpha"));
  g_assert_nonnull (strstr (err, "too many changes are waiting for their authorization or outcome"));
  /* root's goes on to polkit. */
  g_assert_cmpint (sd_bus_call_method_async (f->client, NULL, HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER,
                                             "ReloadPlugin", NULL, NULL, "s", "alpha"),
                   >=, 0);
  wait_count (f, &asked, G_N_ELEMENTS (waiting) + 1);
  g_assert_cmpuint (asked, ==, G_N_ELEMENTS (waiting) + 1);
  /* And a config too large is refused at once too: nothing of it is kept while polkit is asked. */
  {
    g_autofree char *big = g_strdup_printf ("{\"x\": \"%0*d\"}", 2 * 1024 * 1024, 0);
    g_autofree char *alpha = hkp_test_plugin_path ("alpha");

    hkp_test_assert_error (hkp_test_call (f->client, alpha, HKP_TEST_PLUGIN, "SetConfig", big, NULL, NULL),
                           "org.hkp.PluginManager1.Error.InvalidConfig", "more than the 1048576 allowed");
  }
  mock_call (f, "SimulateHang", "b", FALSE);
  mock_call (f, "ReleaseHangingCalls", "");
  for (guint i = 0; i < G_N_ELEMENTS (waiting); i++)
    {
      int status;
      g_assert_cmpint (waitpid (waiting[i], &status, 0), ==, waiting[i]);
      g_spawn_close_pid (waiting[i]);
    }
}

static void
test_stop_while_pending (Fixture *f, gconstpointer data)
{
  guint asked = 0;

  start_hanging (f, &asked);
  g_assert_cmpint (sd_bus_call_method_async (f->client, NULL, HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER,
                                             "ReloadPlugin", NULL, NULL, "s", "alpha"),
                   >=, 0);
  wait_count (f, &asked, 1);
  /* Teardown stops the daemon now, with the check unanswered: it must still exit 0 (and leak nothing). */
}

/* ---- the real polkitd ----------------------------------------------------- */

/* Removes files prefix<pid>suffix in dir whose process is gone (left by a test run that crashed). */
static void
remove_stale (const char *dir, const char *prefix, const char *suffix)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  const char *entry;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    if (g_str_has_prefix (entry, prefix) && g_str_has_suffix (entry, suffix))
      {
        g_autofree char *proc = g_strdup_printf ("/proc/%" G_GUINT64_FORMAT,
                                                 g_ascii_strtoull (entry + strlen (prefix), NULL, 10));
        g_autofree char *path = g_build_filename (dir, entry, NULL);
        if (!g_file_test (proc, G_FILE_TEST_EXISTS))
          g_unlink (path);
      }
}

static void
test_real_polkitd (Fixture *f, gconstpointer data)
{
  g_autofree char *policy_source = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "polkit",
                                                     "org.hkp.PluginManager1.policy", NULL);
  g_autofree char *our_bus_policy = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "dbus", NULL);
  g_autofree char *rules = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;

  if (getuid () != 0)
    {
      g_test_skip ("needs root: installs a polkit rules file and runs clients as nobody and www-data");
      return;
    }
  if (!g_file_test ("/usr/lib/polkit-1/polkitd", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("polkitd is not installed (Debian package polkitd)");
      return;
    }
  /* Our actions and a rules file, both clearly named after this test run: nobody may reload;
   * www-data must authenticate to manage.  Files a crashed earlier run left behind go first. */
  remove_stale ("/usr/share/polkit-1/actions", "hkp-plugind-test-", ".policy");
  remove_stale ("/etc/polkit-1/rules.d", "10-hkp-plugind-test-", ".rules");
  f->installed_policy = g_strdup_printf ("/usr/share/polkit-1/actions/hkp-plugind-test-%d.policy", (int) getpid ());
  hkp_test_copy_file (policy_source, "/usr/share/polkit-1/actions", strrchr (f->installed_policy, '/') + 1);
  f->rules_file = g_strdup_printf ("/etc/polkit-1/rules.d/10-hkp-plugind-test-%d.rules", (int) getpid ());
  rules = g_strdup ("polkit.addRule(function(action, subject) {\n"
                    "  if (action.id == \"org.hkp.PluginManager1.reload\" && subject.user == \"nobody\")\n"
                    "    return polkit.Result.YES;\n"
                    "  if (action.id == \"org.hkp.PluginManager1.manage\" && subject.user == \"www-data\")\n"
                    "    return polkit.Result.AUTH_ADMIN;\n"
                    "});\n");
  g_assert_true (g_file_set_contents (f->rules_file, rules, -1, &error));
  g_assert_cmpint (g_chmod (f->rules_file, 0644), ==, 0);

  /* A strict system bus: real defaults, our policy and polkit's. */
  f->bus = hkp_test_bus_start (FALSE, (const char *const[]){ our_bus_policy, "/usr/share/dbus-1/system.d", NULL });
  f->polkit = start_polkit (f, (const char *const[]){ "/usr/lib/polkit-1/polkitd", "--no-debug", NULL });
  start_daemon (f);

  /* Both may read. */
  g_assert_true (BUSCTL_AS (65534, "get-property", HKP_TEST_SERVICE, f->alpha, HKP_TEST_PLUGIN, "State"));
  g_assert_cmpstr (out, ==, "s \"active\"\n");
  g_assert_true (BUSCTL_AS (33, "get-property", HKP_TEST_SERVICE, f->alpha, HKP_TEST_PLUGIN, "Config"));
  /* nobody may reload. */
  g_assert_true (
    BUSCTL_AS (65534, "call", HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "s", "alpha"));
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ReloadCount", 'u'), ==, 1);
  /* www-data may not, and nothing changes. */
  g_assert_false (
    BUSCTL_AS (33, "call", HKP_TEST_SERVICE, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "ReloadPlugin", "s", "alpha"));
  assert_contains (err, "Access denied");
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ReloadCount", 'u'), ==, 1);
  /* www-data would have to authenticate to manage: without interaction it is told so. */
  g_assert_false (BUSCTL_AS (33, "--allow-interactive-authorization=no", "call", HKP_TEST_SERVICE,
                             HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "EnablePlugin", "s", "off"));
  assert_contains (err, "org.hkp.PluginManager1.manage needs interactive authorization");
  /* root may do anything. */
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "SetPluginConfig", "alpha",
                                "{\"verdict\": \"allow\"}", NULL));
  g_assert_null (hkp_test_call (f->client, HKP_TEST_MANAGER_PATH, HKP_TEST_MANAGER, "EnablePlugin", "off", NULL, NULL));
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->alpha, HKP_TEST_PLUGIN, "ConfigVersion", 'u'), ==, 2);
  hkp_test_daemon_wait_line (f->daemon, "polkit: reload of plugin alpha by");
}

#undef BUSCTL_AS

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)
  ADD ("/polkit/mock/allowed", test_allowed);
  ADD ("/polkit/mock/denied", test_denied);
  ADD ("/polkit/mock/challenge", test_challenge);
  ADD ("/polkit/mock/absent", test_absent);
  ADD ("/polkit/mock/hang", test_hang);
  ADD ("/polkit/mock/many-pending-and-caller-gone", test_many_pending_and_caller_gone);
  ADD ("/polkit/mock/stop-while-pending", test_stop_while_pending);
  ADD ("/polkit/mock/unprivileged-waits-bounded", test_unprivileged_waits_bounded);
  ADD ("/polkit/real-polkitd", test_real_polkitd);
#undef ADD
  return g_test_run ();
}
