/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters and histograms the engine keeps for monitoring. */

#include "hkp-stats.h"

const gdouble hkp_histogram_bounds[HKP_HISTOGRAM_N_BOUNDS] = {
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

void
hkp_histogram_observe (HkpHistogram *histogram, gdouble seconds)
{
  for (guint i = 0; i < HKP_HISTOGRAM_N_BOUNDS; i++)
    if (seconds <= hkp_histogram_bounds[i])
      histogram->buckets[i]++;
  histogram->count++;
  histogram->sum += seconds;
}

const char *
hkp_reload_result_to_string (HkpReloadResult result)
{
  static const char *const names[HKP_RELOAD_N_RESULTS] = {
    [HKP_RELOAD_SUCCESS] = "success",
    [HKP_RELOAD_ROLLED_BACK] = "rolled_back",
    [HKP_RELOAD_FAILED] = "failed",
  };

  g_return_val_if_fail (result < HKP_RELOAD_N_RESULTS, "failed");
  return names[result];
}

const char *
hkp_check_answer_to_string (HkpCheckAnswer answer)
{
  static const char *const names[HKP_CHECK_N_ANSWERS] = {
    [HKP_CHECK_ANSWER_ALLOW] = "allow",
    [HKP_CHECK_ANSWER_DENY] = "deny",
    [HKP_CHECK_ANSWER_UNAVAILABLE] = "unavailable",
    [HKP_CHECK_ANSWER_MALFORMED] = "malformed",
    [HKP_CHECK_ANSWER_SHUTTING_DOWN] = "shutting_down",
    [HKP_CHECK_ANSWER_CLIENT_GONE] = "client_gone",
  };

  g_return_val_if_fail (answer < HKP_CHECK_N_ANSWERS, "malformed");
  return names[answer];
}

void
hkp_check_stats_init (HkpCheckStats *stats)
{
  stats->answers = hkp_counters_new (HKP_CHECK_N_ANSWERS);
  stats->durations = hkp_latency_new ();
}

void
hkp_check_stats_clear (HkpCheckStats *stats)
{
  g_clear_pointer (&stats->answers, hkp_counters_free);
  g_clear_pointer (&stats->durations, hkp_latency_free);
}

void
hkp_check_stats_record (HkpCheckStats *stats, HkpCheckAnswer answer, gint64 duration_usec)
{
  hkp_counters_inc (stats->answers, answer);
  if (duration_usec >= 0)
    hkp_latency_observe (stats->durations, duration_usec);
}
