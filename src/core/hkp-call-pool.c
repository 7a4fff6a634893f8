/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-call-pool.h"

/* Jobs waiting behind running ones this old wait for slow calls (not a busy CPU): the queue gets threads of its own. */
#define GROW_AFTER_USEC 10000
/* Threads the pool may add for jobs waiting behind slow ones; each leaves after this long idle. */
#define GROWN_MAX 64
#define GROWN_IDLE_USEC (10 * G_USEC_PER_SEC)

/* A thread's job while it runs, oldest first (on the thread's stack: the job itself may be gone by its end). */
typedef struct _Running Running;
struct _Running {
  Running *prev, *next;
  gint64 started; /* monotonic µs */
};

struct _HkpCallPool {
  GMutex lock;
  GCond work; /* a job was queued, or the pool stops */
  GCond gone; /* a thread left */
  GCond watch; /* wakes the watch: jobs wait while every thread is busy, or the pool stops */
  GThread *watcher;
  gboolean watch_sleeping; /* the watch waits untimed: only then does a push need to wake it */
  HkpPoolJob *head;
  HkpPoolJob *tail;
  guint queued; /* jobs from head to tail */
  Running *running; /* oldest first */
  Running *running_tail;
  guint wanted; /* threads the pool keeps when nothing is late */
  guint threads; /* threads alive */
  guint idle; /* of those, waiting for work and not yet woken for a job */
  guint woken; /* wake-ups owed to waiting threads for jobs pushed (taken by whichever wakes first) */
  guint late; /* jobs past their deadline that still hold a thread */
  guint grown; /* threads added for jobs waiting behind slow ones */
  gboolean stopping;
};

static gpointer pool_thread (gpointer data);
static void spawn (HkpCallPool *pool);

/*
 * Every thread is busy and the oldest has run GROW_AFTER_USEC: slow calls
 * (lock held).  Each job waiting gets a thread (up to GROWN_MAX more), so
 * that a plugin slow on some requests does not make the quick ones wait out
 * their deadline in the queue.
 */
static void
grow (HkpCallPool *pool)
{
  for (guint more = MIN (pool->queued, GROWN_MAX - pool->grown); more > 0; more--)
    {
      guint before = pool->threads;
      spawn (pool);
      if (pool->threads == before)
        break;
      pool->grown++;
    }
}

/* Returns TRUE if jobs wait while every thread is busy (lock held). */
static gboolean
jobs_wait (HkpCallPool *pool)
{
  return pool->head != NULL && pool->idle == 0 && pool->running != NULL && pool->grown < GROWN_MAX;
}

/* The watch waits until a push wakes it (lock held). */
static void
sleep_watch (HkpCallPool *pool)
{
  pool->watch_sleeping = TRUE;
  g_cond_wait (&pool->watch, &pool->lock);
  pool->watch_sleeping = FALSE;
}

/* Wakes the watch if it waits untimed; one timing a running call looks again when it is due anyway (lock held). */
static void
wake_watch (HkpCallPool *pool)
{
  if (pool->watch_sleeping)
    g_cond_signal (&pool->watch);
}

/*
 * The watch: jobs queued behind calls younger than GROW_AFTER_USEC grow the
 * pool once the oldest of those reaches it, even if no job comes after them
 * (a push alone would look only when it is made).  Sleeps untimed otherwise.
 */
static gpointer
watch_thread (gpointer data)
{
  HkpCallPool *pool = data;

  g_mutex_lock (&pool->lock);
  while (!pool->stopping)
    {
      gint64 due;

      if (!jobs_wait (pool))
        {
          sleep_watch (pool);
          continue;
        }
      due = pool->running->started + GROW_AFTER_USEC;
      if (g_get_monotonic_time () < due)
        {
          g_cond_wait_until (&pool->watch, &pool->lock, due);
          continue;
        }
      grow (pool);
      /* Until a push says otherwise: what is queued now has threads coming (or the pool has all it may). */
      sleep_watch (pool);
    }
  g_mutex_unlock (&pool->lock);
  return NULL;
}

/* Starts one thread more (lock held); a pool that cannot is left as it is and says so. */
static void
spawn (HkpCallPool *pool)
{
  g_autoptr (GError) error = NULL;
  GThread *thread = g_thread_try_new ("hkp-call", pool_thread, pool, &error);

  if (thread == NULL)
    {
      g_warning ("cannot start a thread for plugin calls: %s", error->message);
      return;
    }
  g_thread_unref (thread);
  pool->threads++;
}

static gpointer
pool_thread (gpointer data)
{
  HkpCallPool *pool = data;

  g_mutex_lock (&pool->lock);
  for (;;)
    {
      HkpPoolJob *job = pool->head;
      Running running = { 0 };

      if (job == NULL)
        {
          /* More threads than wanted (a late call returned, or the pool stops): this one goes. */
          if (pool->stopping || pool->threads > pool->wanted + pool->late + pool->grown)
            break;
          gboolean timed_out = FALSE;

          pool->idle++;
          if (pool->grown == 0)
            g_cond_wait (&pool->work, &pool->lock);
          else
            timed_out = !g_cond_wait_until (&pool->work, &pool->lock, g_get_monotonic_time () + GROWN_IDLE_USEC);
          /* Woken for a job (the pusher counted this thread busy already), or by a timeout or spuriously. */
          if (pool->woken > 0)
            pool->woken--;
          else
            pool->idle--;
          if (timed_out && pool->head == NULL && pool->grown > 0)
            {
              /* Idle a while: the slow calls it was added for are over. */
              pool->grown--;
              break;
            }
          continue;
        }
      pool->head = job->next;
      if (pool->head == NULL)
        pool->tail = NULL;
      pool->queued--;
      running.started = g_get_monotonic_time ();
      running.prev = pool->running_tail;
      if (pool->running_tail != NULL)
        pool->running_tail->next = &running;
      else
        pool->running = &running;
      pool->running_tail = &running;
      /* Jobs were pushed while no call ran (each thread woken, none started): the watch saw nothing to time. */
      if (running.prev == NULL && pool->head != NULL)
        wake_watch (pool);
      g_mutex_unlock (&pool->lock);
      job->run (job);
      g_mutex_lock (&pool->lock);
      if (running.prev != NULL)
        running.prev->next = running.next;
      else
        pool->running = running.next;
      if (running.next != NULL)
        running.next->prev = running.prev;
      else
        pool->running_tail = running.prev;
    }
  pool->threads--;
  g_cond_broadcast (&pool->gone);
  g_mutex_unlock (&pool->lock);
  return NULL;
}

HkpCallPool *
hkp_call_pool_new (guint threads)
{
  HkpCallPool *pool = g_new0 (HkpCallPool, 1);

  g_mutex_init (&pool->lock);
  g_cond_init (&pool->work);
  g_cond_init (&pool->gone);
  g_cond_init (&pool->watch);
  pool->wanted = MAX (threads, 1);
  {
    g_autoptr (GError) error = NULL;

    /* Without it the pool still grows, when a call is pushed behind slow ones. */
    pool->watcher = g_thread_try_new ("hkp-call-watch", watch_thread, pool, &error);
    if (pool->watcher == NULL)
      g_warning ("cannot start the thread that watches for slow plugin calls: %s", error->message);
  }
  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < pool->wanted; i++)
    spawn (pool);
  g_mutex_unlock (&pool->lock);
  return pool;
}

void
hkp_call_pool_push (HkpCallPool *pool, HkpPoolJob *job, HkpPoolFunc func)
{
  job->run = func;
  job->next = NULL;
  g_mutex_lock (&pool->lock);
  if (pool->tail != NULL)
    pool->tail->next = job;
  else
    pool->head = job;
  pool->tail = job;
  pool->queued++;
  if (pool->idle > 0)
    {
      /*
       * That thread is this job's: until it wakes, the next push sees one
       * idle thread fewer, so a burst of pushes never counts one sleeping
       * thread for several jobs.
       */
      pool->idle--;
      pool->woken++;
      g_cond_signal (&pool->work);
    }
  else if (!pool->stopping && pool->running != NULL &&
           g_get_monotonic_time () - pool->running->started >= GROW_AFTER_USEC)
    grow (pool);
  else if (!pool->stopping)
    wake_watch (pool); /* it grows the pool if they are still running then */
  g_mutex_unlock (&pool->lock);
}

void
hkp_call_pool_late (HkpCallPool *pool)
{
  g_mutex_lock (&pool->lock);
  pool->late++;
  if (!pool->stopping && pool->threads < pool->wanted + pool->late)
    spawn (pool);
  g_mutex_unlock (&pool->lock);
}

void
hkp_call_pool_late_returned (HkpCallPool *pool)
{
  g_mutex_lock (&pool->lock);
  g_warn_if_fail (pool->late > 0);
  if (pool->late > 0)
    pool->late--;
  g_mutex_unlock (&pool->lock);
}

guint
hkp_call_pool_get_late (HkpCallPool *pool)
{
  guint late;

  g_mutex_lock (&pool->lock);
  late = pool->late;
  g_mutex_unlock (&pool->lock);
  return late;
}

guint
hkp_call_pool_free (HkpCallPool *pool, gint64 until)
{
  guint left;

  if (pool == NULL)
    return 0;
  g_mutex_lock (&pool->lock);
  pool->stopping = TRUE;
  g_cond_broadcast (&pool->work);
  g_cond_signal (&pool->watch);
  g_mutex_unlock (&pool->lock);
  if (pool->watcher != NULL)
    g_thread_join (pool->watcher);
  g_mutex_lock (&pool->lock);
  /* The queue empties first: queued jobs are calls someone waits for. */
  while (pool->threads > 0 && g_cond_wait_until (&pool->gone, &pool->lock, until))
    ;
  left = pool->threads;
  g_mutex_unlock (&pool->lock);
  if (left > 0)
    return left; /* threads still inside plugin code use the pool: it stays */
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->work);
  g_cond_clear (&pool->gone);
  g_cond_clear (&pool->watch);
  g_free (pool);
  return 0;
}
