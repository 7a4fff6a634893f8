/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The threads in-process plugin calls run on: calls queued behind a slow
 * one get a thread of their own once it has run 10 ms, even when nothing
 * is pushed after them.
 */
#include "hkp-call-pool.h"

/* A slow job holds its thread until the test releases it; a quick one says when it started. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean released;
  gint64 quick_started; /* monotonic µs, 0 until then */
} Shared;

typedef struct {
  HkpPoolJob job;
  Shared *shared;
} Job;

static void
run_slow (HkpPoolJob *pool_job)
{
  Shared *shared = ((Job *) pool_job)->shared;

  g_mutex_lock (&shared->lock);
  while (!shared->released)
    g_cond_wait (&shared->cond, &shared->lock);
  g_mutex_unlock (&shared->lock);
}

static void
run_quick (HkpPoolJob *pool_job)
{
  Shared *shared = ((Job *) pool_job)->shared;

  g_mutex_lock (&shared->lock);
  shared->quick_started = g_get_monotonic_time ();
  g_cond_broadcast (&shared->cond);
  g_mutex_unlock (&shared->lock);
}

/*
 * A slow call and a quick one pushed at once to a pool of one idle thread:
 * the second push finds the thread woken but not yet running, so there is
 * no running call to time yet.  The quick call still gets a thread ~10 ms
 * after the slow one started, not when the slow one returns.  Repeated,
 * since the thread sometimes starts before the second push.
 */
static void
test_burst_grows_without_later_push (void)
{
  for (guint round = 0; round < 20; round++)
    {
      Shared shared = { 0 };
      Job slow = { .shared = &shared }, quick = { .shared = &shared };
      HkpCallPool *pool = hkp_call_pool_new (1);
      gint64 pushed, deadline;

      g_mutex_init (&shared.lock);
      g_cond_init (&shared.cond);
      g_usleep (G_USEC_PER_SEC / 100); /* the thread waits for work */
      pushed = g_get_monotonic_time ();
      hkp_call_pool_push (pool, &slow.job, run_slow);
      hkp_call_pool_push (pool, &quick.job, run_quick);
      deadline = pushed + G_USEC_PER_SEC / 2;
      g_mutex_lock (&shared.lock);
      while (shared.quick_started == 0 && g_cond_wait_until (&shared.cond, &shared.lock, deadline))
        ;
      if (shared.quick_started == 0)
        g_error ("round %u: the quick call waited behind the slow one for 500 ms", round);
      shared.released = TRUE;
      g_cond_broadcast (&shared.cond);
      g_mutex_unlock (&shared.lock);
      g_assert_cmpuint (hkp_call_pool_free (pool, g_get_monotonic_time () + 5 * G_USEC_PER_SEC), ==, 0);
      g_mutex_clear (&shared.lock);
      g_cond_clear (&shared.cond);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call-pool/burst-grows-without-later-push", test_burst_grows_without_later_push);
  return g_test_run ();
}
