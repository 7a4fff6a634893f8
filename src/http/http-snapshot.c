/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* The bridge's read side: immutable serialised documents, rebuilt on engine events and each second. */

#include "http-snapshot.h"

#include <string.h>

#include "hkp-json.h"
#include "hkp-status.h"
#include "http-metrics.h"
#include "http-redact.h"

struct _HttpSnapshotFeed {
  HkpEngine *engine;
  char **required;
  char *version;
  GMutex lock;
  HttpSnapshot *current;     /* under lock */
  guint64 generation;
  guint rebuild_id;          /* idle rebuild pending after an event */
  guint tick_id;             /* once a second */
  gulong added_id;
  gulong removed_id;
};

static void
snapshot_free (gpointer data)
{
  HttpSnapshot *snapshot = data;

  g_bytes_unref (snapshot->status);
  g_bytes_unref (snapshot->list);
  g_bytes_unref (snapshot->health);
  g_bytes_unref (snapshot->metrics);
  g_hash_table_unref (snapshot->configs);
  g_free (snapshot->not_ready);
}

HttpSnapshot *
http_snapshot_ref (HttpSnapshot *snapshot)
{
  return g_atomic_rc_box_acquire (snapshot);
}

void
http_snapshot_unref (HttpSnapshot *snapshot)
{
  g_atomic_rc_box_release_full (snapshot, snapshot_free);
}

static GBytes *
take_string (char *text)
{
  return g_bytes_new_take (text, strlen (text));
}

/* The reference's GET /plugins/config body, with secret-looking values redacted. */
static GBytes *
config_body (HkpEngine *engine, HkpPlugin *plugin, gint64 now_usec)
{
  g_autofree char *text = hkp_engine_get_config (engine, hkp_plugin_get_name (plugin), NULL);
  g_autoptr(JsonNode) config = text != NULL ? json_from_string (text, NULL) : NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  if (config == NULL)
    config = json_node_init_object (json_node_alloc (), json_object_new ());
  http_redact_node (config);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin");
  json_builder_add_string_value (b, hkp_plugin_get_name (plugin));
  json_builder_set_member_name (b, "config");
  json_builder_add_value (b, g_steal_pointer (&config));
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, now_usec / G_USEC_PER_SEC);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return take_string (hkp_json_to_string (root));
}

static gboolean
serves (HkpPlugin *plugin)
{
  HkpPluginState state = hkp_plugin_get_state (plugin);

  return state == HKP_PLUGIN_STATE_ACTIVE || state == HKP_PLUGIN_STATE_RELOADING;
}

static char *
required_is_down (HkpPlugin *plugin)
{
  return g_strdup_printf ("required plugin %s is %s", hkp_plugin_get_name (plugin),
                          hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)));
}

/* Ready when some plugin serves and every required one (--required-plugins, or "required": true) does. */
static gboolean
readiness (HttpSnapshotFeed *feed, GPtrArray *plugins, char **why)
{
  gboolean any = FALSE;

  for (guint i = 0; feed->required != NULL && feed->required[i] != NULL; i++)
    {
      HkpPlugin *plugin = hkp_engine_lookup (feed->engine, feed->required[i]);
      if (plugin == NULL)
        {
          *why = g_strdup_printf ("required plugin %s is not configured", feed->required[i]);
          return FALSE;
        }
      if (!serves (plugin))
        {
          *why = required_is_down (plugin);
          return FALSE;
        }
    }
  for (guint i = 0; i < plugins->len; i++)
    {
      HkpPlugin *plugin = plugins->pdata[i];
      HkpManifest *manifest = hkp_plugin_get_manifest (plugin);

      if (!serves (plugin) && manifest != NULL && manifest->required)
        {
          *why = required_is_down (plugin);
          return FALSE;
        }
      any |= serves (plugin);
    }
  if (!any)
    *why = g_strdup (plugins->len == 0 ? "no plugin is configured" : "no plugin can serve");
  return any;
}

void
http_snapshot_feed_refresh (HttpSnapshotFeed *feed)
{
  HttpSnapshot *snapshot = g_atomic_rc_box_new0 (HttpSnapshot);
  g_autoptr(GPtrArray) plugins = hkp_engine_list_plugins (feed->engine);
  gint64 now = g_get_real_time ();
  HttpSnapshot *old;

  snapshot->generation = ++feed->generation;
  snapshot->built_usec = now;
  snapshot->status = take_string (hkp_status_json (feed->engine, now));
  snapshot->list = take_string (hkp_status_list_json (feed->engine, now));
  snapshot->health = take_string (hkp_status_health_json (feed->engine, now));
  snapshot->metrics = take_string (http_metrics_text (feed->engine, feed->version));
  snapshot->configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < plugins->len; i++)
    g_hash_table_insert (snapshot->configs, g_strdup (hkp_plugin_get_name (plugins->pdata[i])),
                         config_body (feed->engine, plugins->pdata[i], now));
  snapshot->ready = readiness (feed, plugins, &snapshot->not_ready);

  g_mutex_lock (&feed->lock);
  old = feed->current;
  feed->current = snapshot;
  g_mutex_unlock (&feed->lock);
  if (old != NULL)
    http_snapshot_unref (old);
}

HttpSnapshot *
http_snapshot_feed_get (HttpSnapshotFeed *feed)
{
  HttpSnapshot *snapshot;

  g_mutex_lock (&feed->lock);
  snapshot = http_snapshot_ref (feed->current);
  g_mutex_unlock (&feed->lock);
  return snapshot;
}

static gboolean
on_rebuild (gpointer user_data)
{
  HttpSnapshotFeed *feed = user_data;

  feed->rebuild_id = 0;
  http_snapshot_feed_refresh (feed);
  return G_SOURCE_REMOVE;
}

/* Any change: rebuild once the main loop is idle, however many changes came together. */
static void
on_changed (gpointer user_data)
{
  HttpSnapshotFeed *feed = user_data;

  if (feed->rebuild_id == 0)
    feed->rebuild_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, on_rebuild, feed, NULL);
}

static void
watch_plugin (HttpSnapshotFeed *feed, HkpPlugin *plugin)
{
  static const char *const signals[] = { "state-changed", "error-changed", "health-changed", "config-changed" };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    g_signal_connect_swapped (plugin, signals[i], G_CALLBACK (on_changed), feed);
}

static void
on_plugin_added (HkpEngine *engine, HkpPlugin *plugin, gpointer user_data)
{
  watch_plugin (user_data, plugin);
  on_changed (user_data);
}

static void
on_plugin_removed (HkpEngine *engine, HkpPlugin *plugin, gpointer user_data)
{
  g_signal_handlers_disconnect_by_data (plugin, user_data);
  on_changed (user_data);
}

static gboolean
on_tick (gpointer user_data)
{
  http_snapshot_feed_refresh (user_data);
  return G_SOURCE_CONTINUE;
}

HttpSnapshotFeed *
http_snapshot_feed_new (HkpEngine *engine, const char *const *required, const char *version)
{
  HttpSnapshotFeed *feed = g_new0 (HttpSnapshotFeed, 1);
  g_autoptr(GPtrArray) plugins = hkp_engine_list_plugins (engine);

  feed->engine = g_object_ref (engine);
  feed->required = g_strdupv ((char **) required);
  feed->version = g_strdup (version);
  g_mutex_init (&feed->lock);
  for (guint i = 0; i < plugins->len; i++)
    watch_plugin (feed, plugins->pdata[i]);
  feed->added_id = g_signal_connect (engine, "plugin-added", G_CALLBACK (on_plugin_added), feed);
  feed->removed_id = g_signal_connect (engine, "plugin-removed", G_CALLBACK (on_plugin_removed), feed);
  feed->tick_id = g_timeout_add_seconds (1, on_tick, feed);
  http_snapshot_feed_refresh (feed);
  return feed;
}

void
http_snapshot_feed_free (HttpSnapshotFeed *feed)
{
  g_autoptr(GPtrArray) plugins = NULL;

  if (feed == NULL)
    return;
  plugins = hkp_engine_list_plugins (feed->engine);
  for (guint i = 0; i < plugins->len; i++)
    g_signal_handlers_disconnect_by_data (plugins->pdata[i], feed);
  g_signal_handler_disconnect (feed->engine, feed->added_id);
  g_signal_handler_disconnect (feed->engine, feed->removed_id);
  g_clear_handle_id (&feed->rebuild_id, g_source_remove);
  g_clear_handle_id (&feed->tick_id, g_source_remove);
  g_clear_pointer (&feed->current, http_snapshot_unref);
  g_mutex_clear (&feed->lock);
  g_strfreev (feed->required);
  g_free (feed->version);
  g_object_unref (feed->engine);
  g_free (feed);
}
