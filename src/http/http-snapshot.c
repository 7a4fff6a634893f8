/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-http"

/* The bridge's read side: immutable serialised documents, rebuilt on engine events and each second. */

#include "http-snapshot.h"

#include <string.h>

#include "hkp-json.h"
#include "hkp-status.h"
#include "http-metrics.h"

struct _HttpSnapshotFeed {
  HkpEngine *engine; /* NULL: a feed another process publishes to */
  HttpSnapshotListener listener;
  gpointer listener_data;
  char **required;
  char *version;
  GMutex lock;
  HttpSnapshot *current; /* under lock */
  guint64 generation;
  guint rebuild_id; /* idle rebuild pending after an event */
  guint tick_id; /* once a second */
  gulong engine_handlers[3];
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

/*
 * The reference's GET /plugins/config body, with secret-looking values
 * redacted.  The redacted text is the manifest's, made once per config:
 * parsing, redacting and writing a config of up to 1 MiB again every
 * second, for every plugin, would hold the main loop for a tenth of a
 * second and more.
 */
static GBytes *
config_body (HkpPlugin *plugin, gint64 now_usec)
{
  HkpManifest *manifest = hkp_plugin_get_manifest (plugin);
  g_autoptr (JsonNode) name = json_node_init_string (json_node_alloc (), hkp_plugin_get_name (plugin));
  g_autofree char *quoted = hkp_json_to_string (name);
  /* A plugin without a valid file has no config to show: an empty one, as the reference's. */
  const char *config = manifest != NULL ? hkp_manifest_get_shown_config (manifest) : "{}";
  gsize config_len = strlen (config);
  GString *body = g_string_sized_new (config_len + strlen (quoted) + 64);

  g_string_append_printf (body, "{\"plugin\":%s,\"config\":", quoted);
  g_string_append_len (body, config, (gssize) config_len);
  g_string_append_printf (body, ",\"timestamp\":%" G_GINT64_FORMAT "}", now_usec / G_USEC_PER_SEC);
  return g_string_free_to_bytes (body);
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
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (feed->engine);
  gint64 now = g_get_real_time ();

  snapshot->generation = ++feed->generation;
  snapshot->built_usec = now;
  snapshot->status = take_string (hkp_status_json (feed->engine, now));
  snapshot->list = take_string (hkp_status_list_json (feed->engine, now));
  snapshot->health = take_string (hkp_status_health_json (feed->engine, now));
  snapshot->metrics = take_string (http_metrics_text (feed->engine, feed->version));
  snapshot->configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < plugins->len; i++)
    g_hash_table_insert (snapshot->configs, g_strdup (hkp_plugin_get_name (plugins->pdata[i])),
                         config_body (plugins->pdata[i], now));
  snapshot->ready = readiness (feed, plugins, &snapshot->not_ready);
  http_snapshot_feed_publish (feed, snapshot);
  if (feed->listener != NULL)
    feed->listener (snapshot, feed->listener_data);
  http_snapshot_unref (snapshot);
}

void
http_snapshot_feed_publish (HttpSnapshotFeed *feed, HttpSnapshot *snapshot)
{
  HttpSnapshot *old;

  g_mutex_lock (&feed->lock);
  old = feed->current;
  feed->current = http_snapshot_ref (snapshot);
  g_mutex_unlock (&feed->lock);
  if (old != NULL)
    http_snapshot_unref (old);
}

void
http_snapshot_feed_set_listener (HttpSnapshotFeed *feed, HttpSnapshotListener listener, gpointer data)
{
  feed->listener = listener;
  feed->listener_data = data;
}

#define SNAPSHOT_TYPE "(xxayayayaya{say}bs)"
#define SNAPSHOT_FORMAT "(xx@ay@ay@ay@aya{say}bs)" /* the bodies as GVariant, the configs built or iterated */

GVariant *
http_snapshot_serialize (HttpSnapshot *snapshot)
{
  g_autoptr (GVariantBuilder) configs = g_variant_builder_new (G_VARIANT_TYPE ("a{say}"));
  GHashTableIter iter;
  gpointer name, body;

  g_hash_table_iter_init (&iter, snapshot->configs);
  while (g_hash_table_iter_next (&iter, &name, &body))
    g_variant_builder_add (configs, "{s@ay}", name, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, body, TRUE));
  return g_variant_ref_sink (
    g_variant_new (SNAPSHOT_FORMAT, (gint64) snapshot->generation, snapshot->built_usec,
                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, snapshot->status, TRUE),
                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, snapshot->list, TRUE),
                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, snapshot->health, TRUE),
                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, snapshot->metrics, TRUE), configs,
                   snapshot->ready, snapshot->not_ready != NULL ? snapshot->not_ready : ""));
}

HttpSnapshot *
http_snapshot_deserialize (GVariant *variant)
{
  HttpSnapshot *snapshot;
  g_autoptr (GVariant) status = NULL, list = NULL, health = NULL, metrics = NULL;
  g_autoptr (GVariantIter) configs = NULL;
  g_autofree char *not_ready = NULL; /* "s": a copy */
  const char *name;
  GVariant *body;
  gint64 generation = 0;

  if (!g_variant_is_of_type (variant, G_VARIANT_TYPE (SNAPSHOT_TYPE)))
    return NULL;
  snapshot = g_atomic_rc_box_new0 (HttpSnapshot);
  g_variant_get (variant, SNAPSHOT_FORMAT, &generation, &snapshot->built_usec, &status, &list, &health, &metrics,
                 &configs, &snapshot->ready, &not_ready);
  snapshot->generation = (guint64) generation;
  snapshot->status = g_variant_get_data_as_bytes (status);
  snapshot->list = g_variant_get_data_as_bytes (list);
  snapshot->health = g_variant_get_data_as_bytes (health);
  snapshot->metrics = g_variant_get_data_as_bytes (metrics);
  snapshot->configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);
  while (g_variant_iter_loop (configs, "{&s@ay}", &name, &body))
    g_hash_table_insert (snapshot->configs, g_strdup (name), g_variant_get_data_as_bytes (body));
  snapshot->not_ready = snapshot->ready ? NULL : g_steal_pointer (&not_ready);
  return snapshot;
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

static gboolean
on_tick (gpointer user_data)
{
  http_snapshot_feed_refresh (user_data);
  return G_SOURCE_CONTINUE;
}

HttpSnapshotFeed *
http_snapshot_feed_new_published (HttpSnapshot *first)
{
  HttpSnapshotFeed *feed = g_new0 (HttpSnapshotFeed, 1);

  g_mutex_init (&feed->lock);
  feed->current = http_snapshot_ref (first);
  return feed;
}

HttpSnapshotFeed *
http_snapshot_feed_new (HkpEngine *engine, const char *const *required, const char *version)
{
  HttpSnapshotFeed *feed = g_new0 (HttpSnapshotFeed, 1);
  feed->engine = g_object_ref (engine);
  feed->required = g_strdupv ((char **) required);
  feed->version = g_strdup (version);
  g_mutex_init (&feed->lock);
  /* Every signal of the engine is a change the documents show. */
  feed->engine_handlers[0] = g_signal_connect_swapped (engine, "plugin-added", G_CALLBACK (on_changed), feed);
  feed->engine_handlers[1] = g_signal_connect_swapped (engine, "plugin-removed", G_CALLBACK (on_changed), feed);
  feed->engine_handlers[2] = g_signal_connect_swapped (engine, "plugin-changed", G_CALLBACK (on_changed), feed);
  feed->tick_id = g_timeout_add_seconds (1, on_tick, feed);
  http_snapshot_feed_refresh (feed);
  return feed;
}

void
http_snapshot_feed_free (HttpSnapshotFeed *feed)
{
  if (feed == NULL)
    return;
  if (feed->engine != NULL)
    {
      /* A feed that builds: stop watching the engine. */
      for (guint i = 0; i < G_N_ELEMENTS (feed->engine_handlers); i++)
        g_signal_handler_disconnect (feed->engine, feed->engine_handlers[i]);
      g_clear_handle_id (&feed->rebuild_id, g_source_remove);
      g_clear_handle_id (&feed->tick_id, g_source_remove);
      g_object_unref (feed->engine);
    }
  g_clear_pointer (&feed->current, http_snapshot_unref);
  g_mutex_clear (&feed->lock);
  g_strfreev (feed->required);
  g_free (feed->version);
  g_free (feed);
}
