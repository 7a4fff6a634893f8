/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "host-pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
  HostJob *head, *tail;
} JobList;

struct HostPool {
  pthread_mutex_t lock;
  pthread_cond_t work; /* a job was queued, or the lead is free */
  pthread_cond_t idle; /* the last job finished */
  JobList queued;
  JobList running;
  void *context;
  const char *name;
  HostLeadFunc lead;
  void *lead_context;
  int leading; /* a thread leads */
  unsigned waiting; /* threads waiting for work */
};

static void
list_append (JobList *list, HostJob *job)
{
  job->next = NULL;
  job->prev = list->tail;
  if (list->tail != NULL)
    list->tail->next = job;
  else
    list->head = job;
  list->tail = job;
}

static void
list_remove (JobList *list, HostJob *job)
{
  if (job->prev != NULL)
    job->prev->next = job->next;
  else
    list->head = job->next;
  if (job->next != NULL)
    job->next->prev = job->prev;
  else
    list->tail = job->prev;
  job->prev = job->next = NULL;
}

/* Runs job, which is in the running list (lock held; released while it runs). */
static void
run_locked (HostPool *pool, HostJob *job)
{
  pthread_mutex_unlock (&pool->lock);
  job->run (job, pool->context);
  pthread_mutex_lock (&pool->lock);
  list_remove (&pool->running, job);
  free (job);
  if (pool->queued.head == NULL && pool->running.head == NULL)
    pthread_cond_broadcast (&pool->idle);
}

/* Leads until a job comes that this thread can run while another leads on (lock held). */
static void
lead_locked (HostPool *pool)
{
  pool->leading = 1;
  for (;;)
    {
      HostJob *job;

      pthread_mutex_unlock (&pool->lock);
      job = pool->lead (pool, pool->lead_context);
      pthread_mutex_lock (&pool->lock);
      if (pool->waiting > 0)
        {
          pool->leading = 0;
          pthread_cond_signal (&pool->work);
          list_append (&pool->running, job);
          run_locked (pool, job);
          return;
        }
      /* Nobody free to read on: the job waits for the first thread done with its own. */
      list_append (&pool->queued, job);
    }
}

static void __attribute__ ((noreturn)) serve (HostPool *pool)
{
  pthread_mutex_lock (&pool->lock);
  for (;;)
    {
      HostJob *job;

      /* Reading comes first, so that cancellations are seen even while every thread is busy. */
      if (pool->lead != NULL && !pool->leading)
        {
          lead_locked (pool);
          continue;
        }
      if ((job = pool->queued.head) != NULL)
        {
          list_remove (&pool->queued, job);
          list_append (&pool->running, job);
          run_locked (pool, job);
          continue;
        }
      pool->waiting++;
      pthread_cond_wait (&pool->work, &pool->lock);
      pool->waiting--;
    }
}

static void *
worker (void *data)
{
  HostPool *pool = data;

  /* By itself: naming another thread writes to /proc, which the allow-list does not let through. */
  pthread_setname_np (pthread_self (), pool->name);
  serve (pool);
  return NULL;
}

void
host_pool_join (HostPool *pool)
{
  serve (pool);
}

HostPool *
host_pool_new (const char *name, unsigned n_threads, size_t stack_size, void *context, HostLeadFunc lead,
               void *lead_context)
{
  HostPool *pool = calloc (1, sizeof *pool);
  pthread_attr_t attr;

  if (pool == NULL)
    return NULL;
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->work, NULL);
  pthread_cond_init (&pool->idle, NULL);
  pool->context = context;
  pool->name = name;
  pool->lead = lead;
  pool->lead_context = lead_context;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, stack_size);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  for (unsigned i = 0; i < n_threads; i++)
    {
      pthread_t thread;
      int err = pthread_create (&thread, &attr, worker, pool);
      if (err != 0)
        {
          /* Threads already started keep waiting on a pool nobody feeds; the host exits soon. */
          pthread_attr_destroy (&attr);
          errno = err;
          return NULL;
        }
    }
  pthread_attr_destroy (&attr);
  return pool;
}

void
host_pool_push (HostPool *pool, HostJob *job)
{
  pthread_mutex_lock (&pool->lock);
  list_append (&pool->queued, job);
  pthread_cond_signal (&pool->work);
  pthread_mutex_unlock (&pool->lock);
}

static int
cancel_in (JobList *list, uint64_t id)
{
  for (HostJob *job = list->head; job != NULL; job = job->next)
    if (job->id == id)
      {
        __atomic_store_n (&job->cancelled, 1, __ATOMIC_RELEASE);
        return 1;
      }
  return 0;
}

void
host_pool_cancel (HostPool *pool, uint64_t id)
{
  pthread_mutex_lock (&pool->lock);
  if (!cancel_in (&pool->running, id))
    cancel_in (&pool->queued, id);
  pthread_mutex_unlock (&pool->lock);
}

void
host_pool_cancel_all (HostPool *pool)
{
  pthread_mutex_lock (&pool->lock);
  for (HostJob *job = pool->running.head; job != NULL; job = job->next)
    __atomic_store_n (&job->cancelled, 1, __ATOMIC_RELEASE);
  for (HostJob *job = pool->queued.head; job != NULL; job = job->next)
    __atomic_store_n (&job->cancelled, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock (&pool->lock);
}

void
host_pool_drain (HostPool *pool)
{
  pthread_mutex_lock (&pool->lock);
  while (pool->queued.head != NULL || pool->running.head != NULL)
    pthread_cond_wait (&pool->idle, &pool->lock);
  pthread_mutex_unlock (&pool->lock);
}
