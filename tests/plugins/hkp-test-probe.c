/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hkp-test-probe.h"

/* Process-wide by design: this library exists to be the one shared place test plugins report to. */
static GMutex lock;
static GCond changed;
static gint64 violations;
static gint64 entered;
static gint64 cancelled;
static gint64 instances;
static GPtrArray *graveyard;

void
hkp_test_probe_violation (void)
{
  __atomic_fetch_add (&violations, 1, __ATOMIC_SEQ_CST);
}

gint64
hkp_test_probe_violations (void)
{
  return __atomic_load_n (&violations, __ATOMIC_SEQ_CST);
}

void
hkp_test_probe_bury (gpointer memory)
{
  g_mutex_lock (&lock);
  if (graveyard == NULL)
    graveyard = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (graveyard, memory);
  g_mutex_unlock (&lock);
}

void
hkp_test_probe_entered (void)
{
  g_mutex_lock (&lock);
  entered++;
  g_cond_broadcast (&changed);
  g_mutex_unlock (&lock);
  /* A test may be iterating its main loop rather than blocking: wake it to look. */
  g_main_context_wakeup (NULL);
}

void
hkp_test_probe_cancelled (void)
{
  __atomic_fetch_add (&cancelled, 1, __ATOMIC_SEQ_CST);
}

gint64
hkp_test_probe_entered_count (void)
{
  gint64 value;

  g_mutex_lock (&lock);
  value = entered;
  g_mutex_unlock (&lock);
  return value;
}

gint64
hkp_test_probe_cancelled_count (void)
{
  return __atomic_load_n (&cancelled, __ATOMIC_SEQ_CST);
}

gint64
hkp_test_probe_next_instance (void)
{
  return __atomic_add_fetch (&instances, 1, __ATOMIC_SEQ_CST);
}

void
hkp_test_probe_wait_entered (gint64 n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_mutex_lock (&lock);
  while (entered < n)
    if (!g_cond_wait_until (&changed, &lock, deadline))
      g_error ("only %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " calls entered the plugin", entered, n);
  g_mutex_unlock (&lock);
}

void
hkp_test_probe_reset (void)
{
  g_mutex_lock (&lock);
  entered = 0;
  __atomic_store_n (&violations, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n (&cancelled, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n (&instances, 0, __ATOMIC_SEQ_CST);
  g_mutex_unlock (&lock);
}

static void __attribute__ ((destructor)) probe_cleanup (void)
{
  g_clear_pointer (&graveyard, g_ptr_array_unref);
}
