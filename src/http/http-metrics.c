/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: the engine's state and counters in the Prometheus text format. */

#include "http-metrics.h"

#include "hkp-status.h"
#include "http-process-stats.h"

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

/*
 * One histogram series: n_bounds buckets (bounds[i] in seconds, buckets[i]
 * cumulative), +Inf, sum and count; labelled by plugin when it is not NULL.
 */
static void
histogram_series (Writer *w, const char *name, HkpPlugin *plugin, const gdouble *bounds, const guint64 *buckets,
                  guint n_bounds, guint64 count, gdouble sum)
{
  g_autoptr (GString) labels = g_string_new (NULL);
  char sum_text[G_ASCII_DTOSTR_BUF_SIZE];

  if (plugin != NULL)
    {
      g_string_append (labels, "plugin=\"");
      append_label_value (labels, hkp_plugin_get_name (plugin));
      g_string_append (labels, "\",");
    }
  for (guint i = 0; i < n_bounds; i++)
    {
      char bound[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (bound, sizeof bound, "%g", bounds[i]);
      g_string_append_printf (w->out, "%s_bucket{%sle=\"%s\"} %" G_GUINT64_FORMAT "\n", name, labels->str, bound,
                              buckets[i]);
    }
  g_string_append_printf (w->out, "%s_bucket{%sle=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name, labels->str, count);
  if (labels->len > 0)
    g_string_truncate (labels, labels->len - 1); /* the comma */
  g_ascii_formatd (sum_text, sizeof sum_text, "%.6f", sum);
  g_string_append_printf (w->out, "%s_sum%s%s%s %s\n%s_count%s%s%s %" G_GUINT64_FORMAT "\n", name,
                          labels->len > 0 ? "{" : "", labels->str, labels->len > 0 ? "}" : "", sum_text, name,
                          labels->len > 0 ? "{" : "", labels->str, labels->len > 0 ? "}" : "", count);
}

/* A family of one histogram the engine keeps (reloads, drains). */
static void
histogram (Writer *w, const char *name, const char *help, const HkpHistogram *h)
{
  family (w, name, "histogram", help);
  histogram_series (w, name, NULL, hkp_histogram_bounds, h->buckets, HKP_HISTOGRAM_N_BOUNDS, h->count, h->sum);
}

/* One series of a latency histogram (checks, plugin calls), labelled by plugin when plugin is not NULL. */
static void
latency_series (Writer *w, const char *name, HkpPlugin *plugin, const HkpLatencyCounts *counts)
{
  histogram_series (w, name, plugin, hkp_latency_bounds, counts->buckets, HKP_LATENCY_N_BOUNDS, counts->count,
                    counts->sum);
}

/* The process_* families every Prometheus client library exports. */
static void
process_metrics (Writer *w)
{
  HttpProcessStats p;
  char value[G_ASCII_DTOSTR_BUF_SIZE];

  if (!http_process_stats_read (&p))
    return;
  family (w, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  g_string_append_printf (w->out, "process_cpu_seconds_total %s\n",
                          g_ascii_formatd (value, sizeof value, "%.2f", p.cpu_seconds));
  family (w, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  g_string_append_printf (w->out, "process_resident_memory_bytes %" G_GUINT64_FORMAT "\n", p.resident_bytes);
  family (w, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  g_string_append_printf (w->out, "process_virtual_memory_bytes %" G_GUINT64_FORMAT "\n", p.virtual_bytes);
  family (w, "process_open_fds", "gauge", "Number of open file descriptors.");
  g_string_append_printf (w->out, "process_open_fds %" G_GUINT64_FORMAT "\n", p.open_fds);
  family (w, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
  g_string_append_printf (w->out, "process_max_fds %" G_GUINT64_FORMAT "\n", p.max_fds);
  family (w, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  g_string_append_printf (w->out, "process_start_time_seconds %s\n",
                          g_ascii_formatd (value, sizeof value, "%.2f", p.start_time_seconds));
}

/* The check endpoint: its answers by kind, and how long the checks that asked plugins took. */
static void
check_metrics (Writer *w, HkpEngine *engine)
{
  HkpCheckStats *stats = hkp_engine_get_check_stats (engine);
  HkpLatencyCounts durations;

  family (w, "hkp_plugind_check_requests_total", "counter",
          "Requests the check endpoint answered, by result (allow, deny, unavailable: 503 for a failed or late plugin, "
          "malformed: 400/404, shutting_down: 503, client_gone: the client left before its answer).");
  for (HkpCheckAnswer a = 0; a < HKP_CHECK_N_ANSWERS; a++)
    g_string_append_printf (w->out, "hkp_plugind_check_requests_total{result=\"%s\"} %" G_GUINT64_FORMAT "\n",
                            hkp_check_answer_to_string (a), hkp_counters_get (stats->answers, a));
  hkp_latency_read (stats->durations, &durations);
  family (w, "hkp_plugind_check_duration_seconds", "histogram",
          "Time from a check's arrival to its answer, for checks that went through the plugins.");
  latency_series (w, "hkp_plugind_check_duration_seconds", NULL, &durations);
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
  static const char *const overall[] = { "healthy", "degraded", "unhealthy" };
  g_autoptr (GPtrArray) plugins = hkp_engine_list_plugins (engine);
  Writer w = { g_string_new (NULL), plugins };
  HkpStatusSummary summary;

  hkp_status_summarize (engine, &summary);

  family (&w, "hkp_plugind_plugin_state", "gauge", "1 for the state the plugin is in, 0 for the others.");
  for (guint i = 0; i < plugins->len; i++)
    for (HkpPluginState s = 0; s < HKP_PLUGIN_N_STATES; s++)
      sample (&w, "hkp_plugind_plugin_state", plugins->pdata[i], "state", hkp_plugin_state_to_string (s),
              hkp_plugin_get_state (plugins->pdata[i]) == s);

  family (&w, "hkp_plugind_plugin_healthy", "gauge",
          "1 if the plugin counts as healthy, by the rule of overall_status (an overlap reload counts as before).");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_plugin_healthy", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_counted_health (plugins->pdata[i]) == HKP_HEALTH_STATUS_HEALTHY);

  family (&w, "hkp_plugind_plugin_required", "gauge",
          "1 if the plugin is required (\"required\": true, or --required-plugins).");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_plugin_required", plugins->pdata[i], NULL, NULL,
            hkp_plugin_is_required (plugins->pdata[i]));

  family (&w, "hkp_plugind_overall_health", "gauge",
          "1 for the overall health of GET /plugins/status (healthy, degraded, unhealthy), 0 for the others.");
  for (guint h = 0; h < G_N_ELEMENTS (overall); h++)
    g_string_append_printf (w.out, "hkp_plugind_overall_health{status=\"%s\"} %d\n", overall[h],
                            g_str_equal (summary.overall, overall[h]));

  family (&w, "hkp_plugind_plugin_config_version", "gauge", "The version of the plugin's config in force.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_plugin_config_version", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_config_version (plugins->pdata[i]));

  family (&w, "hkp_plugind_requests_in_flight", "gauge", "Checks inside the plugin now, draining instances included.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_requests_in_flight", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_active_requests (plugins->pdata[i]));

  family (&w, "hkp_plugind_requests_total", "counter", "Checks the plugin answered, by verdict.");
  for (guint i = 0; i < plugins->len; i++)
    for (guint v = 0; v < G_N_ELEMENTS (verdicts); v++)
      sample (&w, "hkp_plugind_requests_total", plugins->pdata[i], "verdict", verdicts[v].verdict,
              hkp_plugin_get_outcome_count (plugins->pdata[i], verdicts[v].outcome));

  family (&w, "hkp_plugind_plugin_call_duration_seconds", "histogram",
          "Time one call into the plugin took; a call past its deadline counts as the call timeout.");
  for (guint i = 0; i < plugins->len; i++)
    {
      HkpLatencyCounts calls;
      hkp_plugin_get_call_durations (plugins->pdata[i], &calls);
      latency_series (&w, "hkp_plugind_plugin_call_duration_seconds", plugins->pdata[i], &calls);
    }

  family (&w, "hkp_plugind_plugin_calls_timed_out_total", "counter",
          "Calls into the plugin answered by its failure mode because it did not answer within call_timeout_ms.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_plugin_calls_timed_out_total", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_timed_out_calls (plugins->pdata[i]));

  family (&w, "hkp_plugind_plugin_host_restarts_total", "counter",
          "Restarts of the plugin's host process after it died or stopped answering.");
  for (guint i = 0; i < plugins->len; i++)
    sample (&w, "hkp_plugind_plugin_host_restarts_total", plugins->pdata[i], NULL, NULL,
            hkp_plugin_get_host_restarts (plugins->pdata[i]));

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

  check_metrics (&w, engine);
  process_metrics (&w);

  family (&w, "hkp_plugind_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.");
  g_string_append_printf (w.out, "hkp_plugind_start_time_seconds %" G_GINT64_FORMAT "\n",
                          hkp_engine_get_start_time (engine) / G_USEC_PER_SEC);
  family (&w, "hkp_plugind_build_info", "gauge", "Always 1; the version is in the label.");
  g_string_append_printf (w.out, "hkp_plugind_build_info{version=\"%s\"} 1\n", version);
  return g_string_free (w.out, FALSE);
}
