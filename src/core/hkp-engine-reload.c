/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

/*
 * Applying a manifest to a plugin: a reload (same manifest), a config change
 * (new config), enable and disable, and rescan edits all come here.
 *   overlap:   init the new instance while the old serves; switch; drain the old in the background.
 *   exclusive: pause the plugin's requests (they wait), drain, shut down, init the new instance;
 *              on failure init the previous module with the previous config again.
 */

#include "hkp-engine-private.h"

#include "hkp-error.h"
#include "hkp-log.h"

typedef struct {
  HkpEngine *engine;
  HkpPlugin *plugin;
  HkpManifest *manifest; /* what to apply */
  HkpManifest *previous; /* what was in force (NULL if the file never parsed) */
  HkpInstance *previous_instance; /* exclusive: its module (or module copy) is kept for the rollback */
  HkpInstance *reuse; /* a crash restart: the dead instance whose module copy the new one loads */
  HkpGate *paused_from; /* exclusive: the serving gate being drained */
  GError *error; /* exclusive: why the new instance failed */
  gint64 started; /* monotonic µs */
  gboolean refused; /* the plugin refused the config: nothing was loaded */
} Apply;

static void
apply_free (Apply *apply)
{
  g_object_unref (apply->engine);
  g_object_unref (apply->plugin);
  hkp_manifest_unref (apply->manifest);
  g_clear_pointer (&apply->previous, hkp_manifest_unref);
  g_clear_pointer (&apply->previous_instance, hkp_instance_unref);
  g_clear_pointer (&apply->reuse, hkp_instance_unref);
  g_clear_error (&apply->error);
  g_free (apply);
}

/* Makes instance the plugin's serving one (the current gate must not serve). */
static void
serve (HkpPlugin *plugin, HkpInstance *instance)
{
  hkp_engine_set_instance (plugin, instance);
  hkp_slot_swap_gate (plugin->slot, hkp_gate_new (HKP_GATE_SERVE, instance), hkp_gate_free_drained, NULL);
}

/* The outcome is known: success when error is NULL (taken). */
static void
finish (GTask *task, GError *error)
{
  Apply *apply = g_task_get_task_data (task);

  if (error != NULL && apply->previous != NULL)
    hkp_plugin_set_manifest (apply->plugin, apply->previous);
  /* Statistics count changes that load an instance; a disable loads none, a refused config none either. */
  if (apply->manifest->enabled && !apply->refused)
    {
      HkpReloadResult outcome = error == NULL ? HKP_RELOAD_SUCCESS
        : apply->plugin->instance != NULL     ? HKP_RELOAD_ROLLED_BACK
                                              : HKP_RELOAD_FAILED;
      apply->plugin->reloads[outcome]++;
      hkp_histogram_observe (&apply->engine->reload_duration,
                             (g_get_monotonic_time () - apply->started) / (gdouble) G_USEC_PER_SEC);
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* A new instance serves: count the reload and report success. */
static void
applied (GTask *task)
{
  Apply *apply = g_task_get_task_data (task);

  apply->plugin->reload_count++;
  hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_ACTIVE, "");
  finish (task, NULL);
}

/* The caller's error: a refused config stays InvalidConfig; otherwise code, saying what happened. */
static GError *
outcome_error (Apply *apply, const GError *cause, HkpErrorCode code, const char *what)
{
  if (g_error_matches (cause, HKP_ERROR, HKP_ERROR_INVALID_CONFIG))
    code = HKP_ERROR_INVALID_CONFIG;
  return g_error_new (HKP_ERROR, code, "reload of plugin %s %s: %s", apply->plugin->name, what, cause->message);
}

/* The reload failed and what served before serves again (how says which): log it and return RELOAD_FAILED. */
static void
rolled_back (GTask *task, const GError *cause, const char *how)
{
  Apply *apply = g_task_get_task_data (task);
  g_autofree char *what = g_strdup_printf ("failed and was rolled back; %s", how);

  hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_ACTIVE, cause->message);
  hkp_log_plugin (G_LOG_LEVEL_WARNING, apply->plugin->name, "plugin %s: reload failed, %s: %s", apply->plugin->name,
                  how, cause->message);
  finish (task, outcome_error (apply, cause, HKP_ERROR_RELOAD_FAILED, what));
}

/* ---- starting from nothing (failed or disabled plugins) ---------------- */

static void
on_fresh_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpInstance) instance = hkp_engine_start_instance_finish (apply->engine, apply->manifest, result, &error);

  if (instance == NULL && apply->previous != NULL && !apply->previous->enabled)
    {
      /* A change that would start a disabled plugin and cannot leaves it disabled, as it was: its rollback. */
      hkp_engine_set_gate_mode (apply->plugin, HKP_GATE_SKIP);
      if (g_error_matches (error, HKP_ERROR, HKP_ERROR_INVALID_CONFIG))
        {
          /* An isolated plugin's validate_config runs in its new host: an honest refusal, not a failure. */
          hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_DISABLED, "");
          apply->refused = TRUE;
          finish (task, g_error_new_literal (HKP_ERROR, HKP_ERROR_INVALID_CONFIG, error->message));
          return;
        }
      hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_DISABLED, error->message);
      hkp_log_plugin (G_LOG_LEVEL_WARNING, apply->plugin->name, "plugin %s: reload failed, it stays disabled: %s",
                      apply->plugin->name, error->message);
      finish (task,
              outcome_error (apply, error, HKP_ERROR_RELOAD_FAILED, "failed and was rolled back; it stays disabled"));
      return;
    }
  if (instance == NULL)
    {
      hkp_engine_set_gate_mode (apply->plugin, HKP_GATE_FAILED);
      hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_FAILED, error->message);
      finish (task, outcome_error (apply, error, HKP_ERROR_FAILED, "failed"));
      return;
    }
  serve (apply->plugin, instance);
  applied (task);
}

/* ---- overlap ---------------------------------------------------------- */

static void
on_overlap_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpInstance) instance = hkp_engine_start_instance_finish (apply->engine, apply->manifest, result, &error);

  if (instance == NULL)
    {
      /* The old instance never stopped serving: that is the rollback. */
      rolled_back (task, error, "the previous instance keeps serving");
      return;
    }
  hkp_engine_set_instance (apply->plugin, instance);
  hkp_engine_retire_serving_gate (apply->engine, apply->plugin, hkp_gate_new (HKP_GATE_SERVE, instance), NULL, NULL);
  applied (task);
}

/* ---- exclusive -------------------------------------------------------- */

static void
on_exclusive_rollback (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (HkpInstance) instance = hkp_engine_start_instance_finish (apply->engine, apply->previous, result, &error);

  if (instance == NULL)
    {
      g_autofree char *message = g_strdup_printf ("%s; starting the previous module again failed too: %s",
                                                  apply->error->message, error->message);
      hkp_slot_swap_gate (apply->plugin->slot, hkp_gate_new (HKP_GATE_FAILED, NULL), hkp_gate_free_drained, NULL);
      hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_FAILED, message);
      finish (
        task,
        g_error_new (HKP_ERROR, HKP_ERROR_FAILED, "reload of plugin %s failed: %s", apply->plugin->name, message));
      return;
    }
  serve (apply->plugin, instance);
  rolled_back (task, apply->error, "the previous module and config were started again");
}

static void
on_exclusive_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);
  g_autoptr (HkpInstance) instance = hkp_engine_start_instance_finish (apply->engine, apply->manifest, result,
                                                                       &apply->error);

  if (instance == NULL)
    {
      /* Requests keep waiting on the paused gate while the previous module starts again. */
      hkp_engine_start_instance_async (apply->engine, apply->previous, apply->previous_instance, on_exclusive_rollback,
                                       task);
      return;
    }
  serve (apply->plugin, instance);
  applied (task);
}

static void
on_exclusive_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);

  hkp_engine_start_instance_async (apply->engine, apply->manifest, NULL, on_exclusive_started, task);
}

static void
on_exclusive_drained (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);
  HkpDrainResult outcome;
  HkpGate *gate = hkp_drain_swap_finish (result, &outcome);

  hkp_engine_observe_drain (apply->engine, &outcome);
  hkp_plugin_remove_draining (apply->plugin, apply->paused_from);
  apply->plugin->cancelled_by_drain += outcome.cancelled;
  if (gate == NULL)
    {
      /* Calls into the old instance ignored cancellation: it cannot be shut down, so it serves on (not draining). */
      apply->paused_from->keep_instance = TRUE;
      hkp_slot_remove_stuck (apply->plugin->slot, apply->paused_from);
      hkp_slot_swap_gate (apply->plugin->slot, hkp_gate_new (HKP_GATE_SERVE, apply->plugin->instance),
                          hkp_gate_free_drained, NULL);
      hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_ACTIVE, NULL);
      finish (task,
              g_error_new (HKP_ERROR, HKP_ERROR_RELOAD_FAILED,
                           "reload of plugin %s abandoned: calls into the previous instance did not return "
                           "after cancellation; it keeps serving",
                           apply->plugin->name));
      return;
    }
  apply->previous_instance = hkp_instance_ref (gate->instance);
  hkp_engine_set_instance (apply->plugin, NULL);
  hkp_engine_shutdown_gate_async (apply->engine, apply->plugin->name, gate, on_exclusive_shut_down, task);
}

/* ---- disabling -------------------------------------------------------- */

static void
on_disabled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Apply *apply = g_task_get_task_data (task);

  hkp_plugin_set_state (apply->plugin, HKP_PLUGIN_STATE_DISABLED, "");
  finish (task, NULL);
}

/* ---- entry points ----------------------------------------------------- */

/* hkp_engine_apply_async(), a fresh start loading reuse's module copy when reuse is not NULL. */
static void
apply_start (HkpEngine *engine, HkpPlugin *plugin, HkpManifest *manifest, HkpInstance *reuse,
             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  Apply *apply = g_new0 (Apply, 1);
  gboolean serving = hkp_slot_peek_gate (plugin->slot)->mode == HKP_GATE_SERVE;
  gdouble drain_timeout;

  g_assert (plugin->busy);
  g_task_set_source_tag (task, hkp_engine_apply_async);
  apply->reuse = reuse != NULL ? hkp_instance_ref (reuse) : NULL;
  /* Any other change loads the module file as it is now: the operator's word. */
  if (reuse == NULL)
    g_clear_pointer (&plugin->restart_from, hkp_instance_unref);
  apply->engine = g_object_ref (engine);
  apply->plugin = g_object_ref (plugin);
  apply->manifest = hkp_manifest_ref (manifest);
  apply->started = g_get_monotonic_time ();
  apply->previous = plugin->manifest != NULL ? hkp_manifest_ref (plugin->manifest) : NULL;
  g_task_set_task_data (task, apply, (GDestroyNotify) apply_free);
  hkp_plugin_set_manifest (plugin, manifest);

  if (!manifest->enabled)
    {
      if (!serving)
        {
          hkp_engine_set_gate_mode (plugin, HKP_GATE_SKIP);
          on_disabled (NULL, NULL, task);
          return;
        }
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_UNLOADING, NULL);
      hkp_engine_set_instance (plugin, NULL);
      hkp_engine_retire_serving_gate (engine, plugin, hkp_gate_new (HKP_GATE_SKIP, NULL), on_disabled, task);
      return;
    }
  if (!serving)
    {
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_LOADING, NULL);
      hkp_engine_start_instance_async (engine, manifest, apply->reuse, on_fresh_started, task);
      return;
    }
  hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_RELOADING, NULL);
  if (manifest->reload_strategy == HKP_RELOAD_OVERLAP)
    {
      hkp_engine_start_instance_async (engine, manifest, NULL, on_overlap_started, task);
      return;
    }
  apply->paused_from = hkp_slot_peek_gate (plugin->slot);
  /* Waiting requests get the drain and both init bounds before they give up on the plugin. */
  drain_timeout = hkp_engine_drain_timeout (engine, plugin);
  __atomic_store_n (&plugin->slot->pause_limit_usec,
                    (gint64) ((2 * drain_timeout + 2 * engine->settings.init_timeout_sec) * G_USEC_PER_SEC),
                    __ATOMIC_RELAXED);
  hkp_drain_swap_async (plugin->slot, hkp_gate_new (HKP_GATE_PAUSED, NULL), drain_timeout, MAX (drain_timeout, 1.0),
                        hkp_engine_shutdown_late, on_exclusive_drained, task);
  hkp_plugin_add_draining (plugin, apply->paused_from);
}

void
hkp_engine_apply_async (HkpEngine *engine, HkpPlugin *plugin, HkpManifest *manifest, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  apply_start (engine, plugin, manifest, NULL, callback, user_data);
}

void
hkp_engine_restart_async (HkpEngine *engine, HkpPlugin *plugin, GAsyncReadyCallback callback, gpointer user_data)
{
  apply_start (engine, plugin, plugin->manifest, plugin->restart_from, callback, user_data);
}

gboolean
hkp_engine_apply_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Returns a reload's outcome, success when error is NULL (taken), and drops the task. */
static void
reload_return (GTask *task, GError *error)
{
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
on_reload_applied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  hkp_engine_release (HKP_ENGINE (source), g_task_get_task_data (task));
  hkp_engine_apply_finish (HKP_ENGINE (source), result, &error);
  reload_return (task, error);
}

void
hkp_engine_reload_async (HkpEngine *engine, const char *name, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);
  GError *error = NULL;
  HkpPlugin *plugin;

  g_task_set_source_tag (task, hkp_engine_reload_async);
  plugin = hkp_engine_find (engine, name, &error);
  if (plugin == NULL)
    return reload_return (task, error);
  if (plugin->manifest == NULL)
    return reload_return (task,
                          g_error_new (HKP_ERROR, HKP_ERROR_FAILED,
                                       "plugin %s cannot be reloaded: its file is invalid (%s)", name,
                                       plugin->last_error));
  if (plugin->state == HKP_PLUGIN_STATE_DISABLED)
    return reload_return (
      task, g_error_new (HKP_ERROR, HKP_ERROR_DISABLED, "plugin %s is disabled; enable it instead", name));
  if (!hkp_engine_claim_change (engine, plugin, &error))
    return reload_return (task, error);
  g_task_set_task_data (task, g_object_ref (plugin), g_object_unref);
  hkp_engine_apply_async (engine, plugin, plugin->manifest, on_reload_applied, task);
}

gboolean
hkp_engine_reload_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
