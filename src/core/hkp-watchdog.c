/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "hkp-core"

#include "hkp-watchdog.h"

struct _HkpTimedQueue {
  HkpWatchdog *watchdog;
  HkpTimed *head;
  HkpTimed *tail;
};

/* The queues and their entries are guarded by the watchdog's one lock: short sections, no plugin code. */
struct _HkpWatchdog {
  GMutex lock;
  GCond wake;
  GPtrArray *queues; /* HkpTimedQueue, borrowed */
  gint64 next_wake; /* monotonic µs the thread sleeps until; G_MAXINT64 when idle */
  gboolean stopping;
  gboolean orphaned; /* freed while queues were still in use: the last of them frees it */
  GThread *thread;
};

static void
unlink_entry (HkpTimedQueue *queue, HkpTimed *entry)
{
  if (entry->prev != NULL)
    entry->prev->next = entry->next;
  else
    queue->head = entry->next;
  if (entry->next != NULL)
    entry->next->prev = entry->prev;
  else
    queue->tail = entry->prev;
  entry->prev = entry->next = NULL;
  entry->queued = FALSE;
}

/* Takes every expired head out (lock held) into expired, and returns the earliest deadline left. */
static gint64
collect_expired (HkpWatchdog *watchdog, gint64 now, GPtrArray *expired)
{
  gint64 earliest = G_MAXINT64;

  for (guint i = 0; i < watchdog->queues->len; i++)
    {
      HkpTimedQueue *queue = watchdog->queues->pdata[i];

      while (queue->head != NULL && queue->head->deadline <= now)
        {
          HkpTimed *entry = queue->head;
          unlink_entry (queue, entry);
          g_ptr_array_add (expired, entry);
        }
      if (queue->head != NULL)
        earliest = MIN (earliest, queue->head->deadline);
    }
  return earliest;
}

static gpointer
watchdog_thread (gpointer data)
{
  HkpWatchdog *watchdog = data;
  g_autoptr (GPtrArray) expired = g_ptr_array_new ();

  g_mutex_lock (&watchdog->lock);
  while (!watchdog->stopping)
    {
      gint64 earliest = collect_expired (watchdog, g_get_monotonic_time (), expired);

      if (expired->len > 0)
        {
          /* Callbacks may push and remove entries: call them without the lock. */
          g_mutex_unlock (&watchdog->lock);
          for (guint i = 0; i < expired->len; i++)
            {
              HkpTimed *entry = expired->pdata[i];
              entry->expired (entry);
            }
          g_ptr_array_set_size (expired, 0);
          g_mutex_lock (&watchdog->lock);
          continue;
        }
      watchdog->next_wake = earliest;
      if (earliest == G_MAXINT64)
        g_cond_wait (&watchdog->wake, &watchdog->lock);
      else
        g_cond_wait_until (&watchdog->wake, &watchdog->lock, earliest);
    }
  g_mutex_unlock (&watchdog->lock);
  return NULL;
}

HkpWatchdog *
hkp_watchdog_new (void)
{
  HkpWatchdog *watchdog = g_new0 (HkpWatchdog, 1);

  g_mutex_init (&watchdog->lock);
  g_cond_init (&watchdog->wake);
  watchdog->queues = g_ptr_array_new ();
  watchdog->next_wake = G_MAXINT64;
  watchdog->thread = g_thread_new ("hkp-watchdog", watchdog_thread, watchdog);
  return watchdog;
}

static void
watchdog_destroy (HkpWatchdog *watchdog)
{
  g_ptr_array_unref (watchdog->queues);
  g_mutex_clear (&watchdog->lock);
  g_cond_clear (&watchdog->wake);
  g_free (watchdog);
}

void
hkp_watchdog_free (HkpWatchdog *watchdog)
{
  gboolean orphaned;

  if (watchdog == NULL)
    return;
  g_mutex_lock (&watchdog->lock);
  watchdog->stopping = TRUE;
  g_cond_signal (&watchdog->wake);
  g_mutex_unlock (&watchdog->lock);
  g_thread_join (watchdog->thread);
  g_mutex_lock (&watchdog->lock);
  /* A queue still in use (an instance whose plugin code never returned) frees the watchdog when it goes: from
   * the unlock on, that may be at any moment, so the watchdog is not read again here. */
  orphaned = watchdog->orphaned = watchdog->queues->len > 0;
  g_mutex_unlock (&watchdog->lock);
  if (!orphaned)
    watchdog_destroy (watchdog);
}

HkpTimedQueue *
hkp_timed_queue_new (HkpWatchdog *watchdog)
{
  HkpTimedQueue *queue = g_new0 (HkpTimedQueue, 1);

  queue->watchdog = watchdog;
  g_mutex_lock (&watchdog->lock);
  g_ptr_array_add (watchdog->queues, queue);
  g_mutex_unlock (&watchdog->lock);
  return queue;
}

void
hkp_timed_queue_free (HkpTimedQueue *queue)
{
  HkpWatchdog *watchdog;
  gboolean last;

  if (queue == NULL)
    return;
  watchdog = queue->watchdog;
  g_mutex_lock (&watchdog->lock);
  while (queue->head != NULL)
    unlink_entry (queue, queue->head);
  g_ptr_array_remove_fast (watchdog->queues, queue);
  last = watchdog->orphaned && watchdog->queues->len == 0;
  g_mutex_unlock (&watchdog->lock);
  g_free (queue);
  if (last)
    watchdog_destroy (watchdog);
}

void
hkp_timed_queue_push (HkpTimedQueue *queue, HkpTimed *entry, gint64 deadline, HkpTimedFunc expired)
{
  HkpWatchdog *watchdog = queue->watchdog;

  g_mutex_lock (&watchdog->lock);
  g_assert (!entry->queued);
  entry->deadline = deadline;
  entry->expired = expired;
  entry->queued = TRUE;
  entry->next = NULL;
  entry->prev = queue->tail;
  if (queue->tail != NULL)
    queue->tail->next = entry;
  else
    queue->head = entry;
  queue->tail = entry;
  /* Wake the thread only if it sleeps past this deadline: the common push costs no wake-up. */
  if (deadline < watchdog->next_wake)
    {
      watchdog->next_wake = deadline;
      g_cond_signal (&watchdog->wake);
    }
  g_mutex_unlock (&watchdog->lock);
}

gboolean
hkp_timed_queue_remove (HkpTimedQueue *queue, HkpTimed *entry)
{
  HkpWatchdog *watchdog = queue->watchdog;
  gboolean removed;

  g_mutex_lock (&watchdog->lock);
  removed = entry->queued;
  if (removed)
    unlink_entry (queue, entry);
  g_mutex_unlock (&watchdog->lock);
  return removed;
}
