/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The threads in-process plugin calls run on.  A call that overruns its
 * deadline keeps its thread, perhaps for ever: the pool is then told so
 * and starts one thread more, so the calls of every other plugin always
 * find a thread; the extra thread leaves once the late call has returned.
 * Calls queued while every thread is busy get threads of their own too
 * once the oldest running call has run 10 ms (up to 64 more, each leaving
 * after 10 s idle; a thread of the pool's own watches for it), so that
 * slow calls do not make quick ones wait out their deadline.
 */
typedef struct _HkpCallPool HkpCallPool;
typedef struct _HkpPoolJob HkpPoolJob;

/* Runs on a pool thread; the job is the caller's (embed it in what it runs). */
typedef void (*HkpPoolFunc) (HkpPoolJob *job);

struct _HkpPoolJob {
  HkpPoolJob *next;
  HkpPoolFunc run;
};

/* Starts a pool of threads threads (named "hkp-call"); returns it (caller frees). */
HkpCallPool *hkp_call_pool_new (guint threads);

/* Queues job to run func on a pool thread (any thread; never blocks). */
void hkp_call_pool_push (HkpCallPool *pool, HkpPoolJob *job, HkpPoolFunc func);

/* Says a running job overran its deadline and holds its thread: one more thread starts (any thread). */
void hkp_call_pool_late (HkpCallPool *pool);

/* Says a job reported with hkp_call_pool_late() has returned at last (from its own pool thread). */
void hkp_call_pool_late_returned (HkpCallPool *pool);

/* Returns how many jobs overran and have not returned. */
guint hkp_call_pool_get_late (HkpCallPool *pool);

/*
 * Stops the pool once its queue is empty: waits for its threads until the
 * monotonic time until, then frees it.  Returns how many threads were
 * still inside a job and were left behind (their pool memory with them).
 */
guint hkp_call_pool_free (HkpCallPool *pool, gint64 until);

G_END_DECLS
