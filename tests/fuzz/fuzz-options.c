/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the daemon's command line and main config file
 * (daemon_options_parse()).  The input is up to 8 command-line arguments, one
 * a line, an empty line, then the main config file's text.  Whatever it
 * holds, parsing never crashes, leaks or logs a critical; it fails with a
 * message, or what it accepts is within the documented bounds.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon-options.h"
#include "fuzz-common.h"
#include "hkp-manifest.h"
#include "http-proxy.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define ARGS_MAX 8

/* GOption prints and exits for these: not something a parser's input can be. */
static gboolean
exits_at_once (const char *arg)
{
  /* --config is ours: the file the input holds. */
  return g_str_has_prefix (arg, "-h") || g_str_has_prefix (arg, "--help") || g_str_has_prefix (arg, "-?") ||
    g_str_equal (arg, "--config") || g_str_has_prefix (arg, "--config=");
}

static void
assert_listen (const ListenAddress *address)
{
  switch (address->kind)
    {
    case LISTEN_NONE:
      g_assert_null (address->host);
      g_assert_null (address->path);
      break;
    case LISTEN_TCP:
      g_assert_nonnull (address->host);
      g_assert_null (address->path);
      break;
    case LISTEN_UNIX:
      g_assert_nonnull (address->path);
      g_assert_true (g_path_is_absolute (address->path));
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
assert_list (char **list)
{
  for (guint i = 0; list != NULL && list[i] != NULL; i++)
    {
      g_assert_true (list[i][0] != '\0');
      g_assert_null (strpbrk (list[i], ", "));
    }
}

static void
assert_seconds (gdouble seconds)
{
  g_assert_true (seconds > 0 && seconds <= HKP_TIMEOUT_MAX_SEC);
}

/* What a parse that succeeded may hold. */
static void
assert_sane (const DaemonOptions *options, const char *config_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HttpTrustedProxies) proxies = NULL;

  if (options->show_version)
    return;
  g_assert_cmpstr (options->config_file, ==, config_path);
  g_assert_true (options->plugin_dir[0] != '\0');
  g_assert_true (options->config_dir[0] != '\0');
  g_assert_true (options->state_dir[0] != '\0');
  if (options->bus_kind == BUS_ADDRESS)
    g_assert_true (strchr (options->bus_address, ':') != NULL && strchr (options->bus_address, '=') != NULL);
  else
    g_assert_null (options->bus_address);
  assert_listen (&options->http_listen);
  assert_listen (&options->check_listen);
  g_assert_true (options->http_token_file == NULL || g_path_is_absolute (options->http_token_file));
  g_assert_true ((options->http_tls_certificate == NULL) == (options->http_tls_key == NULL));
  g_assert_true (options->http_tls_key == NULL || g_path_is_absolute (options->http_tls_key));
  assert_list (options->http_allowed_hosts);
  assert_list (options->required_plugins);
  assert_list (options->trusted_proxies);
  /* The check endpoint parses them again when it starts: that must not fail. */
  proxies = http_trusted_proxies_new ((const char *const *) options->trusted_proxies, &error);
  g_assert_no_error (error);
  assert_seconds (options->drain_timeout_sec);
  assert_seconds (options->health_interval_sec);
  assert_seconds (options->http_idle_timeout_sec);
  g_assert_cmpuint (options->check_threads, <=, 64);
  g_assert_cmpuint (options->http_threads, <=, 64);
  g_assert_cmpuint (options->http_max_connections, >=, 1);
  g_assert_cmpuint (options->http_max_connections, <=, 65536);
  g_assert_cmpuint (options->http_processes, >=, 1);
  g_assert_cmpuint (options->http_processes, <=, 16);
  g_assert_cmpuint (options->history_limit, >=, 1);
  g_assert_cmpuint (options->history_limit, <=, 1000000);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char **argv_copy = NULL;
  DaemonOptions options = { 0 };
  const char *text = (const char *) data;
  const char *end = text + size;
  const char *blank = g_strstr_len (text, (gssize) size, "\n\n");
  int argc, fd;
  char **argv;
  gboolean ok;

  fuzz_quiet_logs ();
  fd = memfd_create ("hkp-plugind.conf", MFD_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  config_path = g_strdup_printf ("/proc/self/fd/%d", fd);
  g_ptr_array_add (args, g_strdup ("hkp-plugind"));
  /* First: last, an option that takes a value (--bus) would take it as its value. */
  g_ptr_array_add (args, g_strdup_printf ("--config=%s", config_path));
  if (blank != NULL)
    {
      /* Arguments, one a line, up to the empty line; the config file after it. */
      g_autofree char *head = g_strndup (text, (gsize) (blank - text));
      g_auto (GStrv) lines = g_strsplit (head, "\n", ARGS_MAX + 1);
      for (guint i = 0; lines[i] != NULL && i < ARGS_MAX; i++)
        if (!exits_at_once (lines[i]))
          g_ptr_array_add (args, g_strdup (lines[i]));
      text = blank + 2;
    }
  g_assert_cmpint (write (fd, text, (size_t) (end - text)), ==, end - text);
  g_ptr_array_add (args, NULL);

  /* GOption rearranges argv: parse a copy, free the strings from args. */
  argc = (int) args->len - 1;
  argv_copy = g_memdup2 (args->pdata, args->len * sizeof (char *));
  argv = argv_copy;
  ok = daemon_options_parse (&options, &argc, &argv, &error);
  if (ok)
    {
      g_assert_no_error (error);
      assert_sane (&options, config_path);
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (error->message[0] != '\0');
    }
  daemon_options_clear (&options);
  close (fd);
  return 0;
}
