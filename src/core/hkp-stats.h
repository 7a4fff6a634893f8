/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Upper bounds (seconds) of a histogram's buckets, as Prometheus "le" labels; +Inf is implied. */
#define HKP_HISTOGRAM_N_BOUNDS 13
extern const gdouble hkp_histogram_bounds[HKP_HISTOGRAM_N_BOUNDS];

/* A histogram of durations, cumulative as Prometheus wants it; main thread only. */
typedef struct {
  guint64 buckets[HKP_HISTOGRAM_N_BOUNDS]; /* observations <= bound i */
  guint64 count;
  gdouble sum;
} HkpHistogram;

/* Records one duration of seconds. */
void hkp_histogram_observe (HkpHistogram *histogram, gdouble seconds);

/* How a reload (or any change that loads an instance) ended. */
typedef enum {
  HKP_RELOAD_SUCCESS, /* the new instance serves */
  HKP_RELOAD_ROLLED_BACK, /* it failed; the previous instance (or module and config) serves again */
  HKP_RELOAD_FAILED, /* it failed and nothing serves */
  HKP_RELOAD_N_RESULTS,
} HkpReloadResult;

/* Returns "success", "rolled_back" or "failed" (static). */
const char *hkp_reload_result_to_string (HkpReloadResult result);

G_END_DECLS
