/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-plugind"

#include "daemon-notify.h"

#include <systemd/sd-daemon.h>

#define EXTEND_EVERY_SEC 5

struct _DaemonNotify {
  HkpEngine *engine;
  gulong engine_handlers[3];
  guint watchdog_source;
  guint extend_source;
  gdouble extend_sec;
  char *last_status;
  char *rescan_note; /* "; rescan refused 2 files: a.json, b.json", until the next rescan */
};

/* One line an admin reads in `systemctl status`. */
static char *
status_line (DaemonNotify *notify)
{
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (notify->engine);
  guint counts[HKP_PLUGIN_N_STATES];

  hkp_engine_count_states (notify->engine, counts);
  return g_strdup_printf ("%u plugins: %u active, %u failed, %u disabled%s%s", plugins->len,
                          counts[HKP_PLUGIN_STATE_ACTIVE], counts[HKP_PLUGIN_STATE_FAILED],
                          counts[HKP_PLUGIN_STATE_DISABLED],
                          counts[HKP_PLUGIN_STATE_LOADING] + counts[HKP_PLUGIN_STATE_RELOADING] > 0 ? ", changing" : "",
                          notify->rescan_note != NULL ? notify->rescan_note : "");
}

static void
send_status (DaemonNotify *notify)
{
  g_autofree char *status = status_line (notify);
  g_autofree char *message = NULL;

  if (g_strcmp0 (status, notify->last_status) == 0)
    return;
  g_free (notify->last_status);
  notify->last_status = g_steal_pointer (&status);
  message = g_strdup_printf ("STATUS=%s", notify->last_status);
  sd_notify (0, message);
}

static void
on_plugin_changed (HkpEngine *engine, HkpPlugin *plugin, guint what, DaemonNotify *notify)
{
  if (what & HKP_PLUGIN_CHANGED_STATE)
    send_status (notify);
}

/* Plugins come and go: the counts change. */
static void
on_plugin_listed (HkpEngine *engine, HkpPlugin *plugin, DaemonNotify *notify)
{
  send_status (notify);
}

/* Runs on the main loop, so a stuck loop stops the pings and systemd notices. */
static gboolean
on_watchdog (gpointer user_data)
{
  sd_notify (0, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

DaemonNotify *
daemon_notify_new (HkpEngine *engine)
{
  DaemonNotify *notify = g_new0 (DaemonNotify, 1);
  uint64_t watchdog_usec = 0;

  notify->engine = g_object_ref (engine);
  notify->engine_handlers[0] = g_signal_connect (engine, "plugin-added", G_CALLBACK (on_plugin_listed), notify);
  notify->engine_handlers[1] = g_signal_connect (engine, "plugin-removed", G_CALLBACK (on_plugin_listed), notify);
  notify->engine_handlers[2] = g_signal_connect (engine, "plugin-changed", G_CALLBACK (on_plugin_changed), notify);
  if (sd_watchdog_enabled (0, &watchdog_usec) > 0 && watchdog_usec > 0)
    {
      notify->watchdog_source = g_timeout_add (MAX (watchdog_usec / 2 / 1000, 1), on_watchdog, notify);
      g_info ("pinging the watchdog every %" G_GUINT64_FORMAT " ms", watchdog_usec / 2 / 1000);
    }
  return notify;
}

void
daemon_notify_set_rescan_refused (DaemonNotify *notify, GPtrArray *refused)
{
  g_autoptr (GString) note = NULL;

  g_clear_pointer (&notify->rescan_note, g_free);
  if (refused != NULL && refused->len > 0)
    {
      /* The names only: the reasons are in the journal, and STATUS= is one short line. */
      note = g_string_new (NULL);
      g_string_printf (note, "; rescan refused %u file%s:", refused->len, refused->len == 1 ? "" : "s");
      for (guint i = 0; i < refused->len; i++)
        {
          g_autofree char *base = g_path_get_basename (((HkpRescanRefusal *) refused->pdata[i])->file);
          g_string_append_printf (note, "%s %s", i > 0 ? "," : "", base);
        }
      notify->rescan_note = g_string_free (g_steal_pointer (&note), FALSE);
    }
  send_status (notify);
}

void
daemon_notify_ready (DaemonNotify *notify)
{
  g_autofree char *status = status_line (notify);
  g_autofree char *message = g_strdup_printf ("READY=1\nSTATUS=%s", status);

  g_free (notify->last_status);
  notify->last_status = g_steal_pointer (&status);
  sd_notify (0, message);
}

void
daemon_notify_reloading (DaemonNotify *notify)
{
  g_autofree char *message = g_strdup_printf (
    "RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT "\nSTATUS=rescanning plugin files", g_get_monotonic_time ());

  g_clear_pointer (&notify->last_status, g_free);
  sd_notify (0, message);
}

static gboolean
on_extend (gpointer user_data)
{
  DaemonNotify *notify = user_data;
  g_autofree char *message = g_strdup_printf ("EXTEND_TIMEOUT_USEC=%" G_GUINT64_FORMAT,
                                              (guint64) (notify->extend_sec * G_USEC_PER_SEC));

  sd_notify (0, message);
  return G_SOURCE_CONTINUE;
}

void
daemon_notify_stopping (DaemonNotify *notify, gdouble drain_timeout_sec)
{
  sd_notify (0, "STOPPING=1\nSTATUS=draining and shutting down plugins");
  /* Ask for the drain timeout and a margin again and again, so a long drain is not killed midway. */
  notify->extend_sec = drain_timeout_sec + 2 * EXTEND_EVERY_SEC;
  on_extend (notify);
  notify->extend_source = g_timeout_add_seconds (EXTEND_EVERY_SEC, on_extend, notify);
}

void
daemon_notify_free (DaemonNotify *notify)
{
  if (notify == NULL)
    return;
  g_clear_handle_id (&notify->watchdog_source, g_source_remove);
  g_clear_handle_id (&notify->extend_source, g_source_remove);
  for (guint i = 0; i < G_N_ELEMENTS (notify->engine_handlers); i++)
    g_signal_handler_disconnect (notify->engine, notify->engine_handlers[i]);
  g_object_unref (notify->engine);
  g_free (notify->last_status);
  g_free (notify->rescan_note);
  g_free (notify);
}
