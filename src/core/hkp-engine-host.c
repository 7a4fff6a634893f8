/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * When a plugin host ends on its own (a crash, an exit, a kill for a call
 * past its deadline): the plugin fails at once, saying how its host ended,
 * its requests go by the failure mode, and a new host is started — at once
 * the first time, then later and later while it keeps crashing, until the
 * restart policy gives up.
 */

#include "hkp-engine-private.h"

#include <math.h>

#include "hkp-log.h"

/*
 * A host that ended within this long of its start ended "quickly": the first
 * few quick ends in a row get a new host at once, then later and later, and
 * after many the plugin stays failed.  A host that ran longer resets it all.
 */
#define CRASH_QUICK_USEC (10 * G_USEC_PER_SEC)
#define CRASH_QUICK_FREE 5
#define CRASH_QUICK_MAX 20
#define CRASH_BACKOFF_INITIAL_SEC 0.25
#define CRASH_BACKOFF_MAX_SEC 60.0

/* Returns the plugin whose serving instance runs in host, or NULL. */
static HkpPlugin *
plugin_of_host (HkpEngine *engine, HkpHost *host)
{
  for (guint i = 0; i < engine->plugins->len; i++)
    {
      HkpPlugin *plugin = engine->plugins->pdata[i];
      if (plugin->instance != NULL && hkp_instance_get_host (plugin->instance) == host)
        return plugin;
    }
  return NULL;
}

static gboolean on_restart_due (gpointer user_data);

/* Counts the host's end; returns the delay before the next host (negative: give up). */
static gdouble
next_restart_delay (HkpPlugin *plugin)
{
  gint64 now = g_get_monotonic_time ();

  if (plugin->last_restart_usec == 0 || now - plugin->last_restart_usec >= CRASH_QUICK_USEC)
    plugin->crash_backoff = 0;
  plugin->crash_backoff++;
  if (plugin->crash_backoff > CRASH_QUICK_MAX)
    return -1;
  if (plugin->crash_backoff <= CRASH_QUICK_FREE)
    return 0;
  return MIN (CRASH_BACKOFF_INITIAL_SEC * ldexp (1.0, (int) (plugin->crash_backoff - CRASH_QUICK_FREE - 1)),
              CRASH_BACKOFF_MAX_SEC);
}

/* Starts the plugin's next host after plugin->crash_delay, unless the policy gave up (main thread). */
static void
arm_restart (HkpPlugin *plugin)
{
  if (plugin->crash_delay < 0 || !plugin->registered)
    return;
  if (plugin->crash_delay > 0)
    hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: a new host in %g s", plugin->name,
                    plugin->crash_delay);
  hkp_plugin_stop_crash_restart (plugin);
  plugin->crash_restart = g_timeout_source_new ((guint) (plugin->crash_delay * 1000));
  g_source_set_callback (plugin->crash_restart, on_restart_due, plugin, NULL);
  g_source_attach (plugin->crash_restart, plugin->engine->context);
}

/* The text LastError says when the policy gives up after cause. */
static char *
given_up_message (const char *cause)
{
  return g_strdup_printf ("%s; its host ended or failed to start %u times in a row soon after it started: not "
                          "started again until the plugin is reloaded or enabled",
                          cause, CRASH_QUICK_MAX + 1);
}

static void
on_restarted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (HkpPlugin) plugin = user_data;
  g_autoptr (GError) error = NULL;

  hkp_engine_release (HKP_ENGINE (source), plugin);
  if (hkp_engine_apply_finish (HKP_ENGINE (source), result, &error))
    {
      g_clear_pointer (&plugin->restart_from, hkp_instance_unref);
      return;
    }
  hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: its new host did not start: %s", plugin->name,
                  error->message);
  /* A start that fails counts as another quick end: tried again, later and later, until the policy gives up. */
  if (!plugin->registered || plugin->state != HKP_PLUGIN_STATE_FAILED || plugin->crash_restart != NULL)
    return;
  plugin->crash_delay = next_restart_delay (plugin);
  if (plugin->crash_delay < 0)
    {
      g_autofree char *message = given_up_message (hkp_plugin_get_last_error (plugin));
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, message);
      g_clear_pointer (&plugin->restart_from, hkp_instance_unref);
      return;
    }
  arm_restart (plugin);
}

static gboolean
on_restart_due (gpointer user_data)
{
  HkpPlugin *plugin = user_data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&plugin->crash_restart, g_source_unref);
  if (!plugin->registered || plugin->manifest == NULL || plugin->state != HKP_PLUGIN_STATE_FAILED ||
      !hkp_engine_claim (plugin->engine, plugin, &error))
    return G_SOURCE_REMOVE; /* gone, changed, or another change runs: that decides */
  plugin->last_restart_usec = g_get_monotonic_time ();
  hkp_log_plugin (G_LOG_LEVEL_MESSAGE, plugin->name, "plugin %s: starting a new host", plugin->name);
  hkp_engine_restart_async (plugin->engine, plugin, on_restarted, g_object_ref (plugin));
  return G_SOURCE_REMOVE;
}

/* The dead host's instance is retired: the plugin is free for its new host. */
static void
on_dead_retired (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (HkpPlugin) plugin = user_data;

  hkp_engine_release (HKP_ENGINE (source), plugin);
  arm_restart (plugin);
}

/* The plugin's serving host ended (why): the plugin fails, and a new host is due; a change running decides instead. */
static void
fail_dead_host (HkpEngine *engine, HkpPlugin *plugin, const char *why)
{
  g_autofree char *message = g_strdup_printf ("plugin host %s", why);
  g_autoptr (GError) error = NULL;

  if (!hkp_engine_claim (engine, plugin, &error))
    {
      /* Its outcome stands; if it keeps this instance, hkp_engine_check_serving_host() comes back here. */
      hkp_plugin_set_state (plugin, plugin->state, message);
      return;
    }
  plugin->crash_delay = next_restart_delay (plugin);
  if (plugin->crash_delay < 0)
    {
      g_free (message);
      message = given_up_message (why);
    }
  /* Its module copy is what the new host loads (the file may be mid-upgrade): kept until a host serves. */
  g_clear_pointer (&plugin->restart_from, hkp_instance_unref);
  if (plugin->crash_delay >= 0 && plugin->instance != NULL && hkp_instance_get_copy_path (plugin->instance) != NULL)
    plugin->restart_from = hkp_instance_ref (plugin->instance);
  hkp_engine_set_instance (plugin, NULL);
  hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_FAILED, message);
  hkp_engine_retire_serving_gate (engine, plugin, hkp_gate_new (HKP_GATE_FAILED, NULL), on_dead_retired,
                                  g_object_ref (plugin));
}

void
hkp_engine_host_ended (HkpEngine *engine, HkpHost *host, const char *why, guint in_flight)
{
  HkpPlugin *plugin = plugin_of_host (engine, host);

  if (plugin == NULL)
    return; /* a host of an instance already retired: nothing serves from it */
  plugin->host_restarts++;
  hkp_log_plugin (
    G_LOG_LEVEL_WARNING, plugin->name,
    "plugin %s: its host (pid %d) %s; %u requests in flight were answered by its failure mode (%s)", plugin->name,
    (int) hkp_host_get_pid (host), why, in_flight,
    hkp_failure_mode_to_string (plugin->manifest != NULL ? plugin->manifest->failure_mode : HKP_FAILURE_CLOSED));
  fail_dead_host (engine, plugin, why);
}

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  HkpHost *host;
} DeadServing;

static void
dead_serving_free (DeadServing *dead)
{
  g_object_unref (dead->engine);
  g_object_unref (dead->plugin);
  hkp_host_unref (dead->host);
  g_free (dead);
}

/* Main thread, once the change that kept a dead host's instance is over. */
static gboolean
fail_dead_serving (gpointer data)
{
  DeadServing *dead = data;
  g_autofree char *end = hkp_host_dup_end (dead->host);

  if (end == NULL || dead->engine->stopping || !dead->plugin->registered ||
      plugin_of_host (dead->engine, dead->host) != dead->plugin)
    return G_SOURCE_REMOVE; /* another change replaced it by now */
  hkp_log_plugin (G_LOG_LEVEL_WARNING, dead->plugin->name,
                  "plugin %s: its host (pid %d) ended while a change ran, which left it serving: failing it",
                  dead->plugin->name, (int) hkp_host_get_pid (dead->host));
  fail_dead_host (dead->engine, dead->plugin, end);
  return G_SOURCE_REMOVE;
}

void
hkp_engine_check_serving_host (HkpEngine *engine, HkpPlugin *plugin)
{
  HkpHost *host = plugin->instance != NULL ? hkp_instance_get_host (plugin->instance) : NULL;
  g_autofree char *end = NULL;
  DeadServing *dead;
  GSource *source;

  if (host == NULL || engine->stopping || (end = hkp_host_dup_end (host)) == NULL)
    return;
  /* Not here: whoever let the plugin go may go on with it before returning. */
  dead = g_new0 (DeadServing, 1);
  dead->engine = g_object_ref (engine);
  dead->plugin = g_object_ref (plugin);
  dead->host = hkp_host_ref (host);
  source = g_idle_source_new ();
  g_source_set_callback (source, fail_dead_serving, dead, (GDestroyNotify) dead_serving_free);
  g_source_attach (source, engine->context);
  g_source_unref (source);
}
