/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: the engine's state and counters in the Prometheus text format. */

#include "http-metrics.h"

#include "hkp-status.h"

typedef struct {
  GString *out;
  GPtrArray *plugins;
} Writer;

static void
family (Writer *w, const char *name, const char *type, const char *help)
{
  g_string_append_printf (w->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Plugin names are ours ([A-Za-z0-9_.-]), but escape as the format asks anyway. */
static void
append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
sample (Writer *w, const char *name, HkpPlugin *plugin, const char *label, const char *label_value, guint64 value)
{
  g_string_append_printf (w->out, "%s{plugin=\"", name);
  append_label_value (w->out, hkp_plugin_get_name (plugin));
  g_string_append_c (w->out, '"');
  if (label != NULL)
    g_string_append_printf (w->out, ",%s=\"%s\"", label, label_value);
  g_string_append_printf (w->out, "} %" G_GUINT64_FORMAT "\n", value);
}

static void
histogram (Writer *w, const char *name, const char *help, const HkpHistogram *h)
{
  family (w, name, "histogram", help);
  for (guint i = 0; i < HKP_HISTOGRAM_N_BOUNDS; i++)
    {
      char bound[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (bound, sizeof bound, "%g", hkp_histogram_bounds[i]);
      g_string_append_printf (w->out, "%s_bucket{le=\"%s\"} %" G_GUINT64_FORMAT "\n", name, bound, h->buckets[i]);
    }
  {
    char sum[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd (sum, sizeof sum, "%.6f", h->sum);
    g_string_append_printf (w->out,
                            "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n%s_sum %s\n%s_count %" G_GUINT64_FORMAT "\n",
                            name, h->count, name, sum, name, h->count);
  }
}

char *
http_metrics_text (HkpEngine *engine, const char *version)
{
  static const struct {
    HkpOutcome outcome;
    const char *verdict;
  } verdicts[] = {
    { HKP_OUTCOME_ALLOW, "allow" }, { HKP_OUTCOME_DENY, "deny" },           { HKP_OUTCOME_CONTINUE, "continue" },
    { HKP_OUTCOME_ERROR, "error" }, { HKP_OUTCOME_CANCELLED, "cancelled" },
  };
  static const HkpHealthStatus checked[] = {
    HKP_HEALTH_STATUS_HEALTHY,
    HKP_HEALTH_STATUS_DEGRADED,
    HKP_HEALTH_STATUS_UNHEALTHY,
  };
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  Writer w = { g_string_new (NULL), plugins };

  family (&w, "hkp_plugind_plugin_state", "gauge", "1 for the state the plugin is in, 0 for the others.");
  for (guint i = 0; i < plugins->len; i++)
    for (HkpPluginState s = 0; s < HKP_PLUGIN_N_STATES; s++)
      sample (&w, "hkp_plugind_plugin_state", plugins->pdata[i], "state", hkp_plugin_state_to_string (s),
              hkp_plugin_get_state (plugins->pdata[i]) == s);

  family (&w, "hkp_plugind_plugin_healthy", "gauge", "1 if the plugin's last health check said healthy.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_plugin_healthy", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_shown_health (plugins->pdata[i]) == HKP_HEALTH_STATUS_HEALTHY);

  family (&w, "hkp_plugind_requests_in_flight", "gauge", "Checks inside the plugin now, draining instances included.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_requests_in_flight", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_active_requests (plugins->pdata[i]));

  family (&w, "hkp_plugind_requests_total", "counter", "Checks the plugin answered, by verdict.");
  for (guint i = 0; i < plugins->len; i++)
    for (guint v = 0; v < G_N_ELEMENTS (verdicts); v++)
      sample (&w, "hkp_plugind_requests_total", plugins->pdata[i], "verdict", verdicts[v].verdict,
              hkp_plugin_get_outcome_count (plugins->pdata[i], verdicts[v].outcome));

  family (&w, "hkp_plugind_reloads_total", "counter",
          "Reloads and other changes that load an instance, by result (success, rolled_back, failed).");
  for (guint i = 0; i < plugins->len; i++)
    for (HkpReloadResult r = 0; r < HKP_RELOAD_N_RESULTS; r++)
      sample (&w, "hkp_plugind_reloads_total", plugins->pdata[i], "result", hkp_reload_result_to_string (r),
              hkp_plugin_get_reload_results (plugins->pdata[i], r));

  histogram (&w, "hkp_plugind_reload_duration_seconds", "Time from a reload's start to its outcome.",
             hkp_engine_get_reload_durations (engine));
  histogram (&w, "hkp_plugind_drain_duration_seconds", "Time a retired instance took to drain.",
             hkp_engine_get_drain_durations (engine));

  family (&w, "hkp_plugind_drain_cancelled_requests_total", "counter", "Checks cancelled because a drain timed out.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_drain_cancelled_requests_total", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_cancelled_by_drain (plugins->pdata[i]));

  family (&w, "hkp_plugind_health_checks_total", "counter", "Health checks, by result (a timeout is unhealthy).");
  for (guint i = 0; i < plugins->len; i++)
    for (guint c = 0; c < G_N_ELEMENTS (checked); c++)
      sample (&w, "hkp_plugind_health_checks_total", plugins->pdata[i], "result",
              hkp_health_status_to_string (checked[c]), hkp_plugin_get_health_checks (plugins->pdata[i], checked[c]));

  family (&w, "hkp_plugind_restarts_total", "counter", "Restarts of the plugin by the health monitor.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_restarts_total", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_restart_count (plugins->pdata[i]));

  family (&w, "hkp_plugind_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.");
  g_string_append_printf (w.out, "hkp_plugind_start_time_seconds %" G_GINT64_FORMAT "\n",
                          hkp_engine_get_start_time (engine) / G_USEC_PER_SEC);
  family (&w, "hkp_plugind_build_info", "gauge", "Always 1; the version is in the label.");
  g_string_append_printf (w.out, "hkp_plugind_build_info{version=\"%s\"} 1\n", version);
  return g_string_free (w.out, FALSE);
}
