/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-status.h"

#include <json-glib/json-glib.h>

#include "hkp-json.h"

char *
hkp_status_format_duration (gint64 usec)
{
  gint64 total = MAX (usec, 0) / G_USEC_PER_SEC;
  gint64 hours = total / 3600, minutes = total / 60 % 60, seconds = total % 60;

  if (hours > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h%" G_GINT64_FORMAT "m%" G_GINT64_FORMAT "s", hours, minutes, seconds);
  if (minutes > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m%" G_GINT64_FORMAT "s", minutes, seconds);
  return g_strdup_printf ("%" G_GINT64_FORMAT "s", seconds);
}

const char *
hkp_status_overall_health (HkpEngine *engine)
{
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  gboolean degraded = FALSE;

  for (guint i = 0; i < plugins->len; i++)
    {
      HkpPlugin *plugin = plugins->pdata[i];
      if (hkp_plugin_get_state (plugin) == HKP_PLUGIN_STATE_DISABLED)
        continue;
      switch (hkp_plugin_get_shown_health (plugin))
        {
        case HKP_HEALTH_STATUS_UNHEALTHY:
          return "unhealthy";
        case HKP_HEALTH_STATUS_DEGRADED:
        case HKP_HEALTH_STATUS_TRANSITIONING:
          degraded = TRUE;
          break;
        default:
          break;
        }
    }
  return degraded ? "degraded" : "healthy";
}

static char *
finish (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  return hkp_json_to_string (root);
}

/* Adds the reference's per-plugin health object: status, state, last_check, checks. */
static void
add_health_object (JsonBuilder *b, HkpPlugin *plugin)
{
  const HkpHealth *health = hkp_plugin_get_health (plugin);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, hkp_health_status_to_string (hkp_plugin_get_shown_health (plugin)));
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)));
  json_builder_set_member_name (b, "last_check");
  json_builder_add_int_value (b, health->last_check_usec / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "checks");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "active_requests");
  json_builder_add_int_value (b, (gint64) hkp_plugin_get_active_requests (plugin));
  for (guint i = 0; i < health->checks->len; i++)
    {
      const HkpHealthCheck *check = health->checks->pdata[i];
      if (g_str_equal (check->key, "active_requests"))
        continue;
      json_builder_set_member_name (b, check->key);
      if (check->is_int)
        json_builder_add_int_value (b, check->int_value);
      else
        json_builder_add_string_value (b, check->text);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
}

char *
hkp_status_json (HkpEngine *engine, gint64 now_usec)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  g_autofree char *uptime = hkp_status_format_duration (now_usec - hkp_engine_get_start_time (engine));
  guint active = 0, healthy = 0, unhealthy = 0;
  guint64 requests = 0;

  for (guint i = 0; i < plugins->len; i++)
    {
      HkpPlugin *plugin = plugins->pdata[i];
      HkpHealthStatus status = hkp_plugin_get_shown_health (plugin);
      active += hkp_plugin_get_state (plugin) == HKP_PLUGIN_STATE_ACTIVE;
      healthy += status == HKP_HEALTH_STATUS_HEALTHY;
      unhealthy += status == HKP_HEALTH_STATUS_UNHEALTHY;
      requests += hkp_plugin_get_active_requests (plugin);
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin_system");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "enabled");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "total_plugins");
  json_builder_add_int_value (b, plugins->len);
  json_builder_set_member_name (b, "active_plugins");
  json_builder_add_int_value (b, active);
  json_builder_set_member_name (b, "plugin_dir");
  json_builder_add_string_value (b, hkp_engine_get_settings (engine)->plugin_dir);
  json_builder_set_member_name (b, "active_requests");
  json_builder_add_int_value (b, (gint64) requests);
  json_builder_set_member_name (b, "plugin_states");
  json_builder_begin_object (b);
  for (guint i = 0; i < plugins->len; i++)
    {
      json_builder_set_member_name (b, hkp_plugin_get_name (plugins->pdata[i]));
      json_builder_add_string_value (b, hkp_plugin_state_to_string (hkp_plugin_get_state (plugins->pdata[i])));
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "health_status");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "healthy_count");
  json_builder_add_int_value (b, healthy);
  json_builder_set_member_name (b, "unhealthy_count");
  json_builder_add_int_value (b, unhealthy);
  json_builder_set_member_name (b, "total_count");
  json_builder_add_int_value (b, plugins->len);
  json_builder_set_member_name (b, "overall_status");
  json_builder_add_string_value (b, hkp_status_overall_health (engine));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "uptime");
  json_builder_add_string_value (b, uptime);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, now_usec / G_USEC_PER_SEC);
  json_builder_end_object (b);
  return finish (b);
}

char *
hkp_status_list_json (HkpEngine *engine, gint64 now_usec)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugins");
  json_builder_begin_array (b);
  for (guint i = 0; i < plugins->len; i++)
    {
      HkpPlugin *plugin = plugins->pdata[i];
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, hkp_plugin_get_name (plugin));
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, hkp_plugin_state_to_string (hkp_plugin_get_state (plugin)));
      json_builder_set_member_name (b, "health");
      add_health_object (b, plugin);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "total_count");
  json_builder_add_int_value (b, plugins->len);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, now_usec / G_USEC_PER_SEC);
  json_builder_end_object (b);
  return finish (b);
}

char *
hkp_status_health_json (HkpEngine *engine, gint64 now_usec)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "overall_status");
  json_builder_add_string_value (b, hkp_status_overall_health (engine));
  json_builder_set_member_name (b, "plugins");
  json_builder_begin_object (b);
  for (guint i = 0; i < plugins->len; i++)
    {
      json_builder_set_member_name (b, hkp_plugin_get_name (plugins->pdata[i]));
      add_health_object (b, plugins->pdata[i]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, now_usec / G_USEC_PER_SEC);
  json_builder_end_object (b);
  return finish (b);
}
