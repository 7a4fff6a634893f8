/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-call-pool.h"

struct _HkpCallPool {
  GMutex lock;
  GCond work; /* a job was queued, or the pool stops */
  GCond gone; /* a thread left */
  HkpPoolJob *head;
  HkpPoolJob *tail;
  guint wanted; /* threads the pool keeps when nothing is late */
  guint threads; /* threads alive */
  guint idle; /* of those, waiting for work */
  guint late; /* jobs past their deadline that still hold a thread */
  gboolean stopping;
};

static gpointer pool_thread (gpointer data);

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

      if (job == NULL)
        {
          /* More threads than wanted (a late call returned, or the pool stops): this one goes. */
          if (pool->stopping || pool->threads > pool->wanted + pool->late)
            break;
          pool->idle++;
          g_cond_wait (&pool->work, &pool->lock);
          pool->idle--;
          continue;
        }
      pool->head = job->next;
      if (pool->head == NULL)
        pool->tail = NULL;
      g_mutex_unlock (&pool->lock);
      job->run (job);
      g_mutex_lock (&pool->lock);
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
  pool->wanted = MAX (threads, 1);
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
  if (pool->idle > 0)
    g_cond_signal (&pool->work);
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
  g_free (pool);
  return 0;
}
