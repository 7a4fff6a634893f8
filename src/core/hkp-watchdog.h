/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * One thread that calls back entries whose deadline passed.  Entries live in
 * queues whose deadlines rise in the order they are pushed (the calls of one
 * instance all have the same timeout), so the thread looks only at each
 * queue's head: pushing and removing an entry cost a lock and a few pointer
 * moves, never a search or a heap.  Callbacks run on the watchdog's thread
 * and must not block (no plugin code there).
 */
typedef struct _HkpWatchdog HkpWatchdog;
typedef struct _HkpTimedQueue HkpTimedQueue;
typedef struct _HkpTimed HkpTimed;

/* Called on the watchdog thread once entry's deadline passed; entry is out of its queue by then. */
typedef void (*HkpTimedFunc) (HkpTimed *entry);

/* An entry, embedded in what it times; its fields belong to the queue while it is pushed. */
struct _HkpTimed {
  HkpTimed *prev;
  HkpTimed *next;
  gint64 deadline; /* monotonic µs */
  HkpTimedFunc expired;
  gboolean queued;
};

/* Starts the watchdog's thread; returns the watchdog (caller frees). */
HkpWatchdog *hkp_watchdog_new (void);

/* Stops the thread and frees watchdog, or leaves that to the last of its queues still in use. */
void hkp_watchdog_free (HkpWatchdog *watchdog);

/* Creates a queue watched by watchdog (caller frees; empty it first or its entries are dropped, uncalled). */
HkpTimedQueue *hkp_timed_queue_new (HkpWatchdog *watchdog);

/* Stops watching queue and frees it; entries still in it are dropped without being called. */
void hkp_timed_queue_free (HkpTimedQueue *queue);

/* Appends entry (not in any queue) to queue, to be called back at deadline unless removed first (any thread). */
void hkp_timed_queue_push (HkpTimedQueue *queue, HkpTimed *entry, gint64 deadline, HkpTimedFunc expired);

/* Takes entry out of queue before its deadline: TRUE, or FALSE if the watchdog took it out already (any thread). */
gboolean hkp_timed_queue_remove (HkpTimedQueue *queue, HkpTimed *entry);

G_END_DECLS
