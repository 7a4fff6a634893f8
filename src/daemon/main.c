/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-plugind"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bus-service.h"
#include "daemon-log.h"
#include "daemon-notify.h"
#include "daemon-options.h"
#include "hkp-config-check.h"
#include "hkp-engine.h"
#include "http-bridge.h"
#include "http-check.h"
#include "daemon-http-worker.h"

#define EXIT_USAGE 2

/* How much longer than the drain timeout a stop may take before the process just ends. */
#define STOP_MARGIN_SEC 10

/* Everything the running daemon owns; built and torn down in main(). */
typedef struct {
  DaemonOptions options;
  GMainLoop *loop;
  HkpEngine *engine;
  BusService *bus;
  HttpCheck *check; /* NULL with --check-listen=none */
  HttpBridge *bridge; /* NULL with --http-listen=none */
  DaemonNotify *notify;
  gboolean ready; /* the initial load finished: READY=1 was sent */
  gboolean stopping;
  int exit_code;
  guint signal_sources[3];
  guint stop_deadline; /* ends the process if stopping overruns */
} Daemon;

static void
daemon_clear (Daemon *daemon)
{
  for (guint i = 0; i < G_N_ELEMENTS (daemon->signal_sources); i++)
    g_clear_handle_id (&daemon->signal_sources[i], g_source_remove);
  g_clear_handle_id (&daemon->stop_deadline, g_source_remove);
  g_clear_pointer (&daemon->notify, daemon_notify_free);
  g_clear_pointer (&daemon->bus, bus_service_free);
  g_clear_pointer (&daemon->check, http_check_free);
  g_clear_pointer (&daemon->bridge, http_bridge_free);
  g_clear_object (&daemon->engine);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  daemon_options_clear (&daemon->options);
}

static void
on_engine_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  guint late = hkp_engine_get_late_calls (HKP_ENGINE (source));

  if (!hkp_engine_shutdown_finish (HKP_ENGINE (source), result, &error))
    g_warning ("shutdown: %s", error->message);
  if (late > 0)
    {
      g_warning ("stopped, abandoning %u plugin calls that never returned", late);
      daemon->exit_code = EXIT_FAILURE;
    }
  else
    g_message ("stopped");
  g_main_loop_quit (daemon->loop);
}

static void
on_checks_stopped (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  /* Checks the stop gave up on were abandoned as surely as plugin calls that never return: the exit says so. */
  if (!http_check_stop_finish (daemon->check, result, &error))
    {
      g_warning ("check endpoint: %s", error->message);
      daemon->exit_code = EXIT_FAILURE;
    }
  hkp_engine_shutdown_async (daemon->engine, on_engine_shut_down, daemon);
}

/* The stop took longer than any drain may: plugins that ignore every deadline do not keep the process. */
static gboolean
on_stop_overdue (gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autofree char *unfinished = hkp_engine_describe_unfinished (daemon->engine);

  g_critical ("stopping took longer than the drain timeout and %u s more; exiting, abandoning %u plugin calls that "
              "never returned%s%s",
              STOP_MARGIN_SEC, hkp_engine_get_late_calls (daemon->engine),
              unfinished != NULL ? " and the unfinished work of plugins " : "", unfinished != NULL ? unfinished : "");
  _exit (EXIT_FAILURE);
  return G_SOURCE_REMOVE;
}

/*
 * Begins the orderly stop: the check endpoint stops taking checks and the
 * running ones finish, then every plugin drains and shuts down, then the loop ends.
 */
static void
daemon_stop (Daemon *daemon, const char *why)
{
  if (daemon->stopping)
    {
      g_message ("already stopping; waiting for plugins to shut down");
      return;
    }
  daemon->stopping = TRUE;
  g_message ("stopping (%s): shutting down every plugin", why);
  daemon->stop_deadline = g_timeout_add_seconds (
    (guint) hkp_engine_get_settings (daemon->engine)->drain_timeout_sec + STOP_MARGIN_SEC, on_stop_overdue, daemon);
  daemon_notify_stopping (daemon->notify, hkp_engine_get_settings (daemon->engine)->drain_timeout_sec);
  if (daemon->check != NULL)
    http_check_stop_async (daemon->check, hkp_engine_get_settings (daemon->engine)->drain_timeout_sec,
                           on_checks_stopped, daemon);
  else
    hkp_engine_shutdown_async (daemon->engine, on_engine_shut_down, daemon);
}

static gboolean
on_stop_signal (gpointer user_data)
{
  daemon_stop (user_data, "signal");
  return G_SOURCE_CONTINUE;
}

static void
on_bus_lost (const char *message, gpointer user_data)
{
  Daemon *daemon = user_data;

  g_critical ("%s", message);
  /* A non-zero exit lets systemd restart the service. */
  daemon->exit_code = EXIT_FAILURE;
  daemon_stop (daemon, "D-Bus connection lost");
}

static void
on_rescanned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (HkpRescanSummary) summary = { 0 };

  if (!hkp_engine_rescan_finish (HKP_ENGINE (source), result, &summary, &error))
    g_warning ("rescan: %s", error->message);
  for (guint i = 0; summary.refused != NULL && i < summary.refused->len; i++)
    {
      HkpRescanRefusal *refusal = summary.refused->pdata[i];
      g_warning ("SIGHUP: %s refused: %s", refusal->file, refusal->reason);
    }
  daemon_notify_set_rescan_refused (daemon->notify, summary.refused);
  /* Back to READY only if we were ready before the SIGHUP, and not on the way out. */
  if (daemon->ready && !daemon->stopping)
    daemon_notify_ready (daemon->notify);
}

static gboolean
on_hangup (gpointer user_data)
{
  Daemon *daemon = user_data;

  if (daemon->stopping)
    return G_SOURCE_CONTINUE;
  g_message ("SIGHUP: rescanning %s", daemon->options.config_dir);
  if (daemon->ready)
    daemon_notify_reloading (daemon->notify);
  hkp_engine_rescan_async (daemon->engine, on_rescanned, daemon);
  return G_SOURCE_CONTINUE;
}

static void
on_engine_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  if (!hkp_engine_load_finish (HKP_ENGINE (source), result, &error))
    {
      g_info ("initial load: %s", error->message);
      return;
    }
  /* A stop that came during the load has already said STOPPING=1. */
  if (daemon->stopping)
    return;
  /* Checks are answered only once every plugin has an outcome: none slips past a plugin still loading. */
  if (daemon->check != NULL && !http_check_start (daemon->check, &error))
    {
      g_critical ("cannot start: %s", error->message);
      daemon->exit_code = EXIT_FAILURE;
      daemon_stop (daemon, "the check endpoint did not start");
      return;
    }
  /* The bus name is owned already (bus_service_new) and every plugin has an outcome. */
  if (daemon->bridge != NULL)
    http_bridge_refresh (daemon->bridge);
  daemon->ready = TRUE;
  daemon_notify_ready (daemon->notify);
  g_message ("ready");
}

static const char *
bus_argument (const DaemonOptions *options)
{
  return options->bus_kind == BUS_SYSTEM ? "system"
    : options->bus_kind == BUS_SESSION   ? "session"
                                         : options->bus_address;
}

/* Lets the daemon hold as many connections as the hard limit allows, as systemd's own daemons do. */
static void
raise_file_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) < 0)
        g_debug ("cannot raise the open-file limit: %s", g_strerror (errno));
    }
}

static HttpCheck *
check_new (const DaemonOptions *options, HkpEngine *engine, GError **error)
{
  HttpCheckSettings settings = {
    .listen = &options->check_listen,
    .trusted_proxies = (const char *const *) options->trusted_proxies,
    .proxy_secret_file = options->check_proxy_secret_file,
    .socket_group = options->check_socket_group,
    .threads = options->check_threads,
  };

  return http_check_new (engine, &settings, error);
}

static HttpBridge *
bridge_new (const DaemonOptions *options, HkpEngine *engine, GError **error)
{
  HttpBridgeSettings settings = {
    .listen = &options->http_listen,
    .token_file = options->http_token_file,
    .tls_certificate = options->http_tls_certificate,
    .tls_key = options->http_tls_key,
    .allowed_hosts = (const char *const *) options->http_allowed_hosts,
    .required_plugins = (const char *const *) options->required_plugins,
    .version = PACKAGE_VERSION,
    .threads = options->http_threads,
    .idle_timeout_sec = options->http_idle_timeout_sec,
    .max_connections = options->http_max_connections,
    .processes = options->http_processes,
  };

  return http_bridge_new (engine, &settings, error);
}

/*
 * --check-config: the main config (parsed already) and every plugin file,
 * each problem on its own line naming the file and the key; 0 if none, else 1.
 */
static int
check_config (const DaemonOptions *options)
{
  g_autoptr (GPtrArray) problems = NULL;
  guint n_files = 0;
  guint n_problems;

  problems = hkp_config_check_dir (options->plugin_dir, options->config_dir, &n_files);
  n_problems = options->config_warnings->len + problems->len;
  /* A problem quotes the files (keys, names, values) and the plugins' refusals: one line each, shown as text. */
  for (guint i = 0; i < options->config_warnings->len; i++)
    {
      g_autofree char *line = daemon_log_escape (options->config_warnings->pdata[i]);
      printf ("%s\n", line);
    }
  for (guint i = 0; i < problems->len; i++)
    {
      g_autofree char *line = daemon_log_escape (problems->pdata[i]);
      printf ("%s\n", line);
    }
  if (n_problems > 0)
    printf ("hkp-plugind: %u problem%s in %s and %u plugin file%s in %s\n", n_problems, n_problems == 1 ? "" : "s",
            options->config_file, n_files, n_files == 1 ? "" : "s", options->config_dir);
  else
    printf ("hkp-plugind: configuration OK: %s and %u plugin file%s in %s\n", options->config_file, n_files,
            n_files == 1 ? "" : "s", options->config_dir);
  return n_problems > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void
log_front_ends (const DaemonOptions *options)
{
  if (options->no_polkit)
    g_message ("--no-polkit: only uid %u may change plugins over D-Bus", (unsigned) getuid ());
}

/* Builds everything the daemon runs (engine, front ends, bus) and starts loading the plugins; FALSE with error. */
static gboolean
daemon_start (Daemon *daemon, GError **error)
{
  const DaemonOptions *options = &daemon->options;
  HkpEngineSettings settings = {
    .plugin_dir = options->plugin_dir,
    .config_dir = options->config_dir,
    .state_dir = options->state_dir,
    .drain_timeout_sec = options->drain_timeout_sec,
    .health_interval_sec = options->health_interval_sec,
    .history_limit = options->history_limit,
    .required_plugins = (const char *const *) options->required_plugins,
  };

  g_message ("hkp-plugind %s starting: plugins from %s, plugin files in %s, state in %s", PACKAGE_VERSION,
             options->plugin_dir, options->config_dir, options->state_dir);
  log_front_ends (options);
  if ((daemon->engine = hkp_engine_new (&settings, error)) == NULL)
    return FALSE;
  if (options->check_listen.kind != LISTEN_NONE && (daemon->check = check_new (options, daemon->engine, error)) == NULL)
    return FALSE;
  if (options->http_listen.kind != LISTEN_NONE &&
      (daemon->bridge = bridge_new (options, daemon->engine, error)) == NULL)
    return FALSE;
  daemon->notify = daemon_notify_new (daemon->engine);
  daemon->bus = bus_service_new (daemon->engine, bus_argument (options), !options->no_polkit, on_bus_lost, daemon,
                                 error);
  if (daemon->bus == NULL)
    return FALSE;
  daemon->loop = g_main_loop_new (NULL, FALSE);
  daemon->signal_sources[0] = g_unix_signal_add (SIGTERM, on_stop_signal, daemon);
  daemon->signal_sources[1] = g_unix_signal_add (SIGINT, on_stop_signal, daemon);
  daemon->signal_sources[2] = g_unix_signal_add (SIGHUP, on_hangup, daemon);
  hkp_engine_load_async (daemon->engine, on_engine_loaded, daemon);
  return TRUE;
}

int
main (int argc, char **argv)
{
  Daemon daemon = { 0 };
  g_autoptr (GError) error = NULL;
  int code;

  /*
   * Its memory holds the bearer token, the proxy secret and every plugin's
   * config: no other process of its user (a plugin host above all) may read
   * it through /proc/PID/mem or ptrace.  The HTTP workers run this too.
   */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  setlocale (LC_ALL, "");
  daemon_log_setup ();
  if (argc == 2 && g_str_has_prefix (argv[1], "--http-worker="))
    {
      /* A worker process of the HTTP bridge, started by the daemon: see http-workers.h. */
      return daemon_http_worker_main ((guint) g_ascii_strtoull (argv[1] + strlen ("--http-worker="), NULL, 10));
    }
  raise_file_limit ();

  if (!daemon_options_parse (&daemon.options, &argc, &argv, &error))
    {
      /* For --check-config a bad value is a problem found (1), as for nginx -t; a bad command line is usage (2). */
      if (daemon.options.check_config)
        printf ("%s\nhkp-plugind: the main configuration cannot be used\n", error->message);
      else
        fprintf (stderr, "hkp-plugind: %s\nTry \"hkp-plugind --help\".\n", error->message);
      daemon.exit_code = daemon.options.check_config ? EXIT_FAILURE : EXIT_USAGE;
    }
  else if (daemon.options.show_version)
    printf ("hkp-plugind %s (plugin ABI %u)\n", PACKAGE_VERSION, HKP_PLUGIN_ABI_VERSION);
  else if (daemon.options.check_config)
    daemon.exit_code = check_config (&daemon.options);
  else if (!daemon_start (&daemon, &error))
    {
      g_critical ("cannot start: %s", error->message);
      daemon.exit_code = EXIT_FAILURE;
    }
  else
    g_main_loop_run (daemon.loop);

  code = daemon.exit_code;
  daemon_clear (&daemon);
  return code;
}
