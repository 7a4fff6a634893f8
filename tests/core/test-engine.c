/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry and loader with real plugin modules: every kind of bad plugin
 * file fails alone with a message naming the file and the problem, 200
 * plugins load in order, replaced modules are really reloaded, and shutdown
 * goes in reverse priority order.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "hkp-engine.h"
#include "hkp-error.h"
#include "hkp-log.h"
#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

static void
write_plugin (Fixture *f, const char *name, const char *json)
{
  engine_fixture_write_plugin (f, name, json);
}

static char *
write_plugin_path (Fixture *f, const char *name, const char *json)
{
  return engine_fixture_write_plugin_path (f, name, json);
}

static void
start (Fixture *f)
{
  engine_fixture_start (f, NULL);
}

static HkpPlugin *
lookup (Fixture *f, const char *name)
{
  return engine_fixture_lookup (f, name);
}

static void
assert_active (Fixture *f, const char *name)
{
  HkpPlugin *plugin = lookup (f, name);

  g_assert_cmpstr (hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)), ==, "active");
  g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==, "");
  g_assert_nonnull (hkp_plugin_get_instance (plugin));
}

/* Asserts the plugin failed, and that its LastError and the log both name its file and the problem. */
static void
assert_failed (Fixture *f, const char *name, const char *problem)
{
  HkpPlugin *plugin = lookup (f, name);
  g_autofree char *file = g_strdup_printf ("%s/%s.json", f->config_dir, name);
  const char *error = hkp_plugin_get_last_error (plugin);

  g_assert_cmpstr (hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)), ==, "failed");
  g_assert_null (hkp_plugin_get_instance (plugin));
  if (!g_str_has_prefix (error, file) || strstr (error, problem) == NULL)
    g_error ("LastError of %s is \"%s\"; expected it to start with %s and hold \"%s\"", name, error, file, problem);
  g_assert_true (hkp_test_log_contains_for_plugin (hkp_plugin_get_name (plugin), problem));
}

static void
test_loads_active (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;
  g_autofree char *module = NULL;

  write_plugin (f, "good", "{\"module\": \"answer.so\", \"priority\": 5, \"config\": {\"verdict\": \"allow\"}}");
  start (f);

  assert_active (f, "good");
  plugin = lookup (f, "good");
  module = g_build_filename (f->plugin_dir, "answer.so", NULL);
  g_assert_cmpstr (hkp_plugin_get_version (plugin), ==, "1.0");
  g_assert_cmpstr (hkp_plugin_get_description (plugin), ==, "Test plugin: answers every request as its config says");
  g_assert_true (g_str_has_suffix (hkp_plugin_get_module_path (plugin), "/plugins/answer.so"));
  g_assert_cmpint (hkp_plugin_get_priority (plugin), ==, 5);
  g_assert_true (hkp_test_log_contains_for_plugin ("good", "plugin good active"));
  /* The journal fields an admin filters on. */
  g_assert_true (hkp_test_log_has_fields (
    (const char *const[]){ "PLUGIN=good", "PLUGIN_STATE=active", "MESSAGE_ID=" HKP_MESSAGE_ID_STATE_CHANGED, NULL }));
}

/* One good plugin next to each bad one: the good one must stay active whatever the others do. */
static void
with_good_neighbour (Fixture *f)
{
  write_plugin (f, "neighbour", "{\"module\": \"answer.so\"}");
}

/* A bad plugin file or module: it fails alone, saying why, and a good neighbour stays active. */
typedef struct {
  const char *path; /* the test's path */
  const char *name; /* the plugin */
  const char *json; /* its file */
  const char *error; /* what its last error says */
  const char *also; /* and this too, or NULL */
} BadPlugin;

static const BadPlugin bad_plugins[] = {
  { "/engine/bad/invalid-json", "broken", "{\n  \"module\": \"answer.so\",\n  \"priority\": x\n}\n",
    "broken.json:3:", ":3:15: unexpected 'x', expected a value" },
  { "/engine/bad/not-object", "list", "[\"answer.so\"]", "the top level must be a JSON object, not array" },
  { "/engine/bad/unknown-key", "colourful", "{\"module\": \"answer.so\", \"colour\": \"red\"}",
    "unknown key \"colour\"" },
  { "/engine/bad/mistyped-key", "typed", "{\"module\": \"answer.so\", \"priority\": \"high\"}",
    "key \"priority\" must be an integer, not string" },
  { "/engine/bad/name", "Bad_Name", "{\"module\": \"answer.so\"}", "invalid plugin name \"Bad_Name\"" },
  { "/engine/bad/missing-module", "missing", "{\"module\": \"nope.so\"}",
    "module \"nope.so\" not found in the plugin directory" },
  { "/engine/bad/missing-entry", "noentry", "{\"module\": \"noentry.so\"}",
    "has no entry symbol hkp_plugin_entry(): it is not an hkp-plugind plugin" },
  /* badabi's init aborts the process if ever called: getting to the checks proves it was not. */
  { "/engine/bad/abi-mismatch", "badabi", "{\"module\": \"badabi.so\"}",
    "was built for plugin ABI version 999; this hkp-plugind supports version 1" },
  { "/engine/bad/init-error", "refuses",
    "{\"module\": \"failinit.so\", \"config\": {\"message\": \"database at db:5432 unreachable\"}}",
    "init failed: database at db:5432 unreachable" },
  { "/engine/bad/config-rejected", "rejected", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"maybe\"}}",
    "config rejected: key \"verdict\" must be" },
};

static void
test_bad_plugin (Fixture *f, gconstpointer data)
{
  const BadPlugin *bad = data;
  g_autofree char *plugin_field = g_strdup_printf ("PLUGIN=%s", bad->name);

  with_good_neighbour (f);
  write_plugin (f, bad->name, bad->json);
  start (f);
  assert_failed (f, bad->name, bad->error);
  if (bad->also != NULL)
    assert_failed (f, bad->name, bad->also);
  assert_active (f, "neighbour");
  g_assert_true (hkp_test_log_has_fields (
    (const char *const[]){ plugin_field, "PLUGIN_STATE=failed", "MESSAGE_ID=" HKP_MESSAGE_ID_STATE_CHANGED, NULL }));
}

static void
test_duplicate_name (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *other_dir = g_build_filename (f->root, "other", NULL);
  g_autofree char *first = write_plugin_path (f, "twin",
                                              "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\"}}");
  g_autofree char *second = hkp_test_write_file_path (other_dir, "twin.json", "{\"module\": \"failinit.so\"}");
  g_autofree char *expected = NULL;
  HkpPlugin *plugin;

  start (f);
  plugin = hkp_engine_add_file (f->engine, second, &error);
  g_assert_null (plugin);
  g_assert_error (error, HKP_ERROR, HKP_ERROR_DUPLICATE);
  expected = g_strdup_printf ("%s: a plugin named \"twin\" is already declared by %s", second, first);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_true (hkp_test_log_contains_for_plugin ("twin", expected));
  /* The first declaration is untouched. */
  assert_active (f, "twin");
  g_assert_cmpstr (hkp_plugin_get_file (lookup (f, "twin")), ==, first);
}

static void
test_module_outside (Fixture *f, gconstpointer data)
{
  g_autofree char *outside = g_build_filename (f->root, "elsewhere", NULL);
  g_autofree char *target = g_build_filename (outside, "answer.so", NULL);
  g_autofree char *link = g_build_filename (f->plugin_dir, "escape.so", NULL);
  g_autofree char *absolute = NULL;

  with_good_neighbour (f);
  hkp_test_install_plugins (outside);
  g_assert_cmpint (symlink (target, link), ==, 0);
  absolute = g_strdup_printf ("{\"module\": \"%s\"}", target);
  write_plugin (f, "absolute", absolute);
  write_plugin (f, "dotdot", "{\"module\": \"../elsewhere/answer.so\"}");
  write_plugin (f, "symlink", "{\"module\": \"escape.so\"}");
  start (f);
  assert_failed (f, "absolute", "is outside the plugin directory");
  assert_failed (f, "dotdot", "must not contain \"..\"");
  assert_failed (f, "symlink", "outside the plugin directory");
  assert_active (f, "neighbour");
}

static void
test_module_absolute_inside (Fixture *f, gconstpointer data)
{
  g_autofree char *json = g_strdup_printf ("{\"module\": \"%s/answer.so\"}", f->plugin_dir);

  write_plugin (f, "inside", json);
  start (f);
  assert_active (f, "inside");
}

static void
test_not_shared_object (Fixture *f, gconstpointer data)
{
  g_autofree char *junk = hkp_test_write_file_path (f->plugin_dir, "junk.so", "this is not an ELF file\n");

  with_good_neighbour (f);
  write_plugin (f, "junk", "{\"module\": \"junk.so\"}");
  start (f);
  assert_failed (f, "junk", "is not a loadable shared object");
  assert_active (f, "neighbour");
}

/* Writes the first length bytes of the test plugin answer.so to the plugin directory as name: a copy cut short. */
static void
write_cut_module (const char *plugin_dir, const char *name, gsize length)
{
  g_autofree char *whole = g_build_filename (plugin_dir, "answer.so", NULL);
  g_autofree char *cut = g_build_filename (plugin_dir, name, NULL);
  g_autofree char *data = NULL;
  gsize size = 0;

  g_assert_true (g_file_get_contents (whole, &data, &size, NULL));
  g_assert_cmpuint (size, >, length);
  g_assert_true (g_file_set_contents (cut, data, (gssize) length, NULL));
}

/*
 * A module cut short (an admin's cp still copying it) fails its plugin
 * alone: loaded as it is, it would be mapped past its end, and the first
 * touch of such a page kills the process (in the daemon: the daemon).
 */
static void
test_module_cut_short (Fixture *f, gconstpointer data)
{
  write_cut_module (f->plugin_dir, "cut.so", 1000);
  with_good_neighbour (f);
  write_plugin (f, "cut", "{\"module\": \"cut.so\"}");
  start (f);
  assert_failed (f, "cut", "is not a loadable shared object");
  assert_failed (f, "cut", "cut short (still being copied?)");
  assert_active (f, "neighbour");
}

static void
test_init_timeout (Fixture *f, gconstpointer data)
{
  with_good_neighbour (f);
  write_plugin (f, "slow",
                "{\"module\": \"sleeper.so\", \"init_timeout_sec\": 0.05, "
                "\"config\": {\"init_delay_ms\": 400}}");
  start (f);
  assert_failed (f, "slow", "loading and init did not finish within 0.05 s (init_timeout_sec)");
  assert_active (f, "neighbour");
  /* In the daemon, when the abandoned init finally returns, its instance is shut down, not leaked; a plugin
   * host is killed at the deadline itself. */
  if (g_str_equal (engine_fixture_isolation (), "none"))
    hkp_test_wait_log ("plugin slow finished init after its deadline; shutting that instance down");
}

static void
test_disabled (Fixture *f, gconstpointer data)
{
  HkpPlugin *plugin;

  write_plugin (f, "off", "{\"module\": \"answer.so\", \"config\": {\"enabled\": false}}");
  start (f);
  plugin = lookup (f, "off");
  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_DISABLED);
  g_assert_null (hkp_plugin_get_instance (plugin));
  g_assert_cmpstr (hkp_plugin_get_version (plugin), ==, "");
}

static void
test_empty_config_dir (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) list = NULL;

  hkp_test_write_file (f->config_dir, "README", "not a plugin file");
  start (f);
  list = hkp_engine_list_plugins (f->engine);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_true (hkp_test_log_contains ("holds no plugin files (<name>.json): no plugins loaded"));
}

static void
test_missing_config_dir (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) list = NULL;

  g_assert_cmpint (g_rmdir (f->config_dir), ==, 0);
  start (f);
  list = hkp_engine_list_plugins (f->engine);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_true (hkp_test_log_contains ("does not exist: no plugins loaded"));
}

static void
test_many_plugins (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) list = NULL;
  gint previous = -1;

  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *name = g_strdup_printf ("p%03u", i);
      /* Priorities run against the names, so order by name alone would be wrong. */
      g_autofree char *json = g_strdup_printf ("{\"module\": \"%s\", \"priority\": %u}",
                                               i % 2 ? "answer.so" : "health.so", (i * 37) % 101);
      write_plugin (f, name, json);
    }
  start (f);
  list = hkp_engine_list_plugins (f->engine);
  g_assert_cmpuint (list->len, ==, 200);
  for (guint i = 0; i < list->len; i++)
    {
      HkpPlugin *plugin = list->pdata[i];
      g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
      g_assert_cmpint (hkp_plugin_get_priority (plugin), >=, previous);
      previous = hkp_plugin_get_priority (plugin);
    }
  g_assert_true (hkp_test_log_contains ("200 plugins: 200 active, 0 disabled, 0 failed"));
}

static void
test_private_copy (Fixture *f, gconstpointer data)
{
  g_autofree char *v1 = g_build_filename (hkp_test_plugin_build_dir (), "answer.so", NULL);
  g_autofree char *v2 = g_build_filename (hkp_test_plugin_build_dir (), "answer-v2.so", NULL);
  g_autofree char *second = NULL;
  g_autoptr (GError) error = NULL;
  HkpPlugin *plugin;

  engine_fixture_replace_file (v1, f->plugin_dir, "swap.so");
  write_plugin (f, "first", "{\"module\": \"swap.so\"}");
  start (f);
  g_assert_cmpstr (hkp_plugin_get_version (lookup (f, "first")), ==, "1.0");

  /* Replace the file on disk while version 1.0 stays loaded, then load it again. */
  engine_fixture_replace_file (v2, f->plugin_dir, "swap.so");
  second = write_plugin_path (f, "second", "{\"module\": \"swap.so\"}");
  plugin = hkp_engine_add_file (f->engine, second, &error);
  g_assert_no_error (error);
  engine_fixture_wait_idle (f);

  g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_cmpstr (hkp_plugin_get_version (plugin), ==, "2.0");
  g_assert_cmpstr (hkp_plugin_get_version (lookup (f, "first")), ==, "1.0");
  g_assert_cmpstr (hkp_plugin_get_module_path (plugin), ==, hkp_plugin_get_module_path (lookup (f, "first")));
}

static void
test_manpage_example (Fixture *f, gconstpointer data)
{
  g_auto (HkpCheckResult) admin = { 0 };
  g_auto (HkpCheckResult) lookup = { 0 };
  g_autoptr (GAsyncResult) result = NULL;

  write_plugin (f, "blocker", "{ \"module\": \"manpage-example.so\", \"priority\": 5 }");
  start (f);
  assert_active (f, "blocker");
  hkp_engine_check_async (f->engine, "GET", "/admin/users", "", "192.0.2.1", NULL, NULL, hkp_test_store_result,
                          &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_check_finish (f->engine, result, &admin, NULL));
  g_assert_false (admin.allowed);
  g_assert_cmpuint (admin.status, ==, 403);
  g_assert_cmpstr (admin.reason, ==, "administrative paths are not served here");
  g_clear_object (&result);
  engine_fixture_check (f, &lookup);
  g_assert_true (lookup.allowed);
}

static void
on_removed (HkpEngine *engine, HkpPlugin *plugin, GPtrArray *order)
{
  g_ptr_array_add (order, g_strdup (hkp_plugin_get_name (plugin)));
}

static void
test_shutdown_order (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) order = g_ptr_array_new_with_free_func (g_free);
  const char *expected[] = { "c", "a", "b" };

  write_plugin (f, "a", "{\"module\": \"answer.so\", \"priority\": 20}");
  write_plugin (f, "b", "{\"module\": \"health.so\", \"priority\": 10}");
  write_plugin (f, "c", "{\"module\": \"sleeper.so\", \"priority\": 30}");
  start (f);
  g_signal_connect (f->engine, "plugin-removed", G_CALLBACK (on_removed), order);
  g_object_ref (f->engine);
  {
    g_autoptr (HkpEngine) engine = f->engine;
    engine_fixture_stop (f);
    g_signal_handlers_disconnect_by_data (engine, order);
  }
  g_assert_cmpuint (order->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpstr (order->pdata[i], ==, expected[i]);
  g_assert_true (hkp_test_log_contains_for_plugin ("c", "plugin c shut down"));
  g_assert_true (hkp_test_log_contains ("all plugins shut down"));
}

static void
test_copies_removed (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *entry;

  write_plugin (f, "a", "{\"module\": \"answer.so\"}");
  start (f);
  engine_fixture_stop (f);
  /* Only the state directory's own contents remain: no module copy is left behind. */
  dir = g_dir_open (f->state_dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((entry = g_dir_read_name (dir)) != NULL)
    g_assert_false (g_str_has_prefix (entry, "modules."));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();

#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/engine/loads-active", test_loads_active);
  for (guint i = 0; i < G_N_ELEMENTS (bad_plugins); i++)
    g_test_add (bad_plugins[i].path, Fixture, &bad_plugins[i], engine_fixture_setup, test_bad_plugin,
                engine_fixture_teardown);
  ADD ("/engine/bad/duplicate-name", test_duplicate_name);
  ADD ("/engine/bad/module-outside", test_module_outside);
  ADD ("/engine/bad/not-shared-object", test_not_shared_object);
  ADD ("/engine/bad/init-timeout", test_init_timeout);
  ADD ("/engine/module-absolute-inside", test_module_absolute_inside);
  ADD ("/engine/module-cut-short", test_module_cut_short);
  ADD ("/engine/disabled", test_disabled);
  ADD ("/engine/config-dir/empty", test_empty_config_dir);
  ADD ("/engine/config-dir/missing", test_missing_config_dir);
  ADD ("/engine/many-plugins", test_many_plugins);
  ADD ("/engine/private-copy", test_private_copy);
  ADD ("/engine/manpage-example", test_manpage_example);
  ADD ("/engine/shutdown-order", test_shutdown_order);
  ADD ("/engine/copies-removed", test_copies_removed);
#undef ADD
  return g_test_run ();
}
