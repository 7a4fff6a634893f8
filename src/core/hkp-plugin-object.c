/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-plugin-object-private.h"

#include <string.h>

#include "hkp-engine-private.h"
#include "hkp-log.h"
#include "hkp-util.h"

/*
 * The longest LastError and health message kept (in bytes, "…" included):
 * an error may quote a plugin's file (a module name near its 1 MiB limit),
 * and every read, reply and log line about the plugin carries them.
 */
#define MESSAGE_MAX 4096

/* Returns text as kept for LastError or a health message: valid UTF-8, at most MESSAGE_MAX bytes; caller frees. */
static char *
kept_message (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  g_autofree char *cut = NULL;

  if (strlen (valid) <= MESSAGE_MAX)
    return g_steal_pointer (&valid);
  cut = hkp_utf8_truncate (valid, MESSAGE_MAX - strlen ("…"));
  return g_strconcat (cut, "…", NULL);
}

G_DEFINE_FINAL_TYPE (HkpPlugin, hkp_plugin, G_TYPE_OBJECT)

static const char *const state_names[] = {
  [HKP_PLUGIN_STATE_LOADING] = "loading",     [HKP_PLUGIN_STATE_ACTIVE] = "active",
  [HKP_PLUGIN_STATE_RELOADING] = "reloading", [HKP_PLUGIN_STATE_UNLOADING] = "unloading",
  [HKP_PLUGIN_STATE_FAILED] = "failed",       [HKP_PLUGIN_STATE_DISABLED] = "disabled",
};
G_STATIC_ASSERT (G_N_ELEMENTS (state_names) == HKP_PLUGIN_N_STATES);

const char *
hkp_plugin_state_to_string (HkpPluginState state)
{
  return (guint) state < HKP_PLUGIN_N_STATES ? state_names[state] : "failed";
}

static void
hkp_plugin_finalize (GObject *object)
{
  HkpPlugin *plugin = HKP_PLUGIN (object);

  hkp_plugin_stop_draining_poll (plugin);
  hkp_plugin_stop_crash_restart (plugin);
  /* The engine shuts instances down before it lets go of a plugin. */
  g_clear_pointer (&plugin->instance, hkp_instance_unref);
  g_clear_pointer (&plugin->restart_from, hkp_instance_unref);
  g_clear_pointer (&plugin->manifest, hkp_manifest_unref);
  g_clear_pointer (&plugin->slot, hkp_slot_unref);
  g_clear_pointer (&plugin->draining, g_ptr_array_unref);
  hkp_health_clear (&plugin->health);
  g_free (plugin->name);
  g_free (plugin->file);
  g_free (plugin->file_text);
  g_free (plugin->last_error);
  g_free (plugin->version);
  g_free (plugin->description);
  g_free (plugin->module_path);
  G_OBJECT_CLASS (hkp_plugin_parent_class)->finalize (object);
}

static void
hkp_plugin_class_init (HkpPluginClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = hkp_plugin_finalize;
}

static void
hkp_plugin_init (HkpPlugin *plugin)
{
  plugin->last_error = g_strdup ("");
  plugin->version = g_strdup ("");
  plugin->description = g_strdup ("");
  plugin->module_path = g_strdup ("");
  plugin->config_version = 1;
  plugin->draining = g_ptr_array_new ();
  hkp_health_init (&plugin->health);
}

HkpPlugin *
hkp_plugin_new (HkpEngine *engine, const char *name, const char *file)
{
  HkpPlugin *plugin = g_object_new (HKP_TYPE_PLUGIN, NULL);

  plugin->engine = engine;

  plugin->name = g_utf8_make_valid (name, -1);
  plugin->file = g_strdup (file);
  plugin->state = HKP_PLUGIN_STATE_LOADING;
  plugin->slot = hkp_slot_new (plugin->name, HKP_GATE_SKIP, HKP_FAILURE_CLOSED);
  return plugin;
}

const char *
hkp_plugin_get_name (HkpPlugin *plugin)
{
  return plugin->name;
}

const char *
hkp_plugin_get_file (HkpPlugin *plugin)
{
  return plugin->file;
}

HkpPluginState
hkp_plugin_get_state (HkpPlugin *plugin)
{
  return plugin->state;
}

const char *
hkp_plugin_get_last_error (HkpPlugin *plugin)
{
  return plugin->last_error;
}

HkpManifest *
hkp_plugin_get_manifest (HkpPlugin *plugin)
{
  return plugin->manifest;
}

gint
hkp_plugin_get_priority (HkpPlugin *plugin)
{
  return plugin->manifest != NULL ? plugin->manifest->priority : HKP_PRIORITY_MAX + 1;
}

const char *
hkp_plugin_get_version (HkpPlugin *plugin)
{
  return plugin->version;
}

const char *
hkp_plugin_get_description (HkpPlugin *plugin)
{
  return plugin->description;
}

const char *
hkp_plugin_get_module_path (HkpPlugin *plugin)
{
  return plugin->module_path;
}

HkpInstance *
hkp_plugin_get_instance (HkpPlugin *plugin)
{
  return plugin->instance;
}

gint
hkp_plugin_compare (gconstpointer a, gconstpointer b)
{
  HkpPlugin *pa = *(HkpPlugin **) a;
  HkpPlugin *pb = *(HkpPlugin **) b;
  gint prio_a = hkp_plugin_get_priority (pa);
  gint prio_b = hkp_plugin_get_priority (pb);

  if (prio_a != prio_b)
    return prio_a < prio_b ? -1 : 1;
  return g_strcmp0 (pa->name, pb->name);
}

void
hkp_plugin_set_manifest (HkpPlugin *plugin, HkpManifest *manifest)
{
  gboolean manager_changed = !hkp_manifest_manager_keys_equal (plugin->manifest, manifest);

  if (manifest != NULL)
    {
      hkp_manifest_ref (manifest);
      g_atomic_int_set (&plugin->slot->failure_mode, manifest->failure_mode);
      __atomic_store_n (&plugin->slot->call_timeout_usec, (gint64) manifest->call_timeout_ms * 1000, __ATOMIC_RELAXED);
    }
  g_clear_pointer (&plugin->manifest, hkp_manifest_unref);
  plugin->manifest = manifest;
  if (manager_changed)
    hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_MANAGER);
}

void
hkp_plugin_changed (HkpPlugin *plugin, HkpPluginChange what)
{
  if (plugin->registered)
    hkp_engine_emit_plugin_changed (plugin->engine, plugin, what);
}

HkpHealthStatus
hkp_plugin_get_shown_health (HkpPlugin *plugin)
{
  return plugin->state == HKP_PLUGIN_STATE_FAILED ? HKP_HEALTH_STATUS_UNHEALTHY : plugin->health.status;
}

HkpHealthStatus
hkp_plugin_get_counted_health (HkpPlugin *plugin)
{
  return plugin->state == HKP_PLUGIN_STATE_FAILED ? HKP_HEALTH_STATUS_UNHEALTHY : plugin->counted_health;
}

gboolean
hkp_plugin_is_serving (HkpPlugin *plugin)
{
  /* The state says reloading from the start of a reload: only an overlap reload keeps the previous instance serving. */
  return plugin->state == HKP_PLUGIN_STATE_ACTIVE ||
    (plugin->state == HKP_PLUGIN_STATE_RELOADING && plugin->manifest != NULL &&
     plugin->manifest->reload_strategy == HKP_RELOAD_OVERLAP);
}

gboolean
hkp_plugin_is_enabled (HkpPlugin *plugin)
{
  return plugin->state != HKP_PLUGIN_STATE_DISABLED && plugin->state != HKP_PLUGIN_STATE_UNLOADING;
}

gboolean
hkp_plugin_is_required (HkpPlugin *plugin)
{
  const char *const *named = plugin->engine != NULL ? hkp_engine_get_settings (plugin->engine)->required_plugins : NULL;

  if (plugin->manifest != NULL && plugin->manifest->required)
    return TRUE;
  return named != NULL && g_strv_contains (named, plugin->name);
}

guint
hkp_plugin_get_reload_count (HkpPlugin *plugin)
{
  return plugin->reload_count;
}

guint
hkp_plugin_get_config_version (HkpPlugin *plugin)
{
  return plugin->config_version;
}

guint64
hkp_plugin_get_active_requests (HkpPlugin *plugin)
{
  guint64 total = hkp_slot_current_requests (plugin->slot) + hkp_plugin_get_draining_requests (plugin);
  guint64 health_checks = (guint64) g_atomic_int_get (&plugin->slot->health_checks);

  /* A running health() holds a gate too, so the instance outlives it; it is not a request. */
  return total > health_checks ? total - health_checks : 0;
}

const HkpHealth *
hkp_plugin_get_health (HkpPlugin *plugin)
{
  return &plugin->health;
}

gboolean
hkp_plugin_is_busy (HkpPlugin *plugin)
{
  return plugin->busy;
}

guint
hkp_plugin_get_draining (HkpPlugin *plugin)
{
  /* Those whose drain gave up too: loaded until their calls return. */
  return plugin->draining->len + hkp_slot_count_stuck (plugin->slot, NULL);
}

guint
hkp_plugin_get_draining_requests (HkpPlugin *plugin)
{
  guint64 total = 0;

  hkp_slot_count_stuck (plugin->slot, &total);
  for (guint i = 0; i < plugin->draining->len; i++)
    total += (guint64) MAX (hkp_gate_retired_requests (plugin->draining->pdata[i]), 0);
  return (guint) MIN (total, G_MAXUINT);
}

/* Requests leave drained instances on other threads, without an event: look four times a second. */
#define DRAINING_POLL_MS 250

static gboolean
poll_draining (gpointer user_data)
{
  HkpPlugin *plugin = user_data;
  guint now = hkp_plugin_get_draining_requests (plugin);

  if (now != plugin->draining_announced)
    {
      plugin->draining_announced = now;
      hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_DRAINING);
    }
  if (hkp_plugin_get_draining (plugin) > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&plugin->draining_poll, g_source_unref);
  return G_SOURCE_REMOVE;
}

void
hkp_plugin_stop_crash_restart (HkpPlugin *plugin)
{
  if (plugin->crash_restart == NULL)
    return;
  g_source_destroy (plugin->crash_restart);
  g_clear_pointer (&plugin->crash_restart, g_source_unref);
}

guint
hkp_plugin_get_host_restarts (HkpPlugin *plugin)
{
  return plugin->host_restarts;
}

void
hkp_plugin_stop_draining_poll (HkpPlugin *plugin)
{
  if (plugin->draining_poll == NULL)
    return;
  g_source_destroy (plugin->draining_poll);
  g_clear_pointer (&plugin->draining_poll, g_source_unref);
}

void
hkp_plugin_add_draining (HkpPlugin *plugin, HkpGate *gate)
{
  g_ptr_array_add (plugin->draining, gate);
  if (plugin->draining_poll == NULL)
    {
      /* Borrowed: the engine stops the poll before it lets go of the plugin. */
      plugin->draining_poll = g_timeout_source_new (DRAINING_POLL_MS);
      g_source_set_callback (plugin->draining_poll, poll_draining, plugin, NULL);
      g_source_attach (plugin->draining_poll, plugin->engine != NULL ? plugin->engine->context : NULL);
    }
  poll_draining (plugin);
}

void
hkp_plugin_remove_draining (HkpPlugin *plugin, HkpGate *gate)
{
  g_ptr_array_remove (plugin->draining, gate);
  /* The poll announces the last change and stops at its next tick. */
}

guint64
hkp_plugin_get_outcome_count (HkpPlugin *plugin, HkpOutcome outcome)
{
  return (guint64) __atomic_load_n (&plugin->slot->outcomes[outcome], __ATOMIC_RELAXED);
}

guint
hkp_plugin_get_restart_count (HkpPlugin *plugin)
{
  return plugin->restart_count;
}

guint64
hkp_plugin_get_reload_results (HkpPlugin *plugin, HkpReloadResult result)
{
  g_return_val_if_fail (result < HKP_RELOAD_N_RESULTS, 0);
  return plugin->reloads[result];
}

guint64
hkp_plugin_get_health_checks (HkpPlugin *plugin, HkpHealthStatus status)
{
  g_return_val_if_fail (status < HKP_HEALTH_N_STATUSES, 0);
  return plugin->health_checks[status];
}

void
hkp_plugin_get_call_durations (HkpPlugin *plugin, HkpLatencyCounts *counts)
{
  hkp_latency_read (plugin->slot->call_durations, counts);
}

guint64
hkp_plugin_get_timed_out_calls (HkpPlugin *plugin)
{
  return (guint64) __atomic_load_n (&plugin->slot->timed_out, __ATOMIC_RELAXED);
}

guint64
hkp_plugin_get_cancelled_by_drain (HkpPlugin *plugin)
{
  return plugin->cancelled_by_drain;
}

void
hkp_plugin_set_config_version (HkpPlugin *plugin, guint version)
{
  plugin->config_version = version;
  hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_CONFIG);
}

void
hkp_plugin_set_health (HkpPlugin *plugin, HkpHealth *health)
{
  HkpHealthStatus old = plugin->health.status, old_counted = plugin->counted_health;
  gboolean message_changed;

  if (health->message != NULL)
    {
      char *kept = kept_message (health->message);
      g_free (health->message);
      health->message = kept;
    }
  message_changed = g_strcmp0 (plugin->health.message, health->message) != 0;

  hkp_health_clear (&plugin->health);
  plugin->health = *health;
  memset (health, 0, sizeof *health);
  /* An overlap reload is no dip in health: the previous instance serves as it did until the new one is checked. */
  if (plugin->health.status != HKP_HEALTH_STATUS_TRANSITIONING || !hkp_plugin_is_serving (plugin))
    plugin->counted_health = plugin->health.status;
  if (old != plugin->health.status || message_changed)
    {
      GLogLevelFlags level = plugin->health.status == HKP_HEALTH_STATUS_HEALTHY ? G_LOG_LEVEL_MESSAGE
        : plugin->health.status == HKP_HEALTH_STATUS_DEGRADED || plugin->health.status == HKP_HEALTH_STATUS_UNHEALTHY
        ? G_LOG_LEVEL_WARNING
        : G_LOG_LEVEL_INFO;
      g_log_structured (G_LOG_DOMAIN, level, HKP_LOG_FIELD_PLUGIN, plugin->name, "MESSAGE_ID",
                        HKP_MESSAGE_ID_HEALTH_CHANGED, HKP_LOG_FIELD_RESULT,
                        hkp_health_status_to_string (plugin->health.status), "MESSAGE", "plugin %s health %s -> %s%s%s",
                        plugin->name, hkp_health_status_to_string (old),
                        hkp_health_status_to_string (plugin->health.status),
                        plugin->health.message[0] != '\0' ? ": " : "", plugin->health.message);
      hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_HEALTH);
    }
  else if (old_counted != plugin->counted_health)
    hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_HEALTH);
}

void
hkp_plugin_set_state (HkpPlugin *plugin, HkpPluginState state, const char *error)
{
  HkpPluginState old = plugin->state;
  g_autofree char *kept = error != NULL ? kept_message (error) : NULL;
  gboolean error_changed = FALSE;

  if (kept != NULL && g_strcmp0 (kept, plugin->last_error) != 0)
    {
      g_free (plugin->last_error);
      plugin->last_error = g_steal_pointer (&kept);
      error_changed = TRUE;
    }
  if (old == state)
    {
      if (error_changed)
        hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_ERROR);
      return;
    }
  plugin->state = state;

  {
    const char *state_name = hkp_plugin_state_to_string (state);
    if (state == HKP_PLUGIN_STATE_FAILED)
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, HKP_LOG_FIELD_PLUGIN, plugin->name,
                        HKP_LOG_FIELD_PLUGIN_STATE, state_name, "MESSAGE_ID", HKP_MESSAGE_ID_STATE_CHANGED, "MESSAGE",
                        "plugin %s failed: %s", plugin->name, plugin->last_error);
    else if (state == HKP_PLUGIN_STATE_ACTIVE)
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, HKP_LOG_FIELD_PLUGIN, plugin->name,
                        HKP_LOG_FIELD_PLUGIN_STATE, state_name, "MESSAGE_ID", HKP_MESSAGE_ID_STATE_CHANGED, "MESSAGE",
                        "plugin %s active (%s %s)", plugin->name, plugin->module_path, plugin->version);
    else
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, HKP_LOG_FIELD_PLUGIN, plugin->name,
                        HKP_LOG_FIELD_PLUGIN_STATE, state_name, "MESSAGE_ID", HKP_MESSAGE_ID_STATE_CHANGED, "MESSAGE",
                        "plugin %s %s -> %s", plugin->name, hkp_plugin_state_to_string (old), state_name);
  }
  hkp_plugin_changed (plugin, HKP_PLUGIN_CHANGED_STATE | (error_changed ? HKP_PLUGIN_CHANGED_ERROR : 0));
}

HkpInstance *
hkp_plugin_swap_instance (HkpPlugin *plugin, HkpInstance *instance)
{
  HkpInstance *previous = plugin->instance;

  plugin->instance = instance != NULL ? hkp_instance_ref (instance) : NULL;
  if (instance != NULL)
    {
      g_free (plugin->version);
      plugin->version = g_strdup (hkp_instance_get_version (instance));
      g_free (plugin->description);
      plugin->description = g_strdup (hkp_instance_get_description (instance));
      g_free (plugin->module_path);
      plugin->module_path = g_strdup (hkp_instance_get_module_path (instance));
    }
  return previous;
}

gdouble
hkp_plugin_get_drain_timeout (HkpPlugin *plugin)
{
  if (plugin->manifest != NULL && plugin->manifest->drain_timeout_sec > 0)
    return plugin->manifest->drain_timeout_sec;
  return hkp_engine_get_settings (plugin->engine)->drain_timeout_sec;
}

gdouble
hkp_plugin_get_health_interval (HkpPlugin *plugin)
{
  if (plugin->manifest != NULL && plugin->manifest->health_interval_sec > 0)
    return plugin->manifest->health_interval_sec;
  return hkp_engine_get_settings (plugin->engine)->health_interval_sec;
}

guint
hkp_plugin_get_host_pid (HkpPlugin *plugin)
{
  HkpHost *host = plugin->instance != NULL ? hkp_instance_get_host (plugin->instance) : NULL;

  return host != NULL ? (guint) hkp_host_get_pid (host) : 0;
}
