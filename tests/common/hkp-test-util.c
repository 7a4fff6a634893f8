/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <glib/gstdio.h>

#define WAIT_LIMIT_USEC (60 * G_USEC_PER_SEC)

/* The captured log: test programs are single-process, and the writer is per-process by nature. */
typedef struct {
  GMutex lock;
  GPtrArray *lines; /* "PLUGIN\x1fMESSAGE" */
  GPtrArray *fields; /* each entry's text fields, "\nKEY=VALUE\nKEY=VALUE\n" */
} LogCapture;

static LogCapture capture;

char *
hkp_test_make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("hkp-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
hkp_test_rm_rf (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *entry;
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode) && (dir = g_dir_open (path, 0, NULL)) != NULL)
    while ((entry = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, entry, NULL);
        hkp_test_rm_rf (child);
      }
  g_remove (path);
}

void
hkp_test_write_file (const char *dir, const char *name, const char *contents)
{
  g_free (hkp_test_write_file_path (dir, name, contents));
}

char *
hkp_test_write_file_path (const char *dir, const char *name, const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

void
hkp_test_copy_file (const char *source, const char *dir, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  gsize len = 0;

  g_file_get_contents (source, &data, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

GSubprocessLauncher *
hkp_test_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

const char *
hkp_test_plugin_build_dir (void)
{
  const char *dir = g_getenv ("HKP_TEST_PLUGIN_DIR");

  return dir != NULL ? dir : HKP_TEST_PLUGIN_BUILD_DIR;
}

void
hkp_test_install_plugins (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (hkp_test_plugin_build_dir (), 0, NULL);
  const char *entry;

  g_assert_nonnull (handle);
  while ((entry = g_dir_read_name (handle)) != NULL)
    if (g_str_has_suffix (entry, ".so"))
      {
        g_autofree char *source = g_build_filename (hkp_test_plugin_build_dir (), entry, NULL);
        hkp_test_copy_file (source, dir, entry);
      }
}

static const char *
field_value (const GLogField *fields, gsize n_fields, const char *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, key) && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = field_value (fields, n_fields, "MESSAGE");
  const char *plugin = field_value (fields, n_fields, "PLUGIN");

  GString *all = g_string_new ("\n");

  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0)
      g_string_append_printf (all, "%s=%s\n", fields[i].key, (const char *) fields[i].value);
  g_mutex_lock (&capture.lock);
  g_ptr_array_add (capture.lines, g_strdup_printf ("%s\x1f%s", plugin ? plugin : "", message ? message : ""));
  g_ptr_array_add (capture.fields, g_string_free (all, FALSE));
  g_mutex_unlock (&capture.lock);
  /* Wake a hkp_test_wait_log() that may be waiting for this line from another thread. */
  g_main_context_wakeup (NULL);
  /* Show everything on stderr for the test log (HKP_TEST_QUIET: warnings only); none of it is fatal. */
  if (g_getenv ("HKP_TEST_QUIET") != NULL
        ? (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0
        : ((level & G_LOG_LEVEL_DEBUG) == 0 || g_getenv ("G_MESSAGES_DEBUG") != NULL))
    g_printerr ("# [%s] %s\n", plugin ? plugin : "-", message ? message : "");
  if (level & G_LOG_LEVEL_ERROR)
    return G_LOG_WRITER_UNHANDLED;
  return G_LOG_WRITER_HANDLED;
}

void
hkp_test_log_capture_install (void)
{
  g_mutex_init (&capture.lock);
  capture.lines = g_ptr_array_new_with_free_func (g_free);
  capture.fields = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);
}

gboolean
hkp_test_log_contains_for_plugin (const char *plugin, const char *needle)
{
  gboolean found = FALSE;

  g_mutex_lock (&capture.lock);
  for (guint i = 0; i < capture.lines->len && !found; i++)
    {
      const char *line = capture.lines->pdata[i];
      const char *sep = strchr (line, '\x1f');
      gboolean plugin_ok = plugin == NULL ||
        ((gsize) (sep - line) == strlen (plugin) && strncmp (line, plugin, strlen (plugin)) == 0);
      found = plugin_ok && strstr (sep + 1, needle) != NULL;
    }
  g_mutex_unlock (&capture.lock);
  return found;
}

guint
hkp_test_log_count (const char *needle)
{
  guint count = 0;

  g_mutex_lock (&capture.lock);
  for (guint i = 0; i < capture.lines->len; i++)
    count += strstr (strchr (capture.lines->pdata[i], '\x1f') + 1, needle) != NULL;
  g_mutex_unlock (&capture.lock);
  return count;
}

gboolean
hkp_test_log_contains (const char *needle)
{
  return hkp_test_log_contains_for_plugin (NULL, needle);
}

gboolean
hkp_test_log_has_fields (const char *const *key_values)
{
  gboolean found = FALSE;

  g_mutex_lock (&capture.lock);
  for (guint i = 0; i < capture.fields->len && !found; i++)
    {
      found = TRUE;
      for (guint k = 0; key_values[k] != NULL && found; k++)
        {
          g_autofree char *needle = g_strdup_printf ("\n%s\n", key_values[k]);
          found = strstr (capture.fields->pdata[i], needle) != NULL;
        }
    }
  g_mutex_unlock (&capture.lock);
  return found;
}

void
hkp_test_log_clear (void)
{
  g_mutex_lock (&capture.lock);
  g_ptr_array_set_size (capture.lines, 0);
  g_ptr_array_set_size (capture.fields, 0);
  g_mutex_unlock (&capture.lock);
}

void
hkp_test_store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
on_wait_limit (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the thread's default main context until done (data) is TRUE; fails the test, saying what, past the limit. */
static void
wait_until (gboolean (*done) (gconstpointer data), gconstpointer data, const char *what)
{
  gboolean expired = FALSE;
  /* Wakes the iteration below at the limit even if nothing else happens. */
  guint limit = g_timeout_add (WAIT_LIMIT_USEC / 1000, on_wait_limit, &expired);

  while (!done (data))
    {
      if (expired)
        g_error ("waited %d s for %s", (int) (WAIT_LIMIT_USEC / G_USEC_PER_SEC), what);
      g_main_context_iteration (NULL, TRUE);
    }
  if (!expired)
    g_source_remove (limit);
}

static gboolean
has_result (gconstpointer data)
{
  return *(GAsyncResult *const *) data != NULL;
}

void
hkp_test_wait_result (GAsyncResult **result)
{
  wait_until (has_result, result, "a result");
}

static gboolean
log_has (gconstpointer needle)
{
  return hkp_test_log_contains (needle);
}

void
hkp_test_wait_log (const char *needle)
{
  g_autofree char *what = g_strdup_printf ("the log line \"%s\"", needle);

  wait_until (log_has, needle, what);
}

const char *
hkp_test_isolation (void)
{
  const char *isolation = g_getenv ("HKP_TEST_ISOLATION");

  return isolation != NULL && isolation[0] != '\0' ? isolation : "process";
}

char *
hkp_test_with_isolation (const char *json)
{
  const char *brace = strrchr (json, '}');

  /* Files that say where they run keep it; the others run as the suite is told.  Added last, so the position of
   * anything a test expects in the file stays where it was. */
  if (brace == NULL || strstr (json, "\"isolation\"") != NULL || g_getenv ("HKP_TEST_ISOLATION") == NULL ||
      strchr (json, ':') == NULL)
    return g_strdup (json);
  return g_strdup_printf ("%.*s, \"isolation\": \"%s\"%s", (int) (brace - json), json, hkp_test_isolation (), brace);
}

guint
hkp_test_raise_fd_limit (void)
{
  struct rlimit limit;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  limit.rlim_cur = limit.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  return limit.rlim_cur == RLIM_INFINITY ? G_MAXUINT : (guint) MIN (limit.rlim_cur, G_MAXUINT);
}

/* Returns how many entries /proc/PID/what has. */
static guint
count_proc_entries (GPid pid, const char *what)
{
  g_autofree char *dir = g_strdup_printf ("/proc/%d/%s", (int) pid, what);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (listing);
  while (g_dir_read_name (listing) != NULL)
    n++;
  return n;
}

guint
hkp_test_count_fds (GPid pid)
{
  return count_proc_entries (pid, "fd");
}

guint
hkp_test_count_threads (GPid pid)
{
  return count_proc_entries (pid, "task");
}

char *
hkp_test_own_address (void)
{
  struct ifaddrs *list = NULL;
  char *found = NULL;

  g_assert_cmpint (getifaddrs (&list), ==, 0);
  for (struct ifaddrs *i = list; i != NULL && found == NULL; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) != 0)
      {
        const struct in_addr *a = &((const struct sockaddr_in *) i->ifa_addr)->sin_addr;
        char text[INET_ADDRSTRLEN];

        if ((ntohl (a->s_addr) >> 24) != 127 && inet_ntop (AF_INET, a, text, sizeof text) != NULL)
          found = g_strdup (text);
      }
  freeifaddrs (list);
  return found;
}

void
hkp_test_empty_dir (const char *dir)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (handle);
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      hkp_test_rm_rf (path);
    }
}
