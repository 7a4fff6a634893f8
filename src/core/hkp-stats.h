/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "hkp-sharded-stats.h"

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

/* How the check endpoint answered a request, as hkp_plugind_check_requests_total{result} counts it. */
typedef enum {
  HKP_CHECK_ANSWER_ALLOW, /* 2xx */
  HKP_CHECK_ANSWER_DENY, /* a plugin denied it (401, 403, 429…) */
  HKP_CHECK_ANSWER_UNAVAILABLE, /* denied with 503: a plugin failed or did not answer in time (failure_mode closed) */
  HKP_CHECK_ANSWER_MALFORMED, /* 400 or 404: headers missing or malformed, or not /check; nginx answers 500 */
  HKP_CHECK_ANSWER_SHUTTING_DOWN, /* 503: the daemon is stopping */
  HKP_CHECK_ANSWER_CLIENT_GONE, /* the client closed its connection before the answer: its plugins were told */
  HKP_CHECK_N_ANSWERS,
} HkpCheckAnswer;

/* Returns "allow", "deny", "unavailable", "malformed", "shutting_down" or "client_gone" (static). */
const char *hkp_check_answer_to_string (HkpCheckAnswer answer);

/* The check endpoint's figures: its answers by kind, and how long the checks that asked plugins took. */
typedef struct {
  HkpCounters *answers; /* by HkpCheckAnswer */
  HkpLatency *durations;
} HkpCheckStats;

/* Makes stats empty. */
void hkp_check_stats_init (HkpCheckStats *stats);

/* Frees what stats holds. */
void hkp_check_stats_clear (HkpCheckStats *stats);

/* Records one answer; duration_usec is the check's, or negative if no plugin was asked.  Any thread, no lock. */
void hkp_check_stats_record (HkpCheckStats *stats, HkpCheckAnswer answer, gint64 duration_usec);

G_END_DECLS
