/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The config history with real modules and real files: every version with
 * its time and who made it, newest first and redacted when read; versions
 * that only grow, across restarts too; the history-limit; RollbackConfig
 * and RestoreConfig as new versions; private modes; entries of an earlier
 * release; and a full disk (a small tmpfs as the state directory) that
 * refuses a change and changes nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-file.h"
#include "hkp-test-engine.h"
#include "hkp-test-probe.h"

typedef struct {
  EngineFixture e;
  gboolean mounted; /* a tmpfs is mounted on the state directory */
} Fixture;

#define FILE_V(n) \
  "{\n  \"module\": \"answer.so\",\n  \"priority\": 7,\n" \
  "  \"config\": {\"verdict\": \"deny\", \"reason\": \"v" #n "\", \"password\": \"hunter2\"}\n}\n"

static void
setup (Fixture *f, gconstpointer data)
{
  engine_fixture_setup (&f->e, data);
  engine_fixture_write_plugin (&f->e, "p", FILE_V (1));
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->e.engine != NULL)
    engine_fixture_stop (&f->e);
  if (f->mounted)
    g_assert_cmpint (umount (f->e.state_dir), ==, 0);
  engine_fixture_teardown (&f->e, data);
}

static char *
file_text (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->e.config_dir, "p.json", NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static char *
answer_reason (Fixture *f)
{
  g_auto (HkpCheckResult) result = { 0 };

  engine_fixture_check (&f->e, &result);
  return g_strdup (result.plugin != NULL ? result.reason : "(no plugin decided)");
}

/*
 * Waits for the change's outcome, then for its old instance to be gone: a
 * change while two old instances are still loaded is refused Busy, which a
 * loaded machine would otherwise turn into a failure of the next change.
 */
static gboolean
finish (Fixture *f, GAsyncResult **result, GError **error)
{
  gboolean done;

  hkp_test_wait_result (result);
  done = hkp_engine_change_finish (f->e.engine, *result, error);
  engine_fixture_wait_idle (&f->e);
  return done;
}

static gboolean
set_reason (Fixture *f, guint n, const char *who, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *json = g_strdup_printf ("{\"verdict\": \"deny\", \"reason\": \"v%u\", \"password\": \"[redacted]\"}",
                                           n);

  hkp_engine_set_config_async (f->e.engine, "p", json, who, hkp_test_store_result, &result);
  return finish (f, &result, error);
}

static gboolean
rollback (Fixture *f, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_rollback_config_async (f->e.engine, "p", "uid 0 via D-Bus", hkp_test_store_result, &result);
  return finish (f, &result, error);
}

static gboolean
restore (Fixture *f, guint version, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hkp_engine_restore_config_async (f->e.engine, "p", version, "uid 0 via D-Bus", hkp_test_store_result, &result);
  return finish (f, &result, error);
}

static guint
config_version (Fixture *f)
{
  return hkp_plugin_get_config_version (engine_fixture_lookup (&f->e, "p"));
}

/* Asserts the versions kept, oldest first, as a string "1,2,3". */
static void
assert_kept (Fixture *f, const char *expected)
{
  g_autoptr (GArray) versions = hkp_config_history_versions (f->e.state_dir, "p");
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint i = 0; i < versions->len; i++)
    g_string_append_printf (text, "%s%u", i > 0 ? "," : "", g_array_index (versions, guint, i));
  g_assert_cmpstr (text->str, ==, expected);
}

static void
assert_reason (Fixture *f, guint n)
{
  g_autofree char *reason = answer_reason (f);
  g_autofree char *expected = g_strdup_printf ("v%u", n);

  g_assert_cmpstr (reason, ==, expected);
}

static void
assert_mode (const char *path, guint mode)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  if ((st.st_mode & 07777) != mode)
    g_error ("%s has mode %04o, expected %04o", path, st.st_mode & 07777, mode);
}

static void
test_versions_and_who (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) history = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *history_root = g_build_filename (f->e.state_dir, "history", NULL);
  g_autofree char *history_dir = g_build_filename (history_root, "p", NULL);
  gint64 before = g_get_real_time (), after;
  HkpConfigVersion *v;

  engine_fixture_start (&f->e, NULL);
  g_assert_cmpuint (config_version (f), ==, 1);
  g_assert_true (set_reason (f, 2, "uid 1000 via D-Bus", &error));
  g_assert_no_error (error);
  g_assert_true (set_reason (f, 3, "HTTP from 127.0.0.1 with the token", &error));
  {
    g_autoptr (GAsyncResult) result = NULL;
    hkp_engine_set_enabled_async (f->e.engine, "p", FALSE, "uid 0 via D-Bus", hkp_test_store_result, &result);
    g_assert_true (finish (f, &result, &error));
  }
  after = g_get_real_time ();
  g_assert_cmpuint (config_version (f), ==, 4);

  history = hkp_engine_get_config_history (f->e.engine, "p", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->len, ==, 4);
  /* Newest first, each with who made it and what it was; the config redacted. */
  v = history->pdata[0];
  g_assert_cmpuint (v->version, ==, 4);
  g_assert_cmpstr (v->who, ==, "uid 0 via D-Bus");
  g_assert_cmpstr (v->what, ==, "disable");
  g_assert_cmpstr (v->config, ==,
                   "{\"verdict\":\"deny\",\"reason\":\"v3\",\"password\":\"[redacted]\",\"enabled\":false}");
  v = history->pdata[1];
  g_assert_cmpuint (v->version, ==, 3);
  g_assert_cmpstr (v->who, ==, "HTTP from 127.0.0.1 with the token");
  g_assert_cmpstr (v->what, ==, "config change");
  v = history->pdata[2];
  g_assert_cmpstr (v->who, ==, "uid 1000 via D-Bus");
  g_assert_cmpstr (v->config, ==, "{\"verdict\":\"deny\",\"reason\":\"v2\",\"password\":\"[redacted]\"}");
  v = history->pdata[3];
  g_assert_cmpuint (v->version, ==, 1);
  g_assert_cmpstr (v->who, ==, "file at start");
  g_assert_cmpstr (v->what, ==, "start");
  for (guint i = 0; i < history->len; i++)
    {
      v = history->pdata[i];
      g_assert_cmpint (v->time_usec, >=, before);
      g_assert_cmpint (v->time_usec, <=, after);
      g_assert_cmpuint (v->restored, ==, 0);
      g_assert_null (strstr (v->config, "hunter2"));
      if (i > 0)
        g_assert_cmpint (v->time_usec, <=, ((HkpConfigVersion *) history->pdata[i - 1])->time_usec);
    }
  /* The secret itself is kept, in files only root can read. */
  {
    g_autoptr (HkpConfigEntry) entry = hkp_config_history_read (f->e.state_dir, "p", 3, NULL);
    g_autofree char *entry_path = g_build_filename (history_dir, "0000000003.json", NULL);
    g_assert_nonnull (strstr (entry->text, "hunter2"));
    assert_mode (history_root, 0700);
    assert_mode (history_dir, 0700);
    assert_mode (entry_path, 0600);
  }
  {
    g_autoptr (GError) missing = NULL;
    g_assert_null (hkp_engine_get_config_history (f->e.engine, "nope", &missing));
    g_assert_error (missing, HKP_ERROR, HKP_ERROR_NO_SUCH_PLUGIN);
  }
}

static void
test_rollback_and_restore (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) none = NULL;
  g_autoptr (GError) unknown = NULL;

  engine_fixture_start (&f->e, NULL);
  g_ptr_array_add (texts, NULL); /* versions count from 1 */
  g_ptr_array_add (texts, file_text (f));
  for (guint v = 2; v <= 4; v++)
    {
      g_assert_true (set_reason (f, v, "test", NULL));
      g_ptr_array_add (texts, file_text (f));
    }
  /* Each rollback is a new version holding the file of the one before the version in force: v3, v2, v1. */
  for (guint back = 3, version = 5; back >= 1; back--, version++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = NULL;
      g_autoptr (HkpConfigEntry) entry = NULL;
      g_assert_true (rollback (f, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (config_version (f), ==, version);
      text = file_text (f);
      g_assert_cmpstr (text, ==, texts->pdata[back]);
      assert_reason (f, back);
      entry = hkp_config_history_read (f->e.state_dir, "p", version, NULL);
      g_assert_cmpstr (entry->what, ==, "rollback");
      g_assert_cmpuint (entry->restored, ==, back);
      g_assert_cmpstr (entry->text, ==, texts->pdata[back]);
    }
  g_assert_false (rollback (f, &none));
  g_assert_error (none, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_cmpstr (none->message, ==,
                   "plugin p has no version before version 1 to return to (the history keeps versions 1 to 7)");
  assert_kept (f, "1,2,3,4,5,6,7");

  /* Restore brings back any kept version; a rollback then goes to the one before it. */
  g_assert_true (restore (f, 4, NULL));
  g_assert_cmpuint (config_version (f), ==, 8);
  assert_reason (f, 4);
  g_assert_true (rollback (f, NULL));
  g_assert_cmpuint (config_version (f), ==, 9);
  assert_reason (f, 3);
  g_assert_false (restore (f, 99, &unknown));
  g_assert_error (unknown, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_cmpstr (unknown->message, ==, "version 99 of plugin p is not in the history (it keeps versions 1 to 9)");
  assert_kept (f, "1,2,3,4,5,6,7,8,9");
  g_assert_cmpint (hkp_test_probe_violations (), ==, 0);
}

static void
test_limit (Fixture *f, gconstpointer data)
{
  HkpEngineSettings settings = { .history_limit = 3 };
  g_autoptr (GError) error = NULL;

  engine_fixture_start (&f->e, &settings);
  for (guint v = 2; v <= 6; v++)
    g_assert_true (set_reason (f, v, "test", NULL));
  assert_kept (f, "4,5,6");
  g_assert_true (rollback (f, NULL));
  assert_reason (f, 5);
  assert_kept (f, "5,6,7");
  /* Version 4 is gone with the rollback's new version: nothing before version 5 to return to. */
  g_assert_false (rollback (f, &error));
  g_assert_cmpstr (error->message, ==,
                   "plugin p has no version before version 5 to return to (the history keeps versions 5 to 7)");
  assert_kept (f, "5,6,7");
  assert_reason (f, 5);
}

static void
test_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (HkpConfigEntry) entry = NULL;

  engine_fixture_start (&f->e, NULL);
  g_assert_true (set_reason (f, 2, "test", NULL));
  engine_fixture_stop (&f->e);

  /* The same file again: the same version, no new entry. */
  engine_fixture_start (&f->e, NULL);
  g_assert_cmpuint (config_version (f), ==, 2);
  assert_kept (f, "1,2");
  engine_fixture_stop (&f->e);

  /* Edited while the daemon was down: a new version, by "file at start". */
  engine_fixture_write_plugin (&f->e, "p", FILE_V (9));
  engine_fixture_start (&f->e, NULL);
  g_assert_cmpuint (config_version (f), ==, 3);
  entry = hkp_config_history_read (f->e.state_dir, "p", 3, NULL);
  g_assert_cmpstr (entry->who, ==, "file at start");
  {
    g_autofree char *written = engine_fixture_with_isolation (FILE_V (9));
    g_assert_cmpstr (entry->text, ==, written);
  }
  g_assert_true (set_reason (f, 4, "test", NULL));
  g_assert_cmpuint (config_version (f), ==, 4);
  /* and rollback reaches across the restarts. */
  g_assert_true (rollback (f, NULL));
  assert_reason (f, 9);
  g_assert_true (rollback (f, NULL));
  assert_reason (f, 2);
  assert_kept (f, "1,2,3,4,5,6");
}

/* Versions also come from rescans, by "file edited, rescan"; an edit that is refused makes none. */
static void
test_rescan_versions (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (HkpConfigEntry) entry = NULL;
  g_auto (HkpRescanSummary) summary = { 0 };

  engine_fixture_start (&f->e, NULL);
  engine_fixture_write_plugin (&f->e, "p", FILE_V (2));
  engine_fixture_write_plugin (&f->e, "q", "{\"module\": \"answer.so\", \"config\": {\"verdict\": \"maybe\"}}");
  hkp_engine_rescan_async (f->e.engine, hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_true (hkp_engine_rescan_finish (f->e.engine, result, &summary, NULL));
  g_assert_cmpuint (config_version (f), ==, 2);
  entry = hkp_config_history_read (f->e.state_dir, "p", 2, NULL);
  g_assert_cmpstr (entry->who, ==, "file edited, rescan");
  g_assert_cmpstr (entry->what, ==, "rescan");
  /* An added file goes to the history as it was added, even one its plugin then refuses. */
  g_assert_cmpuint (hkp_config_history_newest (f->e.state_dir, "q"), ==, 1);
  g_assert_cmpuint (summary.refused->len, ==, 1);
}

/* An entry of an earlier release (the plugin file itself, 0644) is read as a version, made private, and counted on. */
static void
test_earlier_release (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->e.state_dir, "history", "p", NULL);
  g_autofree char *old = NULL;
  g_autoptr (HkpConfigEntry) entry = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  old = hkp_test_write_file_path (dir, "0000000001.json", FILE_V (0));
  g_assert_cmpint (g_chmod (old, 0644), ==, 0);
  engine_fixture_start (&f->e, NULL);
  assert_mode (dir, 0700);
  assert_mode (old, 0600);
  entry = hkp_config_history_read (f->e.state_dir, "p", 1, NULL);
  g_assert_cmpstr (entry->text, ==, FILE_V (0));
  g_assert_cmpstr (entry->who, ==, "an earlier release");
  /* The file in force differs from it: version 2 at start. */
  g_assert_cmpuint (config_version (f), ==, 2);
  g_assert_true (rollback (f, NULL));
  assert_reason (f, 0);
}

/* Writes a filler file into dir until the disk is full. */
static void
fill_disk (const char *dir)
{
  static const char block[4096];
  g_autofree char *path = g_build_filename (dir, "filler", NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  while (write (fd, block, sizeof block) > 0)
    ;
  g_assert_cmpint (errno, ==, ENOSPC);
  close (fd);
}

static void
empty_disk (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "filler", NULL);

  g_assert_cmpint (g_unlink (path), ==, 0);
}

/* No temporary file (.NAME.json.XXXXXX) is left in dir. */
static void
assert_no_temporaries (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  const char *entry;

  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    g_assert_false (entry[0] == '.');
}

/* Mounts a small tmpfs on the state directory; FALSE (the test skipped) where that is not allowed. */
static gboolean
mount_small_state (Fixture *f)
{
  g_autofree char *module = g_build_filename (f->e.plugin_dir, "answer.so", NULL);
  g_autofree char *options = NULL;
  GStatBuf st;
  guint64 size;

  g_assert_cmpint (g_mkdir_with_parents (f->e.state_dir, 0700), ==, 0);
  g_assert_cmpint (g_stat (module, &st), ==, 0);
  /* 256 KiB as TESTING.md has it, or room for two module copies where sanitizers make them big. */
  size = MAX (256 * 1024, 4 * (guint64) st.st_size);
  options = g_strdup_printf ("size=%" G_GUINT64_FORMAT, size);
  /* In a mount namespace of the test's own, so the tmpfs goes with the test even if it aborts. */
  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount ("tmpfs", f->e.state_dir, "tmpfs", 0, options) != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs (root only): %s", g_strerror (errno));
      return FALSE;
    }
  f->mounted = TRUE;
  return TRUE;
}

static void
test_full_disk (Fixture *f, gconstpointer data)
{
  g_autofree char *history_dir = g_build_filename (f->e.state_dir, "history", "p", NULL);
  g_autofree char *before = NULL, *after = NULL;

  if (!mount_small_state (f))
    return;
  engine_fixture_start (&f->e, NULL);
  /* Retired instances go in the background, and their module copies with them: the tmpfs has room for a few
   * copies only, so each change lets them go before the next (under load they could pile up), then fills it. */
  for (guint v = 2; v <= 8; v++)
    {
      g_assert_true (set_reason (f, v, "test", NULL));
      engine_fixture_wait_idle (&f->e);
    }
  assert_kept (f, "1,2,3,4,5,6,7,8");
  fill_disk (f->e.state_dir);
  before = file_text (f);
  for (guint attempt = 0; attempt < 3; attempt++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (set_reason (f, 100 + attempt, "test", &error));
      g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
      if (strstr (error->message, "the history could not keep the new version, nothing changed") == NULL ||
          strstr (error->message, g_strerror (ENOSPC)) == NULL)
        g_error ("unexpected refusal: %s", error->message);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (rollback (f, &error));
    g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  }
  /* Nothing changed: not the file, not memory, not the history; and nothing was left behind. */
  after = file_text (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (config_version (f), ==, 8);
  assert_reason (f, 8);
  assert_kept (f, "1,2,3,4,5,6,7,8");
  assert_no_temporaries (f->e.config_dir);
  assert_no_temporaries (history_dir);

  /* With room again, changes go on from version 8, and a rollback after 9 goes to 8 (issue 18 saw 4). */
  empty_disk (f->e.state_dir);
  g_assert_true (set_reason (f, 9, "test", NULL));
  g_assert_cmpuint (config_version (f), ==, 9);
  g_assert_true (rollback (f, NULL));
  assert_reason (f, 8);
  g_assert_cmpuint (config_version (f), ==, 10);
}

/*
 * An exclusive reload whose new module cannot be copied (the state disk is
 * full) rolls back to the module that was serving: its second host takes a
 * second name for the copy it already has, which needs no disk space.
 */
static void
test_full_disk_exclusive_reload (Fixture *f, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *reason = NULL;

  engine_fixture_write_plugin (&f->e, "p",
                               "{\"module\": \"answer.so\", \"isolation\": \"process\", \"reload_strategy\": "
                               "\"exclusive\", \"config\": {\"verdict\": \"deny\", \"reason\": \"v1\"}}");
  if (!mount_small_state (f))
    return;
  engine_fixture_start (&f->e, NULL);
  fill_disk (f->e.state_dir);
  hkp_engine_reload_async (f->e.engine, "p", hkp_test_store_result, &result);
  hkp_test_wait_result (&result);
  g_assert_false (hkp_engine_reload_finish (f->e.engine, result, &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_RELOAD_FAILED);
  g_assert_nonnull (strstr (error->message, "the previous module and config were started again"));
  g_assert_cmpstr (hkp_plugin_state_to_string (hkp_plugin_get_state (engine_fixture_lookup (&f->e, "p"))), ==,
                   "active");
  reason = answer_reason (f);
  g_assert_cmpstr (reason, ==, "v1");
  empty_disk (f->e.state_dir);
}

/*
 * The state directory emptied by hand while running: the module copies'
 * directory is made again for the next change, which works.
 */
static void
test_module_directory_removed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *reason = NULL;

  engine_fixture_write_plugin (&f->e, "p",
                               "{\"module\": \"answer.so\", \"isolation\": \"process\", \"config\": "
                               "{\"verdict\": \"deny\", \"reason\": \"v1\", \"password\": \"hunter2\"}}");
  engine_fixture_start (&f->e, NULL);
  hkp_test_empty_dir (f->e.state_dir);
  set_reason (f, 2, "test", &error);
  g_assert_no_error (error); /* checked so, it says why */
  reason = answer_reason (f);
  g_assert_cmpstr (reason, ==, "v2");
  g_assert_true (hkp_test_log_contains ("was gone: module copies now go to "));
  /* The new directory is locked as the first was: another daemon's cleanup at its start leaves it alone. */
  g_assert_cmpuint (hkp_file_remove_module_copies (f->e.state_dir), ==, 0);
  g_assert_true (set_reason (f, 3, "test", NULL));
  g_assert_true (hkp_test_log_contains ("was gone: module copies now go to "));
  g_assert_cmpuint (hkp_test_log_count ("was gone: module copies now go to "), ==, 1);
}

/* A damaged history entry is named as such when a rollback would bring it back, and nothing changes. */
static void
test_damaged_entry (Fixture *f, gconstpointer data)
{
  g_autofree char *first = g_build_filename (f->e.state_dir, "history", "p", "0000000001.json", NULL);
  g_autoptr (GError) error = NULL;

  engine_fixture_start (&f->e, NULL);
  g_assert_true (set_reason (f, 2, "test", NULL));
  g_assert_true (g_file_set_contents (first, "\xff\xfe{\"garbage", -1, NULL));
  g_assert_false (rollback (f, &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "version 1 of plugin p in the history"));
  g_assert_nonnull (strstr (error->message, "is damaged: "));
  g_assert_null (strstr (error->message, "p.json"));
  g_assert_cmpuint (config_version (f), ==, 2);
  assert_reason (f, 2);
}

/*
 * A history file put there by hand as the last version there can be: the
 * next change is refused saying so (it would have been version 0, listed
 * nowhere, and every change after it refused), and nothing changes.
 */
static void
test_last_version (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->e.state_dir, "history", "p", NULL);
  g_autofree char *first = g_build_filename (dir, "0000000001.json", NULL);
  g_autofree char *last = g_build_filename (dir, "4294967295.json", NULL);
  g_autofree char *zero = g_build_filename (dir, "0000000000.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  engine_fixture_start (&f->e, NULL);
  g_assert_true (g_file_get_contents (first, &text, NULL, NULL));
  g_assert_true (g_file_set_contents (last, text, -1, NULL));
  g_assert_false (set_reason (f, 2, "uid 0 via D-Bus", &error));
  g_assert_error (error, HKP_ERROR, HKP_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "holds version 4294967295, the last there can be: nothing changed"));
  g_assert_cmpuint (config_version (f), ==, 1);
  g_assert_false (g_file_test (zero, G_FILE_TEST_EXISTS));

  /* Edited while the daemon was down: it loads, but no version 0 is written for it either. */
  engine_fixture_stop (&f->e);
  engine_fixture_write_plugin (&f->e, "p", FILE_V (9));
  engine_fixture_start (&f->e, NULL);
  assert_reason (f, 9);
  g_assert_false (g_file_test (zero, G_FILE_TEST_EXISTS));
  g_assert_true (hkp_test_log_contains ("holds version 4294967295, the last there can be"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  hkp_test_log_capture_install ();
#define ADD(path, func) g_test_add ((path), Fixture, NULL, setup, (func), teardown)
  ADD ("/history/versions-and-who", test_versions_and_who);
  ADD ("/history/rollback-and-restore", test_rollback_and_restore);
  ADD ("/history/limit", test_limit);
  ADD ("/history/restart", test_restart);
  ADD ("/history/rescan-versions", test_rescan_versions);
  ADD ("/history/earlier-release", test_earlier_release);
  ADD ("/history/full-disk", test_full_disk);
  ADD ("/history/last-version", test_last_version);
  ADD ("/history/damaged-entry", test_damaged_entry);
  ADD ("/history/full-disk-exclusive-reload", test_full_disk_exclusive_reload);
  ADD ("/history/module-directory-removed", test_module_directory_removed);
#undef ADD
  return g_test_run ();
}
