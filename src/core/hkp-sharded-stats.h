/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Figures the request path records, from many threads at once, without a
 * lock: each CPU adds to a shard of its own (on cache lines of its own), and
 * a reader sums the shards.  A thread preempted between reading its CPU and
 * adding lands on another CPU's shard: the adds are atomic, so nothing is
 * lost, it only costs a shared cache line that once.
 */

/* Upper bounds (seconds) of a latency histogram's buckets, as Prometheus "le" labels; +Inf is implied. */
#define HKP_LATENCY_N_BOUNDS 19
extern const gdouble hkp_latency_bounds[HKP_LATENCY_N_BOUNDS];

/* A histogram of short durations (checks, plugin calls). */
typedef struct _HkpLatency HkpLatency;

/* A latency histogram read out: cumulative, as Prometheus wants it. */
typedef struct {
  guint64 buckets[HKP_LATENCY_N_BOUNDS]; /* observations <= bound i */
  guint64 count; /* every observation: the +Inf bucket */
  gdouble sum; /* seconds */
} HkpLatencyCounts;

/* Creates an empty histogram; free it with hkp_latency_free(). */
HkpLatency *hkp_latency_new (void);

/* Frees latency (NULL allowed); nobody may record into it any more. */
void hkp_latency_free (HkpLatency *latency);

/* Records one duration of usec microseconds (negative counts as 0); any thread, no lock. */
void hkp_latency_observe (HkpLatency *latency, gint64 usec);

/* Fills counts with what latency holds now (any thread; a record racing with it may be half in). */
void hkp_latency_read (const HkpLatency *latency, HkpLatencyCounts *counts);

/* At most this many counters in one set. */
#define HKP_COUNTERS_MAX 8

/* A set of counters many threads add to. */
typedef struct _HkpCounters HkpCounters;

/* Creates n (at most HKP_COUNTERS_MAX) counters at zero; free them with hkp_counters_free(). */
HkpCounters *hkp_counters_new (guint n);

/* Frees counters (NULL allowed). */
void hkp_counters_free (HkpCounters *counters);

/* Adds one to counter which; any thread, no lock. */
void hkp_counters_inc (HkpCounters *counters, guint which);

/* Returns the total of counter which (any thread). */
guint64 hkp_counters_get (const HkpCounters *counters, guint which);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpLatency, hkp_latency_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HkpCounters, hkp_counters_free)

G_END_DECLS
