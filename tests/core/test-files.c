/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File safety with real files: only regular files (or symlinks to them) are
 * read, and a FIFO, directory or symlink to a FIFO named like a plugin file
 * fails that plugin alone without blocking; temporary files are 0600 until
 * they take the target's mode; a change to a symlinked plugin file replaces
 * the link's target and keeps the link; and what a killed daemon leaves
 * (module copies, temporary files) is removed at start, but never what a
 * running one holds.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-test-engine.h"

typedef EngineFixture Fixture;

#define PLUGIN(reason) "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"deny\", \"reason\": \"" reason "\"}}"

static gboolean
set_reason (Fixture *f, const char *name, const char *reason, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *json = g_strdup_printf ("{\"verdict\": \"deny\", \"reason\": \"%s\"}", reason);

  hkp_engine_set_config_async (f->engine, name, json, "test", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  return hkp_engine_change_finish (f->engine, result, error);
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* Returns the names in dir that start with '.' (temporary files), space-separated; caller frees. */
static char *
hidden_names (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    if (entry[0] == '.')
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static void
test_not_regular (Fixture *f, gconstpointer data)
{
  g_autofree char *fifo = g_build_filename (f->config_dir, "fifo.json", NULL);
  g_autofree char *other_fifo = g_build_filename (f->root, "elsewhere.fifo", NULL);
  g_autofree char *link = g_build_filename (f->config_dir, "linked.json", NULL);
  g_autofree char *dir = g_build_filename (f->config_dir, "dir.json", NULL);
  g_autofree char *ok_path = NULL;
  g_auto (HkpRescanSummary) summary = { 0 };
  g_autoptr (GAsyncResult) result = NULL;
  HkpPlugin *ok;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (mkfifo (other_fifo, 0600), ==, 0);
  g_assert_cmpint (symlink (other_fifo, link), ==, 0);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  ok_path = engine_fixture_write_plugin_path (f, "ok", PLUGIN ("ok"));
  /* Would block for ever in open() if the FIFO were opened as a file. */
  engine_fixture_start (f, NULL);
  ok = engine_fixture_lookup (f, "ok");
  g_assert_cmpint (hkp_plugin_get_state (ok), ==, HKP_PLUGIN_STATE_ACTIVE);
  {
    const char *names[] = { "fifo", "linked", "dir" };
    const char *types[] = { "a FIFO", "a FIFO", "a directory" };
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        HkpPlugin *plugin = engine_fixture_lookup (f, names[i]);
        g_autofree char *expected = g_strdup_printf (
          "%s: cannot read: not a regular file but %s: only regular files (or symlinks to them) are read",
          hkp_plugin_get_file (plugin), types[i]);
        g_assert_cmpint (hkp_plugin_get_state (plugin), ==, HKP_PLUGIN_STATE_FAILED);
        g_assert_cmpstr (hkp_plugin_get_last_error (plugin), ==, expected);
      }
  }

  /* A running plugin whose file becomes a FIFO keeps running, says why, and a rescan does not block either. */
  g_assert_cmpint (g_unlink (ok_path), ==, 0);
  g_assert_cmpint (mkfifo (ok_path, 0600), ==, 0);
  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->engine, result, &summary, NULL));
  g_assert_cmpint (hkp_plugin_get_state (ok), ==, HKP_PLUGIN_STATE_ACTIVE);
  g_assert_nonnull (strstr (hkp_plugin_get_last_error (ok), "not a regular file but a FIFO"));
  g_assert_cmpuint (summary.refused->len, ==, 4);
  g_assert_cmpstr (((HkpRescanRefusal *) summary.refused->pdata[3])->file, ==, ok_path);
  g_assert_cmpstr (((HkpRescanRefusal *) summary.refused->pdata[3])->reason, ==,
                   "cannot read: not a regular file but a FIFO: only regular files (or symlinks to them) are read");

  /* Put back as it was, the file is fine again, and so is the plugin's last error. */
  g_clear_object (&result);
  hkp_rescan_summary_clear (&summary);
  g_assert_cmpint (g_unlink (ok_path), ==, 0);
  engine_fixture_write_plugin (f, "ok", PLUGIN ("ok"));
  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->engine, result, &summary, NULL));
  g_assert_cmpstr (hkp_plugin_get_last_error (ok), ==, "");
  g_assert_cmpuint (summary.refused->len, ==, 3);
}

static gboolean
check_temporary_mode (const char *path, gpointer user_data, GError **error)
{
  Fixture *f = user_data;
  g_autofree char *names = hidden_names (f->config_dir);
  g_autofree char *tmp = NULL;

  /* Just before the rename: one temporary file beside the target, still private. */
  g_assert_true (g_str_has_prefix (names, ".p.json."));
  g_assert_null (strchr (names, ' '));
  tmp = g_build_filename (f->config_dir, names, NULL);
  g_assert_cmpuint (file_mode (tmp), ==, 0600);
  return TRUE;
}

static void
test_modes (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .write_hook = check_temporary_mode, .write_hook_data = f };
  g_autofree char *path = engine_fixture_write_plugin_path (f, "p", PLUGIN ("v1"));
  g_autofree char *names = NULL;

  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  engine_fixture_start (f, &settings);
  g_assert_true (set_reason (f, "p", "v2", NULL));
  /* The file keeps the mode it had; nothing is left beside it. */
  g_assert_cmpuint (file_mode (path), ==, 0644);
  g_assert_cmpint (g_chmod (path, 0640), ==, 0);
  g_assert_true (set_reason (f, "p", "v3", NULL));
  g_assert_cmpuint (file_mode (path), ==, 0640);
  names = hidden_names (f->config_dir);
  g_assert_cmpstr (names, ==, "");
  /* The state directory is private when the engine makes it. */
  g_assert_cmpuint (file_mode (f->state_dir), ==, 0700);
}

static void
test_symlink_kept (Fixture *f, gconstpointer data)
{
  g_autofree char *managed = g_build_filename (f->root, "managed", NULL);
  g_autofree char *target = hkp_test_write_file_path (managed, "real-p.json", PLUGIN ("v1"));
  g_autofree char *link = g_build_filename (f->config_dir, "p.json", NULL);
  g_autofree char *link_after = NULL;
  g_autofree char *text = NULL;
  g_autofree char *managed_hidden = NULL, *config_hidden = NULL;
  g_auto (HkpRescanSummary) summary = { 0 };
  g_autoptr (GAsyncResult) result = NULL;
  GStatBuf st;

  g_assert_cmpint (g_chmod (target, 0640), ==, 0);
  g_assert_cmpint (symlink ("../managed/real-p.json", link), ==, 0);
  engine_fixture_start (f, NULL);
  g_assert_true (set_reason (f, "p", "v2", NULL));

  /* Still the same link, and its target holds the change with its mode kept. */
  g_assert_cmpint (g_lstat (link, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  link_after = g_file_read_link (link, NULL);
  g_assert_cmpstr (link_after, ==, "../managed/real-p.json");
  g_assert_true (g_file_get_contents (target, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\"reason\" : \"v2\""));
  g_assert_cmpuint (file_mode (target), ==, 0640);
  managed_hidden = hidden_names (managed);
  config_hidden = hidden_names (f->config_dir);
  g_assert_cmpstr (managed_hidden, ==, "");
  g_assert_cmpstr (config_hidden, ==, "");

  /* A rescan sees the file as the engine saved it: nothing to do. */
  hkp_engine_rescan_async (f->engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->engine, result, &summary, NULL));
  g_assert_cmpuint (summary.unchanged, ==, 1);
  g_assert_cmpuint (summary.changed, ==, 0);
}

/* Creates dir/name holding text; returns its path (caller frees). */
static char *
leave (const char *dir, const char *name, const char *text)
{
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  return hkp_test_write_file_path (dir, name, text);
}

static void
test_leftovers_removed (Fixture *f, gconstpointer data)
{
  g_autofree char *copies = g_build_filename (f->state_dir, "modules.AbC123", NULL);
  g_autofree char *copy = leave (copies, "1-Xy12Zq-answer.so", "ELF?");
  g_autofree char *not_copies = g_build_filename (f->state_dir, "modules.kept", NULL);
  g_autofree char *history = g_build_filename (f->state_dir, "history", "p", NULL);
  g_autofree char *history_tmp = leave (history, ".0000000002.json.Qq1Ww2", "{}");
  g_autofree char *config_tmp = leave (f->config_dir, ".p.json.Zz9Yy8", "{\"password\": \"hunter2\"}");
  g_autofree char *unrelated = leave (f->config_dir, ".editor-swap", "x");
  g_autofree char *managed = g_build_filename (f->root, "managed", NULL);
  g_autofree char *target = leave (managed, "real-q.json", PLUGIN ("q"));
  g_autofree char *target_tmp = leave (managed, ".real-q.json.AbCdEf", "x");
  g_autofree char *foreign_tmp = leave (managed, ".other.json.AbCdEf", "x");
  g_autofree char *link = g_build_filename (f->config_dir, "q.json", NULL);
  g_autofree char *held_tmp = leave (f->config_dir, ".p.json.Held00", "a change in progress");
  int held = open (held_tmp, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (g_mkdir (not_copies, 0700), ==, 0);
  g_assert_cmpint (symlink (target, link), ==, 0);
  engine_fixture_write_plugin (f, "p", PLUGIN ("p"));
  /* Another process holds this one: a daemon in the middle of a change. */
  g_assert_cmpint (flock (held, LOCK_EX), ==, 0);

  engine_fixture_start (f, NULL);
  g_assert_false (g_file_test (copies, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (history_tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (config_tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (target_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (unrelated, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (not_copies, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (foreign_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (held_tmp, G_FILE_TEST_EXISTS));
  {
    g_autofree char *said = g_strdup_printf ("removed %s (1 module copy), left by a daemon that did not finish",
                                             copies);
    g_autofree char *said_tmp = g_strdup_printf ("removed %s, a temporary file left by a daemon that did not finish",
                                                 config_tmp);
    g_assert_true (hkp_test_log_contains (said));
    g_assert_true (hkp_test_log_contains (said_tmp));
  }
  close (held);
  g_assert_cmpint (hkp_plugin_get_state (engine_fixture_lookup (f, "q")), ==, HKP_PLUGIN_STATE_ACTIVE);
}

/* A second engine on the same directories removes nothing the first one holds. */
static void
test_running_engine_kept (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .plugin_dir = f->plugin_dir, .config_dir = f->config_dir, .state_dir = f->state_dir };
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpEngine) second = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *entry;
  guint copy_dirs = 0;

  engine_fixture_write_plugin (f, "p", PLUGIN ("p"));
  engine_fixture_start (f, NULL);
  second = hkp_engine_new (&settings, &error);
  g_assert_no_error (error);
  dir = g_dir_open (f->state_dir, 0, NULL);
  while ((entry = g_dir_read_name (dir)) != NULL)
    copy_dirs += g_str_has_prefix (entry, "modules.");
  g_assert_cmpuint (copy_dirs, ==, 2);
  /* The first engine can still load a fresh copy of its module. */
  {
    g_autoptr (GAsyncResult) result = NULL;
    hkp_engine_reload_async (f->engine, "p", hkp_test_store_result, &result);
    hkp_test_wait_result (&result);
    g_assert_true (hkp_engine_reload_finish (f->engine, result, NULL));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, engine_fixture_setup, (func), engine_fixture_teardown)
  ADD ("/files/not-regular", test_not_regular);
  ADD ("/files/modes", test_modes);
  ADD ("/files/symlink-kept", test_symlink_kept);
  ADD ("/files/leftovers-removed", test_leftovers_removed);
  ADD ("/files/running-engine-kept", test_running_engine_kept);
#undef ADD
  return g_test_run ();
}
