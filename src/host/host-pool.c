/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "host-pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "host-clock.h"

/* A job its leader has run this long (at most twice) is left to that thread, and another thread leads on. */
#define WATCH_TICK_NSEC 1000000

/* A thread beyond the pool's first ones leaves after this long without work. */
#define GROWN_IDLE_SEC 10

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
  HostJob *inline_job; /* run by the leader itself, which still leads (NULL: none) */
  uint64_t inline_jobs; /* counted, so the watchdog tells one from the next */
  pthread_cond_t watch; /* wakes the watchdog when an inline job starts, or one is queued, while it sleeps */
  int watch_sleeping; /* the watchdog waits for an inline or a queued job, untimed */
  unsigned threads; /* running jobs (the watchdog not counted) */
  unsigned base_threads; /* the pool never shrinks below its first ones */
  unsigned max_threads; /* threads the watchdog may grow the pool to */
  size_t stack_size;
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

/* Puts job in the running list, the oldest first (lock held). */
static void
start_running (HostPool *pool, HostJob *job)
{
  job->started_nsec = host_now_nsec ();
  list_append (&pool->running, job);
}

static void *worker (void *data);

/* Starts a detached thread of the pool's stack size running start (pool); an error number on failure. */
static int
start_thread (HostPool *pool, void *(*start) (void *) )
{
  pthread_attr_t attr;
  pthread_t thread;
  int err;

  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, pool->stack_size);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  err = pthread_create (&thread, &attr, start, pool);
  pthread_attr_destroy (&attr);
  return err;
}

/*
 * Starts one thread more (lock held) if jobs wait while every thread is busy
 * and the oldest running job has run a tick already: slow calls, not a burst
 * of quick ones.  Calls slow on some requests would otherwise hold every
 * thread and make the quick ones wait, their deadline running, in the queue.
 * Up to max_threads; threads beyond the first ones leave again after
 * GROWN_IDLE_SEC without work.
 */
static void
grow_locked (HostPool *pool)
{
  if (pool->queued.head == NULL || pool->waiting > 0 || pool->threads >= pool->max_threads ||
      pool->running.head == NULL || host_now_nsec () - pool->running.head->started_nsec < WATCH_TICK_NSEC)
    return;
  /* Where it cannot (memory_max_mb reached), the threads there are do: nothing more to do. */
  if (start_thread (pool, worker) == 0)
    pool->threads++;
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

/*
 * Runs job as the leader (lock held; released while it runs); returns 1 if
 * this thread still leads after it, 0 if the watchdog gave the lead to
 * another thread because the job took long.
 */
static int
run_inline_locked (HostPool *pool, HostJob *job)
{
  start_running (pool, job);
  pool->inline_job = job;
  pool->inline_jobs++;
  if (pool->watch_sleeping)
    pthread_cond_signal (&pool->watch);
  run_locked (pool, job);
  /* Only the watchdog clears it meanwhile, when it hands the lead on. */
  if (pool->inline_job == NULL)
    return 0;
  pool->inline_job = NULL;
  return 1;
}

/*
 * Leads until the watchdog hands the lead on (lock held).  A job read while
 * another thread is idle is run here and now, with no hand-over (most calls
 * take microseconds); one read while every other thread is busy is queued,
 * so the socket is always read and cancellations always seen.
 */
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
      if (pool->waiting == 0)
        {
          list_append (&pool->queued, job);
          /* The watchdog sees whether it waits behind slow calls. */
          if (pool->watch_sleeping)
            pthread_cond_signal (&pool->watch);
        }
      else if (!run_inline_locked (pool, job))
        return;
    }
}

/* Sets *when to a tick (WATCH_TICK_NSEC) from now, on the monotonic clock. */
static void
tick_from_now (struct timespec *when)
{
  clock_gettime (CLOCK_MONOTONIC, when);
  when->tv_nsec += WATCH_TICK_NSEC;
  if (when->tv_nsec >= 1000000000)
    {
      when->tv_sec++;
      when->tv_nsec -= 1000000000;
    }
}

/*
 * The watchdog: an inline job still running a tick after it was seen is
 * left to its thread, and an idle thread takes the lead, so a slow or hung
 * call holds up the others for a tick or two at most.  It ticks only while
 * inline jobs come, and sleeps untimed after a tick without any.
 */
static void *
watchdog (void *data)
{
  HostPool *pool = data;

  pthread_setname_np (pthread_self (), "watch");
  pthread_mutex_lock (&pool->lock);
  for (;;)
    {
      HostJob *seen = pool->inline_job;
      uint64_t seen_jobs = pool->inline_jobs;
      struct timespec when;

      tick_from_now (&when);
      while (pthread_cond_timedwait (&pool->watch, &pool->lock, &when) != ETIMEDOUT)
        ;
      if (seen != NULL && pool->inline_job == seen && pool->inline_jobs == seen_jobs)
        {
          pool->inline_job = NULL;
          pool->leading = 0;
          pthread_cond_signal (&pool->work);
        }
      if (pool->queued.head != NULL)
        grow_locked (pool);
      else if (seen == NULL && pool->inline_job == NULL && pool->inline_jobs == seen_jobs)
        {
          pool->watch_sleeping = 1;
          while (pool->inline_job == NULL && pool->queued.head == NULL)
            pthread_cond_wait (&pool->watch, &pool->lock);
          pool->watch_sleeping = 0;
        }
    }
  return NULL;
}

/*
 * Runs the pool's work on the calling thread; returns (the lock released)
 * only if may_leave and the thread is one more than the pool's first ones,
 * and had no work for GROWN_IDLE_SEC.
 */
static void
serve (HostPool *pool, int may_leave)
{
  int idle = 0;

  pthread_mutex_lock (&pool->lock);
  for (;;)
    {
      struct timespec until;
      HostJob *job;

      /* Reading comes first, so that cancellations are seen even while every thread is busy. */
      if (pool->lead != NULL && !pool->leading)
        {
          lead_locked (pool);
          idle = 0;
          continue;
        }
      if ((job = pool->queued.head) != NULL)
        {
          list_remove (&pool->queued, job);
          start_running (pool, job);
          run_locked (pool, job);
          idle = 0;
          continue;
        }
      /*
       * Not while the leader runs a job inline: it may have counted this
       * thread waiting (its wait ended, the lock not yet retaken) to take
       * the lead if the job is slow.
       */
      if (idle && may_leave && pool->threads > pool->base_threads && pool->inline_job == NULL)
        {
          pool->threads--;
          pthread_mutex_unlock (&pool->lock);
          return;
        }
      pool->waiting++;
      if (may_leave && pool->threads > pool->base_threads)
        {
          clock_gettime (CLOCK_MONOTONIC, &until);
          until.tv_sec += GROWN_IDLE_SEC;
          idle = pthread_cond_timedwait (&pool->work, &pool->lock, &until) == ETIMEDOUT;
        }
      else
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
  serve (pool, 1);
  return NULL;
}

void
host_pool_join (HostPool *pool)
{
  serve (pool, 0);
  abort (); /* a thread that may not leave never returns */
}

HostPool *
host_pool_new (const char *name, unsigned n_threads, size_t stack_size, void *context, HostLeadFunc lead,
               void *lead_context)
{
  HostPool *pool = calloc (1, sizeof *pool);
  pthread_condattr_t monotonic;

  if (pool == NULL)
    return NULL;
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->idle, NULL);
  pthread_condattr_init (&monotonic);
  pthread_condattr_setclock (&monotonic, CLOCK_MONOTONIC);
  pthread_cond_init (&pool->work, &monotonic);
  pthread_cond_init (&pool->watch, &monotonic);
  pthread_condattr_destroy (&monotonic);
  pool->context = context;
  pool->name = name;
  pool->lead = lead;
  pool->lead_context = lead_context;
  pool->threads = pool->base_threads = pool->max_threads = n_threads;
  pool->stack_size = stack_size;
  /* A pool that leads has a watchdog too. */
  for (unsigned i = 0; i < n_threads + (lead != NULL); i++)
    {
      int err = start_thread (pool, i < n_threads ? worker : watchdog);
      if (err != 0)
        {
          /* Threads already started keep waiting on a pool nobody feeds; the host exits soon. */
          errno = err;
          return NULL;
        }
    }
  return pool;
}

void
host_pool_set_max_threads (HostPool *pool, unsigned max_threads)
{
  pthread_mutex_lock (&pool->lock);
  pool->max_threads = max_threads > pool->threads ? max_threads : pool->threads;
  pthread_mutex_unlock (&pool->lock);
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
