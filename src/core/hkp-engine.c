/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "config.h"

#include "hkp-engine-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "hkp-error.h"
#include "hkp-file.h"
#include "hkp-health-monitor.h"
#include "hkp-log.h"
#include "hkp-thread-call.h"

enum {
  SIGNAL_PLUGIN_ADDED,
  SIGNAL_PLUGIN_REMOVED,
  SIGNAL_PLUGIN_CHANGED,
  N_SIGNALS,
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (HkpEngine, hkp_engine, G_TYPE_OBJECT)

static void
hkp_engine_finalize (GObject *object)
{
  HkpEngine *engine = HKP_ENGINE (object);

  /* Nobody checks requests any more: the last chain goes at once. */
  hkp_chain_free ((HkpChain *) hkp_guard_swap (&engine->chain, NULL));
  g_queue_clear_full (&engine->load_queue, g_object_unref);
  g_clear_pointer (&engine->by_name, g_hash_table_unref);
  g_clear_pointer (&engine->plugins, g_ptr_array_unref);
  /* Last: slots and instances gone, their deadline queues are too. */
  hkp_engine_check_env_clear (engine);
  hkp_engine_host_events_clear (engine);
  g_free (engine->host_program);
  g_strfreev (engine->host_environment);
  g_clear_pointer (&engine->idle_waiters, g_ptr_array_unref);
  if (engine->copy_dir != NULL)
    hkp_file_remove_module_copy_dir (engine->copy_dir, engine->copy_dir_lock);
  g_free (engine->copy_dir);
  g_free (engine->plugin_dir);
  g_free (engine->config_dir);
  g_free (engine->state_dir);
  g_strfreev (engine->required_plugins);
  hkp_check_stats_clear (&engine->check_stats);
  g_clear_pointer (&engine->context, g_main_context_unref);
  G_OBJECT_CLASS (hkp_engine_parent_class)->finalize (object);
}

static void
hkp_engine_class_init (HkpEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = hkp_engine_finalize;
  signals[SIGNAL_PLUGIN_ADDED] = g_signal_new ("plugin-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                               NULL, NULL, G_TYPE_NONE, 1, HKP_TYPE_PLUGIN);
  signals[SIGNAL_PLUGIN_REMOVED] = g_signal_new ("plugin-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                 NULL, NULL, NULL, G_TYPE_NONE, 1, HKP_TYPE_PLUGIN);
  signals[SIGNAL_PLUGIN_CHANGED] = g_signal_new ("plugin-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                 NULL, NULL, NULL, G_TYPE_NONE, 2, HKP_TYPE_PLUGIN, G_TYPE_UINT);
}

static void
hkp_engine_init (HkpEngine *engine)
{
  engine->plugins = g_ptr_array_new_with_free_func (g_object_unref);
  engine->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  engine->idle_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  engine->context = g_main_context_ref_thread_default ();
  engine->start_time = g_get_real_time ();
  engine->copy_dir_lock = -1;
  g_queue_init (&engine->load_queue);
  hkp_check_stats_init (&engine->check_stats);
}

/*
 * What a killed daemon leaves: module copies in the state directory,
 * temporary files beside plugin files (also beside the targets of
 * symlinked ones) and in the history.  Anything a running daemon holds is
 * left alone.
 */
static void
remove_leftovers (HkpEngine *engine)
{
  g_autoptr (GDir) handle = g_dir_open (engine->config_dir, 0, NULL);
  const char *entry;

  hkp_file_remove_module_copies (engine->state_dir);
  hkp_config_history_tidy (engine->state_dir);
  hkp_file_remove_temporaries (engine->config_dir, NULL);
  while (handle != NULL && (entry = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (engine->config_dir, entry, NULL);
      g_autofree char *target = NULL;
      g_autofree char *target_dir = NULL;
      g_autofree char *target_base = NULL;

      if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) || (target = realpath (path, NULL)) == NULL)
        continue;
      target_dir = g_path_get_dirname (target);
      target_base = g_path_get_basename (target);
      if (!g_str_equal (target_dir, engine->config_dir))
        hkp_file_remove_temporaries (target_dir, target_base);
    }
}

/*
 * The environment of plugin hosts: what the settings say, or else nothing
 * but the sanitizers' own options (a sanitized build's hosts then report
 * as the tests want them to).
 */
static char **
host_environment (const char *const *given)
{
  static const char *const passed[] = { "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS" };
  g_autoptr (GStrvBuilder) builder = NULL;

  if (given != NULL)
    return g_strdupv ((char **) given);
  builder = g_strv_builder_new ();
  for (guint i = 0; i < G_N_ELEMENTS (passed); i++)
    if (g_getenv (passed[i]) != NULL)
      {
        g_autofree char *entry = g_strdup_printf ("%s=%s", passed[i], g_getenv (passed[i]));
        g_strv_builder_add (builder, entry);
      }
  return g_strv_builder_end (builder);
}

HkpEngine *
hkp_engine_new (const HkpEngineSettings *settings, GError **error)
{
  g_autoptr (HkpEngine) engine = NULL;

  g_return_val_if_fail (settings->plugin_dir != NULL, NULL);
  g_return_val_if_fail (settings->config_dir != NULL, NULL);
  g_return_val_if_fail (settings->state_dir != NULL, NULL);

  engine = g_object_new (HKP_TYPE_ENGINE, NULL);
  engine->settings = *settings;
  engine->plugin_dir = g_strdup (settings->plugin_dir);
  engine->config_dir = g_strdup (settings->config_dir);
  engine->state_dir = g_strdup (settings->state_dir);
  engine->settings.plugin_dir = engine->plugin_dir;
  engine->settings.config_dir = engine->config_dir;
  engine->settings.state_dir = engine->state_dir;
  engine->required_plugins = g_strdupv ((char **) settings->required_plugins);
  engine->settings.required_plugins = (const char *const *) engine->required_plugins;
  if (engine->settings.drain_timeout_sec <= 0)
    engine->settings.drain_timeout_sec = HKP_DRAIN_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.health_interval_sec <= 0)
    engine->settings.health_interval_sec = HKP_HEALTH_INTERVAL_DEFAULT_SEC;
  if (engine->settings.init_timeout_sec <= 0)
    engine->settings.init_timeout_sec = HKP_INIT_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.shutdown_timeout_sec <= 0)
    engine->settings.shutdown_timeout_sec = HKP_SHUTDOWN_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.max_parallel_loads == 0)
    engine->settings.max_parallel_loads = HKP_PARALLEL_LOADS_DEFAULT;
  if (engine->settings.health_timeout_sec <= 0)
    engine->settings.health_timeout_sec = HKP_HEALTH_TIMEOUT_DEFAULT_SEC;
  if (engine->settings.restart.after_failures == 0)
    engine->settings.restart.after_failures = 3;
  if (engine->settings.restart.backoff_initial_sec <= 0)
    engine->settings.restart.backoff_initial_sec = 1;
  if (engine->settings.restart.backoff_max_sec <= 0)
    engine->settings.restart.backoff_max_sec = 300;
  if (engine->settings.restart.reset_after_sec <= 0)
    engine->settings.restart.reset_after_sec = 600;
  if (engine->settings.restart.window_sec <= 0)
    engine->settings.restart.window_sec = 3600;
  if (engine->settings.restart.max_in_window == 0)
    engine->settings.restart.max_in_window = 5;
  if (engine->settings.history_limit == 0)
    engine->settings.history_limit = HKP_CONFIG_HISTORY_LIMIT_DEFAULT;

  if (g_mkdir_with_parents (engine->state_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "state directory %s: %s", engine->state_dir, g_strerror (saved));
      return NULL;
    }
  remove_leftovers (engine);
  /* Module copies live under the state directory: /tmp and /run are often mounted noexec. */
  engine->copy_dir = hkp_file_make_module_copy_dir (engine->state_dir, &engine->copy_dir_lock, error);
  if (engine->copy_dir == NULL)
    return NULL;
  hkp_engine_check_env_init (engine);
  hkp_engine_host_events_init (engine);
  engine->host_program = g_strdup (settings->host_program != NULL           ? settings->host_program
                                     : g_getenv ("HKP_PLUGIN_HOST") != NULL ? g_getenv ("HKP_PLUGIN_HOST")
                                                                            : HKP_PLUGIN_HOST_PATH);
  engine->host_environment = host_environment (settings->host_environment);
  engine->settings.host_program = engine->host_program;
  engine->settings.host_environment = (const char *const *) engine->host_environment;
  return g_steal_pointer (&engine);
}

gint64
hkp_engine_get_start_time (HkpEngine *engine)
{
  return engine->start_time;
}

const HkpHistogram *
hkp_engine_get_reload_durations (HkpEngine *engine)
{
  return &engine->reload_duration;
}

const HkpHistogram *
hkp_engine_get_drain_durations (HkpEngine *engine)
{
  return &engine->drain_duration;
}

void
hkp_engine_observe_drain (HkpEngine *engine, const HkpDrainResult *outcome)
{
  hkp_histogram_observe (&engine->drain_duration, outcome->duration_usec / (gdouble) G_USEC_PER_SEC);
}

HkpCheckStats *
hkp_engine_get_check_stats (HkpEngine *engine)
{
  return &engine->check_stats;
}

const HkpEngineSettings *
hkp_engine_get_settings (HkpEngine *engine)
{
  return &engine->settings;
}

HkpPlugin *
hkp_engine_lookup (HkpEngine *engine, const char *name)
{
  return g_hash_table_lookup (engine->by_name, name);
}

HkpPlugin *
hkp_engine_find (HkpEngine *engine, const char *name, GError **error)
{
  HkpPlugin *plugin = name != NULL ? hkp_engine_lookup (engine, name) : NULL;
  g_autofree char *why = NULL;

  /* A file with a bad name still makes a (failed) plugin, so look it up before judging the name. */
  if (plugin != NULL)
    return plugin;
  why = hkp_plugin_name_describe_unknown (name);
  g_set_error_literal (error, HKP_ERROR,
                       hkp_plugin_name_is_valid (name) ? HKP_ERROR_NO_SUCH_PLUGIN : HKP_ERROR_INVALID_NAME, why);
  return NULL;
}

void
hkp_engine_count_states (HkpEngine *engine, guint counts[HKP_PLUGIN_N_STATES])
{
  memset (counts, 0, HKP_PLUGIN_N_STATES * sizeof counts[0]);
  for (guint i = 0; i < engine->plugins->len; i++)
    counts[hkp_plugin_get_state (engine->plugins->pdata[i])]++;
}

void
hkp_engine_emit_plugin_changed (HkpEngine *engine, HkpPlugin *plugin, HkpPluginChange what)
{
  /* The health that follows from a state is set first, so front ends see both together. */
  if (what & HKP_PLUGIN_CHANGED_STATE)
    hkp_health_watch_state_changed (plugin);
  g_signal_emit (engine, signals[SIGNAL_PLUGIN_CHANGED], 0, plugin, (guint) what);
}

GPtrArray *
hkp_engine_list_plugins (HkpEngine *engine)
{
  GPtrArray *list = g_ptr_array_sized_new (engine->plugins->len);

  for (guint i = 0; i < engine->plugins->len; i++)
    g_ptr_array_add (list, engine->plugins->pdata[i]);
  return list;
}

gdouble
hkp_engine_drain_timeout (HkpEngine *engine, HkpPlugin *plugin)
{
  return hkp_plugin_get_drain_timeout (plugin);
}

/* ---- the chain -------------------------------------------------------- */

void
hkp_engine_publish_chain (HkpEngine *engine)
{
  g_autofree HkpSlot **slots = g_new (HkpSlot *, engine->plugins->len + 1);
  HkpChain *chain;
  HkpGuarded *old;

  for (guint i = 0; i < engine->plugins->len; i++)
    slots[i] = ((HkpPlugin *) engine->plugins->pdata[i])->slot;
  chain = hkp_chain_new (slots, engine->plugins->len);
  old = hkp_guard_peek (&engine->chain);
  if (old != NULL)
    {
      old->retired = hkp_chain_free_drained;
      old->retired_data = NULL;
    }
  hkp_guard_swap (&engine->chain, &chain->guard);
}

/* ---- registry --------------------------------------------------------- */

/* Returns where plugin belongs in the priority order of engine->plugins. */
static guint
priority_position (HkpEngine *engine, HkpPlugin *plugin)
{
  guint low = 0, high = engine->plugins->len;

  while (low < high)
    {
      guint mid = low + (high - low) / 2;
      if (hkp_plugin_compare (&engine->plugins->pdata[mid], &plugin) <= 0)
        low = mid + 1;
      else
        high = mid;
    }
  return low;
}

void
hkp_engine_register (HkpEngine *engine, HkpPlugin *plugin)
{
  g_ptr_array_insert (engine->plugins, (gint) priority_position (engine, plugin), g_object_ref (plugin));
  g_hash_table_insert (engine->by_name, plugin->name, plugin);
  hkp_health_watch_start (engine, plugin);
  plugin->registered = TRUE; /* from now on its changes are announced: plugin-added comes first */
  hkp_engine_publish_chain (engine);
  g_signal_emit (engine, signals[SIGNAL_PLUGIN_ADDED], 0, plugin);
}

void
hkp_engine_reorder (HkpEngine *engine, HkpPlugin *plugin)
{
  g_object_ref (plugin); /* the list's reference goes while it is moved */
  g_ptr_array_remove (engine->plugins, plugin);
  g_ptr_array_insert (engine->plugins, (gint) priority_position (engine, plugin), plugin);
  hkp_engine_publish_chain (engine);
}

void
hkp_engine_unregister (HkpEngine *engine, HkpPlugin *plugin)
{
  g_object_ref (plugin); /* held until plugin-removed has been emitted */
  hkp_health_watch_stop (plugin);
  hkp_plugin_stop_draining_poll (plugin);
  hkp_plugin_stop_crash_restart (plugin);
  plugin->registered = FALSE;
  g_hash_table_remove (engine->by_name, plugin->name);
  g_ptr_array_remove (engine->plugins, plugin);
  hkp_engine_publish_chain (engine);
  g_signal_emit (engine, signals[SIGNAL_PLUGIN_REMOVED], 0, plugin);
  g_object_unref (plugin);
}

/* ---- operations in progress ------------------------------------------- */

void
hkp_engine_check_idle (HkpEngine *engine)
{
  g_autoptr (GPtrArray) waiters = NULL;

  if (engine->loads_running > 0 || engine->pending > 0 || !g_queue_is_empty (&engine->load_queue))
    return;
  waiters = g_steal_pointer (&engine->idle_waiters);
  engine->idle_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_boolean (waiters->pdata[i], TRUE);
}

void
hkp_engine_op_begin (HkpEngine *engine)
{
  engine->pending++;
}

void
hkp_engine_op_end (HkpEngine *engine)
{
  g_assert (engine->pending > 0);
  engine->pending--;
  hkp_engine_check_idle (engine);
}

gboolean
hkp_engine_can_claim (HkpEngine *engine, HkpPlugin *plugin, GError **error)
{
  if (engine->stopping)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_FAILED, "the service is stopping");
      return FALSE;
    }
  if (plugin->busy || plugin->state == HKP_PLUGIN_STATE_LOADING)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_BUSY, "another change of plugin %s is in progress", plugin->name);
      return FALSE;
    }
  return TRUE;
}

gboolean
hkp_engine_claim (HkpEngine *engine, HkpPlugin *plugin, GError **error)
{
  if (!hkp_engine_can_claim (engine, plugin, error))
    return FALSE;
  plugin->busy = TRUE;
  hkp_engine_op_begin (engine);
  return TRUE;
}

gboolean
hkp_engine_claim_change (HkpEngine *engine, HkpPlugin *plugin, GError **error)
{
  if (!hkp_engine_can_claim (engine, plugin, error))
    return FALSE;
  /* Old instances never pile up: those still draining, or left loaded by calls that ignore cancellation. */
  if (hkp_slot_peek_gate (plugin->slot)->mode == HKP_GATE_SERVE && hkp_plugin_get_draining (plugin) >= 2)
    {
      g_set_error (error, HKP_ERROR, HKP_ERROR_BUSY, "two earlier instances of plugin %s are still draining",
                   plugin->name);
      return FALSE;
    }
  return hkp_engine_claim (engine, plugin, error);
}

void
hkp_engine_release (HkpEngine *engine, HkpPlugin *plugin)
{
  plugin->busy = FALSE;
  hkp_engine_op_end (engine);
  hkp_engine_check_serving_host (engine, plugin);
}

void
hkp_engine_wait_idle_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (engine, NULL, callback, user_data);

  g_task_set_source_tag (task, hkp_engine_wait_idle_async);
  g_ptr_array_add (engine->idle_waiters, task);
  hkp_engine_check_idle (engine);
}

gboolean
hkp_engine_wait_idle_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- shutdown --------------------------------------------------------- */

typedef struct {
  GTask *task;
  HkpPlugin *current;
} ShutdownContext;

static void shutdown_next (ShutdownContext *ctx);

static void
on_instance_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ShutdownContext *ctx = user_data;
  HkpEngine *engine = g_task_get_source_object (ctx->task);
  g_autoptr (HkpPlugin) plugin = g_steal_pointer (&ctx->current);
  g_autoptr (GError) error = NULL;

  if (hkp_thread_call_finish (result, &error) == NULL)
    hkp_log_plugin (G_LOG_LEVEL_WARNING, plugin->name, "plugin %s: shutdown %s; leaving it behind", plugin->name,
                    error->message);
  else
    hkp_log_plugin (G_LOG_LEVEL_MESSAGE, plugin->name, "plugin %s shut down", plugin->name);
  hkp_engine_unregister (engine, plugin);
  shutdown_next (ctx);
}

static void
on_final_drain (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ShutdownContext *ctx = user_data;
  HkpEngine *engine = g_task_get_source_object (ctx->task);
  HkpDrainResult outcome;
  HkpGate *gate = hkp_drain_swap_finish (result, &outcome);

  hkp_engine_observe_drain (engine, &outcome);
  ctx->current->cancelled_by_drain += outcome.cancelled;
  if (gate == NULL)
    {
      g_autoptr (HkpPlugin) plugin = g_steal_pointer (&ctx->current);
      hkp_engine_unregister (engine, plugin);
      shutdown_next (ctx);
      return;
    }
  hkp_engine_shutdown_gate_async (engine, ctx->current->name, gate, on_instance_shut_down, ctx);
}

/* Drains and shuts down the last plugin in priority order, then the one before, until none is left. */
static void
shutdown_next (ShutdownContext *ctx)
{
  HkpEngine *engine = g_task_get_source_object (ctx->task);

  while (engine->plugins->len > 0)
    {
      HkpPlugin *plugin = engine->plugins->pdata[engine->plugins->len - 1];

      if (hkp_slot_peek_gate (plugin->slot)->mode != HKP_GATE_SERVE)
        {
          hkp_engine_unregister (engine, plugin);
          continue;
        }
      hkp_plugin_set_state (plugin, HKP_PLUGIN_STATE_UNLOADING, NULL);
      hkp_engine_set_instance (plugin, NULL);
      ctx->current = g_object_ref (plugin);
      hkp_drain_swap_async (plugin->slot, hkp_gate_new (HKP_GATE_SKIP, NULL), hkp_engine_drain_timeout (engine, plugin),
                            MAX (hkp_engine_drain_timeout (engine, plugin), 1.0), hkp_engine_shutdown_late,
                            on_final_drain, ctx);
      return;
    }
  g_message ("all plugins shut down");
  g_task_return_boolean (ctx->task, TRUE);
  g_object_unref (ctx->task);
  g_free (ctx);
}

static void
on_shutdown_idle (GObject *source, GAsyncResult *result, gpointer user_data)
{
  shutdown_next (user_data);
}

void
hkp_engine_shutdown_async (HkpEngine *engine, GAsyncReadyCallback callback, gpointer user_data)
{
  ShutdownContext *ctx = g_new0 (ShutdownContext, 1);
  HkpPlugin *queued;

  ctx->task = g_task_new (engine, NULL, callback, user_data);
  g_task_set_source_tag (ctx->task, hkp_engine_shutdown_async);
  engine->stopping = TRUE;
  for (guint i = 0; i < engine->plugins->len; i++)
    hkp_health_watch_stop (engine->plugins->pdata[i]);
  while ((queued = g_queue_pop_head (&engine->load_queue)) != NULL)
    {
      queued->busy = FALSE;
      hkp_engine_set_gate_mode (queued, HKP_GATE_FAILED);
      hkp_plugin_set_state (queued, HKP_PLUGIN_STATE_FAILED, "not loaded: the service is stopping");
      g_object_unref (queued);
    }
  /* Loads, transitions and drains in flight finish first, so their instances are shut down too. */
  hkp_engine_wait_idle_async (engine, on_shutdown_idle, ctx);
}

gboolean
hkp_engine_shutdown_finish (HkpEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, engine), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

char *
hkp_engine_describe_unfinished (HkpEngine *engine)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint i = 0; i < engine->plugins->len; i++)
    {
      HkpPlugin *plugin = engine->plugins->pdata[i];

      if (!plugin->busy && plugin->state != HKP_PLUGIN_STATE_LOADING && plugin->state != HKP_PLUGIN_STATE_UNLOADING)
        continue;
      g_string_append_printf (text, "%s%s (%s)", text->len > 0 ? ", " : "", plugin->name,
                              hkp_plugin_state_to_string (plugin->state));
    }
  return text->len > 0 ? g_string_free (g_steal_pointer (&text), FALSE) : NULL;
}

const char *
hkp_engine_get_copy_dir (HkpEngine *engine)
{
  g_autoptr (GError) error = NULL;
  int lock = -1;
  char *dir;

  if (g_file_test (engine->copy_dir, G_FILE_TEST_IS_DIR))
    return engine->copy_dir;
  /* Removed while running (the state directory emptied by hand): a new one, locked as at start, so that another
   * daemon's cleanup of stale ones leaves it alone. */
  if (g_mkdir_with_parents (engine->state_dir, 0700) < 0 ||
      (dir = hkp_file_make_module_copy_dir (engine->state_dir, &lock, &error)) == NULL)
    {
      g_warning ("module directory %s is gone, and no new one can be made: %s", engine->copy_dir,
                 error != NULL ? error->message : g_strerror (errno));
      return engine->copy_dir;
    }
  g_warning ("module directory %s was gone: module copies now go to %s", engine->copy_dir, dir);
  hkp_file_remove_module_copy_dir (engine->copy_dir, engine->copy_dir_lock);
  g_free (engine->copy_dir);
  engine->copy_dir = dir;
  engine->copy_dir_lock = lock;
  return engine->copy_dir;
}
