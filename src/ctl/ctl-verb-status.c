/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* status, list and show: views built from one call (GetManagedObjects, or GetAll for show). */
#include <stdio.h>

#include "ctl-output.h"
#include "ctl-bus.h"
#include "ctl-model.h"
#include "ctl-table.h"

/* The plugin table of status and list: the same rows on a terminal and in JSON. */
static CtlTable *
plugin_table (Ctl *ctl, CtlModel *model)
{
  CtlTable *table = ctl_table_new ("NAME", "name", "STATE", "state", "HEALTH", "health", "PRIORITY", "priority",
                                   "VERSION", "version", "CONFIG", "config_version", "MESSAGE", "message", NULL);

  for (guint i = 0; i < model->plugins->len; i++)
    {
      CtlObject *plugin = model->plugins->pdata[i];
      const char *state = ctl_object_get_string (plugin, "State", "");
      const char *health = ctl_object_get_string (plugin, "Health", "");
      const char *error = ctl_object_get_string (plugin, "LastError", "");
      GVariant *priority = ctl_object_get (plugin, "Priority");
      GVariant *config_version = ctl_object_get (plugin, "ConfigVersion");

      ctl_table_add_string (table, plugin->name, CTL_COLOR_NONE);
      ctl_table_add_string (table, state, ctl_state_color (state));
      ctl_table_add_string (table, health, ctl_health_color (health));
      ctl_table_add (table, priority, NULL, CTL_COLOR_NONE);
      ctl_table_add_string (table, ctl_object_get_string (plugin, "Version", ""), CTL_COLOR_NONE);
      ctl_table_add (table, config_version, NULL, CTL_COLOR_NONE);
      /* Why a plugin is not fine: its last error, else what its health check said. */
      ctl_table_add_string (table, error[0] != '\0' ? error : ctl_object_get_string (plugin, "HealthMessage", ""),
                            error[0] != '\0' ? CTL_COLOR_BAD : CTL_COLOR_NONE);
    }
  return table;
}

int
ctl_verb_list (Ctl *ctl, int argc, char **argv)
{
  g_autoptr (CtlModel) model = ctl_model_load (ctl, FALSE);
  g_autoptr (CtlTable) table = NULL;

  if (model == NULL)
    return CTL_EXIT_FAILURE;
  table = plugin_table (ctl, model);
  ctl_pager_open (ctl);
  ctl_table_print (ctl, table);
  if (ctl->options.json == CTL_JSON_OFF && !ctl->options.no_legend)
    printf ("\n%u plugin%s listed.\n", ctl_table_rows (table), ctl_table_rows (table) == 1 ? "" : "s");
  return CTL_EXIT_SUCCESS;
}

static void print_field (Ctl *ctl, const char *label, CtlColor color, const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
print_field (Ctl *ctl, const char *label, CtlColor color, const char *format, ...)
{
  g_autofree char *value = NULL;
  g_autofree char *shown = NULL;
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  shown = ctl_printable (value);
  printf ("%12s: %s%s%s\n", label, ctl_color_on (ctl, color), shown, ctl_color_off (ctl, color));
}

int
ctl_verb_status (Ctl *ctl, int argc, char **argv)
{
  g_autoptr (CtlModel) model = ctl_model_load (ctl, TRUE);
  g_autoptr (CtlTable) table = NULL;
  g_autofree char *started = NULL;
  g_autofree char *uptime = NULL;
  const char *health;
  guint64 start, now = (guint64) g_get_real_time ();
  CtlObject *manager;

  if (model == NULL)
    return CTL_EXIT_FAILURE;
  manager = model->manager;
  table = plugin_table (ctl, model);
  health = ctl_object_get_string (manager, "OverallHealth", "unknown");
  start = (guint64) ctl_object_get_int (manager, "StartTimestamp", 0);

  if (ctl->options.json != CTL_JSON_OFF)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "version");
      json_builder_add_string_value (builder, ctl_object_get_string (manager, "Version", ""));
      json_builder_set_member_name (builder, "overall_health");
      json_builder_add_string_value (builder, health);
      json_builder_set_member_name (builder, "active_plugins");
      json_builder_add_int_value (builder, ctl_object_get_int (manager, "ActivePlugins", 0));
      json_builder_set_member_name (builder, "total_plugins");
      json_builder_add_int_value (builder, ctl_object_get_int (manager, "TotalPlugins", 0));
      json_builder_set_member_name (builder, "active_requests");
      json_builder_add_int_value (builder, ctl_object_get_int (manager, "ActiveRequests", 0));
      json_builder_set_member_name (builder, "start_timestamp");
      json_builder_add_int_value (builder, (gint64) start);
      json_builder_set_member_name (builder, "uptime_usec");
      json_builder_add_int_value (builder, start > 0 && now > start ? (gint64) (now - start) : 0);
      json_builder_set_member_name (builder, "plugin_directory");
      json_builder_add_string_value (builder, ctl_object_get_string (manager, "PluginDirectory", ""));
      json_builder_set_member_name (builder, "config_directory");
      json_builder_add_string_value (builder, ctl_object_get_string (manager, "ConfigDirectory", ""));
      json_builder_set_member_name (builder, "plugins");
      json_builder_add_value (builder, ctl_table_to_json (table));
      json_builder_end_object (builder);
      ctl_print_json (ctl, json_builder_get_root (builder));
      return CTL_EXIT_SUCCESS;
    }

  started = ctl_format_timestamp (start);
  uptime = ctl_format_timespan (start > 0 && now > start ? now - start : 0);
  ctl_pager_open (ctl);
  printf ("%shkp-plugind %s%s\n", ctl_color_on (ctl, CTL_COLOR_BOLD), ctl_object_get_string (manager, "Version", "?"),
          ctl_color_off (ctl, CTL_COLOR_BOLD));
  print_field (ctl, "Health", ctl_health_color (health), "%s", health);
  print_field (ctl, "Plugins", CTL_COLOR_NONE, "%" G_GINT64_FORMAT " active of %" G_GINT64_FORMAT,
               ctl_object_get_int (manager, "ActivePlugins", 0), ctl_object_get_int (manager, "TotalPlugins", 0));
  print_field (ctl, "Requests", CTL_COLOR_NONE, "%" G_GINT64_FORMAT " in flight",
               ctl_object_get_int (manager, "ActiveRequests", 0));
  print_field (ctl, "Started", CTL_COLOR_NONE, "%s; up %s", started, uptime);
  print_field (ctl, "Plugin dir", CTL_COLOR_NONE, "%s", ctl_object_get_string (manager, "PluginDirectory", ""));
  print_field (ctl, "Config dir", CTL_COLOR_NONE, "%s", ctl_object_get_string (manager, "ConfigDirectory", ""));
  if (ctl_table_rows (table) > 0)
    {
      putchar ('\n');
      ctl_table_print (ctl, table);
    }
  return CTL_EXIT_SUCCESS;
}

int
ctl_verb_show (Ctl *ctl, int argc, char **argv)
{
  __attribute__ ((cleanup (sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
  const char *name = argc > 1 ? argv[1] : NULL;
  g_autofree char *path = NULL;
  g_autofree char *what = NULL;
  g_autoptr (CtlObject) object = NULL;
  int status;

  if (name != NULL && (status = ctl_check_names (1, &argv[1])) != CTL_EXIT_SUCCESS)
    return status;
  path = name != NULL ? ctl_plugin_path (name) : g_strdup (CTL_MANAGER_PATH);
  if (ctl_bus_get (ctl) == NULL)
    return CTL_EXIT_FAILURE;
  object = ctl_object_load (ctl, path, name != NULL ? CTL_PLUGIN_INTERFACE : CTL_MANAGER_INTERFACE, name, &error);
  if (object == NULL)
    {
      what = name != NULL ? g_strdup_printf ("show plugin %s", name) : g_strdup ("show the daemon");
      return ctl_report_error (ctl, what, name, &error);
    }

  if (ctl->options.json != CTL_JSON_OFF)
    {
      JsonObject *json = json_object_new ();
      JsonNode *node = json_node_new (JSON_NODE_OBJECT);
      for (guint i = 0; i < object->properties->len; i++)
        {
          CtlProperty *property = object->properties->pdata[i];
          json_object_set_member (json, property->name, ctl_variant_to_json (property->value));
        }
      json_node_take_object (node, json);
      ctl_print_json (ctl, node);
      return CTL_EXIT_SUCCESS;
    }
  ctl_pager_open (ctl);
  for (guint i = 0; i < object->properties->len; i++)
    {
      CtlProperty *property = object->properties->pdata[i];
      g_autofree char *text = ctl_variant_to_text (property->value);
      /* Key=Value lines, one each, as systemctl show prints them. */
      g_autofree char *shown = ctl_printable (text);
      printf ("%s=%s\n", property->name, shown);
    }
  return CTL_EXIT_SUCCESS;
}
