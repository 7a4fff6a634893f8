/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-plugind"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bus-service.h"
#include "daemon-log.h"
#include "daemon-notify.h"
#include "daemon-options.h"
#include "hkp-engine.h"

#define EXIT_USAGE 2

/* Everything the running daemon owns; built and torn down in main(). */
typedef struct {
  DaemonOptions options;
  GMainLoop *loop;
  HkpEngine *engine;
  BusService *bus;
  DaemonNotify *notify;
  gboolean ready;        /* the initial load finished: READY=1 was sent */
  gboolean stopping;
  int exit_code;
  guint signal_sources[3];
} Daemon;

static void
daemon_clear (Daemon *daemon)
{
  for (guint i = 0; i < G_N_ELEMENTS (daemon->signal_sources); i++)
    g_clear_handle_id (&daemon->signal_sources[i], g_source_remove);
  g_clear_pointer (&daemon->notify, daemon_notify_free);
  g_clear_pointer (&daemon->bus, bus_service_free);
  g_clear_object (&daemon->engine);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  daemon_options_clear (&daemon->options);
}

static void
on_engine_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Daemon *daemon = user_data;
  g_autoptr(GError) error = NULL;

  if (!hkp_engine_shutdown_finish (HKP_ENGINE (source), result, &error))
    g_warning ("shutdown: %s", error->message);
  g_message ("stopped");
  g_main_loop_quit (daemon->loop);
}

/* Begins the orderly stop: every plugin drains and shuts down, then the loop ends. */
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
  daemon_notify_stopping (daemon->notify, hkp_engine_get_settings (daemon->engine)->drain_timeout_sec);
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
  g_autoptr(GError) error = NULL;

  if (!hkp_engine_rescan_finish (HKP_ENGINE (source), result, NULL, &error))
    g_warning ("rescan: %s", error->message);
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
  g_autoptr(GError) error = NULL;

  if (!hkp_engine_load_finish (HKP_ENGINE (source), result, &error))
    {
      g_info ("initial load: %s", error->message);
      return;
    }
  /* A stop that came during the load has already said STOPPING=1. */
  if (daemon->stopping)
    return;
  /* The bus name is owned already (bus_service_new) and every plugin has an outcome. */
  daemon->ready = TRUE;
  daemon_notify_ready (daemon->notify);
  g_message ("ready");
}

static const char *
bus_argument (const DaemonOptions *options)
{
  return options->bus_kind == BUS_SYSTEM ? "system" : options->bus_kind == BUS_SESSION ? "session"
                                                                                        : options->bus_address;
}

static void
log_front_ends (const DaemonOptions *options)
{
  g_autofree char *http = listen_address_to_string (&options->http_listen);
  g_autofree char *check = listen_address_to_string (&options->check_listen);

  /* The HTTP and check front ends come in later releases; say so rather than pretend. */
  g_message ("front ends not in this build yet: HTTP bridge (--http-listen=%s) and check endpoint "
             "(--check-listen=%s) are validated but not started", http, check);
  if (options->no_polkit)
    g_message ("--no-polkit: only uid %u may change plugins over D-Bus", (unsigned) getuid ());
}

int
main (int argc, char **argv)
{
  Daemon daemon = { 0 };
  g_autoptr(GError) error = NULL;
  HkpEngineSettings settings = { 0 };

  setlocale (LC_ALL, "");
  daemon_log_setup ();

  if (!daemon_options_parse (&daemon.options, &argc, &argv, &error))
    {
      fprintf (stderr, "hkp-plugind: %s\nTry \"hkp-plugind --help\".\n", error->message);
      daemon_clear (&daemon);
      return EXIT_USAGE;
    }
  if (daemon.options.show_version)
    {
      printf ("hkp-plugind %s (plugin ABI %u)\n", PACKAGE_VERSION, HKP_PLUGIN_ABI_VERSION);
      daemon_clear (&daemon);
      return EXIT_SUCCESS;
    }

  g_message ("hkp-plugind %s starting: plugins from %s, plugin files in %s, state in %s",
             PACKAGE_VERSION, daemon.options.plugin_dir, daemon.options.config_dir,
             daemon.options.state_dir);
  log_front_ends (&daemon.options);

  settings.plugin_dir = daemon.options.plugin_dir;
  settings.config_dir = daemon.options.config_dir;
  settings.state_dir = daemon.options.state_dir;
  settings.drain_timeout_sec = daemon.options.drain_timeout_sec;
  settings.health_interval_sec = daemon.options.health_interval_sec;
  daemon.engine = hkp_engine_new (&settings, &error);
  if (daemon.engine == NULL)
    {
      g_critical ("cannot start: %s", error->message);
      daemon_clear (&daemon);
      return EXIT_FAILURE;
    }

  daemon.notify = daemon_notify_new (daemon.engine);
  daemon.bus = bus_service_new (daemon.engine, bus_argument (&daemon.options), !daemon.options.no_polkit,
                                on_bus_lost, &daemon, &error);
  if (daemon.bus == NULL)
    {
      g_critical ("cannot start: %s", error->message);
      daemon_clear (&daemon);
      return EXIT_FAILURE;
    }

  daemon.loop = g_main_loop_new (NULL, FALSE);
  daemon.signal_sources[0] = g_unix_signal_add (SIGTERM, on_stop_signal, &daemon);
  daemon.signal_sources[1] = g_unix_signal_add (SIGINT, on_stop_signal, &daemon);
  daemon.signal_sources[2] = g_unix_signal_add (SIGHUP, on_hangup, &daemon);
  hkp_engine_load_async (daemon.engine, on_engine_loaded, &daemon);
  g_main_loop_run (daemon.loop);

  {
    int code = daemon.exit_code;
    daemon_clear (&daemon);
    return code;
  }
}
