/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* sched_getcpu */
/* Counters and latency histograms sharded by CPU, so the request path records without a lock. */

#include "hkp-sharded-stats.h"

#include <sched.h>

/* A power of two; CPUs beyond it share shards (still correct, the adds are atomic). */
#define SHARDS 16
#define CACHE_LINE 64

const gdouble hkp_latency_bounds[HKP_LATENCY_N_BOUNDS] = {
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
  0.025,   0.05,     0.1,     0.25,   0.5,     1,      2.5,   5,      10,
};

/* The same bounds in microseconds, for comparing without floating point on the request path. */
static const gint64 bounds_usec[HKP_LATENCY_N_BOUNDS] = {
  10,    25,    50,     100,    250,    500,     1000,    2500,    5000,     10000,
  25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

typedef struct {
  gint64 buckets[HKP_LATENCY_N_BOUNDS + 1]; /* not cumulative; the last one is above every bound */
  gint64 sum_usec;
} __attribute__ ((aligned (CACHE_LINE))) LatencyShard;

struct _HkpLatency {
  LatencyShard shards[SHARDS];
};

typedef struct {
  gint64 values[HKP_COUNTERS_MAX];
} __attribute__ ((aligned (CACHE_LINE))) CounterShard;

struct _HkpCounters {
  CounterShard shards[SHARDS];
  guint n;
};

static inline guint
shard_index (void)
{
  int cpu = sched_getcpu ();

  return cpu >= 0 ? (guint) cpu % SHARDS : 0;
}

HkpLatency *
hkp_latency_new (void)
{
  return g_aligned_alloc0 (1, sizeof (HkpLatency), CACHE_LINE);
}

void
hkp_latency_free (HkpLatency *latency)
{
  g_aligned_free (latency);
}

void
hkp_latency_observe (HkpLatency *latency, gint64 usec)
{
  LatencyShard *shard = &latency->shards[shard_index ()];
  guint i = 0;

  usec = MAX (usec, 0);
  while (i < HKP_LATENCY_N_BOUNDS && usec > bounds_usec[i])
    i++;
  __atomic_fetch_add (&shard->buckets[i], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add (&shard->sum_usec, usec, __ATOMIC_RELAXED);
}

void
hkp_latency_read (const HkpLatency *latency, HkpLatencyCounts *counts)
{
  guint64 per_bucket[HKP_LATENCY_N_BOUNDS + 1] = { 0 };
  guint64 sum_usec = 0, running = 0;

  for (guint s = 0; s < SHARDS; s++)
    {
      for (guint i = 0; i <= HKP_LATENCY_N_BOUNDS; i++)
        per_bucket[i] += (guint64) __atomic_load_n (&latency->shards[s].buckets[i], __ATOMIC_RELAXED);
      sum_usec += (guint64) __atomic_load_n (&latency->shards[s].sum_usec, __ATOMIC_RELAXED);
    }
  for (guint i = 0; i < HKP_LATENCY_N_BOUNDS; i++)
    {
      running += per_bucket[i];
      counts->buckets[i] = running;
    }
  counts->count = running + per_bucket[HKP_LATENCY_N_BOUNDS];
  counts->sum = sum_usec / (gdouble) G_USEC_PER_SEC;
}

HkpCounters *
hkp_counters_new (guint n)
{
  HkpCounters *counters;

  g_return_val_if_fail (n <= HKP_COUNTERS_MAX, NULL);
  counters = g_aligned_alloc0 (1, sizeof (HkpCounters), CACHE_LINE);
  counters->n = n;
  return counters;
}

void
hkp_counters_free (HkpCounters *counters)
{
  g_aligned_free (counters);
}

void
hkp_counters_inc (HkpCounters *counters, guint which)
{
  g_return_if_fail (which < counters->n);
  __atomic_fetch_add (&counters->shards[shard_index ()].values[which], 1, __ATOMIC_RELAXED);
}

guint64
hkp_counters_get (const HkpCounters *counters, guint which)
{
  guint64 total = 0;

  g_return_val_if_fail (which < counters->n, 0);
  for (guint s = 0; s < SHARDS; s++)
    total += (guint64) __atomic_load_n (&counters->shards[s].values[which], __ATOMIC_RELAXED);
  return total;
}
