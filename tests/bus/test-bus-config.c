/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configs over D-Bus against the real daemon and dbus-daemon: the history
 * with who made each version, RestoreConfig, secrets kept from every local
 * reader (properties, GetManagedObjects, GetPluginConfig, the history and the
 * PropertiesChanged a listener sees, as uid nobody on the shipped policy)
 * but given to GetSecretConfig's authorized caller, "[redacted]" sent back
 * keeping the secret, and Rescan naming each file it refused.
 */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <systemd/sd-bus.h>

#include "hkp-test-bus.h"
#include "hkp-test-client.h"
#include "hkp-test-daemon.h"
#include "hkp-test-util.h"

#define SERVICE HKP_TEST_SERVICE
#define MANAGER_PATH HKP_TEST_MANAGER_PATH
#define MANAGER HKP_TEST_MANAGER
#define PLUGIN HKP_TEST_PLUGIN
#define SECRET "hunter2"

typedef struct {
  HkpTestTree tree;
  HkpTestBus *bus;
  HkpTestDaemon *daemon;
  sd_bus *client;
  char *vault; /* the object path of the plugin with a secret */
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  hkp_test_tree_init (&f->tree);
  hkp_test_tree_write_plugin (&f->tree, "vault",
                              "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"continue\", "
                              "\"password\": \"" SECRET "\", \"db\": {\"api_key\": \"" SECRET "\"}}}");
  f->vault = hkp_test_plugin_path ("vault");
}

/* Starts the daemon (own-uid rule) on a bus: permissive, or the strict system policy with our dbus/ files. */
static void
start (Fixture *f, gboolean permissive)
{
  g_autofree char *policy_dir = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "dbus", NULL);

  f->bus = hkp_test_bus_start (permissive, (const char *const[]){ policy_dir, NULL });
  f->daemon = hkp_test_tree_start_daemon (&f->tree, f->bus->address, NULL);
  hkp_test_daemon_wait_line (f->daemon, "ready");
  f->client = hkp_test_client_new (f->bus->address);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->client, sd_bus_flush_close_unref);
  if (f->daemon != NULL)
    hkp_test_daemon_stop (f->daemon);
  g_clear_pointer (&f->daemon, hkp_test_daemon_free);
  g_clear_pointer (&f->bus, hkp_test_bus_stop);
  hkp_test_tree_clear (&f->tree);
  g_free (f->vault);
}

/* Calls a plugin method with one uint32 argument; NULL or "ErrorName: message" (caller frees). */
static char *
call_u (Fixture *f, const char *path, const char *member, guint32 value)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;

  if (sd_bus_call_method (f->client, SERVICE, path, PLUGIN, member, &error, &reply, "u", value) < 0)
    return g_strdup_printf ("%s: %s", error.name, error.message);
  return NULL;
}

typedef struct {
  guint64 time;
  guint version;
  char *who;
  char *config;
} Entry;

static void
entry_clear (Entry *entry)
{
  g_free (entry->who);
  g_free (entry->config);
}

/* Reads GetConfigHistory of path into an array of Entry, newest first. */
static GArray *
history (Fixture *f, const char *path)
{
  g_autoptr (sd_bus_message) reply = NULL;
  GArray *entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  uint64_t time;
  uint32_t version;
  const char *who, *config;

  g_array_set_clear_func (entries, (GDestroyNotify) entry_clear);
  g_assert_null (hkp_test_call (f->client, path, PLUGIN, "GetConfigHistory", NULL, NULL, &reply));
  g_assert_cmpint (sd_bus_message_enter_container (reply, 'a', "(tuss)"), >, 0);
  while (sd_bus_message_read (reply, "(tuss)", &time, &version, &who, &config) > 0)
    {
      Entry entry = { time, version, g_strdup (who), g_strdup (config) };
      g_array_append_val (entries, entry);
    }
  return entries;
}

static void
test_history_and_restore (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) entries = NULL;
  g_autofree char *config = NULL;
  gint64 before = g_get_real_time ();

  start (f, TRUE);
  g_assert_null (hkp_test_call (f->client, f->vault, PLUGIN, "SetConfig",
                                "{\"verdict\": \"deny\", \"password\": \"[redacted]\", "
                                "\"db\": {\"api_key\": \"[redacted]\"}}",
                                NULL, NULL));
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->vault, PLUGIN, "ConfigVersion", 'u'), ==, 2);

  entries = history (f, f->vault);
  g_assert_cmpuint (entries->len, ==, 2);
  g_assert_cmpuint (g_array_index (entries, Entry, 0).version, ==, 2);
  g_assert_cmpstr (g_array_index (entries, Entry, 0).who, ==, "uid 0 via D-Bus");
  g_assert_cmpuint (g_array_index (entries, Entry, 0).time, >=, (guint64) before);
  g_assert_nonnull (strstr (g_array_index (entries, Entry, 0).config, "\"deny\""));
  g_assert_cmpuint (g_array_index (entries, Entry, 1).version, ==, 1);
  g_assert_cmpstr (g_array_index (entries, Entry, 1).who, ==, "file at start");
  for (guint i = 0; i < entries->len; i++)
    g_assert_null (strstr (g_array_index (entries, Entry, i).config, SECRET));

  /* Back to version 1, as a new version 3; the secret sent back as "[redacted]" was kept all along. */
  g_assert_null (call_u (f, f->vault, "RestoreConfig", 1));
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->vault, PLUGIN, "ConfigVersion", 'u'), ==, 3);
  g_assert_null (hkp_test_call (f->client, f->vault, PLUGIN, "GetSecretConfig", NULL, NULL, NULL));
  {
    g_autoptr (sd_bus_message) reply = NULL;
    g_assert_null (hkp_test_call (f->client, f->vault, PLUGIN, "GetSecretConfig", NULL, NULL, &reply));
    config = hkp_test_reply_string (reply);
  }
  g_assert_cmpstr (config, ==,
                   "{\"verdict\":\"continue\",\"password\":\"" SECRET "\",\"db\":{\"api_key\":\"" SECRET "\"}}");
  hkp_test_assert_error (call_u (f, f->vault, "RestoreConfig", 99), "org.hkp.PluginManager1.Error.Failed", "99");
  hkp_test_daemon_wait_line (f->daemon, "restore of plugin vault by uid 0 via D-Bus: done");
  hkp_test_daemon_wait_line (f->daemon, "secret config read of plugin vault by uid 0 via D-Bus: done");
}

/* Reads, as uid nobody, everything any local user may read about the vault: none of it holds the secret. */
/*
 * Any local user may read the history: with 40 versions of a config near
 * the size limit, all of them would make a reply past the bus's 32 MiB, and
 * dbus-daemon would drop the daemon, check endpoint and all.  The list
 * keeps to the newest versions that fit 8 MiB, and the daemon stays.
 */
static void
test_history_of_large_configs (Fixture *f, gconstpointer data)
{
  g_autofree char *padding = g_strnfill (900 * 1024, 'x');
  g_autoptr (GArray) entries = NULL;
  gsize listed = 0;

  start (f, FALSE);
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *config = g_strdup_printf ("{\"verdict\": \"continue\", \"n\": %u, \"padding\": \"%s\"}", i,
                                                 padding);
      g_assert_null (hkp_test_call (f->client, f->vault, PLUGIN, "SetConfig", config, NULL, NULL));
    }
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->vault, PLUGIN, "ConfigVersion", 'u'), ==, 41);
  entries = history (f, f->vault);
  g_assert_cmpuint (entries->len, >=, 8);
  g_assert_cmpuint (entries->len, <, 41);
  for (guint i = 0; i < entries->len; i++)
    {
      g_assert_cmpuint (g_array_index (entries, Entry, i).version, ==, 41 - i);
      listed += strlen (g_array_index (entries, Entry, i).config);
    }
  g_assert_cmpuint (listed, <=, 8 * 1024 * 1024);
  /* Still on the bus, and every version still restores. */
  g_assert_null (call_u (f, f->vault, "RestoreConfig", 1));
  g_assert_cmpuint (hkp_test_get_uint (f->client, f->vault, PLUGIN, "ConfigVersion", 'u'), ==, 42);
}

/*
 * Many plugins with large configs: every plugin's properties in one
 * GetManagedObjects reply would pass the bus's 32 MiB, and dbus-daemon would
 * drop the daemon, check endpoint and all, for any local user's call.  The
 * call is refused with a message that says why, and the daemon stays.
 */
static void
test_objects_of_large_configs (Fixture *f, gconstpointer data)
{
  const char *get_objects[] = {
    "call", SERVICE, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL
  };
  g_autofree char *out = NULL, *err = NULL;

  hkp_test_tree_write_large_plugins (&f->tree, "large", 40, 900 * 1024);
  start (f, FALSE);
  g_assert_false (hkp_test_busctl_as (f->bus->address, 65534, get_objects, &out, &err));
  g_assert_nonnull (strstr (err, "too large"));
  /* Still on the bus, serving each plugin's properties. */
  {
    g_autofree char *path = hkp_test_plugin_path ("large39");
    g_autofree char *config = hkp_test_get_string (f->client, path, PLUGIN, "Config");
    g_assert_cmpuint (strlen (config), >, 900 * 1024);
  }
  /* With fewer of them the reply fits, and comes. */
  for (guint i = 15; i < 40; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/large%02u.json", f->tree.config_dir, i);
      g_assert_cmpint (g_unlink (file), ==, 0);
    }
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "Rescan", NULL, NULL, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (hkp_test_busctl_as (f->bus->address, 65534, get_objects, &out, &err));
  g_assert_nonnull (strstr (out, "large14"));
  g_assert_null (strstr (out, "large15"));
}

/*
 * Plugin files that do not load, each with a name near the size limit where
 * a module's belongs: every plugin's error quoted it, twice in GetHealth's
 * JSON (its message and last_error), and twenty of them made a reply past
 * the bus's 32 MiB, so dbus-daemon dropped the daemon, check endpoint and
 * all, for any local user's call.  LastError and health messages are kept
 * to 4 KiB, and GetHealth comes.
 */
static void
test_health_of_long_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *module = g_strnfill (1000 * 1024, 'm');
  const char *get_health[] = { "call", SERVICE, MANAGER_PATH, MANAGER, "GetHealth", NULL };
  const char *get_status[] = { "call", SERVICE, MANAGER_PATH, MANAGER, "GetStatus", NULL };
  g_autofree char *out = NULL, *err = NULL;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("broken%02u", i);
      g_autofree char *json = g_strdup_printf ("{\"module\": \"%s.so\", \"config\": {}}", module);
      hkp_test_tree_write_plugin (&f->tree, name, json);
    }
  start (f, FALSE);
  g_assert_true (hkp_test_busctl_as (f->bus->address, 65534, get_health, &out, &err));
  g_assert_nonnull (strstr (out, "broken19"));
  g_assert_cmpuint (strlen (out), <, 1024 * 1024);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (hkp_test_busctl_as (f->bus->address, 65534, get_status, &out, &err));
  g_assert_nonnull (strstr (out, "total_plugins"));
  {
    g_autofree char *path = hkp_test_plugin_path ("broken19");
    g_autofree char *last_error = hkp_test_get_string (f->client, path, PLUGIN, "LastError");
    g_assert_cmpuint (strlen (last_error), <=, 4096);
    g_assert_true (g_str_has_suffix (last_error, "…"));
    g_assert_nonnull (strstr (last_error, "mmmm"));
  }
}

typedef struct {
  guint answered;
  guint refused; /* LimitsExceeded */
  guint failed; /* any other error */
} Replies;

static int
on_reply (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  Replies *replies = userdata;
  const sd_bus_error *error = sd_bus_message_get_error (reply);

  if (error == NULL)
    replies->answered++;
  else if (sd_bus_error_has_name (error, SD_BUS_ERROR_LIMITS_EXCEEDED))
    replies->refused++;
  else
    {
      g_test_message ("%s: %s", error->name, error->message);
      replies->failed++;
    }
  return 0;
}

/* Sends n GetAll calls of the plugins big00…big03 on client, each counted in replies when (if ever) read. */
static void
ask_without_reading (sd_bus *client, guint n, Replies *replies)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = g_strdup_printf ("/org/hkp/PluginManager1/plugin/big%02u", i % 4);
      g_assert_cmpint (sd_bus_call_method_async (client, NULL, SERVICE, path, "org.freedesktop.DBus.Properties",
                                                 "GetAll", on_reply, replies, "s", PLUGIN),
                       >=, 0);
    }
  g_assert_cmpint (sd_bus_flush (client), >=, 0);
}

/* Reads client's replies until n have come. */
static void
read_replies (sd_bus *client, const Replies *replies, guint n)
{
  while (replies->answered + replies->refused + replies->failed < n)
    {
      int r = sd_bus_process (client, NULL);
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        g_assert_cmpint (sd_bus_wait (client, UINT64_MAX), >=, 0);
    }
}

/* Returns the most resident memory process pid has used so far, in KiB. */
static guint64
peak_rss_kib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "\nVmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmHWM:"), NULL, 10);
}

/*
 * Clients that ask for large replies and do not read them: dbus-daemon
 * counts unread replies against the daemon and stops reading from it past
 * its max_incoming_bytes (127 MiB), so the daemon's side of the bus waits
 * until they read or go; that is dbus-daemon's.  But every call answered
 * meanwhile waited in the daemon's memory, without bound (four such
 * clients: 360 MB).  Calls are refused while the bus is not taking the
 * daemon's replies, and all is well again once the clients read.
 */
static void
test_unread_replies (Fixture *f, gconstpointer data)
{
  const guint per_client = 120; /* the system bus lets a client wait for 128 replies at most */
  Replies replies[4] = { { 0 } };
  sd_bus *clients[4];
  guint64 before;

  hkp_test_tree_write_large_plugins (&f->tree, "big", 4, 900 * 1024);
  start (f, FALSE);
  before = peak_rss_kib (hkp_test_daemon_get_pid (f->daemon));
  for (guint i = 0; i < 4; i++)
    {
      clients[i] = hkp_test_client_new (f->bus->address);
      ask_without_reading (clients[i], per_client, &replies[i]);
    }
  hkp_test_daemon_wait_line (f->daemon, "calls are refused until it does");
  for (guint i = 0; i < 4; i++)
    {
      read_replies (clients[i], &replies[i], per_client);
      g_test_message ("client %u: %u answered, %u refused", i, replies[i].answered, replies[i].refused);
      g_assert_cmpuint (replies[i].failed, ==, 0);
      sd_bus_flush_close_unref (clients[i]);
    }
  g_assert_cmpuint (replies[0].answered, ==, per_client);
  g_assert_cmpuint (replies[3].refused, >, 0);
  /* Each of the 64 replies waiting is about 1 MiB; without the limit, every one of the 480 would have. */
  g_assert_cmpuint (peak_rss_kib (hkp_test_daemon_get_pid (f->daemon)) - before, <, 160 * 1024);
  g_assert_null (hkp_test_call (f->client, MANAGER_PATH, MANAGER, "GetStatus", NULL, NULL, NULL));
}

static void
assert_reads_redacted (Fixture *f)
{
  static const char *const reads[][8] = {
    { "get-property", SERVICE, NULL, PLUGIN, "Config", NULL },
    { "call", SERVICE, MANAGER_PATH, MANAGER, "GetPluginConfig", "s", "vault", NULL },
    { "call", SERVICE, NULL, PLUGIN, "GetConfigHistory", NULL },
    { "call", SERVICE, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (reads); i++)
    {
      const char *args[8];
      g_autofree char *out = NULL, *err = NULL;

      memcpy (args, reads[i], sizeof args);
      if (args[2] == NULL)
        args[2] = f->vault;
      g_assert_true (hkp_test_busctl_as (f->bus->address, 65534, args, &out, &err));
      g_assert_nonnull (strstr (out, "[redacted]"));
      if (strstr (out, SECRET) != NULL)
        g_error ("%s %s shows the secret to nobody: %s", args[0], args[4], out);
    }
}

static void
test_secrets_kept_from_local_users (Fixture *f, gconstpointer data)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) monitor = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autoptr (GString) seen = g_string_new (NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  char *line;

  if (getuid () != 0)
    {
      g_test_skip ("needs root: runs clients as nobody with setpriv, and the shipped policy");
      return;
    }
  start (f, FALSE);
  assert_reads_redacted (f);

  /* A listener as nobody sees the change announced, never the secret in it. */
  launcher = hkp_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  monitor = g_subprocess_launcher_spawn (launcher, &error, "setpriv", "--reuid=65534", "--regid=65534",
                                         "--clear-groups", "gdbus", "monitor", "--address", f->bus->address, "--dest",
                                         SERVICE, NULL);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (monitor));
  while ((line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, NULL)) != NULL &&
         strstr (line, "is owned by") == NULL)
    g_free (line);
  g_assert_nonnull (line);
  g_free (line);
  g_assert_null (hkp_test_call (f->client, f->vault, PLUGIN, "SetConfig",
                                "{\"verdict\": \"continue\", \"password\": \"" SECRET "2\", "
                                "\"db\": {\"api_key\": \"[redacted]\"}}",
                                NULL, NULL));
  while ((line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, NULL)) != NULL)
    {
      g_string_append_printf (seen, "%s\n", line);
      if (strstr (line, "ConfigVersion") != NULL)
        break;
      g_free (line);
    }
  g_assert_nonnull (line);
  g_free (line);
  g_subprocess_force_exit (monitor);
  g_subprocess_wait (monitor, NULL, NULL);
  g_assert_nonnull (strstr (seen->str, "'Config'"));
  if (strstr (seen->str, SECRET) != NULL)
    g_error ("nobody's listener saw the secret: %s", seen->str);
  assert_reads_redacted (f);

  /* GetSecretConfig is refused to nobody (with --no-polkit only the daemon's uid may), given to root. */
  g_assert_false (hkp_test_busctl_as (
    f->bus->address, 65534, (const char *const[]){ "call", SERVICE, f->vault, PLUGIN, "GetSecretConfig", NULL }, &out,
    &err));
  g_assert_nonnull (strstr (err, "Access denied"));
  g_assert_true (hkp_test_busctl_as (
    f->bus->address, 0, (const char *const[]){ "call", SERVICE, f->vault, PLUGIN, "GetSecretConfig", NULL }, &out,
    &err));
  g_assert_nonnull (strstr (out, SECRET "2"));
}

static void
test_rescan_names_refused_files (Fixture *f, gconstpointer data)
{
  g_autofree char *error = NULL;

  start (f, TRUE);
  hkp_test_tree_write_plugin (&f->tree, "added", "{\"module\": \"answer.so\"}");
  hkp_test_tree_write_plugin (&f->tree, "typo", "{\"module\": \"answer.so\", \"priority\": \"high\"}");
  error = hkp_test_call (f->client, MANAGER_PATH, MANAGER, "Rescan", NULL, NULL, NULL);
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error, "org.hkp.PluginManager1.Error.InvalidConfig: "));
  g_assert_nonnull (strstr (error, "typo.json"));
  g_assert_nonnull (strstr (error, "\"priority\" must be an integer"));
  g_assert_null (strstr (error, "added.json"));
  /* The good file was applied all the same. */
  {
    g_autofree char *added = hkp_test_plugin_path ("added");
    g_autofree char *state = hkp_test_get_string (f->client, added, PLUGIN, "State");
    g_assert_cmpstr (state, ==, "active");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), teardown)
  ADD ("/bus-config/history-and-restore", test_history_and_restore);
  ADD ("/bus-config/history-of-large-configs", test_history_of_large_configs);
  ADD ("/bus-config/objects-of-large-configs", test_objects_of_large_configs);
  ADD ("/bus-config/health-of-long-errors", test_health_of_long_errors);
  ADD ("/bus-config/unread-replies", test_unread_replies);
  ADD ("/bus-config/secrets-kept-from-local-users", test_secrets_kept_from_local_users);
  ADD ("/bus-config/rescan-names-refused-files", test_rescan_names_refused_files);
#undef ADD
  return g_test_run ();
}
