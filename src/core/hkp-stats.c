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
