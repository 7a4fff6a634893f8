/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A set of threads running jobs in arrival order.  The host has one
 * pool for handle() (many threads: calls are answered out of order) and one
 * thread each for health() and validate_config(), so neither blocks requests.
 *
 * A pool with a lead function also reads its own work, leader/follower
 * style: one thread at a time leads, reading records until one is a job.
 * If another thread is idle, the leader runs the job itself and leads on
 * (a request reaches the plugin and the next one is read with no thread
 * woken); a watchdog thread hands the lead to an idle thread when a job has
 * run a tick (1–2 ms), so a slow call holds up no other.  If every other
 * thread is busy, the leader queues the job and leads on, so the socket is
 * always read and cancellations always seen.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct HostJob HostJob;

/* Runs the job (job->cancelled says whether it was cancelled already); the pool frees it afterwards. */
typedef void (*HostJobFunc) (HostJob *job, void *context);

/* The head of a job; the job's own data follows it in the same malloc'd block. */
struct HostJob {
  HostJob *prev, *next; /* owned by the pool */
  uint64_t id;
  int cancelled; /* read and set with __atomic */
  HostJobFunc run;
  uint64_t started_nsec; /* monotonic, once running; owned by the pool */
};

typedef struct HostPool HostPool;

/* While its thread leads pool: returns the next job to run (never NULL), handling every other record itself. */
typedef HostJob *(*HostLeadFunc) (HostPool *pool, void *lead_context);

/*
 * Starts n_threads threads named name (a static string) with stacks of
 * stack_size bytes, running jobs with context; lead (may be NULL) with
 * lead_context finds them work.  NULL with errno on failure.
 */
HostPool *host_pool_new (const char *name, unsigned n_threads, size_t stack_size, void *context, HostLeadFunc lead,
                         void *lead_context);

/*
 * Lets a pool with a lead function grow to max_threads while jobs wait
 * behind ones that have run a tick (slow calls); it starts with n_threads,
 * and a thread beyond them leaves after 10 s without work.
 */
void host_pool_set_max_threads (HostPool *pool, unsigned max_threads);

/* Makes the calling thread one more of the pool's threads, for ever. */
void host_pool_join (HostPool *pool) __attribute__ ((noreturn));

/* Queues job (cancelled already if job->cancelled is set); the pool owns it. */
void host_pool_push (HostPool *pool, HostJob *job);

/* Marks the queued or running job id cancelled; nothing if there is none. */
void host_pool_cancel (HostPool *pool, uint64_t id);

/* Marks every queued and running job cancelled. */
void host_pool_cancel_all (HostPool *pool);

/* Waits until no job is queued or running. */
void host_pool_drain (HostPool *pool);
