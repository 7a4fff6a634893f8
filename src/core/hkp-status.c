/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-status.h"

#include <string.h>

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

/* A plugin named in --required-plugins that no file declares is down, and so required and not healthy. */
static gboolean
required_one_missing (HkpEngine *engine)
{
  const char *const *named = hkp_engine_get_settings (engine)->required_plugins;

  for (guint i = 0; named != NULL && named[i] != NULL; i++)
    if (hkp_engine_lookup (engine, named[i]) == NULL)
      return TRUE;
  return FALSE;
}

void
hkp_status_summarize (HkpEngine *engine, HkpStatusSummary *summary)
{
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  gboolean required_down = required_one_missing (engine);
  guint enabled = 0, enabled_healthy = 0;

  memset (summary, 0, sizeof *summary);
  summary->total = plugins->len;
  for (guint i = 0; i < plugins->len; i++)
    {
      HkpPlugin *plugin = plugins->pdata[i];
      gboolean healthy = hkp_plugin_get_counted_health (plugin) == HKP_HEALTH_STATUS_HEALTHY;

      summary->healthy += healthy;
      summary->active += hkp_plugin_is_serving (plugin);
      summary->active_requests += hkp_plugin_get_active_requests (plugin);
      if (hkp_plugin_is_required (plugin) && !healthy)
        required_down = TRUE;
      if (hkp_plugin_is_enabled (plugin))
        {
          enabled++;
          enabled_healthy += healthy;
        }
    }
  summary->unhealthy = summary->total - summary->healthy;
  if (required_down || enabled_healthy == 0)
    summary->overall = "unhealthy";
  else if (enabled_healthy < enabled)
    summary->overall = "degraded";
  else
    summary->overall = "healthy";
}

const char *
hkp_status_overall_health (HkpEngine *engine)
{
  HkpStatusSummary summary;

  hkp_status_summarize (engine, &summary);
  return summary.overall;
}

static char *
finish (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  return hkp_json_to_string (root);
}

/* Adds what says why a plugin is as it is: its health message, and its last error when it has one. */
static void
add_why (JsonBuilder *b, HkpPlugin *plugin)
{
  const char *last_error = hkp_plugin_get_last_error (plugin);

  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, hkp_plugin_get_health (plugin)->message);
  if (last_error[0] != '\0')
    {
      json_builder_set_member_name (b, "last_error");
      json_builder_add_string_value (b, last_error);
    }
}

/* Adds the reference's per-plugin health object: status, state, last_check, checks; and message, last_error. */
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
  add_why (b, plugin);
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
  HkpStatusSummary summary;

  hkp_status_summarize (engine, &summary);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "plugin_system");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "enabled");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "total_plugins");
  json_builder_add_int_value (b, plugins->len);
  json_builder_set_member_name (b, "active_plugins");
  json_builder_add_int_value (b, summary.active);
  json_builder_set_member_name (b, "plugin_dir");
  json_builder_add_string_value (b, hkp_engine_get_settings (engine)->plugin_dir);
  json_builder_set_member_name (b, "active_requests");
  json_builder_add_int_value (b, (gint64) summary.active_requests);
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
  json_builder_add_int_value (b, summary.healthy);
  json_builder_set_member_name (b, "unhealthy_count");
  json_builder_add_int_value (b, summary.unhealthy);
  json_builder_set_member_name (b, "total_count");
  json_builder_add_int_value (b, summary.total);
  json_builder_set_member_name (b, "overall_status");
  json_builder_add_string_value (b, summary.overall);
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
      add_why (b, plugin);
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
