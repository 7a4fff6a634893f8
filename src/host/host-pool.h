/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A fixed set of threads running jobs in arrival order.  The host has one
 * pool for handle() (many threads: calls are answered out of order) and one
 * thread each for health() and validate_config(), so neither blocks requests.
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
};

typedef struct HostPool HostPool;

/* Starts n_threads threads named name (a static string) with stacks of stack_size bytes; NULL with errno on failure. */
HostPool *host_pool_new (const char *name, unsigned n_threads, size_t stack_size, void *context);

/* Queues job (cancelled already if job->cancelled is set); the pool owns it. */
void host_pool_push (HostPool *pool, HostJob *job);

/* Marks the queued or running job id cancelled; nothing if there is none. */
void host_pool_cancel (HostPool *pool, uint64_t id);

/* Marks every queued and running job cancelled. */
void host_pool_cancel_all (HostPool *pool);

/* Waits until no job is queued or running. */
void host_pool_drain (HostPool *pool);
